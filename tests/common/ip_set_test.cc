// IpSet (common/ip_set.h): membership over merged CIDR ranges of the one
// 128-bit address space, IPv4 stored IPv4-mapped (common/cidr.h).
#include "common/ip_set.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cstdint>
#include <ostream>
#include <random>
#include <string>
#include <string_view>
#include <vector>

#include "common/cidr.h"

namespace authd {

// Readable gtest failure output.
void PrintTo(const IpAddress& address, std::ostream* os) {
  *os << address.ToString();
}

namespace {

IpAddress Addr(std::string_view text) {
  std::optional<IpAddress> address = IpAddress::Parse(text);
  EXPECT_TRUE(address.has_value()) << text;
  return address.value_or(IpAddress{});
}

Cidr MustParse(std::string_view text) {
  StatusOr<Cidr> cidr = Cidr::Parse(text);
  EXPECT_TRUE(cidr.ok()) << text << ": " << cidr.status().message();
  return cidr.ok() ? *cidr : *Cidr::Parse("::/128");
}

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

}  // namespace
}  // namespace authd
