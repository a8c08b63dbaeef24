// The audit API through the real Router and handlers over real SQLite, the
// audit log and SoftHSM2 keys (tests/e2e/test_audit.py against the daemon):
// entries with their filters and paging, the signed checkpoint, and
// inclusion and consistency proofs that verify with nothing but
// audit/checkpoint.h, audit/merkle.h and the audit public key.
#include "api/audit_handler.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <map>
#include <string>
#include <vector>

#include "audit/checkpoint.h"
#include "audit/entry.h"
#include "audit/merkle.h"
#include "audit/verifier.h"
#include "common/encoding.h"
#include "storage/sqlite_storage.h"
#include "testing/router_fixture.h"

namespace authd::api {
namespace {

using audit::Checkpoint;
using nlohmann::json;
using testing::kDay;
using testing::TokenClient;

const authority::Actor kClient{"client:abc", "192.0.2.10"};
const authority::Actor kRoot{"uid:0", "unix", /*holds_all_scopes=*/true};

std::vector<uint64_t> Seqs(const json& entries) {
  std::vector<uint64_t> out;
  for (const json& e : entries) out.push_back(e["seq"].get<uint64_t>());
  return out;
}

std::vector<std::string> DecodeHashes(const json& hashes) {
  std::vector<std::string> out;
  for (const json& h : hashes) {
    out.push_back(Base64Decode(h.get<std::string>()).value_or(""));
  }
  return out;
}

class AuditHandlerTest : public testing::RouterTest {
 protected:
  // Six entries, one change (and one signed checkpoint) each:
  //   seq 0  t0_        allowlist.add    192.0.2.0/24  uid:0  (the fixture)
  //   seq 1  t0_ + 100  allowlist.add    10.9.0.0/24   uid:0
  //   seq 2  t0_ + 200  credential.create              uid:0
  //   seq 3  t0_ + 300  allowlist.add    10.9.1.0/24   client:abc
  //   seq 4  t0_ + 300  allowlist.remove 10.9.0.0/24   client:abc
  //   seq 5  t0_ + 400  allowlist.add    10.9.2.0/24   uid:0
  void Populate() {
    clock_.Set(t0_ + 100);
    ASSERT_TRUE(access_->AddAllowlist("10.9.0.0/24", kRoot, "CHG-1").ok());
    clock_.Set(t0_ + 200);
    ASSERT_TRUE(
        access_
            ->CreateCredential(
                {"svc", "viewer", clock_.NowSeconds() + kDay, ""}, kRoot)
            .ok());
    clock_.Set(t0_ + 300);
    ASSERT_TRUE(access_->AddAllowlist("10.9.1.0/24", kClient).ok());
    ASSERT_TRUE(access_->RemoveAllowlist("10.9.0.0/24", kClient, "CHG-2").ok());
    clock_.Set(t0_ + 400);
    ASSERT_TRUE(access_->AddAllowlist("10.9.2.0/24", kRoot).ok());
    ASSERT_EQ(audit_->size(), 6u);
  }

  // GET over the admin socket; the parsed body of a 200.
  json Get(const std::string& path,
           const std::map<std::string, std::string>& query = {}) {
    Request req = Socket("GET", path);
    req.query = query;
    Response r = Send(req);
    EXPECT_EQ(r.status, 200) << path << ": " << r.body;
    return Body(r);
  }

  std::vector<uint64_t> EntrySeqs(
      const std::map<std::string, std::string>& query) {
    return Seqs(Get("/v1/admin/audit", query)["entries"]);
  }

  Response GetStatus(const std::string& path,
                     const std::map<std::string, std::string>& query) {
    Request req = Socket("GET", path);
    req.query = query;
    return Send(req);
  }

  const PublicKey& AuditKey() { return keys().Public(hsm::KeyUse::kAudit); }

  // The signed checkpoint for `size`, verified, taken from an inclusion
  // proof's answer (the API's way to fetch an older checkpoint).
  Checkpoint CheckpointAt(uint64_t size) {
    json p = Get("/v1/admin/audit/proof",
                 {{"index", "0"}, {"size", std::to_string(size)}});
    StatusOr<Checkpoint> cp = audit::VerifySignedCheckpoint(
        p.value("checkpoint", ""), origin_, origin_, AuditKey());
    EXPECT_TRUE(cp.ok()) << cp.status().message();
    EXPECT_EQ(cp.ok() ? cp->size : 0, size);
    return cp.ok() ? *cp : Checkpoint{};
  }

