#include "common/ip_set.h"

#include <algorithm>
#include <utility>

namespace authd {

IpSet IpSet::Build(const std::vector<Cidr>& cidrs) {
  std::vector<std::pair<Uint128, Uint128>> ranges;
  ranges.reserve(cidrs.size());
  for (const Cidr& cidr : cidrs) {
    ranges.emplace_back(cidr.first().bits, cidr.last().bits);
  }
  std::sort(ranges.begin(), ranges.end());

  IpSet set;
  set.cidr_count_ = cidrs.size();
  for (const auto& [first, last] : ranges) {
    // Sorted by first, so a range either extends the current interval (it
    // starts inside it or right after its end) or starts a new one. The
    // `+ 1` is reached only when first > lasts_.back(), so it cannot wrap.
    if (!set.firsts_.empty() &&
        (first <= set.lasts_.back() || first == set.lasts_.back() + 1)) {
      set.lasts_.back() = std::max(set.lasts_.back(), last);
    } else {
      set.firsts_.push_back(first);
      set.lasts_.push_back(last);
    }
  }
  set.firsts_.shrink_to_fit();
  set.lasts_.shrink_to_fit();
  return set;
}

bool IpSet::Contains(const IpAddress& address) const {
  // The candidate is the last interval starting at or before `address`.
  const auto after =
      std::upper_bound(firsts_.begin(), firsts_.end(), address.bits);
  if (after == firsts_.begin()) return false;
  const size_t i = static_cast<size_t>(after - firsts_.begin()) - 1;
  return address.bits <= lasts_[i];
}

}  // namespace authd
