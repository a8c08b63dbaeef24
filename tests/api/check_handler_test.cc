// The gateway check over the real Access, KeyRing and TokenService (SQLite
// and SoftHSM2), with requests shaped as nginx's auth_request and Envoy's
// ext_authz send them.
#include "api/check_handler.h"

#include <gtest/gtest.h>

#include <optional>
#include <string>

#include "api/token_handler.h"
#include "authority/jwt.h"
#include "common/encoding.h"
#include "testing/http_helpers.h"
#include "testing/token_fixture.h"

namespace authd::api {
namespace {

using namespace authd::authority;  // the services under the handler
using testing::HeaderOf;
using testing::kOwner;

constexpr const char* kIssuer = testing::kTokenIssuer;
constexpr const char* kAudience = testing::kTokenAudience;

GatewayPolicy Rules(bool default_authenticated = false) {
  return {default_authenticated,
          {{"/api/v1/data", {}, {"data:read"}},
           {"/api/v1/devices", {"GET"}, {"data:read"}},
           {"/api/v1/devices", {"POST"}, {"devices:control"}}}};
}

class CheckHandlerTest : public testing::TokenServiceTest {
 protected:
  void SetUp() override {
    TokenServiceTest::SetUp();
    check_ = std::make_unique<CheckHandler>(tokens_.get(), access_.get(),
                                            Rules(), &metrics_);
    ASSERT_TRUE(access_->AddAllowlist("192.0.2.0/24", kOwner).ok());
  }

  std::string TokenFor(const CreatedCredential& c) {
    TokenOutcome out = tokens_->Issue(
        {{c.credential.client_id, c.client_secret.view(), "test"}, {}});
    EXPECT_TRUE(out.status.ok()) << out.status.message();
    return out.token.access_token;
  }

  // nginx auth_request: the client's method and target in headers.
  static Request Nginx(const std::string& token, const std::string& method,
                       const std::string& uri,
                       const std::string& client = "192.0.2.7") {
    Request r;
    r.method = "GET";
    r.path = kCheckPath;
    if (!token.empty()) r.headers["authorization"] = "Bearer " + token;
    r.headers["x-original-method"] = method;
    r.headers["x-original-uri"] = uri;
    r.client = IpAddress::Parse(client);
    return r;
  }

  uint64_t Checks(CheckResult result) {
    std::string text = metrics_.Render({}, "test");
    const char* names[] = {"allowed", "unauthenticated", "forbidden",
                           "unavailable"};
    std::string key = std::string("authd_gateway_checks_total{result=\"") +
                      names[static_cast<int>(result)] + "\"} ";
    size_t at = text.find(key);
    return at == std::string::npos ? 0
                                   : std::stoull(text.substr(at + key.size()));
  }

