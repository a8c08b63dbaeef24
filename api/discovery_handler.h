// DiscoveryHandler: what a client or resource server reads to trust authd's
// tokens: the JWKS (RFC 7517) with every key whose tokens can still be valid,
// and the RFC 8414 authorization server metadata. The issuer and the scopes
// are read from the TokenService's options and Access's roles on every
// request, so a reload shows at once. Thread-safe.
#ifndef AUTHD_API_DISCOVERY_HANDLER_H_
#define AUTHD_API_DISCOVERY_HANDLER_H_

#include <string>

#include "api/http.h"
#include "authority/access.h"
#include "authority/key_ring.h"
#include "authority/token_service.h"
#include "common/clock.h"

namespace authd::api {

class DiscoveryHandler {
 public:
  DiscoveryHandler(const authority::KeyRing* ring,
                   const authority::Access* access,
                   const authority::TokenService* tokens, const Clock* clock)
      : ring_(ring), access_(access), tokens_(tokens), clock_(clock) {}

  Response Jwks() const;
  Response Metadata() const;

 private:
  const authority::KeyRing* ring_;
  const authority::Access* access_;
  const authority::TokenService* tokens_;
  const Clock* clock_;
};

}  // namespace authd::api

#endif  // AUTHD_API_DISCOVERY_HANDLER_H_
