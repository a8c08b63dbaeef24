// The offline verifier (audit/verifier.h) against exports of a real log:
// AuditLog over SQLite with the SoftHSM2 audit key, exported line for line as
// `authctl audit export` writes it (authd/authctl.cc AuditExport). What an
// auditor runs with nothing but the export and the public key must accept a
// genuine export and refuse, naming the line or checkpoint, every edit,
// reordering, truncation, foreign signature and fork.
#include "audit/verifier.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "audit/audit_log.h"
#include "audit/checkpoint.h"
#include "audit/entry.h"
#include "audit/merkle.h"
#include "common/encoding.h"
#include "storage/sqlite_storage.h"
#include "testing/fake_clock.h"
#include "testing/lines.h"
#include "testing/softhsm_token.h"

namespace authd::audit {
namespace {

using nlohmann::json;
using testing::FakeClock;

using testing::JoinLines;
using testing::SplitLines;

std::string CheckpointLine(const std::string& note) {
  return json{{"checkpoint", note}}.dump();
}

// A second ES256 key in the token, standing in for another HSM's audit key.
struct OtherKey {
  std::string label = "authd-verifier-test-other";
  PublicKey pub;
};
const OtherKey& Other() {
  static const OtherKey* key = [] {
    auto pub = testing::SoftHsmToken::Keys().GenerateSigningKey(
        "authd-verifier-test-other", Algorithm::kES256);
    if (!pub.ok()) {
      ADD_FAILURE() << pub.status().message();
      abort();
    }
    return new OtherKey{"authd-verifier-test-other", *pub};
  }();
  return *key;
}

// `note`'s body signed by the other key under the same key name: a checkpoint
// that looks right in every way but its signer.
std::string ResignWithOtherKey(const std::string& note) {
  std::string body = note.substr(0, note.find("\n\n") + 1);
  std::string origin = NoteOrigin(note);
  StatusOr<std::string> raw =
      testing::SoftHsmToken::Keys().SignWith(Other().label, body);
  EXPECT_TRUE(raw.ok()) << raw.status().message();
  return FormatSignedNote(body, origin, NoteKeyId(origin, Other().pub),
                          EcdsaRawToDer(raw.ok() ? *raw : ""));
}

// One audit log over its own SQLite file.
struct Log {
  std::unique_ptr<storage::SqliteStorage> storage;
  std::unique_ptr<AuditLog> log;
};

class VerifierTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = testing::MakeTempDir("authd-verifier-");
    origin_ = std::string("verifier.test/") +
              ::testing::UnitTest::GetInstance()->current_test_info()->name();
    ASSERT_NO_FATAL_FAILURE(a_ = OpenLog("a.db", &keys(), origin_));
    ASSERT_TRUE(a_.log);
  }

  static const hsm::KeyOps& keys() { return testing::SoftHsmToken::Keys(); }
  const PublicKey& AuditKey() { return keys().Public(hsm::KeyUse::kAudit); }

  Log OpenLog(const std::string& file, const hsm::KeyOps* keys,
              const std::string& origin) {
    Log out;
    auto storage = storage::SqliteStorage::Open(dir_ + "/" + file);
    EXPECT_TRUE(storage.ok()) << storage.status().message();
    if (!storage.ok()) return out;
    out.storage = std::move(storage).value();
    auto log = AuditLog::Open(out.storage.get(), keys, &clock_, origin, "test");
    EXPECT_TRUE(log.ok()) << log.status().message();
    if (log.ok()) out.log = std::move(log).value();
    return out;
  }

  // One change with its entry and signed checkpoint.
  static void Append(Log& log, const std::string& target) {
    Status st = log.log->Record(
        [](storage::Transaction&) { return Status::Ok(); },
        {{"uid:0", "unix", "allowlist.add", target, {{"k", "v"}}, "r"}});
    ASSERT_TRUE(st.ok()) << st.message();
  }

