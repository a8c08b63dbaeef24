// authd's TOML configuration (SPEC "Configuration"). Load() validates every
// key and value and returns one message that names the offending key, so the
// daemon can stop at start with a line an operator can act on.
#ifndef AUTHD_AUTHD_CONFIG_H_
#define AUTHD_AUTHD_CONFIG_H_

#include <string>
#include <string_view>
#include <vector>

#include "api/http_server.h"
#include "authority/access.h"
#include "authority/failure_limiter.h"
#include "authority/gateway_policy.h"
#include "authority/token_service.h"
#include "common/cidr.h"
#include "common/log.h"
#include "common/status.h"

namespace authd {

struct Config {
  api::ServerOptions server;
  std::string tls_cert, tls_key;
  std::vector<Cidr> trusted_proxies;
  std::string storage_path;
  std::string hsm_module = "softhsm2";
  std::string hsm_token;
  std::string hsm_pin_file;
  size_t hsm_sessions = 0;        // 0: derived from the thread count
  int64_t hsm_timeout_ms = 5000;  // a call running longer marks the HSM hung
  authority::TokenOptions tokens;
  // Checkpoint origin and signed-note key name; fixed by the first start.
  std::string audit_origin;
  authority::LimiterOptions limiter;
  std::vector<authority::Role> roles;
  authority::GatewayPolicy gateway;  // [gateway]; reloaded on SIGHUP
  LogLevel log_level = LogLevel::kInfo;
  struct Console {
    bool enabled = true;
    std::string url;             // "https://host[:port]", no trailing '/'
    std::string name = "authd";  // the appliance name the page shows
  } console;                     // [console]
};

// Keys whose change a SIGHUP cannot apply (listeners, TLS, storage, HSM,
// tokens, roles, audit, console): authd keeps the running values and names
// them.
// [log], [rate_limit] and [gateway] apply live.
std::vector<std::string> KeysNeedingRestart(const Config& running,
                                            const Config& fresh);

// Reads the file at `path` and parses it (ParseConfig).
StatusOr<Config> LoadConfig(const std::string& path);
// Parses and validates TOML `text`; `source` names it in messages.
StatusOr<Config> ParseConfig(std::string_view text, const std::string& source);

}  // namespace authd

#endif  // AUTHD_AUTHD_CONFIG_H_
