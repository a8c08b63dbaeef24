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

}  // namespace
}  // namespace authd
