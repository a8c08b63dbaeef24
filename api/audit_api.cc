// Reading and proving the audit log over the admin API (scope audit:read):
// entries with filters and pagination, the latest signed checkpoint, and
// RFC 9162 inclusion and consistency proofs.
#include <charconv>

#include "api/app.h"
#include "common/encoding.h"

namespace authd::api {
namespace {

using nlohmann::json;

// Parses an unsigned decimal query parameter; nullopt when absent.
StatusOr<std::optional<uint64_t>> UintParam(const Request& req,
                                            const char* name) {
  const std::string* v = req.Query(name);
  if (v == nullptr) return std::optional<uint64_t>();
  uint64_t out = 0;
  auto [p, ec] = std::from_chars(v->data(), v->data() + v->size(), out);
  if (v->empty() || ec != std::errc() || p != v->data() + v->size()) {
    return Status::InvalidArgument(std::string(name) +
                                   " must be a non-negative integer");
  }
  return std::optional<uint64_t>(out);
}

StatusOr<std::optional<int64_t>> TimeParam(const Request& req,
                                           const char* name) {
  const std::string* v = req.Query(name);
  if (v == nullptr) return std::optional<int64_t>();
  std::optional<int64_t> t = ParseRfc3339(*v);
  if (!t) {
    return Status::InvalidArgument(std::string(name) +
                                   " must be an RFC 3339 time");
  }
  return std::optional<int64_t>(*t * 1000000);
}

json HashesJson(const std::vector<std::string>& hashes) {
  json out = json::array();
  for (const auto& h : hashes) out.push_back(Base64Encode(h));
  return out;
}

}  // namespace

Response App::Audit(const Request& req) const {
  if (req.method != "GET") {
    return Response::Error(405, "method_not_allowed", "use GET")
        .With("Allow", "GET");
  }
  const std::string& path = req.path;
  if (path == "/v1/admin/audit") {
    storage::AuditFilter f;
    auto since = TimeParam(req, "since");
    auto until = TimeParam(req, "until");
    auto after = UintParam(req, "after_seq");
    auto limit = UintParam(req, "limit");
    for (const Status* st :
         {&since.status(), &until.status(), &after.status(), &limit.status()}) {
      if (!st->ok()) return Response::FromStatus(*st);
    }
    f.since_micros = *since;
    f.until_micros = *until;
    f.after_seq = *after;
    f.limit = limit->value_or(100);
    if (f.limit < 1 || f.limit > 1000) {
      return Response::Error(400, "invalid_request",
                             "limit must be between 1 and 1000");
    }
    for (auto [name, out] :
         {std::pair{"action", &f.action}, std::pair{"actor", &f.actor},
          std::pair{"target", &f.target}}) {
      if (const std::string* v = req.Query(name)) *out = *v;
    }
    auto rows = audit_->List(f);
    if (!rows.ok()) return Response::FromStatus(rows.status());
    json entries = json::array();
    for (const auto& r : *rows) {
      auto e = storage::AuditEntryJson(r.leaf);
      if (!e.ok())
        return Response::FromStatus(Status::Internal(e.status().message()));
      entries.push_back(std::move(*e));
    }
    json next = rows->size() == f.limit ? json(rows->back().seq) : json();
    return Response::Json(200, {{"entries", entries},
                                {"next_after_seq", next},
                                {"tree_size", audit_->size()}});
  }
  if (path == "/v1/admin/audit/checkpoint") {
    auto note = audit_->LatestCheckpoint();
    if (!note.ok()) return Response::FromStatus(note.status());
    Response r;
    r.content_type = "text/plain; charset=utf-8";
    r.body = *note;
    return r;
  }
  if (path == "/v1/admin/audit/proof" ||
      path == "/v1/admin/audit/consistency") {
    bool inclusion = path == "/v1/admin/audit/proof";
    auto a = UintParam(req, inclusion ? "index" : "from");
    auto b = UintParam(req, inclusion ? "size" : "to");
    if (!a.ok()) return Response::FromStatus(a.status());
    if (!b.ok()) return Response::FromStatus(b.status());
    if (!a->has_value()) {
      return Response::Error(
          400, "invalid_request",
          inclusion ? "index is required" : "from is required");
    }
    uint64_t size = b->value_or(audit_->size());
    auto proof = inclusion ? audit_->InclusionProof(**a, size)
                           : audit_->ConsistencyProof(**a, size);
    if (!proof.ok()) return Response::FromStatus(proof.status());
    json out = {{inclusion ? "index" : "from", proof->index},
                {inclusion ? "size" : "to", proof->size},
                {"hashes", HashesJson(proof->hashes)},
                {"checkpoint", proof->checkpoint}};
    if (inclusion) out["leaf"] = Base64Encode(proof->leaf);
    return Response::Json(200, out);
  }
  return Response::Error(404, "not_found", "no such endpoint: " + path);
}

}  // namespace authd::api
