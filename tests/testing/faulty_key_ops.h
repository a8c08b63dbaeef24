// KeyOps that forwards to a real one and fails chosen operations on command,
// to prove callers fail closed when the HSM does.
#ifndef AUTHD_TESTS_TESTING_FAULTY_KEY_OPS_H_
#define AUTHD_TESTS_TESTING_FAULTY_KEY_OPS_H_

#include <atomic>
#include <mutex>
#include <string>
#include <vector>

#include "hsm/forwarding_key_ops.h"

namespace authd::testing {

class FaultyKeyOps final : public hsm::ForwardingKeyOps {
 public:
  explicit FaultyKeyOps(const hsm::KeyOps* real) : ForwardingKeyOps(real) {}

  std::atomic<bool> fail_audit_sign{false};
  // When set, the HSM head looks absent and writes are dropped.
  std::atomic<bool> hide_data{false};
  // When >= 0: that many more data writes succeed, then every one fails.
  mutable std::atomic<int> data_writes_left{-1};
  // The values of the data writes that reached the real HSM, in order.
  std::vector<std::string> written() const {
    std::lock_guard<std::mutex> lock(mu_);
    return written_;
  }

  StatusOr<std::string> SignEs256(hsm::KeyUse use,
                                  std::string_view data) const override {
    if (use == hsm::KeyUse::kAudit && fail_audit_sign) {
      return Status::Unavailable("HSM C_Sign failed: CKR_DEVICE_ERROR");
    }
    return inner_->SignEs256(use, data);
  }
  StatusOr<std::vector<std::string>> ReadData(
      const std::string& label) const override {
    if (hide_data) return std::vector<std::string>();
    return inner_->ReadData(label);
  }
  Status WriteData(const std::string& label,
                   std::string_view value) const override {
    if (hide_data) return Status::Ok();
    int left = data_writes_left.load();
    if (left == 0) {
      return Status::Unavailable("HSM C_CreateObject failed: CKR_DEVICE_ERROR");
    }
    if (left > 0) data_writes_left.fetch_sub(1);
    {
      std::lock_guard<std::mutex> lock(mu_);
      written_.emplace_back(value);
    }
    return inner_->WriteData(label, value);
  }

 private:
  mutable std::mutex mu_;
  mutable std::vector<std::string> written_;  // GUARDED_BY(mu_)
};

}  // namespace authd::testing

#endif  // AUTHD_TESTS_TESTING_FAULTY_KEY_OPS_H_
