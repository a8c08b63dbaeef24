// What a change costs with its audit entry (one HSM signature, one fsync'd
// SQLite transaction), and how long an auditor's offline verification of a
// 100,000-entry export takes.
#include <benchmark/benchmark.h>

#include "audit/audit_log.h"
#include "audit/verifier.h"
#include "authority/access.h"
#include "bench/bench_token.h"
#include "storage/sqlite_storage.h"

namespace authd {
namespace {

struct Log {
  std::unique_ptr<storage::SqliteStorage> storage;
  std::unique_ptr<audit::AuditLog> audit;
  std::unique_ptr<authority::Access> access;
  explicit Log(const std::string& origin) {
    std::string dir = bench::ScratchDir(origin.substr(origin.find('/') + 1));
    const hsm::KeyOps* keys = &bench::Keys();
    storage = std::move(storage::SqliteStorage::Open(dir + "/a.db")).value();
    audit =
        std::move(audit::AuditLog::Open(storage.get(), keys,
                                        &SystemClock::Get(), origin, "bench"))
            .value();
    access = std::move(authority::Access::Create(storage.get(), audit.get(),
                                                 keys, &SystemClock::Get(),
                                                 authority::DefaultRoles()))
                 .value();
  }
};

void BM_CredentialCreateWithAudit(benchmark::State& state) {
  static Log* log = new Log("bench.local/create");
  int64_t expires = SystemClock::Get().NowSeconds() + 86400;
  for (auto _ : state) {
    auto c = log->access->CreateCredential({"bench", "viewer", expires, ""},
                                           {"uid:0", "unix", true, {}});
    if (!c.ok()) state.SkipWithError(c.status().message().c_str());
  }
}
BENCHMARK(BM_CredentialCreateWithAudit)
    ->Unit(benchmark::kMillisecond)
    ->Repetitions(5)
    ->ReportAggregatesOnly(true);

void BM_VerifyExport(benchmark::State& state) {
  static std::string* text = [] {
    Log log("bench.local/verify");
    std::vector<audit::AuditEvent> events;
    for (int i = 0; i < 100000; ++i) {
      events.push_back({"uid:0",
                        "unix",
                        "allowlist.add",
                        "10." + std::to_string(i / 65536) + "." +
                            std::to_string(i / 256 % 256) + "." +
                            std::to_string(i % 256) + "/32",
                        {},
                        "bench"});
    }
    Status st = log.audit->Record(
        [](storage::Transaction&) { return Status::Ok(); }, events);
    if (!st.ok()) std::abort();
    auto* out = new std::string();
    storage::AuditFilter f;
    f.limit = 200000;
    for (const auto& r : log.storage->ListAudit(f).value()) {
      *out += audit::AuditEntryJson(r.leaf).value().dump() + "\n";
    }
    *out +=
        nlohmann::json{{"checkpoint", log.audit->LatestCheckpoint().value()}}
            .dump() +
        "\n";
    return out;
  }();
  const PublicKey& key = bench::Keys().Public(hsm::KeyUse::kAudit);
  for (auto _ : state) {
    auto r = audit::VerifyExport(*text, key, std::nullopt);
    if (!r.ok() || r->entries != 100000) state.SkipWithError("verify failed");
  }
  state.counters["entries"] = 100000;
}
BENCHMARK(BM_VerifyExport)->Unit(benchmark::kMillisecond)->Iterations(3);

}  // namespace
}  // namespace authd

BENCHMARK_MAIN();
