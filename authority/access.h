// Access: the one place the rules of API access live — client credentials,
// roles and the IP allowlist — for both the TCP admin API and the admin
// socket, and for the token endpoint that reads them.
//
// Reads come from an immutable Snapshot published with an atomic shared_ptr:
// the token path never takes a lock or touches the database. Writes are
// committed to Storage first (concurrent writers share the audit log's group
// commit), applied to the snapshot in commit order, and published before the
// call returns, so a change is in force on every thread once it is
// acknowledged.
//
// Every stored credential, allowlist entry and the recorded role set is
// bound to the HSM (authority/row_mac.h) and checked whenever the snapshot
// is built: a row that fails (edited, forged, or copied back after its
// deletion) is left out of the snapshot and listed in Snapshot::failures;
// while any is listed, every change but removing a failing row is refused.
// The role set is published the same way, apart from the snapshot: the
// configuration owns it and SetRoles (a reload) replaces it whole.
#ifndef AUTHD_AUTHORITY_ACCESS_H_
#define AUTHD_AUTHORITY_ACCESS_H_

#include <atomic>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

#include "audit/audit_log.h"
#include "authority/credential_table.h"
#include "authority/row_mac.h"
#include "common/cidr.h"
#include "common/clock.h"
#include "common/ip_set.h"
#include "common/secure_string.h"
#include "common/status.h"
#include "hsm/key_ops.h"
#include "storage/storage.h"

namespace authd::authority {

struct Role {
  std::string name;
  std::string description;
  std::vector<std::string> scopes;
  bool operator==(const Role&) const = default;
};

// SPEC's default roles, used when the config defines none.
std::vector<Role> DefaultRoles();

// Who asked for a change: "uid:N" over the socket, "client:ID" over TCP.
// What the actor may grant is what it holds (SPEC "Security rules": a role
// can only be granted by a caller that holds every scope of that role).
struct Actor {
  std::string id;
  std::string address;  // source address, or "unix" for the admin socket
  // The admin socket is local root trust (peer uid checked by its mode): it
  // holds every scope. A default Actor holds none.
  bool holds_all_scopes = false;
  std::vector<std::string> scopes = {};  // the verified token's, over TCP

  bool Holds(std::string_view scope) const;
};

struct NewCredential {
  std::string name;
  std::string role;
  int64_t expires_at = 0;
  std::string reason;
};

struct CreatedCredential {
  storage::Credential credential;  // secret_mac cleared
  SecureString client_secret;      // shown once, never stored
};

inline constexpr int64_t kMaxCredentialLifetime = 365 * 86400;

// Longer than any client_id authd issues (22 characters: 16 random bytes,
// base64url; see Access::CreateCredential), with room for a longer format.
// Client authentication refuses a longer id before the failure limiter and
// the HMAC, so an id of any length costs neither memory nor HSM time.
inline constexpr size_t kMaxClientIdLength = 64;

// A stored row that failed its integrity check and is not honoured.
struct IntegrityFailure {
  std::string table;    // "credentials" or "allowlist"
  std::string key;      // client_id or CIDR, exactly as stored
  std::string problem;  // what is wrong with it, for the operator
  std::string resolve;  // the authctl command that removes it
};

// The HSM data object, labelled kRowsBoundLabel + ":" + audit origin, whose
// presence says this deployment's rows carry MACs: from then on a row
// without one fails. It is in the HSM, not the database, so nobody can
// unbind the rows by editing the database.
inline constexpr char kRowsBoundLabel[] = "authd-rows-bound";

// An immutable list that snapshots share until a change replaces it, so a
// credential change does not copy the allowlist.
template <typename T>
class SharedList {
 public:
  SharedList() : v_(std::make_shared<const std::vector<T>>()) {}
  explicit SharedList(std::vector<T> v)
      : v_(std::make_shared<const std::vector<T>>(std::move(v))) {}
  const std::vector<T>& get() const { return *v_; }
  auto begin() const { return v_->begin(); }
  auto end() const { return v_->end(); }
  size_t size() const { return v_->size(); }
  bool empty() const { return v_->empty(); }
  const T& operator[](size_t i) const { return (*v_)[i]; }

