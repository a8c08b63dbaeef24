#include "api/token_handler.h"

#include <gtest/gtest.h>

#include <atomic>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "api/discovery_handler.h"
#include "authority/jwt.h"
#include "common/encoding.h"
#include "hsm/forwarding_key_ops.h"
#include "testing/http_helpers.h"
#include "testing/token_fixture.h"

namespace authd::api {
namespace {

using namespace authd::authority;  // the service under the handler

using nlohmann::json;
using testing::Body;
using testing::HeaderOf;
using testing::kDay;
using testing::kOwner;
using testing::kStartTime;

constexpr const char* kIssuer = testing::kTokenIssuer;
constexpr const char* kAudience = testing::kTokenAudience;
constexpr char kAddress[] = "192.0.2.10";

std::string BasicAuth(std::string_view id, std::string_view secret) {
  // RFC 6749 §2.3.1: form-urlencode each part, then join with ':'.
  return "Basic " + Base64Encode(UrlEncode(id) + ":" + UrlEncode(secret));
}

class TokenHandlerTest : public testing::TokenServiceTest {
 protected:
  void SetUp() override {
    TokenServiceTest::SetUp();
    handler_ = std::make_unique<TokenHandler>(tokens_.get());
    discovery_ = std::make_unique<DiscoveryHandler>(ring_.get(), access_.get(),
                                                    tokens_.get(), &clock_);
  }

  // A token request as the HTTP adapter hands it over: header names lower
  // case, the client address resolved.
  static Request Post(std::string body, const std::string& address = kAddress) {
    Request r;
    r.method = "POST";
    r.path = "/v1/auth/token";
    r.headers["content-type"] = "application/x-www-form-urlencoded";
    r.body = SecureString(std::string_view(body));
    r.peer = IpAddress::Parse(address);
    r.client = r.peer;
    return r;
  }
  static Request PostBasic(const CreatedCredential& c, std::string body,
                           const std::string& address = kAddress) {
    Request r = Post(std::move(body), address);
    r.headers["authorization"] =
        BasicAuth(c.credential.client_id, c.client_secret.view());
    return r;
  }
  static Request PostInBody(const CreatedCredential& c,
                            std::string extra = "") {
    return Post("grant_type=client_credentials&client_id=" +
                UrlEncode(c.credential.client_id) +
                "&client_secret=" + UrlEncode(c.client_secret.view()) + extra);
  }

  // Issues a token and returns the verified JWT.
  VerifiedJwt MustIssue(const Request& req) {
    Response r = handler_->Token(req);
    EXPECT_EQ(r.status, 200) << r.body;
    json body = Body(r);
    StatusOr<VerifiedJwt> jwt = VerifyJwt(body.value("access_token", ""),
                                          keys().Public(hsm::KeyUse::kToken));
    EXPECT_TRUE(jwt.ok()) << jwt.status().message() << " " << r.body;
    return jwt.ok() ? *jwt : VerifiedJwt{};
  }

  std::string MustGetToken(const CreatedCredential& c) {
    Response r = handler_->Token(PostBasic(c, "grant_type=client_credentials"));
    EXPECT_EQ(r.status, 200) << r.body;
    return Body(r).value("access_token", "");
  }

  // Checks an RFC 6749 §5.2 error response.
  static void ExpectOAuthError(const Response& r, int status,
                               const std::string& error) {
    EXPECT_EQ(r.status, status) << r.body;
    json body = Body(r);
    EXPECT_EQ(body.value("error", ""), error) << r.body;
    EXPECT_TRUE(body.contains("error_description")) << r.body;
    EXPECT_EQ(HeaderOf(r, "Cache-Control"), "no-store") << r.body;
    EXPECT_EQ(r.content_type, "application/json");
  }

