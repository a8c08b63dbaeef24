// IpSet (common/ip_set.h): membership over merged CIDR ranges of the one
// 128-bit address space, IPv4 stored IPv4-mapped (common/cidr.h).
#include "common/ip_set.h"

#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <algorithm>
#include <cstdint>
#include <ostream>
#include <random>
#include <string>
#include <string_view>
#include <vector>

#include "common/cidr.h"
#include "testing/ip_helpers.h"

namespace authd {

namespace {

using testing::Addr;
using testing::MustParse;

IpSet BuildSet(const std::vector<std::string_view>& texts) {
  std::vector<Cidr> cidrs;
  for (std::string_view text : texts) cidrs.push_back(MustParse(text));
  return IpSet::Build(cidrs);
}

TEST(IpSetTest, Empty) {
  const IpSet unbuilt;
  EXPECT_TRUE(unbuilt.empty());
  EXPECT_FALSE(unbuilt.Contains(Addr("1.2.3.4")));
  const IpSet built = IpSet::Build({});
  EXPECT_EQ(built.size(), 0u);
  EXPECT_FALSE(built.Contains(Addr("::")));
  EXPECT_FALSE(built.Contains(Addr("ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff")));
}

struct SetCase {
  std::vector<std::string_view> cidrs;
  std::vector<std::string_view> inside;
  std::vector<std::string_view> outside;
};

TEST(IpSetTest, Merging) {
  const SetCase kCases[] = {
      // Nested, in either order, and duplicated.
      {{"10.0.0.0/8", "10.1.0.0/16", "10.1.2.0/24", "10.1.0.0/16"},
       {"10.0.0.0", "10.1.2.3", "10.1.255.255", "10.200.0.1", "10.255.255.255"},
       {"9.255.255.255", "11.0.0.0"}},
      {{"10.1.2.0/24", "10.0.0.0/8"},
       {"10.0.0.1", "10.1.2.3", "10.255.0.0"},
       {"11.0.0.0"}},
      // A nested range after the outer one must not shrink it.
      {{"10.0.0.0/8", "10.0.0.0/24", "11.0.0.0/32"},
       {"10.0.1.0", "10.200.0.0", "11.0.0.0"},
       {"11.0.0.1"}},
      // Adjacent ranges merge with no gap and no spill.
      {{"10.0.0.0/9", "10.128.0.0/9"},
       {"10.127.255.255", "10.128.0.0", "10.0.0.0", "10.255.255.255"},
       {"9.255.255.255", "11.0.0.0"}},
      {{"2001:db8::/127", "2001:db8::2/127"},
       {"2001:db8::", "2001:db8::3"},
       {"2001:db8::4", "2001:db7:ffff:ffff:ffff:ffff:ffff:ffff"}},
      // Ranges with a one-address gap.
      {{"10.0.0.0/32", "10.0.0.2/32", "10.0.0.4/31"},
       {"10.0.0.0", "10.0.0.2", "10.0.0.4", "10.0.0.5"},
       {"10.0.0.1", "10.0.0.3", "10.0.0.6"}},
      // /0 swallows the rest.
      {{"10.0.0.0/8", "::/0", "2001:db8::/32"},
       {"::", "1.2.3.4", "10.0.0.1", "2001:db8::1",
        "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff"},
       {}},
      {{"0.0.0.0/0", "2001:db8::/32"},
       {"0.0.0.0", "255.255.255.255", "::ffff:8.8.8.8", "2001:db8::1"},
       {"::", "::1", "2001:db9::", "::1:0:0:0"}},
      // Both ends of the address space.
      {{"::/128", "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff/128"},
       {"::", "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff"},
       {"::1", "ffff:ffff:ffff:ffff:ffff:ffff:ffff:fffe", "1.2.3.4"}},
      {{"8000::/1", "::/1"}, {"::", "7fff::", "8000::", "1.2.3.4"}, {}},
      // Mixed families and mapped forms.
      {{"192.168.0.0/16", "::ffff:10.0.0.0/104", "2001:db8::/48", "::1"},
       {"192.168.1.1", "::ffff:192.168.1.1", "10.9.9.9", "2001:db8::5", "::1"},
       {"192.169.0.0", "11.0.0.0", "2001:db8:1::", "::2", "::"}},
  };
  for (const SetCase& c : kCases) {
    const IpSet set = BuildSet(c.cidrs);
    EXPECT_EQ(set.size(), c.cidrs.size());
    for (std::string_view address : c.inside) {
      EXPECT_TRUE(set.Contains(Addr(address)))
          << address << " in set of " << c.cidrs.size() << " starting "
          << c.cidrs.front();
    }
    for (std::string_view address : c.outside) {
      EXPECT_FALSE(set.Contains(Addr(address)))
          << address << " in set of " << c.cidrs.size() << " starting "
          << c.cidrs.front();
    }
  }
}

// Random addresses clustered around a few bases so that ranges nest, touch
// and overlap often, with prefix lengths biased toward realistic values.
class RandomRanges {
 public:
  explicit RandomRanges(uint64_t seed) : rng_(seed) {
    for (int i = 0; i < 6; ++i) {
      v4_bases_.push_back(static_cast<uint32_t>(rng_()) & 0xffff0000u);
      v6_bases_.push_back(rng_() & ~uint64_t{0xffff});
    }
    v4_bases_.push_back(0);
    v4_bases_.push_back(0xffff0000u);
    v6_bases_.push_back(0);
    v6_bases_.push_back(~uint64_t{0xffff});
  }

