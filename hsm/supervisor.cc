#include "hsm/supervisor.h"

#include <algorithm>
#include <string>

#include "common/log.h"

namespace authd::hsm {
namespace {

using std::chrono::milliseconds;

constexpr milliseconds kWatchInterval{250};
constexpr milliseconds kFirstBackoff{100};
constexpr milliseconds kMaxBackoff{5000};

int64_t NowNanos() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(
             SteadyClock::now().time_since_epoch())
      .count();
}

}  // namespace

Supervisor::Supervisor(SessionPool* pool, PinLogin* login, KeyStore* keys,
                       ReadyState* ready, milliseconds op_timeout,
                       FatalCallback on_fatal)
    : pool_(pool),
      login_(login),
      keys_(keys),
      ready_(ready),
      op_timeout_(op_timeout),
      on_fatal_(std::move(on_fatal)),
      watcher_([this](std::stop_token stop) { Watch(stop); }),
      recoverer_([this](std::stop_token stop) { RecoverLoop(stop); }) {}

std::string Supervisor::fatal() const {
  return gave_up_.load(std::memory_order_acquire) ? fatal_ : std::string();
}

// Looks four times per op_timeout (at most every 250 ms), so a hung call is
// abandoned at most a quarter of the timeout late.
void Supervisor::Watch(std::stop_token stop) {
  milliseconds interval =
      std::clamp(op_timeout_ / 4, milliseconds(10), kWatchInterval);
  while (!stop.stop_requested()) {
    Sleep(stop, interval);
    if (stop.stop_requested()) break;
    if (size_t n = pool_->AbandonOverdue(op_timeout_); n > 0) {
      std::string why = "an HSM call has not returned within " +
                        std::to_string(op_timeout_.count()) +
                        " ms; its session was abandoned";
      Log(LogLevel::kWarn, "event=hsm_abandoned calls=%zu stuck=%zu msg=\"%s\"",
          n, pool_->Stats().stuck, why.c_str());
      ready_->MarkUnready(why);
    }
    if (std::string why = GiveUpReason(); !why.empty()) {
      GiveUp(why);
      return;
    }
  }
}

std::string Supervisor::GiveUpReason() const {
  int64_t since = attempt_since_.load();
  if (since != 0 &&
      NowNanos() - since > 2 * std::chrono::nanoseconds(op_timeout_).count()) {
    return "recovery on a fresh HSM session has not finished within " +
           std::to_string(2 * op_timeout_.count()) +
           " ms: the HSM stopped answering";
  }
  size_t stuck = pool_->Stats().stuck;
  if (stuck >= pool_->max_sessions()) {
    return std::to_string(stuck) +
           " abandoned HSM calls have not returned (as many as "
           "hsm.sessions): the HSM stopped answering";
  }
  return "";
}

void Supervisor::GiveUp(const std::string& why) {
  fatal_ = why;
  gave_up_.store(true, std::memory_order_release);
  ready_->MarkUnready(why);
  Log(LogLevel::kError,
      "event=hsm_fatal msg=\"%s; exiting so that authd is restarted\"",
      why.c_str());
  if (on_fatal_) on_fatal_();
}

void Supervisor::RecoverLoop(std::stop_token stop) {
  milliseconds backoff = kFirstBackoff;
  while (!stop.stop_requested()) {
    if (ready_->ready()) {
      ready_->WaitWhileReady(stop, kWatchInterval);
      backoff = kFirstBackoff;
      continue;
    }
    Sleep(stop, backoff);
    if (stop.stop_requested()) break;
    // Retrying cannot help after a rejected PIN or once given up.
    if (ready_->ready() || login_->pin_rejected() || gave_up_.load()) continue;
    attempt_since_.store(NowNanos());
    Status st = Recover();
    attempt_since_.store(0);
    if (gave_up_.load()) continue;
    if (st.ok()) {
      ready_->MarkReady();
      backoff = kFirstBackoff;
    } else {
      ready_->SetReason(st.message());
      backoff = std::min(backoff * 2, kMaxBackoff);
      Log(LogLevel::kWarn, "event=hsm_recover msg=\"%s\" retry_ms=%lld",
          st.message().c_str(), static_cast<long long>(backoff.count()));
    }
  }
}

Status Supervisor::Recover() {
  pool_->CloseIdle();  // they may belong to a dead login
  ASSIGN_OR_RETURN(SessionLease lease, pool_->Lease());
  Status st = lease.abandoned()
                  ? Status::Unavailable("C_OpenSession did not return in time")
                  : login_->LogIn(lease.handle());
  if (st.ok()) st = keys_->Refresh(lease.handle()).status();
  if (st.ok() && lease.abandoned()) {
    st = Status::Unavailable("recovery did not finish in time");
  }
  if (!st.ok()) lease.Discard();
  return st;
}

void Supervisor::Sleep(std::stop_token stop, milliseconds d) {
  std::unique_lock<std::mutex> lock(sleep_mu_);
  sleep_cv_.wait_for(lock, stop, d, [] { return false; });
}

}  // namespace authd::hsm
