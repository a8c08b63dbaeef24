// The verified-secret cache: on its own (hit, miss, wrong secret, epochs,
// bound), and behind TokenService with a real Access, audit log and
// SoftHSM2, counting the pepper HMACs the HSM is asked for: a proved secret
// skips the HMAC until a credential is deleted, expires, or the credentials
// or roles change; a failure is never remembered and the limiter still runs.
#include "authority/secret_cache.h"

#include <gtest/gtest.h>

#include <atomic>
#include <memory>
#include <string>

#include "hsm/forwarding_key_ops.h"
#include "testing/token_fixture.h"

namespace authd::authority {
namespace {

using Epoch = SecretCache::Epoch;

Epoch NewEpoch() {
  return {std::make_shared<int>(1), std::make_shared<int>(2)};
}

TEST(SecretCacheTest, ProvesOnlyTheRememberedPair) {
  SecretCache cache;
  Epoch e = NewEpoch();
  EXPECT_FALSE(cache.Proven("id-1", "secret", e));
  cache.Remember("id-1", "secret", e);
  EXPECT_TRUE(cache.Proven("id-1", "secret", e));
  EXPECT_FALSE(cache.Proven("id-1", "secret!", e));
  EXPECT_FALSE(cache.Proven("id-1", "", e));
  EXPECT_FALSE(cache.Proven("id-2", "secret", e));
  // The id and secret are length-prefixed: moving a byte across the
  // boundary is another pair.
  EXPECT_FALSE(cache.Proven("id-1s", "ecret", e));
  EXPECT_EQ(cache.size(), 1u);
}

TEST(SecretCacheTest, AnotherEpochProvesNothingAndEmptiesTheCache) {
  SecretCache cache;
  Epoch e = NewEpoch();
  cache.Remember("id-1", "secret", e);
  Epoch access_changed{std::make_shared<int>(1), e.roles};
  EXPECT_FALSE(cache.Proven("id-1", "secret", access_changed));
  EXPECT_FALSE(cache.Proven("id-1", "secret", e));  // gone, not hidden
  cache.Remember("id-1", "secret", e);
  Epoch roles_changed{e.access, std::make_shared<int>(2)};
  EXPECT_FALSE(cache.Proven("id-1", "secret", roles_changed));
}

TEST(SecretCacheTest, AFreedSnapshotIsNeverMistakenForANewOne) {
  SecretCache cache;
  auto roles = std::make_shared<int>(0);
  {
    Epoch old{std::make_shared<int>(1), roles};
    cache.Remember("id-1", "secret", old);
  }  // the snapshot is gone; the cache held it weakly
  for (int i = 0; i < 100; ++i) {
    EXPECT_FALSE(
        cache.Proven("id-1", "secret", {std::make_shared<int>(i), roles}));
  }
}

TEST(SecretCacheTest, ForgetDropsOneProof) {
  SecretCache cache;
  Epoch e = NewEpoch();
  cache.Remember("id-1", "a", e);
  cache.Remember("id-2", "b", e);
  cache.Forget("id-1");
  EXPECT_FALSE(cache.Proven("id-1", "a", e));
  EXPECT_TRUE(cache.Proven("id-2", "b", e));
}

TEST(SecretCacheTest, ANewSecretReplacesTheOld) {
  SecretCache cache;
  Epoch e = NewEpoch();
  cache.Remember("id-1", "old", e);
  cache.Remember("id-1", "new", e);
  EXPECT_FALSE(cache.Proven("id-1", "old", e));
  EXPECT_TRUE(cache.Proven("id-1", "new", e));
  EXPECT_EQ(cache.size(), 1u);
}

TEST(SecretCacheTest, StaysWithinItsBound) {
  SecretCache cache(32);
  Epoch e = NewEpoch();
  for (int i = 0; i < 1000; ++i) {
    cache.Remember("id-" + std::to_string(i), "s", e);
  }
  EXPECT_LE(cache.size(), cache.capacity());
  EXPECT_LE(cache.capacity(), 32u);
  EXPECT_GT(cache.size(), 0u);
  // The newest proof is always kept.
  EXPECT_TRUE(cache.Proven("id-999", "s", e));
}

TEST(SecretCacheTest, EachCacheHasItsOwnKey) {
  // Two caches proving the same pair must not share verifiers: a proof
  // from one process means nothing to another.
  SecretCache a, b;
  Epoch e = NewEpoch();
  a.Remember("id-1", "secret", e);
  EXPECT_FALSE(b.Proven("id-1", "secret", e));
}

// KeyOps over the test token that counts pepper HMACs and can fail them.
class CountingKeyOps final : public hsm::ForwardingKeyOps {
 public:
  using ForwardingKeyOps::ForwardingKeyOps;
  mutable std::atomic<int> hmacs{0};
  std::atomic<bool> fail_hmac{false};
  StatusOr<std::string> HmacPepper(std::string_view data) const override {
    ++hmacs;
    if (fail_hmac) return Status::Unavailable("HSM C_Sign: CKR_DEVICE_ERROR");
    return inner_->HmacPepper(data);
  }
};

class SecretCacheServiceTest : public testing::TokenServiceTest {
 protected:
  void SetUp() override {
    TokenServiceTest::SetUp();
    // Access over the counting ops, on the same database and audit log.
    tokens_.reset();
    access_.reset();
    auto access = Access::Create(storage_.get(), audit_.get(), &counting_,
                                 &clock_, DefaultRoles());
    ASSERT_TRUE(access.ok()) << access.status().message();
    access_ = std::move(access).value();
    tokens_ = MakeService(testing::kTokenAudience, 600);
    cred_ = MustCreate("svc", "viewer", 3600);
  }

