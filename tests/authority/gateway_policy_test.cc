#include "authority/gateway_policy.h"

#include <gtest/gtest.h>

#include <string>

namespace authd::authority {
namespace {

std::string Norm(std::string_view target) {
  StatusOr<std::string> p = NormalizePath(target);
  EXPECT_TRUE(p.ok()) << target << ": " << p.status().message();
  return p.ok() ? *p : "<error>";
}

TEST(NormalizePathTest, DropsQueryAndFragment) {
  EXPECT_EQ(Norm("/api/v1/data?x=1&y=/../admin"), "/api/v1/data");
  EXPECT_EQ(Norm("/api/v1/data#frag"), "/api/v1/data");
}

TEST(NormalizePathTest, RemovesDotSegmentsWithoutClimbingAboveTheRoot) {
  EXPECT_EQ(Norm("/api/v1/data/../devices/1"), "/api/v1/devices/1");
  EXPECT_EQ(Norm("/api/./v1/./data"), "/api/v1/data");
  EXPECT_EQ(Norm("/../../etc/passwd"), "/etc/passwd");
  EXPECT_EQ(Norm("/api/v1/data/.."), "/api/v1/");
  EXPECT_EQ(Norm("/"), "/");
  EXPECT_EQ(Norm("/.."), "/");
}

TEST(NormalizePathTest, MergesRepeatedSlashes) {
  EXPECT_EQ(Norm("//api///v1//data"), "/api/v1/data");
  EXPECT_EQ(Norm("/api/v1/data/"), "/api/v1/data/");
}

TEST(NormalizePathTest, DecodesUnreservedEscapesBeforeDotSegments) {
  // %2E is '.', %61 'a', %7E '~': decoded, so "%2E%2E" is a real "..".
  EXPECT_EQ(Norm("/api/v1/data/%2E%2E/devices/1"), "/api/v1/devices/1");
  EXPECT_EQ(Norm("/api/v1/%64ata"), "/api/v1/data");
  EXPECT_EQ(Norm("/%7Euser"), "/~user");
}

TEST(NormalizePathTest, KeepsOtherEscapesEncodedInUpperCase) {
  // An encoded '/' is not a separator: it cannot split or join segments.
  EXPECT_EQ(Norm("/api/v1/data%2f..%2fdevices"), "/api/v1/data%2F..%2Fdevices");
  EXPECT_EQ(Norm("/a%20b"), "/a%20b");
}

TEST(NormalizePathTest, RefusesWhatIsNotAnAbsolutePath) {
  for (const char* bad :
       {"", "api/v1", "http://host/api", "/a%2", "/a%zz", "/a b", "/a\tb"}) {
    StatusOr<std::string> p = NormalizePath(bad);
    EXPECT_EQ(p.status().code(), StatusCode::kInvalidArgument) << bad;
  }
}

GatewayPolicy Policy() {
  return {false,
          {{"/api/v1/data", {}, {"data:read"}},
           {"/api/v1/devices", {"GET"}, {"data:read"}},
           {"/api/v1/devices", {"POST", "PUT"}, {"devices:control"}},
           {"/api", {}, {"admin:read"}},
           {"/api/v1/devices/7", {}, {"admin:write"}}}};
}

TEST(MatchRouteTest, LongestWholeSegmentPrefixWins) {
  GatewayPolicy p = Policy();
  EXPECT_EQ(MatchRoute(p, "/api/v1/data", "GET")->scopes[0], "data:read");
  EXPECT_EQ(MatchRoute(p, "/api/v1/data/42", "GET")->scopes[0], "data:read");
  // Not a whole segment: falls back to the shorter /api rule.
  EXPECT_EQ(MatchRoute(p, "/api/v1/database", "GET")->scopes[0], "admin:read");
  EXPECT_EQ(MatchRoute(p, "/api/v1/devices/7", "GET")->scopes[0],
            "admin:write");
  EXPECT_EQ(MatchRoute(p, "/other", "GET"), nullptr);
  EXPECT_EQ(MatchRoute(p, "/ap", "GET"), nullptr);
}

TEST(MatchRouteTest, ThenTheMethod) {
  GatewayPolicy p = Policy();
  EXPECT_EQ(MatchRoute(p, "/api/v1/devices/1", "GET")->scopes[0], "data:read");
  EXPECT_EQ(MatchRoute(p, "/api/v1/devices/1", "PUT")->scopes[0],
            "devices:control");
  // No rule for DELETE on the devices prefix: the /api rule applies.
  EXPECT_EQ(MatchRoute(p, "/api/v1/devices/1", "DELETE")->scopes[0],
            "admin:read");
}

TEST(MatchRouteTest, ARuleNamingTheMethodBeatsOneForEveryMethod) {
  GatewayPolicy p{false,
                  {{"/x", {}, {"devices:control"}}, {"/x", {"GET"}, {"a"}}}};
  EXPECT_EQ(MatchRoute(p, "/x/1", "GET")->scopes[0], "a");
  EXPECT_EQ(MatchRoute(p, "/x/1", "POST")->scopes[0], "devices:control");
}

TEST(ValidateGatewayPolicyTest, AcceptsAGoodPolicy) {
  EXPECT_TRUE(ValidateGatewayPolicy(Policy()).ok());
  EXPECT_TRUE(ValidateGatewayPolicy({true, {}}).ok());
}

TEST(ValidateGatewayPolicyTest, NamesTheRuleThatIsWrong) {
  auto message = [](GatewayRoute bad) {
    GatewayPolicy p = Policy();
    p.routes.push_back(std::move(bad));
    return ValidateGatewayPolicy(p).message();
  };
  EXPECT_EQ(message({"api/x", {}, {}}),
            "gateway.routes[5].prefix 'api/x' must be a normalized absolute "
            "path");
  EXPECT_EQ(message({"/api/../x", {}, {}}),
            "gateway.routes[5].prefix '/api/../x' must be a normalized "
            "absolute path such as '/x'");
  EXPECT_EQ(
      message({"/x", {"get"}, {}}),
      "gateway.routes[5].methods: 'get' is not an upper-case HTTP method");
  EXPECT_EQ(message({"/x", {}, {"two words"}}),
            "gateway.routes[5].scopes: 'two words' is not a valid scope token");
  EXPECT_EQ(message({"/api/v1/devices", {"PUT"}, {}}),
            "gateway.routes[5] covers the same prefix and method as "
            "gateway.routes[2]");
  EXPECT_EQ(message({"/api", {}, {}}),
            "gateway.routes[5] covers the same prefix and method as "
            "gateway.routes[3]");
}

}  // namespace
}  // namespace authd::authority
