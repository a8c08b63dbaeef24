// authd: the daemon. Wires config, HSM, storage and the HTTP server together,
// then waits for a signal. Every start-up failure ends in one line on stderr
// and a non-zero exit.
#include <fcntl.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <systemd/sd-daemon.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <iostream>
#include <sstream>

#include "api/access.h"
#include "api/app.h"
#include "api/hsm_tls.h"
#include "api/key_ring.h"
#include "api/metrics.h"
#include "api/mhd_server.h"
#include "api/rate_limiter.h"
#include "api/token_service.h"
#include "authd/admin_client.h"
#include "authd/config.h"
#include "authd/version.h"
#include "common/clock.h"
#include "common/log.h"
#include "common/secure.h"
#include "hsm/pkcs11_key_ops.h"
#include "storage/audit_log.h"
#include "storage/sqlite_storage.h"

namespace authd {
namespace {

constexpr char kUsage[] =
    "usage: authd --config FILE\n"
    "       authd --config FILE --accept-rollback\n"
    "       authd --version\n"
    "\n"
    "--accept-rollback records in the audit log that the database was\n"
    "restored on purpose after authd refused it, and exits.\n";

// Reads a whole file named by config `key`, less trailing newlines (a PIN
// file's last newline is not part of the PIN). A `secret` one (PIN, TLS key)
// draws a warning when others can read it.
StatusOr<SecureString> ReadFileFor(const std::string& key,
                                   const std::string& path, bool secret) {
  int fd = open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    return Status::InvalidArgument("cannot read " + key + " " + path + ": " +
                                   strerror(errno));
  }
  struct stat st {};
  fstat(fd, &st);
  if (secret && (st.st_mode & S_IROTH)) {
    Log(LogLevel::kWarn, "event=config msg=\"%s %s is world-readable\"",
        key.c_str(), path.c_str());
  }
  SecureString data;
  char buf[4096];
  ssize_t n;
  while ((n = read(fd, buf, sizeof buf)) > 0) data.append(buf, n);
  OPENSSL_cleanse(buf, sizeof buf);
  close(fd);
  while (!data.empty() && (data.back() == '\n' || data.back() == '\r')) {
    data.pop_back();
  }
  if (data.empty()) {
    return Status::InvalidArgument(key + " " + path + " is empty");
  }
  return data;
}

int WaitForSignals(const std::string& config_path, const Config& c,
                   api::FailureLimiter& limiter, const hsm::Pkcs11KeyOps& hsm,
                   const storage::AuditLog& audit, api::HttpServer& server);

// Fills the server's TLS options from server.tls_cert/tls_key: a key file, or
// a key in the HSM that GnuTLS uses in place.
Status LoadTls(Config& c, const SecureString& pin,
               std::unique_ptr<api::HsmTlsIdentity>* identity) {
  if (c.tls_cert.empty()) return Status::Ok();
  ASSIGN_OR_RETURN(SecureString cert, ReadFileFor("server.tls_cert", c.tls_cert,
                                                  /*secret=*/false));
  c.server.tls_cert_pem = std::string(cert.view());
  if (c.tls_key.rfind("pkcs11:", 0) == 0) {
    ASSIGN_OR_RETURN(*identity, api::HsmTlsIdentity::Load(c.server.tls_cert_pem,
                                                          c.tls_key, pin));
    c.server.tls_cert_callback = (*identity)->CertificateCallback();
    return Status::Ok();
  }
  ASSIGN_OR_RETURN(c.server.tls_key_pem,
                   ReadFileFor("server.tls_key", c.tls_key, /*secret=*/true));
  return Status::Ok();
}

// tokens.algorithm differs from the active key's: rotate to a new key of
// that algorithm, recorded as the system's change.
Status SwitchAlgorithm(api::KeyRing& ring, hsm::Algorithm alg) {
  if (ring.Current()->active.pub.algorithm() == alg) return Status::Ok();
  return ring
      .Rotate(alg, "system", "local",
              std::string("tokens.algorithm is ") + hsm::AlgorithmName(alg))
      .status();
}

int Fail(const Status& st) {
  fprintf(stderr, "authd: %s\n", st.message().c_str());
  return 1;
}

int Run(const std::string& config_path, bool accept_rollback) {
  StatusOr<Config> config = LoadConfig(config_path);
  if (!config.ok()) return Fail(config.status());
  Config& c = *config;
  SetLogLevel(c.log_level);

  StatusOr<SecureString> pin =
      ReadFileFor("hsm.pin_file", c.hsm_pin_file, /*secret=*/true);
  if (!pin.ok()) return Fail(pin.status());
  SecureString tls_pin = *pin;  // for a TLS key in the HSM, used below
  hsm::HsmOptions hsm_opts{c.hsm_module, c.hsm_token, std::move(*pin),
                           c.hsm_sessions,
                           std::chrono::milliseconds(c.hsm_timeout_ms)};
  std::vector<std::string> created;
  auto hsm_keys = hsm::Pkcs11KeyOps::Create(std::move(hsm_opts), &created);
  if (!hsm_keys.ok()) return Fail(hsm_keys.status());
  // After our login, so GnuTLS finds the token already logged in.
  std::unique_ptr<api::HsmTlsIdentity> tls_identity;
  if (Status st = LoadTls(c, tls_pin, &tls_identity); !st.ok()) return Fail(st);
  api::Metrics metrics;
  api::InstrumentedKeyOps instrumented(hsm_keys->get(), &metrics);
  const hsm::KeyOps* keys = &instrumented;
  for (const auto& label : created) {
    Log(LogLevel::kNotice, "event=key_created label=%s", label.c_str());
  }

  auto storage = storage::SqliteStorage::Open(c.storage_path);
  if (!storage.ok()) return Fail(storage.status());
  const Clock& clock = SystemClock::Get();
  auto audit = storage::AuditLog::Open(storage->get(), keys, &clock,
                                       c.audit_origin, kVersion);
  if (!audit.ok()) return Fail(audit.status());
  if (std::string why = (*audit)->refusal(); !why.empty()) {
    Log(LogLevel::kError,
        "event=audit_rollback msg=\"refusing admin changes: "
        "%s\"",
        why.c_str());
  }
  if (accept_rollback) {
    Status st = (*audit)->AcceptRollback(
        {"uid:" + std::to_string(getuid()), "local", "", "", {}, ""});
    if (!st.ok()) return Fail(st);
    fprintf(stderr,
            "authd: accepted the restored audit log; the HSM head now matches "
            "the database (recorded as audit.rollback_accepted)\n");
    return 0;
  }
  auto access =
      api::Access::Create(storage->get(), audit->get(), keys, &clock, c.roles);
  if (!access.ok()) return Fail(access.status());
  if (Status st = (*access)->RecordStartup(created); !st.ok()) {
    if ((*audit)->refusal().empty()) return Fail(st);
    Log(LogLevel::kWarn,
        "event=audit msg=\"start-up changes not recorded: %s\"",
        st.message().c_str());
  }
  auto ring = api::KeyRing::Open(storage->get(), audit->get(), keys, &clock,
                                 c.tokens.ttl_seconds);
  if (!ring.ok()) return Fail(ring.status());
  if (Status st = SwitchAlgorithm(**ring, c.tokens.algorithm); !st.ok()) {
    if ((*audit)->refusal().empty()) return Fail(st);
    Log(LogLevel::kWarn,
        "event=keys msg=\"tokens.algorithm not applied while changes are "
        "refused: %s\"",
        st.message().c_str());
  }
  api::FailureLimiter limiter(&clock, c.limiter);
  api::TokenService tokens(ring->get(), access->get(), &limiter, &clock,
                           c.tokens, &metrics);
  api::App app(access->get(), audit->get(), ring->get(), &tokens, keys, &clock,
               {c.trusted_proxies, kVersion, &metrics,
                [k = hsm_keys->get()] { return k->SessionStats(); }});

  if (c.tls_cert.empty() && !c.server.listen.empty()) {
    Log(LogLevel::kWarn,
        "event=config msg=\"TLS is off: tokens and secrets "
        "cross the network in clear text\"");
  }
  auto server = api::HttpServer::Start(c.server, &app);
  if (!server.ok()) return Fail(server.status());
  for (const auto& addr : (*server)->bound()) {
    Log(LogLevel::kNotice, "event=listening address=%s", addr.c_str());
  }
  if (!c.server.admin_socket.empty()) {
    Log(LogLevel::kNotice, "event=listening admin_socket=%s",
        c.server.admin_socket.c_str());
  }
  auto active = (*ring)->Current();
  Log(LogLevel::kNotice, "event=ready version=%s token_kid=%s alg=%s", kVersion,
      active->active.pub.kid().c_str(),
      hsm::AlgorithmName(active->active.pub.algorithm()));
  sd_notify(0, "READY=1");
  return WaitForSignals(config_path, c, limiter, *hsm_keys->get(), **audit,
                        **server);
}

// The one-line state systemd shows in `systemctl status`.
std::string StatusLine(const hsm::Pkcs11KeyOps& hsm,
                       const storage::AuditLog& audit) {
  if (!hsm.Ready()) return "degraded: HSM unavailable: " + hsm.NotReadyReason();
  if (!audit.refusal().empty()) {
    return "degraded: refusing changes: " + audit.refusal();
  }
  return "serving; audit log at " + std::to_string(audit.size()) + " entries";
}

// SIGHUP: re-read the config; apply what can change live (log level, rate
// limits), name what needs a restart, keep everything on error.
void Reload(const std::string& path, const Config& running,
            api::FailureLimiter& limiter) {
  StatusOr<Config> fresh = LoadConfig(path);
  if (!fresh.ok()) {
    Log(LogLevel::kError,
        "event=reload msg=\"%s; keeping the running configuration\"",
        fresh.status().message().c_str());
    return;
  }
  SetLogLevel(fresh->log_level);
  limiter.SetOptions(fresh->limiter);
  std::string pending;
  for (const auto& k : KeysNeedingRestart(running, *fresh)) {
    pending += (pending.empty() ? "" : ", ") + k;
  }
  Log(LogLevel::kNotice,
      "event=reload msg=\"applied log.level and rate_limit%s%s\"",
      pending.empty() ? "" : "; restart to apply: ", pending.c_str());
}

int WaitForSignals(const std::string& config_path, const Config& c,
                   api::FailureLimiter& limiter, const hsm::Pkcs11KeyOps& hsm,
                   const storage::AuditLog& audit, api::HttpServer& server) {
  // The watchdog is fed only after a request through the real HTTP stack
  // (the admin socket's /healthz) succeeds, so a stuck event loop starves it.
  uint64_t watchdog_usec = 0;
  bool watchdog = sd_watchdog_enabled(0, &watchdog_usec) > 0;
  int64_t tick_ms =
      watchdog ? static_cast<int64_t>(watchdog_usec / 3000) : 2000;
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGTERM);
  sigaddset(&set, SIGINT);
  sigaddset(&set, SIGHUP);
  std::string last_status;
  for (;;) {
    std::string status = StatusLine(hsm, audit);
    if (status != last_status) {
      sd_notifyf(0, "STATUS=%s", status.c_str());
      last_status = status;
    }
    if (watchdog) {
      bool alive = c.server.admin_socket.empty() || [&] {
        auto r = AdminRequest(c.server.admin_socket, "GET", "/healthz");
        return r.ok() && r->status == 200;
      }();
      if (alive) sd_notify(0, "WATCHDOG=1");
    }
    timespec timeout{tick_ms / 1000, (tick_ms % 1000) * 1000000};
    int sig = sigtimedwait(&set, nullptr, &timeout);
    if (sig < 0) continue;  // timeout or EINTR
    if (sig == SIGHUP) {
      sd_notify(0, "RELOADING=1");
      Reload(config_path, c, limiter);
      sd_notify(0, "READY=1");
      continue;
    }
    break;
  }
  sd_notify(0, "STOPPING=1\nSTATUS=stopping");
  Log(LogLevel::kNotice, "event=stopping");
  server.Stop();
  Log(LogLevel::kNotice, "event=stopped");
  return 0;
}

}  // namespace
}  // namespace authd

