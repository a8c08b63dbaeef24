// SqliteStorage: Storage on one SQLite file in WAL mode with
// synchronous=FULL, so an acknowledged write survives power loss. The schema
// carries a version (PRAGMA user_version) and is moved forward by ordered
// migrations at open; a file newer than this binary is refused.
//
// One connection guarded by a mutex: admin writes are rare, and the token path
// reads from in-memory snapshots, never from here.
#ifndef AUTHD_STORAGE_SQLITE_STORAGE_H_
#define AUTHD_STORAGE_SQLITE_STORAGE_H_

#include <memory>
#include <mutex>
#include <string>

#include "storage/storage.h"

struct sqlite3;

namespace authd::storage {

class SqliteStorage final : public Storage {
 public:
  // Opens (creating if needed) the database at `path`, with mode 0600.
  // `vfs` names a registered SQLite VFS (tests inject disk faults this way);
  // empty for the default.
  static StatusOr<std::unique_ptr<SqliteStorage>> Open(
      const std::string& path, const std::string& vfs = "");

  SqliteStorage(const SqliteStorage&) = delete;
  SqliteStorage& operator=(const SqliteStorage&) = delete;
  ~SqliteStorage() override;

  StatusOr<std::vector<Credential>> ListCredentials() override;
  StatusOr<std::vector<AllowlistEntry>> ListAllowlist() override;
  Status Write(const std::function<Status(Transaction&)>& fn) override;
  StatusOr<std::vector<AuditRecord>> ListAudit(
      const AuditFilter& filter) override;
  StatusOr<std::vector<std::string>> AuditLeafHashes(uint64_t size) override;
  StatusOr<std::optional<StoredCheckpoint>> GetCheckpoint(
      std::optional<uint64_t> size) override;
  StatusOr<std::optional<std::string>> GetMeta(const std::string& key) override;
  StatusOr<std::optional<BoundMeta>> GetBoundMeta(
      const std::string& key) override;
  StatusOr<std::unordered_map<std::string, uint64_t>> LatestAuditSeqByTarget(
      const std::string& action) override;
  StatusOr<std::vector<RevokedToken>> ListRevocations() override;

  static int SchemaVersion();

 private:
  explicit SqliteStorage(sqlite3* db) : db_(db) {}
  Status Migrate();

  std::mutex mu_;
  sqlite3* db_;  // GUARDED_BY(mu_)
};

}  // namespace authd::storage

#endif  // AUTHD_STORAGE_SQLITE_STORAGE_H_
