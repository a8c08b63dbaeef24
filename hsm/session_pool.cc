#include "hsm/session_pool.h"

#include <algorithm>
#include <exception>

namespace authd::hsm {

SessionLease::SessionLease(SessionPool* pool, Session session)
    : pool_(pool),
      session_(std::move(session)),
      exceptions_(std::uncaught_exceptions()) {}

SessionLease::SessionLease(SessionLease&& other) noexcept {
  *this = std::move(other);
}

SessionLease& SessionLease::operator=(SessionLease&& other) noexcept {
  if (this != &other) {
    Release();
    pool_ = std::exchange(other.pool_, nullptr);
    session_ = std::move(other.session_);
    keep_ = other.keep_;
    exceptions_ = other.exceptions_;
  }
  return *this;
}

void SessionLease::Release() noexcept {
  if (pool_ == nullptr) return;
  bool unwinding = std::uncaught_exceptions() > exceptions_;
  std::exchange(pool_, nullptr)
      ->Return(std::move(session_), keep_ && !unwinding);
}

SessionPool::SessionPool(CK_FUNCTION_LIST* fn, CK_SLOT_ID slot,
                         size_t max_sessions, std::chrono::milliseconds wait)
    : fn_(fn),
      slot_(slot),
      max_(std::max<size_t>(max_sessions, 1)),
      wait_(wait) {
  idle_.reserve(max_);
  leased_.reserve(max_);
}

SessionPool::~SessionPool() {
  std::lock_guard<std::mutex> lock(mu_);
  idle_.clear();  // closes them
}

StatusOr<SessionLease> SessionPool::Lease() {
  {
    std::unique_lock<std::mutex> lock(mu_);
    bool got = cv_.wait_for(lock, wait_,
                            [&] { return !idle_.empty() || open_ < max_; });
    if (!got) return Status::Unavailable("no HSM session became free in time");
    if (!idle_.empty()) {
      Session s = std::move(idle_.back());
      idle_.pop_back();
      leased_.emplace_back(s.handle(), SteadyClock::now());
      return SessionLease(this, std::move(s));
    }
    ++open_;  // holds the place while C_OpenSession runs unlocked
  }
  StatusOr<Session> s = Session::Open(fn_, slot_);
  std::lock_guard<std::mutex> lock(mu_);
  if (!s.ok()) {
    --open_;
    cv_.notify_one();
    return s.status();
  }
  leased_.emplace_back(s->handle(), SteadyClock::now());
  return SessionLease(this, std::move(s).value());
}

void SessionPool::Return(Session session, bool keep) noexcept {
  {
    std::lock_guard<std::mutex> lock(mu_);
    auto it = std::find_if(leased_.begin(), leased_.end(), [&](const auto& l) {
      return l.first == session.handle();
    });
    if (it != leased_.end()) leased_.erase(it);
    if (keep) {
      idle_.push_back(std::move(session));
    } else {
      --open_;
    }
  }
  session.Close();  // outside the lock; a no-op when kept (moved from)
  cv_.notify_all();
}

void SessionPool::CloseIdle() {
  std::vector<Session> stale;
  stale.reserve(max_);  // becomes idle_: Return must find room reserved
  {
    std::lock_guard<std::mutex> lock(mu_);
    open_ -= idle_.size();
    stale.swap(idle_);
  }
  stale.clear();  // closes them, outside the lock
  cv_.notify_all();
}

std::optional<SteadyClock::time_point> SessionPool::OldestLease() const {
  std::lock_guard<std::mutex> lock(mu_);
  std::optional<SteadyClock::time_point> oldest;
  for (const auto& [handle, since] : leased_) {
    if (!oldest || since < *oldest) oldest = since;
  }
  return oldest;
}

std::pair<size_t, size_t> SessionPool::Counts() const {
  std::lock_guard<std::mutex> lock(mu_);
  return {leased_.size(), open_};
}

}  // namespace authd::hsm
