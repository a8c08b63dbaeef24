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

#include "audit/checkpoint.h"
#include "common/public_key.h"
#include "common/status.h"

namespace authd::audit {

struct ExportSummary {
  uint64_t entries = 0;
  Checkpoint checkpoint;
  std::optional<Checkpoint> earlier;  // the kept checkpoint, when given
};

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
