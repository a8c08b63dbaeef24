#include "common/cidr.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <algorithm>
#include <cstring>
#include <string>

namespace authd {
namespace {

constexpr Uint128 kMappedPrefix = Uint128{0xffff} << 32;  // ::ffff:0:0/96
constexpr int kV4InMapped = 96;  // IPv4 /n is /(96+n) in mapped space
// Longest text inet_pton(AF_INET6) can accept: eight 4-digit groups in the
// mixed form "0000:0000:0000:0000:0000:ffff:255.255.255.255" (45 chars).
constexpr size_t kMaxIpv6TextLength = INET6_ADDRSTRLEN - 1;
// Untrusted text echoed into an error message is cut at this many bytes.
constexpr size_t kMaxEchoLength = 64;

// Host-bit mask for a prefix in the 128-bit space. REQUIRES: 0 <= prefix <= 128
Uint128 HostMask(int prefix) {
  // Shifting a 128-bit value by 128 is undefined, hence the special case.
  return prefix == 128 ? Uint128{0} : ~Uint128{0} >> prefix;
}

Uint128 FromBytes(const unsigned char (&bytes)[16]) {
  Uint128 bits = 0;
  for (unsigned char b : bytes) bits = (bits << 8) | b;
  return bits;
}

// Strict dotted quad: exactly four decimal parts 0-255, no leading zeros,
// nothing else (inet_aton's "1.2.3", "0x1.2.3.4" and "010.1.1.1" forms
// would let an allow-list entry mean something other than it looks like).
std::optional<uint32_t> ParseIpv4(std::string_view text) {
  uint32_t value = 0;
  int parts = 0;
  size_t i = 0;
  while (true) {
    const size_t start = i;
    unsigned octet = 0;
    while (i < text.size() && text[i] >= '0' && text[i] <= '9') {
      if (i - start == 3) return std::nullopt;
      octet = octet * 10 + static_cast<unsigned>(text[i] - '0');
      ++i;
    }
    const size_t length = i - start;
    if (length == 0 || (length > 1 && text[start] == '0') || octet > 255) {
      return std::nullopt;
    }
    value = (value << 8) | octet;
    ++parts;
    if (i == text.size()) break;
    if (text[i] != '.' || parts == 4) return std::nullopt;
    ++i;
  }
  if (parts != 4) return std::nullopt;
  return value;
}

std::optional<Uint128> ParseIpv6(std::string_view text) {
  if (text.empty() || text.size() > kMaxIpv6TextLength) return std::nullopt;
  // inet_pton reads a C string; this also rejects an embedded NUL that would
  // otherwise hide trailing garbage, and '%' zone ids.
  for (char c : text) {
    const bool hex = (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') ||
                     (c >= 'A' && c <= 'F');
    if (!hex && c != ':' && c != '.') return std::nullopt;
  }
  char buffer[kMaxIpv6TextLength + 1];
  std::memcpy(buffer, text.data(), text.size());
  buffer[text.size()] = '\0';
  in6_addr address;
  if (inet_pton(AF_INET6, buffer, &address) != 1) return std::nullopt;
  return FromBytes(address.s6_addr);
}

// Quotes untrusted text for an error message: 'text', with bytes outside
// printable ASCII as \xNN and anything past kMaxEchoLength replaced by "...",
// so a hostile config or request cannot forge log lines.
std::string Quote(std::string_view text) {
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out = "'";
  const size_t shown = std::min(text.size(), kMaxEchoLength);
  for (size_t i = 0; i < shown; ++i) {
    const auto c = static_cast<unsigned char>(text[i]);
    if (c >= 0x20 && c < 0x7f && c != '\\') {
      out += static_cast<char>(c);
    } else {
      out += "\\x";
      out += kHex[c >> 4];
      out += kHex[c & 0xf];
    }
  }
  if (shown < text.size()) out += "...";
  out += "'";
  return out;
}

// Parses the non-empty text after '/'. `max` is 32 or 128 for the family the
// address was written in.
StatusOr<int> ParsePrefix(std::string_view text, int max,
                          std::string_view family) {
  for (char c : text) {
    if (c < '0' || c > '9') {
      return Status::InvalidArgument("prefix length " + Quote(text) +
                                     " is not a decimal number");
    }
  }
  if (text.size() > 1 && text[0] == '0') {
    return Status::InvalidArgument("prefix length " + Quote(text) +
                                   " has a leading zero");
  }
  const std::string range_note = " is out of range for " + std::string(family) +
                                 " (0-" + std::to_string(max) + ")";
  // Three digits cover 0-128; longer strings are out of range and could
  // overflow an int.
  if (text.size() > 3) {
    return Status::InvalidArgument("prefix length " + Quote(text) + range_note);
  }
  int value = 0;
  for (char c : text) value = value * 10 + (c - '0');
  if (value > max) {
    return Status::InvalidArgument("prefix length " + std::to_string(value) +
                                   range_note);
  }
  return value;
}

}  // namespace

IpAddress IpAddress::FromIpv4(uint32_t v4) {
  return IpAddress{kMappedPrefix | v4};
}

std::optional<IpAddress> IpAddress::Parse(std::string_view text) {
  // Every IPv6 form contains ':' and no IPv4 form does.
  if (text.find(':') != std::string_view::npos) {
    const std::optional<Uint128> bits = ParseIpv6(text);
    if (!bits) return std::nullopt;
    return IpAddress{*bits};
  }
  const std::optional<uint32_t> v4 = ParseIpv4(text);
  if (!v4) return std::nullopt;
  return FromIpv4(*v4);
}

std::optional<IpAddress> IpAddress::FromSockaddr(const sockaddr* address) {
  if (address == nullptr) return std::nullopt;
  // memcpy rather than a pointer cast: the caller's storage may be a
  // sockaddr_storage or a plain byte buffer.
  if (address->sa_family == AF_INET) {
    sockaddr_in in4;
    std::memcpy(&in4, address, sizeof(in4));
    return FromIpv4(ntohl(in4.sin_addr.s_addr));
  }
  if (address->sa_family == AF_INET6) {
    sockaddr_in6 in6;
    std::memcpy(&in6, address, sizeof(in6));
    return IpAddress{FromBytes(in6.sin6_addr.s6_addr)};
  }
  return std::nullopt;
}

std::string IpAddress::ToString() const {
  if (is_v4()) {
    const auto v4 = static_cast<uint32_t>(bits);
    return std::to_string(v4 >> 24) + "." + std::to_string((v4 >> 16) & 0xff) +
           "." + std::to_string((v4 >> 8) & 0xff) + "." +
           std::to_string(v4 & 0xff);
  }
  in6_addr address;
  for (int i = 0; i < 16; ++i) {
    address.s6_addr[i] = static_cast<unsigned char>(bits >> (8 * (15 - i)));
  }
  char buffer[INET6_ADDRSTRLEN];
  // Cannot fail: the family is valid and the buffer is large enough.
  inet_ntop(AF_INET6, &address, buffer, sizeof(buffer));
  return buffer;
}

StatusOr<Cidr> Cidr::Parse(std::string_view text) {
  if (text.empty()) return Status::InvalidArgument("empty CIDR");
  const size_t slash = text.find('/');
  const std::string_view address_text = text.substr(0, slash);
  if (address_text.find('%') != std::string_view::npos) {
    return Status::InvalidArgument(Quote(address_text) +
                                   " has a zone id, which a range cannot use");
  }
  const std::optional<IpAddress> address = IpAddress::Parse(address_text);
  if (!address) {
    return Status::InvalidArgument(Quote(address_text) +
                                   " is not an IPv4 or IPv6 address");
  }
  // The prefix counts in the family the address was written in, even when
  // IPv6 text names a mapped IPv4 address.
  const bool written_v6 = address_text.find(':') != std::string_view::npos;
  const int max = written_v6 ? 128 : 32;
  int prefix = max;
  if (slash != std::string_view::npos) {
    if (slash + 1 == text.size()) {
      return Status::InvalidArgument(Quote(text) +
                                     " has no prefix length after '/'");
    }
    StatusOr<int> parsed =
        ParsePrefix(text.substr(slash + 1), max, written_v6 ? "IPv6" : "IPv4");
    if (!parsed.ok()) return parsed.status();
    prefix = *parsed;
  }
  const int mapped_prefix = written_v6 ? prefix : kV4InMapped + prefix;
  const Uint128 first = address->bits & ~HostMask(mapped_prefix);
  const Cidr cidr(first, mapped_prefix);
  if (first != address->bits) {
    // The text parsed, so it holds only address characters and is safe to
    // echo as written.
    return Status::InvalidArgument(std::string(text) +
                                   " has host bits set; did you mean " +
                                   cidr.ToString() + "?");
  }
  return cidr;
}

StatusOr<Cidr> Cidr::Enclosing(const IpAddress& address, int prefix_length) {
  const int max = address.is_v4() ? 32 : 128;
  if (prefix_length < 0 || prefix_length > max) {
    return Status::InvalidArgument(
        "prefix length " + std::to_string(prefix_length) +
        " is out of range for " + (address.is_v4() ? "IPv4" : "IPv6") + " (0-" +
        std::to_string(max) + ")");
  }
  const int mapped_prefix =
      address.is_v4() ? kV4InMapped + prefix_length : prefix_length;
  return Cidr(address.bits & ~HostMask(mapped_prefix), mapped_prefix);
}

bool Cidr::Contains(const IpAddress& address) const {
  return (address.bits & ~HostMask(prefix_)) == first_;
}

IpAddress Cidr::last() const { return IpAddress{first_ | HostMask(prefix_)}; }

std::string Cidr::ToString() const {
  return first().ToString() + "/" + std::to_string(prefix_length());
}

}  // namespace authd