int main(int argc, char** argv) {
  // Signals are taken synchronously by the main thread; block them before any
  // thread starts so none of the server's threads receives them.
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGTERM);
  sigaddset(&set, SIGINT);
  sigaddset(&set, SIGHUP);
  pthread_sigmask(SIG_BLOCK, &set, nullptr);
  signal(SIGPIPE, SIG_IGN);
  // The PIN is in memory: no core dumps, no ptrace by other users.
  prctl(PR_SET_DUMPABLE, 0);

  std::string config;
  bool accept_rollback = false;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    if (a == "--config" && i + 1 < argc) {
      config = argv[++i];
    } else if (a.rfind("--config=", 0) == 0) {
      config = a.substr(9);
    } else if (a == "--accept-rollback") {
      accept_rollback = true;
    } else if (a == "--version") {
      printf("authd %s\n", authd::kVersion);
      return 0;
    } else if (a == "--help" || a == "-h") {
      fputs(authd::kUsage, stdout);
      return 0;
    } else {
      fprintf(stderr, "authd: unknown argument '%s'\n%s", a.c_str(),
              authd::kUsage);
      return 2;
    }
  }
  if (config.empty()) {
    fprintf(stderr, "authd: --config FILE is required\n%s", authd::kUsage);
    return 2;
  }
  try {
    return authd::Run(config, accept_rollback);
  } catch (const std::exception& e) {
    fprintf(stderr, "authd: fatal: %s\n", e.what());
    return 1;
  }
}
