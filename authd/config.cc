#include "authd/config.h"

#include <toml++/toml.h>

#include <cerrno>
#include <cstring>
#include <fstream>
#include <iterator>
#include <set>
#include <sstream>
#include <thread>

#include "common/encoding.h"

namespace authd {
namespace {

Status Bad(const std::string& key, const std::string& why) {
  return Status::InvalidArgument("config: " + key + ": " + why);
}

Status CheckKeys(const toml::table& t, const std::string& prefix,
                 const std::set<std::string>& allowed) {
  for (const auto& [k, v] : t) {
    std::string key(k.str());
    if (!allowed.count(key)) {
      return Status::InvalidArgument("config: unknown key " + prefix + key);
    }
  }
  return Status::Ok();
}

// Typed getters: absent keeps the default; a wrong type is an error.
Status GetString(const toml::table& t, const std::string& prefix,
                 const char* key, std::string* out, bool required = false) {
  const toml::node* n = t.get(key);
  if (n == nullptr) {
    return required ? Bad(prefix + key, "is required") : Status::Ok();
  }
  if (!n->is_string()) return Bad(prefix + key, "must be a string");
  *out = n->as_string()->get();
  if (required && out->empty()) return Bad(prefix + key, "must not be empty");
  return Status::Ok();
}

template <typename T>
Status GetInt(const toml::table& t, const std::string& prefix, const char* key,
              T* out, int64_t min, int64_t max) {
  const toml::node* n = t.get(key);
  if (n == nullptr) return Status::Ok();
  if (!n->is_integer()) return Bad(prefix + key, "must be an integer");
  int64_t v = n->as_integer()->get();
  if (v < min || v > max) {
    return Bad(prefix + key, "must be between " + std::to_string(min) +
                                 " and " + std::to_string(max));
  }
  *out = static_cast<T>(v);
  return Status::Ok();
}

Status GetStrings(const toml::table& t, const std::string& prefix,
                  const char* key, std::vector<std::string>* out) {
  const toml::node* n = t.get(key);
  if (n == nullptr) return Status::Ok();
  const toml::array* a = n->as_array();
  if (a == nullptr) return Bad(prefix + key, "must be an array of strings");
  out->clear();
  for (const auto& e : *a) {
    if (!e.is_string()) return Bad(prefix + key, "must be an array of strings");
    out->push_back(e.as_string()->get());
  }
  return Status::Ok();
}

const toml::table* Section(const toml::table& root, const char* name,
                           Status* st) {
  const toml::node* n = root.get(name);
  if (n == nullptr) return nullptr;
  if (!n->is_table()) *st = Bad(name, "must be a table");
  return n->as_table();
}

Status LoadServer(const toml::table& t, Config* c) {
  const std::string p = "server.";
  RETURN_IF_ERROR(
      CheckKeys(t, p,
                {"listen", "tls_cert", "tls_key", "admin_socket",
                 "trusted_proxies", "threads", "max_body_bytes",
                 "max_header_bytes", "connection_timeout_seconds",
                 "max_connections", "max_connections_per_address"}));
  RETURN_IF_ERROR(GetStrings(t, p, "listen", &c->server.listen));
  for (const auto& l : c->server.listen) {
    Status st = api::ValidateListenAddress(l);
    if (!st.ok()) return Bad(p + "listen", st.message());
  }
  RETURN_IF_ERROR(GetString(t, p, "tls_cert", &c->tls_cert));
  RETURN_IF_ERROR(GetString(t, p, "tls_key", &c->tls_key));
  if (c->tls_cert.empty() != c->tls_key.empty()) {
    return Bad(p + "tls_cert", "tls_cert and tls_key go together");
  }
  RETURN_IF_ERROR(GetString(t, p, "admin_socket", &c->server.admin_socket));
  std::vector<std::string> proxies;
  RETURN_IF_ERROR(GetStrings(t, p, "trusted_proxies", &proxies));
  for (const auto& s : proxies) {
    StatusOr<Cidr> cidr = Cidr::Parse(s);
    if (!cidr.ok()) return Bad(p + "trusted_proxies", cidr.status().message());
    c->trusted_proxies.push_back(*cidr);
  }
  RETURN_IF_ERROR(GetInt(t, p, "threads", &c->server.threads, 1, 256));
  RETURN_IF_ERROR(
      GetInt(t, p, "max_body_bytes", &c->server.max_body_bytes, 256, 1 << 20));
  RETURN_IF_ERROR(GetInt(t, p, "max_header_bytes", &c->server.max_header_bytes,
                         4096, 1 << 20));
  RETURN_IF_ERROR(GetInt(t, p, "connection_timeout_seconds",
                         &c->server.connection_timeout_seconds, 1, 3600));
  RETURN_IF_ERROR(
      GetInt(t, p, "max_connections", &c->server.max_connections, 1, 100000));
  return GetInt(t, p, "max_connections_per_address",
                &c->server.max_connections_per_address, 1, 100000);
}

Status LoadHsm(const toml::table& t, Config* c) {
  const std::string p = "hsm.";
  RETURN_IF_ERROR(CheckKeys(
      t, p, {"module", "token", "pin_file", "sessions", "timeout_ms"}));
  RETURN_IF_ERROR(GetInt(t, p, "timeout_ms", &c->hsm_timeout_ms, 100, 600000));
  RETURN_IF_ERROR(GetString(t, p, "module", &c->hsm_module));
  RETURN_IF_ERROR(GetString(t, p, "token", &c->hsm_token, true));
  if (c->hsm_token.rfind("pkcs11:", 0) != 0) {
    return Bad(p + "token", "must be a PKCS#11 URI such as pkcs11:token=authd");
  }
  RETURN_IF_ERROR(GetString(t, p, "pin_file", &c->hsm_pin_file, true));
  return GetInt(t, p, "sessions", &c->hsm_sessions, 1, 1024);
}

Status LoadTokens(const toml::table& t, Config* c) {
  const std::string p = "tokens.";
  RETURN_IF_ERROR(
      CheckKeys(t, p, {"issuer", "audience", "ttl_seconds", "algorithm"}));
  std::string alg = "ES256";
  RETURN_IF_ERROR(GetString(t, p, "algorithm", &alg));
  if (!ParseAlgorithm(alg, &c->tokens.algorithm)) {
    return Bad(p + "algorithm", "must be ES256 or RS256");
  }
  RETURN_IF_ERROR(GetString(t, p, "issuer", &c->tokens.issuer));
  RETURN_IF_ERROR(GetString(t, p, "audience", &c->tokens.audience));
  RETURN_IF_ERROR(GetInt(t, p, "ttl_seconds", &c->tokens.ttl_seconds, 1, 600));
  if (c->tokens.issuer.empty()) return Bad(p + "issuer", "must not be empty");
  if (c->tokens.audience.empty()) {
    return Bad(p + "audience", "must not be empty");
  }
  return Status::Ok();
}

Status LoadRateLimit(const toml::table& t, Config* c) {
  const std::string p = "rate_limit.";
  RETURN_IF_ERROR(
      CheckKeys(t, p,
                {"client_failures", "client_window_seconds", "address_failures",
                 "address_window_seconds", "max_tracked"}));
  int64_t cf = 5, cw = 900, af = 20, aw = 900;
  RETURN_IF_ERROR(GetInt(t, p, "client_failures", &cf, 1, 1000000));
  RETURN_IF_ERROR(GetInt(t, p, "client_window_seconds", &cw, 1, 86400));
  RETURN_IF_ERROR(GetInt(t, p, "address_failures", &af, 1, 1000000));
  RETURN_IF_ERROR(GetInt(t, p, "address_window_seconds", &aw, 1, 86400));
  RETURN_IF_ERROR(
      GetInt(t, p, "max_tracked", &c->limiter.max_entries, 16, 10000000));
  c->limiter.client_burst = static_cast<double>(cf);
  c->limiter.client_refill_seconds = static_cast<double>(cw) / cf;
  c->limiter.address_burst = static_cast<double>(af);
  c->limiter.address_refill_seconds = static_cast<double>(aw) / af;
  return Status::Ok();
}

Status LoadRoles(const toml::table& t, Config* c) {
  for (const auto& [k, v] : t) {
    std::string name(k.str());
    std::string p = "roles." + name + ".";
    const toml::table* r = v.as_table();
    if (r == nullptr) return Bad("roles." + name, "must be a table");
    RETURN_IF_ERROR(CheckKeys(*r, p, {"description", "scopes"}));
    authority::Role role{name, "", {}};
    RETURN_IF_ERROR(GetString(*r, p, "description", &role.description, true));
    RETURN_IF_ERROR(GetStrings(*r, p, "scopes", &role.scopes));
    if (role.scopes.empty())
      return Bad(p + "scopes", "must list at least one scope");
    for (const auto& s : role.scopes) {
      if (s.empty() || s.find_first_of(" \t\"\\") != std::string::npos) {
        return Bad(p + "scopes", "'" + s + "' is not a valid scope token");
      }
    }
    c->roles.push_back(std::move(role));
  }
  return Status::Ok();
}

Status LoadStorage(const toml::table& t, Config* c) {
  RETURN_IF_ERROR(CheckKeys(t, "storage.", {"path"}));
  return GetString(t, "storage.", "path", &c->storage_path, true);
}

Status LoadLog(const toml::table& t, Config* c) {
  RETURN_IF_ERROR(CheckKeys(t, "log.", {"level"}));
  std::string level = "info";
  RETURN_IF_ERROR(GetString(t, "log.", "level", &level));
  std::optional<LogLevel> parsed = ParseLogLevel(level);
  if (!parsed) {
    return Bad("log.level", "must be debug, info, notice, warn or error");
  }
  c->log_level = *parsed;
  return Status::Ok();
}

Status LoadAudit(const toml::table& t, Config* c) {
  RETURN_IF_ERROR(CheckKeys(t, "audit.", {"origin"}));
  return GetString(t, "audit.", "origin", &c->audit_origin);
}

// One [[gateway.routes]] entry; `name` is "gateway.routes[N]".
Status LoadGatewayRoute(const toml::node& n, const std::string& name,
                        authority::GatewayRoute* r) {
  const toml::table* t = n.as_table();
  if (t == nullptr) return Bad(name, "must be a table ([[gateway.routes]])");
  const std::string p = name + ".";
  RETURN_IF_ERROR(CheckKeys(*t, p, {"prefix", "methods", "scopes"}));
  RETURN_IF_ERROR(GetString(*t, p, "prefix", &r->prefix, true));
  RETURN_IF_ERROR(GetStrings(*t, p, "methods", &r->methods));
  return GetStrings(*t, p, "scopes", &r->scopes);
}

Status LoadGateway(const toml::table& t, Config* c) {
  RETURN_IF_ERROR(CheckKeys(t, "gateway.", {"default", "routes"}));
  std::string def = "deny";
  RETURN_IF_ERROR(GetString(t, "gateway.", "default", &def));
  if (def != "deny" && def != "authenticated") {
    return Bad("gateway.default", "must be \"deny\" or \"authenticated\"");
  }
  c->gateway.default_authenticated = def == "authenticated";
  if (const toml::node* n = t.get("routes")) {
    const toml::array* routes = n->as_array();
    if (routes == nullptr) {
      return Bad("gateway.routes", "must be an array of tables");
    }
    for (size_t i = 0; i < routes->size(); ++i) {
      authority::GatewayRoute r;
      RETURN_IF_ERROR(LoadGatewayRoute(
          *routes->get(i), "gateway.routes[" + std::to_string(i) + "]", &r));
      c->gateway.routes.push_back(std::move(r));
    }
  }
  Status st = authority::ValidateGatewayPolicy(c->gateway);
  return st.ok() ? st : Status::InvalidArgument("config: " + st.message());
}

// console.url: where the console's sign-in links point, as a browser
// reaches authd ("https://appliance.example:8443"): an origin, no path.
Status CheckConsoleUrl(std::string* url) {
  while (!url->empty() && url->back() == '/') url->pop_back();
  size_t scheme = url->find("://");
  std::string s = scheme == std::string::npos ? "" : url->substr(0, scheme);
  std::string host = scheme == std::string::npos ? "" : url->substr(scheme + 3);
  if ((s != "https" && s != "http") || host.empty() ||
      host.find_first_of("/?#@ \t\\") != std::string::npos ||
      !ValidatePrintable("console.url", *url, 1, 256).ok()) {
    return Bad("console.url",
               "must be the console's origin, such as "
               "\"https://appliance.example:8443\" (no path)");
  }
  return Status::Ok();
}

Status LoadConsole(const toml::table& t, Config* c) {
  const std::string p = "console.";
  RETURN_IF_ERROR(CheckKeys(t, p, {"enabled", "url", "name"}));
  if (const toml::node* n = t.get("enabled")) {
    if (!n->is_boolean()) return Bad(p + "enabled", "must be true or false");
    c->console.enabled = n->as_boolean()->get();
  }
  RETURN_IF_ERROR(GetString(t, p, "url", &c->console.url));
  if (t.get("url") != nullptr)
    RETURN_IF_ERROR(CheckConsoleUrl(&c->console.url));
  RETURN_IF_ERROR(GetString(t, p, "name", &c->console.name));
  Status st = ValidatePrintable("console.name", c->console.name, 1, 64);
  return st.ok() ? st : Status::InvalidArgument("config: " + st.message());
}

// The tables of the file, in the order they are checked. A table with a
// `required` key must be present; its absence is reported as that key.
struct Table {
  const char* name;
  const char* required;
  Status (*load)(const toml::table&, Config*);
};
constexpr Table kTables[] = {
    {"server", nullptr, LoadServer},
    {"storage", "storage.path", LoadStorage},
    {"hsm", "hsm.token", LoadHsm},
    {"tokens", "tokens.issuer", LoadTokens},
    {"rate_limit", nullptr, LoadRateLimit},
    {"roles", nullptr, LoadRoles},
    {"log", nullptr, LoadLog},
    {"audit", nullptr, LoadAudit},
    {"gateway", nullptr, LoadGateway},
    {"console", nullptr, LoadConsole},
};

// Debian's toml++ is built with exceptions: parse errors arrive as one.
// `source` names the text in messages (the file's path).
StatusOr<toml::table> ParseToml(std::string_view text,
                                const std::string& source) {
  try {
    return toml::parse(text, source);
  } catch (const toml::parse_error& e) {
    std::ostringstream msg;
    msg << "config: " << source;
    if (e.source().begin.line > 0) {
      msg << ":" << e.source().begin.line << ":" << e.source().begin.column;
    }
    msg << ": " << e.description();
    return Status::InvalidArgument(msg.str());
  }
}

// Defaults that depend on other keys, and rules across tables.
Status Finish(Config* c) {
  if (c->roles.empty()) c->roles = authority::DefaultRoles();
  if (c->audit_origin.empty()) {
    // C2SP tlog-checkpoint: a schema-less URL; the issuer's host plus a path.
    std::string host = c->tokens.issuer;
    if (size_t p = host.find("://"); p != std::string::npos) {
      host.erase(0, p + 3);
    }
    while (!host.empty() && host.back() == '/') host.pop_back();
    c->audit_origin = host + "/authd-audit";
  }
  if (c->audit_origin.find_first_of(" +\t\n") != std::string::npos) {
    return Bad("audit.origin", "must not contain spaces or '+'");
  }
  if (c->server.listen.empty() && c->server.admin_socket.empty()) {
    return Bad("server.listen", "no TCP listener and no admin_socket");
  }
  if (c->hsm_sessions == 0) c->hsm_sessions = c->server.threads + 2;
  return Status::Ok();
}

}  // namespace

StatusOr<Config> ParseConfig(std::string_view text, const std::string& source) {
  ASSIGN_OR_RETURN(toml::table root, ParseToml(text, source));
  std::set<std::string> names;
  for (const Table& t : kTables) names.insert(t.name);
  RETURN_IF_ERROR(CheckKeys(root, "", names));
  Config c;
  c.server.threads = std::max(2u, std::thread::hardware_concurrency());
  c.tokens.ttl_seconds = 600;
  for (const Table& t : kTables) {
    Status st;
    const toml::table* table = Section(root, t.name, &st);
    RETURN_IF_ERROR(st);
    if (table == nullptr) {
      if (t.required != nullptr) return Bad(t.required, "is required");
      continue;
    }
    RETURN_IF_ERROR(t.load(*table, &c));
  }
  RETURN_IF_ERROR(Finish(&c));
  return c;
}

StatusOr<Config> LoadConfig(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::string text;
  if (in) text.assign(std::istreambuf_iterator<char>(in), {});
  if (!in && !in.eof()) {
    return Status::InvalidArgument("config: " + path +
                                   ": cannot be read: " + strerror(errno));
  }
  return ParseConfig(text, path);
}

std::vector<std::string> KeysNeedingRestart(const Config& a, const Config& b) {
  std::vector<std::string> out;
  auto check = [&](bool same, const char* key) {
    if (!same) out.push_back(key);
  };
  auto cidrs = [](const std::vector<Cidr>& v) {
    std::vector<std::string> s;
    for (const auto& c : v) s.push_back(c.ToString());
    return s;
  };
  auto roles = [](const std::vector<authority::Role>& v) {
    std::vector<std::string> s;
    for (const auto& r : v) {
      std::string line = r.name + "|" + r.description;
      for (const auto& x : r.scopes) line += "|" + x;
      s.push_back(line);
    }
    return s;
  };
  const api::ServerOptions &sa = a.server, &sb = b.server;
  check(sa.listen == sb.listen, "server.listen");
  check(a.tls_cert == b.tls_cert && a.tls_key == b.tls_key, "server.tls_cert");
  check(sa.admin_socket == sb.admin_socket, "server.admin_socket");
  check(cidrs(a.trusted_proxies) == cidrs(b.trusted_proxies),
        "server.trusted_proxies");
  check(sa.threads == sb.threads && sa.max_body_bytes == sb.max_body_bytes &&
            sa.max_header_bytes == sb.max_header_bytes &&
            sa.connection_timeout_seconds == sb.connection_timeout_seconds &&
            sa.max_connections == sb.max_connections &&
            sa.max_connections_per_address == sb.max_connections_per_address,
        "server limits");
  check(a.storage_path == b.storage_path, "storage.path");
  check(a.hsm_module == b.hsm_module && a.hsm_token == b.hsm_token &&
            a.hsm_pin_file == b.hsm_pin_file &&
            a.hsm_sessions == b.hsm_sessions &&
            a.hsm_timeout_ms == b.hsm_timeout_ms,
        "hsm");
  check(a.tokens.issuer == b.tokens.issuer &&
            a.tokens.audience == b.tokens.audience &&
            a.tokens.ttl_seconds == b.tokens.ttl_seconds &&
            a.tokens.algorithm == b.tokens.algorithm,
        "tokens");
  check(roles(a.roles) == roles(b.roles), "roles");
  check(a.audit_origin == b.audit_origin, "audit.origin");
  check(a.console.enabled == b.console.enabled &&
            a.console.url == b.console.url && a.console.name == b.console.name,
        "console");
  return out;
}

}  // namespace authd
