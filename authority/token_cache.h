// TokenCache: access tokens whose signature, header, issuer and audience
// were verified, keyed by the SHA-256 of the token, so checking the same
// token again costs a hash and a lookup instead of a signature verification.
// What can change while a token lives (time, the signing key's retirement,
// revocation, the credential and its role) is checked on every use by the
// caller, never cached.
//
// Every lookup names the epoch it runs in (the key-ring, access, revocation
// and token-options snapshots); an entry made in another epoch is a miss, so
// the cache is emptied on key rotation, credential and allowlist changes,
// revocation and a reload that changes the issuer or audience. The epoch holds
// the snapshots themselves, so a freed snapshot's address cannot be mistaken
// for a new one. Bounded: a full shard evicts its oldest entry. Thread-safe: 16
// shards, each a mutex over a map.
#ifndef AUTHD_AUTHORITY_TOKEN_CACHE_H_
#define AUTHD_AUTHORITY_TOKEN_CACHE_H_

#include <array>
#include <cstdint>
#include <deque>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

namespace authd::authority {

// What a verified access token says (the RFC 9068 claims authd issues).
struct TokenClaims {
  std::string client_id;
  std::string role;  // as issued; the credential's current role may differ
  std::string jti;
  std::string iss;
  std::string aud;
  std::string kid;                  // the signing key's
  std::vector<std::string> scopes;  // as issued
  int64_t iat = 0;
  int64_t nbf = 0;
  int64_t exp = 0;
};

class TokenCache {
 public:
  // Snapshots whose identity is the epoch; compared by pointer.
  struct Epoch {
    std::shared_ptr<const void> ring, access, revocations, options;
    bool operator==(const Epoch& o) const {
      return ring == o.ring && access == o.access &&
             revocations == o.revocations && options == o.options;
    }
  };

  static constexpr size_t kDefaultCapacity = 10000;
  explicit TokenCache(size_t capacity = kDefaultCapacity);

  std::optional<TokenClaims> Lookup(std::string_view token, const Epoch& epoch);
  void Insert(std::string_view token, const Epoch& epoch, TokenClaims claims);
  size_t size() const;

 private:
  static constexpr size_t kShards = 16;
  struct Shard {
    mutable std::mutex mu;
    Epoch epoch;                                         // GUARDED_BY(mu)
    std::unordered_map<std::string, TokenClaims> items;  // GUARDED_BY(mu)
    std::deque<std::string> order;  // oldest first; GUARDED_BY(mu)
  };
  // The shard for `key`, emptied first when it holds another epoch.
  // REQUIRES: shard.mu held by the caller through `lock`.
  Shard& Enter(const std::string& key, const Epoch& epoch,
               std::unique_lock<std::mutex>* lock);

  const size_t per_shard_;
  std::array<Shard, kShards> shards_;
};

}  // namespace authd::authority

#endif  // AUTHD_AUTHORITY_TOKEN_CACHE_H_
