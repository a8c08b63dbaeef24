#include "api/app.h"

#include <sstream>
#include <tuple>

namespace authd::api {

App::App(Access* access, const storage::AuditLog* audit, KeyRing* ring,
         const TokenService* tokens, const hsm::KeyOps* keys,
         const Clock* clock, AppOptions options)
    : access_(access),
      audit_(audit),
      ring_(ring),
      tokens_(tokens),
      keys_(keys),
      clock_(clock),
      options_(std::move(options)),
      trusted_(IpSet::Build(options_.trusted_proxies)) {}

std::optional<IpAddress> App::ClientAddress(const Request& req) const {
  if (!req.peer || !trusted_.Contains(*req.peer)) return req.peer;
  const std::string* xff = req.Header("x-forwarded-for");
  if (xff == nullptr) return req.peer;
  // Walk from the right: each trusted hop vouches for the one before it.
  std::vector<std::string> hops;
  std::stringstream in(*xff);
  std::string hop;
  while (std::getline(in, hop, ',')) {
    size_t b = hop.find_first_not_of(" \t");
    size_t e = hop.find_last_not_of(" \t");
    hops.push_back(b == std::string::npos ? "" : hop.substr(b, e - b + 1));
  }
  std::optional<IpAddress> result = req.peer;
  for (auto it = hops.rbegin(); it != hops.rend(); ++it) {
    std::optional<IpAddress> addr = IpAddress::Parse(*it);
    if (!addr) return std::nullopt;  // unparseable: attribute to nobody
    result = addr;
    if (!trusted_.Contains(*addr)) break;
  }
  return result;
}

std::optional<Response> App::Admit(Request& req) const {
  if (req.admin_socket) return std::nullopt;
  if (req.path == "/healthz" || req.path == "/readyz") return std::nullopt;
  req.client = ClientAddress(req);
  if (!req.client) {
    return Response::OAuthError(400, "invalid_request",
                                "X-Forwarded-For from a trusted proxy holds "
                                "an entry that is not an IP address");
  }
  if (!access_->Allowed(*req.client)) {
    if (options_.metrics && EndpointFor(req.path) == Endpoint::kToken) {
      options_.metrics->TokenFailed(TokenFailure::kAccessDenied);
    }
    return Response::OAuthError(
        403, "access_denied",
        "source address " + req.client->ToString() +
            " is not on the allowlist; ask the owner to add it");
  }
  return std::nullopt;
}

bool App::IsReady() const {
  return ready_.load() && keys_->Ready() && audit_->refusal().empty();
}

void App::Observe(const Request& req, double seconds) const {
  if (options_.metrics)
    options_.metrics->Request(EndpointFor(req.path), seconds);
}

Response App::MetricsPage() const {
  if (!options_.metrics)
    return Response::Error(404, "not_found", "metrics are off");
  Metrics::Gauges g;
  g.ready = IsReady();
  if (options_.hsm_sessions) {
    std::tie(g.hsm_sessions_in_use, g.hsm_sessions_open) =
        options_.hsm_sessions();
  }
  auto snap = access_->Current();
  g.allowlist_entries = snap->allowlist.size();
  g.credentials = snap->credentials.size();
  g.audit_entries = audit_->size();
  Response r;
  r.content_type = "text/plain; version=0.0.4; charset=utf-8";
  r.body = options_.metrics->Render(g, options_.version);
  return r;
}

Response App::Health(bool ready_check) const {
  if (!ready_check) return Response::Json(200, {{"status", "ok"}});
  bool hsm = keys_->Ready();
  std::string refusal = audit_->refusal();
  bool ready = IsReady();
  // No detail for unauthenticated callers: the reason is in the log and in
  // the admin API's /v1/admin/status.
  nlohmann::json body = {
      {"ready", ready},
      {"hsm", hsm ? "ok" : "unavailable"},
      {"audit", refusal.empty() ? "ok" : "refusing changes"}};
  return Response::Json(ready ? 200 : 503, body);
}

Response App::Handle(const Request& req) const {
  const std::string& p = req.path;
  bool get = req.method == "GET" || req.method == "HEAD";
  if (p == "/healthz" || p == "/readyz") {
    if (!get) return Response::Error(405, "method_not_allowed", "use GET");
    return Health(p == "/readyz");
  }
  if (p == "/v1/auth/token") return tokens_->Token(req);
  if (p == "/v1/auth/jwks" || p == "/.well-known/jwks.json") {
    if (!get) return Response::Error(405, "method_not_allowed", "use GET");
    return tokens_->Jwks();
  }
  if (p == "/.well-known/oauth-authorization-server") {
    if (!get) return Response::Error(405, "method_not_allowed", "use GET");
    return tokens_->Metadata();
  }
  if (p == "/metrics") {
    if (!get) return Response::Error(405, "method_not_allowed", "use GET");
    return MetricsPage();
  }
  if (p.rfind("/v1/admin/", 0) == 0) return Admin(req);
  return Response::Error(404, "not_found", "no such endpoint: " + p);
}

}  // namespace authd::api
