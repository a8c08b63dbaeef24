#!/usr/bin/env bash
# Memory and start-up at scale (issue 13): the real authd on a database of
# 1,000,000 credentials and 100,000 allowlist entries, and on one of 10,000
# credentials. Figures: resident memory after ready (goal < 256 MiB and
# < 64 MiB), peak, start-up from process start to event=ready (goal < 5 s),
# creating and deleting one credential at 1M, and the allowlist check at
# 100,000 entries (bench/ip_set_bench, goal < 1 us).
#
# References measured in the same run: authd on an empty database (RSS,
# start-up, a credential create), the time sqlite3 takes just to read every
# credential row, and an allowlist check against a single entry.
#
# The databases are written by bench_gen_db (bound to their own SoftHSM2
# token through the rows.bind path, see bench/gen_db.cc) and cached under
# build/bench-db/, keyed by the authd version and the generator's source, so
# a re-run starts at once. AUTHD_BENCH_DB overrides the cache directory.
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
bin=${AUTHD_BIN:-$root/build/bin}
bench_bin=${AUTHD_BENCH_BIN:-$root/build/bin}
version=$("$bin/authd" --version | cut -d' ' -f2)
key=$version-$(sha1sum "$root/bench/gen_db.cc" | cut -c1-12)
cache=${AUTHD_BENCH_DB:-$root/build/bench-db}/$key
mkdir -p "$cache"
pid=
trap '[ -n "$pid" ] && kill "$pid" 2>/dev/null; wait 2>/dev/null; true' EXIT

# make_db NAME CREDENTIALS ALLOWLIST: the cached database set in $cache/NAME
# (token, PIN, database, config).
make_db() {
  local d=$cache/$1
  [ -f "$d/done" ] && return 0
  rm -rf "$d"
  mkdir -p "$d/tokens"
  (
    umask 077
    export SOFTHSM2_CONF=$d/softhsm2.conf
    printf 'directories.tokendir = %s/tokens\nobjectstore.backend = file\nlog.level = ERROR\n' "$d" >"$SOFTHSM2_CONF"
    openssl rand -hex 16 >"$d/pin"
    openssl rand -hex 16 >"$d/so-pin"
    "$bin/authd-token-init" --label authd --so-pin-file "$d/so-pin" --pin-file "$d/pin" 2>/dev/null
    cat >"$d/authd.toml" <<TOML
[server]
listen = ["127.0.0.1:0"]
admin_socket = "$d/admin.sock"
[storage]
path = "$d/authd.db"
[hsm]
token = "pkcs11:token=authd"
pin_file = "$d/pin"
[tokens]
issuer = "https://authd.bench"
audience = "bench"
[audit]
origin = "bench.local/memory-$1"
TOML
    local t0=$(date +%s%N)
    "$bench_bin/bench_gen_db" --db "$d/authd.db" --token "pkcs11:token=authd" \
      --pin-file "$d/pin" --origin "bench.local/memory-$1" \
      --credentials "$2" --allowlist "$3"
    echo "memory: generated $1 ($2 credentials, $3 allowlist entries) in $(( ($(date +%s%N) - t0) / 1000000 )) ms" >&2
  )
  touch "$d/done"
}

# start NAME: starts authd on $cache/NAME; sets pid, startup_ms, rss_kib,
# hwm_kib.
start() {
  local d=$cache/$1
  export SOFTHSM2_CONF=$d/softhsm2.conf
  rm -f "$d/log"
  local t0=$(date +%s%N)
  "$bin/authd" --config "$d/authd.toml" 2>"$d/log" &
  pid=$!
  for _ in $(seq 1 3000); do
    grep -q event=ready "$d/log" && break
    kill -0 "$pid" 2>/dev/null || break
    sleep 0.01
  done
  startup_ms=$(( ($(date +%s%N) - t0) / 1000000 ))
  if ! grep -q event=ready "$d/log"; then
    echo "memory: authd did not start on $1:" >&2
    tail -5 "$d/log" >&2
    exit 1
  fi
  sleep 0.5  # let the threads settle
  rss_kib=$(awk '/^VmRSS/ {print $2}' "/proc/$pid/status")
  hwm_kib=$(awk '/^VmHWM/ {print $2}' "/proc/$pid/status")
}

stop() {
  kill "$pid"
  wait "$pid" 2>/dev/null || true
  pid=
}

