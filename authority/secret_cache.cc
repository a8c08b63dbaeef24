#include "authority/secret_cache.h"

#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/params.h>
#include <openssl/rand.h>

#include <algorithm>
#include <cstdint>
#include <cstdlib>

#include "common/deleter.h"
#include "common/log.h"

namespace authd::authority {
namespace {

using MacPtr = std::unique_ptr<EVP_MAC, Deleter<EVP_MAC_free>>;
using MacCtxPtr = std::unique_ptr<EVP_MAC_CTX, Deleter<EVP_MAC_CTX_free>>;

constexpr std::string_view kLabel = "authd-secret-cache-v1";

// An HMAC-SHA256 context for this thread, keyed per call: no allocation
// after the first call and nothing shared between threads. Null if OpenSSL
// fails.
EVP_MAC_CTX* ThreadMac() {
  thread_local MacCtxPtr ctx = []() -> MacCtxPtr {
    MacPtr mac(EVP_MAC_fetch(nullptr, "HMAC", nullptr));
    return MacCtxPtr(mac ? EVP_MAC_CTX_new(mac.get()) : nullptr);
  }();
  return ctx.get();
}

bool Update(EVP_MAC_CTX* ctx, std::string_view part) {
  uint64_t n = part.size();
  return EVP_MAC_update(ctx, reinterpret_cast<unsigned char*>(&n), sizeof n) ==
             1 &&
         EVP_MAC_update(ctx,
                        reinterpret_cast<const unsigned char*>(part.data()),
                        part.size()) == 1;
}

template <typename Weak, typename Strong>
bool SameOwner(const Weak& w, const Strong& s) {
  return !w.owner_before(s) && !s.owner_before(w);
}

}  // namespace

SecretCache::SecretCache(size_t capacity)
    : per_shard_(std::max<size_t>(1, capacity / kShards)) {
  if (RAND_bytes(key_.data(), static_cast<int>(key_.size())) != 1) {
    Log(LogLevel::kError,
        "event=fatal msg=\"no random key for the verified-secret cache\"");
    std::abort();
  }
}

SecretCache::~SecretCache() { OPENSSL_cleanse(key_.data(), key_.size()); }

bool SecretCache::VerifierOf(std::string_view client_id,
                             std::string_view secret, Verifier* out) const {
  EVP_MAC_CTX* ctx = ThreadMac();
  if (ctx == nullptr) return false;
  char digest[] = "SHA256";
  OSSL_PARAM params[] = {
      OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST, digest, 0),
      OSSL_PARAM_construct_end()};
  size_t len = 0;
  return EVP_MAC_init(ctx, key_.data(), key_.size(), params) == 1 &&
         Update(ctx, kLabel) && Update(ctx, client_id) && Update(ctx, secret) &&
         EVP_MAC_final(ctx, out->data(), &len, out->size()) == 1 &&
         len == out->size();
}

SecretCache::Shard& SecretCache::Enter(std::string_view client_id,
                                       const Epoch& epoch,
                                       std::unique_lock<std::mutex>* lock) {
  Shard& shard = shards_[Hash()(client_id) % kShards];
  *lock = std::unique_lock<std::mutex>(shard.mu);
  // The shard's weak pointers keep the control blocks alive, so a snapshot
  // made later can never share an identity with the one recorded here.
  if (!SameOwner(shard.access, epoch.access) ||
      !SameOwner(shard.roles, epoch.roles)) {
    shard.items.clear();
    shard.access = epoch.access;
    shard.roles = epoch.roles;
  }
  return shard;
}

bool SecretCache::Proven(std::string_view client_id, std::string_view secret,
                         const Epoch& epoch) {
  Verifier v;
  if (!VerifierOf(client_id, secret, &v)) return false;
  std::unique_lock<std::mutex> lock;
  Shard& shard = Enter(client_id, epoch, &lock);
  auto it = shard.items.find(client_id);
  bool match = it != shard.items.end() &&
               CRYPTO_memcmp(it->second.data(), v.data(), v.size()) == 0;
  OPENSSL_cleanse(v.data(), v.size());
  return match;
}

void SecretCache::Remember(std::string_view client_id, std::string_view secret,
                           const Epoch& epoch) {
  Verifier v;
  if (!VerifierOf(client_id, secret, &v)) return;
  std::unique_lock<std::mutex> lock;
  Shard& shard = Enter(client_id, epoch, &lock);
  auto it = shard.items.find(client_id);
  if (it != shard.items.end()) {
    it->second = v;
    return;
  }
  if (shard.items.size() >= per_shard_) shard.items.erase(shard.items.begin());
  shard.items.emplace(std::string(client_id), v);
}

void SecretCache::Forget(std::string_view client_id) {
  Shard& shard = shards_[Hash()(client_id) % kShards];
  std::lock_guard<std::mutex> lock(shard.mu);
  auto it = shard.items.find(client_id);
  if (it != shard.items.end()) shard.items.erase(it);
}

size_t SecretCache::size() const {
  size_t n = 0;
  for (const Shard& s : shards_) {
    std::lock_guard<std::mutex> lock(s.mu);
    n += s.items.size();
  }
  return n;
}

}  // namespace authd::authority
