// The web console's HTTP side through the real Router and handlers (SPEC "Web
// console"; tests/e2e/test_console_api.py runs the same against the daemon):
// the compiled-in files with their types, cache headers, ETags and security
// headers; sign-in links on the admin socket only; the session cookie with
// and without TLS; the CSRF token and Origin on every change; the admin API
// reached through the console with the console's actor in the audit log; and
// the audit export that authctl now fetches.
#include "api/console_handler.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "audit/verifier.h"
#include "common/csv.h"
#include "common/encoding.h"
#include "common/public_key.h"
#include "testing/router_fixture.h"

namespace authd::api {
namespace {

using nlohmann::json;
using testing::kClientAddress;
using testing::kDay;
using testing::kSocketUid;

constexpr char kCsp[] =
    "default-src 'none'; script-src 'self'; style-src 'self'; "
    "img-src 'self'; connect-src 'self'; form-action 'self'; "
    "base-uri 'none'; frame-ancestors 'none'";
constexpr char kHost[] = "authd.test:8443";
constexpr char kOrigin[] = "https://authd.test:8443";

// A signed-in browser: its cookie value and the session's CSRF token.
struct Browser {
  std::string cookie;
  std::string csrf;
};

class ConsoleTest : public testing::RouterTest {
 protected:
  std::string CookieName() const {
    return console_options_.tls ? "__Host-authd_console" : "authd_console";
  }
  std::string Origin() const {
    return std::string(console_options_.tls ? "https://" : "http://") + kHost;
  }

  // A browser request: from kClientAddress, Host set, no cookie yet.
  static Request Page(const std::string& method, const std::string& target) {
    Request r = Tcp(method, target);
    r.headers["host"] = kHost;
    return r;
  }

  // A console API request of `browser`; a change carries Origin and the
  // CSRF token, as the page sends them.
  Request Api(const std::string& method, const std::string& target,
              const Browser& b, const json& body = nullptr) const {
    Request r = Page(method, target);
    r.headers["cookie"] = "theme=dark; " + CookieName() + "=" + b.cookie;
    if (method == "POST" || method == "DELETE") {
      r.headers["origin"] = Origin();
      r.headers["x-csrf-token"] = b.csrf;
    }
    if (!body.is_null()) WithJson(r, body);
    return r;
  }

  // The code of a new link, asked for over the admin socket.
  std::string MustLinkCode() {
    Response r = Send(SocketPost("/v1/admin/console/links", json::object()));
    EXPECT_EQ(r.status, 201) << r.body;
    std::string url = Body(r).value("url", "");
    size_t at = url.find("#code=");
    EXPECT_NE(at, std::string::npos) << url;
    return at == std::string::npos ? "" : url.substr(at + 6);
  }

  Request SignInRequest(const std::string& code) const {
    Request r = Page("POST", "/console/api/session");
    r.headers["origin"] = Origin();
    WithJson(r, {{"code", code}});
    return r;
  }

  Browser MustSignIn() {
    Response r = Send(SignInRequest(MustLinkCode()));
    EXPECT_EQ(r.status, 200) << r.body;
    std::string set = HeaderOf(r, "Set-Cookie").value_or("");
    std::string prefix = CookieName() + "=";
    EXPECT_EQ(set.rfind(prefix, 0), 0u) << set;
    return {set.substr(prefix.size(), set.find(';') - prefix.size()),
            Body(r).value("csrf_token", "")};
  }

  json CredentialBody(const std::string& name) const {
    return {{"name", name},
            {"role", "viewer"},
            {"expires_at", FormatRfc3339(clock_.NowSeconds() + 30 * kDay)}};
  }

  size_t CredentialCount() {
    return Body(Send(Socket("GET", "/v1/admin/credentials"))).size();
  }

