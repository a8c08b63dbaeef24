#include "authority/token_service.h"

#include <openssl/rand.h>

#include <algorithm>
#include <sstream>

#include "authority/jwt.h"
#include "common/encoding.h"

namespace authd::authority {
namespace {

TokenOutcome Denied(TokenFailure why, Status st) {
  TokenOutcome out;
  out.status = std::move(st);
  out.failure = why;
  return out;
}

TokenOutcome Unavailable(std::string message) {
  return Denied(TokenFailure::kUnavailable,
                Status::Unavailable(std::move(message)));
}

bool Contains(const std::vector<std::string>& v, std::string_view s) {
  return std::find(v.begin(), v.end(), s) != v.end();
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
                           FailureLimiter* limiter, const Clock* clock,
                           TokenOptions options)
    : ring_(ring),
      access_(access),
      limiter_(limiter),
      clock_(clock),
      options_(std::move(options)) {}

TokenOutcome TokenService::Issue(const TokenRequest& req) const {
  // Charged before the HMAC, so parallel guesses cannot all pass one check.
  if (auto wait = limiter_->Reserve(req.client_id, req.address)) {
    TokenOutcome out = Denied(
        TokenFailure::kRateLimited,
        Status::ResourceExhausted("too many failed attempts; retry later"));
    out.retry_after = *wait;
    return out;
  }
  StatusOr<storage::Credential> cred =
      access_->Authenticate(req.client_id, req.secret);
  if (!cred.ok()) {
    if (cred.status().code() != StatusCode::kUnauthenticated) {
      limiter_->Refund(req.client_id, req.address);  // not the client's fault
      return Unavailable("the HSM is unavailable; retry later");
    }
    return Denied(TokenFailure::kInvalidClient, cred.status());
  }
  limiter_->Refund(req.client_id, req.address);
  limiter_->RecordSuccess(req.client_id, req.address);

  const Role* role = access_->FindRole(cred->role);
  if (role == nullptr) {
    return Denied(
        TokenFailure::kInvalidScope,
        Status::InvalidArgument("the credential's role no longer exists"));
  }
  for (const auto& s : req.scopes) {
    if (!Contains(role->scopes, s)) {
      return Denied(
          TokenFailure::kInvalidScope,
          Status::InvalidArgument("scope '" + s + "' is not granted to role " +
                                  role->name));
    }
  }
  return Sign(*cred, req.scopes.empty() ? role->scopes : req.scopes);
}

TokenOutcome TokenService::Sign(const storage::Credential& cred,
                                const std::vector<std::string>& scopes) const {
  int64_t now = clock_->NowSeconds();
  int64_t exp = std::min(now + options_.ttl_seconds, cred.expires_at);
  unsigned char jti[16];
  if (RAND_bytes(jti, sizeof jti) != 1) {
    return Unavailable("random source failed; retry later");
  }
  // One snapshot for the header and the signature, so a rotation in
  // between cannot pair one key's kid with another's signature.
  std::shared_ptr<const KeyRing::Snapshot> ring = ring_->Current();
  const RingKey& key = ring->active;
  nlohmann::json header = {{"alg", AlgorithmName(key.pub.algorithm())},
                           {"typ", "at+jwt"},
                           {"kid", key.pub.kid()}};
  TokenOutcome out;
  out.token.scope = JoinScopes(scopes);
  nlohmann::json claims = {
      {"iss", options_.issuer},
      {"sub", cred.client_id},
      {"client_id", cred.client_id},
      {"aud", options_.audience},
      {"iat", now},
      {"nbf", now},
      {"exp", exp},
      {"jti", Base64UrlEncode(
                  std::string_view(reinterpret_cast<char*>(jti), sizeof jti))},
      {"scope", out.token.scope},
      {"role", cred.role},
  };
  std::string input = JwsSigningInput(header, claims);
  StatusOr<std::string> sig = ring_->Sign(key, input);
  if (!sig.ok()) return Unavailable("the HSM is unavailable; retry later");
  out.token.access_token = input + "." + Base64UrlEncode(*sig);
  out.token.client_id = cred.client_id;
  out.token.expires_in = exp - now;
  return out;
}

StatusOr<Principal> TokenService::VerifyBearer(std::string_view token) const {
  int64_t now = clock_->NowSeconds();
  std::shared_ptr<const KeyRing::Snapshot> ring = ring_->Current();
  ASSIGN_OR_RETURN(VerifiedJwt jwt,
                   VerifyJwt(token, [&](const std::string& kid) {
                     return ring_->Find(*ring, kid, now);
                   }));
  const nlohmann::json& c = jwt.claims;
  // RFC 9068 §4: only access tokens (typ at+jwt); RFC 7515 §4.1.11: no
  // critical extension is understood here.
  const auto typ = jwt.header.find("typ");
  if (typ == jwt.header.end() || *typ != "at+jwt" ||
      jwt.header.contains("crit")) {
    return Status::Unauthenticated("access token is not an at+jwt");
  }
  auto num = [&](const char* k) -> int64_t {
    return c.contains(k) && c[k].is_number_integer() ? c[k].get<int64_t>() : -1;
  };
  auto str = [&](const char* k) -> std::string {
    return c.contains(k) && c[k].is_string() ? c[k].get<std::string>() : "";
  };
  if (num("exp") <= now) {
    return Status::Unauthenticated("access token has expired");
  }
  if (num("nbf") > now) {
    return Status::Unauthenticated("access token is not valid yet");
  }
  if (str("iss") != options_.issuer || str("aud") != options_.audience) {
    return Status::Unauthenticated(
        "access token was issued for another "
        "issuer or audience");
  }
  Principal p;
  p.client_id = str("client_id");
  std::shared_ptr<const Access::Snapshot> snap = access_->Current();
  auto it = snap->credentials.find(p.client_id);
  if (it == snap->credentials.end() || it->second.expires_at <= now) {
    return Status::Unauthenticated(
        "the credential behind this access token no longer exists");
  }
  p.role = it->second.role;
  // The token's scopes, less any its role no longer grants.
  const Role* role = access_->FindRole(p.role);
  for (std::string& s : SplitScopes(str("scope"))) {
    if (role && Contains(role->scopes, s)) p.scopes.push_back(std::move(s));
  }
  return p;
}

}  // namespace authd::authority
