#include "audit/audit_log.h"

#include <cstdio>

#include "audit/checkpoint.h"
#include "common/encoding.h"
#include "common/log.h"

namespace authd::audit {
namespace {

constexpr char kFrontierKey[] = "audit_frontier";
constexpr char kOriginKey[] = "audit_origin";

// The database's origin as it may appear in a log line: whoever wrote the
// database chose it, so only printable ASCII without quotes, and not much.
std::string Printable(const std::string& s) {
  std::string out = s.substr(0, 100);
  for (char& c : out) {
    if (c <= ' ' || c > '~' || c == '"' || c == '\\') c = '?';
  }
  return out;
}

}  // namespace

StatusOr<std::unique_ptr<AuditLog>> AuditLog::Open(storage::Storage* storage,
                                                   const hsm::KeyOps* keys,
                                                   const Clock* clock,
                                                   std::string origin,
                                                   std::string version) {
  std::unique_ptr<AuditLog> log(new AuditLog(
      storage, keys, clock, std::move(origin), std::move(version)));
  RETURN_IF_ERROR(log->Load());
  log->refused_.store(!log->refusal().empty(), std::memory_order_release);
  return log;
}

Status AuditLog::Load() {
  std::lock_guard<std::mutex> lock(mu_);
  ASSIGN_OR_RETURN(std::optional<std::string> f,
                   storage_->GetMeta(kFrontierKey));
  if (f) {
    ASSIGN_OR_RETURN(frontier_, MerkleFrontier::Parse(*f));
  }
  // The origin, and so the HSM head's label, comes from the configuration,
  // never from the database: whoever can write the database must not be able
  // to point authd at another (absent) head and so switch rollback
  // detection off.
  ASSIGN_OR_RETURN(std::optional<std::string> stored_origin,
                   storage_->GetMeta(kOriginKey));
  if (stored_origin && *stored_origin != origin_ && frontier_.size() > 0) {
    refusal_ = "the database's audit log has origin " +
               Printable(*stored_origin) + " but audit.origin is " + origin_ +
               " (audit.origin or tokens.issuer changed, or another "
               "deployment's database?)";
    return Status::Ok();
  }
  RETURN_IF_ERROR(CheckHead());
  if (stored_origin && *stored_origin != origin_ && refusal_.empty()) {
    // An empty log under another origin: nothing to verify, but a swapped
    // database all the same; the operator accepts it like a rollback.
    rolled_back_ = true;
    refusal_ = "the database names audit origin " + Printable(*stored_origin) +
               " but audit.origin is " + origin_;
  } else if (stored_origin && *stored_origin != origin_) {
    refusal_ += "; the database also names audit origin " +
                Printable(*stored_origin) + ", not the configured " + origin_;
  }
  return Status::Ok();
}

// REQUIRES: mu_ held.
Status AuditLog::CheckHead() {
  RETURN_IF_ERROR(CheckDatabase());
  if (!refusal_.empty()) return Status::Ok();
  return CheckHsmHead();
}

// The database against itself: its latest checkpoint verifies with the HSM's
// audit key and covers exactly the entries stored.
// REQUIRES: mu_ held.
Status AuditLog::CheckDatabase() {
  const PublicKey& key = keys_->Public(hsm::KeyUse::kAudit);
  ASSIGN_OR_RETURN(std::optional<storage::StoredCheckpoint> latest,
                   storage_->GetCheckpoint(std::nullopt));
  uint64_t size = frontier_.size();
  if (!latest) {
    if (size != 0)
      refusal_ = "the audit log has entries but no signed checkpoint";
    return Status::Ok();
  }
  auto verified = VerifySignedCheckpoint(latest->note, origin_, origin_, key);
  if (!verified.ok()) {
    refusal_ =
        "the latest audit checkpoint does not verify with this HSM's "
        "audit key: " +
        verified.status().message();
    return Status::Ok();
  }
  StatusOr<std::vector<std::string>> hashes =
      storage_->AuditLeafHashes(latest->size);
  if (!hashes.ok() && hashes.status().code() == StatusCode::kUnavailable) {
    return hashes.status();
  }
  if (!hashes.ok() || latest->size != size ||
      RootFromLeafHashes(*hashes) != latest->root ||
      frontier_.Root() != latest->root) {
    refusal_ =
        "the audit log in the database does not match its latest "
        "signed checkpoint (entries edited or removed)";
  }
  return Status::Ok();
}

namespace {

struct Head {
  uint64_t size = 0;
  std::string root;
};

// The largest of the head objects ("SIZE BASE64ROOT"): normally one, two
// only if a write stopped between create and destroy. Nullopt if malformed.
std::optional<Head> NewestHead(const std::vector<std::string>& objects) {
  std::optional<Head> newest;
  for (const std::string& object : objects) {
    unsigned long long n = 0;
    char root_b64[64] = {0};
    if (sscanf(object.c_str(), "%llu %60s", &n, root_b64) != 2) return {};
    std::optional<std::string> root = Base64Decode(root_b64);
    if (!root) return {};
    if (!newest || n > newest->size) newest = Head{n, *root};
  }
  return newest;
}

}  // namespace

// The database against the head the HSM recorded: not behind it (restored
// from an older copy) and not diverging from it (forked).
// REQUIRES: mu_ held.
Status AuditLog::CheckHsmHead() {
  uint64_t size = frontier_.size();
  ASSIGN_OR_RETURN(std::vector<std::string> objects,
                   keys_->ReadData(HeadLabel()));
  if (objects.empty()) return size == 0 ? Status::Ok() : WriteHead(frontier_);
  std::optional<Head> head = NewestHead(objects);
  if (!head) {
    refusal_ = "the audit head object in the HSM is malformed";
    return Status::Ok();
  }
  if (head->size > size) {
    rolled_back_ = true;
    refusal_ = "the database is behind the HSM: it holds " +
               std::to_string(size) + " audit entries but the HSM recorded " +
               std::to_string(head->size) +
               " (database restored from an older copy?)";
    return Status::Ok();
  }
  ASSIGN_OR_RETURN(std::optional<storage::StoredCheckpoint> at,
                   storage_->GetCheckpoint(head->size));
  if (head->size > 0 && (!at || at->root != head->root)) {
    rolled_back_ = true;
    refusal_ =
        "the audit log in the database diverges from the one the HSM "
        "recorded at size " +
        std::to_string(head->size) + " (forked or replaced database?)";
    return Status::Ok();
  }
  return head->size < size ? WriteHead(frontier_) : Status::Ok();
}

Status AuditLog::WriteHead(const MerkleFrontier& f) const {
  return keys_->WriteData(
      HeadLabel(), std::to_string(f.size()) + " " + Base64Encode(f.Root()));
}

StatusOr<std::string> AuditLog::SignCheckpoint(uint64_t size,
                                               const std::string& root) const {
  std::string body = CheckpointBody({origin_, size, root});
  ASSIGN_OR_RETURN(std::string raw,
                   keys_->SignEs256(hsm::KeyUse::kAudit, body));
  std::string der = EcdsaRawToDer(raw);
  if (der.empty()) return Status::Internal("cannot encode the audit signature");
  const PublicKey& key = keys_->Public(hsm::KeyUse::kAudit);
  return FormatSignedNote(body, origin_, NoteKeyId(origin_, key), der);
}

Status AuditLog::Record(
    const std::function<Status(storage::Transaction&)>& change,
    const std::vector<AuditEvent>& events) {
  std::lock_guard<std::mutex> lock(mu_);
  if (!refusal_.empty()) {
    return Status::FailedPrecondition("changes are refused: " + refusal_);
  }
  return RecordLocked(change, events);
}

Status AuditLog::AcceptRollback(AuditEvent event) {
  std::lock_guard<std::mutex> lock(mu_);
  if (refusal_.empty()) {
    return Status::FailedPrecondition(
        "the audit log is consistent with the "
        "HSM; there is nothing to accept");
  }
  if (!rolled_back_) {
    return Status::FailedPrecondition("cannot accept this state: " + refusal_);
  }
  event.action = "audit.rollback_accepted";
  event.target = "audit";
  event.values["refusal"] = refusal_;
  RETURN_IF_ERROR(RecordLocked(
      [](storage::Transaction&) { return Status::Ok(); }, {event}));
  refusal_.clear();
  rolled_back_ = false;
  refused_.store(false, std::memory_order_release);
  return Status::Ok();
}

// REQUIRES: mu_ held.
Status AuditLog::RecordLocked(
    const std::function<Status(storage::Transaction&)>& change,
    const std::vector<AuditEvent>& events) {
  MerkleFrontier next = frontier_;
  int64_t now_micros = clock_->NowMicros();
  Status st = storage_->Write([&](storage::Transaction& tx) -> Status {
    RETURN_IF_ERROR(change(tx));
    if (next.size() == 0) RETURN_IF_ERROR(tx.PutMeta(kOriginKey, origin_));
    for (const AuditEvent& ev : events) {
      storage::AuditRecord r;
      r.seq = next.size();
      ASSIGN_OR_RETURN(r.leaf, EncodeEntry(ev, r.seq, now_micros, version_));
      r.leaf_hash = LeafHash(r.leaf);
      r.time_micros = now_micros;
      r.actor = ev.actor;
      r.action = ev.action;
      r.target = ev.target;
      RETURN_IF_ERROR(tx.AppendAudit(r));
      next.Append(r.leaf_hash);
    }
    std::string root = next.Root();
    ASSIGN_OR_RETURN(std::string note, SignCheckpoint(next.size(), root));
    RETURN_IF_ERROR(tx.PutCheckpoint({next.size(), root, note}));
    return tx.PutMeta(kFrontierKey, next.Serialize());
  });
  if (!st.ok()) return st;
  frontier_ = std::move(next);
  // The change is committed and covered by a signed checkpoint; the head only
  // guards against a later restore, so a failure here is logged, not fatal.
  // After an accepted rollback the head moves back to the restored tree.
  Status head = WriteHead(frontier_);
  if (!head.ok()) {
    Log(LogLevel::kWarn,
        "event=audit_head msg=\"cannot advance the HSM audit "
        "head: %s\"",
        head.message().c_str());
  }
  return Status::Ok();
}

std::string AuditLog::refusal() const {
  std::lock_guard<std::mutex> lock(mu_);
  return refusal_;
}

uint64_t AuditLog::size() const {
  std::lock_guard<std::mutex> lock(mu_);
  return frontier_.size();
}

StatusOr<std::string> AuditLog::LatestCheckpoint() const {
  ASSIGN_OR_RETURN(std::optional<storage::StoredCheckpoint> c,
                   storage_->GetCheckpoint(std::nullopt));
  if (!c) return Status::NotFound("the audit log is empty");
  return c->note;
}

StatusOr<storage::StoredCheckpoint> AuditLog::CheckpointAt(
    uint64_t size) const {
  ASSIGN_OR_RETURN(std::optional<storage::StoredCheckpoint> c,
                   storage_->GetCheckpoint(size));
  if (!c) {
    return Status::NotFound("no checkpoint was signed at size " +
                            std::to_string(size));
  }
  return *c;
}

StatusOr<AuditLog::Proof> AuditLog::InclusionProof(uint64_t index,
                                                   uint64_t size) const {
  ASSIGN_OR_RETURN(storage::StoredCheckpoint c, CheckpointAt(size));
  if (index >= size) {
    return Status::InvalidArgument("index must be below size");
  }
  ASSIGN_OR_RETURN(std::vector<std::string> hashes,
                   storage_->AuditLeafHashes(size));
  Proof p{index, size, "", {}, c.note};
  ASSIGN_OR_RETURN(p.hashes, audit::InclusionProof(hashes, index, size));
  storage::AuditFilter f;
  f.after_seq = index == 0 ? std::nullopt : std::optional<uint64_t>(index - 1);
  f.limit = 1;
  ASSIGN_OR_RETURN(std::vector<storage::AuditRecord> rows,
                   storage_->ListAudit(f));
  if (rows.empty() || rows[0].seq != index) {
    return Status::Internal("audit entry " + std::to_string(index) +
                            " is missing");
  }
  p.leaf = rows[0].leaf;
  return p;
}

StatusOr<AuditLog::Proof> AuditLog::ConsistencyProof(uint64_t from,
                                                     uint64_t to) const {
  ASSIGN_OR_RETURN(storage::StoredCheckpoint c, CheckpointAt(to));
  if (from == 0 || from > to) {
    return Status::InvalidArgument("from must be between 1 and to");
  }
  ASSIGN_OR_RETURN(std::vector<std::string> hashes,
                   storage_->AuditLeafHashes(to));
  Proof p{from, to, "", {}, c.note};
  ASSIGN_OR_RETURN(p.hashes, audit::ConsistencyProof(hashes, from, to));
  return p;
}

}  // namespace authd::audit
