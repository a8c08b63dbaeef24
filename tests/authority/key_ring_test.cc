// KeyRing against real SQLite, the real audit log and the SoftHSM2 token:
// the HSM's token key as the first active key, rotation to ES256 and RS256,
// how long a retired key stays published, the key.rotate audit entry, and
// the ring across a restart.
#include "authority/key_ring.h"

#include <gtest/gtest.h>

#include <memory>
#include <string>
#include <vector>

#include "audit/checkpoint.h"
#include "audit/entry.h"
#include "authority/failure_limiter.h"
#include "authority/jwt.h"
#include "authority/token_service.h"
#include "testing/faulty_key_ops.h"
#include "testing/key_ring_fixture.h"

namespace authd::authority {
namespace {

using nlohmann::json;
using testing::kDay;
using testing::KeyRingTest;
using testing::kOwner;
using testing::kTokenTtl;

std::vector<std::string> Kids(const std::vector<const RingKey*>& keys) {
  std::vector<std::string> out;
  for (const RingKey* k : keys) out.push_back(k->pub.kid());
  return out;
}

std::vector<std::string> Kids(const std::vector<RingKey>& keys) {
  std::vector<std::string> out;
  for (const RingKey& k : keys) out.push_back(k.pub.kid());
  return out;
}

// The decoded key.rotate entries, oldest first.
std::vector<json> RotateEntries(const audit::AuditLog& log) {
  storage::AuditFilter f;
  f.action = "key.rotate";
  f.limit = 1000;
  std::vector<json> out;
  StatusOr<std::vector<storage::AuditRecord>> rows = log.List(f);
  EXPECT_TRUE(rows.ok()) << rows.status().message();
  if (!rows.ok()) return out;
  for (const auto& r : *rows) {
    StatusOr<json> e = audit::AuditEntryJson(r.leaf);
    EXPECT_TRUE(e.ok()) << e.status().message();
    if (e.ok()) out.push_back(*e);
  }
  return out;
}

const std::string& HsmTokenKid() {
  return testing::SoftHsmToken::Keys().Public(hsm::KeyUse::kToken).kid();
}

// ------------------------------------------------------------------ Open

TEST_F(KeyRingTest, OpensWithTheHsmTokenKeyAsTheActiveKey) {
  std::shared_ptr<const KeyRing::Snapshot> snap = ring_->Current();
  const PublicKey& hsm_key = keys().Public(hsm::KeyUse::kToken);
  EXPECT_EQ(snap->active.label, hsm::kTokenKeyLabel);
  EXPECT_EQ(snap->active.pub.kid(), hsm_key.kid());
  EXPECT_EQ(snap->active.pub.spki_der(), hsm_key.spki_der());
  EXPECT_EQ(snap->active.pub.algorithm(), Algorithm::kES256);
  EXPECT_EQ(snap->active.retired_at, 0);
  EXPECT_EQ(snap->active.created_at, t0_);
  EXPECT_EQ(Kids(snap->all), std::vector<std::string>{hsm_key.kid()});
  // The active key never drops out of the JWKS, however much time passes.
  EXPECT_EQ(Kids(ring_->Published(*snap, t0_ + 400 * kDay)),
            std::vector<std::string>{hsm_key.kid()});
  const PublicKey* found = ring_->Find(*snap, hsm_key.kid(), t0_);
  ASSERT_NE(found, nullptr);
  EXPECT_EQ(found->spki_der(), hsm_key.spki_der());
  EXPECT_EQ(ring_->Find(*snap, "no-such-kid", t0_), nullptr);
  EXPECT_EQ(ring_->Find(*snap, "", t0_), nullptr);
}

// --------------------------------------------------------------- Rotate

TEST_F(KeyRingTest, RotateCreatesANewActiveEs256Key) {
  std::shared_ptr<const KeyRing::Snapshot> before = ring_->Current();
  clock_.Advance(10);
  StatusOr<RingKey> fresh = Rotate(Algorithm::kES256, "quarterly");
  ASSERT_TRUE(fresh.ok()) << fresh.status().message();

  EXPECT_NE(fresh->label, hsm::kTokenKeyLabel);
  EXPECT_EQ(fresh->label.rfind(std::string(hsm::kTokenKeyLabel) + "-", 0), 0u)
      << fresh->label;
  EXPECT_NE(fresh->pub.kid(), HsmTokenKid());
  EXPECT_EQ(fresh->pub.algorithm(), Algorithm::kES256);
  EXPECT_EQ(fresh->created_at, t0_ + 10);
  EXPECT_EQ(fresh->retired_at, 0);

  std::shared_ptr<const KeyRing::Snapshot> snap = ring_->Current();
  EXPECT_EQ(snap->active.label, fresh->label);
  EXPECT_EQ(snap->active.pub.kid(), fresh->pub.kid());
  ASSERT_EQ(snap->all.size(), 2u);
  EXPECT_EQ(snap->all[0].label, fresh->label);  // active first
  EXPECT_EQ(snap->all[1].label, hsm::kTokenKeyLabel);
  EXPECT_EQ(snap->all[1].pub.kid(), HsmTokenKid());
  EXPECT_EQ(snap->all[1].created_at, t0_);
  EXPECT_EQ(snap->all[1].retired_at, t0_ + 10);

  // The pair is in the HSM under that label.
  StatusOr<PublicKey> loaded = keys().LoadSigningKey(fresh->label);
  ASSERT_TRUE(loaded.ok()) << loaded.status().message();
  EXPECT_EQ(loaded->spki_der(), fresh->pub.spki_der());
  // A snapshot taken before the rotation is left as it was, so a token
  // being signed meanwhile pairs one key's kid with that key's signature.
  EXPECT_EQ(before->active.label, hsm::kTokenKeyLabel);
  EXPECT_EQ(before->all.size(), 1u);
}

TEST_F(KeyRingTest, RotateCreatesAnRs256KeyAndBack) {
  clock_.Advance(10);
  StatusOr<RingKey> rsa = Rotate(Algorithm::kRS256);
  ASSERT_TRUE(rsa.ok()) << rsa.status().message();
  EXPECT_EQ(rsa->pub.algorithm(), Algorithm::kRS256);
  EXPECT_EQ(ring_->Current()->active.pub.algorithm(), Algorithm::kRS256);
  bool is_rsa = false;
  for (const auto& [name, value] : rsa->pub.JwkMembers()) {
    if (name == "kty") is_rsa = value == "RSA";
  }
  EXPECT_TRUE(is_rsa);

  clock_.Advance(10);
  StatusOr<RingKey> ec = Rotate(Algorithm::kES256);
  ASSERT_TRUE(ec.ok()) << ec.status().message();
  EXPECT_EQ(ring_->Current()->active.pub.algorithm(), Algorithm::kES256);
  EXPECT_EQ(
      Kids(ring_->Current()->all),
      (std::vector<std::string>{ec->pub.kid(), rsa->pub.kid(), HsmTokenKid()}));
}

TEST_F(KeyRingTest, RotateRefusesABadReasonAndChangesNothing) {
  const uint64_t audited = audit_->size();
  for (const std::string& reason :
       {std::string("line\nbreak"), std::string(1025, 'x')}) {
    StatusOr<RingKey> r = Rotate(Algorithm::kES256, reason);
    EXPECT_EQ(r.status().code(), StatusCode::kInvalidArgument);
    EXPECT_NE(r.status().message().find("reason"), std::string::npos)
        << r.status().message();
  }
  EXPECT_EQ(Kids(ring_->Current()->all),
            std::vector<std::string>{HsmTokenKid()});
  EXPECT_EQ(audit_->size(), audited);
  EXPECT_TRUE(Rotate(Algorithm::kES256, std::string(1024, 'x')).ok());
}

// No change without its audit entry: a rotation whose entry cannot be
// signed leaves the ring as it was, in memory and on disk.
TEST_F(KeyRingTest, RotationThatCannotBeAuditedChangesNothing) {
  testing::FaultyKeyOps faulty(&keys());
  ring_.reset();
  access_.reset();
  audit_.reset();
  StatusOr<std::unique_ptr<audit::AuditLog>> log =
      audit::AuditLog::Open(storage_.get(), &faulty, &clock_, origin_, "test");
  ASSERT_TRUE(log.ok()) << log.status().message();
  audit_ = std::move(log).value();
  StatusOr<std::unique_ptr<KeyRing>> ring =
      KeyRing::Open(storage_.get(), audit_.get(), &faulty, &clock_, kTokenTtl);
  ASSERT_TRUE(ring.ok()) << ring.status().message();
  ring_ = std::move(ring).value();
  faulty.fail_audit_sign = true;
  clock_.Advance(10);
  StatusOr<RingKey> r = Rotate(Algorithm::kES256);
  EXPECT_EQ(r.status().code(), StatusCode::kUnavailable);
  EXPECT_EQ(Kids(ring_->Current()->all),
            std::vector<std::string>{HsmTokenKid()});
  EXPECT_EQ(audit_->size(), 0u);

  // Nothing may keep using `faulty` past this test: back to the real keys.
  ASSERT_NO_FATAL_FAILURE(Reopen());
  EXPECT_EQ(Kids(ring_->Current()->all),
            std::vector<std::string>{HsmTokenKid()});
  EXPECT_TRUE(RotateEntries(*audit_).empty());
}

// ------------------------------------------------- the published window

TEST_F(KeyRingTest, RetiredKeyIsPublishedForTheTokenLifetimeThenDropsOut) {
  clock_.Advance(100);
  const int64_t rotated = clock_.NowSeconds();
  StatusOr<RingKey> fresh = Rotate(Algorithm::kES256);
  ASSERT_TRUE(fresh.ok()) << fresh.status().message();
  const std::string& old_kid = HsmTokenKid();
  const std::string& new_kid = fresh->pub.kid();
  std::shared_ptr<const KeyRing::Snapshot> snap = ring_->Current();

  // A token signed just before the rotation lives until rotated + kTokenTtl
  // (exclusive): its key stays published all that time.
  for (int64_t now : {rotated, rotated + 1, rotated + kTokenTtl - 1}) {
    clock_.Set(now);
    EXPECT_EQ(Kids(ring_->Published(*snap, clock_.NowSeconds())),
              (std::vector<std::string>{new_kid, old_kid}))
        << now - rotated;
    EXPECT_NE(ring_->Find(*snap, old_kid, clock_.NowSeconds()), nullptr)
        << now - rotated;
  }
  // Then it drops out; the active key stays.
  for (int64_t now : {rotated + kTokenTtl + 1, rotated + 30 * kDay}) {
    clock_.Set(now);
    EXPECT_EQ(Kids(ring_->Published(*snap, clock_.NowSeconds())),
              std::vector<std::string>{new_kid})
        << now - rotated;
    EXPECT_EQ(ring_->Find(*snap, old_kid, clock_.NowSeconds()), nullptr)
        << now - rotated;
    EXPECT_NE(ring_->Find(*snap, new_kid, clock_.NowSeconds()), nullptr)
        << now - rotated;
  }
}

// Each retired key has its own window, counted from its own retirement.
TEST_F(KeyRingTest, EachRetiredKeyLeavesOnItsOwnSchedule) {
  clock_.Set(t0_ + 10);
  StatusOr<RingKey> k1 = Rotate(Algorithm::kES256);
  ASSERT_TRUE(k1.ok()) << k1.status().message();
  clock_.Set(t0_ + 20);
  StatusOr<RingKey> k2 = Rotate(Algorithm::kES256);
  ASSERT_TRUE(k2.ok()) << k2.status().message();
  const std::string k0 = HsmTokenKid();
  std::shared_ptr<const KeyRing::Snapshot> snap = ring_->Current();
  ASSERT_EQ(snap->all.size(), 3u);
  EXPECT_EQ(snap->all[1].retired_at, t0_ + 20);  // k1
  EXPECT_EQ(snap->all[2].retired_at, t0_ + 10);  // k0 keeps its first date

  using Kidv = std::vector<std::string>;
  EXPECT_EQ(Kids(ring_->Published(*snap, t0_ + 20)),
            (Kidv{k2->pub.kid(), k1->pub.kid(), k0}));
  EXPECT_EQ(Kids(ring_->Published(*snap, t0_ + 10 + kTokenTtl + 1)),
            (Kidv{k2->pub.kid(), k1->pub.kid()}));
  EXPECT_EQ(Kids(ring_->Published(*snap, t0_ + 20 + kTokenTtl + 1)),
            (Kidv{k2->pub.kid()}));

  // A rotation after k0's window drops k0 from the ring for good.
  clock_.Set(t0_ + 10 + kTokenTtl + 1);
  StatusOr<RingKey> k3 = Rotate(Algorithm::kES256);
  ASSERT_TRUE(k3.ok()) << k3.status().message();
  EXPECT_EQ(Kids(ring_->Current()->all),
            (Kidv{k3->pub.kid(), k2->pub.kid(), k1->pub.kid()}));
}

// What the window is for: a token signed by the old key keeps verifying
// until it expires, and one signed after the rotation uses the new key.
// A reload that lengthens tokens.ttl_seconds keeps retired keys published
// longer; one that shortens it does not cut the window of tokens already
// signed under the longer lifetime.
TEST_F(KeyRingTest, AReloadedLifetimeOnlyLengthensThePublishedWindow) {
  clock_.Advance(100);
  const int64_t rotated = clock_.NowSeconds();
  ASSERT_TRUE(Rotate(Algorithm::kES256).ok());
  const std::string& old_kid = HsmTokenKid();
  std::shared_ptr<const KeyRing::Snapshot> snap = ring_->Current();
  auto published_at = [&](int64_t now) {
    return ring_->Find(*snap, old_kid, now) != nullptr;
  };
  EXPECT_TRUE(published_at(rotated + kTokenTtl));
  EXPECT_FALSE(published_at(rotated + kTokenTtl + 1));
  ring_->RaiseMaxTokenTtl(kTokenTtl + 300);
  EXPECT_TRUE(published_at(rotated + kTokenTtl + 300));
  EXPECT_FALSE(published_at(rotated + kTokenTtl + 301));
  ring_->RaiseMaxTokenTtl(60);  // shorter: the window stays
  EXPECT_TRUE(published_at(rotated + kTokenTtl + 300));
  EXPECT_EQ(Kids(ring_->Published(*snap, rotated + kTokenTtl + 300)).size(),
            2u);
}

TEST_F(KeyRingTest, TokensSignedBeforeARotationVerifyUntilTheyExpire) {
  FailureLimiter limiter(&clock_, LimiterOptions{});
  TokenService tokens(ring_.get(), access_.get(), &limiter, nullptr, &clock_,
                      {"https://authd.test", "api", kTokenTtl});
  CreatedCredential c = MustCreate("svc", "viewer");
  auto issue = [&] {
    TokenOutcome out = tokens.Issue(
        {{c.credential.client_id, c.client_secret.view(), "192.0.2.1"}, {}});
    EXPECT_TRUE(out.status.ok()) << out.status.message();
    return out.token.access_token;
  };
  const std::string before = issue();
  StatusOr<RingKey> fresh = Rotate(Algorithm::kRS256);  // the same second
  ASSERT_TRUE(fresh.ok()) << fresh.status().message();
  const std::string after = issue();

  StatusOr<VerifiedJwt> old_jwt =
      VerifyJwt(before, keys().Public(hsm::KeyUse::kToken));
  ASSERT_TRUE(old_jwt.ok()) << old_jwt.status().message();
  StatusOr<VerifiedJwt> new_jwt = VerifyJwt(after, fresh->pub);
  ASSERT_TRUE(new_jwt.ok()) << new_jwt.status().message();
  EXPECT_EQ(new_jwt->header["alg"], "RS256");
  EXPECT_EQ(new_jwt->header["kid"], fresh->pub.kid());

  clock_.Advance(kTokenTtl - 1);
  EXPECT_TRUE(tokens.VerifyBearer(before).ok());
  EXPECT_TRUE(tokens.VerifyBearer(after).ok());
  clock_.Advance(2);
  EXPECT_FALSE(tokens.VerifyBearer(before).ok());
  EXPECT_EQ(ring_->Find(*ring_->Current(), HsmTokenKid(), clock_.NowSeconds()),
            nullptr);
}

// ------------------------------------------------------------------ Sign

TEST_F(KeyRingTest, SignProducesSignaturesTheKeysPublicHalfVerifies) {
  const std::string data = "header.claims";
  const RingKey es = ring_->Current()->active;
  StatusOr<std::string> es_sig = ring_->Sign(es, data);
  ASSERT_TRUE(es_sig.ok()) << es_sig.status().message();
  EXPECT_EQ(es_sig->size(), 64u);  // raw r||s, RFC 7518 §3.4
  EXPECT_TRUE(es.pub.Verify(data, *es_sig));
  EXPECT_TRUE(es.pub.VerifyEs256(data, *es_sig));
  EXPECT_FALSE(es.pub.Verify("header.claimz", *es_sig));

  clock_.Advance(1);
  StatusOr<RingKey> rs = Rotate(Algorithm::kRS256);
  ASSERT_TRUE(rs.ok()) << rs.status().message();
  StatusOr<std::string> rs_sig = ring_->Sign(*rs, data);
  ASSERT_TRUE(rs_sig.ok()) << rs_sig.status().message();
  EXPECT_EQ(rs_sig->size(), 256u);  // RSA-2048, RSASSA-PKCS1-v1_5
  EXPECT_TRUE(rs->pub.Verify(data, *rs_sig));
  EXPECT_FALSE(rs->pub.Verify("header.claimz", *rs_sig));
  EXPECT_FALSE(es.pub.Verify(data, *rs_sig));
  EXPECT_FALSE(rs->pub.Verify(data, *es_sig));

  // The retired key still signs (its tokens are not re-signed, but nothing
  // about retirement touches the HSM object).
  StatusOr<std::string> again = ring_->Sign(es, data);
  ASSERT_TRUE(again.ok()) << again.status().message();
  EXPECT_TRUE(es.pub.Verify(data, *again));
}

// ----------------------------------------------------------------- audit

TEST_F(KeyRingTest, RotationIsRecordedInTheAuditLog) {
  const uint64_t before = audit_->size();
  clock_.Advance(5);
  StatusOr<RingKey> fresh = Rotate(Algorithm::kRS256, "quarterly");
  ASSERT_TRUE(fresh.ok()) << fresh.status().message();
  EXPECT_EQ(audit_->size(), before + 1);

  std::vector<json> entries = RotateEntries(*audit_);
  ASSERT_EQ(entries.size(), 1u);
  const json& e = entries[0];
  EXPECT_EQ(e["seq"], before);
  EXPECT_EQ(e["actor"], kOwner.id);
  EXPECT_EQ(e["source"], kOwner.address);
  EXPECT_EQ(e["target"], fresh->label);
  EXPECT_EQ(e["reason"], "quarterly");
  EXPECT_EQ(e["time_unix_micros"], (t0_ + 5) * 1000000);
  EXPECT_EQ(e["values"], (json{{"use", "token"},
                               {"kid", fresh->pub.kid()},
                               {"algorithm", "RS256"},
                               {"previous_kid", HsmTokenKid()}}));

  // Covered by a signed checkpoint.
  StatusOr<std::string> note = audit_->LatestCheckpoint();
  ASSERT_TRUE(note.ok()) << note.status().message();
  StatusOr<audit::Checkpoint> cp = audit::VerifySignedCheckpoint(
      *note, origin_, origin_, keys().Public(hsm::KeyUse::kAudit));
  ASSERT_TRUE(cp.ok()) << cp.status().message();
  EXPECT_EQ(cp->size, before + 1);

  // The next rotation names this key as the previous one.
  clock_.Advance(5);
  StatusOr<RingKey> next = Rotate(Algorithm::kES256);
  ASSERT_TRUE(next.ok()) << next.status().message();
  entries = RotateEntries(*audit_);
  ASSERT_EQ(entries.size(), 2u);
  EXPECT_EQ(entries[1]["values"]["previous_kid"], fresh->pub.kid());
  EXPECT_EQ(entries[1]["values"]["algorithm"], "ES256");
}

// --------------------------------------------------------------- restart

TEST_F(KeyRingTest, RingSurvivesAReopen) {
  clock_.Advance(50);
  StatusOr<RingKey> fresh = Rotate(Algorithm::kRS256);
  ASSERT_TRUE(fresh.ok()) << fresh.status().message();
  clock_.Advance(100);
  ASSERT_NO_FATAL_FAILURE(Reopen());

  std::shared_ptr<const KeyRing::Snapshot> snap = ring_->Current();
  ASSERT_EQ(snap->all.size(), 2u);
  EXPECT_EQ(snap->active.label, fresh->label);
  EXPECT_EQ(snap->active.pub.kid(), fresh->pub.kid());
  EXPECT_EQ(snap->active.pub.algorithm(), Algorithm::kRS256);
  EXPECT_EQ(snap->active.created_at, t0_ + 50);
  EXPECT_EQ(snap->active.retired_at, 0);
  EXPECT_EQ(snap->all[1].label, hsm::kTokenKeyLabel);
  EXPECT_EQ(snap->all[1].pub.kid(), HsmTokenKid());
  EXPECT_EQ(snap->all[1].created_at, t0_);
  EXPECT_EQ(snap->all[1].retired_at, t0_ + 50);
  // The reopened ring signs with the HSM key it names.
  StatusOr<std::string> sig = ring_->Sign(snap->active, "data");
  ASSERT_TRUE(sig.ok()) << sig.status().message();
  EXPECT_TRUE(fresh->pub.Verify("data", *sig));

  // A restart after the retired key's window no longer loads it.
  clock_.Set(t0_ + 50 + kTokenTtl + 1);
  ASSERT_NO_FATAL_FAILURE(Reopen());
  EXPECT_EQ(Kids(ring_->Current()->all),
            std::vector<std::string>{fresh->pub.kid()});
}

// The stored ring is checked against the HSM: a database whose ring names
// another key, or is unreadable, stops the open instead of serving tokens
// signed by a key the JWKS would not match.
TEST_F(KeyRingTest, StoredRingThatDoesNotMatchTheHsmIsRefused) {
  const std::string kid = HsmTokenKid();
  struct Case {
    std::string meta;
    StatusCode code;
    std::string needle;
  };
  const Case cases[] = {
      {R"([{"label":"authd-token-signing","kid":"another-kid","alg":"ES256",)"
       R"("created_at":1,"retired_at":0}])",
       StatusCode::kFailedPrecondition, "authd-token-signing"},
      {R"([{"label":"authd-token-signing-nosuch","kid":")" + kid +
           R"(","alg":"ES256","created_at":1,"retired_at":0}])",
       StatusCode::kNotFound, "authd-token-signing-nosuch"},
      {"not json", StatusCode::kInternal, "corrupt"},
      {"[]", StatusCode::kInternal, "no active key"},
      {R"([{"label":"authd-token-signing","kid":")" + kid +
           R"(","alg":"ES256","created_at":1,"retired_at":)" +
           std::to_string(t0_ - 1) + "}]",
       StatusCode::kInternal, "no active key"},
  };
  for (const Case& c : cases) {
    Status put = storage_->Write([&](storage::Transaction& tx) {
      return tx.PutMeta("token_keys", c.meta);
    });
    ASSERT_TRUE(put.ok()) << put.message();
    StatusOr<std::unique_ptr<KeyRing>> ring = KeyRing::Open(
        storage_.get(), audit_.get(), &keys(), &clock_, kTokenTtl);
    ASSERT_FALSE(ring.ok()) << c.meta;
    EXPECT_EQ(ring.status().code(), c.code) << c.meta;
    EXPECT_NE(ring.status().message().find(c.needle), std::string::npos)
        << ring.status().message();
  }
}

}  // namespace
}  // namespace authd::authority
