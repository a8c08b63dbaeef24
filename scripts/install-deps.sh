#!/usr/bin/env bash
# Installs everything authd needs to build, run and test, from Debian 12's
# archive only. Idempotent: skips apt entirely when every package is present.
set -euo pipefail

packages=(
  build-essential cmake ninja-build ccache pkg-config
  clang-14 libclang-rt-14-dev llvm-14
  softhsm2 p11-kit libp11-kit-dev opensc
  libmicrohttpd-dev libsqlite3-dev sqlite3 libssl-dev openssl
  libprotobuf-dev protobuf-compiler
  nlohmann-json3-dev libtomlplusplus-dev libexpected-dev
  libgtest-dev libgmock-dev libbenchmark-dev
  libsystemd-dev systemd libgnutls28-dev gnutls-bin
  wrk curl python3 python3-jwt python3-cryptography
  slowhttptest
  nginx-light
  chromium chromium-driver python3-selenium
)

missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -eq 0 ]; then
  exit 0
fi

SUDO=""
[ "$(id -u)" -eq 0 ] || SUDO="sudo"
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
