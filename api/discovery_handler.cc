#include "api/discovery_handler.h"

#include <algorithm>

namespace authd::api {

Response DiscoveryHandler::Jwks() const {
  // Every key whose tokens can still be valid (RFC 7517 §5), active first.
  std::shared_ptr<const authority::KeyRing::Snapshot> ring = ring_->Current();
  nlohmann::json keys = nlohmann::json::array();
  for (const authority::RingKey* k :
       ring_->Published(*ring, clock_->NowSeconds())) {
    nlohmann::json jwk = nlohmann::json::object();
    for (const auto& [name, value] : k->pub.JwkMembers()) jwk[name] = value;
    jwk["kid"] = k->pub.kid();
    jwk["use"] = "sig";
    jwk["alg"] = AlgorithmName(k->pub.algorithm());
    keys.push_back(std::move(jwk));
  }
  return Response::Json(200, {{"keys", keys}})
      .With("Cache-Control", "public, max-age=60");
}

Response DiscoveryHandler::Metadata() const {
  // RFC 6749 §2.3.1: HTTP Basic, or the credentials in the form body.
  const std::vector<std::string> kClientAuthMethods = {"client_secret_basic",
                                                       "client_secret_post"};
  const std::string issuer = tokens_->options()->issuer;
  std::vector<std::string> scopes;
  for (const authority::Role& r : *access_->roles()) {
    for (const auto& s : r.scopes) {
      if (std::find(scopes.begin(), scopes.end(), s) == scopes.end()) {
        scopes.push_back(s);
      }
    }
  }
  return Response::Json(
      200,
      {{"issuer", issuer},
       {"token_endpoint", issuer + "/v1/auth/token"},
       {"jwks_uri", issuer + "/.well-known/jwks.json"},
       {"grant_types_supported", {"client_credentials"}},
       // Not registered in RFC 8414 (which has no access-token field):
       // the JWS algorithm of the access tokens this server issues now.
       {"access_token_signing_alg_values_supported",
        {AlgorithmName(ring_->Current()->active.pub.algorithm())}},
       {"token_endpoint_auth_methods_supported", kClientAuthMethods},
       {"introspection_endpoint", issuer + "/v1/auth/introspect"},
       {"introspection_endpoint_auth_methods_supported", kClientAuthMethods},
       {"revocation_endpoint", issuer + "/v1/auth/revoke"},
       {"revocation_endpoint_auth_methods_supported", kClientAuthMethods},
       {"response_types_supported", nlohmann::json::array()},
       {"scopes_supported", scopes}});
}

}  // namespace authd::api
