#!/usr/bin/env bash
# Tokens over HTTP against the HSM's own rate, and behaviour under overload,
# in one run (issue 13). Starts authd on a throwaway SoftHSM2 token (plain
# HTTP on loopback, bench/authd_env.sh) with one credential, then:
#   1. the HSM probe (bench/hsm_probe): ES256 with authd's persistent token
#      key, 2 threads, each on its own session, before and after the HTTP
#      runs (the mean is the reference, so drift during the run cancels);
#   2. wrk, 2 threads, POST /v1/auth/token at 32, 128 and 512 connections;
#   3. wrk, 2 threads, 32 connections, GET /.well-known/jwks.json: what a
#      static document costs on the same server.
# Prints the REPORT lines of bench/report.d/README.md. With PEER_URL set
# (a token endpoint taking the same client_credentials request, e.g. a
# node-oidc-provider started by hand) and PEER_AUTH (its Basic credentials,
# base64), also the peer's rate at 32 connections and authd's ratio to it.
# Usage: bench/report.d/10-tokens.sh [SECONDS per run, default 8]
set -euo pipefail
secs=${1:-${TOKENS_SECONDS:-8}}
source "$(dirname "$0")/../authd_env.sh"
bench_start_authd
ctl allowlist add 127.0.0.1 >/dev/null
cred=$(bench_credential viewer)
auth=$(printf '%s' "$cred" | python3 -c 'import base64,json,sys; c=json.load(sys.stdin); print(base64.b64encode((c["client_id"]+":"+c["client_secret"]).encode()).decode())')
base=http://127.0.0.1:$port

cat >"$dir/report.lua" <<'LUA'
done = function(summary, latency, requests)
  local e = summary.errors
  local sock = e.connect + e.read + e.write + e.timeout
  io.write(string.format("RESULT %.0f %.3f %.3f %d\n",
    (summary.requests - e.status - sock) / (summary.duration / 1e6),
    latency:percentile(50) / 1000, latency:percentile(99) / 1000,
    e.status + sock))
end
LUA
post_lua() {  # $1: Basic credentials
  cat "$dir/report.lua" - <<LUA
wrk.method = "POST"
wrk.body = "grant_type=client_credentials"
wrk.headers["Content-Type"] = "application/x-www-form-urlencoded"
wrk.headers["Authorization"] = "Basic $1"
LUA
}
post_lua "$auth" >"$dir/post.lua"

# CPU seconds (user + system) as /usr/bin/time -f '%U %S' wrote them to $1.
cpu_of() { awk '{ printf "%.2f", $1 + $2 }' "$1"; }
# authd's CPU seconds so far, from /proc (clock ticks).
authd_cpu() {
  awk -v hz="$(getconf CLK_TCK)" '{ printf "%.2f", ($14 + $15) / hz }' \
    "/proc/$pid/stat"
}
probe() {  # prints signs/s; the probe's CPU seconds go to $dir/probe.cpu
  /usr/bin/time -f '%U %S' -o "$dir/probe.cpu" \
    "$bin/hsm_probe" --token-uri pkcs11:token=authd --pin-file "$dir/pin" \
    --threads 2 --seconds 3 | tee /dev/stderr | sed 's/.*ops_per_s=//'
}
run() {  # $1 connections, $2 script, $3 url -> "rate p50 p99 errors"
  /usr/bin/time -f '%U %S' -o "$dir/wrk.cpu" \
    wrk -t2 -c"$1" -d"${secs}s" --timeout 10s -s "$2" "$3" |
    grep '^RESULT' | cut -d' ' -f2-
}
ratio() { python3 -c "print(f'{$1/$2:.2f}')"; }
yes_if() { python3 -c "print('yes' if $1 else 'no')"; }

echo "$(bench_banner), ${secs}s per run" >&2
hsm1=$(probe)
probe_cpu=$(cpu_of "$dir/probe.cpu")
declare -A rate p99 errs
for c in 32 128 512; do
  before=$(authd_cpu)
  read -r rate[$c] _ p99[$c] errs[$c] < <(run "$c" "$dir/post.lua" "$base/v1/auth/token")
  echo "tokens connections=$c rate=${rate[$c]}/s p99=${p99[$c]}ms errors=${errs[$c]}" >&2
  if [ "$c" = 32 ]; then
    authd32=$(python3 -c "print(f'{$(authd_cpu) - $before:.2f}')")
    wrk32=$(cpu_of "$dir/wrk.cpu")
  fi
