#include "common/clock.h"

#include <gtest/gtest.h>

#include <cstdint>
#include <optional>
#include <string>

namespace authd {
namespace {

constexpr int64_t kNewYear2026 = 1767225600;  // 2026-01-01T00:00:00Z

TEST(FormatRfc3339Test, KnownAnswers) {
  EXPECT_EQ(FormatRfc3339(0), "1970-01-01T00:00:00Z");
  EXPECT_EQ(FormatRfc3339(-1), "1969-12-31T23:59:59Z");
  EXPECT_EQ(FormatRfc3339(kNewYear2026), "2026-01-01T00:00:00Z");
  EXPECT_EQ(FormatRfc3339(1795669200), "2026-11-26T05:00:00Z");
  EXPECT_EQ(FormatRfc3339(1835395200), "2028-02-29T00:00:00Z");
  EXPECT_EQ(FormatRfc3339(2147483648), "2038-01-19T03:14:08Z");
}

TEST(ParseRfc3339Test, UtcKnownAnswers) {
  EXPECT_EQ(ParseRfc3339("1970-01-01T00:00:00Z"), 0);
  EXPECT_EQ(ParseRfc3339("1969-12-31T23:59:59Z"), -1);
  EXPECT_EQ(ParseRfc3339("2026-01-01T00:00:00Z"), kNewYear2026);
  EXPECT_EQ(ParseRfc3339("2026-11-26T05:00:00Z"), 1795669200);
  EXPECT_EQ(ParseRfc3339("2000-02-29T12:34:56Z"), 951827696);
  EXPECT_EQ(ParseRfc3339("2038-01-19T03:14:08Z"), 2147483648);
}

// RFC 3339 §5.6 NOTE: "T" and "Z" may be lower case.
TEST(ParseRfc3339Test, AcceptsLowerCaseTAndZ) {
  EXPECT_EQ(ParseRfc3339("2026-01-01t00:00:00z"), kNewYear2026);
}

TEST(ParseRfc3339Test, NumericOffsets) {
  EXPECT_EQ(ParseRfc3339("2026-01-01T01:00:00+01:00"), kNewYear2026);
  EXPECT_EQ(ParseRfc3339("2025-12-31T19:00:00-05:00"), kNewYear2026);
  EXPECT_EQ(ParseRfc3339("2026-01-01T05:30:00+05:30"), kNewYear2026);
  EXPECT_EQ(ParseRfc3339("2026-01-01T00:00:00+00:00"), kNewYear2026);
  EXPECT_EQ(ParseRfc3339("2026-01-01T00:00:00-00:00"), kNewYear2026);
  EXPECT_EQ(ParseRfc3339("2025-12-31T00:01:00-23:59"), kNewYear2026);
}

TEST(ParseRfc3339Test, FractionalSecondsAreTruncated) {
  EXPECT_EQ(ParseRfc3339("2026-01-01T00:00:00.0Z"), kNewYear2026);
  EXPECT_EQ(ParseRfc3339("2026-01-01T00:00:00.999999999Z"), kNewYear2026);
  EXPECT_EQ(ParseRfc3339("2026-01-01T00:00:01.5Z"), kNewYear2026 + 1);
  EXPECT_EQ(ParseRfc3339("2026-01-01T01:00:00.25+01:00"), kNewYear2026);
}

TEST(ParseRfc3339Test, LeapDays) {
  EXPECT_EQ(ParseRfc3339("2028-02-29T00:00:00Z"), 1835395200);
  EXPECT_EQ(ParseRfc3339("2000-02-29T00:00:00Z"), 951782400);
  EXPECT_EQ(ParseRfc3339("2027-02-29T00:00:00Z"), std::nullopt);
  EXPECT_EQ(ParseRfc3339("2100-02-29T00:00:00Z"), std::nullopt);
  EXPECT_EQ(ParseRfc3339("2028-02-30T00:00:00Z"), std::nullopt);
}

// POSIX time has no leap seconds: :60 is read as :59.
TEST(ParseRfc3339Test, LeapSecondClampsToFiftyNine) {
  EXPECT_EQ(ParseRfc3339("2016-12-31T23:59:60Z"), 1483228799);
}

TEST(ParseRfc3339Test, RejectsOutOfRangeFields) {
  for (const char* bad : {
           "2026-13-01T00:00:00Z",  // month 13
           "2026-00-01T00:00:00Z",  // month 0
           "2026-01-00T00:00:00Z",  // day 0
           "2026-01-32T00:00:00Z",  // day 32
           "2026-04-31T00:00:00Z",  // April has 30 days
           "2026-01-01T24:00:00Z",  // hour 24
           "2026-01-01T00:60:00Z",  // minute 60
           "2026-01-01T00:00:61Z",  // second 61
           "2026-01-01T00:00:00+24:00",
           "2026-01-01T00:00:00+01:60",
       }) {
    EXPECT_EQ(ParseRfc3339(bad), std::nullopt) << bad;
  }
}

TEST(ParseRfc3339Test, RejectsMissingOrMalformedZone) {
  for (const char* bad : {
           "2026-01-01T00:00:00",
           "2026-01-01T00:00:00.5",
           "2026-01-01",
           "2026-01-01T00:00:00+01",
           "2026-01-01T00:00:00+0100",
           "2026-01-01T00:00:00+1:00",
           "2026-01-01T00:00:00 UTC",
           "2026-01-01T00:00:00.Z",
       }) {
    EXPECT_EQ(ParseRfc3339(bad), std::nullopt) << bad;
  }
}

TEST(ParseRfc3339Test, RejectsTrailingGarbage) {
  for (const char* bad : {
           "2026-01-01T00:00:00Zx",
           "2026-01-01T00:00:00Z ",
           "2026-01-01T00:00:00ZZ",
           "2026-01-01T00:00:00+01:00x",
           "2026-01-01T00:00:00+01:00Z",
       }) {
    EXPECT_EQ(ParseRfc3339(bad), std::nullopt) << bad;
  }
}

TEST(ParseRfc3339Test, RejectsMalformedShape) {
  for (const char* bad : {
           "",
           "Z",
           " 2026-01-01T00:00:00Z",
           "2026-1-01T00:00:00Z",
           "2026/01/01T00:00:00Z",
           "2026-01-01X00:00:00Z",
           "2026-01-01T00-00-00Z",
           "2026-01-01T0a:00:00Z",
           "+2026-01-01T00:00:00Z",
           "1767225600",
       }) {
    EXPECT_EQ(ParseRfc3339(bad), std::nullopt) << bad;
  }
}

TEST(Rfc3339Test, FormatThenParseRoundTrips) {
  // 1970 to ~2100 in steps that land on every time of day and both sides
  // of leap days.
  for (int64_t t = 0; t < 4102444800; t += 86400 * 7 + 3607) {
    EXPECT_EQ(ParseRfc3339(FormatRfc3339(t)), t) << FormatRfc3339(t);
  }
  for (int64_t t : {int64_t{1835395199}, int64_t{1835395200},
                    int64_t{1835481599}, int64_t{1835481600}}) {
    EXPECT_EQ(ParseRfc3339(FormatRfc3339(t)), t) << FormatRfc3339(t);
  }
}

TEST(SystemClockTest, IsCloseToTimeOfDay) {
  const int64_t now = SystemClock::Get().NowSeconds();
  EXPECT_GT(now, kNewYear2026 - 86400 * 365);
  EXPECT_LT(now, kNewYear2026 + 86400 * 365 * 50);
}

}  // namespace
}  // namespace authd
