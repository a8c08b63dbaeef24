#include "storage/sqlite_storage.h"

#include <fcntl.h>
#include <sqlite3.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <memory>

namespace authd::storage {
namespace {

// Forward migrations; entry i moves the schema from version i to i+1.
constexpr const char* kMigrations[] = {
    R"sql(
CREATE TABLE credentials (
  client_id  TEXT PRIMARY KEY,
  name       TEXT NOT NULL,
  role       TEXT NOT NULL,
  secret_mac BLOB NOT NULL,
  created_at INTEGER NOT NULL,
  expires_at INTEGER NOT NULL,
  created_by TEXT NOT NULL
) STRICT;
CREATE TABLE allowlist (
  cidr       TEXT PRIMARY KEY,
  created_at INTEGER NOT NULL,
  created_by TEXT NOT NULL
) STRICT;
)sql",
    R"sql(
CREATE TABLE audit_log (
  seq         INTEGER PRIMARY KEY,
  leaf        BLOB NOT NULL,
  leaf_hash   BLOB NOT NULL,
  time_micros INTEGER NOT NULL,
  actor       TEXT NOT NULL,
  action      TEXT NOT NULL,
  target      TEXT NOT NULL
) STRICT;
CREATE INDEX audit_log_time ON audit_log (time_micros);
CREATE TABLE audit_checkpoints (
  size INTEGER PRIMARY KEY,
  root BLOB NOT NULL,
  note TEXT NOT NULL
) STRICT;
CREATE TABLE meta (
  key   TEXT PRIMARY KEY,
  value BLOB NOT NULL
) STRICT;
)sql",
    R"sql(
CREATE TABLE revoked_tokens (
  jti        TEXT PRIMARY KEY,
  client_id  TEXT NOT NULL,
  expires_at INTEGER NOT NULL,
  revoked_at INTEGER NOT NULL
) STRICT;
CREATE INDEX revoked_tokens_expiry ON revoked_tokens (expires_at);
)sql",
    // Rows that decide access are bound to the HSM: a MAC and the seq of the
    // audit entry that wrote them. NULL until the first start of a version
    // that binds them (Access::Create). The index answers "the latest entry
    // of this action, per target" without reading the log.
    R"sql(
ALTER TABLE credentials ADD COLUMN audit_seq INTEGER;
ALTER TABLE credentials ADD COLUMN mac BLOB;
ALTER TABLE allowlist ADD COLUMN audit_seq INTEGER;
ALTER TABLE allowlist ADD COLUMN mac BLOB;
ALTER TABLE meta ADD COLUMN audit_seq INTEGER;
ALTER TABLE meta ADD COLUMN mac BLOB;
CREATE INDEX audit_log_action ON audit_log (action, target, seq);
)sql",
    // The audit tree's complete subtrees of two leaves or more (level >= 1),
    // written with the entries that complete them, so proofs read O(log n)
    // rows. A log written before this version is filled in by
    // AuditLog::Open.
    R"sql(
CREATE TABLE audit_nodes (
  level INTEGER NOT NULL,
  idx   INTEGER NOT NULL,
  hash  BLOB NOT NULL,
  PRIMARY KEY (level, idx)
) STRICT, WITHOUT ROWID;
)sql",
};

// The one place SQLite result codes become a Status. A full disk and an I/O
// error are Unavailable (503 at the API) with a message that says what to
// do; the next change succeeds once space or the device is back, without a
// restart.
Status SqlStatus(sqlite3* db, int rc, std::string_view what) {
  if (rc == SQLITE_OK || rc == SQLITE_DONE || rc == SQLITE_ROW) {
    return Status::Ok();
  }
  std::string detail = db ? sqlite3_errmsg(db) : sqlite3_errstr(rc);
  std::string msg = "storage " + std::string(what) + ": " + detail;
  switch (rc & 0xff) {
    case SQLITE_FULL:
      return Status::Unavailable(
          "storage: disk full: could not " + std::string(what) +
          ". Free space on the filesystem holding the database and "
          "retry");
    case SQLITE_IOERR:
      return Status::Unavailable(
          "storage: I/O error: could not " + std::string(what) + " (" + detail +
          "). Check the disk and the kernel log, then retry");
    case SQLITE_CONSTRAINT:
      return Status::AlreadyExists(msg);
    case SQLITE_BUSY:
    case SQLITE_LOCKED:
    case SQLITE_CANTOPEN:
    case SQLITE_READONLY:
    case SQLITE_PROTOCOL:
      return Status::Unavailable(msg);
    default:
      return Status::Internal(msg);
  }
}

