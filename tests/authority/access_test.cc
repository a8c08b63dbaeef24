#include "authority/access.h"

#include <gtest/gtest.h>

#include <fstream>
#include <iterator>
#include <sstream>
#include <string>
#include <vector>

#include "common/encoding.h"
#include "testing/access_fixture.h"
#include "testing/ip_helpers.h"

namespace authd::authority {
namespace {

using testing::AccessTest;
using testing::Addr;
using testing::kDay;
using testing::kOwner;
using testing::kStartTime;

std::string Repeat(std::string_view s, int n) {
  std::string out;
  for (int i = 0; i < n; ++i) out += s;
  return out;
}

std::string ReadFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), {});
}

// ---------------------------------------------------------------- names

TEST(ValidateCredentialNameTest, LengthIsOneToSixtyFourCharacters) {
  EXPECT_TRUE(ValidateCredentialName("a").ok());
  EXPECT_TRUE(ValidateCredentialName(Repeat("a", 64)).ok());
  for (const std::string& bad : {std::string(), Repeat("a", 65)}) {
    Status st = ValidateCredentialName(bad);
    EXPECT_EQ(st.code(), StatusCode::kInvalidArgument) << bad;
    EXPECT_EQ(st.message(), "name must be 1 to 64 characters long") << bad;
  }
}

TEST(ValidateCredentialNameTest, CountsCharactersNotBytes) {
  EXPECT_TRUE(ValidateCredentialName(Repeat("\xc3\xa9", 64)).ok());      // é
  EXPECT_TRUE(ValidateCredentialName(Repeat("\xe2\x82\xac", 64)).ok());  // €
  EXPECT_TRUE(
      ValidateCredentialName(Repeat("\xf0\x9f\x94\x91", 64)).ok());  // key
  EXPECT_EQ(ValidateCredentialName(Repeat("\xc3\xa9", 65)).message(),
            "name must be 1 to 64 characters long");
  EXPECT_TRUE(ValidateCredentialName("billing export (prod) #2").ok());
}

TEST(ValidateCredentialNameTest, RejectsControlCharacters) {
  for (const std::string& bad :
       {std::string("tab\there"), std::string("new\nline"),
        std::string("nul\0x", 5), std::string("del\x7f"),
        std::string("esc\x1b[31m"), std::string("c1\xc2\x85")}) {
    Status st = ValidateCredentialName(bad);
    EXPECT_EQ(st.code(), StatusCode::kInvalidArgument) << bad;
    EXPECT_EQ(st.message(), "name must contain only printable characters")
        << bad;
  }
}

TEST(ValidateCredentialNameTest, RejectsInvalidUtf8) {
  for (const std::string& bad : {
           std::string("\xff"),              // never valid
           std::string("a\x80"),             // lone continuation byte
           std::string("\xc3"),              // truncated
           std::string("\xe2\x82"),          // truncated
           std::string("\xc3\x28"),          // bad continuation
           std::string("\xc0\xaf"),          // overlong '/'
           std::string("\xe0\x80\xaf"),      // overlong '/'
           std::string("\xed\xa0\x80"),      // UTF-16 surrogate
           std::string("\xf4\x90\x80\x80"),  // above U+10FFFF
           std::string("\xf8\x88\x80\x80\x80"),
       }) {
    Status st = ValidateCredentialName(bad);
    EXPECT_EQ(st.code(), StatusCode::kInvalidArgument);
    EXPECT_EQ(st.message(), "name is not valid UTF-8");
  }
}

// ------------------------------------------------------ CreateCredential

TEST_F(AccessTest, CreateReturnsTheCredentialAndASecretOnce) {
  StatusOr<CreatedCredential> c = Create("exporter", "viewer", 10 * kDay);
  ASSERT_TRUE(c.ok()) << c.status().message();
  const storage::Credential& cred = c->credential;
  EXPECT_EQ(cred.name, "exporter");
  EXPECT_EQ(cred.role, "viewer");
  EXPECT_EQ(cred.created_at, kStartTime);
  EXPECT_EQ(cred.expires_at, kStartTime + 10 * kDay);
  EXPECT_EQ(cred.created_by, "uid:0");
  EXPECT_EQ(cred.secret_mac, "");
  // 128-bit client id from the HSM RNG, base64url.
  std::optional<std::string> id = Base64UrlDecode(cred.client_id);
  ASSERT_TRUE(id.has_value()) << cred.client_id;
  EXPECT_EQ(id->size(), 16u);
}

