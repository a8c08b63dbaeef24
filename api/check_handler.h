// CheckHandler: GET /v1/auth/check, the question a gateway asks before it
// forwards a request to the appliance's API (nginx auth_request, Envoy HTTP
// ext_authz). The gateway sends the client's Authorization header, the
// client's address in X-Forwarded-For (the gateway must be a trusted proxy),
// and the original method and target in X-Original-Method and
// X-Original-URI; without those two (Envoy) the method is the check's own
// and the target is the path after /v1/auth/check.
//
// Answers: 204 with X-Authd-Client-Id, X-Authd-Role and X-Authd-Scope; 401
// (WWW-Authenticate: Bearer error="invalid_token") for a missing, invalid,
// expired, revoked or orphaned token; 403 for a client address outside the
// allowlist (error="access_denied"), a route whose scopes the token lacks
// (error="insufficient_scope"), or no route at all under default deny.
// Costs no HSM operation: tokens are verified with the public keys in
// memory. The policy can be swapped at run time (SIGHUP). Thread-safe.
#ifndef AUTHD_API_CHECK_HANDLER_H_
#define AUTHD_API_CHECK_HANDLER_H_

#include <atomic>
#include <memory>

#include "api/http.h"
#include "authority/access.h"
#include "authority/gateway_policy.h"
#include "authority/metrics.h"
#include "authority/token_service.h"

namespace authd::api {

inline constexpr char kCheckPath[] = "/v1/auth/check";

class CheckHandler {
 public:
  CheckHandler(const authority::TokenService* tokens,
               const authority::Access* access, authority::GatewayPolicy policy,
               authority::Metrics* metrics = nullptr);

  Response Check(const Request& req) const;
  // REQUIRES: ValidateGatewayPolicy(policy) is OK.
  void SetPolicy(authority::GatewayPolicy policy);

 private:
  Response Refuse(authority::CheckResult result, Response r) const;

  const authority::TokenService* tokens_;
  const authority::Access* access_;
  std::atomic<std::shared_ptr<const authority::GatewayPolicy>> policy_;
  authority::Metrics* metrics_;
};

}  // namespace authd::api

#endif  // AUTHD_API_CHECK_HANDLER_H_
