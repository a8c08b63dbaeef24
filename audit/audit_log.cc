#include "audit/audit_log.h"

#include <algorithm>
#include <cstdio>

#include "audit/checkpoint.h"
#include "common/encoding.h"
#include "common/log.h"

namespace authd::audit {
namespace {

constexpr char kFrontierKey[] = "audit_frontier";
// Leaves read per page when the whole log is scanned (at Open): 2 MiB of
// hashes, whatever the size of the log.
constexpr uint64_t kScanPage = 65536;

bool IsIoError(const Status& st) {
  return st.code() == StatusCode::kUnavailable ||
         st.code() == StatusCode::kBusy;
}

std::vector<storage::AuditNode> ToStorage(
    const std::vector<MerkleFrontier::Node>& nodes) {
  std::vector<storage::AuditNode> out;
  out.reserve(nodes.size());
  for (const MerkleFrontier::Node& n : nodes) {
    out.push_back({n.id.level, n.id.index, n.hash});
  }
  return out;
}
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

StatusOr<std::unique_ptr<AuditLog>> AuditLog::Open(
    storage::Storage* storage, const hsm::KeyOps* keys, const Clock* clock,
    std::string origin, std::string version,
    std::chrono::milliseconds lock_wait) {
  std::unique_ptr<AuditLog> log(new AuditLog(
      storage, keys, clock, std::move(origin), std::move(version), lock_wait));
  RETURN_IF_ERROR(log->Load());
  log->refused_.store(log->refusing(), std::memory_order_release);
  return log;
}

Status AuditLog::Load() {
  std::lock_guard<TimedMutex> lock(mu_);
  Status st = LoadLocked();
  Publish();
  return st;
}

// REQUIRES: mu_ held.
void AuditLog::Publish() {
  size_pub_.store(frontier_.size(), std::memory_order_release);
  refusal_pub_.store(refusal_.empty()
                         ? nullptr
                         : std::make_shared<const std::string>(refusal_),
                     std::memory_order_release);
}

// REQUIRES: mu_ held.
Status AuditLog::LoadLocked() {
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
  RETURN_IF_ERROR(EnsureNodes());
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
  StatusOr<MerkleFrontier> scanned = ScanLeaves(latest->size, false);
  if (!scanned.ok() && IsIoError(scanned.status())) return scanned.status();
  if (!scanned.ok() || latest->size != size ||
      scanned->Root() != latest->root || frontier_.Root() != latest->root) {
    refusal_ =
        "the audit log in the database does not match its latest "
        "signed checkpoint (entries edited or removed)";
  }
  return Status::Ok();
}

namespace {

// One head object: "SIZE BASE64ROOT", or "SIZE BASE64ROOT PSIZE
// BASE64PROOT" while a change is between the head write and its commit.
std::optional<AuditLog::Head> ParseHead(const std::string& object) {
  unsigned long long n = 0, p = 0;
  char root_b64[64] = {0}, pending_b64[64] = {0};
  int got = sscanf(object.c_str(), "%llu %60s %llu %60s", &n, root_b64, &p,
                   pending_b64);
  if (got != 2 && got != 4) return {};
  std::optional<std::string> root = Base64Decode(root_b64);
  if (!root) return {};
  AuditLog::Head head{n, *root, std::nullopt, ""};
  if (got == 4) {
    std::optional<std::string> pending = Base64Decode(pending_b64);
    if (!pending) return {};
    head.pending_size = p;
    head.pending_root = *pending;
  }
  return head;
}

// The largest of the head objects: normally one, two only if a write stopped
// between create and destroy. Nullopt if malformed.
std::optional<AuditLog::Head> NewestHead(
    const std::vector<std::string>& objects) {
  std::optional<AuditLog::Head> newest;
  for (const std::string& object : objects) {
    std::optional<AuditLog::Head> head = ParseHead(object);
    if (!head) return {};
    if (!newest || head->size > newest->size ||
        (head->size == newest->size &&
         head->pending_size.value_or(0) > newest->pending_size.value_or(0))) {
      newest = std::move(head);
    }
  }
  return newest;
}

AuditLog::Head CommittedHead(const MerkleFrontier& f) {
  return {f.size(), f.Root(), std::nullopt, ""};
}

}  // namespace

// REQUIRES: mu_ held.
bool AuditLog::IsPendingBatch(const Head& head) {
  if (!head.pending_size || *head.pending_size != frontier_.size()) {
    return false;
  }
  StatusOr<std::optional<storage::StoredCheckpoint>> at =
      storage_->GetCheckpoint(frontier_.size());
  return at.ok() && *at && (*at)->root == head.pending_root &&
         frontier_.Root() == head.pending_root;
}

// The database against the head the HSM recorded: not behind it (restored
// from an older copy) and not diverging from it (forked). A database that
// holds exactly the pending batch committed it before the head could say
// so: fine, and the head is moved to it. One exactly at the committed size
// never committed the pending batch (a crash before the commit): fine too.
// REQUIRES: mu_ held.
Status AuditLog::CheckHsmHead() {
  uint64_t size = frontier_.size();
  ASSIGN_OR_RETURN(std::vector<std::string> objects,
                   keys_->ReadData(HeadLabel()));
  head_ = Head{};
  if (objects.empty()) {
    return size == 0 ? Status::Ok() : WriteHead(CommittedHead(frontier_));
  }
  std::optional<Head> head = NewestHead(objects);
  if (!head) {
    refusal_ = "the audit head object in the HSM is malformed";
    return Status::Ok();
  }
  head_ = *head;
  if (IsPendingBatch(*head)) return WriteHead(CommittedHead(frontier_));
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
  if (head->size < size || head->pending_size) {
    return WriteHead(CommittedHead(frontier_));
  }
  return Status::Ok();
}

// REQUIRES: mu_ held.
Status AuditLog::WriteHead(const Head& head) {
  std::string value = std::to_string(head.size) + " " + Base64Encode(head.root);
  if (head.pending_size) {
    value += " " + std::to_string(*head.pending_size) + " " +
             Base64Encode(head.pending_root);
  }
  RETURN_IF_ERROR(keys_->WriteData(HeadLabel(), value));
  head_ = head;
  return Status::Ok();
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
  return Record([&](storage::Transaction& tx, uint64_t) { return change(tx); },
                events);
}

Status AuditLog::Record(
    const std::function<Status(storage::Transaction&, uint64_t)>& change,
    const std::vector<AuditEvent>& events,
    const std::function<void()>& committed) {
  Waiter self{&change, &events, &committed};
  auto deadline = std::chrono::steady_clock::now() + lock_wait_;
  std::unique_lock<std::mutex> queue(queue_mu_);
  queue_.push_back(&self);
  while (!self.done) {
    if (!leading_ && !self.taken) {
      leading_ = true;
      queue.unlock();
      Lead(&self, deadline);
      queue.lock();
      leading_ = false;
      queue_cv_.notify_all();  // a waiter still queued leads the next batch
    } else if (self.taken) {
      queue_cv_.wait(queue);  // bounded by the batch's own HSM and disk I/O
    } else if (queue_cv_.wait_until(queue, deadline) ==
                   std::cv_status::timeout &&
               !self.taken && leading_) {
      std::erase(queue_, &self);
      return Status::Busy("another change is still being recorded; retry");
    }
  }
  return self.result;
}

void AuditLog::Lead(Waiter* self,
                    std::chrono::steady_clock::time_point deadline) {
  std::unique_lock<TimedMutex> lock(mu_, deadline);
  if (!lock.owns_lock()) {
    std::lock_guard<std::mutex> queue(queue_mu_);
    std::erase(queue_, self);
    self->result =
        Status::Busy("another change is still being recorded; retry");
    self->done = true;
    return;
  }
  // A committed batch not answered yet: when more changes are queued, the
  // next batch's pending head also says this one committed (CommitBatch's
  // `mark_committed`), so a stream of batches costs one head write each.
  std::vector<Waiter*> unacked;
  while (!self->done) {
    std::vector<Waiter*> batch = TakeBatch();
    uint64_t before = frontier_.size();
    if (!batch.empty()) RunBatch(batch, !unacked.empty());
    // No pending head says `before` committed (the batch failed, or none of
    // its changes did): say it alone.
    if (!unacked.empty() && head_.size < before) FinishHead();
    Answer(&unacked);
    bool advanced = frontier_.size() > before;
    if (advanced && !self->done && waiting() > 0) {
      unacked = std::move(batch);
    } else {
      if (advanced) FinishHead();
      Answer(&batch);
    }
  }
}

// Puts the committed changes of `waiters` in force (their `committed`
// callbacks, in seq order) and answers them. Only once the head says they
// committed, or FinishHead tried to.
void AuditLog::Answer(std::vector<Waiter*>* waiters) {
  if (waiters->empty()) return;
  for (Waiter* w : *waiters) {
    if (w->result.ok() && w->committed && *w->committed) (*w->committed)();
  }
  std::lock_guard<std::mutex> queue(queue_mu_);
  for (Waiter* w : *waiters) w->done = true;
  queue_cv_.notify_all();
  waiters->clear();
}

size_t AuditLog::waiting() const {
  std::lock_guard<std::mutex> queue(queue_mu_);
  return queue_.size();
}

std::vector<AuditLog::Waiter*> AuditLog::TakeBatch() {
  std::lock_guard<std::mutex> queue(queue_mu_);
  std::vector<Waiter*> batch;
  while (!queue_.empty() && batch.size() < kMaxBatch) {
    batch.push_back(queue_.front());
    batch.back()->taken = true;
    queue_.pop_front();
  }
  return batch;
}

// REQUIRES: mu_ held.
void AuditLog::RunBatch(const std::vector<Waiter*>& batch,
                        bool mark_committed) {
  if (head_stale_ && WriteHead(CommittedHead(frontier_)).ok()) {
    head_stale_ = false;
    refusal_.clear();
    Publish();
  }
  Status st =
      refusal_.empty()
          ? CommitBatch(batch, mark_committed)
          : Status::FailedPrecondition("changes are refused: " + refusal_);
  if (st.ok()) return;
  // Fail closed: nothing of the batch committed, so no change of it
  // happened, whatever its own function answered.
  for (Waiter* w : batch) w->result = st;
}

Status AuditLog::AcceptRollback(AuditEvent event) {
  std::unique_lock<TimedMutex> lock(mu_, lock_wait_);
  if (!lock.owns_lock()) {
    return Status::Busy("another change is still being recorded; retry");
  }
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
  Change nothing = [](storage::Transaction&, uint64_t) { return Status::Ok(); };
  std::vector<AuditEvent> events{event};
  Waiter accept{&nothing, &events};
  RETURN_IF_ERROR(CommitBatch({&accept}, false));
  RETURN_IF_ERROR(accept.result);
  FinishHead();
  if (!head_stale_) refusal_.clear();  // else FinishHead's refusal stands
  rolled_back_ = false;
  refused_.store(false, std::memory_order_release);
  Publish();
  return Status::Ok();
}

// REQUIRES: mu_ held.
Status AuditLog::CommitBatch(const std::vector<Waiter*>& batch,
                             bool mark_committed) {
  MerkleFrontier next = frontier_;
  // The head is written in two phases around the commit, so that at every
  // instant the HSM knows of any tree the database may hold:
  //  1. before the commit, {committed: the HSM's floor, pending: next}; if
  //     that fails nothing commits and the caller gets the error;
  //  2. after the commit, {committed: next} (FinishHead); or, when the
  //     next batch is already queued, that batch's phase 1 says it
  //     ({committed: next, pending: its own tree}: `mark_committed`).
  // A crash before the commit leaves the database at the committed size, a
  // crash after it at the pending size: both are accepted at Open, and the
  // head is moved to the database. A crash loses no acknowledged change, as
  // each change is acknowledged only after phase 2 was tried (Lead). If the HSM
  // refuses phase 2 (no crash), the change is acknowledged but every further
  // change is refused and /readyz answers 503 until the head is written (see
  // FinishHead): the one window in which a restore of the previous tree
  // would pass is visible, and closes at the next change. Were the head written
  // only after the commit, a crash between the two would leave a change the
  // HSM never saw, whose later loss to a restore would go unnoticed; were it
  // written only before, a crash before the commit would look like a
  // rollback. The floor is the HSM's committed head, not the database's: it
  // is higher while an accepted rollback is being recorded, and the accept
  // must not lower it before its own entry commits.
  Status st = storage_->Write([&](storage::Transaction& tx) -> Status {
    RETURN_IF_ERROR(AppendBatch(tx, batch, &next));
    if (next.size() == frontier_.size()) return Status::Ok();  // all failed
    Head pending = mark_committed ? CommittedHead(frontier_) : head_;
    pending.pending_size = next.size();
    pending.pending_root = next.Root();
    return WriteHead(pending);
  });
  if (!st.ok() || next.size() == frontier_.size()) return st;
  frontier_ = std::move(next);
  Publish();  // only now: readers never see a size that did not commit
  return Status::Ok();
}

// Phase 2 of CommitBatch. If the HSM refuses it the change is committed and
// covered by the pending head, but a restore of the tree before it would now
// look like a crash before the commit: so changes are refused until the head
// is written (retried by the next Record) and /readyz says so.
// REQUIRES: mu_ held.
void AuditLog::FinishHead() {
  Status head = WriteHead(CommittedHead(frontier_));
  if (!head.ok()) head = WriteHead(CommittedHead(frontier_));
  if (head.ok()) return;
  head_stale_ = true;
  refusal_ = "the HSM audit head could not be advanced to " +
             std::to_string(frontier_.size()) + " entries (" + head.message() +
             "); changes are refused until it is";
  Log(LogLevel::kError, "event=audit_head msg=\"%s\"", refusal_.c_str());
  Publish();
}

// Runs each change of `batch` in its own savepoint and appends its entries
// to `next` in `tx` (change i+1 sees the seqs after change i's entries); a
// change that fails is undone alone and its waiter gets its error. Then the
// one signed checkpoint for the batch's final tree.
// REQUIRES: mu_ held.
Status AuditLog::AppendBatch(storage::Transaction& tx,
                             const std::vector<Waiter*>& batch,
                             MerkleFrontier* next) {
  std::vector<MerkleFrontier::Node> nodes;  // subtrees the batch completes
  for (Waiter* w : batch) {
    uint64_t first_seq = next->size();
    RETURN_IF_ERROR(tx.Savepoint(
        [&](storage::Transaction& t) { return (*w->change)(t, first_seq); },
        &w->result));
    if (!w->result.ok()) continue;
    int64_t now_micros = clock_->NowMicros();
    for (const AuditEvent& ev : *w->events) {
      storage::AuditRecord r;
      r.seq = next->size();
      ASSIGN_OR_RETURN(r.leaf, EncodeEntry(ev, r.seq, now_micros, version_));
      r.leaf_hash = LeafHash(r.leaf);
      r.time_micros = now_micros;
      r.actor = ev.actor;
      r.action = ev.action;
      r.target = ev.target;
      RETURN_IF_ERROR(tx.AppendAudit(r));
      next->Append(r.leaf_hash, &nodes);
    }
  }
  if (next->size() == frontier_.size()) return Status::Ok();
  if (frontier_.size() == 0) RETURN_IF_ERROR(tx.PutMeta(kOriginKey, origin_));
  RETURN_IF_ERROR(tx.PutAuditNodes(ToStorage(nodes)));
  std::string root = next->Root();
  ASSIGN_OR_RETURN(std::string note, SignCheckpoint(next->size(), root));
  RETURN_IF_ERROR(tx.PutCheckpoint({next->size(), root, note}));
  return tx.PutMeta(kFrontierKey, next->Serialize());
}

std::string AuditLog::refusal() const {
  std::shared_ptr<const std::string> r =
      refusal_pub_.load(std::memory_order_acquire);
  return r ? *r : std::string();
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
  Proof p{index, size, "", {}, c.note};
  ASSIGN_OR_RETURN(p.hashes, ProofHashes(InclusionRanges(index, size)));
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
  Proof p{from, to, "", {}, c.note};
  ASSIGN_OR_RETURN(p.hashes, ProofHashes(ConsistencyRanges(from, to)));
  return p;
}

StatusOr<std::vector<std::string>> AuditLog::ProofHashes(
    const std::vector<MerkleRange>& ranges) const {
  StatusOr<std::vector<std::string>> hashes =
      RangeHashes(ranges, [&](const std::vector<MerkleNodeId>& ids) {
        std::vector<storage::AuditNodeId> want;
        want.reserve(ids.size());
        for (const MerkleNodeId& id : ids) want.push_back({id.level, id.index});
        return storage_->AuditNodes(want);
      });
  // A node missing under a signed checkpoint is damage, not a bad request.
  if (!hashes.ok() && hashes.status().code() == StatusCode::kNotFound) {
    return Status::Internal(hashes.status().message());
  }
  return hashes;
}

// Reads the leaf hashes [0, size) page by page into a frontier; with
// `store`, also writes the subtrees they complete, one transaction a page.
// Memory stays at one page whatever the size.
StatusOr<MerkleFrontier> AuditLog::ScanLeaves(uint64_t size, bool store) {
  MerkleFrontier tree;
  while (tree.size() < size) {
    uint64_t end = std::min(size, tree.size() + kScanPage);
    ASSIGN_OR_RETURN(std::vector<std::string> page,
                     storage_->AuditLeafHashRange(tree.size(), end));
    std::vector<MerkleFrontier::Node> nodes;
    for (const std::string& h : page) {
      if (h.size() != kMerkleHashSize) {
        return Status::InvalidArgument("audit entry " +
                                       std::to_string(tree.size()) +
                                       " has a malformed leaf hash");
      }
      tree.Append(h, store ? &nodes : nullptr);
    }
    if (store) {
      RETURN_IF_ERROR(storage_->Write([&](storage::Transaction& tx) {
        return tx.PutAuditNodes(ToStorage(nodes));
      }));
    }
  }
  return tree;
}

// A log written before the tree's nodes were stored (schema version 4), or
// whose node table was emptied, gets them here. The subtrees at the tree's
// right edge complete last, so they are stored exactly when every node is:
// their absence or disagreement means a rebuild. The nodes follow from the
// stored leaf hashes alone, as the proofs did before; a log whose entries do
// not match its checkpoint is refused by CheckDatabase either way.
// REQUIRES: mu_ held.
Status AuditLog::EnsureNodes() {
  std::vector<MerkleNodeId> ids = frontier_.NodeIds();
  std::vector<storage::AuditNodeId> want;
  std::vector<std::string> expect;
  for (size_t i = 0; i < ids.size(); ++i) {
    if (ids[i].level == 0) continue;
    want.push_back({ids[i].level, ids[i].index});
    expect.push_back(frontier_.hashes()[i]);
  }
  if (want.empty()) return Status::Ok();
  StatusOr<std::vector<std::string>> have = storage_->AuditNodes(want);
  if (have.ok() && *have == expect) return Status::Ok();
  if (!have.ok() && IsIoError(have.status())) return have.status();
  Log(LogLevel::kInfo,
      "event=audit_nodes msg=\"storing the Merkle nodes of %llu entries\"",
      static_cast<unsigned long long>(frontier_.size()));
  StatusOr<MerkleFrontier> built = ScanLeaves(frontier_.size(), true);
  if (!built.ok() && IsIoError(built.status())) return built.status();
  return Status::Ok();
}

}  // namespace authd::audit
