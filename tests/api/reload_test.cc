// What a configuration reload (SIGHUP) changes while authd serves, through
// the real Router and handlers over real SQLite, the audit log and SoftHSM2
// keys: the token options (issuer, audience, lifetime), the role set and the
// trusted proxies, each swapped whole under readers that take no lock.
// tests/e2e/test_reload.py checks the same against the daemon.
#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <string>
#include <thread>
#include <vector>

#include "authority/jwt.h"
#include "common/encoding.h"
#include "testing/router_fixture.h"

namespace authd::api {
namespace {

using authority::CreatedCredential;
using authority::Role;
using authority::TokenOptions;
using nlohmann::json;
using testing::kAudience;
using testing::kClientAddress;
using testing::kIssuer;
using testing::kOwner;

class ReloadTest : public testing::RouterTest {
 protected:
  // A token request for `c` through the router; the answer.
  Response TokenFor(const CreatedCredential& c) {
    Request r = Tcp("POST", "/v1/auth/token");
    r.headers["content-type"] = "application/x-www-form-urlencoded";
    r.headers["authorization"] =
        "Basic " + Base64Encode(UrlEncode(c.credential.client_id) + ":" +
                                UrlEncode(c.client_secret.view()));
    r.body = SecureString(std::string_view("grant_type=client_credentials"));
    return Send(r);
  }

  // The claims of the token in a 200 answer, signature checked.
  json Claims(const Response& r) {
    EXPECT_EQ(r.status, 200) << r.body;
    auto jwt = authority::VerifyJwt(Body(r).value("access_token", ""),
                                    ring_->Current()->active.pub);
    EXPECT_TRUE(jwt.ok()) << jwt.status().message();
    return jwt.ok() ? jwt->claims : json();
  }

