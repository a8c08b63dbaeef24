#include "authority/metrics.h"

#include <cstdio>

namespace authd::authority {
namespace {

constexpr const char* kTokenFailureNames[] = {
    "invalid_request", "unsupported_grant_type", "invalid_client",
    "invalid_scope",   "rate_limited",           "access_denied",
    "unavailable"};
constexpr const char* kEndpointNames[] = {
    "token", "jwks",  "metadata",   "health", "metrics", "admin",
    "audit", "check", "introspect", "revoke", "console", "other"};
constexpr const char* kCheckResultNames[] = {"allowed", "unauthenticated",
                                             "forbidden", "unavailable"};
constexpr const char* kAdminActionNames[] = {
    "credential.create", "credential.delete", "allowlist.add",
    "allowlist.remove"};
constexpr const char* kHsmOpNames[] = {"sign", "hmac", "random", "data"};

std::string Num(double v) {
  char buf[32];
  snprintf(buf, sizeof buf, "%.9g", v);
  return buf;
}

void Header(std::string* out, const char* name, const char* type,
            const char* help) {
  *out += std::string("# HELP ") + name + " " + help + "\n# TYPE " + name +
          " " + type + "\n";
}

}  // namespace

void Histogram::Observe(double seconds) {
  for (size_t i = 0; i < kBounds.size(); ++i) {
    if (seconds <= kBounds[i]) {
      buckets_[i].fetch_add(1, std::memory_order_relaxed);
      break;
    }
  }
  count_.fetch_add(1, std::memory_order_relaxed);
  sum_nanos_.fetch_add(static_cast<uint64_t>(seconds * 1e9),
                       std::memory_order_relaxed);
}

void Histogram::Render(std::string* out, std::string_view name,
                       std::string_view labels) const {
  std::string n(name), sep = labels.empty() ? "" : ",";
  uint64_t cumulative = 0;
  for (size_t i = 0; i < kBounds.size(); ++i) {
    cumulative += buckets_[i].load(std::memory_order_relaxed);
    *out += n + "_bucket{" + std::string(labels) + sep + "le=\"" +
            Num(kBounds[i]) + "\"} " + std::to_string(cumulative) + "\n";
  }
  uint64_t count = count_.load(std::memory_order_relaxed);
  std::string braces = labels.empty() ? "" : "{" + std::string(labels) + "}";
  *out += n + "_bucket{" + std::string(labels) + sep + "le=\"+Inf\"} " +
          std::to_string(count) + "\n";
  *out += n + "_sum" + braces + " " +
          Num(static_cast<double>(sum_nanos_.load()) / 1e9) + "\n";
  *out += n + "_count" + braces + " " + std::to_string(count) + "\n";
}

void Metrics::Hsm(HsmOp op, double seconds, bool ok) {
  hsm_latency_[static_cast<size_t>(op)].Observe(seconds);
  if (!ok) Add(hsm_errors_, op);
}

namespace {

// One unlabelled sample.
void Single(std::string* out, const char* name, const char* type,
            const char* help, uint64_t value) {
  Header(out, name, type, help);
  *out += std::string(name) + " " + std::to_string(value) + "\n";
}

// One counter per label value.
template <typename Counters>
void Labelled(std::string* out, const char* name, const char* help,
              const char* label, const char* const* values,
              const Counters& counters) {
  Header(out, name, "counter", help);
  for (size_t i = 0; i < counters.size(); ++i) {
    *out += std::string(name) + "{" + label + "=\"" + values[i] + "\"} " +
            std::to_string(counters[i].load()) + "\n";
  }
}

template <typename Hists>
void Histograms(std::string* out, const char* name, const char* help,
                const char* label, const char* const* values,
                const Hists& hists) {
  Header(out, name, "histogram", help);
  for (size_t i = 0; i < hists.size(); ++i) {
    hists[i].Render(out, name, std::string(label) + "=\"" + values[i] + "\"");
  }
}

}  // namespace

void Metrics::RenderCounters(std::string* out) const {
  Single(out, "authd_tokens_issued_total", "counter", "Access tokens issued.",
         tokens_issued_.load());
  Labelled(out, "authd_token_failures_total",
           "Token requests refused, by reason.", "reason", kTokenFailureNames,
           token_failures_);
  Single(out, "authd_tokens_revoked_total", "counter",
         "Access tokens revoked by their clients (RFC 7009).",
         tokens_revoked_.load());
  Labelled(out, "authd_gateway_checks_total",
           "Gateway checks (GET /v1/auth/check), by result.", "result",
           kCheckResultNames, checks_);
  Labelled(out, "authd_admin_changes_total",
           "Committed administrative changes, by action.", "action",
           kAdminActionNames, admin_changes_);
  Histograms(out, "authd_http_request_duration_seconds",
             "HTTP request latency, by endpoint.", "endpoint", kEndpointNames,
             requests_);
  Histograms(out, "authd_hsm_operation_duration_seconds",
             "HSM operation latency, by operation.", "op", kHsmOpNames,
             hsm_latency_);
  Labelled(out, "authd_hsm_errors_total",
           "HSM operations that failed, by operation.", "op", kHsmOpNames,
           hsm_errors_);
  Labelled(out, "authd_hsm_busy_total",
           "HSM operations refused because no pooled session came free in "
           "time (back-pressure, not an HSM fault), by operation.",
           "op", kHsmOpNames, hsm_busy_);
}

void Metrics::RenderGauges(const Gauges& g, std::string* out) {
  Single(out, "authd_ready", "gauge",
         "1 when the HSM and the audit log are usable.", g.ready ? 1 : 0);
  Single(out, "authd_hsm_sessions_in_use", "gauge", "HSM sessions leased now.",
         g.hsm_sessions_in_use);
  Single(out, "authd_hsm_sessions_open", "gauge", "HSM sessions open.",
         g.hsm_sessions_open);
  Single(out, "authd_hsm_calls_stuck", "gauge",
         "HSM calls abandoned after hsm.timeout_ms that have not returned.",
         g.hsm_calls_stuck);
  Single(out, "authd_hsm_calls_abandoned_total", "counter",
         "HSM calls abandoned after hsm.timeout_ms.", g.hsm_calls_abandoned);
  Single(out, "authd_allowlist_entries", "gauge",
         "Entries on the IP allowlist.", g.allowlist_entries);
  Single(out, "authd_credentials", "gauge",
         "Client credentials, expired included.", g.credentials);
  Single(out, "authd_audit_entries", "gauge", "Entries in the audit log.",
         g.audit_entries);
  Single(out, "authd_revoked_tokens", "gauge",
         "Revoked access tokens not yet expired.", g.revoked_tokens);
}

std::string Metrics::Render(const Gauges& g, std::string_view version) const {
  std::string out;
  Header(&out, "authd_build_info", "gauge", "Build information.");
  out += "authd_build_info{version=\"" + std::string(version) + "\"} 1\n";
  RenderGauges(g, &out);
  RenderCounters(&out);
  return out;
}

}  // namespace authd::authority
