#include "fuzz/transport.h"

#include <algorithm>
#include <cctype>
#include <cstdlib>
#include <string>

namespace authd::fuzz {
namespace {

constexpr size_t kMaxBody = 16 * 1024;

// The next line without its terminator; advances `rest` past it.
std::optional<std::string_view> NextLine(std::string_view* rest) {
  if (rest->empty()) return std::nullopt;
  size_t end = rest->find('\n');
  std::string_view line = rest->substr(0, end);
  rest->remove_prefix(end == std::string_view::npos ? rest->size() : end + 1);
  if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
  return line;
}

int Hex(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
}

// MHD_http_unescape: "%XX" decoded, a malformed escape kept as it is.
std::string Unescape(std::string_view s, bool plus_is_space) {
  std::string out;
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '%' && i + 2 < s.size() && Hex(s[i + 1]) >= 0 &&
        Hex(s[i + 2]) >= 0) {
      out.push_back(static_cast<char>(Hex(s[i + 1]) * 16 + Hex(s[i + 2])));
      i += 2;
    } else {
      out.push_back(plus_is_space && s[i] == '+' ? ' ' : s[i]);
    }
  }
  return out;
}

void SetTarget(std::string_view target, api::Request* req) {
  size_t q = target.find('?');
  req->path = Unescape(target.substr(0, q), false);
  if (q == std::string_view::npos) return;
  std::string_view rest = target.substr(q + 1);
  while (!rest.empty()) {
    size_t amp = rest.find('&');
    std::string_view pair = rest.substr(0, amp);
    rest.remove_prefix(amp == std::string_view::npos ? rest.size() : amp + 1);
    size_t eq = pair.find('=');
    std::string value =
        eq == std::string_view::npos ? "" : Unescape(pair.substr(eq + 1), true);
    req->query[Unescape(pair.substr(0, eq), true)] = value;
  }
}

// "@socket [uid]" and "@peer address" lines; false when one is malformed.
bool TransportLine(std::string_view line, api::Request* req) {
  if (line.rfind("@socket", 0) == 0) {
    req->admin_socket = true;
    req->peer.reset();
    req->peer_uid = 0;
    if (line.size() > 8) {
      req->peer_uid = static_cast<unsigned>(
          std::strtoul(std::string(line.substr(8)).c_str(), nullptr, 10));
    }
    return true;
  }
  if (line.rfind("@peer ", 0) == 0) {
    req->peer = IpAddress::Parse(line.substr(6));
    return req->peer.has_value();
  }
  return false;
}

void AddHeader(std::string_view line, api::Request* req) {
  size_t colon = line.find(':');
  if (colon == std::string_view::npos || colon == 0) return;  // MHD drops it
  std::string name(line.substr(0, colon));
  std::transform(name.begin(), name.end(), name.begin(),
                 [](unsigned char c) { return std::tolower(c); });
  std::string_view value = line.substr(colon + 1);
  while (!value.empty() && (value.front() == ' ' || value.front() == '\t')) {
    value.remove_prefix(1);
  }
  while (!value.empty() && (value.back() == ' ' || value.back() == '\t')) {
    value.remove_suffix(1);
  }
  auto [it, inserted] = req->headers.emplace(name, std::string(value));
  if (!inserted) it->second += ", " + std::string(value);
}

}  // namespace

std::optional<api::Request> ParseRawRequest(std::string_view bytes) {
  api::Request req;
  req.peer = IpAddress::Parse("192.0.2.10");
  req.request_id = "0000000000000001";
  std::optional<std::string_view> line = NextLine(&bytes);
  while (line && !line->empty() && line->front() == '@') {
    if (!TransportLine(*line, &req)) return std::nullopt;
    line = NextLine(&bytes);
  }
  if (!line) return std::nullopt;
  size_t sp = line->find(' ');
  if (sp == 0 || sp == std::string_view::npos) return std::nullopt;
  req.method = std::string(line->substr(0, sp));
  std::string_view target = line->substr(sp + 1);
  target = target.substr(0, target.find(' '));
  SetTarget(target, &req);
  while ((line = NextLine(&bytes)) && !line->empty()) AddHeader(*line, &req);
  req.body = SecureString(bytes.substr(0, kMaxBody));
  return req;
}

}  // namespace authd::fuzz
