#include "common/log.h"

#include <gtest/gtest.h>

namespace authd {
namespace {

// A key=value field: nothing that could end the field or the line survives.
TEST(LogSafeTest, EscapesEverythingThatCouldSplitAField) {
  EXPECT_EQ(LogSafe("client-1"), "client-1");
  EXPECT_EQ(LogSafe("a b=c\"d\\e\n"), "a\\x20b\\x3dc\\x22d\\x5ce\\x0a");
  EXPECT_EQ(LogSafe("\xff"), "\\xff");
}

// A msg="..." field stays readable, but cannot close its quotes or the line.
TEST(LogTextTest, KeepsSpacesAndEqualsButNotQuotesOrControls) {
  EXPECT_EQ(LogText("key tokens.ttl = 600"), "key tokens.ttl = 600");
  EXPECT_EQ(LogText("say \"hi\"\\\r\n"), "say \\x22hi\\x22\\x5c\\x0d\\x0a");
  EXPECT_EQ(LogText("\x7f"), "\\x7f");
}

}  // namespace
}  // namespace authd
