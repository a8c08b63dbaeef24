// Shared setup for tests of the HTTP API below the transport: the real Router
// built from api::AuthdRoutes with every real handler, over KeyRingTest's
// SQLite file, audit log, SoftHSM2 keys and key ring. Send() does what the
// libmicrohttpd adapter does with a request: Admit(), then Handle(), then
// Decorate(). The web console is on, over TLS (console_options_).
//
// The allowlist starts with kAllowedRange, so TCP requests from
// kClientAddress are admitted; admin socket requests come from kSocketUid.
#ifndef AUTHD_TESTS_TESTING_ROUTER_FIXTURE_H_
#define AUTHD_TESTS_TESTING_ROUTER_FIXTURE_H_

#include <gtest/gtest.h>

#include <cctype>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "api/routes.h"
#include "authority/failure_limiter.h"
#include "authority/metrics.h"
#include "authority/token_service.h"
#include "testing/http_helpers.h"
#include "testing/key_ring_fixture.h"

namespace authd::testing {

inline constexpr char kIssuer[] = "https://authd.test";
inline constexpr char kAudience[] = "powerhub-api";
inline constexpr char kAllowedRange[] = "192.0.2.0/24";
inline constexpr char kClientAddress[] = "192.0.2.10";
inline constexpr unsigned kSocketUid = 1000;
inline constexpr char kVersion[] = "9.9.9-test";

// A client with a Bearer token.
struct TokenClient {
  std::string client_id;
  std::string token;
};

class RouterTest : public KeyRingTest {
 protected:
  void SetUp() override {
    ASSERT_NO_FATAL_FAILURE(KeyRingTest::SetUp());
    BuildApi();
    Status st = access_->AddAllowlist(kAllowedRange, kOwner).status();
    ASSERT_TRUE(st.ok()) << st.message();
  }

  // (Re)builds the token service, the handlers and the router over the
  // fixture's current Access, audit log and key ring.
  void BuildApi(std::vector<Cidr> trusted_proxies = {}) {
    router_.reset();
    revocations_ =
        std::move(authority::Revocations::Load(storage_.get(), &clock_))
            .value();
    tokens_ = std::make_unique<authority::TokenService>(
        ring_.get(), access_.get(), &limiter_, revocations_.get(), &clock_,
        authority::TokenOptions{kIssuer, kAudience, kTokenTtl});
    readiness_ =
        std::make_unique<api::Readiness>(&keys(), audit_.get(), access_.get());
    token_handler_ =
        std::make_unique<api::TokenHandler>(tokens_.get(), &metrics_);
    check_ = std::make_unique<api::CheckHandler>(
        tokens_.get(), access_.get(), authority::GatewayPolicy{}, &metrics_);
    discovery_ = std::make_unique<api::DiscoveryHandler>(
        ring_.get(), access_.get(), tokens_.get(), &clock_);
    ops_ = std::make_unique<api::OpsHandler>(api::OpsHandler::Deps{
        readiness_.get(), access_.get(), audit_.get(), revocations_.get(),
        &metrics_, nullptr, kVersion});
    admin_ = std::make_unique<api::AdminHandler>(api::AdminHandler::Deps{
        access_.get(), audit_.get(), ring_.get(), &keys(), &clock_,
        readiness_.get(), &metrics_, kVersion});
    audit_handler_ = std::make_unique<api::AuditHandler>(audit_.get(), &keys());
    console_sessions_ =
        std::move(authority::ConsoleSessions::Create(&clock_)).value();
    console_ = std::make_unique<api::ConsoleHandler>(console_sessions_.get(),
                                                     console_options_);
    router_ = std::make_unique<api::Router>(
        api::AuthdRoutes({token_handler_.get(), check_.get(), discovery_.get(),
                          ops_.get(), admin_.get(), audit_handler_.get(),
                          console_.get()}),
        access_.get(), tokens_.get(), std::move(trusted_proxies), &metrics_,
        api::ConsoleAuth{console_sessions_.get(), console_options_.tls,
                         console_url_});
  }

  // Admit(), and Handle() unless Admit() answered; then Decorate().
  api::Response Send(api::Request req) const {
    std::optional<api::Response> r = router_->Admit(req);
    if (!r) r = router_->Handle(req);
    router_->Decorate(req, &*r);
    return *r;
  }

