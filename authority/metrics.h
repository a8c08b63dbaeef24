// Metrics: authd's counters and histograms, rendered in the Prometheus text
// exposition format (version 0.0.4) at GET /metrics. Every series has a fixed
// label set known at compile time, so recording is a relaxed atomic add with
// no lookup and no lock. Thread-safe.
#ifndef AUTHD_AUTHORITY_METRICS_H_
#define AUTHD_AUTHORITY_METRICS_H_

#include <array>
#include <atomic>
#include <cstdint>
#include <string>
#include <string_view>

namespace authd::authority {

class Histogram {
 public:
  // Upper bounds in seconds, chosen for sub-millisecond HSM operations up to
  // multi-second stalls.
  static constexpr std::array<double, 12> kBounds = {
      0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005,
      0.01,   0.025,   0.05,   0.1,   0.5,    2.5};
  void Observe(double seconds);
  // Appends the _bucket, _sum and _count lines for `name{labels}`.
  void Render(std::string* out, std::string_view name,
              std::string_view labels) const;

 private:
  std::array<std::atomic<uint64_t>, kBounds.size()> buckets_{};
  std::atomic<uint64_t> count_{0};
  std::atomic<uint64_t> sum_nanos_{0};
};

enum class TokenFailure {
  kInvalidRequest,
  kUnsupportedGrantType,
  kInvalidClient,
  kInvalidScope,
  kRateLimited,
  kAccessDenied,
  kUnavailable,
  kCount
};

enum class Endpoint {
  kToken,
  kJwks,
  kMetadata,
  kHealth,
  kMetrics,
  kAdmin,
  kAudit,
  kCheck,
  kIntrospect,
  kRevoke,
  kConsole,  // the web console's page, files and API
  kOther,
  kCount
};

// How a gateway check (GET /v1/auth/check) ended.
enum class CheckResult {
  kAllowed,
  kUnauthenticated,
  kForbidden,
  kUnavailable,
  kCount
};

enum class AdminAction {
  kCredentialCreate,
  kCredentialDelete,
  kAllowlistAdd,
  kAllowlistRemove,
  kCount
};

enum class HsmOp { kSign, kHmac, kRandom, kData, kCount };

class Metrics {
 public:
  void TokenIssued() { tokens_issued_.fetch_add(1, std::memory_order_relaxed); }
  void TokenFailed(TokenFailure f) { Add(token_failures_, f); }
  void TokenRevoked() {
    tokens_revoked_.fetch_add(1, std::memory_order_relaxed);
  }
  void Check(CheckResult r) { Add(checks_, r); }
  void AdminChange(AdminAction a) { Add(admin_changes_, a); }
  void Request(Endpoint e, double seconds) {
    requests_[static_cast<size_t>(e)].Observe(seconds);
  }
  void Hsm(HsmOp op, double seconds, bool ok);
  // No pooled HSM session came free in time (back-pressure, not a fault).
  void HsmBusy(HsmOp op) { Add(hsm_busy_, op); }

  // Point-in-time values gathered at scrape.
  struct Gauges {
    bool ready = false;
    size_t hsm_sessions_in_use = 0, hsm_sessions_open = 0;
    size_t hsm_calls_stuck = 0;        // abandoned, not returned yet
    uint64_t hsm_calls_abandoned = 0;  // a counter kept by the pool
    size_t allowlist_entries = 0, credentials = 0;
    uint64_t audit_entries = 0;
    size_t revoked_tokens = 0;  // revoked and not yet expired
  };
  std::string Render(const Gauges& g, std::string_view version) const;

 private:
  template <typename A, typename E>
  static void Add(A& arr, E e) {
    arr[static_cast<size_t>(e)].fetch_add(1, std::memory_order_relaxed);
  }

  void RenderCounters(std::string* out) const;
  static void RenderGauges(const Gauges& g, std::string* out);

  std::atomic<uint64_t> tokens_issued_{0};
  std::atomic<uint64_t> tokens_revoked_{0};
  std::array<std::atomic<uint64_t>, static_cast<size_t>(CheckResult::kCount)>
      checks_{};
  std::array<std::atomic<uint64_t>, static_cast<size_t>(TokenFailure::kCount)>
      token_failures_{};
  std::array<std::atomic<uint64_t>, static_cast<size_t>(AdminAction::kCount)>
      admin_changes_{};
  std::array<Histogram, static_cast<size_t>(Endpoint::kCount)> requests_;
  std::array<Histogram, static_cast<size_t>(HsmOp::kCount)> hsm_latency_;
  std::array<std::atomic<uint64_t>, static_cast<size_t>(HsmOp::kCount)>
      hsm_errors_{};
  std::array<std::atomic<uint64_t>, static_cast<size_t>(HsmOp::kCount)>
      hsm_busy_{};
};

}  // namespace authd::authority

#endif  // AUTHD_AUTHORITY_METRICS_H_
