#include <gtest/gtest.h>

#include <string>
#include <string_view>
#include <utility>

#include "common/secure_string.h"

namespace authd {
namespace {

TEST(SecureStringTest, BuildsFromStringView) {
  const SecureString s(std::string_view("secret"));
  EXPECT_EQ(s.size(), 6u);
  EXPECT_EQ(s.view(), "secret");
}

TEST(SecureStringTest, KeepsEmbeddedNul) {
  const SecureString s(std::string_view("a\0b", 3));
  EXPECT_EQ(s.size(), 3u);
  EXPECT_EQ(s.view(), std::string_view("a\0b", 3));
}

TEST(SecureStringTest, AppendsPastTheSmallStringBuffer) {
  SecureString s;
  EXPECT_TRUE(s.empty());
  std::string expected;
  for (int i = 0; i < 100; ++i) {
    s.append("ab");
    s.push_back('c');
    expected += "abc";
  }
  EXPECT_EQ(s.view(), expected);
  EXPECT_GE(s.capacity(), 300u);
}

TEST(SecureStringTest, ComparesLikeAString) {
  const SecureString a(std::string_view("alpha"));
  const SecureString b(std::string_view("beta"));
  EXPECT_TRUE(a == SecureString(std::string_view("alpha")));
  EXPECT_FALSE(a == b);
  EXPECT_TRUE(a < b);
  EXPECT_TRUE(a == "alpha");
  EXPECT_EQ(a.compare("alpha"), 0);
}

TEST(SecureStringTest, CopyAndMoveKeepTheValue) {
  const std::string long_value(200, 'x');
  SecureString original{std::string_view(long_value)};
  SecureString copy = original;
  EXPECT_EQ(copy.view(), long_value);
  SecureString moved = std::move(original);
  EXPECT_EQ(moved.view(), long_value);
  SecureString assigned;
  assigned = copy;
  EXPECT_EQ(assigned.view(), long_value);
}

TEST(SecureStringTest, FindAndSubstrWork) {
  const SecureString s(std::string_view("id:secret"));
  const size_t colon = s.find(':');
  ASSERT_EQ(colon, 2u);
  EXPECT_EQ(s.view().substr(0, colon), "id");
  EXPECT_EQ(s.view().substr(colon + 1), "secret");
  EXPECT_EQ(s.find('#'), SecureString::npos);
}

TEST(CleansingAllocatorTest, RoundTripsAllocations) {
  CleansingAllocator<char> alloc;
  char* p = alloc.allocate(64);
  ASSERT_NE(p, nullptr);
  for (int i = 0; i < 64; ++i) p[i] = static_cast<char>(i);
  EXPECT_EQ(p[63], 63);
  alloc.deallocate(p, 64);
  EXPECT_TRUE(alloc == CleansingAllocator<int>());
}

}  // namespace
}  // namespace authd
