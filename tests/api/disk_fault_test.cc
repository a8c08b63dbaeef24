// Disk full and I/O errors at every write point of every kind of change,
// through the whole stack: the Router and its handlers, Access, KeyRing,
// Revocations, the AuditLog and SqliteStorage over the fault VFS
// (testing/fault_vfs.h), with the process's SoftHSM2 token.
//
// For each kind of change, SQLite-crash-test style: run it once counting the
// write points (xWrite, xSync, xTruncate), then for N = 1..count run it again
// with the Nth failing, as a full disk (SQLITE_FULL with a torn write, and
// every later write point failing too until space returns) and as an I/O
// error (SQLITE_IOERR_*, that one write point only). After each:
//  - the change was answered 2xx or 503 with a "storage: ..." message;
//  - while the fault stands, a token is still issued, and writes nothing;
//  - once it clears, what is in force matches the answer, the next change
//    succeeds and /readyz is 200, without a restart;
//  - after reopening the database from disk, no 2xx change is missing, the
//    audit log verifies against its checkpoint and the HSM head, and every
//    row has its audit entry and every live entry its row.
// A second pass does it all again with the WAL checkpointed into the
// database file at every commit. The last test prints the totals (README's
// Reliability table).
#include <gtest/gtest.h>

#include <cstdio>
#include <functional>
#include <set>
#include <string>

#include "common/encoding.h"
#include "testing/fault_vfs.h"
#include "testing/router_fixture.h"

namespace authd {
namespace {

using api::Request;
using api::Response;
using nlohmann::json;
using testing::DiskFault;

// Totals over every test in the suite, for the summary line.
struct Totals {
  int64_t write_points = 0;  // counted for the full-disk runs, over kinds and
                             // passes (the I/O-error runs count their own)
  int64_t runs = 0;          // changes run with a fault armed
  int64_t refused = 0;       // answered 503
  int64_t refused_but_committed = 0;  // 503, yet on disk after the reopen
  int64_t lost = 0;                   // 2xx, yet missing
  int64_t half_written = 0;           // state and audit log disagree
  int64_t tokens_during_fault = 0;    // issued while a fault stood
};
Totals g_totals;

// Prints the totals once every test has run.
class Summary : public ::testing::Environment {
 public:
  void TearDown() override {
    const Totals& t = g_totals;
    if (t.runs == 0) return;
    std::printf(
        "disk faults: %lld write points x 2 errors, %lld runs, %lld refused "
        "with 503, %lld lost changes, %lld half-written, %lld refused but "
        "committed at reopen, %lld tokens issued during faults\n",
        static_cast<long long>(t.write_points), static_cast<long long>(t.runs),
        static_cast<long long>(t.refused), static_cast<long long>(t.lost),
        static_cast<long long>(t.half_written),
        static_cast<long long>(t.refused_but_committed),
        static_cast<long long>(t.tokens_during_fault));
  }
};
const auto* const kSummary =
    ::testing::AddGlobalTestEnvironment(new Summary);  // gtest owns it

std::string BasicAuth(std::string_view id, std::string_view secret) {
  return "Basic " + Base64Encode(UrlEncode(id) + ":" + UrlEncode(secret));
}

// One kind of change: `prepare` sets up what it needs (faults off), `run`
// is its request over the API, `done` says whether it is in force, read from
// storage and checked against the in-memory state.
struct Change {
  std::string name;
  int ok_status;
  std::function<void()> prepare;
  std::function<Request()> run;
  std::function<bool()> done;
};

class DiskFaultTest : public testing::RouterTest {
 protected:
  void SetUp() override {
    testing::RegisterFaultVfs();
    testing::ResetWritePoints();
    vfs_ = testing::kFaultVfsName;
    ASSERT_NO_FATAL_FAILURE(RouterTest::SetUp());
    standing_ = MustCreate("standing", "viewer");
  }
  void TearDown() override { testing::ClearFaults(); }

  // What a restart does, with the API rebuilt over it.
  void Restart() {
    ASSERT_NO_FATAL_FAILURE(Reopen());
    BuildApi();
    ASSERT_EQ(audit_->refusal(), "");
    ASSERT_TRUE(access_->Current()->failures.empty());
    if (checkpoint_every_commit_) {
      ASSERT_TRUE(storage_->SetWalAutocheckpoint(1).ok());
    }
  }

