// The offline verifier's whole input: an audit export (JSON lines, each
// entry's leaf decoded and compared, the Merkle tree rebuilt, the checkpoint
// line verified), optionally with a kept earlier checkpoint after a line
// "--kept--". Seeds are exports the fixed audit key signed, so mutated
// entries get as far as the root comparison.
#include "audit/verifier.h"
#include "fuzz/audit_key.h"
#include "fuzz/fuzz_util.h"

using namespace authd;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view text = fuzz::AsText(data, size);
  std::optional<std::string_view> kept;
  constexpr std::string_view kSeparator = "\n--kept--\n";
  if (size_t at = text.find(kSeparator); at != std::string_view::npos) {
    kept = text.substr(at + kSeparator.size());
    text = text.substr(0, at + 1);
  }
  StatusOr<audit::ExportSummary> summary =
      audit::VerifyExport(text, fuzz::AuditKey(), kept);
  if (!summary.ok()) {
    FUZZ_CHECK(summary.status().code() == StatusCode::kInvalidArgument ||
               summary.status().code() == StatusCode::kUnauthenticated);
    return 0;
  }
  FUZZ_CHECK(summary->entries == summary->checkpoint.size);
  FUZZ_CHECK(summary->checkpoint.origin == fuzz::kFuzzOrigin);
  if (summary->earlier) {
    FUZZ_CHECK(summary->earlier->size <= summary->checkpoint.size);
  }
  return 0;
}
