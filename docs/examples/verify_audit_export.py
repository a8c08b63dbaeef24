#!/usr/bin/env python3
"""Independent verifier for authd audit log exports and proof files.

Uses only the Python standard library and python3-cryptography. It does not
share code with authd: it follows docs/audit-formats.md.

  verify_audit_export.py export  EXPORT.jsonl AUDIT.pem [KEPT_CHECKPOINT] [--origin ORIGIN]
  verify_audit_export.py proof   PROOF.txt    AUDIT.pem [--origin ORIGIN]

Exit status 0 when everything verifies, 1 otherwise.
"""
import base64
import binascii
import datetime
import hashlib
import json
import sys

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import (
    decode_dss_signature, encode_dss_signature)


class Bad(Exception):
    pass


# --- base64 (standard alphabet, padded, canonical) --------------------------

def b64(text):
    try:
        raw = base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError):
        raise Bad(f"not base64: {text[:40]!r}")
    if base64.b64encode(raw).decode() != text:
        raise Bad(f"not canonical base64: {text[:40]!r}")
    return raw


# --- the entry: protobuf authd.audit.v1.Entry -------------------------------

VARINT_FIELDS = {1: "seq", 2: "time_unix_micros"}
STRING_FIELDS = {3: "actor", 4: "source", 5: "action", 6: "target",
                 8: "reason", 9: "result", 10: "software_version"}


def read_varint(buf, i):
    value = shift = 0
    while True:
        if i >= len(buf) or shift > 63:
            raise Bad("truncated or overlong varint")
        b = buf[i]
        i += 1
        value |= (b & 0x7F) << shift
        shift += 7
        if not b & 0x80:
            return value, i


def read_fields(buf):
    """Yields (field number, wire type, value) for a flat message."""
    i = 0
    while i < len(buf):
        key, i = read_varint(buf, i)
        field, wire = key >> 3, key & 7
        if wire == 0:
            value, i = read_varint(buf, i)
        elif wire == 2:
            n, i = read_varint(buf, i)
            if i + n > len(buf):
                raise Bad("length-delimited field runs past the end")
            value, i = buf[i:i + n], i + n
        else:
            raise Bad(f"field {field} has wire type {wire}, not 0 or 2")
        yield field, wire, value


def utf8(raw):
    try:
        return raw.decode("utf-8", errors="strict")
    except UnicodeDecodeError:
        raise Bad("string field is not valid UTF-8")


def decode_entry(leaf):
    e = {"seq": 0, "time_unix_micros": 0, "values": {}}
    e.update({name: "" for name in STRING_FIELDS.values()})
    for field, wire, value in read_fields(leaf):
        if field in VARINT_FIELDS and wire == 0:
            if field == 2 and value >= 1 << 63:      # int64, two's complement
                value -= 1 << 64
            e[VARINT_FIELDS[field]] = value
        elif field in STRING_FIELDS and wire == 2:
            e[STRING_FIELDS[field]] = utf8(value)
        elif field == 7 and wire == 2:               # one map entry
            k = v = ""
            for f2, w2, v2 in read_fields(value):
                if f2 == 1 and w2 == 2:
                    k = utf8(v2)
                elif f2 == 2 and w2 == 2:
                    v = utf8(v2)
                else:
                    raise Bad("unexpected field in a values map entry")
            e["values"][k] = v
        else:
            raise Bad(f"unknown field {field} (wire type {wire})")
    return e


def varint(n):
    out = bytearray()
    while True:
        b = n & 0x7F
        n >>= 7
        out.append(b | (0x80 if n else 0))
        if not n:
            return bytes(out)


def ld(field, raw):
    return varint(field << 3 | 2) + varint(len(raw)) + raw


def encode_entry(e):
    """The deterministic serialization authd writes (see the doc)."""
    out = b""
    if e["seq"]:
        out += varint(1 << 3) + varint(e["seq"])
    if e["time_unix_micros"]:
        out += varint(2 << 3) + varint(e["time_unix_micros"] & (1 << 64) - 1)
    for field in (3, 4, 5, 6):
        s = e[STRING_FIELDS[field]].encode()
        if s:
            out += ld(field, s)
    for k in sorted(e["values"], key=lambda s: s.encode()):
        out += ld(7, ld(1, k.encode()) + ld(2, e["values"][k].encode()))
    for field in (8, 9, 10):
        s = e[STRING_FIELDS[field]].encode()
        if s:
            out += ld(field, s)
    return out


