// FailureLimiter: throttles failed client authentication at the token
// endpoint, keyed both by (client_id, source address) and by source address.
//
// Each key has a token bucket of `burst` failures refilled at one per
// `refill_seconds` (defaults: 5 failures per 15 minutes per client and
// address, as Vault does; 20 per 15 minutes per address). A request is refused
// (429) while either of its buckets is empty, before any HSM work. Keys never
// include the client alone, so failures from one address cannot lock the same
// client out from another.
//
// Memory is bounded and does not depend on what a caller sends:
// - a key is a 16-byte keyed hash (HMAC-SHA256 under a per-process random
//   key, so nobody can aim collisions) of the address or of the (client_id,
//   address) pair, stored once; an entry is a few dozen bytes;
// - a bucket that has refilled is the same as no bucket, so it is dropped
//   when touched, and the oldest ones are swept as new ones arrive;
// - address buckets and (client, address) buckets live in separate pools,
//   each with half of max_entries, evicting its own least recently failed
//   key: a flood of client ids cannot push out the address bucket that
//   limits guessing from that address, nor the reverse.
// Callers should still refuse a client_id no credential can have
// (kMaxClientIdLength) before charging the limiter.
// Thread-safe; contention is limited to one shard's mutex.
#ifndef AUTHD_AUTHORITY_FAILURE_LIMITER_H_
#define AUTHD_AUTHORITY_FAILURE_LIMITER_H_

#include <array>
#include <atomic>
#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>

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
  // Bound on the buckets kept, both pools together: half for addresses,
  // half for (client, address) pairs.
  size_t max_entries = 100000;
  bool operator==(const LimiterOptions&) const = default;
};

class FailureLimiter {
 public:
  FailureLimiter(const Clock* clock, LimiterOptions options);
  // Replaces the limits (config reload); existing buckets keep their state.
  void SetOptions(LimiterOptions options);

  // Seconds to wait when an attempt would be refused now, else nullopt;
  // a look that charges nothing.
  std::optional<int64_t> Check(std::string_view client_id,
                               std::string_view address);
  // Check and charge in one step: an attempt takes its failure token up
  // front, so parallel attempts cannot all pass one check. Refund() it when
  // the attempt turns out not to be a failed authentication.
  std::optional<int64_t> Reserve(std::string_view client_id,
                                 std::string_view address);
  void Refund(std::string_view client_id, std::string_view address);
  void RecordSuccess(std::string_view client_id, std::string_view address);
  // The end of a Reserve whose attempt succeeded: Refund and RecordSuccess
  // in one step (one lock per pool, each key hashed once).
  void Succeeded(std::string_view client_id, std::string_view address);
  // For a client whose secret was already proved (a verified-secret cache
  // hit): the wait if either bucket is empty now, as Reserve would refuse;
  // else clears the (client, address) bucket as RecordSuccess does. Charges
  // nothing and adds no bucket, since a proved secret is not a guess.
  std::optional<int64_t> AdmitProven(std::string_view client_id,
                                     std::string_view address);
  // Buckets held, both pools.
  size_t size() const;

 private:
  // Per pool; with max_tracked at its minimum of 16, one key per shard.
  static constexpr size_t kShards = 8;
  using Key = std::array<unsigned char, 16>;
  struct KeyHash {
    size_t operator()(const Key& k) const noexcept;
  };
  struct Bucket;
  using Entry = std::pair<const Key, Bucket>;
  struct Bucket {
    double tokens;
    int64_t updated;
    // Neighbours in the shard's recency order: the list is threaded through
    // the map's own nodes, so the key is stored once.
    Entry* newer = nullptr;
    Entry* older = nullptr;
  };
  struct Shard {
    mutable std::mutex mu;
    std::unordered_map<Key, Bucket, KeyHash> buckets;  // GUARDED_BY(mu)
    Entry* newest = nullptr;                           // GUARDED_BY(mu)
    Entry* oldest = nullptr;                           // GUARDED_BY(mu)
  };
  // Address buckets, or (client, address) buckets: evicted separately.
  struct Pool {
    std::array<Shard, kShards> shards;
  };
  // A pool's bucket parameters under the current options.
  struct Limits {
    double burst;
    double refill;
    size_t per_shard;  // capacity of one shard
  };

  static Key AddressKey(std::string_view address);
  static Key ClientKey(std::string_view client_id, std::string_view address);
  static Limits AddressLimits(const LimiterOptions& o);
  static Limits ClientLimits(const LimiterOptions& o);

  // Returns seconds until one token is available, or nullopt if one is.
  // Drops the bucket when `forget_at` tokens or more are left (the burst: a
  // full bucket is the same as none; 1: a proven client's slate is wiped).
  std::optional<int64_t> Peek(Pool& pool, const Key& key, const Limits& l,
                              double forget_at);
  // Refills, then takes one token; with `only_if_available` takes none and
  // returns the wait when fewer than one is left.
  std::optional<int64_t> Take(Pool& pool, const Key& key, const Limits& l,
                              bool only_if_available);
  void Give(Pool& pool, const Key& key, const Limits& l);
  void Forget(Pool& pool, const Key& key);

  // REQUIRES: shard.mu is held (for all four).
  // Tokens in `b` at `now`, refilled, at most the burst.
  static double TokensNow(const Bucket& b, const Limits& l, int64_t now);
  static void Unlink(Shard& shard, Entry* e);
  static void LinkNewest(Shard& shard, Entry* e);
  static void Erase(Shard& shard, Entry* e);
  // Inserts a full bucket for `key` as the newest, making room first.
  static Entry* Insert(Shard& shard, const Key& key, const Limits& l,
                       int64_t now);
  // Drops the oldest buckets while they have refilled, a few at a time.
  static void Sweep(Shard& shard, const Limits& l, int64_t now);

  const Clock* clock_;
  std::atomic<std::shared_ptr<const LimiterOptions>> options_;
  Pool addresses_;
  Pool clients_;
};

}  // namespace authd::authority

#endif  // AUTHD_AUTHORITY_FAILURE_LIMITER_H_