  Request TokenRequest() const {
    Request r = Tcp("POST", "/v1/auth/token");
    r.headers["content-type"] = "application/x-www-form-urlencoded";
    r.headers["authorization"] = BasicAuth(standing_.credential.client_id,
                                           standing_.client_secret.view());
    r.body = SecureString(std::string_view("grant_type=client_credentials"));
    return r;
  }

  // A change that must succeed, made over the API; its answer.
  Response ProbeChange() {
    std::string cidr = "10." + std::to_string(probe_ / 250) + "." +
                       std::to_string(probe_ % 250) + ".0/24";
    ++probe_;
    return Send(SocketPost("/v1/admin/allowlist", {{"cidr", cidr}}));
  }

  // Fails when a refused answer is not the storage's 503.
  static void ExpectStorageRefusal(const Change& c, const Response& r) {
    ASSERT_EQ(r.status, 503) << c.name << ": " << r.body;
    json body = json::parse(r.body);
    std::string msg =
        body.value("message", body.value("error_description", ""));
    EXPECT_TRUE(msg.find("storage: disk full: ") != std::string::npos ||
                msg.find("storage: I/O error: ") != std::string::npos)
        << c.name << ": " << msg;
  }

  // The database against its own audit log: every credential and allowlist
  // row was made by the entry it names, every live create or add entry has
  // its row, and the active token key is the one last rotated to.
  int HalfWritten() {
    storage::AuditFilter f;
    f.limit = 1 << 30;
    std::vector<storage::AuditRecord> log = storage_->ListAudit(f).value();
    std::set<std::string> creds, cidrs;
    std::string rotated;
    for (const auto& e : log) {
      if (e.action == "credential.create") creds.insert(e.target);
      if (e.action == "credential.delete") creds.erase(e.target);
      if (e.action == "allowlist.add") cidrs.insert(e.target);
      if (e.action == "allowlist.remove") cidrs.erase(e.target);
      if (e.action == "key.rotate") rotated = e.target;
    }
    int bad = 0;
    auto made_by = [&](uint64_t seq, const char* action, const std::string& t) {
      return seq < log.size() && log[seq].action == action &&
             log[seq].target == t;
    };
    std::set<std::string> cred_rows, cidr_rows;
    for (const auto& c : storage_->ListCredentials().value()) {
      cred_rows.insert(c.client_id);
      if (!made_by(c.audit_seq, "credential.create", c.client_id)) ++bad;
    }
    for (const auto& e : storage_->ListAllowlist().value()) {
      cidr_rows.insert(e.cidr);
      if (!made_by(e.audit_seq, "allowlist.add", e.cidr)) ++bad;
    }
    if (cred_rows != creds || cidr_rows != cidrs) ++bad;
    if (!rotated.empty() && ring_->Current()->active.label != rotated) ++bad;
    if (audit_->size() != log.size()) ++bad;
    return bad;
  }

  // One run of `c` with write point `n` failing as `fault`.
  void RunWithFault(const Change& c, int64_t n, DiskFault fault) {
    c.prepare();
    bool persist = fault == DiskFault::kDiskFull;
    testing::FailWritePoint(n, fault, persist);
    Response r = Send(c.run());
    bool ok = r.status == c.ok_status;
    if (!ok) {
      ASSERT_NO_FATAL_FAILURE(ExpectStorageRefusal(c, r));
    }
    // Tokens while the fault stands (a full disk stays full), and the token
    // path writes nothing.
    int64_t points = testing::WritePoints();
    Response token = Send(TokenRequest());
    EXPECT_EQ(token.status, 200) << c.name << " #" << n << ": " << token.body;
    EXPECT_EQ(testing::WritePoints(), points) << "the token path wrote";
    if (token.status == 200 && testing::FaultsInjected() > 0) {
      ++g_totals.tokens_during_fault;
    }
    testing::ClearFaults();
    ++g_totals.runs;
    if (!ok) ++g_totals.refused;
    // Space is back: what is in force matches the answer, and authd goes on
    // by itself.
    EXPECT_EQ(c.done(), ok) << c.name << " #" << n << " answered " << r.status;
    if (ok && !c.done()) ++g_totals.lost;
    Response next = ProbeChange();
    EXPECT_EQ(next.status, 201) << c.name << " #" << n << ": " << next.body;
    EXPECT_EQ(Send(Tcp("GET", "/readyz")).status, 200);
    EXPECT_EQ(audit_->refusal(), "");
    // And on disk.
    ASSERT_NO_FATAL_FAILURE(Restart());
    bool on_disk = c.done();
    EXPECT_TRUE(on_disk || !ok) << c.name << " #" << n << " lost at reopen";
    if (ok && !on_disk) ++g_totals.lost;
    if (!ok && on_disk) ++g_totals.refused_but_committed;
    int half = HalfWritten();
    EXPECT_EQ(half, 0) << c.name << " #" << n;
    g_totals.half_written += half;
  }