  TokenOutcome IssueWith(std::string_view secret) {
    return tokens_->Issue(
        {{cred_.credential.client_id, secret, "192.0.2.1"}, {}});
  }
  TokenOutcome IssueOk() { return IssueWith(cred_.client_secret.view()); }
  int Hmacs() const { return counting_.hmacs.load(); }

  CountingKeyOps counting_{&keys()};
  CreatedCredential cred_;
};

TEST_F(SecretCacheServiceTest, AProvedSecretSkipsTheHmac) {
  ASSERT_TRUE(IssueOk().status.ok());
  int after_first = Hmacs();
  for (int i = 0; i < 3; ++i) {
    TokenOutcome t = IssueOk();
    ASSERT_TRUE(t.status.ok()) << t.status.message();
    EXPECT_TRUE(tokens_->VerifyBearer(t.token.access_token).ok());
  }
  EXPECT_EQ(Hmacs(), after_first);
  // Nothing about the HSM is needed for a hit: with the HMAC failing, the
  // proved secret still gets its token...
  counting_.fail_hmac = true;
  EXPECT_TRUE(IssueOk().status.ok());
  // ...while any other secret for the same id goes to the HSM.
  EXPECT_EQ(IssueWith("authd_s_wrong").refusal.failure,
            TokenFailure::kUnavailable);
}

TEST_F(SecretCacheServiceTest, AWrongSecretIsNeverRememberedAndIsCharged) {
  ASSERT_TRUE(IssueOk().status.ok());
  int before = Hmacs();
  for (int i = 0; i < 5; ++i) {
    TokenOutcome t = IssueWith("authd_s_wrong");
    EXPECT_EQ(t.refusal.failure, TokenFailure::kInvalidClient);
  }
  EXPECT_EQ(Hmacs(), before + 5);  // each wrong guess cost the HSM its HMAC
  // The (client, address) bucket is empty now: the right secret, though
  // proved, waits like any other request from there.
  TokenOutcome limited = IssueOk();
  EXPECT_EQ(limited.refusal.failure, TokenFailure::kRateLimited);
  EXPECT_GT(limited.refusal.retry_after, 0);
  // From another address it is served, from the cache.
  int hmacs = Hmacs();
  EXPECT_TRUE(tokens_
                  ->Issue({{cred_.credential.client_id,
                            cred_.client_secret.view(), "192.0.2.2"},
                           {}})
                  .status.ok());
  EXPECT_EQ(Hmacs(), hmacs);
}

TEST_F(SecretCacheServiceTest, ADeletedCredentialIsRefusedAtOnce) {
  ASSERT_TRUE(IssueOk().status.ok());
  ASSERT_TRUE(IssueOk().status.ok());
  ASSERT_TRUE(
      access_->DeleteCredential(cred_.credential.client_id, testing::kOwner)
          .ok());
  int before = Hmacs();
  EXPECT_EQ(IssueOk().refusal.failure, TokenFailure::kInvalidClient);
  EXPECT_EQ(Hmacs(), before + 1);  // decided by the HSM, not the cache
}

TEST_F(SecretCacheServiceTest, AnExpiredCredentialIsRefused) {
  ASSERT_TRUE(IssueOk().status.ok());
  ASSERT_TRUE(IssueOk().status.ok());
  clock_.Advance(3600);
  EXPECT_EQ(IssueOk().refusal.failure, TokenFailure::kInvalidClient);
  EXPECT_EQ(IssueOk().refusal.failure, TokenFailure::kInvalidClient);
}

TEST_F(SecretCacheServiceTest, CredentialAndRoleChangesDropEveryProof) {
  ASSERT_TRUE(IssueOk().status.ok());
  int before = Hmacs();
  MustCreate("other", "viewer");  // a new Access snapshot
  ASSERT_TRUE(IssueOk().status.ok());
  EXPECT_EQ(Hmacs(), before + 2);  // the new secret's MAC, then ours again
  ASSERT_TRUE(IssueOk().status.ok());
  EXPECT_EQ(Hmacs(), before + 2);

  std::vector<Role> roles = DefaultRoles();
  roles.push_back({"extra", "added by a reload", {"audit:read"}});
  ASSERT_TRUE(access_->SetRoles(roles).ok());
  before = Hmacs();
  ASSERT_TRUE(IssueOk().status.ok());
  EXPECT_EQ(Hmacs(), before + 1);
}

TEST_F(SecretCacheServiceTest, AnHsmFailureIsNeverRemembered) {
  counting_.fail_hmac = true;
  EXPECT_EQ(IssueOk().refusal.failure, TokenFailure::kUnavailable);
  counting_.fail_hmac = false;
  int before = Hmacs();
  ASSERT_TRUE(IssueOk().status.ok());
  EXPECT_EQ(Hmacs(), before + 1);
}

}  // namespace
}  // namespace authd::authority
