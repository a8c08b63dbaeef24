#include "common/strict_json.h"

#include <gtest/gtest.h>

#include <string>

namespace authd {
namespace {

TEST(StrictJsonTest, ParsesJsonWithoutRepeatedKeys) {
  StatusOr<nlohmann::json> j =
      ParseStrictJson(R"({"a":1,"b":{"a":2,"c":[{"a":3},{"a":4}]},"c":"x"})");
  ASSERT_TRUE(j.ok()) << j.status().message();
  EXPECT_EQ((*j)["b"]["c"][1]["a"], 4);
  EXPECT_EQ((*j)["c"], "x");
}

// {"cidr":"10.0.0.0/8","cidr":"0.0.0.0/0"} must not read as 0.0.0.0/0.
TEST(StrictJsonTest, RepeatedKeyIsRefusedByName) {
  for (const char* text : {
           R"({"cidr":"10.0.0.0/8","cidr":"0.0.0.0/0"})",
           R"({"x":{"y":1},"v":{"cidr":1,"z":2,"cidr":3}})",
           R"([{"a":1},{"cidr":1,"cidr":1}])",
           R"({"cidr":{"cidr":1},"cidr":2})",
       }) {
    StatusOr<nlohmann::json> j = ParseStrictJson(text);
    ASSERT_FALSE(j.ok()) << text;
    EXPECT_EQ(j.status().code(), StatusCode::kInvalidArgument);
    EXPECT_EQ(j.status().message(), "duplicate key 'cidr'") << text;
  }
}

TEST(StrictJsonTest, SameKeyInSiblingObjectsIsFine) {
  StatusOr<nlohmann::json> j =
      ParseStrictJson(R"({"a":{"k":1},"b":{"k":2},"k":{"k":{"k":3}}})");
  ASSERT_TRUE(j.ok()) << j.status().message();
  EXPECT_EQ((*j)["k"]["k"]["k"], 3);
}

TEST(StrictJsonTest, TextThatIsNotJsonIsADiscardedValue) {
  for (const char* text : {"", "not json", "{\"a\":", "{\"a\":1}}"}) {
    StatusOr<nlohmann::json> j = ParseStrictJson(text);
    ASSERT_TRUE(j.ok()) << text;
    EXPECT_TRUE(j->is_discarded()) << text;
  }
}

}  // namespace
}  // namespace authd
