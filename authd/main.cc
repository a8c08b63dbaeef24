// authd: the daemon's entry point. Parses the command line, builds the
// Daemon from the config, then waits for signals. Every start-up failure ends
// in one line on stderr and a non-zero exit.
//
// The main loop reads only published, lock-free state (StatusLine,
// FatalReason) and bounds its watchdog probe, so a hung HSM call can delay
// neither the watchdog nor SIGTERM. A stop is bounded too (StopWithin).
#include <signal.h>
#include <sys/prctl.h>
#include <systemd/sd-daemon.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <future>
#include <memory>
#include <string>
#include <thread>

#include "authd/admin_client.h"
#include "authd/config.h"
#include "authd/daemon.h"
#include "authd/version.h"
#include "common/log.h"

namespace authd {
namespace {

constexpr char kUsage[] =
    "usage: authd --config FILE\n"
    "       authd --config FILE --accept-rollback\n"
    "       authd --version\n"
    "\n"
    "--accept-rollback records in the audit log that the database was\n"
    "restored on purpose after authd refused it, and exits.\n";

// Exit status when authd gave up on the HSM (event=hsm_fatal), or a stop
// could not finish within its bound because a call never returned.
constexpr int kExitHsmStuck = 3;

int Fail(const Status& st) {
  fprintf(stderr, "authd: %s\n", st.message().c_str());
  return 1;
}

// SIGHUP: re-read the config; apply what can change live, keep everything on
// error.
void Reload(const std::string& path, Daemon& daemon) {
  StatusOr<Config> fresh = LoadConfig(path);
  if (!fresh.ok()) {
    Log(LogLevel::kError,
        "event=reload msg=\"%s; keeping the running configuration\"",
        fresh.status().message().c_str());
    return;
  }
  daemon.Reload(*fresh);
}

// The watchdog is fed only after a request through the real HTTP stack (the
// admin socket's /healthz) succeeds, so a stuck event loop starves it. The
// wait is bounded, so the main loop never stalls here.
bool Alive(const Config& c, int64_t timeout_ms) {
  if (c.server.admin_socket.empty()) return true;
  auto r = AdminRequest(c.server.admin_socket, "GET", "/healthz", "",
                        static_cast<int>(timeout_ms));
  return r.ok() && r->status == 200;
}

// Returns the exit status: 0 after SIGTERM/SIGINT, kExitHsmStuck when the
// daemon gave up on the HSM.
int WaitForSignals(const std::string& config_path, Daemon& daemon) {
  uint64_t watchdog_usec = 0;
  bool watchdog = sd_watchdog_enabled(0, &watchdog_usec) > 0;
  int64_t tick_ms =
      watchdog ? static_cast<int64_t>(watchdog_usec / 3000) : 2000;
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGTERM);
  sigaddset(&set, SIGINT);
  sigaddset(&set, SIGHUP);
  sigaddset(&set, kFatalSignal);
  std::string last_status;
  for (;;) {
    if (std::string why = daemon.FatalReason(); !why.empty()) {
      sd_notifyf(0, "STATUS=HSM stopped answering: %s", why.c_str());
      return kExitHsmStuck;
    }
    std::string status = daemon.StatusLine();
    if (status != last_status) {
      sd_notifyf(0, "STATUS=%s", status.c_str());
      last_status = status;
    }
    if (watchdog && Alive(daemon.config(), std::min<int64_t>(tick_ms, 2000))) {
      sd_notify(0, "WATCHDOG=1");
    }
    timespec timeout{tick_ms / 1000, (tick_ms % 1000) * 1000000};
    int sig = sigtimedwait(&set, nullptr, &timeout);
    if (sig < 0 || sig == kFatalSignal) continue;  // checked at the top
    if (sig == SIGHUP) {
      sd_notify(0, "RELOADING=1");
      Reload(config_path, daemon);
      sd_notify(0, "READY=1");
      continue;
    }
    return 0;
  }
}

// Stops and destroys the daemon on another thread, waiting at most its
// drain bound. A request thread or the HSM supervisor stuck inside an HSM
// call would block that for as long as the call hangs; then authd logs what
// it abandons and exits at once (_exit: the stuck threads still use objects
// that destructors would free).
int StopWithin(std::unique_ptr<Daemon> daemon, int code) {
  sd_notify(0, "STOPPING=1\nSTATUS=stopping");
  std::chrono::milliseconds bound = daemon->DrainBound();
  hsm::PoolStats hsm = daemon->HsmStats();
  Log(LogLevel::kNotice,
      "event=stopping hsm_calls_in_flight=%zu hsm_calls_stuck=%zu "
      "drain_ms=%lld",
      hsm.in_use, hsm.stuck, static_cast<long long>(bound.count()));
  std::promise<void> done;
  std::future<void> stopped = done.get_future();
  std::thread stopper([&done, d = std::move(daemon)]() mutable {
    d.reset();  // ~Daemon stops the server, the supervisor, the HSM
    done.set_value();
  });
  if (stopped.wait_for(bound) != std::future_status::ready) {
    Log(LogLevel::kError,
        "event=stop_timeout msg=\"requests or HSM calls still running after "
        "%lld ms (hsm_calls_stuck=%zu when the stop began); exiting without "
        "them\"",
        static_cast<long long>(bound.count()), hsm.stuck);
    _exit(kExitHsmStuck);
  }
  stopper.join();
  Log(LogLevel::kNotice, "event=stopped");
  return code;
}

int Run(const std::string& config_path, bool accept_rollback) {
  StatusOr<Config> config = LoadConfig(config_path);
  if (!config.ok()) return Fail(config.status());
  SetLogLevel(config->log_level);
  auto daemon = Daemon::Open(std::move(*config));
  if (!daemon.ok()) return Fail(daemon.status());
  if (accept_rollback) {
    if (Status st = (*daemon)->AcceptRollback(); !st.ok()) return Fail(st);
    fprintf(stderr,
            "authd: accepted the restored audit log; the HSM head now matches "
            "the database (recorded as audit.rollback_accepted)\n");
    return 0;
  }
  if (Status st = (*daemon)->Serve(); !st.ok()) return Fail(st);
  sd_notify(0, "READY=1");
  int code = WaitForSignals(config_path, **daemon);
  return StopWithin(std::move(*daemon), code);
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
  sigaddset(&set, authd::kFatalSignal);
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