def rfc3339_micros(micros):
    secs, frac = divmod(micros, 1_000_000)           # floor, as authd does
    t = datetime.datetime.fromtimestamp(secs, datetime.timezone.utc)
    return t.strftime("%Y-%m-%dT%H:%M:%S") + f".{frac:06d}Z"


def entry_json(leaf):
    """The JSON object an export line must equal, built from the leaf alone."""
    e = decode_entry(leaf)
    if encode_entry(e) != leaf:
        raise Bad("leaf bytes are not the canonical encoding of their fields")
    e["time"] = rfc3339_micros(e["time_unix_micros"])
    e["leaf"] = base64.b64encode(leaf).decode()
    return e


# --- RFC 9162 Merkle tree ---------------------------------------------------

def sha256(b):
    return hashlib.sha256(b).digest()


def leaf_hash(leaf):
    return sha256(b"\x00" + leaf)


def node_hash(left, right):
    return sha256(b"\x01" + left + right)


def mth(hashes):
    """RFC 9162 §2.1.1 over leaf hashes."""
    n = len(hashes)
    if n == 0:
        return sha256(b"")
    if n == 1:
        return hashes[0]
    k = 1 << (n - 1).bit_length() - 1                # largest power of 2 < n
    return node_hash(mth(hashes[:k]), mth(hashes[k:]))


def verify_inclusion(index, size, lh, proof, root):
    """RFC 9162 §2.1.3.2."""
    if index >= size:
        raise Bad("inclusion: index not below tree size")
    fn, sn, r = index, size - 1, lh
    for p in proof:
        if sn == 0:
            raise Bad("inclusion: proof too long")
        if fn & 1 or fn == sn:
            r = node_hash(p, r)
            while fn and not fn & 1:
                fn >>= 1
                sn >>= 1
        else:
            r = node_hash(r, p)
        fn >>= 1
        sn >>= 1
    if sn != 0 or r != root:
        raise Bad("inclusion proof does not lead to the checkpoint's root")


def verify_consistency(size1, size2, proof, root1, root2):
    """RFC 9162 §2.1.4.2 for 0 < size1 < size2."""
    if not 0 < size1 < size2 or not proof:
        raise Bad("consistency: needs 0 < size1 < size2 and a proof")
    path = ([root1] if size1 & (size1 - 1) == 0 else []) + list(proof)
    fn, sn = size1 - 1, size2 - 1
    while fn & 1:
        fn >>= 1
        sn >>= 1
    fr = sr = path[0]
    for c in path[1:]:
        if sn == 0:
            raise Bad("consistency: proof too long")
        if fn & 1 or fn == sn:
            fr, sr = node_hash(c, fr), node_hash(c, sr)
            while fn and not fn & 1:
                fn >>= 1
                sn >>= 1
        else:
            sr = node_hash(sr, c)
        fn >>= 1
        sn >>= 1
    if sn != 0 or fr != root1 or sr != root2:
        raise Bad("consistency proof does not verify")


# --- checkpoint and signed note ----------------------------------------------

EM_DASH = "\u2014"


def key_id(pub):
    spki = pub.public_bytes(serialization.Encoding.DER,
                            serialization.PublicFormat.SubjectPublicKeyInfo)
    return sha256(spki)[:4]


def verify_note(note, pub, origin=None):
    """Returns (origin, size, root) of a signed checkpoint, or raises Bad."""
    if not note.endswith("\n"):
        raise Bad("signed note does not end in a newline")
    if any(ord(c) < 0x20 and c != "\n" for c in note):
        raise Bad("signed note holds a control character")
    cut = note.rfind("\n\n")
    if cut < 0:
        raise Bad("signed note has no blank line")
    text, sig_lines = note[:cut + 1], note[cut + 2:].splitlines()
    lines = text.split("\n")[:-1]
    if len(lines) != 3:
        raise Bad(f"checkpoint body has {len(lines)} lines, not 3")
    name, size_text, root_text = lines
    if origin is not None and name != origin:
        raise Bad(f"checkpoint origin {name!r} is not {origin!r}")
    if not size_text.isdigit() or size_text != str(int(size_text)) \
            or int(size_text) >= 1 << 64:
        raise Bad(f"bad tree size {size_text!r}")
    root = b64(root_text)
    if len(root) != 32:
        raise Bad("root hash is not 32 bytes")
    want_id, matched = key_id(pub), 0
    for line in sig_lines:
        if not line.startswith(EM_DASH + " "):
            raise Bad("signature line does not start with an em dash")
        parts = line[2:].split(" ")
        if len(parts) != 2:
            raise Bad("malformed signature line")
        blob = b64(parts[1])
        if parts[0] != name or blob[:4] != want_id:
            continue                                  # another key: ignore
        der = blob[4:]
        try:
            r, s = decode_dss_signature(der)
            if encode_dss_signature(r, s) != der:
                raise ValueError
            pub.verify(der, text.encode(), ec.ECDSA(hashes.SHA256()))
        except (ValueError, InvalidSignature):
            raise Bad("checkpoint signature does not verify")
        matched += 1
    if not matched:
        raise Bad("no signature line by this key and origin")
    return name, int(size_text), root


