#include "hsm/pkcs11_key_ops.h"

#include <gtest/gtest.h>
#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/ecdsa.h>
#include <openssl/evp.h>
#include <openssl/sha.h>
#include <openssl/x509.h>

#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "common/encoding.h"
#include "common/sha256.h"
#include "testing/softhsm_token.h"

namespace authd::hsm {
namespace {

using authd::testing::SoftHsmToken;

// The first Creates on the fresh token, run before any test so the test order
// cannot decide which Create generates the keys, and a wrong PIN meets a
// token nobody in the process is logged in to.
struct FirstCreate : ::testing::Environment {
  static inline std::vector<std::string> created;
  static inline std::string token_kid, audit_kid;
  static inline Status status;
  static inline Status wrong_pin_status;

  void SetUp() override {
    static bool done = false;  // once per process, also under --gtest_repeat
    if (done) return;
    done = true;
    const SoftHsmToken& token = SoftHsmToken::Get();
    wrong_pin_status =
        Pkcs11KeyOps::Create({"softhsm2", token.uri(),
                              SecureString(std::string_view("wrong-pin-0000")),
                              2})
            .status();
    auto ops = Pkcs11KeyOps::Create(
        {"softhsm2", token.uri(), SecureString(token.pin), 2}, &created);
    status = ops.status();
    if (!ops.ok()) return;
    token_kid = (*ops)->Public(KeyUse::kToken).kid();
    audit_kid = (*ops)->Public(KeyUse::kAudit).kid();
  }
};
[[maybe_unused]] ::testing::Environment* const kFirstCreate =
    ::testing::AddGlobalTestEnvironment(new FirstCreate);

HsmOptions Options(std::string pin) {
  const SoftHsmToken& token = SoftHsmToken::Get();
  return {"softhsm2", token.uri(), SecureString(std::string_view(pin)), 2};
}

const Pkcs11KeyOps& Keys() { return SoftHsmToken::Keys(); }

// Verifies a raw r||s ES256 signature with nothing but OpenSSL and the DER
// SubjectPublicKeyInfo, independently of PublicKey::VerifyEs256.
bool OpenSslVerify(const std::string& spki_der, std::string_view data,
                   std::string_view raw_sig) {
  if (raw_sig.size() != 64) return false;
  const unsigned char* p =
      reinterpret_cast<const unsigned char*>(spki_der.data());
  std::unique_ptr<EVP_PKEY, decltype(&EVP_PKEY_free)> pkey(
      d2i_PUBKEY(nullptr, &p, static_cast<long>(spki_der.size())),
      EVP_PKEY_free);
  if (!pkey) return false;
  std::unique_ptr<ECDSA_SIG, decltype(&ECDSA_SIG_free)> sig(ECDSA_SIG_new(),
                                                            ECDSA_SIG_free);
  const auto* raw = reinterpret_cast<const unsigned char*>(raw_sig.data());
  ECDSA_SIG_set0(sig.get(), BN_bin2bn(raw, 32, nullptr),
                 BN_bin2bn(raw + 32, 32, nullptr));
  unsigned char* der = nullptr;
  int der_len = i2d_ECDSA_SIG(sig.get(), &der);
  std::unique_ptr<EVP_MD_CTX, decltype(&EVP_MD_CTX_free)> md(EVP_MD_CTX_new(),
                                                             EVP_MD_CTX_free);
  bool ok =
      der_len > 0 &&
      EVP_DigestVerifyInit(md.get(), nullptr, EVP_sha256(), nullptr,
                           pkey.get()) == 1 &&
      EVP_DigestVerify(md.get(), der, static_cast<size_t>(der_len),
                       reinterpret_cast<const unsigned char*>(data.data()),
                       data.size()) == 1;
  OPENSSL_free(der);
  return ok;
}

// The uncompressed point 0x04||X||Y read from the SPKI by OpenSSL.
std::string PointFromSpki(const std::string& spki_der) {
  const unsigned char* p =
      reinterpret_cast<const unsigned char*>(spki_der.data());
  std::unique_ptr<EVP_PKEY, decltype(&EVP_PKEY_free)> pkey(
      d2i_PUBKEY(nullptr, &p, static_cast<long>(spki_der.size())),
      EVP_PKEY_free);
  if (!pkey) return "";
  unsigned char point[65];
  size_t len = 0;
  if (EVP_PKEY_get_octet_string_param(pkey.get(),
                                      OSSL_PKEY_PARAM_ENCODED_PUBLIC_KEY, point,
                                      sizeof point, &len) != 1) {
    return "";
  }
  return std::string(reinterpret_cast<char*>(point), len);
}

std::string FlipBit(std::string s, size_t byte, int bit) {
  s[byte] = static_cast<char>(s[byte] ^ (1 << bit));
  return s;
}

// ---------------------------------------------------------- provisioning

TEST(Pkcs11KeyOpsCreateTest, FirstCreateGeneratesAllThreeKeys) {
  ASSERT_TRUE(FirstCreate::status.ok()) << FirstCreate::status.message();
  EXPECT_EQ(
      FirstCreate::created,
      (std::vector<std::string>{kTokenKeyLabel, kAuditKeyLabel, kPepperLabel}));
}

TEST(Pkcs11KeyOpsCreateTest, SecondCreateFindsTheSameKeys) {
  std::vector<std::string> created;
  auto ops = Pkcs11KeyOps::Create(Options(SoftHsmToken::Get().pin), &created);
  ASSERT_TRUE(ops.ok()) << ops.status().message();
  EXPECT_TRUE(created.empty());
  EXPECT_EQ((*ops)->Public(KeyUse::kToken).kid(), FirstCreate::token_kid);
  EXPECT_EQ((*ops)->Public(KeyUse::kAudit).kid(), FirstCreate::audit_kid);
  EXPECT_EQ((*ops)->Public(KeyUse::kToken).kid(),
            Keys().Public(KeyUse::kToken).kid());
  // Both instances share the pepper: the same MAC from either.
  auto a = (*ops)->HmacPepper("same input");
  auto b = Keys().HmacPepper("same input");
  ASSERT_TRUE(a.ok() && b.ok());
  EXPECT_EQ(*a, *b);
}

TEST(Pkcs11KeyOpsCreateTest, WrongPinIsPermissionDenied) {
  const Status& st = FirstCreate::wrong_pin_status;
  ASSERT_FALSE(st.ok());
  EXPECT_EQ(st.code(), StatusCode::kPermissionDenied);
  EXPECT_EQ(st.message(), "HSM C_Login failed: CKR_PIN_INCORRECT");
}

// A wrong PIN must fail even while another instance in the process holds a
// login on the same token (PKCS#11 login state is per application, so
// C_Login answers CKR_USER_ALREADY_LOGGED_IN without checking the PIN).
TEST(Pkcs11KeyOpsCreateTest, WrongPinFailsWhileAnotherInstanceIsLoggedIn) {
  ASSERT_TRUE(Keys().Random(1).ok());  // the shared instance is logged in
  auto ops = Pkcs11KeyOps::Create(Options("wrong-pin-0000"));
  ASSERT_FALSE(ops.ok()) << "Create accepted a wrong PIN";
  EXPECT_EQ(ops.status().code(), StatusCode::kPermissionDenied);
  EXPECT_NE(ops.status().message().find("CKR_PIN_INCORRECT"), std::string::npos)
      << ops.status().message();
}

TEST(Pkcs11KeyOpsCreateTest, UnknownModuleNameFailsClearly) {
  HsmOptions options = Options(SoftHsmToken::Get().pin);
  options.module = "no-such-module";
  auto ops = Pkcs11KeyOps::Create(std::move(options));
  ASSERT_FALSE(ops.ok());
  EXPECT_EQ(ops.status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(ops.status().message(),
            "no p11-kit module named 'no-such-module' (see `p11-kit "
            "list-modules`)");
}

TEST(Pkcs11KeyOpsCreateTest, MissingLibraryPathFailsNamingThePath) {
  HsmOptions options = Options(SoftHsmToken::Get().pin);
  options.module = "/nonexistent/libpkcs11-nothing.so";
  auto ops = Pkcs11KeyOps::Create(std::move(options));
  ASSERT_FALSE(ops.ok());
  EXPECT_EQ(ops.status().code(), StatusCode::kInvalidArgument);
  EXPECT_NE(ops.status().message().find(
                "cannot load PKCS#11 module /nonexistent/libpkcs11-nothing.so"),
            std::string::npos)
      << ops.status().message();
}

TEST(Pkcs11KeyOpsCreateTest, UnknownTokenIsNotFound) {
  HsmOptions options = Options(SoftHsmToken::Get().pin);
  options.token_uri = "pkcs11:token=no-such-token";
  auto ops = Pkcs11KeyOps::Create(std::move(options));
  ASSERT_FALSE(ops.ok());
  EXPECT_EQ(ops.status().code(), StatusCode::kNotFound);
  EXPECT_EQ(ops.status().message(),
            "no initialized token matches pkcs11:token=no-such-token");
}

TEST(Pkcs11KeyOpsCreateTest, MalformedTokenUriIsInvalidArgument) {
  HsmOptions options = Options(SoftHsmToken::Get().pin);
  options.token_uri = "token=authd";
  auto ops = Pkcs11KeyOps::Create(std::move(options));
  ASSERT_FALSE(ops.ok());
  EXPECT_EQ(ops.status().code(), StatusCode::kInvalidArgument);
  EXPECT_NE(ops.status().message().find("not a valid PKCS#11 URI"),
            std::string::npos)
      << ops.status().message();
}

// ------------------------------------------------------- key attributes

struct KeyObject {
  const char* label;
  CK_OBJECT_CLASS cls;
};

class KeyAttributeTest : public ::testing::TestWithParam<KeyObject> {};

TEST_P(KeyAttributeTest, SecretMaterialCannotLeaveTheHsm) {
  const auto [label, cls] = GetParam();
  struct Want {
    CK_ATTRIBUTE_TYPE type;
    const char* name;
    bool value;
  };
  for (const Want& want : {
           Want{CKA_TOKEN, "CKA_TOKEN", true},
           Want{CKA_PRIVATE, "CKA_PRIVATE", true},
           Want{CKA_SENSITIVE, "CKA_SENSITIVE", true},
           Want{CKA_EXTRACTABLE, "CKA_EXTRACTABLE", false},
           Want{CKA_ALWAYS_SENSITIVE, "CKA_ALWAYS_SENSITIVE", true},
           Want{CKA_NEVER_EXTRACTABLE, "CKA_NEVER_EXTRACTABLE", true},
       }) {
    StatusOr<bool> value = Keys().KeyAttribute(label, cls, want.type);
    ASSERT_TRUE(value.ok())
        << label << " " << want.name << ": " << value.status().message();
    EXPECT_EQ(*value, want.value) << label << " " << want.name;
  }
}

// SPEC "Security rules": only its one use — sign (ES256, or HMAC with the
// pepper) or verify on a public half; never encrypt, decrypt, wrap, unwrap
// or derive, which SoftHSM2 grants when a template leaves them out.
struct UsageWant {
  CK_ATTRIBUTE_TYPE type;
  const char* name;
  bool value;
};

void ExpectUsages(const std::string& label, CK_OBJECT_CLASS cls) {
  std::vector<UsageWant> wants;
  if (cls == CKO_PUBLIC_KEY) {
    wants = {{CKA_VERIFY, "CKA_VERIFY", true},
             {CKA_ENCRYPT, "CKA_ENCRYPT", false},
             {CKA_WRAP, "CKA_WRAP", false},
             {CKA_DERIVE, "CKA_DERIVE", false}};
  } else {
    wants = {{CKA_SIGN, "CKA_SIGN", true},
             {CKA_DECRYPT, "CKA_DECRYPT", false},
             {CKA_UNWRAP, "CKA_UNWRAP", false},
             {CKA_DERIVE, "CKA_DERIVE", false}};
  }
  if (cls == CKO_SECRET_KEY) {
    wants.push_back({CKA_VERIFY, "CKA_VERIFY", false});
    wants.push_back({CKA_ENCRYPT, "CKA_ENCRYPT", false});
    wants.push_back({CKA_WRAP, "CKA_WRAP", false});
  }
  for (const UsageWant& want : wants) {
    StatusOr<bool> value = Keys().KeyAttribute(label, cls, want.type);
    ASSERT_TRUE(value.ok())
        << label << " " << want.name << ": " << value.status().message();
    EXPECT_EQ(*value, want.value) << label << " " << want.name;
  }
}

TEST_P(KeyAttributeTest, KeyAllowsOnlyItsOneUse) {
  const auto [label, cls] = GetParam();
  ExpectUsages(label, cls);
  if (cls == CKO_PRIVATE_KEY) ExpectUsages(label, CKO_PUBLIC_KEY);
}

INSTANTIATE_TEST_SUITE_P(
    Keys, KeyAttributeTest,
    ::testing::Values(KeyObject{kTokenKeyLabel, CKO_PRIVATE_KEY},
                      KeyObject{kAuditKeyLabel, CKO_PRIVATE_KEY},
                      KeyObject{kPepperLabel, CKO_SECRET_KEY}));

TEST(KeyAttributeLookupTest, UnknownLabelIsNotFound) {
  StatusOr<bool> value =
      Keys().KeyAttribute("no-such-key", CKO_PRIVATE_KEY, CKA_TOKEN);
  ASSERT_FALSE(value.ok());
  EXPECT_EQ(value.status().code(), StatusCode::kNotFound);
}

// ---------------------------------------------------------------- ES256

TEST(SignEs256Test, SignatureIs64BytesAndVerifies) {
  for (KeyUse use : {KeyUse::kToken, KeyUse::kAudit}) {
    const std::string data = "header.claims";
    StatusOr<std::string> sig = Keys().SignEs256(use, data);
    ASSERT_TRUE(sig.ok()) << sig.status().message();
    EXPECT_EQ(sig->size(), 64u);
    EXPECT_TRUE(Keys().Public(use).VerifyEs256(data, *sig));
    EXPECT_TRUE(OpenSslVerify(Keys().Public(use).spki_der(), data, *sig));
  }
}

TEST(SignEs256Test, FlippedBitFailsVerification) {
  const std::string data = "payload to sign";
  StatusOr<std::string> sig = Keys().SignEs256(KeyUse::kToken, data);
  ASSERT_TRUE(sig.ok()) << sig.status().message();
  const PublicKey& key = Keys().Public(KeyUse::kToken);
  ASSERT_TRUE(key.VerifyEs256(data, *sig));
  for (size_t byte : {size_t{0}, size_t{31}, size_t{32}, size_t{63}}) {
    std::string bad = FlipBit(*sig, byte, 0);
    EXPECT_FALSE(key.VerifyEs256(data, bad)) << byte;
    EXPECT_FALSE(OpenSslVerify(key.spki_der(), data, bad)) << byte;
  }
  EXPECT_FALSE(key.VerifyEs256(FlipBit(data, 3, 5), *sig));
  EXPECT_FALSE(key.VerifyEs256(data, sig->substr(0, 63)));
}

TEST(SignEs256Test, TokenAndAuditKeysAreDistinct) {
  const PublicKey& token = Keys().Public(KeyUse::kToken);
  const PublicKey& audit = Keys().Public(KeyUse::kAudit);
  EXPECT_NE(token.kid(), audit.kid());
  EXPECT_NE(token.spki_der(), audit.spki_der());
  StatusOr<std::string> sig = Keys().SignEs256(KeyUse::kAudit, "entry");
  ASSERT_TRUE(sig.ok()) << sig.status().message();
  EXPECT_TRUE(audit.VerifyEs256("entry", *sig));
  EXPECT_FALSE(token.VerifyEs256("entry", *sig));
}

TEST(SignEs256Test, ConcurrentSignaturesAllVerify) {
  constexpr int kThreads = 8;
  constexpr int kPerThread = 50;
  std::vector<std::vector<std::string>> sigs(kThreads);
  std::vector<int> failures(kThreads, 0);
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < kPerThread; ++i) {
        std::string data = std::to_string(t) + "/" + std::to_string(i);
        StatusOr<std::string> sig = Keys().SignEs256(KeyUse::kToken, data);
        if (sig.ok()) {
          sigs[t].push_back(*sig);
        } else {
          ++failures[t];
        }
      }
    });
  }
  for (auto& th : threads) th.join();
  const PublicKey& key = Keys().Public(KeyUse::kToken);
  for (int t = 0; t < kThreads; ++t) {
    EXPECT_EQ(failures[t], 0) << "thread " << t;
    ASSERT_EQ(sigs[t].size(), static_cast<size_t>(kPerThread));
    for (int i = 0; i < kPerThread; ++i) {
      std::string data = std::to_string(t) + "/" + std::to_string(i);
      EXPECT_TRUE(key.VerifyEs256(data, sigs[t][i])) << data;
    }
  }
  EXPECT_TRUE(Keys().Ready());
}

