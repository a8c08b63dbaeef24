// SoftwareKeyOps: the HSM of hsm/key_ops.h done in OpenSSL, for the fuzz
// targets only. A fuzzer runs thousands of inputs a second in one process;
// SoftHSM2 would dominate the time and share its token between runs. This is a
// test environment, never the shipped path: the keys sit in process memory.
//
// Everything a seed file depends on is deterministic, so a token or a client
// secret written into fuzz/corpus/ stays valid in every run: the token and
// audit keys are fixed (kTokenKeyPem, kAuditKeyPem), the pepper is fixed, and
// Random() is a SHA-256 counter stream that restarts with each instance.
// Signing keys made by GenerateSigningKey (key rotation) are fresh EC keys;
// RS256 ones come from a small pool made once per process, since RSA key
// generation would dominate the run.
//
// Thread-safe: every member is guarded by mu_.
#ifndef AUTHD_FUZZ_SOFTWARE_KEY_OPS_H_
#define AUTHD_FUZZ_SOFTWARE_KEY_OPS_H_

#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "hsm/key_ops.h"

typedef struct evp_pkey_st EVP_PKEY;

namespace authd::fuzz {

class SoftwareKeyOps final : public hsm::KeyOps {
 public:
  SoftwareKeyOps();
  ~SoftwareKeyOps() override;

  StatusOr<std::string> SignEs256(hsm::KeyUse use,
                                  std::string_view data) const override;
  StatusOr<std::string> HmacPepper(std::string_view data) const override;
  StatusOr<std::string> Random(size_t n) const override;
  const PublicKey& Public(hsm::KeyUse use) const override;
  StatusOr<std::vector<std::string>> ReadData(
      const std::string& label) const override;
  StatusOr<PublicKey> GenerateSigningKey(const std::string& label,
                                         Algorithm alg) const override;
  StatusOr<PublicKey> LoadSigningKey(const std::string& label) const override;
  StatusOr<std::string> SignWith(const std::string& label,
                                 std::string_view data) const override;
  Status WriteData(const std::string& label,
                   std::string_view value) const override;
  bool Ready() const override { return true; }

 private:
  struct Key {
    std::shared_ptr<EVP_PKEY> pkey;
    PublicKey pub;
  };

  mutable std::mutex mu_;
  mutable std::map<std::string, Key> keys_;  // by label
  mutable std::map<std::string, std::vector<std::string>> data_;
  mutable uint64_t counter_ = 0;  // Random()'s stream position
  mutable size_t rsa_used_ = 0;   // RS256 keys taken from the pool
  std::unique_ptr<PublicKey> token_pub_, audit_pub_;
};

// The fixed P-256 keys behind KeyUse::kToken and KeyUse::kAudit, for
// programs that make seed files (PEM PKCS#8).
extern const char kTokenKeyPem[];
extern const char kAuditKeyPem[];

// ES256 over `data` with a PEM private key: DER when `der`, else raw r||s.
// Empty on failure.
std::string SignWithPem(const char* pem, std::string_view data, bool der);

}  // namespace authd::fuzz

#endif  // AUTHD_FUZZ_SOFTWARE_KEY_OPS_H_
