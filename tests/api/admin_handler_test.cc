// The administration API through the real Router (api::AuthdRoutes) and the
// real handlers, over real SQLite, the audit log and SoftHSM2 keys: what
// tests/e2e/test_access.py and test_keys.py check against the daemon, below
// the transport. Requests come over the admin socket (the peer's uid) or
// over TCP with a Bearer token, and pass Router::Admit (the allowlist and
// X-Forwarded-For) first, as the libmicrohttpd adapter sends them.
#include "api/admin_handler.h"

#include <gtest/gtest.h>
#include <sqlite3.h>

#include <map>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "common/encoding.h"
#include "testing/router_fixture.h"

namespace authd::api {
namespace {

using nlohmann::json;
using testing::kAllowedRange;
using testing::kClientAddress;
using testing::kDay;
using testing::kOwner;
using testing::kSocketUid;
using testing::kTokenTtl;
using testing::kVersion;
using testing::TokenClient;

const std::string kSocketActor = "uid:" + std::to_string(kSocketUid);

std::set<std::string> Keys(const json& object) {
  std::set<std::string> out;
  for (const auto& [k, v] : object.items()) out.insert(k);
  return out;
}

class AdminHandlerTest : public testing::RouterTest {
 protected:
  json CredentialBody(const std::string& name, const std::string& role,
                      int64_t lifetime = 30 * kDay) {
    return {{"name", name},
            {"role", role},
            {"expires_at", FormatRfc3339(clock_.NowSeconds() + lifetime)}};
  }

  // Creates a credential over the socket; the 201 body.
  json CreateOverSocket(const std::string& name, const std::string& role,
                        int64_t lifetime = 30 * kDay) {
    Response r = Send(SocketPost("/v1/admin/credentials",
                                 CredentialBody(name, role, lifetime)));
    EXPECT_EQ(r.status, 201) << r.body;
    return Body(r);
  }

  json List(const std::string& path) {
    Response r = Send(Socket("GET", path));
    EXPECT_EQ(r.status, 200) << r.body;
    return Body(r);
  }

  // The audit entries with `action` (and `target`), oldest first.
  json AuditEntries(const std::string& action, const std::string& target = "") {
    Request req = Socket("GET", "/v1/admin/audit");
    req.query = {{"action", action}, {"limit", "1000"}};
    if (!target.empty()) req.query["target"] = target;
    Response r = Send(req);
    EXPECT_EQ(r.status, 200) << r.body;
    return Body(r)["entries"];
  }

  std::vector<std::string> AllowlistCidrs() {
    std::vector<std::string> out;
    for (const json& e : List("/v1/admin/allowlist")) {
      out.push_back(e["cidr"].get<std::string>());
    }
    return out;
  }

  // An API error: status, `error` code and a message containing `needle`.
  static void ExpectError(const Response& r, int status,
                          const std::string& error,
                          const std::string& needle = "") {
    EXPECT_EQ(r.status, status) << r.body;
    json body = Body(r);
    EXPECT_EQ(body.value("error", ""), error) << r.body;
    EXPECT_NE(body.value("message", "").find(needle), std::string::npos)
        << "no '" << needle << "' in " << r.body;
    EXPECT_EQ(r.content_type, "application/json");
  }
};

// ---------------------------------------------------------- credentials

TEST_F(AdminHandlerTest, CreateCredentialShowsTheSecretOnce) {
  json req = CredentialBody("billing", "viewer", 90 * kDay);
  req["reason"] = "JIRA-123";
  Response r = Send(SocketPost("/v1/admin/credentials", req));
  ASSERT_EQ(r.status, 201) << r.body;
  EXPECT_EQ(HeaderOf(r, "Cache-Control"), "no-store");
  json body = Body(r);
  EXPECT_EQ(Keys(body),
            (std::set<std::string>{"client_id", "client_secret", "name", "role",
                                   "created_at", "expires_at", "created_by"}));
  EXPECT_EQ(body["name"], "billing");
  EXPECT_EQ(body["role"], "viewer");
  EXPECT_EQ(body["created_at"], FormatRfc3339(t0_));
  EXPECT_EQ(body["expires_at"], FormatRfc3339(t0_ + 90 * kDay));
  EXPECT_EQ(body["created_by"], kSocketActor);
  const std::string id = body["client_id"];
  const std::string secret = body["client_secret"];
  EXPECT_EQ(secret.rfind("authd_s_", 0), 0u);
  EXPECT_EQ(secret.size(), 8u + 43u);  // 256 bits, base64url
  EXPECT_TRUE(access_->Authenticate(id, secret).ok());

  // Never shown again: not in the list, not in the audit log.
  for (const char* path :
       {"/v1/admin/credentials", "/v1/admin/audit?limit=1000"}) {
    Response again = Send(Socket("GET", path));
    ASSERT_EQ(again.status, 200) << path;
    EXPECT_EQ(again.body.find(secret.substr(8)), std::string::npos) << path;
    EXPECT_EQ(again.body.find("client_secret"), std::string::npos) << path;
  }
  json entries = AuditEntries("credential.create", id);
  ASSERT_EQ(entries.size(), 1u);
  EXPECT_EQ(entries[0]["actor"], kSocketActor);
  EXPECT_EQ(entries[0]["source"], "unix");
  EXPECT_EQ(entries[0]["reason"], "JIRA-123");
  EXPECT_EQ(entries[0]["values"], (json{{"name", "billing"},
                                        {"role", "viewer"},
                                        {"expires_at", body["expires_at"]}}));
}

TEST_F(AdminHandlerTest, ListIsNewestFirstAndFlagsExpiredCredentials) {
  json soon = CreateOverSocket("soon", "viewer", 100);
  clock_.Advance(1);
  json later = CreateOverSocket("later", "operator");

  json list = List("/v1/admin/credentials");
  ASSERT_EQ(list.size(), 2u);
  EXPECT_EQ(list[0]["client_id"], later["client_id"]);
  EXPECT_EQ(list[1]["client_id"], soon["client_id"]);
  EXPECT_EQ(Keys(list[0]),
            (std::set<std::string>{"client_id", "name", "role", "created_at",
                                   "expires_at", "expired", "created_by",
                                   "role_exists"}));
  EXPECT_EQ(list[0]["role_exists"], true);
  EXPECT_EQ(list[1]["name"], "soon");
  EXPECT_EQ(list[1]["created_by"], kSocketActor);
  EXPECT_EQ(list[1]["expired"], false);

  // Expired at its expires_at second, as Authenticate counts it; still
  // listed.
  clock_.Set(t0_ + 99);
  EXPECT_EQ(List("/v1/admin/credentials")[1]["expired"], false);
  clock_.Set(t0_ + 100);
  list = List("/v1/admin/credentials");
  ASSERT_EQ(list.size(), 2u);
  EXPECT_EQ(list[1]["expired"], true);
  EXPECT_EQ(list[0]["expired"], false);
}

TEST_F(AdminHandlerTest, DeleteCredentialIs204ThenNotFound) {
  json c = CreateOverSocket("gone", "viewer");
  const std::string id = c["client_id"];
  const std::string secret = c["client_secret"];
  Response r = Send(
      Socket("DELETE", "/v1/admin/credentials/" + id + "?reason=offboarded"));
  EXPECT_EQ(r.status, 204) << r.body;
  EXPECT_TRUE(r.body.empty());
  ExpectError(Send(Socket("DELETE", "/v1/admin/credentials/" + id)), 404,
              "not_found");
  ExpectError(Send(Socket("DELETE", "/v1/admin/credentials/nosuch")), 404,
              "not_found");
  EXPECT_TRUE(List("/v1/admin/credentials").empty());
  EXPECT_EQ(access_->Authenticate(id, secret).status().code(),
            StatusCode::kUnauthenticated);
  json entries = AuditEntries("credential.delete");
  ASSERT_EQ(entries.size(), 1u);  // failed deletes leave no entry
  EXPECT_EQ(entries[0]["target"], id);
  EXPECT_EQ(entries[0]["reason"], "offboarded");
  EXPECT_EQ(entries[0]["values"], (json{{"name", "gone"}, {"role", "viewer"}}));
}

TEST_F(AdminHandlerTest, CredentialRulesAreTheSameOverTcpAndTheSocket) {
  const TokenClient owner = MustGetToken("owner");
  auto expires = [&](int64_t in) { return FormatRfc3339(t0_ + in); };
  struct Case {
    json body;
    std::string needle;
  };
  const Case cases[] = {
      {{{"name", ""}, {"role", "viewer"}, {"expires_at", expires(3600)}},
       "name"},
      {{{"name", std::string(65, 'x')},
        {"role", "viewer"},
        {"expires_at", expires(3600)}},
       "64"},
      {{{"name", "tab\there"},
        {"role", "viewer"},
        {"expires_at", expires(3600)}},
       "printable"},
      {{{"name", "ok"}, {"role", "nope"}, {"expires_at", expires(3600)}},
       "role 'nope' does not exist"},
      {{{"name", "ok"}, {"role", "viewer"}, {"expires_at", expires(-10)}},
       "future"},
      {{{"name", "ok"}, {"role", "viewer"}, {"expires_at", expires(0)}},
       "future"},
      {{{"name", "ok"},
        {"role", "viewer"},
        {"expires_at", expires(366 * kDay)}},
       "365"},
      {{{"name", "ok"}, {"role", "viewer"}, {"expires_at", "tomorrow"}},
       "RFC 3339"},
      {{{"name", "ok"}, {"role", "viewer"}}, "expires_at is required"},
      {{{"role", "viewer"}, {"expires_at", expires(3600)}}, "name is required"},
      {{{"name", "ok"},
        {"role", "viewer"},
        {"expires_at", expires(60)},
        {"secret", "x"}},
       "unknown field 'secret'"},
      {{{"name", 7}, {"role", "viewer"}, {"expires_at", expires(60)}},
       "name must be a string"},
      {{{"name", "ok"},
        {"role", "viewer"},
        {"expires_at", expires(60)},
        {"reason", std::string(1025, 'r')}},
       "reason"},
      {json::array({"name", "ok"}), "JSON object"},
  };
  for (const Case& c : cases) {
    ExpectError(Send(SocketPost("/v1/admin/credentials", c.body)), 400,
                "invalid_request", c.needle);
    ExpectError(Send(TcpPost("/v1/admin/credentials", c.body, owner.token)),
                400, "invalid_request", c.needle);
  }
  Request not_json = SocketPost("/v1/admin/credentials", {});
  not_json.body = SecureString(std::string_view("not json"));
  ExpectError(Send(not_json), 400, "invalid_request", "JSON object");
  // A repeated key is refused, not read as its last value.
  Request twice = SocketPost("/v1/admin/credentials", {});
  twice.body = SecureString(std::string_view(
      R"({"name":"a","role":"viewer","role":"owner","expires_at":")" +
      expires(60) + R"("})"));
  ExpectError(Send(twice), 400, "invalid_request", "duplicate key 'role'");
  // Nothing was created but the owner's own credential.
  EXPECT_EQ(List("/v1/admin/credentials").size(), 1u);
  EXPECT_TRUE(AuditEntries("credential.create").size() == 1u);

