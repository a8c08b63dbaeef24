// The gateway check's X-Original-URI: NormalizePath (RFC 3986 §6.2.2 and
// §5.2.4) and MatchRoute over a fixed [gateway] policy. Properties: the
// normal form is a fixed point, absolute, free of "." and ".." segments and
// empty segments inside; matching a path and its normal form agree.
#include "authority/gateway_policy.h"
#include "fuzz/fuzz_util.h"

using namespace authd;
using authority::GatewayPolicy;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static const GatewayPolicy* policy =
      new GatewayPolicy{false,
                        {{"/api/devices", {"POST", "PUT"}, {"devices:control"}},
                         {"/api", {}, {"data:read"}},
                         {"/api/v1/data/", {"GET"}, {"data:read"}},
                         {"/", {"GET"}, {}}}};
  FUZZ_CHECK(authority::ValidateGatewayPolicy(*policy).ok());
  fuzz::Bytes in(data, size);
  static const char* kMethods[] = {"GET", "POST", "PUT", "DELETE"};
  const char* method = kMethods[in.Byte() % 4];
  StatusOr<std::string> path = authority::NormalizePath(in.Rest());
  if (!path.ok()) return 0;
  FUZZ_CHECK(!path->empty() && (*path)[0] == '/');
  StatusOr<std::string> again = authority::NormalizePath(*path);
  FUZZ_CHECK(again.ok() && *again == *path);
  FUZZ_CHECK(path->find("//") == std::string::npos);
  FUZZ_CHECK(path->find("/./") == std::string::npos);
  FUZZ_CHECK(path->find("/../") == std::string::npos);
  std::string_view p(*path);
  FUZZ_CHECK(!p.ends_with("/.") && !p.ends_with("/.."));
  FUZZ_CHECK(authority::MatchRoute(*policy, *path, method) ==
             authority::MatchRoute(*policy, *again, method));
  return 0;
}
