// Checkpoints of the audit log and the text formats around them:
//  - c2sp.org/tlog-checkpoint (v1, which cites signed-note@v1.0.0): the note
//    body "origin\nsize\nroot\n";
//  - c2sp.org/signed-note (v1 text as of C2SP commit 0552876, signature type
//    0x02): the signature lines;
//  - c2sp.org/tlog-proof@v1: an offline-verifiable inclusion proof bundled
//    with the signed checkpoint it is relative to.
//
// Signature scheme (signed-note type 0x02, "ECDSA signatures as implemented
// by github.com/transparency-dev/witness", curve NIST P-256):
//  - key ID = the first 4 bytes of SHA-256(DER SubjectPublicKeyInfo). Unlike
//    the spec's RECOMMENDED Ed25519-style derivation, neither the key name
//    nor the type byte is hashed: signed-note says "the key ID for these
//    signatures is the truncated SHA-256 hash of the DER encoded public key
//    in SPKI format", and transparency-dev/formats note.NewECDSAVerifier
//    computes exactly sha256(der)[:4].
//  - signature = ASN.1 DER ECDSA-Sig-Value over SHA-256 of the note text
//    (what Go's ecdsa.VerifyASN1 checks there), not raw r||s. Verification
//    accepts only strict DER.
//
// All functions are pure and thread-safe.
#ifndef AUTHD_AUDIT_CHECKPOINT_H_
#define AUTHD_AUDIT_CHECKPOINT_H_

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "common/public_key.h"
#include "common/status.h"

namespace authd::audit {

struct Checkpoint {
  std::string origin;
  uint64_t size = 0;
  std::string root_hash;  // 32 raw bytes
};

// "<origin>\n<decimal size>\n<base64 root>\n" (tlog-checkpoint "Note text").
// REQUIRES: origin is non-empty and has no control characters; root_hash is
// 32 bytes.
std::string CheckpointBody(const Checkpoint& checkpoint);

// Strict inverse of CheckpointBody: exactly three lines each ending in "\n",
// a non-empty UTF-8 origin without control characters, a size without
// leading zeros that fits in 64 bits, and canonical base64 of exactly 32
// bytes. Extension lines (optional in tlog-checkpoint, NOT RECOMMENDED
// there, never written by authd) are rejected, so a parsed body always
// re-serializes to the same bytes. Errors: InvalidArgument.
StatusOr<Checkpoint> ParseCheckpointBody(std::string_view body);

// Signed-note key ID for `key` under signature type 0x02: SHA-256(DER SPKI)
// truncated to 4 bytes (big-endian uint32). `key_name` is accepted for
// symmetry with other note key types but is not part of the type-0x02 hash.
std::string NoteKeyId(std::string_view key_name, const PublicKey& key);

// body || "\n" || "— " || key_name || " " || base64(key_id4 || signature)
// || "\n" (em dash U+2014). `signature` is the DER ECDSA signature over
// `body`. REQUIRES: body is non-empty and ends in "\n"; key_name is a valid
// note key name (non-empty, no spaces, no '+'); key_id4 is 4 bytes.
std::string FormatSignedNote(std::string_view body, std::string_view key_name,
                             std::string_view key_id4,
                             std::string_view signature);

// Checks the note's format (signed-note "Format"), finds every signature
// line whose name is `key_name` and whose key ID is NoteKeyId(key), verifies
// each, and returns the note text (including its final newline). Lines from
// other keys are ignored, as the spec requires; if a line from this key fails
// to verify the whole note is rejected.
// Errors: InvalidArgument when the note is malformed; Unauthenticated when no
// line from this key is present or one fails to verify.
StatusOr<std::string> VerifySignedNote(std::string_view note,
                                       std::string_view key_name,
                                       const PublicKey& key);

// VerifySignedNote, then ParseCheckpointBody on the text; when
// `origin_or_empty` is non-empty the checkpoint's origin must equal it.
// Errors: as VerifySignedNote; InvalidArgument for a malformed body or a
// different origin.
StatusOr<Checkpoint> VerifySignedCheckpoint(std::string_view note,
                                            std::string_view origin_or_empty,
                                            std::string_view key_name,
                                            const PublicKey& key);

// c2sp.org/tlog-proof@v1.
inline constexpr std::string_view kTlogProofHeader = "c2sp.org/tlog-proof@v1";

struct TlogProof {
  uint64_t index = 0;
  // The spec's opaque, unauthenticated "extra" data; empty when the line is
  // absent. It is NOT the leaf hash: the verifier recomputes the leaf hash
  // from the entry it holds.
  std::string extra;
  std::vector<std::string> proof;  // 32-byte hashes, leaf's sibling first
  std::string signed_checkpoint;   // verbatim, not yet verified
};

// "c2sp.org/tlog-proof@v1\n" [ "extra <base64>\n" ] "index <decimal>\n"
// { "<base64 hash>\n" } "\n" <signed_checkpoint>. The extra line is omitted
// when `extra` is empty. REQUIRES: every proof element is 32 bytes;
// signed_checkpoint is a signed note.
std::string FormatTlogProof(uint64_t index, std::string_view extra,
                            const std::vector<std::string>& proof,
                            std::string_view signed_checkpoint);

// Parses the layout only; the checkpoint is neither parsed nor verified
// (use VerifyTlogProof). Rejects an "extra " line with no data, a proof of
// more than 64 hashes, and non-canonical numbers or base64.
// Errors: InvalidArgument.
StatusOr<TlogProof> ParseTlogProof(std::string_view text);

// ParseTlogProof, VerifySignedCheckpoint on its checkpoint, then
// VerifyInclusion of `leaf_hash` (RFC 9162 leaf hash of the entry the caller
// holds) at the proof's index under the checkpoint's size and root. Returns
// the verified checkpoint.
StatusOr<Checkpoint> VerifyTlogProof(std::string_view text,
                                     std::string_view leaf_hash,
                                     std::string_view origin_or_empty,
                                     std::string_view key_name,
                                     const PublicKey& key);

}  // namespace authd::audit

#endif  // AUTHD_AUDIT_CHECKPOINT_H_