  // The limits themselves pass: 64 characters (not bytes), 365 days.
  json ok = {{"name",
              [] {
                std::string s;
                for (int i = 0; i < 64; ++i) s += "\xc3\xbc";  // ü
                return s;
              }()},
             {"role", "viewer"},
             {"expires_at", expires(365 * kDay)}};
  EXPECT_EQ(Send(SocketPost("/v1/admin/credentials", ok)).status, 201);
  EXPECT_EQ(Send(TcpPost("/v1/admin/credentials", ok, owner.token)).status,
            201);
}

TEST_F(AdminHandlerTest, ChangesOverTcpNameTheClientAndItsAddress) {
  const TokenClient owner = MustGetToken("owner");
  Response r = Send(TcpPost("/v1/admin/credentials",
                            CredentialBody("svc", "viewer"), owner.token));
  ASSERT_EQ(r.status, 201) << r.body;
  EXPECT_EQ(r.log_client_id, owner.client_id);
  const std::string id = Body(r)["client_id"];
  EXPECT_EQ(Body(r)["created_by"], "client:" + owner.client_id);
  json entries = AuditEntries("credential.create", id);
  ASSERT_EQ(entries.size(), 1u);
  EXPECT_EQ(entries[0]["actor"], "client:" + owner.client_id);
  EXPECT_EQ(entries[0]["source"], kClientAddress);

  r = Send(TcpPost("/v1/admin/allowlist", {{"cidr", "198.51.100.0/24"}},
                   owner.token));
  ASSERT_EQ(r.status, 201) << r.body;
  EXPECT_EQ(Body(r)["created_by"], "client:" + owner.client_id);
  r = Send(Tcp("DELETE", "/v1/admin/credentials/" + id + "?reason=done",
               owner.token));
  EXPECT_EQ(r.status, 204) << r.body;
  entries = AuditEntries("credential.delete", id);
  ASSERT_EQ(entries.size(), 1u);
  EXPECT_EQ(entries[0]["actor"], "client:" + owner.client_id);
  EXPECT_EQ(entries[0]["reason"], "done");
}

// SPEC "Security rules": a role can only be granted by a caller that holds
// every scope of it; the socket is local root trust and holds all.
TEST_F(AdminHandlerTest, GrantingARoleNeedsEveryScopeOfIt) {
  const TokenClient admin =
      MustGetToken("owner", "admin:read admin:write data:read");
  ExpectError(Send(TcpPost("/v1/admin/credentials",
                           CredentialBody("op", "operator"), admin.token)),
              403, "forbidden",
              "needs scopes the caller does not hold: "
              "devices:control");
  ExpectError(Send(TcpPost("/v1/admin/credentials",
                           CredentialBody("root", "owner"), admin.token)),
              403, "forbidden", "audit:read devices:control tokens:introspect");
  EXPECT_EQ(List("/v1/admin/credentials").size(), 1u);
  EXPECT_EQ(AuditEntries("credential.create").size(), 1u);

  EXPECT_EQ(Send(TcpPost("/v1/admin/credentials",
                         CredentialBody("ro", "viewer"), admin.token))
                .status,
            201);
  const TokenClient owner = MustGetToken("owner");
  EXPECT_EQ(Send(TcpPost("/v1/admin/credentials",
                         CredentialBody("op", "operator"), owner.token))
                .status,
            201);
  CreateOverSocket("root", "owner");
  EXPECT_EQ(AuditEntries("credential.create").size(), 5u);
}

TEST_F(AdminHandlerTest, BadReasonOnDeleteIs400AndChangesNothing) {
  json c = CreateOverSocket("kept", "viewer");
  const std::string id = c["client_id"];
  for (const std::string& reason :
       {std::string("a\nb"), std::string("\xff"), std::string(1025, 'x')}) {
    Request req = Socket("DELETE", "/v1/admin/credentials/" + id);
    req.query["reason"] = reason;
    ExpectError(Send(req), 400, "invalid_request", "reason");
    req = Socket("DELETE", "/v1/admin/allowlist/192.0.2.0/24");
    req.query["reason"] = reason;
    ExpectError(Send(req), 400, "invalid_request", "reason");
  }
  EXPECT_EQ(List("/v1/admin/credentials").size(), 1u);
  EXPECT_EQ(AllowlistCidrs(), std::vector<std::string>{kAllowedRange});
}

// SPEC "Administration": every admin body is JSON; anything else is 415.
TEST_F(AdminHandlerTest, NonJsonPostIs415) {
  const TokenClient owner = MustGetToken("owner");
  for (const std::string path : {"/v1/admin/credentials", "/v1/admin/allowlist",
                                 "/v1/admin/keys/rotate"}) {
    for (const char* type :
         {"text/plain", "application/x-www-form-urlencoded",
          "application/jsonx", "application/json-patch+json", ""}) {
      Request req = SocketPost(path, {{"cidr", "198.51.100.0/24"}});
      req.headers["content-type"] = type;
      ExpectError(Send(req), 415, "unsupported_media_type", "application/json");
      req = TcpPost(path, {{"cidr", "198.51.100.0/24"}}, owner.token);
      req.headers["content-type"] = type;
      ExpectError(Send(req), 415, "unsupported_media_type", "application/json");
    }
    Request none = SocketPost(path, {{"cidr", "198.51.100.0/24"}});
    none.headers.erase("content-type");
    ExpectError(Send(none), 415, "unsupported_media_type");
    // Authorization comes first: no token, no hint about the body.
    Request anonymous = TcpPost(path, {{"cidr", "198.51.100.0/24"}}, "");
    anonymous.headers["content-type"] = "text/plain";
    EXPECT_EQ(Send(anonymous).status, 401);
  }
  EXPECT_EQ(AllowlistCidrs(), std::vector<std::string>{kAllowedRange});
  EXPECT_EQ(ring_->Current()->all.size(), 1u);
}

// RFC 9110 §8.3.1: type and subtype are case-insensitive; parameters may
// follow, with optional whitespace before the ';'.
TEST_F(AdminHandlerTest, JsonMediaTypeParametersAndCaseAreAccepted) {
  int n = 0;
  for (const char* type :
       {"application/json; charset=utf-8", "application/json;charset=UTF-8",
        "Application/JSON", "application/json ; charset=utf-8"}) {
    Request req =
        SocketPost("/v1/admin/allowlist",
                   {{"cidr", "198.51.100." + std::to_string(n++) + "/32"}});
    req.headers["content-type"] = type;
    Response r = Send(req);
    EXPECT_EQ(r.status, 201) << type << ": " << r.body;
  }
}

// ------------------------------------------------------------ allowlist

TEST_F(AdminHandlerTest, AllowlistEntriesAreStoredNormalized) {
  struct Case {
    const char* written;
    const char* stored;
  };
  const Case cases[] = {
      {"2001:DB8:0:0::/32", "2001:db8::/32"},
      {"198.51.100.7", "198.51.100.7/32"},
      {"2001:db8:1::1", "2001:db8:1::1/128"},
      {"::ffff:203.0.113.0/120", "203.0.113.0/24"},
  };
  for (const Case& c : cases) {
    clock_.Advance(1);
    Response r = Send(SocketPost("/v1/admin/allowlist", {{"cidr", c.written}}));
    ASSERT_EQ(r.status, 201) << c.written << ": " << r.body;
    EXPECT_EQ(Body(r), (json{{"cidr", c.stored},
                             {"created_at", FormatRfc3339(clock_.NowSeconds())},
                             {"created_by", kSocketActor}}));
  }
  json list = List("/v1/admin/allowlist");
  std::set<std::string> listed;
  for (const json& e : list) {
    EXPECT_EQ(Keys(e),
              (std::set<std::string>{"cidr", "created_at", "created_by"}));
    listed.insert(e["cidr"].get<std::string>());
  }
  EXPECT_EQ(listed, (std::set<std::string>{
                        kAllowedRange, "2001:db8::/32", "198.51.100.7/32",
                        "2001:db8:1::1/128", "203.0.113.0/24"}));
  EXPECT_EQ(AuditEntries("allowlist.add", "2001:db8::/32").size(), 1u);
}

TEST_F(AdminHandlerTest, DuplicateAllowlistEntryIs409) {
  ASSERT_EQ(Send(SocketPost("/v1/admin/allowlist", {{"cidr", "2001:db8::/32"}}))
                .status,
            201);
  const size_t audited = audit_->size();
  // Every spelling of a listed range is the same entry.
  for (const char* dup : {"2001:db8::/32", "2001:DB8::/32", "192.0.2.0/24",
                          "::ffff:192.0.2.0/120"}) {
    Response r = Send(SocketPost("/v1/admin/allowlist", {{"cidr", dup}}));
    ExpectError(r, 409, "conflict", "is already on the allowlist");
  }
  EXPECT_EQ(audit_->size(), audited);
  EXPECT_EQ(AllowlistCidrs().size(), 2u);
}

// {"cidr":"10.0.0.0/8","cidr":"0.0.0.0/0"} must not add 0.0.0.0/0.
TEST_F(AdminHandlerTest, RepeatedJsonKeyIs400NamingTheKey) {
  const TokenClient owner = MustGetToken("owner");
  const std::string text = R"({"cidr":"10.0.0.0/8","cidr":"0.0.0.0/0"})";
  Request socket = SocketPost("/v1/admin/allowlist", {});
  socket.body = SecureString(std::string_view(text));
  ExpectError(Send(socket), 400, "invalid_request", "duplicate key 'cidr'");
  Request tcp = TcpPost("/v1/admin/allowlist", {}, owner.token);
  tcp.body = SecureString(std::string_view(text));
  ExpectError(Send(tcp), 400, "invalid_request", "duplicate key 'cidr'");
  EXPECT_EQ(AllowlistCidrs(), std::vector<std::string>{kAllowedRange});
  EXPECT_TRUE(AuditEntries("allowlist.add").size() == 1u);
}

TEST_F(AdminHandlerTest, HostBitsAreRejectedNamingTheRange) {
  ExpectError(Send(SocketPost("/v1/admin/allowlist", {{"cidr", "10.1.2.3/8"}})),
              400, "invalid_request", "did you mean 10.0.0.0/8?");
  ExpectError(
      Send(SocketPost("/v1/admin/allowlist", {{"cidr", "2001:db8::1/32"}})),
      400, "invalid_request", "did you mean 2001:db8::/32?");
  EXPECT_EQ(AllowlistCidrs(), std::vector<std::string>{kAllowedRange});
}

TEST_F(AdminHandlerTest, MalformedAllowlistEntriesAre400) {
  for (const char* bad : {"10.0.0.256", "1.2.3.4/33", "", "banana", "::1/129",
                          "fe80::1%eth0", "10.0.0.0/08", "10.0.0.0/"}) {
    ExpectError(Send(SocketPost("/v1/admin/allowlist", {{"cidr", bad}})), 400,
                "invalid_request");
  }
  ExpectError(Send(SocketPost("/v1/admin/allowlist", json::object())), 400,
              "invalid_request", "cidr is required");
  ExpectError(Send(SocketPost("/v1/admin/allowlist", {{"cidr", 10}})), 400,
              "invalid_request", "cidr must be a string");
  ExpectError(Send(SocketPost("/v1/admin/allowlist",
                              {{"cidr", "10.0.0.0/8"}, {"comment", "x"}})),
              400, "invalid_request", "unknown field 'comment'");
  EXPECT_EQ(AllowlistCidrs(), std::vector<std::string>{kAllowedRange});
}

TEST_F(AdminHandlerTest, RemoveAllowlistEntryIs204ThenNotFound) {
  for (const char* cidr : {"198.51.100.7", "2001:db8::/32"}) {
    ASSERT_EQ(Send(SocketPost("/v1/admin/allowlist", {{"cidr", cidr}})).status,
              201);
  }
  // The '/' of the range arrives percent-decoded in the path.
  Response r = Send(Socket("DELETE", "/v1/admin/allowlist/198.51.100.7/32"));
  EXPECT_EQ(r.status, 204) << r.body;
  ExpectError(Send(Socket("DELETE", "/v1/admin/allowlist/198.51.100.7/32")),
              404, "not_found");
  // Any spelling of the range removes it.
  EXPECT_EQ(
      Send(Socket("DELETE", "/v1/admin/allowlist/2001:DB8:0::/32")).status,
      204);
  ExpectError(Send(Socket("DELETE", "/v1/admin/allowlist/10.1.2.3/8")), 400,
              "invalid_request", "did you mean 10.0.0.0/8?");
  ExpectError(Send(Socket("DELETE", "/v1/admin/allowlist/banana")), 400,
              "invalid_request");
  EXPECT_EQ(AllowlistCidrs(), std::vector<std::string>{kAllowedRange});
  json removed = AuditEntries("allowlist.remove");
  ASSERT_EQ(removed.size(), 2u);
  EXPECT_EQ(removed[0]["target"], "198.51.100.7/32");
  EXPECT_EQ(removed[1]["target"], "2001:db8::/32");
}

TEST_F(AdminHandlerTest, AllowlistChangeAppliesToTheNextRequest) {
  const std::string outsider = "203.0.113.9";
  EXPECT_EQ(Send(Tcp("GET", "/v1/auth/jwks", "", outsider)).status, 403);
  ASSERT_EQ(
      Send(SocketPost("/v1/admin/allowlist", {{"cidr", outsider}})).status,
      201);
  EXPECT_EQ(Send(Tcp("GET", "/v1/auth/jwks", "", outsider)).status, 200);
  ASSERT_EQ(
      Send(Socket("DELETE", "/v1/admin/allowlist/" + outsider + "/32")).status,
      204);
  EXPECT_EQ(Send(Tcp("GET", "/v1/auth/jwks", "", outsider)).status, 403);
}

// ------------------------------------------------------- roles, status

TEST_F(AdminHandlerTest, RolesListsTheRolesAndTheirScopes) {
  json roles = List("/v1/admin/roles");
  std::map<std::string, json> by_name;
  for (const json& r : roles) {
    EXPECT_EQ(Keys(r),
              (std::set<std::string>{"name", "description", "scopes"}));
    EXPECT_FALSE(r["description"].get<std::string>().empty());
    by_name[r["name"].get<std::string>()] = r["scopes"];
  }
  EXPECT_EQ(by_name.size(), 5u);
  EXPECT_EQ(by_name["viewer"], json::array({"data:read"}));
  EXPECT_EQ(by_name["resource-server"], json::array({"tokens:introspect"}));
  EXPECT_EQ(by_name["auditor"], json::array({"admin:read", "audit:read"}));
  EXPECT_EQ(by_name["operator"], json::array({"data:read", "devices:control"}));
  EXPECT_EQ(by_name["owner"],
            json::array({"admin:read", "admin:write", "audit:read", "data:read",
                         "devices:control", "tokens:introspect"}));
  // Over TCP, admin:read is enough.
  const TokenClient auditor = MustGetToken("auditor");
  Response r = Send(Tcp("GET", "/v1/admin/roles", auditor.token));
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(Body(r), roles);
}

TEST_F(AdminHandlerTest, StatusReportsTheServersState) {
  CreateOverSocket("a", "viewer");
  CreateOverSocket("b", "viewer");
  json status = List("/v1/admin/status");
  EXPECT_EQ(status, (json{{"version", kVersion},
                          {"ready", true},
                          {"audit", "ok"},
                          {"audit_size", audit_->size()},
                          {"integrity", "ok"},
                          {"integrity_failures", json::array()},
                          {"credentials", 2},
                          {"credentials_without_role", 0},
                          {"allowlist", 1},
                          {"token_kid", ring_->Current()->active.pub.kid()}}));
  EXPECT_EQ(status["audit_size"], 3);  // the allowlist entry, two credentials

  readiness_->Set(false);
  EXPECT_EQ(List("/v1/admin/status")["ready"], false);
  clock_.Advance(1);
  ASSERT_TRUE(Rotate(Algorithm::kES256).ok());
  EXPECT_EQ(List("/v1/admin/status")["token_kid"],
            ring_->Current()->active.pub.kid());
}

// ----------------------------------------------------------------- keys

// A credential edited in the database while authd was stopped: not
// honoured, reported (without detail on /readyz), and every change but its
// deletion refused with 409 until the operator deletes it; then ready again
// without a restart.
TEST_F(AdminHandlerTest, TamperedRowIsReportedAndOnlyItsDeletionIsAccepted) {
  const std::string id = CreateOverSocket("victim", "viewer")["client_id"];
  ring_.reset();
  access_.reset();
  audit_.reset();
  storage_.reset();
  sqlite3* db = nullptr;
  ASSERT_EQ(sqlite3_open(db_path_.c_str(), &db), SQLITE_OK);
  std::string sql =
      "UPDATE credentials SET role = 'owner' WHERE client_id = '" + id + "'";
  int rc = sqlite3_exec(db, sql.c_str(), nullptr, nullptr, nullptr);
  sqlite3_close(db);
  ASSERT_EQ(rc, SQLITE_OK);
  ASSERT_NO_FATAL_FAILURE(Reopen());
  BuildApi();

  Response ready = Send(Tcp("GET", "/readyz"));
  EXPECT_EQ(ready.status, 503);
  EXPECT_EQ(Body(ready)["integrity"], "rows failed their check");
  EXPECT_EQ(ready.body.find(id), std::string::npos) << ready.body;
  json status = List("/v1/admin/status");
  EXPECT_EQ(status["ready"], false);
  EXPECT_EQ(status["integrity"],
            "1 stored row failed its integrity check and is not honoured; "
            "changes are refused until each is removed with the command "
            "given");
  EXPECT_EQ(status["integrity_failures"],
            (json::array({{{"table", "credentials"},
                           {"key", id},
                           {"problem",
                            "does not match its integrity MAC (edited "
                            "outside authd)"},
                           {"resolve", "authctl credential delete " + id}}})));

  for (Request change :
       {SocketPost("/v1/admin/allowlist", {{"cidr", "198.51.100.0/24"}}),
        SocketPost("/v1/admin/credentials", CredentialBody("x", "viewer")),
        SocketPost("/v1/admin/keys/rotate", {{"use", "token"}}),
        Socket("DELETE", "/v1/admin/allowlist/192.0.2.0/24")}) {
    Response r = Send(change);
    EXPECT_EQ(r.status, 409) << change.path;
    EXPECT_EQ(Body(r)["error"], "conflict");
    EXPECT_NE(Body(r)["message"].get<std::string>().find(
                  "authctl credential delete " + id),
              std::string::npos)
        << r.body;
  }
  Response del = Send(Socket("DELETE", "/v1/admin/credentials/" + id));
  EXPECT_EQ(del.status, 204) << del.body;
  EXPECT_EQ(Send(Tcp("GET", "/readyz")).status, 200);
  EXPECT_EQ(List("/v1/admin/status")["integrity"], "ok");
  EXPECT_EQ(
      Send(SocketPost("/v1/admin/allowlist", {{"cidr", "198.51.100.0/24"}}))
          .status,
      201);
}

TEST_F(AdminHandlerTest, KeysListShowsTheTokenAuditAndPepperKeys) {
  // Without their key.create entries the fixed keys' creation is unknown.
  json keys_json = List("/v1/admin/keys");
  ASSERT_EQ(keys_json.size(), 3u);
  EXPECT_TRUE(keys_json[1]["created_at"].is_null());
  EXPECT_TRUE(keys_json[2]["created_at"].is_null());

  ASSERT_TRUE(access_->RecordStartup({}).ok());  // at t0_
  clock_.Advance(3600);
  keys_json = List("/v1/admin/keys");
  ASSERT_EQ(keys_json.size(), 3u);
  const PublicKey& token = keys().Public(hsm::KeyUse::kToken);
  const PublicKey& audit = keys().Public(hsm::KeyUse::kAudit);
  EXPECT_EQ(keys_json[0], (json{{"use", "token"},
                                {"label", hsm::kTokenKeyLabel},
                                {"kid", token.kid()},
                                {"algorithm", "ES256"},
                                {"created_at", FormatRfc3339(t0_)},
                                {"state", "active"},
                                {"public_key_pem", token.pem()}}));
  EXPECT_EQ(keys_json[1], (json{{"use", "audit"},
                                {"label", hsm::kAuditKeyLabel},
                                {"kid", audit.kid()},
                                {"algorithm", "ES256"},
                                {"created_at", FormatRfc3339(t0_)},
                                {"state", "active"},
                                {"public_key_pem", audit.pem()}}));
  EXPECT_EQ(keys_json[2], (json{{"use", "pepper"},
                                {"label", hsm::kPepperLabel},
                                {"kid", nullptr},
                                {"algorithm", "HMAC-SHA256"},
                                {"created_at", FormatRfc3339(t0_)},
                                {"state", "active"}}));
  // The published PEM is the auditor's key: it parses to the same key.
  StatusOr<PublicKey> pem =
      PublicKey::FromPem(keys_json[1]["public_key_pem"].get<std::string>());
  ASSERT_TRUE(pem.ok()) << pem.status().message();
  EXPECT_EQ(pem->kid(), audit.kid());
}

TEST_F(AdminHandlerTest, RotateKeyMakesANewActiveKeyAndAuditsIt) {
  const std::string old_kid = ring_->Current()->active.pub.kid();
  clock_.Advance(10);
  Response r = Send(SocketPost("/v1/admin/keys/rotate",
                               {{"use", "token"}, {"reason", "quarterly"}}));
  ASSERT_EQ(r.status, 201) << r.body;
  json fresh = Body(r);
  EXPECT_EQ(fresh["use"], "token");
  EXPECT_EQ(fresh["state"], "active");
  EXPECT_EQ(fresh["algorithm"], "ES256");  // the active key's when not given
  EXPECT_EQ(fresh["created_at"], FormatRfc3339(t0_ + 10));
  EXPECT_EQ(fresh["kid"], ring_->Current()->active.pub.kid());
  EXPECT_NE(fresh["kid"], old_kid);
  EXPECT_FALSE(fresh.contains("retired_at"));

  json listed = List("/v1/admin/keys");
  ASSERT_EQ(listed.size(), 4u);
  EXPECT_EQ(listed[0]["kid"], fresh["kid"]);
  EXPECT_EQ(listed[0]["state"], "active");
  EXPECT_EQ(listed[1]["kid"], old_kid);
  EXPECT_EQ(listed[1]["state"], "retired");
  EXPECT_EQ(listed[1]["retired_at"], FormatRfc3339(t0_ + 10));

  json entries = AuditEntries("key.rotate");
  ASSERT_EQ(entries.size(), 1u);
  EXPECT_EQ(entries[0]["actor"], kSocketActor);
  EXPECT_EQ(entries[0]["source"], "unix");
  EXPECT_EQ(entries[0]["reason"], "quarterly");
  EXPECT_EQ(entries[0]["values"]["kid"], fresh["kid"]);
  EXPECT_EQ(entries[0]["values"]["previous_kid"], old_kid);

  // RS256 on request; the JWKS then leads with an RSA key.
  clock_.Advance(10);
  r = Send(SocketPost("/v1/admin/keys/rotate",
                      {{"use", "token"}, {"algorithm", "RS256"}}));
  ASSERT_EQ(r.status, 201) << r.body;
  EXPECT_EQ(Body(r)["algorithm"], "RS256");
  json jwks = Body(Send(Tcp("GET", "/v1/auth/jwks")));
  ASSERT_EQ(jwks["keys"].size(), 3u);
  EXPECT_EQ(jwks["keys"][0]["kty"], "RSA");
  EXPECT_EQ(jwks["keys"][0]["alg"], "RS256");
  EXPECT_EQ(jwks["keys"][0]["kid"], Body(r)["kid"]);
}

TEST_F(AdminHandlerTest, RotateKeyRefusesOtherUsesAndAlgorithms) {
  struct Case {
    json body;
    std::string needle;
  };
  const Case cases[] = {
      {{{"use", "audit"}}, "only use=token"},
      {{{"use", "pepper"}}, "only use=token"},
      {{{"use", "token"}, {"algorithm", "HS256"}}, "ES256 or RS256"},
      {{{"use", "token"}, {"algorithm", "none"}}, "ES256 or RS256"},
      {json::object(), "use is required"},
      {{{"use", "token"}, {"kid", "mine"}}, "unknown field 'kid'"},
      {{{"use", "token"}, {"reason", "a\nb"}}, "reason"},
  };
  for (const Case& c : cases) {
    ExpectError(Send(SocketPost("/v1/admin/keys/rotate", c.body)), 400,
                "invalid_request", c.needle);
  }
  const TokenClient auditor = MustGetToken("auditor");
  Response r =
      Send(TcpPost("/v1/admin/keys/rotate", {{"use", "token"}}, auditor.token));
  ExpectError(r, 403, "insufficient_scope", "admin:write");
  EXPECT_EQ(ring_->Current()->all.size(), 1u);
  EXPECT_TRUE(AuditEntries("key.rotate").empty());
}

// tests/e2e/test_keys.py waits in real time for this; here the clock moves.
TEST_F(AdminHandlerTest, RetiredKeyLeavesTheJwksWhenItsTokensHaveExpired) {
  const std::string old_kid = ring_->Current()->active.pub.kid();
  Response r = Send(SocketPost("/v1/admin/keys/rotate", {{"use", "token"}}));
  ASSERT_EQ(r.status, 201) << r.body;
  const std::string new_kid = Body(r)["kid"];
  auto jwks_kids = [&] {
    std::vector<std::string> kids;
    const json jwks = Body(Send(Tcp("GET", "/.well-known/jwks.json")));
    for (const json& k : jwks["keys"]) {
      kids.push_back(k["kid"].get<std::string>());
    }
    return kids;
  };
  auto token_states = [&] {
    std::vector<std::string> states;
    for (const json& k : List("/v1/admin/keys")) {
      if (k["use"] == "token") states.push_back(k["state"].get<std::string>());
    }
    return states;
  };
  EXPECT_EQ(jwks_kids(), (std::vector<std::string>{new_kid, old_kid}));
  clock_.Advance(kTokenTtl - 1);
  EXPECT_EQ(jwks_kids(), (std::vector<std::string>{new_kid, old_kid}));
  EXPECT_EQ(token_states(), (std::vector<std::string>{"active", "retired"}));
  clock_.Advance(2);
  EXPECT_EQ(jwks_kids(), std::vector<std::string>{new_kid});
  EXPECT_EQ(token_states(), (std::vector<std::string>{"active", "expired"}));
}

TEST_F(AdminHandlerTest, TokensOfTheRetiredKeyKeepWorkingOnTheAdminApi) {
  const TokenClient owner = MustGetToken("owner");
  clock_.Advance(1);
  ASSERT_EQ(
      Send(SocketPost("/v1/admin/keys/rotate", {{"use", "token"}})).status,
      201);
  Response r = Send(Tcp("GET", "/v1/admin/keys", owner.token));
  EXPECT_EQ(r.status, 200) << r.body;
  // Until the token expires.
  clock_.Advance(kTokenTtl);
  ExpectError(Send(Tcp("GET", "/v1/admin/keys", owner.token)), 401,
              "unauthorized");
}

// ------------------------------------------------------- authorization

TEST_F(AdminHandlerTest, NoOrBadTokenOverTcpIs401WithAChallenge) {
  const TokenClient owner = MustGetToken("owner");
  std::string tampered = owner.token;
  tampered.back() = tampered.back() == 'A' ? 'B' : 'A';
  std::string other_audience;
  {
    authority::TokenService other(ring_.get(), access_.get(), &limiter_,
                                  nullptr, &clock_,
                                  {testing::kIssuer, "other", 600});
    authority::CreatedCredential c = MustCreate("elsewhere", "owner");
    other_audience =
        other.Issue({{c.credential.client_id, c.client_secret.view(), "x"}, {}})
            .token.access_token;
    ASSERT_FALSE(other_audience.empty());
  }
  struct Case {
    std::optional<std::string> authorization;
    bool invalid_token;  // a Bearer token was presented
  };
  const Case cases[] = {
      {std::nullopt, false},
      {"Basic " + Base64Encode("id:secret"), false},
      {"Bearer", false},
      {"Bearer garbage", true},
      {"Bearer " + tampered, true},
      {"Bearer " + other_audience, true},
  };
  for (const Case& c : cases) {
    Request req = Tcp("GET", "/v1/admin/credentials");
    if (c.authorization) req.headers["authorization"] = *c.authorization;
    Response r = Send(req);
    ExpectError(r, 401, "unauthorized");
    std::optional<std::string> challenge = HeaderOf(r, "WWW-Authenticate");
    ASSERT_TRUE(challenge.has_value());
    EXPECT_EQ(challenge->rfind("Bearer realm=\"authd\"", 0), 0u) << *challenge;
    EXPECT_EQ(challenge->find("error=\"invalid_token\"") != std::string::npos,
              c.invalid_token)
        << c.authorization.value_or("(none)");
  }
  // The scheme is case-insensitive (RFC 9110 §11.1).
  Request lower = Tcp("GET", "/v1/admin/credentials");
  lower.headers["authorization"] = "bearer " + owner.token;
  EXPECT_EQ(Send(lower).status, 200);
}

TEST_F(AdminHandlerTest, InsufficientScopeIs403NamingTheScope) {
  const TokenClient viewer = MustGetToken("viewer");
  const TokenClient operator_ = MustGetToken("operator");
  const TokenClient auditor = MustGetToken("auditor");
  const TokenClient narrowed = MustGetToken("owner", "admin:read");
  struct Case {
    const TokenClient* who;
    std::string method, path, scope;
  };
  const Case cases[] = {
      {&viewer, "GET", "/v1/admin/credentials", "admin:read"},
      {&operator_, "GET", "/v1/admin/status", "admin:read"},
      {&auditor, "POST", "/v1/admin/allowlist", "admin:write"},
      {&auditor, "DELETE", "/v1/admin/credentials/" + viewer.client_id,
       "admin:write"},
      {&auditor, "POST", "/v1/admin/keys/rotate", "admin:write"},
      {&narrowed, "DELETE", "/v1/admin/allowlist/192.0.2.0/24", "admin:write"},
      {&narrowed, "POST", "/v1/admin/credentials", "admin:write"},
      {&narrowed, "GET", "/v1/admin/audit", "audit:read"},
      {&viewer, "GET", "/v1/admin/audit/checkpoint", "audit:read"},
  };
  for (const Case& c : cases) {
    Request req = Tcp(c.method, c.path, c.who->token);
    if (c.method == "POST") WithJson(req, {{"cidr", "198.51.100.0/24"}});
    Response r = Send(req);
    ExpectError(r, 403, "insufficient_scope", c.scope);
    EXPECT_EQ(HeaderOf(r, "WWW-Authenticate"),
              "Bearer realm=\"authd\", error=\"insufficient_scope\", scope=\"" +
                  c.scope + "\"")
        << c.method << " " << c.path;
  }
  // Nothing changed; the same tokens read what their scopes allow.
  EXPECT_EQ(AllowlistCidrs(), std::vector<std::string>{kAllowedRange});
  EXPECT_EQ(List("/v1/admin/credentials").size(), 4u);
  EXPECT_EQ(Send(Tcp("GET", "/v1/admin/credentials", auditor.token)).status,
            200);
  EXPECT_EQ(Send(Tcp("GET", "/v1/admin/credentials", narrowed.token)).status,
            200);
  EXPECT_EQ(Send(Tcp("GET", "/v1/admin/audit", auditor.token)).status, 200);
}

TEST_F(AdminHandlerTest, DeletedCredentialsTokenStopsAtOnce) {
  const TokenClient owner = MustGetToken("owner");
  const TokenClient second = MustGetToken("owner");
  EXPECT_EQ(Send(Tcp("GET", "/v1/admin/roles", second.token)).status, 200);
  ASSERT_EQ(Send(Tcp("DELETE", "/v1/admin/credentials/" + second.client_id,
                     owner.token))
                .status,
            204);
  ExpectError(Send(Tcp("GET", "/v1/admin/roles", second.token)), 401,
              "unauthorized", "no longer exists");
  EXPECT_EQ(Send(Tcp("GET", "/v1/admin/roles", owner.token)).status, 200);
}

TEST_F(AdminHandlerTest, UnknownAdminPathIs404OnlyAfterAuthorization) {
  const TokenClient viewer = MustGetToken("viewer");
  const TokenClient auditor = MustGetToken("auditor");
  const TokenClient owner = MustGetToken("owner");
  for (const std::string path :
       {"/v1/admin/nosuch", "/v1/admin/keys/x/y", "/v1/admin/audit/nosuch"}) {
    EXPECT_EQ(Send(Tcp("GET", path)).status, 401) << path;
    EXPECT_EQ(Send(Tcp("GET", path, viewer.token)).status, 403) << path;
    ExpectError(Send(Tcp("GET", path, auditor.token)), 404, "not_found", path);
    // Writing to it needs admin:write before it is found missing.
    EXPECT_EQ(Send(Tcp("DELETE", path, auditor.token)).status, 403) << path;
    EXPECT_EQ(Send(Tcp("DELETE", path, owner.token)).status, 404) << path;
    EXPECT_EQ(Send(Socket("GET", path)).status, 404) << path;
  }
  // Outside the admin API an unknown path is 404 for an admitted client, and
  // refused like any other path for anyone else.
  ExpectError(Send(Tcp("GET", "/nosuch")), 404, "not_found");
  EXPECT_EQ(Send(Tcp("GET", "/nosuch", "", "203.0.113.9")).status, 403);
}

TEST_F(AdminHandlerTest, WrongMethodIs405WithAllow) {
  const TokenClient owner = MustGetToken("owner");
  struct Case {
    std::string method, path, allow;
  };
  const Case cases[] = {
      {"PUT", "/v1/admin/credentials", "GET, POST"},
      {"DELETE", "/v1/admin/allowlist", "GET, POST"},
      {"GET", "/v1/admin/keys/rotate", "POST"},
      {"POST", "/v1/admin/status", "GET"},
      {"HEAD", "/v1/admin/roles", "GET"},
      {"GET", "/v1/admin/allowlist/192.0.2.0/24", "DELETE"},
      {"POST", "/v1/admin/audit", "GET"},
      {"POST", "/healthz", "GET, HEAD"},
      {"DELETE", "/v1/auth/jwks", "GET, HEAD"},
      {"PUT", "/.well-known/oauth-authorization-server", "GET, HEAD"},
  };
  for (const Case& c : cases) {
    for (Request req :
         {Socket(c.method, c.path), Tcp(c.method, c.path, owner.token)}) {
      Response r = Send(req);
      ExpectError(r, 405, "method_not_allowed", c.allow);
      EXPECT_EQ(HeaderOf(r, "Allow"), c.allow) << c.method << " " << c.path;
    }
  }
  EXPECT_EQ(AllowlistCidrs(), std::vector<std::string>{kAllowedRange});
}

TEST_F(AdminHandlerTest, SuccessfulChangesAreCounted) {
  auto count = [&](const std::string& action) {
    std::string text = metrics_.Render({}, kVersion);
    std::string line = "authd_admin_changes_total{action=\"" + action + "\"} ";
    size_t at = text.find(line);
    EXPECT_NE(at, std::string::npos) << action;
    return at == std::string::npos ? -1
                                   : std::stoi(text.substr(at + line.size()));
  };
  json c = CreateOverSocket("counted", "viewer");
  Send(SocketPost("/v1/admin/credentials", {{"name", ""}}));  // refused
  ASSERT_EQ(
      Send(SocketPost("/v1/admin/allowlist", {{"cidr", "10.0.0.0/8"}})).status,
      201);
  Send(SocketPost("/v1/admin/allowlist", {{"cidr", "10.0.0.0/8"}}));  // 409
  ASSERT_EQ(Send(Socket("DELETE", "/v1/admin/allowlist/10.0.0.0/8")).status,
            204);
  ASSERT_EQ(Send(Socket("DELETE", "/v1/admin/credentials/" +
                                      c["client_id"].get<std::string>()))
                .status,
            204);
  EXPECT_EQ(count("credential.create"), 1);
  EXPECT_EQ(count("credential.delete"), 1);
  EXPECT_EQ(count("allowlist.add"), 1);  // the fixture's own went round Access
  EXPECT_EQ(count("allowlist.remove"), 1);
}

// --------------------------------------------------- allowlist admission

using AdmissionTest = testing::RouterTest;

TEST_F(AdmissionTest, AddressNotOnTheAllowlistIsAccessDenied) {
  const TokenClient owner = MustGetToken("owner");
  for (const char* path :
       {"/v1/auth/token", "/v1/auth/jwks", "/.well-known/jwks.json",
        "/.well-known/oauth-authorization-server", "/metrics",
        "/v1/admin/roles", "/v1/admin/audit", "/v1/admin/nosuch", "/nosuch"}) {
    // A valid token does not help: the address is checked first.
    Request req = Tcp("GET", path, owner.token, "203.0.113.9");
    std::optional<Response> refused = router_->Admit(req);
    ASSERT_TRUE(refused.has_value()) << path;
    EXPECT_EQ(refused->status, 403) << path;
    json body = Body(*refused);
    EXPECT_EQ(body["error"], "access_denied");
    EXPECT_NE(body.value("error_description", "").find("203.0.113.9"),
              std::string::npos)
        << refused->body;
    EXPECT_EQ(HeaderOf(*refused, "Cache-Control"), "no-store");
  }
  // Only refusals at the token endpoint count as token failures.
  std::string text = metrics_.Render({}, kVersion);
  EXPECT_NE(
      text.find("authd_token_failures_total{reason=\"access_denied\"} 1\n"),
      std::string::npos)
      << text;
}

TEST_F(AdmissionTest, HealthProbesAreExempt) {
  for (const char* path : {"/healthz", "/readyz"}) {
    for (const char* address : {"203.0.113.9", "2001:db8::1"}) {
      Request req = Tcp("GET", path, "", address);
      EXPECT_FALSE(router_->Admit(req).has_value()) << path;
      EXPECT_EQ(router_->Handle(req).status, 200) << path;
    }
  }
  readiness_->Set(false);
  EXPECT_EQ(Send(Tcp("GET", "/readyz", "", "203.0.113.9")).status, 503);
  // Exempt means exempt from the allowlist only.
  EXPECT_EQ(Send(Tcp("GET", "/metrics", "", "203.0.113.9")).status, 403);
  EXPECT_EQ(Send(Tcp("GET", "/healthz/", "", "203.0.113.9")).status, 403);
}

TEST_F(AdmissionTest, EmptyAllowlistRefusesEveryTcpClientButNotTheSocket) {
  ASSERT_EQ(Send(Socket("DELETE", "/v1/admin/allowlist/192.0.2.0/24")).status,
            204);
  for (const char* address : {kClientAddress, "127.0.0.1", "::1", "10.0.0.1"}) {
    EXPECT_EQ(Send(Tcp("GET", "/v1/auth/jwks", "", address)).status, 403)
        << address;
  }
  EXPECT_EQ(Send(Socket("GET", "/v1/admin/allowlist")).status, 200);
  EXPECT_EQ(Send(SocketPost("/v1/admin/allowlist", {{"cidr", "::/0"}})).status,
            201);
  // ::/0 covers IPv4 peers too (common/cidr.h).
  for (const char* address : {kClientAddress, "127.0.0.1", "::1", "10.0.0.1"}) {
    EXPECT_EQ(Send(Tcp("GET", "/v1/auth/jwks", "", address)).status, 200)
        << address;
  }
}

TEST_F(AdmissionTest, Ipv4MappedPeersMatchIpv4Entries) {
  Request req = Tcp("GET", "/v1/auth/jwks", "", "::ffff:192.0.2.10");
  EXPECT_FALSE(router_->Admit(req).has_value());
  ASSERT_TRUE(req.client.has_value());
  EXPECT_EQ(req.client->ToString(), "192.0.2.10");
  EXPECT_EQ(Send(Tcp("GET", "/v1/auth/jwks", "", "::ffff:192.0.3.10")).status,
            403);
  EXPECT_EQ(Send(Tcp("GET", "/v1/auth/jwks", "", "2001:db8::7")).status, 403);
  ASSERT_EQ(Send(SocketPost("/v1/admin/allowlist", {{"cidr", "2001:db8::/64"}}))
                .status,
            201);
  EXPECT_EQ(Send(Tcp("GET", "/v1/auth/jwks", "", "2001:db8::7")).status, 200);
  EXPECT_EQ(Send(Tcp("GET", "/v1/auth/jwks", "", "2001:db8:0:1::7")).status,
            403);
}

// Behind a proxy: X-Forwarded-For is read only from server.trusted_proxies,
// and the client is the right-most address that is not a trusted proxy.
class TrustedProxyTest : public testing::RouterTest {
 protected:
  static constexpr char kProxy[] = "198.51.100.5";
  static constexpr char kInnerProxy[] = "198.51.100.6";