  // `n` changes to `log`, a second apart.
  void Grow(Log& log, int n) {
    for (int i = 0; i < n; ++i) {
      clock_.Advance(1);
      ASSERT_NO_FATAL_FAILURE(
          Append(log, "10.0." + std::to_string(log.log->size()) + ".0/24"));
    }
  }

  // What `authctl audit export` writes: the latest checkpoint fixes the tree
  // size; then pages of entries (GET /v1/admin/audit?limit=&after_seq=, each
  // entry AuditEntryJson of its leaf), those at or past the size dropped;
  // one JSON line each, then {"checkpoint": note}.
  static std::string Export(const Log& log, size_t page_size = 1000) {
    std::string note = log.log->LatestCheckpoint().value();
    std::string body = note.substr(note.find('\n') + 1);
    uint64_t size = std::stoull(body.substr(0, body.find('\n')));
    std::string out;
    std::optional<uint64_t> after;
    for (;;) {
      storage::AuditFilter f;
      f.limit = page_size;
      f.after_seq = after;
      std::vector<storage::AuditRecord> rows = log.log->List(f).value();
      bool done = rows.empty();
      for (const auto& r : rows) {
        if (r.seq >= size) {
          done = true;
          break;
        }
        after = r.seq;
        out += AuditEntryJson(r.leaf).value().dump() + "\n";
      }
      if (done || rows.size() < page_size) break;
    }
    return out + CheckpointLine(note) + "\n";
  }

  static std::string NoteAt(const Log& log, uint64_t size) {
    auto c = log.storage->GetCheckpoint(size);
    EXPECT_TRUE(c.ok() && c->has_value()) << size;
    return c.ok() && c->has_value() ? (*c)->note : "";
  }

  // The verifier's error for `text` (empty when it verifies).
  std::string Failure(const std::string& text,
                      std::optional<std::string> kept = std::nullopt) {
    StatusOr<ExportSummary> s = VerifyExport(
        text, AuditKey(),
        kept ? std::optional<std::string_view>(*kept) : std::nullopt);
    if (s.ok()) return "";
    EXPECT_FALSE(s.status().message().empty());
    return s.status().message();
  }

  static void ExpectContains(const std::string& message,
                             const std::string& needle) {
    EXPECT_NE(message.find(needle), std::string::npos)
        << "'" << needle << "' not in: " << message;
  }

  FakeClock clock_;
  std::string dir_, origin_;
  Log a_;
};

// ------------------------------------------------------------- genuine

TEST_F(VerifierTest, GenuineExportVerifiesWithItsCount) {
  ASSERT_NO_FATAL_FAILURE(Grow(a_, 7));
  const std::string text = Export(a_);
  EXPECT_EQ(SplitLines(text).size(), 8u);
  EXPECT_EQ(Export(a_, 2), text);  // paging does not change the export
  StatusOr<ExportSummary> s = VerifyExport(text, AuditKey(), std::nullopt);
  ASSERT_TRUE(s.ok()) << s.status().message();
  EXPECT_EQ(s->entries, 7u);
  EXPECT_EQ(s->checkpoint.size, 7u);
  EXPECT_EQ(s->checkpoint.origin, origin_);
  EXPECT_EQ(s->checkpoint.root_hash,
            RootFromLeafHashes(a_.storage->AuditLeafHashes(7).value()));
  EXPECT_FALSE(s->earlier.has_value());
}

TEST_F(VerifierTest, LineEndingsAndATrailingNewlineDoNotMatter) {
  ASSERT_NO_FATAL_FAILURE(Grow(a_, 3));
  std::string text = Export(a_);
  std::string crlf;
  for (const std::string& l : SplitLines(text)) crlf += l + "\r\n";
  EXPECT_EQ(Failure(crlf), "");
  EXPECT_EQ(Failure(text.substr(0, text.size() - 1)), "");
  EXPECT_EQ(Failure("\n" + text + "\n\n"), "");  // blank lines are skipped
}

