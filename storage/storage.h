// Storage: the persistent state authd depends on, behind an interface so a
// second engine can be added without touching api/.
//
// Writes go through Write(), which runs a caller's function inside one
// transaction: every change the function makes commits together, or none does
// (the audit log relies on this to commit an entry with its change).
// Implementations are thread-safe.
#ifndef AUTHD_STORAGE_STORAGE_H_
#define AUTHD_STORAGE_STORAGE_H_

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

#include "common/status.h"

namespace authd::storage {

struct Credential {
  std::string client_id;
  std::string name;
  std::string role;
  std::string secret_mac;  // HMAC-SHA256 under the HSM pepper; never the secret
  int64_t created_at = 0;
  int64_t expires_at = 0;
  std::string created_by;
  // The row's binding to the HSM (authority/row_mac.h): the seq of the audit
  // entry that created it, and a MAC over every column above and that seq.
  // Empty/0 in a row written before rows were bound (schema version 3).
  uint64_t audit_seq = 0;
  std::string mac = {};
};

struct AllowlistEntry {
  std::string cidr;  // normalized
  int64_t created_at = 0;
  std::string created_by;
  uint64_t audit_seq = 0;  // as in Credential
  std::string mac = {};
};

// A meta row bound to the HSM like a credential (the recorded role set): its
// value, the seq of the audit entry that wrote it, and the MAC over both.
struct BoundMeta {
  std::string key;
  std::string value;
  uint64_t audit_seq = 0;
  std::string mac = {};  // empty: the row has none
};

// A revoked access token (RFC 7009), kept until the token would have expired.
struct RevokedToken {
  std::string jti;
  std::string client_id;
  int64_t expires_at = 0;  // the token's exp
  int64_t revoked_at = 0;
};

// One audit log row: the leaf bytes (a serialized audit.v1.Entry) and the
// few decoded columns the admin API filters on.
struct AuditRecord {
  uint64_t seq = 0;
  std::string leaf;
  std::string leaf_hash;  // RFC 9162 leaf hash of `leaf`
  int64_t time_micros = 0;
  std::string actor;
  std::string action;
  std::string target;
};

struct AuditFilter {
  std::optional<int64_t> since_micros, until_micros;  // inclusive bounds
  std::string action, actor, target;                  // exact match when set
  std::optional<uint64_t> after_seq;
  size_t limit = 100;
};

// A complete subtree of the audit log's Merkle tree (RFC 9162 §2.1): the
// leaves [index << level, (index + 1) << level) and their hash. Level 0 is
// an entry's leaf_hash; levels 1 and up are stored as the subtrees complete,
// so a proof reads O(log n) of them instead of every leaf hash.
struct AuditNodeId {
  uint32_t level = 0;
  uint64_t index = 0;
};
struct AuditNode {
  uint32_t level = 0;
  uint64_t index = 0;
  std::string hash;
};

// A signed checkpoint as stored: tree size, root and the signed note.
struct StoredCheckpoint {
  uint64_t size = 0;
  std::string root;
  std::string note;
};

// The changes one transaction may make. Errors: AlreadyExists, NotFound,
// Unavailable (I/O), Internal.
class Transaction {
 public:
  virtual ~Transaction() = default;
  virtual Status InsertCredential(const Credential& c) = 0;
  virtual Status DeleteCredential(const std::string& client_id) = 0;
  virtual Status InsertAllowlist(const AllowlistEntry& e) = 0;
  virtual Status DeleteAllowlist(const std::string& cidr) = 0;
  virtual Status AppendAudit(const AuditRecord& r) = 0;
  virtual Status PutCheckpoint(const StoredCheckpoint& c) = 0;
  // Stores subtree hashes of level 1 and up; a node already stored is
  // replaced (the same subtree always has the same hash).
  virtual Status PutAuditNodes(const std::vector<AuditNode>& nodes) = 0;
  // Writes a meta row unbound (its MAC, if any, is cleared).
  virtual Status PutMeta(const std::string& key, const std::string& value) = 0;
  virtual Status PutBoundMeta(const BoundMeta& m) = 0;
  // Sets the binding of a stored row (the first start after the upgrade to
  // bound rows). NotFound when the row does not exist.
  virtual Status BindCredential(const std::string& client_id,
                                uint64_t audit_seq, const std::string& mac) = 0;
  virtual Status BindAllowlist(const std::string& cidr, uint64_t audit_seq,
                               const std::string& mac) = 0;
  // Revoking a token twice is not an error.
  virtual Status InsertRevocation(const RevokedToken& r) = 0;
  // Drops revocations of tokens that expired at or before `now`.
  virtual Status PurgeRevocations(int64_t now) = 0;
  // Runs `fn` as a nested step of this transaction (an SQL SAVEPOINT): when
  // it fails, or throws, what it did is undone, the rest of the transaction
  // stands, and *outcome holds its error. Returns an error only when the
  // transaction itself is lost (the undo failed, or the engine gave the
  // whole transaction up); the caller must then abandon it. The audit log's
  // group commit runs each change of a batch this way.
  virtual Status Savepoint(const std::function<Status(Transaction&)>& fn,
                           Status* outcome) = 0;
};

class Storage {
 public:
  virtual ~Storage() = default;
  // Newest first: created_at descending, then the later insert first.
  virtual StatusOr<std::vector<Credential>> ListCredentials() = 0;
  // The same rows in the same order, one at a time, so a caller loading a
  // million of them never holds them all; stops at the first error `fn`
  // returns. `fn` must not call back into the storage.
  virtual Status ForEachCredential(
      const std::function<Status(const Credential&)>& fn) = 0;
  virtual StatusOr<std::vector<AllowlistEntry>> ListAllowlist() = 0;
  virtual StatusOr<std::vector<AuditRecord>> ListAudit(
      const AuditFilter& filter) = 0;
  // Leaf hashes of entries [0, size), in order.
  virtual StatusOr<std::vector<std::string>> AuditLeafHashes(uint64_t size) = 0;
  // Leaf hashes of entries [first, end), in order: a page of a scan in
  // bounded memory. InvalidArgument when the log holds fewer.
  virtual StatusOr<std::vector<std::string>> AuditLeafHashRange(
      uint64_t first, uint64_t end) = 0;
  // The hashes of the given subtrees, in the order asked (level 0 from the
  // entries' leaf hashes). NotFound when one is not stored.
  virtual StatusOr<std::vector<std::string>> AuditNodes(
      const std::vector<AuditNodeId>& ids) = 0;
  // The checkpoint for `size`, or the latest when nullopt; nullopt if none.
  virtual StatusOr<std::optional<StoredCheckpoint>> GetCheckpoint(
      std::optional<uint64_t> size) = 0;
  virtual StatusOr<std::optional<std::string>> GetMeta(
      const std::string& key) = 0;
  virtual StatusOr<std::optional<BoundMeta>> GetBoundMeta(
      const std::string& key) = 0;
  // For each target of an audit entry with `action`, the highest seq among
  // them: one query, answered from an index, whatever the number of rows.
  virtual StatusOr<std::unordered_map<std::string, uint64_t>>
  LatestAuditSeqByTarget(const std::string& action) = 0;
  virtual StatusOr<std::vector<RevokedToken>> ListRevocations() = 0;
  // Runs `fn` in one transaction; commits only when it returns OK.
  virtual Status Write(const std::function<Status(Transaction&)>& fn) = 0;
};

}  // namespace authd::storage

#endif  // AUTHD_STORAGE_STORAGE_H_