  // Counts `c`'s write points, then fails each in turn with each fault.
  void EveryWritePoint(const Change& c) {
    for (DiskFault fault : {DiskFault::kDiskFull, DiskFault::kIoError}) {
      c.prepare();
      testing::ResetWritePoints();
      Response r = Send(c.run());
      ASSERT_EQ(r.status, c.ok_status) << c.name << ": " << r.body;
      int64_t count = testing::WritePoints();
      ASSERT_GT(count, 0) << c.name;
      if (checkpoint_every_commit_) {
        EXPECT_GT(testing::DatabaseFileWritePoints(), 0) << c.name;
      }
      if (fault == DiskFault::kDiskFull) g_totals.write_points += count;
      int64_t refused_before = g_totals.refused;
      for (int64_t n = 1; n <= count; ++n) {
        ASSERT_NO_FATAL_FAILURE(RunWithFault(c, n, fault));
        if (HasFailure()) return;  // one defect is enough to look at
      }
      // A test that cannot fail is no test: the faults did refuse changes.
      EXPECT_GT(g_totals.refused, refused_before) << c.name;
    }
  }

  // Each kind of change over the API. Names and addresses are new each run.
  Change CreateCredential() {
    return {"credential.create", 201, [] {},
            [this] {
              name_ = "c-" + std::to_string(++seq_);
              return SocketPost(
                  "/v1/admin/credentials",
                  {{"name", name_},
                   {"role", "viewer"},
                   {"expires_at",
                    FormatRfc3339(clock_.NowSeconds() + testing::kDay)}});
            },
            [this] {
              bool stored = false, live = false;
              for (const auto& c : storage_->ListCredentials().value()) {
                stored |= c.name == name_;
              }
              for (const auto& [id, c] : access_->Current()->credentials) {
                live |= c.name == name_;
              }
              EXPECT_EQ(stored, live) << "snapshot and storage disagree";
              return stored;
            }};
  }

  Change DeleteCredential() {
    return {"credential.delete", 204,
            [this] {
              id_ = MustCreate("d-" + std::to_string(++seq_), "viewer")
                        .credential.client_id;
            },
            [this] { return Socket("DELETE", "/v1/admin/credentials/" + id_); },
            [this] {
              bool stored = false;
              for (const auto& c : storage_->ListCredentials().value()) {
                stored |= c.client_id == id_;
              }
              EXPECT_EQ(stored, access_->Current()->credentials.count(id_) > 0);
              return !stored;
            }};
  }

  std::string NextCidr() {
    ++seq_;
    return "198.51." + std::to_string(seq_ / 250) + "." +
           std::to_string(seq_ % 250) + "/32";
  }

  bool CidrStored() {
    bool stored = false, live = false;
    for (const auto& e : storage_->ListAllowlist().value()) {
      stored |= e.cidr == cidr_;
    }
    for (const auto& e : access_->Current()->allowlist) live |= e.cidr == cidr_;
    EXPECT_EQ(stored, live) << "snapshot and storage disagree";
    return stored;
  }

  Change AddAllowlist() {
    return {"allowlist.add", 201, [this] { cidr_ = NextCidr(); },
            [this] {
              return SocketPost("/v1/admin/allowlist", {{"cidr", cidr_}});
            },
            [this] { return CidrStored(); }};
  }

