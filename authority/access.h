// Access: the one place the rules of API access live — client credentials,
// roles and the IP allowlist — for both the TCP admin API and the admin
// socket, and for the token endpoint that reads them.
//
// Reads come from an immutable Snapshot published with an atomic shared_ptr:
// the token path never takes a lock or touches the database. Writes are
// serialized, committed to Storage first, and published before the call
// returns, so a change is in force on every thread once it is acknowledged.
// The role set is published the same way, apart from the snapshot: the
// configuration owns it and SetRoles (a reload) replaces it whole.
#ifndef AUTHD_AUTHORITY_ACCESS_H_
#define AUTHD_AUTHORITY_ACCESS_H_

#include <atomic>
#include <memory>
#include <mutex>
#include <string>
#include <unordered_map>
#include <vector>

#include "audit/audit_log.h"
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

class Access {
 public:
  struct Snapshot {
    std::unordered_map<std::string, storage::Credential> credentials;
    std::vector<std::string> newest_first;  // client_ids, as storage lists them
    std::vector<storage::AllowlistEntry> allowlist;
    IpSet allow;
  };

  // Every change is recorded in `audit` in the same transaction.
  static StatusOr<std::unique_ptr<Access>> Create(storage::Storage* storage,
                                                  audit::AuditLog* audit,
                                                  const hsm::KeyOps* keys,
                                                  const Clock* clock,
                                                  std::vector<Role> roles);

  // Records what start-up changed: keys the HSM layer just created (labels)
  // and the role set, when it differs from the one last recorded.
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
  // The audit log, whose trusted() says whether this state may be served.
  const audit::AuditLog* audit() const { return audit_; }
  bool Allowed(const IpAddress& addr) const {
    return snapshot_.load()->allow.Contains(addr);
  }

 private:
  Access(storage::Storage* storage, audit::AuditLog* audit,
         const hsm::KeyOps* keys, const Clock* clock, std::vector<Role> roles)
      : storage_(storage),
        audit_(audit),
        keys_(keys),
        clock_(clock),
        roles_(std::make_shared<const std::vector<Role>>(std::move(roles))) {}
  // Commits `change` with its audit entry, then republishes the snapshot.
  // REQUIRES: write_mu_ held.
  Status Commit(const std::function<Status(storage::Transaction&)>& change,
                audit::AuditEvent event, const Actor& actor);
  // Rebuilds the snapshot from storage and publishes it.
  // REQUIRES: write_mu_ held (or construction).
  Status Reload();

  storage::Storage* storage_;
  audit::AuditLog* audit_;
  const hsm::KeyOps* keys_;
  const Clock* clock_;
  std::atomic<std::shared_ptr<const std::vector<Role>>> roles_;
  std::mutex write_mu_;
  std::atomic<std::shared_ptr<const Snapshot>> snapshot_;
};

// Name rule: 1–64 printable characters (UTF-8, no control characters).
Status ValidateCredentialName(std::string_view name);
// A change's free-text justification: at most 1,024 printable characters.
Status ValidateReason(std::string_view reason);

}  // namespace authd::authority

#endif  // AUTHD_AUTHORITY_ACCESS_H_
