#include "api/ops_handler.h"

namespace authd::api {

Response OpsHandler::Health() const {
  return Response::Json(200, {{"status", "ok"}});
}

Response OpsHandler::Ready() const {
  bool ready = d_.readiness->Ready();
  // No detail for unauthenticated callers: the reason is in the log and in
  // the admin API's /v1/admin/status.
  nlohmann::json body = {
      {"ready", ready},
      {"hsm", d_.readiness->HsmReady() ? "ok" : "unavailable"},
      {"audit", d_.audit->refusing() ? "refusing changes" : "ok"},
      {"integrity",
       d_.readiness->RowsIntact() ? "ok" : "rows failed their check"}};
  return Response::Json(ready ? 200 : 503, body);
}

Response OpsHandler::MetricsPage() const {
  if (d_.metrics == nullptr) {
    return Response::Error(404, "not_found", "metrics are off");
  }
  authority::Metrics::Gauges g;
  g.ready = d_.readiness->Ready();
  if (d_.hsm_sessions) {
    hsm::PoolStats s = d_.hsm_sessions();
    g.hsm_sessions_in_use = s.in_use;
    g.hsm_sessions_open = s.open;
    g.hsm_calls_stuck = s.stuck;
    g.hsm_calls_abandoned = s.abandoned;
  }
  auto snap = d_.access->Current();
  g.allowlist_entries = snap->allowlist.size();
  g.credentials = snap->credentials.size();
  g.audit_entries = d_.audit->size();
  if (d_.revocations) g.revoked_tokens = d_.revocations->Current()->size();
  Response r;
  r.content_type = "text/plain; version=0.0.4; charset=utf-8";
  r.body = d_.metrics->Render(g, d_.version);
  return r;
}

}  // namespace authd::api
