// TokenHandler: the OAuth endpoints where a client authenticates itself
// (RFC 6749 §2.3.1: HTTP Basic or client_secret in the form body):
//   POST /v1/auth/token       RFC 6749 §4.4 client_credentials
//   POST /v1/auth/introspect  RFC 7662, for callers with tokens:introspect
//   POST /v1/auth/revoke      RFC 7009, a client revokes its own token
// Checks each request's shape, extracts the credentials, and maps the
// outcomes of authority::TokenService to RFC answers. A request refused
// before client authentication costs no HSM operation. Thread-safe.
#ifndef AUTHD_API_TOKEN_HANDLER_H_
#define AUTHD_API_TOKEN_HANDLER_H_

#include <string_view>
#include <variant>

#include "api/http.h"
#include "authority/metrics.h"
#include "authority/token_service.h"
#include "common/secure_string.h"

namespace authd::api {

// The scope a caller of the introspection endpoint needs.
inline constexpr char kIntrospectScope[] = "tokens:introspect";

class TokenHandler {
 public:
  TokenHandler(const authority::TokenService* tokens,
               authority::Metrics* metrics = nullptr)
      : tokens_(tokens), metrics_(metrics) {}

  Response Token(const Request& req) const;
  Response Introspect(const Request& req) const;
  Response Revoke(const Request& req) const;

 private:
  // Counts the failure of a token request and passes the response through.
  Response Failed(authority::TokenFailure why, Response r) const;
  Response Answer(const authority::TokenOutcome& outcome) const;
  // An authenticated client that sent `token=` (introspection, revocation).
  struct Caller {
    storage::Credential credential;
    SecureString token;
  };
  // The caller, or the answer refusing the request.
  std::variant<Caller, Response> TokenCaller(const Request& req,
                                             std::string_view endpoint) const;

  const authority::TokenService* tokens_;
  authority::Metrics* metrics_;
};

}  // namespace authd::api

#endif  // AUTHD_API_TOKEN_HANDLER_H_
