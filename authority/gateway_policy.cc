#include "authority/gateway_policy.h"

#include <algorithm>

namespace authd::authority {
namespace {

bool Unreserved(unsigned char c) {
  return std::isalnum(c) || c == '-' || c == '.' || c == '_' || c == '~';
}

int HexValue(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

// Step one: escapes of unreserved characters decoded, the others
// upper-cased; controls and spaces refused.
StatusOr<std::string> DecodeUnreserved(std::string_view raw) {
  static constexpr char kHex[] = "0123456789ABCDEF";
  std::string out;
  out.reserve(raw.size());
  for (size_t i = 0; i < raw.size(); ++i) {
    unsigned char c = static_cast<unsigned char>(raw[i]);
    if (c <= 0x20 || c == 0x7f) {
      return Status::InvalidArgument(
          "the request path holds a space or a control character");
    }
    if (c != '%') {
      out.push_back(static_cast<char>(c));
      continue;
    }
    int hi = i + 2 < raw.size() ? HexValue(raw[i + 1]) : -1;
    int lo = i + 2 < raw.size() ? HexValue(raw[i + 2]) : -1;
    if (hi < 0 || lo < 0) {
      return Status::InvalidArgument("the request path has a malformed escape");
    }
    unsigned char v = static_cast<unsigned char>(hi * 16 + lo);
    if (Unreserved(v)) {
      out.push_back(static_cast<char>(v));
    } else {
      out += {'%', kHex[hi], kHex[lo]};
    }
    i += 2;
  }
  return out;
}

bool PrefixMatches(std::string_view prefix, std::string_view path) {
  if (path.substr(0, prefix.size()) != prefix) return false;
  return path.size() == prefix.size() || prefix.back() == '/' ||
         path[prefix.size()] == '/';
}

bool Covers(const GatewayRoute& r, std::string_view method) {
  return r.methods.empty() || std::find(r.methods.begin(), r.methods.end(),
                                        method) != r.methods.end();
}

bool IsMethod(const std::string& m) {
  return !m.empty() && std::all_of(m.begin(), m.end(),
                                   [](char c) { return c >= 'A' && c <= 'Z'; });
}

bool IsScope(const std::string& s) {
  return !s.empty() && s.find_first_of(" \t\"\\") == std::string::npos;
}

}  // namespace

StatusOr<std::string> NormalizePath(std::string_view target) {
  std::string_view raw = target.substr(0, target.find_first_of("?#"));
  if (raw.empty() || raw[0] != '/') {
    return Status::InvalidArgument(
        "the request target is not an absolute path");
  }
  ASSIGN_OR_RETURN(std::string decoded, DecodeUnreserved(raw));
  std::vector<std::string_view> kept;
  bool directory = false;  // the path ends in a segment separator
  std::string_view rest(decoded);
  while (!rest.empty()) {
    rest.remove_prefix(1);  // the '/'
    size_t slash = rest.find('/');
    std::string_view seg = rest.substr(0, slash);
    rest = slash == std::string_view::npos ? "" : rest.substr(slash);
    directory = seg.empty() || seg == "." || seg == "..";
    if (seg == "..") {
      if (!kept.empty()) kept.pop_back();
    } else if (!seg.empty() && seg != ".") {
      kept.push_back(seg);
    }
  }
  std::string out;
  for (std::string_view seg : kept) (out += '/') += seg;
  if (out.empty() || directory) out += '/';
  return out;
}

const GatewayRoute* MatchRoute(const GatewayPolicy& policy,
                               std::string_view path, std::string_view method) {
  const GatewayRoute* best = nullptr;
  for (const GatewayRoute& r : policy.routes) {
    if (!PrefixMatches(r.prefix, path) || !Covers(r, method)) continue;
    // Longer prefixes win; for the same prefix, a rule naming the method
    // wins over one that covers every method.
    if (best == nullptr || r.prefix.size() > best->prefix.size() ||
        (r.prefix.size() == best->prefix.size() && best->methods.empty())) {
      best = &r;
    }
  }
  return best;
}

Status ValidateGatewayPolicy(const GatewayPolicy& policy) {
  for (size_t i = 0; i < policy.routes.size(); ++i) {
    const GatewayRoute& r = policy.routes[i];
    std::string name = "gateway.routes[" + std::to_string(i) + "]";
    StatusOr<std::string> normal = NormalizePath(r.prefix);
    if (!normal.ok() || *normal != r.prefix) {
      return Status::InvalidArgument(
          name + ".prefix '" + r.prefix + "' must be a normalized absolute " +
          "path" + (normal.ok() ? " such as '" + *normal + "'" : ""));
    }
    for (const std::string& m : r.methods) {
      if (!IsMethod(m)) {
        return Status::InvalidArgument(name + ".methods: '" + m +
                                       "' is not an upper-case HTTP method");
      }
    }
    for (const std::string& s : r.scopes) {
      if (!IsScope(s)) {
        return Status::InvalidArgument(name + ".scopes: '" + s +
                                       "' is not a valid scope token");
      }
    }
    for (size_t j = 0; j < i; ++j) {
      const GatewayRoute& o = policy.routes[j];
      if (o.prefix != r.prefix || o.methods.empty() != r.methods.empty()) {
        continue;
      }
      bool overlap =
          r.methods.empty() ||
          std::any_of(r.methods.begin(), r.methods.end(),
                      [&](const std::string& m) { return Covers(o, m); });
      if (overlap) {
        return Status::InvalidArgument(
            name + " covers the same prefix and method as gateway.routes[" +
            std::to_string(j) + "]");
      }
    }
  }
  return Status::Ok();
}

}  // namespace authd::authority
