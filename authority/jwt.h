// Compact JWS (RFC 7515) for access tokens: signing goes to the HSM through
// the key ring, verification runs in OpenSSL against published public keys,
// so checking a presented token never spends an HSM operation. Stateless and
// thread-safe.
#ifndef AUTHD_AUTHORITY_JWT_H_
#define AUTHD_AUTHORITY_JWT_H_

#include <functional>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>

#include "common/status.h"
#include "hsm/key_ops.h"

namespace authd::authority {

// base64url(header) "." base64url(claims): the JWS signing input.
std::string JwsSigningInput(const nlohmann::json& header,
                            const nlohmann::json& claims);

// Appends `s` as a JSON string literal, byte for byte what nlohmann's
// dump() writes for valid UTF-8 (quote, backslash and control characters
// escaped, the rest as is): the token path builds its JSON by hand, once,
// instead of through a DOM.
void AppendJsonString(std::string* out, std::string_view s);

struct VerifiedJwt {
  nlohmann::json header;
  nlohmann::json claims;
};

// Checks structure, that `kid` names a key `find` knows, that `alg` is that
// key's algorithm, and the signature. Claims (exp, iss, aud...) are the
// caller's to check. Unauthenticated on failure.
StatusOr<VerifiedJwt> VerifyJwt(
    std::string_view token,
    const std::function<const PublicKey*(const std::string& kid)>& find);
// The same against one key.
StatusOr<VerifiedJwt> VerifyJwt(std::string_view token, const PublicKey& key);

}  // namespace authd::authority

#endif  // AUTHD_AUTHORITY_JWT_H_
