#!/usr/bin/env bash
# Slow-client attacks against a real authd with the connection limits an
# operator ships (server.max_connections_per_address = 64, the 10 s request
# deadline), while a well-behaved client asks for tokens from another
# loopback address. slowhttptest runs slowloris (-H, headers that never
# end), slow body (-B, POST /v1/auth/token with a body that trickles in)
# and slow read (-X, a 41 KB console file read through a tiny window), each
# from four allowlisted source addresses (127.0.0.2-5, bound by a small
# LD_PRELOAD shim since slowhttptest has no source option), every address
# opening up to 64 connections a second for the whole phase. The client
# (bench/tools/token_client.py: two threads, a fresh connection per request)
# runs first without an attack, then under each attack. Prints p50/p99 and
# errors per phase; exits non-zero unless p99 < 1 s with no errors under
# every attack. Usage: bench/slow_clients.sh [SECONDS]   (per phase, 20)
set -euo pipefail
secs=${1:-20}
ramp=5
export BENCH_PER_ADDRESS=  # authd's default per-address limit
source "$(dirname "$0")/authd_env.sh"
command -v slowhttptest >/dev/null || { echo "slow_clients: slowhttptest is not installed (scripts/install-deps.sh)" >&2; exit 1; }
bench_start_authd
ctl allowlist add 127.0.0.0/24 >/dev/null
cred=$(bench_credential viewer)
auth=$(printf '%s' "$cred" | python3 -c 'import base64,json,sys; c=json.load(sys.stdin); print(base64.b64encode((c["client_id"]+":"+c["client_secret"]).encode()).decode())')
cc -shared -fPIC -O2 -o "$dir/bind_source.so" "$root/bench/tools/bind_source.c" -ldl
attackers=(127.0.0.2 127.0.0.3 127.0.0.4 127.0.0.5)
client=127.0.0.9
url=http://127.0.0.1:$port

run_client() {  # PHASE
  python3 "$root/bench/tools/token_client.py" "$port" "$auth" "$client" "$secs" "$dir/lat.$1" 2
}

stats() {  # FILE... -> "p50 p99 requests errors"
  cat "$@" | python3 -c '
import sys
rows = [l.split() for l in sys.stdin if l.strip()]
lat = sorted(float(r[1]) for r in rows)
errs = sum(1 for r in rows if r[2] != "1")
pct = lambda q: lat[min(len(lat) - 1, int(q * len(lat)))] if lat else float("nan")
print(f"{pct(0.50):.4f} {pct(0.99):.4f} {len(rows)} {errs}")'
}

established() {  # TCP connections authd holds open on its port
  ss -Htn state established "( sport = :$port )" | wc -l
}

attack() {  # NAME SLOWHTTPTEST-ARGS...
  local name=$1 pids=() a held
  shift
  local len=$((secs + ramp + 5))
  for a in "${attackers[@]}"; do
    BIND_SOURCE=$a LD_PRELOAD=$dir/bind_source.so \
      slowhttptest "$@" -l "$len" -c $((64 * len)) -r 64 -p 3 >"$dir/attack.$name.$a" 2>&1 &
    pids+=($!)
  done
  sleep "$ramp"
  held=$(established)
  run_client "$name"
  kill "${pids[@]}" 2>/dev/null || true
  wait "${pids[@]}" 2>/dev/null || true
  read -r p50 p99 n errs < <(stats "$dir/lat.$name")
  printf '%-10s p50 %s s  p99 %s s  requests %s  errors %s  (authd held %s connections at the start)\n' \
    "$name" "$p50" "$p99" "$n" "$errs" "$held"
  sleep 11  # let the attack's leftovers reach their deadline before the next phase
}

echo "$(bench_banner), ${secs}s per phase, attackers ${attackers[*]}, client $client"
run_client none
read -r ref50 ref99 refn referrs < <(stats "$dir/lat.none")
printf '%-10s p50 %s s  p99 %s s  requests %s  errors %s\n' none "$ref50" "$ref99" "$refn" "$referrs"
attack slowloris -H -u "$url/v1/auth/token" -i 2 -x 24
attack slow-body -B -u "$url/v1/auth/token" -s 8192 -i 2 -x 24
attack slow-read -X -u "$url/console/app.js" -k 3 -n 1 -w 1 -y 64 -z 32
read -r p50 p99 n errs < <(stats "$dir"/lat.slow*)
printf '%-10s p50 %s s  p99 %s s  requests %s  errors %s\n' overall "$p50" "$p99" "$n" "$errs"
if ! grep -q event=ready "$dir/log" || ! kill -0 "$pid" 2>/dev/null; then
  echo "slow clients: authd is not running any more" >&2
  exit 1
fi
echo "slow clients: p99 $p99 s under slowloris/slow-body/slow-read ($ref99 s without), $errs errors"
python3 -c "import sys; sys.exit(0 if float('$p99') < 1.0 and int('$errs') == 0 else 1)"