  json Get(const std::string& path) {
    Response r = Send(Tcp("GET", path));
    EXPECT_EQ(r.status, 200) << r.body;
    return Body(r);
  }
};

TEST_F(ReloadTest, NewTokenOptionsApplyToTheNextTokenAndTheMetadata) {
  CreatedCredential c = MustCreate("svc", "viewer");
  json before = Claims(TokenFor(c));
  EXPECT_EQ(before["iss"], kIssuer);

  tokens_->SetOptions({"https://id.example", "other-api", 60});
  json after = Claims(TokenFor(c));
  EXPECT_EQ(after["iss"], "https://id.example");
  EXPECT_EQ(after["aud"], "other-api");
  EXPECT_EQ(after["exp"].get<int64_t>() - after["iat"].get<int64_t>(), 60);
  EXPECT_EQ(Body(TokenFor(c))["expires_in"], 60);

  json meta = Get("/.well-known/oauth-authorization-server");
  EXPECT_EQ(meta["issuer"], "https://id.example");
  EXPECT_EQ(meta["token_endpoint"], "https://id.example/v1/auth/token");
}

// A token of the old issuer or audience stops verifying at once, even one
// the cache of verified tokens holds.
TEST_F(ReloadTest, TokensOfTheOldIssuerOrAudienceStopVerifying) {
  testing::TokenClient old = MustGetToken("viewer");
  ASSERT_TRUE(tokens_->VerifyBearer(old.token).ok());
  ASSERT_TRUE(tokens_->VerifyBearer(old.token).ok());  // now cached
  tokens_->SetOptions({kIssuer, "other-api", 600});
  StatusOr<authority::Principal> p = tokens_->VerifyBearer(old.token);
  EXPECT_EQ(p.status().message(),
            "access token was issued for another issuer or audience");
  testing::TokenClient fresh = MustGetToken("operator");
  EXPECT_TRUE(tokens_->VerifyBearer(fresh.token).ok());
  // And back: the old token is good again until it expires.
  tokens_->SetOptions({kIssuer, kAudience, 600});
  EXPECT_TRUE(tokens_->VerifyBearer(old.token).ok());
}

TEST_F(ReloadTest, NewRoleScopesApplyToNewTokensAndCutTokensInUse) {
  CreatedCredential c = MustCreate("svc", "operator");
  Response first = TokenFor(c);
  std::string token = Body(first).value("access_token", "");
  EXPECT_EQ(Claims(first)["scope"], "data:read devices:control");

  std::vector<Role> roles = authority::DefaultRoles();
  for (Role& r : roles) {
    if (r.name == "operator") r.scopes = {"data:read", "sites:write"};
  }
  ASSERT_TRUE(access_->SetRoles(roles).ok());
  EXPECT_EQ(Claims(TokenFor(c))["scope"], "data:read sites:write");
  // The token issued before keeps only what the role still grants.
  StatusOr<authority::Principal> p = tokens_->VerifyBearer(token);
  ASSERT_TRUE(p.ok()) << p.status().message();
  EXPECT_EQ(p->scopes, std::vector<std::string>{"data:read"});

  json scopes =
      Get("/.well-known/oauth-authorization-server")["scopes_supported"];
  EXPECT_NE(std::find(scopes.begin(), scopes.end(), "sites:write"),
            scopes.end());
  json listed = Body(Send(Socket("GET", "/v1/admin/roles")));
  auto op = std::find_if(listed.begin(), listed.end(),
                         [](const json& r) { return r["name"] == "operator"; });
  ASSERT_NE(op, listed.end());
  EXPECT_EQ((*op)["scopes"], json({"data:read", "sites:write"}));
}

TEST_F(ReloadTest, ACredentialWhoseRoleIsGoneGetsNoToken) {
  CreatedCredential c = MustCreate("svc", "viewer");
  std::string token = Body(TokenFor(c)).value("access_token", "");
  std::vector<Role> roles = authority::DefaultRoles();
  std::erase_if(roles, [](const Role& r) { return r.name == "viewer"; });
  ASSERT_TRUE(access_->SetRoles(roles).ok());

  Response r = TokenFor(c);
  EXPECT_EQ(r.status, 400) << r.body;
  EXPECT_EQ(Body(r)["error"], "invalid_scope");
  EXPECT_EQ(Body(r)["error_description"],
            "the credential's role no longer exists");
  // Its token in use carries no scope any more.
  StatusOr<authority::Principal> p = tokens_->VerifyBearer(token);
  ASSERT_TRUE(p.ok()) << p.status().message();
  EXPECT_TRUE(p->scopes.empty());
  // The operator sees it in the credential list and the status.
  json list = Body(Send(Socket("GET", "/v1/admin/credentials")));
  ASSERT_EQ(list.size(), 1u);
  EXPECT_EQ(list[0]["role_exists"], false);
  EXPECT_EQ(
      Body(Send(Socket("GET", "/v1/admin/status")))["credentials_without_role"],
      1);
  // The role back, the credential works again.
  ASSERT_TRUE(access_->SetRoles(authority::DefaultRoles()).ok());
  EXPECT_EQ(TokenFor(c).status, 200);
  EXPECT_EQ(
      Body(Send(Socket("GET", "/v1/admin/credentials")))[0]["role_exists"],
      true);
}

TEST_F(ReloadTest, NewTrustedProxiesApplyToTheNextConnectionAndRequest) {
  const std::string proxy = "198.51.100.5";
  auto peer = [](const std::string& s) { return *IpAddress::Parse(s); };
  auto client_of = [&](const std::string& from) {
    Request req = Tcp("GET", "/v1/auth/jwks", "", from);
    req.headers["x-forwarded-for"] = kClientAddress;
    std::optional<Response> refused = router_->Admit(req);
    return std::make_pair(refused ? refused->status : 0,
                          req.client ? req.client->ToString() : "");
  };
  using Result = std::pair<int, std::string>;
  // Not trusted: dropped at accept, and its header is not read.
  EXPECT_FALSE(router_->AcceptPeer(peer(proxy)));
  EXPECT_EQ(client_of(proxy), (Result{403, proxy}));

  router_->SetTrustedProxies({Cidr::Parse(proxy + "/32").value()});
  EXPECT_TRUE(router_->AcceptPeer(peer(proxy)));
  EXPECT_EQ(client_of(proxy), (Result{0, kClientAddress}));

  router_->SetTrustedProxies({});
  EXPECT_FALSE(router_->AcceptPeer(peer(proxy)));
  EXPECT_EQ(client_of(proxy), (Result{403, proxy}));
}

// Tokens issued while the options are replaced carry one snapshot's issuer
// and audience, never one of each.
TEST_F(ReloadTest, TokensIssuedDuringAReloadCarryOneSetOfOptions) {
  CreatedCredential c = MustCreate("svc", "viewer");
  const TokenOptions a{"https://a.example", "a-api", 600};
  const TokenOptions b{"https://b.example", "b-api", 60};
  tokens_->SetOptions(a);
  std::atomic<bool> stop{false};
  std::thread reloader([&] {
    for (int i = 0; !stop.load(); ++i) tokens_->SetOptions(i % 2 ? a : b);
  });
  int torn = 0;
  for (int i = 0; i < 100; ++i) {
    authority::TokenOutcome out = tokens_->Issue(
        {{c.credential.client_id, c.client_secret.view(), kClientAddress}, {}});
    if (!out.status.ok()) {
      ADD_FAILURE() << out.status.message();
      continue;
    }
    auto jwt = authority::VerifyJwt(out.token.access_token,
                                    ring_->Current()->active.pub);
    if (!jwt.ok()) continue;
    const json& cl = jwt->claims;
    bool is_a = cl["iss"] == a.issuer && cl["aud"] == a.audience &&
                out.token.expires_in == a.ttl_seconds;
    bool is_b = cl["iss"] == b.issuer && cl["aud"] == b.audience &&
                out.token.expires_in == b.ttl_seconds;
    if (!is_a && !is_b) {
      ++torn;
      ADD_FAILURE() << "torn: " << cl.dump() << " " << out.token.expires_in;
    }
  }
  stop = true;
  reloader.join();
  EXPECT_EQ(torn, 0);
}

}  // namespace
}  // namespace authd::api
