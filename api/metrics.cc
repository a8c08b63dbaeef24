#include "api/metrics.h"

#include <chrono>
#include <cstdio>

namespace authd::api {
namespace {

constexpr const char* kTokenFailureNames[] = {
    "invalid_request", "unsupported_grant_type", "invalid_client",
    "invalid_scope",   "rate_limited",           "access_denied",
    "unavailable"};
constexpr const char* kEndpointNames[] = {"token",  "jwks",    "metadata",
                                          "health", "metrics", "admin",
                                          "audit",  "other"};
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

template <typename F>
auto Timed(Metrics* m, HsmOp op, F&& f) {
  auto start = std::chrono::steady_clock::now();
  auto result = f();
  double s =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start)
          .count();
  m->Hsm(op, s, result.ok());
  return result;
}

}  // namespace

Endpoint EndpointFor(std::string_view p) {
  if (p == "/v1/auth/token") return Endpoint::kToken;
  if (p == "/v1/auth/jwks" || p == "/.well-known/jwks.json") {
    return Endpoint::kJwks;
  }
  if (p == "/.well-known/oauth-authorization-server")
    return Endpoint::kMetadata;
  if (p == "/healthz" || p == "/readyz") return Endpoint::kHealth;
  if (p == "/metrics") return Endpoint::kMetrics;
  if (p.rfind("/v1/admin/audit", 0) == 0) return Endpoint::kAudit;
  if (p.rfind("/v1/admin/", 0) == 0) return Endpoint::kAdmin;
  return Endpoint::kOther;
}

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

std::string Metrics::Render(const Gauges& g, std::string_view version) const {
  std::string out;
  Header(&out, "authd_build_info", "gauge", "Build information.");
  out += "authd_build_info{version=\"" + std::string(version) + "\"} 1\n";
  Header(&out, "authd_ready", "gauge",
         "1 when the HSM, storage and audit log are usable.");
  out += "authd_ready " + std::to_string(g.ready ? 1 : 0) + "\n";
  Header(&out, "authd_tokens_issued_total", "counter", "Access tokens issued.");
  out += "authd_tokens_issued_total " + std::to_string(tokens_issued_.load()) +
         "\n";
  Header(&out, "authd_token_failures_total", "counter",
         "Token requests refused, by reason.");
  for (size_t i = 0; i < token_failures_.size(); ++i) {
    out += std::string("authd_token_failures_total{reason=\"") +
           kTokenFailureNames[i] + "\"} " +
           std::to_string(token_failures_[i].load()) + "\n";
  }
  Header(&out, "authd_admin_changes_total", "counter",
         "Committed administrative changes, by action.");
  for (size_t i = 0; i < admin_changes_.size(); ++i) {
    out += std::string("authd_admin_changes_total{action=\"") +
           kAdminActionNames[i] + "\"} " +
           std::to_string(admin_changes_[i].load()) + "\n";
  }
  Header(&out, "authd_http_request_duration_seconds", "histogram",
         "HTTP request latency, by endpoint.");
  for (size_t i = 0; i < requests_.size(); ++i) {
    requests_[i].Render(&out, "authd_http_request_duration_seconds",
                        std::string("endpoint=\"") + kEndpointNames[i] + "\"");
  }
  Header(&out, "authd_hsm_operation_duration_seconds", "histogram",
         "HSM operation latency, by operation.");
  for (size_t i = 0; i < hsm_latency_.size(); ++i) {
    hsm_latency_[i].Render(&out, "authd_hsm_operation_duration_seconds",
                           std::string("op=\"") + kHsmOpNames[i] + "\"");
  }
  Header(&out, "authd_hsm_errors_total", "counter",
         "HSM operations that failed, by operation.");
  for (size_t i = 0; i < hsm_errors_.size(); ++i) {
    out += std::string("authd_hsm_errors_total{op=\"") + kHsmOpNames[i] +
           "\"} " + std::to_string(hsm_errors_[i].load()) + "\n";
  }
  Header(&out, "authd_hsm_sessions_in_use", "gauge",
         "HSM sessions leased now.");
  out += "authd_hsm_sessions_in_use " + std::to_string(g.hsm_sessions_in_use) +
         "\n";
  Header(&out, "authd_hsm_sessions_open", "gauge", "HSM sessions open.");
  out +=
      "authd_hsm_sessions_open " + std::to_string(g.hsm_sessions_open) + "\n";
  Header(&out, "authd_allowlist_entries", "gauge",
         "Entries on the IP allowlist.");
  out +=
      "authd_allowlist_entries " + std::to_string(g.allowlist_entries) + "\n";
  Header(&out, "authd_credentials", "gauge",
         "Client credentials, expired included.");
  out += "authd_credentials " + std::to_string(g.credentials) + "\n";
  Header(&out, "authd_audit_entries", "gauge", "Entries in the audit log.");
  out += "authd_audit_entries " + std::to_string(g.audit_entries) + "\n";
  return out;
}

StatusOr<std::string> InstrumentedKeyOps::SignEs256(
    hsm::KeyUse use, std::string_view data) const {
  return Timed(metrics_, HsmOp::kSign,
               [&] { return inner_->SignEs256(use, data); });
}
StatusOr<std::string> InstrumentedKeyOps::SignWith(
    const std::string& label, std::string_view data) const {
  return Timed(metrics_, HsmOp::kSign,
               [&] { return inner_->SignWith(label, data); });
}
StatusOr<std::string> InstrumentedKeyOps::HmacPepper(
    std::string_view data) const {
  return Timed(metrics_, HsmOp::kHmac,
               [&] { return inner_->HmacPepper(data); });
}
StatusOr<std::string> InstrumentedKeyOps::Random(size_t n) const {
  return Timed(metrics_, HsmOp::kRandom, [&] { return inner_->Random(n); });
}
StatusOr<std::vector<std::string>> InstrumentedKeyOps::ReadData(
    const std::string& label) const {
  return Timed(metrics_, HsmOp::kData, [&] { return inner_->ReadData(label); });
}
Status InstrumentedKeyOps::WriteData(const std::string& label,
                                     std::string_view value) const {
  return Timed(metrics_, HsmOp::kData,
               [&] { return inner_->WriteData(label, value); });
}

}  // namespace authd::api
