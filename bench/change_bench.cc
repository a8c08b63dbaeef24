// What a change costs at 1 and 4 concurrent writers: creating a credential
// (two HSM random draws, the pepper HMAC, the audit entry, the checkpoint
// signature, the HSM head writes and the fsync'd commit), in-process on the
// real Access, AuditLog and SqliteStorage over a SoftHSM2 token. The
// references are measured in the same run, on the same token and disk: one
// raw ES256 signature with the audit key, one write of an HSM data object
// (the audit head is written twice per commit) and one bare SQLite
// transaction committed with synchronous=FULL; their sum is what one change
// committed alone waits for in series. Prints bench/report.d lines:
//   REPORT<TAB>figure<TAB>measured<TAB>goal<TAB>reference<TAB>ratio<TAB>met
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <string>
#include <thread>
#include <vector>

#include "audit/audit_log.h"
#include "authority/access.h"
#include "bench/bench_token.h"
#include "storage/sqlite_storage.h"

namespace authd {
namespace {

using Micros = std::vector<double>;

double NowMicros() {
  return std::chrono::duration<double, std::micro>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

double Percentile(Micros v, double p) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  size_t i = static_cast<size_t>(p * static_cast<double>(v.size() - 1));
  return v[i];
}

[[noreturn]] void Die(const std::string& what, const Status& st) {
  std::fprintf(stderr, "change_bench: %s: %s\n", what.c_str(),
               st.message().c_str());
  std::exit(1);
}

struct World {
  std::unique_ptr<storage::SqliteStorage> storage;
  std::unique_ptr<audit::AuditLog> audit;
  std::unique_ptr<authority::Access> access;
  explicit World(const std::string& name) {
    std::string dir = bench::ScratchDir(name);
    const hsm::KeyOps* keys = &bench::Keys();
    auto s = storage::SqliteStorage::Open(dir + "/authd.db");
    if (!s.ok()) Die("open storage", s.status());
    storage = std::move(*s);
    auto a = audit::AuditLog::Open(storage.get(), keys, &SystemClock::Get(),
                                   "bench.local/" + name, "bench");
    if (!a.ok()) Die("open audit log", a.status());
    audit = std::move(*a);
    auto x = authority::Access::Create(storage.get(), audit.get(), keys,
                                       &SystemClock::Get(),
                                       authority::DefaultRoles());
    if (!x.ok()) Die("open access", x.status());
    access = std::move(*x);
  }
};

// Latencies of `per_writer` credential creations on each of `writers`
// threads, after a short warm-up; *checkpoints counts the checkpoints the
// timed changes produced.
Micros CreateLatencies(int writers, int per_writer, double* seconds,
                       double* per_checkpoint) {
  World w("changes-" + std::to_string(writers));
  int64_t expires = SystemClock::Get().NowSeconds() + 86400;
  authority::Actor actor{"uid:0", "unix", true, {}};
  for (int i = 0; i < 10; ++i) {
    auto c = w.access->CreateCredential({"warm", "viewer", expires, ""}, actor);
    if (!c.ok()) Die("create", c.status());
  }
  uint64_t first = w.audit->size();
  std::vector<Micros> each(writers);
  double start = NowMicros();
  std::vector<std::thread> threads;
  for (int t = 0; t < writers; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < per_writer; ++i) {
        double t0 = NowMicros();
        auto c =
            w.access->CreateCredential({"bench", "viewer", expires, ""}, actor);
        if (!c.ok()) Die("create", c.status());
        each[t].push_back(NowMicros() - t0);
      }
    });
  }
  for (auto& t : threads) t.join();
  *seconds = (NowMicros() - start) / 1e6;
  uint64_t last = w.audit->size();
  int checkpoints = 0;
  for (uint64_t size = first + 1; size <= last; ++size) {
    auto c = w.storage->GetCheckpoint(size);
    if (c.ok() && c->has_value()) ++checkpoints;
  }
  *per_checkpoint =
      checkpoints == 0 ? 0 : static_cast<double>(last - first) / checkpoints;
  Micros all;
  for (const Micros& m : each) all.insert(all.end(), m.begin(), m.end());
  return all;
}

