// The audit log at scale, for bench/report.d/30-audit.sh: grows the log of
// a stopped authd (its database and its SoftHSM2 token, SOFTHSM2_CONF set
// by the caller) to N entries through AuditLog itself, so every entry has
// its signed checkpoint, its tree nodes and its HSM head, and the result
// verifies; then times inclusion and consistency proofs over random pairs,
// against the same proofs in a 1,024-entry log measured in the same run.
//
//   audit_scale DB PIN_FILE ENTRIES PAIRS
//
// Prints REPORT lines (bench/report.d/README.md); progress goes to stderr.
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <fstream>
#include <random>
#include <string>
#include <vector>

#include "audit/audit_log.h"
#include "hsm/pkcs11_key_ops.h"
#include "storage/sqlite_storage.h"

namespace authd {
namespace {

using Clock = std::chrono::steady_clock;

[[noreturn]] void Die(const std::string& what) {
  fprintf(stderr, "audit_scale: %s\n", what.c_str());
  std::exit(1);
}

template <typename T>
T Must(StatusOr<T> v, const char* what) {
  if (!v.ok()) Die(std::string(what) + ": " + v.status().message());
  return std::move(v).value();
}

// Appends entries in batches of 10,000 (one change, one checkpoint each)
// until the log holds `entries`; returns every checkpointed size.
std::vector<uint64_t> Fill(audit::AuditLog* log, uint64_t entries) {
  std::vector<uint64_t> sizes;
  auto start = Clock::now();
  while (log->size() < entries) {
    uint64_t n = std::min<uint64_t>(10000, entries - log->size());
    std::vector<audit::AuditEvent> events;
    for (uint64_t i = 0; i < n; ++i) {
      uint64_t k = log->size() + i;
      events.push_back({"uid:0",
                        "unix",
                        "allowlist.add",
                        "10." + std::to_string((k >> 16) & 255) + "." +
                            std::to_string((k >> 8) & 255) + "." +
                            std::to_string(k & 255) + "/32",
                        {},
                        "bench"});
    }
    Status st =
        log->Record([](storage::Transaction&) { return Status::Ok(); }, events);
    if (!st.ok()) Die("record: " + st.message());
    sizes.push_back(log->size());
  }
  fprintf(stderr, "audit_scale: %llu entries in the log (%.1f s to add)\n",
          static_cast<unsigned long long>(log->size()),
          std::chrono::duration<double>(Clock::now() - start).count());
  return sizes;
}

struct Times {
  double p50 = 0, p99 = 0;  // milliseconds
};

Times Percentiles(std::vector<double> ms) {
  std::sort(ms.begin(), ms.end());
  return {ms[ms.size() / 2], ms[ms.size() * 99 / 100]};
}

// Proofs for `pairs` random pairs over the checkpointed sizes.
std::pair<Times, Times> TimeProofs(const audit::AuditLog& log,
                                   const std::vector<uint64_t>& sizes,
                                   int pairs) {
  std::mt19937_64 rng(13);
  std::vector<double> inclusion, consistency;
  for (int i = 0; i < pairs; ++i) {
    uint64_t size = sizes[rng() % sizes.size()];
    uint64_t index = rng() % size;
    auto t0 = Clock::now();
    Must(log.InclusionProof(index, size), "inclusion proof");
    auto t1 = Clock::now();
    Must(log.ConsistencyProof(1 + rng() % size, size), "consistency proof");
    auto t2 = Clock::now();
    inclusion.push_back(
        std::chrono::duration<double, std::milli>(t1 - t0).count());
    consistency.push_back(
        std::chrono::duration<double, std::milli>(t2 - t1).count());
  }
  return {Percentiles(inclusion), Percentiles(consistency)};
}

void Report(const std::string& figure, double ms, double goal_ms, double ref_ms,
            const std::string& ref_name) {
  printf(
      "REPORT\t%s\t%.3f ms\t%s\t%.3f ms (%s)\t%.2f\t%s\n", figure.c_str(), ms,
      goal_ms > 0 ? ("< " + std::to_string(int(goal_ms)) + " ms").c_str() : "-",
      ref_ms, ref_name.c_str(), ms / ref_ms,
      goal_ms > 0 ? (ms < goal_ms ? "yes" : "no") : "-");
}

int Main(int argc, char** argv) {
  if (argc != 5) Die("usage: audit_scale DB PIN_FILE ENTRIES PAIRS");
  std::string pin;
  std::ifstream(argv[2]) >> pin;
  uint64_t entries = std::stoull(argv[3]);
  int pairs = std::stoi(argv[4]);
  auto keys = Must(hsm::Pkcs11KeyOps::Create({"softhsm2", "pkcs11:token=authd",
                                              SecureString(pin), 4}),
                   "open the token");
  auto storage =
      Must(storage::SqliteStorage::Open(argv[1]), "open the database");
  auto origin = Must(storage->GetMeta("audit_origin"), "read the origin");
  if (!origin) Die("the database has no audit log yet (start authd once)");
  auto log = Must(audit::AuditLog::Open(storage.get(), keys.get(),
                                        &SystemClock::Get(), *origin, "bench"),
                  "open the audit log");
  if (!log->refusal().empty()) Die("the audit log refuses: " + log->refusal());
  std::vector<uint64_t> sizes = Fill(log.get(), entries);

  std::string small_db = std::string(argv[1]) + ".small";
  auto small_storage = Must(storage::SqliteStorage::Open(small_db), "small db");
  auto small = Must(
      audit::AuditLog::Open(small_storage.get(), keys.get(),
                            &SystemClock::Get(), "bench.local/small", "bench"),
      "open the small log");
  std::vector<uint64_t> small_sizes = Fill(small.get(), 1024);
  auto [ref_inc, ref_con] = TimeProofs(*small, small_sizes, pairs);
  auto [inc, con] = TimeProofs(*log, sizes, pairs);
  std::string n = std::to_string(log->size());
  std::string ref = "same proof, 1,024 entries";
  Report("audit inclusion proof p50, " + n + " entries", inc.p50, 0,
         ref_inc.p50, ref);
  Report("audit inclusion proof p99, " + n + " entries", inc.p99, 5,
         ref_inc.p99, ref);
  Report("audit consistency proof p50, " + n + " entries", con.p50, 0,
         ref_con.p50, ref);
  Report("audit consistency proof p99, " + n + " entries", con.p99, 5,
         ref_con.p99, ref);
  return 0;
}

}  // namespace
}  // namespace authd

int main(int argc, char** argv) { return authd::Main(argc, argv); }
