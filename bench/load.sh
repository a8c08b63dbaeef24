#!/usr/bin/env bash
# HTTP load test: starts authd on a throwaway SoftHSM2 token (plain HTTP on
# loopback, so TLS cost is not measured here), creates one credential, and
# drives POST /v1/auth/token with wrk at 1, 2 and 16 connections.
# Prints tokens/s and p50/p99 latency for each. Usage: bench/load.sh [SECONDS]
set -euo pipefail
secs=${1:-10}
source "$(dirname "$0")/authd_env.sh"
bench_start_authd
ctl allowlist add 127.0.0.1 >/dev/null
cred=$(bench_credential viewer)
auth=$(printf '%s' "$cred" | python3 -c 'import base64,json,sys; c=json.load(sys.stdin); print(base64.b64encode((c["client_id"]+":"+c["client_secret"]).encode()).decode())')
cat >"$dir/post.lua" <<LUA
wrk.method = "POST"
wrk.body = "grant_type=client_credentials"
wrk.headers["Content-Type"] = "application/x-www-form-urlencoded"
wrk.headers["Authorization"] = "Basic $auth"
done = function(summary, latency, requests)
  local ok = summary.requests - summary.errors.status - summary.errors.connect
  io.write(string.format("RESULT tokens/s=%.0f p50_ms=%.2f p99_ms=%.2f non2xx=%d\n",
    ok / (summary.duration / 1e6), latency:percentile(50) / 1000,
    latency:percentile(99) / 1000, summary.errors.status))
end
LUA
echo "$(bench_banner), ${secs}s per run"
for c in 1 2 16; do
  t=$(( c < 2 ? 1 : 2 ))
  printf 'connections=%-3s ' "$c"
  wrk -t"$t" -c"$c" -d"${secs}s" -s "$dir/post.lua" "http://127.0.0.1:$port/v1/auth/token" | grep RESULT
done
