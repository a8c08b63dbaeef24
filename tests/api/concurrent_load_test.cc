// A concurrent token-and-admin load through the real Router and handlers, on
// real SQLite, the audit log and SoftHSM2: clients get tokens, use them on
// the admin API and revoke them, while an administrator creates and deletes
// credentials and allowlist entries and rotates the signing key, all at
// once. It is the load the ThreadSanitizer build runs (README
// "Robustness"): any data race or lock-order inversion on these paths fails
// it there, and everywhere it checks that every answer is the expected one
// and that the audit log the load leaves verifies offline.
#include <gtest/gtest.h>

#include <atomic>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "audit/verifier.h"
#include "common/encoding.h"
#include "testing/router_fixture.h"

namespace authd::api {
namespace {

using nlohmann::json;
using testing::kDay;

constexpr int kIssuers = 3;
constexpr int kRounds = 25;

std::string BasicHeader(const std::string& id, const std::string& secret) {
  return "Basic " + Base64Encode(UrlEncode(id) + ":" + UrlEncode(secret));
}

class ConcurrentLoadTest : public testing::RouterTest {
 protected:
  Request TokenRequest(const authority::CreatedCredential& c) const {
    Request r = Tcp("POST", "/v1/auth/token");
    r.headers["content-type"] = "application/x-www-form-urlencoded";
    r.headers["authorization"] = BasicHeader(
        c.credential.client_id, std::string(c.client_secret.view()));
    r.body = SecureString(std::string_view("grant_type=client_credentials"));
    return r;
  }

  // Token, admin read with it, revocation of it: kRounds times.
  void Client(const authority::CreatedCredential& c) {
    for (int i = 0; i < kRounds; ++i) {
      Response t = Send(TokenRequest(c));
      ASSERT_EQ(t.status, 200) << t.body;
      std::string token = Body(t)["access_token"];
      Response s = Send(Tcp("GET", "/v1/admin/status", token));
      EXPECT_EQ(s.status, 200) << s.body;
      Request revoke = TokenRequest(c);
      revoke.path = "/v1/auth/revoke";
      revoke.body = SecureString("token=" + token);
      EXPECT_EQ(Send(revoke).status, 200);
      EXPECT_EQ(Send(Tcp("GET", "/v1/admin/status", token)).status, 401);
      ++requests_;
    }
  }

  // Credential and allowlist changes over the admin socket.
  void Administrator() {
    for (int i = 0; i < kRounds; ++i) {
      std::string n = std::to_string(i);
      Response c = Send(SocketPost(
          "/v1/admin/credentials",
          {{"name", "load-" + n},
           {"role", "viewer"},
           {"expires_at", FormatRfc3339(clock_.NowSeconds() + kDay)}}));
      ASSERT_EQ(c.status, 201) << c.body;
      std::string cidr = "198.18." + n + ".0/24";
      EXPECT_EQ(
          Send(SocketPost("/v1/admin/allowlist", {{"cidr", cidr}})).status,
          201);
      EXPECT_EQ(
          Send(Socket("DELETE", "/v1/admin/credentials/" +
                                    Body(c)["client_id"].get<std::string>()))
              .status,
          204);
      EXPECT_EQ(Send(Socket("DELETE", "/v1/admin/allowlist/" + cidr)).status,
                204);
      changes_ += 4;
    }
  }

  // Key rotations; each moves the clock a second so labels differ.
  void Rotator() {
    for (int i = 0; i < 5; ++i) {
      clock_.Advance(1);
      Response r =
          Send(SocketPost("/v1/admin/keys/rotate", {{"use", "token"}}));
      EXPECT_EQ(r.status, 201) << r.body;
      ++changes_;
    }
  }

  std::atomic<int> requests_{0};
  std::atomic<int> changes_{0};
};

TEST_F(ConcurrentLoadTest, TokensAndAdminChangesAtOnce) {
  std::vector<authority::CreatedCredential> clients;
  for (int i = 0; i < kIssuers; ++i) {
    clients.push_back(MustCreate("issuer-" + std::to_string(i), "owner"));
  }
  uint64_t before = audit_->size();
  std::vector<std::thread> threads;
  for (const auto& c : clients) threads.emplace_back([&] { Client(c); });
  threads.emplace_back([&] { Administrator(); });
  threads.emplace_back([&] { Rotator(); });
  for (std::thread& t : threads) t.join();

  EXPECT_EQ(requests_, kIssuers * kRounds);
  // One audit entry per change, no more, no fewer.
  EXPECT_EQ(audit_->size(), before + static_cast<uint64_t>(changes_.load()));
  Response exported = Send(Socket("GET", "/v1/admin/audit/export"));
  ASSERT_EQ(exported.status, 200);
  StatusOr<audit::ExportSummary> verified = audit::VerifyExport(
      exported.body, keys().Public(hsm::KeyUse::kAudit), std::nullopt);
  ASSERT_TRUE(verified.ok()) << verified.status().message();
  EXPECT_EQ(verified->entries, audit_->size());
}

}  // namespace
}  // namespace authd::api
