// SessionPool over real SoftHSM2 sessions. The pool is given a copy of the
// module's function list whose C_OpenSession and C_CloseSession count their
// calls (and can be made to fail), so the tests see exactly which sessions
// the pool opens, reuses and closes.
#include "hsm/session_pool.h"

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <functional>
#include <memory>
#include <mutex>
#include <stdexcept>
#include <thread>
#include <utility>
#include <vector>

#include "testing/softhsm_token.h"

namespace authd::hsm {
namespace {

using authd::testing::SoftHsmToken;
using std::chrono::milliseconds;
using Counts = std::pair<size_t, size_t>;  // (in use, open)

// Polls `cond` until it holds or 10 s pass; true if it held.
bool Eventually(const std::function<bool()>& cond) {
  auto deadline = SteadyClock::now() + std::chrono::seconds(10);
  while (!cond()) {
    if (SteadyClock::now() >= deadline) return false;
    std::this_thread::sleep_for(milliseconds(1));  // poll interval
  }
  return true;
}

// The real module's entries, and what the counting ones saw.
CK_FUNCTION_LIST* real_fn = nullptr;
std::atomic<int> opens{0};
std::atomic<int> closes{0};
std::atomic<CK_RV> open_fault{CKR_OK};

// While held, C_OpenSession waits (a hung HSM) until released.
std::mutex open_gate_mu;
std::condition_variable open_gate_cv;
bool open_held = false;  // GUARDED_BY(open_gate_mu)
int opens_waiting = 0;   // GUARDED_BY(open_gate_mu)

void HoldOpens(bool hold) {
  std::lock_guard<std::mutex> lock(open_gate_mu);
  open_held = hold;
  open_gate_cv.notify_all();
}

CK_RV CountingOpenSession(CK_SLOT_ID slot, CK_FLAGS flags, void* app,
                          CK_NOTIFY notify, CK_SESSION_HANDLE* out) {
  {
    std::unique_lock<std::mutex> lock(open_gate_mu);
    ++opens_waiting;
    open_gate_cv.notify_all();
    open_gate_cv.wait(lock, [] { return !open_held; });
    --opens_waiting;
  }
  if (open_fault.load() != CKR_OK) return open_fault.load();
  CK_RV rv = real_fn->C_OpenSession(slot, flags, app, notify, out);
  if (rv == CKR_OK) ++opens;
  return rv;
}

CK_RV CountingCloseSession(CK_SESSION_HANDLE h) {
  CK_RV rv = real_fn->C_CloseSession(h);
  if (rv == CKR_OK) ++closes;
  return rv;
}

class SessionPoolTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    const SoftHsmToken& token = SoftHsmToken::Get();  // sets SOFTHSM2_CONF
    auto module = Module::Load("softhsm2");
    ASSERT_TRUE(module.ok()) << module.status().message();
    auto slot = (*module)->FindSlot(token.uri());
    ASSERT_TRUE(slot.ok()) << slot.status().message();
    module_ = std::move(module).value().release();
    slot_ = *slot;
    real_fn = module_->fn();
    counting_ = *real_fn;
    counting_.C_OpenSession = &CountingOpenSession;
    counting_.C_CloseSession = &CountingCloseSession;
  }

  void SetUp() override {
    opens = 0;
    closes = 0;
    open_fault = CKR_OK;
    HoldOpens(false);
  }

  // Abandons whatever `pool` has running, as the supervisor does once calls
  // pass the timeout (here: any age at all).
  static size_t AbandonAll(SessionPool* pool) {
    size_t n = 0;
    Eventually([&] { return (n = pool->AbandonOverdue(milliseconds(0))) > 0; });
    return n;
  }

  // `wait`: how long Lease waits for a place; short where a test expects
  // it to give up.
  static std::unique_ptr<SessionPool> NewPool(size_t max, milliseconds wait) {
    return std::make_unique<SessionPool>(&counting_, slot_, max, wait);
  }

  // Whether `h` is still an open session at the module.
  static bool IsOpen(CK_SESSION_HANDLE h) {
    CK_SESSION_INFO info;
    return real_fn->C_GetSessionInfo(h, &info) == CKR_OK;
  }

