# Sourced by the HTTP load scripts (bench/load.sh, bench/check_load.sh): a
# throwaway SoftHSM2 token and a real authd on loopback, plain HTTP (TLS cost
# is not measured here), its log in a file so the terminal stays quiet.
#
#   bench_start_authd [SERVER_KEYS [TABLES]]
#       SERVER_KEYS: extra lines for [server]; TABLES: extra TOML tables.
#       Sets dir (the temp dir), port and pid; authd is stopped and dir
#       removed when the sourcing script exits.
#   ctl ARGS...           authctl on authd's admin socket
#   bench_credential ROLE creates a credential, prints authctl's JSON
#   bench_banner          one line: version, CPUs, CPU model
#
# The caller sets -euo pipefail; AUTHD_BIN overrides build/bin.
# BENCH_PER_ADDRESS sets server.max_connections_per_address (1000, so a load
# generator on one address is not refused); empty keeps authd's default.

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
bin=${AUTHD_BIN:-$root/build/bin}
dir=$(mktemp -d /tmp/authd-load-XXXXXX)
pid=
trap 'bench_stop_authd' EXIT

bench_stop_authd() {
  if [ -n "$pid" ]; then
    kill "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
  fi
  rm -rf "$dir"
}

bench_start_authd() {
  local server_keys=${1:-} tables=${2:-}
  local per_address=${BENCH_PER_ADDRESS-1000} per_address_line=
  [ -z "$per_address" ] || per_address_line="max_connections_per_address = $per_address"
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
${per_address_line}
$server_keys
[storage]
path = "$dir/authd.db"
[hsm]
token = "pkcs11:token=authd"
pin_file = "$dir/pin"
[tokens]
issuer = "https://authd.load"
audience = "load"
$tables
TOML
  : >"$dir/log"  # exists before the first grep below
  "$bin/authd" --config "$dir/authd.toml" 2>"$dir/log" &
  pid=$!
  for _ in $(seq 1 100); do grep -q event=ready "$dir/log" && break; sleep 0.1; done
  if ! grep -q event=ready "$dir/log"; then
    echo "authd did not start:" >&2
    tail -5 "$dir/log" >&2
    exit 1
  fi
  port=$(grep -o 'address=127.0.0.1:[0-9]*' "$dir/log" | cut -d: -f2)
}

ctl() { "$bin/authctl" --socket "$dir/admin.sock" "$@"; }

bench_credential() {
  ctl --json credential create --name load --role "$1" --expires-in 1d
}

bench_banner() {
  echo "authd $("$bin/authd" --version | cut -d' ' -f2) on $(nproc) CPUs ($(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'))"
}