struct StmtDeleter {
  void operator()(sqlite3_stmt* s) const noexcept { sqlite3_finalize(s); }
};
using Stmt = std::unique_ptr<sqlite3_stmt, StmtDeleter>;

StatusOr<Stmt> Prepare(sqlite3* db, const char* sql) {
  sqlite3_stmt* s = nullptr;
  int rc = sqlite3_prepare_v2(db, sql, -1, &s, nullptr);
  if (rc != SQLITE_OK) return SqlStatus(db, rc, "prepare");
  return Stmt(s);
}

void BindText(sqlite3_stmt* s, int i, const std::string& v) {
  sqlite3_bind_text(s, i, v.data(), static_cast<int>(v.size()),
                    SQLITE_TRANSIENT);
}

void BindBlob(sqlite3_stmt* s, int i, const std::string& v) {
  sqlite3_bind_blob(s, i, v.data(), static_cast<int>(v.size()),
                    SQLITE_TRANSIENT);
}

// A row's binding: NULL columns when it has none.
void BindBinding(sqlite3_stmt* s, int i, uint64_t audit_seq,
                 const std::string& mac) {
  if (mac.empty()) {
    sqlite3_bind_null(s, i);
    sqlite3_bind_null(s, i + 1);
    return;
  }
  sqlite3_bind_int64(s, i, static_cast<sqlite3_int64>(audit_seq));
  BindBlob(s, i + 1, mac);
}

uint64_t ColumnSeq(sqlite3_stmt* s, int i) {
  return static_cast<uint64_t>(sqlite3_column_int64(s, i));
}

std::string ColumnText(sqlite3_stmt* s, int i) {
  const void* p = sqlite3_column_blob(s, i);
  int n = sqlite3_column_bytes(s, i);
  return p ? std::string(static_cast<const char*>(p), n) : std::string();
}

// Steps `s` to the end, mapping each row with `row`.
template <typename F>
auto Rows(sqlite3* db, sqlite3_stmt* s, std::string_view what, F row)
    -> StatusOr<std::vector<decltype(row(s))>> {
  std::vector<decltype(row(s))> out;
  int rc;
  while ((rc = sqlite3_step(s)) == SQLITE_ROW) out.push_back(row(s));
  RETURN_IF_ERROR(SqlStatus(db, rc, what));
  return out;
}

Status Exec(sqlite3* db, const char* sql, std::string_view what) {
  return SqlStatus(db, sqlite3_exec(db, sql, nullptr, nullptr, nullptr), what);
}

// Runs a single-row-changing statement; NotFound when nothing changed.
Status StepChange(sqlite3* db, sqlite3_stmt* s, std::string_view what,
                  const std::string& not_found) {
  int rc = sqlite3_step(s);
  if (rc != SQLITE_DONE) return SqlStatus(db, rc, what);
  if (sqlite3_changes(db) == 0) return Status::NotFound(not_found);
  return Status::Ok();
}

class SqliteTransaction final : public Transaction {
 public:
  explicit SqliteTransaction(sqlite3* db) : db_(db) {}

