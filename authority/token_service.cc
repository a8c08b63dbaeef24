#include "authority/token_service.h"

#include <openssl/rand.h>

#include <algorithm>
#include <sstream>

#include "authority/jwt.h"
#include "common/encoding.h"

namespace authd::authority {
namespace {

Refusal Refused(TokenFailure why, Status st) {
  return Refusal{std::move(st), why, 0};
}

TokenOutcome Denied(Refusal r) {
  TokenOutcome out;
  out.status = r.status;
  out.refusal = std::move(r);
  return out;
}

TokenOutcome Unavailable(std::string message) {
  return Denied(Refused(TokenFailure::kUnavailable,
                        Status::Unavailable(std::move(message))));
}

bool Contains(const std::vector<std::string>& v, std::string_view s) {
  return std::find(v.begin(), v.end(), s) != v.end();
}

// The claims of a verified JWT; Unauthenticated when a required one is
// missing or of the wrong type.
StatusOr<TokenClaims> ClaimsOf(const nlohmann::json& c) {
  auto num = [&](const char* k) -> std::optional<int64_t> {
    auto it = c.find(k);
    if (it == c.end() || !it->is_number_integer()) return std::nullopt;
    return it->get<int64_t>();
  };
  auto str = [&](const char* k) -> std::string {
    auto it = c.find(k);
    return it != c.end() && it->is_string() ? it->get<std::string>() : "";
  };
  std::optional<int64_t> exp = num("exp"), nbf = num("nbf"), iat = num("iat");
  if (!exp) return Status::Unauthenticated("access token has no exp");
  TokenClaims out;
  out.client_id = str("client_id");
  out.role = str("role");
  out.jti = str("jti");
  out.iss = str("iss");
  out.aud = str("aud");
  out.scopes = SplitScopes(str("scope"));
  out.exp = *exp;
  out.nbf = nbf.value_or(0);
  out.iat = iat.value_or(0);
  return out;
}

// While the audit log refuses changes the database cannot be trusted: a copy
// restored from before a credential was deleted would hand that credential
// tokens again. So nothing is issued, introspected or checked from it until
// the operator accepts it (authd --accept-rollback, itself audited).
// Unavailable then; OK otherwise.
Status Trusted(const Access* access) {
  const audit::AuditLog* audit = access->audit();
  if (audit == nullptr || audit->trusted()) return Status::Ok();
  return Status::Unavailable(
      "the database was restored from an older copy or does not match the "
      "HSM's audit head; the operator must accept it (authd "
      "--accept-rollback) before tokens are served");
}

// base64url(header) "." base64url(claims) of an access token, the JSON
// written directly (no DOM), members in the order nlohmann's sorted objects
// would give them.
std::string SigningInput(const RingKey& key, const TokenOptions& opts,
                         const storage::Credential& cred,
                         const std::string& scope, int64_t now, int64_t exp,
                         const std::string& jti) {
  std::string header = "{\"alg\":";
  header.reserve(96);
  AppendJsonString(&header, AlgorithmName(key.pub.algorithm()));
  header += ",\"kid\":";
  AppendJsonString(&header, key.pub.kid());
  header += ",\"typ\":\"at+jwt\"}";
  std::string c = "{\"aud\":";
  c.reserve(256 + opts.issuer.size() + opts.audience.size() + scope.size());
  AppendJsonString(&c, opts.audience);
  c += ",\"client_id\":";
  AppendJsonString(&c, cred.client_id);
  c += ",\"exp\":" + std::to_string(exp) + ",\"iat\":" + std::to_string(now) +
       ",\"iss\":";
  AppendJsonString(&c, opts.issuer);
  c += ",\"jti\":";
  AppendJsonString(&c, jti);
  c += ",\"nbf\":" + std::to_string(now) + ",\"role\":";
  AppendJsonString(&c, cred.role);
  c += ",\"scope\":";
  AppendJsonString(&c, scope);
  c += ",\"sub\":";
  AppendJsonString(&c, cred.client_id);
  c += "}";
  return Base64UrlEncode(header) + "." + Base64UrlEncode(c);
}

}  // namespace

std::vector<std::string> SplitScopes(std::string_view s) {
  std::vector<std::string> out;
  std::istringstream in{std::string(s)};
  std::string w;
  while (in >> w) {
    if (!Contains(out, w)) out.push_back(w);
  }
  return out;
}

std::string JoinScopes(const std::vector<std::string>& scopes) {
  std::string out;
  for (const auto& s : scopes) out += (out.empty() ? "" : " ") + s;
  return out;
}

bool Principal::Has(std::string_view scope) const {
  return Contains(scopes, scope);
}

TokenService::TokenService(const KeyRing* ring, const Access* access,
                           FailureLimiter* limiter, Revocations* revocations,
                           const Clock* clock, TokenOptions options)
    : ring_(ring),
      access_(access),
      limiter_(limiter),
      revocations_(revocations),
      clock_(clock),
      options_(std::make_shared<const TokenOptions>(std::move(options))) {}

void TokenService::SetOptions(TokenOptions options) {
  options_.store(std::make_shared<const TokenOptions>(std::move(options)));
}

std::optional<storage::Credential> TokenService::FromCache(
    const ClientCredentials& client, const Access::Snapshot& snap,
    const SecretCache::Epoch& epoch) const {
  if (!secrets_.Proven(client.client_id, client.secret, epoch)) {
    return std::nullopt;
  }
  auto it = snap.credentials.find(client.client_id);
  if (it == snap.credentials.end() ||
      it->second.expires_at <= clock_->NowSeconds()) {
    // Expired since it was proved: the HSM path refuses it, and charges
    // the failure as it would have without the cache.
    secrets_.Forget(client.client_id);
    return std::nullopt;
  }
  return it->second.ToCredential();
}

ClientOutcome TokenService::AuthenticateClient(
    const ClientCredentials& client) const {
  ClientOutcome out;
  auto refuse = [&](Refusal r) {
    out.status = r.status;
    out.refusal = std::move(r);
    return out;
  };
  auto limited = [&](int64_t wait) {
    Refusal r = Refused(
        TokenFailure::kRateLimited,
        Status::ResourceExhausted("too many failed attempts; retry later"));
    r.retry_after = wait;
    return refuse(std::move(r));
  };
  if (Status st = Trusted(access_); !st.ok()) {
    return refuse(Refused(TokenFailure::kUnavailable, std::move(st)));
  }
  // No credential has so long an id: refused like any failure, before it
  // can take room in the limiter or an HMAC in the HSM.
  if (client.client_id.size() > kMaxClientIdLength) {
    return refuse(
        Refused(TokenFailure::kInvalidClient,
                Status::Unauthenticated("client authentication failed")));
  }
  // Loaded before the HSM check, so a proof is never filed under a
  // snapshot newer than the one it was checked against.
  std::shared_ptr<const Access::Snapshot> snap = access_->Current();
  SecretCache::Epoch epoch{snap, access_->roles()};
  if (auto cred = FromCache(client, *snap, epoch)) {
    if (auto wait = limiter_->AdmitProven(client.client_id, client.address)) {
      return limited(*wait);
    }
    out.credential = std::move(*cred);
    return out;
  }
  // Charged before the HMAC, so parallel guesses cannot all pass one check.
  if (auto wait = limiter_->Reserve(client.client_id, client.address)) {
    return limited(*wait);
  }
  StatusOr<storage::Credential> cred =
      access_->Authenticate(client.client_id, client.secret);
  if (!cred.ok()) {
    if (cred.status().code() != StatusCode::kUnauthenticated) {
      limiter_->Refund(client.client_id, client.address);  // not the client's
      return refuse(
          Refused(TokenFailure::kUnavailable,
                  Status::Unavailable("the HSM is unavailable; retry later")));
    }
    return refuse(Refused(TokenFailure::kInvalidClient, cred.status()));
  }
  limiter_->Succeeded(client.client_id, client.address);
  secrets_.Remember(client.client_id, client.secret, epoch);
  out.credential = std::move(*cred);
  return out;
}

TokenOutcome TokenService::Issue(const TokenRequest& req) const {
  ClientOutcome client = AuthenticateClient(req.client);
  if (!client.status.ok()) return Denied(std::move(client.refusal));
  const storage::Credential& cred = client.credential;
  std::shared_ptr<const Role> role = access_->FindRole(cred.role);
  if (role == nullptr) {
    return Denied(Refused(
        TokenFailure::kInvalidScope,
        Status::InvalidArgument("the credential's role no longer exists")));
  }
  for (const auto& s : req.scopes) {
    if (!Contains(role->scopes, s)) {
      return Denied(Refused(
          TokenFailure::kInvalidScope,
          Status::InvalidArgument("scope '" + s + "' is not granted to role " +
                                  role->name)));
    }
  }
  return Sign(cred, req.scopes.empty() ? role->scopes : req.scopes);
}

TokenOutcome TokenService::Sign(const storage::Credential& cred,
                                const std::vector<std::string>& scopes) const {
  std::shared_ptr<const TokenOptions> opts = options_.load();
  int64_t now = clock_->NowSeconds();
  int64_t exp = std::min(now + opts->ttl_seconds, cred.expires_at);
  unsigned char jti[16];
  if (RAND_bytes(jti, sizeof jti) != 1) {
    return Unavailable("random source failed; retry later");
  }
  // One snapshot for the header and the signature, so a rotation in
  // between cannot pair one key's kid with another's signature.
  std::shared_ptr<const KeyRing::Snapshot> ring = ring_->Current();
  const RingKey& key = ring->active;
  TokenOutcome out;
  out.token.scope = JoinScopes(scopes);
  std::string input =
      SigningInput(key, *opts, cred, out.token.scope, now, exp,
                   Base64UrlEncode(std::string_view(
                       reinterpret_cast<char*>(jti), sizeof jti)));
  StatusOr<std::string> sig = ring_->Sign(key, input);
  if (!sig.ok()) return Unavailable("the HSM is unavailable; retry later");
  out.token.access_token = input + "." + Base64UrlEncode(*sig);
  out.token.client_id = cred.client_id;
  out.token.expires_in = exp - now;
  return out;
}

StatusOr<TokenClaims> TokenService::VerifiedClaims(std::string_view token,
                                                   int64_t now) const {
  std::shared_ptr<const KeyRing::Snapshot> ring = ring_->Current();
  std::shared_ptr<const TokenOptions> opts = options_.load();
  TokenCache::Epoch epoch{ring, access_->Current(),
                          revocations_ ? revocations_->Current() : nullptr,
                          opts};
  if (std::optional<TokenClaims> hit = cache_.Lookup(token, epoch)) {
    // A key stops verifying once its overlap after retirement has passed.
    if (ring_->Find(*ring, hit->kid, now) == nullptr) {
      return Status::Unauthenticated(
          "access token was not signed by a current key");
    }
    return *std::move(hit);
  }
  ASSIGN_OR_RETURN(VerifiedJwt jwt,
                   VerifyJwt(token, [&](const std::string& kid) {
                     return ring_->Find(*ring, kid, now);
                   }));
  // RFC 9068 §4: only access tokens (typ at+jwt); RFC 7515 §4.1.11: no
  // critical extension is understood here.
  const auto typ = jwt.header.find("typ");
  if (typ == jwt.header.end() || *typ != "at+jwt" ||
      jwt.header.contains("crit")) {
    return Status::Unauthenticated("access token is not an at+jwt");
  }
  ASSIGN_OR_RETURN(TokenClaims claims, ClaimsOf(jwt.claims));
  claims.kid = jwt.header.value("kid", "");
  if (claims.iss != opts->issuer || claims.aud != opts->audience) {
    return Status::Unauthenticated(
        "access token was issued for another issuer or audience");
  }
  cache_.Insert(token, epoch, claims);
  return claims;
}

StatusOr<Principal> TokenService::VerifyBearer(std::string_view token) const {
  RETURN_IF_ERROR(Trusted(access_));
  int64_t now = clock_->NowSeconds();
  ASSIGN_OR_RETURN(TokenClaims claims, VerifiedClaims(token, now));
  if (claims.exp <= now) {
    return Status::Unauthenticated("access token has expired");
  }
  if (claims.nbf > now + kNotBeforeLeewaySeconds) {
    return Status::Unauthenticated("access token is not valid yet");
  }
  if (revocations_ && !claims.jti.empty() &&
      revocations_->IsRevoked(claims.jti)) {
    return Status::Unauthenticated("access token has been revoked");
  }
  std::shared_ptr<const Access::Snapshot> snap = access_->Current();
  auto it = snap->credentials.find(claims.client_id);
  if (it == snap->credentials.end() || it->second.expires_at <= now) {
    return Status::Unauthenticated(
        "the credential behind this access token no longer exists");
  }
  Principal p;
  p.client_id = claims.client_id;
  p.role = it->second.role;
  // The token's scopes, less any its role no longer grants.
  std::shared_ptr<const Role> role = access_->FindRole(p.role);
  for (const std::string& s : claims.scopes) {
    if (role && Contains(role->scopes, s)) p.scopes.push_back(s);
  }
  p.claims = std::move(claims);
  return p;
}

StatusOr<bool> TokenService::Revoke(std::string_view token,
                                    const std::string& client_id) const {
  if (revocations_ == nullptr) return false;
  StatusOr<Principal> p = VerifyBearer(token);
  // RFC 7009 §2.2: an invalid, expired or foreign token needs no action.
  if (!p.ok() || p->client_id != client_id || p->claims.jti.empty()) {
    return false;
  }
  Status st = revocations_->Revoke(p->claims.jti, client_id, p->claims.exp);
  if (!st.ok()) {
    return Status::Unavailable("the revocation could not be stored: " +
                               st.message());
  }
  return true;
}

}  // namespace authd::authority