  void SetUp() override {
    ASSERT_NO_FATAL_FAILURE(RouterTest::SetUp());
    BuildApi({Cidr::Parse("198.51.100.5/32").value(),
              Cidr::Parse("198.51.100.6/32").value()});
  }

  // Admits a request from `peer` with `xff` (no header when nullopt).
  // Returns the refusal's status (0 when admitted) and the client address.
  std::pair<int, std::string> Admit(const std::string& peer,
                                    std::optional<std::string> xff,
                                    const std::string& path = "/v1/auth/jwks") {
    Request req = Tcp("GET", path, "", peer);
    if (xff) req.headers["x-forwarded-for"] = *xff;
    std::optional<Response> refused = router_->Admit(req);
    if (refused && refused->status == 403) {
      // The refusal names the address it judged.
      EXPECT_NE(refused->body.find(req.client ? req.client->ToString() : "?"),
                std::string::npos)
          << refused->body;
    }
    return {refused ? refused->status : 0,
            req.client ? req.client->ToString() : ""};
  }
};

TEST_F(TrustedProxyTest, RightMostUntrustedHopIsTheClient) {
  using Result = std::pair<int, std::string>;
  EXPECT_EQ(Admit(kProxy, "203.0.113.9"), (Result{403, "203.0.113.9"}));
  EXPECT_EQ(Admit(kProxy, "203.0.113.9, 192.0.2.10"),
            (Result{0, "192.0.2.10"}));
  EXPECT_EQ(Admit(kProxy, "192.0.2.10, 203.0.113.9, 198.51.100.6"),
            (Result{403, "203.0.113.9"}));
  // A chain of trusted proxies is walked through.
  EXPECT_EQ(Admit(kProxy, "192.0.2.10, 198.51.100.6"),
            (Result{0, "192.0.2.10"}));
  EXPECT_EQ(Admit(kInnerProxy, "192.0.2.10"), (Result{0, "192.0.2.10"}));
  // Whatever the client wrote left of itself is never read.
  EXPECT_EQ(Admit(kProxy, "not-an-ip, 192.0.2.10"), (Result{0, "192.0.2.10"}));
  EXPECT_EQ(Admit(kProxy, " 192.0.2.10 "), (Result{0, "192.0.2.10"}));
  EXPECT_EQ(Admit(kProxy, "::ffff:192.0.2.10"), (Result{0, "192.0.2.10"}));
  // Only proxies in the header, or no header: the proxy's own address is
  // judged, and the proxies are not on the allowlist.
  EXPECT_EQ(Admit(kProxy, "198.51.100.6"), (Result{403, "198.51.100.6"}));
  EXPECT_EQ(Admit(kProxy, std::nullopt), (Result{403, kProxy}));
  EXPECT_EQ(Admit(kProxy, ""), (Result{403, kProxy}));
}

TEST_F(TrustedProxyTest, HeaderFromAnyoneElseIsIgnored) {
  using Result = std::pair<int, std::string>;
  EXPECT_EQ(Admit(kClientAddress, "203.0.113.9"), (Result{0, kClientAddress}));
  EXPECT_EQ(Admit("203.0.113.50", "192.0.2.10"), (Result{403, "203.0.113.50"}));
  EXPECT_EQ(Admit(kClientAddress, "garbage"), (Result{0, kClientAddress}));
  // The admin socket has no address to forward.
  Request req = Socket("GET", "/v1/admin/roles");
  req.headers["x-forwarded-for"] = "203.0.113.9";
  EXPECT_EQ(Send(req).status, 200);
}

TEST_F(TrustedProxyTest, UnparseableForwardedAddressIs400) {
  for (const char* xff : {"not-an-ip", "192.0.2.10, not-an-ip", "[2001:db8::1]",
                          "192.0.2.10:8080", "192.0.2.10 198.51.100.6"}) {
    Request req = Tcp("GET", "/v1/auth/jwks", "", kProxy);
    req.headers["x-forwarded-for"] = xff;
    std::optional<Response> refused = router_->Admit(req);
    ASSERT_TRUE(refused.has_value()) << xff;
    EXPECT_EQ(refused->status, 400) << xff;
    EXPECT_EQ(Body(*refused)["error"], "invalid_request") << xff;
  }
  // The health probes do not read the header at all.
  EXPECT_EQ(Admit(kProxy, "not-an-ip", "/healthz").first, 0);
}

TEST_F(TrustedProxyTest, ChangesThroughAProxyRecordTheClientAddress) {
  const TokenClient owner = MustGetToken("owner");
  Request req =
      TcpPost("/v1/admin/allowlist", {{"cidr", "203.0.113.0/24"}}, owner.token);
  req.peer = IpAddress::Parse(kProxy);
  req.headers["x-forwarded-for"] = "192.0.2.77";
  Response r = Send(req);
  ASSERT_EQ(r.status, 201) << r.body;
  Request audit = Socket("GET", "/v1/admin/audit");
  audit.query = {{"action", "allowlist.add"}, {"target", "203.0.113.0/24"}};
  json entries = Body(Send(audit))["entries"];
  ASSERT_EQ(entries.size(), 1u);
  EXPECT_EQ(entries[0]["source"], "192.0.2.77");
  EXPECT_EQ(entries[0]["actor"], "client:" + owner.client_id);
}

}  // namespace
}  // namespace authd::api