  Metrics metrics_;
  std::unique_ptr<CheckHandler> check_;
};

TEST_F(CheckHandlerTest, AllowedRequestGets204AndWhoItIs) {
  CreatedCredential c = MustCreate("svc", "operator");
  Response r = check_->Check(Nginx(TokenFor(c), "GET", "/api/v1/data/3?x=1"));
  ASSERT_EQ(r.status, 204) << r.body;
  EXPECT_TRUE(r.body.empty());
  EXPECT_EQ(HeaderOf(r, "X-Authd-Client-Id"), c.credential.client_id);
  EXPECT_EQ(HeaderOf(r, "X-Authd-Role"), "operator");
  EXPECT_EQ(HeaderOf(r, "X-Authd-Scope"), "data:read devices:control");
  EXPECT_EQ(Checks(CheckResult::kAllowed), 1u);
}

TEST_F(CheckHandlerTest, EveryBadTokenIs401InvalidToken) {
  CreatedCredential c = MustCreate("svc", "operator");
  std::string good = TokenFor(c);
  std::string tampered = good;
  tampered[tampered.size() - 5] ^= 1;
  for (const std::string& t : {std::string(), std::string("abc"), tampered}) {
    Response r = check_->Check(Nginx(t, "GET", "/api/v1/data"));
    EXPECT_EQ(r.status, 401) << t;
    EXPECT_EQ(HeaderOf(r, "WWW-Authenticate"),
              "Bearer realm=\"authd\", error=\"invalid_token\"");
  }
  EXPECT_EQ(Checks(CheckResult::kUnauthenticated), 3u);
}

TEST_F(CheckHandlerTest, AddressOutsideTheAllowlistIs403AccessDenied) {
  CreatedCredential c = MustCreate("svc", "operator");
  Response r =
      check_->Check(Nginx(TokenFor(c), "GET", "/api/v1/data", "198.51.100.1"));
  EXPECT_EQ(r.status, 403);
  EXPECT_EQ(HeaderOf(r, "WWW-Authenticate"),
            "Bearer realm=\"authd\", error=\"access_denied\"");
}

TEST_F(CheckHandlerTest, MissingScopeIs403NamingIt) {
  CreatedCredential viewer = MustCreate("v", "viewer");
  std::string token = TokenFor(viewer);
  EXPECT_EQ(check_->Check(Nginx(token, "GET", "/api/v1/devices/1")).status,
            204);
  Response r = check_->Check(Nginx(token, "POST", "/api/v1/devices/1"));
  EXPECT_EQ(r.status, 403);
  EXPECT_EQ(HeaderOf(r, "WWW-Authenticate"),
            "Bearer realm=\"authd\", error=\"insufficient_scope\", "
            "scope=\"devices:control\"");
}

TEST_F(CheckHandlerTest, DotSegmentsCannotBorrowAnotherRoutesRule) {
  CreatedCredential viewer = MustCreate("v", "viewer");
  std::string token = TokenFor(viewer);
  for (const char* uri :
       {"/api/v1/data/../devices/1", "/api/v1/data/%2e%2E/devices/1",
        "//api/v1/data/./../devices/1"}) {
    Response r = check_->Check(Nginx(token, "POST", uri));
    EXPECT_EQ(r.status, 403) << uri;
  }
}

TEST_F(CheckHandlerTest, DefaultDenyUnlessAuthenticatedIsEnough) {
  CreatedCredential c = MustCreate("svc", "owner");
  std::string token = TokenFor(c);
  Response r = check_->Check(Nginx(token, "GET", "/other"));
  EXPECT_EQ(r.status, 403);
  check_->SetPolicy(Rules(/*default_authenticated=*/true));
  EXPECT_EQ(check_->Check(Nginx(token, "GET", "/other")).status, 204);
  EXPECT_EQ(check_->Check(Nginx("x", "GET", "/other")).status, 401);
}

TEST_F(CheckHandlerTest, DeletionAndRevocationTakeEffectOnTheNextCheck) {
  CreatedCredential a = MustCreate("a", "operator");
  CreatedCredential b = MustCreate("b", "operator");
  std::string ta = TokenFor(a), tb = TokenFor(b);
  ASSERT_EQ(check_->Check(Nginx(ta, "GET", "/api/v1/data")).status, 204);
  ASSERT_EQ(check_->Check(Nginx(tb, "GET", "/api/v1/data")).status, 204);
  ASSERT_TRUE(access_->DeleteCredential(a.credential.client_id, kOwner).ok());
  EXPECT_EQ(check_->Check(Nginx(ta, "GET", "/api/v1/data")).status, 401);
  ASSERT_TRUE(tokens_->Revoke(tb, b.credential.client_id).ok());
  EXPECT_EQ(check_->Check(Nginx(tb, "GET", "/api/v1/data")).status, 401);
}

TEST_F(CheckHandlerTest, ExpiredCredentialStopsItsTokens) {
  CreatedCredential c = MustCreate("svc", "operator", /*lifetime=*/120);
  std::string token = TokenFor(c);
  clock_.Advance(120);
  EXPECT_EQ(check_->Check(Nginx(token, "GET", "/api/v1/data")).status, 401);
}

TEST_F(CheckHandlerTest, EnvoyStyleRequestCarriesMethodAndPath) {
  CreatedCredential viewer = MustCreate("v", "viewer");
  Request r;
  r.method = "POST";
  r.path = std::string(kCheckPath) + "/api/v1/devices/1";
  r.headers["authorization"] = "Bearer " + TokenFor(viewer);
  r.client = IpAddress::Parse("192.0.2.9");
  EXPECT_EQ(check_->Check(r).status, 403);
  r.method = "GET";
  EXPECT_EQ(check_->Check(r).status, 204);
}

TEST_F(CheckHandlerTest, MalformedTargetIsRefused) {
  CreatedCredential c = MustCreate("svc", "owner");
  Response r = check_->Check(Nginx(TokenFor(c), "GET", "/api/%zz"));
  EXPECT_EQ(r.status, 403);
}

// A token signed by the HSM's token key (the ring's first key) with the
// header and claims given, for the ways a token can be bad.
std::string Signed(const nlohmann::json& header, const nlohmann::json& claims) {
  std::string input = JwsSigningInput(header, claims);
  StatusOr<std::string> sig =
      testing::SoftHsmToken::Keys().SignEs256(hsm::KeyUse::kToken, input);
  EXPECT_TRUE(sig.ok());
  return input + "." + Base64UrlEncode(sig.ok() ? *sig : "");
}

TEST_F(CheckHandlerTest, EveryWayATokenCanBeBadIs401) {
  CreatedCredential c = MustCreate("svc", "owner");
  const std::string kid = keys().Public(hsm::KeyUse::kToken).kid();
  const nlohmann::json header = {
      {"alg", "ES256"}, {"typ", "at+jwt"}, {"kid", kid}};
  const int64_t now = clock_.NowSeconds();
  const nlohmann::json claims = {{"iss", kIssuer},
                                 {"aud", kAudience},
                                 {"sub", c.credential.client_id},
                                 {"client_id", c.credential.client_id},
                                 {"iat", now},
                                 {"nbf", now},
                                 {"exp", now + 60},
                                 {"jti", "j1"},
                                 {"scope", "data:read"}};
  ASSERT_EQ(check_->Check(Nginx(Signed(header, claims), "GET", "/api/v1/data"))
                .status,
            204);
  auto with = [](nlohmann::json j, const char* k, nlohmann::json v) {
    j[k] = std::move(v);
    return j;
  };
  nlohmann::json crit = header;
  crit["crit"] = {"exp"};
  const std::map<std::string, std::string> bad = {
      {"typ JWT", Signed(with(header, "typ", "JWT"), claims)},
      {"crit", Signed(crit, claims)},
      {"alg RS256", Signed(with(header, "alg", "RS256"), claims)},
      {"alg none", Signed(with(header, "alg", "none"), claims)},
      {"unknown kid", Signed(with(header, "kid", "nope"), claims)},
      {"wrong iss", Signed(header, with(claims, "iss", "https://x"))},
      {"wrong aud", Signed(header, with(claims, "aud", "other"))},
      {"expired", Signed(header, with(claims, "exp", now))},
      {"not yet valid", Signed(header, with(claims, "nbf", now + 60))},
  };
  for (const auto& [why, token] : bad) {
    EXPECT_EQ(check_->Check(Nginx(token, "GET", "/api/v1/data")).status, 401)
        << why;
  }
}

TEST_F(CheckHandlerTest, RetiredKeyStopsAfterItsOverlap) {
  CreatedCredential c = MustCreate("svc", "operator");
  // Signed by the first key, with a lifetime no token of authd's has, so
  // only the key's retirement can end it.
  auto long_lived = [&] {
    const int64_t now = clock_.NowSeconds();
    return Signed({{"alg", "ES256"},
                   {"typ", "at+jwt"},
                   {"kid", keys().Public(hsm::KeyUse::kToken).kid()}},
                  {{"iss", kIssuer},
                   {"aud", kAudience},
                   {"client_id", c.credential.client_id},
                   {"nbf", now},
                   {"exp", now + 7200},
                   {"scope", "data:read"}});
  };
  std::string token = long_lived();
  ASSERT_TRUE(ring_->Rotate(Algorithm::kES256, "uid:0", "unix", "test").ok());
  EXPECT_EQ(check_->Check(Nginx(token, "GET", "/api/v1/data")).status, 204);
  clock_.Advance(601);  // past the overlap: the retired key is gone
  Response r = check_->Check(Nginx(token, "GET", "/api/v1/data"));
  EXPECT_EQ(r.status, 401);
  EXPECT_NE(r.body.find("was not signed by a current key"), std::string::npos)
      << r.body;
  EXPECT_EQ(check_->Check(Nginx(TokenFor(c), "GET", "/api/v1/data")).status,
            204);
}

}  // namespace
}  // namespace authd::api
