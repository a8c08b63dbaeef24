// The audit log against real SQLite and the SoftHSM2 token: atomicity with
// the change, fail-closed on HSM and disk faults, rollback and fork detection,
// and offline verification that rejects every tampering of an export.
#include "audit/audit_log.h"

#include <gtest/gtest.h>
#include <sqlite3.h>

#include <bit>
#include <chrono>
#include <condition_variable>
#include <filesystem>
#include <future>
#include <mutex>
#include <sstream>
#include <thread>
#include <tuple>

#include "audit/checkpoint.h"
#include "audit/verifier.h"
#include "authority/access.h"
#include "common/encoding.h"
#include "hsm/forwarding_key_ops.h"
#include "storage/sqlite_storage.h"
#include "testing/fake_clock.h"
#include "testing/fault_vfs.h"
#include "testing/faulty_key_ops.h"
#include "testing/lines.h"
#include "testing/softhsm_token.h"

namespace authd::audit {
namespace {

using testing::JoinLines;
using testing::SplitLines;

using storage::AuditFilter;
using storage::AuditRecord;
using storage::SqliteStorage;
using storage::StoredCheckpoint;
using storage::Transaction;
using testing::FakeClock;

// KeyOps whose audit signature, once held, waits inside SignEs256 until
// released: an HSM call that hangs at the worst moment, while Record holds
// the log's mutex and the database's open transaction.
class HangingAuditSign final : public hsm::ForwardingKeyOps {
 public:
  explicit HangingAuditSign(const hsm::KeyOps* real) : ForwardingKeyOps(real) {}

  StatusOr<std::string> SignEs256(hsm::KeyUse use,
                                  std::string_view data) const override {
    if (use == hsm::KeyUse::kAudit) {
      std::unique_lock<std::mutex> lock(mu_);
      if (hold_) {
        inside_ = true;
        cv_.notify_all();
        cv_.wait(lock, [&] { return !hold_; });
      }
    }
    return inner_->SignEs256(use, data);
  }
  void Hold() {
    std::lock_guard<std::mutex> lock(mu_);
    hold_ = true;
    inside_ = false;  // else a second Hold's wait returns at once
  }
  // Returns once a signature is waiting inside SignEs256.
  void WaitUntilInside() {
    std::unique_lock<std::mutex> lock(mu_);
    cv_.wait(lock, [&] { return inside_; });
  }
  void Release() {
    std::lock_guard<std::mutex> lock(mu_);
    hold_ = false;
    cv_.notify_all();
  }

 private:
  mutable std::mutex mu_;
  mutable std::condition_variable cv_;
  bool hold_ = false;            // GUARDED_BY(mu_)
  mutable bool inside_ = false;  // GUARDED_BY(mu_)
};

class AuditLogTest : public ::testing::Test {
 protected:
  void SetUp() override {
    testing::RegisterFaultVfs();
    dir_ = testing::MakeTempDir("authd-audit-");
    path_ = dir_ + "/authd.db";
    origin_ = std::string("test.local/") +
              ::testing::UnitTest::GetInstance()->current_test_info()->name();
    keys_ =
        std::make_unique<testing::FaultyKeyOps>(&testing::SoftHsmToken::Keys());
    Reopen();
  }
  void TearDown() override {
    testing::FailWrites(false);
    testing::FailSyncs(false);
  }

  void Reopen() {
    access_.reset();
    log_.reset();
    storage_.reset();
    storage_ =
        std::move(SqliteStorage::Open(path_, testing::kFaultVfsName)).value();
    log_ = std::move(AuditLog::Open(storage_.get(), keys_.get(), &clock_,
                                    origin_, "test"))
               .value();
    access_ = std::move(authority::Access::Create(storage_.get(), log_.get(),
                                                  keys_.get(), &clock_,
                                                  authority::DefaultRoles()))
                  .value();
  }

  Status AddCidr(const std::string& cidr) {
    return access_
        ->AddAllowlist(cidr, {"uid:0", "unix", /*holds_all_scopes=*/true},
                       "test")
        .status();
  }

  // The export authctl would write: every entry, then the latest checkpoint.
  std::string Export() {
    AuditFilter f;
    f.limit = 100000;
    std::string out;
    for (const AuditRecord& r : storage_->ListAudit(f).value()) {
      out += AuditEntryJson(r.leaf).value().dump() + "\n";
    }
    out += nlohmann::json{{"checkpoint", log_->LatestCheckpoint().value()}}
               .dump() +
           "\n";
    return out;
  }

  const PublicKey& AuditKey() { return keys_->Public(hsm::KeyUse::kAudit); }

  // Copies the database as a backup would (WAL folded in first).
  void Backup(const std::string& to) {
    sqlite3* db;
    ASSERT_EQ(sqlite3_open(path_.c_str(), &db), SQLITE_OK);
    ASSERT_EQ(sqlite3_exec(db, "PRAGMA wal_checkpoint(TRUNCATE)", nullptr,
                           nullptr, nullptr),
              SQLITE_OK);
    sqlite3_close(db);
    std::filesystem::copy_file(
        path_, to, std::filesystem::copy_options::overwrite_existing);
  }
  void Restore(const std::string& from) {
    access_.reset();
    log_.reset();
    storage_.reset();
    std::filesystem::remove(path_ + "-wal");
    std::filesystem::remove(path_ + "-shm");
    std::filesystem::copy_file(
        from, path_, std::filesystem::copy_options::overwrite_existing);
  }

  // Runs SQL on the database as someone holding the file would, authd
  // closed.
  void Exec(const std::vector<std::string>& sql) {
    access_.reset();
    log_.reset();
    storage_.reset();
    sqlite3* db;
    ASSERT_EQ(sqlite3_open(path_.c_str(), &db), SQLITE_OK);
    for (const std::string& q : sql) {
      ASSERT_EQ(sqlite3_exec(db, q.c_str(), nullptr, nullptr, nullptr),
                SQLITE_OK)
          << q;
    }
    sqlite3_close(db);
  }