 private:
  std::shared_ptr<const std::vector<T>> v_;
};

class Access {
 public:
  // What a change replaces, it replaces in a copy: a snapshot never changes
  // once published, and shares with the next one what the change left alone
  // (CredentialTable shares all shards but one; the lists are shared whole).
  struct Snapshot {
    CredentialTable credentials;  // checked rows; no row MACs
    // As storage lists them (oldest first), MACs cleared.
    SharedList<storage::AllowlistEntry> allowlist;
    std::shared_ptr<const IpSet> allow = std::make_shared<const IpSet>();
    SharedList<IntegrityFailure> failures;  // rows left out, in table order
  };

  // Every change is recorded in `audit` in the same transaction. Derives
  // the row MAC key from the HSM pepper and, on the first start over a
  // database whose rows are not bound yet, binds them (see kRowsBoundLabel).
  static StatusOr<std::unique_ptr<Access>> Create(storage::Storage* storage,
                                                  audit::AuditLog* audit,
                                                  const hsm::KeyOps* keys,
                                                  const Clock* clock,
                                                  std::vector<Role> roles);

  // Records what start-up changed: keys the HSM layer just created (labels)
  // and the role set, when it differs from the one last recorded or the
  // recorded one fails its integrity check (the configuration is the truth:
  // it is recorded again, and the entry's reason says why).
  Status RecordStartup(const std::vector<std::string>& created_keys);

  std::shared_ptr<const Snapshot> Current() const { return snapshot_.load(); }
  // The role set in force; a reader keeps the set it loaded.
  std::shared_ptr<const std::vector<Role>> roles() const {
    return roles_.load();
  }
  // The role `name` of the set in force, or null. The pointer shares
  // ownership of its set, so it stays valid across SetRoles.
  std::shared_ptr<const Role> FindRole(const std::string& name) const;
  // Replaces the role set (a configuration reload). A set that differs from
  // the one last recorded is recorded first as a `roles.set` entry by the
  // system, as at start; it is in force only once recorded, so a failure
  // (the audit log refusing changes) leaves the running set.
  Status SetRoles(std::vector<Role> roles);

  // The MAC stored for a secret: HMAC-SHA256(pepper, label||id||secret).
  StatusOr<std::string> SecretMac(std::string_view client_id,
                                  std::string_view secret) const;

  // Client authentication for the token endpoint. Unknown id, wrong secret
  // and expired credential all give the same Unauthenticated status, and all
  // cost one HMAC, so neither answer nor timing tells them apart.
  StatusOr<storage::Credential> Authenticate(std::string_view client_id,
                                             std::string_view secret) const;

  // PermissionDenied, naming the scopes, when `actor` does not hold every
  // scope of the role.
  StatusOr<CreatedCredential> CreateCredential(const NewCredential& req,
                                               const Actor& actor);
  Status DeleteCredential(const std::string& client_id, const Actor& actor,
                          const std::string& reason = "");
  // Newest first.
  std::vector<storage::Credential> ListCredentials() const;

  StatusOr<storage::AllowlistEntry> AddAllowlist(
      std::string_view cidr, const Actor& actor,
      const std::string& reason = "");
  Status RemoveAllowlist(std::string_view cidr, const Actor& actor,
                         const std::string& reason = "");
  // OK, or Aborted naming the rows that failed their integrity check and
  // the commands that remove them: while any row fails, every change is
  // refused except deleting a failing credential or removing a failing
  // allowlist entry (SPEC "Security rules": a tampered row grants nothing,
  // and the operator decides what to do about it before anything else).
  Status IntegrityRefusal() const;

  // The audit log, whose trusted() says whether this state may be served.
  const audit::AuditLog* audit() const { return audit_; }
  bool Allowed(const IpAddress& addr) const {
    return snapshot_.load()->allow->Contains(addr);
  }

