// IpSet: an immutable set of CIDR ranges answering "is this peer allowed?"
// in O(log n), for allow-lists with up to hundreds of thousands of entries.
//
// Build() merges the ranges (overlapping, nested, adjacent or duplicated)
// into sorted disjoint intervals of the 128-bit address space described in
// common/cidr.h, so IPv4 entries match IPv4-mapped IPv6 peers and an IPv6
// entry spanning ::ffff:0:0/96 (such as ::/0) matches IPv4 peers.
//
// Immutable after Build(): concurrent Contains() calls from any number of
// threads need no locking. To change the list, build a new set and swap it in.
#ifndef AUTHD_COMMON_IP_SET_H_
#define AUTHD_COMMON_IP_SET_H_

#include <cstddef>
#include <vector>

#include "common/cidr.h"

namespace authd {

class IpSet {
 public:
  // The empty set: contains nothing.
  IpSet() = default;

  // O(n log n) in the number of ranges.
  static IpSet Build(const std::vector<Cidr>& cidrs);

  // True if some range the set was built from contains `address`.
  // O(log m), m being the number of disjoint intervals left after merging.
  bool Contains(const IpAddress& address) const;

  // Number of CIDRs the set was built from, duplicates included.
  size_t size() const { return cidr_count_; }
  bool empty() const { return cidr_count_ == 0; }

 private:
  // Interval i is [firsts_[i], lasts_[i]]; intervals are sorted, disjoint and
  // not adjacent. Kept as two arrays so the binary search touches only the
  // lower bounds.
  std::vector<Uint128> firsts_;
  std::vector<Uint128> lasts_;
  size_t cidr_count_ = 0;
};

}  // namespace authd

#endif  // AUTHD_COMMON_IP_SET_H_
