#include "api/admin_handler.h"

#include <algorithm>

#include "common/encoding.h"
#include "common/strict_json.h"

namespace authd::api {
namespace {

using authority::AdminAction;
using nlohmann::json;

json CredentialJson(const storage::Credential& c, int64_t now) {
  return {{"client_id", c.client_id},
          {"name", c.name},
          {"role", c.role},
          {"created_at", FormatRfc3339(c.created_at)},
          {"expires_at", FormatRfc3339(c.expires_at)},
          {"expired", c.expires_at <= now},
          {"created_by", c.created_by}};
}

json AllowlistJson(const storage::AllowlistEntry& e) {
  return {{"cidr", e.cidr},
          {"created_at", FormatRfc3339(e.created_at)},
          {"created_by", e.created_by}};
}

json RingKeyJson(const authority::RingKey& k, bool published) {
  json key = {{"use", "token"},
              {"label", k.label},
              {"kid", k.pub.kid()},
              {"algorithm", AlgorithmName(k.pub.algorithm())},
              {"created_at", FormatRfc3339(k.created_at)},
              {"state", k.retired_at == 0 ? "active"
                        : published       ? "retired"
                                          : "expired"},
              {"public_key_pem", k.pub.pem()}};
  if (k.retired_at != 0) key["retired_at"] = FormatRfc3339(k.retired_at);
  return key;
}

// Parses a JSON object body whose keys are all in `allowed`.
StatusOr<json> ParseObject(const Request& req,
                           std::initializer_list<std::string_view> allowed) {
  ASSIGN_OR_RETURN(json body, ParseStrictJson(req.body.view()));
  if (!body.is_object()) {
    return Status::InvalidArgument("body must be a JSON object");
  }
  for (const auto& [key, value] : body.items()) {
    if (std::find(allowed.begin(), allowed.end(), key) == allowed.end()) {
      return Status::InvalidArgument("unknown field '" + key + "'");
    }
  }
  return body;
}

// Reads the string members `names` of `body` into `out` (in order); a member
// whose name is in `required` must be present.
Status StringFields(
    const json& body,
    std::initializer_list<std::pair<const char*, std::string*>> fields,
    std::initializer_list<std::string_view> required) {
  for (const auto& [name, out] : fields) {
    if (!body.contains(name)) {
      if (std::find(required.begin(), required.end(), name) != required.end()) {
        return Status::InvalidArgument(std::string(name) + " is required");
      }
      continue;
    }
    if (!body[name].is_string()) {
      return Status::InvalidArgument(std::string(name) + " must be a string");
    }
    *out = body[name].get<std::string>();
  }
  return Status::Ok();
}

// Whether `role` is in `roles`: a credential whose role a reload removed
// gets no token.
bool HasRole(const std::vector<authority::Role>& roles, std::string_view role) {
  return std::any_of(roles.begin(), roles.end(),
                     [&](const authority::Role& r) { return r.name == role; });
}

std::string ReasonParam(const Request& req) {
  const std::string* reason = req.Query("reason");
  return reason ? *reason : "";
}

// Failing rows the status lists; its integrity field gives the count.
constexpr size_t kListedFailures = 1000;

// The status's integrity field: "ok", or what is wrong and what to do.
json IntegrityJson(const authority::Access::Snapshot& snap) {
  size_t n = snap.failures.size();
  if (n == 0) return "ok";
  return (n == 1 ? std::string("1 stored row failed its integrity check and "
                               "is not honoured")
                 : std::to_string(n) +
                       " stored rows failed their integrity check and are "
                       "not honoured") +
         "; changes are refused until each is removed with the command given";
}

}  // namespace

void AdminHandler::Count(AdminAction action) const {
  if (d_.metrics) d_.metrics->AdminChange(action);
}

Response AdminHandler::Roles(const Request&, const Actor&) const {
  json out = json::array();
  for (const authority::Role& r : *d_.access->roles()) {
    out.push_back({{"name", r.name},
                   {"description", r.description},
                   {"scopes", r.scopes}});
  }
  return Response::Json(200, out);
}

Response AdminHandler::ServerStatus(const Request&, const Actor&) const {
  auto snap = d_.access->Current();
  auto roles = d_.access->roles();
  size_t orphans = 0;
  for (const auto& [id, c] : snap->credentials) {
    if (!HasRole(*roles, c.role)) ++orphans;
  }
  std::string refusal = d_.audit->refusal();
  json failures = json::array();
  for (const authority::IntegrityFailure& f : snap->failures) {
    if (failures.size() == kListedFailures) break;  // the count says more
    failures.push_back({{"table", f.table},
                        {"key", f.key},
                        {"problem", f.problem},
                        {"resolve", f.resolve}});
  }
  return Response::Json(200,
                        {{"version", d_.version},
                         {"ready", d_.readiness->Ready()},
                         {"audit", refusal.empty() ? "ok" : refusal},
                         {"audit_size", d_.audit->size()},
                         {"integrity", IntegrityJson(*snap)},
                         {"integrity_failures", std::move(failures)},
                         {"credentials", snap->credentials.size()},
                         {"credentials_without_role", orphans},
                         {"allowlist", snap->allowlist.size()},
                         {"token_kid", d_.ring->Current()->active.pub.kid()}});
}

Response AdminHandler::RotateKey(const Request& req, const Actor& actor) const {
  auto body = ParseObject(req, {"use", "algorithm", "reason"});
  if (!body.ok()) return Response::FromStatus(body.status());
  std::string use, alg_name, why;
  if (auto st = StringFields(
          *body, {{"use", &use}, {"algorithm", &alg_name}, {"reason", &why}},
          {"use"});
      !st.ok()) {
    return Response::FromStatus(st);
  }
  if (Status st = d_.access->IntegrityRefusal(); !st.ok()) {
    return Response::FromStatus(st);
  }
  if (use != "token") {
    return Response::Error(400, "invalid_request",
                           "only use=token can be rotated; the audit key "
                           "and pepper are fixed for the log's lifetime");
  }
  Algorithm alg = d_.ring->Current()->active.pub.algorithm();
  if (!alg_name.empty() && !ParseAlgorithm(alg_name, &alg)) {
    return Response::Error(400, "invalid_request",
                           "algorithm must be ES256 or RS256");
  }
  auto rotated = d_.ring->Rotate(alg, actor.id, actor.address, why);
  if (!rotated.ok()) return Response::FromStatus(rotated.status());
  json out = RingKeyJson(*rotated, true);
  return Response::Json(201, out);
}

json AdminHandler::FixedKeyCreated(const char* label) const {
  storage::AuditFilter f;
  f.action = "key.create";
  f.target = label;
  f.limit = 1;
  auto rows = d_.audit->List(f);
  if (!rows.ok() || rows->empty()) return nullptr;
  return FormatRfc3339((*rows)[0].time_micros / 1000000);
}

Response AdminHandler::ListKeys(const Request&, const Actor&) const {
  json out = json::array();
  auto ring = d_.ring->Current();
  auto published = d_.ring->Published(*ring, d_.clock->NowSeconds());
  for (const authority::RingKey& k : ring->all) {
    bool live =
        std::find(published.begin(), published.end(), &k) != published.end();
    out.push_back(RingKeyJson(k, live));
  }
  const PublicKey& audit = d_.keys->Public(hsm::KeyUse::kAudit);
  out.push_back({{"use", "audit"},
                 {"label", hsm::kAuditKeyLabel},
                 {"kid", audit.kid()},
                 {"algorithm", "ES256"},
                 {"created_at", FixedKeyCreated(hsm::kAuditKeyLabel)},
                 {"state", "active"},
                 {"public_key_pem", audit.pem()}});
  out.push_back({{"use", "pepper"},
                 {"label", hsm::kPepperLabel},
                 {"kid", nullptr},
                 {"algorithm", "HMAC-SHA256"},
                 {"created_at", FixedKeyCreated(hsm::kPepperLabel)},
                 {"state", "active"}});
  return Response::Json(200, out);
}

Response AdminHandler::ListCredentials(const Request&, const Actor&) const {
  int64_t now = d_.clock->NowSeconds();
  auto roles = d_.access->roles();
  json out = json::array();
  for (const auto& c : d_.access->ListCredentials()) {
    out.push_back(CredentialJson(c, now));
    out.back()["role_exists"] = HasRole(*roles, c.role);
  }
  return Response::Json(200, out);
}

Response AdminHandler::CreateCredential(const Request& req,
                                        const Actor& actor) const {
  auto body = ParseObject(req, {"name", "role", "expires_at", "reason"});
  if (!body.ok()) return Response::FromStatus(body.status());
  authority::NewCredential nc;
  std::string expires;
  if (auto st = StringFields(*body,
                             {{"name", &nc.name},
                              {"role", &nc.role},
                              {"reason", &nc.reason},
                              {"expires_at", &expires}},
                             {"name", "role", "expires_at"});
      !st.ok()) {
    return Response::FromStatus(st);
  }
  std::optional<int64_t> exp = ParseRfc3339(expires);
  if (!exp) {
    return Response::Error(
        400, "invalid_request",
        "expires_at must be an RFC 3339 time such as 2027-01-31T00:00:00Z");
  }
  nc.expires_at = *exp;
  auto created = d_.access->CreateCredential(nc, actor);
  if (!created.ok()) return Response::FromStatus(created.status());
  json out = CredentialJson(created->credential, d_.clock->NowSeconds());
  out.erase("expired");
  out["client_secret"] = std::string(created->client_secret.view());
  Count(AdminAction::kCredentialCreate);
  return Response::Json(201, out).With("Cache-Control", "no-store");
}

Response AdminHandler::DeleteCredential(const Request& req,
                                        const Actor& actor) const {
  std::string id = req.path.substr(sizeof(kCredentials));
  Status st = d_.access->DeleteCredential(id, actor, ReasonParam(req));
  if (!st.ok()) return Response::FromStatus(st);
  Count(AdminAction::kCredentialDelete);
  return Response::NoContent();
}

Response AdminHandler::ListAllowlist(const Request&, const Actor&) const {
  json out = json::array();
  for (const auto& e : d_.access->Current()->allowlist) {
    out.push_back(AllowlistJson(e));
  }
  return Response::Json(200, out);
}

Response AdminHandler::AddAllowlist(const Request& req,
                                    const Actor& actor) const {
  auto body = ParseObject(req, {"cidr", "reason"});
  if (!body.ok()) return Response::FromStatus(body.status());
  std::string cidr, why;
  if (auto st =
          StringFields(*body, {{"cidr", &cidr}, {"reason", &why}}, {"cidr"});
      !st.ok()) {
    return Response::FromStatus(st);
  }
  auto added = d_.access->AddAllowlist(cidr, actor, why);
  if (!added.ok()) return Response::FromStatus(added.status());
  Count(AdminAction::kAllowlistAdd);
  return Response::Json(201, AllowlistJson(*added));
}

Response AdminHandler::RemoveAllowlist(const Request& req,
                                       const Actor& actor) const {
  Status st = d_.access->RemoveAllowlist(req.path.substr(sizeof(kAllowlist)),
                                         actor, ReasonParam(req));
  if (!st.ok()) return Response::FromStatus(st);
  Count(AdminAction::kAllowlistRemove);
  return Response::NoContent();
}

}  // namespace authd::api