  static inline Module* module_ = nullptr;  // lives for the process
  static inline CK_SLOT_ID slot_ = 0;
  static inline CK_FUNCTION_LIST counting_{};
};

TEST_F(SessionPoolTest, LeaseIsReturnedAtScopeExitAndReused) {
  auto pool = NewPool(2, milliseconds(50));
  CK_SESSION_HANDLE first;
  {
    auto lease = pool->Lease();
    ASSERT_TRUE(lease.ok()) << lease.status().message();
    first = lease->handle();
    EXPECT_EQ(pool->Counts(), Counts(1, 1));
    EXPECT_TRUE(pool->OldestLease().has_value());
  }
  EXPECT_EQ(pool->Counts(), Counts(0, 1));
  EXPECT_FALSE(pool->OldestLease().has_value());
  EXPECT_TRUE(IsOpen(first));
  EXPECT_EQ(closes.load(), 0);

  auto again = pool->Lease();
  ASSERT_TRUE(again.ok()) << again.status().message();
  EXPECT_EQ(again->handle(), first);  // the idle session, not a new one
  EXPECT_EQ(opens.load(), 1);
}

// The holder's call may have left an operation half-done, so the session is
// closed, but the lease is over: nothing stays in use or in flight, and
// the place under the cap is free again at once.
TEST_F(SessionPoolTest, LeaseIsReturnedWhenItsHolderThrows) {
  auto pool = NewPool(1, milliseconds(50));
  CK_SESSION_HANDLE h = CK_INVALID_HANDLE;
  try {
    auto lease = pool->Lease();
    ASSERT_TRUE(lease.ok()) << lease.status().message();
    h = lease->handle();
    throw std::runtime_error("the call failed half-way");
  } catch (const std::runtime_error&) {
  }
  EXPECT_EQ(pool->Counts(), Counts(0, 0));
  EXPECT_FALSE(pool->OldestLease().has_value());
  EXPECT_EQ(closes.load(), 1);
  EXPECT_FALSE(IsOpen(h));

  auto next = pool->Lease();  // the cap is 1: would time out on a leak
  ASSERT_TRUE(next.ok()) << next.status().message();
  EXPECT_EQ(opens.load(), 2);
}

// A lease taken and released while an exception is already in flight (in a
// destructor run by unwinding) is an ordinary one: its session is kept.
TEST_F(SessionPoolTest, LeaseInsideUnwindingIsKept) {
  auto pool = NewPool(1, milliseconds(50));
  struct UsesPoolOnUnwind {
    SessionPool* pool;
    ~UsesPoolOnUnwind() {
      auto lease = pool->Lease();
      EXPECT_TRUE(lease.ok());
    }
  };
  try {
    UsesPoolOnUnwind user{pool.get()};
    throw std::runtime_error("unwinding");
  } catch (const std::runtime_error&) {
  }
  EXPECT_EQ(pool->Counts(), Counts(0, 1));
  EXPECT_EQ(closes.load(), 0);
}

TEST_F(SessionPoolTest, DiscardedSessionIsClosedNotReused) {
  auto pool = NewPool(2, milliseconds(50));
  CK_SESSION_HANDLE lost;
  {
    auto lease = pool->Lease();
    ASSERT_TRUE(lease.ok()) << lease.status().message();
    lost = lease->handle();
    lease->Discard();
  }
  EXPECT_EQ(pool->Counts(), Counts(0, 0));
  EXPECT_EQ(closes.load(), 1);
  EXPECT_FALSE(IsOpen(lost));

  auto next = pool->Lease();
  ASSERT_TRUE(next.ok()) << next.status().message();
  EXPECT_EQ(opens.load(), 2);  // a new session, not the lost one
  EXPECT_TRUE(IsOpen(next->handle()));
}

