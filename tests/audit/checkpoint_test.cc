#include "audit/checkpoint.h"

#include <gtest/gtest.h>
#include <openssl/bio.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/sha.h>

#include <memory>
#include <string>
#include <vector>

#include "audit/merkle.h"
#include "common/encoding.h"
#include "common/public_key.h"

namespace authd::audit {
namespace {

constexpr std::string_view kOrigin = "authd.example/audit";
constexpr std::string_view kEmDash = "\xE2\x80\x94";

struct PkeyFree {
  void operator()(EVP_PKEY* p) const noexcept { EVP_PKEY_free(p); }
};
using PkeyPtr = std::unique_ptr<EVP_PKEY, PkeyFree>;

// A P-256 key made with OpenSSL, plus its public half as authd sees it.
struct TestKey {
  PkeyPtr pkey;
  PublicKey pub;
};

TestKey MakeKey() {
  PkeyPtr pkey(EVP_PKEY_Q_keygen(nullptr, nullptr, "EC", "P-256"));
  EXPECT_TRUE(pkey);
  std::unique_ptr<BIO, decltype(&BIO_free)> bio(BIO_new(BIO_s_mem()), BIO_free);
  EXPECT_EQ(PEM_write_bio_PUBKEY(bio.get(), pkey.get()), 1);
  char* data = nullptr;
  long len = BIO_get_mem_data(bio.get(), &data);
  StatusOr<PublicKey> pub =
      PublicKey::FromPem(std::string_view(data, static_cast<size_t>(len)));
  EXPECT_TRUE(pub.ok()) << pub.status().message();
  return {std::move(pkey), std::move(pub).value()};
}

// ECDSA with SHA-256 over `message`; OpenSSL returns a DER ECDSA-Sig-Value.
std::string SignDer(EVP_PKEY* pkey, std::string_view message) {
  std::unique_ptr<EVP_MD_CTX, decltype(&EVP_MD_CTX_free)> ctx(EVP_MD_CTX_new(),
                                                              EVP_MD_CTX_free);
  const auto* msg = reinterpret_cast<const unsigned char*>(message.data());
  size_t len = 0;
  EXPECT_EQ(EVP_DigestSignInit(ctx.get(), nullptr, EVP_sha256(), nullptr, pkey),
            1);
  EXPECT_EQ(EVP_DigestSign(ctx.get(), nullptr, &len, msg, message.size()), 1);
  std::string sig(len, '\0');
  EXPECT_EQ(
      EVP_DigestSign(ctx.get(), reinterpret_cast<unsigned char*>(sig.data()),
                     &len, msg, message.size()),
      1);
  sig.resize(len);
  return sig;
}

std::string Root(std::string_view seed) { return LeafHash(seed); }

class CheckpointTest : public ::testing::Test {
 protected:
  CheckpointTest() : key_(MakeKey()), other_(MakeKey()) {}

  Checkpoint MakeCheckpoint() const {
    return {std::string(kOrigin), 20852163, Root("tree")};
  }
  std::string Sign(std::string_view body, const TestKey& by,
                   std::string_view name = kOrigin) const {
    return FormatSignedNote(body, name, NoteKeyId(name, by.pub),
                            SignDer(by.pkey.get(), body));
  }

