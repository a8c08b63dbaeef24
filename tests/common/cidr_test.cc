#include "common/cidr.h"

#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/un.h>

#include <cstdint>
#include <cstring>
#include <ostream>
#include <string>
#include <vector>

#include "common/ip_set.h"
#include "testing/ip_helpers.h"

namespace authd {

// Readable gtest failure output.
namespace {

using testing::Addr;
using testing::MustParse;

constexpr Uint128 kAllOnes = ~Uint128{0};

// ---------------------------------------------------------------- IpAddress

TEST(IpAddressTest, Ipv4IsStoredMapped) {
  const IpAddress address = Addr("1.2.3.4");
  EXPECT_EQ(address.bits, (Uint128{0xffff} << 32) | 0x01020304);
  EXPECT_TRUE(address.is_v4());
  EXPECT_EQ(address, IpAddress::FromIpv4(0x01020304));
  EXPECT_EQ(address.ToString(), "1.2.3.4");
}

TEST(IpAddressTest, MappedIpv6TextEqualsIpv4) {
  EXPECT_EQ(Addr("::ffff:1.2.3.4"), Addr("1.2.3.4"));
  EXPECT_EQ(Addr("::FFFF:102:304"), Addr("1.2.3.4"));
  EXPECT_EQ(Addr("0:0:0:0:0:ffff:0102:0304"), Addr("1.2.3.4"));
  EXPECT_EQ(Addr("::ffff:1.2.3.4").ToString(), "1.2.3.4");
}

TEST(IpAddressTest, Ipv6) {
  const IpAddress address = Addr("2001:DB8::1");
  EXPECT_FALSE(address.is_v4());
  EXPECT_EQ(address.bits, (Uint128{0x20010db8} << 96) | 1);
  EXPECT_EQ(address.ToString(), "2001:db8::1");
  EXPECT_EQ(Addr("::").bits, Uint128{0});
  EXPECT_EQ(Addr("ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff").bits, kAllOnes);
  // IPv4-compatible addresses are not IPv4 (RFC 4291 §2.5.5.1).
  EXPECT_FALSE(Addr("::1.2.3.4").is_v4());
  EXPECT_NE(Addr("::1.2.3.4"), Addr("1.2.3.4"));
}

TEST(IpAddressTest, OrderingFollowsBits) {
  EXPECT_LT(Addr("::1"), Addr("0.0.0.0"));
  EXPECT_LT(Addr("1.2.3.4"), Addr("1.2.3.5"));
  EXPECT_LT(Addr("255.255.255.255"), Addr("2001:db8::"));
}

TEST(IpAddressTest, ParseRejects) {
  for (std::string_view text :
       {"",          " 1.2.3.4",         "1.2.3.4 ",   "1.2.3",
        "1.2.3.4.5", "01.2.3.4",         "1.2.3.04",   "256.0.0.0",
        "1.2.3.-4",  "0x1.2.3.4",        "1..2.3",     ".1.2.3.4",
        "1.2.3.4.",  "1234.1.1.1",       "::g",        ":::",
        "1::2::3",   "fe80::1%eth0",     "1.2.3.4/32", "::ffff:01.2.3.4",
        "12345::",   "1:2:3:4:5:6:7:8:9"}) {
    EXPECT_FALSE(IpAddress::Parse(text).has_value()) << "'" << text << "'";
  }
  // An embedded NUL must not hide trailing garbage from inet_pton.
  EXPECT_FALSE(IpAddress::Parse(std::string_view("::1\0x", 5)).has_value());
  EXPECT_FALSE(IpAddress::Parse(std::string_view("1.2.3.4\0", 8)).has_value());
  // Longer than any valid IPv6 text.
  EXPECT_FALSE(IpAddress::Parse(std::string(100, '0') + "::").has_value());
}

TEST(IpAddressTest, LongestValidIpv6Text) {
  constexpr std::string_view kText =
      "0000:0000:0000:0000:0000:ffff:255.255.255.255";
  ASSERT_EQ(kText.size(), 45u);
  EXPECT_EQ(Addr(kText), Addr("255.255.255.255"));
}

TEST(IpAddressTest, FromSockaddr) {
  sockaddr_in in4{};
  in4.sin_family = AF_INET;
  in4.sin_port = htons(443);
  ASSERT_EQ(inet_pton(AF_INET, "10.1.2.3", &in4.sin_addr), 1);
  EXPECT_EQ(IpAddress::FromSockaddr(reinterpret_cast<sockaddr*>(&in4)),
            Addr("10.1.2.3"));

  // A dual-stack socket reports IPv4 peers in mapped form.
  sockaddr_in6 in6{};
  in6.sin6_family = AF_INET6;
  ASSERT_EQ(inet_pton(AF_INET6, "::ffff:10.1.2.3", &in6.sin6_addr), 1);
  EXPECT_EQ(IpAddress::FromSockaddr(reinterpret_cast<sockaddr*>(&in6)),
            Addr("10.1.2.3"));

  ASSERT_EQ(inet_pton(AF_INET6, "fe80::1", &in6.sin6_addr), 1);
  in6.sin6_scope_id = 2;
  EXPECT_EQ(IpAddress::FromSockaddr(reinterpret_cast<sockaddr*>(&in6)),
            Addr("fe80::1"));

  // Through sockaddr_storage, as accept() fills it.
  sockaddr_storage storage{};
  std::memcpy(&storage, &in4, sizeof(in4));
  EXPECT_EQ(IpAddress::FromSockaddr(reinterpret_cast<sockaddr*>(&storage)),
            Addr("10.1.2.3"));

  sockaddr_un un{};
  un.sun_family = AF_UNIX;
  EXPECT_FALSE(IpAddress::FromSockaddr(reinterpret_cast<sockaddr*>(&un)));
  EXPECT_FALSE(IpAddress::FromSockaddr(nullptr));
}

// --------------------------------------------------------------- Cidr::Parse

struct NormalizeCase {
  std::string_view input;
  std::string_view normalized;
};

TEST(CidrTest, ParseNormalizes) {
  const NormalizeCase kCases[] = {
      {"10.0.0.0/8", "10.0.0.0/8"},
      {"1.2.3.4", "1.2.3.4/32"},
      {"1.2.3.4/32", "1.2.3.4/32"},
      {"0.0.0.0/0", "0.0.0.0/0"},
      {"255.255.255.255", "255.255.255.255/32"},
      {"10.0.0.2/31", "10.0.0.2/31"},
      {"192.168.0.0/16", "192.168.0.0/16"},
      {"2001:DB8:0:0::/32", "2001:db8::/32"},
      {"2001:0db8:0000:0000:0000:0000:0000:0000/32", "2001:db8::/32"},
      {"::/0", "::/0"},
      {"::1", "::1/128"},
      {"::", "::/128"},
      {"2001:db8::2/127", "2001:db8::2/127"},
      {"fe80::/10", "fe80::/10"},
      {"ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff",
       "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff/128"},
      // IPv4 written in IPv6 form is IPv4; its prefix counts in IPv6 bits.
      {"::ffff:1.2.3.4", "1.2.3.4/32"},
      {"::ffff:10.0.0.0/104", "10.0.0.0/8"},
      {"::ffff:a00:0/104", "10.0.0.0/8"},
      {"::ffff:0:0/96", "0.0.0.0/0"},
      // Just wider than mapped space: an IPv6 range.
      {"::fffe:0:0/95", "::fffe:0:0/95"},
  };
  for (const NormalizeCase& c : kCases) {
    StatusOr<Cidr> cidr = Cidr::Parse(c.input);
    ASSERT_TRUE(cidr.ok()) << c.input << ": " << cidr.status().message();
    EXPECT_EQ(cidr->ToString(), c.normalized) << c.input;
    // The normalized form parses back to the same range.
    StatusOr<Cidr> again = Cidr::Parse(cidr->ToString());
    ASSERT_TRUE(again.ok()) << cidr->ToString();
    EXPECT_EQ(*again, *cidr) << c.input;
  }
}

TEST(CidrTest, Ipv4AndMappedFormsAreTheSameRange) {
  EXPECT_EQ(MustParse("10.0.0.0/8"), MustParse("::ffff:10.0.0.0/104"));
  EXPECT_EQ(MustParse("1.2.3.4"), MustParse("::ffff:1.2.3.4/128"));
  EXPECT_EQ(MustParse("0.0.0.0/0"), MustParse("::ffff:0.0.0.0/96"));
  EXPECT_FALSE(MustParse("0.0.0.0/0") == MustParse("::/0"));
}

struct ErrorCase {
  std::string input;
  std::string message;
};

TEST(CidrTest, ParseRejectsWithMessage) {
  const ErrorCase kCases[] = {
      {"", "empty CIDR"},
      {" 1.2.3.4", "' 1.2.3.4' is not an IPv4 or IPv6 address"},
      {"1.2.3.4 ", "'1.2.3.4 ' is not an IPv4 or IPv6 address"},
      {"1.2.3.4 /8", "'1.2.3.4 ' is not an IPv4 or IPv6 address"},
      {"10.0.0.256", "'10.0.0.256' is not an IPv4 or IPv6 address"},
      {"10.0.0.256/8", "'10.0.0.256' is not an IPv4 or IPv6 address"},
      {"1.2.3", "'1.2.3' is not an IPv4 or IPv6 address"},
      {"1.2.3.4.5", "'1.2.3.4.5' is not an IPv4 or IPv6 address"},
      {"01.2.3.4", "'01.2.3.4' is not an IPv4 or IPv6 address"},
      {"0x1.2.3.4", "'0x1.2.3.4' is not an IPv4 or IPv6 address"},
      {"::g", "'::g' is not an IPv4 or IPv6 address"},
      {"1::2::3/64", "'1::2::3' is not an IPv4 or IPv6 address"},
      {"/8", "'' is not an IPv4 or IPv6 address"},
      {"fe80::1%eth0",
       "'fe80::1%eth0' has a zone id, which a range cannot use"},
      {"fe80::%eth0/64",
       "'fe80::%eth0' has a zone id, which a range cannot use"},
      {"1.2.3.4/", "'1.2.3.4/' has no prefix length after '/'"},
      {"1.2.3.4/033", "prefix length '033' has a leading zero"},
      {"1.2.3.4/00", "prefix length '00' has a leading zero"},
      {"1.2.3.4/-1", "prefix length '-1' is not a decimal number"},
      {"1.2.3.4/+8", "prefix length '+8' is not a decimal number"},
      {"1.2.3.4/ 8", "prefix length ' 8' is not a decimal number"},
      {"1.2.3.4/8 ", "prefix length '8 ' is not a decimal number"},
      {"1.2.3.4/8/8", "prefix length '8/8' is not a decimal number"},
      {"1.2.3.4//8", "prefix length '/8' is not a decimal number"},
      {"1.2.3.4/0x8", "prefix length '0x8' is not a decimal number"},
      {"1.2.3.4/33", "prefix length 33 is out of range for IPv4 (0-32)"},
      {"1.2.3.4/4294967328",
       "prefix length '4294967328' is out of range for IPv4 (0-32)"},
      {"::/129", "prefix length 129 is out of range for IPv6 (0-128)"},
      {"::ffff:1.2.3.4/129",
       "prefix length 129 is out of range for IPv6 (0-128)"},
      // Host bits: the message names the normalized range.
      {"10.1.2.3/8", "10.1.2.3/8 has host bits set; did you mean 10.0.0.0/8?"},
      {"10.0.0.1/31",
       "10.0.0.1/31 has host bits set; did you mean 10.0.0.0/31?"},
      {"1.2.3.4/0", "1.2.3.4/0 has host bits set; did you mean 0.0.0.0/0?"},
      {"2001:DB8::1/32",
       "2001:DB8::1/32 has host bits set; did you mean 2001:db8::/32?"},
      {"2001:db8::1/127",
       "2001:db8::1/127 has host bits set; did you mean 2001:db8::/127?"},
      {"::1/0", "::1/0 has host bits set; did you mean ::/0?"},
      {"::ffff:10.1.2.3/104",
       "::ffff:10.1.2.3/104 has host bits set; did you mean 10.0.0.0/8?"},
      // Untrusted text is escaped and truncated in messages.
      {"1.2.3.4\n", "'1.2.3.4\\x0a' is not an IPv4 or IPv6 address"},
      {std::string("::1\0/8", 6), "'::1\\x00' is not an IPv4 or IPv6 address"},
      {std::string(100, 'x'),
       "'" + std::string(64, 'x') + "...' is not an IPv4 or IPv6 address"},
  };
  for (const ErrorCase& c : kCases) {
    StatusOr<Cidr> cidr = Cidr::Parse(c.input);
    ASSERT_FALSE(cidr.ok())
        << "'" << c.input << "' parsed as " << cidr->ToString();
    EXPECT_EQ(cidr.status().code(), StatusCode::kInvalidArgument) << c.input;
    EXPECT_EQ(cidr.status().message(), c.message) << c.input;
  }
}

TEST(CidrTest, Accessors) {
  const Cidr v4 = MustParse("10.0.0.0/8");
  EXPECT_TRUE(v4.is_v4());
  EXPECT_EQ(v4.prefix_length(), 8);
  EXPECT_EQ(v4.mapped_prefix_length(), 104);
  EXPECT_EQ(v4.first(), Addr("10.0.0.0"));
  EXPECT_EQ(v4.last(), Addr("10.255.255.255"));

  const Cidr all_v4 = MustParse("0.0.0.0/0");
  EXPECT_EQ(all_v4.first(), Addr("0.0.0.0"));
  EXPECT_EQ(all_v4.last(), Addr("255.255.255.255"));
  EXPECT_EQ(all_v4.prefix_length(), 0);

  const Cidr all = MustParse("::/0");
  EXPECT_FALSE(all.is_v4());
  EXPECT_EQ(all.prefix_length(), 0);
  EXPECT_EQ(all.first().bits, Uint128{0});
  EXPECT_EQ(all.last().bits, kAllOnes);

  const Cidr host = MustParse("2001:db8::1");
  EXPECT_EQ(host.prefix_length(), 128);
  EXPECT_EQ(host.first(), host.last());

  const Cidr pair = MustParse("2001:db8::/127");
  EXPECT_EQ(pair.last(), Addr("2001:db8::1"));
}

TEST(CidrTest, Enclosing) {
  StatusOr<Cidr> v4 = Cidr::Enclosing(Addr("1.2.3.4"), 24);
  ASSERT_TRUE(v4.ok());
  EXPECT_EQ(v4->ToString(), "1.2.3.0/24");
  StatusOr<Cidr> v4_all = Cidr::Enclosing(Addr("::ffff:1.2.3.4"), 0);
  ASSERT_TRUE(v4_all.ok());
  EXPECT_EQ(v4_all->ToString(), "0.0.0.0/0");
  StatusOr<Cidr> v6 = Cidr::Enclosing(Addr("2001:db8:1:2:3::4"), 64);
  ASSERT_TRUE(v6.ok());
  EXPECT_EQ(v6->ToString(), "2001:db8:1:2::/64");

  StatusOr<Cidr> too_long = Cidr::Enclosing(Addr("1.2.3.4"), 33);
  ASSERT_FALSE(too_long.ok());
  EXPECT_EQ(too_long.status().message(),
            "prefix length 33 is out of range for IPv4 (0-32)");
  EXPECT_FALSE(Cidr::Enclosing(Addr("::1"), 129).ok());
  EXPECT_FALSE(Cidr::Enclosing(Addr("::1"), -1).ok());
}

// ------------------------------------------------------------ Cidr::Contains

struct MatchCase {
  std::string_view cidr;
  std::string_view address;
  bool contains;
};

// Shared by the Cidr and single-entry IpSet tests.
const MatchCase kMatchCases[] = {
    {"10.0.0.0/8", "10.0.0.0", true},
    {"10.0.0.0/8", "10.255.255.255", true},
    {"10.0.0.0/8", "9.255.255.255", false},
    {"10.0.0.0/8", "11.0.0.0", false},
    // IPv4-mapped peers match IPv4 entries, and IPv4 peers mapped entries.
    {"10.0.0.0/8", "::ffff:10.1.2.3", true},
    {"10.0.0.0/8", "::ffff:11.1.2.3", false},
    {"::ffff:10.0.0.0/104", "10.1.2.3", true},
    {"::ffff:10.0.0.0/104", "11.1.2.3", false},
    {"::ffff:0:0/96", "1.2.3.4", true},
    // IPv4 /0 covers all of IPv4 and nothing else.
    {"0.0.0.0/0", "0.0.0.0", true},
    {"0.0.0.0/0", "255.255.255.255", true},
    {"0.0.0.0/0", "::", false},
    {"0.0.0.0/0", "::1", false},
    {"0.0.0.0/0", "2001:db8::1", false},
    {"0.0.0.0/0", "::1.2.3.4", false},
    // IPv6 /0 covers everything, IPv4 included.
    {"::/0", "::", true},
    {"::/0", "1.2.3.4", true},
    {"::/0", "2001:db8::1", true},
    {"::/0", "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff", true},
    // ::/96 holds IPv4-compatible addresses, not IPv4.
    {"::/96", "::1.2.3.4", true},
    {"::/96", "1.2.3.4", false},
    // Single hosts.
    {"1.2.3.4/32", "1.2.3.4", true},
    {"1.2.3.4/32", "1.2.3.5", false},
    {"1.2.3.4/32", "1.2.3.3", false},
    {"1.2.3.4", "::ffff:1.2.3.4", true},
    {"255.255.255.255/32", "255.255.255.255", true},
    {"255.255.255.255/32", "::1:0:0", false},
    {"2001:db8::1/128", "2001:db8::1", true},
    {"2001:db8::1/128", "2001:db8::", false},
    {"2001:db8::1/128", "2001:db8::2", false},
    {"::/128", "::", true},
    {"::/128", "::1", false},
    {"ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff",
     "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff", true},
    {"ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff",
     "ffff:ffff:ffff:ffff:ffff:ffff:ffff:fffe", false},
    // /31 and /127 point-to-point links (RFC 3021, RFC 6164).
    {"10.0.0.2/31", "10.0.0.1", false},
    {"10.0.0.2/31", "10.0.0.2", true},
    {"10.0.0.2/31", "10.0.0.3", true},
    {"10.0.0.2/31", "10.0.0.4", false},
    {"2001:db8::/127", "2001:db8::", true},
    {"2001:db8::/127", "2001:db8::1", true},
    {"2001:db8::/127", "2001:db8::2", false},
    {"2001:db8::/127", "2001:db7:ffff:ffff:ffff:ffff:ffff:ffff", false},
    // IPv6 prefixes.
    {"2001:db8::/32", "2001:db8:ffff:ffff:ffff:ffff:ffff:ffff", true},
    {"2001:db8::/32", "2001:db9::", false},
    {"fe80::/10", "febf::1", true},
    {"fe80::/10", "fec0::1", false},
    {"8000::/1", "8000::", true},
    {"8000::/1", "7fff:ffff:ffff:ffff:ffff:ffff:ffff:ffff", false},
};

TEST(CidrTest, Contains) {
  for (const MatchCase& c : kMatchCases) {
    EXPECT_EQ(MustParse(c.cidr).Contains(Addr(c.address)), c.contains)
        << c.cidr << " ∋ " << c.address;
  }
}

// -------------------------------------------------------------------- IpSet

IpSet BuildSet(const std::vector<std::string_view>& texts) {
  std::vector<Cidr> cidrs;
  for (std::string_view text : texts) cidrs.push_back(MustParse(text));
  return IpSet::Build(cidrs);
}

TEST(IpSetTest, SingleEntryMatchesCidr) {
  for (const MatchCase& c : kMatchCases) {
    const IpSet set = BuildSet({c.cidr});
    EXPECT_EQ(set.size(), 1u);
    EXPECT_EQ(set.Contains(Addr(c.address)), c.contains)
        << c.cidr << " ∋ " << c.address;
  }
}

}  // namespace
}  // namespace authd
