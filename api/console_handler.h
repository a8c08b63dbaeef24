// ConsoleHandler: the HTTP side of the web console (SPEC "Web console"): its
// compiled-in files under /console/, the one-time sign-in link that authctl
// asks for over the admin socket, and the session endpoints that turn a code
// into a session cookie and end it. The console's data endpoints are the
// admin API's own handlers behind the Router's console guard (api/routes.cc),
// which authenticates the cookie and checks the CSRF token and Origin.
//
// The free functions below are the rules the Router shares with this handler:
// the cookie's name, how it is read, the same-origin check, and the security
// headers every /console answer carries.
//
// Thread-safe: the files are immutable after construction, sessions live in
// authority::ConsoleSessions (itself thread-safe), and the link base URL is
// guarded by a mutex.
#ifndef AUTHD_API_CONSOLE_HANDLER_H_
#define AUTHD_API_CONSOLE_HANDLER_H_

#include <functional>
#include <map>
#include <mutex>
#include <optional>
#include <span>
#include <string>
#include <string_view>

#include "api/console_assets.h"
#include "api/http.h"
#include "authority/access.h"
#include "authority/console_sessions.h"

namespace authd::api {

struct ConsoleOptions {
  bool enabled = true;  // console.enabled
  // The browser reaches the console over https (the TCP listeners use TLS,
  // or console.url is https behind a TLS-terminating proxy): the cookie is
  // then "__Host-" and Secure, and the console's origin is https.
  bool tls = false;
  std::string appliance = "authd";  // console.name, shown on the page
  std::string instance;             // tokens.issuer, shown on the page
  // Where links point: console.url, or the scheme and the first listener.
  // No trailing '/'.
  std::string base_url;
};

// "__Host-authd_console" with TLS (RFC 6265bis §4.1.3.2), else
// "authd_console": a plain-HTTP listener cannot set a Secure cookie.
std::string_view ConsoleCookieName(bool tls);
// The session cookie's value in `req`, if it carries one.
std::optional<std::string> ConsoleCookie(const Request& req, bool tls);
// Whether the request's Origin header is the console's own origin: the
// console's scheme and the request's Host header, or `configured` (console.url,
// for a proxy that rewrites Host) when not empty. False without an Origin.
bool ConsoleSameOrigin(const Request& req, bool tls,
                       std::string_view configured);
// 401 no_session, the answer to a console request without a live session.
Response ConsoleNoSession();
// 403 csrf, the answer to a console change that fails the CSRF checks.
Response ConsoleCsrfRefused(std::string_view why);
// "/console" and everything under "/console/".
bool IsConsolePath(std::string_view path);
// The Content-Security-Policy and the other headers every /console answer
// carries, and Cache-Control: no-store unless the answer sets its own.
// (X-Content-Type-Options: nosniff is on every answer; HttpServer adds it.)
void AddConsoleHeaders(Response* r);

class ConsoleHandler {
 public:
  // `sessions` must outlive the handler.
  ConsoleHandler(authority::ConsoleSessions* sessions, ConsoleOptions opts,
                 std::span<const EmbeddedFile> files = ConsoleAssets());

  bool enabled() const { return opts_.enabled; }
  // Sets the link base once the listeners are bound (a port 0 is known only
  // then). Without console.url, links name the first listener.
  void SetBaseUrl(std::string url);

  // GET /console: a redirect to /console/.
  Response Redirect(const Request& req) const;
  // GET /console/ (index.html) and /console/<file>; 404 for anything else.
  Response Asset(const Request& req) const;
  // POST /v1/admin/console/links, on the admin socket only: a one-time link
  // for the uid that asks. 201 {"url", "expires_at"}.
  Response CreateLink(const Request& req, const authority::Actor& actor) const;
  // POST /console/api/session {"code": ...}: 200 with the session object and
  // the cookie, or 401 invalid_code.
  Response SignIn(const Request& req) const;
  // GET /console/api/session: the session object.
  Response Session(const Request& req, const authority::Actor& actor) const;
  // DELETE /console/api/session: ends the session and clears the cookie.
  Response SignOut(const Request& req, const authority::Actor& actor) const;

 private:
  struct File {
    std::string_view data;
    std::string type;
    std::string etag;  // empty for pages, which are never cached
  };
  std::string Cookie(std::string_view value, bool clear) const;
  nlohmann::json SessionJson(const authority::ConsoleSession& s,
                             const Request& req) const;

  authority::ConsoleSessions* sessions_;
  const ConsoleOptions opts_;
  std::map<std::string, File, std::less<>> files_;
  mutable std::mutex mu_;
  std::string base_url_;  // GUARDED_BY(mu_)
};

}  // namespace authd::api

#endif  // AUTHD_API_CONSOLE_HANDLER_H_
