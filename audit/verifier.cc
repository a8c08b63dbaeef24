#include "audit/verifier.h"

#include <algorithm>
#include <nlohmann/json.hpp>
#include <thread>

#include "audit/entry.h"
#include "audit/merkle.h"
#include "common/encoding.h"
#include "common/strict_json.h"

namespace authd::audit {
namespace {

Status LineError(size_t line, const std::string& why) {
  return Status::InvalidArgument("line " + std::to_string(line) + ": " + why);
}

StatusOr<Checkpoint> VerifyNote(std::string_view note, const PublicKey& key,
                                const std::string& what) {
  std::string origin = NoteOrigin(note);
  StatusOr<Checkpoint> c = VerifySignedCheckpoint(note, origin, origin, key);
  if (!c.ok()) return c.status().WithContext(what);
  return c;
}

}  // namespace

std::string NoteOrigin(std::string_view note) {
  return std::string(note.substr(0, note.find('\n')));
}

std::string UnwrapCheckpoint(std::string_view text) {
  size_t start = text.find_first_not_of(" \t\r\n");
  if (start != std::string_view::npos && text[start] == '{') {
    // A duplicate key leaves the text as it is, which then fails as a note.
    StatusOr<nlohmann::json> parsed = ParseStrictJson(text);
    nlohmann::json j =
        parsed.ok() ? std::move(parsed).value() : nlohmann::json();
    if (j.is_object() && j.contains("checkpoint") &&
        j["checkpoint"].is_string()) {
      return j["checkpoint"].get<std::string>();
    }
  }
  return std::string(text);
}

namespace {

// An entry line's own checks: its leaf must decode to exactly the fields
// shown. Sets its seq and leaf hash.
Status CheckEntry(const nlohmann::json& j, size_t line_no, LineResult* out) {
  if (!j.contains("leaf") || !j["leaf"].is_string()) {
    return LineError(line_no, "entry has no \"leaf\"");
  }
  std::optional<std::string> leaf = Base64Decode(j["leaf"].get<std::string>());
  if (!leaf) return LineError(line_no, "\"leaf\" is not base64");
  StatusOr<nlohmann::json> decoded = AuditEntryJson(*leaf);
  if (!decoded.ok()) return LineError(line_no, decoded.status().message());
  if (*decoded != j) {
    return LineError(line_no,
                     "decoded fields do not match the leaf bytes (entry "
                     "edited)");
  }
  out->seq = (*decoded)["seq"].get<uint64_t>();
  out->text = LeafHash(*leaf);
  return Status::Ok();
}

// The fast path for the line authd writes: when the line is, byte for byte,
// the compact JSON of the entry its "leaf" decodes to, parsing the line
// would give exactly that object, so every check of CheckEntry passes with
// it; otherwise (nullopt) the line takes the full path. The verdict is the
// same either way; this one just skips parsing and comparing JSON.
std::optional<LineResult> CanonicalEntry(std::string_view line) {
  constexpr std::string_view kKey = "\"leaf\":\"";
  size_t at = line.find(kKey);
  if (at == std::string_view::npos) return std::nullopt;
  size_t start = at + kKey.size();
  size_t end = line.find('"', start);
  if (end == std::string_view::npos) return std::nullopt;
  std::optional<std::string> leaf =
      Base64Decode(std::string(line.substr(start, end - start)));
  if (!leaf) return std::nullopt;
  StatusOr<nlohmann::json> decoded = AuditEntryJson(*leaf);
  if (!decoded.ok()) return std::nullopt;
  try {
    if (decoded->dump() != line) return std::nullopt;  // throws: not UTF-8
  } catch (const nlohmann::json::exception&) {
    return std::nullopt;
  }
  return LineResult{LineResult::Kind::kEntry, LeafHash(*leaf),
                    (*decoded)["seq"].get<uint64_t>()};
}

// Everything about one line that does not depend on the lines before it,
// so lines can be checked in parallel.
LineResult CheckLineAlone(std::string_view line, size_t line_no) {
  using Kind = LineResult::Kind;
  if (line.empty()) return {Kind::kEmpty};
  try {
    if (std::optional<LineResult> fast = CanonicalEntry(line)) return *fast;
    StatusOr<nlohmann::json> parsed = ParseStrictJson(line);
    Status st;
    if (!parsed.ok()) {
      st = LineError(line_no, parsed.status().message());
    } else if (!parsed->is_object()) {
      st = LineError(line_no, "not a JSON object");
    } else if (parsed->contains("checkpoint")) {
      const nlohmann::json& j = *parsed;
      if (!j["checkpoint"].is_string() || j.size() != 1) {
        st = LineError(line_no, "malformed checkpoint line");
      } else {
        return {Kind::kCheckpoint, j["checkpoint"].get<std::string>()};
      }
    } else {
      LineResult entry{Kind::kEntry};
      st = CheckEntry(*parsed, line_no, &entry);
      if (st.ok()) return entry;
    }
    return {Kind::kError, st.message()};
  } catch (const std::exception& e) {
    return {Kind::kError, LineError(line_no, e.what()).message()};
  }
}

// The kept checkpoint must be for the same log and a prefix of this one.
Status CheckKept(const Checkpoint& kept, const Checkpoint& cp,
                 const MerkleFrontier& tree, const std::string& root_at_kept) {
  if (kept.origin != cp.origin) {
    return Status::InvalidArgument("the kept checkpoint is for log '" +
                                   kept.origin + "', not '" + cp.origin + "'");
  }
  if (kept.size > tree.size()) {
    return Status::InvalidArgument(
        "the kept checkpoint covers " + std::to_string(kept.size) +
        " entries but the export only " + std::to_string(tree.size()) +
        ": the log was truncated or rolled back");
  }
  if (kept.size == 0 ? kept.root_hash != EmptyTreeHash()
                     : kept.root_hash != root_at_kept) {
    return Status::InvalidArgument(
        "the log's first " + std::to_string(kept.size) +
        " entries do not match the kept checkpoint: the history was "
        "rewritten (fork)");
  }
  return Status::Ok();
}

}  // namespace

StatusOr<ExportVerifier> ExportVerifier::Create(
    const PublicKey& key, std::optional<std::string_view> earlier_note) {
  ExportVerifier v(key);
  if (earlier_note) {
    ASSIGN_OR_RETURN(v.kept_, VerifyNote(UnwrapCheckpoint(*earlier_note), key,
                                         "kept checkpoint"));
  }
  return v;
}

Status ExportVerifier::AddLine(std::string_view line) {
  if (!failed_.ok()) return failed_;
  ++lines_;
  failed_ = Apply(CheckLineAlone(line, lines_), lines_);
  return failed_;
}

Status ExportVerifier::AddLines(const std::vector<std::string>& lines) {
  if (!failed_.ok()) return failed_;
  std::vector<LineResult> results(lines.size());
  const size_t first = lines_ + 1;
  auto check = [&](size_t from, size_t to) {
    for (size_t i = from; i < to; ++i) {
      results[i] = CheckLineAlone(lines[i], first + i);
    }
  };
  size_t workers =
      std::clamp<size_t>(std::thread::hardware_concurrency(), 1, kMaxWorkers);
  if (lines.size() < 64) workers = 1;
  std::vector<std::thread> threads;
  size_t step = (lines.size() + workers - 1) / workers;
  for (size_t w = 1; w < workers; ++w) {
    threads.emplace_back(check, std::min(w * step, lines.size()),
                         std::min((w + 1) * step, lines.size()));
  }
  check(0, std::min(step, lines.size()));
  for (std::thread& t : threads) t.join();
  for (LineResult& r : results) {
    ++lines_;
    failed_ = Apply(std::move(r), lines_);
    if (!failed_.ok()) return failed_;
  }
  return Status::Ok();
}

// The checks that depend on the lines before: nothing after the checkpoint
// line, and entries in order from seq 0; then the entry joins the tree.
Status ExportVerifier::Apply(LineResult r, size_t line_no) {
  using Kind = LineResult::Kind;
  if (r.kind == Kind::kEmpty) return Status::Ok();
  if (note_) return LineError(line_no, "content after the checkpoint line");
  if (r.kind == Kind::kError) return Status::InvalidArgument(r.text);
  if (r.kind == Kind::kCheckpoint) {
    note_ = std::move(r.text);
    return Status::Ok();
  }
  if (tree_.size() == 0 && r.seq != 0) {
    return LineError(line_no, "the export starts at seq " +
                                  std::to_string(r.seq) +
                                  "; verification needs the whole log (export "
                                  "without --since)");
  }
  if (r.seq != tree_.size()) {
    return LineError(line_no, "expected seq " + std::to_string(tree_.size()) +
                                  ", found " + std::to_string(r.seq) +
                                  " (entries missing, duplicated or "
                                  "reordered)");
  }
  tree_.Append(r.text);
  if (kept_ && tree_.size() == kept_->size) root_at_kept_ = tree_.Root();
  return Status::Ok();
}

StatusOr<ExportSummary> ExportVerifier::Finish() {
  RETURN_IF_ERROR(failed_);
  if (!note_) {
    return Status::InvalidArgument(
        "the export has no checkpoint line (truncated file?)");
  }
  ASSIGN_OR_RETURN(Checkpoint cp,
                   VerifyNote(*note_, *key_, "export checkpoint"));
  if (cp.size != tree_.size()) {
    return Status::InvalidArgument(
        "the checkpoint covers " + std::to_string(cp.size) +
        " entries but the export holds " + std::to_string(tree_.size()) +
        " (entries added or removed)");
  }
  if (cp.root_hash != tree_.Root()) {
    return Status::InvalidArgument(
        "the entries' Merkle root does not match the signed checkpoint "
        "(entries altered)");
  }
  if (kept_) RETURN_IF_ERROR(CheckKept(*kept_, cp, tree_, root_at_kept_));
  return ExportSummary{tree_.size(), cp, kept_};
}

StatusOr<ExportSummary> VerifyExport(
    std::string_view text, const PublicKey& key,
    std::optional<std::string_view> earlier_note) {
  ASSIGN_OR_RETURN(ExportVerifier v, ExportVerifier::Create(key, earlier_note));
  std::vector<std::string> batch;
  for (size_t pos = 0; pos < text.size();) {
    size_t end = std::min(text.find('\n', pos), text.size());
    batch.emplace_back(text.substr(pos, end - pos));
    pos = end + 1;
    if (batch.size() == kVerifyBatch || pos >= text.size()) {
      RETURN_IF_ERROR(v.AddLines(batch));
      batch.clear();
    }
  }
  return v.Finish();
}

StatusOr<Checkpoint> VerifyProofFile(std::string_view proof_text,
                                     const PublicKey& key, std::string* leaf) {
  ASSIGN_OR_RETURN(TlogProof proof, ParseTlogProof(proof_text));
  if (proof.extra.empty()) {
    return Status::InvalidArgument(
        "the proof carries no entry (its extra line is missing)");
  }
  ASSIGN_OR_RETURN(nlohmann::json decoded, AuditEntryJson(proof.extra));
  if (decoded["seq"].get<uint64_t>() != proof.index) {
    return Status::InvalidArgument("the entry's seq is not the proof's index");
  }
  std::string origin = NoteOrigin(proof.signed_checkpoint);
  ASSIGN_OR_RETURN(
      Checkpoint c,
      VerifyTlogProof(proof_text, LeafHash(proof.extra), origin, origin, key));
  if (leaf) *leaf = proof.extra;
  return c;
}

}  // namespace authd::audit
