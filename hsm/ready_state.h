// ReadyState: whether the HSM is usable now and, when it is not, why.
// Pkcs11KeyOps refuses calls at once while unready, anything that sees the
// HSM lost marks it unready, and the Supervisor turns it ready again.
//
// Thread-safe. ready() is one atomic load, cheap enough for every call.
#ifndef AUTHD_HSM_READY_STATE_H_
#define AUTHD_HSM_READY_STATE_H_

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <mutex>
#include <stop_token>
#include <string>

namespace authd::hsm {

class ReadyState {
 public:
  ReadyState() = default;
  // Shared by pointer between the key ops, the login and the supervisor: a
  // copy would split the state.
  ReadyState(const ReadyState&) = delete;
  ReadyState& operator=(const ReadyState&) = delete;

  bool ready() const { return ready_.load(); }
  // Why the HSM is unusable; empty when ready.
  std::string reason() const;

  // Turns unready for `why`, logs event=hsm_unready and wakes
  // WaitWhileReady. While already unready the first reason stands.
  void MarkUnready(const std::string& why);
  // A recovery attempt failed: `why` is the reason now.
  void SetReason(const std::string& why);
  // Ready again; logs event=hsm_ready.
  void MarkReady();

  // Returns once unready (at once if unready now), after `timeout`, or when
  // `stop` is requested.
  void WaitWhileReady(std::stop_token stop,
                      std::chrono::milliseconds timeout) const;

 private:
  mutable std::mutex mu_;
  mutable std::condition_variable_any cv_;  // turned unready
  std::atomic<bool> ready_{true};           // written under mu_
  std::string reason_;                      // GUARDED_BY(mu_)
};

}  // namespace authd::hsm

#endif  // AUTHD_HSM_READY_STATE_H_
