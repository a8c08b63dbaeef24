#include "api/console_handler.h"

#include <algorithm>
#include <cctype>

#include "common/encoding.h"
#include "common/log.h"
#include "common/sha256.h"
#include "common/strict_json.h"

namespace authd::api {
namespace {

using nlohmann::json;

constexpr std::string_view kPrefix = "/console/";

// No inline script or style, nothing from another origin, no framing.
constexpr char kCsp[] =
    "default-src 'none'; script-src 'self'; style-src 'self'; "
    "img-src 'self'; connect-src 'self'; form-action 'self'; "
    "base-uri 'none'; frame-ancestors 'none'";

std::string_view Trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) {
    s.remove_prefix(1);
  }
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) {
    s.remove_suffix(1);
  }
  return s;
}

bool SameIgnoringCase(std::string_view a, std::string_view b) {
  return a.size() == b.size() &&
         std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) {
           return std::tolower(static_cast<unsigned char>(x)) ==
                  std::tolower(static_cast<unsigned char>(y));
         });
}

bool HasHeader(const Response& r, std::string_view name) {
  return std::any_of(r.headers.begin(), r.headers.end(), [&](const auto& h) {
    return SameIgnoringCase(h.first, name);
  });
}

std::string ContentType(std::string_view path) {
  size_t dot = path.rfind('.');
  std::string ext(dot == std::string_view::npos ? "" : path.substr(dot + 1));
  for (char& c : ext) c = static_cast<char>(std::tolower(c));
  static const std::map<std::string, std::string> kTypes = {
      {"html", "text/html; charset=utf-8"},
      {"js", "text/javascript; charset=utf-8"},
      {"mjs", "text/javascript; charset=utf-8"},
      {"css", "text/css; charset=utf-8"},
      {"svg", "image/svg+xml"},
      {"png", "image/png"},
      {"ico", "image/vnd.microsoft.icon"},
      {"webp", "image/webp"},
      {"json", "application/json"},
      {"webmanifest", "application/manifest+json"},
      {"txt", "text/plain; charset=utf-8"},
      {"woff2", "font/woff2"},
  };
  auto it = kTypes.find(ext);
  return it == kTypes.end() ? "application/octet-stream" : it->second;
}

// RFC 9110 §13.1.2: If-None-Match compares weakly; "*" matches any.
bool NoneMatchHits(const std::string& header, const std::string& etag) {
  size_t start = 0;
  while (start <= header.size()) {
    size_t comma = header.find(',', start);
    if (comma == std::string::npos) comma = header.size();
    std::string_view tag =
        Trim(std::string_view(header).substr(start, comma - start));
    if (tag.rfind("W/", 0) == 0) tag.remove_prefix(2);
    if (tag == "*" || tag == etag) return true;
    start = comma + 1;
  }
  return false;
}

Response NoSuchFile(const Request& req) {
  return Response::NotFound(req.path).With("Cache-Control", "no-store");
}

std::string Source(const Request& req) {
  return req.client ? req.client->ToString() : "-";
}

}  // namespace

std::string_view ConsoleCookieName(bool tls) {
  return tls ? "__Host-authd_console" : "authd_console";
}

std::optional<std::string> ConsoleCookie(const Request& req, bool tls) {
  const std::string* header = req.Header("cookie");
  if (header == nullptr) return std::nullopt;
  std::string_view name = ConsoleCookieName(tls);
  std::string_view rest = *header;
  // RFC 6265 §5.4: "a=b; c=d". Repeated Cookie headers arrive joined by
  // ", ", so a comma separates pairs too (session values hold neither).
  while (!rest.empty()) {
    size_t end = rest.find_first_of(";,");
    std::string_view pair = Trim(rest.substr(0, end));
    rest = end == std::string_view::npos ? "" : rest.substr(end + 1);
    size_t eq = pair.find('=');
    if (eq != std::string_view::npos && pair.substr(0, eq) == name) {
      return std::string(pair.substr(eq + 1));
    }
  }
  return std::nullopt;
}

