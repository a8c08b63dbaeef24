// AuditHandler: reading and proving the audit log over the admin API (scope
// audit:read): entries with filters and pagination, the latest signed
// checkpoint, and RFC 9162 inclusion and consistency proofs. Thread-safe.
#ifndef AUTHD_API_AUDIT_HANDLER_H_
#define AUTHD_API_AUDIT_HANDLER_H_

#include "api/http.h"
#include "audit/audit_log.h"

namespace authd::api {

class AuditHandler {
 public:
  explicit AuditHandler(const audit::AuditLog* audit) : audit_(audit) {}

  // GET /v1/admin/audit?since&until&after_seq&limit&action&actor&target
  Response Entries(const Request& req) const;
  // GET /v1/admin/audit/checkpoint: the signed note, text/plain.
  Response LatestCheckpoint(const Request& req) const;
  // GET /v1/admin/audit/proof?index&size (inclusion) and
  // GET /v1/admin/audit/consistency?from&to.
  Response Proof(const Request& req, bool inclusion) const;

 private:
  const audit::AuditLog* audit_;
};

}  // namespace authd::api

#endif  // AUTHD_API_AUDIT_HANDLER_H_
