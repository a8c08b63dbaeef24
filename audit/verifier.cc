#include "audit/verifier.h"

#include <algorithm>
#include <nlohmann/json.hpp>

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

// One entry line: its leaf must decode to exactly the fields shown and carry
// the next seq; its leaf hash joins `tree`.
Status AppendEntry(const nlohmann::json& j, size_t line_no,
                   MerkleFrontier* tree) {
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
  uint64_t seq = (*decoded)["seq"].get<uint64_t>();
  if (tree->size() == 0 && seq != 0) {
    return LineError(line_no, "the export starts at seq " +
                                  std::to_string(seq) +
                                  "; verification needs the whole log (export "
                                  "without --since)");
  }
  if (seq != tree->size()) {
    return LineError(line_no, "expected seq " + std::to_string(tree->size()) +
                                  ", found " + std::to_string(seq) +
                                  " (entries missing, duplicated or "
                                  "reordered)");
  }
  tree->Append(LeafHash(*leaf));
  return Status::Ok();
}

// The whole export read line by line: the tree of its entries, the root at
// the kept checkpoint's size (when one is given) and the checkpoint line.
struct ReadExport {
  MerkleFrontier tree;
  std::string root_at_kept;
  std::optional<std::string> note;
};

StatusOr<ReadExport> Read(std::string_view text,
                          const std::optional<Checkpoint>& kept) {
  ReadExport out;
  size_t line_no = 0;
  for (size_t pos = 0; pos < text.size();) {
    size_t end = std::min(text.find('\n', pos), text.size());
    std::string_view line = text.substr(pos, end - pos);
    pos = end + 1;
    ++line_no;
    if (line.empty()) continue;
    if (out.note)
      return LineError(line_no, "content after the checkpoint line");
    StatusOr<nlohmann::json> parsed = ParseStrictJson(line);
    if (!parsed.ok()) return LineError(line_no, parsed.status().message());
    nlohmann::json j = std::move(parsed).value();
    if (!j.is_object()) return LineError(line_no, "not a JSON object");
    if (j.contains("checkpoint")) {
      if (!j["checkpoint"].is_string() || j.size() != 1) {
        return LineError(line_no, "malformed checkpoint line");
      }
      out.note = j["checkpoint"].get<std::string>();
      continue;
    }
    RETURN_IF_ERROR(AppendEntry(j, line_no, &out.tree));
    if (kept && out.tree.size() == kept->size)
      out.root_at_kept = out.tree.Root();
  }
  return out;
}

// The kept checkpoint must be for the same log and a prefix of this one.
Status CheckKept(const Checkpoint& kept, const Checkpoint& cp,
                 const ReadExport& read) {
  if (kept.origin != cp.origin) {
    return Status::InvalidArgument("the kept checkpoint is for log '" +
                                   kept.origin + "', not '" + cp.origin + "'");
  }
  if (kept.size > read.tree.size()) {
    return Status::InvalidArgument(
        "the kept checkpoint covers " + std::to_string(kept.size) +
        " entries but the export only " + std::to_string(read.tree.size()) +
        ": the log was truncated or rolled back");
  }
  if (kept.size == 0 ? kept.root_hash != EmptyTreeHash()
                     : kept.root_hash != read.root_at_kept) {
    return Status::InvalidArgument(
        "the log's first " + std::to_string(kept.size) +
        " entries do not match the kept checkpoint: the history was "
        "rewritten (fork)");
  }
  return Status::Ok();
}

}  // namespace

StatusOr<ExportSummary> VerifyExport(
    std::string_view text, const PublicKey& key,
    std::optional<std::string_view> earlier_note) {
  std::optional<Checkpoint> earlier;
  if (earlier_note) {
    ASSIGN_OR_RETURN(earlier, VerifyNote(UnwrapCheckpoint(*earlier_note), key,
                                         "kept checkpoint"));
  }
  ASSIGN_OR_RETURN(ReadExport read, Read(text, earlier));
  if (!read.note) {
    return Status::InvalidArgument(
        "the export has no checkpoint line (truncated file?)");
  }
  ASSIGN_OR_RETURN(Checkpoint cp,
                   VerifyNote(*read.note, key, "export checkpoint"));
  if (cp.size != read.tree.size()) {
    return Status::InvalidArgument(
        "the checkpoint covers " + std::to_string(cp.size) +
        " entries but the export holds " + std::to_string(read.tree.size()) +
        " (entries added or removed)");
  }
  if (cp.root_hash != read.tree.Root()) {
    return Status::InvalidArgument(
        "the entries' Merkle root does not match the signed checkpoint "
        "(entries altered)");
  }
  if (earlier) RETURN_IF_ERROR(CheckKept(*earlier, cp, read));
  return ExportSummary{read.tree.size(), cp, earlier};
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