  FakeClock clock_;
  std::string dir_, path_, origin_;
  std::unique_ptr<testing::FaultyKeyOps> keys_;
  std::unique_ptr<SqliteStorage> storage_;
  std::unique_ptr<AuditLog> log_;
  std::unique_ptr<authority::Access> access_;
};

TEST_F(AuditLogTest, EachChangeAppendsOneEntryAndASignedCheckpoint) {
  // Three key.create (the keys predate this log) and roles.set.
  ASSERT_TRUE(access_->RecordStartup({}).ok());
  EXPECT_EQ(log_->size(), 4u);
  ASSERT_TRUE(access_->RecordStartup({}).ok());  // nothing new to record
  EXPECT_EQ(log_->size(), 4u);
  ASSERT_TRUE(AddCidr("192.0.2.0/24").ok());
  auto created = access_->CreateCredential(
      {"svc", "viewer", clock_.NowSeconds() + 3600, "ticket 7"},
      {"client:abc", "198.51.100.1", false, {"data:read"}});
  ASSERT_TRUE(created.ok());
  EXPECT_EQ(log_->size(), 6u);
  auto cp = VerifySignedCheckpoint(log_->LatestCheckpoint().value(), origin_,
                                   origin_, AuditKey());
  ASSERT_TRUE(cp.ok()) << cp.status().message();
  EXPECT_EQ(cp->size, 6u);

  AuditFilter f;
  f.action = "credential.create";
  auto rows = storage_->ListAudit(f).value();
  ASSERT_EQ(rows.size(), 1u);
  auto e = AuditEntryJson(rows[0].leaf).value();
  EXPECT_EQ(e["seq"], 5);
  EXPECT_EQ(e["actor"], "client:abc");
  EXPECT_EQ(e["source"], "198.51.100.1");
  EXPECT_EQ(e["target"], created->credential.client_id);
  EXPECT_EQ(e["reason"], "ticket 7");
  EXPECT_EQ(e["result"], "success");
  EXPECT_EQ(e["software_version"], "test");
  EXPECT_EQ(e["values"],
            (nlohmann::json{
                {"name", "svc"},
                {"role", "viewer"},
                {"expires_at", FormatRfc3339(clock_.NowSeconds() + 3600)}}));
  // No secret, and no MAC of it, anywhere in the log.
  std::string all = Export();
  EXPECT_EQ(all.find(std::string(created->client_secret.view())),
            std::string::npos);
  EXPECT_EQ(all.find(Base64Encode(created->client_secret.view())),
            std::string::npos);
  EXPECT_TRUE(VerifyExport(all, AuditKey(), std::nullopt).ok());
}

TEST_F(AuditLogTest, HsmSignFaultLeavesStateAndLogUnchanged) {
  ASSERT_TRUE(AddCidr("192.0.2.0/24").ok());
  std::string before = Export();
  keys_->fail_audit_sign = true;
  Status st = AddCidr("198.51.100.0/24");
  EXPECT_EQ(st.code(), StatusCode::kUnavailable);
  auto c =
      access_->CreateCredential({"x", "viewer", clock_.NowSeconds() + 60, ""},
                                {"uid:0", "unix", /*holds_all_scopes=*/true});
  EXPECT_EQ(c.status().code(), StatusCode::kUnavailable);
  keys_->fail_audit_sign = false;
  EXPECT_EQ(access_->Current()->allowlist.size(), 1u);
  EXPECT_TRUE(access_->ListCredentials().empty());
  EXPECT_EQ(Export(), before);
  Reopen();  // and on disk too
  EXPECT_EQ(access_->Current()->allowlist.size(), 1u);
  EXPECT_EQ(Export(), before);
  EXPECT_TRUE(AddCidr("198.51.100.0/24").ok());
  EXPECT_TRUE(VerifyExport(Export(), AuditKey(), std::nullopt).ok());
}

TEST_F(AuditLogTest, DiskFaultAtCommitLeavesStateAndLogUnchanged) {
  ASSERT_TRUE(AddCidr("192.0.2.0/24").ok());
  std::string before = Export();
  for (auto fail : {&testing::FailSyncs, &testing::FailWrites}) {
    fail(true);
    Status st = AddCidr("198.51.100.0/24");
    fail(false);
    EXPECT_FALSE(st.ok());
    EXPECT_NE(st.code(), StatusCode::kInternal) << st.message();
    EXPECT_EQ(access_->Current()->allowlist.size(), 1u);
    Reopen();
    EXPECT_EQ(Export(), before);
    EXPECT_EQ(log_->refusal(), "");
  }
  EXPECT_TRUE(AddCidr("198.51.100.0/24").ok());
  EXPECT_TRUE(VerifyExport(Export(), AuditKey(), std::nullopt).ok());
}

TEST_F(AuditLogTest, RestoredOlderDatabaseIsRefusedUntilAccepted) {
  ASSERT_TRUE(AddCidr("192.0.2.0/24").ok());
  Backup(dir_ + "/old.db");
  ASSERT_TRUE(AddCidr("198.51.100.0/24").ok());
  Restore(dir_ + "/old.db");
  Reopen();
  EXPECT_NE(log_->refusal().find("behind the HSM"), std::string::npos)
      << log_->refusal();
  EXPECT_EQ(AddCidr("203.0.113.0/24").code(), StatusCode::kFailedPrecondition);
  ASSERT_TRUE(log_->AcceptRollback({"uid:0", "local", "", "", {}, ""}).ok());
  EXPECT_EQ(log_->refusal(), "");
  EXPECT_TRUE(AddCidr("203.0.113.0/24").ok());
  Reopen();
  EXPECT_EQ(log_->refusal(), "");
  AuditFilter f;
  f.action = "audit.rollback_accepted";
  EXPECT_EQ(storage_->ListAudit(f).value().size(), 1u);
}

// Someone who can write the database but not the HSM empties the log and
// renames its origin, hoping authd looks for a head that does not exist.
TEST_F(AuditLogTest, EmptiedLogUnderAnotherOriginIsARollback) {
  ASSERT_TRUE(AddCidr("192.0.2.0/24").ok());
  ASSERT_TRUE(AddCidr("198.51.100.0/24").ok());
  for (const char* rename :
       {"UPDATE meta SET value = CAST('evil.example/log' AS BLOB) WHERE key = "
        "'audit_origin'",
        "DELETE FROM meta WHERE key = 'audit_origin'"}) {
    Backup(dir_ + "/good.db");
    Exec({"DELETE FROM audit_log", "DELETE FROM audit_checkpoints",
          "DELETE FROM meta WHERE key = 'audit_frontier'", rename});
    Reopen();
    EXPECT_NE(log_->refusal().find("behind the HSM"), std::string::npos)
        << log_->refusal();
    EXPECT_EQ(AddCidr("203.0.113.0/24").code(),
              StatusCode::kFailedPrecondition);
    Restore(dir_ + "/good.db");
    Reopen();
    EXPECT_EQ(log_->refusal(), "");
  }
  Exec({"DELETE FROM audit_log", "DELETE FROM audit_checkpoints",
        "DELETE FROM meta WHERE key = 'audit_frontier'",
        "UPDATE meta SET value = CAST('evil.example/log' AS BLOB) WHERE key = "
        "'audit_origin'"});
  Reopen();
  EXPECT_NE(log_->refusal().find("evil.example/log"), std::string::npos)
      << log_->refusal();
  ASSERT_TRUE(log_->AcceptRollback({"uid:0", "local", "", "", {}, ""}).ok());
  EXPECT_TRUE(AddCidr("203.0.113.0/24").ok());
  Reopen();
  EXPECT_EQ(log_->refusal(), "");
  EXPECT_EQ(storage_->GetMeta("audit_origin").value(), origin_);
}

// A configured origin that differs from the one the log was signed under is
// a configuration change or a swapped database: refused, naming both, and
// not something --accept-rollback papers over.
TEST_F(AuditLogTest, StoredOriginDifferentFromConfiguredIsRefused) {
  ASSERT_TRUE(AddCidr("192.0.2.0/24").ok());
  std::string configured = origin_;
  origin_ = "other.example/authd-audit";
  Reopen();
  EXPECT_NE(log_->refusal().find(configured), std::string::npos)
      << log_->refusal();
  EXPECT_NE(log_->refusal().find(origin_), std::string::npos)
      << log_->refusal();
  EXPECT_EQ(log_->AcceptRollback({"uid:0", "local", "", "", {}, ""}).code(),
            StatusCode::kFailedPrecondition);
  origin_ = configured;
  Reopen();
  EXPECT_EQ(log_->refusal(), "");
}

// Phase 1 of the head (the pending tree, before the commit) failing: the
// change does not commit and the caller gets the error.
TEST_F(AuditLogTest, HeadWriteFaultBeforeCommitLeavesStateUnchanged) {
  ASSERT_TRUE(AddCidr("192.0.2.0/24").ok());
  std::string before = Export();
  keys_->data_writes_left = 0;
  EXPECT_EQ(AddCidr("198.51.100.0/24").code(), StatusCode::kUnavailable);
  keys_->data_writes_left = -1;
  EXPECT_EQ(access_->Current()->allowlist.size(), 1u);
  EXPECT_EQ(Export(), before);
  Reopen();
  EXPECT_EQ(log_->refusal(), "");
  EXPECT_EQ(Export(), before);
  EXPECT_TRUE(AddCidr("198.51.100.0/24").ok());
}

// A crash after the pending head is written but before the commit (here:
// the disk fails the commit): the database is at the committed size, which
// is fine at the next start; a later restore is still detected.
TEST_F(AuditLogTest, CrashBeforeCommitIsNotARollback) {
  ASSERT_TRUE(AddCidr("192.0.2.0/24").ok());
  Backup(dir_ + "/old.db");
  ASSERT_TRUE(AddCidr("198.51.100.0/24").ok());
  testing::FailSyncs(true);
  EXPECT_FALSE(AddCidr("203.0.113.0/24").ok());
  testing::FailSyncs(false);
  Reopen();
  EXPECT_EQ(log_->refusal(), "");
  EXPECT_EQ(log_->size(), 2u);
  EXPECT_TRUE(AddCidr("203.0.113.0/24").ok());
  Restore(dir_ + "/old.db");
  Reopen();
  EXPECT_NE(log_->refusal().find("behind the HSM"), std::string::npos)
      << log_->refusal();
}

// A crash after the commit but before the head says so (here: the HSM fails
// the second write): the HSM knew of the pending tree, so the database is
// fine at the next start, and a restore of the tree before it is detected.
TEST_F(AuditLogTest, CrashAfterCommitBeforeHeadStillDetectsRestore) {
  ASSERT_TRUE(AddCidr("192.0.2.0/24").ok());
  Backup(dir_ + "/old.db");
  keys_->data_writes_left = 1;  // the pending head, then nothing
  EXPECT_TRUE(AddCidr("198.51.100.0/24").ok());
  // While the head is stale changes are refused, and /readyz says so.
  EXPECT_NE(log_->refusal().find("could not be advanced"), std::string::npos)
      << log_->refusal();
  EXPECT_EQ(AddCidr("203.0.113.0/24").code(), StatusCode::kFailedPrecondition);
  EXPECT_TRUE(log_->trusted());  // the database itself is fine
  keys_->data_writes_left = -1;
  Reopen();  // the restart after the crash
  EXPECT_EQ(log_->refusal(), "");
  EXPECT_EQ(log_->size(), 2u);
  Restore(dir_ + "/old.db");
  Reopen();
  EXPECT_NE(log_->refusal().find("behind the HSM"), std::string::npos)
      << log_->refusal();
  EXPECT_FALSE(log_->trusted());
}

// The stale head is retried by the next change once the HSM is back.
TEST_F(AuditLogTest, StaleHeadIsRetriedByTheNextChange) {
  ASSERT_TRUE(AddCidr("192.0.2.0/24").ok());
  keys_->data_writes_left = 1;
  EXPECT_TRUE(AddCidr("198.51.100.0/24").ok());
  EXPECT_NE(log_->refusal(), "");
  keys_->data_writes_left = -1;
  EXPECT_TRUE(AddCidr("203.0.113.0/24").ok());
  EXPECT_EQ(log_->refusal(), "");
  Backup(dir_ + "/three.db");
  ASSERT_TRUE(AddCidr("203.0.113.128/25").ok());
  Restore(dir_ + "/three.db");
  Reopen();
  EXPECT_NE(log_->refusal().find("behind the HSM"), std::string::npos)
      << log_->refusal();
}

// Accepting a rollback must not lower the HSM's floor before its own entry
// commits: if that commit fails, the restore is still refused.
TEST_F(AuditLogTest, FailedAcceptKeepsTheRollbackRefused) {
  ASSERT_TRUE(AddCidr("192.0.2.0/24").ok());
  Backup(dir_ + "/old.db");
  ASSERT_TRUE(AddCidr("198.51.100.0/24").ok());
  ASSERT_TRUE(AddCidr("203.0.113.0/24").ok());
  Restore(dir_ + "/old.db");
  Reopen();
  ASSERT_NE(log_->refusal(), "");
  testing::FailSyncs(true);
  EXPECT_FALSE(log_->AcceptRollback({"uid:0", "local", "", "", {}, ""}).ok());
  testing::FailSyncs(false);
  Reopen();
  EXPECT_NE(log_->refusal().find("behind the HSM"), std::string::npos)
      << log_->refusal();
  EXPECT_TRUE(log_->AcceptRollback({"uid:0", "local", "", "", {}, ""}).ok());
  Reopen();
  EXPECT_EQ(log_->refusal(), "");
}

TEST_F(AuditLogTest, ForkedDatabaseIsRefused) {
  ASSERT_TRUE(AddCidr("192.0.2.0/24").ok());
  Backup(dir_ + "/old.db");
  ASSERT_TRUE(AddCidr("198.51.100.0/24").ok());  // HSM head: size 2
  Restore(dir_ + "/old.db");
  keys_->hide_data = true;  // a second history grows without the HSM seeing it
  Reopen();
  ASSERT_TRUE(AddCidr("203.0.113.0/24").ok());
  ASSERT_TRUE(AddCidr("203.0.113.128/25").ok());
  keys_->hide_data = false;
  Reopen();
  EXPECT_NE(log_->refusal().find("diverges"), std::string::npos)
      << log_->refusal();
}

TEST_F(AuditLogTest, EditedOrDeletedRowsAreRefused) {
  for (int i = 0; i < 3; ++i)
    ASSERT_TRUE(AddCidr("10.0." + std::to_string(i) + ".0/24").ok());
  for (const char* sql :
       {"UPDATE audit_log SET leaf_hash = zeroblob(32) WHERE seq = 1",
        "DELETE FROM audit_log WHERE seq = 2"}) {
    Backup(dir_ + "/good.db");
    access_.reset();
    log_.reset();
    storage_.reset();
    sqlite3* db;
    ASSERT_EQ(sqlite3_open(path_.c_str(), &db), SQLITE_OK);
    ASSERT_EQ(sqlite3_exec(db, sql, nullptr, nullptr, nullptr), SQLITE_OK);
    sqlite3_close(db);
    Reopen();
    EXPECT_NE(log_->refusal(), "") << sql;
    EXPECT_EQ(log_->AcceptRollback({"uid:0", "local", "", "", {}, ""}).code(),
              StatusCode::kFailedPrecondition);
    Restore(dir_ + "/good.db");
    Reopen();
    EXPECT_EQ(log_->refusal(), "");
  }
}

TEST_F(AuditLogTest, ProofsVerify) {
  for (int i = 0; i < 7; ++i)
    ASSERT_TRUE(AddCidr("10.1." + std::to_string(i) + ".0/24").ok());
  for (uint64_t size = 1; size <= 7; ++size) {
    auto cp =
        VerifySignedCheckpoint(storage_->GetCheckpoint(size).value()->note,
                               origin_, origin_, AuditKey());
    ASSERT_TRUE(cp.ok());
    for (uint64_t i = 0; i < size; ++i) {
      auto p = log_->InclusionProof(i, size).value();
      EXPECT_TRUE(
          VerifyInclusion(i, size, LeafHash(p.leaf), p.hashes, cp->root_hash)
              .ok());
      std::string file = FormatTlogProof(i, p.leaf, p.hashes, p.checkpoint);
      std::string leaf;
      auto proved = VerifyProofFile(file, AuditKey(), &leaf);
      ASSERT_TRUE(proved.ok()) << proved.status().message();
      EXPECT_EQ(leaf, p.leaf);
    }
    if (size < 7) {
      auto c = log_->ConsistencyProof(size, 7).value();
      auto latest =
          VerifySignedCheckpoint(c.checkpoint, origin_, origin_, AuditKey())
              .value();
      EXPECT_TRUE(
          VerifyConsistency(size, 7, c.hashes, cp->root_hash, latest.root_hash)
              .ok());
    }
  }
  EXPECT_EQ(log_->InclusionProof(7, 7).status().code(),
            StatusCode::kInvalidArgument);
  EXPECT_EQ(log_->InclusionProof(0, 99).status().code(), StatusCode::kNotFound);
}

// Proofs read O(log n) stored nodes; they must equal the O(n) reference
// built from every leaf hash, for every checkpointed size (powers of two and
// not), before and after an older database's nodes are filled in at Open.
TEST_F(AuditLogTest,
       ProofsFromStoredNodesMatchTheReferenceAndSurviveMigration) {
  std::vector<uint64_t> sizes;
  for (int batch = 1; batch <= 9; ++batch) {
    std::vector<AuditEvent> events(
        static_cast<size_t>(batch * 3),
        AuditEvent{"uid:0", "unix", "allowlist.add", "10.9.0.0/16", {}, ""});
    ASSERT_TRUE(
        log_->Record([](Transaction&) { return Status::Ok(); }, events).ok());
    sizes.push_back(log_->size());
  }
  const uint64_t n = log_->size();  // 135
  auto all_match = [&](const char* when) {
    std::vector<std::string> leaves = storage_->AuditLeafHashes(n).value();
    for (uint64_t size : sizes) {
      for (uint64_t i = 0; i < size; i += 7) {
        auto p = log_->InclusionProof(i, size);
        ASSERT_TRUE(p.ok()) << when << ": " << p.status().message();
        EXPECT_EQ(p->hashes, InclusionProof(leaves, i, size).value())
            << when << ": " << i << " in " << size;
      }
      for (uint64_t from : {uint64_t{1}, size / 3 + 1, size}) {
        auto c = log_->ConsistencyProof(from, n);
        ASSERT_TRUE(c.ok()) << when << ": " << c.status().message();
        EXPECT_EQ(c->hashes, ConsistencyProof(leaves, from, n).value())
            << when << ": " << from << " to " << n;
      }
    }
  };
  auto node_rows = [&] {
    sqlite3* db;
    EXPECT_EQ(sqlite3_open(path_.c_str(), &db), SQLITE_OK);
    sqlite3_stmt* s;
    sqlite3_prepare_v2(db, "SELECT count(*) FROM audit_nodes", -1, &s, nullptr);
    sqlite3_step(s);
    int64_t rows = sqlite3_column_int64(s, 0);
    sqlite3_finalize(s);
    sqlite3_close(db);
    return rows;
  };
  all_match("as written");
  EXPECT_EQ(node_rows(), static_cast<int64_t>(n - std::popcount(n)));
  // A schema-4 database: no node table at all.
  Exec({"DROP TABLE audit_nodes", "PRAGMA user_version = 4"});
  Reopen();
  EXPECT_EQ(log_->refusal(), "");
  EXPECT_EQ(node_rows(), static_cast<int64_t>(n - std::popcount(n)));
  all_match("after the migration");
  // Nodes lost or damaged at the right edge are rebuilt too.
  Exec({"DELETE FROM audit_nodes WHERE level = 1 AND idx > 40",
        "UPDATE audit_nodes SET hash = zeroblob(32) WHERE level = 7"});
  Reopen();
  all_match("after the rebuild");
  ASSERT_TRUE(AddCidr("192.0.2.0/24").ok());  // appends still store nodes
  EXPECT_EQ(node_rows(),
            static_cast<int64_t>(log_->size() - std::popcount(log_->size())));
}

// Every single-bit flip of every entry's leaf, and of the checkpoint, fails.
TEST_F(AuditLogTest, ExportRejectsEveryBitFlip) {
  ASSERT_TRUE(AddCidr("192.0.2.0/24").ok());
  ASSERT_TRUE(
      access_
          ->CreateCredential({"a", "viewer", clock_.NowSeconds() + 60, ""},
                             {"uid:0", "unix", /*holds_all_scopes=*/true})
          .ok());
  ASSERT_TRUE(AddCidr("2001:db8::/32").ok());
  std::string good = Export();
  ASSERT_TRUE(VerifyExport(good, AuditKey(), std::nullopt).ok());
  std::vector<std::string> lines = SplitLines(good);
  size_t flips = 0;
  for (size_t i = 0; i + 1 < lines.size(); ++i) {
    nlohmann::json j = nlohmann::json::parse(lines[i]);
    std::string leaf = Base64Decode(j["leaf"].get<std::string>()).value();
    for (size_t bit = 0; bit < leaf.size() * 8; ++bit) {
      std::string bad = leaf;
      bad[bit / 8] ^= static_cast<char>(1 << (bit % 8));
      j["leaf"] = Base64Encode(bad);
      auto copy = lines;
      copy[i] = j.dump();
      ASSERT_FALSE(VerifyExport(JoinLines(copy), AuditKey(), std::nullopt).ok())
          << "line " << i << " bit " << bit;
      ++flips;
    }
  }
  std::string note = nlohmann::json::parse(lines.back())["checkpoint"];
  for (size_t bit = 0; bit < note.size() * 8; ++bit) {
    std::string bad = note;
    bad[bit / 8] ^= static_cast<char>(1 << (bit % 8));
    auto copy = lines;
    copy.back() = nlohmann::json{{"checkpoint", bad}}.dump(
        -1, ' ', false, nlohmann::json::error_handler_t::replace);
    ASSERT_FALSE(VerifyExport(JoinLines(copy), AuditKey(), std::nullopt).ok())
        << bit;
    ++flips;
  }
  EXPECT_GT(flips, 2000u);
}

TEST_F(AuditLogTest, ExportRejectsLineEditsTruncationAndForks) {
  for (int i = 0; i < 5; ++i) {
    ASSERT_TRUE(AddCidr("10.2." + std::to_string(i) + ".0/24").ok());
    if (i == 2) Backup(dir_ + "/at3.db");
  }
  std::string kept3 = storage_->GetCheckpoint(3).value()->note;
  std::string kept5 = storage_->GetCheckpoint(5).value()->note;
  std::string good = Export();
  std::vector<std::string> lines = SplitLines(good);
  auto rejected = [&](std::vector<std::string> ls,
                      std::optional<std::string> kept = {}) {
    return !VerifyExport(
                JoinLines(ls), AuditKey(),
                kept ? std::optional<std::string_view>(*kept) : std::nullopt)
                .ok();
  };
  ASSERT_FALSE(rejected(lines, kept3));
  ASSERT_FALSE(rejected(lines, kept5));
  auto del = lines;
  del.erase(del.begin() + 2);
  EXPECT_TRUE(rejected(del));
  auto ins = lines;
  ins.insert(ins.begin() + 2, lines[1]);
  EXPECT_TRUE(rejected(ins));  // duplicated line
  auto swp = lines;
  std::swap(swp[1], swp[2]);
  EXPECT_TRUE(rejected(swp));
  auto nocp = lines;
  nocp.pop_back();
  EXPECT_TRUE(rejected(nocp));
  // An edited field that leaves the leaf alone.
  auto edited = lines;
  nlohmann::json j = nlohmann::json::parse(edited[1]);
  j["actor"] = "uid:1000";
  edited[1] = j.dump();
  EXPECT_TRUE(rejected(edited));
  // Tail dropped together with the newest checkpoint: consistent on its own,
  // caught by the later checkpoint the auditor kept.
  std::vector<std::string> truncated(lines.begin(), lines.begin() + 3);
  truncated.push_back(nlohmann::json{{"checkpoint", kept3}}.dump());
  EXPECT_FALSE(rejected(truncated));
  EXPECT_TRUE(rejected(truncated, kept5));
  // A checkpoint kept from a different history of the same log (a fork,
  // signed by the same key) is caught too.
  Restore(dir_ + "/at3.db");
  keys_->hide_data = true;
  Reopen();
  ASSERT_TRUE(AddCidr("172.16.0.0/12").ok());
  ASSERT_TRUE(AddCidr("172.16.0.0/16").ok());
  keys_->hide_data = false;
  std::string fork5 = storage_->GetCheckpoint(5).value()->note;
  ASSERT_NE(fork5, kept5);
  EXPECT_TRUE(rejected(lines, fork5));
  EXPECT_TRUE(rejected(lines, std::string("not a checkpoint")));
}

}  // namespace
}  // namespace authd::audit