  Status Savepoint(const std::function<Status(Transaction&)>& fn,
                   Status* outcome) override {
    RETURN_IF_ERROR(Exec(db_, "SAVEPOINT change", "savepoint"));
    try {
      *outcome = fn(*this);
    } catch (const std::exception& e) {
      *outcome = Status::Internal(std::string("change failed: ") + e.what());
    }
    // SQLite gives the whole transaction up on some errors (a full disk, an
    // I/O error); then there is no savepoint left to return to.
    if (sqlite3_get_autocommit(db_)) {
      return Status::Unavailable("the transaction was rolled back: " +
                                 outcome->message());
    }
    if (!outcome->ok()) {
      RETURN_IF_ERROR(Exec(db_, "ROLLBACK TO change", "undo a change"));
    }
    return Exec(db_, "RELEASE change", "release savepoint");
  }

  Status InsertCredential(const Credential& c) override {
    ASSIGN_OR_RETURN(Stmt s,
                     Prepare(db_,
                             "INSERT INTO credentials (client_id, name, role, "
                             "secret_mac, created_at, expires_at, created_by, "
                             "audit_seq, mac) VALUES "
                             "(?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)"));
    BindText(s.get(), 1, c.client_id);
    BindText(s.get(), 2, c.name);
    BindText(s.get(), 3, c.role);
    sqlite3_bind_blob(s.get(), 4, c.secret_mac.data(),
                      static_cast<int>(c.secret_mac.size()), SQLITE_TRANSIENT);
    sqlite3_bind_int64(s.get(), 5, c.created_at);
    sqlite3_bind_int64(s.get(), 6, c.expires_at);
    BindText(s.get(), 7, c.created_by);
    BindBinding(s.get(), 8, c.audit_seq, c.mac);
    return SqlStatus(db_, sqlite3_step(s.get()), "insert credential");
  }

  Status DeleteCredential(const std::string& client_id) override {
    ASSIGN_OR_RETURN(
        Stmt s, Prepare(db_, "DELETE FROM credentials WHERE client_id = ?1"));
    BindText(s.get(), 1, client_id);
    return StepChange(db_, s.get(), "delete credential",
                      "no credential with client_id " + client_id);
  }

  Status InsertAllowlist(const AllowlistEntry& e) override {
    ASSIGN_OR_RETURN(Stmt s, Prepare(db_,
                                     "INSERT INTO allowlist (cidr, created_at, "
                                     "created_by, audit_seq, mac) VALUES "
                                     "(?1, ?2, ?3, ?4, ?5)"));
    BindText(s.get(), 1, e.cidr);
    sqlite3_bind_int64(s.get(), 2, e.created_at);
    BindText(s.get(), 3, e.created_by);
    BindBinding(s.get(), 4, e.audit_seq, e.mac);
    return SqlStatus(db_, sqlite3_step(s.get()), "insert allowlist entry");
  }

  Status DeleteAllowlist(const std::string& cidr) override {
    ASSIGN_OR_RETURN(Stmt s,
                     Prepare(db_, "DELETE FROM allowlist WHERE cidr = ?1"));
    BindText(s.get(), 1, cidr);
    return StepChange(db_, s.get(), "delete allowlist entry",
                      cidr + " is not on the allowlist");
  }

  Status AppendAudit(const AuditRecord& r) override {
    ASSIGN_OR_RETURN(Stmt s, Prepare(db_,
                                     "INSERT INTO audit_log VALUES "
                                     "(?1, ?2, ?3, ?4, ?5, ?6, ?7)"));
    sqlite3_bind_int64(s.get(), 1, static_cast<sqlite3_int64>(r.seq));
    BindBlob(s.get(), 2, r.leaf);
    BindBlob(s.get(), 3, r.leaf_hash);
    sqlite3_bind_int64(s.get(), 4, r.time_micros);
    BindText(s.get(), 5, r.actor);
    BindText(s.get(), 6, r.action);
    BindText(s.get(), 7, r.target);
    return SqlStatus(db_, sqlite3_step(s.get()), "append audit entry");
  }