  TestKey key_;
  TestKey other_;
};

TEST(CheckpointBodyTest, FormatsAndParsesTheSpecLayout) {
  // The example of c2sp.org/tlog-checkpoint.
  std::string root =
      *Base64Decode("CsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=");
  Checkpoint cp{"example.com/behind-the-sofa", 20852163, root};
  std::string body = CheckpointBody(cp);
  EXPECT_EQ(body,
            "example.com/behind-the-sofa\n20852163\n"
            "CsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=\n");
  StatusOr<Checkpoint> parsed = ParseCheckpointBody(body);
  ASSERT_TRUE(parsed.ok()) << parsed.status().message();
  EXPECT_EQ(parsed->origin, cp.origin);
  EXPECT_EQ(parsed->size, cp.size);
  EXPECT_EQ(parsed->root_hash, root);
}

TEST(CheckpointBodyTest, SizeBounds) {
  std::string root = Base64Encode(Root("x"));
  for (std::string size : {"0", "1", "18446744073709551615"}) {
    StatusOr<Checkpoint> cp =
        ParseCheckpointBody("o\n" + size + "\n" + root + "\n");
    ASSERT_TRUE(cp.ok()) << size << ": " << cp.status().message();
    EXPECT_EQ(std::to_string(cp->size), size);
  }
  for (std::string size : {"", "00", "01", "+1", "-1", " 1", "1 ", "0x1",
                           "18446744073709551616", "99999999999999999999"}) {
    EXPECT_FALSE(ParseCheckpointBody("o\n" + size + "\n" + root + "\n").ok())
        << size;
  }
}

TEST(CheckpointBodyTest, RejectsMalformedBodies) {
  const std::string root = Base64Encode(Root("x"));
  const std::string good = "o\n5\n" + root + "\n";
  ASSERT_TRUE(ParseCheckpointBody(good).ok());
  std::vector<std::string> bad = {
      "",
      "o\n5\n" + root,                                      // no final newline
      "o\n5\n",                                             // no root
      "\n5\n" + root + "\n",                                // empty origin
      "o\n5\n" + root + "\nextension\n",                    // extension line
      "o\n5\n" + root + "\n\n",                             // trailing blank
      "o\r\n5\n" + root + "\n",                             // CR
      "o\t1\n5\n" + root + "\n",                            // control character
      "o\xff\n5\n" + root + "\n",                           // invalid UTF-8
      "o\n5\n" + Base64Encode(Root("x").substr(1)) + "\n",  // 31 bytes
      "o\n5\n" + Base64Encode(Root("x") + "y") + "\n",      // 33 bytes
      "o\n5\n" + root.substr(0, root.size() - 1) + "\n",    // no padding
      "o\n5\n" + root + " \n",                              // trailing space
  };
  for (const std::string& body : bad) {
    StatusOr<Checkpoint> cp = ParseCheckpointBody(body);
    EXPECT_FALSE(cp.ok()) << Base64Encode(body);
    if (!cp.ok()) {
      EXPECT_EQ(cp.status().code(), StatusCode::kInvalidArgument);
    }
  }
}

TEST_F(CheckpointTest, KeyIdIsTruncatedSha256OfSpki) {
  unsigned char digest[SHA256_DIGEST_LENGTH];
  const std::string& der = key_.pub.spki_der();
  SHA256(reinterpret_cast<const unsigned char*>(der.data()), der.size(),
         digest);
  std::string want(reinterpret_cast<char*>(digest), 4);
  EXPECT_EQ(NoteKeyId(kOrigin, key_.pub), want);
  // Type 0x02 does not hash the key name.
  EXPECT_EQ(NoteKeyId("another.name", key_.pub), want);
  EXPECT_NE(NoteKeyId(kOrigin, other_.pub), want);
}

TEST_F(CheckpointTest, SignedNoteHasTheSpecLayout) {
  std::string body = CheckpointBody(MakeCheckpoint());
  std::string sig = SignDer(key_.pkey.get(), body);
  std::string id = NoteKeyId(kOrigin, key_.pub);
  std::string note = FormatSignedNote(body, kOrigin, id, sig);
  EXPECT_EQ(note, body + "\n" + std::string(kEmDash) + " " +
                      std::string(kOrigin) + " " + Base64Encode(id + sig) +
                      "\n");
  EXPECT_EQ(static_cast<unsigned char>(sig[0]), 0x30);  // DER SEQUENCE
}

TEST_F(CheckpointTest, VerifiesAGoodNote) {
  Checkpoint want = MakeCheckpoint();
  std::string note = Sign(CheckpointBody(want), key_);
  for (std::string_view origin : {std::string_view(), kOrigin}) {
    StatusOr<Checkpoint> cp =
        VerifySignedCheckpoint(note, origin, kOrigin, key_.pub);
    ASSERT_TRUE(cp.ok()) << cp.status().message();
    EXPECT_EQ(cp->origin, want.origin);
    EXPECT_EQ(cp->size, want.size);
    EXPECT_EQ(cp->root_hash, want.root_hash);
  }
}

TEST_F(CheckpointTest, EveryBitFlipIsRejected) {
  std::string note = Sign(CheckpointBody(MakeCheckpoint()), key_);
  ASSERT_TRUE(VerifySignedCheckpoint(note, kOrigin, kOrigin, key_.pub).ok());
  for (size_t i = 0; i < note.size(); ++i) {
    for (int bit = 0; bit < 8; ++bit) {
      std::string bad = note;
      bad[i] = static_cast<char>(bad[i] ^ (1 << bit));
      StatusOr<Checkpoint> cp =
          VerifySignedCheckpoint(bad, kOrigin, kOrigin, key_.pub);
      EXPECT_FALSE(cp.ok()) << "byte " << i << " bit " << bit;
    }
  }
}

TEST_F(CheckpointTest, WrongKeyIsRejected) {
  std::string note = Sign(CheckpointBody(MakeCheckpoint()), key_);
  StatusOr<Checkpoint> cp =
      VerifySignedCheckpoint(note, kOrigin, kOrigin, other_.pub);
  ASSERT_FALSE(cp.ok());
  EXPECT_EQ(cp.status().code(), StatusCode::kUnauthenticated);
  // The message names the signer that is present so an auditor can tell a
  // key rotation from a forgery.
  EXPECT_NE(cp.status().message().find(HexEncode(NoteKeyId("", key_.pub))),
            std::string::npos)
      << cp.status().message();
}

TEST_F(CheckpointTest, MatchingNameAndIdWithBadSignatureIsRejected) {
  std::string body = CheckpointBody(MakeCheckpoint());
  // Claims to be key_ but is signed by other_.
  std::string note =
      FormatSignedNote(body, kOrigin, NoteKeyId(kOrigin, key_.pub),
                       SignDer(other_.pkey.get(), body));
  StatusOr<Checkpoint> cp = VerifySignedCheckpoint(note, "", kOrigin, key_.pub);
  ASSERT_FALSE(cp.ok());
  EXPECT_EQ(cp.status().code(), StatusCode::kUnauthenticated);
  EXPECT_NE(cp.status().message().find("does not verify"), std::string::npos);
}

TEST_F(CheckpointTest, WrongNameIsRejected) {
  std::string note = Sign(CheckpointBody(MakeCheckpoint()), key_);
  StatusOr<Checkpoint> cp =
      VerifySignedCheckpoint(note, "", "authd.example/other", key_.pub);
  ASSERT_FALSE(cp.ok());
  EXPECT_EQ(cp.status().code(), StatusCode::kUnauthenticated);
}

TEST_F(CheckpointTest, WrongOriginIsRejected) {
  std::string note = Sign(CheckpointBody(MakeCheckpoint()), key_);
  StatusOr<Checkpoint> cp =
      VerifySignedCheckpoint(note, "authd.example/other", kOrigin, key_.pub);
  ASSERT_FALSE(cp.ok());
  EXPECT_EQ(cp.status().code(), StatusCode::kInvalidArgument);
}

TEST_F(CheckpointTest, MissingSignatureLineIsRejected) {
  std::string body = CheckpointBody(MakeCheckpoint());
  for (const std::string& note : {body, body + "\n", std::string()}) {
    EXPECT_FALSE(VerifySignedCheckpoint(note, "", kOrigin, key_.pub).ok());
  }
  // Dropping the newline that ends the signature line.
  std::string note = Sign(body, key_);
  note.pop_back();
  EXPECT_FALSE(VerifySignedCheckpoint(note, "", kOrigin, key_.pub).ok());
}

TEST_F(CheckpointTest, CorrectlySignedMalformedBodyIsRejected) {
  const std::string root = Base64Encode(Root("x"));
  for (const std::string& body :
       {std::string(kOrigin) + "\n01\n" + root + "\n",
        std::string(kOrigin) + "\n1\n" + root + "\next\n",
        std::string(kOrigin) + "\n1\n" + Base64Encode("short") + "\n",
        std::string(kOrigin) + "\n1\n"}) {
    std::string note = Sign(body, key_);
    ASSERT_TRUE(VerifySignedNote(note, kOrigin, key_.pub).ok());
    StatusOr<Checkpoint> cp =
        VerifySignedCheckpoint(note, "", kOrigin, key_.pub);
    ASSERT_FALSE(cp.ok()) << body;
    EXPECT_EQ(cp.status().code(), StatusCode::kInvalidArgument);
  }
}

TEST_F(CheckpointTest, OtherKeysSignaturesAreIgnored) {
  std::string body = CheckpointBody(MakeCheckpoint());
  std::string mine = Sign(body, key_);
  std::string witness = Sign(body, other_, "witness.example/w1");
  std::string witness_line = witness.substr(body.size() + 1);
  // Ours last, ours first, and an unverifiable line from an unknown key.
  std::string garbage_line = std::string(kEmDash) + " unknown.example/k " +
                             Base64Encode("\x01\x02\x03\x04garbage") + "\n";
  for (const std::string& note :
       {body + "\n" + witness_line + mine.substr(body.size() + 1),
        mine + witness_line, mine + garbage_line}) {
    StatusOr<Checkpoint> cp =
        VerifySignedCheckpoint(note, "", kOrigin, key_.pub);
    EXPECT_TRUE(cp.ok()) << cp.status().message();
  }
  // Only the witness signed.
  EXPECT_FALSE(VerifySignedCheckpoint(witness, "", kOrigin, key_.pub).ok());
}

TEST_F(CheckpointTest, MalformedSignatureLinesAreRejected) {
  std::string body = CheckpointBody(MakeCheckpoint());
  std::string mine = Sign(body, key_);
  std::string blob = Base64Encode("\x01\x02\x03\x04sig");
  for (const std::string& line : {
           "- x " + blob + "\n",                          // not em dash
           std::string(kEmDash) + "x " + blob + "\n",     // no space
           std::string(kEmDash) + "  " + blob + "\n",     // empty name
           std::string(kEmDash) + " a+b " + blob + "\n",  // '+' in name
           std::string(kEmDash) +
               " a\xC2\xA0"
               "b " +
               blob + "\n",  // NBSP
           std::string(kEmDash) + " x " + Base64Encode("\x01\x02\x03\x04") +
               "\n",  // no sig bytes
           std::string(kEmDash) + " x not-base64\n",
           std::string(kEmDash) + " x\n",
       }) {
    EXPECT_FALSE(
        VerifySignedCheckpoint(mine + line, "", kOrigin, key_.pub).ok())
        << line;
  }
}

TEST_F(CheckpointTest, OnlyStrictDerSignaturesAreAccepted) {
  std::string body = CheckpointBody(MakeCheckpoint());
  std::string der = SignDer(key_.pkey.get(), body);
  std::string id = NoteKeyId(kOrigin, key_.pub);
  ASSERT_TRUE(VerifySignedCheckpoint(FormatSignedNote(body, kOrigin, id, der),
                                     "", kOrigin, key_.pub)
                  .ok());
  std::string raw = EcdsaSignatureToRaw(der, 32);
  ASSERT_EQ(raw.size(), 64u);
  ASSERT_TRUE(key_.pub.VerifyEs256(body, raw));
  // BER forms of the same (r, s): a long-form SEQUENCE length, and r with a
  // redundant leading zero byte.
  ASSERT_LT(static_cast<unsigned char>(der[1]), 0x80);
  std::string long_length = "\x30\x81" + der.substr(1);
  std::string padded_r = der;
  padded_r[1] = static_cast<char>(padded_r[1] + 1);
  padded_r[3] = static_cast<char>(padded_r[3] + 1);
  padded_r.insert(4, 1, '\0');
  for (const std::string& sig :
       {raw, der + std::string(1, '\0'), der.substr(0, der.size() - 1),
        long_length, padded_r}) {
    EXPECT_FALSE(
        VerifySignedCheckpoint(FormatSignedNote(body, kOrigin, id, sig), "",
                               kOrigin, key_.pub)
            .ok());
  }
}

TEST_F(CheckpointTest, OneFailingSignatureFromTheKeyRejectsTheNote) {
  std::string body = CheckpointBody(MakeCheckpoint());
  std::string good = Sign(body, key_);
  std::string forged =
      FormatSignedNote(body, kOrigin, NoteKeyId(kOrigin, key_.pub),
                       SignDer(other_.pkey.get(), body));
  std::string note = good + forged.substr(body.size() + 1);
  EXPECT_FALSE(VerifySignedCheckpoint(note, "", kOrigin, key_.pub).ok());
}

TEST_F(CheckpointTest, NoteTextMayContainBlankLines) {
  std::string text = "first\n\nthird\n";
  std::string note = Sign(text, key_);
  StatusOr<std::string> got = VerifySignedNote(note, kOrigin, key_.pub);
  ASSERT_TRUE(got.ok()) << got.status().message();
  EXPECT_EQ(*got, text);
}

class TlogProofTest : public CheckpointTest {
 protected:
  void SetUp() override {
    for (int i = 0; i < 7; ++i)
      leaves_.push_back(LeafHash("entry " + std::to_string(i)));
    Checkpoint cp{std::string(kOrigin), leaves_.size(),
                  RootFromLeafHashes(leaves_)};
    checkpoint_note_ = Sign(CheckpointBody(cp), key_);
  }
  std::string ProofFor(uint64_t index, std::string_view extra = "") const {
    return FormatTlogProof(index, extra,
                           *InclusionProof(leaves_, index, leaves_.size()),
                           checkpoint_note_);
  }