namespace authd::audit {
namespace {

// While a change waits inside a hung audit signature, holding the log's
// mutex and the database's, what probes and the status line read (size,
// refusal) answers at once, and another writer or a database reader gets
// Busy after its bounded wait instead of queueing behind the hang.
TEST_F(AuditLogTest, ReadersDoNotWaitForAChangeInsideAHungSignature) {
  using std::chrono::milliseconds;
  HangingAuditSign keys(&testing::SoftHsmToken::Keys());
  auto storage =
      std::move(SqliteStorage::Open(dir_ + "/hung.db", "", milliseconds(100)))
          .value();
  auto log =
      std::move(AuditLog::Open(storage.get(), &keys, &clock_, origin_ + "-hung",
                               "test", milliseconds(100)))
          .value();
  auto noop = [](Transaction&) { return Status::Ok(); };
  AuditEvent event{"uid:0", "unix", "test.change", "t", {}, ""};
  ASSERT_TRUE(log->Record(noop, {event}).ok());

  keys.Hold();
  Status hung = Status::Internal("not run");
  std::thread change([&] { hung = log->Record(noop, {event}); });
  keys.WaitUntilInside();
  auto readers = std::async(std::launch::async, [&] {
    return std::make_tuple(log->size(), log->refusal(), log->refusing());
  });
  bool answered =
      readers.wait_for(std::chrono::seconds(5)) == std::future_status::ready;
  EXPECT_TRUE(answered) << "size()/refusal() waited for the hung change";
  EXPECT_EQ(log->Record(noop, {event}).code(), StatusCode::kBusy);
  EXPECT_EQ(storage->ListAudit(AuditFilter{}).status().code(),
            StatusCode::kBusy);

  keys.Release();
  change.join();
  auto [size, refusal, refusing] = readers.get();
  EXPECT_EQ(size, 1u);  // the hung change had not committed
  EXPECT_EQ(refusal, "");
  EXPECT_FALSE(refusing);
  EXPECT_TRUE(hung.ok()) << hung.message();
  EXPECT_EQ(log->size(), 2u);  // published once it committed
}

}  // namespace
}  // namespace authd::audit

