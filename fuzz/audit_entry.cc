// Audit entry records: the audit.v1.Entry protobuf decoded from leaf bytes
// (AuditEntryJson: exports, proofs, the API), and EncodeEntry. Properties:
// only canonical bytes decode, and what decodes encodes back to the same
// bytes; the JSON carries the leaf.
#include "audit/entry.h"
#include "common/encoding.h"
#include "fuzz/fuzz_util.h"

using namespace authd;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view leaf = fuzz::AsText(data, size);
  StatusOr<nlohmann::json> j = audit::AuditEntryJson(leaf);
  if (!j.ok()) return 0;
  FUZZ_CHECK((*j)["leaf"] == Base64Encode(leaf));
  (void)j->dump();  // the API and exports write it out
  audit::AuditEvent ev;
  ev.actor = (*j)["actor"];
  ev.source = (*j)["source"];
  ev.action = (*j)["action"];
  ev.target = (*j)["target"];
  ev.reason = (*j)["reason"];
  for (const auto& [k, v] : (*j)["values"].items()) ev.values[k] = v;
  if ((*j)["result"] != "success") return 0;  // EncodeEntry writes "success"
  StatusOr<std::string> again =
      audit::EncodeEntry(ev, (*j)["seq"], (*j)["time_unix_micros"],
                         (*j)["software_version"].get<std::string>());
  FUZZ_CHECK(again.ok() && *again == leaf);
  return 0;
}