// An export made while the log grows still verifies: it stops at the size
// its checkpoint covers.
TEST_F(VerifierTest, ExportIsCutAtItsCheckpoint) {
  ASSERT_NO_FATAL_FAILURE(Grow(a_, 4));
  std::string text = Export(a_);
  ASSERT_NO_FATAL_FAILURE(Grow(a_, 2));
  std::vector<std::string> lines = SplitLines(Export(a_));
  std::vector<std::string> cut(lines.begin(), lines.begin() + 4);
  cut.push_back(SplitLines(text).back());
  EXPECT_EQ(JoinLines(cut), text);
  EXPECT_EQ(Failure(text), "");
}

// The streaming verifier (authctl reads the file in batches; lines are
// checked in parallel, then applied in order) gives the verdict and message
// of the line-by-line reading, good and tampered, wherever the batches cut.
TEST_F(VerifierTest, BatchesAndSingleLinesGiveTheSameVerdicts) {
  std::vector<AuditEvent> events;
  for (int i = 0; i < 300; ++i) {
    events.push_back({"uid:0",
                      "unix",
                      "allowlist.add",
                      "10.2." + std::to_string(i) + ".0/24",
                      {},
                      ""});
  }
  ASSERT_TRUE(
      a_.log->Record([](storage::Transaction&) { return Status::Ok(); }, events)
          .ok());
  const std::vector<std::string> good = SplitLines(Export(a_));
  std::vector<std::pair<std::vector<std::string>, std::string>> cases;
  cases.push_back({good, ""});
  auto edit = [&](auto change, const std::string& want) {
    std::vector<std::string> copy = good;
    change(copy);
    cases.push_back({copy, want});
  };
  // Not the bytes authd writes but the same JSON: still verifies (the
  // canonical fast path falls back to parsing and comparing).
  edit([](auto& l) { l[10] = " " + l[10] + " "; }, "");
  edit(
      [](auto& l) {
        l[11].replace(l[11].find("\"uid:0\""), 7, "\"\\u0075id:0\"");
      },
      "");
  edit([](auto& l) { l[200][l[200].find("leaf") + 9] ^= 1; }, "line 201: ");
  edit([](auto& l) { std::swap(l[150], l[151]); },
       "line 151: expected seq 150, found 151");
  edit([](auto& l) { l.erase(l.begin() + 99); },
       "line 100: expected seq 99, found 100");
  edit([](auto& l) { l[250] = "not json"; }, "line 251: ");
  edit([](auto& l) { l.push_back(l[3]); },
       "line 302: content after the checkpoint line");
  edit([](auto& l) { l.pop_back(); }, "the export has no checkpoint line");
  edit([](auto& l) { l.erase(l.end() - 2); },
       "the checkpoint covers 300 entries but the export holds 299");
  edit(
      [](auto& l) {
        l[120] = "[1]";
        l[280] = "{}";
      },
      "line 121: not a JSON object");
  for (const auto& [lines, want] : cases) {
    // One line at a time.
    auto one = ExportVerifier::Create(AuditKey(), std::nullopt).value();
    Status st;
    for (const std::string& l : lines) {
      st = one.AddLine(l);
      if (!st.ok()) break;
    }
    std::string single = st.ok() ? "" : st.message();
    if (st.ok()) {
      auto done = one.Finish();
      single = done.ok() ? "" : done.status().message();
    }
    if (want.empty()) {
      EXPECT_EQ(single, "");
    } else {
      ExpectContains(single, want);
    }
    // Whole-text (batches of kVerifyBatch), and odd batch sizes.
    EXPECT_EQ(Failure(JoinLines(lines)), single);
    for (size_t batch : {size_t{1}, size_t{7}, size_t{64}, size_t{113}}) {
      auto v = ExportVerifier::Create(AuditKey(), std::nullopt).value();
      Status bst;
      for (size_t i = 0; i < lines.size() && bst.ok(); i += batch) {
        bst = v.AddLines(std::vector<std::string>(
            lines.begin() + static_cast<long>(i),
            lines.begin() +
                static_cast<long>(std::min(i + batch, lines.size()))));
      }
      std::string got = bst.ok() ? "" : bst.message();
      if (bst.ok()) {
        auto done = v.Finish();
        got = done.ok() ? "" : done.status().message();
      }
      EXPECT_EQ(got, single) << "batch " << batch;
    }
  }
}

