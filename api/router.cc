#include "api/router.h"

#include <algorithm>
#include <sstream>

namespace authd::api {
namespace {

bool Allows(const Route& r, const std::string& method) {
  return r.methods.empty() || std::find(r.methods.begin(), r.methods.end(),
                                        method) != r.methods.end();
}

std::string AllowHeader(const std::vector<const Route*>& routes) {
  std::string out;
  for (const Route* r : routes) {
    for (const auto& m : r->methods) {
      if (out.find(m) == std::string::npos)
        out += (out.empty() ? "" : ", ") + m;
    }
  }
  return out;
}

std::vector<std::string> SplitHops(const std::string& xff) {
  std::vector<std::string> hops;
  std::stringstream in(xff);
  std::string hop;
  while (std::getline(in, hop, ',')) {
    size_t b = hop.find_first_not_of(" \t");
    size_t e = hop.find_last_not_of(" \t");
    hops.push_back(b == std::string::npos ? "" : hop.substr(b, e - b + 1));
  }
  return hops;
}

}  // namespace

Router::Router(std::vector<Route> routes, const authority::Access* access,
               const authority::TokenService* tokens,
               std::vector<Cidr> trusted_proxies, authority::Metrics* metrics)
    : routes_(std::move(routes)),
      access_(access),
      tokens_(tokens),
      trusted_(std::make_shared<const IpSet>(IpSet::Build(trusted_proxies))),
      metrics_(metrics) {}

void Router::SetTrustedProxies(const std::vector<Cidr>& trusted_proxies) {
  trusted_.store(std::make_shared<const IpSet>(IpSet::Build(trusted_proxies)));
}

std::vector<const Route*> Router::Match(const std::string& path) const {
  std::vector<const Route*> exact, prefixed;
  size_t longest = 0;
  for (const Route& r : routes_) {
    if (r.path == path) {
      exact.push_back(&r);
    } else if (r.path.back() == '/' && path.rfind(r.path, 0) == 0 &&
               path.size() > r.path.size() && r.path.size() >= longest) {
      if (r.path.size() > longest) prefixed.clear();
      longest = r.path.size();
      prefixed.push_back(&r);
    }
  }
  return exact.empty() ? prefixed : exact;
}

std::optional<IpAddress> Router::ClientAddress(const Request& req) const {
  std::shared_ptr<const IpSet> trusted = trusted_.load();
  if (!req.peer || !trusted->Contains(*req.peer)) return req.peer;
  const std::string* xff = req.Header("x-forwarded-for");
  if (xff == nullptr) return req.peer;
  // Walk from the right: each trusted hop vouches for the one before it.
  std::vector<std::string> hops = SplitHops(*xff);
  std::optional<IpAddress> result = req.peer;
  for (auto it = hops.rbegin(); it != hops.rend(); ++it) {
    std::optional<IpAddress> addr = IpAddress::Parse(*it);
    if (!addr) return std::nullopt;  // unparseable: attribute to nobody
    result = addr;
    if (!trusted->Contains(*addr)) break;
  }
  return result;
}

bool Router::AcceptPeer(const IpAddress& peer) const {
  return access_->Allowed(peer) || trusted_.load()->Contains(peer);
}

std::optional<Response> Router::Admit(Request& req) const {
  if (req.admin_socket) return std::nullopt;
  std::vector<const Route*> routes = Match(req.path);
  if (!routes.empty() && routes.front()->guard == Guard::kOpen) {
    return std::nullopt;
  }
  req.client = ClientAddress(req);
  if (!req.client) {
    return Response::OAuthError(400, "invalid_request",
                                "X-Forwarded-For from a trusted proxy holds "
                                "an entry that is not an IP address");
  }
  if (access_->Allowed(*req.client)) return std::nullopt;
  if (!routes.empty() && routes.front()->guard == Guard::kGateway) {
    return std::nullopt;
  }
  if (metrics_ && !routes.empty() &&
      routes.front()->endpoint == authority::Endpoint::kToken) {
    metrics_->TokenFailed(authority::TokenFailure::kAccessDenied);
  }
  return Response::OAuthError(
      403, "access_denied",
      "source address " + req.client->ToString() +
          " is not on the allowlist; ask the owner to add it");
}

void Router::Observe(const Request& req, double seconds) const {
  if (metrics_ == nullptr) return;
  std::vector<const Route*> routes = Match(req.path);
  metrics_->Request(
      routes.empty() ? authority::Endpoint::kOther : routes.front()->endpoint,
      seconds);
}

Response Router::Handle(const Request& req) const {
  std::vector<const Route*> routes = Match(req.path);
  if (routes.empty()) return Response::NotFound(req.path);
  for (const Route* r : routes) {
    if (Allows(*r, req.method)) return Guarded(*r, req);
  }
  return Response::MethodNotAllowed(AllowHeader(routes));
}

Response Router::Guarded(const Route& route, const Request& req) const {
  authority::Actor actor;
  if (route.guard != Guard::kAdmin && route.guard != Guard::kAudit) {
    return route.handle(req, actor);
  }
  bool write = req.method == "POST" || req.method == "DELETE";
  const char* scope = route.guard == Guard::kAudit ? "audit:read"
                      : write                      ? "admin:write"
                                                   : "admin:read";
  if (auto refused = Authorize(req, scope, &actor)) return *refused;
  if (req.method == "POST") {
    // Every admin body is JSON (SPEC "Administration": 415 otherwise).
    if (!req.HasMediaType("application/json")) {
      return Response::Error(415, "unsupported_media_type",
                             "Content-Type must be application/json");
    }
  }
  Response r = route.handle(req, actor);
  if (actor.id.rfind("client:", 0) == 0) r.log_client_id = actor.id.substr(7);
  return r;
}

// Establishes who asks: the peer uid on the socket; over TCP a Bearer token
// that carries `scope`. Returns the refusal when there is one.
std::optional<Response> Router::Authorize(const Request& req,
                                          std::string_view scope,
                                          authority::Actor* actor) const {
  if (req.admin_socket) {
    actor->id = "uid:" + (req.peer_uid ? std::to_string(*req.peer_uid)
                                       : std::string("unknown"));
    actor->address = "unix";
    actor->holds_all_scopes = true;  // local root trust, socket mode 0600
    return std::nullopt;
  }
  std::string token = req.BearerToken();
  if (token.empty()) {
    return Response::Error(401, "unauthorized",
                           "send Authorization: Bearer <access token>")
        .With("WWW-Authenticate", "Bearer realm=\"authd\"");
  }
  StatusOr<authority::Principal> who = tokens_->VerifyBearer(token);
  if (!who.ok()) {
    return Response::Error(401, "unauthorized", who.status().message())
        .With("WWW-Authenticate",
              "Bearer realm=\"authd\", error=\"invalid_token\"");
  }
  if (!who->Has(scope)) {
    std::string s(scope);
    return Response::Error(403, "insufficient_scope",
                           "this action needs scope " + s)
        .With("WWW-Authenticate",
              "Bearer realm=\"authd\", error=\"insufficient_scope\", "
              "scope=\"" +
                  s + "\"");
  }
  actor->id = "client:" + who->client_id;
  actor->address = req.client ? req.client->ToString() : "";
  actor->scopes = who->scopes;
  return std::nullopt;
}

}  // namespace authd::api
