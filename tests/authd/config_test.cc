#include "authd/config.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <fstream>
#include <string>
#include <vector>

#include "testing/softhsm_token.h"

namespace authd {
namespace {

constexpr char kStorage[] = R"(
[storage]
path = "/var/lib/authd/authd.db"
)";
constexpr char kHsm[] = R"(
[hsm]
token = "pkcs11:token=authd"
pin_file = "/run/credentials/authd.service/hsm-pin"
)";
constexpr char kTokens[] = R"(
[tokens]
issuer = "https://authd.local"
audience = "powerhub-api"
)";
constexpr char kServer[] = R"(
[server]
listen = ["127.0.0.1:8443"]
)";

// The smallest file LoadConfig accepts.
std::string Minimal() {
  return std::string(kServer) + kStorage + kHsm + kTokens;
}

class ConfigTest : public ::testing::Test {
 protected:
  void SetUp() override {
    path_ = authd::testing::MakeTempDir("authd-config-") + "/authd.toml";
  }

  StatusOr<Config> Load(const std::string& text) {
    std::ofstream(path_) << text;
    return LoadConfig(path_);
  }

  Config MustLoad(const std::string& text) {
    StatusOr<Config> c = Load(text);
    EXPECT_TRUE(c.ok()) << c.status().message() << "\n" << text;
    return c.ok() ? std::move(c).value() : Config{};
  }

  // Loading fails with InvalidArgument and exactly `message`.
  void ExpectError(const std::string& text, const std::string& message) {
    StatusOr<Config> c = Load(text);
    ASSERT_FALSE(c.ok()) << text;
    EXPECT_EQ(c.status().code(), StatusCode::kInvalidArgument);
    EXPECT_EQ(c.status().message(), message) << text;
  }

  // Loading fails naming `key` in the message.
  void ExpectErrorNaming(const std::string& text, const std::string& key) {
    StatusOr<Config> c = Load(text);
    ASSERT_FALSE(c.ok()) << text;
    EXPECT_EQ(c.status().code(), StatusCode::kInvalidArgument);
    EXPECT_NE(c.status().message().find(key), std::string::npos)
        << c.status().message();
  }

  std::string path_;
};

std::vector<std::string> RoleNames(const std::vector<authority::Role>& roles) {
  std::vector<std::string> names;
  for (const auto& r : roles) names.push_back(r.name);
  std::sort(names.begin(), names.end());
  return names;
}

// ------------------------------------------------------------ valid files

TEST_F(ConfigTest, MinimalConfigLoadsWithDefaults) {
  Config c = MustLoad(Minimal());
  EXPECT_EQ(c.server.listen, std::vector<std::string>{"127.0.0.1:8443"});
  EXPECT_EQ(c.server.admin_socket, "");
  EXPECT_EQ(c.tls_cert, "");
  EXPECT_EQ(c.tls_key, "");
  EXPECT_TRUE(c.trusted_proxies.empty());
  EXPECT_EQ(c.storage_path, "/var/lib/authd/authd.db");
  EXPECT_EQ(c.hsm_module, "softhsm2");
  EXPECT_EQ(c.hsm_token, "pkcs11:token=authd");
  EXPECT_EQ(c.hsm_pin_file, "/run/credentials/authd.service/hsm-pin");
  EXPECT_EQ(c.hsm_sessions, c.server.threads + 2);
  EXPECT_GE(c.server.threads, 2u);
  EXPECT_EQ(c.tokens.issuer, "https://authd.local");
  EXPECT_EQ(c.tokens.audience, "powerhub-api");
  EXPECT_EQ(c.tokens.ttl_seconds, 600);
  EXPECT_EQ(c.limiter.client_burst, 5);
  EXPECT_EQ(c.limiter.client_refill_seconds, 180);
  EXPECT_EQ(c.limiter.address_burst, 20);
  EXPECT_EQ(c.limiter.address_refill_seconds, 45);
  EXPECT_EQ(c.audit_origin, "authd.local/authd-audit");
}

