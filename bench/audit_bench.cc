// What a change costs with its audit entry (one HSM signature, one fsync'd
// SQLite transaction), and how long an auditor's offline verification of a
// 100,000-entry export takes.
#include <benchmark/benchmark.h>

#include "api/access.h"
#include "storage/audit_log.h"
#include "storage/audit_verify.h"
#include "storage/sqlite_storage.h"
#include "testing/softhsm_token.h"

namespace authd {
namespace {

struct Log {
  std::unique_ptr<storage::SqliteStorage> storage;
  std::unique_ptr<storage::AuditLog> audit;
  std::unique_ptr<api::Access> access;
  explicit Log(const std::string& origin) {
    std::string dir = testing::MakeTempDir("authd-audit-bench-");
    const hsm::KeyOps* keys = &testing::SoftHsmToken::Keys();
    storage = std::move(storage::SqliteStorage::Open(dir + "/a.db")).value();
    audit =
        std::move(storage::AuditLog::Open(storage.get(), keys,
                                          &SystemClock::Get(), origin, "bench"))
            .value();
    access =
        std::move(api::Access::Create(storage.get(), audit.get(), keys,
                                      &SystemClock::Get(), api::DefaultRoles()))
            .value();
  }
};

void BM_CredentialCreateWithAudit(benchmark::State& state) {
  static Log* log = new Log("bench.local/create");
  int64_t expires = SystemClock::Get().NowSeconds() + 86400;
  for (auto _ : state) {
    auto c = log->access->CreateCredential({"bench", "viewer", expires, ""},
                                           {"uid:0", "unix"});
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
    std::vector<storage::AuditEvent> events;
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
      *out += storage::AuditEntryJson(r.leaf).value().dump() + "\n";
    }
    *out +=
        nlohmann::json{{"checkpoint", log.audit->LatestCheckpoint().value()}}
            .dump() +
        "\n";
    return out;
  }();
  const hsm::PublicKey& key =
      testing::SoftHsmToken::Keys().Public(hsm::KeyUse::kAudit);
  for (auto _ : state) {
    auto r = storage::VerifyExport(*text, key, std::nullopt);
    if (!r.ok() || r->entries != 100000) state.SkipWithError("verify failed");
  }
  state.counters["entries"] = 100000;
}
BENCHMARK(BM_VerifyExport)->Unit(benchmark::kMillisecond)->Iterations(3);

}  // namespace
}  // namespace authd

BENCHMARK_MAIN();
