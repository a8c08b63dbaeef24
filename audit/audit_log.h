// AuditLog: authd's change log as a verifiable transparency log.
//
// Every change is recorded by Record(), which runs the change, appends its
// entries (deterministically serialized audit.v1.Entry protobufs, the Merkle
// leaves of RFC 9162 §2.1) and a checkpoint for the new tree size signed by
// the HSM audit key, all in ONE storage transaction. If any step fails
// nothing commits and the caller gets the error (503 at the API): no change
// without its entry, no acknowledged change without a signed checkpoint.
//
// Checkpoints are C2SP tlog-checkpoint bodies wrapped in C2SP signed notes
// (see audit/checkpoint.h for the pinned versions). Around each commit the
// newest tree size and root are also written to a CKO_DATA object in the HSM
// (before: as pending, after: as committed);
// at Open a database behind that head (restored from an older copy) or
// diverging from it (forked) is detected and the log refuses further changes
// until an operator acts.
//
// Group commit: Record() calls that arrive together share one transaction,
// one checkpoint signature, one fsync and (at most) two HSM head writes, while
// each change still gets its own entries (and seqs) and its own answer. The
// first caller to find no batch in progress becomes the leader: it takes up
// to kMaxBatch queued changes, runs each in its own savepoint (a change that
// fails is undone alone and answered with its own error), appends their
// entries, signs one checkpoint for the batch's final tree, writes the
// pending head, commits, advances the head, and only then answers every
// change of the batch. When more changes are already queued, the head is
// advanced by the next batch's pending write ({committed: this batch's
// tree, pending: the next one's}) instead of a write of its own, and the
// batch is answered once that write is done: a stream of batches costs one
// head write each. If the append, the signature, the head or the commit
// fails, none of the batch's changes happen and all get that error. Changes
// that arrive meanwhile wait for the next batch. So only the final size of a
// batch has a checkpoint; the sizes within a batch have none.
//
// Thread-safe: batches are committed under an internal mutex, held across
// the batch's HSM signature and its commit (fsync). A Record that is not
// taken into a batch within `lock_wait` answers Busy. What probes, metrics
// and the status line read (size, refusal) is published after each batch
// as an atomic and an immutable snapshot, so those readers never wait for
// the mutex.
#ifndef AUTHD_AUDIT_AUDIT_LOG_H_
#define AUTHD_AUDIT_AUDIT_LOG_H_

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "audit/entry.h"
#include "audit/merkle.h"
#include "common/clock.h"
#include "common/status.h"
#include "common/timed_mutex.h"
#include "hsm/key_ops.h"
#include "storage/storage.h"

namespace authd::audit {

// The HSM head object is labelled kAuditHeadLabel + ":" + origin (the
// configured origin, never the database's), so logs with different origins
// can share a token.
inline constexpr char kAuditHeadLabel[] = "authd-audit-head";

class AuditLog {
 public:
  // `origin` is the checkpoint origin line, the signed-note key name and part
  // of the HSM head's label. It comes from the configuration (audit.origin),
  // never from the database: a database naming another origin is refused.
  // An empty log while the HSM holds a head is a rollback.
  static StatusOr<std::unique_ptr<AuditLog>> Open(
      storage::Storage* storage, const hsm::KeyOps* keys, const Clock* clock,
      std::string origin, std::string version,
      std::chrono::milliseconds lock_wait = kLockWait);
  static constexpr std::chrono::milliseconds kLockWait{5000};
  // The most changes one batch commits together.
  static constexpr size_t kMaxBatch = 64;

  // Runs `change` and appends `events` in one transaction, signs the new
  // checkpoint, records the pending tree in the HSM head, commits, then
  // marks it committed in the head (two phases; see CommitBatch), possibly
  // in one batch with other changes (see above). `change` runs on whichever
  // thread leads the batch, while this call waits.
  // FailedPrecondition when the log was found rolled back at Open; Busy when
  // other changes kept the log for `lock_wait`.
  Status Record(const std::function<Status(storage::Transaction&)>& change,
                const std::vector<AuditEvent>& events);
  // The same, for a change that stores the seq its first entry gets (rows
  // bound to the HSM name the entry that created them); entry i of `events`
  // gets first_seq + i.
  // `committed`, when set, runs once the change is committed and the head
  // marked so, before this call returns, on the leader's thread in seq
  // order across all changes, under the log's lock: what is kept in memory
  // follows the database change by change without a lock of its own around
  // Record. It must not call Record.
  Status Record(const std::function<Status(storage::Transaction&,
                                           uint64_t first_seq)>& change,
                const std::vector<AuditEvent>& events,
                const std::function<void()>& committed = {});

  // The operator's way out of a detected rollback or fork (a database
  // restored from backup on purpose): records an "audit.rollback_accepted"
  // entry naming what was detected, moves the HSM head to the database's
  // tree, and lifts the refusal. Auditors see the gap in the log itself.
  // FailedPrecondition when there is nothing to accept, or the refusal is of
  // another kind (edited entries, another audit key).
  Status AcceptRollback(AuditEvent event);

  // Empty when healthy; otherwise why changes are refused. Lock-free.
  std::string refusal() const;
  // !refusal().empty(), without copying the text. Lock-free.
  bool refusing() const {
    return refusal_pub_.load(std::memory_order_acquire) != nullptr;
  }
  // False while a refusal stands: the database was restored, forked, edited
  // or swapped, so nothing may be served from it (a restored copy may hold
  // credentials deleted since). Lock-free, for the request path.
  bool trusted() const { return !refused_.load(std::memory_order_acquire); }
  const std::string& origin() const { return origin_; }
  // Entries committed. Lock-free.
  uint64_t size() const { return size_pub_.load(std::memory_order_acquire); }
  // Changes queued for the next batch (not yet taken by a leader).
  size_t waiting() const;

