// Router: authd's one route table and the checks every request passes before
// a handler sees it. Implements HttpService for the transport.
//
// AcceptPeer drops a TCP connection at accept unless its peer is on the
// allowlist or a trusted proxy (whose forwarded clients Admit then checks).
// Admit enforces the IP allowlist on every TCP request to a route that is not
// exempt (only /healthz and /readyz are), and on every unknown path: default
// deny. The gateway check resolves the client address the same way but
// answers a refused address itself, in the form its gateway understands. The
// client address is the direct peer, or for a trusted proxy the right-most
// X-Forwarded-For entry that is not itself a trusted proxy.
//
// Handle finds the route (exact path first, then the longest prefix), answers
// 404 or 405 itself, authorizes admin and audit routes (peer uid on the admin
// socket, Bearer scope over TCP; SPEC "Administration") and checks that their
// POST bodies are JSON, then calls the handler. Thread-safe; the route table
// is immutable after construction, and the trusted proxies are a snapshot
// that SetTrustedProxies (a reload) replaces whole, read without a lock.
#ifndef AUTHD_API_ROUTER_H_
#define AUTHD_API_ROUTER_H_

#include <atomic>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "api/http.h"
#include "authority/access.h"
#include "authority/metrics.h"
#include "authority/token_service.h"
#include "common/cidr.h"
#include "common/ip_set.h"

namespace authd::api {

// What a route asks of the caller before its handler runs.
enum class Guard {
  kOpen,       // health probes: no allowlist
  kAllowlist,  // the allowlist only
  kGateway,    // client address resolved; the handler applies the allowlist
  kAdmin,      // allowlist; admin:read, or admin:write for POST and DELETE
  kAudit,      // allowlist; audit:read
};

using Handler =
    std::function<Response(const Request&, const authority::Actor&)>;

struct Route {
  std::vector<std::string> methods;  // empty: the handler checks the method
  std::string path;                  // a prefix when it ends with '/'
  authority::Endpoint endpoint;      // the metrics label
  Guard guard;
  Handler handle;
};

class Router final : public HttpService {
 public:
  Router(std::vector<Route> routes, const authority::Access* access,
         const authority::TokenService* tokens,
         std::vector<Cidr> trusted_proxies,
         authority::Metrics* metrics = nullptr);

  // A peer on the allowlist or a trusted proxy; everyone else is dropped at
  // accept. This holds for /healthz and /readyz too, which are open only to
  // peers that may connect: a load balancer's probe address must be on the
  // allowlist or a trusted proxy (the admin socket is always served).
  bool AcceptPeer(const IpAddress& peer) const override;
  // In force for the next connection and request.
  void SetTrustedProxies(const std::vector<Cidr>& trusted_proxies);
  std::optional<Response> Admit(Request& req) const override;
  Response Handle(const Request& req) const override;
  void Observe(const Request& req, double seconds) const override;

 private:
  // Routes whose path matches `path`: the exact ones, or else those of the
  // longest matching prefix.
  std::vector<const Route*> Match(const std::string& path) const;
  std::optional<Response> Authorize(const Request& req, std::string_view scope,
                                    authority::Actor* actor) const;
  Response Guarded(const Route& route, const Request& req) const;
  std::optional<IpAddress> ClientAddress(const Request& req) const;

  const std::vector<Route> routes_;
  const authority::Access* access_;
  const authority::TokenService* tokens_;
  std::atomic<std::shared_ptr<const IpSet>> trusted_;
  authority::Metrics* metrics_;
};

}  // namespace authd::api

#endif  // AUTHD_API_ROUTER_H_
