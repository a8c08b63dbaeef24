// CIDR ranges and IP addresses (allowlist entries, trusted proxies, peers):
// Cidr::Parse and IpAddress::Parse, their normal forms, and IpSet. One
// candidate per input line. Properties: Parse(ToString()) gives the same
// value; a range contains its first and last address and nothing just
// outside; IpSet::Contains agrees with a scan of the ranges.
#include "common/cidr.h"

#include <vector>

#include "common/ip_set.h"
#include "fuzz/fuzz_util.h"

using namespace authd;

namespace {

void CheckAddress(std::string_view text) {
  std::optional<IpAddress> a = IpAddress::Parse(text);
  if (!a) return;
  std::optional<IpAddress> again = IpAddress::Parse(a->ToString());
  FUZZ_CHECK(again && *again == *a);
}

void CheckRange(const Cidr& c) {
  StatusOr<Cidr> again = Cidr::Parse(c.ToString());
  FUZZ_CHECK(again.ok() && *again == c);
  FUZZ_CHECK(c.Contains(c.first()) && c.Contains(c.last()));
  FUZZ_CHECK(c.first() <= c.last());
  if (c.first().bits != 0)
    FUZZ_CHECK(!c.Contains(IpAddress{c.first().bits - 1}));
  if (c.last().bits != ~Uint128{0}) {
    FUZZ_CHECK(!c.Contains(IpAddress{c.last().bits + 1}));
  }
  StatusOr<Cidr> enclosing = Cidr::Enclosing(c.first(), c.prefix_length());
  FUZZ_CHECK(enclosing.ok() && *enclosing == c);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view text = fuzz::AsText(data, size);
  std::vector<Cidr> ranges;
  std::vector<IpAddress> probes;
  while (!text.empty()) {
    size_t nl = text.find('\n');
    std::string_view line = text.substr(0, nl);
    text.remove_prefix(nl == std::string_view::npos ? text.size() : nl + 1);
    CheckAddress(line);
    StatusOr<Cidr> c = Cidr::Parse(line);
    if (!c.ok()) continue;
    CheckRange(*c);
    ranges.push_back(*c);
    for (IpAddress a : {c->first(), c->last()}) {
      probes.push_back(a);
      probes.push_back(IpAddress{a.bits - 1});
      probes.push_back(IpAddress{a.bits + 1});
    }
  }
  IpSet set = IpSet::Build(ranges);
  FUZZ_CHECK(set.size() == ranges.size());
  for (const IpAddress& p : probes) {
    bool any = false;
    for (const Cidr& c : ranges) any = any || c.Contains(p);
    FUZZ_CHECK(set.Contains(p) == any);
  }
  return 0;
}
