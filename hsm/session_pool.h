// SessionPool: a pool of PKCS#11 sessions on one slot, leased to one thread
// at a time (PKCS#11 forbids concurrent calls on a session), at most
// `max_sessions` open at once.
//
// A SessionLease is the only way to hold a pooled session. Its destructor
// hands the session back, whatever way the holder leaves its scope (return,
// early return, exception), so a lease cannot leak and no call stays
// recorded as in flight after it ended. A session marked with Discard() is
// closed instead of pooled (it was lost to the HSM, or may hold a
// half-finished operation); so is one whose holder leaves by an exception.
//
// The pool records when each lease was taken, so a supervisor can tell a
// hung call (OldestLease) and metrics can report (in use, open).
//
// Sessions never log out when closed: login state belongs to the process,
// not to a session (see Session in hsm/module.h).
//
// Thread-safe. The pool must outlive its leases.
#ifndef AUTHD_HSM_SESSION_POOL_H_
#define AUTHD_HSM_SESSION_POOL_H_

#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <mutex>
#include <optional>
#include <utility>
#include <vector>

#include "common/status.h"
#include "hsm/module.h"

namespace authd::hsm {

// Monotonic time for call durations. (authd::Clock is the wall clock.)
using SteadyClock = std::chrono::steady_clock;

class SessionPool;

class SessionLease {
 public:
  // Copying would hand one session back twice.
  SessionLease(const SessionLease&) = delete;
  SessionLease& operator=(const SessionLease&) = delete;
  SessionLease(SessionLease&& other) noexcept;
  SessionLease& operator=(SessionLease&& other) noexcept;
  // Hands the session back to the pool, or closes it (see Discard).
  ~SessionLease() { Release(); }

  CK_SESSION_HANDLE handle() const { return session_.handle(); }
  // Closes the session on release instead of pooling it: the HSM lost it,
  // or an error may have left an operation half-done on it
  // (CKR_OPERATION_ACTIVE for the next caller).
  void Discard() { keep_ = false; }

 private:
  friend class SessionPool;
  SessionLease(SessionPool* pool, Session session);
  void Release() noexcept;

  SessionPool* pool_ = nullptr;  // null once released or moved from
  Session session_;
  bool keep_ = true;
  // std::uncaught_exceptions() when leased: more at release means the holder
  // is unwinding, and its call on the session may be half-done.
  int exceptions_ = 0;
};

class SessionPool {
 public:
  // Sessions on `slot` of module `fn`, which must outlive the pool. Lease
  // waits up to `wait` for a session to come back when `max_sessions` (at
  // least 1) are leased.
  SessionPool(CK_FUNCTION_LIST* fn, CK_SLOT_ID slot, size_t max_sessions,
              std::chrono::milliseconds wait);
  // Leases point at the pool: a copy or a move would strand them.
  SessionPool(const SessionPool&) = delete;
  SessionPool& operator=(const SessionPool&) = delete;
  // Closes the idle sessions. REQUIRES: no lease outstanding.
  ~SessionPool();

  // An idle session, else a new one while fewer than max_sessions are open.
  // Unavailable when none came free within `wait`; C_OpenSession's error
  // when a new one cannot be opened.
  StatusOr<SessionLease> Lease();

  // Closes every idle session: after a fault they may belong to a dead login.
  void CloseIdle();

  // When the oldest outstanding lease was taken; nullopt when none is.
  std::optional<SteadyClock::time_point> OldestLease() const;

  // Sessions leased now, and open in all (leased or idle).
  std::pair<size_t, size_t> Counts() const;

 private:
  friend class SessionLease;
  // Called by a lease's release. `keep`: back to idle, else closed.
  void Return(Session session, bool keep) noexcept;

  CK_FUNCTION_LIST* const fn_;
  const CK_SLOT_ID slot_;
  const size_t max_;
  const std::chrono::milliseconds wait_;

  mutable std::mutex mu_;
  std::condition_variable cv_;  // a session came back or a place freed up
  // Both reserved to max_ at construction, so returning a session (in a
  // destructor, noexcept) never allocates.
  std::vector<Session> idle_;  // GUARDED_BY(mu_)
  // Each leased session and when its lease was taken. GUARDED_BY(mu_)
  std::vector<std::pair<CK_SESSION_HANDLE, SteadyClock::time_point>> leased_;
  size_t open_ = 0;  // leased + idle + being opened; GUARDED_BY(mu_)
};

}  // namespace authd::hsm

#endif  // AUTHD_HSM_SESSION_POOL_H_