  StatusOr<std::vector<storage::AuditRecord>> List(
      const storage::AuditFilter& filter) const {
    return storage_->ListAudit(filter);
  }
  // The latest signed note; NotFound before the first entry.
  StatusOr<std::string> LatestCheckpoint() const;
  struct Proof {
    uint64_t index = 0, size = 0;
    std::string leaf;  // for inclusion proofs
    std::vector<std::string> hashes;
    std::string checkpoint;  // signed note for `size`
  };
  StatusOr<Proof> InclusionProof(uint64_t index, uint64_t size) const;
  StatusOr<Proof> ConsistencyProof(uint64_t from, uint64_t to) const;

  // The HSM head object's value (docs/audit-formats.md §9): the committed
  // tree and, between the head write and the commit of a batch, the tree
  // that batch makes (see CommitBatch).
  struct Head {
    uint64_t size = 0;
    std::string root;
    std::optional<uint64_t> pending_size;
    std::string pending_root;
  };

 private:
  AuditLog(storage::Storage* storage, const hsm::KeyOps* keys,
           const Clock* clock, std::string origin, std::string version,
           std::chrono::milliseconds lock_wait)
      : storage_(storage),
        keys_(keys),
        clock_(clock),
        origin_(std::move(origin)),
        version_(std::move(version)),
        lock_wait_(lock_wait) {}
  Status Load();
  Status LoadLocked();
  // Copies size and refusal to what the lock-free readers see.
  // REQUIRES: mu_ held.
  void Publish();
  using Change =
      std::function<Status(storage::Transaction&, uint64_t first_seq)>;
  // One Record call, queued until a leader takes it into a batch.
  struct Waiter {
    const Change* change;
    const std::vector<AuditEvent>* events;
    const std::function<void()>* committed = nullptr;  // or empty
    Status result = Status::Ok();                      // set by the leader
    bool taken = false;  // in a batch: its answer will come
    bool done = false;   // result is final
  };
  // Commits batches, starting with the oldest queued changes, until `self`
  // is answered. REQUIRES: leading_ set by this thread.
  void Lead(Waiter* self, std::chrono::steady_clock::time_point deadline);
  // Up to kMaxBatch queued changes, marked taken.
  std::vector<Waiter*> TakeBatch();
  // Commits `batch` and sets each waiter's result. REQUIRES: mu_ held.
  // `mark_committed`: the batch's pending head also says the tree as it
  // stands committed (an unanswered batch before it).
  void RunBatch(const std::vector<Waiter*>& batch, bool mark_committed);
  void Answer(std::vector<Waiter*>* waiters);
  // REQUIRES: mu_ held.
  Status CommitBatch(const std::vector<Waiter*>& batch, bool mark_committed);
  Status CheckHead();
  Status CheckDatabase();
  Status CheckHsmHead();
  bool IsPendingBatch(const Head& head);
  Status WriteHead(const Head& head);
  void FinishHead();
  // Stores the tree's nodes when the database lacks them (see the .cc).
  Status EnsureNodes();
  StatusOr<MerkleFrontier> ScanLeaves(uint64_t size, bool store);
  // The hashes of `ranges`, from O(log n) stored nodes.
  StatusOr<std::vector<std::string>> ProofHashes(
      const std::vector<MerkleRange>& ranges) const;
  Status AppendBatch(storage::Transaction& tx,
                     const std::vector<Waiter*>& batch, MerkleFrontier* next);
  // The stored checkpoint for exactly `size`; NotFound when none was signed.
  StatusOr<storage::StoredCheckpoint> CheckpointAt(uint64_t size) const;
  std::string HeadLabel() const {
    return std::string(kAuditHeadLabel) + ":" + origin_;
  }
  StatusOr<std::string> SignCheckpoint(uint64_t size,
                                       const std::string& root) const;

  storage::Storage* storage_;
  const hsm::KeyOps* keys_;
  const Clock* clock_;
  const std::string origin_;  // audit.origin; the database's copy must match
  const std::string version_;
  const std::chrono::milliseconds lock_wait_;
  TimedMutex mu_;
  // The queue of changes waiting for a batch; never held across I/O.
  mutable std::mutex queue_mu_;
  std::condition_variable queue_cv_;  // a batch was answered, or lead
  std::deque<Waiter*> queue_;         // GUARDED_BY(queue_mu_)
  bool leading_ = false;              // GUARDED_BY(queue_mu_)
  MerkleFrontier frontier_;           // GUARDED_BY(mu_)
  Head head_;                 // GUARDED_BY(mu_): as last read or written
  bool head_stale_ = false;   // GUARDED_BY(mu_): FinishHead failed
  std::string refusal_;       // GUARDED_BY(mu_)
  bool rolled_back_ = false;  // GUARDED_BY(mu_): refusal_ may be accepted
  std::atomic<bool> refused_{false};  // !refusal_.empty(), set under mu_
  // Published by Publish(): frontier_.size(), and refusal_ (null when
  // empty).
  std::atomic<uint64_t> size_pub_{0};
  std::atomic<std::shared_ptr<const std::string>> refusal_pub_;
};

}  // namespace authd::audit

#endif  // AUTHD_AUDIT_AUDIT_LOG_H_