// ------------------------------------------------------------ HMAC pepper

TEST(HmacPepperTest, DeterministicThirtyTwoBytes) {
  StatusOr<std::string> a = Keys().HmacPepper("client-id\0secret");
  StatusOr<std::string> b = Keys().HmacPepper("client-id\0secret");
  ASSERT_TRUE(a.ok()) << a.status().message();
  ASSERT_TRUE(b.ok()) << b.status().message();
  EXPECT_EQ(a->size(), 32u);
  EXPECT_EQ(*a, *b);
}

TEST(HmacPepperTest, DiffersForDifferentInput) {
  StatusOr<std::string> a = Keys().HmacPepper("secret-a");
  StatusOr<std::string> b = Keys().HmacPepper("secret-b");
  StatusOr<std::string> empty = Keys().HmacPepper("");
  ASSERT_TRUE(a.ok() && b.ok() && empty.ok());
  EXPECT_NE(*a, *b);
  EXPECT_NE(*a, *empty);
  EXPECT_EQ(empty->size(), 32u);
  // Keyed: not the bare hash of the input.
  EXPECT_NE(*a, Sha256("secret-a"));
}

// ---------------------------------------------------------------- Random

TEST(RandomTest, ReturnsDistinctOutputsOfTheRequestedSize) {
  for (size_t n : {size_t{1}, size_t{16}, size_t{32}, size_t{100}}) {
    StatusOr<std::string> r = Keys().Random(n);
    ASSERT_TRUE(r.ok()) << r.status().message();
    EXPECT_EQ(r->size(), n);
  }
  StatusOr<std::string> a = Keys().Random(32);
  StatusOr<std::string> b = Keys().Random(32);
  ASSERT_TRUE(a.ok() && b.ok());
  EXPECT_NE(*a, *b);
  EXPECT_NE(*a, std::string(32, '\0'));
}

