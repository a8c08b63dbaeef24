// A concurrent token-and-admin load through the real Router and handlers, on
// real SQLite, the audit log and SoftHSM2: clients get tokens, use them on
// the admin API and the gateway check and revoke them, a prober guesses
// secrets into the failure limiter, while an administrator creates and
// deletes credentials and allowlist entries, rotates the signing key and
// swaps the gateway policy (what SIGHUP does), all at once. It is the load the
// ThreadSanitizer build runs (README "Robustness"): any data race or lock-order
// inversion on these paths fails it there, and everywhere it checks that every
// answer is the expected one and that the audit log the load leaves verifies
// offline.
#include <gtest/gtest.h>

#include <atomic>
#include <functional>
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
      Request check = Tcp("GET", "/v1/auth/check", token);
      check.headers["x-original-uri"] = "/api/sites/" + std::to_string(i);
      Response checked = Send(check);
      EXPECT_EQ(checked.status, 204) << checked.body;
      Request revoke = TokenRequest(c);
      revoke.path = "/v1/auth/revoke";
      revoke.body = SecureString("token=" + token);
      EXPECT_EQ(Send(revoke).status, 200);
      EXPECT_EQ(Send(Tcp("GET", "/v1/admin/status", token)).status, 401);
      ++requests_;
    }
  }

  // One admin change, counted when it gets `want`. SoftHSM2's file store
  // now and then fails an object creation with CKR_GENERAL_ERROR when two
  // sessions create token objects at once (a key pair and the audit head;
  // SoftHSMv2 issue #573); authd then answers 503 and records nothing, and
  // the change is retried as an administrator would.
  Response Change(const std::function<Request()>& make, int want) {
    for (int attempt = 1;; ++attempt) {
      Response r = Send(make());
      if (r.status == 503 && attempt < 5 &&
          r.body.find("CKR_GENERAL_ERROR") != std::string::npos) {
        ++softhsm_retries_;
        continue;
      }
      EXPECT_EQ(r.status, want) << r.body;
      if (r.status == want) ++changes_;
      return r;
    }
  }

  // Credential and allowlist changes over the admin socket.
  void Administrator() {
    for (int i = 0; i < kRounds; ++i) {
      std::string n = std::to_string(i);
      json body = {{"name", "load-" + n},
                   {"role", "viewer"},
                   {"expires_at", FormatRfc3339(clock_.NowSeconds() + kDay)}};
      Response c = Change(
          [&] { return SocketPost("/v1/admin/credentials", body); }, 201);
      ASSERT_EQ(c.status, 201);
      std::string id = Body(c)["client_id"];
      std::string cidr = "198.18." + n + ".0/24";
      Change(
          [&] {
            return SocketPost("/v1/admin/allowlist", {{"cidr", cidr}});
          },
          201);
      Change([&] { return Socket("DELETE", "/v1/admin/credentials/" + id); },
             204);
      Change([&] { return Socket("DELETE", "/v1/admin/allowlist/" + cidr); },
             204);
    }
  }

  // Wrong secrets from a few addresses: refused, then rate limited.
  void Prober(const authority::CreatedCredential& c) {
    for (int i = 0; i < kRounds; ++i) {
      Request r = TokenRequest(c);
      r.headers["authorization"] =
          BasicHeader(c.credential.client_id, "wrong-" + std::to_string(i));
      r.peer = IpAddress::Parse("192.0.2." + std::to_string(100 + i % 3));
      int status = Send(r).status;
      EXPECT_TRUE(status == 401 || status == 429) << status;
    }
  }

  // The gateway policy swapped back and forth (config reload); both let a
  // token with data:read reach /api.
  void PolicySwapper() {
    authority::GatewayPolicy open{true, {}};
    authority::GatewayPolicy rule{false, {{"/api", {}, {"data:read"}}}};
    for (int i = 0; i < 4 * kRounds; ++i) {
      check_->SetPolicy(i % 2 ? open : rule);
      std::this_thread::yield();
    }
  }

  // Key rotations; each moves the clock a second so labels differ.
  void Rotator() {
    for (int i = 0; i < 5; ++i) {
      Change(
          [&] {
            clock_.Advance(1);
            return SocketPost("/v1/admin/keys/rotate", {{"use", "token"}});
          },
          201);
    }
  }

  std::atomic<int> requests_{0};
  std::atomic<int> changes_{0};
  std::atomic<int> softhsm_retries_{0};
};

TEST_F(ConcurrentLoadTest, TokensAndAdminChangesAtOnce) {
  std::vector<authority::CreatedCredential> clients;
  for (int i = 0; i < kIssuers; ++i) {
    clients.push_back(MustCreate("issuer-" + std::to_string(i), "owner"));
  }
  uint64_t before = audit_->size();
  std::vector<std::thread> threads;
  check_->SetPolicy({true, {}});
  for (const auto& c : clients) threads.emplace_back([&] { Client(c); });
  threads.emplace_back([&] { Prober(clients.front()); });
  threads.emplace_back([&] { PolicySwapper(); });
  threads.emplace_back([&] { Administrator(); });
  threads.emplace_back([&] { Rotator(); });
  for (std::thread& t : threads) t.join();

  EXPECT_EQ(requests_, kIssuers * kRounds);
  RecordProperty("softhsm_retries", softhsm_retries_.load());
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
