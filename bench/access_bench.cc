// What start-up costs with many credentials: Access::Create reads every row,
// checks its MAC and looks for later deletions. Row MACs are computed in
// software under a key derived once from the HSM pepper, so the HSM is asked
// once whatever the count. Issue 13's goal: under 5 s with 1,000,000.
#include <benchmark/benchmark.h>

#include "audit/audit_log.h"
#include "authority/access.h"
#include "authority/row_mac.h"
#include "bench/bench_token.h"
#include "storage/sqlite_storage.h"

namespace authd {
namespace {

struct State {
  std::unique_ptr<storage::SqliteStorage> storage;
  std::unique_ptr<audit::AuditLog> audit;
};

// A database holding `n` credentials written by the previous version (no
// MACs), bound by a first Access::Create.
State* Prepare(int64_t n) {
  std::string origin = "bench.local/access-" + std::to_string(n);
  std::string dir = bench::ScratchDir("access-" + std::to_string(n));
  auto* s = new State;
  s->storage = std::move(storage::SqliteStorage::Open(dir + "/a.db")).value();
  int64_t now = SystemClock::Get().NowSeconds();
  Status st = s->storage->Write([&](storage::Transaction& tx) -> Status {
    for (int64_t i = 0; i < n; ++i) {
      RETURN_IF_ERROR(tx.InsertCredential(
          {"client-" + std::to_string(i), "bench credential", "viewer",
           std::string(32, 'm'), now, now + 86400, "uid:0"}));
    }
    return Status::Ok();
  });
  if (!st.ok()) std::abort();
  s->audit =
      std::move(audit::AuditLog::Open(s->storage.get(), &bench::Keys(),
                                      &SystemClock::Get(), origin, "bench"))
          .value();
  if (!authority::Access::Create(s->storage.get(), s->audit.get(),
                                 &bench::Keys(), &SystemClock::Get(),
                                 authority::DefaultRoles())
           .ok()) {
    std::abort();
  }
  return s;
}

void BM_AccessCreate(benchmark::State& state) {
  State* s = Prepare(state.range(0));
  for (auto _ : state) {
    auto access = authority::Access::Create(s->storage.get(), s->audit.get(),
                                            &bench::Keys(), &SystemClock::Get(),
                                            authority::DefaultRoles());
    if (!access.ok()) state.SkipWithError(access.status().message().c_str());
    if ((*access)->Current()->credentials.size() !=
        static_cast<size_t>(state.range(0))) {
      state.SkipWithError("rows failed their check");
    }
  }
}
BENCHMARK(BM_AccessCreate)
    ->Arg(100000)
    ->Arg(1000000)
    ->Unit(benchmark::kMillisecond)
    ->Iterations(3);

void BM_RowMac(benchmark::State& state) {
  auto mac = std::move(authority::RowMac::Derive(bench::Keys())).value();
  storage::Credential c{"hY3kQ2x0b1L7VnA9pQ4sZg",
                        "bench credential",
                        "viewer",
                        std::string(32, 'm'),
                        1767225600,
                        1798761600,
                        "uid:0",
                        42};
  for (auto _ : state) benchmark::DoNotOptimize(mac->Of(c));
}
BENCHMARK(BM_RowMac);

}  // namespace
}  // namespace authd

BENCHMARK_MAIN();
