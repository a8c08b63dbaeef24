// authd: the daemon. Wires config, HSM, storage and the HTTP server together,
// then waits for a signal. Every start-up failure ends in one line on stderr
// and a non-zero exit.
#include <fcntl.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <systemd/sd-daemon.h>
#include <unistd.h>

#include <cstdio>
#include <cstring>
#include <fstream>
#include <iostream>
#include <sstream>

#include "api/access.h"
#include "api/app.h"
#include "api/mhd_server.h"
#include "api/rate_limiter.h"
#include "api/token_service.h"
#include "authd/config.h"
#include "authd/version.h"
#include "common/clock.h"
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

// Reads a whole file that may hold a secret (PIN, TLS key). `key` names the
// config key in messages; trailing newlines are dropped when `trim` is set.
StatusOr<SecureString> ReadFileFor(const std::string& key,
                                   const std::string& path, bool trim) {
  int fd = open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    return Status::InvalidArgument("cannot read " + key + " " + path + ": " +
                                   strerror(errno));
  }
  struct stat st {};
  fstat(fd, &st);
  if (st.st_mode & S_IROTH) {
    fprintf(stderr, "level=warn event=config msg=\"%s %s is world-readable\"\n",
            key.c_str(), path.c_str());
  }
  SecureString data;
  char buf[4096];
  ssize_t n;
  while ((n = read(fd, buf, sizeof buf)) > 0) data.append(buf, n);
  OPENSSL_cleanse(buf, sizeof buf);
  close(fd);
  while (trim && !data.empty() &&
         (data.back() == '\n' || data.back() == '\r')) {
    data.pop_back();
  }
  if (data.empty()) {
    return Status::InvalidArgument(key + " " + path + " is empty");
  }
  return data;
}

int Fail(const Status& st) {
  fprintf(stderr, "authd: %s\n", st.message().c_str());
  return 1;
}

int Run(const std::string& config_path, bool accept_rollback) {
  StatusOr<Config> config = LoadConfig(config_path);
  if (!config.ok()) return Fail(config.status());
  Config& c = *config;

  StatusOr<SecureString> pin = ReadFileFor("hsm.pin_file", c.hsm_pin_file, true);
  if (!pin.ok()) return Fail(pin.status());
  if (!c.tls_cert.empty()) {
    auto cert = ReadFileFor("server.tls_cert", c.tls_cert, false);
    if (!cert.ok()) return Fail(cert.status());
    auto key = ReadFileFor("server.tls_key", c.tls_key, false);
    if (!key.ok()) return Fail(key.status());
    c.server.tls_cert_pem = std::string(cert->view());
    c.server.tls_key_pem = std::move(*key);
  }
  hsm::HsmOptions hsm_opts{c.hsm_module, c.hsm_token, std::move(*pin),
                           c.hsm_sessions};
  std::vector<std::string> created;
  auto keys = hsm::Pkcs11KeyOps::Create(std::move(hsm_opts), &created);
  if (!keys.ok()) return Fail(keys.status());
  for (const auto& label : created) {
    fprintf(stderr, "level=info event=key_created label=%s\n", label.c_str());
  }

  auto storage = storage::SqliteStorage::Open(c.storage_path);
  if (!storage.ok()) return Fail(storage.status());
  const Clock& clock = SystemClock::Get();
  auto audit = storage::AuditLog::Open(storage->get(), keys->get(), &clock,
                                       c.audit_origin, kVersion);
  if (!audit.ok()) return Fail(audit.status());
  if (std::string why = (*audit)->refusal(); !why.empty()) {
    fprintf(stderr,
            "level=error event=audit_rollback msg=\"refusing admin changes: "
            "%s\"\n",
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
  auto access = api::Access::Create(storage->get(), audit->get(), keys->get(),
                                    &clock, c.roles);
  if (!access.ok()) return Fail(access.status());
  if (Status st = (*access)->RecordStartup(created); !st.ok()) {
    if ((*audit)->refusal().empty()) return Fail(st);
    fprintf(stderr, "level=warn event=audit msg=\"start-up changes not recorded: %s\"\n",
            st.message().c_str());
  }
  api::FailureLimiter limiter(&clock, c.limiter);
  api::TokenService tokens(keys->get(), access->get(), &limiter, &clock,
                           c.tokens);
  api::App app(access->get(), audit->get(), &tokens, keys->get(), &clock,
               {c.trusted_proxies, kVersion});

  if (c.tls_cert.empty() && !c.server.listen.empty()) {
    fprintf(stderr,
            "level=warn event=config msg=\"TLS is off: tokens and secrets "
            "cross the network in clear text\"\n");
  }
  auto server = api::HttpServer::Start(c.server, &app);
  if (!server.ok()) return Fail(server.status());
  for (const auto& addr : (*server)->bound()) {
    fprintf(stderr, "level=info event=listening address=%s\n", addr.c_str());
  }
  if (!c.server.admin_socket.empty()) {
    fprintf(stderr, "level=info event=listening admin_socket=%s\n",
            c.server.admin_socket.c_str());
  }
  fprintf(stderr, "level=info event=ready version=%s token_kid=%s\n", kVersion,
          (*keys)->Public(hsm::KeyUse::kToken).kid().c_str());
  sd_notify(0, "READY=1\nSTATUS=serving");

  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGTERM);
  sigaddset(&set, SIGINT);
  sigaddset(&set, SIGHUP);
  for (;;) {
    int sig = 0;
    sigwait(&set, &sig);
    if (sig == SIGHUP) {
      fprintf(stderr,
              "level=warn event=signal msg=\"SIGHUP: configuration reload is "
              "not supported yet; restart to apply changes\"\n");
      continue;
    }
    break;
  }
  sd_notify(0, "STOPPING=1");
  fprintf(stderr, "level=info event=stopping\n");
  (*server)->Stop();
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
