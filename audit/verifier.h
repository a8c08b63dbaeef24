// Offline verification of audit log exports and proofs: what an auditor runs
// with only the export and the audit public key, no daemon, HSM or network.
//
// An export is JSON Lines: one entry object per line (decoded fields plus
// "leaf", the base64 of the exact leaf bytes), ending with one
// {"checkpoint": "<signed note>"} line. Pure functions, thread-safe.
#ifndef AUTHD_AUDIT_VERIFIER_H_
#define AUTHD_AUDIT_VERIFIER_H_

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "audit/checkpoint.h"
#include "audit/merkle.h"
#include "common/public_key.h"
#include "common/status.h"

namespace authd::audit {

struct ExportSummary {
  uint64_t entries = 0;
  Checkpoint checkpoint;
  std::optional<Checkpoint> earlier;  // the kept checkpoint, when given
};

// What one line of an export is, as far as the line alone tells: checked
// in parallel, then applied in order (ExportVerifier).
struct LineResult {
  enum class Kind { kEmpty, kCheckpoint, kEntry, kError };
  Kind kind = Kind::kEmpty;
  std::string text = {};  // the note, the entry's leaf hash, or the error
  uint64_t seq = 0;       // an entry's
};

// The same checks over an export fed one line at a time (authctl reads the
// file line by line): only the Merkle frontier, O(log n) hashes, is kept,
// so memory does not grow with the log. Verdicts and messages are those of
// VerifyExport. Not thread-safe; one instance per export.
class ExportVerifier {
 public:
  // Errors: the kept checkpoint (`earlier_note`) does not verify with `key`.
  // `key` must outlive the verifier.
  static StatusOr<ExportVerifier> Create(
      const PublicKey& key, std::optional<std::string_view> earlier_note);
  // One line without its '\n'. Returns the first failure, and again on
  // every later call.
  Status AddLine(std::string_view line);
  // The next lines, in order: the same as AddLine on each, with the checks
  // each line needs alone (JSON, leaf decoding, leaf hash) spread over up
  // to kMaxWorkers threads. Memory: the batch the caller hands in.
  Status AddLines(const std::vector<std::string>& lines);
  static constexpr size_t kMaxWorkers = 4;
  // After the last line: the verdict on the whole export.
  StatusOr<ExportSummary> Finish();

 private:
  explicit ExportVerifier(const PublicKey& key) : key_(&key) {}
  Status Apply(LineResult r, size_t line_no);

  const PublicKey* key_;
  std::optional<Checkpoint> kept_;
  size_t lines_ = 0;
  MerkleFrontier tree_;
  std::string root_at_kept_;  // the tree's root at kept_->size
  std::optional<std::string> note_;
  Status failed_;
};

// Lines handed to ExportVerifier::AddLines at a time by VerifyExport and
// authctl: a few MiB, whatever the size of the export.
inline constexpr size_t kVerifyBatch = 4096;

// Checks every leaf hash, that each line's decoded fields match its leaf
// bytes, contiguous sequence numbers from 0, the root against the signed
// checkpoint, and the signature. With `earlier_note` (a checkpoint the
// auditor kept), also that this log extends it: not truncated, rolled back
// or forked. The error names the first line or checkpoint that fails.
StatusOr<ExportSummary> VerifyExport(
    std::string_view export_text, const PublicKey& key,
    std::optional<std::string_view> earlier_note);

// Verifies a C2SP tlog-proof whose "extra" carries the entry's leaf bytes.
// Returns the checkpoint it proves inclusion in; `leaf` receives the bytes.
StatusOr<Checkpoint> VerifyProofFile(std::string_view proof_text,
                                     const PublicKey& key, std::string* leaf);

// The origin (first line) of a signed note, for use as its key name.
std::string NoteOrigin(std::string_view note);

// Accepts a bare signed note or a {"checkpoint": ...} JSON line.
std::string UnwrapCheckpoint(std::string_view text);

}  // namespace authd::audit

#endif  // AUTHD_AUDIT_VERIFIER_H_
