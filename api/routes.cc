#include "api/routes.h"

namespace authd::api {
namespace {

using authority::Endpoint;
using A = AdminHandler;

const std::vector<std::string> kGet = {"GET", "HEAD"};

// A handler that needs no actor.
template <typename F>
Handler Plain(F fn) {
  return [fn](const Request& r, const authority::Actor&) { return fn(r); };
}

Handler Admin(const A* a,
              Response (A::*fn)(const Request&, const A::Actor&) const) {
  return [a, fn](const Request& r, const A::Actor& who) {
    return (a->*fn)(r, who);
  };
}

// What clients, resource servers and the machine around authd read.
void AddPublicRoutes(const Handlers& h, std::vector<Route>* out) {
  const OpsHandler* ops = h.ops;
  const DiscoveryHandler* d = h.discovery;
  auto route = [&](std::string path, Endpoint e, Guard g, Handler handle) {
    out->push_back({kGet, std::move(path), e, g, std::move(handle)});
  };
  auto jwks = Plain([d](const Request&) { return d->Jwks(); });
  route("/healthz", Endpoint::kHealth, Guard::kOpen,
        Plain([ops](const Request&) { return ops->Health(); }));
  route("/readyz", Endpoint::kHealth, Guard::kOpen,
        Plain([ops](const Request&) { return ops->Ready(); }));
  route("/metrics", Endpoint::kMetrics, Guard::kAllowlist,
        Plain([ops](const Request&) { return ops->MetricsPage(); }));
  route("/v1/auth/jwks", Endpoint::kJwks, Guard::kAllowlist, jwks);
  route("/.well-known/jwks.json", Endpoint::kJwks, Guard::kAllowlist, jwks);
  route("/.well-known/oauth-authorization-server", Endpoint::kMetadata,
        Guard::kAllowlist,
        Plain([d](const Request&) { return d->Metadata(); }));
}

// The OAuth endpoints answer a wrong method themselves, the OAuth way; the
// gateway check takes every method (Envoy's ext_authz checks with the
// original one, and appends the original path).
void AddOAuthRoutes(const Handlers& h, std::vector<Route>* out) {
  const TokenHandler* t = h.token;
  auto route = [&](std::string path, Endpoint e, Guard g, Handler handle) {
    out->push_back({{}, std::move(path), e, g, std::move(handle)});
  };
  route("/v1/auth/token", Endpoint::kToken, Guard::kAllowlist,
        Plain([t](const Request& r) { return t->Token(r); }));
  route("/v1/auth/introspect", Endpoint::kIntrospect, Guard::kAllowlist,
        Plain([t](const Request& r) { return t->Introspect(r); }));
  route("/v1/auth/revoke", Endpoint::kRevoke, Guard::kAllowlist,
        Plain([t](const Request& r) { return t->Revoke(r); }));
  auto check = Plain([c = h.check](const Request& r) { return c->Check(r); });
  route(kCheckPath, Endpoint::kCheck, Guard::kGateway, check);
  route(std::string(kCheckPath) + "/", Endpoint::kCheck, Guard::kGateway,
        check);
}

// SPEC "Administration": admin:read for GET, admin:write for POST/DELETE.
void AddAdminRoutes(const A* a, std::vector<Route>* out) {
  const std::string creds = A::kCredentials;
  const std::string allow = A::kAllowlist;
  auto route = [&](const char* method, std::string path, Handler handle) {
    out->push_back({{method},
                    std::move(path),
                    Endpoint::kAdmin,
                    Guard::kAdmin,
                    std::move(handle)});
  };
  route("GET", "/v1/admin/status", Admin(a, &A::ServerStatus));
  route("GET", "/v1/admin/roles", Admin(a, &A::Roles));
  route("GET", "/v1/admin/keys", Admin(a, &A::ListKeys));
  route("POST", "/v1/admin/keys/rotate", Admin(a, &A::RotateKey));
  route("GET", creds, Admin(a, &A::ListCredentials));
  route("POST", creds, Admin(a, &A::CreateCredential));
  route("DELETE", creds + "/", Admin(a, &A::DeleteCredential));
  route("GET", allow, Admin(a, &A::ListAllowlist));
  route("POST", allow, Admin(a, &A::AddAllowlist));
  route("DELETE", allow + "/", Admin(a, &A::RemoveAllowlist));
  // Unknown admin paths are answered only to an authorized caller.
  out->push_back(
      {{},
       "/v1/admin/",
       Endpoint::kAdmin,
       Guard::kAdmin,
       Plain([](const Request& r) { return Response::NotFound(r.path); })});
}

// Scope audit:read, GET only.
void AddAuditRoutes(const AuditHandler* a, std::vector<Route>* out) {
  auto route = [&](const char* path, Handler handle) {
    out->push_back(
        {{"GET"}, path, Endpoint::kAudit, Guard::kAudit, std::move(handle)});
  };
  route("/v1/admin/audit",
        Plain([a](const Request& r) { return a->Entries(r); }));
  route("/v1/admin/audit/checkpoint",
        Plain([a](const Request& r) { return a->LatestCheckpoint(r); }));
  route("/v1/admin/audit/proof",
        Plain([a](const Request& r) { return a->Proof(r, true); }));
  route("/v1/admin/audit/consistency",
        Plain([a](const Request& r) { return a->Proof(r, false); }));
  route("/v1/admin/audit/export",
        Plain([a](const Request& r) { return a->Export(r); }));
  route("/v1/admin/audit/public-key",
        Plain([a](const Request& r) { return a->PublicKeyPem(r); }));
}

// The console's data endpoints are the admin API's: the same handler runs on
// the path it has there, so answers, errors and audit entries are the same.
Handler AsAdmin(Handler handle) {
  return [handle](const Request& r, const authority::Actor& who) {
    Request admin = r;
    admin.path = "/v1/admin/" + r.path.substr(sizeof("/console/api/") - 1);
    return handle(admin, who);
  };
}

// SPEC "Web console": the page and its files, the session, and the admin
// and audit endpoints it uses, under the console guard.
void AddConsoleRoutes(const ConsoleHandler* c, const A* a,
                      const AuditHandler* au, std::vector<Route>* out) {
  auto route = [&](std::vector<std::string> methods, std::string path, Guard g,
                   Handler handle) {
    out->push_back({std::move(methods), std::move(path), Endpoint::kConsole, g,
                    std::move(handle)});
  };
  auto asset = Plain([c](const Request& r) { return c->Asset(r); });
  route(kGet, "/console", Guard::kAllowlist,
        Plain([c](const Request& r) { return c->Redirect(r); }));
  route(kGet, "/console/", Guard::kAllowlist, asset);  // and every file
  const std::string api = "/console/api/";
  route({"POST"}, api + "session", Guard::kConsoleSignIn,
        Plain([c](const Request& r) { return c->SignIn(r); }));
  route({"GET"}, api + "session", Guard::kConsole,
        [c](const Request& r, const A::Actor& who) {
          return c->Session(r, who);
        });
  route({"DELETE"}, api + "session", Guard::kConsole,
        [c](const Request& r, const A::Actor& who) {
          return c->SignOut(r, who);
        });
  for (auto [method, path, fn] : std::initializer_list<
           std::tuple<const char*, const char*,
                      Response (A::*)(const Request&, const A::Actor&) const>>{
           {"GET", "roles", &A::Roles},
           {"GET", "status", &A::ServerStatus},
           {"GET", "keys", &A::ListKeys},
           {"GET", "credentials", &A::ListCredentials},
           {"POST", "credentials", &A::CreateCredential},
           {"DELETE", "credentials/", &A::DeleteCredential},
           {"GET", "allowlist", &A::ListAllowlist},
           {"POST", "allowlist", &A::AddAllowlist},
           {"DELETE", "allowlist/", &A::RemoveAllowlist}}) {
    route({method}, api + path, Guard::kConsole, AsAdmin(Admin(a, fn)));
  }
  route({"GET"}, api + "audit", Guard::kConsole,
        AsAdmin(Plain([au](const Request& r) { return au->Entries(r); })));
  route({"GET"}, api + "audit/checkpoint", Guard::kConsole,
        AsAdmin(
            Plain([au](const Request& r) { return au->LatestCheckpoint(r); })));
  route({"GET"}, api + "audit/export", Guard::kConsole,
        AsAdmin(Plain([au](const Request& r) { return au->Export(r); })));
  route({"GET"}, api + "audit/public-key", Guard::kConsole,
        AsAdmin(Plain([au](const Request& r) { return au->PublicKeyPem(r); })));
  // Unknown console API paths are answered only within a session.
  route({}, api, Guard::kConsole,
        Plain([](const Request& r) { return Response::NotFound(r.path); }));
}

}  // namespace

std::vector<Route> AuthdRoutes(const Handlers& h) {
  std::vector<Route> routes;
  AddPublicRoutes(h, &routes);
  AddOAuthRoutes(h, &routes);
  AddAdminRoutes(h.admin, &routes);
  AddAuditRoutes(h.audit, &routes);
  if (h.console != nullptr) {
    // Over TCP this path does not exist (an authorized caller gets 404).
    routes.push_back({{"POST"},
                      "/v1/admin/console/links",
                      Endpoint::kAdmin,
                      Guard::kSocketOnly,
                      [c = h.console](const Request& r, const A::Actor& who) {
                        return c->CreateLink(r, who);
                      }});
    if (h.console->enabled()) {
      AddConsoleRoutes(h.console, h.admin, h.audit, &routes);
    }
  }
  return routes;
}

}  // namespace authd::api
