// Access's row integrity: binding the stored rows to the HSM, checking them
// whenever the snapshot is built, and refusing changes while one fails. The
// MACs themselves are in authority/row_mac.h; docs/architecture.md ("Rows
// bound to the HSM") explains the design.
#include <unordered_set>

#include "authority/access.h"  // implements part of Access
#include "common/log.h"

namespace authd::authority {
namespace {

constexpr size_t kShownKeyBytes = 200;
// Failures named in a refusal message; authctl status lists them all.
constexpr size_t kNamedInRefusal = 3;
// Log lines at one load, so that a database whose every row was garbled
// cannot flood the journal; the summary line gives the count.
constexpr size_t kLoggedFailures = 1000;

// A stored key as it may appear in a log line, a message or a command:
// whoever edited the database chose it.
std::string Shown(const std::string& key) {
  std::string out = LogSafe(key.substr(0, kShownKeyBytes));
  if (key.size() > kShownKeyBytes) out += "...";
  return out;
}

uint64_t SeqOf(const std::unordered_map<std::string, uint64_t>& seqs,
               const std::string& key) {
  auto it = seqs.find(key);
  return it == seqs.end() ? 0 : it->second;
}

}  // namespace

std::string Access::RowsBoundLabel() const {
  return std::string(kRowsBoundLabel) + ":" + audit_->origin();
}

Status Access::BindRows() {
  ASSIGN_OR_RETURN(std::vector<std::string> marks,
                   keys_->ReadData(RowsBoundLabel()));
  if (!marks.empty()) {
    rows_bound_ = true;
    return Status::Ok();
  }
  if (!audit_->trusted()) {
    // A database that may have been restored or replaced is not vouched
    // for; nothing is served from it either. Its rows are bound at the first
    // start after the operator accepts it.
    Log(LogLevel::kWarn,
        "event=integrity msg=\"rows are not bound to the HSM yet: the audit "
        "log refuses changes\"");
    return Status::Ok();
  }
  size_t bound = 0;
  RETURN_IF_ERROR(BindStoredRows(&bound));
  // Only after the MACs are committed: a start that dies in between binds
  // the rest next time.
  RETURN_IF_ERROR(
      keys_->WriteData(RowsBoundLabel(), "bound")
          .WithContext("cannot record in the HSM that rows are bound"));
  rows_bound_ = true;
  if (bound > 0) {
    Log(LogLevel::kNotice,
        "event=integrity msg=\"bound %zu stored rows to the HSM\"", bound);
  }
  return Status::Ok();
}

// The first start over a database written before rows were bound: every row
// without a MAC gets one, with the seq of the latest entry that created it
// (0 if the log has none), in one change recorded as rows.bind.
Status Access::BindStoredRows(size_t* bound) {
  ASSIGN_OR_RETURN(std::vector<storage::Credential> creds,
                   storage_->ListCredentials());
  ASSIGN_OR_RETURN(std::vector<storage::AllowlistEntry> allow,
                   storage_->ListAllowlist());
  ASSIGN_OR_RETURN(std::optional<storage::BoundMeta> roles,
                   storage_->GetBoundMeta("roles"));
  std::erase_if(creds, [](const auto& c) { return !c.mac.empty(); });
  std::erase_if(allow, [](const auto& e) { return !e.mac.empty(); });
  if (roles && !roles->mac.empty()) roles.reset();
  *bound = creds.size() + allow.size() + (roles ? 1 : 0);
  if (*bound == 0) return Status::Ok();
  ASSIGN_OR_RETURN(auto created,
                   storage_->LatestAuditSeqByTarget("credential.create"));
  ASSIGN_OR_RETURN(auto added,
                   storage_->LatestAuditSeqByTarget("allowlist.add"));
  ASSIGN_OR_RETURN(auto set, storage_->LatestAuditSeqByTarget("roles.set"));
  audit::AuditEvent event{
      "system",
      "local",
      "rows.bind",
      "rows",
      {{"credentials", std::to_string(creds.size())},
       {"allowlist", std::to_string(allow.size())},
       {"roles", roles ? "1" : "0"}},
      "first start with rows bound to the HSM: the stored rows get their "
      "MACs"};
  return audit_->Record(
      [&](storage::Transaction& tx) -> Status {
        for (storage::Credential& c : creds) {
          c.audit_seq = SeqOf(created, c.client_id);
          ASSIGN_OR_RETURN(c.mac, row_mac_->Of(c));
          RETURN_IF_ERROR(tx.BindCredential(c.client_id, c.audit_seq, c.mac));
        }
        for (storage::AllowlistEntry& e : allow) {
          e.audit_seq = SeqOf(added, e.cidr);
          ASSIGN_OR_RETURN(e.mac, row_mac_->Of(e));
          RETURN_IF_ERROR(tx.BindAllowlist(e.cidr, e.audit_seq, e.mac));
        }
        if (!roles) return Status::Ok();
        roles->audit_seq = SeqOf(set, roles->key);
        ASSIGN_OR_RETURN(roles->mac, row_mac_->Of(*roles));
        return tx.PutBoundMeta(*roles);
      },
      {event});
}

template <typename Row>
std::string Access::RowProblem(
    const Row& row, const std::string& key,
    const std::unordered_map<std::string, uint64_t>& removals,
    const char* removed) const {
  if (row.mac.empty()) {
    return rows_bound_ ? "has no integrity MAC (written outside authd, or "
                         "restored from a copy made before rows were bound)"
                       : "";
  }
  if (!row_mac_->Matches(row)) {
    return "does not match its integrity MAC (edited outside authd)";
  }
  // The row is genuine, but was it removed since? Then it was copied back
  // from an older copy of the database.
  if (auto it = removals.find(key);
      it != removals.end() && it->second > row.audit_seq) {
    return std::string(removed) + " by audit entry " +
           std::to_string(it->second) +
           " (copied back from an older copy of the database)";
  }
  return "";
}

Status Access::LoadCredentials(CredentialTable* table,
                               std::vector<IntegrityFailure>* failures) const {
  ASSIGN_OR_RETURN(auto deleted,
                   storage_->LatestAuditSeqByTarget("credential.delete"));
  CredentialTable::Builder builder;
  RETURN_IF_ERROR(
      storage_->ForEachCredential([&](const storage::Credential& c) -> Status {
        std::string problem =
            RowProblem(c, c.client_id, deleted, "was deleted");
        if (problem.empty()) {
          Status added = builder.Add(c);
          if (added.ok()) return Status::Ok();
          problem = added.message();
        }
        failures->push_back(
            {"credentials", c.client_id, std::move(problem),
             "authctl credential delete " + Shown(c.client_id)});
        return Status::Ok();
      }));
  *table = std::move(builder).Build();
  return Status::Ok();
}

Status Access::LoadAllowlist(std::vector<storage::AllowlistEntry>* allow,
                             std::vector<IntegrityFailure>* failures) const {
  ASSIGN_OR_RETURN(auto removed,
                   storage_->LatestAuditSeqByTarget("allowlist.remove"));
  ASSIGN_OR_RETURN(*allow, storage_->ListAllowlist());
  std::erase_if(*allow, [&](const storage::AllowlistEntry& e) {
    std::string problem = RowProblem(e, e.cidr, removed, "was removed");
    if (problem.empty()) return false;
    failures->push_back({"allowlist", e.cidr, std::move(problem),
                         "authctl allowlist remove " + Shown(e.cidr)});
    return true;
  });
  for (storage::AllowlistEntry& e : *allow) {
    e.mac.clear();
    e.mac.shrink_to_fit();
  }
  return Status::Ok();
}

StatusOr<std::string> Access::RoleSetProblem(
    const storage::BoundMeta& row) const {
  ASSIGN_OR_RETURN(auto set, storage_->LatestAuditSeqByTarget("roles.set"));
  return RowProblem(row, row.key, set, "was replaced");
}

Status Access::StoreRoleSet(storage::Transaction& tx,
                            const std::string& roles_text, uint64_t seq) const {
  storage::BoundMeta row{"roles", roles_text, seq};
  ASSIGN_OR_RETURN(row.mac, row_mac_->Of(row));
  return tx.PutBoundMeta(row);
}

StatusOr<std::optional<audit::AuditEvent>> Access::RoleSetEvent(
    const std::string& roles_text) {
  ASSIGN_OR_RETURN(std::optional<storage::BoundMeta> recorded,
                   storage_->GetBoundMeta("roles"));
  std::string problem;
  if (recorded) {
    ASSIGN_OR_RETURN(problem, RoleSetProblem(*recorded));
  }
  if (recorded && problem.empty() && recorded->value == roles_text) {
    return std::optional<audit::AuditEvent>();
  }
  audit::AuditEvent e{
      "system", "local", "roles.set", "roles", {{"roles", roles_text}}, ""};
  if (!problem.empty()) {
    // The configuration is the truth: record it again. Nothing is blocked,
    // as the stored set grants nothing by itself.
    e.reason = "the recorded role set failed its integrity check: it " +
               problem + "; recorded again from the configuration";
    Log(LogLevel::kWarn,
        "event=integrity table=meta key=roles msg=\"the recorded role set %s; "
        "recording it again from the configuration\"",
        problem.c_str());
  }
  return std::optional<audit::AuditEvent>(std::move(e));
}

void Access::LogFailures(const Snapshot* before, const Snapshot& now) {
  std::unordered_set<std::string> known;
  if (before != nullptr) {
    for (const IntegrityFailure& f : before->failures) {
      known.insert(f.table + '\0' + f.key + '\0' + f.problem);
    }
  }
  size_t logged = 0, fresh = 0;
  for (const IntegrityFailure& f : now.failures) {
    if (known.count(f.table + '\0' + f.key + '\0' + f.problem)) continue;
    ++fresh;
    if (++logged > kLoggedFailures) continue;
    Log(LogLevel::kError,
        "event=integrity table=%s key=%s msg=\"row not honoured: it %s; "
        "resolve with: %s\"",
        f.table.c_str(), Shown(f.key).c_str(), f.problem.c_str(),
        f.resolve.c_str());
  }
  if (fresh == 0) return;
  size_t n = now.failures.size();
  std::string count = n == 1 ? "1 stored row failed its integrity check and "
                               "is not honoured"
                             : std::to_string(n) +
                                   " stored rows failed their integrity check "
                                   "and are not honoured";
  if (logged > kLoggedFailures) {
    count += " (" + std::to_string(kLoggedFailures) + " logged)";
  }
  Log(LogLevel::kError,
      "event=integrity msg=\"%s; changes are refused until each is removed "
      "(authctl status lists them)\"",
      count.c_str());
}

Status Access::IntegrityRefusal() const {
  std::shared_ptr<const Snapshot> snap = snapshot_.load();
  const std::vector<IntegrityFailure>& failures = snap->failures.get();
  if (failures.empty()) return Status::Ok();
  std::string msg =
      "changes are refused while stored rows fail their integrity check: ";
  for (size_t i = 0; i < failures.size() && i < kNamedInRefusal; ++i) {
    const IntegrityFailure& f = failures[i];
    msg += (i ? "; " : "") + f.table + " " + Shown(f.key) + " " + f.problem +
           "; remove it with: " + f.resolve;
  }
  if (failures.size() > kNamedInRefusal) {
    msg += "; and " + std::to_string(failures.size() - kNamedInRefusal) +
           " more (authctl status lists them all)";
  }
  return Status::Aborted(msg);
}

}  // namespace authd::authority
