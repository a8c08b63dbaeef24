// AdminHandler: the administration API (SPEC "Administration") — status,
// roles, keys, credentials and the allowlist. Identical rules over the admin
// socket and over TCP: the Router has already established the actor and
// checked the scope, the method and the JSON media type. Thread-safe.
#ifndef AUTHD_API_ADMIN_HANDLER_H_
#define AUTHD_API_ADMIN_HANDLER_H_

#include <string>

#include "api/http.h"
#include "api/ops_handler.h"
#include "audit/audit_log.h"
#include "authority/access.h"
#include "authority/key_ring.h"
#include "authority/metrics.h"
#include "common/clock.h"
#include "hsm/key_ops.h"

namespace authd::api {

class AdminHandler {
 public:
  struct Deps {
    authority::Access* access;
    const audit::AuditLog* audit;
    authority::KeyRing* ring;
    const hsm::KeyOps* keys;
    const Clock* clock;
    const Readiness* readiness;
    authority::Metrics* metrics = nullptr;  // may be null
    std::string version;
  };
  explicit AdminHandler(Deps deps) : d_(std::move(deps)) {}

  using Actor = authority::Actor;
  Response ServerStatus(const Request& req, const Actor& actor) const;
  Response Roles(const Request& req, const Actor& actor) const;
  Response ListKeys(const Request& req, const Actor& actor) const;
  Response RotateKey(const Request& req, const Actor& actor) const;
  Response ListCredentials(const Request& req, const Actor& actor) const;
  Response CreateCredential(const Request& req, const Actor& actor) const;
  // DELETE /v1/admin/credentials/{client_id}
  Response DeleteCredential(const Request& req, const Actor& actor) const;
  Response ListAllowlist(const Request& req, const Actor& actor) const;
  Response AddAllowlist(const Request& req, const Actor& actor) const;
  // DELETE /v1/admin/allowlist/{cidr}; the '/' arrives percent-decoded.
  Response RemoveAllowlist(const Request& req, const Actor& actor) const;

  static constexpr char kCredentials[] = "/v1/admin/credentials";
  static constexpr char kAllowlist[] = "/v1/admin/allowlist";

 private:
  void Count(authority::AdminAction action) const;
  // The fixed keys' creation time: their key.create audit entry (null when
  // the keys predate this database).
  nlohmann::json FixedKeyCreated(const char* label) const;

  const Deps d_;
};

}  // namespace authd::api

#endif  // AUTHD_API_ADMIN_HANDLER_H_
