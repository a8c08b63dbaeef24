#include "api/token_handler.h"

#include <algorithm>
#include <variant>

#include "authority/failure_limiter.h"
#include "common/encoding.h"

namespace authd::api {
namespace {

using authority::TokenFailure;

bool ContentTypeIsForm(const std::string* ct) {
  if (ct == nullptr) return false;
  std::string v = ct->substr(0, ct->find(';'));
  while (!v.empty() && v.back() == ' ') v.pop_back();
  std::transform(v.begin(), v.end(), v.begin(), ::tolower);
  return v == "application/x-www-form-urlencoded";
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

// A refusal of the request's shape: the metrics label and the answer.
struct Refusal {
  TokenFailure why;
  Response response;
};

Refusal BadRequest(std::string_view description) {
  return {TokenFailure::kInvalidRequest,
          Response::OAuthError(400, "invalid_request", description)};
}

// The checked parts of a token request.
struct TokenForm {
  SecureString client_id, secret;
  std::vector<std::string> scopes;
};

// Checks method, media type and grant, and extracts the client's credentials
// (RFC 6749 §2.3: by exactly one method) and the requested scopes.
std::variant<TokenForm, Refusal> ParseTokenRequest(const Request& req) {
  if (req.method != "POST") {
    return Refusal{TokenFailure::kInvalidRequest,
                   Response::OAuthError(405, "invalid_request",
                                        "use POST for the token endpoint")
                       .With("Allow", "POST")};
  }
  if (!ContentTypeIsForm(req.Header("content-type"))) {
    return BadRequest("Content-Type must be application/x-www-form-urlencoded");
  }
  auto form = ParseForm(req.body.view());
  if (!form) {
    return BadRequest("body is not valid form encoding or repeats a parameter");
  }
  auto field = [&](const char* name) -> const SecureString* {
    auto it = form->find(name);
    return it == form->end() ? nullptr : &it->second;
  };
  const SecureString* grant = field("grant_type");
  if (grant == nullptr) return BadRequest("grant_type is required");
  if (grant->view() != "client_credentials") {
    return Refusal{TokenFailure::kUnsupportedGrantType,
                   Response::OAuthError(400, "unsupported_grant_type",
                                        "only grant_type=client_credentials "
                                        "is supported")};
  }
  TokenForm out;
  const std::string* auth = req.Header("authorization");
  const SecureString* post_id = field("client_id");
  const SecureString* post_secret = field("client_secret");
  if (auth != nullptr && (post_id || post_secret)) {
    return BadRequest(
        "use either HTTP Basic or client_secret in the body, not both");
  }
  if (auth != nullptr) {
    if (!ParseBasic(*auth, &out.client_id, &out.secret)) {
      return Refusal{TokenFailure::kInvalidClient, InvalidClient()};
    }
  } else if (post_id && post_secret) {
    out.client_id = *post_id;
    out.secret = *post_secret;
  } else {
    return Refusal{TokenFailure::kInvalidClient, InvalidClient()};
  }
  if (const SecureString* scope = field("scope")) {
    out.scopes = authority::SplitScopes(scope->view());
  }
  return out;
}

}  // namespace

Response TokenHandler::Failed(TokenFailure why, Response r) const {
  if (metrics_) metrics_->TokenFailed(why);
  return r;
}

Response TokenHandler::Handle(const Request& req) const {
  auto parsed = ParseTokenRequest(req);
  if (auto* refusal = std::get_if<Refusal>(&parsed)) {
    return Failed(refusal->why, std::move(refusal->response));
  }
  const TokenForm& form = std::get<TokenForm>(parsed);
  std::string address = authority::LimiterAddress(req.client);
  return Answer(tokens_->Issue(
      {form.client_id.view(), form.secret.view(), form.scopes, address}));
}

Response TokenHandler::Answer(const authority::TokenOutcome& out) const {
  if (out.status.ok()) {
    if (metrics_) metrics_->TokenIssued();
    const authority::IssuedToken& t = out.token;
    return Response::Json(200, {{"access_token", t.access_token},
                                {"token_type", "Bearer"},
                                {"expires_in", t.expires_in},
                                {"scope", t.scope}})
        .With("Cache-Control", "no-store")
        .With("Pragma", "no-cache")
        .WithClient(t.client_id);
  }
  const std::string& msg = out.status.message();
  switch (out.failure) {
    case TokenFailure::kRateLimited:
      return Failed(TokenFailure::kRateLimited,
                    Response::OAuthError(429, "too_many_requests", msg)
                        .With("Retry-After", std::to_string(out.retry_after)));
    case TokenFailure::kInvalidScope:
      return Failed(TokenFailure::kInvalidScope,
                    Response::OAuthError(400, "invalid_scope", msg));
    case TokenFailure::kUnavailable:
      return Failed(TokenFailure::kUnavailable,
                    Response::OAuthError(503, "temporarily_unavailable", msg)
                        .With("Retry-After", "5"));
    default:
      break;
  }
  return Failed(TokenFailure::kInvalidClient, InvalidClient());
}

}  // namespace authd::api
