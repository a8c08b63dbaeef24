// GatewayPolicy: which requests to the appliance's own API a gateway may let
// through (config [gateway] and [[gateway.routes]]). A rule names a path
// prefix, optionally the methods it covers, and the scopes a token needs,
// all of them. The rule that applies to a request is the one with the
// longest prefix that matches its path and covers its method; with none,
// `default` decides: deny, or let any valid token pass.
//
// Paths are compared after NormalizePath, so that encodings and dot
// segments cannot steer a request past a rule. Prefixes match whole
// segments: "/api/v1/data" matches "/api/v1/data" and "/api/v1/data/7",
// not "/api/v1/database". Pure functions over immutable values.
#ifndef AUTHD_AUTHORITY_GATEWAY_POLICY_H_
#define AUTHD_AUTHORITY_GATEWAY_POLICY_H_

#include <string>
#include <string_view>
#include <vector>

#include "common/status.h"

namespace authd::authority {

struct GatewayRoute {
  std::string prefix;                // normalized, starts with '/'
  std::vector<std::string> methods;  // upper case; empty: every method
  std::vector<std::string> scopes;   // all needed; may be empty
  bool operator==(const GatewayRoute&) const = default;
};

struct GatewayPolicy {
  bool default_authenticated = false;  // default = "authenticated"
  std::vector<GatewayRoute> routes;
  bool operator==(const GatewayPolicy&) const = default;
};

// The path of a request target, normalized (RFC 3986 §6.2.2): the query and
// fragment dropped, percent-encoded unreserved characters decoded and other
// escapes upper-cased (an encoded '/' stays encoded, so it never separates
// segments), repeated slashes merged, and "." and ".." segments removed
// (§5.2.4; ".." never climbs above the root). InvalidArgument when the
// target is not an absolute path or holds a malformed escape, a control
// character or a space.
StatusOr<std::string> NormalizePath(std::string_view target);

// The rule that applies to `method` on the normalized `path`, or null.
const GatewayRoute* MatchRoute(const GatewayPolicy& policy,
                               std::string_view path, std::string_view method);

// Checks every rule; the message names the rule ("gateway.routes[2]") and
// what is wrong: a prefix that is not a normalized absolute path, an empty
// or unknown method, a malformed scope, or two rules for the same prefix
// that cover the same method.
Status ValidateGatewayPolicy(const GatewayPolicy& policy);

}  // namespace authd::authority

#endif  // AUTHD_AUTHORITY_GATEWAY_POLICY_H_
