#!/usr/bin/env bash
# Installs dependencies, builds with -Werror, and runs the whole test suite
# (unit + end-to-end against throwaway SoftHSM2 tokens) with ctest.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
"$root/scripts/install-deps.sh"
"$root/scripts/build.sh" -DAUTHD_WERROR=ON -DCMAKE_BUILD_TYPE=RelWithDebInfo
cd "$root/build"
ctest --output-on-failure -j2 "$@"
