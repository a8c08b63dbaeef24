// FailureLimiter: throttles failed client authentication at the token
// endpoint, keyed both by (client_id, source address) and by source address.
//
// Each key has a token bucket of `burst` failures refilled at one per
// `refill_seconds` (defaults: 5 failures per 15 minutes per client and
// address, as Vault does; 20 per 15 minutes per address). A request is refused
// (429) while either of its buckets is empty, before any HSM work. Keys never
// include the client alone, so failures from one address cannot lock the same
// client out from another. Memory is bounded: each of the shards keeps at most
// max_entries/shards keys and evicts the least recently failed one.
// Thread-safe; contention is limited to one shard's mutex.
#ifndef AUTHD_AUTHORITY_FAILURE_LIMITER_H_
#define AUTHD_AUTHORITY_FAILURE_LIMITER_H_

#include <array>
#include <atomic>
#include <cstdint>
#include <list>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>

#include "common/cidr.h"
#include "common/clock.h"

namespace authd::authority {

// The limiter's notion of "one address": an IPv4 address, or an IPv6 /64,
// since one IPv6 host commonly holds a whole /64 and could otherwise rotate
// through fresh addresses. "local" when there is none (the admin socket).
std::string LimiterAddress(const std::optional<IpAddress>& client);

struct LimiterOptions {
  double client_burst = 5;
  double client_refill_seconds = 180;  // 5 per 15 minutes
  double address_burst = 20;
  double address_refill_seconds = 45;  // 20 per 15 minutes
  size_t max_entries = 100000;
};

class FailureLimiter {
 public:
  FailureLimiter(const Clock* clock, LimiterOptions options);
  // Replaces the limits (config reload); existing buckets keep their state.
  void SetOptions(LimiterOptions options);

  // Seconds to wait when an attempt would be refused now, else nullopt;
  // a read-only look that charges nothing.
  std::optional<int64_t> Check(std::string_view client_id,
                               std::string_view address);
  // Check and charge in one step: an attempt takes its failure token up
  // front, so parallel attempts cannot all pass one check. Refund() it when
  // the attempt turns out not to be a failed authentication.
  std::optional<int64_t> Reserve(std::string_view client_id,
                                 std::string_view address);
  void Refund(std::string_view client_id, std::string_view address);
  void RecordSuccess(std::string_view client_id, std::string_view address);
  size_t size() const;

 private:
  static constexpr size_t kShards = 16;
  struct Bucket {
    double tokens;
    int64_t updated;
    std::list<std::string>::iterator lru;
  };
  struct Shard {
    mutable std::mutex mu;
    std::unordered_map<std::string, Bucket> buckets;  // GUARDED_BY(mu)
    std::list<std::string> lru;  // most recent at front; GUARDED_BY(mu)
  };

  Shard& ShardFor(const std::string& key);
  // Returns seconds until one token is available, or nullopt if one is.
  std::optional<int64_t> Peek(const std::string& key, double burst,
                              double refill);
  // Refills, then takes one token; with `only_if_available` takes none and
  // returns the wait when fewer than one is left.
  std::optional<int64_t> Take(const std::string& key, double burst,
                              double refill, bool only_if_available);
  void Give(const std::string& key, double burst);

  const Clock* clock_;
  std::atomic<std::shared_ptr<const LimiterOptions>> options_;
  std::array<Shard, kShards> shards_;
};

}  // namespace authd::authority

#endif  // AUTHD_AUTHORITY_FAILURE_LIMITER_H_
