// TokenHandler: POST /v1/auth/token over HTTP (RFC 6749 §4.4 with client
// authentication per §2.3.1). Checks the request's shape, extracts the client
// credentials from HTTP Basic or the form body, and maps the outcome of
// authority::TokenService::Issue to RFC 6749 §5.1/§5.2 answers. Nothing here
// touches the HSM: a request that fails before authentication costs none.
// Thread-safe.
#ifndef AUTHD_API_TOKEN_HANDLER_H_
#define AUTHD_API_TOKEN_HANDLER_H_

#include "api/http.h"
#include "authority/metrics.h"
#include "authority/token_service.h"

namespace authd::api {

class TokenHandler {
 public:
  TokenHandler(const authority::TokenService* tokens,
               authority::Metrics* metrics = nullptr)
      : tokens_(tokens), metrics_(metrics) {}

  Response Handle(const Request& req) const;

 private:
  // Counts the failure and passes the response through.
  Response Failed(authority::TokenFailure why, Response r) const;
  Response Answer(const authority::TokenOutcome& outcome) const;

  const authority::TokenService* tokens_;
  authority::Metrics* metrics_;
};

}  // namespace authd::api

#endif  // AUTHD_API_TOKEN_HANDLER_H_
