#include "authority/jwt.h"

#include <gtest/gtest.h>

#include <optional>
#include <string>
#include <vector>

#include "common/encoding.h"
#include "common/public_key.h"
#include "testing/softhsm_token.h"

namespace authd::authority {
namespace {

using nlohmann::json;

const hsm::KeyOps& Keys() { return authd::testing::SoftHsmToken::Keys(); }
const PublicKey& TokenKey() { return Keys().Public(hsm::KeyUse::kToken); }

json Header() {
  return {{"alg", "ES256"}, {"typ", "at+jwt"}, {"kid", TokenKey().kid()}};
}
json Claims() {
  return {{"iss", "https://authd.test"}, {"sub", "client-1"}, {"exp", 1000}};
}

// header.claims signed by the HSM token key, whatever the header says.
std::string SignedToken(const json& header, const json& claims) {
  std::string input = JwsSigningInput(header, claims);
  StatusOr<std::string> sig = Keys().SignEs256(hsm::KeyUse::kToken, input);
  EXPECT_TRUE(sig.ok()) << sig.status().message();
  return input + "." + Base64UrlEncode(sig.ok() ? *sig : "");
}

std::vector<std::string> Split(const std::string& token) {
  std::vector<std::string> parts;
  size_t start = 0;
  for (size_t dot; (dot = token.find('.', start)) != std::string::npos;
       start = dot + 1) {
    parts.push_back(token.substr(start, dot - start));
  }
  parts.push_back(token.substr(start));
  return parts;
}

void ExpectRejected(const std::string& token, const std::string& message) {
  std::optional<StatusOr<VerifiedJwt>> v;
  ASSERT_NO_THROW(v.emplace(VerifyJwt(token, TokenKey()))) << token;
  ASSERT_FALSE(v->ok()) << token;
  EXPECT_EQ(v->status().code(), StatusCode::kUnauthenticated) << token;
  if (!message.empty()) {
    EXPECT_EQ(v->status().message(), message) << token;
  }
}

TEST(JwtTest, SignThenVerifyRoundTrips) {
  StatusOr<std::string> token = SignedToken(Header(), Claims());
  ASSERT_TRUE(token.ok()) << token.status().message();
  std::vector<std::string> parts = Split(*token);
  ASSERT_EQ(parts.size(), 3u);
  EXPECT_EQ(Base64UrlDecode(parts[0]), Header().dump());
  EXPECT_EQ(Base64UrlDecode(parts[1]), Claims().dump());
  std::optional<std::string> sig = Base64UrlDecode(parts[2]);
  ASSERT_TRUE(sig.has_value());
  EXPECT_EQ(sig->size(), 64u);
  EXPECT_TRUE(TokenKey().VerifyEs256(parts[0] + "." + parts[1], *sig));

  StatusOr<VerifiedJwt> v = VerifyJwt(*token, TokenKey());
  ASSERT_TRUE(v.ok()) << v.status().message();
  EXPECT_EQ(v->header, Header());
  EXPECT_EQ(v->claims, Claims());
}

TEST(JwtTest, TamperedPayloadIsRejected) {
  StatusOr<std::string> token = SignedToken(Header(), Claims());
  ASSERT_TRUE(token.ok());
  std::vector<std::string> parts = Split(*token);
  json claims = Claims();
  claims["sub"] = "client-2";
  ExpectRejected(
      parts[0] + "." + Base64UrlEncode(claims.dump()) + "." + parts[2],
      "access token has an invalid signature");
}

TEST(JwtTest, TamperedSignatureIsRejected) {
  StatusOr<std::string> token = SignedToken(Header(), Claims());
  ASSERT_TRUE(token.ok());
  std::vector<std::string> parts = Split(*token);
  std::string sig = *Base64UrlDecode(parts[2]);
  sig[10] = static_cast<char>(sig[10] ^ 0x01);
  ExpectRejected(parts[0] + "." + parts[1] + "." + Base64UrlEncode(sig),
                 "access token has an invalid signature");
  // The same signature DER-encoded is not a JWS signature.
  ExpectRejected(parts[0] + "." + parts[1] + "." +
                     Base64UrlEncode(EcdsaRawToDer(*Base64UrlDecode(parts[2]))),
                 "access token has an invalid signature");
  ExpectRejected(parts[0] + "." + parts[1] + ".", "");
}

TEST(JwtTest, SignatureFromAnotherKeyIsRejected) {
  std::string input =
      Base64UrlEncode(Header().dump()) + "." + Base64UrlEncode(Claims().dump());
  StatusOr<std::string> sig = Keys().SignEs256(hsm::KeyUse::kAudit, input);
  ASSERT_TRUE(sig.ok());
  ExpectRejected(input + "." + Base64UrlEncode(*sig),
                 "access token has an invalid signature");
}

TEST(JwtTest, WrongAlgIsRejectedEvenWhenSigned) {
  for (const char* alg : {"none", "HS256", "ES384", "es256", ""}) {
    json header = Header();
    header["alg"] = alg;
    ExpectRejected(SignedToken(header, Claims()),
                   "access token has the wrong alg");
  }
  json header = Header();
  header.erase("alg");
  ExpectRejected(SignedToken(header, Claims()),
                 "access token has the wrong alg");
}

// A header member of the wrong JSON type is bad input, not an exception.
// No key is needed to send one: alg and kid are read before the signature.
TEST(JwtTest, NonStringAlgOrKidIsRejected) {
  ExpectRejected(Base64UrlEncode(R"({"alg":1})") + ".e30.AAAA", "");
  ExpectRejected(Base64UrlEncode(R"({"alg":"ES256","kid":null})") + ".e30.AAAA",
                 "");
  json header = Header();
  header["alg"] = 256;
  ExpectRejected(SignedToken(header, Claims()), "");
  header = Header();
  header["kid"] = json::array({TokenKey().kid()});
  ExpectRejected(SignedToken(header, Claims()), "");
}

TEST(JwtTest, WrongKidIsRejected) {
  json header = Header();
  header["kid"] = "some-other-key";
  ExpectRejected(SignedToken(header, Claims()),
                 "access token was not signed by a current key");
  header.erase("kid");
  ExpectRejected(SignedToken(header, Claims()),
                 "access token was not signed by a current key");
  // A good token checked against the audit key names the wrong kid.
  StatusOr<std::string> token = SignedToken(Header(), Claims());
  ASSERT_TRUE(token.ok());
  StatusOr<VerifiedJwt> v =
      VerifyJwt(*token, Keys().Public(hsm::KeyUse::kAudit));
  EXPECT_EQ(v.status().code(), StatusCode::kUnauthenticated);
}

TEST(JwtTest, GarbageIsRejected) {
  for (const char* bad :
       {"", ".", "..", "a", "a.b", "a.b.c.d", "...", "a..b", "!!!.!!!.!!!"}) {
    ExpectRejected(bad, "");
  }
}

TEST(JwtTest, StructureErrorsAreNamed) {
  ExpectRejected("a.b", "access token is not a compact JWS");
  ExpectRejected("a.b.c.d", "access token is not a compact JWS");
  ExpectRejected("e30.e30.A", "access token is not base64url");
  ExpectRejected("e31.e30.AAAA", "access token is not base64url");
  // Standard base64 and padding are not base64url (RFC 7515 §2).
  StatusOr<std::string> token = SignedToken(Header(), Claims());
  ASSERT_TRUE(token.ok());
  ExpectRejected(*token + "=", "access token is not base64url");
  // Valid base64url of something that is not a JSON object.
  ExpectRejected(Base64UrlEncode("not json") + ".e30.AAAA",
                 "access token is not JSON");
  ExpectRejected(Base64UrlEncode("[]") + ".e30.AAAA",
                 "access token is not JSON");
  ExpectRejected("e30." + Base64UrlEncode("\"str\"") + ".AAAA",
                 "access token is not JSON");
  // RFC 7515 §5.2: a repeated member name is rejected, not read as the last.
  ExpectRejected("e30." + Base64UrlEncode(R"({"sub":"a","sub":"b"})") + ".AAAA",
                 "access token repeats a JSON key");
}

}  // namespace
}  // namespace authd::authority

namespace authd::authority {
namespace {

TEST(AppendJsonStringTest, WritesWhatNlohmannWrites) {
  std::string all_controls;
  for (int c = 0; c < 0x20; ++c) all_controls.push_back(static_cast<char>(c));
  for (std::string s :
       {std::string(), std::string("plain"), std::string("a \"quoted\" word"),
        std::string("back\\slash/and/slash"), all_controls,
        std::string("\x7f del"),
        std::string("caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x94\x91"),
        std::string("https://authd.example/issuer?x=1&y=<2>")}) {
    std::string out = "prefix";
    AppendJsonString(&out, s);
    EXPECT_EQ(out, "prefix" + nlohmann::json(s).dump()) << s;
  }
}

}  // namespace
}  // namespace authd::authority
