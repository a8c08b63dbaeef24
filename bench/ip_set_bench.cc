// IpSet lookup cost for a large allow-list: 100,000 random CIDRs, half IPv4
// (prefixes /16-/32) and half IPv6 (/32-/128), queried with addresses known
// to be inside some range (hits) and outside every range (misses).
#include <benchmark/benchmark.h>

#include <cstdint>
#include <random>
#include <vector>

#include "common/cidr.h"
#include "common/ip_set.h"

namespace authd {
namespace {

constexpr int kEntries = 100'000;
constexpr int kQueries = 1 << 14;  // cycled through; power of two for masking

IpAddress RandomAddress(std::mt19937_64& rng, bool v4) {
  if (v4) return IpAddress::FromIpv4(static_cast<uint32_t>(rng()));
  // Global unicast 2000::/3, as real IPv6 peers are.
  const uint64_t high = (rng() >> 3) | (uint64_t{1} << 61);
  return IpAddress{(Uint128{high} << 64) | rng()};
}

std::vector<Cidr> RandomCidrs(std::mt19937_64& rng, int count) {
  std::vector<Cidr> cidrs;
  cidrs.reserve(count);
  for (int i = 0; i < count; ++i) {
    const bool v4 = i % 2 == 0;
    const int prefix = v4 ? 16 + static_cast<int>(rng() % 17)
                          : 32 + static_cast<int>(rng() % 97);
    cidrs.push_back(*Cidr::Enclosing(RandomAddress(rng, v4), prefix));
  }
  return cidrs;
}

struct Fixture {
  std::vector<Cidr> cidrs;
  IpSet set;
  std::vector<IpAddress> hits;
  std::vector<IpAddress> misses;
};

const Fixture& GetFixture() {
  static const Fixture* const fixture = [] {
    auto* f = new Fixture;
    std::mt19937_64 rng(42);
    f->cidrs = RandomCidrs(rng, kEntries);
    f->set = IpSet::Build(f->cidrs);
    // A random address inside a random entry.
    while (static_cast<int>(f->hits.size()) < kQueries) {
      const Cidr& cidr = f->cidrs[rng() % f->cidrs.size()];
      const Uint128 span = cidr.last().bits - cidr.first().bits;
      const Uint128 offset =
          span == 0 ? 0 : ((Uint128{rng()} << 64) | rng()) % (span + 1);
      f->hits.push_back(IpAddress{cidr.first().bits + offset});
    }
    // Random addresses of either family that no entry covers.
    while (static_cast<int>(f->misses.size()) < kQueries) {
      const IpAddress address = RandomAddress(rng, rng() % 2 == 0);
      if (!f->set.Contains(address)) f->misses.push_back(address);
    }
    return f;
  }();
  return *fixture;
}

void BM_ContainsHit(benchmark::State& state) {
  const Fixture& f = GetFixture();
  size_t i = 0;
  for (auto _ : state) {
    benchmark::DoNotOptimize(f.set.Contains(f.hits[i++ & (kQueries - 1)]));
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_ContainsHit);

void BM_ContainsMiss(benchmark::State& state) {
  const Fixture& f = GetFixture();
  size_t i = 0;
  for (auto _ : state) {
    benchmark::DoNotOptimize(f.set.Contains(f.misses[i++ & (kQueries - 1)]));
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_ContainsMiss);

// Reference for the report: the same lookup in a set of one entry.
void BM_ContainsSingle(benchmark::State& state) {
  const Fixture& f = GetFixture();
  const IpSet one = IpSet::Build({f.cidrs[0]});
  size_t i = 0;
  for (auto _ : state) {
    benchmark::DoNotOptimize(one.Contains(f.misses[i++ & (kQueries - 1)]));
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_ContainsSingle);

// Baseline for the O(n) scan IpSet replaces, on a small slice of the list.
void BM_LinearScan1000(benchmark::State& state) {
  const Fixture& f = GetFixture();
  const std::vector<Cidr> slice(f.cidrs.begin(), f.cidrs.begin() + 1000);
  size_t i = 0;
  for (auto _ : state) {
    const IpAddress& address = f.misses[i++ & (kQueries - 1)];
    bool found = false;
    for (const Cidr& cidr : slice) found |= cidr.Contains(address);
    benchmark::DoNotOptimize(found);
  }
}
BENCHMARK(BM_LinearScan1000);

void BM_Build(benchmark::State& state) {
  const Fixture& f = GetFixture();
  for (auto _ : state) {
    IpSet set = IpSet::Build(f.cidrs);
    benchmark::DoNotOptimize(set);
  }
}
BENCHMARK(BM_Build)->Unit(benchmark::kMillisecond);

}  // namespace
}  // namespace authd

BENCHMARK_MAIN();
