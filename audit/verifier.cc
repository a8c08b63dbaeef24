#include "audit/verifier.h"

#include <nlohmann/json.hpp>

#include "audit/entry.h"
#include "audit/merkle.h"
#include "common/encoding.h"

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
    nlohmann::json j = nlohmann::json::parse(text, nullptr, false);
    if (j.is_object() && j.contains("checkpoint") &&
        j["checkpoint"].is_string()) {
      return j["checkpoint"].get<std::string>();
    }
  }
  return std::string(text);
}

StatusOr<ExportSummary> VerifyExport(
    std::string_view text, const PublicKey& key,
    std::optional<std::string_view> earlier_note) {
  std::optional<Checkpoint> earlier;
  if (earlier_note) {
    ASSIGN_OR_RETURN(earlier, VerifyNote(UnwrapCheckpoint(*earlier_note), key,
                                         "kept checkpoint"));
  }
  MerkleFrontier tree;
  std::string earlier_root;
  std::optional<std::string> note;
  size_t line_no = 0;
  size_t pos = 0;
  while (pos < text.size()) {
    size_t end = text.find('\n', pos);
    if (end == std::string_view::npos) end = text.size();
    std::string_view line = text.substr(pos, end - pos);
    pos = end + 1;
    ++line_no;
    if (line.empty()) continue;
    if (note) return LineError(line_no, "content after the checkpoint line");
    nlohmann::json j = nlohmann::json::parse(line, nullptr, false);
    if (!j.is_object()) return LineError(line_no, "not a JSON object");
    if (j.contains("checkpoint")) {
      if (!j["checkpoint"].is_string() || j.size() != 1) {
        return LineError(line_no, "malformed checkpoint line");
      }
      note = j["checkpoint"].get<std::string>();
      continue;
    }
    if (!j.contains("leaf") || !j["leaf"].is_string()) {
      return LineError(line_no, "entry has no \"leaf\"");
    }
    std::optional<std::string> leaf =
        Base64Decode(j["leaf"].get<std::string>());
    if (!leaf) return LineError(line_no, "\"leaf\" is not base64");
    StatusOr<nlohmann::json> decoded = AuditEntryJson(*leaf);
    if (!decoded.ok()) return LineError(line_no, decoded.status().message());
    if (*decoded != j) {
      return LineError(line_no,
                       "decoded fields do not match the leaf bytes (entry "
                       "edited)");
    }
    uint64_t seq = (*decoded)["seq"].get<uint64_t>();
    if (tree.size() == 0 && seq != 0) {
      return LineError(line_no,
                       "the export starts at seq " + std::to_string(seq) +
                           "; verification needs the whole log (export "
                           "without --since)");
    }
    if (seq != tree.size()) {
      return LineError(
          line_no, "expected seq " + std::to_string(tree.size()) + ", found " +
                       std::to_string(seq) +
                       " (entries missing, duplicated or reordered)");
    }
    tree.Append(LeafHash(*leaf));
    if (earlier && tree.size() == earlier->size) earlier_root = tree.Root();
  }
  if (!note) {
    return Status::InvalidArgument(
        "the export has no checkpoint line (truncated file?)");
  }
  ASSIGN_OR_RETURN(Checkpoint cp, VerifyNote(*note, key, "export checkpoint"));
  if (cp.size != tree.size()) {
    return Status::InvalidArgument(
        "the checkpoint covers " + std::to_string(cp.size) +
        " entries but the export holds " + std::to_string(tree.size()) +
        " (entries added or removed)");
  }
  if (cp.root_hash != tree.Root()) {
    return Status::InvalidArgument(
        "the entries' Merkle root does not match the signed checkpoint "
        "(entries altered)");
  }
  ExportSummary out{tree.size(), cp, earlier};
  if (earlier) {
    if (earlier->origin != cp.origin) {
      return Status::InvalidArgument("the kept checkpoint is for log '" +
                                     earlier->origin + "', not '" + cp.origin +
                                     "'");
    }
    if (earlier->size > tree.size()) {
      return Status::InvalidArgument(
          "the kept checkpoint covers " + std::to_string(earlier->size) +
          " entries but the export only " + std::to_string(tree.size()) +
          ": the log was truncated or rolled back");
    }
    if (earlier->size == 0 ? earlier->root_hash != EmptyTreeHash()
                           : earlier->root_hash != earlier_root) {
      return Status::InvalidArgument(
          "the log's first " + std::to_string(earlier->size) +
          " entries do not match the kept checkpoint: the history was "
          "rewritten (fork)");
    }
  }
  return out;
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