  Status PutCheckpoint(const StoredCheckpoint& c) override {
    ASSIGN_OR_RETURN(
        Stmt s,
        Prepare(db_, "INSERT INTO audit_checkpoints VALUES (?1, ?2, ?3)"));
    sqlite3_bind_int64(s.get(), 1, static_cast<sqlite3_int64>(c.size));
    BindBlob(s.get(), 2, c.root);
    BindText(s.get(), 3, c.note);
    return SqlStatus(db_, sqlite3_step(s.get()), "store checkpoint");
  }

  Status PutAuditNodes(const std::vector<AuditNode>& nodes) override {
    if (nodes.empty()) return Status::Ok();
    ASSIGN_OR_RETURN(Stmt s, Prepare(db_,
                                     "INSERT OR REPLACE INTO audit_nodes "
                                     "(level, idx, hash) VALUES (?1, ?2, ?3)"));
    for (const AuditNode& n : nodes) {
      sqlite3_bind_int64(s.get(), 1, n.level);
      sqlite3_bind_int64(s.get(), 2, static_cast<sqlite3_int64>(n.index));
      BindBlob(s.get(), 3, n.hash);
      RETURN_IF_ERROR(
          SqlStatus(db_, sqlite3_step(s.get()), "store audit tree node"));
      sqlite3_reset(s.get());
    }
    return Status::Ok();
  }

  Status PutMeta(const std::string& key, const std::string& value) override {
    return PutBoundMeta({key, value, 0, ""});
  }

  Status PutBoundMeta(const BoundMeta& m) override {
    ASSIGN_OR_RETURN(
        Stmt s,
        Prepare(db_,
                "INSERT INTO meta (key, value, audit_seq, mac) VALUES "
                "(?1, ?2, ?3, ?4) ON CONFLICT(key) DO UPDATE SET value = ?2, "
                "audit_seq = ?3, mac = ?4"));
    BindText(s.get(), 1, m.key);
    BindBlob(s.get(), 2, m.value);
    BindBinding(s.get(), 3, m.audit_seq, m.mac);
    return SqlStatus(db_, sqlite3_step(s.get()), "store meta");
  }

  Status BindCredential(const std::string& client_id, uint64_t audit_seq,
                        const std::string& mac) override {
    return Bind(
        "UPDATE credentials SET audit_seq = ?1, mac = ?2 "
        "WHERE client_id = ?3",
        client_id, audit_seq, mac, "bind credential",
        "no credential with client_id " + client_id);
  }

  Status BindAllowlist(const std::string& cidr, uint64_t audit_seq,
                       const std::string& mac) override {
    return Bind("UPDATE allowlist SET audit_seq = ?1, mac = ?2 WHERE cidr = ?3",
                cidr, audit_seq, mac, "bind allowlist entry",
                cidr + " is not on the allowlist");
  }

  // One row's binding: `sql` sets ?1 audit_seq and ?2 mac where ?3 is `key`.
  Status Bind(const char* sql, const std::string& key, uint64_t audit_seq,
              const std::string& mac, const char* what,
              const std::string& not_found) {
    ASSIGN_OR_RETURN(Stmt s, Prepare(db_, sql));
    BindBinding(s.get(), 1, audit_seq, mac);
    BindText(s.get(), 3, key);
    return StepChange(db_, s.get(), what, not_found);
  }

  Status InsertRevocation(const RevokedToken& r) override {
    ASSIGN_OR_RETURN(Stmt s, Prepare(db_,
                                     "INSERT OR IGNORE INTO revoked_tokens "
                                     "VALUES (?1, ?2, ?3, ?4)"));
    BindText(s.get(), 1, r.jti);
    BindText(s.get(), 2, r.client_id);
    sqlite3_bind_int64(s.get(), 3, r.expires_at);
    sqlite3_bind_int64(s.get(), 4, r.revoked_at);
    return SqlStatus(db_, sqlite3_step(s.get()), "store revocation");
  }

