// The web console's sign-in codes and sessions (authority/console_sessions.h)
// with the tests' clock: codes are single use and last 5 minutes, sessions
// end after 30 minutes idle, 8 hours in all or at sign-out, both maps stay
// bounded, and the store answers only to the values it handed out, never to
// their hashes.
#include "authority/console_sessions.h"

#include <gtest/gtest.h>

#include <set>
#include <string>

#include "common/encoding.h"
#include "common/sha256.h"
#include "testing/fake_clock.h"

namespace authd::authority {
namespace {

using testing::FakeClock;

class ConsoleSessionsTest : public ::testing::Test {
 protected:
  void SetUp() override { Build({}); }

  void Build(ConsoleLimits limits) {
    sessions_ = std::move(ConsoleSessions::Create(&clock_, limits)).value();
  }

  std::string MustLink(unsigned uid = 0) {
    StatusOr<ConsoleLink> link = sessions_->CreateLink(uid);
    EXPECT_TRUE(link.ok()) << link.status().message();
    return link.ok() ? std::string(link->code.view()) : "";
  }

  NewConsoleSession MustSignIn(unsigned uid = 0) {
    StatusOr<NewConsoleSession> s = sessions_->Redeem(MustLink(uid));
    EXPECT_TRUE(s.ok()) << s.status().message();
    return s.ok() ? std::move(*s) : NewConsoleSession{};
  }

  bool Live(const NewConsoleSession& s) {
    return sessions_->Authenticate(s.token.view()).ok();
  }

