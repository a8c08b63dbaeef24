#!/usr/bin/env bash
# Builds authd, its tests and the fuzz replays with a sanitizer and runs
# them there (README "Robustness"):
#   scripts/sanitize.sh asan   ASan + UBSan into build-asan/: unit tests,
#                              fuzz corpus replays, and the end-to-end suite
#                              against the sanitized daemon
#   scripts/sanitize.sh tsan   TSan into build-tsan/: unit tests (with the
#                              concurrent token-and-admin load) and replays
# Every finding is fatal (halt_on_error=1, UBSan without recovery), and any
# sanitizer report a process wrote, even one whose exit nobody checked (a
# daemon stopped at the end of a test), fails the run: reports go to
# <build>/sanitizer-reports/ and are printed. A test labelled no-asan or
# no-tsan is left out (none is today; the label would carry its reason in
# tests/CMakeLists.txt). Extra arguments go to ctest.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
kind=${1:-}
shift || true
# ASan+UBSan with clang: its UBSan shares ASan's runtime, so UBSan reports
# land in log_path too (GCC's separate libubsan writes them to stderr only).
case "$kind" in
  asan) build="$root/build-asan"; option=-DAUTHD_SANITIZE=ON
        labels='unit|e2e|fuzz'; export CC=clang-14 CXX=clang++-14 ;;
  tsan) build="$root/build-tsan"; option=-DAUTHD_TSAN=ON; labels='unit|fuzz' ;;
  *) echo "usage: scripts/sanitize.sh asan|tsan [CTEST ARGS...]" >&2; exit 2 ;;
esac

cmake -S "$root" -B "$build" -G Ninja "$option" -DAUTHD_BENCH=OFF \
  -DAUTHD_WERROR=ON -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build "$build" -j"${AUTHD_JOBS:-2}"

reports="$build/sanitizer-reports"
rm -rf "$reports"
mkdir -p "$reports"
export ASAN_OPTIONS="halt_on_error=1:detect_leaks=1:detect_stack_use_after_return=1:strict_string_checks=1:log_path=$reports/asan"
export LSAN_OPTIONS="suppressions=$root/scripts/lsan.supp:print_suppressions=0"
export UBSAN_OPTIONS="halt_on_error=1:print_stacktrace=1:log_path=$reports/ubsan"
export TSAN_OPTIONS="halt_on_error=1:second_deadlock_stack=1:suppressions=$root/scripts/tsan.supp:log_path=$reports/tsan"

rc=0
(cd "$build" && ctest -j"${AUTHD_JOBS:-2}" --output-on-failure \
  -L "$labels" -LE "no-$kind" "$@") || rc=$?
found=$(find "$reports" -type f | sort)
if [ -n "$found" ]; then
  for f in $found; do
    echo "=== $f"
    cat "$f"
  done
  echo "sanitize $kind: $(echo "$found" | wc -l) sanitizer reports"
  exit 1
fi
echo "sanitize $kind: no sanitizer reports"
exit "$rc"