// --------------------------------------------------------- tampering

TEST_F(VerifierTest, FlippedLeafByteFailsNamingTheLine) {
  ASSERT_NO_FATAL_FAILURE(Grow(a_, 5));
  std::vector<std::string> lines = SplitLines(Export(a_));
  json j = json::parse(lines[2]);
  std::string leaf = Base64Decode(j["leaf"].get<std::string>()).value();
  for (size_t i = 0; i < leaf.size(); ++i) {
    std::string bad = leaf;
    bad[i] ^= 0x20;
    json edited = j;
    edited["leaf"] = Base64Encode(bad);
    std::vector<std::string> copy = lines;
    copy[2] = edited.dump();
    ExpectContains(Failure(JoinLines(copy)), "line 3: ");
  }
}

// An editor who rewrites the leaf and its fields consistently passes the
// line checks; the signed root catches it.
TEST_F(VerifierTest, ConsistentlyRewrittenEntryFailsAtTheRoot) {
  ASSERT_NO_FATAL_FAILURE(Grow(a_, 5));
  std::vector<std::string> lines = SplitLines(Export(a_));
  json j = json::parse(lines[2]);
  std::string leaf = Base64Decode(j["leaf"].get<std::string>()).value();
  size_t at = leaf.find("10.0.2.0/24");
  ASSERT_NE(at, std::string::npos);
  leaf.replace(at, 11, "10.0.9.0/24");  // same length: still a valid entry
  StatusOr<json> forged = AuditEntryJson(leaf);
  ASSERT_TRUE(forged.ok()) << forged.status().message();
  EXPECT_EQ((*forged)["target"], "10.0.9.0/24");
  lines[2] = forged->dump();
  std::string why = Failure(JoinLines(lines));
  ExpectContains(why, "Merkle root does not match the signed checkpoint");
}

TEST_F(VerifierTest, EditedFieldThatDisagreesWithTheLeafFails) {
  ASSERT_NO_FATAL_FAILURE(Grow(a_, 5));
  const std::vector<std::string> lines = SplitLines(Export(a_));
  for (const auto& [field, value] : std::vector<std::pair<std::string, json>>{
           {"actor", "uid:1000"},
           {"target", "0.0.0.0/0"},
           {"reason", ""},
           {"seq", 9},
           {"time", "2026-01-01T00:00:00.000000Z"},
           {"values", json::object()},
           {"note", "added"}}) {
    json j = json::parse(lines[3]);
    j[field] = value;
    std::vector<std::string> copy = lines;
    copy[3] = j.dump();
    std::string why = Failure(JoinLines(copy));
    ExpectContains(why, "line 4: ");
    ExpectContains(why, "do not match the leaf bytes");
  }
  // A line without its leaf, or with one that is not base64.
  json j = json::parse(lines[1]);
  j.erase("leaf");
  std::vector<std::string> copy = lines;
  copy[1] = j.dump();
  ExpectContains(Failure(JoinLines(copy)), "line 2: entry has no \"leaf\"");
  j["leaf"] = "***";
  copy[1] = j.dump();
  ExpectContains(Failure(JoinLines(copy)), "line 2: \"leaf\" is not base64");
  copy[1] = "not json";
  ExpectContains(Failure(JoinLines(copy)), "line 2: not a JSON object");
  // A repeated key could show one value to a reader and another to a tool.
  std::string line = lines[1];
  ASSERT_EQ(line.back(), '}');
  line.pop_back();
  copy[1] = line + R"(,"actor":"someone-else"})";
  ExpectContains(Failure(JoinLines(copy)), "line 2: duplicate key 'actor'");
}

