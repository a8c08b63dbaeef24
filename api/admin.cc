// The administration API (SPEC "Administration"): identical rules over the
// admin socket and over TCP; only how the actor is established differs.
#include <algorithm>

#include "api/app.h"
#include "common/encoding.h"

namespace authd::api {
namespace {

using nlohmann::json;

constexpr char kCredentials[] = "/v1/admin/credentials";
constexpr char kAllowlist[] = "/v1/admin/allowlist";

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

// Parses a JSON object body whose keys are all in `allowed`.
StatusOr<json> ParseObject(const Request& req,
                           std::initializer_list<std::string_view> allowed) {
  json body = json::parse(req.body.view(), nullptr, false);
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

StatusOr<std::string> StringField(const json& body, const char* name,
                                  bool required) {
  if (!body.contains(name)) {
    if (required) {
      return Status::InvalidArgument(std::string(name) + " is required");
    }
    return std::string();
  }
  if (!body[name].is_string()) {
    return Status::InvalidArgument(std::string(name) + " must be a string");
  }
  return body[name].get<std::string>();
}

Response MethodNotAllowed(const char* allow) {
  return Response::Error(405, "method_not_allowed",
                         std::string("allowed methods: ") + allow)
      .With("Allow", allow);
}

std::string ReasonParam(const Request& req) {
  const std::string* reason = req.Query("reason");
  return reason ? *reason : "";
}

}  // namespace

// Establishes who asks: the peer uid on the socket; over TCP a Bearer token
// that carries `scope`. Returns the refusal when there is one.
std::optional<Response> App::Authorize(const Request& req, const char* scope,
                                       Actor* actor) const {
  if (req.admin_socket) {
    actor->id = "uid:" + (req.peer_uid ? std::to_string(*req.peer_uid)
                                       : std::string("unknown"));
    actor->address = "unix";
    return std::nullopt;
  }
  const std::string* auth = req.Header("authorization");
  if (auth == nullptr || auth->size() < 7 ||
      !std::equal(auth->begin(), auth->begin() + 7, "Bearer ",
                  [](char a, char b) { return tolower(a) == tolower(b); })) {
    return Response::Error(401, "unauthorized",
                           "send Authorization: Bearer <access token>")
        .With("WWW-Authenticate", "Bearer realm=\"authd\"");
  }
  StatusOr<Principal> who = tokens_->VerifyBearer(auth->substr(7));
  if (!who.ok()) {
    return Response::Error(401, "unauthorized", who.status().message())
        .With("WWW-Authenticate",
              "Bearer realm=\"authd\", error=\"invalid_token\"");
  }
  if (!who->Has(scope)) {
    return Response::Error(403, "insufficient_scope",
                           std::string("this action needs scope ") + scope)
        .With("WWW-Authenticate",
              std::string("Bearer realm=\"authd\", error=\"insufficient_"
                          "scope\", scope=\"") +
                  scope + "\"");
  }
  actor->id = "client:" + who->client_id;
  actor->address = req.client ? req.client->ToString() : "";
  return std::nullopt;
}

void App::Count(AdminAction action) const {
  if (options_.metrics) options_.metrics->AdminChange(action);
}

Response App::Admin(const Request& req) const {
  const std::string& path = req.path;
  const std::string& m = req.method;
  bool is_write = m == "POST" || m == "DELETE";
  bool is_audit =
      path == "/v1/admin/audit" || path.rfind("/v1/admin/audit/", 0) == 0;
  const char* scope =
      is_audit ? "audit:read" : (is_write ? "admin:write" : "admin:read");
  Actor actor;
  if (auto refused = Authorize(req, scope, &actor)) return *refused;
  if (m == "POST") {
    // Every admin body is JSON (SPEC "Administration": 415 otherwise).
    const std::string* ct = req.Header("content-type");
    if (ct == nullptr || ct->substr(0, ct->find(';')) != "application/json") {
      return Response::Error(415, "unsupported_media_type",
                             "Content-Type must be application/json");
    }
  }
  Response r = is_audit ? Audit(req) : AdminRoute(req, actor);
  if (actor.id.rfind("client:", 0) == 0) r.log_client_id = actor.id.substr(7);
  return r;
}

Response App::AdminRoute(const Request& req, const Actor& actor) const {
  const std::string& path = req.path;
  const std::string& m = req.method;
  if (path == "/v1/admin/roles") {
    if (m != "GET") return MethodNotAllowed("GET");
    json out = json::array();
    for (const Role& r : access_->roles()) {
      out.push_back({{"name", r.name},
                     {"description", r.description},
                     {"scopes", r.scopes}});
    }
    return Response::Json(200, out);
  }
  if (path == "/v1/admin/status") {
    if (m != "GET") return MethodNotAllowed("GET");
    auto snap = access_->Current();
    return Response::Json(
        200, {{"version", options_.version},
              {"ready", IsReady()},
              {"audit", audit_->refusal().empty() ? "ok" : audit_->refusal()},
              {"audit_size", audit_->size()},
              {"credentials", snap->credentials.size()},
              {"allowlist", snap->allowlist.size()},
              {"token_kid", ring_->Current()->active.pub.kid()}});
  }
  if (path.rfind("/v1/admin/keys", 0) == 0) return AdminKeys(req, actor);
  if (path.rfind(kCredentials, 0) == 0) return AdminCredentials(req, actor);
  if (path.rfind(kAllowlist, 0) == 0) return AdminAllowlist(req, actor);
  return Response::Error(404, "not_found", "no such endpoint: " + path);
}

Response App::AdminKeys(const Request& req, const Actor& actor) const {
  const std::string& path = req.path;
  const std::string& m = req.method;
  int64_t now = clock_->NowSeconds();
  if (path == "/v1/admin/keys/rotate") {
    if (m != "POST") return MethodNotAllowed("POST");
    auto body = ParseObject(req, {"use", "algorithm", "reason"});
    if (!body.ok()) return Response::FromStatus(body.status());
    auto use = StringField(*body, "use", true);
    auto alg_name = StringField(*body, "algorithm", false);
    auto why = StringField(*body, "reason", false);
    for (const auto* f : {&use, &alg_name, &why}) {
      if (!f->ok()) return Response::FromStatus(f->status());
    }
    if (*use != "token") {
      return Response::Error(400, "invalid_request",
                             "only use=token can be rotated; the audit key "
                             "and pepper are fixed for the log's lifetime");
    }
    hsm::Algorithm alg = ring_->Current()->active.pub.algorithm();
    if (!alg_name->empty() && !hsm::ParseAlgorithm(*alg_name, &alg)) {
      return Response::Error(400, "invalid_request",
                             "algorithm must be ES256 or RS256");
    }
    auto rotated = ring_->Rotate(alg, actor.id, actor.address, *why);
    if (!rotated.ok()) return Response::FromStatus(rotated.status());
    return Response::Json(201,
                          {{"use", "token"},
                           {"label", rotated->label},
                           {"kid", rotated->pub.kid()},
                           {"algorithm", hsm::AlgorithmName(alg)},
                           {"state", "active"},
                           {"created_at", FormatRfc3339(rotated->created_at)},
                           {"public_key_pem", rotated->pub.pem()}});
  }

  if (path == "/v1/admin/keys") {
    if (m != "GET") return MethodNotAllowed("GET");
    json out = json::array();
    auto ring = ring_->Current();
    auto published = ring_->Published(*ring, now);
    for (const RingKey& k : ring->all) {
      bool live =
          std::find(published.begin(), published.end(), &k) != published.end();
      json key = {{"use", "token"},
                  {"label", k.label},
                  {"kid", k.pub.kid()},
                  {"algorithm", hsm::AlgorithmName(k.pub.algorithm())},
                  {"created_at", FormatRfc3339(k.created_at)},
                  {"state", k.retired_at == 0 ? "active"
                            : live            ? "retired"
                                              : "expired"},
                  {"public_key_pem", k.pub.pem()}};
      if (k.retired_at != 0) key["retired_at"] = FormatRfc3339(k.retired_at);
      out.push_back(std::move(key));
    }
    // The fixed keys' creation time is their key.create audit entry (null
    // when the keys predate this database).
    auto created = [&](const char* label) -> json {
      storage::AuditFilter f;
      f.action = "key.create";
      f.target = label;
      f.limit = 1;
      auto rows = audit_->List(f);
      if (!rows.ok() || rows->empty()) return nullptr;
      return FormatRfc3339((*rows)[0].time_micros / 1000000);
    };
    const hsm::PublicKey& audit = keys_->Public(hsm::KeyUse::kAudit);
    out.push_back({{"use", "audit"},
                   {"label", hsm::kAuditKeyLabel},
                   {"kid", audit.kid()},
                   {"algorithm", "ES256"},
                   {"created_at", created(hsm::kAuditKeyLabel)},
                   {"state", "active"},
                   {"public_key_pem", audit.pem()}});
    out.push_back({{"use", "pepper"},
                   {"label", hsm::kPepperLabel},
                   {"kid", nullptr},
                   {"algorithm", "HMAC-SHA256"},
                   {"created_at", created(hsm::kPepperLabel)},
                   {"state", "active"}});
    return Response::Json(200, out);
  }

  return Response::Error(404, "not_found", "no such endpoint: " + path);
}

Response App::AdminCredentials(const Request& req, const Actor& actor) const {
  const std::string& path = req.path;
  const std::string& m = req.method;
  int64_t now = clock_->NowSeconds();
  if (path == kCredentials) {
    if (m == "GET") {
      json out = json::array();
      for (const auto& c : access_->ListCredentials()) {
        out.push_back(CredentialJson(c, now));
      }
      return Response::Json(200, out);
    }
    if (m != "POST") return MethodNotAllowed("GET, POST");
    auto body = ParseObject(req, {"name", "role", "expires_at", "reason"});
    if (!body.ok()) return Response::FromStatus(body.status());
    NewCredential nc;
    for (auto [field, out] :
         {std::pair{"name", &nc.name}, std::pair{"role", &nc.role},
          std::pair{"reason", &nc.reason}}) {
      auto v = StringField(*body, field, std::string_view(field) != "reason");
      if (!v.ok()) return Response::FromStatus(v.status());
      *out = *v;
    }
    auto expires = StringField(*body, "expires_at", true);
    if (!expires.ok()) return Response::FromStatus(expires.status());
    std::optional<int64_t> exp = ParseRfc3339(*expires);
    if (!exp) {
      return Response::Error(
          400, "invalid_request",
          "expires_at must be an RFC 3339 time such as 2027-01-31T00:00:00Z");
    }
    nc.expires_at = *exp;
    auto created = access_->CreateCredential(nc, actor);
    if (!created.ok()) return Response::FromStatus(created.status());
    json out = CredentialJson(created->credential, now);
    out.erase("expired");
    out["client_secret"] = std::string(created->client_secret.view());
    Count(AdminAction::kCredentialCreate);
    return Response::Json(201, out).With("Cache-Control", "no-store");
  }
  if (path.rfind(std::string(kCredentials) + "/", 0) == 0) {
    if (m != "DELETE") return MethodNotAllowed("DELETE");
    std::string id = path.substr(sizeof(kCredentials));
    Status st = access_->DeleteCredential(id, actor, ReasonParam(req));
    if (!st.ok()) return Response::FromStatus(st);
    Count(AdminAction::kCredentialDelete);
    return Response::NoContent();
  }

  return Response::Error(404, "not_found", "no such endpoint: " + path);
}

Response App::AdminAllowlist(const Request& req, const Actor& actor) const {
  const std::string& path = req.path;
  const std::string& m = req.method;
  if (path == kAllowlist) {
    if (m == "GET") {
      json out = json::array();
      for (const auto& e : access_->Current()->allowlist) {
        out.push_back(AllowlistJson(e));
      }
      return Response::Json(200, out);
    }
    if (m != "POST") return MethodNotAllowed("GET, POST");
    auto body = ParseObject(req, {"cidr", "reason"});
    if (!body.ok()) return Response::FromStatus(body.status());
    auto cidr = StringField(*body, "cidr", true);
    if (!cidr.ok()) return Response::FromStatus(cidr.status());
    auto why = StringField(*body, "reason", false);
    if (!why.ok()) return Response::FromStatus(why.status());
    auto added = access_->AddAllowlist(*cidr, actor, *why);
    if (!added.ok()) return Response::FromStatus(added.status());
    Count(AdminAction::kAllowlistAdd);
    return Response::Json(201, AllowlistJson(*added));
  }
  if (path.rfind(std::string(kAllowlist) + "/", 0) == 0) {
    if (m != "DELETE") return MethodNotAllowed("DELETE");
    // The CIDR's '/' arrives percent-decoded, so take the whole remainder.
    Status st = access_->RemoveAllowlist(path.substr(sizeof(kAllowlist)), actor,
                                         ReasonParam(req));
    if (!st.ok()) return Response::FromStatus(st);
    Count(AdminAction::kAllowlistRemove);
    return Response::NoContent();
  }
  return Response::Error(404, "not_found", "no such endpoint: " + path);
}

}  // namespace authd::api
