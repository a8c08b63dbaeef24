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

// Loads the TLS identity from server.tls_cert/tls_key: a key file, or a key
// in the HSM that GnuTLS uses in place (`pin` is then the HSM PIN). Sets the
// server's certificate callback; `cert_pem` gets the chain served.
Status LoadTls(Config& c, const SecureString& pin,
               std::unique_ptr<api::TlsIdentity>* identity,
               std::string* cert_pem) {
  if (c.tls_cert.empty()) return Status::Ok();
  ASSIGN_OR_RETURN(SecureString cert, ReadFileFor("server.tls_cert", c.tls_cert,
                                                  FileRule::kPublic));
  *cert_pem = std::string(cert.view());
  if (TlsKeyInHsm(c)) {
    ASSIGN_OR_RETURN(*identity,
                     api::TlsIdentity::FromHsm(*cert_pem, c.tls_key, pin));
  } else {
    ASSIGN_OR_RETURN(SecureString key, ReadFileFor("server.tls_key", c.tls_key,
                                                   FileRule::kSecret));
    ASSIGN_OR_RETURN(*identity, api::TlsIdentity::FromPem(*cert_pem, key));
  }
  c.server.tls_cert_callback = (*identity)->CertificateCallback();
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

// The browser reaches the console over https: authd's own TLS, or a
// TLS-terminating proxy named by an https console.url.
bool ConsoleHttps(const Config& config) {
  return !config.tls_cert.empty() || config.console.url.starts_with("https://");
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
  RETURN_IF_ERROR(LoadTls(c, tls_pin, &tls_identity_, &tls_cert_pem_));
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
      ring_.get(), access_.get(), tokens_.get(), clock);
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
      api::ConsoleAuth{console_sessions_.get(), ConsoleHttps(config_),
                       config_.console.url});
}

