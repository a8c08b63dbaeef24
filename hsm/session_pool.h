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
// Waiting for a session is bounded: when every place under the cap stays
// taken for `wait`, Lease answers Busy. That is back-pressure, not a fault:
// the HSM answers, there is just more work than sessions.
//
// A call that does not return is abandoned (AbandonOverdue): its place under
// the cap is given back at once, so fresh sessions can be opened beside it,
// while the session itself stays with the thread inside the call. Nothing
// else touches that session (PKCS#11 lets one call at a time use a session,
// and a C_CloseSession from another thread could free what the running call
// still uses); when the call comes back, the lease says abandoned() and its
// release closes the session.
//
// The pool records when each call started (OldestLease) and publishes its
// counts (Stats, Counts) as atomics, so probes and metrics never wait for
// the pool's mutex; the mutex itself is never held across a PKCS#11 call.
//
// Sessions never log out when closed: login state belongs to the process,
// not to a session (see Session in hsm/module.h).
//
// Thread-safe. The pool must outlive its leases, abandoned ones included.
#ifndef AUTHD_HSM_SESSION_POOL_H_
#define AUTHD_HSM_SESSION_POOL_H_

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <mutex>
#include <optional>
#include <utility>
#include <vector>

#include "common/status.h"
#include "hsm/module.h"
#include "hsm/pool_stats.h"

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
  // The pool gave up on this lease's call (AbandonOverdue): whatever the
  // call returned came too late to be used. The session is closed at
  // release. An abandoned lease from a C_OpenSession that failed late holds
  // no session at all (handle() is CK_INVALID_HANDLE).
  bool abandoned() const;

 private:
  friend class SessionPool;
  SessionLease(SessionPool* pool, Session session, uint64_t id);
  void Release() noexcept;

  SessionPool* pool_ = nullptr;  // null once released or moved from
  Session session_;
  uint64_t id_ = 0;  // the call's entry in the pool
  bool keep_ = true;
  // std::uncaught_exceptions() when leased: more at release means the holder
  // is unwinding, and its call on the session may be half-done.
  int exceptions_ = 0;
};

class SessionPool {
 public:
  // Sessions on `slot` of module `fn`, which must outlive the pool. Lease
  // waits up to `wait` for a place when `max_sessions` (at least 1) are
  // taken.
  SessionPool(CK_FUNCTION_LIST* fn, CK_SLOT_ID slot, size_t max_sessions,
              std::chrono::milliseconds wait);
  // Leases point at the pool: a copy or a move would strand them.
  SessionPool(const SessionPool&) = delete;
  SessionPool& operator=(const SessionPool&) = delete;
  // Closes the idle sessions. REQUIRES: no lease outstanding, abandoned
  // ones included (no thread still inside a call).
  ~SessionPool();

  // An idle session, else a new one while fewer than max_sessions places
  // are taken. Busy when no place came free within `wait`; C_OpenSession's
  // error when a new one cannot be opened.
  StatusOr<SessionLease> Lease();

  // Closes every idle session: after a fault they may belong to a dead login.
  void CloseIdle();

  // Abandons every call (a lease, or a C_OpenSession under way) that started
  // more than `limit` ago; see the file comment. Returns how many it
  // abandoned now.
  size_t AbandonOverdue(std::chrono::milliseconds limit);

  // When the oldest call not abandoned started; nullopt when none runs.
  std::optional<SteadyClock::time_point> OldestLease() const;

  // Lock-free: the counts as last published.
  PoolStats Stats() const;
  // Sessions in use and places taken (Stats().in_use, Stats().open).
  std::pair<size_t, size_t> Counts() const;
  size_t max_sessions() const { return max_; }

 private:
  friend class SessionLease;
  // A lease or an open under way, not abandoned.
  struct Call {
    uint64_t id;
    SteadyClock::time_point since;
  };

  // Called by a lease's release. `keep`: back to idle, else closed.
  void Return(uint64_t id, Session session, bool keep) noexcept;
  bool IsAbandoned(uint64_t id) const;
  // Opens a session for call `id`, whose place is taken. REQUIRES: mu_ not
  // held (C_OpenSession runs unlocked).
  StatusOr<SessionLease> OpenFor(uint64_t id);
  // REQUIRES: mu_ held.
  std::vector<Call>::iterator FindCall(uint64_t id);
  void PublishLocked();

  CK_FUNCTION_LIST* const fn_;
  const CK_SLOT_ID slot_;
  const size_t max_;
  const std::chrono::milliseconds wait_;

  mutable std::mutex mu_;
  std::condition_variable cv_;  // a session came back or a place freed up
  // Both reserved to max_ at construction, so returning a session (in a
  // destructor, noexcept) never allocates.
  std::vector<Session> idle_;  // GUARDED_BY(mu_)
  std::vector<Call> calls_;    // GUARDED_BY(mu_)
  uint64_t next_id_ = 1;       // GUARDED_BY(mu_)
  size_t open_ = 0;   // places: calls_ + idle_ (opens count as calls); mu_
  size_t stuck_ = 0;  // abandoned, not returned; GUARDED_BY(mu_)
  uint64_t abandoned_total_ = 0;  // GUARDED_BY(mu_)

  // Published copies of the counts above, written under mu_ by
  // PublishLocked, read without it.
  std::atomic<size_t> pub_in_use_{0};
  std::atomic<size_t> pub_open_{0};
  std::atomic<size_t> pub_stuck_{0};
  std::atomic<uint64_t> pub_abandoned_{0};
};

}  // namespace authd::hsm

#endif  // AUTHD_HSM_SESSION_POOL_H_
