// RowMac against the SoftHSM2 token's pepper: the MAC covers every column,
// its input encoding is unambiguous, and the key is bound to the pepper.
#include "authority/row_mac.h"

#include <gtest/gtest.h>
#include <openssl/hmac.h>

#include <functional>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include "testing/softhsm_token.h"

namespace authd::authority {
namespace {

std::unique_ptr<RowMac> MustDerive() {
  auto mac = RowMac::Derive(testing::SoftHsmToken::Keys());
  EXPECT_TRUE(mac.ok()) << mac.status().message();
  return mac.ok() ? std::move(mac).value() : nullptr;
}

storage::Credential Cred() {
  return {"id-1",     "exporter", "viewer", std::string(32, '\x07'),
          1767225600, 1767312000, "uid:0",  12};
}

TEST(RowMacTest, IsThirtyTwoBytesAndDeterministic) {
  auto a = MustDerive();
  auto b = MustDerive();
  ASSERT_TRUE(a && b);
  StatusOr<std::string> x = a->Of(Cred());
  ASSERT_TRUE(x.ok()) << x.status().message();
  EXPECT_EQ(x->size(), 32u);
  EXPECT_EQ(*x, b->Of(Cred()).value());  // same HSM pepper, same key
}

TEST(RowMacTest, CoversEveryCredentialColumn) {
  auto mac = MustDerive();
  ASSERT_TRUE(mac);
  std::vector<std::function<void(storage::Credential&)>> edits = {
      [](auto& c) { c.client_id = "id-2"; },
      [](auto& c) { c.name = "exporter2"; },
      [](auto& c) { c.role = "owner"; },
      [](auto& c) { c.secret_mac[31] = '\x08'; },
      [](auto& c) { c.created_at -= 1; },
      [](auto& c) { c.expires_at += 1; },
      [](auto& c) { c.created_by = "uid:1"; },
      [](auto& c) { c.audit_seq = 13; },
  };
  std::set<std::string> seen = {mac->Of(Cred()).value()};
  for (size_t i = 0; i < edits.size(); ++i) {
    storage::Credential c = Cred();
    edits[i](c);
    EXPECT_TRUE(seen.insert(mac->Of(c).value()).second) << "edit " << i;
  }
}

TEST(RowMacTest, CoversEveryAllowlistAndMetaColumn) {
  auto mac = MustDerive();
  ASSERT_TRUE(mac);
  storage::AllowlistEntry e{"10.0.0.0/8", 100, "uid:0", 4};
  std::set<std::string> seen = {mac->Of(e).value()};
  for (auto edit : std::vector<std::function<void(storage::AllowlistEntry&)>>{
           [](auto& x) { x.cidr = "0.0.0.0/0"; },
           [](auto& x) { x.created_at = 101; },
           [](auto& x) { x.created_by = "client:x"; },
           [](auto& x) { x.audit_seq = 5; }}) {
    storage::AllowlistEntry copy = e;
    edit(copy);
    EXPECT_TRUE(seen.insert(mac->Of(copy).value()).second) << copy.cidr;
  }
  storage::BoundMeta m{"roles", "[]", 3};
  EXPECT_TRUE(seen.insert(mac->Of(m).value()).second);
  m.value = "[{}]";
  EXPECT_TRUE(seen.insert(mac->Of(m).value()).second);
  m.audit_seq = 4;
  EXPECT_TRUE(seen.insert(mac->Of(m).value()).second);
}

// Length prefixes: moving bytes from one column to the next changes the MAC.
TEST(RowMacTest, ColumnBoundariesAreUnambiguous) {
  auto mac = MustDerive();
  ASSERT_TRUE(mac);
  storage::Credential a = Cred(), b = Cred();
  a.name = "ab";
  a.role = "c";
  b.name = "a";
  b.role = "bc";
  EXPECT_NE(mac->Of(a).value(), mac->Of(b).value());
  // A table's tag is part of the input: an allowlist row never verifies as
  // a meta row with the same bytes.
  storage::AllowlistEntry e{"roles", 0, "", 0};
  storage::BoundMeta m{"roles", "", 0};
  EXPECT_NE(mac->Of(e).value(), mac->Of(m).value());
}

TEST(RowMacTest, MatchesOnlyTheStoredMac) {
  auto mac = MustDerive();
  ASSERT_TRUE(mac);
  storage::Credential c = Cred();
  EXPECT_FALSE(mac->Matches(c));  // no MAC at all
  c.mac = mac->Of(c).value();
  EXPECT_TRUE(mac->Matches(c));
  c.mac[0] ^= 1;
  EXPECT_FALSE(mac->Matches(c));
  c.mac = c.mac.substr(0, 16);
  EXPECT_FALSE(mac->Matches(c));
}

// The documented construction, computed independently: K_row is the
// pepper's HMAC of "authd-row-mac-key-v1\0", and a row's MAC is
// HMAC-SHA256(K_row, tag and columns, each after its 8-byte big-endian
// length; integers as 8 bytes big-endian).
TEST(RowMacTest, IsHmacUnderTheDerivedKeyOfTheEncodedRow) {
  const hsm::KeyOps& keys = testing::SoftHsmToken::Keys();
  auto mac = MustDerive();
  ASSERT_TRUE(mac);
  std::string k_row =
      keys.HmacPepper(std::string_view("authd-row-mac-key-v1\0", 21)).value();
  auto be64 = [](uint64_t v) {
    std::string out(8, '\0');
    for (int i = 7; i >= 0; --i, v >>= 8) out[i] = static_cast<char>(v & 0xff);
    return out;
  };
  auto field = [&](const std::string& f) { return be64(f.size()) + f; };
  storage::AllowlistEntry e{"10.0.0.0/8", 1767225600, "uid:0", 9};
  std::string input = field("allowlist") + field(e.cidr) +
                      field(be64(e.created_at)) + field(e.created_by) +
                      field(be64(e.audit_seq));
  unsigned char out[32];
  unsigned int n = 0;
  ASSERT_NE(HMAC(EVP_sha256(), k_row.data(), static_cast<int>(k_row.size()),
                 reinterpret_cast<const unsigned char*>(input.data()),
                 input.size(), out, &n),
            nullptr);
  EXPECT_EQ(mac->Of(e).value(), std::string(reinterpret_cast<char*>(out), n));
  // And the client-secret MACs' label is another input of the pepper.
  EXPECT_NE(
      k_row,
      keys.HmacPepper(std::string("authd-client-secret-v1\0", 23)).value());
}

}  // namespace
}  // namespace authd::authority
