// The gateway check in process: what GET /v1/auth/check costs without the
// transport, for a token seen before (the cache hit every request after a
// client's first pays) and for one never seen (signature verification), and
// the ECDSA verification alone, the work the cache saves. Everything is
// real: SQLite in a scratch dir, the audit log, Access, the key ring and the
// revocations over the benchmarks' SoftHSM2 token, tokens issued by
// TokenService. The request is what nginx's auth_request sends: the
// client's Authorization, X-Original-URI/-Method and X-Forwarded-For, from a
// trusted proxy, matched against a [gateway] route.
//
// The BM_*ViaRouter pair runs a check and a JWKS GET through the real route
// table (Admit, Handle, Observe): the in-process part of what
// bench/check_load.sh compares over HTTP.
//
// After the table, the ratios of the same run are printed (of the medians
// with --benchmark_repetitions): shared machines move the absolute figures,
// the ratios much less.
#include <benchmark/benchmark.h>
#include <unistd.h>

#include <atomic>
#include <cstdio>
#include <map>
#include <memory>
#include <string_view>

#include "api/check_handler.h"
#include "api/discovery_handler.h"
#include "api/routes.h"
#include "authority/access.h"
#include "authority/revocations.h"
#include "authority/token_service.h"
#include "bench/bench_token.h"
#include "common/encoding.h"
#include "storage/sqlite_storage.h"

namespace authd {
namespace {

using bench::Keys;

[[noreturn]] void Die(const char* what, const Status& st) {
  fprintf(stderr, "check_bench: %s: %s\n", what, st.message().c_str());
  std::exit(1);
}

template <typename T>
T Must(StatusOr<T> v, const char* what) {
  if (!v.ok()) Die(what, v.status());
  return std::move(v).value();
}

authority::GatewayPolicy Policy() {
  authority::GatewayPolicy p;
  p.routes = {{"/api/v1/data", {"GET", "HEAD"}, {"data:read"}},
              {"/api/v1/devices", {"POST"}, {"devices:control"}},
              {"/api/v1/admin", {}, {"admin:read"}}};
  return p;
}

// The objects Daemon builds for the check and JWKS, and one credential.
struct Gate {
  std::unique_ptr<storage::SqliteStorage> storage;
  std::unique_ptr<audit::AuditLog> audit;
  std::unique_ptr<authority::Access> access;
  std::unique_ptr<authority::KeyRing> ring;
  std::unique_ptr<authority::Revocations> revocations;
  std::unique_ptr<authority::FailureLimiter> limiter;
  std::unique_ptr<authority::TokenService> tokens;
  authority::Metrics metrics;
  std::unique_ptr<api::CheckHandler> check;
  std::unique_ptr<api::DiscoveryHandler> discovery;
  std::unique_ptr<api::Router> router;
  std::string client_id, secret;

  Gate() {
    const Clock* clock = &SystemClock::Get();
    std::string dir = bench::ScratchDir("check");
    storage = Must(storage::SqliteStorage::Open(dir + "/c.db"), "storage");
    audit = Must(audit::AuditLog::Open(storage.get(), &Keys(), clock,
                                       "authd.bench/check", "bench"),
                 "audit log");
    access = Must(authority::Access::Create(storage.get(), audit.get(), &Keys(),
                                            clock, authority::DefaultRoles()),
                  "access");
    ring = Must(authority::KeyRing::Open(storage.get(), audit.get(), &Keys(),
                                         clock, 600),
                "key ring");
    revocations =
        Must(authority::Revocations::Load(storage.get(), clock), "revocations");
    limiter = std::make_unique<authority::FailureLimiter>(
        clock, authority::LimiterOptions{});
    tokens = std::make_unique<authority::TokenService>(
        ring.get(), access.get(), limiter.get(), revocations.get(), clock,
        authority::TokenOptions{"https://authd.bench", "bench", 600});
    check = std::make_unique<api::CheckHandler>(tokens.get(), access.get(),
                                                Policy(), &metrics);
    discovery = std::make_unique<api::DiscoveryHandler>(
        ring.get(), access.get(), tokens.get(), clock);
    // The real route table; the handlers left null are never reached by
    // the requests below.
    router = std::make_unique<api::Router>(
        api::AuthdRoutes({nullptr, check.get(), discovery.get(), nullptr,
                          nullptr, nullptr, nullptr}),
        access.get(), tokens.get(),
        std::vector<Cidr>{Must(Cidr::Parse("127.0.0.1/32"), "proxy")},
        &metrics);
    Allow("127.0.0.1");     // the gateway itself (and the JWKS reader)
    Allow("192.0.2.0/24");  // the clients behind it
    auto cred = Must(access->CreateCredential(
                         {"bench", "viewer", clock->NowSeconds() + 86400, ""},
                         {"uid:0", "local"}),
                     "credential");
    client_id = cred.credential.client_id;
    secret = std::string(cred.client_secret.view());
  }

