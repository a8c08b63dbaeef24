// A public key in every form authd publishes: DER SubjectPublicKeyInfo, PEM,
// JWK members and the RFC 7638 thumbprint used as `kid`. ECDSA P-256 (ES256)
// keys are built from the EC point the HSM reports, RSA (RS256) keys from the
// modulus and exponent; verification runs in OpenSSL so checking a signature
// never costs an HSM operation. Immutable, thread-safe.
#ifndef AUTHD_COMMON_PUBLIC_KEY_H_
#define AUTHD_COMMON_PUBLIC_KEY_H_

#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "common/status.h"

typedef struct evp_pkey_st EVP_PKEY;

namespace authd {

// JWS algorithms authd signs with (RFC 7518 §3.1).
enum class Algorithm { kES256, kRS256 };
const char* AlgorithmName(Algorithm alg);  // "ES256", "RS256"
bool ParseAlgorithm(std::string_view name, Algorithm* out);

class PublicKey {
 public:
  // `point` is the 65-byte uncompressed point 0x04||X||Y.
  static StatusOr<PublicKey> FromEcPoint(std::string_view point);
  // Big-endian modulus and public exponent of an RSA key.
  static StatusOr<PublicKey> FromRsa(std::string_view modulus,
                                     std::string_view exponent);
  // Parses a PEM "PUBLIC KEY" holding a P-256 key.
  static StatusOr<PublicKey> FromPem(std::string_view pem);

  const std::string& spki_der() const { return spki_der_; }
  const std::string& pem() const { return pem_; }
  const std::string& jwk_x() const { return x_; }  // base64url
  const std::string& jwk_y() const { return y_; }  // base64url
  const std::string& kid() const { return kid_; }  // RFC 7638 thumbprint
  Algorithm algorithm() const { return alg_; }
  // The JWK's key members (kty, crv/x/y or n/e), for a JWKS entry.
  std::vector<std::pair<std::string, std::string>> JwkMembers() const;

  // Verifies an ES256 signature (raw r||s, 64 bytes) over `data`.
  bool VerifyEs256(std::string_view data, std::string_view raw_sig) const;
  // Verifies a JWS signature of this key's algorithm over `data`.
  bool Verify(std::string_view data, std::string_view sig) const;

 private:
  PublicKey() = default;
  Status Finish();  // DER, PEM from pkey_
  bool DigestVerify(std::string_view data, std::string_view sig) const;
  std::shared_ptr<EVP_PKEY> pkey_;
  Algorithm alg_ = Algorithm::kES256;
  std::string spki_der_, pem_, x_, y_, n_, e_, kid_;
};

// Converts what a token returned for CKM_ECDSA to raw r||s of 2*`half` bytes.
// PKCS#11 v2.40 §2.3.1 specifies raw r||s, so input of exactly that size is
// taken as raw; anything else must be a DER ECDSA-Sig-Value with no trailing
// bytes. Empty on malformed input.
std::string EcdsaSignatureToRaw(std::string_view sig, size_t half);
// Raw r||s (even length) to a DER ECDSA-Sig-Value. Empty on malformed input.
std::string EcdsaRawToDer(std::string_view raw);

}  // namespace authd

#endif  // AUTHD_COMMON_PUBLIC_KEY_H_
