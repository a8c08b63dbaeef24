#include "hsm/session_pool.h"

#include <algorithm>
#include <exception>
#include <string>

namespace authd::hsm {

SessionLease::SessionLease(SessionPool* pool, Session session, uint64_t id)
    : pool_(pool),
      session_(std::move(session)),
      id_(id),
      exceptions_(std::uncaught_exceptions()) {}

SessionLease::SessionLease(SessionLease&& other) noexcept {
  *this = std::move(other);
}

SessionLease& SessionLease::operator=(SessionLease&& other) noexcept {
  if (this != &other) {
    Release();
    pool_ = std::exchange(other.pool_, nullptr);
    session_ = std::move(other.session_);
    id_ = other.id_;
    keep_ = other.keep_;
    exceptions_ = other.exceptions_;
  }
  return *this;
}

bool SessionLease::abandoned() const {
  return pool_ != nullptr && pool_->IsAbandoned(id_);
}

void SessionLease::Release() noexcept {
  if (pool_ == nullptr) return;
  bool unwinding = std::uncaught_exceptions() > exceptions_;
  std::exchange(pool_, nullptr)
      ->Return(id_, std::move(session_), keep_ && !unwinding);
}

SessionPool::SessionPool(CK_FUNCTION_LIST* fn, CK_SLOT_ID slot,
                         size_t max_sessions, std::chrono::milliseconds wait)
    : fn_(fn),
      slot_(slot),
      max_(std::max<size_t>(max_sessions, 1)),
      wait_(wait) {
  idle_.reserve(max_);
  calls_.reserve(max_);
}

SessionPool::~SessionPool() {
  std::lock_guard<std::mutex> lock(mu_);
  idle_.clear();  // closes them
}

StatusOr<SessionLease> SessionPool::Lease() {
  uint64_t id;
  {
    std::unique_lock<std::mutex> lock(mu_);
    bool got = cv_.wait_for(lock, wait_,
                            [&] { return !idle_.empty() || open_ < max_; });
    if (!got) {
      return Status::Busy("every HSM session stayed in use for " +
                          std::to_string(wait_.count()) + " ms");
    }
    id = next_id_++;
    calls_.push_back({id, SteadyClock::now()});  // reserved: open_ < max_
    if (!idle_.empty()) {
      Session s = std::move(idle_.back());
      idle_.pop_back();
      PublishLocked();
      return SessionLease(this, std::move(s), id);
    }
    ++open_;  // holds the place while C_OpenSession runs unlocked
    PublishLocked();
  }
  return OpenFor(id);
}

StatusOr<SessionLease> SessionPool::OpenFor(uint64_t id) {
  StatusOr<Session> s = Session::Open(fn_, slot_);
  std::unique_lock<std::mutex> lock(mu_);
  auto it = FindCall(id);
  if (it == calls_.end()) {
    // Abandoned while C_OpenSession hung: the place is gone, but the caller
    // gets a lease that says so, and its release closes what was opened.
    Session late = s.ok() ? std::move(s).value() : Session();
    lock.unlock();
    return SessionLease(this, std::move(late), id);
  }
  if (!s.ok()) {
    calls_.erase(it);
    --open_;
    PublishLocked();
    lock.unlock();
    cv_.notify_one();
    return s.status();
  }
  return SessionLease(this, std::move(s).value(), id);
}

void SessionPool::Return(uint64_t id, Session session, bool keep) noexcept {
  {
    std::lock_guard<std::mutex> lock(mu_);
    auto it = FindCall(id);
    if (it == calls_.end()) {
      --stuck_;  // abandoned: its place was given back then; close it
      keep = false;
    } else {
      calls_.erase(it);
      if (keep) {
        idle_.push_back(std::move(session));
      } else {
        --open_;
      }
    }
    PublishLocked();
  }
  session.Close();  // outside the lock; a no-op when kept (moved from)
  cv_.notify_all();
}

bool SessionPool::IsAbandoned(uint64_t id) const {
  std::lock_guard<std::mutex> lock(mu_);
  return std::none_of(calls_.begin(), calls_.end(),
                      [&](const Call& c) { return c.id == id; });
}

std::vector<SessionPool::Call>::iterator SessionPool::FindCall(uint64_t id) {
  return std::find_if(calls_.begin(), calls_.end(),
                      [&](const Call& c) { return c.id == id; });
}

void SessionPool::CloseIdle() {
  std::vector<Session> stale;
  stale.reserve(max_);  // becomes idle_: Return must find room reserved
  {
    std::lock_guard<std::mutex> lock(mu_);
    open_ -= idle_.size();
    stale.swap(idle_);
    PublishLocked();
  }
  stale.clear();  // closes them, outside the lock
  cv_.notify_all();
}

size_t SessionPool::AbandonOverdue(std::chrono::milliseconds limit) {
  size_t n = 0;
  {
    std::lock_guard<std::mutex> lock(mu_);
    SteadyClock::time_point now = SteadyClock::now();
    auto overdue = [&](const Call& c) { return now - c.since > limit; };
    n = static_cast<size_t>(
        std::count_if(calls_.begin(), calls_.end(), overdue));
    if (n == 0) return 0;
    calls_.erase(std::remove_if(calls_.begin(), calls_.end(), overdue),
                 calls_.end());
    open_ -= n;
    stuck_ += n;
    abandoned_total_ += n;
    PublishLocked();
  }
  cv_.notify_all();  // the freed places
  return n;
}

std::optional<SteadyClock::time_point> SessionPool::OldestLease() const {
  std::lock_guard<std::mutex> lock(mu_);
  std::optional<SteadyClock::time_point> oldest;
  for (const Call& c : calls_) {
    if (!oldest || c.since < *oldest) oldest = c.since;
  }
  return oldest;
}

void SessionPool::PublishLocked() {
  pub_in_use_.store(calls_.size(), std::memory_order_relaxed);
  pub_open_.store(open_, std::memory_order_relaxed);
  pub_stuck_.store(stuck_, std::memory_order_relaxed);
  pub_abandoned_.store(abandoned_total_, std::memory_order_relaxed);
}

PoolStats SessionPool::Stats() const {
  return {pub_in_use_.load(std::memory_order_relaxed),
          pub_open_.load(std::memory_order_relaxed),
          pub_stuck_.load(std::memory_order_relaxed),
          pub_abandoned_.load(std::memory_order_relaxed)};
}

std::pair<size_t, size_t> SessionPool::Counts() const {
  PoolStats s = Stats();
  return {s.in_use, s.open};
}

}  // namespace authd::hsm
