// ForwardingKeyOps: a KeyOps that passes every call to another one, the base
// for decorators (metrics, test fault injection) that override only the
// calls they care about. Thread-safe if the inner one is.
#ifndef AUTHD_HSM_FORWARDING_KEY_OPS_H_
#define AUTHD_HSM_FORWARDING_KEY_OPS_H_

#include "hsm/key_ops.h"

namespace authd::hsm {

class ForwardingKeyOps : public KeyOps {
 public:
  explicit ForwardingKeyOps(const KeyOps* inner) : inner_(inner) {}

  StatusOr<std::string> SignEs256(KeyUse use,
                                  std::string_view data) const override {
    return inner_->SignEs256(use, data);
  }
  StatusOr<std::string> HmacPepper(std::string_view data) const override {
    return inner_->HmacPepper(data);
  }
  StatusOr<std::string> Random(size_t n) const override {
    return inner_->Random(n);
  }
  const PublicKey& Public(KeyUse use) const override {
    return inner_->Public(use);
  }
  bool Ready() const override { return inner_->Ready(); }
  StatusOr<std::vector<std::string>> ReadData(
      const std::string& label) const override {
    return inner_->ReadData(label);
  }
  Status WriteData(const std::string& label,
                   std::string_view value) const override {
    return inner_->WriteData(label, value);
  }
  StatusOr<PublicKey> GenerateSigningKey(const std::string& label,
                                         Algorithm alg) const override {
    return inner_->GenerateSigningKey(label, alg);
  }
  StatusOr<PublicKey> LoadSigningKey(const std::string& label) const override {
    return inner_->LoadSigningKey(label);
  }
  StatusOr<std::string> SignWith(const std::string& label,
                                 std::string_view data) const override {
    return inner_->SignWith(label, data);
  }

 protected:
  const KeyOps* inner_;
};

}  // namespace authd::hsm

#endif  // AUTHD_HSM_FORWARDING_KEY_OPS_H_
