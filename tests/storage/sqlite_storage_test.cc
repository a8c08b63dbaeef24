#include "storage/sqlite_storage.h"

#include <gtest/gtest.h>
#include <sqlite3.h>
#include <sys/stat.h>

#include <algorithm>
#include <cstdio>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "testing/softhsm_token.h"

namespace authd::storage {

bool operator==(const Credential& a, const Credential& b) {
  return a.client_id == b.client_id && a.name == b.name && a.role == b.role &&
         a.secret_mac == b.secret_mac && a.created_at == b.created_at &&
         a.expires_at == b.expires_at && a.created_by == b.created_by &&
         a.audit_seq == b.audit_seq && a.mac == b.mac;
}
bool operator==(const AllowlistEntry& a, const AllowlistEntry& b) {
  return a.cidr == b.cidr && a.created_at == b.created_at &&
         a.created_by == b.created_by && a.audit_seq == b.audit_seq &&
         a.mac == b.mac;
}
void PrintTo(const Credential& c, std::ostream* os) {
  *os << "{" << c.client_id << ", " << c.name << ", " << c.role << ", "
      << c.created_at << ", " << c.expires_at << ", " << c.created_by << "}";
}
void PrintTo(const AllowlistEntry& e, std::ostream* os) {
  *os << "{" << e.cidr << ", " << e.created_at << ", " << e.created_by << "}";
}

namespace {

Credential Cred(const std::string& id, int64_t created_at) {
  // A MAC with a NUL and high bytes, as HMAC output has.
  std::string mac(32, '\0');
  for (size_t i = 0; i < mac.size(); ++i) {
    mac[i] = static_cast<char>(0xf0 + i);
  }
  mac[5] = '\0';
  return {id,         "name of " + id,   "viewer", mac,
          created_at, created_at + 1000, "uid:0"};
}

AllowlistEntry Entry(const std::string& cidr, int64_t created_at) {
  return {cidr, created_at, "uid:0"};
}

std::vector<std::string> Ids(const std::vector<Credential>& creds) {
  std::vector<std::string> ids;
  for (const auto& c : creds) ids.push_back(c.client_id);
  return ids;
}

// One PRAGMA's value read with the sqlite3 library directly.
std::string Pragma(const std::string& path, const std::string& pragma) {
  sqlite3* db = nullptr;
  std::string value;
  if (sqlite3_open_v2(path.c_str(), &db, SQLITE_OPEN_READONLY, nullptr) ==
      SQLITE_OK) {
    sqlite3_stmt* s = nullptr;
    std::string sql = "PRAGMA " + pragma;
    if (sqlite3_prepare_v2(db, sql.c_str(), -1, &s, nullptr) == SQLITE_OK &&
        sqlite3_step(s) == SQLITE_ROW) {
      value = reinterpret_cast<const char*>(sqlite3_column_text(s, 0));
    }
    sqlite3_finalize(s);
  }
  sqlite3_close_v2(db);
  return value;
}

std::vector<std::string> Tables(const std::string& path) {
  sqlite3* db = nullptr;
  std::vector<std::string> names;
  sqlite3_open_v2(path.c_str(), &db, SQLITE_OPEN_READONLY, nullptr);
  sqlite3_stmt* s = nullptr;
  sqlite3_prepare_v2(db,
                     "SELECT name FROM sqlite_schema WHERE type = 'table' "
                     "ORDER BY name",
                     -1, &s, nullptr);
  while (sqlite3_step(s) == SQLITE_ROW) {
    names.emplace_back(
        reinterpret_cast<const char*>(sqlite3_column_text(s, 0)));
  }
  sqlite3_finalize(s);
  sqlite3_close_v2(db);
  return names;
}

void Exec(const std::string& path, const std::string& sql) {
  sqlite3* db = nullptr;
  ASSERT_EQ(sqlite3_open(path.c_str(), &db), SQLITE_OK);
  char* err = nullptr;
  EXPECT_EQ(sqlite3_exec(db, sql.c_str(), nullptr, nullptr, &err), SQLITE_OK)
      << (err ? err : "");
  sqlite3_free(err);
  sqlite3_close_v2(db);
}

mode_t FileMode(const std::string& path) {
  struct stat st {};
  if (stat(path.c_str(), &st) != 0) return 0;
  return st.st_mode & 07777;
}

class SqliteStorageTest : public ::testing::Test {
 protected:
  void SetUp() override {
    path_ = authd::testing::MakeTempDir("authd-sqlite-") + "/authd.db";
    db_ = MustOpen();
  }

