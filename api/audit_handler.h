// AuditHandler: reading and proving the audit log over the admin API (scope
// audit:read): entries with filters and pagination, the latest signed
// checkpoint, RFC 9162 inclusion and consistency proofs, the export file
// (docs/audit-formats.md §7.1) and the audit public key. Thread-safe.
#ifndef AUTHD_API_AUDIT_HANDLER_H_
#define AUTHD_API_AUDIT_HANDLER_H_

#include "api/http.h"
#include "audit/audit_log.h"
#include "hsm/key_ops.h"

namespace authd::api {

class AuditHandler {
 public:
  // `keys` gives the audit public key; null leaves PublicKeyPem 404.
  explicit AuditHandler(const audit::AuditLog* audit,
                        const hsm::KeyOps* keys = nullptr)
      : audit_(audit), keys_(keys) {}

  // GET /v1/admin/audit?since&until&after_seq&limit&action&actor&target
  Response Entries(const Request& req) const;
  // GET /v1/admin/audit/checkpoint: the signed note, text/plain.
  Response LatestCheckpoint(const Request& req) const;
  // GET /v1/admin/audit/proof?index&size (inclusion) and
  // GET /v1/admin/audit/consistency?from&to.
  Response Proof(const Request& req, bool inclusion) const;
  // GET /v1/admin/audit/export?format=jsonl|csv&since: the export file that
  // `authctl audit export` writes, as an attachment. The latest checkpoint
  // is read first and the entries it covers follow, so changes made during
  // the export never show up half: JSON Lines ends with the checkpoint line,
  // CSV has a header row and neutralised cells (common/csv.h).
  // The first 1000 entries are in the body; a longer export streams the
  // rest (Response::stream), 1000 entries at a time, so memory does not
  // grow with the log.
  Response Export(const Request& req) const;
  // GET /v1/admin/audit/public-key: the audit key's PEM, as an attachment.
  Response PublicKeyPem(const Request& req) const;

 private:
  const audit::AuditLog* audit_;
  const hsm::KeyOps* keys_;
};

}  // namespace authd::api

#endif  // AUTHD_API_AUDIT_HANDLER_H_
