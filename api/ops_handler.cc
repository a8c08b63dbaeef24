#include "api/ops_handler.h"

#include <tuple>

namespace authd::api {

Response OpsHandler::Health() const {
  return Response::Json(200, {{"status", "ok"}});
}

Response OpsHandler::Ready() const {
  bool ready = readiness_->Ready();
  // No detail for unauthenticated callers: the reason is in the log and in
  // the admin API's /v1/admin/status.
  nlohmann::json body = {
      {"ready", ready},
      {"hsm", readiness_->HsmReady() ? "ok" : "unavailable"},
      {"audit", audit_->refusal().empty() ? "ok" : "refusing changes"}};
  return Response::Json(ready ? 200 : 503, body);
}

Response OpsHandler::MetricsPage() const {
  if (metrics_ == nullptr) {
    return Response::Error(404, "not_found", "metrics are off");
  }
  authority::Metrics::Gauges g;
  g.ready = readiness_->Ready();
  if (hsm_sessions_) {
    std::tie(g.hsm_sessions_in_use, g.hsm_sessions_open) = hsm_sessions_();
  }
  auto snap = access_->Current();
  g.allowlist_entries = snap->allowlist.size();
  g.credentials = snap->credentials.size();
  g.audit_entries = audit_->size();
  Response r;
  r.content_type = "text/plain; version=0.0.4; charset=utf-8";
  r.body = metrics_->Render(g, version_);
  return r;
}

}  // namespace authd::api
