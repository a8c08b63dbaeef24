// SqliteStorage: Storage on one SQLite file in WAL mode with
// synchronous=FULL, so an acknowledged write survives power loss. The schema
// carries a version (PRAGMA user_version) and is moved forward by ordered
// migrations at open; a file newer than this binary is refused.
//
// One connection guarded by a mutex: admin writes are rare, and the token path
// reads from in-memory snapshots, never from here. A Write holds the mutex
// for its whole transaction, the caller's HSM calls and the commit's fsync
// included; so every call waits at most `lock_wait` for it and then answers
// Busy (503 at the API) rather than tie up a request thread behind a hung
// HSM call.
#ifndef AUTHD_STORAGE_SQLITE_STORAGE_H_
#define AUTHD_STORAGE_SQLITE_STORAGE_H_

#include <chrono>
#include <memory>
#include <mutex>
#include <string>

#include "common/timed_mutex.h"
#include "storage/storage.h"

struct sqlite3;

namespace authd::storage {

class SqliteStorage final : public Storage {
 public:
  // Opens (creating if needed) the database at `path`, with mode 0600.
  // `vfs` names a registered SQLite VFS (tests inject disk faults this way);
  // empty for the default.
  static StatusOr<std::unique_ptr<SqliteStorage>> Open(
      const std::string& path, const std::string& vfs = "",
      std::chrono::milliseconds lock_wait = kLockWait);
  static constexpr std::chrono::milliseconds kLockWait{5000};

  SqliteStorage(const SqliteStorage&) = delete;
  SqliteStorage& operator=(const SqliteStorage&) = delete;
  ~SqliteStorage() override;

  StatusOr<std::vector<Credential>> ListCredentials() override;
  Status ForEachCredential(
      const std::function<Status(const Credential&)>& fn) override;
  StatusOr<std::vector<AllowlistEntry>> ListAllowlist() override;
  Status Write(const std::function<Status(Transaction&)>& fn) override;
  StatusOr<std::vector<AuditRecord>> ListAudit(
      const AuditFilter& filter) override;
  StatusOr<std::vector<std::string>> AuditLeafHashes(uint64_t size) override;
  StatusOr<std::vector<std::string>> AuditLeafHashRange(uint64_t first,
                                                        uint64_t end) override;
  StatusOr<std::vector<std::string>> AuditNodes(
      const std::vector<AuditNodeId>& ids) override;
  StatusOr<std::optional<StoredCheckpoint>> GetCheckpoint(
      std::optional<uint64_t> size) override;
  StatusOr<std::optional<std::string>> GetMeta(const std::string& key) override;
  StatusOr<std::optional<BoundMeta>> GetBoundMeta(
      const std::string& key) override;
  StatusOr<std::unordered_map<std::string, uint64_t>> LatestAuditSeqByTarget(
      const std::string& action) override;
  StatusOr<std::vector<RevokedToken>> ListRevocations() override;

  static int SchemaVersion();

  // How many pages the WAL may hold before a commit also checkpoints it into
  // the database file (SQLite's default: 1000). A failed checkpoint never
  // fails the commit that triggered it; the next commit tries again. Tests
  // set 1 so that every commit checkpoints.
  Status SetWalAutocheckpoint(int pages);

 private:
  SqliteStorage(sqlite3* db, std::chrono::milliseconds lock_wait)
      : lock_wait_(lock_wait), db_(db) {}
  Status Migrate();
  // mu_, or Busy after lock_wait_.
  StatusOr<std::unique_lock<TimedMutex>> Lock();

  const std::chrono::milliseconds lock_wait_;
  TimedMutex mu_;
  sqlite3* db_;  // GUARDED_BY(mu_)
};

}  // namespace authd::storage

#endif  // AUTHD_STORAGE_SQLITE_STORAGE_H_
