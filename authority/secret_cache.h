// SecretCache: client secrets the HSM has proved, so that the next request
// with the same (client id, secret) is checked in memory instead of by a
// second pepper HMAC in the HSM. The token path then costs the HSM one
// operation (the signature) instead of two.
//
// What is kept per client id is a verifier: HMAC-SHA256, under a 256-bit key
// drawn from OpenSSL's generator when the cache is made (never stored, never
// logged, wiped when the cache is destroyed), of a label, the id and the
// secret, each prefixed by its length. A request is proven when its
// verifier equals the stored one (CRYPTO_memcmp). Nothing is written to disk
// and nothing the database holds changes, so the database-theft property is
// unchanged; the reasoning (what a memory reader gets, why a 256-bit random
// secret cannot be recovered from a verifier) is in docs/architecture.md,
// "The verified-secret cache".
//
// Only the caller decides what is proven: Remember is called after the HSM
// accepted the secret, never for a failure. Every entry belongs to an epoch,
// the Access snapshot and the role set it was proved under, compared by
// identity (held weakly, so the cache never keeps an old snapshot alive); a
// lookup in another epoch empties the shard first, so a credential change
// (create, delete, allowlist) or a role-set reload drops every proof. The
// caller checks the credential's existence and expiry in the snapshot on
// every hit and Forgets an expired one.
//
// Bounded: a full shard drops an entry before adding one. Thread-safe: 16
// shards, each a mutex over a map; no allocation on a lookup.
#ifndef AUTHD_AUTHORITY_SECRET_CACHE_H_
#define AUTHD_AUTHORITY_SECRET_CACHE_H_

#include <array>
#include <cstddef>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <unordered_map>

namespace authd::authority {

class SecretCache {
 public:
  // The snapshots a proof holds in, compared by identity.
  struct Epoch {
    std::shared_ptr<const void> access;
    std::shared_ptr<const void> roles;
  };

  static constexpr size_t kDefaultCapacity = 65536;
  // Draws the key; aborts with one log line if OpenSSL's generator fails
  // (as the failure limiter does: there is no safe way on without it).
  explicit SecretCache(size_t capacity = kDefaultCapacity);
  SecretCache(const SecretCache&) = delete;  // owns a secret key
  SecretCache& operator=(const SecretCache&) = delete;
  ~SecretCache();

  // Whether (client_id, secret) was proved by the HSM in `epoch`.
  bool Proven(std::string_view client_id, std::string_view secret,
              const Epoch& epoch);
  // Records that the HSM has just accepted (client_id, secret) under a
  // snapshot no older than `epoch`. REQUIRES: the secret was proved.
  void Remember(std::string_view client_id, std::string_view secret,
                const Epoch& epoch);
  // Drops the proof for `client_id`, if any (its credential expired).
  void Forget(std::string_view client_id);
  size_t size() const;
  size_t capacity() const { return per_shard_ * kShards; }

 private:
  using Verifier = std::array<unsigned char, 32>;
  struct Hash {
    using is_transparent = void;
    size_t operator()(std::string_view s) const noexcept {
      return std::hash<std::string_view>()(s);
    }
  };
  static constexpr size_t kShards = 16;
  struct Shard {
    mutable std::mutex mu;
    std::weak_ptr<const void> access, roles;  // the epoch; GUARDED_BY(mu)
    std::unordered_map<std::string, Verifier, Hash, std::equal_to<>>
        items;  // GUARDED_BY(mu)
  };

  // False if OpenSSL fails (then nothing is proven or remembered).
  bool VerifierOf(std::string_view client_id, std::string_view secret,
                  Verifier* out) const;
  // The shard for `client_id`, emptied first when it holds another epoch.
  // REQUIRES: shard.mu held by the caller through `lock`.
  Shard& Enter(std::string_view client_id, const Epoch& epoch,
               std::unique_lock<std::mutex>* lock);

  const size_t per_shard_;
  std::array<unsigned char, 32> key_;
  std::array<Shard, kShards> shards_;
};

}  // namespace authd::authority

#endif  // AUTHD_AUTHORITY_SECRET_CACHE_H_