// SPEC "Configuration": owner, auditor, operator, viewer when none defined.
TEST_F(ConfigTest, DefaultRolesAreTheFourSpecRoles) {
  Config c = MustLoad(Minimal());
  ASSERT_EQ(c.roles.size(), 5u);
  EXPECT_EQ(RoleNames(c.roles),
            (std::vector<std::string>{"auditor", "operator", "owner",
                                      "resource-server", "viewer"}));
  for (const authority::Role& r : c.roles) {
    EXPECT_FALSE(r.description.empty()) << r.name;
    std::vector<std::string> scopes = r.scopes;
    std::sort(scopes.begin(), scopes.end());
    if (r.name == "owner") {
      for (const char* s : {"admin:read", "admin:write", "audit:read",
                            "data:read", "devices:control"}) {
        EXPECT_TRUE(
            std::binary_search(scopes.begin(), scopes.end(), std::string(s)))
            << s;
      }
    } else if (r.name == "auditor") {
      EXPECT_EQ(scopes, (std::vector<std::string>{"admin:read", "audit:read"}));
    } else if (r.name == "operator") {
      EXPECT_EQ(scopes,
                (std::vector<std::string>{"data:read", "devices:control"}));
    } else if (r.name == "resource-server") {
      EXPECT_EQ(scopes, std::vector<std::string>{"tokens:introspect"});
    } else {
      EXPECT_EQ(scopes, std::vector<std::string>{"data:read"});
    }
  }
}

// The example in SPEC "Configuration", verbatim apart from the comments.
TEST_F(ConfigTest, SpecExampleLoads) {
  Config c = MustLoad(R"(
[server]
listen = ["127.0.0.1:8443"]
tls_cert = "/etc/authd/tls.crt"
tls_key  = "/etc/authd/tls.key"
admin_socket = "/run/authd/admin.sock"
trusted_proxies = []

[storage]
path = "/var/lib/authd/authd.db"

[hsm]
module   = "softhsm2"
token    = "pkcs11:token=authd"
pin_file = "/run/credentials/authd.service/hsm-pin"

[tokens]
issuer = "https://authd.local"
audience = "powerhub-api"
ttl_seconds = 600

[roles.viewer]
description = "Read site and device data."
scopes = ["data:read"]
)");
  EXPECT_EQ(c.tls_cert, "/etc/authd/tls.crt");
  EXPECT_EQ(c.tls_key, "/etc/authd/tls.key");
  EXPECT_EQ(c.server.admin_socket, "/run/authd/admin.sock");
  ASSERT_EQ(c.roles.size(), 1u);
  EXPECT_EQ(c.roles[0].name, "viewer");
  EXPECT_EQ(c.roles[0].description, "Read site and device data.");
  EXPECT_EQ(c.roles[0].scopes, std::vector<std::string>{"data:read"});
}

TEST_F(ConfigTest, CustomRolesReplaceTheDefaults) {
  Config c = MustLoad(Minimal() + R"(
[roles.reader]
description = "Reads."
scopes = ["data:read"]

[roles.admin]
description = "Administers."
scopes = ["admin:read", "admin:write"]
)");
  EXPECT_EQ(RoleNames(c.roles), (std::vector<std::string>{"admin", "reader"}));
  for (const authority::Role& r : c.roles) {
    if (r.name == "admin") {
      EXPECT_EQ(r.description, "Administers.");
      EXPECT_EQ(r.scopes,
                (std::vector<std::string>{"admin:read", "admin:write"}));
    }
  }
}

TEST_F(ConfigTest, ListenersProxiesAndLimitsAreRead) {
  Config c = MustLoad(std::string(kStorage) + kHsm + kTokens + R"(
[server]
listen = ["0.0.0.0:443", "[::1]:8443", "127.0.0.1:0"]
trusted_proxies = ["10.0.0.0/8", "2001:db8::1"]
threads = 4

[rate_limit]
client_failures = 10
client_window_seconds = 600
address_failures = 40
address_window_seconds = 1200
max_tracked = 5000
)");
  EXPECT_EQ(c.server.listen, (std::vector<std::string>{
                                 "0.0.0.0:443", "[::1]:8443", "127.0.0.1:0"}));
  ASSERT_EQ(c.trusted_proxies.size(), 2u);
  EXPECT_EQ(c.trusted_proxies[0].ToString(), "10.0.0.0/8");
  EXPECT_EQ(c.trusted_proxies[1].ToString(), "2001:db8::1/128");
  EXPECT_EQ(c.server.threads, 4u);
  EXPECT_EQ(c.hsm_sessions, 6u);
  EXPECT_EQ(c.limiter.client_burst, 10);
  EXPECT_EQ(c.limiter.client_refill_seconds, 60);
  EXPECT_EQ(c.limiter.address_burst, 40);
  EXPECT_EQ(c.limiter.address_refill_seconds, 30);
  EXPECT_EQ(c.limiter.max_entries, 5000u);
}

