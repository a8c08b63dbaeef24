#!/usr/bin/env bash
# Runs every performance figure of issue 13 and prints one table.
#
# Each bench/report.d/NN-name.sh measures its figures together with a
# reference taken in the same run (the HSM's raw rate, a static document,
# ...) and prints one line per figure:
#
#   REPORT<TAB>figure<TAB>measured<TAB>goal<TAB>reference<TAB>ratio<TAB>met
#
# (met is yes, no or - when the figure has no goal). Everything else a part
# prints goes to stderr unchanged. Parts run one at a time, in name order,
# so they never share the CPU (nor, after a sync, the disk). Usage:
# bench/report.sh [PART...], where PART is a substring of a part's file
# name; AUTHD_BIN overrides build/bin.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
rows=$(mktemp)
trap 'rm -f "$rows"' EXIT
failed=0
for part in "$here"/report.d/*.sh; do
  name=$(basename "$part" .sh)
  if [ $# -gt 0 ]; then
    want=0
    for p in "$@"; do [[ $name == *"$p"* ]] && want=1; done
    [ $want = 1 ] || continue
  fi
  echo "report: running $name" >&2
  # The previous part's files written back first, so that a part does not
  # share the disk either (the audit part writes about a gigabyte).
  sync
  if ! bash "$part" > >(grep -a $'^REPORT\t' | cut -f2- >>"$rows") ; then
    echo "report: $name failed" >&2
    failed=1
  fi
done
wait
cpu=$(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ *//')
echo
echo "authd performance report, $(date -u +%Y-%m-%d), $(nproc) CPUs ($cpu)"
echo
echo "| figure | measured | goal | reference (same run) | ratio | met |"
echo "|---|---|---|---|---|---|"
while IFS=$'\t' read -r figure measured goal reference ratio met; do
  echo "| $figure | $measured | $goal | $reference | $ratio | $met |"
done <"$rows"
exit $failed
