#include "api/token_handler.h"

#include <algorithm>
#include <functional>
#include <map>
#include <variant>

#include "authority/failure_limiter.h"
#include "authority/jwt.h"
#include "common/encoding.h"

namespace authd::api {
namespace {

using authority::TokenFailure;

Response InvalidClient() {
  // RFC 6749 §5.2: 401 with WWW-Authenticate for the scheme the client used;
  // identical for every cause so callers cannot probe which ids exist.
  return Response::OAuthError(401, "invalid_client",
                              "client authentication failed")
      .With("WWW-Authenticate", "Basic realm=\"authd\"");
}

// A refusal of the request's shape: the metrics label and the answer.
struct Refusal {
  TokenFailure why;
  Response response;
};

Refusal BadRequest(std::string_view description) {
  return {TokenFailure::kInvalidRequest,
          Response::OAuthError(400, "invalid_request", description)};
}

Response FromRefusal(const authority::Refusal& r) {
  const std::string& msg = r.status.message();
  switch (r.failure) {
    case TokenFailure::kRateLimited:
      return Response::OAuthError(429, "too_many_requests", msg)
          .With("Retry-After", std::to_string(r.retry_after));
    case TokenFailure::kInvalidScope:
      return Response::OAuthError(400, "invalid_scope", msg);
    case TokenFailure::kUnavailable:
      return Response::OAuthError(503, "temporarily_unavailable", msg)
          .With("Retry-After", "5");
    default:
      return InvalidClient();
  }
}

using Form = std::map<std::string, SecureString>;

const SecureString* Field(const Form& form, const char* name) {
  auto it = form.find(name);
  return it == form.end() ? nullptr : &it->second;
}

// POST with a form body, parsed; a repeated parameter is refused.
std::variant<Form, Refusal> ParsePost(const Request& req,
                                      std::string_view endpoint) {
  if (req.method != "POST") {
    return Refusal{TokenFailure::kInvalidRequest,
                   Response::OAuthError(405, "invalid_request",
                                        "use POST for the " +
                                            std::string(endpoint) + " endpoint")
                       .With("Allow", "POST")};
  }
  if (!req.HasMediaType("application/x-www-form-urlencoded")) {
    return BadRequest("Content-Type must be application/x-www-form-urlencoded");
  }
  auto form = ParseForm(req.body.view());
  if (!form) {
    return BadRequest("body is not valid form encoding or repeats a parameter");
  }
  return std::move(*form);
}

struct ClientSecret {
  SecureString client_id, secret;
};

// The client's credentials, sent by exactly one method (RFC 6749 §2.3).
std::variant<ClientSecret, Refusal> ClientOf(const Request& req,
                                             const Form& form) {
  ClientSecret out;
  const std::string* auth = req.Header("authorization");
  const SecureString* post_id = Field(form, "client_id");
  const SecureString* post_secret = Field(form, "client_secret");
  if (auth != nullptr && (post_id || post_secret)) {
    return BadRequest(
        "use either HTTP Basic or client_secret in the body, not both");
  }
  if (auth != nullptr) {
    if (!ParseBasicCredentials(*auth, &out.client_id, &out.secret)) {
      return Refusal{TokenFailure::kInvalidClient, InvalidClient()};
    }
  } else if (post_id && post_secret) {
    out.client_id = *post_id;
    out.secret = *post_secret;
  } else {
    return Refusal{TokenFailure::kInvalidClient, InvalidClient()};
  }
  return out;
}

// A client-authenticated POST: the form and the client's credentials.
struct ClientRequest {
  Form form;
  ClientSecret client;
};

std::variant<ClientRequest, Refusal> ParseClientRequest(
    const Request& req, std::string_view endpoint,
    const std::function<std::optional<Refusal>(const Form&)>& check_form) {
  auto form = ParsePost(req, endpoint);
  if (auto* r = std::get_if<Refusal>(&form)) return std::move(*r);
  if (auto refused = check_form(std::get<Form>(form))) {
    return std::move(*refused);
  }
  auto client = ClientOf(req, std::get<Form>(form));
  if (auto* r = std::get_if<Refusal>(&client)) return std::move(*r);
  return ClientRequest{std::move(std::get<Form>(form)),
                       std::move(std::get<ClientSecret>(client))};
}

std::optional<Refusal> CheckGrant(const Form& form) {
  const SecureString* grant = Field(form, "grant_type");
  if (grant == nullptr) return BadRequest("grant_type is required");
  if (grant->view() != "client_credentials") {
    return Refusal{TokenFailure::kUnsupportedGrantType,
                   Response::OAuthError(400, "unsupported_grant_type",
                                        "only grant_type=client_credentials "
                                        "is supported")};
  }
  return std::nullopt;
}

std::optional<Refusal> NeedsToken(const Form& form) {
  if (Field(form, "token") == nullptr) return BadRequest("token is required");
  return std::nullopt;
}

// RFC 7662 §2.2: everything authd knows of an active token.
nlohmann::json IntrospectionJson(const authority::Principal& p) {
  const authority::TokenClaims& c = p.claims;
  return {{"active", true},
          {"scope", authority::JoinScopes(p.scopes)},
          {"client_id", p.client_id},
          {"sub", p.client_id},
          {"role", p.role},
          {"exp", c.exp},
          {"iat", c.iat},
          {"nbf", c.nbf},
          {"iss", c.iss},
          {"aud", c.aud},
          {"jti", c.jti},
          {"token_type", "Bearer"}};
}

}  // namespace

Response TokenHandler::Failed(TokenFailure why, Response r) const {
  if (metrics_) metrics_->TokenFailed(why);
  return r;
}

Response TokenHandler::Token(const Request& req) const {
  auto parsed = ParseClientRequest(req, "token", CheckGrant);
  if (auto* refusal = std::get_if<Refusal>(&parsed)) {
    return Failed(refusal->why, std::move(refusal->response));
  }
  const ClientRequest& r = std::get<ClientRequest>(parsed);
  std::vector<std::string> scopes;
  if (const SecureString* scope = Field(r.form, "scope")) {
    scopes = authority::SplitScopes(scope->view());
  }
  std::string address = authority::LimiterAddress(req.client);
  return Answer(tokens_->Issue(
      {{r.client.client_id.view(), r.client.secret.view(), address},
       std::move(scopes)}));
}

Response TokenHandler::Answer(const authority::TokenOutcome& out) const {
  if (!out.status.ok()) {
    return Failed(out.refusal.failure, FromRefusal(out.refusal));
  }
  if (metrics_) metrics_->TokenIssued();
  // RFC 6749 §5.1, written once and directly: members in the order
  // Response::Json would give them.
  const authority::IssuedToken& t = out.token;
  Response r;
  r.body.reserve(t.access_token.size() + t.scope.size() + 96);
  r.body = "{\"access_token\":";
  authority::AppendJsonString(&r.body, t.access_token);
  r.body += ",\"expires_in\":" + std::to_string(t.expires_in) + ",\"scope\":";
  authority::AppendJsonString(&r.body, t.scope);
  r.body += ",\"token_type\":\"Bearer\"}\n";
  return r.With("Cache-Control", "no-store")
      .With("Pragma", "no-cache")
      .WithClient(t.client_id);
}

std::variant<TokenHandler::Caller, Response> TokenHandler::TokenCaller(
    const Request& req, std::string_view endpoint) const {
  auto parsed = ParseClientRequest(req, endpoint, NeedsToken);
  if (auto* refusal = std::get_if<Refusal>(&parsed)) {
    return std::move(refusal->response);
  }
  ClientRequest& r = std::get<ClientRequest>(parsed);
  authority::ClientOutcome caller = tokens_->AuthenticateClient(
      {r.client.client_id.view(), r.client.secret.view(),
       authority::LimiterAddress(req.client)});
  if (!caller.status.ok()) return FromRefusal(caller.refusal);
  return Caller{std::move(caller.credential),
                std::move(r.form.find("token")->second)};
}

Response TokenHandler::Introspect(const Request& req) const {
  auto caller_or = TokenCaller(req, "introspection");
  if (auto* refused = std::get_if<Response>(&caller_or)) return *refused;
  const Caller& caller = std::get<Caller>(caller_or);
  std::shared_ptr<const authority::Role> role =
      tokens_->access()->FindRole(caller.credential.role);
  if (role == nullptr || std::find(role->scopes.begin(), role->scopes.end(),
                                   kIntrospectScope) == role->scopes.end()) {
    return Response::OAuthError(
               403, "insufficient_scope",
               std::string("introspection needs scope ") + kIntrospectScope)
        .WithClient(caller.credential.client_id);
  }
  StatusOr<authority::Principal> p = tokens_->VerifyBearer(caller.token.view());
  // RFC 7662 §2.2: an inactive token says nothing more.
  nlohmann::json body =
      p.ok() ? IntrospectionJson(*p) : nlohmann::json{{"active", false}};
  return Response::Json(200, body)
      .With("Cache-Control", "no-store")
      .WithClient(caller.credential.client_id);
}

Response TokenHandler::Revoke(const Request& req) const {
  auto caller_or = TokenCaller(req, "revocation");
  if (auto* refused = std::get_if<Response>(&caller_or)) return *refused;
  const Caller& caller = std::get<Caller>(caller_or);
  StatusOr<bool> revoked =
      tokens_->Revoke(caller.token.view(), caller.credential.client_id);
  if (!revoked.ok()) {
    return Response::OAuthError(503, "temporarily_unavailable",
                                revoked.status().message())
        .With("Retry-After", "5");
  }
  if (*revoked && metrics_) metrics_->TokenRevoked();
  // RFC 7009 §2.2: 200 whether or not there was anything to revoke.
  return Response::Json(200, nlohmann::json::object())
      .With("Cache-Control", "no-store")
      .WithClient(caller.credential.client_id);
}

}  // namespace authd::api