  std::unique_ptr<SqliteStorage> MustOpen() {
    auto db = SqliteStorage::Open(path_);
    EXPECT_TRUE(db.ok()) << db.status().message();
    return db.ok() ? std::move(db).value() : nullptr;
  }

  Status Insert(const Credential& c) {
    return db_->Write([&](Transaction& tx) { return tx.InsertCredential(c); });
  }
  Status Insert(const AllowlistEntry& e) {
    return db_->Write([&](Transaction& tx) { return tx.InsertAllowlist(e); });
  }

  std::vector<Credential> Credentials() {
    auto list = db_->ListCredentials();
    EXPECT_TRUE(list.ok()) << list.status().message();
    return list.ok() ? *list : std::vector<Credential>{};
  }
  std::vector<AllowlistEntry> Allowlist() {
    auto list = db_->ListAllowlist();
    EXPECT_TRUE(list.ok()) << list.status().message();
    return list.ok() ? *list : std::vector<AllowlistEntry>{};
  }

  std::string path_;
  std::unique_ptr<SqliteStorage> db_;
};

TEST_F(SqliteStorageTest, CreatesTheSchemaAtTheCurrentVersion) {
  ASSERT_NE(db_, nullptr);
  EXPECT_EQ(Pragma(path_, "user_version"),
            std::to_string(SqliteStorage::SchemaVersion()));
  std::vector<std::string> tables = Tables(path_);
  EXPECT_NE(std::find(tables.begin(), tables.end(), "credentials"),
            tables.end());
  EXPECT_NE(std::find(tables.begin(), tables.end(), "allowlist"), tables.end());
  EXPECT_TRUE(Credentials().empty());
  EXPECT_TRUE(Allowlist().empty());
}

TEST_F(SqliteStorageTest, JournalModeIsWal) {
  ASSERT_NE(db_, nullptr);
  EXPECT_EQ(Pragma(path_, "journal_mode"), "wal");
}

TEST_F(SqliteStorageTest, DatabaseFilesAreOwnerOnly) {
  db_.reset();
  const std::string fresh =
      authd::testing::MakeTempDir("authd-sqlite-mode-") + "/authd.db";
  // A permissive umask must not widen the mode: 0600 comes from the code.
  const mode_t old_umask = umask(0);
  auto db = SqliteStorage::Open(fresh);
  ASSERT_TRUE(db.ok()) << db.status().message();
  ASSERT_TRUE((*db)
                  ->Write([](Transaction& tx) {
                    return tx.InsertAllowlist(Entry("10.0.0.0/8", 1));
                  })
                  .ok());
  umask(old_umask);
  EXPECT_EQ(FileMode(fresh), 0600u);
  EXPECT_EQ(FileMode(fresh + "-wal"), 0600u);
}

TEST_F(SqliteStorageTest, ReopenKeepsData) {
  const Credential c = Cred("id-1", 100);
  ASSERT_TRUE(Insert(c).ok());
  ASSERT_TRUE(Insert(Entry("192.0.2.0/24", 100)).ok());
  db_.reset();
  db_ = MustOpen();
  ASSERT_NE(db_, nullptr);
  EXPECT_EQ(Credentials(), std::vector<Credential>{c});
  EXPECT_EQ(Allowlist(),
            std::vector<AllowlistEntry>{Entry("192.0.2.0/24", 100)});
  EXPECT_EQ(Pragma(path_, "user_version"),
            std::to_string(SqliteStorage::SchemaVersion()));
}

TEST_F(SqliteStorageTest, SecretMacRoundTripsAsBytes) {
  const Credential c = Cred("id-1", 100);
  ASSERT_EQ(c.secret_mac.size(), 32u);
  ASSERT_TRUE(Insert(c).ok());
  std::vector<Credential> list = Credentials();
  ASSERT_EQ(list.size(), 1u);
  EXPECT_EQ(list[0].secret_mac, c.secret_mac);
}

TEST_F(SqliteStorageTest, WriteRollsBackWhenTheFunctionFails) {
  Status st = db_->Write([](Transaction& tx) {
    RETURN_IF_ERROR(tx.InsertCredential(Cred("id-1", 100)));
    RETURN_IF_ERROR(tx.InsertAllowlist(Entry("10.0.0.0/8", 100)));
    return Status::Internal("changed my mind");
  });
  EXPECT_EQ(st.code(), StatusCode::kInternal);
  EXPECT_EQ(st.message(), "changed my mind");
  EXPECT_TRUE(Credentials().empty());
  EXPECT_TRUE(Allowlist().empty());
  // Also after a reopen: nothing reached the file.
  db_.reset();
  db_ = MustOpen();
  EXPECT_TRUE(Credentials().empty());
  EXPECT_TRUE(Allowlist().empty());
}

TEST_F(SqliteStorageTest, FailedStatementRollsBackEarlierChanges) {
  ASSERT_TRUE(Insert(Cred("id-1", 100)).ok());
  Status st = db_->Write([](Transaction& tx) {
    RETURN_IF_ERROR(tx.InsertAllowlist(Entry("10.0.0.0/8", 100)));
    RETURN_IF_ERROR(tx.DeleteCredential("id-1"));
    return tx.InsertCredential(Cred("id-1", 100));  // fine: deleted above
  });
  ASSERT_TRUE(st.ok()) << st.message();
  st = db_->Write([](Transaction& tx) {
    RETURN_IF_ERROR(tx.DeleteCredential("id-1"));
    RETURN_IF_ERROR(tx.InsertAllowlist(Entry("192.0.2.0/24", 100)));
    return tx.InsertAllowlist(Entry("10.0.0.0/8", 200));  // duplicate
  });
  EXPECT_EQ(st.code(), StatusCode::kAlreadyExists);
  EXPECT_EQ(Ids(Credentials()), std::vector<std::string>{"id-1"});
  EXPECT_EQ(Allowlist(), std::vector<AllowlistEntry>{Entry("10.0.0.0/8", 100)});
}

TEST_F(SqliteStorageTest, WriteWorksAgainAfterARollback) {
  EXPECT_FALSE(
      db_->Write([](Transaction&) { return Status::Unavailable("x"); }).ok());
  EXPECT_TRUE(Insert(Cred("id-1", 100)).ok());
  EXPECT_EQ(Ids(Credentials()), std::vector<std::string>{"id-1"});
}

TEST_F(SqliteStorageTest, DuplicateInsertIsAlreadyExists) {
  ASSERT_TRUE(Insert(Cred("id-1", 100)).ok());
  EXPECT_EQ(Insert(Cred("id-1", 200)).code(), StatusCode::kAlreadyExists);
  ASSERT_TRUE(Insert(Entry("10.0.0.0/8", 100)).ok());
  EXPECT_EQ(Insert(Entry("10.0.0.0/8", 200)).code(),
            StatusCode::kAlreadyExists);
  EXPECT_EQ(Credentials(), std::vector<Credential>{Cred("id-1", 100)});
  EXPECT_EQ(Allowlist(), std::vector<AllowlistEntry>{Entry("10.0.0.0/8", 100)});
}

TEST_F(SqliteStorageTest, DeleteUnknownIsNotFound) {
  ASSERT_TRUE(Insert(Cred("id-1", 100)).ok());
  Status st =
      db_->Write([](Transaction& tx) { return tx.DeleteCredential("id-2"); });
  EXPECT_EQ(st.code(), StatusCode::kNotFound);
  EXPECT_EQ(st.message(), "no credential with client_id id-2");
  st = db_->Write(
      [](Transaction& tx) { return tx.DeleteAllowlist("10.0.0.0/8"); });
  EXPECT_EQ(st.code(), StatusCode::kNotFound);
  EXPECT_EQ(st.message(), "10.0.0.0/8 is not on the allowlist");
  EXPECT_EQ(Ids(Credentials()), std::vector<std::string>{"id-1"});
}

TEST_F(SqliteStorageTest, DeleteRemovesOnlyTheNamedRow) {
  ASSERT_TRUE(Insert(Cred("id-1", 100)).ok());
  ASSERT_TRUE(Insert(Cred("id-2", 200)).ok());
  ASSERT_TRUE(Insert(Entry("10.0.0.0/8", 100)).ok());
  ASSERT_TRUE(Insert(Entry("::1/128", 100)).ok());
  ASSERT_TRUE(db_->Write([](Transaction& tx) {
                   RETURN_IF_ERROR(tx.DeleteCredential("id-1"));
                   return tx.DeleteAllowlist("::1/128");
                 })
                  .ok());
  EXPECT_EQ(Ids(Credentials()), std::vector<std::string>{"id-2"});
  EXPECT_EQ(Allowlist(), std::vector<AllowlistEntry>{Entry("10.0.0.0/8", 100)});
}

TEST_F(SqliteStorageTest, ListCredentialsIsNewestFirst) {
  ASSERT_TRUE(Insert(Cred("b", 100)).ok());
  ASSERT_TRUE(Insert(Cred("a", 300)).ok());
  ASSERT_TRUE(Insert(Cred("c", 200)).ok());
  // Same second: the later insert is the newer one.
  ASSERT_TRUE(Insert(Cred("z", 400)).ok());
  ASSERT_TRUE(Insert(Cred("y", 400)).ok());
  EXPECT_EQ(Ids(Credentials()),
            (std::vector<std::string>{"y", "z", "a", "c", "b"}));
}

TEST_F(SqliteStorageTest, ListAllowlistIsOldestFirst) {
  ASSERT_TRUE(Insert(Entry("10.0.0.0/8", 300)).ok());
  ASSERT_TRUE(Insert(Entry("192.0.2.0/24", 100)).ok());
  ASSERT_TRUE(Insert(Entry("2001:db8::/32", 200)).ok());
  EXPECT_EQ(Allowlist(),
            (std::vector<AllowlistEntry>{Entry("192.0.2.0/24", 100),
                                         Entry("2001:db8::/32", 200),
                                         Entry("10.0.0.0/8", 300)}));
}

TEST_F(SqliteStorageTest, ConcurrentWritesAllCommit) {
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([this, t] {
      for (int i = 0; i < 25; ++i) {
        EXPECT_TRUE(Insert(Cred(std::to_string(t) + "-" + std::to_string(i),
                                t * 100 + i))
                        .ok());
      }
    });
  }
  for (auto& th : threads) th.join();
  EXPECT_EQ(Credentials().size(), 100u);
}

TEST_F(SqliteStorageTest, RefusesADatabaseFromANewerVersion) {
  ASSERT_TRUE(Insert(Cred("id-1", 100)).ok());
  db_.reset();
  const int newer = SqliteStorage::SchemaVersion() + 1;
  Exec(path_, "PRAGMA user_version = " + std::to_string(newer));
  auto db = SqliteStorage::Open(path_);
  ASSERT_FALSE(db.ok());
  EXPECT_EQ(db.status().code(), StatusCode::kFailedPrecondition);
  EXPECT_EQ(db.status().message(),
            "database schema version " + std::to_string(newer) +
                " is newer than this authd supports (" +
                std::to_string(SqliteStorage::SchemaVersion()) + ")");
  // Refusing must not have touched the file.
  EXPECT_EQ(Pragma(path_, "user_version"), std::to_string(newer));
}

// ------------------------------------------------ rows bound to the HSM

TEST_F(SqliteStorageTest, RowBindingsRoundTripAndAreNullWhenAbsent) {
  Credential bound = Cred("id-1", 100);
  bound.audit_seq = 7;
  bound.mac = std::string(31, '\xee') + '\0';
  ASSERT_TRUE(Insert(bound).ok());
  ASSERT_TRUE(Insert(Cred("id-2", 50)).ok());
  AllowlistEntry e = Entry("10.0.0.0/8", 100);
  e.audit_seq = 8;
  e.mac = "mac-bytes";
  ASSERT_TRUE(Insert(e).ok());
  EXPECT_EQ(Credentials(), (std::vector<Credential>{bound, Cred("id-2", 50)}));
  EXPECT_EQ(Allowlist(), std::vector<AllowlistEntry>{e});

  // Binding a stored row sets both columns; an unknown row is NotFound.
  Credential later = Cred("id-2", 50);
  later.audit_seq = 3;
  later.mac = "m2";
  ASSERT_TRUE(db_->Write([&](Transaction& tx) {
                   return tx.BindCredential("id-2", 3, "m2");
                 })
                  .ok());
  EXPECT_EQ(Credentials()[1], later);
  Status st = db_->Write(
      [](Transaction& tx) { return tx.BindAllowlist("192.0.2.0/24", 1, "m"); });
  EXPECT_EQ(st.code(), StatusCode::kNotFound);
  st = db_->Write(
      [](Transaction& tx) { return tx.BindCredential("nobody", 1, "m"); });
  EXPECT_EQ(st.code(), StatusCode::kNotFound);
  ASSERT_TRUE(db_->Write([](Transaction& tx) {
                   return tx.BindAllowlist("10.0.0.0/8", 9, "m9");
                 })
                  .ok());
  EXPECT_EQ(Allowlist()[0].audit_seq, 9u);
  EXPECT_EQ(Allowlist()[0].mac, "m9");
}

TEST_F(SqliteStorageTest, BoundMetaRoundTripsAndPutMetaUnbindsIt) {
  EXPECT_FALSE(db_->GetBoundMeta("roles").value().has_value());
  ASSERT_TRUE(db_->Write([](Transaction& tx) {
                   return tx.PutBoundMeta({"roles", "[1]", 5, "mac5"});
                 })
                  .ok());
  std::optional<BoundMeta> m = db_->GetBoundMeta("roles").value();
  ASSERT_TRUE(m.has_value());
  EXPECT_EQ(m->value, "[1]");
  EXPECT_EQ(m->audit_seq, 5u);
  EXPECT_EQ(m->mac, "mac5");
  EXPECT_EQ(db_->GetMeta("roles").value(), "[1]");
  // Whoever writes the row without a MAC leaves it unbound, not stale.
  ASSERT_TRUE(
      db_->Write([](Transaction& tx) { return tx.PutMeta("roles", "[2]"); })
          .ok());
  m = db_->GetBoundMeta("roles").value();
  ASSERT_TRUE(m.has_value());
  EXPECT_EQ(m->value, "[2]");
  EXPECT_EQ(m->audit_seq, 0u);
  EXPECT_EQ(m->mac, "");
}

TEST_F(SqliteStorageTest, LatestAuditSeqByTargetIsPerActionFromTheIndex) {
  const std::vector<std::pair<std::string, std::string>> entries = {
      {"credential.delete", "a"},
      {"credential.create", "b"},
      {"credential.delete", "b"},
      {"credential.delete", "a"},
      {"allowlist.remove", "a"}};
  ASSERT_TRUE(db_->Write([&](Transaction& tx) -> Status {
                   for (size_t i = 0; i < entries.size(); ++i) {
                     AuditRecord r;
                     r.seq = i;
                     r.leaf = "leaf";
                     r.leaf_hash = "hash";
                     r.actor = "uid:0";
                     r.action = entries[i].first;
                     r.target = entries[i].second;
                     RETURN_IF_ERROR(tx.AppendAudit(r));
                   }
                   return Status::Ok();
                 })
                  .ok());
  auto deleted = db_->LatestAuditSeqByTarget("credential.delete");
  ASSERT_TRUE(deleted.ok()) << deleted.status().message();
  EXPECT_EQ(*deleted,
            (std::unordered_map<std::string, uint64_t>{{"a", 3}, {"b", 2}}));
  EXPECT_TRUE(db_->LatestAuditSeqByTarget("key.rotate").value().empty());
  // One index lookup per action, not a scan of the log: start-up with a
  // large log depends on it.
  sqlite3* raw = nullptr;
  ASSERT_EQ(sqlite3_open(path_.c_str(), &raw), SQLITE_OK);
  sqlite3_stmt* s = nullptr;
  ASSERT_EQ(sqlite3_prepare_v2(raw,
                               "EXPLAIN QUERY PLAN SELECT target, MAX(seq) "
                               "FROM audit_log WHERE action = 'x' "
                               "GROUP BY target",
                               -1, &s, nullptr),
            SQLITE_OK);
  std::string plan;
  while (sqlite3_step(s) == SQLITE_ROW) {
    plan += reinterpret_cast<const char*>(sqlite3_column_text(s, 3));
    plan += "\n";
  }
  sqlite3_finalize(s);
  sqlite3_close_v2(raw);
  EXPECT_NE(plan.find("USING COVERING INDEX audit_log_action"),
            std::string::npos)
      << plan;
}

// A database of the previous version (schema 3) gains the columns, NULL in
// its rows, which Access then binds.
TEST_F(SqliteStorageTest, MigratesAVersionThreeDatabase) {
  db_.reset();
  Exec(path_,
       "DROP INDEX audit_log_action;"
       "DROP TABLE audit_nodes;"
       "ALTER TABLE credentials DROP COLUMN mac;"
       "ALTER TABLE credentials DROP COLUMN audit_seq;"
       "ALTER TABLE allowlist DROP COLUMN mac;"
       "ALTER TABLE allowlist DROP COLUMN audit_seq;"
       "ALTER TABLE meta DROP COLUMN mac;"
       "ALTER TABLE meta DROP COLUMN audit_seq;"
       "INSERT INTO credentials VALUES ('old', 'n', 'viewer', x'00', 1, 2, "
       "'uid:0');"
       "INSERT INTO allowlist VALUES ('10.0.0.0/8', 1, 'uid:0');"
       "PRAGMA user_version = 3;");
  db_ = MustOpen();
  ASSERT_NE(db_, nullptr);
  EXPECT_EQ(Pragma(path_, "user_version"),
            std::to_string(SqliteStorage::SchemaVersion()));
  std::vector<Credential> creds = Credentials();
  ASSERT_EQ(creds.size(), 1u);
  EXPECT_EQ(creds[0].client_id, "old");
  EXPECT_EQ(creds[0].mac, "");
  EXPECT_EQ(creds[0].audit_seq, 0u);
  EXPECT_EQ(Allowlist(), std::vector<AllowlistEntry>{Entry("10.0.0.0/8", 1)});
}

// Tree nodes: level 0 comes from the entries' leaf hashes, higher levels
// from audit_nodes; a node stored twice keeps one row; a missing one is
// NotFound; a leaf-hash page is exactly the range asked for.
TEST_F(SqliteStorageTest, AuditNodesAndLeafHashPages) {
  ASSERT_TRUE(
      db_->Write([](Transaction& tx) -> Status {
           for (uint64_t i = 0; i < 4; ++i) {
             AuditRecord r;
             r.seq = i;
             r.leaf = "leaf";
             r.leaf_hash = std::string(32, static_cast<char>('a' + i));
             r.action = "x";
             RETURN_IF_ERROR(tx.AppendAudit(r));
           }
           RETURN_IF_ERROR(tx.PutAuditNodes(
               {{1, 0, std::string(32, 'P')}, {1, 1, std::string(32, 'Q')}}));
           return tx.PutAuditNodes(
               {{2, 0, std::string(32, 'R')}, {1, 1, std::string(32, 'Q')}});
         })
          .ok());
  auto got = db_->AuditNodes({{2, 0}, {0, 3}, {1, 1}, {0, 0}});
  ASSERT_TRUE(got.ok()) << got.status().message();
  EXPECT_EQ(*got, (std::vector<std::string>{
                      std::string(32, 'R'), std::string(32, 'd'),
                      std::string(32, 'Q'), std::string(32, 'a')}));
  EXPECT_EQ(db_->AuditNodes({{1, 0}, {1, 2}}).status().code(),
            StatusCode::kNotFound);
  EXPECT_EQ(db_->AuditNodes({{0, 4}}).status().code(), StatusCode::kNotFound);
  auto page = db_->AuditLeafHashRange(1, 3);
  ASSERT_TRUE(page.ok());
  EXPECT_EQ(*page, (std::vector<std::string>{std::string(32, 'b'),
                                             std::string(32, 'c')}));
  EXPECT_EQ(db_->AuditLeafHashRange(2, 6).status().code(),
            StatusCode::kInvalidArgument);
  EXPECT_EQ(db_->AuditLeafHashes(4).value().size(), 4u);
}

TEST(SqliteStorageOpenTest, MissingDirectoryIsUnavailable) {
  const std::string path =
      authd::testing::MakeTempDir("authd-sqlite-") + "/no/such/dir/authd.db";
  auto db = SqliteStorage::Open(path);
  ASSERT_FALSE(db.ok());
  EXPECT_EQ(db.status().code(), StatusCode::kUnavailable);
  EXPECT_NE(db.status().message().find(path), std::string::npos)
      << db.status().message();
}

TEST(SqliteStorageOpenTest, RefusesAFileThatIsNotADatabase) {
  const std::string path =
      authd::testing::MakeTempDir("authd-sqlite-") + "/authd.db";
  FILE* f = fopen(path.c_str(), "w");
  ASSERT_NE(f, nullptr);
  fputs(
      "this is not an SQLite database, just some text that is long "
      "enough to fill the header and then some more bytes.........\n",
      f);
  fclose(f);
  auto db = SqliteStorage::Open(path);
  EXPECT_FALSE(db.ok());
}

}  // namespace
}  // namespace authd::storage