Micros SignLatencies(int n) {
  Micros out;
  for (int i = 0; i < n; ++i) {
    double t0 = NowMicros();
    auto sig = bench::Keys().SignEs256(hsm::KeyUse::kAudit,
                                       "checkpoint body " + std::to_string(i));
    if (!sig.ok()) Die("sign", sig.status());
    out.push_back(NowMicros() - t0);
  }
  return out;
}

// One write of a CKO_DATA object, as the audit head is written (twice per
// commit: pending, then committed).
Micros HeadWriteLatencies(int n) {
  Micros out;
  for (int i = 0; i < n; ++i) {
    double t0 = NowMicros();
    Status st = bench::Keys().WriteData("authd-bench-head", std::to_string(i));
    if (!st.ok()) Die("write data object", st);
    out.push_back(NowMicros() - t0);
  }
  return out;
}

Micros CommitLatencies(int n) {
  auto s =
      storage::SqliteStorage::Open(bench::ScratchDir("commit") + "/bare.db");
  if (!s.ok()) Die("open storage", s.status());
  Micros out;
  for (int i = 0; i < n; ++i) {
    double t0 = NowMicros();
    Status st = (*s)->Write([&](storage::Transaction& tx) {
      return tx.PutMeta("bench", std::to_string(i));
    });
    if (!st.ok()) Die("commit", st);
    out.push_back(NowMicros() - t0);
  }
  return out;
}

void Report(const std::string& figure, double ms, const std::string& goal,
            double goal_ms, double reference_ms) {
  char measured[32], ref[96], ratio[32];
  std::snprintf(measured, sizeof measured, "%.1f ms", ms);
  std::snprintf(ref, sizeof ref, "sign + 2 head writes + commit %.1f ms",
                reference_ms);
  std::snprintf(ratio, sizeof ratio, "%.1f x", ms / reference_ms);
  const char* met = goal_ms <= 0 ? "-" : (ms < goal_ms ? "yes" : "no");
  std::printf("REPORT\t%s\t%s\t%s\t%s\t%s\t%s\n", figure.c_str(), measured,
              goal.c_str(), ref, ratio, met);
}

int Main() {
  double sign = Percentile(SignLatencies(200), 0.5) / 1000;
  double head = Percentile(HeadWriteLatencies(100), 0.5) / 1000;
  double commit = Percentile(CommitLatencies(200), 0.5) / 1000;
  // The serial part of one change committed alone.
  double reference = sign + 2 * head + commit;
  std::fprintf(stderr,
               "change_bench: ES256 sign p50 %.2f ms, HSM data object write "
               "p50 %.2f ms, fsync'd SQLite commit p50 %.2f ms\n",
               sign, head, commit);
  for (int writers : {1, 4}) {
    double seconds = 0, per_checkpoint = 0;
    int per_writer = writers == 1 ? 200 : 100;
    Micros lat =
        CreateLatencies(writers, per_writer, &seconds, &per_checkpoint);
    double p50 = Percentile(lat, 0.5) / 1000,
           p99 = Percentile(lat, 0.99) / 1000;
    std::string w =
        std::to_string(writers) + (writers == 1 ? " writer" : " writers");
    bool four = writers == 4;
    Report("credential create p50, " + w, p50, four ? "< 10 ms" : "-",
           four ? 10 : 0, reference);
    Report("credential create p99, " + w, p99, four ? "< 25 ms" : "-",
           four ? 25 : 0, reference);
    std::printf(
        "REPORT\tcredential creates/s, %s\t%.0f /s\t-\t%.0f changes/s "
        "(one change at a time)\t%.2f x\t-\n",
        w.c_str(), lat.size() / seconds, 1000 / reference,
        lat.size() / seconds / (1000 / reference));
    std::fprintf(stderr, "change_bench: %s: %.2f changes per checkpoint\n",
                 w.c_str(), per_checkpoint);
  }
  return 0;
}

}  // namespace
}  // namespace authd

int main() { return authd::Main(); }