namespace authd::audit {
namespace {

// Group commit: changes that queue while a batch is in the HSM are committed
// together in the next one. The first change is held inside its checkpoint
// signature until the others are queued, so the batching is certain rather
// than a matter of timing.
class GroupCommitTest : public AuditLogTest {
 protected:
  void SetUp() override {
    AuditLogTest::SetUp();
    hanging_ = std::make_unique<HangingAuditSign>(keys_.get());
    group_storage_ = std::move(SqliteStorage::Open(dir_ + "/group.db")).value();
    // Generous: the queued changes wait while the test sets up the batch.
    group_ = std::move(AuditLog::Open(group_storage_.get(), hanging_.get(),
                                      &clock_, origin_ + "-group", "test",
                                      std::chrono::minutes(2)))
                 .value();
    ASSERT_TRUE(group_->Record(Meta("first"), {Event("first")}).ok());
  }

  static AuditEvent Event(const std::string& target) {
    return {"uid:0", "unix", "test.change", target, {}, ""};
  }
  // A change that writes meta row `key` = the seq it was given.
  static std::function<Status(Transaction&, uint64_t)> Meta(
      const std::string& key) {
    return [key](Transaction& tx, uint64_t seq) {
      return tx.PutMeta("test-" + key, std::to_string(seq));
    };
  }
  std::optional<std::string> StoredMeta(const std::string& key) {
    return group_storage_->GetMeta("test-" + key).value();
  }
  // The restart: the group log opened again over the same database and HSM.
  void ReopenGroup() {
    group_.reset();
    group_ = std::move(AuditLog::Open(group_storage_.get(), hanging_.get(),
                                      &clock_, origin_ + "-group", "test"))
                 .value();
  }

