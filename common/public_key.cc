#include "common/public_key.h"

#include <openssl/bio.h>
#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/ecdsa.h>
#include <openssl/evp.h>
#include <openssl/param_build.h>
#include <openssl/pem.h>
#include <openssl/sha.h>
#include <openssl/x509.h>

#include "common/deleter.h"
#include "common/encoding.h"
#include "common/sha256.h"

namespace authd {
namespace {

using BioPtr = std::unique_ptr<BIO, Deleter<BIO_free>>;
using SigPtr = std::unique_ptr<ECDSA_SIG, Deleter<ECDSA_SIG_free>>;
using CtxPtr = std::unique_ptr<EVP_PKEY_CTX, Deleter<EVP_PKEY_CTX_free>>;
using MdCtxPtr = std::unique_ptr<EVP_MD_CTX, Deleter<EVP_MD_CTX_free>>;
using ParamPtr = std::unique_ptr<OSSL_PARAM, Deleter<OSSL_PARAM_free>>;
using BldPtr = std::unique_ptr<OSSL_PARAM_BLD, Deleter<OSSL_PARAM_BLD_free>>;

}  // namespace

StatusOr<PublicKey> PublicKey::FromEcPoint(std::string_view point) {
  if (point.size() != 65 || point[0] != 0x04) {
    return Status::Internal("EC point is not an uncompressed P-256 point");
  }
  BldPtr bld(OSSL_PARAM_BLD_new());
  OSSL_PARAM_BLD_push_utf8_string(bld.get(), OSSL_PKEY_PARAM_GROUP_NAME,
                                  "prime256v1", 0);
  OSSL_PARAM_BLD_push_octet_string(bld.get(), OSSL_PKEY_PARAM_PUB_KEY,
                                   point.data(), point.size());
  ParamPtr params(OSSL_PARAM_BLD_to_param(bld.get()));
  CtxPtr ctx(EVP_PKEY_CTX_new_from_name(nullptr, "EC", nullptr));
  EVP_PKEY* raw = nullptr;
  if (!params || !ctx || EVP_PKEY_fromdata_init(ctx.get()) != 1 ||
      EVP_PKEY_fromdata(ctx.get(), &raw, EVP_PKEY_PUBLIC_KEY, params.get()) !=
          1) {
    return Status::Internal("EC point is not on P-256");
  }
  PublicKey key;
  key.pkey_.reset(raw, EVP_PKEY_free);
  RETURN_IF_ERROR(key.Finish());
  key.x_ = Base64UrlEncode(point.substr(1, 32));
  key.y_ = Base64UrlEncode(point.substr(33, 32));
  // RFC 7638 §3.2: required members only, lexicographic order, no spaces.
  std::string canonical = R"({"crv":"P-256","kty":"EC","x":")" + key.x_ +
                          R"(","y":")" + key.y_ + R"("})";
  key.kid_ = Base64UrlEncode(Sha256(canonical));
  return key;
}

StatusOr<PublicKey> PublicKey::FromRsa(std::string_view modulus,
                                       std::string_view exponent) {
  using BnPtr = std::unique_ptr<BIGNUM, Deleter<BN_free>>;
  BnPtr n(BN_bin2bn(reinterpret_cast<const unsigned char*>(modulus.data()),
                    static_cast<int>(modulus.size()), nullptr));
  BnPtr e(BN_bin2bn(reinterpret_cast<const unsigned char*>(exponent.data()),
                    static_cast<int>(exponent.size()), nullptr));
  BldPtr bld(OSSL_PARAM_BLD_new());
  OSSL_PARAM_BLD_push_BN(bld.get(), OSSL_PKEY_PARAM_RSA_N, n.get());
  OSSL_PARAM_BLD_push_BN(bld.get(), OSSL_PKEY_PARAM_RSA_E, e.get());
  ParamPtr params(OSSL_PARAM_BLD_to_param(bld.get()));
  CtxPtr ctx(EVP_PKEY_CTX_new_from_name(nullptr, "RSA", nullptr));
  EVP_PKEY* raw = nullptr;
  if (BN_num_bits(n.get()) < 2048 || !params || !ctx ||
      EVP_PKEY_fromdata_init(ctx.get()) != 1 ||
      EVP_PKEY_fromdata(ctx.get(), &raw, EVP_PKEY_PUBLIC_KEY, params.get()) !=
          1) {
    return Status::Internal("not an RSA public key of at least 2048 bits");
  }
  PublicKey key;
  key.alg_ = Algorithm::kRS256;
  key.pkey_.reset(raw, EVP_PKEY_free);
  RETURN_IF_ERROR(key.Finish());
  // JWK integers are big-endian without leading zero octets (RFC 7518 §6.3.1).
  auto strip = [](std::string_view v) {
    while (v.size() > 1 && v[0] == '\0') v.remove_prefix(1);
    return v;
  };
  key.n_ = Base64UrlEncode(strip(modulus));
  key.e_ = Base64UrlEncode(strip(exponent));
  std::string canonical =
      R"({"e":")" + key.e_ + R"(","kty":"RSA","n":")" + key.n_ + R"("})";
  key.kid_ = Base64UrlEncode(Sha256(canonical));
  return key;
}

