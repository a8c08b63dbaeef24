#include "hsm/ready_state.h"

#include "common/log.h"

namespace authd::hsm {

std::string ReadyState::reason() const {
  std::lock_guard<std::mutex> lock(mu_);
  return reason_;
}

void ReadyState::MarkUnready(const std::string& why) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (!ready_.load()) return;
    reason_ = why;
    ready_.store(false);
  }
  Log(LogLevel::kError, "event=hsm_unready msg=\"%s\"", why.c_str());
  cv_.notify_all();
}

void ReadyState::SetReason(const std::string& why) {
  std::lock_guard<std::mutex> lock(mu_);
  reason_ = why;
}

void ReadyState::MarkReady() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    reason_.clear();
    ready_.store(true);
  }
  Log(LogLevel::kNotice, "event=hsm_ready msg=\"HSM recovered\"");
}

void ReadyState::WaitWhileReady(std::stop_token stop,
                                std::chrono::milliseconds timeout) const {
  std::unique_lock<std::mutex> lock(mu_);
  cv_.wait_for(lock, stop, timeout, [&] { return !ready_.load(); });
}

}  // namespace authd::hsm
