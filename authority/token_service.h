// TokenService: issuance of access tokens (RFC 6749 §4.4 client_credentials,
// RFC 9068 JWTs) and verification of the Bearer tokens authd issued. It knows
// nothing about HTTP: api/token_handler.h parses the request and maps the
// outcome to an RFC 6749 answer.
//
// Order of work on Issue keeps the HSM for authenticated work: the failure
// limiter first, then one HMAC to authenticate, and one signature only for a
// client that passed.
// Thread-safe.
#ifndef AUTHD_AUTHORITY_TOKEN_SERVICE_H_
#define AUTHD_AUTHORITY_TOKEN_SERVICE_H_

#include <string>
#include <string_view>
#include <vector>

#include "authority/access.h"
#include "authority/failure_limiter.h"
#include "authority/key_ring.h"
#include "authority/metrics.h"
#include "common/clock.h"
#include "common/public_key.h"
#include "common/status.h"

namespace authd::authority {

struct TokenOptions {
  std::string issuer;
  std::string audience;
  int64_t ttl_seconds = 600;
  Algorithm algorithm = Algorithm::kES256;
};

// The caller behind a verified Bearer token.
struct Principal {
  std::string client_id;
  std::string role;
  std::vector<std::string> scopes;
  bool Has(std::string_view scope) const;
};

// A client's request for a token, as the transport extracted it.
struct TokenRequest {
  std::string_view client_id;
  std::string_view secret;
  std::vector<std::string> scopes;  // empty: every scope of the role
  std::string_view address;         // failure-limiter key, LimiterAddress()
};

struct IssuedToken {
  std::string access_token;
  std::string client_id;
  std::string scope;  // space-separated
  int64_t expires_in = 0;
};

struct TokenOutcome {
  Status status;  // OK when `token` is set
  IssuedToken token;
  // Why Issue refused: kInvalidClient, kRateLimited (retry_after set),
  // kInvalidScope or kUnavailable (the HSM or the random source).
  TokenFailure failure = TokenFailure::kInvalidClient;
  int64_t retry_after = 0;  // seconds, for kRateLimited
};

// Space-separated scope list, duplicates dropped, order kept.
std::vector<std::string> SplitScopes(std::string_view s);
std::string JoinScopes(const std::vector<std::string>& scopes);

class TokenService {
 public:
  TokenService(const KeyRing* ring, const Access* access,
               FailureLimiter* limiter, const Clock* clock,
               TokenOptions options);

  TokenOutcome Issue(const TokenRequest& req) const;

  // Verifies signature, typ, exp/nbf, iss and aud, and that the credential
  // still exists and has not expired. Unauthenticated otherwise.
  StatusOr<Principal> VerifyBearer(std::string_view token) const;

  const TokenOptions& options() const { return options_; }

 private:
  TokenOutcome Sign(const storage::Credential& cred,
                    const std::vector<std::string>& scopes) const;

  const KeyRing* ring_;
  const Access* access_;
  FailureLimiter* limiter_;
  const Clock* clock_;
  const TokenOptions options_;
};

}  // namespace authd::authority

#endif  // AUTHD_AUTHORITY_TOKEN_SERVICE_H_
