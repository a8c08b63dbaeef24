#include "authority/failure_limiter.h"

#include <openssl/core_names.h>
#include <openssl/evp.h>
#include <openssl/params.h>
#include <openssl/rand.h>

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <initializer_list>

#include "common/deleter.h"
#include "common/log.h"

namespace authd::authority {

std::string LimiterAddress(const std::optional<IpAddress>& client) {
  if (!client) return "local";
  if (client->is_v4()) return client->ToString();
  StatusOr<Cidr> net = Cidr::Enclosing(*client, 64);
  return net.ok() ? net->ToString() : client->ToString();
}

namespace {

using MacPtr = std::unique_ptr<EVP_MAC, Deleter<EVP_MAC_free>>;
using MacCtxPtr = std::unique_ptr<EVP_MAC_CTX, Deleter<EVP_MAC_CTX_free>>;

// Drawn once per process and never leaves it: nobody outside can compute a
// key's hash, so nobody can make two keys share a bucket.
const std::array<unsigned char, 32>& ProcessKey() {
  static const std::array<unsigned char, 32> key = [] {
    std::array<unsigned char, 32> k;
    if (RAND_bytes(k.data(), static_cast<int>(k.size())) != 1) {
      Log(LogLevel::kError,
          "event=fatal msg=\"no random key for the failure limiter\"");
      std::abort();
    }
    return k;
  }();
  return key;
}

// An HMAC-SHA256 context under ProcessKey(); null if OpenSSL fails.
MacCtxPtr NewKeyedMac() {
  MacPtr mac(EVP_MAC_fetch(nullptr, "HMAC", nullptr));
  if (!mac) return nullptr;
  MacCtxPtr ctx(EVP_MAC_CTX_new(mac.get()));
  char digest[] = "SHA256";
  OSSL_PARAM params[] = {
      OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST, digest, 0),
      OSSL_PARAM_construct_end()};
  const auto& key = ProcessKey();
  if (!ctx || EVP_MAC_init(ctx.get(), key.data(), key.size(), params) != 1) {
    return nullptr;
  }
  return ctx;
}

// The first 16 bytes of HMAC-SHA256(ProcessKey(), each part prefixed by its
// length). One context per thread, re-initialised per call: no allocation
// and no shared state. Should OpenSSL fail, all zeros: every key then shares
// one bucket, which limits more, never less.
void KeyedHash(std::initializer_list<std::string_view> parts,
               std::array<unsigned char, 16>* out) {
  thread_local MacCtxPtr ctx;
  if (!ctx) ctx = NewKeyedMac();
  unsigned char mac[EVP_MAX_MD_SIZE];
  size_t len = 0;
  bool ok = ctx && EVP_MAC_init(ctx.get(), nullptr, 0, nullptr) == 1;
  for (std::string_view p : parts) {
    uint64_t n = p.size();
    ok = ok &&
         EVP_MAC_update(ctx.get(), reinterpret_cast<unsigned char*>(&n),
                        sizeof n) == 1 &&
         EVP_MAC_update(ctx.get(),
                        reinterpret_cast<const unsigned char*>(p.data()),
                        p.size()) == 1;
  }
  ok = ok && EVP_MAC_final(ctx.get(), mac, &len, sizeof mac) == 1 &&
       len >= out->size();
  if (ok) {
    std::memcpy(out->data(), mac, out->size());
  } else {
    out->fill(0);
  }
}

}  // namespace

size_t FailureLimiter::KeyHash::operator()(const Key& k) const noexcept {
  // Keys are already uniform: any eight bytes make a hash. Bytes 8.. pick
  // the shard, so a shard's map does not see only a slice of hash values.
  size_t h;
  std::memcpy(&h, k.data(), sizeof h);
  return h;
}

FailureLimiter::Key FailureLimiter::AddressKey(std::string_view address) {
  Key k;
  KeyedHash({"address", address}, &k);
  return k;
}

