#!/usr/bin/env bash
# Quick start: installs dependencies, builds, provisions a SoftHSM2 token and
# a config under ./state (override with AUTHD_STATE), and runs authd in the
# foreground on https://127.0.0.1:8443 (AUTHD_PORT). On the first run it
# allows 127.0.0.1 and prints an owner credential once.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
state=${AUTHD_STATE:-$root/state}
port=${AUTHD_PORT:-8443}
bin=$root/build/bin

"$root/scripts/install-deps.sh"
# Same build type as scripts/test.sh, so switching between them rebuilds nothing.
"$root/scripts/build.sh" -DCMAKE_BUILD_TYPE=RelWithDebInfo

umask 077
mkdir -p "$state/tokens"
export SOFTHSM2_CONF=$state/softhsm2.conf
if [ ! -f "$SOFTHSM2_CONF" ]; then
  printf 'directories.tokendir = %s/tokens\nobjectstore.backend = file\nlog.level = ERROR\n' \
    "$state" >"$SOFTHSM2_CONF"
fi
[ -s "$state/hsm-pin" ] || openssl rand -hex 16 >"$state/hsm-pin"
[ -s "$state/hsm-so-pin" ] || openssl rand -hex 16 >"$state/hsm-so-pin"
"$bin/authd-token-init" --module softhsm2 --label authd \
  --so-pin-file "$state/hsm-so-pin" --pin-file "$state/hsm-pin"

if [ ! -s "$state/tls.crt" ]; then
  openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes \
    -days 365 -subj /CN=localhost \
    -addext "subjectAltName=IP:127.0.0.1,DNS:localhost,DNS:authd" \
    -keyout "$state/tls.key" -out "$state/tls.crt" 2>/dev/null
fi

config=$state/authd.toml
if [ ! -f "$config" ]; then
  cat >"$config" <<TOML
[server]
listen = ["127.0.0.1:$port"]
tls_cert = "$state/tls.crt"
tls_key = "$state/tls.key"
admin_socket = "$state/admin.sock"

[storage]
path = "$state/authd.db"

[hsm]
module = "softhsm2"
token = "pkcs11:token=authd"
pin_file = "$state/hsm-pin"

[tokens]
issuer = "https://127.0.0.1:$port"
audience = "powerhub-api"
ttl_seconds = 600
TOML
fi

"$bin/authd" --config "$config" &
pid=$!
trap 'kill -TERM $pid 2>/dev/null; wait $pid' INT TERM
for _ in $(seq 1 300); do
  [ -S "$state/admin.sock" ] && "$bin/authctl" --socket "$state/admin.sock" status >/dev/null 2>&1 && break
  kill -0 $pid 2>/dev/null || { wait $pid; exit $?; }
  sleep 0.1
done

ctl() { "$bin/authctl" --socket "$state/admin.sock" "$@"; }
if [ ! -f "$state/bootstrapped" ]; then
  ctl allowlist add 127.0.0.1 >/dev/null
  cred=$(ctl --json credential create --name owner --role owner --expires-in 90d --reason "quick start bootstrap")
  id=$(printf '%s' "$cred" | python3 -c 'import json,sys; print(json.load(sys.stdin)["client_id"])')
  secret=$(printf '%s' "$cred" | python3 -c 'import json,sys; print(json.load(sys.stdin)["client_secret"])')
  touch "$state/bootstrapped"
  cat <<MSG

authd is running on https://127.0.0.1:$port (Ctrl-C stops it).
Owner credential — the secret is shown only this once:
  CLIENT_ID=$id
  CLIENT_SECRET=$secret

Get a token:
  curl --cacert $state/tls.crt -X POST https://127.0.0.1:$port/v1/auth/token -d grant_type=client_credentials --user "\$CLIENT_ID:\$CLIENT_SECRET"

Manage access: $bin/authctl --socket $state/admin.sock credential list
MSG
else
  echo "authd is running on https://127.0.0.1:$port (state in $state; the owner credential was printed on the first run)."
fi
wait $pid
