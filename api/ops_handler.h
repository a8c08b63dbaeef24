// OpsHandler: what the machine around authd polls: /healthz (the process
// answers), /readyz (it can serve: HSM usable, audit log accepting changes,
// every stored row intact, start-up finished) and /metrics (Prometheus text
// format). /readyz carries no internal detail; the admin API's status and
// `authctl status` say why. None of them takes a lock that is held across
// HSM or disk I/O, so a hung HSM call cannot stall them. Thread-safe.
#ifndef AUTHD_API_OPS_HANDLER_H_
#define AUTHD_API_OPS_HANDLER_H_

#include <atomic>
#include <functional>
#include <string>
#include <utility>

#include "api/http.h"
#include "audit/audit_log.h"
#include "authority/access.h"
#include "authority/metrics.h"
#include "authority/revocations.h"
#include "hsm/key_ops.h"
#include "hsm/pool_stats.h"

namespace authd::api {

// Whether authd can serve: its own flag, the HSM's, the audit log's and,
// when `access` is given, that every stored row passed its integrity check.
// All are published values (atomics, snapshots): a probe never waits for a
// lock that a change holds across HSM or disk I/O.
class Readiness {
 public:
  Readiness(const hsm::KeyOps* keys, const audit::AuditLog* audit,
            const authority::Access* access = nullptr)
      : keys_(keys), audit_(audit), access_(access) {}
  void Set(bool ready) { ready_.store(ready); }
  bool Ready() const {
    return ready_.load() && keys_->Ready() && !audit_->refusing() &&
           RowsIntact();
  }
  bool HsmReady() const { return keys_->Ready(); }
  bool RowsIntact() const {
    return access_ == nullptr || access_->Current()->failures.empty();
  }

 private:
  const hsm::KeyOps* keys_;
  const audit::AuditLog* audit_;
  const authority::Access* access_;
  std::atomic<bool> ready_{true};
};

class OpsHandler {
 public:
  struct Deps {
    const Readiness* readiness;
    const authority::Access* access;
    const audit::AuditLog* audit;
    const authority::Revocations* revocations = nullptr;  // may be null
    authority::Metrics* metrics = nullptr;  // null: /metrics answers 404
    // The HSM session pool's counts, for /metrics (lock-free); may be empty.
    std::function<hsm::PoolStats()> hsm_sessions;
    std::string version;
  };
  explicit OpsHandler(Deps deps) : d_(std::move(deps)) {}

  Response Health() const;
  Response Ready() const;
  Response MetricsPage() const;

 private:
  const Deps d_;
};

}  // namespace authd::api

#endif  // AUTHD_API_OPS_HANDLER_H_
