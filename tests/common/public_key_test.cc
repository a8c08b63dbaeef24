#include "common/public_key.h"

#include <gtest/gtest.h>
#include <openssl/bio.h>
#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/ecdsa.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rsa.h>
#include <openssl/sha.h>
#include <openssl/x509.h>

#include <memory>
#include <string>

#include "common/encoding.h"

namespace authd {
namespace {

using PkeyPtr = std::unique_ptr<EVP_PKEY, decltype(&EVP_PKEY_free)>;

PkeyPtr GenerateEc(const char* curve) {
  return PkeyPtr(EVP_EC_gen(curve), EVP_PKEY_free);
}

std::string PublicPem(EVP_PKEY* pkey) {
  std::unique_ptr<BIO, decltype(&BIO_free)> bio(BIO_new(BIO_s_mem()), BIO_free);
  PEM_write_bio_PUBKEY(bio.get(), pkey);
  char* data = nullptr;
  long len = BIO_get_mem_data(bio.get(), &data);
  return std::string(data, static_cast<size_t>(len));
}

std::string PrivatePem(EVP_PKEY* pkey) {
  std::unique_ptr<BIO, decltype(&BIO_free)> bio(BIO_new(BIO_s_mem()), BIO_free);
  PEM_write_bio_PrivateKey(bio.get(), pkey, nullptr, nullptr, 0, nullptr,
                           nullptr);
  char* data = nullptr;
  long len = BIO_get_mem_data(bio.get(), &data);
  return std::string(data, static_cast<size_t>(len));
}

std::string SpkiDer(EVP_PKEY* pkey) {
  unsigned char* der = nullptr;
  int len = i2d_PUBKEY(pkey, &der);
  std::string out(reinterpret_cast<char*>(der), static_cast<size_t>(len));
  OPENSSL_free(der);
  return out;
}

std::string EncodedPoint(EVP_PKEY* pkey) {
  unsigned char point[65];
  size_t len = 0;
  EVP_PKEY_get_octet_string_param(pkey, OSSL_PKEY_PARAM_ENCODED_PUBLIC_KEY,
                                  point, sizeof point, &len);
  return std::string(reinterpret_cast<char*>(point), len);
}

// ECDSA-with-SHA256 by OpenSSL: a DER ECDSA-Sig-Value.
std::string SignDer(EVP_PKEY* pkey, std::string_view data) {
  std::unique_ptr<EVP_MD_CTX, decltype(&EVP_MD_CTX_free)> md(EVP_MD_CTX_new(),
                                                             EVP_MD_CTX_free);
  size_t len = 0;
  EVP_DigestSignInit(md.get(), nullptr, EVP_sha256(), nullptr, pkey);
  EVP_DigestSign(md.get(), nullptr, &len,
                 reinterpret_cast<const unsigned char*>(data.data()),
                 data.size());
  std::string sig(len, '\0');
  EVP_DigestSign(md.get(), reinterpret_cast<unsigned char*>(sig.data()), &len,
                 reinterpret_cast<const unsigned char*>(data.data()),
                 data.size());
  sig.resize(len);
  return sig;
}

// DER ECDSA-Sig-Value for small r and s.
std::string DerSig(unsigned long r, unsigned long s) {
  std::unique_ptr<ECDSA_SIG, decltype(&ECDSA_SIG_free)> sig(ECDSA_SIG_new(),
                                                            ECDSA_SIG_free);
  BIGNUM* br = BN_new();
  BIGNUM* bs = BN_new();
  BN_set_word(br, r);
  BN_set_word(bs, s);
  ECDSA_SIG_set0(sig.get(), br, bs);
  unsigned char* der = nullptr;
  int len = i2d_ECDSA_SIG(sig.get(), &der);
  std::string out(reinterpret_cast<char*>(der), static_cast<size_t>(len));
  OPENSSL_free(der);
  return out;
}

std::string Sha256(std::string_view data) {
  unsigned char out[SHA256_DIGEST_LENGTH];
  SHA256(reinterpret_cast<const unsigned char*>(data.data()), data.size(), out);
  return std::string(reinterpret_cast<char*>(out), sizeof out);
}

// --------------------------------------------------- EcdsaSignatureToRaw

TEST(EcdsaSignatureToRawTest, DerBecomesPaddedRS) {
  const std::string der = DerSig(1, 0x0203);
  ASSERT_EQ(der, std::string("\x30\x07\x02\x01\x01\x02\x02\x02\x03", 9));
  std::string want(64, '\0');
  want[31] = 0x01;
  want[62] = 0x02;
  want[63] = 0x03;
  EXPECT_EQ(EcdsaSignatureToRaw(der, 32), want);
}

TEST(EcdsaSignatureToRawTest, RawInputOfTheRightSizeIsUnchanged) {
  std::string raw(64, '\0');
  for (int i = 0; i < 64; ++i) raw[i] = static_cast<char>(i + 1);
  EXPECT_EQ(EcdsaSignatureToRaw(raw, 32), raw);
}

TEST(EcdsaSignatureToRawTest, RealSignatureConvertsAndVerifies) {
  PkeyPtr pkey = GenerateEc("P-256");
  ASSERT_TRUE(pkey);
  const std::string der = SignDer(pkey.get(), "message");
  ASSERT_GT(der.size(), 64u);
  const std::string raw = EcdsaSignatureToRaw(der, 32);
  ASSERT_EQ(raw.size(), 64u);
  StatusOr<PublicKey> key = PublicKey::FromPem(PublicPem(pkey.get()));
  ASSERT_TRUE(key.ok()) << key.status().message();
  EXPECT_TRUE(key->VerifyEs256("message", raw));
  EXPECT_FALSE(key->VerifyEs256("messagf", raw));
  EXPECT_FALSE(key->VerifyEs256("message", der));
}

TEST(EcdsaSignatureToRawTest, RejectsMalformedInput) {
  EXPECT_EQ(EcdsaSignatureToRaw("", 32), "");
  EXPECT_EQ(EcdsaSignatureToRaw("not a signature", 32), "");
  EXPECT_EQ(EcdsaSignatureToRaw(std::string(63, '\x01'), 32), "");
  // A truncated DER value.
  const std::string der = DerSig(5, 6);
  EXPECT_EQ(EcdsaSignatureToRaw(der.substr(0, der.size() - 1), 32), "");
}

TEST(EcdsaSignatureToRawTest, RejectsTrailingBytesAfterDer) {
  EXPECT_EQ(EcdsaSignatureToRaw(DerSig(5, 6) + "x", 32), "");
}

TEST(EcdsaSignatureToRawTest, RejectsIntegersWiderThanHalf) {
  // r needs 8 bytes; it cannot be written into 4.
  const std::string der = DerSig(0x0102030405060708UL, 1);
  EXPECT_EQ(EcdsaSignatureToRaw(der, 4), "");
  EXPECT_EQ(EcdsaSignatureToRaw(der, 8).size(), 16u);
}

TEST(EcdsaRawToDerTest, RoundTripsThroughEcdsaSignatureToRaw) {
  std::string raw(64, '\0');
  raw[31] = 0x01;
  raw[62] = 0x02;
  raw[63] = 0x03;
  EXPECT_EQ(EcdsaRawToDer(raw), DerSig(1, 0x0203));
  EXPECT_EQ(EcdsaSignatureToRaw(EcdsaRawToDer(raw), 32), raw);
  EXPECT_EQ(EcdsaRawToDer(""), "");
  EXPECT_EQ(EcdsaRawToDer(std::string(63, '\x01')), "");
}

// -------------------------------------------------------------- FromPem

TEST(PublicKeyFromPemTest, MatchesTheOpenSslKey) {
  PkeyPtr pkey = GenerateEc("P-256");
  ASSERT_TRUE(pkey);
  const std::string pem = PublicPem(pkey.get());
  StatusOr<PublicKey> key = PublicKey::FromPem(pem);
  ASSERT_TRUE(key.ok()) << key.status().message();
  EXPECT_EQ(key->pem(), pem);
  EXPECT_EQ(key->spki_der(), SpkiDer(pkey.get()));
  const std::string point = EncodedPoint(pkey.get());
  ASSERT_EQ(point.size(), 65u);
  EXPECT_EQ(key->jwk_x(), Base64UrlEncode(point.substr(1, 32)));
  EXPECT_EQ(key->jwk_y(), Base64UrlEncode(point.substr(33, 32)));
  EXPECT_EQ(key->kid(),
            Base64UrlEncode(
                Sha256("{\"crv\":\"P-256\",\"kty\":\"EC\",\"x\":\"" +
                       key->jwk_x() + "\",\"y\":\"" + key->jwk_y() + "\"}")));
}

TEST(PublicKeyFromPemTest, PemRoundTripGivesTheSameKey) {
  PkeyPtr pkey = GenerateEc("P-256");
  ASSERT_TRUE(pkey);
  StatusOr<PublicKey> first = PublicKey::FromPem(PublicPem(pkey.get()));
  ASSERT_TRUE(first.ok()) << first.status().message();
  StatusOr<PublicKey> second = PublicKey::FromPem(first->pem());
  ASSERT_TRUE(second.ok()) << second.status().message();
  EXPECT_EQ(second->spki_der(), first->spki_der());
  EXPECT_EQ(second->kid(), first->kid());
  StatusOr<PublicKey> from_point =
      PublicKey::FromEcPoint(EncodedPoint(pkey.get()));
  ASSERT_TRUE(from_point.ok()) << from_point.status().message();
  EXPECT_EQ(from_point->kid(), first->kid());
}

TEST(PublicKeyFromPemTest, DifferentKeysHaveDifferentKids) {
  PkeyPtr a = GenerateEc("P-256");
  PkeyPtr b = GenerateEc("P-256");
  StatusOr<PublicKey> ka = PublicKey::FromPem(PublicPem(a.get()));
  StatusOr<PublicKey> kb = PublicKey::FromPem(PublicPem(b.get()));
  ASSERT_TRUE(ka.ok() && kb.ok());
  EXPECT_NE(ka->kid(), kb->kid());
}

TEST(PublicKeyFromPemTest, RejectsRsaKey) {
  PkeyPtr rsa(EVP_RSA_gen(2048), EVP_PKEY_free);
  ASSERT_TRUE(rsa);
  StatusOr<PublicKey> key = PublicKey::FromPem(PublicPem(rsa.get()));
  ASSERT_FALSE(key.ok());
  EXPECT_EQ(key.status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(key.status().message(), "public key is not an ECDSA P-256 key");
}

TEST(PublicKeyFromPemTest, RejectsOtherCurves) {
  PkeyPtr p384 = GenerateEc("P-384");
  ASSERT_TRUE(p384);
  StatusOr<PublicKey> key = PublicKey::FromPem(PublicPem(p384.get()));
  ASSERT_FALSE(key.ok());
  EXPECT_EQ(key.status().code(), StatusCode::kInvalidArgument);
}

TEST(PublicKeyFromPemTest, RejectsGarbageAndPrivateKeys) {
  for (const std::string& bad :
       {std::string(""), std::string("not a pem"),
        std::string("-----BEGIN PUBLIC KEY-----\nAAAA\n-----END PUBLIC "
                    "KEY-----\n")}) {
    StatusOr<PublicKey> key = PublicKey::FromPem(bad);
    ASSERT_FALSE(key.ok()) << bad;
    EXPECT_EQ(key.status().code(), StatusCode::kInvalidArgument) << bad;
  }
  PkeyPtr pkey = GenerateEc("P-256");
  StatusOr<PublicKey> key = PublicKey::FromPem(PrivatePem(pkey.get()));
  ASSERT_FALSE(key.ok());
  EXPECT_EQ(key.status().code(), StatusCode::kInvalidArgument);
}

// ----------------------------------------------------------- FromEcPoint

TEST(PublicKeyFromEcPointTest, RejectsWrongSizeCompressedAndOffCurvePoints) {
  PkeyPtr pkey = GenerateEc("P-256");
  const std::string point = EncodedPoint(pkey.get());
  ASSERT_TRUE(PublicKey::FromEcPoint(point).ok());
  EXPECT_FALSE(PublicKey::FromEcPoint(point.substr(0, 64)).ok());
  EXPECT_FALSE(PublicKey::FromEcPoint("\x02" + point.substr(1)).ok());
  EXPECT_FALSE(PublicKey::FromEcPoint("\x04" + std::string(64, '\0')).ok());
  std::string off_curve = point;
  off_curve[64] = static_cast<char>(off_curve[64] ^ 1);
  EXPECT_FALSE(PublicKey::FromEcPoint(off_curve).ok());
}

TEST(PublicKeyVerifyTest, RejectsSignaturesOfTheWrongLength) {
  PkeyPtr pkey = GenerateEc("P-256");
  StatusOr<PublicKey> key = PublicKey::FromPem(PublicPem(pkey.get()));
  ASSERT_TRUE(key.ok());
  const std::string raw = EcdsaSignatureToRaw(SignDer(pkey.get(), "data"), 32);
  ASSERT_TRUE(key->VerifyEs256("data", raw));
  EXPECT_FALSE(key->VerifyEs256("data", raw.substr(0, 63)));
  EXPECT_FALSE(key->VerifyEs256("data", raw + "x"));
  EXPECT_FALSE(key->VerifyEs256("data", ""));
  EXPECT_FALSE(key->VerifyEs256("data", std::string(64, '\0')));
}

}  // namespace
}  // namespace authd

namespace authd {
namespace {

// RFC 7638 §3.1: the example RSA key and its thumbprint.
TEST(PublicKeyFromRsaTest, KidIsTheRfc7638Thumbprint) {
  const std::string n =
      "0vx7agoebGcQSuuPiLJXZptN9nndrQmbXEps2aiAFbWhM78LhWx4cbbfAAtVT86zwu1RK7aP"
      "FFxuhDR1L6tSoc_BJECPebWKRXjBZCiFV4n3oknjhMstn64tZ_2W-5JsGY4Hc5n9yBXArwl9"
      "3lqt7_RN5w6Cf0h4QyQ5v-65YGjQR0_FDW2QvzqY368QQMicAtaSqzs8KJZgnYb9c7d0zgdA"
      "ZHzu6qMQvRL5hajrn1n91CbOpbISD08qNLyrdkt-bFTWhAI4vMQFh6WeZu0fM4lFd2NcRwr3"
      "XPksINHaQ-G_xBniIqbw0Ls1jF44-csFCur-kEgU8awapJzKnqDKgw";
  auto key = PublicKey::FromRsa(Base64UrlDecode(n).value(),
                                Base64UrlDecode("AQAB").value());
  ASSERT_TRUE(key.ok()) << key.status().message();
  EXPECT_EQ(key->kid(), "NzbLsXh8uDCcd-6MNwXF4W_7noWXFZAfHkxZsRGC9Xs");
  EXPECT_EQ(key->algorithm(), Algorithm::kRS256);
  auto members = key->JwkMembers();
  ASSERT_EQ(members.size(), 3u);
  EXPECT_EQ(members[0], (std::pair<std::string, std::string>{"kty", "RSA"}));
  EXPECT_EQ(members[1].second, n);
  EXPECT_EQ(members[2].second, "AQAB");
}

TEST(PublicKeyFromRsaTest, RejectsShortModulus) {
  std::string n(128, '\xff');  // 1024 bits
  EXPECT_FALSE(PublicKey::FromRsa(n, std::string("\x01\x00\x01", 3)).ok());
}

TEST(PublicKeyFromRsaTest, VerifiesRs256SignaturesFromOpenSsl) {
  EVP_PKEY* pkey = EVP_RSA_gen(2048);
  ASSERT_NE(pkey, nullptr);
  BIGNUM *bn_n = nullptr, *bn_e = nullptr;
  ASSERT_EQ(EVP_PKEY_get_bn_param(pkey, OSSL_PKEY_PARAM_RSA_N, &bn_n), 1);
  ASSERT_EQ(EVP_PKEY_get_bn_param(pkey, OSSL_PKEY_PARAM_RSA_E, &bn_e), 1);
  std::string n(BN_num_bytes(bn_n), '\0'), e(BN_num_bytes(bn_e), '\0');
  BN_bn2bin(bn_n, reinterpret_cast<unsigned char*>(n.data()));
  BN_bn2bin(bn_e, reinterpret_cast<unsigned char*>(e.data()));
  BN_free(bn_n);
  BN_free(bn_e);
  auto key = PublicKey::FromRsa(n, e);
  ASSERT_TRUE(key.ok());
  const std::string data = "header.claims";
  EVP_MD_CTX* md = EVP_MD_CTX_new();
  size_t len = 0;
  ASSERT_EQ(EVP_DigestSignInit(md, nullptr, EVP_sha256(), nullptr, pkey), 1);
  ASSERT_EQ(EVP_DigestSign(md, nullptr, &len,
                           reinterpret_cast<const unsigned char*>(data.data()),
                           data.size()),
            1);
  std::string sig(len, '\0');
  ASSERT_EQ(
      EVP_DigestSign(md, reinterpret_cast<unsigned char*>(sig.data()), &len,
                     reinterpret_cast<const unsigned char*>(data.data()),
                     data.size()),
      1);
  EVP_MD_CTX_free(md);
  EVP_PKEY_free(pkey);
  EXPECT_TRUE(key->Verify(data, sig));
  sig[10] ^= 1;
  EXPECT_FALSE(key->Verify(data, sig));
  EXPECT_FALSE(key->Verify("header.claimz", sig));
}

}  // namespace
}  // namespace authd
