// Rows bound to the HSM (authority/access_integrity.cc): someone who can
// edit, copy and restore the database file but does not hold the HSM PIN
// gains nothing. Each test edits the real SQLite file with its own
// connection, as such a person would, then reopens Access over it.
#include <gtest/gtest.h>
#include <sqlite3.h>

#include <string>
#include <vector>

#include "audit/entry.h"
#include "authority/access.h"
#include "testing/access_fixture.h"
#include "testing/ip_helpers.h"

namespace authd::authority {
namespace {

using testing::AccessTest;
using testing::Addr;
using testing::kDay;
using testing::kOwner;
using testing::kStartTime;

// Runs `sql` on the database file over a connection of its own.
void Sql(const std::string& path, const std::string& sql) {
  sqlite3* db = nullptr;
  ASSERT_EQ(sqlite3_open(path.c_str(), &db), SQLITE_OK);
  char* err = nullptr;
  int rc = sqlite3_exec(db, sql.c_str(), nullptr, nullptr, &err);
  std::string msg = err ? err : "";
  sqlite3_free(err);
  sqlite3_close(db);
  ASSERT_EQ(rc, SQLITE_OK) << sql << ": " << msg;
}

class IntegrityTest : public AccessTest {
 protected:
  // Edits the database with authd "stopped", then starts it again.
  void TamperAndReopen(const std::string& sql) {
    access_.reset();
    audit_.reset();
    storage_.reset();
    ASSERT_NO_FATAL_FAILURE(Sql(db_path_, sql));
    ASSERT_NO_FATAL_FAILURE(Open(DefaultRoles()));
  }

  // A consistent copy of the database, as a backup would be.
  std::string Backup() {
    std::string path = db_path_ + ".copy-" + std::to_string(copies_++);
    Sql(db_path_, "VACUUM INTO '" + path + "'");
    return path;
  }

  // Copies the rows of `table` matching `where` from `backup` back in.
  std::string CopyBack(const std::string& backup, const std::string& table,
                       const std::string& where) {
    return "ATTACH '" + backup + "' AS old; INSERT INTO " + table +
           " SELECT * FROM old." + table + " WHERE " + where + ";";
  }

  const IntegrityFailure* Failure(const std::string& table,
                                  const std::string& key) {
    for (const IntegrityFailure& f : access_->Current()->failures) {
      if (f.table == table && f.key == key) return &f;
    }
    return nullptr;
  }

  std::vector<storage::AuditRecord> Entries(const std::string& action,
                                            const std::string& target = "") {
    storage::AuditFilter f;
    f.action = action;
    f.target = target;
    f.limit = 1000;
    return audit_->List(f).value();
  }

  nlohmann::json Values(const storage::AuditRecord& r) {
    return audit::AuditEntryJson(r.leaf).value()["values"];
  }

  bool Authenticates(const CreatedCredential& c) {
    return access_->Authenticate(c.credential.client_id, c.client_secret.view())
        .ok();
  }

