#!/usr/bin/env bash
# HTTP load on the gateway check against the cheapest document authd
# serves, in one run: starts authd (bench/authd_env.sh) with 127.0.0.1 as a
# trusted proxy and a [gateway] route, issues one token, then drives wrk
# (2 threads, 32 connections) at GET /v1/auth/jwks and at GET /v1/auth/check
# with the headers nginx's auth_request sends (Authorization,
# X-Original-URI, X-Original-Method, X-Forwarded-For). The runs go jwks,
# check, check, jwks, SECONDS/2 each, so a machine that slows down or speeds
# up during the test moves both alike. Prints requests/s, p50/p99 and errors
# of each run, each endpoint's mean rate, then check/jwks: the check sits in
# front of every API call, so it should cost about what a static document
# does. Every non-2xx answer and every socket error counts as an error; the
# exit status is 1 if there was any. Usage: bench/check_load.sh [SECONDS]
set -euo pipefail
secs=${1:-10}
source "$(dirname "$0")/authd_env.sh"
bench_start_authd 'trusted_proxies = ["127.0.0.1/32"]' '
[gateway]
default = "deny"
[[gateway.routes]]
prefix = "/api/v1/data"
methods = ["GET", "HEAD"]
scopes = ["data:read"]
[[gateway.routes]]
prefix = "/api/v1/devices"
methods = ["POST"]
scopes = ["devices:control"]'
ctl allowlist add 127.0.0.1 >/dev/null     # the gateway, and the JWKS reader
ctl allowlist add 192.0.2.0/24 >/dev/null  # the clients behind the gateway
cred=$(bench_credential viewer)
base=http://127.0.0.1:$port
token=$(curl -sf --user "$(jq -r '.client_id + ":" + .client_secret' <<<"$cred")" \
  -d grant_type=client_credentials "$base/v1/auth/token" | jq -r .access_token)

cat >"$dir/report.lua" <<'LUA'
done = function(summary, latency, requests)
  local e = summary.errors
  local sock = e.connect + e.read + e.write + e.timeout
  io.write(string.format("RESULT %.0f %.3f %.3f %d %d\n",
    (summary.requests - e.status - sock) / (summary.duration / 1e6),
    latency:percentile(50) / 1000, latency:percentile(99) / 1000,
    e.status, sock))
end
LUA
cat "$dir/report.lua" - >"$dir/check.lua" <<LUA
wrk.headers["Authorization"] = "Bearer $token"
wrk.headers["X-Original-URI"] = "/api/v1/data/sites/7?from=2026-12-01"
wrk.headers["X-Original-Method"] = "GET"
wrk.headers["X-Forwarded-For"] = "192.0.2.10"
LUA

# One answer each before the load: the check must say 204.
code=$(curl -s -o /dev/null -w '%{http_code}' -H "Authorization: Bearer $token" \
  -H 'X-Original-URI: /api/v1/data/sites/7?from=2026-12-01' \
  -H 'X-Original-Method: GET' -H 'X-Forwarded-For: 192.0.2.10' "$base/v1/auth/check")
[ "$code" = 204 ] || { echo "GET /v1/auth/check answered $code, not 204" >&2; exit 1; }
code=$(curl -s -o /dev/null -w '%{http_code}' "$base/v1/auth/jwks")
[ "$code" = 200 ] || { echo "GET /v1/auth/jwks answered $code, not 200" >&2; exit 1; }

half=$(awk -v s="$secs" 'BEGIN { printf "%g", s / 2 }')
echo "$(bench_banner), wrk -t2 -c32, ${half}s per run"
errors=0
declare -A total=([jwks]=0 [check]=0)
run() {  # NAME SCRIPT PATH
  local r
  r=$(wrk -t2 -c32 -d"${half}s" -s "$dir/$2" "$base$3" | grep '^RESULT') ||
    { echo "wrk failed on $3" >&2; exit 1; }
  read -r _ rps p50 p99 non2xx sock <<<"$r"
  printf '%-6s %6s req/s  p50 %6s ms  p99 %7s ms  non-2xx %s  socket errors %s\n' \
    "$1" "$rps" "$p50" "$p99" "$non2xx" "$sock"
  total[$1]=$((total[$1] + rps))
  errors=$((errors + non2xx + sock))
}
run jwks report.lua /v1/auth/jwks
run check check.lua /v1/auth/check
run check check.lua /v1/auth/check
run jwks report.lua /v1/auth/jwks
awk -v c="${total[check]}" -v j="${total[jwks]}" 'BEGIN {
  printf "mean   jwks %.0f req/s, check %.0f req/s\n", j / 2, c / 2
  printf "check/jwks = %.2f (goal >= 0.8)\n", c / j }'
if [ "$errors" -ne 0 ]; then
  echo "$errors requests failed" >&2
  exit 1
fi