TEST_F(ConfigTest, AdminSocketAloneIsEnough) {
  Config c = MustLoad(std::string(kStorage) + kHsm + kTokens + R"(
[server]
admin_socket = "/run/authd/admin.sock"
)");
  EXPECT_TRUE(c.server.listen.empty());
  EXPECT_EQ(c.server.admin_socket, "/run/authd/admin.sock");
}

TEST_F(ConfigTest, ShorterTtlIsKept) {
  Config c = MustLoad(std::string(kServer) + kStorage + kHsm + R"(
[tokens]
issuer = "https://authd.local"
audience = "powerhub-api"
ttl_seconds = 60
)");
  EXPECT_EQ(c.tokens.ttl_seconds, 60);
}

// ---------------------------------------------------------- unknown keys

TEST_F(ConfigTest, UnknownTopLevelKeyIsNamed) {
  // Top-level keys come before the first table header.
  ExpectError("listen = [\"127.0.0.1:1\"]\n" + Minimal(),
              "config: unknown key listen");
  ExpectError(Minimal() + "\n[servers]\nlisten = []\n",
              "config: unknown key servers");
}

TEST_F(ConfigTest, UnknownNestedKeyIsNamed) {
  ExpectError(std::string(kStorage) + kHsm + kTokens + R"(
[server]
lisen = ["127.0.0.1:8443"]
)",
              "config: unknown key server.lisen");
  ExpectError(std::string(kServer) + kStorage + kTokens + R"(
[hsm]
token = "pkcs11:token=authd"
pin_file = "/pin"
pin = "1234"
)",
              "config: unknown key hsm.pin");
  ExpectError(Minimal() + R"(
[roles.viewer]
description = "Reads."
scopes = ["data:read"]
scope = ["data:read"]
)",
              "config: unknown key roles.viewer.scope");
}

// ---------------------------------------------------------- bad values

TEST_F(ConfigTest, TtlAbove600IsRefused) {
  for (const char* ttl : {"601", "0", "-1", "86400"}) {
    ExpectError(std::string(kServer) + kStorage + kHsm + R"(
[tokens]
issuer = "https://authd.local"
audience = "powerhub-api"
ttl_seconds = )" + ttl +
                    "\n",
                "config: tokens.ttl_seconds: must be between 1 and 600");
  }
}

TEST_F(ConfigTest, WrongTypesAreNamed) {
  ExpectError(std::string(kServer) + kStorage + kHsm + R"(
[tokens]
issuer = "https://authd.local"
audience = "powerhub-api"
ttl_seconds = "600"
)",
              "config: tokens.ttl_seconds: must be an integer");
  ExpectError(std::string(kStorage) + kHsm + kTokens + R"(
[server]
listen = "127.0.0.1:8443"
)",
              "config: server.listen: must be an array of strings");
  ExpectError(std::string(kStorage) + kHsm + kTokens + R"(
[server]
listen = [8443]
)",
              "config: server.listen: must be an array of strings");
  ExpectError(std::string(kServer) + kHsm + kTokens + R"(
[storage]
path = 42
)",
              "config: storage.path: must be a string");
  ExpectError(std::string(kStorage) + kHsm + kTokens + R"(
[server]
listen = ["127.0.0.1:8443"]
threads = 2.5
)",
              "config: server.threads: must be an integer");
  ExpectError("server = 5\n" + std::string(kStorage) + kHsm + kTokens,
              "config: server: must be a table");
  ExpectError(Minimal() + "\n[roles]\nviewer = \"data:read\"\n",
              "config: roles.viewer: must be a table");
}

