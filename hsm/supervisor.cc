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

}  // namespace

Supervisor::Supervisor(SessionPool* pool, PinLogin* login, KeyStore* keys,
                       ReadyState* ready, milliseconds op_timeout)
    : pool_(pool),
      login_(login),
      keys_(keys),
      ready_(ready),
      op_timeout_(op_timeout),
      thread_([this](std::stop_token stop) { Run(stop); }) {}

void Supervisor::Run(std::stop_token stop) {
  milliseconds backoff = kFirstBackoff;
  while (!stop.stop_requested()) {
    if (ready_->ready()) {
      ready_->WaitWhileReady(stop, kWatchInterval);
    } else {
      Sleep(stop, backoff);
    }
    if (stop.stop_requested()) break;
    bool hung = HasHungCall();
    if (ready_->ready()) {
      if (hung) {
        ready_->MarkUnready("an HSM call has not returned within " +
                            std::to_string(op_timeout_.count()) + " ms");
      }
      backoff = kFirstBackoff;
      continue;
    }
    if (login_->pin_rejected() || hung) continue;  // retrying cannot help now
    Status st = Recover();
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

bool Supervisor::HasHungCall() const {
  std::optional<SteadyClock::time_point> oldest = pool_->OldestLease();
  return oldest && SteadyClock::now() - *oldest > op_timeout_;
}

Status Supervisor::Recover() {
  pool_->CloseIdle();  // they may belong to a dead login
  ASSIGN_OR_RETURN(SessionLease lease, pool_->Lease());
  Status st = login_->LogIn(lease.handle());
  if (st.ok()) st = keys_->Refresh(lease.handle()).status();
  if (!st.ok()) lease.Discard();
  return st;
}

void Supervisor::Sleep(std::stop_token stop, milliseconds d) {
  std::unique_lock<std::mutex> lock(sleep_mu_);
  sleep_cv_.wait_for(lock, stop, d, [] { return false; });
}

}  // namespace authd::hsm
