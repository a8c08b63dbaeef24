// KeyOps that forwards to a real one and fails chosen operations on command,
// to prove callers fail closed when the HSM does.
#ifndef AUTHD_TESTS_TESTING_FAULTY_KEY_OPS_H_
#define AUTHD_TESTS_TESTING_FAULTY_KEY_OPS_H_

#include <atomic>

#include "hsm/key_ops.h"

namespace authd::testing {

class FaultyKeyOps final : public hsm::KeyOps {
 public:
  explicit FaultyKeyOps(const hsm::KeyOps* real) : real_(real) {}

  std::atomic<bool> fail_audit_sign{false};
  std::atomic<bool> fail_token_sign{false};
  std::atomic<bool> fail_data{false};
  // When set, the HSM head looks absent and writes are dropped.
  std::atomic<bool> hide_data{false};

  StatusOr<std::string> SignEs256(hsm::KeyUse use,
                                  std::string_view data) const override {
    if ((use == hsm::KeyUse::kAudit && fail_audit_sign) ||
        (use == hsm::KeyUse::kToken && fail_token_sign)) {
      return Status::Unavailable("HSM C_Sign failed: CKR_DEVICE_ERROR");
    }
    return real_->SignEs256(use, data);
  }
  StatusOr<hsm::PublicKey> GenerateSigningKey(
      const std::string& label, hsm::Algorithm alg) const override {
    return real_->GenerateSigningKey(label, alg);
  }
  StatusOr<hsm::PublicKey> LoadSigningKey(
      const std::string& label) const override {
    return real_->LoadSigningKey(label);
  }
  StatusOr<std::string> SignWith(const std::string& label,
                                 std::string_view data) const override {
    if (fail_token_sign) {
      return Status::Unavailable("HSM C_Sign failed: CKR_DEVICE_ERROR");
    }
    return real_->SignWith(label, data);
  }
  StatusOr<std::string> HmacPepper(std::string_view data) const override {
    return real_->HmacPepper(data);
  }
  StatusOr<std::string> Random(size_t n) const override {
    return real_->Random(n);
  }
  const hsm::PublicKey& Public(hsm::KeyUse use) const override {
    return real_->Public(use);
  }
  bool Ready() const override { return real_->Ready(); }
  StatusOr<std::vector<std::string>> ReadData(
      const std::string& label) const override {
    if (fail_data) return Status::Unavailable("HSM read failed");
    if (hide_data) return std::vector<std::string>();
    return real_->ReadData(label);
  }
  Status WriteData(const std::string& label,
                   std::string_view value) const override {
    if (fail_data) return Status::Unavailable("HSM write failed");
    if (hide_data) return Status::Ok();
    return real_->WriteData(label, value);
  }

 private:
  const hsm::KeyOps* real_;
};

}  // namespace authd::testing

#endif  // AUTHD_TESTS_TESTING_FAULTY_KEY_OPS_H_
