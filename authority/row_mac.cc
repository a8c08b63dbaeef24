#include "authority/row_mac.h"

#include <openssl/core_names.h>
#include <openssl/crypto.h>

#include <cstdint>

#include "common/secure_string.h"

namespace authd::authority {
namespace {

// Domain separation under the pepper: no client-secret MAC input
// ("authd-client-secret-v1\0" + id + "\0" + secret) starts like this.
constexpr std::string_view kRowKeyLabel{"authd-row-mac-key-v1\0", 21};

using MacPtr = std::unique_ptr<EVP_MAC, Deleter<EVP_MAC_free>>;

// An integer as a fixed 8-byte big-endian field.
struct Int64Field {
  explicit Int64Field(uint64_t v) {
    for (int i = 7; i >= 0; --i, v >>= 8) bytes[i] = static_cast<char>(v);
  }
  std::string_view view() const { return {bytes, sizeof bytes}; }
  char bytes[8];
};

}  // namespace

StatusOr<std::unique_ptr<RowMac>> RowMac::Derive(const hsm::KeyOps& keys) {
  StatusOr<std::string> derived = keys.HmacPepper(kRowKeyLabel);
  if (!derived.ok()) {
    return derived.status().WithContext("cannot derive the row MAC key");
  }
  SecureString key(*derived);
  OPENSSL_cleanse(derived->data(), derived->size());
  MacPtr mac(EVP_MAC_fetch(nullptr, "HMAC", nullptr));
  MacCtxPtr ctx(mac ? EVP_MAC_CTX_new(mac.get()) : nullptr);
  char digest[] = "SHA256";
  OSSL_PARAM params[] = {
      OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST, digest, 0),
      OSSL_PARAM_construct_end()};
  if (!ctx || EVP_MAC_init(ctx.get(),
                           reinterpret_cast<const unsigned char*>(key.data()),
                           key.size(), params) != 1) {
    return Status::Unavailable("OpenSSL cannot key HMAC-SHA256");
  }
  return std::unique_ptr<RowMac>(new RowMac(std::move(ctx)));
}

StatusOr<std::string> RowMac::Compute(
    std::initializer_list<std::string_view> fields) const {
  std::lock_guard<std::mutex> lock(mu_);
  // Re-initialised with the key it holds (a NULL key keeps it).
  bool ok = EVP_MAC_init(ctx_.get(), nullptr, 0, nullptr) == 1;
  for (std::string_view f : fields) {
    Int64Field len(f.size());
    ok = ok &&
         EVP_MAC_update(ctx_.get(),
                        reinterpret_cast<const unsigned char*>(len.bytes),
                        sizeof len.bytes) == 1 &&
         EVP_MAC_update(ctx_.get(),
                        reinterpret_cast<const unsigned char*>(f.data()),
                        f.size()) == 1;
  }
  unsigned char out[EVP_MAX_MD_SIZE];
  size_t n = 0;
  ok = ok && EVP_MAC_final(ctx_.get(), out, &n, sizeof out) == 1 && n == 32;
  if (!ok) return Status::Unavailable("OpenSSL HMAC-SHA256 failed");
  return std::string(reinterpret_cast<const char*>(out), n);
}

StatusOr<std::string> RowMac::Of(const storage::Credential& c) const {
  Int64Field created(static_cast<uint64_t>(c.created_at));
  Int64Field expires(static_cast<uint64_t>(c.expires_at));
  Int64Field seq(c.audit_seq);
  return Compute({"credentials", c.client_id, c.name, c.role, c.secret_mac,
                  created.view(), expires.view(), c.created_by, seq.view()});
}

StatusOr<std::string> RowMac::Of(const storage::AllowlistEntry& e) const {
  Int64Field created(static_cast<uint64_t>(e.created_at));
  Int64Field seq(e.audit_seq);
  return Compute(
      {"allowlist", e.cidr, created.view(), e.created_by, seq.view()});
}

StatusOr<std::string> RowMac::Of(const storage::BoundMeta& m) const {
  Int64Field seq(m.audit_seq);
  return Compute({"meta", m.key, m.value, seq.view()});
}

bool RowMac::Equal(std::string_view a, std::string_view b) {
  return a.size() == b.size() && !a.empty() &&
         CRYPTO_memcmp(a.data(), b.data(), a.size()) == 0;
}

}  // namespace authd::authority
