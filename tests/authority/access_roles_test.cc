// Access's role set replaced while serving (a configuration reload):
// recorded as at start, in force at once, whole for every reader.
#include <gtest/gtest.h>

#include <atomic>
#include <thread>
#include <vector>

#include "audit/entry.h"
#include "authority/access.h"
#include "testing/access_fixture.h"

namespace authd::authority {
namespace {

using testing::AccessTest;
using testing::kOwner;

std::vector<Role> Reloaded() {
  return {{"auditor", "Reads the audit log.", {"audit:read"}},
          {"viewer", "Reads and writes data.", {"data:read", "data:write"}}};
}

class AccessRolesTest : public AccessTest {
 protected:
  // The roles.set entries, oldest first, as JSON.
  std::vector<nlohmann::json> RoleEntries() {
    storage::AuditFilter f;
    f.action = "roles.set";
    auto rows = storage_->ListAudit(f);
    EXPECT_TRUE(rows.ok()) << rows.status().message();
    std::vector<nlohmann::json> out;
    if (!rows.ok()) return out;
    for (const auto& r : *rows) {
      out.push_back(audit::AuditEntryJson(r.leaf).value());
    }
    return out;
  }
};

TEST_F(AccessRolesTest, ANewSetIsRecordedAsAtStartAndInForceAtOnce) {
  ASSERT_TRUE(access_->RecordStartup({}).ok());
  ASSERT_EQ(RoleEntries().size(), 1u);
  ASSERT_TRUE(access_->SetRoles(Reloaded()).ok());
  EXPECT_EQ(*access_->roles(), Reloaded());
  ASSERT_NE(access_->FindRole("viewer"), nullptr);
  EXPECT_EQ(access_->FindRole("viewer")->scopes,
            (std::vector<std::string>{"data:read", "data:write"}));
  EXPECT_EQ(access_->FindRole("owner"), nullptr);

  std::vector<nlohmann::json> entries = RoleEntries();
  ASSERT_EQ(entries.size(), 2u);
  const nlohmann::json& e = entries[1];
  EXPECT_EQ(e["actor"], "system");
  EXPECT_EQ(e["source"], "local");
  EXPECT_EQ(e["target"], "roles");
  EXPECT_EQ(e["reason"], "configuration reloaded");
  nlohmann::json recorded =
      nlohmann::json::parse(e["values"]["roles"].get<std::string>());
  ASSERT_EQ(recorded.size(), 2u);
  EXPECT_EQ(recorded[1]["name"], "viewer");
  EXPECT_EQ(recorded[1]["scopes"], nlohmann::json({"data:read", "data:write"}));

  // The same set again records nothing; nor does the next start with it.
  ASSERT_TRUE(access_->SetRoles(Reloaded()).ok());
  ASSERT_NO_FATAL_FAILURE(Open(Reloaded()));
  ASSERT_TRUE(access_->RecordStartup({}).ok());
  EXPECT_EQ(RoleEntries().size(), 2u);
}

TEST_F(AccessRolesTest, ARoleHeldAcrossASwapStaysValid) {
  std::shared_ptr<const Role> owner = access_->FindRole("owner");
  ASSERT_NE(owner, nullptr);
  std::shared_ptr<const std::vector<Role>> before = access_->roles();
  ASSERT_TRUE(access_->SetRoles(Reloaded()).ok());
  // The reader keeps what it loaded (freed memory would show under ASan).
  EXPECT_EQ(owner->name, "owner");
  EXPECT_EQ(owner->scopes.size(), 6u);
  EXPECT_EQ(*before, DefaultRoles());
  EXPECT_EQ(access_->FindRole("owner"), nullptr);
}

TEST_F(AccessRolesTest, CreateNamesTheRolesInForce) {
  ASSERT_TRUE(access_->SetRoles(Reloaded()).ok());
  StatusOr<CreatedCredential> c = Create("svc", "owner");
  EXPECT_EQ(c.status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(c.status().message(),
            "role 'owner' does not exist; known roles: auditor, viewer");
  EXPECT_TRUE(Create("svc", "viewer").ok());
}

// A set that cannot be recorded is not put in force.
TEST_F(AccessRolesTest, ASetTheAuditLogRefusesLeavesTheRunningOne) {
  MustCreate("svc", "viewer");  // the log is no longer empty
  auto refusing = audit::AuditLog::Open(storage_.get(), &keys(), &clock_,
                                        "other.test/authd-audit", "test");
  ASSERT_TRUE(refusing.ok()) << refusing.status().message();
  ASSERT_NE((*refusing)->refusal(), "");
  auto access = Access::Create(storage_.get(), refusing->get(), &keys(),
                               &clock_, DefaultRoles());
  ASSERT_TRUE(access.ok()) << access.status().message();
  EXPECT_FALSE((*access)->SetRoles(Reloaded()).ok());
  EXPECT_EQ(*(*access)->roles(), DefaultRoles());
  EXPECT_NE((*access)->FindRole("owner"), nullptr);
  EXPECT_EQ(RoleEntries().size(), 0u);
}

// Readers racing a reload see the old set or the new one, never a mix: the
// role a credential resolves to always comes with its own set's scopes.
TEST_F(AccessRolesTest, ReadersSeeOneWholeSetWhileItIsReplaced) {
  const std::vector<Role> a = {{"viewer", "A", {"data:read"}},
                               {"extra", "A", {"a"}}};
  const std::vector<Role> b = {{"viewer", "B", {"data:write"}}};
  ASSERT_TRUE(access_->SetRoles(a).ok());
  std::atomic<bool> stop{false};
  std::atomic<int> torn{0}, reads{0};
  std::vector<std::thread> readers;
  for (int t = 0; t < 4; ++t) {
    readers.emplace_back([&] {
      while (!stop.load()) {
        std::shared_ptr<const std::vector<Role>> set = access_->roles();
        if (*set != a && *set != b) ++torn;
        std::shared_ptr<const Role> v = access_->FindRole("viewer");
        if (v == nullptr ||
            (v->description == "A") != (v->scopes[0] == "data:read")) {
          ++torn;
        }
        ++reads;
      }
    });
  }
  for (int i = 0; i < 40; ++i) {
    EXPECT_TRUE(access_->SetRoles(i % 2 ? a : b).ok());
  }
  while (reads.load() < 1000) std::this_thread::yield();
  stop = true;
  for (auto& t : readers) t.join();
  EXPECT_EQ(torn.load(), 0);
  EXPECT_EQ(*access_->roles(), a);
}

}  // namespace
}  // namespace authd::authority