  // What `authctl audit export` wrote before the export endpoint existed: the
  // checkpoint first, then GET /v1/admin/audit page by page up to its size.
  std::string ClientSideExport(bool csv) {
    std::string note = Send(Socket("GET", "/v1/admin/audit/checkpoint")).body;
    std::string body = note.substr(note.find('\n') + 1);
    uint64_t size = std::stoull(body.substr(0, body.find('\n')));
    std::string out = csv ? "seq,time,actor,source,action,target,values,reason,"
                            "result,software_version,leaf\n"
                          : "";
    std::optional<uint64_t> after;
    for (;;) {
      Request page = Socket("GET", "/v1/admin/audit");
      page.query["limit"] = "2";  // several pages
      if (after) page.query["after_seq"] = std::to_string(*after);
      json p = json::parse(Send(page).body);
      bool done = p["entries"].empty();
      for (const json& e : p["entries"]) {
        if (e["seq"].get<uint64_t>() >= size) {
          done = true;
          break;
        }
        after = e["seq"].get<uint64_t>();
        if (!csv) {
          out += e.dump() + "\n";
          continue;
        }
        std::string row;
        for (const char* k :
             {"seq", "time", "actor", "source", "action", "target", "values",
              "reason", "result", "software_version", "leaf"}) {
          const json v = e.value(k, json());
          row += (row.empty() ? "" : ",") +
                 CsvCell(v.is_string() ? v.get<std::string>() : v.dump());
        }
        out += row + "\n";
      }
      if (done || p["next_after_seq"].is_null()) break;
    }
    if (!csv) out += json{{"checkpoint", note}}.dump() + "\n";
    return out;
  }

  static void ExpectSecurityHeaders(const Response& r) {
    EXPECT_EQ(HeaderOf(r, "Content-Security-Policy").value_or(""), kCsp);
    EXPECT_EQ(HeaderOf(r, "Referrer-Policy").value_or(""), "no-referrer");
    EXPECT_EQ(HeaderOf(r, "X-Frame-Options").value_or(""), "DENY");
    EXPECT_EQ(HeaderOf(r, "Cross-Origin-Opener-Policy").value_or(""),
              "same-origin");
    int cache_controls = 0;
    for (const auto& [k, v] : r.headers) cache_controls += k == "Cache-Control";
    EXPECT_EQ(cache_controls, 1) << "one Cache-Control header";
  }