Status PublicKey::Finish() {
  unsigned char* der = nullptr;
  int der_len = i2d_PUBKEY(pkey_.get(), &der);
  if (der_len <= 0) return Status::Internal("cannot encode public key");
  spki_der_.assign(reinterpret_cast<char*>(der), der_len);
  OPENSSL_free(der);
  BioPtr bio(BIO_new(BIO_s_mem()));
  PEM_write_bio_PUBKEY(bio.get(), pkey_.get());
  char* pem_data = nullptr;
  long pem_len = BIO_get_mem_data(bio.get(), &pem_data);
  pem_.assign(pem_data, pem_len);
  return Status::Ok();
}

std::vector<std::pair<std::string, std::string>> PublicKey::JwkMembers() const {
  if (alg_ == Algorithm::kRS256) return {{"kty", "RSA"}, {"n", n_}, {"e", e_}};
  return {{"kty", "EC"}, {"crv", "P-256"}, {"x", x_}, {"y", y_}};
}

bool PublicKey::Verify(std::string_view data, std::string_view sig) const {
  if (alg_ == Algorithm::kES256) return VerifyEs256(data, sig);
  return DigestVerify(data, sig);
}

// SHA-256 then the key's verification: PKCS#1 v1.5 for RSA, a DER
// ECDSA-Sig-Value for EC.
bool PublicKey::DigestVerify(std::string_view data,
                             std::string_view sig) const {
  MdCtxPtr md(EVP_MD_CTX_new());
  return EVP_DigestVerifyInit(md.get(), nullptr, EVP_sha256(), nullptr,
                              pkey_.get()) == 1 &&
         EVP_DigestVerify(
             md.get(), reinterpret_cast<const unsigned char*>(sig.data()),
             sig.size(), reinterpret_cast<const unsigned char*>(data.data()),
             data.size()) == 1;
}

const char* AlgorithmName(Algorithm alg) {
  return alg == Algorithm::kRS256 ? "RS256" : "ES256";
}

bool ParseAlgorithm(std::string_view name, Algorithm* out) {
  if (name == "ES256") {
    *out = Algorithm::kES256;
  } else if (name == "RS256") {
    *out = Algorithm::kRS256;
  } else {
    return false;
  }
  return true;
}

StatusOr<PublicKey> PublicKey::FromPem(std::string_view pem) {
  BioPtr bio(BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size())));
  EVP_PKEY* pkey = PEM_read_bio_PUBKEY(bio.get(), nullptr, nullptr, nullptr);
  if (pkey == nullptr) {
    return Status::InvalidArgument("not a PEM public key");
  }
  std::unique_ptr<EVP_PKEY, Deleter<EVP_PKEY_free>> owned(pkey);
  char group[64] = {0};
  size_t group_len = 0;
  if (EVP_PKEY_get_utf8_string_param(pkey, OSSL_PKEY_PARAM_GROUP_NAME, group,
                                     sizeof group, &group_len) != 1 ||
      std::string_view(group) != "prime256v1") {
    return Status::InvalidArgument("public key is not an ECDSA P-256 key");
  }
  unsigned char point[65];
  size_t point_len = 0;
  if (EVP_PKEY_get_octet_string_param(pkey, OSSL_PKEY_PARAM_ENCODED_PUBLIC_KEY,
                                      point, sizeof point, &point_len) != 1) {
    return Status::InvalidArgument("cannot read the public key's point");
  }
  return FromEcPoint(
      std::string_view(reinterpret_cast<char*>(point), point_len));
}

bool PublicKey::VerifyEs256(std::string_view data,
                            std::string_view raw_sig) const {
  if (raw_sig.size() != 64) return false;
  std::string der = EcdsaRawToDer(raw_sig);
  return !der.empty() && DigestVerify(data, der);
}

std::string EcdsaSignatureToRaw(std::string_view sig, size_t half) {
  if (sig.size() == 2 * half) return std::string(sig);
  const unsigned char* p = reinterpret_cast<const unsigned char*>(sig.data());
  SigPtr parsed(d2i_ECDSA_SIG(nullptr, &p, static_cast<long>(sig.size())));
  if (!parsed ||
      p != reinterpret_cast<const unsigned char*>(sig.data()) + sig.size()) {
    return {};
  }
  std::string out(2 * half, '\0');
  const BIGNUM* r = ECDSA_SIG_get0_r(parsed.get());
  const BIGNUM* s = ECDSA_SIG_get0_s(parsed.get());
  auto* o = reinterpret_cast<unsigned char*>(out.data());
  if (BN_bn2binpad(r, o, static_cast<int>(half)) < 0 ||
      BN_bn2binpad(s, o + half, static_cast<int>(half)) < 0) {
    return {};
  }
  return out;
}

std::string EcdsaRawToDer(std::string_view raw) {
  if (raw.empty() || raw.size() % 2 != 0) return {};
  int half = static_cast<int>(raw.size() / 2);
  const auto* p = reinterpret_cast<const unsigned char*>(raw.data());
  SigPtr sig(ECDSA_SIG_new());
  BIGNUM* r = BN_bin2bn(p, half, nullptr);
  BIGNUM* s = BN_bin2bn(p + half, half, nullptr);
  if (!sig || ECDSA_SIG_set0(sig.get(), r, s) != 1) {
    BN_free(r);
    BN_free(s);
    return {};
  }
  unsigned char* der = nullptr;
  int len = i2d_ECDSA_SIG(sig.get(), &der);
  if (len <= 0) return {};
  std::string out(reinterpret_cast<char*>(der), static_cast<size_t>(len));
  OPENSSL_free(der);
  return out;
}

}  // namespace authd