  // Holds a change ("held") inside its checkpoint signature, queues one
  // Record per element of `changes` behind it, releases the signature once
  // all are queued, and returns each queued change's result.
  struct Queued {
    std::function<Status(Transaction&, uint64_t)> change;
    std::vector<AuditEvent> events;
  };
  std::vector<Status> Batch(const std::vector<Queued>& changes,
                            const std::function<void()>& before_release = {},
                            Status* held = nullptr) {
    hanging_->Hold();
    Status held_result;
    std::thread leader(
        [&] { held_result = group_->Record(Meta("held"), {Event("held")}); });
    hanging_->WaitUntilInside();
    std::vector<Status> results(changes.size(), Status::Internal("not run"));
    std::vector<std::thread> threads;
    for (size_t i = 0; i < changes.size(); ++i) {
      threads.emplace_back([&, i] {
        results[i] = group_->Record(changes[i].change, changes[i].events);
      });
    }
    auto until = std::chrono::steady_clock::now() + std::chrono::seconds(60);
    while (group_->waiting() < changes.size() &&
           std::chrono::steady_clock::now() < until) {
      std::this_thread::sleep_for(std::chrono::milliseconds(1));
    }
    EXPECT_EQ(group_->waiting(), changes.size());
    if (before_release) before_release();
    hanging_->Release();
    leader.join();
    for (auto& t : threads) t.join();
    if (held) *held = held_result;
    return results;
  }

