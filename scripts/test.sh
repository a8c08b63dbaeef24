#!/usr/bin/env bash
# The one command for the whole test suite, and what CI runs (.ci/run):
#  1. installs the dependencies (scripts/install-deps.sh),
#  2. builds authd into build/ with -Werror,
#  3. ASan+UBSan build: unit tests, fuzz replays and the end-to-end suite
#     against the sanitized daemon (scripts/sanitize.sh asan),
#  4. TSan build: unit tests with the concurrent token-and-admin load
#     (scripts/sanitize.sh tsan),
#  5. every fuzz target for FUZZ_SECONDS (default 20) each (scripts/fuzz.sh),
#  6. the whole suite (unit + end-to-end against throwaway SoftHSM2 tokens)
#     with ctest in build/, last, so its summary ends the output.
# Stops at the first stage that fails. `scripts/test.sh --quick` runs steps
# 1, 2 and 6 only. Other arguments go to the last ctest.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
quick=0
if [ "${1:-}" = "--quick" ]; then
  quick=1
  shift
fi

stage() {
  local name=$1 start=$SECONDS
  shift
  echo "=== stage $name"
  "$@"
  echo "=== stage $name: $((SECONDS - start)) s"
}

stage install "$root/scripts/install-deps.sh"
stage build "$root/scripts/build.sh" -DAUTHD_WERROR=ON -DCMAKE_BUILD_TYPE=RelWithDebInfo
if [ "$quick" -eq 0 ]; then
  stage asan "$root/scripts/sanitize.sh" asan
  stage tsan "$root/scripts/sanitize.sh" tsan
  stage fuzz "$root/scripts/fuzz.sh" "${FUZZ_SECONDS:-20}"
fi
cd "$root/build"
ctest --output-on-failure -j2 "$@"