// The web console's sessions (in memory: a restart ends them) and its
// handler. Links name console.url, or else the first TCP listener, whose
// port Serve fills in once it is bound.
Status Daemon::StartConsole() {
  ASSIGN_OR_RETURN(console_sessions_,
                   authority::ConsoleSessions::Create(&SystemClock::Get()));
  const Config::Console& c = config_.console;
  std::string base = c.url;
  if (base.empty() && !config_.server.listen.empty()) {
    base = (config_.tls_cert.empty() ? "http://" : "https://") +
           config_.server.listen.front();
  }
  console_handler_ = std::make_unique<api::ConsoleHandler>(
      console_sessions_.get(),
      api::ConsoleOptions{c.enabled, ConsoleHttps(config_), c.name,
                          config_.tokens.issuer, base});
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

void Daemon::ApplyLive(const Config& fresh, std::vector<std::string>* done) {
  Config& c = config_;
  if (fresh.log_level != c.log_level) {
    SetLogLevel(fresh.log_level);
    c.log_level = fresh.log_level;
    done->push_back("log.level");
  }
  if (!(fresh.limiter == c.limiter)) {
    limiter_->SetOptions(fresh.limiter);  // buckets keep their state
    c.limiter = fresh.limiter;
    done->push_back("rate_limit");
  }
  if (!(fresh.gateway == c.gateway)) {
    check_handler_->SetPolicy(fresh.gateway);
    c.gateway = fresh.gateway;
    done->push_back("gateway");
  }
  if (fresh.trusted_proxies != c.trusted_proxies) {
    router_->SetTrustedProxies(fresh.trusted_proxies);
    c.trusted_proxies = fresh.trusted_proxies;
    done->push_back("server.trusted_proxies");
  }
}

void Daemon::ApplyTokens(const authority::TokenOptions& fresh,
                         std::vector<std::string>* done) {
  authority::TokenOptions& t = config_.tokens;
  size_t before = done->size();
  if (fresh.issuer != t.issuer) done->push_back("tokens.issuer");
  if (fresh.audience != t.audience) done->push_back("tokens.audience");
  if (fresh.ttl_seconds != t.ttl_seconds) done->push_back("tokens.ttl_seconds");
  if (done->size() != before) {
    t.issuer = fresh.issuer;
    t.audience = fresh.audience;
    t.ttl_seconds = fresh.ttl_seconds;
    // The JWKS window first, so no token outlives its key's publication.
    ring_->RaiseMaxTokenTtl(t.ttl_seconds);
    tokens_->SetOptions(t);
  }
  if (fresh.algorithm == t.algorithm) return;
  if (Status st = SwitchAlgorithm(*ring_, fresh.algorithm); !st.ok()) {
    Log(LogLevel::kError,
        "event=reload msg=\"tokens.algorithm not applied: %s\"",
        LogText(st.message()).c_str());
    return;
  }
  t.algorithm = fresh.algorithm;
  tokens_->SetOptions(t);
  done->push_back("tokens.algorithm");
}

void Daemon::ApplyRoles(const std::vector<authority::Role>& fresh,
                        std::vector<std::string>* done) {
  if (fresh == config_.roles) return;
  if (Status st = access_->SetRoles(fresh); !st.ok()) {
    Log(LogLevel::kError,
        "event=reload msg=\"roles not applied, the running roles stay: %s\"",
        LogText(st.message()).c_str());
    return;
  }
  config_.roles = fresh;
  done->push_back("roles");
  std::string orphans;
  size_t count = 0;
  for (const auto& cred : access_->ListCredentials()) {
    if (access_->FindRole(cred.role) != nullptr) continue;
    if (++count <= 20) {
      orphans += (orphans.empty() ? "" : ", ") + cred.client_id + " (" +
                 cred.role + ")";
    }
  }
  if (count == 0) return;
  Log(LogLevel::kWarn,
      "event=reload msg=\"%zu credentials hold a role that no longer exists "
      "and get no token: %s%s\"",
      count, LogText(orphans).c_str(), count > 20 ? ", ..." : "");
}

// A file pair is re-read, from the fresh paths, and served to new
// connections if it changed; a broken one keeps the running pair. With the
// key in the HSM, a renewed certificate file is reported as needing a
// restart. TLS turned on or off is in KeysNeedingRestart.
void Daemon::ApplyTls(const Config& fresh, std::vector<std::string>* done,
                      std::vector<std::string>* restart) {
  if (!tls_identity_ || fresh.tls_cert.empty()) return;
  if (TlsKeyInHsm(config_) || TlsKeyInHsm(fresh)) {
    auto cert =
        ReadFileFor("server.tls_cert", fresh.tls_cert, FileRule::kPublic);
    if (fresh.tls_cert == config_.tls_cert && cert.ok() &&
        cert->view() != tls_cert_pem_) {
      restart->push_back(
          "server.tls_cert (renewed file; the key is in the HSM)");
    }
    return;
  }
  StatusOr<bool> replaced = [&]() -> StatusOr<bool> {
    ASSIGN_OR_RETURN(
        SecureString cert,
        ReadFileFor("server.tls_cert", fresh.tls_cert, FileRule::kPublic));
    ASSIGN_OR_RETURN(
        SecureString key,
        ReadFileFor("server.tls_key", fresh.tls_key, FileRule::kSecret));
    return tls_identity_->Replace(std::string(cert.view()), key);
  }();
  if (!replaced.ok()) {
    Log(LogLevel::kError,
        "event=reload msg=\"TLS certificate not replaced, the running one "
        "stays: %s\"",
        LogText(replaced.status().message()).c_str());
    return;
  }
  config_.tls_cert = fresh.tls_cert;
  config_.tls_key = fresh.tls_key;
  if (*replaced) {
    done->push_back("server.tls_cert (sha256 " + tls_identity_->Fingerprint() +
                    ")");
  }
}

void Daemon::Reload(const Config& fresh) {
  std::vector<std::string> done;
  ApplyLive(fresh, &done);
  ApplyTokens(fresh.tokens, &done);
  ApplyRoles(fresh.roles, &done);
  std::vector<std::string> restart = KeysNeedingRestart(config_, fresh);
  ApplyTls(fresh, &done, &restart);
  if (fresh.audit_origin != config_.audit_origin) {
    // The origin labels the HSM's audit head; a start under another one
    // refuses the existing log for good.
    Log(LogLevel::kWarn,
        "event=reload msg=\"audit.origin would change from %s to %s at the "
        "next start (it follows tokens.issuer unless set), and authd would "
        "then refuse the existing audit log; set audit.origin to %s to keep "
        "it\"",
        LogText(config_.audit_origin).c_str(),
        LogText(fresh.audit_origin).c_str(),
        LogText(config_.audit_origin).c_str());
  }
  auto join = [](const std::vector<std::string>& v) {
    std::string out;
    for (const auto& k : v) out += (out.empty() ? "" : ", ") + k;
    return out;
  };
  std::string msg = done.empty() ? "nothing to apply" : "applied " + join(done);
  if (!restart.empty()) msg += "; restart to apply: " + join(restart);
  Log(LogLevel::kNotice, "event=reload msg=\"%s\"", LogText(msg).c_str());
}

void Daemon::Stop() {
  if (server_) server_->Stop();
}

}  // namespace authd