FailureLimiter::Key FailureLimiter::ClientKey(std::string_view client_id,
                                              std::string_view address) {
  Key k;
  KeyedHash({"client", address, client_id}, &k);
  return k;
}

FailureLimiter::FailureLimiter(const Clock* clock, LimiterOptions options)
    : clock_(clock),
      options_(std::make_shared<const LimiterOptions>(options)) {}

void FailureLimiter::SetOptions(LimiterOptions options) {
  options_.store(std::make_shared<const LimiterOptions>(options));
}

FailureLimiter::Limits FailureLimiter::AddressLimits(const LimiterOptions& o) {
  return {o.address_burst, o.address_refill_seconds,
          std::max<size_t>(1, o.max_entries / 2 / kShards)};
}

FailureLimiter::Limits FailureLimiter::ClientLimits(const LimiterOptions& o) {
  return {o.client_burst, o.client_refill_seconds,
          std::max<size_t>(1, o.max_entries / 2 / kShards)};
}

namespace {

template <typename Shards, typename Key>
auto& ShardOf(Shards& shards, const Key& key) {
  uint64_t h;
  std::memcpy(&h, key.data() + 8, sizeof h);
  return shards[h % shards.size()];
}

}  // namespace

double FailureLimiter::TokensNow(const Bucket& b, const Limits& l,
                                 int64_t now) {
  double elapsed = static_cast<double>(now - b.updated);
  return std::min(l.burst, b.tokens + elapsed / l.refill);
}

void FailureLimiter::Unlink(Shard& shard, Entry* e) {
  Bucket& b = e->second;
  (b.newer ? b.newer->second.older : shard.newest) = b.older;
  (b.older ? b.older->second.newer : shard.oldest) = b.newer;
  b.newer = b.older = nullptr;
}

void FailureLimiter::LinkNewest(Shard& shard, Entry* e) {
  Bucket& b = e->second;
  b.newer = nullptr;
  b.older = shard.newest;
  (shard.newest ? shard.newest->second.newer : shard.oldest) = e;
  shard.newest = e;
}

void FailureLimiter::Erase(Shard& shard, Entry* e) {
  Unlink(shard, e);
  Key key = e->first;  // erase(k) must not read k from the node it frees
  shard.buckets.erase(key);
}

void FailureLimiter::Sweep(Shard& shard, const Limits& l, int64_t now) {
  // Two per call outpaces the one bucket a call can add, so buckets left
  // idle for a full window go while the shard is in use.
  for (int i = 0; i < 2 && shard.oldest != nullptr; ++i) {
    if (TokensNow(shard.oldest->second, l, now) < l.burst) return;
    Erase(shard, shard.oldest);
  }
}

FailureLimiter::Entry* FailureLimiter::Insert(Shard& shard, const Key& key,
                                              const Limits& l, int64_t now) {
  while (shard.buckets.size() >= l.per_shard && shard.oldest != nullptr) {
    Erase(shard, shard.oldest);  // the least recently failed
  }
  Entry* e = &*shard.buckets.emplace(key, Bucket{l.burst, now}).first;
  LinkNewest(shard, e);
  return e;
}

std::optional<int64_t> FailureLimiter::Peek(Pool& pool, const Key& key,
                                            const Limits& l, double forget_at) {
  Shard& shard = ShardOf(pool.shards, key);
  int64_t now = clock_->NowSeconds();
  std::lock_guard<std::mutex> lock(shard.mu);
  auto it = shard.buckets.find(key);
  if (it == shard.buckets.end()) return std::nullopt;
  double tokens = TokensNow(it->second, l, now);
  if (tokens >= forget_at) Erase(shard, &*it);
  if (tokens >= 1) return std::nullopt;
  return static_cast<int64_t>(std::ceil((1 - tokens) * l.refill));
}