// ------------------------------------------------------------ public key

TEST(PublicKeyFromHsmTest, JwkCoordinatesMatchTheSpki) {
  const PublicKey& key = Keys().Public(KeyUse::kToken);
  const std::string point = PointFromSpki(key.spki_der());
  ASSERT_EQ(point.size(), 65u);
  EXPECT_EQ(point[0], 0x04);
  EXPECT_EQ(key.jwk_x(), Base64UrlEncode(point.substr(1, 32)));
  EXPECT_EQ(key.jwk_y(), Base64UrlEncode(point.substr(33, 32)));
  EXPECT_EQ(key.jwk_x().size(), 43u);
  EXPECT_EQ(key.jwk_y().size(), 43u);
}

// RFC 7638 §3.2: the required members in lexicographic order, no whitespace,
// hashed with SHA-256 and base64url-encoded.
TEST(PublicKeyFromHsmTest, KidIsTheRfc7638Thumbprint) {
  for (KeyUse use : {KeyUse::kToken, KeyUse::kAudit}) {
    const PublicKey& key = Keys().Public(use);
    const std::string canonical = "{\"crv\":\"P-256\",\"kty\":\"EC\",\"x\":\"" +
                                  key.jwk_x() + "\",\"y\":\"" + key.jwk_y() +
                                  "\"}";
    EXPECT_EQ(key.kid(), Base64UrlEncode(Sha256(canonical)));
    EXPECT_EQ(key.kid().size(), 43u);
  }
}