  std::vector<uint64_t> Range(uint64_t from, uint64_t to) {
    std::vector<uint64_t> out;
    for (uint64_t i = from; i < to; ++i) out.push_back(i);
    return out;
  }
};

// ------------------------------------------------------------- entries

TEST_F(AuditHandlerTest, EntriesAreOldestFirstWithTheirLeafBytes) {
  ASSERT_NO_FATAL_FAILURE(Populate());
  json page = Get("/v1/admin/audit");
  EXPECT_EQ(page["tree_size"], 6);
  EXPECT_TRUE(page["next_after_seq"].is_null());
  const json& entries = page["entries"];
  EXPECT_EQ(Seqs(entries), Range(0, 6));

  storage::AuditFilter all;
  StatusOr<std::vector<storage::AuditRecord>> rows = audit_->List(all);
  ASSERT_TRUE(rows.ok()) << rows.status().message();
  ASSERT_EQ(rows->size(), entries.size());
  for (size_t i = 0; i < rows->size(); ++i) {
    // Each entry is its leaf decoded, "leaf" carrying the exact bytes.
    StatusOr<json> decoded = audit::AuditEntryJson((*rows)[i].leaf);
    ASSERT_TRUE(decoded.ok()) << decoded.status().message();
    EXPECT_EQ(entries[i], *decoded);
    std::optional<std::string> leaf =
        Base64Decode(entries[i]["leaf"].get<std::string>());
    ASSERT_TRUE(leaf.has_value());
    EXPECT_EQ(audit::LeafHash(*leaf), (*rows)[i].leaf_hash);
  }
  const json& remove = entries[4];
  EXPECT_EQ(remove["action"], "allowlist.remove");
  EXPECT_EQ(remove["target"], "10.9.0.0/24");
  EXPECT_EQ(remove["actor"], kClient.id);
  EXPECT_EQ(remove["source"], kClient.address);
  EXPECT_EQ(remove["reason"], "CHG-2");
  EXPECT_EQ(remove["result"], "success");
  EXPECT_EQ(remove["software_version"], "test");
  EXPECT_EQ(remove["time_unix_micros"], (t0_ + 300) * 1000000);
  std::string time = FormatRfc3339(t0_ + 300);
  EXPECT_EQ(remove["time"], time.substr(0, time.size() - 1) + ".000000Z");
}

TEST_F(AuditHandlerTest, FiltersSelectByActionActorTargetAndTime) {
  ASSERT_NO_FATAL_FAILURE(Populate());
  using Seqv = std::vector<uint64_t>;
  const std::string at200 = FormatRfc3339(t0_ + 200);
  const std::string at300 = FormatRfc3339(t0_ + 300);
  EXPECT_EQ(EntrySeqs({{"action", "allowlist.add"}}), (Seqv{0, 1, 3, 5}));
  EXPECT_EQ(EntrySeqs({{"action", "allowlist.remove"}}), (Seqv{4}));
  EXPECT_EQ(EntrySeqs({{"actor", "client:abc"}}), (Seqv{3, 4}));
  EXPECT_EQ(EntrySeqs({{"actor", "uid:0"}}), (Seqv{0, 1, 2, 5}));
  EXPECT_EQ(EntrySeqs({{"target", "10.9.0.0/24"}}), (Seqv{1, 4}));
  EXPECT_EQ(EntrySeqs({{"action", "allowlist.add"}, {"actor", "client:abc"}}),
            (Seqv{3}));
  EXPECT_EQ(EntrySeqs({{"action", "nosuch"}}), Seqv{});
  // Exact matches, not prefixes.
  EXPECT_EQ(EntrySeqs({{"action", "allowlist"}}), Seqv{});
  EXPECT_EQ(EntrySeqs({{"target", "10.9.0.0"}}), Seqv{});
  // since and until are inclusive.
  EXPECT_EQ(EntrySeqs({{"since", at200}}), (Seqv{2, 3, 4, 5}));
  EXPECT_EQ(EntrySeqs({{"until", at200}}), (Seqv{0, 1, 2}));
  EXPECT_EQ(EntrySeqs({{"since", at200}, {"until", at300}}), (Seqv{2, 3, 4}));
  EXPECT_EQ(EntrySeqs({{"since", at300}, {"until", at200}}), Seqv{});
  // Any RFC 3339 offset names the same instant.
  EXPECT_EQ(EntrySeqs({{"since", FormatRfc3339(t0_ + 200 + 3600).substr(0, 19) +
                                     "+01:00"}}),
            (Seqv{2, 3, 4, 5}));
  EXPECT_EQ(EntrySeqs({{"since", "2999-01-01T00:00:00Z"}}), Seqv{});
  EXPECT_EQ(EntrySeqs({{"until", "2000-01-01T00:00:00Z"}}), Seqv{});
  EXPECT_EQ(EntrySeqs({{"after_seq", "2"}}), (Seqv{3, 4, 5}));
  EXPECT_EQ(EntrySeqs({{"after_seq", "5"}}), Seqv{});
  EXPECT_EQ(EntrySeqs({{"after_seq", "99"}}), Seqv{});
  // Past every seq there is, however large.
  EXPECT_EQ(EntrySeqs({{"after_seq", "9223372036854775807"}}), Seqv{});
  EXPECT_EQ(EntrySeqs({{"after_seq", "9223372036854775808"}}), Seqv{});
  EXPECT_EQ(EntrySeqs({{"after_seq", "18446744073709551615"}}), Seqv{});
  EXPECT_EQ(EntrySeqs({{"after_seq", "0"}, {"action", "allowlist.add"}}),
            (Seqv{1, 3, 5}));
}

// Pages of `limit` entries; next_after_seq names where the next page
// starts, and is null once a page comes back short.
TEST_F(AuditHandlerTest, PagingWithNextAfterSeqVisitsEveryEntryOnce) {
  ASSERT_NO_FATAL_FAILURE(Populate());
  json page = Get("/v1/admin/audit", {{"limit", "2"}});
  EXPECT_EQ(Seqs(page["entries"]), (std::vector<uint64_t>{0, 1}));
  EXPECT_EQ(page["next_after_seq"], 1);
  page = Get("/v1/admin/audit", {{"limit", "4"}, {"after_seq", "3"}});
  EXPECT_EQ(Seqs(page["entries"]), (std::vector<uint64_t>{4, 5}));
  EXPECT_TRUE(page["next_after_seq"].is_null());

  for (const std::map<std::string, std::string>& filter :
       std::vector<std::map<std::string, std::string>>{
           {}, {{"action", "allowlist.add"}}, {{"actor", "client:abc"}}}) {
    for (int limit : {1, 2, 3, 4, 6, 7}) {
      std::vector<uint64_t> seen;
      std::optional<uint64_t> after;
      int pages = 0;
      while (pages++ < 20) {
        std::map<std::string, std::string> q = filter;
        q["limit"] = std::to_string(limit);
        if (after) q["after_seq"] = std::to_string(*after);
        page = Get("/v1/admin/audit", q);
        for (uint64_t s : Seqs(page["entries"])) seen.push_back(s);
        EXPECT_LE(page["entries"].size(), static_cast<size_t>(limit));
        if (page["next_after_seq"].is_null()) break;
        after = page["next_after_seq"].get<uint64_t>();
        EXPECT_EQ(*after, seen.back());
      }
      std::map<std::string, std::string> everything = filter;
      everything["limit"] = "1000";
      EXPECT_EQ(seen, EntrySeqs(everything)) << "limit " << limit;
    }
  }
}

TEST_F(AuditHandlerTest, LimitDefaultsTo100AndIsAtMost1000) {
  // 1,100 entries in one signed transaction.
  std::vector<audit::AuditEvent> events(
      1100, {"system", "local", "bulk.test", "t", {}, ""});
  ASSERT_TRUE(
      audit_->Record([](storage::Transaction&) { return Status::Ok(); }, events)
          .ok());
  json page = Get("/v1/admin/audit");
  EXPECT_EQ(page["entries"].size(), 100u);
  EXPECT_EQ(page["next_after_seq"], 99);
  EXPECT_EQ(page["tree_size"], 1101);
  page = Get("/v1/admin/audit", {{"limit", "1000"}});
  EXPECT_EQ(page["entries"].size(), 1000u);
  EXPECT_EQ(page["next_after_seq"], 999);
  page = Get("/v1/admin/audit", {{"limit", "1"}, {"after_seq", "1099"}});
  EXPECT_EQ(Seqs(page["entries"]), std::vector<uint64_t>{1100});
}

TEST_F(AuditHandlerTest, BadParametersAre400) {
  struct Case {
    std::string name, value, needle;
  };
  const Case cases[] = {
      {"limit", "0", "limit must be between 1 and 1000"},
      {"limit", "1001", "limit must be between 1 and 1000"},
      {"limit", "99999999999999999999999", "limit"},
      {"limit", "-1", "limit must be a non-negative integer"},
      {"limit", "x", "limit must be a non-negative integer"},
      {"limit", "", "limit must be a non-negative integer"},
      {"limit", "1.5", "limit must be a non-negative integer"},
      {"limit", " 5", "limit must be a non-negative integer"},
      {"after_seq", "-1", "after_seq must be a non-negative integer"},
      {"after_seq", "0x10", "after_seq must be a non-negative integer"},
      {"since", "yesterday", "since must be an RFC 3339 time"},
      {"since", "", "since must be an RFC 3339 time"},
      {"until", "2026-13-01T00:00:00Z", "until must be an RFC 3339 time"},
      {"until", "2026-01-01", "until must be an RFC 3339 time"},
  };
  for (const Case& c : cases) {
    Response r = GetStatus("/v1/admin/audit", {{c.name, c.value}});
    EXPECT_EQ(r.status, 400) << c.name << "=" << c.value;
    json body = Body(r);
    EXPECT_EQ(body["error"], "invalid_request");
    EXPECT_NE(body.value("message", "").find(c.needle), std::string::npos)
        << r.body;
  }
}

// ----------------------------------------------------------- checkpoint

TEST_F(AuditHandlerTest, CheckpointIsASignedNoteOverTheEntries) {
  ASSERT_NO_FATAL_FAILURE(Populate());
  Response r = Send(Socket("GET", "/v1/admin/audit/checkpoint"));
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(r.content_type, "text/plain; charset=utf-8");
  EXPECT_NE(r.body.find("\n\n\xe2\x80\x94 " + origin_ + " "),
            std::string::npos)
      << r.body;  // C2SP signed-note: blank line, em dash, key name
  StatusOr<Checkpoint> cp =
      audit::VerifySignedCheckpoint(r.body, origin_, origin_, AuditKey());
  ASSERT_TRUE(cp.ok()) << cp.status().message();
  EXPECT_EQ(cp->origin, origin_);
  EXPECT_EQ(cp->size, 6u);
  // The root is the Merkle root of the leaves the entries API shows.
  std::vector<std::string> leaf_hashes;
  const json entries = Get("/v1/admin/audit")["entries"];
  for (const json& e : entries) {
    leaf_hashes.push_back(audit::LeafHash(
        Base64Decode(e["leaf"].get<std::string>()).value_or("")));
  }
  EXPECT_EQ(cp->root_hash, audit::RootFromLeafHashes(leaf_hashes));
  // Only the audit key verifies it.
  EXPECT_EQ(audit::VerifySignedCheckpoint(r.body, origin_, origin_,
                                          keys().Public(hsm::KeyUse::kToken))
                .status()
                .code(),
            StatusCode::kUnauthenticated);

  // The next change moves it on.
  ASSERT_TRUE(access_->AddAllowlist("10.9.9.0/24", kRoot).ok());
  Response later = Send(Socket("GET", "/v1/admin/audit/checkpoint"));
  StatusOr<Checkpoint> next =
      audit::VerifySignedCheckpoint(later.body, origin_, origin_, AuditKey());
  ASSERT_TRUE(next.ok()) << next.status().message();
  EXPECT_EQ(next->size, 7u);
}

TEST_F(AuditHandlerTest, EmptyLogHasNoCheckpointAndNoProofs) {
  // A log of its own: the fixture's has an entry already.
  std::string dir = testing::MakeTempDir("authd-audit-empty-");
  auto storage = storage::SqliteStorage::Open(dir + "/empty.db");
  ASSERT_TRUE(storage.ok()) << storage.status().message();
  auto log = audit::AuditLog::Open(storage->get(), &keys(), &clock_,
                                   origin_ + "-empty", "test");
  ASSERT_TRUE(log.ok()) << log.status().message();
  AuditHandler handler(log->get());
  Request req = Socket("GET", "/v1/admin/audit/checkpoint");
  Response r = handler.LatestCheckpoint(req);
  EXPECT_EQ(r.status, 404) << r.body;
  EXPECT_EQ(Body(r)["error"], "not_found");
  r = handler.Entries(Socket("GET", "/v1/admin/audit"));
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(Body(r), (json{{"entries", json::array()},
                           {"next_after_seq", nullptr},
                           {"tree_size", 0}}));
  EXPECT_EQ(
      handler.Proof(Make("GET", "/v1/admin/audit/proof?index=0"), true).status,
      404);
}

// --------------------------------------------------------------- proofs

TEST_F(AuditHandlerTest, InclusionProofsVerifyAgainstTheSignedCheckpoint) {
  ASSERT_NO_FATAL_FAILURE(Populate());
  const json entries = Get("/v1/admin/audit")["entries"];
  for (uint64_t size = 1; size <= 6; ++size) {
    for (uint64_t index = 0; index < size; ++index) {
      std::map<std::string, std::string> q = {{"index", std::to_string(index)}};
      if (size != 6) q["size"] = std::to_string(size);  // default: the tree
      json p = Get("/v1/admin/audit/proof", q);
      EXPECT_EQ(p["index"], index);
      EXPECT_EQ(p["size"], size);
      EXPECT_EQ(p["leaf"], entries[index]["leaf"]);
      StatusOr<Checkpoint> cp = audit::VerifySignedCheckpoint(
          p.value("checkpoint", ""), origin_, origin_, AuditKey());
      ASSERT_TRUE(cp.ok()) << cp.status().message();
      EXPECT_EQ(cp->size, size);
      const std::string leaf =
          Base64Decode(p["leaf"].get<std::string>()).value_or("");
      const std::vector<std::string> hashes = DecodeHashes(p["hashes"]);
      Status ok = audit::VerifyInclusion(index, size, audit::LeafHash(leaf),
                                         hashes, cp->root_hash);
      EXPECT_TRUE(ok.ok()) << index << "/" << size << ": " << ok.message();
      // The proof proves this entry at this index and nothing else.
      if (size > 1) {
        EXPECT_FALSE(audit::VerifyInclusion((index + 1) % size, size,
                                            audit::LeafHash(leaf), hashes,
                                            cp->root_hash)
                         .ok());
        std::vector<std::string> bent = hashes;
        bent[0][0] ^= 1;
        EXPECT_FALSE(audit::VerifyInclusion(index, size, audit::LeafHash(leaf),
                                            bent, cp->root_hash)
                         .ok());
      }
      std::string other_leaf =
          Base64Decode(entries[(index + 1) % 6]["leaf"].get<std::string>())
              .value_or("");
      EXPECT_FALSE(audit::VerifyInclusion(index, size,
                                          audit::LeafHash(other_leaf), hashes,
                                          cp->root_hash)
                       .ok());
    }
  }
}

// What `authctl audit prove` writes from this answer verifies offline.
TEST_F(AuditHandlerTest, InclusionProofMakesAnOfflineProofFile) {
  ASSERT_NO_FATAL_FAILURE(Populate());
  json p = Get("/v1/admin/audit/proof", {{"index", "3"}});
  std::string leaf = Base64Decode(p["leaf"].get<std::string>()).value_or("");
  std::string file = audit::FormatTlogProof(3, leaf, DecodeHashes(p["hashes"]),
                                            p["checkpoint"].get<std::string>());
  std::string got;
  StatusOr<Checkpoint> cp = audit::VerifyProofFile(file, AuditKey(), &got);
  ASSERT_TRUE(cp.ok()) << cp.status().message();
  EXPECT_EQ(cp->size, 6u);
  EXPECT_EQ(got, leaf);
  EXPECT_EQ(audit::AuditEntryJson(got).value()["target"], "10.9.1.0/24");
}

TEST_F(AuditHandlerTest, ConsistencyProofsVerifyBetweenSignedCheckpoints) {
  ASSERT_NO_FATAL_FAILURE(Populate());
  for (uint64_t to = 1; to <= 6; ++to) {
    const Checkpoint newer = CheckpointAt(to);
    for (uint64_t from = 1; from <= to; ++from) {
      std::map<std::string, std::string> q = {{"from", std::to_string(from)}};
      if (to != 6) q["to"] = std::to_string(to);  // default: the tree
      json p = Get("/v1/admin/audit/consistency", q);
      EXPECT_EQ(p["from"], from);
      EXPECT_EQ(p["to"], to);
      StatusOr<Checkpoint> cp = audit::VerifySignedCheckpoint(
          p.value("checkpoint", ""), origin_, origin_, AuditKey());
      ASSERT_TRUE(cp.ok()) << cp.status().message();
      EXPECT_EQ(cp->root_hash, newer.root_hash);
      const Checkpoint older = CheckpointAt(from);
      const std::vector<std::string> hashes = DecodeHashes(p["hashes"]);
      Status ok = audit::VerifyConsistency(from, to, hashes, older.root_hash,
                                           newer.root_hash);
      EXPECT_TRUE(ok.ok()) << from << "->" << to << ": " << ok.message();
      if (from < to) {
        // Against any other history it fails.
        std::string forged = older.root_hash;
        forged[0] ^= 1;
        EXPECT_FALSE(
            audit::VerifyConsistency(from, to, hashes, forged, newer.root_hash)
                .ok());
      } else {
        EXPECT_TRUE(hashes.empty());
      }
    }
  }
}

TEST_F(AuditHandlerTest, BadProofParametersAre400Or404) {
  ASSERT_NO_FATAL_FAILURE(Populate());
  struct Case {
    std::string path;
    std::map<std::string, std::string> query;
    int status;
    std::string needle;
  };
  const std::string proof = "/v1/admin/audit/proof";
  const std::string consistency = "/v1/admin/audit/consistency";
  const Case cases[] = {
      {proof, {}, 400, "index is required"},
      {proof, {{"size", "3"}}, 400, "index is required"},
      {proof, {{"index", "x"}}, 400, "index must be a non-negative integer"},
      {proof, {{"index", "-1"}}, 400, "index must be a non-negative integer"},
      {proof, {{"index", "0"}, {"size", "y"}}, 400, "size must be"},
      {proof, {{"index", "6"}}, 400, "index must be below size"},
      {proof, {{"index", "3"}, {"size", "3"}}, 400, "index must be below size"},
      {proof, {{"index", "99999"}}, 400, "index must be below size"},
      {proof, {{"index", "0"}, {"size", "999"}}, 404, "size 999"},
      {proof, {{"index", "0"}, {"size", "0"}}, 404, "size 0"},
      {consistency, {}, 400, "from is required"},
      {consistency, {{"to", "3"}}, 400, "from is required"},
      {consistency, {{"from", "0"}}, 400, "from must be between 1 and to"},
      {consistency, {{"from", "5"}, {"to", "3"}}, 400, "from must be"},
      {consistency, {{"from", "z"}}, 400, "from must be a non-negative"},
      {consistency, {{"from", "1"}, {"to", "999"}}, 404, "size 999"},
  };
  for (const Case& c : cases) {
    Response r = GetStatus(c.path, c.query);
    EXPECT_EQ(r.status, c.status) << c.path << " " << json(c.query).dump();
    EXPECT_NE(Body(r).value("message", "").find(c.needle), std::string::npos)
        << r.body;
  }
}

// A size inside one multi-entry transaction never had a signed checkpoint:
// no proof is given against a root nobody signed.
TEST_F(AuditHandlerTest, NoProofForASizeThatWasNeverSigned) {
  ASSERT_TRUE(access_->RecordStartup({}).ok());  // four entries, one commit
  ASSERT_EQ(audit_->size(), 5u);
  for (const char* size : {"2", "3", "4"}) {
    EXPECT_EQ(
        GetStatus("/v1/admin/audit/proof", {{"index", "0"}, {"size", size}})
            .status,
        404)
        << size;
    EXPECT_EQ(
        GetStatus("/v1/admin/audit/consistency", {{"from", "1"}, {"to", size}})
            .status,
        404)
        << size;
  }
  EXPECT_EQ(
      GetStatus("/v1/admin/audit/consistency", {{"from", "1"}, {"to", "5"}})
          .status,
      200);
}

// ------------------------------------------------------------- scopes

TEST_F(AuditHandlerTest, AuditReadScopeIsNeededOverTcp) {
  const TokenClient auditor = MustGetToken("auditor");
  const TokenClient owner = MustGetToken("owner");
  const TokenClient narrowed = MustGetToken("owner", "admin:read admin:write");
  const TokenClient viewer = MustGetToken("viewer");
  for (const std::string path :
       {"/v1/admin/audit", "/v1/admin/audit/checkpoint",
        "/v1/admin/audit/proof?index=0",
        "/v1/admin/audit/consistency?from=1"}) {
    EXPECT_EQ(Send(Tcp("GET", path, auditor.token)).status, 200) << path;
    EXPECT_EQ(Send(Tcp("GET", path, owner.token)).status, 200) << path;
    for (const TokenClient* who : {&narrowed, &viewer}) {
      Response r = Send(Tcp("GET", path, who->token));
      EXPECT_EQ(r.status, 403) << path;
      EXPECT_EQ(Body(r)["error"], "insufficient_scope");
      EXPECT_EQ(HeaderOf(r, "WWW-Authenticate"),
                "Bearer realm=\"authd\", error=\"insufficient_scope\", "
                "scope=\"audit:read\"");
    }
    EXPECT_EQ(Send(Tcp("GET", path)).status, 401) << path;
    EXPECT_EQ(Send(Tcp("GET", path, auditor.token, "203.0.113.9")).status, 403)
        << path;
  }
}

}  // namespace
}  // namespace authd::api