TEST_F(VerifierTest, ReorderedLinesFail) {
  ASSERT_NO_FATAL_FAILURE(Grow(a_, 5));
  std::vector<std::string> lines = SplitLines(Export(a_));
  std::swap(lines[1], lines[2]);
  std::string why = Failure(JoinLines(lines));
  ExpectContains(why, "line 2: expected seq 1, found 2");
  ExpectContains(why, "reordered");
  // The checkpoint line moved up.
  lines = SplitLines(Export(a_));
  std::swap(lines[4], lines[5]);
  ExpectContains(Failure(JoinLines(lines)),
                 "line 6: content after the checkpoint line");
}

TEST_F(VerifierTest, DroppedOrDuplicatedLineFails) {
  ASSERT_NO_FATAL_FAILURE(Grow(a_, 5));
  const std::vector<std::string> lines = SplitLines(Export(a_));
  std::vector<std::string> copy = lines;
  copy.erase(copy.begin() + 2);
  ExpectContains(Failure(JoinLines(copy)), "line 3: expected seq 2, found 3");
  copy = lines;
  copy.erase(copy.begin());
  ExpectContains(Failure(JoinLines(copy)),
                 "line 1: the export starts at seq 1");
  copy = lines;
  copy.erase(copy.end() - 2);  // the newest entry
  ExpectContains(Failure(JoinLines(copy)),
                 "the checkpoint covers 5 entries but the export holds 4");
  copy = lines;
  copy.pop_back();
  ExpectContains(Failure(JoinLines(copy)), "no checkpoint line");
  copy = lines;
  copy.insert(copy.begin() + 3, lines[2]);
  ExpectContains(Failure(JoinLines(copy)), "line 4: expected seq 3, found 2");
  EXPECT_NE(Failure(""), "");
}

// ---------------------------------------------------------- signatures

TEST_F(VerifierTest, CheckpointSignedByAnotherKeyFails) {
  ASSERT_NO_FATAL_FAILURE(Grow(a_, 4));
  const std::string text = Export(a_);
  std::vector<std::string> lines = SplitLines(text);
  std::string note = json::parse(lines.back())["checkpoint"];
  std::string forged = ResignWithOtherKey(note);
  ASSERT_NE(forged, note);
  lines.back() = CheckpointLine(forged);
  const std::string forged_text = JoinLines(lines);

  ExpectContains(Failure(forged_text), "export checkpoint: ");
  // The forgery is well made: it verifies under the key that signed it.
  EXPECT_TRUE(VerifyExport(forged_text, Other().pub, std::nullopt).ok());
  // And the genuine export fails under the wrong key.
  StatusOr<ExportSummary> wrong_key =
      VerifyExport(text, Other().pub, std::nullopt);
  ASSERT_FALSE(wrong_key.ok());
  ExpectContains(wrong_key.status().message(), "export checkpoint: ");

  // A kept checkpoint is checked the same way.
  StatusOr<ExportSummary> kept =
      VerifyExport(text, AuditKey(), std::string_view(forged));
  ASSERT_FALSE(kept.ok());
  ExpectContains(kept.status().message(), "kept checkpoint: ");
  ExpectContains(Failure(text, "not a checkpoint"), "kept checkpoint: ");
}

// --------------------------------------------------- kept checkpoints

TEST_F(VerifierTest, ExtensionOfAKeptCheckpointPasses) {
  ASSERT_NO_FATAL_FAILURE(Grow(a_, 3));
  const std::string early_export = Export(a_);
  const std::string kept3 = NoteAt(a_, 3);
  ASSERT_NO_FATAL_FAILURE(Grow(a_, 4));
  const std::string text = Export(a_);

  for (const std::string& kept :
       {kept3, NoteAt(a_, 1), NoteAt(a_, 7),
        SplitLines(early_export).back()}) {  // the last line of an export
    StatusOr<ExportSummary> s =
        VerifyExport(text, AuditKey(), std::string_view(kept));
    ASSERT_TRUE(s.ok()) << s.status().message();
    ASSERT_TRUE(s->earlier.has_value());
    EXPECT_EQ(s->checkpoint.size, 7u);
  }
  StatusOr<ExportSummary> s =
      VerifyExport(text, AuditKey(), std::string_view(kept3));
  ASSERT_TRUE(s.ok());
  EXPECT_EQ(s->earlier->size, 3u);
  EXPECT_EQ(s->earlier->root_hash,
            RootFromLeafHashes(a_.storage->AuditLeafHashes(3).value()));
}