TEST_F(SessionPoolTest, CountsInUseAndOpen) {
  auto pool = NewPool(4, milliseconds(50));
  EXPECT_EQ(pool->Counts(), Counts(0, 0));
  auto a = pool->Lease();
  auto b = pool->Lease();
  ASSERT_TRUE(a.ok() && b.ok());
  EXPECT_EQ(pool->Counts(), Counts(2, 2));
  EXPECT_NE(a->handle(), b->handle());
  {
    SessionLease moved = std::move(*a);  // a move hands nothing back
    EXPECT_EQ(pool->Counts(), Counts(2, 2));
  }
  EXPECT_EQ(pool->Counts(), Counts(1, 2));
  b->Discard();
  b = Status::Internal("released");  // destroys the lease
  EXPECT_EQ(pool->Counts(), Counts(0, 1));
}

// Contention is back-pressure: after the bounded wait the caller gets Busy
// (not Unavailable, which would mark the HSM unready), and nothing is
// abandoned or opened beyond the cap.
TEST_F(SessionPoolTest, ContentionIsBusyAfterTheBoundedWait) {
  auto pool = NewPool(2, milliseconds(50));
  auto a = pool->Lease();
  auto b = pool->Lease();
  ASSERT_TRUE(a.ok() && b.ok());
  SteadyClock::time_point start = SteadyClock::now();
  auto c = pool->Lease();
  ASSERT_FALSE(c.ok());
  EXPECT_GE(SteadyClock::now() - start, milliseconds(50));
  EXPECT_EQ(c.status().code(), StatusCode::kBusy);
  EXPECT_EQ(c.status().message(), "every HSM session stayed in use for 50 ms");
  EXPECT_EQ(opens.load(), 2);
  EXPECT_EQ(pool->Counts(), Counts(2, 2));
  PoolStats stats = pool->Stats();
  EXPECT_EQ(stats.stuck, 0u);
  EXPECT_EQ(stats.abandoned, 0u);
  EXPECT_FALSE(a->abandoned());
}

TEST_F(SessionPoolTest, WaiterGetsTheSessionHandedBack) {
  auto pool = NewPool(1, milliseconds(10'000));
  auto held = pool->Lease();
  ASSERT_TRUE(held.ok());
  CK_SESSION_HANDLE h = held->handle();
  StatusOr<SessionLease> waited = Status::Internal("not run");
  // Waits for `held` (or, if it comes late, finds it idle); either way
  // the one place is shared, never a second session opened.
  std::thread waiter([&] { waited = pool->Lease(); });
  held = Status::Internal("released");
  waiter.join();
  ASSERT_TRUE(waited.ok()) << waited.status().message();
  EXPECT_EQ(waited->handle(), h);
  EXPECT_EQ(opens.load(), 1);
}

TEST_F(SessionPoolTest, FailedOpenFreesItsPlace) {
  auto pool = NewPool(1, milliseconds(50));
  open_fault = CKR_DEVICE_ERROR;
  auto failed = pool->Lease();
  ASSERT_FALSE(failed.ok());
  EXPECT_EQ(failed.status().message(),
            "HSM C_OpenSession failed: CKR_DEVICE_ERROR");
  EXPECT_EQ(pool->Counts(), Counts(0, 0));
  open_fault = CKR_OK;
  EXPECT_TRUE(pool->Lease().ok());
}

TEST_F(SessionPoolTest, CloseIdleLeavesLeasedSessionsAlone) {
  auto pool = NewPool(3, milliseconds(50));
  auto kept = pool->Lease();
  ASSERT_TRUE(kept.ok());
  CK_SESSION_HANDLE idle;
  {
    auto lease = pool->Lease();
    ASSERT_TRUE(lease.ok());
    idle = lease->handle();
  }
  EXPECT_EQ(pool->Counts(), Counts(1, 2));
  pool->CloseIdle();
  EXPECT_EQ(pool->Counts(), Counts(1, 1));
  EXPECT_FALSE(IsOpen(idle));
  EXPECT_TRUE(IsOpen(kept->handle()));
}

TEST_F(SessionPoolTest, OldestLeaseIsTheEarliestOutstanding) {
  auto pool = NewPool(2, milliseconds(50));
  SteadyClock::time_point before = SteadyClock::now();
  auto first = pool->Lease();
  ASSERT_TRUE(first.ok());
  SteadyClock::time_point between = SteadyClock::now();
  auto second = pool->Lease();
  ASSERT_TRUE(second.ok());
  ASSERT_TRUE(pool->OldestLease().has_value());
  EXPECT_GE(*pool->OldestLease(), before);
  EXPECT_LE(*pool->OldestLease(), between);
  first = Status::Internal("released");
  ASSERT_TRUE(pool->OldestLease().has_value());
  EXPECT_GE(*pool->OldestLease(), between);
}

TEST_F(SessionPoolTest, DestroyingThePoolClosesIdleSessions) {
  auto pool = NewPool(2, milliseconds(50));
  {
    auto a = pool->Lease();
    auto b = pool->Lease();
    ASSERT_TRUE(a.ok() && b.ok());
  }
  EXPECT_EQ(closes.load(), 0);
  pool.reset();
  EXPECT_EQ(closes.load(), 2);
}

}  // namespace
}  // namespace authd::hsm