  static void ExpectError(const Response& r, int status,
                          const std::string& error) {
    EXPECT_EQ(r.status, status) << r.body;
    EXPECT_EQ(Body(r).value("error", ""), error) << r.body;
    ExpectSecurityHeaders(r);
  }
};

// ------------------------------------------------------------------ files

TEST_F(ConsoleTest, TheIndexPageIsNeverStored) {
  for (const char* path : {"/console/", "/console/index.html"}) {
    Response r = Send(Page("GET", path));
    ASSERT_EQ(r.status, 200) << path;
    EXPECT_EQ(r.content_type, "text/html; charset=utf-8");
    EXPECT_EQ(HeaderOf(r, "Cache-Control").value_or(""), "no-store");
    EXPECT_FALSE(HeaderOf(r, "ETag").has_value());
    EXPECT_NE(r.body.find("<html"), std::string::npos);
    ExpectSecurityHeaders(r);
  }
  Response head = Send(Page("HEAD", "/console/"));
  EXPECT_EQ(head.status, 200);
}

TEST_F(ConsoleTest, FilesHaveTheirTypesAndRevalidate) {
  const std::vector<std::pair<std::string, std::string>> files = {
      {"app.js", "text/javascript; charset=utf-8"},
      {"style.css", "text/css; charset=utf-8"},
      {"favicon.svg", "image/svg+xml"}};
  for (const auto& [name, type] : files) {
    Response r = Send(Page("GET", "/console/" + name));
    ASSERT_EQ(r.status, 200) << name;
    EXPECT_EQ(r.content_type, type) << name;
    EXPECT_EQ(HeaderOf(r, "Cache-Control").value_or(""), "no-cache");
    ExpectSecurityHeaders(r);
    std::string etag = HeaderOf(r, "ETag").value_or("");
    ASSERT_GT(etag.size(), 2u) << name;
    EXPECT_EQ(etag.front(), '"') << "a strong ETag: " << etag;
    EXPECT_EQ(etag.back(), '"');
    EXPECT_FALSE(r.body.empty());

    Request again = Page("GET", "/console/" + name);
    again.headers["if-none-match"] = "\"other\", " + etag;
    Response cached = Send(again);
    EXPECT_EQ(cached.status, 304) << name;
    EXPECT_TRUE(cached.body.empty());
    EXPECT_EQ(HeaderOf(cached, "ETag").value_or(""), etag);
    ExpectSecurityHeaders(cached);

    again.headers["if-none-match"] = "\"stale\"";
    EXPECT_EQ(Send(again).status, 200) << name;
  }
}

TEST_F(ConsoleTest, EveryCompiledInFileIsServedWithAKnownType) {
  ASSERT_FALSE(ConsoleAssets().empty());
  for (const EmbeddedFile& f : ConsoleAssets()) {
    Response r = Send(Page("GET", "/console/" + std::string(f.path)));
    EXPECT_EQ(r.status, 200) << f.path;
    EXPECT_EQ(r.body, f.data) << f.path;
    EXPECT_NE(r.content_type, "application/octet-stream") << f.path;
  }
}

TEST_F(ConsoleTest, UnknownPathsAre404AndConsoleRedirects) {
  for (const char* path :
       {"/console/nope.js", "/console/api", "/console/index.html/x",
        "/console/../v1/admin/status", "/consolex"}) {
    Response r = Send(Page("GET", path));
    EXPECT_EQ(r.status, 404) << path;
  }
  ExpectError(Send(Page("GET", "/console/missing.css")), 404, "not_found");
  Response r = Send(Page("GET", "/console"));
  EXPECT_EQ(r.status, 308);
  EXPECT_EQ(HeaderOf(r, "Location").value_or(""), "/console/");
  EXPECT_EQ(Send(Page("POST", "/console/app.js")).status, 405);
}

TEST_F(ConsoleTest, TheAllowlistStillApplies) {
  Request r = Page("GET", "/console/");
  r.peer = IpAddress::Parse("203.0.113.9");
  Response refused = Send(r);
  EXPECT_EQ(refused.status, 403);
  EXPECT_EQ(Body(refused).value("error", ""), "access_denied");
  ExpectSecurityHeaders(refused);
}

TEST_F(ConsoleTest, OtherPathsGetNoConsoleHeaders) {
  Response r = Send(Tcp("GET", "/v1/auth/jwks"));
  EXPECT_EQ(r.status, 200);
  EXPECT_FALSE(HeaderOf(r, "Content-Security-Policy").has_value());
}

// ------------------------------------------------------------------ links

TEST_F(ConsoleTest, LinksAreGivenOnTheAdminSocketOnly) {
  Response r = Send(SocketPost("/v1/admin/console/links", json::object()));
  ASSERT_EQ(r.status, 201) << r.body;
  json body = Body(r);
  std::string url = body.value("url", "");
  std::string base = "https://authd.test:8443/console/#code=";
  ASSERT_EQ(url.rfind(base, 0), 0u) << url;
  std::string code = url.substr(base.size());
  EXPECT_EQ(code.size(), 43u);
  EXPECT_EQ(Base64UrlDecode(code).value_or("").size(), 32u);
  EXPECT_EQ(body.value("expires_at", ""),
            FormatRfc3339(clock_.NowSeconds() + 300));
  EXPECT_EQ(HeaderOf(r, "Cache-Control").value_or(""), "no-store");
  // An empty body does as well as {}.
  Request empty = Socket("POST", "/v1/admin/console/links");
  empty.headers["content-type"] = "application/json";
  EXPECT_EQ(Send(empty).status, 201);
  EXPECT_EQ(Send(SocketPost("/v1/admin/console/links", {{"uid", 0}})).status,
            400);
  EXPECT_EQ(Send(Socket("GET", "/v1/admin/console/links")).status, 405);

  // Over TCP the path does not exist, whatever the token may do.
  testing::TokenClient owner = MustGetToken("owner");
  Request tcp = TcpPost("/v1/admin/console/links", json::object(), owner.token);
  Response none = Send(tcp);
  EXPECT_EQ(none.status, 404) << none.body;
  EXPECT_EQ(Body(none).value("error", ""), "not_found");
  EXPECT_EQ(Send(Tcp("POST", "/v1/admin/console/links")).status, 401)
      << "as any unknown admin path";
  EXPECT_EQ(console_sessions_->LinkCount(), 2u);
}

TEST_F(ConsoleTest, ALinkGivesTheSessionOfTheUidThatAsked) {
  Browser b = MustSignIn();
  Response r = Send(Api("GET", "/console/api/session", b));
  ASSERT_EQ(r.status, 200) << r.body;
  json s = Body(r);
  EXPECT_EQ(s["actor"], "console:uid:" + std::to_string(kSocketUid));
  EXPECT_EQ(s["csrf_token"], b.csrf);
  EXPECT_EQ(s["csrf_token"].get<std::string>().size(), 43u);
  EXPECT_EQ(s["appliance"], "authd");
  EXPECT_EQ(s["instance"], testing::kIssuer);
  EXPECT_EQ(s["expires_at"], FormatRfc3339(clock_.NowSeconds() + 8 * 3600));
  EXPECT_EQ(s["idle_timeout_seconds"], 1800);
  EXPECT_EQ(s["address"], kClientAddress);
  EXPECT_FALSE(HeaderOf(r, "Set-Cookie").has_value());
  ExpectSecurityHeaders(r);
  EXPECT_EQ(HeaderOf(r, "Cache-Control").value_or(""), "no-store");
}

// ---------------------------------------------------------------- sign-in

TEST_F(ConsoleTest, SignInSetsAHostOnlySecureCookieOverTls) {
  std::string code = MustLinkCode();
  Response r = Send(SignInRequest(code));
  ASSERT_EQ(r.status, 200) << r.body;
  std::string set = HeaderOf(r, "Set-Cookie").value_or("");
  std::string token = set.substr(21, set.find(';') - 21);
  EXPECT_EQ(token.size(), 43u);
  EXPECT_EQ(set, "__Host-authd_console=" + token +
                     "; Path=/; Secure; HttpOnly; SameSite=Strict");
  EXPECT_EQ(Body(r).value("actor", ""), "console:uid:1000");
  ExpectSecurityHeaders(r);
  EXPECT_EQ(r.body.find(token), std::string::npos) << "the body has no token";

  // The same link again: refused with the message the page shows.
  Response again = Send(SignInRequest(code));
  ExpectError(again, 401, "invalid_code");
  EXPECT_EQ(Body(again).value("message", ""),
            "This sign-in link has already been used or has expired. Run "
            "authctl console login on the appliance for a new one.");
  EXPECT_FALSE(HeaderOf(again, "Set-Cookie").has_value());
}

TEST_F(ConsoleTest, APlainHttpListenerSetsTheCookieWithoutPrefixOrSecure) {
  console_options_.tls = false;
  console_options_.base_url = "http://authd.test:8443";
  BuildApi();
  Response link = Send(SocketPost("/v1/admin/console/links", json::object()));
  EXPECT_EQ(Body(link).value("url", "").rfind("http://authd.test:8443/", 0),
            0u);
  Browser b = MustSignIn();
  Response r = Send(SignInRequest(MustLinkCode()));
  ASSERT_EQ(r.status, 200);
  std::string set = HeaderOf(r, "Set-Cookie").value_or("");
  EXPECT_EQ(set.rfind("authd_console=", 0), 0u) << set;
  EXPECT_EQ(set.substr(set.find(';')), "; Path=/; HttpOnly; SameSite=Strict");
  EXPECT_EQ(Send(Api("GET", "/console/api/credentials", b)).status, 200);
  EXPECT_EQ(
      Send(Api("POST", "/console/api/credentials", b, CredentialBody("plain")))
          .status,
      201);
  // The TLS name is not this listener's cookie, nor https its origin.
  Request tls_cookie = Page("GET", "/console/api/credentials");
  tls_cookie.headers["cookie"] = "__Host-authd_console=" + b.cookie;
  ExpectError(Send(tls_cookie), 401, "no_session");
  Request https = Api("POST", "/console/api/credentials", b,
                      CredentialBody("https-origin"));
  https.headers["origin"] = kOrigin;
  ExpectError(Send(https), 403, "csrf");
}

// Behind a TLS-terminating proxy authd listens on plain HTTP, but an https
// console.url makes the cookie Secure and "__Host-", and its origin is
// accepted even when the proxy rewrites Host.
TEST_F(ConsoleTest, AnHttpsConsoleUrlServesBehindATlsProxy) {
  console_options_.tls = true;  // what Daemon decides for an https url
  console_url_ = "https://console.example";
  BuildApi();
  Request sign_in = SignInRequest(MustLinkCode());
  sign_in.headers["host"] = "127.0.0.1:8080";  // rewritten by the proxy
  sign_in.headers["origin"] = "https://console.example";
  Response r = Send(sign_in);
  ASSERT_EQ(r.status, 200) << r.body;
  std::string set = HeaderOf(r, "Set-Cookie").value_or("");
  EXPECT_EQ(set.rfind("__Host-authd_console=", 0), 0u) << set;
  EXPECT_NE(set.find("; Secure"), std::string::npos) << set;
  Browser b{set.substr(21, set.find(';') - 21),
            Body(r).value("csrf_token", "")};
  Request change =
      Api("POST", "/console/api/credentials", b, CredentialBody("via-proxy"));
  change.headers["host"] = "127.0.0.1:8080";
  change.headers["origin"] = "https://console.example";
  EXPECT_EQ(Send(change).status, 201);
  change.headers["origin"] = "https://evil.example";
  ExpectError(Send(change), 403, "csrf");
  change.headers["origin"] = "http://console.example";
  ExpectError(Send(change), 403, "csrf");
}

TEST_F(ConsoleTest, SignInNeedsOurOriginAndACodeInJson) {
  std::string code = MustLinkCode();
  Request no_origin = SignInRequest(code);
  no_origin.headers.erase("origin");
  ExpectError(Send(no_origin), 403, "csrf");
  Request other = SignInRequest(code);
  other.headers["origin"] = "https://evil.example";
  ExpectError(Send(other), 403, "csrf");
  Request form = SignInRequest(code);
  form.headers["content-type"] = "application/x-www-form-urlencoded";
  EXPECT_EQ(Send(form).status, 415);
  for (const char* body :
       {"", "[]", "{\"code\":1}", "{\"code\":\"x\",\"uid\":0}", "{"}) {
    Request bad = SignInRequest(code);
    bad.body = SecureString(std::string_view(body));
    ExpectError(Send(bad), 400, "invalid_request");
  }
  // None of that spent the code.
  EXPECT_EQ(Send(SignInRequest(code)).status, 200);
}

TEST_F(ConsoleTest, AnExpiredLinkIsRefused) {
  std::string code = MustLinkCode();
  clock_.Advance(300);
  ExpectError(Send(SignInRequest(code)), 401, "invalid_code");
}

// ---------------------------------------------------------------- session

TEST_F(ConsoleTest, TheApiNeedsTheSessionCookie) {
  ExpectError(Send(Page("GET", "/console/api/session")), 401, "no_session");
  ExpectError(Send(Page("GET", "/console/api/credentials")), 401, "no_session");
  Browser forged{std::string(43, 'A'), std::string(43, 'B')};
  ExpectError(Send(Api("GET", "/console/api/credentials", forged)), 401,
              "no_session");
  ExpectError(Send(Api("GET", "/console/api/nothing-here", forged)), 401,
              "no_session");
  Browser b = MustSignIn();
  EXPECT_EQ(Send(Api("GET", "/console/api/nothing-here", b)).status, 404);
  // A Bearer token is not a console session.
  testing::TokenClient owner = MustGetToken("owner");
  ExpectError(Send(Tcp("GET", "/console/api/credentials", owner.token)), 401,
              "no_session");
}

TEST_F(ConsoleTest, SessionsEndWhenIdleAndAtSignOut) {
  Browser b = MustSignIn();
  clock_.Advance(1799);
  EXPECT_EQ(Send(Api("GET", "/console/api/status", b)).status, 200);
  clock_.Advance(1800);
  ExpectError(Send(Api("GET", "/console/api/status", b)), 401, "no_session");

  Browser c = MustSignIn();
  Request no_csrf = Api("DELETE", "/console/api/session", c);
  no_csrf.headers.erase("x-csrf-token");
  ExpectError(Send(no_csrf), 403, "csrf");
  Response out = Send(Api("DELETE", "/console/api/session", c));
  EXPECT_EQ(out.status, 204);
  EXPECT_EQ(HeaderOf(out, "Set-Cookie").value_or(""),
            "__Host-authd_console=; Path=/; Secure; HttpOnly; "
            "SameSite=Strict; Max-Age=0");
  ExpectSecurityHeaders(out);
  ExpectError(Send(Api("GET", "/console/api/session", c)), 401, "no_session");
  EXPECT_EQ(console_sessions_->SessionCount(), 0u);
}

// ------------------------------------------------------------------- CSRF

TEST_F(ConsoleTest, ChangesNeedTheCsrfTokenAndOurOrigin) {
  Browser b = MustSignIn();
  Browser other = MustSignIn();
  size_t before = CredentialCount();
  auto post = [&] {
    return Api("POST", "/console/api/credentials", b, CredentialBody("x"));
  };
  Request no_token = post();
  no_token.headers.erase("x-csrf-token");
  Request wrong_token = post();
  wrong_token.headers["x-csrf-token"] = other.csrf;
  Request no_origin = post();
  no_origin.headers.erase("origin");
  Request cross_site = post();
  cross_site.headers["origin"] = "https://evil.example";
  Request http_origin = post();
  http_origin.headers["origin"] = "http://authd.test:8443";
  Request null_origin = post();
  null_origin.headers["origin"] = "null";
  Request no_host = post();
  no_host.headers.erase("host");
  for (Request* r : {&no_token, &wrong_token, &no_origin, &cross_site,
                     &http_origin, &null_origin, &no_host}) {
    ExpectError(Send(*r), 403, "csrf");
  }
  Request del = Api("DELETE", "/console/api/allowlist/192.0.2.0/24", b);
  del.headers["origin"] = "https://evil.example";
  ExpectError(Send(del), 403, "csrf");
  EXPECT_EQ(CredentialCount(), before) << "nothing was created";
  EXPECT_EQ(Body(Send(Socket("GET", "/v1/admin/allowlist"))).size(), 1u);
  // The origin's case does not matter (RFC 6454 §4: it is lower-cased).
  Request upper = post();
  upper.headers["origin"] = "HTTPS://AUTHD.TEST:8443";
  EXPECT_EQ(Send(upper).status, 201);
  // GET needs neither.
  Request get = Page("GET", "/console/api/credentials");
  get.headers["cookie"] = CookieName() + "=" + b.cookie;
  EXPECT_EQ(Send(get).status, 200);
}

// ------------------------------------------------- admin API via console

TEST_F(ConsoleTest, ChangesAreAuditedWithTheConsoleActor) {
  Browser b = MustSignIn();
  Response created = Send(
      Api("POST", "/console/api/credentials", b, CredentialBody("billing")));
  ASSERT_EQ(created.status, 201) << created.body;
  json cred = Body(created);
  EXPECT_EQ(cred["created_by"], "console:uid:1000");
  EXPECT_EQ(cred["client_secret"].get<std::string>().rfind("authd_s_", 0), 0u);
  EXPECT_EQ(HeaderOf(created, "Cache-Control").value_or(""), "no-store");
  ExpectSecurityHeaders(created);
  std::string id = cred["client_id"];

  EXPECT_EQ(
      Send(Api("POST", "/console/api/allowlist", b, {{"cidr", "10.9.0.0/24"}}))
          .status,
      201);
  Response bad =
      Send(Api("POST", "/console/api/allowlist", b, {{"cidr", "10.1.2.3/8"}}));
  ExpectError(bad, 400, "invalid_request");
  EXPECT_NE(Body(bad)["message"].get<std::string>().find("10.0.0.0/8"),
            std::string::npos);
  // The CIDR arrives percent-decoded, '/' and all.
  EXPECT_EQ(Send(Api("DELETE", "/console/api/allowlist/10.9.0.0/24", b)).status,
            204);
  EXPECT_EQ(Send(Api("DELETE", "/console/api/credentials/" + id, b)).status,
            204);
  ExpectError(Send(Api("DELETE", "/console/api/credentials/" + id, b)), 404,
              "not_found");

  Request list = Socket("GET", "/v1/admin/audit");
  list.query = {{"actor", "console:uid:1000"}};
  json entries = Body(Send(list))["entries"];
  ASSERT_EQ(entries.size(), 4u) << entries.dump();
  std::vector<std::string> actions;
  for (const json& e : entries) {
    actions.push_back(e["action"]);
    EXPECT_EQ(e["source"], kClientAddress);
  }
  EXPECT_EQ(actions, (std::vector<std::string>{
                         "credential.create", "allowlist.add",
                         "allowlist.remove", "credential.delete"}));
}

TEST_F(ConsoleTest, ReadsMatchTheAdminApi) {
  Browser b = MustSignIn();
  MustCreate("listed", "viewer");
  for (const char* name :
       {"roles", "credentials", "allowlist", "keys", "audit/checkpoint"}) {
    Response console = Send(Api("GET", std::string("/console/api/") + name, b));
    Response admin = Send(Socket("GET", std::string("/v1/admin/") + name));
    EXPECT_EQ(console.status, 200) << name << console.body;
    EXPECT_EQ(console.body, admin.body) << name;
    EXPECT_EQ(console.content_type, admin.content_type) << name;
  }
  Response status = Send(Api("GET", "/console/api/status", b));
  EXPECT_EQ(Body(status)["version"], testing::kVersion);
  Request audit = Api("GET", "/console/api/audit?action=allowlist.add", b);
  Request admin = Socket("GET", "/v1/admin/audit?action=allowlist.add");
  EXPECT_EQ(Send(audit).body, Send(admin).body);
  EXPECT_EQ(Send(Api("GET", "/console/api/audit?limit=0", b)).status, 400);
  EXPECT_EQ(Send(Api("PUT", "/console/api/credentials", b)).status, 405);
}

TEST_F(ConsoleTest, ConsoleOffServesNothingAndSaysSoToAuthctl) {
  console_options_.enabled = false;
  BuildApi();
  EXPECT_EQ(Send(Page("GET", "/console/")).status, 404);
  EXPECT_EQ(Send(Page("GET", "/console/api/session")).status, 404);
  Response r = Send(SocketPost("/v1/admin/console/links", json::object()));
  EXPECT_EQ(r.status, 404);
  EXPECT_NE(Body(r)["message"].get<std::string>().find("console.enabled"),
            std::string::npos);
  EXPECT_EQ(console_sessions_->LinkCount(), 0u);
}

// ------------------------------------------------------------ audit files

TEST_F(ConsoleTest, TheExportIsWhatAuthctlWrote) {
  for (int i = 0; i < 5; ++i) {
    std::string cidr = "10.7." + std::to_string(i) + ".0/24";
    ASSERT_TRUE(
        access_->AddAllowlist(cidr, testing::kOwner, "=cmd|' /C calc'!A0")
            .ok());
  }
  Response jsonl = Send(Socket("GET", "/v1/admin/audit/export"));
  ASSERT_EQ(jsonl.status, 200) << jsonl.body;
  EXPECT_EQ(jsonl.body, ClientSideExport(false));
  EXPECT_EQ(jsonl.content_type, "application/jsonl; charset=utf-8");
  EXPECT_EQ(HeaderOf(jsonl, "Content-Disposition").value_or(""),
            "attachment; filename=\"authd-audit-export.jsonl\"");
  auto verified = audit::VerifyExport(
      jsonl.body, keys().Public(hsm::KeyUse::kAudit), std::nullopt);
  ASSERT_TRUE(verified.ok()) << verified.status().message();
  EXPECT_EQ(verified->entries, audit_->size());

  Response csv = Send(Socket("GET", "/v1/admin/audit/export?format=csv"));
  ASSERT_EQ(csv.status, 200);
  EXPECT_EQ(csv.body, ClientSideExport(true));
  EXPECT_NE(csv.body.find("\"'=cmd|' /C calc'!A0\""), std::string::npos);
  EXPECT_EQ(csv.content_type, "text/csv; charset=utf-8");
  EXPECT_EQ(HeaderOf(csv, "Content-Disposition").value_or(""),
            "attachment; filename=\"authd-audit-export.csv\"");

  // The console serves the same file, behind the session.
  Browser b = MustSignIn();
  Response console = Send(Api("GET", "/console/api/audit/export", b));
  EXPECT_EQ(console.body, jsonl.body);
  EXPECT_EQ(HeaderOf(console, "Content-Disposition"),
            HeaderOf(jsonl, "Content-Disposition"));
  ExpectSecurityHeaders(console);
  ExpectError(Send(Page("GET", "/console/api/audit/export")), 401,
              "no_session");
}

TEST_F(ConsoleTest, ExportTakesSinceAndRefusesBadParameters) {
  clock_.Advance(100);
  ASSERT_TRUE(access_->AddAllowlist("10.8.0.0/24", testing::kOwner).ok());
  Request since = Socket("GET", "/v1/admin/audit/export");
  since.query["since"] = FormatRfc3339(clock_.NowSeconds());
  Response r = Send(since);
  ASSERT_EQ(r.status, 200);
  std::vector<std::string> lines;
  for (size_t at = 0; at < r.body.size();) {
    size_t nl = r.body.find('\n', at);
    lines.push_back(r.body.substr(at, nl - at));
    at = nl + 1;
  }
  ASSERT_EQ(lines.size(), 2u) << r.body;
  EXPECT_EQ(json::parse(lines[0])["target"], "10.8.0.0/24");
  EXPECT_TRUE(json::parse(lines[1]).contains("checkpoint"));
  EXPECT_EQ(Send(Socket("GET", "/v1/admin/audit/export?format=xml")).status,
            400);
  EXPECT_EQ(
      Send(Socket("GET", "/v1/admin/audit/export?since=yesterday")).status,
      400);
  // Scope audit:read over TCP.
  testing::TokenClient viewer = MustGetToken("viewer");
  EXPECT_EQ(Send(Tcp("GET", "/v1/admin/audit/export", viewer.token)).status,
            403);
  testing::TokenClient auditor = MustGetToken("auditor");
  EXPECT_EQ(Send(Tcp("GET", "/v1/admin/audit/export", auditor.token)).status,
            200);
}

TEST_F(ConsoleTest, TheAuditPublicKeyIsADownload) {
  std::string pem = keys().Public(hsm::KeyUse::kAudit).pem();
  testing::TokenClient auditor = MustGetToken("auditor");
  Response admin =
      Send(Tcp("GET", "/v1/admin/audit/public-key", auditor.token));
  ASSERT_EQ(admin.status, 200) << admin.body;
  EXPECT_EQ(admin.body, pem);
  EXPECT_EQ(admin.content_type, "application/x-pem-file");
  Browser b = MustSignIn();
  Response console = Send(Api("GET", "/console/api/audit/public-key", b));
  EXPECT_EQ(console.body, pem);
  EXPECT_EQ(HeaderOf(console, "Content-Disposition").value_or(""),
            "attachment; filename=\"authd-audit-key.pem\"");
  ASSERT_TRUE(PublicKey::FromPem(console.body).ok());
}

}  // namespace
}  // namespace authd::api