  Status PurgeRevocations(int64_t now) override {
    ASSIGN_OR_RETURN(Stmt s, Prepare(db_,
                                     "DELETE FROM revoked_tokens "
                                     "WHERE expires_at <= ?1"));
    sqlite3_bind_int64(s.get(), 1, now);
    return SqlStatus(db_, sqlite3_step(s.get()), "purge revocations");
  }

 private:
  sqlite3* db_;
};

}  // namespace

int SqliteStorage::SchemaVersion() {
  return static_cast<int>(std::size(kMigrations));
}

StatusOr<std::unique_ptr<SqliteStorage>> SqliteStorage::Open(
    const std::string& path, const std::string& vfs,
    std::chrono::milliseconds lock_wait) {
  // Create the file ourselves so it is never world-readable, even briefly.
  int fd = ::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600);
  if (fd < 0) {
    return Status::Unavailable("cannot open database " + path + ": " +
                               strerror(errno));
  }
  fchmod(fd, 0600);  // also tighten a file that existed before
  ::close(fd);
  sqlite3* db = nullptr;
  int rc = sqlite3_open_v2(path.c_str(), &db,
                           SQLITE_OPEN_READWRITE | SQLITE_OPEN_FULLMUTEX,
                           vfs.empty() ? nullptr : vfs.c_str());
  if (rc != SQLITE_OK) {
    Status st = SqlStatus(db, rc, "open " + path);
    sqlite3_close_v2(db);
    return st;
  }
  std::unique_ptr<SqliteStorage> storage(new SqliteStorage(db, lock_wait));
  sqlite3_busy_timeout(db, 5000);
  sqlite3_extended_result_codes(db, 1);
  RETURN_IF_ERROR(Exec(db,
                       "PRAGMA journal_mode=WAL; PRAGMA synchronous=FULL; "
                       "PRAGMA foreign_keys=ON; PRAGMA secure_delete=ON;",
                       "set pragmas"));
  RETURN_IF_ERROR(storage->Migrate());
  return storage;
}

SqliteStorage::~SqliteStorage() { sqlite3_close_v2(db_); }

Status SqliteStorage::SetWalAutocheckpoint(int pages) {
  ASSIGN_OR_RETURN(auto lock, Lock());
  return SqlStatus(db_, sqlite3_wal_autocheckpoint(db_, pages),
                   "set the WAL checkpoint size");
}

StatusOr<std::unique_lock<TimedMutex>> SqliteStorage::Lock() {
  std::unique_lock<TimedMutex> lock(mu_, lock_wait_);
  if (!lock.owns_lock()) {
    return Status::Busy("the database is busy with another change; retry");
  }
  return lock;
}

Status SqliteStorage::Migrate() {
  ASSIGN_OR_RETURN(auto lock, Lock());
  ASSIGN_OR_RETURN(Stmt s, Prepare(db_, "PRAGMA user_version"));
  if (sqlite3_step(s.get()) != SQLITE_ROW) {
    return SqlStatus(db_, SQLITE_ERROR, "read schema version");
  }
  int version = sqlite3_column_int(s.get(), 0);
  s.reset();
  if (version > SchemaVersion()) {
    return Status::FailedPrecondition("database schema version " +
                                      std::to_string(version) +
                                      " is newer than this authd supports (" +
                                      std::to_string(SchemaVersion()) + ")");
  }
  for (int v = version; v < SchemaVersion(); ++v) {
    RETURN_IF_ERROR(Exec(db_, "BEGIN IMMEDIATE", "begin migration"));
    Status st = Exec(db_, kMigrations[v], "migrate");
    if (st.ok()) {
      std::string bump = "PRAGMA user_version = " + std::to_string(v + 1);
      st = Exec(db_, bump.c_str(), "set schema version");
    }
    if (st.ok()) st = Exec(db_, "COMMIT", "commit migration");
    if (!st.ok()) {
      Exec(db_, "ROLLBACK", "rollback").ok();
      return st;
    }
  }
  return Status::Ok();
}