  int copies_ = 0;
};

// ------------------------------------------------------- edited rows

struct Edit {
  const char* column;
  const char* set;  // the SET clause
};

class CredentialEditTest : public IntegrityTest,
                           public ::testing::WithParamInterface<Edit> {};

TEST_P(CredentialEditTest, EditedRowIsNotHonouredAndIsReported) {
  CreatedCredential victim = MustCreate("victim", "viewer");
  CreatedCredential bystander = MustCreate("bystander", "viewer");
  const std::string& id = victim.credential.client_id;
  ASSERT_TRUE(Authenticates(victim));
  ASSERT_NO_FATAL_FAILURE(
      TamperAndReopen(std::string("UPDATE credentials SET ") + GetParam().set +
                      " WHERE client_id = '" + id + "'"));
  EXPECT_FALSE(Authenticates(victim));
  EXPECT_EQ(access_->Current()->credentials.count(id), 0u);
  EXPECT_TRUE(Authenticates(bystander));
  ASSERT_EQ(access_->Current()->failures.size(), 1u);
  const IntegrityFailure* f = Failure("credentials", id);
  ASSERT_NE(f, nullptr);
  EXPECT_EQ(f->resolve, "authctl credential delete " + id);
  EXPECT_NE(f->problem.find("integrity MAC"), std::string::npos) << f->problem;
  Status refusal = access_->IntegrityRefusal();
  EXPECT_EQ(refusal.code(), StatusCode::kAborted);
  EXPECT_NE(refusal.message().find(id), std::string::npos);
}

INSTANTIATE_TEST_SUITE_P(
    EveryColumn, CredentialEditTest,
    ::testing::Values(Edit{"role", "role = 'owner'"},
                      Edit{"expires_at", "expires_at = expires_at + 86400"},
                      Edit{"name", "name = 'renamed'"},
                      Edit{"secret_mac", "secret_mac = randomblob(32)"},
                      Edit{"created_at", "created_at = created_at - 1"},
                      Edit{"created_by", "created_by = 'uid:1'"},
                      Edit{"audit_seq", "audit_seq = audit_seq + 1"},
                      Edit{"mac", "mac = randomblob(32)"},
                      Edit{"mac_null", "mac = NULL, audit_seq = NULL"}),
    [](const auto& p) { return std::string(p.param.column); });

TEST_F(IntegrityTest, ForgedCredentialWithoutMacFails) {
  CreatedCredential mine = MustCreate("mine", "viewer");
  // Someone with a viewer secret copies its row under a new id as owner.
  ASSERT_NO_FATAL_FAILURE(TamperAndReopen(
      "INSERT INTO credentials (client_id, name, role, secret_mac, "
      "created_at, expires_at, created_by) SELECT 'forged', name, 'owner', "
      "secret_mac, created_at, expires_at, created_by FROM credentials"));
  const IntegrityFailure* f = Failure("credentials", "forged");
  ASSERT_NE(f, nullptr);
  EXPECT_NE(f->problem.find("has no integrity MAC"), std::string::npos);
  EXPECT_EQ(access_->Current()->credentials.count("forged"), 0u);
  EXPECT_TRUE(Authenticates(mine));
}

TEST_F(IntegrityTest, EditedOrForgedAllowlistEntryIsNotHonoured) {
  ASSERT_TRUE(access_->AddAllowlist("10.0.0.0/8", kOwner).ok());
  ASSERT_TRUE(access_->AddAllowlist("192.0.2.0/24", kOwner).ok());
  ASSERT_NO_FATAL_FAILURE(TamperAndReopen(
      "UPDATE allowlist SET cidr = '0.0.0.0/0' WHERE cidr = '10.0.0.0/8';"
      "UPDATE allowlist SET created_by = 'uid:1' WHERE cidr = "
      "'192.0.2.0/24';"
      "INSERT INTO allowlist (cidr, created_at, created_by) VALUES "
      "('::/0', 0, 'uid:0');"));
  EXPECT_FALSE(access_->Allowed(Addr("10.1.2.3")));
  EXPECT_FALSE(access_->Allowed(Addr("192.0.2.1")));
  EXPECT_FALSE(access_->Allowed(Addr("2001:db8::1")));
  EXPECT_TRUE(access_->Current()->allowlist.empty());
  ASSERT_EQ(access_->Current()->failures.size(), 3u);
  ASSERT_NE(Failure("allowlist", "0.0.0.0/0"), nullptr);
  EXPECT_EQ(Failure("allowlist", "0.0.0.0/0")->resolve,
            "authctl allowlist remove 0.0.0.0/0");
  ASSERT_NE(Failure("allowlist", "192.0.2.0/24"), nullptr);
  ASSERT_NE(Failure("allowlist", "::/0"), nullptr);
  EXPECT_NE(Failure("allowlist", "::/0")->problem.find("has no integrity MAC"),
            std::string::npos);
}

// Binding: each row names the audit entry that created it.
TEST_F(IntegrityTest, RowsCarryTheSeqOfTheEntryThatCreatedThem) {
  MustCreate("first", "viewer");
  CreatedCredential c = MustCreate("second", "viewer");
  ASSERT_TRUE(access_->AddAllowlist("10.0.0.0/8", kOwner).ok());
  std::vector<storage::AuditRecord> create =
      Entries("credential.create", c.credential.client_id);
  std::vector<storage::AuditRecord> add = Entries("allowlist.add");
  ASSERT_EQ(create.size(), 1u);
  ASSERT_EQ(add.size(), 1u);
  std::vector<storage::Credential> rows = storage_->ListCredentials().value();
  ASSERT_EQ(rows[0].client_id, c.credential.client_id);
  EXPECT_EQ(rows[0].audit_seq, create[0].seq);
  EXPECT_EQ(rows[0].mac.size(), 32u);
  EXPECT_EQ(storage_->ListAllowlist().value()[0].audit_seq, add[0].seq);
  // Nothing outside Access sees the binding.
  EXPECT_EQ(access_->ListCredentials()[0].mac, "");
}

// ----------------------------------------------------- replayed rows

TEST_F(IntegrityTest, DeletedCredentialCopiedBackIsNotHonoured) {
  CreatedCredential gone = MustCreate("gone", "owner");
  const std::string& id = gone.credential.client_id;
  std::string backup = Backup();
  ASSERT_TRUE(access_->DeleteCredential(id, kOwner, "offboarded").ok());
  ASSERT_NO_FATAL_FAILURE(TamperAndReopen(
      CopyBack(backup, "credentials", "client_id = '" + id + "'")));
  EXPECT_FALSE(Authenticates(gone));
  const IntegrityFailure* f = Failure("credentials", id);
  ASSERT_NE(f, nullptr);
  uint64_t deleted_at = Entries("credential.delete", id).at(0).seq;
  EXPECT_EQ(f->problem, "was deleted by audit entry " +
                            std::to_string(deleted_at) +
                            " (copied back from an older copy of the "
                            "database)");
}

TEST_F(IntegrityTest, RemovedAllowlistEntryCopiedBackIsNotHonoured) {
  ASSERT_TRUE(access_->AddAllowlist("10.0.0.0/8", kOwner).ok());
  std::string backup = Backup();
  ASSERT_TRUE(access_->RemoveAllowlist("10.0.0.0/8", kOwner).ok());
  ASSERT_NO_FATAL_FAILURE(
      TamperAndReopen(CopyBack(backup, "allowlist", "cidr = '10.0.0.0/8'")));
  EXPECT_FALSE(access_->Allowed(Addr("10.1.2.3")));
  const IntegrityFailure* f = Failure("allowlist", "10.0.0.0/8");
  ASSERT_NE(f, nullptr);
  EXPECT_NE(f->problem.find("was removed by audit entry"), std::string::npos);
}

TEST_F(IntegrityTest, CidrAddedRemovedAndAddedAgainIsHonoured) {
  ASSERT_TRUE(access_->AddAllowlist("10.0.0.0/8", kOwner).ok());
  ASSERT_TRUE(access_->RemoveAllowlist("10.0.0.0/8", kOwner).ok());
  ASSERT_TRUE(access_->AddAllowlist("10.0.0.0/8", kOwner).ok());
  ASSERT_NO_FATAL_FAILURE(Open(DefaultRoles()));
  EXPECT_TRUE(access_->Allowed(Addr("10.1.2.3")));
  EXPECT_TRUE(access_->Current()->failures.empty());
  EXPECT_TRUE(access_->IntegrityRefusal().ok());
}

// ------------------------------------------- refusal and resolution

TEST_F(IntegrityTest, ChangesAreRefusedUntilTheFailingCredentialIsDeleted) {
  CreatedCredential victim = MustCreate("victim", "viewer");
  CreatedCredential bystander = MustCreate("bystander", "viewer");
  ASSERT_TRUE(access_->AddAllowlist("10.0.0.0/8", kOwner).ok());
  const std::string& id = victim.credential.client_id;
  ASSERT_NO_FATAL_FAILURE(TamperAndReopen(
      "UPDATE credentials SET role = 'owner' WHERE client_id = '" + id + "'"));
  StatusOr<CreatedCredential> created = Create("new", "viewer");
  ASSERT_EQ(created.status().code(), StatusCode::kAborted);
  EXPECT_EQ(created.status().message(),
            "changes are refused while stored rows fail their integrity "
            "check: credentials " +
                id +
                " does not match its integrity MAC (edited outside authd); "
                "remove it with: authctl credential delete " +
                id);
  EXPECT_EQ(access_->AddAllowlist("192.0.2.0/24", kOwner).status().code(),
            StatusCode::kAborted);
  EXPECT_EQ(access_->RemoveAllowlist("10.0.0.0/8", kOwner).code(),
            StatusCode::kAborted);
  EXPECT_EQ(
      access_->DeleteCredential(bystander.credential.client_id, kOwner).code(),
      StatusCode::kAborted);
  EXPECT_TRUE(Authenticates(bystander));
  EXPECT_TRUE(access_->Allowed(Addr("10.1.2.3")));

  // The way out: delete the failing row. No restart.
  ASSERT_TRUE(access_->DeleteCredential(id, kOwner, "INC-7").ok());
  std::vector<storage::AuditRecord> deleted = Entries("credential.delete", id);
  ASSERT_EQ(deleted.size(), 1u);
  EXPECT_EQ(Values(deleted[0]),
            (nlohmann::json{{"integrity",
                             "the row failed its integrity check: it does not "
                             "match its integrity MAC (edited outside "
                             "authd)"}}));
  EXPECT_TRUE(access_->Current()->failures.empty());
  EXPECT_TRUE(access_->IntegrityRefusal().ok());
  EXPECT_TRUE(Create("new", "viewer").ok());
  EXPECT_TRUE(
      access_->DeleteCredential(bystander.credential.client_id, kOwner).ok());
}

TEST_F(IntegrityTest, ChangesAreRefusedUntilTheFailingEntryIsRemoved) {
  ASSERT_TRUE(access_->AddAllowlist("10.0.0.0/8", kOwner).ok());
  ASSERT_TRUE(access_->AddAllowlist("192.0.2.0/24", kOwner).ok());
  ASSERT_NO_FATAL_FAILURE(TamperAndReopen(
      "UPDATE allowlist SET created_by = 'uid:1' WHERE cidr = '10.0.0.0/8';"
      "INSERT INTO allowlist (cidr, created_at, created_by) VALUES "
      "('not a cidr', 0, 'x');"));
  ASSERT_EQ(access_->Current()->failures.size(), 2u);
  EXPECT_EQ(access_->RemoveAllowlist("192.0.2.0/24", kOwner).code(),
            StatusCode::kAborted);
  // Any spelling of a failing range finds it; a forged row that does not
  // even parse is removed by its stored text.
  ASSERT_TRUE(access_->RemoveAllowlist("::ffff:10.0.0.0/104", kOwner).ok());
  EXPECT_EQ(access_->AddAllowlist("10.0.0.0/8", kOwner).status().code(),
            StatusCode::kAborted);
  ASSERT_TRUE(access_->RemoveAllowlist("not a cidr", kOwner).ok());
  std::vector<storage::AuditRecord> removed = Entries("allowlist.remove");
  ASSERT_EQ(removed.size(), 2u);
  EXPECT_EQ(removed[1].target, "not a cidr");
  EXPECT_NE(Values(removed[1])["integrity"].get<std::string>().find(
                "failed its integrity check"),
            std::string::npos);
  EXPECT_TRUE(access_->IntegrityRefusal().ok());
  EXPECT_TRUE(access_->AddAllowlist("10.0.0.0/8", kOwner).ok());
  EXPECT_TRUE(access_->Allowed(Addr("192.0.2.1")));
}

// --------------------------------------------------------- binding

class BindingTest : public IntegrityTest {
 protected:
  // Switches to a database as the previous version wrote it: rows without
  // MACs, under an origin whose rows the HSM has not recorded as bound.
  void StartLegacy(const std::function<Status(storage::Transaction&)>& rows,
                   const std::vector<audit::AuditEvent>& events) {
    access_.reset();
    audit_.reset();
    storage_.reset();
    origin_ += "-legacy";
    db_path_ = testing::MakeTempDir("authd-legacy-") + "/authd.db";
    storage_ = std::move(storage::SqliteStorage::Open(db_path_)).value();
    audit_ = std::move(audit::AuditLog::Open(storage_.get(), &keys(), &clock_,
                                             origin_, "test"))
                 .value();
    ASSERT_TRUE(audit_->Record(rows, events).ok());
    ASSERT_TRUE(keys().ReadData(BoundLabel()).value().empty());
  }
  std::string BoundLabel() const {
    return std::string(kRowsBoundLabel) + ":" + origin_;
  }
  static audit::AuditEvent Event(const char* action,
                                 const std::string& target) {
    return {"uid:0", "unix", action, target, {}, ""};
  }
};

TEST_F(BindingTest, FirstStartBindsTheRowsOfAnEarlierVersion) {
  const std::string secret = "authd_s_legacy-secret";
  storage::Credential legacy{
      "legacy-id", "legacy",
      "owner",     access_->SecretMac("legacy-id", secret).value(),
      kStartTime,  kStartTime + kDay,
      "uid:0"};
  ASSERT_NO_FATAL_FAILURE(StartLegacy(
      [&](storage::Transaction& tx) -> Status {
        RETURN_IF_ERROR(tx.InsertCredential(legacy));
        RETURN_IF_ERROR(
            tx.InsertAllowlist({"10.0.0.0/8", kStartTime, "uid:0"}));
        return tx.PutMeta("roles", "[]");
      },
      {Event("key.create", "k"), Event("credential.create", "legacy-id"),
       Event("allowlist.add", "10.0.0.0/8"), Event("roles.set", "roles")}));
  ASSERT_NO_FATAL_FAILURE(Open(DefaultRoles()));

  EXPECT_TRUE(access_->Current()->failures.empty());
  EXPECT_TRUE(access_->Authenticate("legacy-id", secret).ok());
  EXPECT_TRUE(access_->Allowed(Addr("10.1.2.3")));
  storage::Credential row = storage_->ListCredentials().value().at(0);
  EXPECT_EQ(row.audit_seq, 1u);  // its credential.create entry
  EXPECT_EQ(row.mac.size(), 32u);
  EXPECT_EQ(storage_->ListAllowlist().value().at(0).audit_seq, 2u);
  std::optional<storage::BoundMeta> roles =
      storage_->GetBoundMeta("roles").value();
  ASSERT_TRUE(roles.has_value());
  EXPECT_EQ(roles->audit_seq, 3u);
  EXPECT_EQ(roles->mac.size(), 32u);
  std::vector<storage::AuditRecord> bind = Entries("rows.bind");
  ASSERT_EQ(bind.size(), 1u);
  EXPECT_EQ(Values(bind[0]),
            (nlohmann::json{
                {"credentials", "1"}, {"allowlist", "1"}, {"roles", "1"}}));
  EXPECT_FALSE(keys().ReadData(BoundLabel()).value().empty());

  // Bound once: the next start binds nothing, and a MAC removed since fails.
  ASSERT_NO_FATAL_FAILURE(
      TamperAndReopen("UPDATE allowlist SET mac = NULL, audit_seq = NULL"));
  EXPECT_EQ(Entries("rows.bind").size(), 1u);
  EXPECT_FALSE(access_->Allowed(Addr("10.1.2.3")));
  ASSERT_NE(Failure("allowlist", "10.0.0.0/8"), nullptr);
  EXPECT_TRUE(access_->Authenticate("legacy-id", secret).ok());
}

// Binding vouches for what the log says exists, not for a row the log says
// was deleted.
TEST_F(BindingTest, BindingDoesNotRevivePreviouslyDeletedRows) {
  ASSERT_NO_FATAL_FAILURE(StartLegacy(
      [&](storage::Transaction& tx) -> Status {
        return tx.InsertCredential({"zombie", "z", "owner",
                                    std::string(32, 'x'), kStartTime,
                                    kStartTime + kDay, "uid:0"});
      },
      {Event("credential.create", "zombie"),
       Event("credential.delete", "zombie")}));
  ASSERT_NO_FATAL_FAILURE(Open(DefaultRoles()));
  const IntegrityFailure* f = Failure("credentials", "zombie");
  ASSERT_NE(f, nullptr);
  EXPECT_NE(f->problem.find("was deleted by audit entry 1"), std::string::npos);
}

TEST_F(BindingTest, FreshDatabaseIsMarkedBoundAtFirstStart) {
  EXPECT_FALSE(keys()
                   .ReadData(std::string(kRowsBoundLabel) + ":" + origin_)
                   .value()
                   .empty());
  EXPECT_TRUE(Entries("rows.bind").empty());  // nothing needed binding
}

// ---------------------------------------------------------- role set

TEST_F(IntegrityTest, EditedRoleSetIsRecordedAgainFromTheConfiguration) {
  ASSERT_TRUE(access_->RecordStartup({}).ok());
  ASSERT_EQ(Entries("roles.set").size(), 1u);
  ASSERT_NO_FATAL_FAILURE(TamperAndReopen(
      "UPDATE meta SET value = CAST('[{\"name\":\"viewer\",\"description\":"
      "\"\",\"scopes\":[\"admin:write\"]}]' AS BLOB) WHERE key = 'roles'"));
  ASSERT_TRUE(access_->RecordStartup({}).ok());
  std::vector<storage::AuditRecord> set = Entries("roles.set");
  ASSERT_EQ(set.size(), 2u);
  nlohmann::json entry = audit::AuditEntryJson(set[1].leaf).value();
  EXPECT_EQ(entry["reason"],
            "the recorded role set failed its integrity check: it does not "
            "match its integrity MAC (edited outside authd); recorded again "
            "from the configuration");
  EXPECT_EQ(entry["values"], Values(set[0]));  // the configured set
  // It does not block, and the set is intact again.
  EXPECT_TRUE(access_->IntegrityRefusal().ok());
  ASSERT_NO_FATAL_FAILURE(Open(DefaultRoles()));
  ASSERT_TRUE(access_->RecordStartup({}).ok());
  EXPECT_EQ(Entries("roles.set").size(), 2u);
}

// Roles A, then B; someone copies A's genuine row back and the config goes
// back to A: without the seq check no roles.set would record the change.
TEST_F(IntegrityTest, RoleSetCopiedBackIsRecordedAgain) {
  ASSERT_TRUE(access_->RecordStartup({}).ok());
  std::string backup = Backup();
  std::vector<Role> b = DefaultRoles();
  b.pop_back();
  ASSERT_NO_FATAL_FAILURE(Open(b));
  ASSERT_TRUE(access_->RecordStartup({}).ok());
  ASSERT_EQ(Entries("roles.set").size(), 2u);
  ASSERT_NO_FATAL_FAILURE(
      TamperAndReopen("DELETE FROM meta WHERE key = 'roles';" +
                      CopyBack(backup, "meta", "key = 'roles'")));
  ASSERT_TRUE(access_->RecordStartup({}).ok());
  std::vector<storage::AuditRecord> set = Entries("roles.set");
  ASSERT_EQ(set.size(), 3u);
  EXPECT_NE(audit::AuditEntryJson(set[2].leaf)
                .value()["reason"]
                .get<std::string>()
                .find("was replaced by audit entry"),
            std::string::npos);
}

}  // namespace
}  // namespace authd::authority
