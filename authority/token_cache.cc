#include "authority/token_cache.h"

#include <algorithm>
#include <cstring>

#include "common/sha256.h"

namespace authd::authority {

TokenCache::TokenCache(size_t capacity)
    : per_shard_(std::max<size_t>(1, capacity / kShards)) {}

TokenCache::Shard& TokenCache::Enter(const std::string& key, const Epoch& epoch,
                                     std::unique_lock<std::mutex>* lock) {
  uint32_t pick = 0;
  std::memcpy(&pick, key.data(), sizeof pick);
  Shard& shard = shards_[pick % kShards];
  *lock = std::unique_lock<std::mutex>(shard.mu);
  if (!(shard.epoch == epoch)) {
    shard.items.clear();
    shard.order.clear();
    shard.epoch = epoch;
  }
  return shard;
}

std::optional<TokenClaims> TokenCache::Lookup(std::string_view token,
                                              const Epoch& epoch) {
  std::string key = Sha256(token);
  std::unique_lock<std::mutex> lock;
  Shard& shard = Enter(key, epoch, &lock);
  auto it = shard.items.find(key);
  if (it == shard.items.end()) return std::nullopt;
  return it->second;
}

void TokenCache::Insert(std::string_view token, const Epoch& epoch,
                        TokenClaims claims) {
  std::string key = Sha256(token);
  std::unique_lock<std::mutex> lock;
  Shard& shard = Enter(key, epoch, &lock);
  auto [it, inserted] = shard.items.emplace(key, std::move(claims));
  if (!inserted) return;
  shard.order.push_back(key);
  if (shard.order.size() > per_shard_) {
    shard.items.erase(shard.order.front());
    shard.order.pop_front();
  }
}

size_t TokenCache::size() const {
  size_t n = 0;
  for (const Shard& s : shards_) {
    std::lock_guard<std::mutex> lock(s.mu);
    n += s.items.size();
  }
  return n;
}

}  // namespace authd::authority