namespace {

Credential CredentialRow(sqlite3_stmt* r) {
  return Credential{ColumnText(r, 0),
                    ColumnText(r, 1),
                    ColumnText(r, 2),
                    ColumnText(r, 3),
                    sqlite3_column_int64(r, 4),
                    sqlite3_column_int64(r, 5),
                    ColumnText(r, 6),
                    ColumnSeq(r, 7),
                    ColumnText(r, 8)};
}

constexpr char kListCredentials[] =
    "SELECT client_id, name, role, secret_mac, created_at, expires_at, "
    "created_by, audit_seq, mac FROM credentials "
    "ORDER BY created_at DESC, rowid DESC";

}  // namespace

StatusOr<std::vector<Credential>> SqliteStorage::ListCredentials() {
  ASSIGN_OR_RETURN(auto lock, Lock());
  ASSIGN_OR_RETURN(Stmt s, Prepare(db_, kListCredentials));
  return Rows(db_, s.get(), "list credentials", CredentialRow);
}

Status SqliteStorage::ForEachCredential(
    const std::function<Status(const Credential&)>& fn) {
  ASSIGN_OR_RETURN(auto lock, Lock());
  ASSIGN_OR_RETURN(Stmt s, Prepare(db_, kListCredentials));
  int rc;
  while ((rc = sqlite3_step(s.get())) == SQLITE_ROW) {
    RETURN_IF_ERROR(fn(CredentialRow(s.get())));
  }
  return SqlStatus(db_, rc, "list credentials");
}

StatusOr<std::vector<AllowlistEntry>> SqliteStorage::ListAllowlist() {
  ASSIGN_OR_RETURN(auto lock, Lock());
  ASSIGN_OR_RETURN(Stmt s, Prepare(db_,
                                   "SELECT cidr, created_at, created_by, "
                                   "audit_seq, mac FROM allowlist "
                                   "ORDER BY created_at, rowid"));
  return Rows(db_, s.get(), "list allowlist", [](sqlite3_stmt* r) {
    return AllowlistEntry{ColumnText(r, 0), sqlite3_column_int64(r, 1),
                          ColumnText(r, 2), ColumnSeq(r, 3), ColumnText(r, 4)};
  });
}

Status SqliteStorage::Write(const std::function<Status(Transaction&)>& fn) {
  ASSIGN_OR_RETURN(auto lock, Lock());
  RETURN_IF_ERROR(Exec(db_, "BEGIN IMMEDIATE", "begin the change"));
  SqliteTransaction tx(db_);
  Status st;
  try {
    st = fn(tx);
  } catch (const std::exception& e) {
    st = Status::Internal(std::string("transaction failed: ") + e.what());
  }
  if (st.ok()) st = Exec(db_, "COMMIT", "commit the change");
  if (!st.ok()) Exec(db_, "ROLLBACK", "rollback").ok();
  return st;
}

StatusOr<std::vector<AuditRecord>> SqliteStorage::ListAudit(
    const AuditFilter& f) {
  ASSIGN_OR_RETURN(auto lock, Lock());
  ASSIGN_OR_RETURN(
      Stmt s,
      Prepare(db_,
              "SELECT seq, leaf, leaf_hash, time_micros, actor, action, target "
              "FROM audit_log WHERE seq > ?1 AND time_micros >= ?2 AND "
              "time_micros <= ?3 AND (?4 = '' OR action = ?4) AND "
              "(?5 = '' OR actor = ?5) AND (?6 = '' OR target = ?6) "
              "ORDER BY seq LIMIT ?7"));
  // seq is a SQLite INTEGER (int64): a larger after_seq is past every entry,
  // and must not wrap to a negative bound that selects them all.
  sqlite3_bind_int64(s.get(), 1,
                     f.after_seq
                         ? static_cast<sqlite3_int64>(
                               std::min<uint64_t>(*f.after_seq, INT64_MAX))
                         : -1);
  sqlite3_bind_int64(s.get(), 2, f.since_micros.value_or(INT64_MIN));
  sqlite3_bind_int64(s.get(), 3, f.until_micros.value_or(INT64_MAX));
  BindText(s.get(), 4, f.action);
  BindText(s.get(), 5, f.actor);
  BindText(s.get(), 6, f.target);
  sqlite3_bind_int64(s.get(), 7, static_cast<sqlite3_int64>(f.limit));
  return Rows(db_, s.get(), "list audit log", [](sqlite3_stmt* r) {
    return AuditRecord{static_cast<uint64_t>(sqlite3_column_int64(r, 0)),
                       ColumnText(r, 1),
                       ColumnText(r, 2),
                       sqlite3_column_int64(r, 3),
                       ColumnText(r, 4),
                       ColumnText(r, 5),
                       ColumnText(r, 6)};
  });
}

