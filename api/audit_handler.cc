#include "api/audit_handler.h"

#include <charconv>

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

StatusOr<storage::AuditFilter> ParseFilter(const Request& req) {
  storage::AuditFilter f;
  ASSIGN_OR_RETURN(f.since_micros, TimeParam(req, "since"));
  ASSIGN_OR_RETURN(f.until_micros, TimeParam(req, "until"));
  ASSIGN_OR_RETURN(f.after_seq, UintParam(req, "after_seq"));
  ASSIGN_OR_RETURN(std::optional<uint64_t> limit, UintParam(req, "limit"));
  f.limit = limit.value_or(100);
  if (f.limit < 1 || f.limit > 1000) {
    return Status::InvalidArgument("limit must be between 1 and 1000");
  }
  for (auto [name, out] :
       {std::pair{"action", &f.action}, std::pair{"actor", &f.actor},
        std::pair{"target", &f.target}}) {
    if (const std::string* v = req.Query(name)) *out = *v;
  }
  return f;
}

}  // namespace

Response AuditHandler::Entries(const Request& req) const {
  auto f = ParseFilter(req);
  if (!f.ok()) return Response::FromStatus(f.status());
  auto rows = audit_->List(*f);
  if (!rows.ok()) return Response::FromStatus(rows.status());
  json entries = json::array();
  for (const auto& r : *rows) {
    auto e = audit::AuditEntryJson(r.leaf);
    if (!e.ok()) {
      return Response::FromStatus(Status::Internal(e.status().message()));
    }
    entries.push_back(std::move(*e));
  }
  json next = rows->size() == f->limit ? json(rows->back().seq) : json();
  return Response::Json(200, {{"entries", entries},
                              {"next_after_seq", next},
                              {"tree_size", audit_->size()}});
}

Response AuditHandler::LatestCheckpoint(const Request&) const {
  auto note = audit_->LatestCheckpoint();
  if (!note.ok()) return Response::FromStatus(note.status());
  Response r;
  r.content_type = "text/plain; charset=utf-8";
  r.body = *note;
  return r;
}

Response AuditHandler::Proof(const Request& req, bool inclusion) const {
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

}  // namespace authd::api
