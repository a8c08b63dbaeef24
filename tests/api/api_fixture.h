// Shared setup for the api/ unit tests: a fake clock, and an Access over a
// real SQLite file in a temp dir, a real AuditLog and the process's SoftHSM2
// keys. Each fixture uses its own audit origin, so the audit head objects the
// log keeps in the (shared) token never collide between tests.
#ifndef AUTHD_TESTS_API_API_FIXTURE_H_
#define AUTHD_TESTS_API_API_FIXTURE_H_

#include <gtest/gtest.h>
#include <unistd.h>

#include <atomic>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "api/access.h"
#include "common/clock.h"
#include "storage/audit_log.h"
#include "storage/sqlite_storage.h"
#include "testing/softhsm_token.h"

namespace authd::api::testing {

// 2026-01-01T00:00:00Z.
inline constexpr int64_t kStartTime = 1767225600;
inline constexpr int64_t kDay = 86400;

// Time that moves only when a test says so.
class FakeClock final : public Clock {
 public:
  explicit FakeClock(int64_t now = kStartTime) : now_(now) {}
  int64_t NowSeconds() const override { return now_.load(); }
  void Advance(int64_t seconds) { now_ += seconds; }
  void Set(int64_t now) { now_ = now; }

 private:
  std::atomic<int64_t> now_;
};

inline const Actor kOwner{"uid:0", "unix"};

class AccessTest : public ::testing::Test {
 protected:
  void SetUp() override {
    static std::atomic<int> next_origin{0};
    origin_ = "unit.test/authd-audit-" + std::to_string(getpid()) + "-" +
              std::to_string(next_origin++);
    db_path_ = authd::testing::MakeTempDir("authd-api-") + "/authd.db";
    ASSERT_NO_FATAL_FAILURE(Open(Roles()));
  }

  // Roles for Access; fixtures override to test custom sets.
  virtual std::vector<Role> Roles() const { return DefaultRoles(); }

  // (Re)opens storage, audit log and Access on the same database file.
  void Open(std::vector<Role> roles) {
    access_.reset();
    audit_.reset();
    storage_.reset();
    auto storage = storage::SqliteStorage::Open(db_path_);
    ASSERT_TRUE(storage.ok()) << storage.status().message();
    storage_ = std::move(storage).value();
    auto audit = storage::AuditLog::Open(storage_.get(), &keys(), &clock_,
                                         origin_, "test");
    ASSERT_TRUE(audit.ok()) << audit.status().message();
    audit_ = std::move(audit).value();
    ASSERT_EQ(audit_->refusal(), "");
    auto access = Access::Create(storage_.get(), audit_.get(), &keys(), &clock_,
                                 std::move(roles));
    ASSERT_TRUE(access.ok()) << access.status().message();
    access_ = std::move(access).value();
  }

  static const hsm::KeyOps& keys() {
    return authd::testing::SoftHsmToken::Keys();
  }

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
  std::unique_ptr<storage::SqliteStorage> storage_;
  std::unique_ptr<storage::AuditLog> audit_;
  std::unique_ptr<Access> access_;
};

}  // namespace authd::api::testing

#endif  // AUTHD_TESTS_API_API_FIXTURE_H_
