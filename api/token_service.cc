#include "api/token_service.h"

#include <openssl/rand.h>

#include <algorithm>
#include <sstream>

#include "api/jwt.h"
#include "common/encoding.h"

namespace authd::api {
namespace {

std::vector<std::string> SplitScopes(std::string_view s) {
  std::vector<std::string> out;
  std::istringstream in{std::string(s)};
  std::string w;
  while (in >> w) {
    if (std::find(out.begin(), out.end(), w) == out.end()) out.push_back(w);
  }
  return out;
}

std::string JoinScopes(const std::vector<std::string>& scopes) {
  std::string out;
  for (const auto& s : scopes) out += (out.empty() ? "" : " ") + s;
  return out;
}

bool ContentTypeIsForm(const std::string* ct) {
  if (ct == nullptr) return false;
  std::string v = ct->substr(0, ct->find(';'));
  while (!v.empty() && v.back() == ' ') v.pop_back();
  std::transform(v.begin(), v.end(), v.begin(), ::tolower);
  return v == "application/x-www-form-urlencoded";
}

// The limiter's notion of "one address": an IPv4 address, or an IPv6 /64,
// since one IPv6 host commonly holds a whole /64 and could otherwise rotate
// through fresh addresses.
std::string LimiterKey(const std::optional<IpAddress>& client) {
  if (!client) return "local";
  if (client->is_v4()) return client->ToString();
  StatusOr<Cidr> net = Cidr::Enclosing(*client, 64);
  return net.ok() ? net->ToString() : client->ToString();
}

Response InvalidClient() {
  // RFC 6749 §5.2: 401 with WWW-Authenticate for the scheme the client used;
  // identical for every cause so callers cannot probe which ids exist.
  return Response::OAuthError(401, "invalid_client",
                              "client authentication failed")
      .With("WWW-Authenticate", "Basic realm=\"authd\"");
}

// RFC 6749 §2.3.1: id and secret are form-urlencoded, then joined by ':'.
bool ParseBasic(const std::string& header, SecureString* id,
                SecureString* secret) {
  constexpr std::string_view kPrefix = "basic ";
  if (header.size() <= kPrefix.size()) return false;
  std::string scheme = header.substr(0, kPrefix.size());
  std::transform(scheme.begin(), scheme.end(), scheme.begin(), ::tolower);
  if (scheme != kPrefix) return false;
  auto decoded = Base64Decode(std::string_view(header).substr(kPrefix.size()));
  if (!decoded) return false;
  SecureString plain(*decoded);
  OPENSSL_cleanse(decoded->data(), decoded->size());
  size_t colon = plain.find(':');
  if (colon == SecureString::npos) return false;
  auto i = FormUrlDecode(plain.view().substr(0, colon));
  auto s = FormUrlDecode(plain.view().substr(colon + 1));
  if (!i || !s) return false;
  *id = std::move(*i);
  *secret = std::move(*s);
  return true;
}

}  // namespace

bool Principal::Has(std::string_view scope) const {
  return std::find(scopes.begin(), scopes.end(), scope) != scopes.end();
}

TokenService::TokenService(const KeyRing* ring, const Access* access,
                           FailureLimiter* limiter, const Clock* clock,
                           TokenOptions options, Metrics* metrics)
    : ring_(ring),
      access_(access),
      limiter_(limiter),
      clock_(clock),
      options_(std::move(options)),
      metrics_(metrics) {}

Response TokenService::Failed(TokenFailure why, Response r) const {
  if (metrics_) metrics_->TokenFailed(why);
  return r;
}

Response TokenService::Token(const Request& req) const {
  if (req.method != "POST") {
    return Failed(TokenFailure::kInvalidRequest,
                  Response::OAuthError(405, "invalid_request",
                                       "use POST for the token endpoint")
                      .With("Allow", "POST"));
  }
  if (!ContentTypeIsForm(req.Header("content-type"))) {
    return Failed(
        TokenFailure::kInvalidRequest,
        Response::OAuthError(
            400, "invalid_request",
            "Content-Type must be application/x-www-form-urlencoded"));
  }
  auto form = ParseForm(req.body.view());
  if (!form) {
    return Failed(
        TokenFailure::kInvalidRequest,
        Response::OAuthError(
            400, "invalid_request",
            "body is not valid form encoding or repeats a parameter"));
  }
  auto field = [&](const char* name) -> const SecureString* {
    auto it = form->find(name);
    return it == form->end() ? nullptr : &it->second;
  };
  const SecureString* grant = field("grant_type");
  if (grant == nullptr) {
    return Failed(
        TokenFailure::kInvalidRequest,
        Response::OAuthError(400, "invalid_request", "grant_type is required"));
  }
  if (grant->view() != "client_credentials") {
    return Failed(TokenFailure::kUnsupportedGrantType,
                  Response::OAuthError(400, "unsupported_grant_type",
                                       "only grant_type=client_credentials is "
                                       "supported"));
  }
  SecureString client_id, secret;
  const std::string* auth = req.Header("authorization");
  const SecureString* post_id = field("client_id");
  const SecureString* post_secret = field("client_secret");
  if (auth != nullptr && (post_id || post_secret)) {
    // RFC 6749 §2.3: a client must not use more than one method.
    return Failed(
        TokenFailure::kInvalidRequest,
        Response::OAuthError(400, "invalid_request",
                             "use either HTTP Basic or client_secret in "
                             "the body, not both"));
  }
  if (auth != nullptr) {
    if (!ParseBasic(*auth, &client_id, &secret))
      return Failed(TokenFailure::kInvalidClient, InvalidClient());
  } else if (post_id && post_secret) {
    client_id = *post_id;
    secret = *post_secret;
  } else {
    return Failed(TokenFailure::kInvalidClient, InvalidClient());
  }
  std::vector<std::string> requested;
  if (const SecureString* scope = field("scope")) {
    requested = SplitScopes(scope->view());
  }

  std::string address = LimiterKey(req.client);
  // Charged before the HMAC, so parallel guesses cannot all pass one check.
  if (auto wait = limiter_->Reserve(client_id.view(), address)) {
    return Failed(TokenFailure::kRateLimited,
                  Response::OAuthError(429, "too_many_requests",
                                       "too many failed attempts; retry later")
                      .With("Retry-After", std::to_string(*wait)));
  }
  StatusOr<storage::Credential> cred =
      access_->Authenticate(client_id.view(), secret.view());
  if (!cred.ok()) {
    if (cred.status().code() != StatusCode::kUnauthenticated) {
      limiter_->Refund(client_id.view(), address);  // not the client's fault
      return Failed(TokenFailure::kUnavailable,
                    Response::OAuthError(503, "temporarily_unavailable",
                                         "the HSM is unavailable; retry later")
                        .With("Retry-After", "5"));
    }
    return Failed(TokenFailure::kInvalidClient, InvalidClient());
  }
  limiter_->Refund(client_id.view(), address);
  limiter_->RecordSuccess(client_id.view(), address);

  const Role* role = access_->FindRole(cred->role);
  if (role == nullptr) {
    return Failed(
        TokenFailure::kInvalidScope,
        Response::OAuthError(400, "invalid_scope",
                             "the credential's role no longer exists"));
  }
  std::vector<std::string> scopes = role->scopes;
  if (!requested.empty()) {
    for (const auto& s : requested) {
      if (std::find(scopes.begin(), scopes.end(), s) == scopes.end()) {
        return Failed(
            TokenFailure::kInvalidScope,
            Response::OAuthError(
                400, "invalid_scope",
                "scope '" + s + "' is not granted to role " + role->name));
      }
    }
    scopes = requested;
  }
  return Issue(*cred, scopes);
}

Response TokenService::Issue(const storage::Credential& cred,
                             const std::vector<std::string>& scopes) const {
  int64_t now = clock_->NowSeconds();
  int64_t exp = std::min(now + options_.ttl_seconds, cred.expires_at);
  unsigned char jti[16];
  if (RAND_bytes(jti, sizeof jti) != 1) {
    return Response::OAuthError(503, "temporarily_unavailable",
                                "random source failed; retry later");
  }
  // One snapshot for the header and the signature, so a rotation in
  // between cannot pair one key's kid with another's signature.
  std::shared_ptr<const KeyRing::Snapshot> ring = ring_->Current();
  const RingKey& key = ring->active;
  nlohmann::json header = {{"alg", hsm::AlgorithmName(key.pub.algorithm())},
                           {"typ", "at+jwt"},
                           {"kid", key.pub.kid()}};
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
      {"scope", JoinScopes(scopes)},
      {"role", cred.role},
  };
  std::string input = JwsSigningInput(header, claims);
  StatusOr<std::string> sig = ring_->Sign(key, input);
  if (!sig.ok()) {
    return Failed(TokenFailure::kUnavailable,
                  Response::OAuthError(503, "temporarily_unavailable",
                                       "the HSM is unavailable; retry later")
                      .With("Retry-After", "5"));
  }
  if (metrics_) metrics_->TokenIssued();
  return Response::Json(200,
                        {{"access_token", input + "." + Base64UrlEncode(*sig)},
                         {"token_type", "Bearer"},
                         {"expires_in", exp - now},
                         {"scope", JoinScopes(scopes)}})
      .With("Cache-Control", "no-store")
      .With("Pragma", "no-cache")
      .WithClient(cred.client_id);
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
    if (role && std::find(role->scopes.begin(), role->scopes.end(), s) !=
                    role->scopes.end()) {
      p.scopes.push_back(std::move(s));
    }
  }
  return p;
}

