#!/usr/bin/env bash
# HSM fault loop: runs every fault of the matrix in tests/e2e/test_hsm_faults.py
# CYCLES times (default 100 per fault) against one real authd on the
# fault-injecting PKCS#11 module (tests/testing/fault_pkcs11 over SoftHSM2),
# checking each cycle for crashes, 503 during the outage, recovery within
# 30 s once the fault clears and no PIN retry after CKR_PIN_INCORRECT. The
# loop is tests/e2e/hsm_fault_loop.py (its docstring lists the checks);
# test_hsm_fault_loop.py runs 3 cycles of it under ctest.
#
#   scripts/hsm-faults.sh [CYCLES]
#
# Uses build/bin and build/lib (AUTHD_BIN to override the bin folder). Prints
# one line per fault, then "hsm-faults: N faults x C cycles, K crashes, max
# recovery X.Ys, P PIN retries, F failed cycles (S s)"; the exit status is
# non-zero on any failed check.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cycles=${1:-100}
if ! [[ "$cycles" =~ ^[1-9][0-9]*$ ]] || [ $# -gt 1 ]; then
  echo "usage: scripts/hsm-faults.sh [CYCLES]" >&2
  exit 2
fi
export AUTHD_BIN=${AUTHD_BIN:-$root/build/bin}
if [ ! -f "$AUTHD_BIN/../lib/libauthd_fault_pkcs11.so" ] || [ ! -x "$AUTHD_BIN/authd" ]; then
  echo "hsm-faults: no authd or fault module under $AUTHD_BIN/..; build first (scripts/build.sh)" >&2
  exit 2
fi
cd "$root/tests/e2e"
exec python3 hsm_fault_loop.py "$cycles"
