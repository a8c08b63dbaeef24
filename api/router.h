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
// socket, Bearer scope over TCP; SPEC "Administration") and console routes
// (the session cookie; for POST and DELETE also the CSRF token and Origin;
// SPEC "Web console"), checks that their POST bodies are JSON, then calls the
// handler. Routes for the admin socket only do not exist over TCP.
// Decorate adds the console's security headers to every /console answer.
// Thread-safe; the route table is immutable after construction, and the
// trusted proxies are a snapshot that SetTrustedProxies (a reload) replaces
// whole, read without a lock.
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
#include "authority/console_sessions.h"
#include "authority/metrics.h"
#include "authority/token_service.h"
#include "common/cidr.h"
#include "common/ip_set.h"

namespace authd::api {

// What a route asks of the caller before its handler runs.
enum class Guard {
  kOpen,        // health probes: no allowlist
  kAllowlist,   // the allowlist only
  kGateway,     // client address resolved; the handler applies the allowlist
  kAdmin,       // allowlist; admin:read, or admin:write for POST and DELETE
  kAudit,       // allowlist; audit:read
  kSocketOnly,  // the admin socket only; over TCP the route does not exist
  // Allowlist; a live console session (cookie); for POST and DELETE also
  // X-CSRF-Token and a same-origin Origin header. The actor is the
  // session's "console:uid:<n>", holding every scope.
  kConsole,
  kConsoleSignIn,  // allowlist; a same-origin Origin header on POST
};

// What the console guard needs: the sessions, whether the browser reaches
// the console over https (the cookie's name and the console's origin depend
// on it), and console.url, an origin accepted whatever the Host header says.
struct ConsoleAuth {
  authority::ConsoleSessions* sessions = nullptr;  // null: no console
  bool tls = false;
  std::string origin;  // console.url; empty when not configured
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

// The client behind `peer`: the peer itself unless it is in `trusted`;
// otherwise the right-most entry of the X-Forwarded-For value `xff` (null
// when absent) that is not itself trusted, or the left-most when all are.
// nullopt when an entry it reaches is not a bare IP address (the request is
// attributed to nobody) or when `peer` is nullopt.
std::optional<IpAddress> ForwardedClient(const IpSet& trusted,
                                         const std::optional<IpAddress>& peer,
                                         const std::string* xff);

class Router final : public HttpService {
 public:
  Router(std::vector<Route> routes, const authority::Access* access,
         const authority::TokenService* tokens,
         std::vector<Cidr> trusted_proxies,
         authority::Metrics* metrics = nullptr, ConsoleAuth console = {});

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
  void Decorate(const Request& req, Response* r) const override;

 private:
  // Routes whose path matches `path`: the exact ones, or else those of the
  // longest matching prefix. Over TCP (`socket` false) socket-only routes
  // are left out.
  std::vector<const Route*> Match(const std::string& path, bool socket) const;
  std::optional<Response> Authorize(const Request& req, std::string_view scope,
                                    authority::Actor* actor) const;
  std::optional<Response> AuthorizeConsole(const Request& req,
                                           authority::Actor* actor) const;
  std::optional<Response> Check(const Route& route, const Request& req,
                                authority::Actor* actor) const;
  Response Guarded(const Route& route, const Request& req) const;
  std::optional<IpAddress> ClientAddress(const Request& req) const;

  const std::vector<Route> routes_;
  const authority::Access* access_;
  const authority::TokenService* tokens_;
  std::atomic<std::shared_ptr<const IpSet>> trusted_;
  authority::Metrics* metrics_;
  const ConsoleAuth console_;
};

}  // namespace authd::api

#endif  // AUTHD_API_ROUTER_H_
