#include "common/encoding.h"

#include <gtest/gtest.h>

#include <map>
#include <optional>
#include <string>
#include <utility>
#include <vector>

namespace authd {
namespace {

using Form = std::map<std::string, std::string>;

// ParseForm with its SecureString values copied out, for readable asserts.
std::optional<Form> Parse(std::string_view body) {
  auto parsed = ParseForm(body);
  if (!parsed) return std::nullopt;
  Form out;
  for (const auto& [name, value] : *parsed) {
    out.emplace(name, std::string(value.view()));
  }
  return out;
}

std::optional<std::string> Decode(std::string_view text) {
  auto decoded = FormUrlDecode(text);
  if (!decoded) return std::nullopt;
  return std::string(decoded->view());
}

std::string AllBytes() {
  std::string s;
  for (int i = 0; i < 256; ++i) s.push_back(static_cast<char>(i));
  return s;
}

// ------------------------------------------------------------------ base64

// RFC 4648 §10 test vectors.
const std::vector<std::pair<std::string, std::string>> kRfc4648Vectors = {
    {"", ""},
    {"f", "Zg=="},
    {"fo", "Zm8="},
    {"foo", "Zm9v"},
    {"foob", "Zm9vYg=="},
    {"fooba", "Zm9vYmE="},
    {"foobar", "Zm9vYmFy"},
};

TEST(Base64Test, Rfc4648Vectors) {
  for (const auto& [plain, encoded] : kRfc4648Vectors) {
    EXPECT_EQ(Base64Encode(plain), encoded) << plain;
    EXPECT_EQ(Base64Decode(encoded), plain) << encoded;
  }
}

TEST(Base64Test, UsesPlusAndSlash) {
  EXPECT_EQ(Base64Encode("\xfb\xef\xbe"), "++++");
  EXPECT_EQ(Base64Encode("\xff\xff\xff"), "////");
  EXPECT_EQ(Base64Decode("++++"), "\xfb\xef\xbe");
}

TEST(Base64Test, RoundTripsEveryLength) {
  const std::string bytes = AllBytes();
  for (size_t n = 0; n <= bytes.size(); ++n) {
    std::string plain = bytes.substr(bytes.size() - n);
    EXPECT_EQ(Base64Decode(Base64Encode(plain)), plain) << n;
  }
}

TEST(Base64Test, RejectsWrongLength) {
  EXPECT_EQ(Base64Decode("Zg="), std::nullopt);
  EXPECT_EQ(Base64Decode("Zg"), std::nullopt);
  EXPECT_EQ(Base64Decode("Zm9vY"), std::nullopt);
}

TEST(Base64Test, RejectsNonCanonicalPadding) {
  // "Zh==" and "Zm9=" decode to "f" and "fo" with non-zero pad bits.
  EXPECT_EQ(Base64Decode("Zh=="), std::nullopt);
  EXPECT_EQ(Base64Decode("Zm9="), std::nullopt);
  EXPECT_EQ(Base64Decode("Zg==Zg=="), std::nullopt);
  EXPECT_EQ(Base64Decode("===="), std::nullopt);
  EXPECT_EQ(Base64Decode("Z==="), std::nullopt);
}

TEST(Base64Test, RejectsWrongAlphabet) {
  EXPECT_EQ(Base64Decode("--__"), std::nullopt);
  EXPECT_EQ(Base64Decode("Zm9v\n"), std::nullopt);
  EXPECT_EQ(Base64Decode("Zm 9"), std::nullopt);
  EXPECT_EQ(Base64Decode("Zm9*"), std::nullopt);
  EXPECT_EQ(Base64Decode(std::string_view("Zm\0v", 4)), std::nullopt);
}

// --------------------------------------------------------------- base64url

TEST(Base64UrlTest, Rfc4648VectorsWithoutPadding) {
  for (auto [plain, encoded] : kRfc4648Vectors) {
    while (!encoded.empty() && encoded.back() == '=') encoded.pop_back();
    EXPECT_EQ(Base64UrlEncode(plain), encoded) << plain;
    EXPECT_EQ(Base64UrlDecode(encoded), plain) << encoded;
  }
}

TEST(Base64UrlTest, UsesDashAndUnderscore) {
  EXPECT_EQ(Base64UrlEncode("\xfb\xef\xbe"), "----");
  EXPECT_EQ(Base64UrlEncode("\xff\xff\xff"), "____");
  EXPECT_EQ(Base64UrlEncode("\xfb\xff"), "-_8");
  EXPECT_EQ(Base64UrlDecode("-_8"), "\xfb\xff");
}

TEST(Base64UrlTest, RoundTripsEveryLength) {
  const std::string bytes = AllBytes();
  for (size_t n = 0; n <= bytes.size(); ++n) {
    std::string plain = bytes.substr(0, n);
    std::string encoded = Base64UrlEncode(plain);
    EXPECT_EQ(encoded.find_first_of("+/="), std::string::npos) << encoded;
    EXPECT_EQ(Base64UrlDecode(encoded), plain) << n;
  }
}

TEST(Base64UrlTest, RejectsPaddingAndStandardAlphabet) {
  EXPECT_EQ(Base64UrlDecode("Zg=="), std::nullopt);
  EXPECT_EQ(Base64UrlDecode("Zm8="), std::nullopt);
  EXPECT_EQ(Base64UrlDecode("++++"), std::nullopt);
  EXPECT_EQ(Base64UrlDecode("////"), std::nullopt);
  EXPECT_EQ(Base64UrlDecode("Zm9v!"), std::nullopt);
}

TEST(Base64UrlTest, RejectsImpossibleLengthAndNonCanonicalBits) {
  EXPECT_EQ(Base64UrlDecode("Z"), std::nullopt);
  EXPECT_EQ(Base64UrlDecode("Zm9vY"), std::nullopt);
  EXPECT_EQ(Base64UrlDecode("Zh"), std::nullopt);
  EXPECT_EQ(Base64UrlDecode("Zm9"), std::nullopt);
}

TEST(HexTest, KnownAnswer) {
  EXPECT_EQ(HexEncode(""), "");
  EXPECT_EQ(HexEncode(std::string("\x00\x01\xab\xff", 4)), "0001abff");
}

// ------------------------------------------------------------ form decoding

TEST(FormUrlDecodeTest, PlusIsSpaceAndEscapesDecode) {
  EXPECT_EQ(Decode(""), "");
  EXPECT_EQ(Decode("abc"), "abc");
  EXPECT_EQ(Decode("a+b"), "a b");
  EXPECT_EQ(Decode("a%20b"), "a b");
  EXPECT_EQ(Decode("%2B"), "+");
  EXPECT_EQ(Decode("%41%6a%6A"), "Ajj");
  EXPECT_EQ(Decode("%C3%A9"), "\xc3\xa9");
  EXPECT_EQ(Decode("%00"), std::string(1, '\0'));
  EXPECT_EQ(Decode("x%3D%26y"), "x=&y");
}

TEST(FormUrlDecodeTest, RejectsMalformedEscapes) {
  for (const char* bad :
       {"%", "%4", "%zz", "%4g", "%g4", "a%", "a%2", "%%41", "%-1", "%+1"}) {
    EXPECT_EQ(Decode(bad), std::nullopt) << bad;
  }
}

TEST(ParseFormTest, ParsesPairs) {
  EXPECT_EQ(
      Parse("grant_type=client_credentials&scope=data%3Aread+x"),
      (Form{{"grant_type", "client_credentials"}, {"scope", "data:read x"}}));
}

TEST(ParseFormTest, EmptyBodyIsEmptyForm) {
  EXPECT_EQ(Parse(""), Form{});
  EXPECT_EQ(Parse("&&"), Form{});
}

TEST(ParseFormTest, SkipsEmptyPairs) {
  EXPECT_EQ(Parse("a=1&&b=2"), (Form{{"a", "1"}, {"b", "2"}}));
  EXPECT_EQ(Parse("&a=1&"), (Form{{"a", "1"}}));
}

TEST(ParseFormTest, MissingEqualsIsEmptyValue) {
  EXPECT_EQ(Parse("a"), (Form{{"a", ""}}));
  EXPECT_EQ(Parse("a&b=2"), (Form{{"a", ""}, {"b", "2"}}));
  EXPECT_EQ(Parse("a="), (Form{{"a", ""}}));
}

TEST(ParseFormTest, OnlyFirstEqualsSplits) {
  EXPECT_EQ(Parse("a=b=c"), (Form{{"a", "b=c"}}));
}

// RFC 6749 §3.2: parameters must not be included more than once.
TEST(ParseFormTest, RejectsDuplicateNames) {
  EXPECT_EQ(Parse("a=1&a=2"), std::nullopt);
  EXPECT_EQ(Parse("a=1&a=1"), std::nullopt);
  EXPECT_EQ(Parse("a&a"), std::nullopt);
  // The same name after decoding is still the same name.
  EXPECT_EQ(Parse("a=1&%61=2"), std::nullopt);
}

TEST(ParseFormTest, RejectsMalformedEscapeInNameOrValue) {
  EXPECT_EQ(Parse("a=%zz"), std::nullopt);
  EXPECT_EQ(Parse("%4=1"), std::nullopt);
  EXPECT_EQ(Parse("ok=1&b=%"), std::nullopt);
}

// --------------------------------------------------------------- UrlEncode

TEST(UrlEncodeTest, KeepsUnreservedCharacters) {
  const std::string unreserved =
      "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~";
  EXPECT_EQ(UrlEncode(unreserved), unreserved);
  EXPECT_EQ(UrlEncode(""), "");
}

TEST(UrlEncodeTest, EscapesEverythingElseInUpperCaseHex) {
  EXPECT_EQ(UrlEncode(" "), "%20");
  EXPECT_EQ(UrlEncode("a+b/c"), "a%2Bb%2Fc");
  EXPECT_EQ(UrlEncode("10.0.0.0/8"), "10.0.0.0%2F8");
  EXPECT_EQ(UrlEncode("::1"), "%3A%3A1");
  EXPECT_EQ(UrlEncode("\xc3\xa9"), "%C3%A9");
  EXPECT_EQ(UrlEncode(std::string(1, '\0')), "%00");
  EXPECT_EQ(UrlEncode("\xff"), "%FF");
}

TEST(UrlEncodeTest, RoundTripsThroughFormUrlDecode) {
  const std::string bytes = AllBytes();
  EXPECT_EQ(Decode(UrlEncode(bytes)), bytes);
}

}  // namespace
}  // namespace authd