std::optional<int64_t> FailureLimiter::Take(Pool& pool, const Key& key,
                                            const Limits& l,
                                            bool only_if_available) {
  Shard& shard = ShardOf(pool.shards, key);
  int64_t now = clock_->NowSeconds();
  std::lock_guard<std::mutex> lock(shard.mu);
  Sweep(shard, l, now);
  auto it = shard.buckets.find(key);
  Entry* e = it == shard.buckets.end() ? Insert(shard, key, l, now) : &*it;
  Unlink(shard, e);
  LinkNewest(shard, e);
  Bucket& b = e->second;
  b.tokens = TokensNow(b, l, now);
  b.updated = now;
  if (only_if_available && b.tokens < 1) {
    return static_cast<int64_t>(std::ceil((1 - b.tokens) * l.refill));
  }
  b.tokens = std::max(0.0, b.tokens - 1);
  return std::nullopt;
}

void FailureLimiter::Give(Pool& pool, const Key& key, const Limits& l) {
  Shard& shard = ShardOf(pool.shards, key);
  int64_t now = clock_->NowSeconds();
  std::lock_guard<std::mutex> lock(shard.mu);
  auto it = shard.buckets.find(key);
  if (it == shard.buckets.end()) return;
  Bucket& b = it->second;
  b.tokens = std::min(l.burst, TokensNow(b, l, now) + 1);
  b.updated = now;
  if (b.tokens >= l.burst) Erase(shard, &*it);
}

void FailureLimiter::Forget(Pool& pool, const Key& key) {
  Shard& shard = ShardOf(pool.shards, key);
  std::lock_guard<std::mutex> lock(shard.mu);
  auto it = shard.buckets.find(key);
  if (it != shard.buckets.end()) Erase(shard, &*it);
}

std::optional<int64_t> FailureLimiter::Reserve(std::string_view client_id,
                                               std::string_view address) {
  std::shared_ptr<const LimiterOptions> o = options_.load();
  Key a = AddressKey(address);
  Limits al = AddressLimits(*o);
  if (auto wait = Take(addresses_, a, al, true)) return wait;
  if (auto wait = Take(clients_, ClientKey(client_id, address),
                       ClientLimits(*o), true)) {
    Give(addresses_, a, al);
    return wait;
  }
  return std::nullopt;
}

void FailureLimiter::Refund(std::string_view client_id,
                            std::string_view address) {
  std::shared_ptr<const LimiterOptions> o = options_.load();
  Give(addresses_, AddressKey(address), AddressLimits(*o));
  Give(clients_, ClientKey(client_id, address), ClientLimits(*o));
}

std::optional<int64_t> FailureLimiter::Check(std::string_view client_id,
                                             std::string_view address) {
  std::shared_ptr<const LimiterOptions> o = options_.load();
  Limits al = AddressLimits(*o), cl = ClientLimits(*o);
  auto a = Peek(addresses_, AddressKey(address), al, al.burst);
  auto c = Peek(clients_, ClientKey(client_id, address), cl, cl.burst);
  if (a && c) return std::max(*a, *c);
  return a ? a : c;
}

void FailureLimiter::RecordSuccess(std::string_view client_id,
                                   std::string_view address) {
  Forget(clients_, ClientKey(client_id, address));
}

void FailureLimiter::Succeeded(std::string_view client_id,
                               std::string_view address) {
  std::shared_ptr<const LimiterOptions> o = options_.load();
  Give(addresses_, AddressKey(address), AddressLimits(*o));
  Forget(clients_, ClientKey(client_id, address));
}

std::optional<int64_t> FailureLimiter::AdmitProven(std::string_view client_id,
                                                   std::string_view address) {
  std::shared_ptr<const LimiterOptions> o = options_.load();
  Limits al = AddressLimits(*o);
  if (auto wait = Peek(addresses_, AddressKey(address), al, al.burst)) {
    return wait;
  }
  return Peek(clients_, ClientKey(client_id, address), ClientLimits(*o), 1);
}

size_t FailureLimiter::size() const {
  size_t n = 0;
  for (const Pool* pool : {&addresses_, &clients_}) {
    for (const Shard& s : pool->shards) {
      std::lock_guard<std::mutex> lock(s.mu);
      n += s.buckets.size();
    }
  }
  return n;
}

}  // namespace authd::authority