// Tail dropped together with the newest checkpoint: consistent on its own
// (inherent to any transparency log), caught by a later kept checkpoint.
TEST_F(VerifierTest, TruncatedExportFailsAgainstALaterKeptCheckpoint) {
  ASSERT_NO_FATAL_FAILURE(Grow(a_, 7));
  std::vector<std::string> lines = SplitLines(Export(a_));
  std::vector<std::string> truncated(lines.begin(), lines.begin() + 4);
  truncated.push_back(CheckpointLine(NoteAt(a_, 4)));
  const std::string text = JoinLines(truncated);
  EXPECT_EQ(Failure(text), "");
  std::string why = Failure(text, NoteAt(a_, 7));
  ExpectContains(why,
                 "the kept checkpoint covers 7 entries but the export only 4");
  ExpectContains(why, "truncated or rolled back");
  EXPECT_EQ(Failure(text, NoteAt(a_, 4)), "");
  EXPECT_NE(Failure(text, NoteAt(a_, 5)), "");
}

// Two histories of one log, same origin and audit key, signed side by side.
// (AuditLog compares the database with the HSM head only at Open, and both
// open while the head is still empty; a restarted authd would refuse the
// one behind. An auditor holding a checkpoint of either history sees it.)
TEST_F(VerifierTest, ForkFailsAgainstAKeptCheckpointFromTheOtherHistory) {
  Log b;
  ASSERT_NO_FATAL_FAILURE(b = OpenLog("b.db", &keys(), origin_));
  ASSERT_TRUE(b.log);
  // The same three changes at the same times: identical leaves.
  for (int i = 0; i < 3; ++i) {
    clock_.Advance(1);
    ASSERT_NO_FATAL_FAILURE(Append(a_, "10.1." + std::to_string(i) + ".0/24"));
    ASSERT_NO_FATAL_FAILURE(Append(b, "10.1." + std::to_string(i) + ".0/24"));
  }
  ASSERT_EQ(NoteAt(a_, 3).substr(0, NoteAt(a_, 3).find("\n\n")),
            NoteAt(b, 3).substr(0, NoteAt(b, 3).find("\n\n")));
  // Then they part.
  clock_.Advance(1);
  ASSERT_NO_FATAL_FAILURE(Append(a_, "10.2.0.0/24"));
  ASSERT_NO_FATAL_FAILURE(Append(a_, "10.2.1.0/24"));
  ASSERT_NO_FATAL_FAILURE(Append(b, "172.16.0.0/12"));
  ASSERT_NO_FATAL_FAILURE(Append(b, "172.16.0.0/16"));

  const std::string a_text = Export(a_);
  const std::string b_text = Export(b);
  EXPECT_EQ(Failure(a_text), "");
  EXPECT_EQ(Failure(b_text), "");  // each history is valid on its own
  for (uint64_t size : {4, 5}) {
    std::string why = Failure(a_text, NoteAt(b, size));
    ExpectContains(why, "do not match the kept checkpoint");
    ExpectContains(why, "fork");
    ExpectContains(Failure(b_text, NoteAt(a_, size)), "fork");
  }
  // The shared past is consistent with both.
  EXPECT_EQ(Failure(a_text, NoteAt(b, 3)), "");
  EXPECT_EQ(Failure(b_text, NoteAt(a_, 2)), "");
}

