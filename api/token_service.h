// TokenService: the OAuth side of authd — POST /v1/auth/token
// (RFC 6749 §4.4 client_credentials, tokens per RFC 9068), JWKS (RFC 7517),
// RFC 8414 metadata, and verification of the Bearer tokens it issued.
//
// Order of work on the token path keeps the HSM for authenticated work:
// request shape and grant type first, then the failure limiter, then one HMAC
// to authenticate, and one signature only for a client that passed.
// Thread-safe.
#ifndef AUTHD_API_TOKEN_SERVICE_H_
#define AUTHD_API_TOKEN_SERVICE_H_

#include <string>
#include <vector>

#include "api/access.h"
#include "api/http.h"
#include "api/key_ring.h"
#include "api/metrics.h"
#include "api/rate_limiter.h"
#include "common/clock.h"
#include "hsm/key_ops.h"

namespace authd::api {

struct TokenOptions {
  std::string issuer;
  std::string audience;
  int64_t ttl_seconds = 600;
  hsm::Algorithm algorithm = hsm::Algorithm::kES256;
};

// The caller behind a verified Bearer token.
struct Principal {
  std::string client_id;
  std::string role;
  std::vector<std::string> scopes;
  bool Has(std::string_view scope) const;
};

class TokenService {
 public:
  TokenService(const KeyRing* ring, const Access* access,
               FailureLimiter* limiter, const Clock* clock,
               TokenOptions options, Metrics* metrics = nullptr);

  Response Token(const Request& req) const;
  Response Jwks() const;
  Response Metadata() const;

  // Verifies signature, exp/nbf, iss and aud, and that the credential still
  // exists and has not expired. Unauthenticated otherwise.
  StatusOr<Principal> VerifyBearer(std::string_view token) const;

 private:
  Response Issue(const storage::Credential& cred,
                 const std::vector<std::string>& scopes) const;
  // Counts the failure and passes the response through.
  Response Failed(TokenFailure why, Response r) const;

  const KeyRing* ring_;
  const Access* access_;
  FailureLimiter* limiter_;
  const Clock* clock_;
  const TokenOptions options_;
  Metrics* metrics_;
};

}  // namespace authd::api

#endif  // AUTHD_API_TOKEN_SERVICE_H_
