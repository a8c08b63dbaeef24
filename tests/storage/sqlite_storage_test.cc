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
         a.expires_at == b.expires_at && a.created_by == b.created_by;
}
bool operator==(const AllowlistEntry& a, const AllowlistEntry& b) {
  return a.cidr == b.cidr && a.created_at == b.created_at &&
         a.created_by == b.created_by;
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
