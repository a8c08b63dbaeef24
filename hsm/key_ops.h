// KeyOps: the HSM as the rest of authd sees it. Every secret stays inside the
// implementation; callers get signatures, MACs, random bytes and public keys.
// Implementations must be safe to call from many threads at once.
#ifndef AUTHD_HSM_KEY_OPS_H_
#define AUTHD_HSM_KEY_OPS_H_

#include <string>
#include <string_view>
#include <vector>

#include "common/public_key.h"
#include "common/status.h"

namespace authd::hsm {

enum class KeyUse { kToken, kAudit };

// CKA_LABELs of the keys SPEC requires in the token.
inline constexpr char kTokenKeyLabel[] = "authd-token-signing";
inline constexpr char kAuditKeyLabel[] = "authd-audit-signing";
inline constexpr char kPepperLabel[] = "authd-pepper";

class KeyOps {
 public:
  virtual ~KeyOps() = default;
  // ES256 over `data` (hashed with SHA-256 here), raw r||s (RFC 7518 §3.4).
  virtual StatusOr<std::string> SignEs256(KeyUse use,
                                          std::string_view data) const = 0;
  // HMAC-SHA256 under the pepper key.
  virtual StatusOr<std::string> HmacPepper(std::string_view data) const = 0;
  // `n` bytes from the HSM's RNG.
  virtual StatusOr<std::string> Random(size_t n) const = 0;
  virtual const PublicKey& Public(KeyUse use) const = 0;
  // Small CKO_DATA objects kept in the token (the audit log's head lives
  // there, out of reach of a database restore): the values of every object
  // with `label`, normally one; empty when absent.
  virtual StatusOr<std::vector<std::string>> ReadData(
      const std::string& label) const = 0;
  // Token-signing keys by label, for the key ring. Generate creates a pair
  // (ES256: P-256, RS256: RSA-2048) with the same attributes as the fixed
  // keys; Load finds an existing pair; SignWith signs with the pair's
  // algorithm (JWS signature bytes).
  virtual StatusOr<PublicKey> GenerateSigningKey(const std::string& label,
                                                 Algorithm alg) const = 0;
  virtual StatusOr<PublicKey> LoadSigningKey(
      const std::string& label) const = 0;
  virtual StatusOr<std::string> SignWith(const std::string& label,
                                         std::string_view data) const = 0;
  // Replaces the objects with `label` by one holding `value`.
  virtual Status WriteData(const std::string& label,
                           std::string_view value) const = 0;
  // False while the HSM is known to be unusable.
  virtual bool Ready() const = 0;
};

}  // namespace authd::hsm

#endif  // AUTHD_HSM_KEY_OPS_H_