namespace authd::hsm {
namespace {

// A call that never returns is abandoned: its place is free at once for a
// fresh session, its own session is left alone while the call runs (no
// second call on it), and is closed when the call finally comes back.
TEST_F(SessionPoolTest, HungCallIsAbandonedAndAFreshSessionTakesItsPlace) {
  auto pool = NewPool(1, milliseconds(50));
  auto hung = pool->Lease();
  ASSERT_TRUE(hung.ok());
  CK_SESSION_HANDLE stuck = hung->handle();
  EXPECT_EQ(pool->AbandonOverdue(std::chrono::hours(1)), 0u);  // not overdue
  ASSERT_EQ(AbandonAll(pool.get()), 1u);
  EXPECT_TRUE(hung->abandoned());
  EXPECT_FALSE(pool->OldestLease().has_value());
  PoolStats stats = pool->Stats();
  EXPECT_EQ(stats.in_use, 0u);
  EXPECT_EQ(stats.open, 0u);
  EXPECT_EQ(stats.stuck, 1u);
  EXPECT_EQ(stats.abandoned, 1u);

  auto fresh = pool->Lease();  // the cap is 1: Busy if the place were held
  ASSERT_TRUE(fresh.ok()) << fresh.status().message();
  EXPECT_NE(fresh->handle(), stuck);
  EXPECT_FALSE(fresh->abandoned());
  EXPECT_EQ(opens.load(), 2);
  EXPECT_TRUE(IsOpen(stuck));  // still the hung call's
  EXPECT_EQ(closes.load(), 0);

  hung = Status::Internal("the call came back");  // releases the lease
  EXPECT_FALSE(IsOpen(stuck));
  EXPECT_EQ(closes.load(), 1);
  stats = pool->Stats();
  EXPECT_EQ(stats.stuck, 0u);
  EXPECT_EQ(stats.open, 1u);  // the fresh one
  EXPECT_EQ(stats.abandoned, 1u);
  fresh = Status::Internal("released");
  EXPECT_EQ(pool->Counts(), Counts(0, 1));  // the fresh one is pooled
}

// A C_OpenSession that hangs is a call too: abandoned, its place freed, and
// the session it opens late is handed over marked abandoned and closed.
TEST_F(SessionPoolTest, HungOpenIsAbandonedAndItsLateSessionClosed) {
  auto pool = NewPool(1, milliseconds(50));
  HoldOpens(true);
  StatusOr<SessionLease> late = Status::Internal("not run");
  std::thread opener([&] { late = pool->Lease(); });
  ASSERT_TRUE(Eventually([] {
    std::lock_guard<std::mutex> lock(open_gate_mu);
    return opens_waiting > 0;
  }));
  EXPECT_EQ(pool->Counts(), Counts(1, 1));
  ASSERT_EQ(AbandonAll(pool.get()), 1u);
  EXPECT_EQ(pool->Counts(), Counts(0, 0));
  HoldOpens(false);
  opener.join();
  ASSERT_TRUE(late.ok()) << late.status().message();
  EXPECT_TRUE(late->abandoned());
  CK_SESSION_HANDLE h = late->handle();
  EXPECT_TRUE(IsOpen(h));
  late = Status::Internal("released");
  EXPECT_FALSE(IsOpen(h));
  EXPECT_EQ(pool->Stats().stuck, 0u);
  EXPECT_EQ(pool->Counts(), Counts(0, 0));
}

}  // namespace
}  // namespace authd::hsm
