#!/usr/bin/env bash
# HTTP load test: starts authd on a throwaway SoftHSM2 token (plain HTTP on
# loopback, so TLS cost is not measured here), creates one credential, and
# drives POST /v1/auth/token with wrk at 1, 2 and 16 connections.
# Prints tokens/s and p50/p99 latency for each. Usage: bench/load.sh [SECONDS]
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
bin=${AUTHD_BIN:-$root/build/bin}
secs=${1:-10}
dir=$(mktemp -d /tmp/authd-load-XXXXXX)
trap 'kill $pid 2>/dev/null || true; wait 2>/dev/null || true; rm -rf "$dir"' EXIT
umask 077
mkdir "$dir/tokens"
export SOFTHSM2_CONF=$dir/softhsm2.conf
printf 'directories.tokendir = %s/tokens\nobjectstore.backend = file\nlog.level = ERROR\n' "$dir" >"$SOFTHSM2_CONF"
openssl rand -hex 16 >"$dir/pin"
openssl rand -hex 16 >"$dir/so-pin"
"$bin/authd-token-init" --label authd --so-pin-file "$dir/so-pin" --pin-file "$dir/pin" 2>/dev/null
cat >"$dir/authd.toml" <<TOML
[server]
listen = ["127.0.0.1:0"]
admin_socket = "$dir/admin.sock"
max_connections_per_address = 1000
[storage]
path = "$dir/authd.db"
[hsm]
token = "pkcs11:token=authd"
pin_file = "$dir/pin"
[tokens]
issuer = "https://authd.load"
audience = "load"
TOML
"$bin/authd" --config "$dir/authd.toml" 2>"$dir/log" &
pid=$!
for _ in $(seq 1 100); do grep -q event=ready "$dir/log" && break; sleep 0.1; done
port=$(grep -o 'address=127.0.0.1:[0-9]*' "$dir/log" | cut -d: -f2)
ctl() { "$bin/authctl" --socket "$dir/admin.sock" "$@"; }
ctl allowlist add 127.0.0.1 >/dev/null
cred=$(ctl --json credential create --name load --role viewer --expires-in 1d)
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
echo "authd $("$bin/authd" --version | cut -d' ' -f2) on $(nproc) CPUs ($(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //')), ${secs}s per run"
for c in 1 2 16; do
  t=$(( c < 2 ? 1 : 2 ))
  printf 'connections=%-3s ' "$c"
  wrk -t"$t" -c"$c" -d"${secs}s" -s "$dir/post.lua" "http://127.0.0.1:$port/v1/auth/token" | grep RESULT
done