  void Allow(const char* cidr) {
    Must(access->AddAllowlist(cidr, {"uid:0", "local"}), "allowlist");
  }

  std::string Issue() const {
    authority::TokenOutcome t =
        tokens->Issue({{client_id, secret, "127.0.0.1"}, {}});
    if (!t.status.ok()) Die("issue", t.status);
    return t.token.access_token;
  }

  // nginx auth_request's subrequest, the client resolved as Admit does.
  api::Request CheckRequest(const std::string& token) const {
    api::Request r;
    r.method = "GET";
    r.path = api::kCheckPath;
    r.headers = {{"host", "authd.internal:8443"},
                 {"authorization", "Bearer " + token},
                 {"x-original-uri", "/api/v1/data/sites/7?from=2026-12-01"},
                 {"x-original-method", "GET"},
                 {"x-forwarded-for", "192.0.2.10"},
                 {"user-agent", "nginx"},
                 {"connection", "close"}};
    r.peer = IpAddress::Parse("127.0.0.1");
    r.request_id = "0000000000000001";
    return r;
  }

  api::Request JwksRequest() const {
    api::Request r;
    r.method = "GET";
    r.path = "/v1/auth/jwks";
    r.headers = {{"host", "authd.internal:8443"},
                 {"user-agent", "nginx"},
                 {"accept", "application/json"}};
    r.peer = IpAddress::Parse("127.0.0.1");
    r.request_id = "0000000000000001";
    return r;
  }
};

Gate& GetGate() {
  static Gate* gate = new Gate();
  return *gate;
}

// One issued token, its request with the client resolved, and its
// signature split off for the verification-only reference.
struct OneToken {
  std::string token;
  api::Request request;
  std::string signing_input, signature;
  std::shared_ptr<const authority::KeyRing::Snapshot> ring;

