#include "api/check_handler.h"

#include <algorithm>

namespace authd::api {
namespace {

using authority::CheckResult;

Response Challenge(int status, const std::string& error,
                   const std::string& description,
                   const std::string& extra = "") {
  return Response::OAuthError(status, error, description)
      .With("WWW-Authenticate",
            "Bearer realm=\"authd\", error=\"" + error + "\"" + extra);
}

// The original request as the gateway describes it.
struct Original {
  std::string method;
  std::string target;
};

Original OriginalOf(const Request& req) {
  const std::string* method = req.Header("x-original-method");
  const std::string* uri = req.Header("x-original-uri");
  Original out;
  out.method = method ? *method : req.method;
  if (uri) {
    out.target = *uri;
  } else {
    // Envoy's ext_authz appends the original path to the check's path.
    std::string rest =
        req.path.substr(std::min(req.path.size(), sizeof(kCheckPath) - 1));
    out.target = rest.empty() ? "/" : rest;
  }
  return out;
}

std::vector<std::string> Missing(const std::vector<std::string>& needed,
                                 const std::vector<std::string>& held) {
  std::vector<std::string> out;
  for (const auto& s : needed) {
    if (std::find(held.begin(), held.end(), s) == held.end()) out.push_back(s);
  }
  return out;
}

// The database cannot be trusted (a restore not yet accepted). 503, not 401:
// the token may be fine, the state to judge it by is not. nginx auth_request
// answers 500 for it, so the gateway fails closed.
Response Unavailable(const Status& st) {
  return Response::OAuthError(503, "temporarily_unavailable", st.message())
      .With("Retry-After", "5");
}

}  // namespace

CheckHandler::CheckHandler(const authority::TokenService* tokens,
                           const authority::Access* access,
                           authority::GatewayPolicy policy,
                           authority::Metrics* metrics)
    : tokens_(tokens),
      access_(access),
      policy_(
          std::make_shared<const authority::GatewayPolicy>(std::move(policy))),
      metrics_(metrics) {}

void CheckHandler::SetPolicy(authority::GatewayPolicy policy) {
  policy_.store(
      std::make_shared<const authority::GatewayPolicy>(std::move(policy)));
}

Response CheckHandler::Refuse(CheckResult result, Response r) const {
  if (metrics_) metrics_->Check(result);
  return r;
}

Response CheckHandler::Check(const Request& req) const {
  if (!req.client || !access_->Allowed(*req.client)) {
    std::string who = req.client ? req.client->ToString() : "unknown";
    return Refuse(
        CheckResult::kForbidden,
        Challenge(403, "access_denied",
                  "source address " + who + " is not on the allowlist"));
  }
  std::string token = req.BearerToken();
  if (token.empty()) {
    return Refuse(CheckResult::kUnauthenticated,
                  Challenge(401, "invalid_token",
                            "send Authorization: Bearer <access token>"));
  }
  StatusOr<authority::Principal> who = tokens_->VerifyBearer(token);
  if (!who.ok() && who.status().code() == StatusCode::kUnavailable) {
    return Refuse(CheckResult::kUnavailable, Unavailable(who.status()));
  }
  if (!who.ok()) {
    return Refuse(CheckResult::kUnauthenticated,
                  Challenge(401, "invalid_token", who.status().message()));
  }
  Original original = OriginalOf(req);
  StatusOr<std::string> path = authority::NormalizePath(original.target);
  if (!path.ok()) {
    return Refuse(
        CheckResult::kForbidden,
        Response::OAuthError(403, "invalid_request", path.status().message()));
  }
  std::shared_ptr<const authority::GatewayPolicy> policy = policy_.load();
  const authority::GatewayRoute* route =
      authority::MatchRoute(*policy, *path, original.method);
  if (route == nullptr && !policy->default_authenticated) {
    return Refuse(
        CheckResult::kForbidden,
        Challenge(403, "insufficient_scope",
                  "no gateway route allows " + original.method + " " + *path));
  }
  if (route != nullptr) {
    std::vector<std::string> missing = Missing(route->scopes, who->scopes);
    if (!missing.empty()) {
      std::string need = authority::JoinScopes(route->scopes);
      return Refuse(
          CheckResult::kForbidden,
          Challenge(403, "insufficient_scope", "this route needs scope " + need,
                    ", scope=\"" + need + "\""));
    }
  }
  if (metrics_) metrics_->Check(CheckResult::kAllowed);
  return Response::NoContent()
      .With("X-Authd-Client-Id", who->client_id)
      .With("X-Authd-Role", who->role)
      .With("X-Authd-Scope", authority::JoinScopes(who->scopes))
      .With("Cache-Control", "no-store")
      .WithClient(who->client_id);
}

}  // namespace authd::api
