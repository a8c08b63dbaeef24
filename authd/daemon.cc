#include "authd/daemon.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdio>
#include <cstring>

#include "api/routes.h"
#include "authd/version.h"
#include "common/clock.h"
#include "common/log.h"
#include "common/secure_string.h"
#include "common/unique_fd.h"
#include "storage/sqlite_storage.h"

namespace authd {
namespace {

// How a file named by config `key` must be held.
enum class FileRule {
  kPublic,  // a certificate
  kSecret,  // a TLS key file: a warning when others can read it
  // The HSM PIN (SPEC "Security rules"): a regular file, not reached through
  // a symbolic link, owned by the user authd runs as, mode 0400 or 0600.
  kOwnerOnly,
};

// Why an opened file breaks `rule`, or "" when it does not.
std::string FileFault(const struct stat& st, FileRule rule) {
  if (rule != FileRule::kOwnerOnly) return "";
  if (!S_ISREG(st.st_mode)) return "is not a regular file";
  if (st.st_uid != geteuid()) {
    return "is owned by uid " + std::to_string(st.st_uid) +
           ", not by the user authd runs as (uid " + std::to_string(geteuid()) +
           ")";
  }
  mode_t mode = st.st_mode & 07777;
  if (mode != 0400 && mode != 0600) {
    char octal[8];
    snprintf(octal, sizeof octal, "%04o", static_cast<unsigned>(mode));
    return std::string("has mode ") + octal + "; it must be 0400 or 0600";
  }
  return "";
}

// Opens a file named by config `key` under `rule`: an owner-only file is
// opened without following a final symbolic link, and without blocking on a
// FIFO, then checked on the descriptor it is read from (no race).
StatusOr<UniqueFd> OpenFor(const std::string& key, const std::string& path,
                           FileRule rule) {
  int flags = O_RDONLY | O_CLOEXEC;
  if (rule == FileRule::kOwnerOnly) flags |= O_NOFOLLOW | O_NONBLOCK;
  UniqueFd fd(open(path.c_str(), flags));
  if (!fd.valid()) {
    std::string why = errno == ELOOP && rule == FileRule::kOwnerOnly
                          ? "is a symbolic link; name the file itself"
                          : std::string("cannot be read: ") + strerror(errno);
    return Status::InvalidArgument(key + " " + path + " " + why);
  }
  struct stat st {};
  if (fstat(fd.get(), &st) != 0) {
    return Status::InvalidArgument(key + " " + path +
                                   " cannot be read: " + strerror(errno));
  }
  if (std::string why = FileFault(st, rule); !why.empty()) {
    return Status::InvalidArgument(key + " " + path + " " + why);
  }
  if (rule == FileRule::kSecret && (st.st_mode & S_IROTH)) {
    Log(LogLevel::kWarn, "event=config msg=\"%s %s is world-readable\"",
        key.c_str(), path.c_str());
  }
  return fd;
}

// Reads a whole file named by config `key`, less trailing newlines (a PIN
// file's last newline is not part of the PIN), into wiped memory.
StatusOr<SecureString> ReadFileFor(const std::string& key,
                                   const std::string& path, FileRule rule) {
  ASSIGN_OR_RETURN(UniqueFd fd, OpenFor(key, path, rule));
  SecureString data;
  char buf[4096];
  ssize_t n;
  while ((n = read(fd.get(), buf, sizeof buf)) > 0) data.append(buf, n);
  OPENSSL_cleanse(buf, sizeof buf);
  while (!data.empty() && (data.back() == '\n' || data.back() == '\r')) {
    data.pop_back();
  }
  if (data.empty()) {
    return Status::InvalidArgument(key + " " + path + " is empty");
  }
  return data;
}

bool TlsKeyInHsm(const Config& c) {
  return !c.tls_cert.empty() && c.tls_key.rfind("pkcs11:", 0) == 0;
}

// Fills the server's TLS options from server.tls_cert/tls_key: a key file, or
// a key in the HSM that GnuTLS uses in place (`pin` is then the HSM PIN).
Status LoadTls(Config& c, const SecureString& pin,
               std::unique_ptr<api::HsmTlsIdentity>* identity) {
  if (c.tls_cert.empty()) return Status::Ok();
  ASSIGN_OR_RETURN(SecureString cert, ReadFileFor("server.tls_cert", c.tls_cert,
                                                  FileRule::kPublic));
  c.server.tls_cert_pem = std::string(cert.view());
  if (TlsKeyInHsm(c)) {
    ASSIGN_OR_RETURN(*identity, api::HsmTlsIdentity::Load(c.server.tls_cert_pem,
                                                          c.tls_key, pin));
    c.server.tls_cert_callback = (*identity)->CertificateCallback();
    return Status::Ok();
  }
  ASSIGN_OR_RETURN(c.server.tls_key_pem,
                   ReadFileFor("server.tls_key", c.tls_key, FileRule::kSecret));
  return Status::Ok();
}

// tokens.algorithm differs from the active key's: rotate to a new key of
// that algorithm, recorded as the system's change.
Status SwitchAlgorithm(authority::KeyRing& ring, Algorithm alg) {
  if (ring.Current()->active.pub.algorithm() == alg) return Status::Ok();
  return ring
      .Rotate(alg, "system", "local",
              std::string("tokens.algorithm is ") + AlgorithmName(alg))
      .status();
}

// A start-up change that could not be recorded is fatal, unless the audit
// log is refusing every change (a detected rollback): then authd still
// starts, refusing tokens and changes, so the operator can reach it (status)
// to see why and resolve it.
Status TolerateRefusal(const audit::AuditLog& audit, Status st,
                       const char* what) {
  if (st.ok()) return st;
  if (audit.refusal().empty()) return st;
  Log(LogLevel::kWarn, "event=audit msg=\"%s while changes are refused: %s\"",
      what, st.message().c_str());
  return Status::Ok();
}

}  // namespace

Daemon::~Daemon() { Stop(); }

StatusOr<std::unique_ptr<Daemon>> Daemon::Open(Config config) {
  std::unique_ptr<Daemon> d(new Daemon(std::move(config)));
  RETURN_IF_ERROR(d->OpenHsm());
  RETURN_IF_ERROR(d->OpenState());
  return d;
}

Status Daemon::OpenHsm() {
  Config& c = config_;
  ASSIGN_OR_RETURN(SecureString pin, ReadFileFor("hsm.pin_file", c.hsm_pin_file,
                                                 FileRule::kOwnerOnly));
  // The HSM layer keeps the PIN (re-login); GnuTLS gets a copy, wiped when
  // this returns, only when it needs one.
  SecureString tls_pin;
  if (TlsKeyInHsm(c)) tls_pin = pin;
  hsm::HsmOptions opts{c.hsm_module, c.hsm_token, std::move(pin),
                       c.hsm_sessions,
                       std::chrono::milliseconds(c.hsm_timeout_ms)};
  // Wakes main's loop, which then stops authd with a non-zero exit.
  opts.on_fatal = [] { kill(getpid(), kFatalSignal); };
  ASSIGN_OR_RETURN(hsm_,
                   hsm::Pkcs11KeyOps::Create(std::move(opts), &created_keys_));
  // After our login, so GnuTLS finds the token already logged in.
  RETURN_IF_ERROR(LoadTls(c, tls_pin, &tls_identity_));
  keys_ =
      std::make_unique<authority::InstrumentedKeyOps>(hsm_.get(), &metrics_);
  for (const auto& label : created_keys_) {
    Log(LogLevel::kNotice, "event=key_created label=%s", label.c_str());
  }
  return Status::Ok();
}

Status Daemon::OpenState() {
  // A caller waits for the database, or for the audit log, at most as long
  // as for an HSM session: hsm.timeout_ms.
  std::chrono::milliseconds wait(config_.hsm_timeout_ms);
  ASSIGN_OR_RETURN(
      storage_, storage::SqliteStorage::Open(config_.storage_path, "", wait));
  ASSIGN_OR_RETURN(audit_, audit::AuditLog::Open(
                               storage_.get(), keys_.get(), &SystemClock::Get(),
                               config_.audit_origin, kVersion, wait));
  if (std::string why = audit_->refusal(); !why.empty()) {
    Log(LogLevel::kError,
        "event=audit_rollback msg=\"refusing changes and tokens until "
        "accepted: %s\"",
        why.c_str());
  }
  return Status::Ok();
}

Status Daemon::AcceptRollback() {
  return audit_->AcceptRollback(
      {"uid:" + std::to_string(getuid()), "local", "", "", {}, ""});
}

Status Daemon::LoadAccess() {
  const Clock* clock = &SystemClock::Get();
  ASSIGN_OR_RETURN(
      access_, authority::Access::Create(storage_.get(), audit_.get(),
                                         keys_.get(), clock, config_.roles));
  RETURN_IF_ERROR(TolerateRefusal(*audit_,
                                  access_->RecordStartup(created_keys_),
                                  "start-up changes not recorded"));
  ASSIGN_OR_RETURN(
      ring_, authority::KeyRing::Open(storage_.get(), audit_.get(), keys_.get(),
                                      clock, config_.tokens.ttl_seconds));
  ASSIGN_OR_RETURN(revocations_,
                   authority::Revocations::Load(storage_.get(), clock));
  return TolerateRefusal(*audit_,
                         SwitchAlgorithm(*ring_, config_.tokens.algorithm),
                         "tokens.algorithm not applied");
}

void Daemon::StartApi() {
  const Clock* clock = &SystemClock::Get();
  limiter_ =
      std::make_unique<authority::FailureLimiter>(clock, config_.limiter);
  tokens_ = std::make_unique<authority::TokenService>(
      ring_.get(), access_.get(), limiter_.get(), revocations_.get(), clock,
      config_.tokens);
  readiness_ = std::make_unique<api::Readiness>(keys_.get(), audit_.get(),
                                                access_.get());
  token_handler_ =
      std::make_unique<api::TokenHandler>(tokens_.get(), &metrics_);
  check_handler_ = std::make_unique<api::CheckHandler>(
      tokens_.get(), access_.get(), config_.gateway, &metrics_);
  discovery_handler_ = std::make_unique<api::DiscoveryHandler>(
      ring_.get(), access_.get(), clock, config_.tokens.issuer);
  ops_handler_ = std::make_unique<api::OpsHandler>(api::OpsHandler::Deps{
      readiness_.get(), access_.get(), audit_.get(), revocations_.get(),
      &metrics_, [h = hsm_.get()] { return h->SessionStats(); }, kVersion});
  admin_handler_ = std::make_unique<api::AdminHandler>(api::AdminHandler::Deps{
      access_.get(), audit_.get(), ring_.get(), keys_.get(), clock,
      readiness_.get(), &metrics_, kVersion});
  audit_handler_ =
      std::make_unique<api::AuditHandler>(audit_.get(), keys_.get());
  router_ = std::make_unique<api::Router>(
      api::AuthdRoutes({token_handler_.get(), check_handler_.get(),
                        discovery_handler_.get(), ops_handler_.get(),
                        admin_handler_.get(), audit_handler_.get(),
                        console_handler_.get()}),
      access_.get(), tokens_.get(), config_.trusted_proxies, &metrics_,
      api::ConsoleAuth{console_sessions_.get(), !config_.tls_cert.empty()});
}

// The web console's sessions (in memory: a restart ends them) and its
// handler. Links name console.url, or else the first TCP listener, whose
// port Serve fills in once it is bound.
Status Daemon::StartConsole() {
  ASSIGN_OR_RETURN(console_sessions_,
                   authority::ConsoleSessions::Create(&SystemClock::Get()));
  const Config::Console& c = config_.console;
  bool tls = !config_.tls_cert.empty();
  std::string base = c.url;
  if (base.empty() && !config_.server.listen.empty()) {
    base = (tls ? "https://" : "http://") + config_.server.listen.front();
  }
  console_handler_ = std::make_unique<api::ConsoleHandler>(
      console_sessions_.get(),
      api::ConsoleOptions{c.enabled, tls, c.name, config_.tokens.issuer, base});
  return Status::Ok();
}

Status Daemon::Serve() {
  RETURN_IF_ERROR(LoadAccess());
  RETURN_IF_ERROR(StartConsole());
  StartApi();
  if (config_.tls_cert.empty() && !config_.server.listen.empty()) {
    Log(LogLevel::kWarn,
        "event=config msg=\"TLS is off: tokens and secrets "
        "cross the network in clear text\"");
  }
  ASSIGN_OR_RETURN(server_,
                   api::HttpServer::Start(config_.server, router_.get()));
  for (const auto& addr : server_->bound()) {
    Log(LogLevel::kNotice, "event=listening address=%s", addr.c_str());
  }
  if (config_.console.url.empty() && !server_->bound().empty()) {
    console_handler_->SetBaseUrl(
        (config_.tls_cert.empty() ? "http://" : "https://") +
        server_->bound().front());
  }
  if (!config_.server.admin_socket.empty()) {
    Log(LogLevel::kNotice, "event=listening admin_socket=%s",
        config_.server.admin_socket.c_str());
  }
  auto active = ring_->Current();
  Log(LogLevel::kNotice, "event=ready version=%s token_kid=%s alg=%s", kVersion,
      active->active.pub.kid().c_str(),
      AlgorithmName(active->active.pub.algorithm()));
  return Status::Ok();
}

std::string Daemon::StatusLine() const {
  if (!hsm_->Ready()) {
    return "degraded: HSM unavailable: " + hsm_->NotReadyReason();
  }
  if (std::string why = audit_->refusal(); !why.empty()) {
    return "degraded: refusing changes: " + why;
  }
  if (size_t n = access_ ? access_->Current()->failures.size() : 0; n > 0) {
    return "degraded: " + std::to_string(n) +
           " stored rows failed their integrity check; see authctl status";
  }
  return "serving; audit log at " + std::to_string(audit_->size()) + " entries";
}

std::string Daemon::FatalReason() const { return hsm_->FatalReason(); }

hsm::PoolStats Daemon::HsmStats() const { return hsm_->SessionStats(); }

std::chrono::milliseconds Daemon::DrainBound() const {
  return std::chrono::seconds(config_.server.connection_timeout_seconds) +
         std::chrono::milliseconds(config_.hsm_timeout_ms);
}

void Daemon::Reload(const Config& fresh) {
  SetLogLevel(fresh.log_level);
  if (limiter_) limiter_->SetOptions(fresh.limiter);
  if (check_handler_) check_handler_->SetPolicy(fresh.gateway);
  std::string pending;
  for (const auto& k : KeysNeedingRestart(config_, fresh)) {
    pending += (pending.empty() ? "" : ", ") + k;
  }
  Log(LogLevel::kNotice,
      "event=reload msg=\"applied log.level, rate_limit and gateway%s%s\"",
      pending.empty() ? "" : "; restart to apply: ", pending.c_str());
}

void Daemon::Stop() {
  if (server_) server_->Stop();
}

}  // namespace authd
