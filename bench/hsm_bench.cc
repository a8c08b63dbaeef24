// The three hot operations on the token path, against SoftHSM2: an ES256
// signature, the pepper HMAC, and one whole token issuance in process
// (form parsing, HMAC check, JWT build and signature). Run with 1 and 2
// threads: the session pool should let two threads go faster than one.
#include <benchmark/benchmark.h>

#include "api/access.h"
#include "api/token_service.h"
#include "common/encoding.h"
#include "storage/sqlite_storage.h"
#include "testing/softhsm_token.h"

namespace authd {
namespace {

hsm::KeyOps& Keys() { return testing::SoftHsmToken::Keys(); }

void BM_HsmSignEs256(benchmark::State& state) {
  std::string data(300, 'x');
  for (auto _ : state) {
    auto sig = Keys().SignEs256(hsm::KeyUse::kToken, data);
    if (!sig.ok()) state.SkipWithError(sig.status().message().c_str());
    benchmark::DoNotOptimize(sig);
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_HsmSignEs256)->Threads(1)->Threads(2)->UseRealTime();

void BM_HsmHmacPepper(benchmark::State& state) {
  std::string data(80, 'x');
  for (auto _ : state) {
    auto mac = Keys().HmacPepper(data);
    if (!mac.ok()) state.SkipWithError(mac.status().message().c_str());
    benchmark::DoNotOptimize(mac);
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_HsmHmacPepper)->Threads(1)->Threads(2)->UseRealTime();

struct Issuer {
  std::unique_ptr<storage::SqliteStorage> storage;
  std::unique_ptr<storage::AuditLog> audit;
  std::unique_ptr<api::Access> access;
  std::unique_ptr<api::KeyRing> ring;
  std::unique_ptr<api::FailureLimiter> limiter;
  std::unique_ptr<api::TokenService> tokens;
  api::Request request;

  Issuer() {
    std::string dir = testing::MakeTempDir("authd-bench-");
    storage = std::move(storage::SqliteStorage::Open(dir + "/b.db")).value();
    audit = std::move(storage::AuditLog::Open(storage.get(), &Keys(),
                                              &SystemClock::Get(),
                                              "authd.bench/audit", "bench"))
                .value();
    access =
        std::move(api::Access::Create(storage.get(), audit.get(), &Keys(),
                                      &SystemClock::Get(), api::DefaultRoles()))
            .value();
    limiter = std::make_unique<api::FailureLimiter>(&SystemClock::Get(),
                                                    api::LimiterOptions{});
    ring = std::move(api::KeyRing::Open(storage.get(), audit.get(), &Keys(),
                                        &SystemClock::Get(), 600))
               .value();
    tokens = std::make_unique<api::TokenService>(
        ring.get(), access.get(), limiter.get(), &SystemClock::Get(),
        api::TokenOptions{"https://authd.bench", "bench", 600});
    auto cred = std::move(access->CreateCredential(
                              {"bench", "viewer",
                               SystemClock::Get().NowSeconds() + 86400, ""},
                              {"uid:0", "local"}))
                    .value();
    request.method = "POST";
    request.path = "/v1/auth/token";
    request.headers["content-type"] = "application/x-www-form-urlencoded";
    request.headers["authorization"] =
        "Basic " + Base64Encode(cred.credential.client_id + ":" +
                                std::string(cred.client_secret.view()));
    request.body = SecureString("grant_type=client_credentials");
    request.client = IpAddress::Parse("127.0.0.1");
  }
};

void BM_IssueToken(benchmark::State& state) {
  static Issuer* issuer = new Issuer();
  for (auto _ : state) {
    api::Response r = issuer->tokens->Token(issuer->request);
    if (r.status != 200) state.SkipWithError(r.body.c_str());
    benchmark::DoNotOptimize(r);
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_IssueToken)->Threads(1)->Threads(2)->UseRealTime();

}  // namespace
}  // namespace authd

BENCHMARK_MAIN();