StatusOr<std::vector<std::string>> SqliteStorage::AuditLeafHashes(
    uint64_t size) {
  return AuditLeafHashRange(0, size);
}

StatusOr<std::vector<std::string>> SqliteStorage::AuditLeafHashRange(
    uint64_t first, uint64_t end) {
  ASSIGN_OR_RETURN(auto lock, Lock());
  ASSIGN_OR_RETURN(Stmt s,
                   Prepare(db_,
                           "SELECT seq, leaf_hash FROM audit_log "
                           "WHERE seq >= ?1 AND seq < ?2 ORDER BY seq"));
  sqlite3_bind_int64(s.get(), 1, static_cast<sqlite3_int64>(first));
  sqlite3_bind_int64(s.get(), 2, static_cast<sqlite3_int64>(end));
  std::vector<std::string> out;
  out.reserve(end > first ? end - first : 0);
  int rc;
  while ((rc = sqlite3_step(s.get())) == SQLITE_ROW) {
    uint64_t want = first + out.size();
    if (static_cast<uint64_t>(sqlite3_column_int64(s.get(), 0)) != want) {
      return Status::Internal("audit log has a gap at seq " +
                              std::to_string(want));
    }
    out.push_back(ColumnText(s.get(), 1));
  }
  RETURN_IF_ERROR(SqlStatus(db_, rc, "read audit leaf hashes"));
  if (first + out.size() != end) {
    return Status::InvalidArgument("the audit log has only " +
                                   std::to_string(first + out.size()) +
                                   " entries");
  }
  return out;
}

StatusOr<std::vector<std::string>> SqliteStorage::AuditNodes(
    const std::vector<AuditNodeId>& ids) {
  ASSIGN_OR_RETURN(auto lock, Lock());
  ASSIGN_OR_RETURN(Stmt leaf, Prepare(db_,
                                      "SELECT leaf_hash FROM audit_log "
                                      "WHERE seq = ?1"));
  ASSIGN_OR_RETURN(Stmt node, Prepare(db_,
                                      "SELECT hash FROM audit_nodes "
                                      "WHERE level = ?1 AND idx = ?2"));
  std::vector<std::string> out;
  out.reserve(ids.size());
  for (const AuditNodeId& id : ids) {
    sqlite3_stmt* s = id.level == 0 ? leaf.get() : node.get();
    sqlite3_reset(s);
    if (id.level == 0) {
      sqlite3_bind_int64(s, 1, static_cast<sqlite3_int64>(id.index));
    } else {
      sqlite3_bind_int64(s, 1, id.level);
      sqlite3_bind_int64(s, 2, static_cast<sqlite3_int64>(id.index));
    }
    int rc = sqlite3_step(s);
    if (rc == SQLITE_DONE) {
      return Status::NotFound("audit tree node at level " +
                              std::to_string(id.level) + " index " +
                              std::to_string(id.index) + " is not stored");
    }
    if (rc != SQLITE_ROW) return SqlStatus(db_, rc, "read audit tree node");
    out.push_back(ColumnText(s, 0));
  }
  return out;
}