# create_ms NAME N: the median of N credential creates (authctl, admin
# socket), each deleted again so the cached database stays as generated;
# sets create_ms and delete_ms.
create_ms() {
  local d=$cache/$1 creates=() deletes=() id t0 t1 t2
  for _ in $(seq 1 "$2"); do
    t0=$(date +%s%N)
    id=$("$bin/authctl" --socket "$d/admin.sock" --json credential create \
      --name bench --role viewer --expires-in 1d | python3 -c 'import json,sys; print(json.load(sys.stdin)["client_id"])')
    t1=$(date +%s%N)
    "$bin/authctl" --socket "$d/admin.sock" credential delete "$id" >/dev/null
    t2=$(date +%s%N)
    creates+=($(( (t1 - t0) / 1000 )))
    deletes+=($(( (t2 - t1) / 1000 )))
  done
  create_ms=$(printf '%s\n' "${creates[@]}" | sort -n | awk '{a[NR]=$1} END {printf "%.1f", a[int((NR+1)/2)]/1000}')
  delete_ms=$(printf '%s\n' "${deletes[@]}" | sort -n | awk '{a[NR]=$1} END {printf "%.1f", a[int((NR+1)/2)]/1000}')
}

mib() { awk -v k="$1" 'BEGIN {printf "%.1f", k/1024}'; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN {if (b > 0) printf "%.2f", a/b; else print "-"}'; }
met() { awk -v a="$1" -v b="$2" 'BEGIN {print (a < b) ? "yes" : "no"}'; }
row() { printf 'REPORT\t%s\t%s\t%s\t%s\t%s\t%s\n' "$@"; }

make_db empty 0 0
make_db 10k 10000 0
make_db 1m 1000000 100000

start empty
e_start=$startup_ms e_rss=$rss_kib
create_ms empty 5
e_create=$create_ms
stop

start 10k
k_start=$startup_ms k_rss=$rss_kib k_hwm=$hwm_kib
stop

start 1m
m_start=$startup_ms m_rss=$rss_kib m_hwm=$hwm_kib
create_ms 1m 5
m_create=$create_ms m_delete=$delete_ms
m_rss_after=$(awk '/^VmRSS/ {print $2}' "/proc/$pid/status")
stop

t0=$(date +%s%N)
sqlite3 "$cache/1m/authd.db" 'SELECT sum(length(client_id) + length(name) + length(role) + length(secret_mac) + length(created_by) + length(mac) + created_at + expires_at + audit_seq) FROM credentials' >/dev/null
scan_ms=$(( ($(date +%s%N) - t0) / 1000000 ))

echo "memory: empty rss=${e_rss}KiB start=${e_start}ms create=${e_create}ms; 10k rss=${k_rss}KiB hwm=${k_hwm}KiB start=${k_start}ms; 1m rss=${m_rss}KiB hwm=${m_hwm}KiB rss_after_changes=${m_rss_after}KiB start=${m_start}ms create=${m_create}ms delete=${m_delete}ms; sqlite scan ${scan_ms}ms" >&2

row "RSS, 1M credentials + 100k allowlist" "$(mib "$m_rss") MiB" "< 256 MiB" "empty db $(mib "$e_rss") MiB" "$(ratio "$m_rss" "$e_rss")" "$(met "$m_rss" 262144)"
row "peak RSS (VmHWM), 1M + 100k" "$(mib "$m_hwm") MiB" "-" "empty db $(mib "$e_rss") MiB" "$(ratio "$m_hwm" "$e_rss")" "-"
row "RSS, 10k credentials" "$(mib "$k_rss") MiB" "< 64 MiB" "empty db $(mib "$e_rss") MiB" "$(ratio "$k_rss" "$e_rss")" "$(met "$k_rss" 65536)"
row "start-up to ready, 1M + 100k" "$m_start ms" "< 5000 ms" "sqlite3 scan of credentials $scan_ms ms; empty db $e_start ms" "$(ratio "$m_start" "$scan_ms") x scan" "$(met "$m_start" 5000)"
row "credential create at 1M (median of 5)" "$m_create ms" "-" "empty db $e_create ms" "$(ratio "$m_create" "$e_create")" "-"
row "credential delete at 1M (median of 5)" "$m_delete ms" "-" "create at 1M $m_create ms" "$(ratio "$m_delete" "$m_create")" "-"

json=$("$bench_bin/ip_set_bench" --benchmark_filter=BM_Contains --benchmark_format=json)
read -r hit miss single < <(python3 -c '
import json, sys
b = {x["name"]: x["cpu_time"] for x in json.loads(sys.stdin.read())["benchmarks"]}
print(b["BM_ContainsHit"], b["BM_ContainsMiss"], b["BM_ContainsSingle"])' <<<"$json")
for kind in hit miss; do
  ns=${!kind}
  row "allowlist check, 100k entries ($kind)" "$(printf '%.0f' "$ns") ns" "< 1000 ns" "one entry $(printf '%.0f' "$single") ns" "$(ratio "$ns" "$single")" "$(met "$ns" 1000)"
done