TEST_F(ConfigTest, BadListenAddressIsNamed) {
  for (const char* listen : {"localhost:8443", "127.0.0.1", "127.0.0.1:65536",
                             "127.0.0.1:", "127.0.0.1:http", "[::1]8443",
                             "[::1", "300.0.0.1:80", ""}) {
    ExpectErrorNaming(std::string(kStorage) + kHsm + kTokens +
                          "[server]\nlisten = [\"" + listen + "\"]\n",
                      "config: server.listen: ");
  }
}

TEST_F(ConfigTest, BadTrustedProxyIsNamed) {
  for (const char* proxy : {"10.0.0.1/8", "not-a-cidr", "10.0.0.0/33", ""}) {
    ExpectErrorNaming(std::string(kStorage) + kHsm + kTokens +
                          "[server]\nlisten = [\"127.0.0.1:1\"]\n"
                          "trusted_proxies = [\"" +
                          proxy + "\"]\n",
                      "config: server.trusted_proxies: ");
  }
}

TEST_F(ConfigTest, HsmTokenMustBeAPkcs11Uri) {
  for (const char* token :
       {"authd", "token=authd", "PKCS11:token=authd", "https://authd"}) {
    ExpectError(std::string(kServer) + kStorage + kTokens +
                    "[hsm]\npin_file = \"/pin\"\ntoken = \"" + token + "\"\n",
                "config: hsm.token: must be a PKCS#11 URI such as "
                "pkcs11:token=authd");
  }
}

TEST_F(ConfigTest, RequiredKeysAreNamed) {
  ExpectError(std::string(kServer) + kHsm + kTokens,
              "config: storage.path: is required");
  ExpectError(std::string(kServer) + kHsm + kTokens + "[storage]\n",
              "config: storage.path: is required");
  ExpectError(
      std::string(kServer) + kHsm + kTokens + "[storage]\npath = \"\"\n",
      "config: storage.path: must not be empty");
  ExpectError(std::string(kServer) + kStorage + kTokens,
              "config: hsm.token: is required");
  ExpectError(std::string(kServer) + kStorage + kTokens +
                  "[hsm]\ntoken = \"pkcs11:token=authd\"\n",
              "config: hsm.pin_file: is required");
  ExpectError(std::string(kServer) + kStorage + kHsm,
              "config: tokens.issuer: is required");
  ExpectError(std::string(kServer) + kStorage + kHsm +
                  "[tokens]\nissuer = \"https://authd.local\"\n",
              "config: tokens.audience: must not be empty");
  ExpectError(std::string(kStorage) + kHsm + kTokens,
              "config: server.listen: no TCP listener and no admin_socket");
  ExpectError("", "config: storage.path: is required");
}

TEST_F(ConfigTest, TlsCertAndKeyGoTogether) {
  ExpectError(std::string(kStorage) + kHsm + kTokens + R"(
[server]
listen = ["127.0.0.1:8443"]
tls_cert = "/etc/authd/tls.crt"
)",
              "config: server.tls_cert: tls_cert and tls_key go together");
}

TEST_F(ConfigTest, BadRolesAreNamed) {
  ExpectError(Minimal() + "\n[roles.viewer]\nscopes = [\"data:read\"]\n",
              "config: roles.viewer.description: is required");
  ExpectError(Minimal() + "\n[roles.viewer]\ndescription = \"x\"\n",
              "config: roles.viewer.scopes: must list at least one scope");
  ExpectError(
      Minimal() +
          "\n[roles.viewer]\ndescription = \"x\"\nscopes = [\"data read\"]\n",
      "config: roles.viewer.scopes: 'data read' is not a valid scope token");
}

