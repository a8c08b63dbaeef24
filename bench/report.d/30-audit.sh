#!/usr/bin/env bash
# The audit log at 1,000,000 entries (issue 13, "audit at scale"):
#  - inclusion and consistency proofs, p50/p99 over random pairs, against
#    the same proofs in a 1,024-entry log (bench/audit_scale.cc);
#  - `authctl audit export` of the whole log, against the time to SHA-256
#    the exported file;
#  - `authctl audit verify` of that export: time, and peak RSS against the
#    RSS of verifying its first tenth (memory must not grow with the log);
#  - the first start after an upgrade from schema 4 (tree nodes stored).
# The log is grown through AuditLog itself while authd is stopped, so every
# entry has its checkpoint, tree nodes and HSM head, and the export
# verifies. AUDIT_ENTRIES (default 1000000) and AUDIT_PAIRS (2000) override.
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
source "$here/authd_env.sh"
entries=${AUDIT_ENTRIES:-1000000}
pairs=${AUDIT_PAIRS:-2000}

bench_start_authd
kill "$pid" && wait "$pid" 2>/dev/null || true
pid=
"$bin/audit_scale" "$dir/authd.db" "$dir/pin" "$entries" "$pairs"

# Starts authd on the grown log (its start-up checks the whole log against
# the latest checkpoint); sets pid, and started to the seconds until it is
# ready and its peak RSS then (KiB).
start_authd() {
  local t0 t1
  t0=$(date +%s.%N)
  "$bin/authd" --config "$dir/authd.toml" 2>"$dir/log" &
  pid=$!
  for _ in $(seq 1 1200); do grep -q event=ready "$dir/log" && break; sleep 0.05; done
  grep -q event=ready "$dir/log" || { tail -5 "$dir/log" >&2; exit 1; }
  t1=$(date +%s.%N)
  started="$(echo "$t1 - $t0" | bc) $(awk '/VmHWM/ {print $2}' /proc/$pid/status)"
}
stop_authd() { kill "$pid" && wait "$pid" 2>/dev/null || true; pid=; }

# The first start after an upgrade from schema 4: no tree nodes stored, so
# authd stores them (one pass over the leaf hashes, in pages).
python3 -c 'import sqlite3, sys
db = sqlite3.connect(sys.argv[1])
db.execute("DROP TABLE audit_nodes")
db.execute("PRAGMA user_version = 4")
db.commit()' "$dir/authd.db"
start_authd
read -r upgrade_s upgrade_kb <<<"$started"
grep -q event=audit_nodes "$dir/log" || { echo "30-audit: no backfill?" >&2; exit 1; }
stop_authd
start_authd
read -r start_s start_kb <<<"$started"
echo "30-audit: ordinary start on $entries entries: $start_s s, peak RSS $((start_kb / 1024)) MiB" >&2
curl -sf --unix-socket "$dir/admin.sock" http://authd/v1/admin/audit/public-key >"$dir/audit.pem"

seconds() { # COMMAND... : wall seconds, the command's output discarded
  local t0 t1
  t0=$(date +%s.%N)
  "$@" >/dev/null
  t1=$(date +%s.%N)
  echo "$t1 - $t0" | bc
}
export_s=$(seconds ctl audit export --output "$dir/export.jsonl")
sha_s=$(seconds sha256sum "$dir/export.jsonl")
size_mb=$(( $(stat -c %s "$dir/export.jsonl") / 1048576 ))
lines=$(wc -l <"$dir/export.jsonl")
echo "30-audit: export of $((lines - 1)) entries, $size_mb MiB" >&2

# authctl audit verify under /usr/bin/time; sets verified to its wall
# seconds and peak RSS (KiB). With a second argument, the verdict must be a
# failure naming it.
verify() {
  local want=${2:-} rc=0
  /usr/bin/time -f '%e %M' -o "$dir/time" "$bin/authctl" audit verify \
    --file "$1" --key "$dir/audit.pem" >/dev/null 2>"$dir/verify.err" || rc=$?
  if { [ -z "$want" ] && [ "$rc" != 0 ]; } ||
     { [ -n "$want" ] && ! grep -q "$want" "$dir/verify.err"; }; then
    cat "$dir/verify.err" >&2
    exit 1
  fi
  verified=$(tail -n 1 "$dir/time")
}
verify "$dir/export.jsonl"
read -r verify_s verify_kb <<<"$verified"
# The reference: the first tenth of the same export with its checkpoint
# line. Every line is read and checked; the verdict at the end is that the
# checkpoint covers more entries. Memory that does not grow with the log
# is the same for both.
head -n $(((lines - 1) / 10)) "$dir/export.jsonl" >"$dir/tenth.jsonl"
tail -n 1 "$dir/export.jsonl" >>"$dir/tenth.jsonl"
verify "$dir/tenth.jsonl" "entries added or removed"
read -r _ small_kb <<<"$verified"

n=$((lines - 1))
ratio() { echo "scale=2; $1 / $2" | bc; }
met() { [ "$(echo "$1 < $2" | bc)" = 1 ] && echo yes || echo no; }
printf 'REPORT\taudit export, %s entries (%s MiB)\t%.2f s\t-\t%.2f s (sha256sum of the file)\t%s\t-\n' \
  "$n" "$size_mb" "$export_s" "$sha_s" "$(ratio "$export_s" "$sha_s")"
printf 'REPORT\tauthctl audit verify, %s entries\t%.2f s\t< 10 s\t%.2f s (sha256sum of the file)\t%s\t%s\n' \
  "$n" "$verify_s" "$sha_s" "$(ratio "$verify_s" "$sha_s")" "$(met "$verify_s" 10)"
printf 'REPORT\tfirst start after the upgrade (tree nodes stored), %s entries\t%.2f s, %d MiB peak\t-\t%.2f s, %d MiB (ordinary start)\t%s\t-\n' \
  "$n" "$upgrade_s" $((upgrade_kb / 1024)) "$start_s" $((start_kb / 1024)) "$(ratio "$upgrade_s" "$start_s")"
printf 'REPORT\tauthctl audit verify peak RSS, %s entries\t%.1f MiB\tflat (ratio < 1.5)\t%.1f MiB (the first %s entries)\t%s\t%s\n' \
  "$n" "$(echo "scale=1; $verify_kb / 1024" | bc)" "$(echo "scale=1; $small_kb / 1024" | bc)" \
  $((n / 10)) "$(ratio "$verify_kb" "$small_kb")" "$(met "$(ratio "$verify_kb" "$small_kb")" 1.5)"
