// IP addresses and CIDR ranges for peer allow-lists (RFC 4632 for IPv4
// prefixes, RFC 4291 §2.3 for IPv6 prefixes).
//
// Every address lives in one 128-bit IPv6 space: an IPv4 address a.b.c.d is
// stored as the IPv4-mapped IPv6 address ::ffff:a.b.c.d (RFC 4291 §2.5.5.2),
// so a peer that a dual-stack socket reports as ::ffff:10.0.0.1 is the same
// IpAddress as one that an IPv4 socket reports as 10.0.0.1, and both match the
// entry "10.0.0.0/8". Consequences worth knowing:
//   - An IPv4 prefix n is the IPv6 prefix 96+n in mapped space, so
//     "10.0.0.0/8" and "::ffff:10.0.0.0/104" are the same range, and both
//     print as "10.0.0.0/8".
//   - An IPv6 range that spans ::ffff:0:0/96 also covers IPv4 peers: "::/0"
//     matches every IPv4 address too, while "0.0.0.0/0" matches no native IPv6
//     address.
//   - Only the mapped form is IPv4. IPv4-compatible (::a.b.c.d, deprecated by
//     RFC 4291 §2.5.5.1) and NAT64 (64:ff9b::/96, RFC 6052) addresses are
//     ordinary IPv6 addresses here.
//   - Zone ids ("fe80::1%eth0", RFC 4007 §11) are rejected by the parsers and
//     dropped by FromSockaddr: a range cannot name an interface.
//
// All types here are immutable values after construction and safe to share
// between threads.
#ifndef AUTHD_COMMON_CIDR_H_
#define AUTHD_COMMON_CIDR_H_

#include <compare>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "common/status.h"

struct sockaddr;

namespace authd {

// __extension__ keeps -Wpedantic quiet about the GCC/Clang 128-bit type.
__extension__ typedef unsigned __int128 Uint128;

// One IPv4 or IPv6 address as a 128-bit big-endian number (bit 127 is the
// first bit on the wire). IPv4 addresses are always in mapped form, so
// equality and ordering need no family tag.
struct IpAddress {
  Uint128 bits = 0;

  // The IPv4 address whose dotted quad is the big-endian form of `v4`
  // (0x0a000001 is 10.0.0.1).
  static IpAddress FromIpv4(uint32_t v4);

  // Parses a bare address, nothing around it. IPv4 must be a strict dotted
  // quad: four decimal parts 0-255 without leading zeros ("01.2.3.4" and
  // "1.2.3" are rejected; inet_aton's octal and short forms are not
  // accepted). IPv6 is any form inet_pton(AF_INET6) accepts, so
  // "::ffff:1.2.3.4" parses to the same value as "1.2.3.4". Returns nullopt
  // for anything else, including whitespace and zone ids.
  static std::optional<IpAddress> Parse(std::string_view text);

  // Reads an AF_INET or AF_INET6 socket address (the IPv6 scope id is
  // ignored). Returns nullopt for a null pointer or any other family.
  // REQUIRES: `address` points to a whole sockaddr_in / sockaddr_in6 when its
  // family says so.
  static std::optional<IpAddress> FromSockaddr(const sockaddr* address);

  // True for IPv4 (mapped) addresses.
  bool is_v4() const { return (bits >> 32) == 0xffff; }

  // Dotted quad for IPv4, otherwise inet_ntop's compressed lowercase form
  // (RFC 5952).
  std::string ToString() const;

  friend bool operator==(const IpAddress&, const IpAddress&) = default;
  friend std::strong_ordering operator<=>(const IpAddress&,
                                          const IpAddress&) = default;
};

// A CIDR range: an address with all host bits clear and a prefix length.
class Cidr {
 public:
  // Parses "address" or "address/prefix". A bare address is a single host
  // (/32 or /128). The prefix is decimal without leading zeros and counts in
  // the family the address is written in: 0-32 after a dotted quad, 0-128
  // after any IPv6 form (including "::ffff:a.b.c.d"). Host bits must be clear;
  // "10.1.2.3/8" fails with a message suggesting "10.0.0.0/8" rather than
  // being silently widened, since an allow-list typo should not quietly
  // admit a whole /8. Every failure is InvalidArgument with a message naming
  // the problem; untrusted text echoed into it is escaped and truncated.
  static StatusOr<Cidr> Parse(std::string_view text);

  // The range of `prefix_length` bits that contains `address`, with the host
  // bits cleared (no error for set host bits, unlike Parse). The prefix
  // counts in the address's family: 0-32 if address.is_v4(), else 0-128;
  // InvalidArgument otherwise.
  static StatusOr<Cidr> Enclosing(const IpAddress& address, int prefix_length);

  // True if `address` lies in [first(), last()].
  bool Contains(const IpAddress& address) const;

  // Lowest and highest address of the range in the 128-bit space.
  IpAddress first() const { return IpAddress{first_}; }
  IpAddress last() const;

  // True if the range lies within ::ffff:0:0/96, i.e. it is an IPv4 range.
  bool is_v4() const { return IpAddress{first_}.is_v4(); }
  // Prefix length in the range's own family: 0-32 for IPv4, 0-128 for IPv6.
  int prefix_length() const { return is_v4() ? prefix_ - 96 : prefix_; }
  // Prefix length in the 128-bit space (IPv4 /n is 96+n).
  int mapped_prefix_length() const { return prefix_; }

  // Normalized form, always with the prefix: "10.0.0.0/8" for IPv4 (also
  // when written as "::ffff:10.0.0.0/104"), inet_ntop's compressed lowercase
  // form for IPv6 ("2001:db8::/32"). Parse(ToString()) yields an equal Cidr.
  std::string ToString() const;

  friend bool operator==(const Cidr&, const Cidr&) = default;

 private:
  Cidr(Uint128 first, int prefix) : first_(first), prefix_(prefix) {}

  Uint128 first_;  // host bits clear
  int prefix_;     // 0-128, in the 128-bit space
};

}  // namespace authd

#endif  // AUTHD_COMMON_CIDR_H_