# --- the two file formats -----------------------------------------------------

def verify_export(text, pub, kept=None, origin=None):
    leaf_hashes, note = [], None
    for n, line in enumerate(text.split("\n"), 1):
        if not line:
            continue
        if note is not None:
            raise Bad(f"line {n}: content after the checkpoint line")
        obj = json.loads(line)
        if "checkpoint" in obj:
            if set(obj) != {"checkpoint"}:
                raise Bad(f"line {n}: malformed checkpoint line")
            note = obj["checkpoint"]
            continue
        leaf = b64(obj["leaf"])
        if entry_json(leaf) != obj:
            raise Bad(f"line {n}: fields do not match the leaf bytes")
        if obj["seq"] != len(leaf_hashes):
            raise Bad(f"line {n}: seq {obj['seq']}, expected {len(leaf_hashes)}")
        leaf_hashes.append(leaf_hash(leaf))
    if note is None:
        raise Bad("no checkpoint line")
    name, size, root = verify_note(note, pub, origin)
    if size != len(leaf_hashes) or mth(leaf_hashes) != root:
        raise Bad("entries do not match the signed checkpoint")
    msg = f"OK: {size} entries, root {base64.b64encode(root).decode()}, log {name}"
    if kept is not None:
        if kept.lstrip().startswith("{"):
            kept = json.loads(kept)["checkpoint"]
        k_name, k_size, k_root = verify_note(kept, pub, name)
        if k_size > size:
            raise Bad("the kept checkpoint is larger: truncated or rolled back")
        if mth(leaf_hashes[:k_size]) != k_root:
            raise Bad("the first entries differ from the kept checkpoint: fork")
        msg += f"; extends the kept checkpoint of size {k_size}"
    return msg


def verify_proof(text, pub, origin=None):
    lines = text.split("\n")
    if lines[0] != "c2sp.org/tlog-proof@v1" or not lines[1].startswith("extra "):
        raise Bad("not a tlog-proof carrying its entry")
    leaf = b64(lines[1][6:])
    if not lines[2].startswith("index "):
        raise Bad("no index line")
    index = int(lines[2][6:])
    end = lines.index("", 3)
    proof = [b64(h) for h in lines[3:end]]
    note = "\n".join(lines[end + 1:])
    name, size, root = verify_note(note, pub, origin)
    entry = entry_json(leaf)
    if entry["seq"] != index:
        raise Bad("entry seq is not the proof index")
    verify_inclusion(index, size, leaf_hash(leaf), proof, root)
    return f"OK: entry {index} ({entry['action']} {entry['target']}) is in {name} at size {size}"


def main(argv):
    origin = None
    if "--origin" in argv:
        i = argv.index("--origin")
        origin = argv[i + 1]
        del argv[i:i + 2]
    kind, path, pem = argv[1:4]
    pub = serialization.load_pem_public_key(open(pem, "rb").read())
    if not isinstance(pub.curve, ec.SECP256R1):
        raise Bad("the audit key is not a P-256 key")
    text = open(path, encoding="utf-8").read()
    if kind == "export":
        kept = open(argv[4], encoding="utf-8").read() if len(argv) > 4 else None
        print(verify_export(text, pub, kept, origin))
    elif kind == "proof":
        print(verify_proof(text, pub, origin))
    else:
        raise Bad("first argument must be export or proof")


if __name__ == "__main__":
    try:
        main(list(sys.argv))
    except (Bad, KeyError, ValueError, IndexError) as e:
        print(f"FAILED: {e}", file=sys.stderr)
        sys.exit(1)