// SPEC "Security rules": at least 256 bits of entropy.
TEST_F(AccessTest, SecretCarriesTwoHundredFiftySixBits) {
  CreatedCredential a = MustCreate("a", "viewer");
  CreatedCredential b = MustCreate("b", "viewer");
  for (const CreatedCredential* c : {&a, &b}) {
    std::string_view secret = c->client_secret.view();
    ASSERT_EQ(secret.substr(0, 8), "authd_s_");
    std::optional<std::string> bytes = Base64UrlDecode(secret.substr(8));
    ASSERT_TRUE(bytes.has_value()) << secret;
    EXPECT_EQ(bytes->size(), 32u);
  }
  EXPECT_NE(a.client_secret, b.client_secret);
  EXPECT_NE(a.credential.client_id, b.credential.client_id);
}

// SPEC "Security rules": a role can only be granted by a caller that holds
// every scope of that role.
TEST_F(AccessTest, GrantNeedsEveryScopeOfTheRole) {
  const Actor admin{"client:adm",
                    "192.0.2.1",
                    false,
                    {"admin:read", "admin:write", "data:read"}};
  auto at = [&](const std::string& role) {
    return access_->CreateCredential(
        {"c-" + role, role, clock_.NowSeconds() + kDay, ""}, admin);
  };
  StatusOr<CreatedCredential> c = at("operator");
  ASSERT_FALSE(c.ok());
  EXPECT_EQ(c.status().code(), StatusCode::kPermissionDenied);
  EXPECT_EQ(c.status().message(),
            "granting role 'operator' needs scopes the caller does not hold: "
            "devices:control");
  c = at("owner");
  ASSERT_FALSE(c.ok());
  EXPECT_EQ(c.status().message(),
            "granting role 'owner' needs scopes the caller does not hold: "
            "audit:read devices:control tokens:introspect");
  EXPECT_TRUE(access_->ListCredentials().empty());
  EXPECT_TRUE(at("viewer").ok());

  // A default Actor holds nothing; the socket's holds everything.
  EXPECT_EQ(access_
                ->CreateCredential(
                    {"x", "viewer", clock_.NowSeconds() + kDay, ""}, Actor{})
                .status()
                .code(),
            StatusCode::kPermissionDenied);
  EXPECT_TRUE(access_
                  ->CreateCredential(
                      {"root", "owner", clock_.NowSeconds() + kDay, ""}, kOwner)
                  .ok());
  EXPECT_EQ(access_->ListCredentials().size(), 2u);
}

TEST_F(AccessTest, CreateValidatesTheName) {
  for (const std::string& bad :
       {std::string(), Repeat("n", 65), std::string("bad\nname"),
        std::string("bad\xff")}) {
    StatusOr<CreatedCredential> c = Create(bad, "viewer");
    ASSERT_FALSE(c.ok()) << bad;
    EXPECT_EQ(c.status().code(), StatusCode::kInvalidArgument);
  }
  EXPECT_TRUE(Create(Repeat("\xc3\xa9", 64), "viewer").ok());
  EXPECT_EQ(access_->ListCredentials().size(), 1u);
}

