// DiscoveryHandler: what a client or resource server reads to trust authd's
// tokens: the JWKS (RFC 7517) with every key whose tokens can still be valid,
// and the RFC 8414 authorization server metadata. Thread-safe.
#ifndef AUTHD_API_DISCOVERY_HANDLER_H_
#define AUTHD_API_DISCOVERY_HANDLER_H_

#include <string>

#include "api/http.h"
#include "authority/access.h"
#include "authority/key_ring.h"
#include "common/clock.h"

namespace authd::api {

class DiscoveryHandler {
 public:
  DiscoveryHandler(const authority::KeyRing* ring,
                   const authority::Access* access, const Clock* clock,
                   std::string issuer)
      : ring_(ring),
        access_(access),
        clock_(clock),
        issuer_(std::move(issuer)) {}

  Response Jwks() const;
  Response Metadata() const;

 private:
  const authority::KeyRing* ring_;
  const authority::Access* access_;
  const Clock* clock_;
  const std::string issuer_;
};

}  // namespace authd::api

#endif  // AUTHD_API_DISCOVERY_HANDLER_H_