  // "path?a=1&b=2" as the adapter hands it over: path and query split, the
  // values already decoded (tests write them decoded).
  static api::Request Make(const std::string& method,
                           const std::string& target) {
    api::Request r;
    r.method = method;
    size_t q = target.find('?');
    r.path = target.substr(0, q);
    if (q != std::string::npos) {
      std::string rest = target.substr(q + 1);
      size_t start = 0;
      while (start <= rest.size()) {
        size_t end = rest.find('&', start);
        if (end == std::string::npos) end = rest.size();
        std::string pair = rest.substr(start, end - start);
        size_t eq = pair.find('=');
        if (!pair.empty()) {
          r.query[pair.substr(0, eq)] =
              eq == std::string::npos ? "" : pair.substr(eq + 1);
        }
        start = end + 1;
      }
    }
    return r;
  }

  // A request over the admin socket from kSocketUid.
  static api::Request Socket(const std::string& method,
                             const std::string& target) {
    api::Request r = Make(method, target);
    r.admin_socket = true;
    r.peer_uid = kSocketUid;
    return r;
  }
  static api::Request SocketPost(const std::string& target,
                                 const nlohmann::json& body) {
    api::Request r = Socket("POST", target);
    WithJson(r, body);
    return r;
  }

  // A TCP request from `address` carrying `token` (none when empty).
  static api::Request Tcp(const std::string& method, const std::string& target,
                          const std::string& token = "",
                          const std::string& address = kClientAddress) {
    api::Request r = Make(method, target);
    r.peer = IpAddress::Parse(address);
    EXPECT_TRUE(r.peer.has_value()) << address;
    if (!token.empty()) r.headers["authorization"] = "Bearer " + token;
    return r;
  }
  static api::Request TcpPost(const std::string& target,
                              const nlohmann::json& body,
                              const std::string& token) {
    api::Request r = Tcp("POST", target, token);
    WithJson(r, body);
    return r;
  }

  static void WithJson(api::Request& r, const nlohmann::json& body) {
    r.headers["content-type"] = "application/json";
    r.body = SecureString(std::string_view(body.dump()));
  }

  // A new credential of `role` and a token for it, narrowed to `scope`
  // (space-separated) when given.
  TokenClient MustGetToken(const std::string& role,
                           const std::string& scope = "") {
    CreatedCredential c = MustCreate(role + "-client", role);
    authority::TokenOutcome out = tokens_->Issue(
        {{c.credential.client_id, c.client_secret.view(), kClientAddress},
         authority::SplitScopes(scope)});
    EXPECT_TRUE(out.status.ok()) << out.status.message();
    return {c.credential.client_id, out.token.access_token};
  }

  static nlohmann::json Body(const api::Response& r) {
    return testing::Body(r);
  }
  static std::optional<std::string> HeaderOf(const api::Response& r,
                                             const std::string& name) {
    return testing::HeaderOf(r, name);
  }

  authority::FailureLimiter limiter_{&clock_, authority::LimiterOptions{}};
  authority::Metrics metrics_;
  std::unique_ptr<authority::Revocations> revocations_;
  std::unique_ptr<authority::TokenService> tokens_;
  std::unique_ptr<api::Readiness> readiness_;
  std::unique_ptr<api::TokenHandler> token_handler_;
  std::unique_ptr<api::CheckHandler> check_;
  std::unique_ptr<api::DiscoveryHandler> discovery_;
  std::unique_ptr<api::OpsHandler> ops_;
  std::unique_ptr<api::AdminHandler> admin_;
  std::unique_ptr<api::AuditHandler> audit_handler_;
  // The console as BuildApi() makes it: over TLS unless a test changes
  // console_options_ and builds again.
  api::ConsoleOptions console_options_{true, true, "authd", kIssuer,
                                       "https://authd.test:8443"};
  std::string console_url_;  // console.url; empty: not configured
  std::unique_ptr<authority::ConsoleSessions> console_sessions_;
  std::unique_ptr<api::ConsoleHandler> console_;
  std::unique_ptr<api::Router> router_;
};

}  // namespace authd::testing

#endif  // AUTHD_TESTS_TESTING_ROUTER_FIXTURE_H_
