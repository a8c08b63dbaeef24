#include "api/routes.h"

namespace authd::api {

std::vector<Route> AuthdRoutes(const Handlers& h) {
  using authority::Endpoint;
  using A = AdminHandler;
  const std::vector<std::string> get = {"GET", "HEAD"};
  auto admin = [a = h.admin](Response (A::*fn)(const Request&, const A::Actor&)
                                 const) {
    return [a, fn](const Request& r, const A::Actor& who) {
      return (a->*fn)(r, who);
    };
  };
  auto plain = [](auto fn) {
    return [fn](const Request& r, const authority::Actor&) { return fn(r); };
  };
  const std::string creds = std::string(A::kCredentials);
  const std::string allow = std::string(A::kAllowlist);
  return {
      {get, "/healthz", Endpoint::kHealth, Guard::kOpen,
       plain([o = h.ops](const Request&) { return o->Health(); })},
      {get, "/readyz", Endpoint::kHealth, Guard::kOpen,
       plain([o = h.ops](const Request&) { return o->Ready(); })},
      {get, "/metrics", Endpoint::kMetrics, Guard::kAllowlist,
       plain([o = h.ops](const Request&) { return o->Metrics(); })},
      // The token endpoint answers a wrong method itself, the OAuth way.
      {{},
       "/v1/auth/token",
       Endpoint::kToken,
       Guard::kAllowlist,
       plain([t = h.token](const Request& r) { return t->Handle(r); })},
      {get, "/v1/auth/jwks", Endpoint::kJwks, Guard::kAllowlist,
       plain([d = h.discovery](const Request&) { return d->Jwks(); })},
      {get, "/.well-known/jwks.json", Endpoint::kJwks, Guard::kAllowlist,
       plain([d = h.discovery](const Request&) { return d->Jwks(); })},
      {get, "/.well-known/oauth-authorization-server", Endpoint::kMetadata,
       Guard::kAllowlist,
       plain([d = h.discovery](const Request&) { return d->Metadata(); })},
      {{"GET"},
       "/v1/admin/status",
       Endpoint::kAdmin,
       Guard::kAdmin,
       admin(&A::ServerStatus)},
      {{"GET"},
       "/v1/admin/roles",
       Endpoint::kAdmin,
       Guard::kAdmin,
       admin(&A::Roles)},
      {{"GET"},
       "/v1/admin/keys",
       Endpoint::kAdmin,
       Guard::kAdmin,
       admin(&A::ListKeys)},
      {{"POST"},
       "/v1/admin/keys/rotate",
       Endpoint::kAdmin,
       Guard::kAdmin,
       admin(&A::RotateKey)},
      {{"GET"},
       creds,
       Endpoint::kAdmin,
       Guard::kAdmin,
       admin(&A::ListCredentials)},
      {{"POST"},
       creds,
       Endpoint::kAdmin,
       Guard::kAdmin,
       admin(&A::CreateCredential)},
      {{"DELETE"},
       creds + "/",
       Endpoint::kAdmin,
       Guard::kAdmin,
       admin(&A::DeleteCredential)},
      {{"GET"},
       allow,
       Endpoint::kAdmin,
       Guard::kAdmin,
       admin(&A::ListAllowlist)},
      {{"POST"},
       allow,
       Endpoint::kAdmin,
       Guard::kAdmin,
       admin(&A::AddAllowlist)},
      {{"DELETE"},
       allow + "/",
       Endpoint::kAdmin,
       Guard::kAdmin,
       admin(&A::RemoveAllowlist)},
      {{"GET"},
       "/v1/admin/audit",
       Endpoint::kAudit,
       Guard::kAudit,
       plain([a = h.audit](const Request& r) { return a->Entries(r); })},
      {{"GET"},
       "/v1/admin/audit/checkpoint",
       Endpoint::kAudit,
       Guard::kAudit,
       plain([a = h.audit](const Request& r) { return a->Checkpoint(r); })},
      {{"GET"},
       "/v1/admin/audit/proof",
       Endpoint::kAudit,
       Guard::kAudit,
       plain([a = h.audit](const Request& r) { return a->Proof(r, true); })},
      {{"GET"},
       "/v1/admin/audit/consistency",
       Endpoint::kAudit,
       Guard::kAudit,
       plain([a = h.audit](const Request& r) { return a->Proof(r, false); })},
      // Unknown admin paths are answered only to an authorized caller.
      {{},
       "/v1/admin/",
       Endpoint::kAdmin,
       Guard::kAdmin,
       plain([](const Request& r) { return Response::NotFound(r.path); })},
  };
}

}  // namespace authd::api