  OneToken() {
    Gate& g = GetGate();
    token = g.Issue();
    request = g.CheckRequest(token);
    if (g.router->Admit(request) || !request.client ||
        request.client->ToString() != "192.0.2.10") {
      fprintf(stderr, "check_bench: the client was not resolved\n");
      std::exit(1);
    }
    size_t dot = token.rfind('.');
    signing_input = token.substr(0, dot);
    signature = Base64UrlDecode(token.substr(dot + 1)).value();
    ring = g.ring->Current();
  }
};

const OneToken& GetOneToken() {
  static const OneToken* one = new OneToken();
  return *one;
}

void Expect204(benchmark::State& state, const api::Response& r) {
  if (r.status != 204) state.SkipWithError(r.body.c_str());
}

void BM_VerifySignatureOnly(benchmark::State& state) {
  const OneToken& t = GetOneToken();
  const PublicKey& key = t.ring->active.pub;
  for (auto _ : state) {
    if (!key.Verify(t.signing_input, t.signature)) {
      state.SkipWithError("signature did not verify");
    }
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_VerifySignatureOnly)->Threads(1)->Threads(2)->UseRealTime();

void BM_CheckCached(benchmark::State& state) {
  const OneToken& t = GetOneToken();
  const api::CheckHandler& check = *GetGate().check;
  for (auto _ : state) {
    api::Response r = check.Check(t.request);
    Expect204(state, r);
    benchmark::DoNotOptimize(r);
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_CheckCached)->Threads(1)->Threads(2)->UseRealTime();

// Defeating the cache honestly: a pool of distinct tokens twice the cache's
// capacity, walked in order by one cursor that all threads share and that
// carries on across the benchmark's repeated runs. The cache (16 shards,
// each evicting its oldest entry) holds at most the last `capacity` tokens
// inserted, and a token comes round again only after the other 2x capacity
// - 1 have been checked, and inserted, since: every check misses (each
// shard gets ~1,250 of the pool against its 625 places). Issuing the pool
// (HMAC and signature in SoftHSM2) takes a few seconds, once.
constexpr size_t kPool = 2 * authority::TokenCache::kDefaultCapacity;

const std::vector<std::string>& Pool() {
  static const std::vector<std::string>* pool = [] {
    auto* out = new std::vector<std::string>();
    out->reserve(kPool);
    for (size_t i = 0; i < kPool; ++i) {
      out->push_back("Bearer " + GetGate().Issue());
    }
    return out;
  }();
  return *pool;
}

std::atomic<size_t> pool_cursor{0};

void BM_CheckUncached(benchmark::State& state) {
  const std::vector<std::string>& pool = Pool();
  api::Request req = GetOneToken().request;
  std::string& auth = req.headers["authorization"];
  const api::CheckHandler& check = *GetGate().check;
  for (auto _ : state) {
    // Copied into the string's buffer, as HttpServer's header copy does.
    auth = pool[pool_cursor.fetch_add(1, std::memory_order_relaxed) % kPool];
    api::Response r = check.Check(req);
    Expect204(state, r);
    benchmark::DoNotOptimize(r);
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_CheckUncached)->Threads(1)->Threads(2)->UseRealTime();

// What a worker thread does between libmicrohttpd's callbacks: a fresh
// Request (HttpServer copies the headers in), Admit, Handle, Observe.
void BM_CheckViaRouter(benchmark::State& state) {
  const OneToken& t = GetOneToken();
  Gate& g = GetGate();
  api::Request tmpl = g.CheckRequest(t.token);
  for (auto _ : state) {
    api::Request req = tmpl;
    if (g.router->Admit(req)) state.SkipWithError("not admitted");
    api::Response r = g.router->Handle(req);
    g.router->Observe(req, 0.0001);
    Expect204(state, r);
    benchmark::DoNotOptimize(r);
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_CheckViaRouter)->Threads(1)->Threads(2)->UseRealTime();

void BM_JwksViaRouter(benchmark::State& state) {
  Gate& g = GetGate();
  api::Request tmpl = g.JwksRequest();
  for (auto _ : state) {
    api::Request req = tmpl;
    if (g.router->Admit(req)) state.SkipWithError("not admitted");
    api::Response r = g.router->Handle(req);
    g.router->Observe(req, 0.0001);
    if (r.status != 200) state.SkipWithError(r.body.c_str());
    benchmark::DoNotOptimize(r);
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_JwksViaRouter)->Threads(1)->Threads(2)->UseRealTime();

// The console table, then the ratios of this run's items/s.
class RatioReporter : public benchmark::ConsoleReporter {
 public:
  using ConsoleReporter::ConsoleReporter;

  void ReportRuns(const std::vector<Run>& runs) override {
    ConsoleReporter::ReportRuns(runs);
    for (const Run& r : runs) {
      auto it = r.counters.find("items_per_second");
      // With --benchmark_repetitions the median, reported last, wins.
      bool usable =
          r.run_type == Run::RT_Iteration ||
          (r.run_type == Run::RT_Aggregate && r.aggregate_name == "median");
      if (r.error_occurred || !usable || it == r.counters.end()) continue;
      rate_[{r.run_name.function_name, r.threads}] = it->second.value;
    }
  }

  void Finalize() override {
    for (int threads : {1, 2}) {
      Ratio("cached/uncached", "BM_CheckCached", "BM_CheckUncached", threads);
      Ratio("uncached/signature-only", "BM_CheckUncached",
            "BM_VerifySignatureOnly", threads);
      Ratio("check/jwks via router", "BM_CheckViaRouter", "BM_JwksViaRouter",
            threads);
    }
    ConsoleReporter::Finalize();
  }

 private:
  void Ratio(const char* label, const std::string& a, const std::string& b,
             int threads) {
    auto x = rate_.find({a, threads}), y = rate_.find({b, threads});
    if (x == rate_.end() || y == rate_.end()) return;
    char line[160];
    snprintf(line, sizeof line, "%-24s threads=%d: %6.2f  (%.0f/s vs %.0f/s)\n",
             label, threads, x->second / y->second, x->second, y->second);
    GetOutputStream() << line;
  }

  std::map<std::pair<std::string, int>, double> rate_;
};

}  // namespace
}  // namespace authd

// The ratios come with the console table; --benchmark_format=json or csv
// gets the library's own reporter, without them.
int main(int argc, char** argv) {
  bool console = true, color = isatty(STDOUT_FILENO);
  for (int i = 1; i < argc; ++i) {
    std::string_view arg = argv[i], value = arg.substr(arg.find('=') + 1);
    if (arg.starts_with("--benchmark_format=")) console = value == "console";
    if (arg.starts_with("--benchmark_color=") && value != "auto") {
      color = value == "true" || value == "yes" || value == "1";
    }
  }
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
  authd::RatioReporter reporter(color ? benchmark::ConsoleReporter::OO_Color
                                      : benchmark::ConsoleReporter::OO_None);
  benchmark::RunSpecifiedBenchmarks(console ? &reporter : nullptr);
  benchmark::Shutdown();
  return 0;
}