  IpAddress Address() {
    if (rng_() % 2 == 0) {
      const uint32_t base = v4_bases_[rng_() % v4_bases_.size()];
      return IpAddress::FromIpv4(base | (static_cast<uint32_t>(rng_()) >> 16));
    }
    const uint64_t high =
        v6_bases_[rng_() % v6_bases_.size()] | (rng_() & 0xffff);
    // Low half either fully random or near zero, to hit /64 boundaries.
    const uint64_t low = rng_() % 2 == 0 ? rng_() : rng_() % 4;
    return IpAddress{(Uint128{high} << 64) | low};
  }

  Cidr Range() {
    const IpAddress address = Address();
    const int max = address.is_v4() ? 32 : 128;
    const int low = address.is_v4() ? 16 : 48;
    const int prefix = rng_() % 16 == 0
                           ? static_cast<int>(rng_() % (max + 1))
                           : low + static_cast<int>(rng_() % (max - low + 1));
    StatusOr<Cidr> cidr = Cidr::Enclosing(address, prefix);
    EXPECT_TRUE(cidr.ok());
    return *cidr;
  }

  std::mt19937_64& rng() { return rng_; }

 private:
  std::mt19937_64 rng_;
  std::vector<uint32_t> v4_bases_;
  std::vector<uint64_t> v6_bases_;
};

TEST(IpSetTest, RandomizedAgainstLinearScan) {
  RandomRanges random(20240607);
  int hits = 0;
  int misses = 0;
  for (int count : {1, 2, 5, 20, 100, 500, 2000}) {
    std::vector<Cidr> cidrs;
    for (int i = 0; i < count; ++i) cidrs.push_back(random.Range());
    const IpSet set = IpSet::Build(cidrs);
    ASSERT_EQ(set.size(), cidrs.size());

    std::vector<IpAddress> queries;
    for (int i = 0; i < 3000; ++i) queries.push_back(random.Address());
    // Each range's edges and their neighbours, where merging bugs show.
    for (const Cidr& cidr : cidrs) {
      const Uint128 first = cidr.first().bits;
      const Uint128 last = cidr.last().bits;
      queries.push_back(IpAddress{first});
      queries.push_back(IpAddress{last});
      queries.push_back(IpAddress{first - 1});  // wraps at ::, still valid
      queries.push_back(IpAddress{last + 1});
    }
    for (const IpAddress& query : queries) {
      const bool expected =
          std::any_of(cidrs.begin(), cidrs.end(),
                      [&](const Cidr& c) { return c.Contains(query); });
      ASSERT_EQ(set.Contains(query), expected)
          << query.ToString() << " with " << count << " ranges";
      (expected ? hits : misses)++;
    }
    // The normalized text of every random range parses back to it.
    for (const Cidr& cidr : cidrs) {
      StatusOr<Cidr> again = Cidr::Parse(cidr.ToString());
      ASSERT_TRUE(again.ok()) << again.status().message();
      ASSERT_EQ(*again, cidr);
    }
  }
  // Guard against a generator that makes the comparison vacuous.
  EXPECT_GT(hits, 2000);
  EXPECT_GT(misses, 2000);
}

// ------------------------------------------------ against brute force

// Ranges and the reference for them, computed here with plain integer
// arithmetic on (first address, prefix length) and independent of Cidr's own
// masks; the set is built from the ranges' text, as an allowlist is.
struct Range {
  Uint128 first, last;  // in the 128-bit space
  std::string text;
};

constexpr Uint128 kMapped = Uint128{0xffff} << 32;  // ::ffff:0.0.0.0

Range V4Range(uint32_t address, int prefix) {
  const uint32_t host =
      prefix == 0 ? ~uint32_t{0} : ~(~uint32_t{0} << (32 - prefix));
  const uint32_t first = address & ~host;
  return {kMapped | first, kMapped | (first | host),
          IpAddress::FromIpv4(first).ToString() + "/" + std::to_string(prefix)};
}

Range V6Range(Uint128 address, int prefix) {
  const Uint128 host = prefix == 0     ? ~Uint128{0}
                       : prefix == 128 ? Uint128{0}
                                       : (Uint128{1} << (128 - prefix)) - 1;
  const Uint128 first = address & ~host;
  return {first, first | host,
          IpAddress{first}.ToString() + "/" + std::to_string(prefix)};
}

IpSet BuildFromText(const std::vector<Range>& ranges) {
  std::vector<Cidr> cidrs;
  for (const Range& r : ranges) cidrs.push_back(MustParse(r.text));
  return IpSet::Build(cidrs);
}

bool BruteForce(const std::vector<Range>& ranges, Uint128 address) {
  for (const Range& r : ranges) {
    if (r.first <= address && address <= r.last) return true;
  }
  return false;
}

// Every address of a 1,536-address IPv4 window, against random sets of
// nested, overlapping, adjacent and straddling ranges; each address also in
// its IPv4-mapped IPv6 form, and its IPv4-compatible form (::a.b.c.d), which
// is IPv6 and never matches an IPv4 entry.
TEST(IpSetTest, ExhaustiveIpv4WindowAgainstBruteForce) {
  std::mt19937_64 rng(7);
  const uint32_t low = 0x09ffff00;   // 9.255.255.0
  const uint32_t high = 0x0a0004ff;  // 10.0.4.255
  int hits = 0;
  for (int trial = 0; trial < 300; ++trial) {
    std::vector<Range> ranges;
    const int count = 1 + static_cast<int>(rng() % 24);
    for (int i = 0; i < count; ++i) {
      // Every other trial crowds small ranges into 128 addresses, where
      // adjacent ranges and one-address gaps are common.
      const uint32_t address =
          trial % 2 == 0 ? low - 256 + static_cast<uint32_t>(rng() % 2048)
                         : 0x0a000000 + static_cast<uint32_t>(rng() % 128);
      const int prefix = trial % 2 == 0 ? 21 + static_cast<int>(rng() % 12)
                                        : 28 + static_cast<int>(rng() % 5);
      ranges.push_back(V4Range(address, prefix));
    }
    const IpSet set = BuildFromText(ranges);
    for (uint32_t a = low; a <= high; ++a) {
      const bool expected = BruteForce(ranges, kMapped | a);
      const IpAddress v4 = IpAddress::FromIpv4(a);
      ASSERT_EQ(set.Contains(v4), expected)
          << v4.ToString() << " in trial " << trial;
      ASSERT_EQ(set.Contains(Addr("::ffff:" + v4.ToString())), expected)
          << v4.ToString();
      ASSERT_FALSE(set.Contains(IpAddress{Uint128{a}})) << v4.ToString();
      hits += expected;
    }
  }
  EXPECT_GT(hits, 300 * 1536 / 20);
  EXPECT_LT(hits, 300 * 1536 * 9 / 10);
}

// The same for a 4,096-address IPv6 window inside 2001:db8::/96.
TEST(IpSetTest, ExhaustiveIpv6WindowAgainstBruteForce) {
  std::mt19937_64 rng(11);
  const Uint128 base = (Uint128{0x20010db8} << 96) | 0x100000;
  int hits = 0;
  for (int trial = 0; trial < 200; ++trial) {
    std::vector<Range> ranges;
    const int count = 1 + static_cast<int>(rng() % 24);
    for (int i = 0; i < count; ++i) {
      const Uint128 address = base - 4096 + rng() % 12288;
      ranges.push_back(V6Range(address, 113 + static_cast<int>(rng() % 16)));
    }
    const IpSet set = BuildFromText(ranges);
    for (Uint128 a = base - 1024; a < base + 3072; ++a) {
      const bool expected = BruteForce(ranges, a);
      ASSERT_EQ(set.Contains(IpAddress{a}), expected)
          << IpAddress{a}.ToString() << " in trial " << trial;
      hits += expected;
    }
  }
  EXPECT_GT(hits, 200 * 4096 / 10);
  EXPECT_LT(hits, 200 * 4096 * 9 / 10);
}

// An allowlist of 10,000 entries of both families, any prefix, checked
// against a linear scan: random addresses near the ranges, and the first,
// last and outside neighbours of every tenth range.
TEST(IpSetTest, LargeRandomSetAgainstBruteForce) {
  std::mt19937_64 rng(20261126);
  // 64 IPv4 /16s and 64 IPv6 /60s for the ranges to crowd into, so that
  // they nest, touch and overlap often but leave gaps.
  std::vector<Uint128> bases;
  for (int i = 0; i < 128; ++i) {
    bases.push_back(i % 2 == 0 ? kMapped | (rng() & 0xffff0000u)
                               : Uint128{rng() & ~uint64_t{0xf}} << 64);
  }
  auto near = [&] {
    const Uint128 b = bases[rng() % bases.size()];
    return (b >> 32) == 0xffff ? b | (rng() & 0xffff)
                               : b | (Uint128{rng() & 0xf} << 64) | rng();
  };
  // Mostly realistic prefixes, and now and then any prefix at all.
  std::vector<Range> ranges;
  for (int i = 0; i < 10000; ++i) {
    const Uint128 a = near();
    const bool wide = rng() % 1000 == 0;
    if ((a >> 32) == 0xffff) {
      const int prefix = wide ? static_cast<int>(rng() % 33)
                              : 20 + static_cast<int>(rng() % 13);
      ranges.push_back(V4Range(static_cast<uint32_t>(a), prefix));
    } else {
      const int prefix = wide ? static_cast<int>(rng() % 129)
                              : 64 + static_cast<int>(rng() % 65);
      ranges.push_back(V6Range(a, prefix));
    }
  }
  const IpSet set = BuildFromText(ranges);
  EXPECT_EQ(set.size(), ranges.size());
  std::vector<Uint128> queries;
  for (int i = 0; i < 5000; ++i) queries.push_back(near());
  for (size_t i = 0; i < ranges.size(); i += 10) {
    queries.push_back(ranges[i].first);
    queries.push_back(ranges[i].last);
    queries.push_back(ranges[i].first - 1);
    queries.push_back(ranges[i].last + 1);
  }
  int hits = 0, misses = 0;
  for (Uint128 q : queries) {
    const bool expected = BruteForce(ranges, q);
    ASSERT_EQ(set.Contains(IpAddress{q}), expected) << IpAddress{q}.ToString();
    (expected ? hits : misses)++;
  }
  EXPECT_GT(hits, 1000);
  EXPECT_GT(misses, 1000);
}

// ------------------------------------------------------------- edges

TEST(IpSetTest, EdgesOfTheIpv4SpaceInsideTheIpv6One) {
  const IpAddress below_v4{kMapped - 1};                  // ::fffe:ffff:ffff
  const IpAddress above_v4{(kMapped | 0xffffffffu) + 1};  // ::1:0:0:0
  ASSERT_EQ(below_v4.ToString(), "::fffe:ffff:ffff");
  ASSERT_EQ(above_v4.ToString(), "::1:0:0:0");

  for (const IpSet& all_v4 :
       {BuildSet({"0.0.0.0/0"}), BuildSet({"::ffff:0:0/96"})}) {
    EXPECT_TRUE(all_v4.Contains(Addr("0.0.0.0")));
    EXPECT_TRUE(all_v4.Contains(Addr("255.255.255.255")));
    EXPECT_TRUE(all_v4.Contains(Addr("::ffff:8.8.8.8")));
    EXPECT_FALSE(all_v4.Contains(below_v4));
    EXPECT_FALSE(all_v4.Contains(above_v4));
    EXPECT_FALSE(all_v4.Contains(Addr("::")));
    EXPECT_FALSE(all_v4.Contains(Addr("::8.8.8.8")));
  }
  const IpSet ends = BuildSet({"0.0.0.0/32", "255.255.255.255/32"});
  EXPECT_TRUE(ends.Contains(Addr("0.0.0.0")));
  EXPECT_TRUE(ends.Contains(Addr("255.255.255.255")));
  EXPECT_FALSE(ends.Contains(Addr("0.0.0.1")));
  EXPECT_FALSE(ends.Contains(Addr("255.255.255.254")));
  EXPECT_FALSE(ends.Contains(below_v4));
  EXPECT_FALSE(ends.Contains(above_v4));

  // An IPv6 range that spans the mapped block covers every IPv4 peer; one
  // that ends just below it covers none.
  const IpSet spanning = BuildSet({"::fffe:0:0/95"});
  EXPECT_TRUE(spanning.Contains(Addr("1.2.3.4")));
  EXPECT_TRUE(spanning.Contains(Addr("255.255.255.255")));
  EXPECT_TRUE(spanning.Contains(below_v4));
  EXPECT_FALSE(spanning.Contains(above_v4));
  const IpSet short_of_it = BuildSet({"::fffe:0:0/96"});
  EXPECT_TRUE(short_of_it.Contains(below_v4));
  EXPECT_FALSE(short_of_it.Contains(Addr("0.0.0.0")));
  EXPECT_FALSE(short_of_it.Contains(Addr("1.2.3.4")));
  // ::/0 covers both families.
  const IpSet everything = BuildSet({"::/0"});
  for (const char* a : {"::", "0.0.0.0", "255.255.255.255", "2001:db8::1",
                        "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff"}) {
    EXPECT_TRUE(everything.Contains(Addr(a))) << a;
  }
}

TEST(IpSetTest, EdgesOfThe128BitSpace) {
  const IpAddress top{~Uint128{0}};
  const IpSet high = BuildSet({"ffff:ffff:ffff:ffff:ffff:ffff:ffff:fffe/128",
                               "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff/128"});
  EXPECT_TRUE(high.Contains(top));
  EXPECT_TRUE(high.Contains(IpAddress{~Uint128{0} - 1}));
  EXPECT_FALSE(high.Contains(IpAddress{~Uint128{0} - 2}));
  EXPECT_FALSE(high.Contains(IpAddress{0}));
  const IpSet low = BuildSet({"::1/128", "::/128"});
  EXPECT_TRUE(low.Contains(IpAddress{0}));
  EXPECT_TRUE(low.Contains(IpAddress{1}));
  EXPECT_FALSE(low.Contains(IpAddress{2}));
  EXPECT_FALSE(low.Contains(top));
  // A /127 at the very top, nested in a /64 that also ends there.
  const IpSet nested =
      BuildSet({"ffff:ffff:ffff:ffff::/64",
                "ffff:ffff:ffff:ffff:ffff:ffff:ffff:fffe/127"});
  EXPECT_TRUE(nested.Contains(top));
  EXPECT_TRUE(nested.Contains(Addr("ffff:ffff:ffff:ffff::")));
  EXPECT_FALSE(
      nested.Contains(Addr("ffff:ffff:ffff:fffe:ffff:ffff:ffff:ffff")));
}

// Peers as the sockets report them: an IPv4 socket, and a dual-stack IPv6
// socket that reports the same peer IPv4-mapped.
TEST(IpSetTest, PeersFromEitherSocketFamilyMatchTheSameEntries) {
  sockaddr_in in4{};
  in4.sin_family = AF_INET;
  ASSERT_EQ(inet_pton(AF_INET, "192.0.2.1", &in4.sin_addr), 1);
  sockaddr_in6 mapped{};
  mapped.sin6_family = AF_INET6;
  ASSERT_EQ(inet_pton(AF_INET6, "::ffff:192.0.2.1", &mapped.sin6_addr), 1);
  sockaddr_in6 compatible{};
  compatible.sin6_family = AF_INET6;
  ASSERT_EQ(inet_pton(AF_INET6, "::192.0.2.1", &compatible.sin6_addr), 1);
  auto peer = [](const auto& sa) {
    return IpAddress::FromSockaddr(reinterpret_cast<const sockaddr*>(&sa))
        .value();
  };
  for (const IpSet& set :
       {BuildSet({"192.0.2.0/24"}), BuildSet({"::ffff:192.0.2.0/120"}),
        BuildSet({"192.0.2.1"})}) {
    EXPECT_TRUE(set.Contains(peer(in4)));
    EXPECT_TRUE(set.Contains(peer(mapped)));
    EXPECT_FALSE(set.Contains(peer(compatible)));
  }
}

}  // namespace
}  // namespace authd