bool ConsoleSameOrigin(const Request& req, bool tls,
                       std::string_view configured) {
  const std::string* origin = req.Header("origin");
  if (origin == nullptr) return false;
  if (!configured.empty() && SameIgnoringCase(*origin, configured)) {
    return true;
  }
  const std::string* host = req.Header("host");
  if (host == nullptr || host->empty()) return false;
  return SameIgnoringCase(*origin,
                          std::string(tls ? "https://" : "http://") + *host);
}

Response ConsoleNoSession() {
  return Response::Error(401, "no_session",
                         "You are signed out. Run authctl console login on "
                         "the appliance for a sign-in link.");
}

Response ConsoleCsrfRefused(std::string_view why) {
  return Response::Error(403, "csrf",
                         "Refused: " + std::string(why) +
                             ". Changes are accepted only from the console's "
                             "own page; reload it and try again.");
}

bool IsConsolePath(std::string_view path) {
  return path == "/console" || path.rfind(kPrefix, 0) == 0;
}

void AddConsoleHeaders(Response* r) {
  r->With("Content-Security-Policy", kCsp)
      .With("Referrer-Policy", "no-referrer")
      .With("X-Frame-Options", "DENY")
      .With("Cross-Origin-Opener-Policy", "same-origin")
      .With("Cross-Origin-Resource-Policy", "same-origin");
  if (!HasHeader(*r, "cache-control")) r->With("Cache-Control", "no-store");
}

ConsoleHandler::ConsoleHandler(authority::ConsoleSessions* sessions,
                               ConsoleOptions opts,
                               std::span<const EmbeddedFile> files)
    : sessions_(sessions), opts_(std::move(opts)), base_url_(opts_.base_url) {
  for (const EmbeddedFile& f : files) {
    std::string type = ContentType(f.path);
    bool page = type.rfind("text/html", 0) == 0;
    std::string etag =
        page ? "" : "\"" + Base64UrlEncode(Sha256(f.data)) + "\"";
    files_.emplace(std::string(f.path), File{f.data, type, etag});
  }
}

void ConsoleHandler::SetBaseUrl(std::string url) {
  std::lock_guard<std::mutex> lock(mu_);
  base_url_ = std::move(url);
}

Response ConsoleHandler::Redirect(const Request&) const {
  Response r;
  r.status = 308;  // RFC 9110 §15.4.9: same method, permanently
  r.content_type.clear();
  return r.With("Location", std::string(kPrefix));
}

// HTML pages are never stored (Cache-Control: no-store), so a new authd
// serves its new page at once; the files they load are revalidated on every
// use (no-cache) against a strong ETag, the SHA-256 of their bytes.
Response ConsoleHandler::Asset(const Request& req) const {
  if (req.path.rfind(kPrefix, 0) != 0) return NoSuchFile(req);
  std::string name = req.path.substr(kPrefix.size());
  if (name.empty()) name = "index.html";
  auto it = files_.find(name);
  if (it == files_.end()) return NoSuchFile(req);
  const File& f = it->second;
  Response r;
  if (f.etag.empty()) {
    r.With("Cache-Control", "no-store");
  } else {
    r.With("Cache-Control", "no-cache").With("ETag", f.etag);
    const std::string* inm = req.Header("if-none-match");
    if (inm != nullptr && NoneMatchHits(*inm, f.etag)) {
      r.status = 304;  // RFC 9110 §15.4.5: no body
      r.content_type.clear();
      return r;
    }
  }
  r.content_type = f.type;
  r.body = std::string(f.data);
  return r;
}

