// Daemon: authd's object graph, built in dependency order from a Config, and
// what the main loop asks of it (serve, reload, say how it is, stop). One per
// process; members are declared in construction order so they are destroyed
// in reverse. Every start-up failure is a Status whose message an operator
// can act on; main prints it as one line.
#ifndef AUTHD_AUTHD_DAEMON_H_
#define AUTHD_AUTHD_DAEMON_H_

#include <signal.h>

#include <chrono>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "api/admin_handler.h"
#include "api/audit_handler.h"
#include "api/check_handler.h"
#include "api/console_handler.h"
#include "api/discovery_handler.h"
#include "api/http_server.h"
#include "api/ops_handler.h"
#include "api/router.h"
#include "api/tls_identity.h"
#include "api/token_handler.h"
#include "audit/audit_log.h"
#include "authd/config.h"
#include "authority/access.h"
#include "authority/console_sessions.h"
#include "authority/failure_limiter.h"
#include "authority/instrumented_key_ops.h"
#include "authority/key_ring.h"
#include "authority/metrics.h"
#include "authority/revocations.h"
#include "authority/token_service.h"
#include "hsm/pkcs11_key_ops.h"
#include "storage/storage.h"

namespace authd {

// Raised by the daemon to wake main's loop when authd must exit: the HSM
// stopped answering (see hsm::Supervisor). main blocks it before any thread
// starts and takes it with sigtimedwait.
inline constexpr int kFatalSignal = SIGUSR1;

class Daemon {
 public:
  // Opens the HSM (creating missing keys), the database and the audit log.
  static StatusOr<std::unique_ptr<Daemon>> Open(Config config);
  Daemon(const Daemon&) = delete;
  Daemon& operator=(const Daemon&) = delete;
  ~Daemon();

  // `authd --accept-rollback`: records that the database was restored on
  // purpose and moves the HSM head to it.
  Status AcceptRollback();
  // Loads the access rules and the key ring, records start-up changes, and
  // starts listening.
  Status Serve();
  // SIGHUP: applies what can change live from `fresh` (see
  // KeysNeedingRestart), each part on its own: a part that fails (a broken
  // certificate pair, roles the audit log refuses to record) keeps its
  // running value and logs why. Then one line names what was applied and
  // what waits for a restart. Called on the main thread only.
  // REQUIRES: Serve() succeeded.
  void Reload(const Config& fresh);
  // The one-line state systemd shows in `systemctl status`. Lock-free
  // reads only, so a hung HSM call cannot stall the main loop.
  std::string StatusLine() const;
  // Why authd must exit (the HSM stopped answering); empty otherwise.
  std::string FatalReason() const;
  // The HSM session pool's counts, for the shutdown log line.
  hsm::PoolStats HsmStats() const;
  // How long a stop may take: requests in flight get their whole deadline
  // (server.connection_timeout_seconds), plus hsm.timeout_ms for an HSM call
  // they are in. A stop not done by then is waiting on a stuck HSM call.
  std::chrono::milliseconds DrainBound() const;
  void Stop();

  const Config& config() const { return config_; }

 private:
  explicit Daemon(Config config) : config_(std::move(config)) {}
  Status OpenHsm();
  Status OpenState();
  Status LoadAccess();
  Status StartConsole();
  void StartApi();
  // Parts of Reload; each appends the names of what it applied to `done` and
  // updates config_, which holds the values in force.
  void ApplyLive(const Config& fresh, std::vector<std::string>* done);
  void ApplyTokens(const authority::TokenOptions& fresh,
                   std::vector<std::string>* done);
  void ApplyRoles(const std::vector<authority::Role>& fresh,
                  std::vector<std::string>* done);
  void ApplyTls(const Config& fresh, std::vector<std::string>* done,
                std::vector<std::string>* restart);

  // The configuration in force: the start's, with what reloads applied.
  Config config_;
  authority::Metrics metrics_;
  std::vector<std::string> created_keys_;  // labels the HSM layer generated
  std::unique_ptr<hsm::Pkcs11KeyOps> hsm_;
  std::unique_ptr<api::TlsIdentity> tls_identity_;
  std::string tls_cert_pem_;  // the chain loaded at start
  std::unique_ptr<authority::InstrumentedKeyOps> keys_;
  std::unique_ptr<storage::Storage> storage_;
  std::unique_ptr<audit::AuditLog> audit_;
  std::unique_ptr<authority::Access> access_;
  std::unique_ptr<authority::KeyRing> ring_;
  std::unique_ptr<authority::Revocations> revocations_;
  std::unique_ptr<authority::FailureLimiter> limiter_;
  std::unique_ptr<authority::TokenService> tokens_;
  std::unique_ptr<api::Readiness> readiness_;
  std::unique_ptr<api::TokenHandler> token_handler_;
  std::unique_ptr<api::CheckHandler> check_handler_;
  std::unique_ptr<api::DiscoveryHandler> discovery_handler_;
  std::unique_ptr<api::OpsHandler> ops_handler_;
  std::unique_ptr<api::AdminHandler> admin_handler_;
  std::unique_ptr<api::AuditHandler> audit_handler_;
  std::unique_ptr<authority::ConsoleSessions> console_sessions_;
  std::unique_ptr<api::ConsoleHandler> console_handler_;
  std::unique_ptr<api::Router> router_;
  std::unique_ptr<api::HttpServer> server_;
};

}  // namespace authd

#endif  // AUTHD_AUTHD_DAEMON_H_
