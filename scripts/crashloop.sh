#!/usr/bin/env bash
# kill -9 loop: kills authd (SIGKILL) at a random moment during concurrent
# admin changes (credentials and allowlist, over the admin socket and the TCP
# admin API), restarts it and checks it, CYCLES times (default 1000). The
# loop is tests/e2e/crashloop.py, which test_crashloop.py also runs (10
# cycles, under ctest); its docstring lists the checks.
#
#   scripts/crashloop.sh [CYCLES] [--seed N] [--writers N] [--keep]
#
# Uses the binaries in build/bin (AUTHD_BIN to override; build first with
# scripts/build.sh). Each problem is printed as it is found; the last line is
# "crashloop: N cycles, L lost changes, H half changes, R failed restarts,
# V verify failures, C crashes (...)", and the exit status is non-zero if any
# of those is not 0. A failing run prints its seed; --seed repeats the kill
# timings and choices (not the daemon's own scheduling).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cycles=${1:-1000}
if ! [[ "$cycles" =~ ^[1-9][0-9]*$ ]]; then
  echo "usage: scripts/crashloop.sh [CYCLES] [--seed N] [--writers N] [--keep]" >&2
  exit 2
fi
[ $# -gt 0 ] && shift
export AUTHD_BIN=${AUTHD_BIN:-$root/build/bin}
if [ ! -x "$AUTHD_BIN/authd" ]; then
  echo "crashloop: no authd in $AUTHD_BIN; build first (scripts/build.sh)" >&2
  exit 2
fi
cd "$root/tests/e2e"
exec python3 crashloop.py "$cycles" "$@"
