// App: authd's HTTP surface, independent of the transport. The server adapter
// calls Admit() once the request line and headers are in (before any body is
// read) and Handle() once the body is complete.
//
// Admit enforces the IP allowlist on every TCP request except /healthz and
// /readyz, after resolving X-Forwarded-For for trusted proxies. Handle routes
// to the token service, discovery, health and the admin API; admin requests
// are authorized here, by peer uid on the socket or by Bearer scope over TCP.
// Thread-safe.
#ifndef AUTHD_API_APP_H_
#define AUTHD_API_APP_H_

#include <atomic>
#include <functional>
#include <optional>
#include <string>

#include "api/access.h"
#include "api/http.h"
#include "api/key_ring.h"
#include "api/metrics.h"
#include "api/token_service.h"
#include "common/ip_set.h"

namespace authd::api {

struct AppOptions {
  std::vector<Cidr> trusted_proxies;
  std::string version;
  Metrics* metrics = nullptr;
  // Sessions in use and open, for /metrics; empty when not available.
  std::function<std::pair<size_t, size_t>()> hsm_sessions;
};

class App {
 public:
  App(Access* access, const storage::AuditLog* audit, KeyRing* ring,
      const TokenService* tokens, const hsm::KeyOps* keys, const Clock* clock,
      AppOptions options);

  // Returns a response when the request must be answered without reading
  // its body (refused address). May fill req.client.
  std::optional<Response> Admit(Request& req) const;
  Response Handle(const Request& req) const;
  // Called by the transport once a response was sent.
  void Observe(const Request& req, double seconds) const;

  // Flips /readyz; authd also consults the HSM's own readiness.
  void SetReady(bool ready) { ready_.store(ready); }

 private:
  Response Admin(const Request& req) const;
  std::optional<Response> Authorize(const Request& req, const char* scope,
                                    Actor* actor) const;
  Response AdminRoute(const Request& req, const Actor& actor) const;
  Response AdminKeys(const Request& req, const Actor& actor) const;
  Response AdminCredentials(const Request& req, const Actor& actor) const;
  Response AdminAllowlist(const Request& req, const Actor& actor) const;
  void Count(AdminAction action) const;
  Response Audit(const Request& req) const;
  Response Health(bool ready_check) const;
  Response MetricsPage() const;
  bool IsReady() const;
  // Resolves the address a TCP request is attributed to (RFC 7239 §5.2 style:
  // the right-most X-Forwarded-For entry that is not a trusted proxy).
  std::optional<IpAddress> ClientAddress(const Request& req) const;

  Access* access_;
  const storage::AuditLog* audit_;
  KeyRing* ring_;
  const TokenService* tokens_;
  const hsm::KeyOps* keys_;
  const Clock* clock_;
  AppOptions options_;
  IpSet trusted_;
  std::atomic<bool> ready_{true};
};

}  // namespace authd::api

#endif  // AUTHD_API_APP_H_
