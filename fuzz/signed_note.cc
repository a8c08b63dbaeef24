// C2SP signed notes and tlog checkpoints, as authctl reads a kept checkpoint
// and the verifier reads an export's: VerifySignedNote, VerifySignedCheckpoint
// (bare or wrapped in a {"checkpoint": ...} line), ParseCheckpointBody.
// Seeds are checkpoints the fixed audit key signed. Properties: a parsed body
// re-serializes to the same bytes; a verified note's text is a prefix of it.
#include "audit/checkpoint.h"
#include "audit/verifier.h"
#include "fuzz/audit_key.h"
#include "fuzz/fuzz_util.h"

using namespace authd;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view text = fuzz::AsText(data, size);
  StatusOr<audit::Checkpoint> body = audit::ParseCheckpointBody(text);
  if (body.ok()) FUZZ_CHECK(audit::CheckpointBody(*body) == text);

  std::string note = audit::UnwrapCheckpoint(text);
  std::string origin = audit::NoteOrigin(note);
  const PublicKey& key = fuzz::AuditKey();
  StatusOr<std::string> verified = audit::VerifySignedNote(note, origin, key);
  if (verified.ok()) FUZZ_CHECK(note.rfind(*verified, 0) == 0);
  StatusOr<audit::Checkpoint> cp =
      audit::VerifySignedCheckpoint(note, fuzz::kFuzzOrigin, origin, key);
  if (cp.ok()) {
    FUZZ_CHECK(verified.ok());
    FUZZ_CHECK(cp->origin == fuzz::kFuzzOrigin);
    FUZZ_CHECK(audit::CheckpointBody(*cp) == *verified);
  }
  return 0;
}
