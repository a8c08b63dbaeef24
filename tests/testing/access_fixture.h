// Shared setup for tests of the authority and api layers: a fake clock, and an
// Access over a
// real SQLite file in a temp dir, a real AuditLog and the process's SoftHSM2
// keys. Each fixture uses its own audit origin, so the audit head objects the
// log keeps in the (shared) token never collide between tests.
#ifndef AUTHD_TESTS_TESTING_ACCESS_FIXTURE_H_
#define AUTHD_TESTS_TESTING_ACCESS_FIXTURE_H_

#include <gtest/gtest.h>
#include <unistd.h>

#include <atomic>
#include <memory>
#include <string>
#include <vector>

#include "audit/audit_log.h"
#include "authority/access.h"
#include "common/clock.h"
#include "storage/sqlite_storage.h"
#include "testing/fake_clock.h"
#include "testing/softhsm_token.h"

namespace authd::testing {

using authority::Access;
using authority::Actor;
using authority::CreatedCredential;
using authority::DefaultRoles;
using authority::Role;

inline const Actor kOwner{"uid:0", "unix", /*holds_all_scopes=*/true, {}};

class AccessTest : public ::testing::Test {
 protected:
  void SetUp() override {
    static std::atomic<int> next_origin{0};
    origin_ = "unit.test/authd-audit-" + std::to_string(getpid()) + "-" +
              std::to_string(next_origin++);
    db_path_ = MakeTempDir("authd-api-") + "/authd.db";
    ASSERT_NO_FATAL_FAILURE(Open(Roles()));
  }

  // Roles for Access; fixtures override to test custom sets.
  virtual std::vector<Role> Roles() const { return DefaultRoles(); }

  // (Re)opens storage, audit log and Access on the same database file.
  void Open(std::vector<Role> roles) {
    access_.reset();
    audit_.reset();
    storage_.reset();
    auto storage = storage::SqliteStorage::Open(db_path_, vfs_);
    ASSERT_TRUE(storage.ok()) << storage.status().message();
    storage_ = std::move(storage).value();
    auto audit = audit::AuditLog::Open(storage_.get(), &keys(), &clock_,
                                       origin_, "test");
    ASSERT_TRUE(audit.ok()) << audit.status().message();
    audit_ = std::move(audit).value();
    ASSERT_EQ(audit_->refusal(), "");
    auto access = Access::Create(storage_.get(), audit_.get(), &keys(), &clock_,
                                 std::move(roles));
    ASSERT_TRUE(access.ok()) << access.status().message();
    access_ = std::move(access).value();
  }

  static const hsm::KeyOps& keys() { return SoftHsmToken::Keys(); }

  StatusOr<CreatedCredential> Create(const std::string& name,
                                     const std::string& role,
                                     int64_t lifetime = 30 * kDay) {
    return access_->CreateCredential(
        {name, role, clock_.NowSeconds() + lifetime, ""}, kOwner);
  }

  // A credential that must be created for the test to make sense.
  CreatedCredential MustCreate(const std::string& name, const std::string& role,
                               int64_t lifetime = 30 * kDay) {
    StatusOr<CreatedCredential> c = Create(name, role, lifetime);
    EXPECT_TRUE(c.ok()) << c.status().message();
    return c.ok() ? std::move(c).value() : CreatedCredential{};
  }

  FakeClock clock_;
  std::string origin_;
  std::string db_path_;
  // The SQLite VFS Open() uses; empty for the default (fault_vfs.h sets its
  // own before SetUp).
  std::string vfs_;
  std::unique_ptr<storage::SqliteStorage> storage_;
  std::unique_ptr<audit::AuditLog> audit_;
  std::unique_ptr<Access> access_;
};

}  // namespace authd::testing

#endif  // AUTHD_TESTS_TESTING_ACCESS_FIXTURE_H_
