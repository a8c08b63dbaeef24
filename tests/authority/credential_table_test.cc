#include "authority/credential_table.h"

#include <gtest/gtest.h>

#include <set>
#include <string>
#include <vector>

namespace authd::authority {
namespace {

storage::Credential Cred(const std::string& id, int64_t created_at = 100) {
  return {id,         "name of " + id,
          "viewer",   std::string(32, static_cast<char>(id.size())),
          created_at, created_at + 1000,
          "uid:0"};
}

CredentialTable Build(const std::vector<storage::Credential>& rows) {
  CredentialTable::Builder b;
  for (const auto& c : rows) EXPECT_TRUE(b.Add(c).ok()) << c.client_id;
  return std::move(b).Build();
}

std::vector<std::string> Ids(const std::vector<storage::Credential>& list) {
  std::vector<std::string> out;
  for (const auto& c : list) out.push_back(c.client_id);
  return out;
}

TEST(CredentialTableTest, EmptyTableFindsNothing) {
  CredentialTable t;
  EXPECT_TRUE(t.empty());
  EXPECT_EQ(t.begin(), t.end());
  EXPECT_EQ(t.find("x"), t.end());
  EXPECT_TRUE(t.NewestFirst().empty());
}

TEST(CredentialTableTest, FindsEveryFieldAsStored) {
  storage::Credential c = Cred("abc");
  c.role = "owner";
  c.created_by = "client:xyz";
  c.secret_mac = std::string("\0\x01mac", 5);  // bytes, not text
  CredentialTable t = Build({c, Cred("other")});
  ASSERT_EQ(t.size(), 2u);
  auto it = t.find("abc");
  ASSERT_NE(it, t.end());
  EXPECT_EQ(it->first, "abc");
  storage::Credential back = it->second.ToCredential();
  EXPECT_EQ(back.client_id, "abc");
  EXPECT_EQ(back.name, "name of abc");
  EXPECT_EQ(back.role, "owner");
  EXPECT_EQ(back.secret_mac, c.secret_mac);
  EXPECT_EQ(back.created_at, 100);
  EXPECT_EQ(back.expires_at, 1100);
  EXPECT_EQ(back.created_by, "client:xyz");
  EXPECT_EQ(t.count("ab"), 0u);
  EXPECT_EQ(t.count("abcd"), 0u);
}

TEST(CredentialTableTest, IteratesOverEveryCredentialOnce) {
  std::vector<storage::Credential> rows;
  std::set<std::string> want;
  for (int i = 0; i < 5000; ++i) {
    rows.push_back(Cred("id-" + std::to_string(i)));
    want.insert(rows.back().client_id);
  }
  CredentialTable t = Build(rows);
  EXPECT_EQ(t.size(), 5000u);
  std::set<std::string> seen;
  for (const auto& [id, ref] : t) {
    EXPECT_EQ(id, ref.client_id);
    EXPECT_TRUE(seen.insert(std::string(id)).second) << id;
  }
  EXPECT_EQ(seen, want);
  for (const std::string& id : want) EXPECT_EQ(t.count(id), 1u) << id;
}

// A reader holding a table sees none of the changes made after it: With and
// Without return new tables and leave the old one (and its shards) alone.
TEST(CredentialTableTest, ChangesLeaveEarlierTablesUnchanged) {
  std::vector<storage::Credential> rows;
  for (int i = 0; i < 3000; ++i) rows.push_back(Cred("c" + std::to_string(i)));
  const CredentialTable before = Build(rows);
  CredentialTable::Ref held = before.find("c7")->second;

  StatusOr<CredentialTable> added = before.With(Cred("new"));
  ASSERT_TRUE(added.ok());
  CredentialTable removed = added->Without("c7");

  EXPECT_EQ(before.size(), 3000u);
  EXPECT_EQ(before.count("new"), 0u);
  EXPECT_EQ(before.count("c7"), 1u);
  EXPECT_EQ(added->size(), 3001u);
  EXPECT_EQ(added->count("new"), 1u);
  EXPECT_EQ(added->count("c7"), 1u);
  EXPECT_EQ(removed.size(), 3000u);
  EXPECT_EQ(removed.count("c7"), 0u);
  EXPECT_EQ(removed.count("new"), 1u);
  // Every other credential is still found in the newest table.
  for (int i = 0; i < 3000; ++i) {
    if (i != 7) {
      EXPECT_EQ(removed.count("c" + std::to_string(i)), 1u) << i;
    }
  }
  // The old table's views still read the old bytes.
  EXPECT_EQ(held.name, "name of c7");
  EXPECT_EQ(before.find("c7")->second.name, "name of c7");
}

TEST(CredentialTableTest, AddingAnExistingIdIsRefused) {
  CredentialTable t = Build({Cred("a"), Cred("b")});
  StatusOr<CredentialTable> again = t.With(Cred("a"));
  EXPECT_EQ(again.status().code(), StatusCode::kAlreadyExists);
  EXPECT_EQ(t.size(), 2u);
}

TEST(CredentialTableTest, RemovingAnUnknownIdChangesNothing) {
  CredentialTable t = Build({Cred("a")});
  CredentialTable same = t.Without("zzz");
  EXPECT_EQ(same.size(), 1u);
  EXPECT_EQ(same.count("a"), 1u);
  CredentialTable none = t.Without("a");
  EXPECT_TRUE(none.empty());
  EXPECT_EQ(none.begin(), none.end());
}

TEST(CredentialTableTest, RefusesFieldsLongerThanItStores) {
  storage::Credential c = Cred("a");
  c.name = std::string(CredentialTable::kMaxField + 1, 'n');
  CredentialTable::Builder b;
  EXPECT_EQ(b.Add(c).code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(CredentialTable().With(c).status().code(),
            StatusCode::kInvalidArgument);
  c.name = std::string(CredentialTable::kMaxField, 'n');
  EXPECT_TRUE(b.Add(c).ok());
  CredentialTable t = std::move(b).Build();
  EXPECT_EQ(t.find("a")->second.name.size(), CredentialTable::kMaxField);
}

// Newest first as SqliteStorage lists them: created_at descending, then the
// later insert first. Loaded rows arrive in that order; added ones are later
// inserts than any loaded row.
TEST(CredentialTableTest, NewestFirstKeepsStorageOrder) {
  // As storage would list them: t=300 {"z"}, t=200 {"b" (later), "y"}, t=100.
  CredentialTable t =
      Build({Cred("z", 300), Cred("b", 200), Cred("y", 200), Cred("a", 100)});
  EXPECT_EQ(Ids(t.NewestFirst()),
            (std::vector<std::string>{"z", "b", "y", "a"}));
  // Two more in the same second as "b": the later one first.
  CredentialTable more = *(*t.With(Cred("m", 200))).With(Cred("c", 200));
  EXPECT_EQ(Ids(more.NewestFirst()),
            (std::vector<std::string>{"z", "c", "m", "b", "y", "a"}));
  EXPECT_EQ(Ids(more.Without("m").NewestFirst()),
            (std::vector<std::string>{"z", "c", "b", "y", "a"}));
}

}  // namespace
}  // namespace authd::authority