done
read -r jwks _ jwks_p99 jwks_errs < <(run 32 "$dir/report.lua" "$base/.well-known/jwks.json")
echo "jwks connections=32 rate=$jwks/s p99=${jwks_p99}ms errors=$jwks_errs" >&2
hsm2=$(probe)
hsm=$(( (hsm1 + hsm2) / 2 ))

r=$(ratio "${rate[32]}" "$hsm")
printf 'REPORT\ttokens/s, 32 conns (errors: %s)\t%s\t≥ 0.5 × HSM, 0 errors\tHSM ES256 2 threads %s/s\t%s\t%s\n' \
  "${errs[32]}" "${rate[32]}" "$hsm" "$r" "$(yes_if "$r >= 0.5 and ${errs[32]} == 0")"
printf 'REPORT\ttoken p99, 32 conns\t%s ms\t≤ 10 ms\t-\t-\t%s\n' \
  "${p99[32]}" "$(yes_if "${p99[32]} <= 10")"
# Where the two cores went: the probe has them to itself, while authd
# shares them with wrk. Per CPU-second of the process doing the work, a
# token (HTTP, the request's checks, one signature) against a bare
# signature (hsm_probe's first run, 3 s on 2 threads).
per_cpu=$(python3 -c "print(round(${rate[32]} * $secs / $authd32))")
probe_per_cpu=$(python3 -c "print(round($hsm1 * 3 / $probe_cpu))")
echo "cpu: authd ${authd32}s and wrk ${wrk32}s in the ${secs}s run at 32 connections; probe ${probe_cpu}s in 3s" >&2
printf 'REPORT\ttokens per authd CPU-second, 32 conns (wrk: %s CPU-s of %s)\t%s\t-\tsigns per hsm_probe CPU-second %s\t%s\t-\n' \
  "$wrk32" "$((2 * secs))" "$per_cpu" "$probe_per_cpu" "$(ratio "$per_cpu" "$probe_per_cpu")"
for c in 128 512; do
  r=$(ratio "${rate[$c]}" "${rate[32]}")
  printf 'REPORT\ttokens/s, %s conns (errors: %s)\t%s\t≥ 0.9 × 32 conns\t32 conns %s/s\t%s\t%s\n' \
    "$c" "${errs[$c]}" "${rate[$c]}" "${rate[32]}" "$r" "$(yes_if "$r >= 0.9 and ${errs[$c]} == 0")"
  # Linear in the queue: p99 at c connections within c/32 × the 32 figure.
  bound=$(python3 -c "print(f'{${p99[32]} * $c / 32:.1f}')")
  r=$(ratio "${p99[$c]}" "${p99[32]}")
  printf 'REPORT\ttoken p99, %s conns\t%s ms\t≤ %s ms (%s/32 × p99 at 32)\tp99 at 32 %s ms\t%s\t%s\n' \
    "$c" "${p99[$c]}" "$bound" "$c" "${p99[32]}" "$r" "$(yes_if "${p99[$c]} <= $bound")"
done
printf 'REPORT\tJWKS GET/s, 32 conns (errors: %s)\t%s\t-\ttokens/s at 32: %s\t%s\t-\n' \
  "$jwks_errs" "$jwks" "${rate[32]}" "$(ratio "${rate[32]}" "$jwks")"
if [ -n "${PEER_URL:-}" ]; then
  post_lua "${PEER_AUTH:?PEER_AUTH must hold the peer client Basic credentials}" >"$dir/peer.lua"
  read -r peer _ peer_p99 peer_errs < <(run 32 "$dir/peer.lua" "$PEER_URL")
  echo "peer connections=32 rate=$peer/s p99=${peer_p99}ms errors=$peer_errs" >&2
  r=$(ratio "${rate[32]}" "$peer")
  printf 'REPORT\ttokens/s vs peer, 32 conns\t%s\t≥ 2 × peer\tpeer %s/s (p99 %s ms, errors %s)\t%s\t%s\n' \
    "${rate[32]}" "$peer" "$peer_p99" "$peer_errs" "$r" "$(yes_if "$r >= 2")"
fi
