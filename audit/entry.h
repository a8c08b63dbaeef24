// Audit entries: what one change record says, and its canonical bytes. An
// entry is an audit.v1.Entry protobuf (audit/audit.proto) serialized
// deterministically; those bytes are the Merkle leaf (RFC 9162 §2.1) and are
// what auditors hash and verify. docs/audit-formats.md describes the format.
// Pure functions; no HSM, no SQLite, no HTTP.
#ifndef AUTHD_AUDIT_ENTRY_H_
#define AUTHD_AUDIT_ENTRY_H_

#include <cstdint>
#include <map>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>

#include "common/status.h"

namespace authd::audit {

// What happened; the log adds seq, time, result and software version.
struct AuditEvent {
  std::string actor;   // "uid:N", "client:ID", "system"
  std::string source;  // address, "unix" for the admin socket
  std::string action;  // "credential.create", "allowlist.remove", ...
  std::string target;
  std::map<std::string, std::string> values;
  std::string reason;
};

// The leaf bytes of entry `seq` recording `event`. InvalidArgument when the
// entry would not parse back (proto3 refuses invalid UTF-8 on parse, not on
// serialize), so no such entry is ever signed.
StatusOr<std::string> EncodeEntry(const AuditEvent& event, uint64_t seq,
                                  int64_t time_micros,
                                  std::string_view software_version);

// Decodes leaf bytes to the JSON object the API and exports show, including
// "leaf" (base64 of the bytes). InvalidArgument when the bytes are not a
// canonical audit.v1.Entry.
StatusOr<nlohmann::json> AuditEntryJson(std::string_view leaf);

}  // namespace authd::audit

#endif  // AUTHD_AUDIT_ENTRY_H_