TEST(PublicKeyFromHsmTest, PemRoundTrips) {
  const PublicKey& key = Keys().Public(KeyUse::kToken);
  EXPECT_EQ(key.pem().rfind("-----BEGIN PUBLIC KEY-----\n", 0), 0u);
  StatusOr<PublicKey> again = PublicKey::FromPem(key.pem());
  ASSERT_TRUE(again.ok()) << again.status().message();
  EXPECT_EQ(again->spki_der(), key.spki_der());
  EXPECT_EQ(again->kid(), key.kid());
}

// Key-ring keys of both algorithms: generated in the HSM with the same
// protections, signatures verify with the public key, and a label cannot be
// generated twice.
TEST(SigningKeyTest, GenerateSignAndProtect) {
  for (Algorithm alg : {Algorithm::kES256, Algorithm::kRS256}) {
    std::string label = std::string("test-ring-") + AlgorithmName(alg);
    auto pub = Keys().GenerateSigningKey(label, alg);
    ASSERT_TRUE(pub.ok()) << pub.status().message();
    EXPECT_EQ(pub->algorithm(), alg);
    auto sig = Keys().SignWith(label, "signing input");
    ASSERT_TRUE(sig.ok()) << sig.status().message();
    EXPECT_EQ(sig->size(), alg == Algorithm::kES256 ? 64u : 256u);
    EXPECT_TRUE(pub->Verify("signing input", *sig));
    EXPECT_FALSE(pub->Verify("signing inpuT", *sig));
    for (auto [attr, want] :
         {std::pair{CKA_SENSITIVE, true}, std::pair{CKA_EXTRACTABLE, false},
          std::pair{CKA_PRIVATE, true}}) {
      auto v = Keys().KeyAttribute(label, CKO_PRIVATE_KEY, attr);
      ASSERT_TRUE(v.ok());
      EXPECT_EQ(*v, want) << label << " attribute " << attr;
    }
    ExpectUsages(label, CKO_PRIVATE_KEY);
    ExpectUsages(label, CKO_PUBLIC_KEY);
    EXPECT_EQ(Keys().GenerateSigningKey(label, alg).status().code(),
              StatusCode::kAlreadyExists);
    auto loaded = Keys().LoadSigningKey(label);
    ASSERT_TRUE(loaded.ok());
    EXPECT_EQ(loaded->kid(), pub->kid());
  }
  EXPECT_EQ(Keys().SignWith("no-such-label", "x").status().code(),
            StatusCode::kNotFound);
}

}  // namespace
}  // namespace authd::hsm
