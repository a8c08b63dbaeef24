#include "fuzz/software_key_ops.h"

#include <openssl/core_names.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/pem.h>

#include "common/deleter.h"
#include "common/sha256.h"

namespace authd::fuzz {

const char kTokenKeyPem[] =
    "-----BEGIN PRIVATE KEY-----\n"
    "MIGHAgEAMBMGByqGSM49AgEGCCqGSM49AwEHBG0wawIBAQQga7gZXR1Ma+7woXxj\n"
    "nizxtNf6jC7/EjjJIcjxiLmL9KihRANCAATnlBImC0d1BN3fH5fbb0oHw4ttC96V\n"
    "BADoh8JVcvLs5kGGLT9TOGYChOHMDp/uOdWjuWyh1/+GjQh37SwpaMcm\n"
    "-----END PRIVATE KEY-----\n";
const char kAuditKeyPem[] =
    "-----BEGIN PRIVATE KEY-----\n"
    "MIGHAgEAMBMGByqGSM49AgEGCCqGSM49AwEHBG0wawIBAQQgxgr9+QrOlVqPuwJE\n"
    "lyX7V5LTZOWts3SmMicICMzdgg2hRANCAASxc9iojFLUAa2i/2sOoKLvaBPjDMcr\n"
    "FoVv4A76D4f9MYYTS2/iY1hnza+HL/zYWzCmZxAvLtjF55DNxvm6upHT\n"
    "-----END PRIVATE KEY-----\n";

namespace {

using PkeyPtr = std::unique_ptr<EVP_PKEY, Deleter<EVP_PKEY_free>>;
using MdCtxPtr = std::unique_ptr<EVP_MD_CTX, Deleter<EVP_MD_CTX_free>>;
using CtxPtr = std::unique_ptr<EVP_PKEY_CTX, Deleter<EVP_PKEY_CTX_free>>;
using BnPtr = std::unique_ptr<BIGNUM, Deleter<BN_free>>;

constexpr char kPepper[] = "authd-fuzz-pepper-not-a-secret-0";

std::shared_ptr<EVP_PKEY> Share(EVP_PKEY* raw) {
  return std::shared_ptr<EVP_PKEY>(raw, EVP_PKEY_free);
}

std::shared_ptr<EVP_PKEY> FromPem(const char* pem) {
  std::unique_ptr<BIO, Deleter<BIO_free>> bio(BIO_new_mem_buf(pem, -1));
  return Share(PEM_read_bio_PrivateKey(bio.get(), nullptr, nullptr, nullptr));
}

std::string BigEndian(EVP_PKEY* pkey, const char* name) {
  BIGNUM* raw = nullptr;
  if (EVP_PKEY_get_bn_param(pkey, name, &raw) != 1) return "";
  BnPtr bn(raw);
  std::string out(BN_num_bytes(bn.get()), '\0');
  BN_bn2bin(bn.get(), reinterpret_cast<unsigned char*>(out.data()));
  return out;
}

StatusOr<PublicKey> PublicOf(EVP_PKEY* pkey) {
  if (EVP_PKEY_is_a(pkey, "RSA")) {
    return PublicKey::FromRsa(BigEndian(pkey, OSSL_PKEY_PARAM_RSA_N),
                              BigEndian(pkey, OSSL_PKEY_PARAM_RSA_E));
  }
  unsigned char point[65];
  size_t len = 0;
  if (EVP_PKEY_get_octet_string_param(pkey, OSSL_PKEY_PARAM_ENCODED_PUBLIC_KEY,
                                      point, sizeof point, &len) != 1) {
    return Status::Internal("no EC point");
  }
  return PublicKey::FromEcPoint(
      std::string_view(reinterpret_cast<char*>(point), len));
}

// PKCS#1 v1.5 for RSA, DER ECDSA for EC, both over SHA-256.
std::string Sign(EVP_PKEY* pkey, std::string_view data) {
  MdCtxPtr ctx(EVP_MD_CTX_new());
  size_t len = 0;
  if (!ctx ||
      EVP_DigestSignInit(ctx.get(), nullptr, EVP_sha256(), nullptr, pkey) !=
          1 ||
      EVP_DigestSign(ctx.get(), nullptr, &len,
                     reinterpret_cast<const unsigned char*>(data.data()),
                     data.size()) != 1) {
    return "";
  }
  std::string sig(len, '\0');
  if (EVP_DigestSign(ctx.get(), reinterpret_cast<unsigned char*>(sig.data()),
                     &len, reinterpret_cast<const unsigned char*>(data.data()),
                     data.size()) != 1) {
    return "";
  }
  sig.resize(len);
  return sig;
}

// RSA key generation takes long enough to dominate a fuzz run, so RS256
// keys come from a pool made once per process; an instance takes each at
// most once (`*rsa_used`), and past the pool fails as a full HSM would.
std::shared_ptr<EVP_PKEY> Generate(Algorithm alg, size_t* rsa_used) {
  if (alg == Algorithm::kES256) {
    return Share(EVP_PKEY_Q_keygen(nullptr, nullptr, "EC", "P-256"));
  }
  constexpr size_t kPool = 3;
  static std::mutex mu;
  static std::vector<std::shared_ptr<EVP_PKEY>> pool;
  std::lock_guard<std::mutex> lock(mu);
  if (*rsa_used == kPool) return nullptr;
  if (pool.size() == *rsa_used) {
    pool.push_back(
        Share(EVP_PKEY_Q_keygen(nullptr, nullptr, "RSA", size_t{2048})));
  }
  return pool[(*rsa_used)++];
}

}  // namespace

std::string SignWithPem(const char* pem, std::string_view data, bool der) {
  std::shared_ptr<EVP_PKEY> pkey = FromPem(pem);
  if (!pkey) return "";
  std::string sig = Sign(pkey.get(), data);
  return der ? sig : EcdsaSignatureToRaw(sig, 32);
}

SoftwareKeyOps::SoftwareKeyOps() {
  for (auto [label, pem] : {std::pair{hsm::kTokenKeyLabel, kTokenKeyPem},
                            std::pair{hsm::kAuditKeyLabel, kAuditKeyPem}}) {
    std::shared_ptr<EVP_PKEY> pkey = FromPem(pem);
    StatusOr<PublicKey> pub = PublicOf(pkey.get());
    if (!pub.ok()) abort();
    keys_.emplace(label, Key{pkey, *pub});
  }
  token_pub_ = std::make_unique<PublicKey>(keys_.at(hsm::kTokenKeyLabel).pub);
  audit_pub_ = std::make_unique<PublicKey>(keys_.at(hsm::kAuditKeyLabel).pub);
}

SoftwareKeyOps::~SoftwareKeyOps() = default;

StatusOr<std::string> SoftwareKeyOps::SignEs256(hsm::KeyUse use,
                                                std::string_view data) const {
  return SignWith(
      use == hsm::KeyUse::kToken ? hsm::kTokenKeyLabel : hsm::kAuditKeyLabel,
      data);
}

StatusOr<std::string> SoftwareKeyOps::HmacPepper(std::string_view data) const {
  unsigned char mac[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  if (HMAC(EVP_sha256(), kPepper, sizeof kPepper - 1,
           reinterpret_cast<const unsigned char*>(data.data()), data.size(),
           mac, &len) == nullptr) {
    return Status::Unavailable("HMAC failed");
  }
  return std::string(reinterpret_cast<char*>(mac), len);
}

StatusOr<std::string> SoftwareKeyOps::Random(size_t n) const {
  std::lock_guard<std::mutex> lock(mu_);
  std::string out;
  while (out.size() < n)
    out += Sha256("authd-fuzz-random-" + std::to_string(counter_++));
  out.resize(n);
  return out;
}

const PublicKey& SoftwareKeyOps::Public(hsm::KeyUse use) const {
  return use == hsm::KeyUse::kToken ? *token_pub_ : *audit_pub_;
}

StatusOr<std::vector<std::string>> SoftwareKeyOps::ReadData(
    const std::string& label) const {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = data_.find(label);
  return it == data_.end() ? std::vector<std::string>() : it->second;
}

Status SoftwareKeyOps::WriteData(const std::string& label,
                                 std::string_view value) const {
  std::lock_guard<std::mutex> lock(mu_);
  data_[label] = {std::string(value)};
  return Status::Ok();
}

StatusOr<PublicKey> SoftwareKeyOps::GenerateSigningKey(const std::string& label,
                                                       Algorithm alg) const {
  std::lock_guard<std::mutex> lock(mu_);
  if (keys_.count(label)) {
    return Status::AlreadyExists("HSM key " + label + " exists already");
  }
  std::shared_ptr<EVP_PKEY> pkey = Generate(alg, &rsa_used_);
  if (!pkey) return Status::Unavailable("key generation failed");
  ASSIGN_OR_RETURN(PublicKey pub, PublicOf(pkey.get()));
  keys_.emplace(label, Key{pkey, pub});
  return pub;
}

StatusOr<PublicKey> SoftwareKeyOps::LoadSigningKey(
    const std::string& label) const {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = keys_.find(label);
  if (it == keys_.end()) return Status::NotFound("the HSM has no key " + label);
  return it->second.pub;
}

StatusOr<std::string> SoftwareKeyOps::SignWith(const std::string& label,
                                               std::string_view data) const {
  std::shared_ptr<EVP_PKEY> pkey;
  {
    std::lock_guard<std::mutex> lock(mu_);
    auto it = keys_.find(label);
    if (it == keys_.end()) {
      return Status::NotFound("the HSM has no key " + label);
    }
    pkey = it->second.pkey;
  }
  std::string sig = Sign(pkey.get(), data);
  if (sig.empty()) return Status::Unavailable("signing failed");
  if (EVP_PKEY_is_a(pkey.get(), "RSA")) return sig;
  std::string raw = EcdsaSignatureToRaw(sig, 32);
  if (raw.empty()) return Status::Unavailable("bad ECDSA signature");
  return raw;
}

}  // namespace authd::fuzz