Response ConsoleHandler::CreateLink(const Request& req,
                                    const authority::Actor&) const {
  std::string base;
  {
    std::lock_guard<std::mutex> lock(mu_);
    base = base_url_;
  }
  if (!opts_.enabled || base.empty()) {
    return Response::Error(
        404, "not_found",
        !opts_.enabled ? "the web console is off (console.enabled = false)"
                       : "the web console needs a TCP listener "
                         "(server.listen) or console.url");
  }
  if (!req.admin_socket || !req.peer_uid) {
    return Response::Error(403, "forbidden",
                           "sign-in links are given on the admin socket only, "
                           "to a caller whose uid is known");
  }
  if (!req.body.empty()) {
    auto body = ParseStrictJson(req.body.view());
    if (!body.ok() || !body->is_object() || !body->empty()) {
      return Response::Error(400, "invalid_request",
                             "the body must be empty or {}");
    }
  }
  auto link = sessions_->CreateLink(*req.peer_uid);
  if (!link.ok()) return Response::FromStatus(link.status());
  Log(LogLevel::kInfo, "event=console_link uid=%u expires_at=%s", *req.peer_uid,
      FormatRfc3339(link->expires_at).c_str());
  return Response::Json(201, {{"url", base + std::string(kPrefix) + "#code=" +
                                          std::string(link->code.view())},
                              {"expires_at", FormatRfc3339(link->expires_at)}})
      .With("Cache-Control", "no-store");
}

std::string ConsoleHandler::Cookie(std::string_view value, bool clear) const {
  std::string c = std::string(ConsoleCookieName(opts_.tls)) + "=" +
                  std::string(value) + "; Path=/";
  if (opts_.tls) c += "; Secure";
  c += "; HttpOnly; SameSite=Strict";
  if (clear) c += "; Max-Age=0";
  return c;
}

json ConsoleHandler::SessionJson(const authority::ConsoleSession& s,
                                 const Request& req) const {
  return {{"actor", s.actor},
          {"csrf_token", s.csrf_token},
          {"appliance", opts_.appliance},
          {"instance", opts_.instance},
          {"expires_at", FormatRfc3339(s.expires_at)},
          {"idle_timeout_seconds", sessions_->limits().idle_seconds},
          {"address", req.client ? req.client->ToString() : ""}};
}

Response ConsoleHandler::SignIn(const Request& req) const {
  auto body = ParseStrictJson(req.body.view());
  if (!body.ok() || !body->is_object() || body->size() != 1 ||
      !body->contains("code") || !(*body)["code"].is_string()) {
    return Response::Error(400, "invalid_request",
                           "the body must be {\"code\": \"...\"}");
  }
  auto started = sessions_->Redeem((*body)["code"].get<std::string>());
  if (!started.ok()) {
    Log(LogLevel::kWarn, "event=console_sign_in_refused source=%s",
        Source(req).c_str());
    return Response::Error(
        401, "invalid_code",
        "This sign-in link has already been used or has expired. Run "
        "authctl console login on the appliance for a new one.");
  }
  Log(LogLevel::kNotice, "event=console_sign_in actor=%s source=%s",
      started->session.actor.c_str(), Source(req).c_str());
  return Response::Json(200, SessionJson(started->session, req))
      .With("Set-Cookie", Cookie(started->token.view(), false));
}

Response ConsoleHandler::Session(const Request& req,
                                 const authority::Actor&) const {
  std::optional<std::string> token = ConsoleCookie(req, opts_.tls);
  auto s = token ? sessions_->Authenticate(*token)
                 : StatusOr<authority::ConsoleSession>(
                       Status::Unauthenticated("no cookie"));
  // The Router authenticated this request a moment ago; a session that
  // ended since is answered as any other.
  if (!s.ok()) return ConsoleNoSession();
  return Response::Json(200, SessionJson(*s, req));
}

Response ConsoleHandler::SignOut(const Request& req,
                                 const authority::Actor& actor) const {
  std::optional<std::string> token = ConsoleCookie(req, opts_.tls);
  if (token) sessions_->End(*token);
  Log(LogLevel::kNotice, "event=console_sign_out actor=%s source=%s",
      actor.id.c_str(), Source(req).c_str());
  return Response::NoContent().With("Set-Cookie", Cookie("", true));
}

}  // namespace authd::api
