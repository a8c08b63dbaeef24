// The three hot operations on the token path, against SoftHSM2: an ES256
// signature, the pepper HMAC, and one whole token issuance in process
// (form parsing, HMAC check, JWT build and signature). Run with 1 and 2
// threads: the session pool should let two threads go faster than one.
#include <benchmark/benchmark.h>

#include "api/token_handler.h"
#include "authority/access.h"
#include "authority/token_service.h"
#include "bench/bench_token.h"
#include "common/encoding.h"
#include "storage/sqlite_storage.h"

namespace authd {
namespace {

using bench::Keys;

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
  std::unique_ptr<audit::AuditLog> audit;
  std::unique_ptr<authority::Access> access;
  std::unique_ptr<authority::KeyRing> ring;
  std::unique_ptr<authority::FailureLimiter> limiter;
  std::unique_ptr<authority::TokenService> tokens;
  std::unique_ptr<api::TokenHandler> handler;
  api::Request request;

  Issuer() {
    std::string dir = bench::ScratchDir("issue");
    storage = std::move(storage::SqliteStorage::Open(dir + "/b.db")).value();
    audit = std::move(audit::AuditLog::Open(storage.get(), &Keys(),
                                            &SystemClock::Get(),
                                            "authd.bench/audit", "bench"))
                .value();
    access = std::move(authority::Access::Create(storage.get(), audit.get(),
                                                 &Keys(), &SystemClock::Get(),
                                                 authority::DefaultRoles()))
                 .value();
    limiter = std::make_unique<authority::FailureLimiter>(
        &SystemClock::Get(), authority::LimiterOptions{});
    ring =
        std::move(authority::KeyRing::Open(storage.get(), audit.get(), &Keys(),
                                           &SystemClock::Get(), 600))
            .value();
    tokens = std::make_unique<authority::TokenService>(
        ring.get(), access.get(), limiter.get(), nullptr, &SystemClock::Get(),
        authority::TokenOptions{"https://authd.bench", "bench", 600});
    handler = std::make_unique<api::TokenHandler>(tokens.get());
    auto cred = std::move(access->CreateCredential(
                              {"bench", "viewer",
                               SystemClock::Get().NowSeconds() + 86400, ""},
                              {"uid:0", "local", true, {}}))
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
    api::Response r = issuer->handler->Token(issuer->request);
    if (r.status != 200) state.SkipWithError(r.body.c_str());
    benchmark::DoNotOptimize(r);
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_IssueToken)->Threads(1)->Threads(2)->UseRealTime();

}  // namespace
}  // namespace authd

BENCHMARK_MAIN();