TEST_F(AccessTest, CreateRequiresAKnownRole) {
  StatusOr<CreatedCredential> c = Create("x", "admin");
  ASSERT_FALSE(c.ok());
  EXPECT_EQ(c.status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(c.status().message(),
            "role 'admin' does not exist; known roles: owner, auditor, "
            "operator, viewer, resource-server");
  EXPECT_TRUE(access_->ListCredentials().empty());
}

TEST_F(AccessTest, ExpiryMustBeInTheFuture) {
  for (int64_t lifetime : {int64_t{0}, int64_t{-1}, -kDay}) {
    StatusOr<CreatedCredential> c = Create("x", "viewer", lifetime);
    ASSERT_FALSE(c.ok()) << lifetime;
    EXPECT_EQ(c.status().code(), StatusCode::kInvalidArgument);
    EXPECT_EQ(c.status().message(), "expires_at must be in the future");
  }
  EXPECT_TRUE(Create("x", "viewer", 1).ok());
}

TEST_F(AccessTest, ExpiryIsAtMost365Days) {
  StatusOr<CreatedCredential> c = Create("x", "viewer", 365 * kDay + 1);
  ASSERT_FALSE(c.ok());
  EXPECT_EQ(c.status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(c.status().message(),
            "expires_at must be at most 365 days from now");
  StatusOr<CreatedCredential> max = Create("x", "viewer", 365 * kDay);
  ASSERT_TRUE(max.ok()) << max.status().message();
  EXPECT_EQ(max->credential.expires_at, kStartTime + 365 * kDay);
}

// -------------------------------------------------------- Authenticate

TEST_F(AccessTest, AuthenticateAcceptsTheRightSecret) {
  CreatedCredential c = MustCreate("svc", "operator");
  StatusOr<storage::Credential> cred =
      access_->Authenticate(c.credential.client_id, c.client_secret.view());
  ASSERT_TRUE(cred.ok()) << cred.status().message();
  EXPECT_EQ(cred->client_id, c.credential.client_id);
  EXPECT_EQ(cred->role, "operator");
  EXPECT_EQ(cred->name, "svc");
}

// SPEC: unknown id, wrong secret, deleted or expired credential are
// indistinguishable to the caller.
TEST_F(AccessTest, EveryAuthenticationFailureLooksTheSame) {
  CreatedCredential c = MustCreate("svc", "viewer", 100);
  CreatedCredential other = MustCreate("other", "viewer");
  const std::string& id = c.credential.client_id;
  std::string wrong(c.client_secret.view());
  wrong.back() = wrong.back() == 'A' ? 'B' : 'A';

  std::vector<Status> failures = {
      access_->Authenticate(id, wrong).status(),
      access_->Authenticate(id, "").status(),
      access_->Authenticate(id, other.client_secret.view()).status(),
      access_->Authenticate(other.credential.client_id, c.client_secret.view())
          .status(),
      access_->Authenticate("unknown-id", c.client_secret.view()).status(),
      access_->Authenticate("", "").status(),
  };
  clock_.Advance(100);  // now == expires_at
  failures.push_back(
      access_->Authenticate(id, c.client_secret.view()).status());
  for (size_t i = 0; i < failures.size(); ++i) {
    EXPECT_EQ(failures[i].code(), StatusCode::kUnauthenticated) << i;
    EXPECT_EQ(failures[i].message(), "client authentication failed") << i;
  }
}

TEST_F(AccessTest, CredentialWorksUntilTheSecondItExpires) {
  CreatedCredential c = MustCreate("svc", "viewer", 3600);
  clock_.Advance(3599);
  EXPECT_TRUE(
      access_->Authenticate(c.credential.client_id, c.client_secret.view())
          .ok());
  clock_.Advance(1);
  EXPECT_FALSE(
      access_->Authenticate(c.credential.client_id, c.client_secret.view())
          .ok());
}

TEST_F(AccessTest, DeleteTakesEffectOnTheNextAuthenticate) {
  CreatedCredential c = MustCreate("svc", "viewer");
  CreatedCredential keep = MustCreate("keep", "viewer");
  ASSERT_TRUE(
      access_->Authenticate(c.credential.client_id, c.client_secret.view())
          .ok());
  ASSERT_TRUE(access_->DeleteCredential(c.credential.client_id, kOwner).ok());
  StatusOr<storage::Credential> after =
      access_->Authenticate(c.credential.client_id, c.client_secret.view());
  EXPECT_EQ(after.status().code(), StatusCode::kUnauthenticated);
  EXPECT_EQ(after.status().message(), "client authentication failed");
  EXPECT_TRUE(
      access_
          ->Authenticate(keep.credential.client_id, keep.client_secret.view())
          .ok());
  EXPECT_EQ(access_->Current()->credentials.count(c.credential.client_id), 0u);
}

// A change publishes a new snapshot made from the current one (not reread
// from storage): a reader holding the old snapshot sees none of it, the new
// one sees exactly the change, and a restart reads the same state back.
TEST_F(AccessTest, ChangesLeaveHeldSnapshotsUnchanged) {
  CreatedCredential a = MustCreate("a", "viewer");
  CreatedCredential b = MustCreate("b", "operator");
  ASSERT_TRUE(access_->AddAllowlist("10.0.0.0/8", kOwner).ok());
  std::shared_ptr<const Access::Snapshot> held = access_->Current();

  CreatedCredential c = MustCreate("c", "viewer");
  ASSERT_TRUE(access_->DeleteCredential(a.credential.client_id, kOwner).ok());
  ASSERT_TRUE(access_->AddAllowlist("192.0.2.0/24", kOwner).ok());
  ASSERT_TRUE(access_->RemoveAllowlist("10.0.0.0/8", kOwner).ok());

  EXPECT_EQ(held->credentials.size(), 2u);
  EXPECT_EQ(held->credentials.count(a.credential.client_id), 1u);
  EXPECT_EQ(held->credentials.count(c.credential.client_id), 0u);
  ASSERT_EQ(held->allowlist.size(), 1u);
  EXPECT_EQ(held->allowlist[0].cidr, "10.0.0.0/8");
  EXPECT_TRUE(held->allow->Contains(Addr("10.1.2.3")));
  EXPECT_FALSE(held->allow->Contains(Addr("192.0.2.1")));

  std::shared_ptr<const Access::Snapshot> now = access_->Current();
  EXPECT_EQ(now->credentials.size(), 2u);
  EXPECT_EQ(now->credentials.count(a.credential.client_id), 0u);
  EXPECT_EQ(now->credentials.count(b.credential.client_id), 1u);
  EXPECT_EQ(now->credentials.count(c.credential.client_id), 1u);
  ASSERT_EQ(now->allowlist.size(), 1u);
  EXPECT_EQ(now->allowlist[0].cidr, "192.0.2.0/24");
  EXPECT_TRUE(now->allowlist[0].mac.empty());
  EXPECT_FALSE(access_->Allowed(Addr("10.1.2.3")));
  EXPECT_TRUE(access_->Allowed(Addr("192.0.2.1")));
  EXPECT_TRUE(
      access_->Authenticate(c.credential.client_id, c.client_secret.view())
          .ok());

  // What was published in memory is what storage holds.
  auto reloaded = Access::Create(storage_.get(), audit_.get(), &keys(), &clock_,
                                 DefaultRoles());
  ASSERT_TRUE(reloaded.ok()) << reloaded.status().message();
  std::vector<std::string> want, got;
  for (const auto& x : access_->ListCredentials()) want.push_back(x.client_id);
  for (const auto& x : (*reloaded)->ListCredentials())
    got.push_back(x.client_id);
  EXPECT_EQ(got, want);
  EXPECT_EQ((*reloaded)->Current()->allowlist.size(), 1u);
  EXPECT_TRUE((*reloaded)->Allowed(Addr("192.0.2.1")));
}

TEST_F(AccessTest, DeleteUnknownIsNotFound) {
  Status st = access_->DeleteCredential("no-such-id", kOwner);
  EXPECT_EQ(st.code(), StatusCode::kNotFound);
}

TEST_F(AccessTest, CredentialsSurviveAReopen) {
  CreatedCredential c = MustCreate("svc", "auditor");
  ASSERT_NO_FATAL_FAILURE(Open(DefaultRoles()));
  StatusOr<storage::Credential> cred =
      access_->Authenticate(c.credential.client_id, c.client_secret.view());
  ASSERT_TRUE(cred.ok()) << cred.status().message();
  EXPECT_EQ(cred->role, "auditor");
}

// ------------------------------------------------------ ListCredentials

TEST_F(AccessTest, ListIsNewestFirstAndNeverHoldsAMac) {
  CreatedCredential first = MustCreate("first", "viewer");
  clock_.Advance(10);
  CreatedCredential second = MustCreate("second", "owner");
  clock_.Advance(10);
  CreatedCredential third = MustCreate("third", "auditor");
  std::vector<storage::Credential> list = access_->ListCredentials();
  ASSERT_EQ(list.size(), 3u);
  EXPECT_EQ(list[0].client_id, third.credential.client_id);
  EXPECT_EQ(list[1].client_id, second.credential.client_id);
  EXPECT_EQ(list[2].client_id, first.credential.client_id);
  EXPECT_EQ(list[0].created_at, kStartTime + 20);
  EXPECT_EQ(list[2].name, "first");
  for (const storage::Credential& c : list) {
    EXPECT_EQ(c.secret_mac, "") << c.client_id;
  }
  // The snapshot (used for authentication) does keep the MAC.
  EXPECT_EQ(access_->Current()
                ->credentials.find(first.credential.client_id)
                ->second.secret_mac.size(),
            32u);
}

// Scripts create credentials in bulk, many in one second: "newest first"
// must still hold, as it does in SqliteStorage::ListCredentials.
TEST_F(AccessTest, ListIsNewestFirstWithinOneSecond) {
  std::vector<std::string> created;
  for (int i = 0; i < 8; ++i) {
    created.push_back(
        MustCreate("bulk-" + std::to_string(i), "viewer").credential.client_id);
  }
  std::vector<std::string> listed;
  for (const auto& c : access_->ListCredentials()) {
    listed.push_back(c.client_id);
  }
  EXPECT_EQ(listed, std::vector<std::string>(created.rbegin(), created.rend()));
}

TEST_F(AccessTest, ExpiredCredentialsAreStillListed) {
  CreatedCredential c = MustCreate("short", "viewer", 10);
  clock_.Advance(100);
  std::vector<storage::Credential> list = access_->ListCredentials();
  ASSERT_EQ(list.size(), 1u);
  EXPECT_EQ(list[0].client_id, c.credential.client_id);
}

// ------------------------------------------------------------ allowlist

TEST_F(AccessTest, AllowlistStartsEmptyAndRefusesEveryone) {
  EXPECT_TRUE(access_->Current()->allowlist.empty());
  EXPECT_FALSE(access_->Allowed(Addr("127.0.0.1")));
  EXPECT_FALSE(access_->Allowed(Addr("::1")));
}

TEST_F(AccessTest, AddAllowlistNormalizes) {
  struct Case {
    const char* input;
    const char* stored;
  };
  for (const Case& c :
       {Case{"10.0.0.1", "10.0.0.1/32"},
        Case{"::ffff:192.168.0.0/112", "192.168.0.0/16"},
        Case{"2001:DB8:0:0::/32", "2001:db8::/32"}, Case{"::1", "::1/128"}}) {
    StatusOr<storage::AllowlistEntry> e =
        access_->AddAllowlist(c.input, kOwner);
    ASSERT_TRUE(e.ok()) << c.input << ": " << e.status().message();
    EXPECT_EQ(e->cidr, c.stored);
    EXPECT_EQ(e->created_at, kStartTime);
    EXPECT_EQ(e->created_by, "uid:0");
  }
  std::vector<std::string> stored;
  for (const auto& e : access_->Current()->allowlist) stored.push_back(e.cidr);
  EXPECT_EQ(stored, (std::vector<std::string>{"10.0.0.1/32", "192.168.0.0/16",
                                              "2001:db8::/32", "::1/128"}));
}

TEST_F(AccessTest, DuplicateAllowlistEntryIsAlreadyExists) {
  ASSERT_TRUE(access_->AddAllowlist("10.0.0.0/8", kOwner).ok());
  // The same range written another way is the same entry.
  for (const char* dup : {"10.0.0.0/8", "::ffff:10.0.0.0/104"}) {
    StatusOr<storage::AllowlistEntry> e = access_->AddAllowlist(dup, kOwner);
    ASSERT_FALSE(e.ok()) << dup;
    EXPECT_EQ(e.status().code(), StatusCode::kAlreadyExists);
    EXPECT_EQ(e.status().message(), "10.0.0.0/8 is already on the allowlist");
  }
  EXPECT_EQ(access_->Current()->allowlist.size(), 1u);
}

TEST_F(AccessTest, HostBitsAreRejectedNamingTheNormalizedRange) {
  StatusOr<storage::AllowlistEntry> e =
      access_->AddAllowlist("10.1.2.3/8", kOwner);
  ASSERT_FALSE(e.ok());
  EXPECT_EQ(e.status().code(), StatusCode::kInvalidArgument);
  EXPECT_NE(e.status().message().find("10.0.0.0/8"), std::string::npos)
      << e.status().message();
  EXPECT_TRUE(access_->Current()->allowlist.empty());
}

TEST_F(AccessTest, MalformedAllowlistEntryIsInvalidArgument) {
  for (const char* bad :
       {"", "not-an-ip", "10.0.0.0/33", "1.2.3", "::1/129", "fe80::1%eth0"}) {
    StatusOr<storage::AllowlistEntry> e = access_->AddAllowlist(bad, kOwner);
    ASSERT_FALSE(e.ok()) << bad;
    EXPECT_EQ(e.status().code(), StatusCode::kInvalidArgument) << bad;
  }
}

TEST_F(AccessTest, AllowedFollowsAddAndRemove) {
  const IpAddress inside = Addr("10.1.2.3");
  const IpAddress outside = Addr("11.0.0.1");
  EXPECT_FALSE(access_->Allowed(inside));
  ASSERT_TRUE(access_->AddAllowlist("10.0.0.0/8", kOwner).ok());
  EXPECT_TRUE(access_->Allowed(inside));
  EXPECT_FALSE(access_->Allowed(outside));
  // A dual-stack socket reports IPv4 peers as IPv4-mapped IPv6.
  EXPECT_TRUE(access_->Allowed(Addr("::ffff:10.1.2.3")));
  EXPECT_FALSE(access_->Allowed(Addr("::ffff:11.0.0.1")));

  // Removal accepts any spelling of the range.
  ASSERT_TRUE(access_->RemoveAllowlist("::ffff:10.0.0.0/104", kOwner).ok());
  EXPECT_FALSE(access_->Allowed(inside));
  EXPECT_TRUE(access_->Current()->allowlist.empty());
}

TEST_F(AccessTest, RemoveUnknownAllowlistEntryIsNotFound) {
  ASSERT_TRUE(access_->AddAllowlist("10.0.0.0/8", kOwner).ok());
  EXPECT_EQ(access_->RemoveAllowlist("10.0.0.0/16", kOwner).code(),
            StatusCode::kNotFound);
  EXPECT_EQ(access_->RemoveAllowlist("bogus", kOwner).code(),
            StatusCode::kInvalidArgument);
  EXPECT_TRUE(access_->Allowed(Addr("10.9.9.9")));
}

TEST_F(AccessTest, AllowlistSurvivesAReopen) {
  ASSERT_TRUE(access_->AddAllowlist("2001:db8::/32", kOwner).ok());
  ASSERT_NO_FATAL_FAILURE(Open(DefaultRoles()));
  EXPECT_TRUE(access_->Allowed(Addr("2001:db8::7")));
  EXPECT_FALSE(access_->Allowed(Addr("2001:db9::7")));
}

// ----------------------------------------------------- secrets at rest

// SPEC: client secrets are stored only as HMAC-SHA256 under the HSM pepper.
TEST_F(AccessTest, DatabaseFilesNeverHoldTheSecret) {
  std::vector<CreatedCredential> created;
  for (int i = 0; i < 3; ++i) {
    created.push_back(MustCreate("svc-" + std::to_string(i), "owner"));
  }
  ASSERT_TRUE(
      access_->DeleteCredential(created[0].credential.client_id, kOwner).ok());
  std::string files = ReadFile(db_path_) + ReadFile(db_path_ + "-wal");
  ASSERT_FALSE(files.empty());
  for (const CreatedCredential& c : created) {
    std::string_view secret = c.client_secret.view();
    std::optional<std::string> raw = Base64UrlDecode(secret.substr(8));
    ASSERT_TRUE(raw.has_value());
    EXPECT_EQ(files.find(secret), std::string::npos);
    EXPECT_EQ(files.find(secret.substr(8)), std::string::npos);
    EXPECT_EQ(files.find(*raw), std::string::npos);
    // The id is there, so the search itself works.
    if (&c != &created[0]) {
      EXPECT_NE(files.find(c.credential.client_id), std::string::npos);
    }
  }
}

}  // namespace
}  // namespace authd::authority