  FakeClock clock_;
  std::unique_ptr<ConsoleSessions> sessions_;
};

TEST_F(ConsoleSessionsTest, CodesAreRandom256BitBase64Url) {
  std::set<std::string> seen;
  for (int i = 0; i < 20; ++i) {
    StatusOr<ConsoleLink> link = sessions_->CreateLink(1000);
    ASSERT_TRUE(link.ok());
    std::string code(link->code.view());
    EXPECT_EQ(code.size(), 43u);
    EXPECT_EQ(Base64UrlDecode(code).value_or("").size(), 32u) << code;
    EXPECT_EQ(link->expires_at, clock_.NowSeconds() + 300);
    seen.insert(code);
  }
  EXPECT_EQ(seen.size(), 20u);
}

TEST_F(ConsoleSessionsTest, ACodeStartsOneSessionForTheUidThatAsked) {
  std::string code = MustLink(1000);
  StatusOr<NewConsoleSession> s = sessions_->Redeem(code);
  ASSERT_TRUE(s.ok()) << s.status().message();
  EXPECT_EQ(s->session.actor, "console:uid:1000");
  EXPECT_EQ(s->session.created_at, clock_.NowSeconds());
  EXPECT_EQ(s->session.expires_at, clock_.NowSeconds() + 8 * 3600);
  EXPECT_EQ(s->token.size(), 43u);
  EXPECT_EQ(s->session.csrf_token.size(), 43u);
  EXPECT_NE(s->session.csrf_token, std::string(s->token.view()));
  // Single use: the same code again is refused, and the first session lives.
  StatusOr<NewConsoleSession> again = sessions_->Redeem(code);
  EXPECT_EQ(again.status().code(), StatusCode::kUnauthenticated);
  EXPECT_TRUE(Live(*s));
  EXPECT_EQ(sessions_->SessionCount(), 1u);
  EXPECT_EQ(sessions_->LinkCount(), 0u);
}

TEST_F(ConsoleSessionsTest, UnknownCodesAndTokensAreRefused) {
  EXPECT_EQ(sessions_->Redeem("").status().code(),
            StatusCode::kUnauthenticated);
  EXPECT_EQ(sessions_->Redeem(std::string(43, 'A')).status().code(),
            StatusCode::kUnauthenticated);
  EXPECT_EQ(sessions_->Authenticate("").status().code(),
            StatusCode::kUnauthenticated);
  EXPECT_FALSE(sessions_->End("nothing"));
}

TEST_F(ConsoleSessionsTest, CodesExpireAfterFiveMinutes) {
  std::string in_time = MustLink();
  std::string late = MustLink();
  clock_.Advance(299);
  EXPECT_TRUE(sessions_->Redeem(in_time).ok());
  clock_.Advance(1);
  EXPECT_EQ(sessions_->Redeem(late).status().code(),
            StatusCode::kUnauthenticated);
  EXPECT_EQ(sessions_->LinkCount(), 0u);
}

TEST_F(ConsoleSessionsTest, SessionsEndAfterThirtyMinutesIdle) {
  NewConsoleSession s = MustSignIn();
  clock_.Advance(1799);
  EXPECT_TRUE(Live(s));  // use restarts the idle time
  clock_.Advance(1799);
  EXPECT_TRUE(Live(s));
  clock_.Advance(1800);
  EXPECT_FALSE(Live(s));
  clock_.Advance(-1000);  // an ended session stays ended
  EXPECT_FALSE(Live(s));
}

TEST_F(ConsoleSessionsTest, SessionsEndAfterEightHoursHoweverBusy) {
  NewConsoleSession s = MustSignIn();
  for (int i = 0; i < 8 * 4 - 1; ++i) {
    clock_.Advance(15 * 60);
    ASSERT_TRUE(Live(s)) << i;
  }
  clock_.Advance(15 * 60);  // exactly 8 hours after sign-in
  EXPECT_FALSE(Live(s));
}

TEST_F(ConsoleSessionsTest, SignOutEndsOnlyThatSession) {
  NewConsoleSession a = MustSignIn(1);
  NewConsoleSession b = MustSignIn(2);
  EXPECT_TRUE(sessions_->End(a.token.view()));
  EXPECT_FALSE(Live(a));
  EXPECT_TRUE(Live(b));
  EXPECT_FALSE(sessions_->End(a.token.view()));
}

TEST_F(ConsoleSessionsTest, TheStoreAnswersToValuesNotToTheirHashes) {
  std::string code = MustLink();
  // The SHA-256 of a code, as the store keeps it, is not a code.
  EXPECT_FALSE(sessions_->Redeem(Sha256(code)).ok());
  EXPECT_FALSE(sessions_->Redeem(Base64UrlEncode(Sha256(code))).ok());
  NewConsoleSession s = sessions_->Redeem(code).value();
  std::string token(s.token.view());
  EXPECT_FALSE(sessions_->Authenticate(Sha256(token)).ok());
  EXPECT_FALSE(sessions_->Authenticate(HexEncode(Sha256(token))).ok());
  EXPECT_FALSE(sessions_->Authenticate(s.session.csrf_token).ok());
  EXPECT_TRUE(sessions_->Authenticate(token).ok());
}

TEST_F(ConsoleSessionsTest, CsrfTokenIsPerSessionStableAndComparedExactly) {
  NewConsoleSession a = MustSignIn();
  NewConsoleSession b = MustSignIn();
  EXPECT_NE(a.session.csrf_token, b.session.csrf_token);
  ConsoleSession again = sessions_->Authenticate(a.token.view()).value();
  EXPECT_EQ(again.csrf_token, a.session.csrf_token);
  EXPECT_TRUE(ConsoleSessions::CsrfMatches(again, a.session.csrf_token));
  EXPECT_FALSE(ConsoleSessions::CsrfMatches(again, b.session.csrf_token));
  EXPECT_FALSE(ConsoleSessions::CsrfMatches(again, ""));
  std::string cut = a.session.csrf_token.substr(0, 42);
  EXPECT_FALSE(ConsoleSessions::CsrfMatches(again, cut));
  EXPECT_FALSE(ConsoleSessions::CsrfMatches(again, cut + "x" + "y"));
  // Another store (a restarted authd) derives other tokens.
  auto other = std::move(ConsoleSessions::Create(&clock_)).value();
  ConsoleLink link = other->CreateLink(0).value();
  NewConsoleSession c = other->Redeem(link.code.view()).value();
  EXPECT_FALSE(ConsoleSessions::CsrfMatches(c.session, a.session.csrf_token));
}

TEST_F(ConsoleSessionsTest, ExpiredEntriesAreSweptWhenOthersAreAdded) {
  MustSignIn();
  MustSignIn();
  MustLink();
  EXPECT_EQ(sessions_->SessionCount(), 2u);
  EXPECT_EQ(sessions_->LinkCount(), 1u);
  clock_.Advance(1800);
  NewConsoleSession fresh = MustSignIn();
  EXPECT_EQ(sessions_->SessionCount(), 1u);
  EXPECT_EQ(sessions_->LinkCount(), 0u);
  EXPECT_TRUE(Live(fresh));
}

TEST_F(ConsoleSessionsTest, AtTheBoundTheSessionIdleLongestMakesRoom) {
  Build({.max_sessions = 3, .max_links = 2});
  NewConsoleSession a = MustSignIn(1);
  clock_.Advance(10);
  NewConsoleSession b = MustSignIn(2);
  clock_.Advance(10);
  NewConsoleSession c = MustSignIn(3);
  clock_.Advance(10);
  EXPECT_TRUE(Live(a));  // a is now the most recently used; b idles longest
  NewConsoleSession d = MustSignIn(4);
  EXPECT_EQ(sessions_->SessionCount(), 3u);
  EXPECT_TRUE(Live(a));
  EXPECT_FALSE(Live(b));
  EXPECT_TRUE(Live(c));
  EXPECT_TRUE(Live(d));
}

TEST_F(ConsoleSessionsTest, AtTheBoundTheOldestCodeMakesRoom) {
  Build({.max_sessions = 3, .max_links = 2});
  std::string first = MustLink();
  clock_.Advance(1);
  std::string second = MustLink();
  clock_.Advance(1);
  std::string third = MustLink();
  EXPECT_EQ(sessions_->LinkCount(), 2u);
  EXPECT_FALSE(sessions_->Redeem(first).ok());
  EXPECT_TRUE(sessions_->Redeem(second).ok());
  EXPECT_TRUE(sessions_->Redeem(third).ok());
}

TEST_F(ConsoleSessionsTest, DefaultBoundsAre64Each) {
  for (int i = 0; i < 100; ++i) MustLink();
  EXPECT_EQ(sessions_->LinkCount(), 64u);
  for (int i = 0; i < 100; ++i) MustSignIn();
  EXPECT_EQ(sessions_->SessionCount(), 64u);
}

}  // namespace
}  // namespace authd::authority
