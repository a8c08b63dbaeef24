#include "api/audit_handler.h"

#include <charconv>

#include "audit/checkpoint.h"
#include "common/csv.h"
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

constexpr char kCsvHeader[] =
    "seq,time,actor,source,action,target,values,reason,result,"
    "software_version,leaf\n";

std::string CsvRow(const json& e) {
  std::string row;
  for (const char* k :
       {"seq", "time", "actor", "source", "action", "target", "values",
        "reason", "result", "software_version", "leaf"}) {
    const json v = e.value(k, json());
    row += (row.empty() ? "" : ",") +
           CsvCell(v.is_string() ? v.get<std::string>() : v.dump());
  }
  return row + "\n";
}

// The tree size a signed note covers: its body's second line.
StatusOr<uint64_t> NoteSize(const std::string& note) {
  size_t blank = note.find("\n\n");
  if (blank == std::string::npos) {
    return Status::Internal("the stored checkpoint is not a signed note");
  }
  ASSIGN_OR_RETURN(audit::Checkpoint cp,
                   audit::ParseCheckpointBody(note.substr(0, blank + 1)));
  return cp.size;
}

// The export file page by page: each call appends the next (up to) 1000
// entries of `f` below `size`, as JSON Lines or CSV rows, and after the
// last the checkpoint line (JSON Lines). The file's bytes do not depend on
// how it is cut into pages. A Response::BodyStream.
struct ExportPages {
  const audit::AuditLog* log;
  storage::AuditFilter f;
  uint64_t size = 0;
  bool csv = false;
  std::string note;
  bool done = false;

  StatusOr<bool> operator()(std::string* out) {
    if (done) return false;
    f.limit = 1000;
    ASSIGN_OR_RETURN(std::vector<storage::AuditRecord> rows, log->List(f));
    done = rows.size() < f.limit;
    for (const auto& r : rows) {
      if (r.seq >= size) {
        done = true;
        break;
      }
      ASSIGN_OR_RETURN(json e, audit::AuditEntryJson(r.leaf));
      // As the API shows it: invalid UTF-8 replaced, never thrown.
      std::string line = e.dump(-1, ' ', false, json::error_handler_t::replace);
      *out += csv ? CsvRow(json::parse(line)) : line + "\n";
      f.after_seq = r.seq;
    }
    if (done && !csv) *out += json{{"checkpoint", note}}.dump() + "\n";
    return !done;
  }
};

}  // namespace

Response AuditHandler::Export(const Request& req) const {
  const std::string* format = req.Query("format");
  bool csv = format != nullptr && *format == "csv";
  if (format != nullptr && !csv && *format != "jsonl") {
    return Response::Error(400, "invalid_request",
                           "format must be jsonl or csv");
  }
  storage::AuditFilter f;
  auto since = TimeParam(req, "since");
  if (!since.ok()) return Response::FromStatus(since.status());
  f.since_micros = *since;
  // Fix the tree size first: export exactly what the checkpoint covers.
  auto note = audit_->LatestCheckpoint();
  if (!note.ok()) return Response::FromStatus(note.status());
  auto size = NoteSize(*note);
  if (!size.ok()) return Response::FromStatus(size.status());
  // The first page is read here, so that a failure to read at all is an
  // ordinary error answer; the rest streams as it is sent.
  ExportPages pages{audit_, f, *size, csv, *note};
  Response r;
  r.body = csv ? kCsvHeader : "";
  StatusOr<bool> more = pages(&r.body);
  if (!more.ok()) {
    return Response::FromStatus(Status::Internal(more.status().message()));
  }
  if (*more) r.stream = std::move(pages);
  r.content_type =
      csv ? "text/csv; charset=utf-8" : "application/jsonl; charset=utf-8";
  return r
      .With("Content-Disposition",
            std::string("attachment; filename=\"authd-audit-export.") +
                (csv ? "csv" : "jsonl") + "\"")
      .With("Cache-Control", "no-store");
}

Response AuditHandler::PublicKeyPem(const Request& req) const {
  if (keys_ == nullptr) return Response::NotFound(req.path);
  Response r;
  r.content_type = "application/x-pem-file";
  r.body = keys_->Public(hsm::KeyUse::kAudit).pem();
  return r.With("Content-Disposition",
                "attachment; filename=\"authd-audit-key.pem\"");
}

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