  std::vector<std::string> leaves_;
  std::string checkpoint_note_;
};

TEST_F(TlogProofTest, HasTheSpecLayout) {
  std::vector<std::string> path = *InclusionProof(leaves_, 2, leaves_.size());
  ASSERT_EQ(path.size(), 3u);
  std::string text = FormatTlogProof(2, "ctx", path, checkpoint_note_);
  EXPECT_EQ(text, "c2sp.org/tlog-proof@v1\nextra " + Base64Encode("ctx") +
                      "\nindex 2\n" + Base64Encode(path[0]) + "\n" +
                      Base64Encode(path[1]) + "\n" + Base64Encode(path[2]) +
                      "\n\n" + checkpoint_note_);
  EXPECT_EQ(FormatTlogProof(2, "", path, checkpoint_note_).find("extra"),
            std::string::npos);
}

TEST_F(TlogProofTest, RoundTripsAndVerifiesEveryIndex) {
  for (uint64_t i = 0; i < leaves_.size(); ++i) {
    std::string extra = i % 2 == 0 ? "" : "vrf proof " + std::to_string(i);
    std::string text = ProofFor(i, extra);
    StatusOr<TlogProof> parsed = ParseTlogProof(text);
    ASSERT_TRUE(parsed.ok()) << parsed.status().message();
    EXPECT_EQ(parsed->index, i);
    EXPECT_EQ(parsed->extra, extra);
    EXPECT_EQ(parsed->proof, *InclusionProof(leaves_, i, leaves_.size()));
    EXPECT_EQ(parsed->signed_checkpoint, checkpoint_note_);

    StatusOr<Checkpoint> cp =
        VerifyTlogProof(text, leaves_[i], kOrigin, kOrigin, key_.pub);
    ASSERT_TRUE(cp.ok()) << cp.status().message();
    EXPECT_EQ(cp->size, leaves_.size());
    // Another entry's hash, or the right one under another key, fails.
    EXPECT_FALSE(VerifyTlogProof(text, leaves_[(i + 1) % leaves_.size()],
                                 kOrigin, kOrigin, key_.pub)
                     .ok());
    EXPECT_FALSE(
        VerifyTlogProof(text, leaves_[i], kOrigin, kOrigin, other_.pub).ok());
  }
}

TEST_F(TlogProofTest, RejectsMalformedProofs) {
  std::string good = ProofFor(3);
  ASSERT_TRUE(ParseTlogProof(good).ok());
  std::string hash_line = Base64Encode(leaves_[0]) + "\n";
  std::vector<std::string> bad = {
      "",
      "c2sp.org/tlog-proof@v2\nindex 3\n\n" + checkpoint_note_,
      "c2sp.org/tlog-proof@v1\nindex 03\n\n" + checkpoint_note_,
      "c2sp.org/tlog-proof@v1\nindex -3\n\n" + checkpoint_note_,
      "c2sp.org/tlog-proof@v1\nindex  3\n\n" + checkpoint_note_,
      "c2sp.org/tlog-proof@v1\n\n" + checkpoint_note_,  // no index
      "c2sp.org/tlog-proof@v1\nextra \nindex 3\n\n" + checkpoint_note_,
      "c2sp.org/tlog-proof@v1\nextra !!\nindex 3\n\n" + checkpoint_note_,
      "c2sp.org/tlog-proof@v1\nindex 3\n" + hash_line,         // no blank
      "c2sp.org/tlog-proof@v1\nindex 3\n" + hash_line + "\n",  // no checkpoint
      "c2sp.org/tlog-proof@v1\nindex 3\n" + Base64Encode(leaves_[0].substr(1)) +
          "\n\n" + checkpoint_note_,
      "c2sp.org/tlog-proof@v1\r\nindex 3\n\n" + checkpoint_note_,
  };
  std::string too_long = "c2sp.org/tlog-proof@v1\nindex 3\n";
  for (int i = 0; i < 65; ++i) too_long += hash_line;
  bad.push_back(too_long + "\n" + checkpoint_note_);
  for (const std::string& text : bad) {
    EXPECT_FALSE(ParseTlogProof(text).ok()) << text;
  }
  // A proof one hash short or long parses but does not verify.
  StatusOr<TlogProof> p = ParseTlogProof(good);
  ASSERT_TRUE(p.ok());
  std::vector<std::string> shorter(p->proof.begin(), p->proof.end() - 1);
  EXPECT_FALSE(
      VerifyTlogProof(FormatTlogProof(3, "", shorter, checkpoint_note_),
                      leaves_[3], "", kOrigin, key_.pub)
          .ok());
  std::vector<std::string> longer = p->proof;
  longer.push_back(leaves_[0]);
  EXPECT_FALSE(VerifyTlogProof(FormatTlogProof(3, "", longer, checkpoint_note_),
                               leaves_[3], "", kOrigin, key_.pub)
                   .ok());
  // A wrong index.
  EXPECT_FALSE(
      VerifyTlogProof(FormatTlogProof(4, "", p->proof, checkpoint_note_),
                      leaves_[3], "", kOrigin, key_.pub)
          .ok());
}

}  // namespace
}  // namespace authd::audit