  std::unique_ptr<TokenHandler> handler_;
  std::unique_ptr<DiscoveryHandler> discovery_;
};

// --------------------------------------------------------------- success

TEST_F(TokenHandlerTest, IssuesATokenViaBasic) {
  CreatedCredential c = MustCreate("svc", "operator");
  Response r = handler_->Token(PostBasic(c, "grant_type=client_credentials"));
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(r.content_type, "application/json");
  EXPECT_EQ(HeaderOf(r, "Cache-Control"), "no-store");
  json body = Body(r);
  EXPECT_EQ(body.value("token_type", ""), "Bearer");
  EXPECT_EQ(body.value("expires_in", 0), 600);
  EXPECT_EQ(body.value("scope", ""), "data:read devices:control");
  EXPECT_TRUE(VerifyJwt(body.value("access_token", ""),
                        keys().Public(hsm::KeyUse::kToken))
                  .ok());
}

// A database the audit log cannot trust (here: it names another origin than
// the configured one, as a swapped or restored copy would) serves no token,
// and answers no introspection, until the operator accepts it.
TEST_F(TokenHandlerTest, UntrustedDatabaseServesNoTokens) {
  CreatedCredential c = MustCreate("svc", "operator");
  auto audit = audit::AuditLog::Open(storage_.get(), &keys(), &clock_,
                                     "other.test/authd-audit", "test");
  ASSERT_TRUE(audit.ok()) << audit.status().message();
  ASSERT_FALSE((*audit)->trusted());
  auto access = authority::Access::Create(storage_.get(), audit->get(), &keys(),
                                          &clock_, Roles());
  ASSERT_TRUE(access.ok()) << access.status().message();
  authority::TokenService tokens(
      ring_.get(), access->get(), &limiter_, revocations_.get(), &clock_,
      authority::TokenOptions{kIssuer, kAudience, 600});
  TokenHandler handler(&tokens);
  Response r = handler.Token(PostBasic(c, "grant_type=client_credentials"));
  ExpectOAuthError(r, 503, "temporarily_unavailable");
  EXPECT_EQ(HeaderOf(r, "Retry-After"), "5");
  EXPECT_NE(Body(r).value("error_description", "").find("--accept-rollback"),
            std::string::npos)
      << r.body;
  std::string token = MustGetToken(c);  // from the trusted service
  ExpectOAuthError(
      handler.Introspect(PostBasic(c, "token=" + UrlEncode(token))), 503,
      "temporarily_unavailable");
  EXPECT_EQ(tokens.VerifyBearer(token).status().code(),
            StatusCode::kUnavailable);
}

TEST_F(TokenHandlerTest, IssuesATokenViaPost) {
  CreatedCredential c = MustCreate("svc", "viewer");
  Response r = handler_->Token(PostInBody(c));
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(HeaderOf(r, "Cache-Control"), "no-store");
  EXPECT_EQ(Body(r).value("scope", ""), "data:read");
}

TEST_F(TokenHandlerTest, BasicCredentialsAreFormDecoded) {
  CreatedCredential c = MustCreate("svc", "viewer");
  // Percent-encode every byte of the secret: still the same secret.
  std::string encoded;
  for (unsigned char ch : c.client_secret.view()) {
    char buf[4];
    snprintf(buf, sizeof buf, "%%%02X", ch);
    encoded += buf;
  }
  Request req = Post("grant_type=client_credentials");
  req.headers["authorization"] =
      "Basic " + Base64Encode(c.credential.client_id + ":" + encoded);
  EXPECT_EQ(handler_->Token(req).status, 200);
}

TEST_F(TokenHandlerTest, ContentTypeParametersAndCaseAreAccepted) {
  CreatedCredential c = MustCreate("svc", "viewer");
  for (const char* type : {"application/x-www-form-urlencoded; charset=UTF-8",
                           "Application/X-WWW-Form-URLEncoded"}) {
    Request req = PostBasic(c, "grant_type=client_credentials");
    req.headers["content-type"] = type;
    EXPECT_EQ(handler_->Token(req).status, 200) << type;
  }
}

// RFC 9068 §2.2 claims; SPEC "Tokens".
TEST_F(TokenHandlerTest, TokenCarriesTheSpecClaims) {
  CreatedCredential c = MustCreate("svc", "auditor");
  const std::string& id = c.credential.client_id;
  VerifiedJwt jwt = MustIssue(PostBasic(c, "grant_type=client_credentials"));

  EXPECT_EQ(jwt.header,
            (json{{"alg", "ES256"},
                  {"typ", "at+jwt"},
                  {"kid", keys().Public(hsm::KeyUse::kToken).kid()}}));
  const json& claims = jwt.claims;
  std::set<std::string> names;
  for (const auto& [k, v] : claims.items()) names.insert(k);
  EXPECT_EQ(names,
            (std::set<std::string>{"iss", "sub", "client_id", "aud", "iat",
                                   "nbf", "exp", "jti", "scope", "role"}));
  EXPECT_EQ(claims["iss"], kIssuer);
  EXPECT_EQ(claims["aud"], kAudience);
  EXPECT_EQ(claims["sub"], id);
  EXPECT_EQ(claims["client_id"], id);
  EXPECT_EQ(claims["scope"], "admin:read audit:read");
  EXPECT_EQ(claims["role"], "auditor");
  EXPECT_EQ(claims["iat"], kStartTime);
  EXPECT_EQ(claims["nbf"], kStartTime);
  EXPECT_EQ(claims["exp"], kStartTime + 600);
  EXPECT_EQ(claims["exp"].get<int64_t>() - claims["iat"].get<int64_t>(), 600);
  std::optional<std::string> jti = Base64UrlDecode(claims.value("jti", ""));
  ASSERT_TRUE(jti.has_value());
  EXPECT_EQ(jti->size(), 16u);
}

TEST_F(TokenHandlerTest, EachTokenHasItsOwnJti) {
  CreatedCredential c = MustCreate("svc", "viewer");
  std::set<std::string> jtis;
  for (int i = 0; i < 5; ++i) {
    jtis.insert(MustIssue(PostBasic(c, "grant_type=client_credentials"))
                    .claims.value("jti", ""));
  }
  EXPECT_EQ(jtis.size(), 5u);
}

TEST_F(TokenHandlerTest, TtlFollowsTheOptions) {
  tokens_ = MakeService(kAudience, 60);
  handler_ = std::make_unique<TokenHandler>(tokens_.get());
  CreatedCredential c = MustCreate("svc", "viewer");
  clock_.Advance(7);
  VerifiedJwt jwt = MustIssue(PostBasic(c, "grant_type=client_credentials"));
  EXPECT_EQ(jwt.claims["iat"], kStartTime + 7);
  EXPECT_EQ(jwt.claims["exp"], kStartTime + 7 + 60);
}

TEST_F(TokenHandlerTest, ExpiryIsCappedAtTheCredentialsExpiry) {
  CreatedCredential c = MustCreate("svc", "viewer", 1000);
  clock_.Advance(900);
  Response r = handler_->Token(PostBasic(c, "grant_type=client_credentials"));
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(Body(r).value("expires_in", 0), 100);
  StatusOr<VerifiedJwt> jwt = VerifyJwt(Body(r).value("access_token", ""),
                                        keys().Public(hsm::KeyUse::kToken));
  ASSERT_TRUE(jwt.ok());
  EXPECT_EQ(jwt->claims["exp"], c.credential.expires_at);
  EXPECT_EQ(jwt->claims["iat"], kStartTime + 900);
}

// ---------------------------------------------------------------- scopes

TEST_F(TokenHandlerTest, RequestedScopeSubsetIsGranted) {
  CreatedCredential c = MustCreate("svc", "owner");
  Response r = handler_->Token(PostBasic(
      c, "grant_type=client_credentials&scope=data%3Aread+admin:read"));
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(Body(r).value("scope", ""), "data:read admin:read");
  VerifiedJwt jwt =
      MustIssue(PostBasic(c, "grant_type=client_credentials&scope=audit:read"));
  EXPECT_EQ(jwt.claims["scope"], "audit:read");
}

TEST_F(TokenHandlerTest, ScopeOutsideTheRoleIsInvalidScope) {
  CreatedCredential c = MustCreate("svc", "viewer");
  for (const char* scope : {"admin:write", "data:read+admin:write", "bogus"}) {
    Response r = handler_->Token(PostBasic(
        c, std::string("grant_type=client_credentials&scope=") + scope));
    ExpectOAuthError(r, 400, "invalid_scope");
  }
}

// ------------------------------------------------------------ error matrix

TEST_F(TokenHandlerTest, GetIsMethodNotAllowed) {
  CreatedCredential c = MustCreate("svc", "viewer");
  Request req = PostBasic(c, "grant_type=client_credentials");
  req.method = "GET";
  Response r = handler_->Token(req);
  ExpectOAuthError(r, 405, "invalid_request");
  EXPECT_EQ(HeaderOf(r, "Allow"), "POST");
}

TEST_F(TokenHandlerTest, WrongOrMissingContentTypeIsInvalidRequest) {
  CreatedCredential c = MustCreate("svc", "viewer");
  Request req = PostBasic(c, "grant_type=client_credentials");
  req.headers["content-type"] = "application/json";
  ExpectOAuthError(handler_->Token(req), 400, "invalid_request");
  req.headers["content-type"] = "application/x-www-form-urlencodedx";
  ExpectOAuthError(handler_->Token(req), 400, "invalid_request");
  req.headers.erase("content-type");
  ExpectOAuthError(handler_->Token(req), 400, "invalid_request");
}

TEST_F(TokenHandlerTest, GrantTypeIsRequiredAndMustBeClientCredentials) {
  CreatedCredential c = MustCreate("svc", "viewer");
  ExpectOAuthError(handler_->Token(PostBasic(c, "")), 400, "invalid_request");
  ExpectOAuthError(handler_->Token(PostBasic(c, "scope=data:read")), 400,
                   "invalid_request");
  ExpectOAuthError(handler_->Token(PostBasic(c, "grant_type=password")), 400,
                   "unsupported_grant_type");
  ExpectOAuthError(
      handler_->Token(PostBasic(c, "grant_type=authorization_code")), 400,
      "unsupported_grant_type");
}

TEST_F(TokenHandlerTest, MalformedOrRepeatedParametersAreInvalidRequest) {
  CreatedCredential c = MustCreate("svc", "viewer");
  ExpectOAuthError(
      handler_->Token(PostBasic(
          c, "grant_type=client_credentials&grant_type=client_credentials")),
      400, "invalid_request");
  ExpectOAuthError(
      handler_->Token(PostBasic(c, "grant_type=client_credentials&scope=%zz")),
      400, "invalid_request");
}

// RFC 6749 §2.3: one authentication method per request.
TEST_F(TokenHandlerTest, BasicAndBodyCredentialsTogetherAreInvalidRequest) {
  CreatedCredential c = MustCreate("svc", "viewer");
  Request req = PostInBody(c);
  req.headers["authorization"] =
      BasicAuth(c.credential.client_id, c.client_secret.view());
  ExpectOAuthError(handler_->Token(req), 400, "invalid_request");
}

TEST_F(TokenHandlerTest, NoCredentialsIsInvalidClientWithChallenge) {
  MustCreate("svc", "viewer");
  Response r = handler_->Token(Post("grant_type=client_credentials"));
  ExpectOAuthError(r, 401, "invalid_client");
  EXPECT_EQ(HeaderOf(r, "WWW-Authenticate"), "Basic realm=\"authd\"");
}

TEST_F(TokenHandlerTest, IdWithoutSecretIsInvalidClient) {
  CreatedCredential c = MustCreate("svc", "viewer");
  Response r = handler_->Token(Post("grant_type=client_credentials&client_id=" +
                                    c.credential.client_id));
  ExpectOAuthError(r, 401, "invalid_client");
}

TEST_F(TokenHandlerTest, MalformedAuthorizationIsInvalidClient) {
  MustCreate("svc", "viewer");
  for (const std::string& auth :
       {std::string("Basic !!!notbase64!!!"), std::string("Basic "),
        std::string("Basic"), "Basic " + Base64Encode("no-colon-here"),
        "Basic " + Base64Encode("id:%zz"), std::string("Bearer abc.def.ghi"),
        std::string("Digest username=x")}) {
    Request req = Post("grant_type=client_credentials");
    req.headers["authorization"] = auth;
    Response r = handler_->Token(req);
    ExpectOAuthError(r, 401, "invalid_client");
    EXPECT_TRUE(HeaderOf(r, "WWW-Authenticate").has_value()) << auth;
  }
}

// SPEC: unknown id, wrong secret, deleted or expired credential are
// indistinguishable to the caller.
TEST_F(TokenHandlerTest, AuthenticationFailuresAreIndistinguishable) {
  CreatedCredential c = MustCreate("svc", "viewer", 1000);
  CreatedCredential deleted = MustCreate("gone", "viewer");
  ASSERT_TRUE(
      access_->DeleteCredential(deleted.credential.client_id, kOwner).ok());
  std::string wrong(c.client_secret.view());
  wrong.back() = wrong.back() == 'A' ? 'B' : 'A';

  std::vector<Request> requests;
  Request r1 = Post("grant_type=client_credentials", "192.0.2.1");
  r1.headers["authorization"] = BasicAuth(c.credential.client_id, wrong);
  requests.push_back(r1);
  Request r2 = Post("grant_type=client_credentials", "192.0.2.2");
  r2.headers["authorization"] = BasicAuth("unknown", c.client_secret.view());
  requests.push_back(r2);
  requests.push_back(
      PostBasic(deleted, "grant_type=client_credentials", "192.0.2.3"));
  std::vector<Response> responses;
  for (const Request& req : requests) responses.push_back(handler_->Token(req));
  clock_.Advance(1000);
  responses.push_back(handler_->Token(
      PostBasic(c, "grant_type=client_credentials", "192.0.2.4")));

  for (const Response& r : responses) {
    ExpectOAuthError(r, 401, "invalid_client");
    EXPECT_EQ(r.body, responses[0].body);
    EXPECT_EQ(r.headers, responses[0].headers);
  }
}

// ------------------------------------------------------------ throttling

TEST_F(TokenHandlerTest, FiveFailuresFromOneAddressThen429) {
  CreatedCredential c = MustCreate("svc", "viewer");
  Request bad = Post("grant_type=client_credentials");
  bad.headers["authorization"] = BasicAuth(c.credential.client_id, "wrong");
  for (int i = 0; i < 5; ++i) {
    ExpectOAuthError(handler_->Token(bad), 401, "invalid_client");
  }
  // Refused before the secret is even checked: the right one too.
  for (const Request& req :
       {bad, PostBasic(c, "grant_type=client_credentials")}) {
    Response r = handler_->Token(req);
    ExpectOAuthError(r, 429, "too_many_requests");
    EXPECT_EQ(HeaderOf(r, "Retry-After"), "180");
  }
  // Another address is not locked out.
  EXPECT_EQ(
      handler_
          ->Token(PostBasic(c, "grant_type=client_credentials", "198.51.100.7"))
          .status,
      200);
  // Time heals.
  clock_.Advance(180);
  EXPECT_EQ(
      handler_->Token(PostBasic(c, "grant_type=client_credentials")).status,
      200);
}

// KeyOps that counts the HMACs it is asked for.
class CountingKeyOps final : public hsm::ForwardingKeyOps {
 public:
  using ForwardingKeyOps::ForwardingKeyOps;
  mutable std::atomic<int> hmacs{0};
  StatusOr<std::string> HmacPepper(std::string_view data) const override {
    ++hmacs;
    return inner_->HmacPepper(data);
  }
};

// An id longer than any authd issues is refused like any failed
// authentication, before the failure limiter and without an HMAC: a flood
// of them costs neither memory nor HSM time, and never turns into a 429.
TEST_F(TokenHandlerTest, OverlongClientIdIsRefusedBeforeTheLimiterAndHsm) {
  CountingKeyOps counting(&keys());
  auto access = Access::Create(storage_.get(), audit_.get(), &counting, &clock_,
                               DefaultRoles());
  ASSERT_TRUE(access.ok()) << access.status().message();
  counting.hmacs = 0;  // Create derived the row MAC key: one HMAC
  TokenService service(ring_.get(), access->get(), &limiter_,
                       revocations_.get(), &clock_,
                       TokenOptions{kIssuer, kAudience, 600});
  TokenHandler handler(&service);
  const std::string huge(16 * 1024, 'a');
  Request ordinary = Post("grant_type=client_credentials", "192.0.2.1");
  ordinary.headers["authorization"] = BasicAuth("unknown", "secret");
  Response expected = handler.Token(ordinary);
  ASSERT_EQ(counting.hmacs, 1);  // an ordinary failure spends one HMAC
  limiter_.RecordSuccess("unknown", "192.0.2.1");
  const size_t tracked = limiter_.size();

  for (int i = 0; i < 50; ++i) {
    Request r = Post("grant_type=client_credentials");
    r.headers["authorization"] = BasicAuth(huge, "secret");
    Response got = handler.Token(r);
    ExpectOAuthError(got, 401, "invalid_client");
    EXPECT_EQ(got.body, expected.body);
    EXPECT_EQ(got.headers, expected.headers);
  }
  Response in_body = handler.Token(Post(
      "grant_type=client_credentials&client_id=" + huge + "&client_secret=x"));
  ExpectOAuthError(in_body, 401, "invalid_client");
  ClientOutcome direct = service.AuthenticateClient({huge, "secret", kAddress});
  EXPECT_EQ(direct.refusal.failure, TokenFailure::kInvalidClient);
  EXPECT_EQ(counting.hmacs, 1);
  EXPECT_EQ(limiter_.size(), tracked);
  EXPECT_EQ(limiter_.Check(huge, kAddress), std::nullopt);

  // The longest id that may exist is still checked, and charged.
  const std::string longest(kMaxClientIdLength, 'a');
  EXPECT_EQ(
      service.AuthenticateClient({longest, "secret", kAddress}).refusal.failure,
      TokenFailure::kInvalidClient);
  EXPECT_EQ(counting.hmacs, 2);
  EXPECT_GT(limiter_.size(), tracked);
}

// ------------------------------------------------------------ VerifyBearer

TEST_F(TokenHandlerTest, VerifyBearerAcceptsAFreshToken) {
  CreatedCredential c = MustCreate("svc", "owner");
  Response r = handler_->Token(
      PostBasic(c, "grant_type=client_credentials&scope=admin:read+data:read"));
  ASSERT_EQ(r.status, 200) << r.body;
  StatusOr<Principal> p =
      tokens_->VerifyBearer(Body(r).value("access_token", ""));
  ASSERT_TRUE(p.ok()) << p.status().message();
  EXPECT_EQ(p->client_id, c.credential.client_id);
  EXPECT_EQ(p->role, "owner");
  EXPECT_EQ(p->scopes, (std::vector<std::string>{"admin:read", "data:read"}));
  EXPECT_TRUE(p->Has("admin:read"));
  EXPECT_FALSE(p->Has("admin:write"));
}

TEST_F(TokenHandlerTest, VerifyBearerRejectsAnExpiredToken) {
  CreatedCredential c = MustCreate("svc", "viewer");
  const std::string token = MustGetToken(c);
  clock_.Advance(599);
  EXPECT_TRUE(tokens_->VerifyBearer(token).ok());
  clock_.Advance(1);
  StatusOr<Principal> p = tokens_->VerifyBearer(token);
  EXPECT_EQ(p.status().code(), StatusCode::kUnauthenticated);
  EXPECT_EQ(p.status().message(), "access token has expired");
}

TEST_F(TokenHandlerTest, VerifyBearerRejectsATokenOfADeletedCredential) {
  CreatedCredential c = MustCreate("svc", "viewer");
  const std::string token = MustGetToken(c);
  ASSERT_TRUE(tokens_->VerifyBearer(token).ok());
  ASSERT_TRUE(access_->DeleteCredential(c.credential.client_id, kOwner).ok());
  StatusOr<Principal> p = tokens_->VerifyBearer(token);
  EXPECT_EQ(p.status().code(), StatusCode::kUnauthenticated);
  EXPECT_EQ(p.status().message(),
            "the credential behind this access token no longer exists");
}

TEST_F(TokenHandlerTest, VerifyBearerRejectsAnotherAudienceOrIssuer) {
  CreatedCredential c = MustCreate("svc", "viewer");
  const std::string token = MustGetToken(c);
  std::unique_ptr<TokenService> other = MakeService("other-api", 600);
  StatusOr<Principal> p = other->VerifyBearer(token);
  EXPECT_EQ(p.status().code(), StatusCode::kUnauthenticated);
  EXPECT_EQ(p.status().message(),
            "access token was issued for another issuer or audience");
  TokenService other_issuer(ring_.get(), access_.get(), &limiter_, nullptr,
                            &clock_,
                            {"https://elsewhere.test", kAudience, 600});
  EXPECT_EQ(other_issuer.VerifyBearer(token).status().code(),
            StatusCode::kUnauthenticated);
}

TEST_F(TokenHandlerTest, VerifyBearerChecksTimeClaimsItCannotTrustBlindly) {
  CreatedCredential c = MustCreate("svc", "viewer");
  const json header = {{"alg", "ES256"},
                       {"typ", "at+jwt"},
                       {"kid", keys().Public(hsm::KeyUse::kToken).kid()}};
  json claims = {{"iss", kIssuer},
                 {"aud", kAudience},
                 {"sub", c.credential.client_id},
                 {"client_id", c.credential.client_id},
                 {"iat", kStartTime},
                 {"nbf", kStartTime},
                 {"exp", kStartTime + 60},
                 {"scope", "data:read"}};
  auto verify = [&](const json& cl) {
    std::string input = JwsSigningInput(header, cl);
    StatusOr<std::string> sig = keys().SignEs256(hsm::KeyUse::kToken, input);
    EXPECT_TRUE(sig.ok());
    std::string token = input + "." + Base64UrlEncode(sig.ok() ? *sig : "");
    return tokens_->VerifyBearer(token).status();
  };
  EXPECT_TRUE(verify(claims).ok());
  json not_yet = claims;
  not_yet["nbf"] = kStartTime + 10;
  EXPECT_EQ(verify(not_yet).message(), "access token is not valid yet");
  json no_exp = claims;
  no_exp.erase("exp");
  EXPECT_EQ(verify(no_exp).code(), StatusCode::kUnauthenticated);
  json string_exp = claims;
  string_exp["exp"] = std::to_string(kStartTime + 60);
  EXPECT_EQ(verify(string_exp).code(), StatusCode::kUnauthenticated);
  json unknown = claims;
  unknown["client_id"] = "someone-else";
  EXPECT_EQ(verify(unknown).code(), StatusCode::kUnauthenticated);
}

TEST_F(TokenHandlerTest, VerifyBearerRejectsGarbage) {
  for (const char* bad : {"", "abc", "a.b.c"}) {
    EXPECT_EQ(tokens_->VerifyBearer(bad).status().code(),
              StatusCode::kUnauthenticated)
        << bad;
  }
}

// ------------------------------------------------------------- discovery

TEST_F(TokenHandlerTest, JwksPublishesTheTokenKey) {
  Response r = discovery_->Jwks();
  ASSERT_EQ(r.status, 200);
  const PublicKey& key = keys().Public(hsm::KeyUse::kToken);
  json body = Body(r);
  ASSERT_EQ(body["keys"].size(), 1u);
  EXPECT_EQ(body["keys"][0], (json{{"kty", "EC"},
                                   {"crv", "P-256"},
                                   {"x", key.jwk_x()},
                                   {"y", key.jwk_y()},
                                   {"kid", key.kid()},
                                   {"use", "sig"},
                                   {"alg", "ES256"}}));
}

TEST_F(TokenHandlerTest, MetadataNamesTheEndpoints) {
  json body = Body(discovery_->Metadata());
  EXPECT_EQ(body["issuer"], kIssuer);
  EXPECT_EQ(body["token_endpoint"], std::string(kIssuer) + "/v1/auth/token");
  EXPECT_EQ(body["jwks_uri"], std::string(kIssuer) + "/.well-known/jwks.json");
  EXPECT_EQ(body["grant_types_supported"], json::array({"client_credentials"}));
  EXPECT_EQ(body["scopes_supported"],
            json::array({"admin:read", "admin:write", "audit:read", "data:read",
                         "devices:control", "tokens:introspect"}));
}

// ------------------------------------------------ introspection (RFC 7662)

TEST_F(TokenHandlerTest, IntrospectionDescribesAnActiveToken) {
  CreatedCredential svc = MustCreate("svc", "operator");
  CreatedCredential rs = MustCreate("api", "resource-server");
  std::string token = MustGetToken(svc);
  Request req = PostBasic(rs, "token=" + UrlEncode(token));
  req.path = "/v1/auth/introspect";
  Response r = handler_->Introspect(req);
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(HeaderOf(r, "Cache-Control"), "no-store");
  json body = Body(r);
  EXPECT_EQ(body["active"], true);
  EXPECT_EQ(body["client_id"], svc.credential.client_id);
  EXPECT_EQ(body["sub"], svc.credential.client_id);
  EXPECT_EQ(body["role"], "operator");
  EXPECT_EQ(body["scope"], "data:read devices:control");
  EXPECT_EQ(body["iss"], kIssuer);
  EXPECT_EQ(body["aud"], kAudience);
  EXPECT_EQ(body["exp"], kStartTime + 600);
  EXPECT_EQ(body["token_type"], "Bearer");
  EXPECT_FALSE(body.value("jti", "").empty());
}

TEST_F(TokenHandlerTest, InactiveTokensSayNothingMore) {
  CreatedCredential svc = MustCreate("svc", "viewer");
  CreatedCredential rs = MustCreate("api", "resource-server");
  std::string token = MustGetToken(svc);
  ASSERT_TRUE(access_->DeleteCredential(svc.credential.client_id, kOwner).ok());
  for (const std::string& t : {token, std::string("garbage")}) {
    Request req = PostBasic(rs, "token=" + UrlEncode(t));
    Response r = handler_->Introspect(req);
    ASSERT_EQ(r.status, 200) << r.body;
    EXPECT_EQ(Body(r), json({{"active", false}})) << r.body;
  }
}

TEST_F(TokenHandlerTest, IntrospectionNeedsTheScopeAndAClient) {
  CreatedCredential viewer = MustCreate("svc", "viewer");
  std::string token = MustGetToken(viewer);
  Response r =
      handler_->Introspect(PostBasic(viewer, "token=" + UrlEncode(token)));
  ExpectOAuthError(r, 403, "insufficient_scope");
  r = handler_->Introspect(Post("token=" + UrlEncode(token)));
  ExpectOAuthError(r, 401, "invalid_client");
  CreatedCredential rs = MustCreate("api", "resource-server");
  ExpectOAuthError(handler_->Introspect(PostBasic(rs, "")), 400,
                   "invalid_request");
}

// -------------------------------------------------- revocation (RFC 7009)

TEST_F(TokenHandlerTest, AClientRevokesItsOwnTokenAtOnce) {
  CreatedCredential c = MustCreate("svc", "viewer");
  std::string token = MustGetToken(c);
  ASSERT_TRUE(tokens_->VerifyBearer(token).ok());  // cached from here on
  Response r = handler_->Revoke(PostBasic(c, "token=" + UrlEncode(token)));
  ASSERT_EQ(r.status, 200) << r.body;
  StatusOr<Principal> p = tokens_->VerifyBearer(token);
  EXPECT_EQ(p.status().message(), "access token has been revoked");
  // Another token of the same client still works.
  EXPECT_TRUE(tokens_->VerifyBearer(MustGetToken(c)).ok());
}

TEST_F(TokenHandlerTest, RevocationSurvivesARestart) {
  CreatedCredential c = MustCreate("svc", "viewer");
  std::string token = MustGetToken(c);
  ASSERT_EQ(handler_->Revoke(PostBasic(c, "token=" + UrlEncode(token))).status,
            200);
  auto reloaded = Revocations::Load(storage_.get(), &clock_);
  ASSERT_TRUE(reloaded.ok());
  TokenService fresh(ring_.get(), access_.get(), &limiter_, reloaded->get(),
                     &clock_, {kIssuer, kAudience, 600});
  EXPECT_EQ(fresh.VerifyBearer(token).status().code(),
            StatusCode::kUnauthenticated);
  // Once the token has expired its revocation is dropped.
  clock_.Advance(601);
  reloaded = Revocations::Load(storage_.get(), &clock_);
  ASSERT_TRUE(reloaded.ok());
  EXPECT_TRUE((*reloaded)->Current()->empty());
}

TEST_F(TokenHandlerTest, ForeignAndUnknownTokensGet200AndStayValid) {
  CreatedCredential owner = MustCreate("a", "viewer");
  CreatedCredential other = MustCreate("b", "viewer");
  std::string token = MustGetToken(owner);
  for (const std::string& t : {token, std::string("not-a-token")}) {
    Response r = handler_->Revoke(PostBasic(other, "token=" + UrlEncode(t)));
    EXPECT_EQ(r.status, 200) << r.body;
  }
  EXPECT_TRUE(tokens_->VerifyBearer(token).ok());
  ExpectOAuthError(handler_->Revoke(Post("token=" + UrlEncode(token))), 401,
                   "invalid_client");
}

// ------------------------------------------- the cache of verified tokens

TEST_F(TokenHandlerTest, ACachedTokenStillFailsWhenItsCredentialGoes) {
  CreatedCredential c = MustCreate("svc", "viewer");
  std::string token = MustGetToken(c);
  ASSERT_TRUE(tokens_->VerifyBearer(token).ok());
  ASSERT_TRUE(tokens_->VerifyBearer(token).ok());  // a cache hit
  ASSERT_TRUE(access_->DeleteCredential(c.credential.client_id, kOwner).ok());
  EXPECT_EQ(tokens_->VerifyBearer(token).status().message(),
            "the credential behind this access token no longer exists");
}

TEST_F(TokenHandlerTest, ACachedTokenStillExpires) {
  CreatedCredential c = MustCreate("svc", "viewer");
  std::string token = MustGetToken(c);
  ASSERT_TRUE(tokens_->VerifyBearer(token).ok());
  clock_.Advance(600);
  EXPECT_EQ(tokens_->VerifyBearer(token).status().message(),
            "access token has expired");
}

TEST_F(TokenHandlerTest, NotBeforeHasASmallLeeway) {
  CreatedCredential c = MustCreate("svc", "viewer");
  std::string token = MustGetToken(c);
  clock_.Set(kStartTime - kNotBeforeLeewaySeconds);
  EXPECT_TRUE(tokens_->VerifyBearer(token).ok());
  clock_.Set(kStartTime - kNotBeforeLeewaySeconds - 1);
  EXPECT_EQ(tokens_->VerifyBearer(token).status().message(),
            "access token is not valid yet");
}

TEST_F(TokenHandlerTest, MetadataNamesIntrospectionAndRevocation) {
  json body = Body(discovery_->Metadata());
  EXPECT_EQ(body["introspection_endpoint"],
            std::string(kIssuer) + "/v1/auth/introspect");
  EXPECT_EQ(body["revocation_endpoint"],
            std::string(kIssuer) + "/v1/auth/revoke");
  for (const char* k : {"introspection_endpoint_auth_methods_supported",
                        "revocation_endpoint_auth_methods_supported"}) {
    EXPECT_EQ(body[k],
              json::array({"client_secret_basic", "client_secret_post"}))
        << k;
  }
}

}  // namespace
}  // namespace authd::api