TEST_F(ConfigTest, SyntaxErrorReportsTheLine) {
  StatusOr<Config> c = Load(
      "[server]\nlisten = [\"127.0.0.1:8443\"]\n"
      "threads = = 4\n");
  ASSERT_FALSE(c.ok());
  EXPECT_EQ(c.status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(c.status().message().rfind("config: " + path_ + ":3:", 0), 0u)
      << c.status().message();
}

TEST_F(ConfigTest, MissingFileNamesThePath) {
  StatusOr<Config> c = LoadConfig(path_ + ".missing");
  ASSERT_FALSE(c.ok());
  EXPECT_NE(c.status().message().find(path_ + ".missing"), std::string::npos)
      << c.status().message();
}

TEST_F(ConfigTest, GatewayRulesAreRead) {
  Config c = MustLoad(Minimal() + R"(
[gateway]
default = "authenticated"
[[gateway.routes]]
prefix = "/api/v1/sites"
methods = ["GET"]
scopes = ["data:read"]
[[gateway.routes]]
prefix = "/api/v1/devices"
scopes = ["devices:control", "data:read"]
)");
  EXPECT_TRUE(c.gateway.default_authenticated);
  ASSERT_EQ(c.gateway.routes.size(), 2u);
  EXPECT_EQ(c.gateway.routes[0].prefix, "/api/v1/sites");
  EXPECT_EQ(c.gateway.routes[0].methods, std::vector<std::string>{"GET"});
  EXPECT_TRUE(c.gateway.routes[1].methods.empty());
  EXPECT_EQ(c.gateway.routes[1].scopes.size(), 2u);
  EXPECT_FALSE(MustLoad(Minimal()).gateway.default_authenticated);
}

TEST_F(ConfigTest, BadGatewayRulesAreNamed) {
  ExpectError(Minimal() + "\n[gateway]\ndefault = \"allow\"\n",
              "config: gateway.default: must be \"deny\" or \"authenticated\"");
  ExpectError(Minimal() + "\n[[gateway.routes]]\nmethods = [\"GET\"]\n",
              "config: gateway.routes[0].prefix: is required");
  ExpectError(Minimal() + "\n[[gateway.routes]]\nprefix = \"/a\"\nverb = 1\n",
              "config: unknown key gateway.routes[0].verb");
  ExpectError(Minimal() + "\n[[gateway.routes]]\nprefix = \"/a/./b\"\n",
              "config: gateway.routes[0].prefix '/a/./b' must be a normalized "
              "absolute path such as '/a/b'");
  ExpectError(Minimal() +
                  "\n[[gateway.routes]]\nprefix = \"/a\"\n"
                  "[[gateway.routes]]\nprefix = \"/a\"\n",
              "config: gateway.routes[1] covers the same prefix and method as "
              "gateway.routes[0]");
}

TEST_F(ConfigTest, ConsoleDefaultsAndValuesAreRead) {
  Config plain = MustLoad(Minimal());
  EXPECT_TRUE(plain.console.enabled);
  EXPECT_EQ(plain.console.url, "");
  EXPECT_EQ(plain.console.name, "authd");
  Config c = MustLoad(Minimal() +
                      "\n[console]\nenabled = false\n"
                      "url = \"https://appliance.example:8443/\"\n"
                      "name = \"Site 7 gateway\"\n");
  EXPECT_FALSE(c.console.enabled);
  EXPECT_EQ(c.console.url, "https://appliance.example:8443");
  EXPECT_EQ(c.console.name, "Site 7 gateway");
  EXPECT_EQ(MustLoad(Minimal() + "\n[console]\nurl = \"http://[::1]:80\"\n")
                .console.url,
            "http://[::1]:80");
  EXPECT_EQ(KeysNeedingRestart(plain, c), std::vector<std::string>{"console"});
  EXPECT_TRUE(KeysNeedingRestart(c, c).empty());
}

TEST_F(ConfigTest, BadConsoleKeysAreNamed) {
  const std::string url_error =
      "config: console.url: must be the console's origin, such as "
      "\"https://appliance.example:8443\" (no path)";
  for (const char* url :
       {"appliance.example", "ftp://appliance.example", "https://",
        "https://appliance.example/console", "https://a.example?x=1",
        "https://user@a.example", "https://a.example#x", "https://a b"}) {
    ExpectError(Minimal() + "\n[console]\nurl = \"" + url + "\"\n", url_error);
  }
  ExpectError(Minimal() + "\n[console]\nenabled = \"yes\"\n",
              "config: console.enabled: must be true or false");
  ExpectError(Minimal() + "\n[console]\nname = \"\"\n",
              "config: console.name must be 1 to 64 characters long");
  ExpectErrorNaming(Minimal() + "\n[console]\nname = \"a\\u202Eb\"\n",
                    "console.name");
  ExpectErrorNaming(Minimal() + "\n[console]\nname = 7\n", "console.name");
  ExpectError(Minimal() + "\n[console]\ntitle = \"x\"\n",
              "config: unknown key console.title");
  ExpectError("console = true\n" + Minimal(),
              "config: console: must be a table");
}

// ------------------------------------------------------------ reload

// A file with every kind of key, to change one thing at a time.
constexpr char kFull[] = R"(
[server]
listen = ["127.0.0.1:8443"]
admin_socket = "/run/authd/admin.sock"
tls_cert = "/etc/authd/tls.crt"
tls_key = "/etc/authd/tls.key"
trusted_proxies = ["10.0.0.2"]
threads = 4
max_body_bytes = 16384
max_header_bytes = 16384
connection_timeout_seconds = 10
max_connections = 1024
max_connections_per_address = 64

[storage]
path = "/var/lib/authd/authd.db"

[hsm]
module = "softhsm2"
token = "pkcs11:token=authd"
pin_file = "/run/credentials/authd.service/hsm-pin"
sessions = 6
timeout_ms = 5000

[tokens]
issuer = "https://authd.local"
audience = "powerhub-api"
ttl_seconds = 600
algorithm = "ES256"

[rate_limit]
client_failures = 5

[log]
level = "info"

[audit]
origin = "authd.local/authd-audit"

[gateway]
default = "deny"

[roles.viewer]
description = "Reads."
scopes = ["data:read"]
)";

