#include "api/router.h"

#include <algorithm>
#include <sstream>

#include "api/console_handler.h"
#include "common/log.h"

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
               std::vector<Cidr> trusted_proxies, authority::Metrics* metrics,
               ConsoleAuth console)
    : routes_(std::move(routes)),
      access_(access),
      tokens_(tokens),
      trusted_(std::make_shared<const IpSet>(IpSet::Build(trusted_proxies))),
      metrics_(metrics),
      console_(console) {}

void Router::SetTrustedProxies(const std::vector<Cidr>& trusted_proxies) {
  trusted_.store(std::make_shared<const IpSet>(IpSet::Build(trusted_proxies)));
}

std::vector<const Route*> Router::Match(const std::string& path,
                                        bool socket) const {
  std::vector<const Route*> exact, prefixed;
  size_t longest = 0;
  for (const Route& r : routes_) {
    if (r.guard == Guard::kSocketOnly && !socket) continue;
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

std::optional<IpAddress> ForwardedClient(const IpSet& trusted,
                                         const std::optional<IpAddress>& peer,
                                         const std::string* xff) {
  if (!peer || !trusted.Contains(*peer)) return peer;
  if (xff == nullptr) return peer;
  // Walk from the right: each trusted hop vouches for the one before it.
  std::vector<std::string> hops = SplitHops(*xff);
  std::optional<IpAddress> result = peer;
  for (auto it = hops.rbegin(); it != hops.rend(); ++it) {
    std::optional<IpAddress> addr = IpAddress::Parse(*it);
    if (!addr) return std::nullopt;  // unparseable: attribute to nobody
    result = addr;
    if (!trusted.Contains(*addr)) break;
  }
  return result;
}

std::optional<IpAddress> Router::ClientAddress(const Request& req) const {
  return ForwardedClient(*trusted_.load(), req.peer,
                         req.Header("x-forwarded-for"));
}

bool Router::AcceptPeer(const IpAddress& peer) const {
  return access_->Allowed(peer) || trusted_.load()->Contains(peer);
}

std::optional<Response> Router::Admit(Request& req) const {
  if (req.admin_socket) return std::nullopt;
  std::vector<const Route*> routes = Match(req.path, false);
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
  std::vector<const Route*> routes = Match(req.path, req.admin_socket);
  metrics_->Request(
      routes.empty() ? authority::Endpoint::kOther : routes.front()->endpoint,
      seconds);
}

void Router::Decorate(const Request& req, Response* r) const {
  if (IsConsolePath(req.path)) AddConsoleHeaders(r);
}

Response Router::Handle(const Request& req) const {
  std::vector<const Route*> routes = Match(req.path, req.admin_socket);
  if (routes.empty()) return Response::NotFound(req.path);
  for (const Route* r : routes) {
    if (Allows(*r, req.method)) return Guarded(*r, req);
  }
  return Response::MethodNotAllowed(AllowHeader(routes));
}

Response Router::Guarded(const Route& route, const Request& req) const {
  authority::Actor actor;
  if (route.guard == Guard::kOpen || route.guard == Guard::kAllowlist ||
      route.guard == Guard::kGateway) {
    return route.handle(req, actor);
  }
  if (auto refused = Check(route, req, &actor)) return *refused;
  if (req.method == "POST") {
    // Every admin and console body is JSON (SPEC "Administration": 415
    // otherwise).
    if (!req.HasMediaType("application/json")) {
      return Response::Error(415, "unsupported_media_type",
                             "Content-Type must be application/json");
    }
  }
  Response r = route.handle(req, actor);
  if (actor.id.rfind("client:", 0) == 0) r.log_client_id = actor.id.substr(7);
  return r;
}

// Establishes who asks under the route's guard; the refusal when there is
// one.
std::optional<Response> Router::Check(const Route& route, const Request& req,
                                      authority::Actor* actor) const {
  bool write = req.method == "POST" || req.method == "DELETE";
  switch (route.guard) {
    case Guard::kAdmin:
      return Authorize(req, write ? "admin:write" : "admin:read", actor);
    case Guard::kAudit:
      return Authorize(req, "audit:read", actor);
    case Guard::kSocketOnly:
      if (!req.admin_socket) return Response::NotFound(req.path);
      return Authorize(req, "", actor);
    case Guard::kConsole:
      return AuthorizeConsole(req, actor);
    case Guard::kConsoleSignIn:
      if (console_.sessions == nullptr) return Response::NotFound(req.path);
      if (write && !ConsoleSameOrigin(req, console_.tls, console_.origin)) {
        return ConsoleCsrfRefused(
            "the Origin header is missing or names "
            "another site");
      }
      return std::nullopt;
    default:
      return std::nullopt;
  }
}

// A console request: the session its cookie names, and for a change the
// CSRF token of that session and the console's own Origin (SameSite=Strict
// alone is not enough: a sibling subdomain is same-site). The actor holds
// every scope: its link was given on the admin socket, to local trust.
std::optional<Response> Router::AuthorizeConsole(
    const Request& req, authority::Actor* actor) const {
  if (console_.sessions == nullptr) return Response::NotFound(req.path);
  std::optional<std::string> cookie = ConsoleCookie(req, console_.tls);
  if (!cookie) return ConsoleNoSession();
  StatusOr<authority::ConsoleSession> s =
      console_.sessions->Authenticate(*cookie);
  if (!s.ok()) return ConsoleNoSession();
  std::string source = req.client ? req.client->ToString() : "";
  if (req.method == "POST" || req.method == "DELETE") {
    const std::string* csrf = req.Header("x-csrf-token");
    const char* why = nullptr;
    if (!ConsoleSameOrigin(req, console_.tls, console_.origin)) {
      why = "the Origin header is missing or names another site";
    } else if (csrf == nullptr ||
               !authority::ConsoleSessions::CsrfMatches(*s, *csrf)) {
      why = "the X-CSRF-Token header is missing or wrong";
    }
    if (why != nullptr) {
      Log(LogLevel::kWarn, "event=console_csrf_refused actor=%s source=%s",
          s->actor.c_str(), source.c_str());
      return ConsoleCsrfRefused(why);
    }
  }
  actor->id = s->actor;
  actor->address = source;
  actor->holds_all_scopes = true;
  return std::nullopt;
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