Response TokenService::Jwks() const {
  // Every key whose tokens can still be valid (RFC 7517 §5), active first.
  std::shared_ptr<const KeyRing::Snapshot> ring = ring_->Current();
  nlohmann::json keys = nlohmann::json::array();
  for (const RingKey* k : ring_->Published(*ring, clock_->NowSeconds())) {
    nlohmann::json jwk = nlohmann::json::object();
    for (const auto& [name, value] : k->pub.JwkMembers()) jwk[name] = value;
    jwk["kid"] = k->pub.kid();
    jwk["use"] = "sig";
    jwk["alg"] = hsm::AlgorithmName(k->pub.algorithm());
    keys.push_back(std::move(jwk));
  }
  return Response::Json(200, {{"keys", keys}})
      .With("Cache-Control", "public, max-age=60");
}

Response TokenService::Metadata() const {
  const std::string& iss = options_.issuer;
  return Response::Json(
      200, {{"issuer", iss},
            {"token_endpoint", iss + "/v1/auth/token"},
            {"jwks_uri", iss + "/.well-known/jwks.json"},
            {"grant_types_supported", {"client_credentials"}},
            // Not registered in RFC 8414 (which has no access-token field):
            // the JWS algorithm of the access tokens this server issues now.
            {"access_token_signing_alg_values_supported",
             {hsm::AlgorithmName(ring_->Current()->active.pub.algorithm())}},
            {"token_endpoint_auth_methods_supported",
             {"client_secret_basic", "client_secret_post"}},
            {"response_types_supported", nlohmann::json::array()},
            {"scopes_supported", [&] {
               std::vector<std::string> all;
               for (const Role& r : access_->roles()) {
                 for (const auto& s : r.scopes) {
                   if (std::find(all.begin(), all.end(), s) == all.end()) {
                     all.push_back(s);
                   }
                 }
               }
               return all;
             }()}});
}

}  // namespace authd::api