namespace authd::api {
namespace {

// The whole body of an answer: `body`, then what `stream` produces.
std::string Drain(Response& r) {
  std::string out = r.body;
  for (int calls = 0; r.stream; ++calls) {
    EXPECT_LT(calls, 100000) << "the stream never ends";
    if (calls >= 100000) break;
    StatusOr<bool> more = r.stream(&out);
    EXPECT_TRUE(more.ok()) << more.status().message();
    if (!more.ok() || !*more) break;
  }
  return out;
}

// An export longer than one page streams the rest: the bytes are those of
// the entries and the checkpoint line, whatever the page boundaries, and a
// change made while it streams does not show up half.
TEST_F(AuditHandlerTest, LongExportStreamsAndStopsAtItsCheckpoint) {
  std::vector<audit::AuditEvent> events(
      2500, {"uid:0", "unix", "allowlist.add", "10.1.0.0/16", {}, "bulk"});
  ASSERT_TRUE(
      audit_->Record([](storage::Transaction&) { return Status::Ok(); }, events)
          .ok());
  const uint64_t size = audit_->size();
  for (const char* format : {"jsonl", "csv"}) {
    Response r = GetStatus("/v1/admin/audit/export", {{"format", format}});
    ASSERT_EQ(r.status, 200);
    ASSERT_TRUE(static_cast<bool>(r.stream)) << format;
    EXPECT_EQ(std::count(r.body.begin(), r.body.end(), '\n'),
              std::string(format) == "csv" ? 1001 : 1000);
    if (std::string(format) == "jsonl") {
      // Appended after the checkpoint was fixed: not in this export.
      ASSERT_TRUE(access_->AddAllowlist("10.9.9.0/24", kRoot).ok());
    }
    std::string file = Drain(r);
    std::vector<std::string> lines;
    for (size_t pos = 0; pos < file.size();) {
      size_t end = file.find('\n', pos);
      lines.push_back(file.substr(pos, end - pos));
      pos = end + 1;
    }
    if (std::string(format) == "csv") {
      EXPECT_EQ(lines.size(), audit_->size() + 1);  // header + every entry
      continue;
    }
    ASSERT_EQ(lines.size(), size + 1);
    for (uint64_t i = 0; i < size; ++i) {
      EXPECT_EQ(json::parse(lines[i])["seq"], i);
    }
    auto verified = audit::VerifyExport(file, AuditKey(), std::nullopt);
    ASSERT_TRUE(verified.ok()) << verified.status().message();
    EXPECT_EQ(verified->entries, size);
  }
}

// A short export is one body, with no stream.
TEST_F(AuditHandlerTest, ShortExportIsOneBody) {
  ASSERT_NO_FATAL_FAILURE(Populate());
  Response r = GetStatus("/v1/admin/audit/export", {});
  ASSERT_EQ(r.status, 200);
  EXPECT_FALSE(static_cast<bool>(r.stream));
  EXPECT_TRUE(audit::VerifyExport(r.body, AuditKey(), std::nullopt).ok());
}

}  // namespace
}  // namespace authd::api