StatusOr<std::optional<StoredCheckpoint>> SqliteStorage::GetCheckpoint(
    std::optional<uint64_t> size) {
  ASSIGN_OR_RETURN(auto lock, Lock());
  ASSIGN_OR_RETURN(Stmt s,
                   Prepare(db_, size ? "SELECT size, root, note FROM "
                                       "audit_checkpoints WHERE size = ?1"
                                     : "SELECT size, root, note FROM "
                                       "audit_checkpoints ORDER BY size DESC "
                                       "LIMIT 1"));
  if (size) sqlite3_bind_int64(s.get(), 1, static_cast<sqlite3_int64>(*size));
  int rc = sqlite3_step(s.get());
  if (rc == SQLITE_DONE) return std::optional<StoredCheckpoint>();
  if (rc != SQLITE_ROW) return SqlStatus(db_, rc, "read checkpoint");
  return std::optional<StoredCheckpoint>(
      StoredCheckpoint{static_cast<uint64_t>(sqlite3_column_int64(s.get(), 0)),
                       ColumnText(s.get(), 1), ColumnText(s.get(), 2)});
}

StatusOr<std::optional<std::string>> SqliteStorage::GetMeta(
    const std::string& key) {
  ASSIGN_OR_RETURN(auto lock, Lock());
  ASSIGN_OR_RETURN(Stmt s,
                   Prepare(db_, "SELECT value FROM meta WHERE key = ?1"));
  BindText(s.get(), 1, key);
  int rc = sqlite3_step(s.get());
  if (rc == SQLITE_DONE) return std::optional<std::string>();
  if (rc != SQLITE_ROW) return SqlStatus(db_, rc, "read meta");
  return std::optional<std::string>(ColumnText(s.get(), 0));
}

StatusOr<std::optional<BoundMeta>> SqliteStorage::GetBoundMeta(
    const std::string& key) {
  ASSIGN_OR_RETURN(auto lock, Lock());
  ASSIGN_OR_RETURN(Stmt s, Prepare(db_,
                                   "SELECT value, audit_seq, mac FROM meta "
                                   "WHERE key = ?1"));
  BindText(s.get(), 1, key);
  int rc = sqlite3_step(s.get());
  if (rc == SQLITE_DONE) return std::optional<BoundMeta>();
  if (rc != SQLITE_ROW) return SqlStatus(db_, rc, "read meta");
  return std::optional<BoundMeta>(BoundMeta{key, ColumnText(s.get(), 0),
                                            ColumnSeq(s.get(), 1),
                                            ColumnText(s.get(), 2)});
}

StatusOr<std::unordered_map<std::string, uint64_t>>
SqliteStorage::LatestAuditSeqByTarget(const std::string& action) {
  ASSIGN_OR_RETURN(auto lock, Lock());
  ASSIGN_OR_RETURN(Stmt s, Prepare(db_,
                                   "SELECT target, MAX(seq) FROM audit_log "
                                   "WHERE action = ?1 GROUP BY target"));
  BindText(s.get(), 1, action);
  std::unordered_map<std::string, uint64_t> out;
  int rc;
  while ((rc = sqlite3_step(s.get())) == SQLITE_ROW) {
    out[ColumnText(s.get(), 0)] = ColumnSeq(s.get(), 1);
  }
  RETURN_IF_ERROR(SqlStatus(db_, rc, "read audit targets"));
  return out;
}

StatusOr<std::vector<RevokedToken>> SqliteStorage::ListRevocations() {
  ASSIGN_OR_RETURN(auto lock, Lock());
  ASSIGN_OR_RETURN(Stmt s, Prepare(db_,
                                   "SELECT jti, client_id, expires_at, "
                                   "revoked_at FROM revoked_tokens"));
  return Rows(db_, s.get(), "list revocations", [](sqlite3_stmt* r) {
    return RevokedToken{ColumnText(r, 0), ColumnText(r, 1),
                        sqlite3_column_int64(r, 2), sqlite3_column_int64(r, 3)};
  });
}

}  // namespace authd::storage
