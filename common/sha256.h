// SHA-256, the one digest authd computes in software (OpenSSL): Merkle hashes,
// key ids, signed-note key hashes, ES256 input to the HSM. Thread-safe.
#ifndef AUTHD_COMMON_SHA256_H_
#define AUTHD_COMMON_SHA256_H_

#include <string>
#include <string_view>

namespace authd {

inline constexpr size_t kSha256Size = 32;

// The 32-byte digest of `data`.
std::string Sha256(std::string_view data);

}  // namespace authd

#endif  // AUTHD_COMMON_SHA256_H_
