#!/usr/bin/env bash
# Builds the libFuzzer targets (fuzz/) with clang-14 into build-fuzz/ and runs
# each for SECONDS on a working copy of its seed corpus and regressions, with
# its dictionary. The repository is never written: working corpora, logs and
# reproducers go under build-fuzz/fuzz-run/.
#
#   scripts/fuzz.sh SECONDS [TARGET...]   (default: every target)
#   scripts/fuzz.sh 3600                  an hour per target
#   scripts/fuzz.sh 600 router jwt        two targets only
#
# Targets run FUZZ_JOBS at a time (default: the number of CPUs). The last line
# is exactly "fuzz: N targets, M crashes"; each crash's reproducer path is
# printed above it, and the exit status is non-zero when M > 0. Replay one
# with build-fuzz/bin/fuzz_TARGET PATH.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
seconds=${1:-}
if ! [[ "$seconds" =~ ^[1-9][0-9]*$ ]]; then
  echo "usage: scripts/fuzz.sh SECONDS [TARGET...]" >&2
  exit 2
fi
shift
build=${AUTHD_FUZZ_BUILD:-$root/build-fuzz}
jobs=${FUZZ_JOBS:-$(nproc)}

CC=clang-14 CXX=clang++-14 cmake -S "$root" -B "$build" -G Ninja \
  -DAUTHD_FUZZ=ON -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build "$build" -j"${AUTHD_JOBS:-2}" --target fuzz_targets >/dev/null

targets=("$@")
if [ ${#targets[@]} -eq 0 ]; then
  for src in "$root"/fuzz/corpus/*/; do targets+=("$(basename "$src")"); done
fi
for t in "${targets[@]}"; do
  if [ ! -x "$build/bin/fuzz_$t" ]; then
    echo "fuzz: no target named $t" >&2
    exit 2
  fi
done

run="$build/fuzz-run"
rm -rf "$run"
mkdir -p "$run"
export ASAN_OPTIONS="halt_on_error=1:detect_leaks=1:abort_on_error=0"
export UBSAN_OPTIONS="halt_on_error=1:print_stacktrace=1"

# One target: a fresh working corpus, then libFuzzer until the time is up or
# the first finding. Writes its exit status to $run/$t/status.
fuzz_one() {
  local t=$1 dir="$run/$1"
  mkdir -p "$dir/corpus" "$dir/findings"
  cp -r "$root/fuzz/corpus/$t/." "$dir/corpus/"
  if [ -d "$root/fuzz/regressions/$t" ]; then
    cp -r "$root/fuzz/regressions/$t/." "$dir/corpus/"
  fi
  local dict=()
  [ -f "$root/fuzz/dict/$t.dict" ] && dict=("-dict=$root/fuzz/dict/$t.dict")
  local rc=0
  (cd "$dir" && "$build/bin/fuzz_$t" "$dir/corpus" "${dict[@]}" \
    -max_total_time="$seconds" -timeout=25 -rss_limit_mb=2560 \
    -artifact_prefix="$dir/findings/" -print_final_stats=1 \
    >"$dir/log" 2>&1) || rc=$?
  echo "$rc" >"$dir/status"
}

running=0
for t in "${targets[@]}"; do
  fuzz_one "$t" &
  running=$((running + 1))
  if [ "$running" -ge "$jobs" ]; then
    wait -n || true
    running=$((running - 1))
  fi
done
wait

crashes=0
for t in "${targets[@]}"; do
  dir="$run/$t"
  execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$dir/log" | tail -1)
  cov=$(grep -o 'cov: [0-9]*' "$dir/log" | tail -1 | cut -d' ' -f2)
  status=$(cat "$dir/status")
  found=$(find "$dir/findings" -type f | sort)
  if [ "$status" != 0 ] || [ -n "$found" ]; then
    crashes=$((crashes + 1))
    echo "CRASH $t (exit $status; log $dir/log)"
    for f in $found; do echo "  reproducer: $f"; done
    [ -n "$found" ] || echo "  no reproducer written; see the log"
  else
    echo "ok    $t: ${execs:-0} runs, coverage ${cov:-0}"
  fi
done
echo "fuzz: ${#targets[@]} targets, $crashes crashes"
[ "$crashes" -eq 0 ]
