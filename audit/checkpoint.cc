#include "audit/checkpoint.h"

#include <openssl/bn.h>
#include <openssl/crypto.h>
#include <openssl/ecdsa.h>
#include <openssl/sha.h>

#include <memory>
#include <optional>

#include "audit/merkle.h"
#include "common/deleter.h"
#include "common/encoding.h"
#include "common/sha256.h"

namespace authd::audit {
namespace {

// signed-note "Format": verifiers SHOULD bound the note size but MUST accept
// 16 signatures of up to ~5 kB each; these limits leave ample room.
constexpr size_t kMaxNoteBytes = 1 << 20;
constexpr size_t kMaxSignatureLines = 256;
// A tree of at most 2^64 - 1 leaves is at most 64 levels deep.
constexpr size_t kMaxProofHashes = 64;
constexpr std::string_view kEmDashSpace = "\xE2\x80\x94 ";  // U+2014, U+0020
constexpr size_t kKeyIdSize = 4;

using SigPtr = std::unique_ptr<ECDSA_SIG, Deleter<ECDSA_SIG_free>>;

// Quotes untrusted text for an error message, cut to a readable length.
std::string Quote(std::string_view s) {
  constexpr size_t kMax = 64;
  if (s.size() <= kMax) return "\"" + std::string(s) + "\"";
  return "\"" + std::string(s.substr(0, kMax)) + "...\"";
}

// Decodes one UTF-8 sequence at s[*i], advancing *i. Rejects overlong forms,
// surrogates and code points past U+10FFFF (RFC 3629 §3).
std::optional<uint32_t> NextCodePoint(std::string_view s, size_t* i) {
  auto byte = [&](size_t k) { return static_cast<unsigned char>(s[k]); };
  unsigned char b0 = byte(*i);
  if (b0 < 0x80) {
    ++*i;
    return b0;
  }
  size_t len;
  uint32_t cp, min;
  if ((b0 & 0xE0) == 0xC0) {
    len = 2, cp = b0 & 0x1F, min = 0x80;
  } else if ((b0 & 0xF0) == 0xE0) {
    len = 3, cp = b0 & 0x0F, min = 0x800;
  } else if ((b0 & 0xF8) == 0xF0) {
    len = 4, cp = b0 & 0x07, min = 0x10000;
  } else {
    return std::nullopt;
  }
  if (s.size() - *i < len) return std::nullopt;
  for (size_t k = 1; k < len; ++k) {
    unsigned char b = byte(*i + k);
    if ((b & 0xC0) != 0x80) return std::nullopt;
    cp = (cp << 6) | (b & 0x3F);
  }
  if (cp < min || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) {
    return std::nullopt;
  }
  *i += len;
  return cp;
}

// signed-note "Format": valid UTF-8, no control character but newline.
Status CheckNoteCharacters(std::string_view text) {
  for (size_t i = 0; i < text.size();) {
    size_t at = i;
    std::optional<uint32_t> cp = NextCodePoint(text, &i);
    if (!cp) {
      return Status::InvalidArgument("invalid UTF-8 at byte " +
                                     std::to_string(at));
    }
    if (*cp < 0x20 && *cp != '\n') {
      return Status::InvalidArgument("control character at byte " +
                                     std::to_string(at));
    }
  }
  return Status::Ok();
}

// Unicode White_Space (what Go's unicode.IsSpace reports), beyond ASCII.
bool IsUnicodeSpace(uint32_t cp) {
  return cp == ' ' || (cp >= 0x09 && cp <= 0x0D) || cp == 0x85 || cp == 0xA0 ||
         cp == 0x1680 || (cp >= 0x2000 && cp <= 0x200A) || cp == 0x2028 ||
         cp == 0x2029 || cp == 0x202F || cp == 0x205F || cp == 0x3000;
}

// signed-note "Format": non-empty, no Unicode spaces, no '+'.
bool IsValidKeyName(std::string_view name) {
  if (name.empty()) return false;
  for (size_t i = 0; i < name.size();) {
    std::optional<uint32_t> cp = NextCodePoint(name, &i);
    if (!cp || *cp == '+' || *cp < 0x20 || IsUnicodeSpace(*cp)) return false;
  }
  return true;
}

// ASCII decimal with no leading zeros (unless "0") that fits in 64 bits.
std::optional<uint64_t> ParseDecimal(std::string_view s) {
  if (s.empty() || (s.size() > 1 && s[0] == '0')) return std::nullopt;
  uint64_t v = 0;
  for (char c : s) {
    if (c < '0' || c > '9') return std::nullopt;
    uint64_t d = static_cast<uint64_t>(c - '0');
    if (v > (UINT64_MAX - d) / 10) return std::nullopt;
    v = v * 10 + d;
  }
  return v;
}

// Returns the line starting at *pos without its "\n" and moves *pos past it;
// nullopt when no newline-terminated line remains.
std::optional<std::string_view> NextLine(std::string_view text, size_t* pos) {
  size_t nl = text.find('\n', *pos);
  if (nl == std::string_view::npos) return std::nullopt;
  std::string_view line = text.substr(*pos, nl - *pos);
  *pos = nl + 1;
  return line;
}

// Verifies a strict-DER ECDSA P-256 signature over SHA-256(message). The
// DER is parsed here rather than with EcdsaSignatureToRaw because that
// helper treats any 64-byte input as raw r||s (a valid DER signature can be
// 64 bytes long) and ignores bytes after the DER SEQUENCE; requiring the
// exact DER re-encoding keeps signatures non-malleable in their encoding.
bool VerifyDerSignature(const PublicKey& key, std::string_view message,
                        std::string_view der) {
  const auto* begin = reinterpret_cast<const unsigned char*>(der.data());
  const unsigned char* p = begin;
  SigPtr sig(d2i_ECDSA_SIG(nullptr, &p, static_cast<long>(der.size())));
  if (!sig || p != begin + der.size()) return false;
  unsigned char* reencoded = nullptr;
  int len = i2d_ECDSA_SIG(sig.get(), &reencoded);
  bool canonical =
      len > 0 && static_cast<size_t>(len) == der.size() &&
      std::string_view(reinterpret_cast<char*>(reencoded), der.size()) == der;
  OPENSSL_free(reencoded);
  if (!canonical) return false;
  const BIGNUM* r = ECDSA_SIG_get0_r(sig.get());
  const BIGNUM* s = ECDSA_SIG_get0_s(sig.get());
  if (BN_is_negative(r) || BN_is_negative(s)) return false;
  std::string raw(64, '\0');
  auto* out = reinterpret_cast<unsigned char*>(raw.data());
  if (BN_bn2binpad(r, out, 32) < 0 || BN_bn2binpad(s, out + 32, 32) < 0) {
    return false;  // r or s wider than the P-256 order
  }
  return key.VerifyEs256(message, raw);
}

struct SignatureLine {
  std::string_view name;
  std::string key_id;     // 4 bytes
  std::string signature;  // the rest
};

StatusOr<SignatureLine> ParseSignatureLine(std::string_view line, size_t n) {
  const std::string where = "signature line " + std::to_string(n);
  if (!line.starts_with(kEmDashSpace)) {
    return Status::InvalidArgument(
        where + " does not start with an em dash (U+2014) and a space");
  }
  std::string_view rest = line.substr(kEmDashSpace.size());
  size_t space = rest.find(' ');
  if (space == std::string_view::npos) {
    return Status::InvalidArgument(where + " has no space after the key name");
  }
  SignatureLine sig;
  sig.name = rest.substr(0, space);
  if (!IsValidKeyName(sig.name)) {
    return Status::InvalidArgument(where + " has an invalid key name " +
                                   Quote(sig.name));
  }
  std::optional<std::string> blob = Base64Decode(rest.substr(space + 1));
  if (!blob || blob->size() <= kKeyIdSize) {
    return Status::InvalidArgument(
        where + " (key " + Quote(sig.name) +
        ") is not canonical base64 of a 4-byte key ID and a signature");
  }
  sig.key_id = blob->substr(0, kKeyIdSize);
  sig.signature = blob->substr(kKeyIdSize);
  return sig;
}

}  // namespace

std::string CheckpointBody(const Checkpoint& checkpoint) {
  return checkpoint.origin + "\n" + std::to_string(checkpoint.size) + "\n" +
         Base64Encode(checkpoint.root_hash) + "\n";
}

StatusOr<Checkpoint> ParseCheckpointBody(std::string_view body) {
  RETURN_IF_ERROR(CheckNoteCharacters(body).WithContext("checkpoint body"));
  if (body.empty() || body.back() != '\n') {
    return Status::InvalidArgument("checkpoint body does not end in newline");
  }
  std::vector<std::string_view> lines;
  size_t pos = 0;
  while (std::optional<std::string_view> line = NextLine(body, &pos)) {
    lines.push_back(*line);
  }
  if (lines.size() < 3) {
    return Status::InvalidArgument(
        "checkpoint body has " + std::to_string(lines.size()) +
        " lines; it needs origin, tree size and root hash");
  }
  if (lines.size() > 3) {
    return Status::InvalidArgument(
        "checkpoint body has " + std::to_string(lines.size() - 3) +
        " extension line(s), which authd checkpoints never carry");
  }
  Checkpoint cp;
  if (lines[0].empty()) {
    return Status::InvalidArgument("checkpoint origin line is empty");
  }
  cp.origin = lines[0];
  std::optional<uint64_t> size = ParseDecimal(lines[1]);
  if (!size) {
    return Status::InvalidArgument(
        "checkpoint tree size " + Quote(lines[1]) +
        " is not a decimal number without leading zeros below 2^64");
  }
  cp.size = *size;
  std::optional<std::string> root = Base64Decode(lines[2]);
  if (!root || root->size() != kMerkleHashSize) {
    return Status::InvalidArgument(
        "checkpoint root hash " + Quote(lines[2]) +
        " is not canonical base64 of a 32-byte SHA-256 hash");
  }
  cp.root_hash = std::move(*root);
  return cp;
}

std::string NoteKeyId(std::string_view /*key_name*/, const PublicKey& key) {
  // signed-note type 0x02: SHA-256(DER SPKI)[:4]; see the header.
  return Sha256(key.spki_der()).substr(0, kKeyIdSize);
}

std::string FormatSignedNote(std::string_view body, std::string_view key_name,
                             std::string_view key_id4,
                             std::string_view signature) {
  std::string blob(key_id4);
  blob.append(signature);
  std::string out(body);
  out += "\n";
  out += kEmDashSpace;
  out += key_name;
  out += " ";
  out += Base64Encode(blob);
  out += "\n";
  return out;
}

StatusOr<std::string> VerifySignedNote(std::string_view note,
                                       std::string_view key_name,
                                       const PublicKey& key) {
  if (note.size() > kMaxNoteBytes) {
    return Status::InvalidArgument("signed note is larger than " +
                                   std::to_string(kMaxNoteBytes) + " bytes");
  }
  RETURN_IF_ERROR(CheckNoteCharacters(note).WithContext("signed note"));
  if (note.empty() || note.back() != '\n') {
    return Status::InvalidArgument("signed note does not end in newline");
  }
  // The text is separated from the signatures by the last empty line.
  size_t blank = note.rfind("\n\n");
  if (blank == std::string_view::npos) {
    return Status::InvalidArgument(
        "signed note has no blank line between its text and signatures");
  }
  std::string_view text = note.substr(0, blank + 1);
  std::string_view signatures = note.substr(blank + 2);
  if (signatures.empty()) {
    return Status::InvalidArgument("signed note has no signature lines");
  }
  const std::string want_id = NoteKeyId(key_name, key);
  const std::string want =
      Quote(key_name) + " (key ID " + HexEncode(want_id) + ")";
  size_t matched = 0;
  size_t n = 0;
  std::string others;
  size_t pos = 0;
  while (std::optional<std::string_view> line = NextLine(signatures, &pos)) {
    if (++n > kMaxSignatureLines) {
      return Status::InvalidArgument("signed note has more than " +
                                     std::to_string(kMaxSignatureLines) +
                                     " signature lines");
    }
    ASSIGN_OR_RETURN(SignatureLine sig, ParseSignatureLine(*line, n));
    if (sig.name != key_name || sig.key_id != want_id) {
      if (!others.empty()) others += ", ";
      others += Quote(sig.name) + " (key ID " + HexEncode(sig.key_id) + ")";
      continue;  // unknown key: ignored (signed-note "Signatures")
    }
    ++matched;
    if (!VerifyDerSignature(key, text, sig.signature)) {
      return Status::Unauthenticated(
          "signature line " + std::to_string(n) + " by " + want +
          " does not verify over the note text: the note was altered after "
          "signing, or the signature is not a DER ECDSA P-256 signature by "
          "this key");
    }
  }
  if (matched == 0) {
    return Status::Unauthenticated(
        "signed note has no signature by " + want +
        (others.empty() ? std::string()
                        : "; signatures present are from " + others));
  }
  return std::string(text);
}

StatusOr<Checkpoint> VerifySignedCheckpoint(std::string_view note,
                                            std::string_view origin_or_empty,
                                            std::string_view key_name,
                                            const PublicKey& key) {
  ASSIGN_OR_RETURN(std::string text, VerifySignedNote(note, key_name, key));
  ASSIGN_OR_RETURN(Checkpoint cp, ParseCheckpointBody(text));
  if (!origin_or_empty.empty() && cp.origin != origin_or_empty) {
    return Status::InvalidArgument("checkpoint origin " + Quote(cp.origin) +
                                   " is not the expected " +
                                   Quote(origin_or_empty));
  }
  return cp;
}

std::string FormatTlogProof(uint64_t index, std::string_view extra,
                            const std::vector<std::string>& proof,
                            std::string_view signed_checkpoint) {
  std::string out(kTlogProofHeader);
  out += "\n";
  if (!extra.empty()) out += "extra " + Base64Encode(extra) + "\n";
  out += "index " + std::to_string(index) + "\n";
  for (const std::string& h : proof) out += Base64Encode(h) + "\n";
  out += "\n";
  out += signed_checkpoint;
  return out;
}

StatusOr<TlogProof> ParseTlogProof(std::string_view text) {
  if (text.size() > kMaxNoteBytes + 64 * 1024) {
    return Status::InvalidArgument("tlog-proof is too large");
  }
  size_t pos = 0;
  std::optional<std::string_view> line = NextLine(text, &pos);
  if (!line || *line != kTlogProofHeader) {
    return Status::InvalidArgument("tlog-proof does not start with the line " +
                                   Quote(kTlogProofHeader));
  }
  TlogProof proof;
  line = NextLine(text, &pos);
  if (line && line->starts_with("extra ")) {
    std::optional<std::string> extra = Base64Decode(line->substr(6));
    if (!extra || extra->empty()) {
      return Status::InvalidArgument(
          "tlog-proof extra line is not canonical base64 of non-empty data");
    }
    proof.extra = std::move(*extra);
    line = NextLine(text, &pos);
  }
  if (!line || !line->starts_with("index ")) {
    return Status::InvalidArgument("tlog-proof has no \"index <n>\" line");
  }
  std::optional<uint64_t> index = ParseDecimal(line->substr(6));
  if (!index) {
    return Status::InvalidArgument(
        "tlog-proof index " + Quote(line->substr(6)) +
        " is not a decimal number without leading zeros below 2^64");
  }
  proof.index = *index;
  while (true) {
    line = NextLine(text, &pos);
    if (!line) {
      return Status::InvalidArgument(
          "tlog-proof has no blank line before its checkpoint");
    }
    if (line->empty()) break;
    if (proof.proof.size() == kMaxProofHashes) {
      return Status::InvalidArgument("tlog-proof has more than " +
                                     std::to_string(kMaxProofHashes) +
                                     " inclusion proof hashes");
    }
    std::optional<std::string> hash = Base64Decode(*line);
    if (!hash || hash->size() != kMerkleHashSize) {
      return Status::InvalidArgument(
          "tlog-proof inclusion proof line " +
          std::to_string(proof.proof.size() + 1) + " " + Quote(*line) +
          " is not canonical base64 of a 32-byte hash");
    }
    proof.proof.push_back(std::move(*hash));
  }
  proof.signed_checkpoint = text.substr(pos);
  if (proof.signed_checkpoint.empty()) {
    return Status::InvalidArgument("tlog-proof has no checkpoint");
  }
  return proof;
}

StatusOr<Checkpoint> VerifyTlogProof(std::string_view text,
                                     std::string_view leaf_hash,
                                     std::string_view origin_or_empty,
                                     std::string_view key_name,
                                     const PublicKey& key) {
  ASSIGN_OR_RETURN(TlogProof proof, ParseTlogProof(text));
  ASSIGN_OR_RETURN(Checkpoint cp,
                   VerifySignedCheckpoint(proof.signed_checkpoint,
                                          origin_or_empty, key_name, key));
  RETURN_IF_ERROR(VerifyInclusion(proof.index, cp.size, leaf_hash, proof.proof,
                                  cp.root_hash)
                      .WithContext("tlog-proof"));
  return cp;
}

}  // namespace authd::audit
