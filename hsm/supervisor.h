// Supervisor: the thread that turns the HSM unready when a call hangs, and
// ready again after a fault.
//
// While ready it looks every 250 ms for a call older than op_timeout (the
// pool's oldest lease): the HSM has stopped answering, so it marks it
// unready and callers fail at once instead of queueing behind the hung call.
// While unready, and once no call hangs, it recovers: closes the idle
// sessions (they may belong to a dead login), leases a fresh one, logs in
// again, has the KeyStore find the keys again and check they are the same
// keys (same kids), and only then marks the HSM ready. A failed attempt is
// retried after a backoff that doubles from 100 ms to 5 s. After the token
// rejected the PIN it never tries again: another C_Login would burn the
// token's retry counter, so the HSM stays unready until authd restarts.
//
// The thread starts in the constructor; the destructor stops and joins it.
// Everything it is given must outlive it.
#ifndef AUTHD_HSM_SUPERVISOR_H_
#define AUTHD_HSM_SUPERVISOR_H_

#include <chrono>
#include <condition_variable>
#include <mutex>
#include <stop_token>
#include <thread>

#include "common/status.h"
#include "hsm/key_store.h"
#include "hsm/pin_login.h"
#include "hsm/ready_state.h"
#include "hsm/session_pool.h"

namespace authd::hsm {

class Supervisor {
 public:
  Supervisor(SessionPool* pool, PinLogin* login, KeyStore* keys,
             ReadyState* ready, std::chrono::milliseconds op_timeout);
  // The thread holds `this`: a copy or a move would leave it watching the
  // old object.
  Supervisor(const Supervisor&) = delete;
  Supervisor& operator=(const Supervisor&) = delete;
  // Stops and joins the thread (thread_'s destructor, run first).
  ~Supervisor() = default;

 private:
  void Run(std::stop_token stop);
  bool HasHungCall() const;
  // One attempt: fresh session, login, same keys.
  Status Recover();
  // Sleeps for `d`, or less if `stop` is requested.
  void Sleep(std::stop_token stop, std::chrono::milliseconds d);

  SessionPool* const pool_;
  PinLogin* const login_;
  KeyStore* const keys_;
  ReadyState* const ready_;
  const std::chrono::milliseconds op_timeout_;
  std::mutex sleep_mu_;
  std::condition_variable_any sleep_cv_;  // never notified: Sleep's stop
  std::jthread thread_;                   // last: starts after the rest
};

}  // namespace authd::hsm

#endif  // AUTHD_HSM_SUPERVISOR_H_
