// Compact JWS (RFC 7515) with ES256 (RFC 7518 §3.4): signing goes to the HSM,
// verification runs in OpenSSL against a public key, so checking a presented
// token never spends an HSM operation. Stateless and thread-safe.
#ifndef AUTHD_API_JWT_H_
#define AUTHD_API_JWT_H_

#include <nlohmann/json.hpp>
#include <string>
#include <string_view>

#include "common/status.h"
#include "hsm/key_ops.h"

namespace authd::api {

// Returns header.claims.signature signed by the HSM token key.
StatusOr<std::string> SignJwt(const hsm::KeyOps& keys,
                              const nlohmann::json& header,
                              const nlohmann::json& claims);

struct VerifiedJwt {
  nlohmann::json header;
  nlohmann::json claims;
};

// Checks structure, `alg` = ES256, `kid` = key.kid() and the signature. Claims
// (exp, iss, aud...) are the caller's to check. Unauthenticated on failure.
StatusOr<VerifiedJwt> VerifyJwt(std::string_view token,
                                const hsm::PublicKey& key);

}  // namespace authd::api

#endif  // AUTHD_API_JWT_H_
