// Supervisor: the two threads that give up on hung HSM calls and bring the
// HSM back after a fault.
//
// The watcher never calls into the HSM, so nothing the HSM does can stop
// it. Several times a second it abandons every call older than op_timeout
// (SessionPool::AbandonOverdue: the call's place is freed, its session left
// to the thread inside the call) and marks the HSM unready, so callers fail
// at once instead of queueing behind the hung call.
//
// The recoverer waits while the HSM is ready. While it is unready it
// recovers: closes the idle sessions (they may belong to a dead login),
// leases a fresh one, logs in again, has the KeyStore find the keys again
// and check they are the same keys (same kids), and only then marks the HSM
// ready, even while an abandoned call is still inside the HSM. A failed
// attempt is retried after a backoff that doubles from 100 ms to 5 s. After
// the token rejected the PIN it never tries again: another C_Login would
// burn the token's retry counter, so the HSM stays unready until authd
// restarts.
//
// Giving up. Abandoning is enough when one session (one connection to a
// network HSM, say) is wedged. When the HSM as a whole stops answering, the
// watcher gives up on it: when a recovery attempt (on a fresh session) has
// not finished within twice op_timeout, or when as many abandoned calls are
// still stuck as the pool has sessions. It then marks the HSM unready for
// good, logs event=hsm_fatal once and calls `on_fatal`; authd exits
// non-zero so that its service manager starts it afresh (a new module
// instance is the one remedy left within reach).
//
// Both threads start in the constructor; the destructor stops and joins
// them. A recoverer stuck inside a call blocks the join: the daemon bounds
// its shutdown for that reason (authd/main.cc). Everything given must
// outlive the supervisor.
#ifndef AUTHD_HSM_SUPERVISOR_H_
#define AUTHD_HSM_SUPERVISOR_H_

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <mutex>
#include <stop_token>
#include <string>
#include <thread>

#include "common/status.h"
#include "hsm/key_store.h"
#include "hsm/pin_login.h"
#include "hsm/ready_state.h"
#include "hsm/session_pool.h"

namespace authd::hsm {

class Supervisor {
 public:
  // Called once, from the watcher thread, when it gives up on the HSM; must
  // not block. May be empty.
  using FatalCallback = std::function<void()>;

  Supervisor(SessionPool* pool, PinLogin* login, KeyStore* keys,
             ReadyState* ready, std::chrono::milliseconds op_timeout,
             FatalCallback on_fatal = nullptr);
  // The threads hold `this`: a copy or a move would leave them watching the
  // old object.
  Supervisor(const Supervisor&) = delete;
  Supervisor& operator=(const Supervisor&) = delete;
  // Stops and joins the threads (their destructors, run first).
  ~Supervisor() = default;

  // Why the supervisor gave up on the HSM; empty while it has not.
  // Lock-free.
  std::string fatal() const;

 private:
  void Watch(std::stop_token stop);
  void RecoverLoop(std::stop_token stop);
  // Why to give up now; empty to carry on.
  std::string GiveUpReason() const;
  void GiveUp(const std::string& why);
  // One attempt: fresh session, login, same keys.
  Status Recover();
  // Sleeps for `d`, or less if `stop` is requested.
  void Sleep(std::stop_token stop, std::chrono::milliseconds d);

  SessionPool* const pool_;
  PinLogin* const login_;
  KeyStore* const keys_;
  ReadyState* const ready_;
  const std::chrono::milliseconds op_timeout_;
  const FatalCallback on_fatal_;
  // Steady-clock nanoseconds at which the running recovery attempt started;
  // 0 while none runs.
  std::atomic<int64_t> attempt_since_{0};
  std::string fatal_;  // written once, before gave_up_
  std::atomic<bool> gave_up_{false};
  std::mutex sleep_mu_;
  std::condition_variable_any sleep_cv_;  // never notified: Sleep's stop
  // Last: they start after the rest is built.
  std::jthread watcher_;
  std::jthread recoverer_;
};

}  // namespace authd::hsm

#endif  // AUTHD_HSM_SUPERVISOR_H_