  std::string GroupExport() {
    AuditFilter f;
    f.limit = 1000;
    std::string out;
    for (const AuditRecord& r : group_storage_->ListAudit(f).value()) {
      out += AuditEntryJson(r.leaf).value().dump() + "\n";
    }
    return out +
           nlohmann::json{{"checkpoint", group_->LatestCheckpoint().value()}}
               .dump() +
           "\n";
  }

  std::unique_ptr<HangingAuditSign> hanging_;
  std::unique_ptr<SqliteStorage> group_storage_;
  std::unique_ptr<AuditLog> group_;
};

TEST_F(GroupCommitTest, QueuedChangesShareOneCheckpointWithTheirOwnSeqs) {
  std::vector<Queued> changes = {
      {Meta("a"), {Event("a")}},
      {Meta("b"), {Event("b"), Event("b2")}},
      {Meta("c"), {Event("c")}},
  };
  Status held;
  std::vector<Status> results = Batch(changes, {}, &held);
  ASSERT_TRUE(held.ok()) << held.message();
  for (const Status& st : results) EXPECT_TRUE(st.ok()) << st.message();
  // first (0), held (1), then the batch: 4 entries in one checkpoint.
  ASSERT_EQ(group_->size(), 6u);
  EXPECT_TRUE(group_storage_->GetCheckpoint(2).value().has_value());
  EXPECT_TRUE(group_storage_->GetCheckpoint(6).value().has_value());
  for (uint64_t size : {3, 4, 5}) {
    EXPECT_FALSE(group_storage_->GetCheckpoint(size).value().has_value());
    EXPECT_EQ(group_->InclusionProof(0, size).status().code(),
              StatusCode::kNotFound);
  }
  // Each change got the seq of its own first entry, whatever the order the
  // leader took them in.
  AuditFilter f;
  f.after_seq = 1;
  std::vector<AuditRecord> rows = group_storage_->ListAudit(f).value();
  ASSERT_EQ(rows.size(), 4u);
  for (const std::string key : {"a", "b", "c"}) {
    std::optional<std::string> seq = StoredMeta(key);
    ASSERT_TRUE(seq.has_value()) << key;
    uint64_t s = std::stoull(*seq);
    ASSERT_GE(s, 2u);
    ASSERT_LT(s, 6u);
    EXPECT_EQ(rows[s - 2].seq, s);
    EXPECT_EQ(rows[s - 2].target, key);
    if (key == "b") {
      EXPECT_EQ(rows[s - 1].target, "b2");
    }
  }
  // The HSM head was advanced to the batch's tree, and an export verifies.
  std::vector<std::string> head =
      keys_->ReadData(std::string(kAuditHeadLabel) + ":" + origin_ + "-group")
          .value();
  ASSERT_EQ(head.size(), 1u);
  EXPECT_EQ(head[0].substr(0, 2), "6 ");
  auto verified = VerifyExport(GroupExport(), AuditKey(), std::nullopt);
  ASSERT_TRUE(verified.ok()) << verified.status().message();
  EXPECT_EQ(verified->entries, 6u);
  auto proof = group_->InclusionProof(3, 6);
  ASSERT_TRUE(proof.ok()) << proof.status().message();
  EXPECT_TRUE(VerifyProofFile(FormatTlogProof(3, proof->leaf, proof->hashes,
                                              proof->checkpoint),
                              AuditKey(), nullptr)
                  .ok());
  // The same log opens clean: the head matches the database.
  ReopenGroup();
  EXPECT_EQ(group_->refusal(), "");
  EXPECT_EQ(group_->size(), 6u);
}

TEST_F(GroupCommitTest, AFailingChangeIsUndoneAloneAndTheOthersCommit) {
  auto failing = [](Transaction& tx, uint64_t) -> Status {
    Status wrote = tx.PutMeta("test-bad", "written before the failure");
    if (!wrote.ok()) return wrote;
    return Status::AlreadyExists("the change's own refusal");
  };
  auto throwing = [](Transaction& tx, uint64_t) -> Status {
    Status wrote = tx.PutMeta("test-thrown", "written before the throw");
    if (!wrote.ok()) return wrote;
    throw std::runtime_error("boom");
  };
  std::vector<Status> results = Batch({{Meta("a"), {Event("a")}},
                                       {failing, {Event("bad")}},
                                       {throwing, {Event("thrown")}},
                                       {Meta("c"), {Event("c")}}});
  EXPECT_TRUE(results[0].ok()) << results[0].message();
  EXPECT_EQ(results[1].code(), StatusCode::kAlreadyExists);
  EXPECT_EQ(results[1].message(), "the change's own refusal");
  EXPECT_EQ(results[2].code(), StatusCode::kInternal);
  EXPECT_TRUE(results[3].ok()) << results[3].message();
  EXPECT_FALSE(StoredMeta("bad").has_value());
  EXPECT_FALSE(StoredMeta("thrown").has_value());
  ASSERT_TRUE(StoredMeta("a").has_value());
  ASSERT_TRUE(StoredMeta("c").has_value());
  // Entries only for the changes that committed, with no gap in the seqs.
  ASSERT_EQ(group_->size(), 4u);
  AuditFilter f;
  f.action = "test.change";
  f.limit = 10;
  std::vector<std::string> targets;
  for (const AuditRecord& r : group_storage_->ListAudit(f).value())
    targets.push_back(r.target);
  std::sort(targets.begin() + 2, targets.end());
  EXPECT_EQ(targets, (std::vector<std::string>{"first", "held", "a", "c"}));
  EXPECT_TRUE(VerifyExport(GroupExport(), AuditKey(), std::nullopt).ok());
}

// A batch whose every change fails commits nothing and signs nothing.
TEST_F(GroupCommitTest, ABatchOfFailedChangesSignsNothing) {
  auto fail = [](Transaction&, uint64_t) {
    return Status::NotFound("nothing to delete");
  };
  std::vector<Status> results =
      Batch({{fail, {Event("x")}}, {fail, {Event("y")}}});
  for (const Status& st : results) EXPECT_EQ(st.code(), StatusCode::kNotFound);
  EXPECT_EQ(group_->size(), 2u);
  EXPECT_EQ(group_storage_->GetCheckpoint(std::nullopt).value()->size, 2u);
  EXPECT_TRUE(group_->Record(Meta("after"), {Event("after")}).ok());
  EXPECT_EQ(group_->size(), 3u);
}

// Fail closed: when the checkpoint signature or the HSM head write fails,
// none of the batch's changes happen, and every one of them gets the error.
TEST_F(GroupCommitTest, ASignatureOrHeadFailureFailsTheWholeBatch) {
  for (int fault = 0; fault < 2; ++fault) {
    std::string before = GroupExport();
    uint64_t size = group_->size();
    Status held;
    std::vector<Status> results = Batch(
        {{Meta("a"), {Event("a")}}, {Meta("b"), {Event("b")}}},
        [&] {
          if (fault == 0) keys_->fail_audit_sign = true;
          if (fault == 1) keys_->data_writes_left = 0;
        },
        &held);
    keys_->fail_audit_sign = false;
    keys_->data_writes_left = -1;
    EXPECT_EQ(held.code(), StatusCode::kUnavailable) << fault;
    for (const Status& st : results)
      EXPECT_EQ(st.code(), StatusCode::kUnavailable) << fault;
    EXPECT_FALSE(StoredMeta("a").has_value());
    EXPECT_FALSE(StoredMeta("b").has_value());
    EXPECT_FALSE(StoredMeta("held").has_value());
    EXPECT_EQ(group_->size(), size);
    EXPECT_EQ(GroupExport(), before);
    EXPECT_EQ(group_->refusal(), "");
  }
  EXPECT_TRUE(group_->Record(Meta("after"), {Event("after")}).ok());
  EXPECT_TRUE(VerifyExport(GroupExport(), AuditKey(), std::nullopt).ok());
}

// Changes queued while a batch commits: that batch's committed mark rides
// on the next batch's pending head, so two batches write the head three
// times, not four; both are answered, and the log reopens clean.
TEST_F(GroupCommitTest, ABatchBehindAnotherMarksItCommitted) {
  size_t writes = keys_->written().size();
  uint64_t size = group_->size();
  Status held;
  std::vector<Status> results =
      Batch({{Meta("a"), {Event("a")}}, {Meta("b"), {Event("b")}}}, {}, &held);
  EXPECT_TRUE(held.ok()) << held.message();
  for (const Status& st : results) EXPECT_TRUE(st.ok()) << st.message();
  std::vector<std::string> heads = keys_->written();
  ASSERT_EQ(heads.size() - writes, 3u);
  // "COMMITTED ROOT [PENDING ROOT]": the held batch's pending head, then
  // the next batch's, which says the held one committed, then its own mark.
  auto sizes = [](const std::string& head) {
    std::istringstream in(head);
    std::string root;
    std::vector<uint64_t> out;
    for (uint64_t n; in >> n >> root;) out.push_back(n);
    return out;
  };
  EXPECT_EQ(sizes(heads[writes]), (std::vector<uint64_t>{size, size + 1}));
  EXPECT_EQ(sizes(heads[writes + 1]),
            (std::vector<uint64_t>{size + 1, size + 3}));
  EXPECT_EQ(sizes(heads[writes + 2]), (std::vector<uint64_t>{size + 3}));
  EXPECT_EQ(group_->refusal(), "");
  ReopenGroup();
  EXPECT_EQ(group_->refusal(), "");
  EXPECT_TRUE(VerifyExport(GroupExport(), AuditKey(), std::nullopt).ok());
}

// When the next batch's pending head cannot be written, that batch fails
// whole, and the batch before it is marked committed on its own; here the
// HSM refuses that too, so it is answered (it committed) and further
// changes are refused until the head is written.
TEST_F(GroupCommitTest, AFailedPendingHeadStillAnswersTheBatchBefore) {
  Status held;
  std::vector<Status> results = Batch(
      {{Meta("a"), {Event("a")}}, {Meta("b"), {Event("b")}}},
      [&] { keys_->data_writes_left = 1; }, &held);
  EXPECT_TRUE(held.ok()) << held.message();
  EXPECT_TRUE(StoredMeta("held").has_value());
  for (const Status& st : results)
    EXPECT_EQ(st.code(), StatusCode::kUnavailable) << st.message();
  EXPECT_FALSE(StoredMeta("a").has_value());
  EXPECT_NE(group_->refusal().find("could not be advanced"), std::string::npos)
      << group_->refusal();
  keys_->data_writes_left = -1;
  EXPECT_TRUE(group_->Record(Meta("after"), {Event("after")}).ok());
  EXPECT_EQ(group_->refusal(), "");
}

// Concurrent credential creations through Access: every one is answered,
// bound to its own entry, in force when acknowledged, and intact after a
// restart.
TEST_F(AuditLogTest, ConcurrentCredentialCreationsAreEachBoundAndPublished) {
  constexpr int kWriters = 4, kEach = 8;
  std::vector<std::vector<std::string>> ids(kWriters);
  std::vector<std::thread> threads;
  for (int t = 0; t < kWriters; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < kEach; ++i) {
        auto c = access_->CreateCredential(
            {"c" + std::to_string(t), "viewer", clock_.NowSeconds() + 60, ""},
            {"uid:0", "unix", /*holds_all_scopes=*/true});
        if (!c.ok()) {
          ADD_FAILURE() << c.status().message();
          continue;
        }
        // In force as soon as it is acknowledged.
        if (!access_->Current()->credentials.count(c->credential.client_id)) {
          ADD_FAILURE() << "acknowledged before it was published";
        }
        ids[t].push_back(c->credential.client_id);
      }
    });
  }
  for (auto& t : threads) t.join();
  AuditFilter f;
  f.action = "credential.create";
  f.limit = 1000;
  std::map<std::string, uint64_t> entry_of;
  for (const AuditRecord& r : storage_->ListAudit(f).value())
    entry_of[r.target] = r.seq;
  ASSERT_EQ(entry_of.size(), size_t{kWriters * kEach});
  for (const storage::Credential& c : storage_->ListCredentials().value())
    EXPECT_EQ(c.audit_seq, entry_of.at(c.client_id));
  EXPECT_EQ(access_->Current()->credentials.size(), size_t{kWriters * kEach});
  EXPECT_TRUE(access_->Current()->failures.empty());
  EXPECT_TRUE(VerifyExport(Export(), AuditKey(), std::nullopt).ok());
  Reopen();
  EXPECT_EQ(log_->refusal(), "");
  EXPECT_TRUE(access_->Current()->failures.empty());
  EXPECT_EQ(access_->Current()->credentials.size(), size_t{kWriters * kEach});
}

}  // namespace
}  // namespace authd::audit