TEST_F(VerifierTest, KeptCheckpointOfAnotherLogFails) {
  ASSERT_NO_FATAL_FAILURE(Grow(a_, 2));
  Log c;
  ASSERT_NO_FATAL_FAILURE(c = OpenLog("c.db", &keys(), origin_ + "-other"));
  ASSERT_TRUE(c.log);
  ASSERT_NO_FATAL_FAILURE(Grow(c, 1));
  std::string why = Failure(Export(a_), NoteAt(c, 1));
  ExpectContains(why, "the kept checkpoint is for log '" + origin_ +
                          "-other', not '" + origin_ + "'");
}

// ------------------------------------------------------------- proofs

TEST_F(VerifierTest, ProofFilesRoundTrip) {
  ASSERT_NO_FATAL_FAILURE(Grow(a_, 6));
  for (uint64_t size : {1, 4, 6}) {
    for (uint64_t index = 0; index < size; ++index) {
      StatusOr<AuditLog::Proof> p = a_.log->InclusionProof(index, size);
      ASSERT_TRUE(p.ok()) << p.status().message();
      // What `authctl audit prove` writes.
      std::string file =
          FormatTlogProof(index, p->leaf, p->hashes, p->checkpoint);
      EXPECT_EQ(file.rfind("c2sp.org/tlog-proof@v1\nextra ", 0), 0u);
      StatusOr<TlogProof> parsed = ParseTlogProof(file);
      ASSERT_TRUE(parsed.ok()) << parsed.status().message();
      EXPECT_EQ(parsed->index, index);
      EXPECT_EQ(parsed->extra, p->leaf);
      EXPECT_EQ(parsed->proof, p->hashes);
      EXPECT_EQ(parsed->signed_checkpoint, p->checkpoint);

      std::string leaf;
      StatusOr<Checkpoint> cp = VerifyProofFile(file, AuditKey(), &leaf);
      ASSERT_TRUE(cp.ok()) << index << "/" << size << ": "
                           << cp.status().message();
      EXPECT_EQ(cp->size, size);
      EXPECT_EQ(cp->origin, origin_);
      EXPECT_EQ(leaf, p->leaf);
      EXPECT_EQ(AuditEntryJson(leaf).value()["seq"], index);
    }
  }
}

TEST_F(VerifierTest, TamperedProofFilesFail) {
  ASSERT_NO_FATAL_FAILURE(Grow(a_, 6));
  StatusOr<AuditLog::Proof> p = a_.log->InclusionProof(2, 6);
  ASSERT_TRUE(p.ok()) << p.status().message();
  StatusOr<AuditLog::Proof> q = a_.log->InclusionProof(3, 6);
  ASSERT_TRUE(q.ok()) << q.status().message();
  auto rejected = [&](const std::string& file, const std::string& needle = "") {
    std::string leaf = "untouched";
    StatusOr<Checkpoint> cp = VerifyProofFile(file, AuditKey(), &leaf);
    EXPECT_FALSE(cp.ok()) << file;
    EXPECT_EQ(leaf, "untouched");
    if (!cp.ok()) ExpectContains(cp.status().message(), needle);
  };
  ASSERT_TRUE(
      VerifyProofFile(FormatTlogProof(2, p->leaf, p->hashes, p->checkpoint),
                      AuditKey(), nullptr)
          .ok());
  rejected(FormatTlogProof(2, "", p->hashes, p->checkpoint),
           "carries no entry");
  // Another entry, or this one at another index.
  rejected(FormatTlogProof(2, q->leaf, p->hashes, p->checkpoint),
           "the entry's seq is not the proof's index");
  rejected(FormatTlogProof(3, p->leaf, p->hashes, p->checkpoint));
  rejected(FormatTlogProof(3, q->leaf, p->hashes, p->checkpoint));
  // The entry edited with its seq kept.
  std::string edited = p->leaf;
  size_t at = edited.find("10.0.2.0/24");
  ASSERT_NE(at, std::string::npos);
  edited.replace(at, 11, "10.0.9.0/24");
  ASSERT_TRUE(AuditEntryJson(edited).ok());
  rejected(FormatTlogProof(2, edited, p->hashes, p->checkpoint));
  // A proof hash changed, dropped or added.
  std::vector<std::string> bent = p->hashes;
  bent[0][5] ^= 1;
  rejected(FormatTlogProof(2, p->leaf, bent, p->checkpoint));
  bent = p->hashes;
  bent.pop_back();
  rejected(FormatTlogProof(2, p->leaf, bent, p->checkpoint));
  bent = p->hashes;
  bent.push_back(std::string(32, '\0'));
  rejected(FormatTlogProof(2, p->leaf, bent, p->checkpoint));
  // A checkpoint of another size, or from another key.
  rejected(FormatTlogProof(2, p->leaf, p->hashes, NoteAt(a_, 5)));
  rejected(FormatTlogProof(2, p->leaf, p->hashes,
                           ResignWithOtherKey(p->checkpoint)));
  // Cut short.
  std::string file = FormatTlogProof(2, p->leaf, p->hashes, p->checkpoint);
  rejected(file.substr(0, file.find("\n\n")));
  rejected("");
}