std::string Replace(std::string text, const std::string& from,
                    const std::string& to) {
  size_t at = text.find(from);
  EXPECT_NE(at, std::string::npos) << from;
  if (at != std::string::npos) text.replace(at, from.size(), to);
  return text;
}

class RestartTest : public ConfigTest {
 protected:
  // The names KeysNeedingRestart gives for kFull changed from `from` to `to`.
  std::vector<std::string> Changed(const std::string& from,
                                   const std::string& to,
                                   const std::string& base = kFull) {
    Config running = MustLoad(base);
    Config fresh = MustLoad(Replace(base, from, to));
    return KeysNeedingRestart(running, fresh);
  }
  using Names = std::vector<std::string>;
};

TEST_F(RestartTest, SameFileNeedsNothing) {
  EXPECT_EQ(KeysNeedingRestart(MustLoad(kFull), MustLoad(kFull)), Names{});
}

TEST_F(RestartTest, LiveKeysNeedNoRestart) {
  EXPECT_EQ(Changed("level = \"info\"", "level = \"debug\""), Names{});
  EXPECT_EQ(Changed("client_failures = 5", "client_failures = 9"), Names{});
  EXPECT_EQ(Changed("default = \"deny\"", "default = \"authenticated\""),
            Names{});
  EXPECT_EQ(Changed("ttl_seconds = 600", "ttl_seconds = 60"), Names{});
  EXPECT_EQ(Changed("audience = \"powerhub-api\"", "audience = \"other\""),
            Names{});
  EXPECT_EQ(Changed("algorithm = \"ES256\"", "algorithm = \"RS256\""), Names{});
  // The origin is set, so a new issuer leaves it alone.
  EXPECT_EQ(Changed("issuer = \"https://authd.local\"",
                    "issuer = \"https://id.example\""),
            Names{});
  EXPECT_EQ(Changed("scopes = [\"data:read\"]", "scopes = [\"x\"]"), Names{});
  EXPECT_EQ(Changed("[roles.viewer]", "[roles.reader]"), Names{});
  EXPECT_EQ(Changed("trusted_proxies = [\"10.0.0.2\"]", "trusted_proxies = []"),
            Names{});
  // A key file pair is re-read, from new paths too.
  EXPECT_EQ(Changed("tls_cert = \"/etc/authd/tls.crt\"\n"
                    "tls_key = \"/etc/authd/tls.key\"",
                    "tls_cert = \"/etc/authd/new.crt\"\n"
                    "tls_key = \"/etc/authd/new.key\""),
            Names{});
}

