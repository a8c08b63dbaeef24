#include "authority/failure_limiter.h"

#include <algorithm>
#include <cmath>
#include <functional>

namespace authd::authority {

std::string LimiterAddress(const std::optional<IpAddress>& client) {
  if (!client) return "local";
  if (client->is_v4()) return client->ToString();
  StatusOr<Cidr> net = Cidr::Enclosing(*client, 64);
  return net.ok() ? net->ToString() : client->ToString();
}

namespace {

std::string AddressKey(std::string_view address) {
  return "a\n" + std::string(address);
}
std::string ClientKey(std::string_view client_id, std::string_view address) {
  return "c\n" + std::string(address) + "\n" + std::string(client_id);
}

}  // namespace

FailureLimiter::FailureLimiter(const Clock* clock, LimiterOptions options)
    : clock_(clock),
      options_(std::make_shared<const LimiterOptions>(options)) {}

void FailureLimiter::SetOptions(LimiterOptions options) {
  options_.store(std::make_shared<const LimiterOptions>(options));
}

FailureLimiter::Shard& FailureLimiter::ShardFor(const std::string& key) {
  return shards_[std::hash<std::string>{}(key) % kShards];
}

std::optional<int64_t> FailureLimiter::Peek(const std::string& key,
                                            double burst, double refill) {
  Shard& shard = ShardFor(key);
  std::lock_guard<std::mutex> lock(shard.mu);
  auto it = shard.buckets.find(key);
  if (it == shard.buckets.end()) return std::nullopt;
  double elapsed =
      static_cast<double>(clock_->NowSeconds() - it->second.updated);
  double tokens = std::min(burst, it->second.tokens + elapsed / refill);
  if (tokens >= 1) return std::nullopt;
  return static_cast<int64_t>(std::ceil((1 - tokens) * refill));
}

std::optional<int64_t> FailureLimiter::Take(const std::string& key,
                                            double burst, double refill,
                                            bool only_if_available) {
  Shard& shard = ShardFor(key);
  int64_t now = clock_->NowSeconds();
  std::lock_guard<std::mutex> lock(shard.mu);
  auto it = shard.buckets.find(key);
  if (it == shard.buckets.end()) {
    size_t cap = std::max<size_t>(1, options_.load()->max_entries / kShards);
    while (shard.buckets.size() >= cap) {
      shard.buckets.erase(shard.lru.back());
      shard.lru.pop_back();
    }
    shard.lru.push_front(key);
    it =
        shard.buckets.emplace(key, Bucket{burst, now, shard.lru.begin()}).first;
  } else {
    shard.lru.splice(shard.lru.begin(), shard.lru, it->second.lru);
  }
  Bucket& b = it->second;
  b.tokens =
      std::min(burst, b.tokens + static_cast<double>(now - b.updated) / refill);
  b.updated = now;
  if (only_if_available && b.tokens < 1) {
    return static_cast<int64_t>(std::ceil((1 - b.tokens) * refill));
  }
  b.tokens = std::max(0.0, b.tokens - 1);
  return std::nullopt;
}

void FailureLimiter::Give(const std::string& key, double burst) {
  Shard& shard = ShardFor(key);
  std::lock_guard<std::mutex> lock(shard.mu);
  auto it = shard.buckets.find(key);
  if (it != shard.buckets.end()) {
    it->second.tokens = std::min(burst, it->second.tokens + 1);
  }
}

std::optional<int64_t> FailureLimiter::Reserve(std::string_view client_id,
                                               std::string_view address) {
  std::shared_ptr<const LimiterOptions> o = options_.load();
  std::string a = AddressKey(address);
  if (auto wait = Take(a, o->address_burst, o->address_refill_seconds, true)) {
    return wait;
  }
  if (auto wait = Take(ClientKey(client_id, address), o->client_burst,
                       o->client_refill_seconds, true)) {
    Give(a, o->address_burst);
    return wait;
  }
  return std::nullopt;
}

void FailureLimiter::Refund(std::string_view client_id,
                            std::string_view address) {
  std::shared_ptr<const LimiterOptions> o = options_.load();
  Give(AddressKey(address), o->address_burst);
  Give(ClientKey(client_id, address), o->client_burst);
}

std::optional<int64_t> FailureLimiter::Check(std::string_view client_id,
                                             std::string_view address) {
  std::shared_ptr<const LimiterOptions> o = options_.load();
  auto a =
      Peek(AddressKey(address), o->address_burst, o->address_refill_seconds);
  auto c = Peek(ClientKey(client_id, address), o->client_burst,
                o->client_refill_seconds);
  if (a && c) return std::max(*a, *c);
  return a ? a : c;
}

void FailureLimiter::RecordSuccess(std::string_view client_id,
                                   std::string_view address) {
  std::string key = ClientKey(client_id, address);
  Shard& shard = ShardFor(key);
  std::lock_guard<std::mutex> lock(shard.mu);
  auto it = shard.buckets.find(key);
  if (it == shard.buckets.end()) return;
  shard.lru.erase(it->second.lru);
  shard.buckets.erase(it);
}

size_t FailureLimiter::size() const {
  size_t n = 0;
  for (const Shard& s : shards_) {
    std::lock_guard<std::mutex> lock(s.mu);
    n += s.buckets.size();
  }
  return n;
}

}  // namespace authd::authority