// ------------------------------------------------------------- entries

// Found by fuzz_audit_entry: a field the schema does not define (here field
// 2 again, as a fixed64) survived the canonical round trip but was not
// shown, so bytes an auditor never saw passed as a verified entry.
TEST(AuditEntryJsonTest, RejectsFieldsTheSchemaDoesNotDefine) {
  std::string leaf =
      EncodeEntry({"uid:0", "unix", "allowlist.add", "10.0.0.0/8", {}, ""}, 3,
                  1767225600000000, "test")
          .value();
  ASSERT_TRUE(AuditEntryJson(leaf).ok());
  std::string wrong_type = leaf + std::string(
                                      "\x11"
                                      "12345678",
                                      9);
  EXPECT_FALSE(AuditEntryJson(wrong_type).ok());
  std::string unknown_field = leaf + std::string("\x58\x01", 2);  // field 11
  EXPECT_FALSE(AuditEntryJson(unknown_field).ok());
}

// Found by reading FormatMicros while fuzzing: (micros - 999999) overflowed
// at the lowest time an entry can carry.
TEST(AuditEntryJsonTest, ExtremeTimesFormatWithoutOverflow) {
  for (int64_t t : {INT64_MIN, INT64_MIN + 1, int64_t{-1}, int64_t{0},
                    int64_t{-1000000}, INT64_MAX}) {
    StatusOr<std::string> leaf =
        EncodeEntry({"uid:0", "unix", "a", "t", {}, ""}, 0, t, "test");
    ASSERT_TRUE(leaf.ok()) << t;
    StatusOr<json> j = AuditEntryJson(*leaf);
    ASSERT_TRUE(j.ok()) << t;
    EXPECT_EQ((*j)["time_unix_micros"], t);
  }
  json j = AuditEntryJson(
               EncodeEntry({"uid:0", "unix", "a", "t", {}, ""}, 0, -1, "test")
                   .value())
               .value();
  EXPECT_EQ(j["time"], "1969-12-31T23:59:59.999999Z");
}

// ------------------------------------------------------------- helpers

TEST(UnwrapCheckpointTest, AcceptsANoteOrAnExportsLastLine) {
  const std::string note = "o\n1\nAAAA\n\n\xe2\x80\x94 o AAAA\n";
  EXPECT_EQ(UnwrapCheckpoint(note), note);
  EXPECT_EQ(UnwrapCheckpoint(CheckpointLine(note)), note);
  EXPECT_EQ(UnwrapCheckpoint("  " + CheckpointLine(note) + "\n"), note);
  EXPECT_EQ(UnwrapCheckpoint("{\"other\": 1}"), "{\"other\": 1}");
  EXPECT_EQ(NoteOrigin(note), "o");
  EXPECT_EQ(NoteOrigin("no newline"), "no newline");
}

}  // namespace
}  // namespace authd::audit
