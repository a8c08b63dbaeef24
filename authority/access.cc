#include "authority/access.h"

#include <malloc.h>
#include <openssl/crypto.h>

#include <algorithm>

#include "common/encoding.h"
#include "common/log.h"

namespace authd::authority {
namespace {

constexpr std::string_view kMacLabel{"authd-client-secret-v1\0", 23};
constexpr size_t kSecretBytes = 32;  // 256 bits, SPEC "Security rules"
constexpr size_t kClientIdBytes = 16;
static_assert((kClientIdBytes * 4 + 2) / 3 <= kMaxClientIdLength,
              "issued client ids must fit under kMaxClientIdLength");

}  // namespace

std::vector<Role> DefaultRoles() {
  return {
      {"owner",
       "Instance owner: manages credentials, the allowlist and keys.",
       {"admin:read", "admin:write", "audit:read", "data:read",
        "devices:control", "tokens:introspect"}},
      {"auditor",
       "Reads the configuration and the audit log.",
       {"admin:read", "audit:read"}},
      {"operator",
       "Reads site and device data and controls devices.",
       {"data:read", "devices:control"}},
      {"viewer", "Reads site and device data.", {"data:read"}},
      {"resource-server",
       "A service that asks whether an access token is active (RFC 7662).",
       {"tokens:introspect"}},
  };
}

bool Actor::Holds(std::string_view scope) const {
  return holds_all_scopes ||
         std::find(scopes.begin(), scopes.end(), scope) != scopes.end();
}

namespace {

// SPEC "Security rules": granting a role needs every scope of it, so no
// caller can mint a credential stronger than itself.
Status CheckGrant(const Role& role, const Actor& actor) {
  std::string missing;
  for (const std::string& s : role.scopes) {
    if (!actor.Holds(s)) missing += (missing.empty() ? "" : " ") + s;
  }
  if (missing.empty()) return Status::Ok();
  return Status::PermissionDenied(
      "granting role '" + role.name +
      "' needs scopes the caller does not hold: " + missing);
}

Status CheckExpiry(int64_t expires_at, int64_t now) {
  if (expires_at <= now) {
    return Status::InvalidArgument("expires_at must be in the future");
  }
  if (expires_at - now > kMaxCredentialLifetime) {
    return Status::InvalidArgument(
        "expires_at must be at most 365 days from now");
  }
  return Status::Ok();
}

// The role set as recorded (meta "roles" and the roles.set entry): a JSON
// array in the configuration's order.
std::string RolesText(const std::vector<Role>& roles) {
  nlohmann::json out = nlohmann::json::array();
  for (const Role& r : roles) {
    out.push_back({{"name", r.name},
                   {"description", r.description},
                   {"scopes", r.scopes}});
  }
  return out.dump();
}

}  // namespace

Status ValidateCredentialName(std::string_view name) {
  return ValidatePrintable("name", name, 1, 64);
}

Status ValidateReason(std::string_view reason) {
  return ValidatePrintable("reason", reason, 0, 1024);
}

StatusOr<std::unique_ptr<Access>> Access::Create(storage::Storage* storage,
                                                 audit::AuditLog* audit,
                                                 const hsm::KeyOps* keys,
                                                 const Clock* clock,
                                                 std::vector<Role> roles) {
  std::unique_ptr<Access> access(
      new Access(storage, audit, keys, clock, std::move(roles)));
  ASSIGN_OR_RETURN(access->row_mac_, RowMac::Derive(*keys));
  RETURN_IF_ERROR(access->BindRows());
  RETURN_IF_ERROR(access->Reload());
  // The load's temporaries (SQLite's rows, the shards' growth slack) are
  // freed but glibc keeps most of them mapped; give them back, so resident
  // memory is what the snapshot holds (issue 13: a million credentials in
  // under 256 MiB).
  malloc_trim(0);
  return access;
}

namespace {

// The key.create entries not yet recorded for the fixed keys.
StatusOr<std::vector<audit::AuditEvent>> KeyCreateEvents(
    const audit::AuditLog& audit, const hsm::KeyOps& keys,
    const std::vector<std::string>& created_keys) {
  std::vector<audit::AuditEvent> events;
  // Every fixed key gets its key.create entry once, whichever start made
  // it: a start that created a key and died before recording it is caught
  // up by the next one.
  for (const char* label :
       {hsm::kTokenKeyLabel, hsm::kAuditKeyLabel, hsm::kPepperLabel}) {
    storage::AuditFilter f;
    f.action = "key.create";
    f.target = label;
    f.limit = 1;
    ASSIGN_OR_RETURN(std::vector<storage::AuditRecord> seen, audit.List(f));
    if (!seen.empty()) continue;
    bool now = std::find(created_keys.begin(), created_keys.end(), label) !=
               created_keys.end();
    audit::AuditEvent e{"system", "local", "key.create", label, {}, ""};
    e.reason = now ? "created at start" : "found in the HSM at start";
    if (label == hsm::kTokenKeyLabel) {
      e.values = {{"use", "token"},
                  {"kid", keys.Public(hsm::KeyUse::kToken).kid()},
                  {"algorithm", "ES256"}};
    } else if (label == hsm::kAuditKeyLabel) {
      e.values = {{"use", "audit"},
                  {"kid", keys.Public(hsm::KeyUse::kAudit).kid()},
                  {"algorithm", "ES256"}};
    } else {
      e.values = {{"use", "pepper"}, {"algorithm", "HMAC-SHA256"}};
    }
    events.push_back(std::move(e));
  }
  return events;
}

}  // namespace

Status Access::RecordStartup(const std::vector<std::string>& created_keys) {
  ASSIGN_OR_RETURN(std::vector<audit::AuditEvent> events,
                   KeyCreateEvents(*audit_, *keys_, created_keys));
  std::string roles_text = RolesText(*roles_.load());
  ASSIGN_OR_RETURN(std::optional<audit::AuditEvent> roles_set,
                   RoleSetEvent(roles_text));
  if (roles_set) events.push_back(std::move(*roles_set));
  if (events.empty()) return Status::Ok();
  std::lock_guard<std::mutex> lock(roles_mu_);
  return audit_->Record(
      [&](storage::Transaction& tx, uint64_t first_seq) -> Status {
        // The roles.set entry is the batch's last.
        return roles_set
                   ? StoreRoleSet(tx, roles_text, first_seq + events.size() - 1)
                   : Status::Ok();
      },
      events);
}

Status Access::Commit(
    const std::function<Status(storage::Transaction&, uint64_t)>& change,
    audit::AuditEvent event, const Actor& actor, const Apply& apply) {
  event.actor = actor.id;
  event.source = actor.address;
  return audit_->Record(change, {event}, [&] { PutInForce(apply); });
}

void Access::PutInForce(const Apply& apply) {
  // Changes are put in force in the order they committed (the audit log
  // calls this in seq order, one at a time), so the snapshot is the one
  // this change was made against.
  std::shared_ptr<const Snapshot> before = snapshot_.load();
  if (before->failures.empty()) {
    try {
      StatusOr<Snapshot> next = apply(*before);
      if (next.ok()) {
        Publish(std::make_shared<const Snapshot>(std::move(*next)));
        return;
      }
    } catch (const std::exception&) {
      // Out of memory copying a list: the rebuild below may yet succeed.
    }
  }
  // A change that resolves a failing row, or one the snapshot could not
  // take: rebuild from storage, which has the change.
  Status st = Reload();
  if (!st.ok()) st = Reload();
  if (!st.ok()) {
    // The change is committed and audited but cannot be put in force: stop
    // rather than serve a stale allowlist or a deleted credential; systemd
    // restarts authd, which loads the committed state.
    Log(LogLevel::kError,
        "event=fatal msg=\"committed change not loaded: %s; stopping\"",
        LogSafe(st.message()).c_str());
    std::abort();
  }
}

namespace {

StatusOr<std::shared_ptr<const IpSet>> AllowSet(
    const std::vector<storage::AllowlistEntry>& allowlist) {
  std::vector<Cidr> cidrs;
  cidrs.reserve(allowlist.size());
  for (const auto& e : allowlist) {
    StatusOr<Cidr> c = Cidr::Parse(e.cidr);
    if (!c.ok()) {
      return Status::Internal("stored allowlist entry is invalid: " +
                              c.status().message());
    }
    cidrs.push_back(*c);
  }
  return std::make_shared<const IpSet>(IpSet::Build(cidrs));
}

}  // namespace

Status Access::Reload() {
  auto snap = std::make_shared<Snapshot>();
  std::vector<IntegrityFailure> failures;
  std::vector<storage::AllowlistEntry> allowlist;
  RETURN_IF_ERROR(LoadCredentials(&snap->credentials, &failures));
  RETURN_IF_ERROR(LoadAllowlist(&allowlist, &failures));
  ASSIGN_OR_RETURN(snap->allow, AllowSet(allowlist));
  snap->allowlist = SharedList(std::move(allowlist));
  snap->failures = SharedList(std::move(failures));
  Publish(std::move(snap));
  return Status::Ok();
}

void Access::Publish(std::shared_ptr<const Snapshot> snap) {
  std::shared_ptr<const Snapshot> before = snapshot_.load();
  LogFailures(before.get(), *snap);
  snapshot_.store(std::move(snap));
}

std::shared_ptr<const Role> Access::FindRole(const std::string& name) const {
  std::shared_ptr<const std::vector<Role>> roles = roles_.load();
  for (const Role& r : *roles) {
    // Aliasing: owns the set, points at the role; no allocation.
    if (r.name == name) return std::shared_ptr<const Role>(roles, &r);
  }
  return nullptr;
}

Status Access::SetRoles(std::vector<Role> roles) {
  auto next = std::make_shared<const std::vector<Role>>(std::move(roles));
  std::string text = RolesText(*next);
  std::lock_guard<std::mutex> lock(roles_mu_);
  ASSIGN_OR_RETURN(std::optional<audit::AuditEvent> event, RoleSetEvent(text));
  if (event) {
    if (event->reason.empty()) event->reason = "configuration reloaded";
    RETURN_IF_ERROR(audit_->Record(
        [&](storage::Transaction& tx, uint64_t seq) {
          return StoreRoleSet(tx, text, seq);
        },
        {*event}));
  }
  roles_.store(std::move(next));
  return Status::Ok();
}

StatusOr<std::string> Access::SecretMac(std::string_view client_id,
                                        std::string_view secret) const {
  SecureString input;
  input.reserve(kMacLabel.size() + client_id.size() + 1 + secret.size());
  input.append(kMacLabel.data(), kMacLabel.size());
  input.append(client_id.data(), client_id.size());
  input.push_back('\0');
  input.append(secret.data(), secret.size());
  return keys_->HmacPepper(input.view());
}

StatusOr<storage::Credential> Access::Authenticate(
    std::string_view client_id, std::string_view secret) const {
  std::shared_ptr<const Snapshot> snap = snapshot_.load();
  auto it = snap->credentials.find(client_id);
  const CredentialTable::Ref* cred =
      it == snap->credentials.end() ? nullptr : &it->second;
  // Always spend the MAC so an unknown id costs what a known one does.
  ASSIGN_OR_RETURN(std::string mac, SecretMac(client_id, secret));
  static const std::string kNoMac(32, '\0');
  std::string_view want = cred ? cred->secret_mac : kNoMac;
  bool match = want.size() == mac.size() &&
               CRYPTO_memcmp(want.data(), mac.data(), mac.size()) == 0;
  if (!cred || !match || cred->expires_at <= clock_->NowSeconds()) {
    return Status::Unauthenticated("client authentication failed");
  }
  return cred->ToCredential();
}

namespace {

// A new client id and secret from one HSM draw: every HSM call a writer
// makes before its change is queued competes for the token with the batch
// being committed (its signature and head writes).
StatusOr<CreatedCredential> NewIdentity(const hsm::KeyOps& keys) {
  ASSIGN_OR_RETURN(std::string drawn,
                   keys.Random(kClientIdBytes + kSecretBytes));
  std::string_view bytes(drawn);
  CreatedCredential out;
  out.client_secret =
      SecureString("authd_s_" + Base64UrlEncode(bytes.substr(kClientIdBytes)));
  out.credential.client_id = Base64UrlEncode(bytes.substr(0, kClientIdBytes));
  OPENSSL_cleanse(drawn.data(), drawn.size());
  return out;
}

}  // namespace

StatusOr<CreatedCredential> Access::CreateCredential(const NewCredential& req,
                                                     const Actor& actor) {
  RETURN_IF_ERROR(ValidateCredentialName(req.name));
  RETURN_IF_ERROR(ValidateReason(req.reason));
  std::shared_ptr<const Role> role = FindRole(req.role);
  if (role == nullptr) {
    std::string known;
    for (const Role& r : *roles())
      known += (known.empty() ? "" : ", ") + r.name;
    return Status::InvalidArgument("role '" + req.role +
                                   "' does not exist; known roles: " + known);
  }
  RETURN_IF_ERROR(CheckGrant(*role, actor));
  int64_t now = clock_->NowSeconds();
  RETURN_IF_ERROR(CheckExpiry(req.expires_at, now));
  RETURN_IF_ERROR(IntegrityRefusal());  // before spending the HSM's time
  ASSIGN_OR_RETURN(CreatedCredential out, NewIdentity(*keys_));
  storage::Credential& c = out.credential;
  c.name = req.name;
  c.role = req.role;
  c.created_at = now;
  c.expires_at = req.expires_at;
  c.created_by = actor.id;
  ASSIGN_OR_RETURN(c.secret_mac,
                   SecretMac(c.client_id, out.client_secret.view()));
  Status st = Commit(
      [&](storage::Transaction& tx, uint64_t seq) -> Status {
        RETURN_IF_ERROR(IntegrityRefusal());  // the snapshot in force now
        c.audit_seq = seq;
        ASSIGN_OR_RETURN(c.mac, row_mac_->Of(c));
        return tx.InsertCredential(c);
      },
      {"",
       "",
       "credential.create",
       c.client_id,
       {{"name", c.name},
        {"role", c.role},
        {"expires_at", FormatRfc3339(c.expires_at)}},
       req.reason},
      actor,
      [&](const Snapshot& s) -> StatusOr<Snapshot> {
        Snapshot next = s;
        ASSIGN_OR_RETURN(next.credentials, s.credentials.With(c));
        return next;
      });
  RETURN_IF_ERROR(st);
  c.secret_mac.clear();
  c.mac.clear();
  return out;
}

namespace {

const IntegrityFailure* FindFailure(const Access::Snapshot& snap,
                                    std::string_view table,
                                    std::string_view key) {
  for (const IntegrityFailure& f : snap.failures) {
    if (f.table == table && f.key == key) return &f;
  }
  return nullptr;
}

// The audit values of a change that removes a failing row: its own columns
// are not to be trusted, so only what was wrong with it.
std::map<std::string, std::string> FailureValues(const IntegrityFailure& f) {
  return {{"integrity", "the row failed its integrity check: it " + f.problem}};
}

}  // namespace

Status Access::DeleteCredential(const std::string& client_id,
                                const Actor& actor, const std::string& reason) {
  RETURN_IF_ERROR(ValidateReason(reason));
  std::map<std::string, std::string> values;
  auto snap = snapshot_.load();
  if (const IntegrityFailure* f =
          FindFailure(*snap, "credentials", client_id)) {
    values = FailureValues(*f);  // how the operator resolves it
  } else {
    RETURN_IF_ERROR(IntegrityRefusal());
    if (auto it = snap->credentials.find(client_id);
        it != snap->credentials.end()) {
      values = {{"name", std::string(it->second.name)},
                {"role", std::string(it->second.role)}};
    }
  }
  return Commit([&](storage::Transaction& tx,
                    uint64_t) { return tx.DeleteCredential(client_id); },
                {"", "", "credential.delete", client_id, values, reason}, actor,
                [&](const Snapshot& s) -> StatusOr<Snapshot> {
                  Snapshot next = s;
                  next.credentials = s.credentials.Without(client_id);
                  return next;
                });
}

std::vector<storage::Credential> Access::ListCredentials() const {
  std::shared_ptr<const Snapshot> snap = snapshot_.load();
  std::vector<storage::Credential> out = snap->credentials.NewestFirst();
  for (storage::Credential& c : out) c.secret_mac.clear();
  return out;
}

StatusOr<storage::AllowlistEntry> Access::AddAllowlist(
    std::string_view text, const Actor& actor, const std::string& reason) {
  RETURN_IF_ERROR(ValidateReason(reason));
  ASSIGN_OR_RETURN(Cidr cidr, Cidr::Parse(text));
  storage::AllowlistEntry e{cidr.ToString(), clock_->NowSeconds(), actor.id};
  Status st = Commit(
      [&](storage::Transaction& tx, uint64_t seq) -> Status {
        RETURN_IF_ERROR(IntegrityRefusal());  // the snapshot in force now
        e.audit_seq = seq;
        ASSIGN_OR_RETURN(e.mac, row_mac_->Of(e));
        return tx.InsertAllowlist(e);
      },
      {"", "", "allowlist.add", e.cidr, {}, reason}, actor,
      [&](const Snapshot& s) -> StatusOr<Snapshot> {
        // Where storage lists it: by created_at, then insertion.
        std::vector<storage::AllowlistEntry> list = s.allowlist.get();
        auto at = std::upper_bound(
            list.begin(), list.end(), e.created_at,
            [](int64_t t, const auto& x) { return t < x.created_at; });
        list.insert(at, e)->mac.clear();
        Snapshot next = s;
        ASSIGN_OR_RETURN(next.allow, AllowSet(list));
        next.allowlist = SharedList(std::move(list));
        return next;
      });
  if (st.code() == StatusCode::kAlreadyExists) {
    return Status::AlreadyExists(e.cidr + " is already on the allowlist");
  }
  RETURN_IF_ERROR(st);
  e.mac.clear();
  return e;
}

Status Access::RemoveAllowlist(std::string_view text, const Actor& actor,
                               const std::string& reason) {
  RETURN_IF_ERROR(ValidateReason(reason));
  auto snap = snapshot_.load();
  // A failing row is found by its stored text first: a forged one need not
  // even parse.
  const IntegrityFailure* failed = FindFailure(*snap, "allowlist", text);
  std::string key(text);
  if (failed == nullptr) {
    ASSIGN_OR_RETURN(Cidr cidr, Cidr::Parse(text));
    key = cidr.ToString();
    failed = FindFailure(*snap, "allowlist", key);
  }
  if (failed == nullptr) RETURN_IF_ERROR(IntegrityRefusal());
  return Commit(
      [&](storage::Transaction& tx, uint64_t) {
        return tx.DeleteAllowlist(key);
      },
      {"", "", "allowlist.remove", key,
       failed ? FailureValues(*failed) : std::map<std::string, std::string>{},
       reason},
      actor,
      [&](const Snapshot& s) -> StatusOr<Snapshot> {
        std::vector<storage::AllowlistEntry> list = s.allowlist.get();
        std::erase_if(list, [&](const auto& x) { return x.cidr == key; });
        Snapshot next = s;
        ASSIGN_OR_RETURN(next.allow, AllowSet(list));
        next.allowlist = SharedList(std::move(list));
        return next;
      });
}

}  // namespace authd::authority