 private:
  Access(storage::Storage* storage, audit::AuditLog* audit,
         const hsm::KeyOps* keys, const Clock* clock, std::vector<Role> roles)
      : storage_(storage),
        audit_(audit),
        keys_(keys),
        clock_(clock),
        roles_(std::make_shared<const std::vector<Role>>(std::move(roles))) {}
  // The current snapshot with one committed change applied.
  using Apply = std::function<StatusOr<Snapshot>(const Snapshot&)>;
  // Commits `change` with its audit entry (possibly in one batch with other
  // changes), then puts it in force with PutInForce(apply) before
  // returning. `change` gets the seq the entry will have (the row's
  // audit_seq).
  Status Commit(
      const std::function<Status(storage::Transaction&, uint64_t seq)>& change,
      audit::AuditEvent event, const Actor& actor, const Apply& apply);
  // Publishes the snapshot `apply` makes of the current one: O(change), not
  // O(rows). While rows fail their check, or if `apply` fails, the snapshot
  // is rebuilt from storage instead. REQUIRES: called by the audit log once
  // the change committed (in commit order, one at a time).
  void PutInForce(const Apply& apply);
  // Rebuilds the snapshot from storage and publishes it.
  // REQUIRES: in PutInForce, or construction.
  Status Reload();
  // Logs the failures `snap` adds and makes it current.
  // REQUIRES: in PutInForce, or construction.
  void Publish(std::shared_ptr<const Snapshot> snap);

  // Row integrity (access_integrity.cc).
  // Binds every row without a MAC unless the HSM says rows are bound.
  // REQUIRES: construction.
  Status BindRows();
  // Gives each row without a MAC its MAC, as one rows.bind change; `*bound`
  // counts them. REQUIRES: construction.
  Status BindStoredRows(size_t* bound);
  // Reads every credential (streamed, one row at a time) into `table`, and
  // the rows that fail their check into `failures`.
  Status LoadCredentials(CredentialTable* table,
                         std::vector<IntegrityFailure>* failures) const;
  // The same for the allowlist; MACs are cleared once checked.
  Status LoadAllowlist(std::vector<storage::AllowlistEntry>* allow,
                       std::vector<IntegrityFailure>* failures) const;
  // Why `row` is not honoured, or "" when it is: no MAC (once rows are
  // bound), a MAC that does not match, or an audit entry in `removals` (the
  // latest seq per key) that removed `key` after the row was written.
  template <typename Row>
  std::string RowProblem(
      const Row& row, const std::string& key,
      const std::unordered_map<std::string, uint64_t>& removals,
      const char* removed) const;
  // The role-set row's problem, as RowProblem; "" when there is none.
  StatusOr<std::string> RoleSetProblem(const storage::BoundMeta& row) const;
  // Stores the role set as recorded by the roles.set entry `seq`, bound.
  // Whatever records a role set writes it through here.
  Status StoreRoleSet(storage::Transaction& tx, const std::string& roles_text,
                      uint64_t seq) const;
  // The roles.set entry for the configured set, or nullopt when the
  // recorded set is this one and intact.
  StatusOr<std::optional<audit::AuditEvent>> RoleSetEvent(
      const std::string& roles_text);
  // Logs each failure not already in `before` (null at load).
  static void LogFailures(const Snapshot* before, const Snapshot& now);
  std::string RowsBoundLabel() const;

  storage::Storage* storage_;
  audit::AuditLog* audit_;
  const hsm::KeyOps* keys_;
  const Clock* clock_;
  std::atomic<std::shared_ptr<const std::vector<Role>>> roles_;
  std::unique_ptr<RowMac> row_mac_;  // set by Create
  // Whether a row without a MAC fails: set by Create once the HSM records
  // that rows are bound (false only while the audit log is refused, when
  // nothing is bound and nothing is served).
  bool rows_bound_ = false;
  // Makes checking whether the role set needs a roles.set entry and
  // recording it one step (SetRoles, RecordStartup).
  std::mutex roles_mu_;
  std::atomic<std::shared_ptr<const Snapshot>> snapshot_;
};

// Name rule: 1–64 printable characters (UTF-8, no control characters).
Status ValidateCredentialName(std::string_view name);
// A change's free-text justification: at most 1,024 printable characters.
Status ValidateReason(std::string_view reason);

}  // namespace authd::authority

#endif  // AUTHD_AUTHORITY_ACCESS_H_
