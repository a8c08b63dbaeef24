// Proof files (c2sp.org/tlog-proof@v1 with the entry in "extra"), as
// `authctl audit verify-proof` reads them: ParseTlogProof and
// VerifyProofFile. Seeds are proofs the fixed audit key's checkpoints
// cover. Properties: a parsed proof re-formats to the same bytes; a verified
// proof's entry decodes.
#include "audit/checkpoint.h"
#include "audit/entry.h"
#include "audit/verifier.h"
#include "fuzz/audit_key.h"
#include "fuzz/fuzz_util.h"

using namespace authd;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view text = fuzz::AsText(data, size);
  StatusOr<audit::TlogProof> parsed = audit::ParseTlogProof(text);
  if (parsed.ok()) {
    FUZZ_CHECK(parsed->proof.size() <= 64);
    FUZZ_CHECK(audit::FormatTlogProof(parsed->index, parsed->extra,
                                      parsed->proof,
                                      parsed->signed_checkpoint) == text);
  }
  std::string leaf;
  StatusOr<audit::Checkpoint> cp =
      audit::VerifyProofFile(text, fuzz::AuditKey(), &leaf);
  if (cp.ok()) {
    FUZZ_CHECK(parsed.ok());
    FUZZ_CHECK(parsed->index < cp->size);
    FUZZ_CHECK(audit::AuditEntryJson(leaf).ok());
  }
  return 0;
}