TEST_F(RestartTest, EachRestartKeyIsNamed) {
  EXPECT_EQ(Changed("127.0.0.1:8443", "127.0.0.1:9443"),
            Names{"server.listen"});
  EXPECT_EQ(Changed("/run/authd/admin.sock", "/run/authd/other.sock"),
            Names{"server.admin_socket"});
  EXPECT_EQ(Changed("threads = 4", "threads = 8"), Names{"server.threads"});
  EXPECT_EQ(Changed("max_body_bytes = 16384", "max_body_bytes = 4096"),
            Names{"server.max_body_bytes"});
  EXPECT_EQ(Changed("max_header_bytes = 16384", "max_header_bytes = 8192"),
            Names{"server.max_header_bytes"});
  EXPECT_EQ(Changed("connection_timeout_seconds = 10",
                    "connection_timeout_seconds = 20"),
            Names{"server.connection_timeout_seconds"});
  EXPECT_EQ(Changed("max_connections = 1024", "max_connections = 10"),
            Names{"server.max_connections"});
  EXPECT_EQ(Changed("max_connections_per_address = 64",
                    "max_connections_per_address = 8"),
            Names{"server.max_connections_per_address"});
  EXPECT_EQ(Changed("/var/lib/authd/authd.db", "/tmp/authd.db"),
            Names{"storage.path"});
  EXPECT_EQ(Changed("module = \"softhsm2\"", "module = \"/usr/lib/x.so\""),
            Names{"hsm.module"});
  EXPECT_EQ(Changed("token = \"pkcs11:token=authd\"",
                    "token = \"pkcs11:token=other\""),
            Names{"hsm.token"});
  EXPECT_EQ(Changed("hsm-pin", "other-pin"), Names{"hsm.pin_file"});
  EXPECT_EQ(Changed("sessions = 6", "sessions = 7"), Names{"hsm.sessions"});
  EXPECT_EQ(Changed("timeout_ms = 5000", "timeout_ms = 6000"),
            Names{"hsm.timeout_ms"});
  EXPECT_EQ(Changed("origin = \"authd.local/authd-audit\"",
                    "origin = \"other/authd-audit\""),
            Names{"audit.origin"});
  // Several at once, in one list.
  Config running = MustLoad(kFull);
  Config fresh = MustLoad(Replace(Replace(kFull, "threads = 4", "threads = 8"),
                                  "127.0.0.1:8443", "127.0.0.1:9443"));
  EXPECT_EQ(KeysNeedingRestart(running, fresh),
            (Names{"server.listen", "server.threads"}));
}

// audit.origin follows tokens.issuer unless set: the issuer applies live,
// the origin it would bring waits for a restart.
TEST_F(RestartTest, DerivedOriginFollowingTheIssuerNeedsARestart) {
  std::string base = Replace(kFull, "origin = \"authd.local/authd-audit\"", "");
  EXPECT_EQ(Changed("issuer = \"https://authd.local\"",
                    "issuer = \"https://id.example\"", base),
            Names{"audit.origin"});
}

TEST_F(RestartTest, TlsOnOffAndHsmKeysNeedARestart) {
  std::string pair =
      "tls_cert = \"/etc/authd/tls.crt\"\ntls_key = \"/etc/authd/tls.key\"";
  EXPECT_EQ(Changed(pair, ""), (Names{"server.tls_cert", "server.tls_key"}));
  std::string plain = Replace(kFull, pair, "");
  EXPECT_EQ(Changed("admin_socket", pair + "\nadmin_socket", plain),
            (Names{"server.tls_cert", "server.tls_key"}));
  // File to HSM and back.
  EXPECT_EQ(Changed("\"/etc/authd/tls.key\"", "\"pkcs11:object=tls\""),
            Names{"server.tls_key"});
  std::string hsm =
      Replace(kFull, "\"/etc/authd/tls.key\"", "\"pkcs11:object=tls\"");
  EXPECT_EQ(Changed("\"pkcs11:object=tls\"", "\"/etc/authd/tls.key\"", hsm),
            Names{"server.tls_key"});
  // With the key in the HSM, new paths are not re-read live.
  EXPECT_EQ(Changed("tls.crt", "new.crt", hsm), Names{"server.tls_cert"});
  EXPECT_EQ(Changed("object=tls", "object=tls2", hsm), Names{"server.tls_key"});
  EXPECT_EQ(KeysNeedingRestart(MustLoad(hsm), MustLoad(hsm)), Names{});
}

}  // namespace
}  // namespace authd
