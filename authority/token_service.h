// TokenService: issuance of access tokens (RFC 6749 §4.4 client_credentials,
// RFC 9068 JWTs), client authentication for the token, introspection and
// revocation endpoints, verification of the Bearer tokens authd issued
// (admin API, gateway check, RFC 7662 introspection) and RFC 7009
// revocation. It knows nothing about HTTP: api/ parses the requests and maps
// the outcomes to RFC 6749 answers.
//
// Verification never uses the HSM: signatures are checked with the public
// keys in memory, and a token seen before costs a hash and a lookup
// (authority/token_cache.h). Revocation, the credential's existence and
// expiry, and the role's scopes are checked on every use, so a deleted
// credential or a revoked token stops working on the very next request.
//
// Order of work on Issue keeps the HSM for authenticated work: the client
// id's length, the failure limiter, then one HMAC to authenticate, and one
// signature only for a client that passed. A secret the HSM has proved is
// remembered (authority/secret_cache.h) until the credentials or roles
// change, so a client's later requests skip the HMAC: one HSM operation
// per token. The failure limiter still runs for them (AdmitProven).
//
// The TokenOptions (issuer, audience, lifetime) are an immutable snapshot
// that SetOptions (a reload) replaces whole: each issue or verification uses
// one snapshot throughout, with no lock. Thread-safe.
#ifndef AUTHD_AUTHORITY_TOKEN_SERVICE_H_
#define AUTHD_AUTHORITY_TOKEN_SERVICE_H_

#include <atomic>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "authority/access.h"
#include "authority/failure_limiter.h"
#include "authority/key_ring.h"
#include "authority/metrics.h"
#include "authority/revocations.h"
#include "authority/secret_cache.h"
#include "authority/token_cache.h"
#include "common/clock.h"
#include "common/public_key.h"
#include "common/status.h"

namespace authd::authority {

struct TokenOptions {
  std::string issuer;
  std::string audience;
  int64_t ttl_seconds = 600;
  Algorithm algorithm = Algorithm::kES256;
  bool operator==(const TokenOptions&) const = default;
};

// How far in the future a token's nbf may lie and still be accepted, for
// clocks of several authd instances that disagree a little.
inline constexpr int64_t kNotBeforeLeewaySeconds = 5;

// The caller behind a verified Bearer token.
struct Principal {
  std::string client_id;
  std::string role;                 // the credential's role now
  std::vector<std::string> scopes;  // the token's, less any the role lost
  TokenClaims claims;               // as issued
  bool Has(std::string_view scope) const;
};

// A client's credentials, as the transport extracted them.
struct ClientCredentials {
  std::string_view client_id;
  std::string_view secret;
  std::string_view address;  // failure-limiter key, LimiterAddress()
};

// A client's request for a token.
struct TokenRequest {
  ClientCredentials client;
  std::vector<std::string> scopes;  // empty: every scope of the role
};

struct IssuedToken {
  std::string access_token;
  std::string client_id;
  std::string scope;  // space-separated
  int64_t expires_in = 0;
};

// Why a client's request was refused: kInvalidClient, kRateLimited
// (retry_after set), kInvalidScope or kUnavailable (the HSM or the random
// source). `status` carries the message.
struct Refusal {
  Status status;
  TokenFailure failure = TokenFailure::kInvalidClient;
  int64_t retry_after = 0;  // seconds, for kRateLimited
};

struct TokenOutcome {
  Status status;  // OK when `token` is set; else `refusal` says why
  IssuedToken token;
  Refusal refusal;
};

struct ClientOutcome {
  Status status;  // OK when `credential` is set; else `refusal` says why
  storage::Credential credential;
  Refusal refusal;
};

// Space-separated scope list, duplicates dropped, order kept.
std::vector<std::string> SplitScopes(std::string_view s);
std::string JoinScopes(const std::vector<std::string>& scopes);

class TokenService {
 public:
  // `revocations` may be null (nothing is ever revoked).
  TokenService(const KeyRing* ring, const Access* access,
               FailureLimiter* limiter, Revocations* revocations,
               const Clock* clock, TokenOptions options);

  // Client authentication (RFC 6749 §2.3) behind the failure limiter: the
  // attempt is charged before the HMAC and refunded on success. An id longer
  // than kMaxClientIdLength fails at once, charging neither.
  ClientOutcome AuthenticateClient(const ClientCredentials& client) const;
  TokenOutcome Issue(const TokenRequest& req) const;

  // Verifies signature, typ, crit, exp/nbf, iss and aud, that the token is
  // not revoked, and that its credential still exists and has not expired.
  // Unauthenticated otherwise, with a message saying which.
  StatusOr<Principal> VerifyBearer(std::string_view token) const;

  // RFC 7009: revokes `token` if it is a live token of `client_id`. A token
  // that does not verify, or belongs to another client, is left alone and
  // false is returned (§2.2: the caller learns nothing from the answer).
  // Unavailable when the revocation could not be stored.
  StatusOr<bool> Revoke(std::string_view token,
                        const std::string& client_id) const;

  // The options in force; a reload replaces them with SetOptions. Tokens
  // issued before carry the old issuer and audience and stop verifying.
  std::shared_ptr<const TokenOptions> options() const {
    return options_.load();
  }
  void SetOptions(TokenOptions options);
  const Access* access() const { return access_; }

 private:
  // The credential whose secret `secrets_` proved under `epoch`, if it is
  // still in `snap` and unexpired.
  std::optional<storage::Credential> FromCache(
      const ClientCredentials& client, const Access::Snapshot& snap,
      const SecretCache::Epoch& epoch) const;
  TokenOutcome Sign(const storage::Credential& cred,
                    const std::vector<std::string>& scopes) const;
  // Signature, header, issuer and audience, from the cache when seen before.
  StatusOr<TokenClaims> VerifiedClaims(std::string_view token,
                                       int64_t now) const;

  const KeyRing* ring_;
  const Access* access_;
  FailureLimiter* limiter_;
  Revocations* revocations_;
  const Clock* clock_;
  std::atomic<std::shared_ptr<const TokenOptions>> options_;
  mutable TokenCache cache_;
  mutable SecretCache secrets_;
};

}  // namespace authd::authority

#endif  // AUTHD_AUTHORITY_TOKEN_SERVICE_H_