  Change RemoveAllowlist() {
    return {"allowlist.remove", 204,
            [this] {
              cidr_ = NextCidr();
              ASSERT_TRUE(access_->AddAllowlist(cidr_, testing::kOwner).ok());
            },
            [this] { return Socket("DELETE", "/v1/admin/allowlist/" + cidr_); },
            [this] { return !CidrStored(); }};
  }

  size_t Rotations() {
    storage::AuditFilter f;
    f.action = "key.rotate";
    f.limit = 1 << 30;
    return storage_->ListAudit(f).value().size();
  }

  Change RotateKey() {
    return {"key.rotate", 201,
            [this] {
              // Each key is named after the clock, and the retired one is
              // dropped at the next rotation.
              clock_.Advance(testing::kTokenTtl + 1);
              rotations_ = Rotations();
              kid_ = ring_->Current()->active.pub.kid();
            },
            [] {
              return SocketPost("/v1/admin/keys/rotate", {{"use", "token"}});
            },
            [this] {
              bool stored = Rotations() > rotations_;
              EXPECT_EQ(stored, ring_->Current()->active.pub.kid() != kid_);
              return stored;
            }};
  }

  Change RevokeToken() {
    return {"token.revoke", 200,
            [this] {
              Response r = Send(TokenRequest());
              ASSERT_EQ(r.status, 200) << r.body;
              token_ = json::parse(r.body)["access_token"].get<std::string>();
              jti_ = tokens_->VerifyBearer(token_).value().claims.jti;
            },
            [this] {
              Request r = Tcp("POST", "/v1/auth/revoke");
              r.headers["content-type"] = "application/x-www-form-urlencoded";
              r.headers["authorization"] =
                  BasicAuth(standing_.credential.client_id,
                            standing_.client_secret.view());
              r.body = SecureString(std::string_view("token=" + token_));
              return r;
            },
            [this] {
              bool stored = false;
              for (const auto& t : storage_->ListRevocations().value()) {
                stored |= t.jti == jti_;
              }
              EXPECT_EQ(stored, revocations_->IsRevoked(jti_));
              return stored;
            }};
  }

  testing::CreatedCredential standing_;
  bool checkpoint_every_commit_ = false;
  int probe_ = 0;
  int seq_ = 0;
  std::string name_, id_, cidr_, kid_, token_, jti_;
  size_t rotations_ = 0;
};

TEST_F(DiskFaultTest, CredentialCreate) { EveryWritePoint(CreateCredential()); }
TEST_F(DiskFaultTest, CredentialDelete) { EveryWritePoint(DeleteCredential()); }
TEST_F(DiskFaultTest, AllowlistAdd) { EveryWritePoint(AddAllowlist()); }
TEST_F(DiskFaultTest, AllowlistRemove) { EveryWritePoint(RemoveAllowlist()); }
TEST_F(DiskFaultTest, KeyRotation) { EveryWritePoint(RotateKey()); }
TEST_F(DiskFaultTest, TokenRevocation) { EveryWritePoint(RevokeToken()); }

// The same with the WAL checkpointed into the database file at every commit,
// so the checkpoint's writes and syncs are write points too.
class DiskFaultCheckpointTest : public DiskFaultTest {
 protected:
  void SetUp() override {
    ASSERT_NO_FATAL_FAILURE(DiskFaultTest::SetUp());
    checkpoint_every_commit_ = true;
    ASSERT_TRUE(storage_->SetWalAutocheckpoint(1).ok());
  }
};

TEST_F(DiskFaultCheckpointTest, CredentialCreate) {
  EveryWritePoint(CreateCredential());
}
TEST_F(DiskFaultCheckpointTest, CredentialDelete) {
  EveryWritePoint(DeleteCredential());
}
TEST_F(DiskFaultCheckpointTest, AllowlistAdd) {
  EveryWritePoint(AddAllowlist());
}
TEST_F(DiskFaultCheckpointTest, AllowlistRemove) {
  EveryWritePoint(RemoveAllowlist());
}
TEST_F(DiskFaultCheckpointTest, KeyRotation) { EveryWritePoint(RotateKey()); }
TEST_F(DiskFaultCheckpointTest, TokenRevocation) {
  EveryWritePoint(RevokeToken());
}

}  // namespace
}  // namespace authd
