#!/usr/bin/env bash
# Soak: authd's token capacity first (wrk, 16 connections, 10 s, as in
# bench/load.sh), then MINUTES at 80% of it (wrk paced by a Lua delay(): each
# thread hands out request slots at its share of the rate) while authctl
# makes one admin change a second in turn: credential create, credential
# delete, allowlist add, allowlist remove. authd's VmRSS and open descriptors
# are sampled every 5 s. After a warm-up (the first 20% of the run) it
# reports RSS growth (last sample against the first after warm-up) and the
# descriptor range. Exits non-zero on any error (wrk's connect, read, write,
# timeout and non-2xx counts, a failed authctl), RSS growth of 5% or more, or
# descriptors that grew (the last 20% of samples all above every one of the
# first 20% after warm-up). Usage: bench/soak.sh MINUTES (may be a
# fraction); SOAK_CAPACITY=N skips the measurement and takes N tokens/s.
set -euo pipefail
minutes=${1:?usage: bench/soak.sh MINUTES}
secs=$(python3 -c "import sys; print(max(10, round(float(sys.argv[1]) * 60)))" "$minutes")
source "$(dirname "$0")/authd_env.sh"
bench_start_authd
ctl allowlist add 127.0.0.1 >/dev/null
cred=$(bench_credential viewer)
auth=$(printf '%s' "$cred" | python3 -c 'import base64,json,sys; c=json.load(sys.stdin); print(base64.b64encode((c["client_id"]+":"+c["client_secret"]).encode()).decode())')
target=http://127.0.0.1:$port/v1/auth/token

# $1: requests/s in total (0: as fast as possible).
write_lua() {
  cat >"$dir/soak.lua" <<LUA
local ffi = require("ffi")
ffi.cdef[[
typedef struct { long tv_sec; long tv_nsec; } soak_timespec;
int clock_gettime(int clk, soak_timespec *ts);
]]
local ts = ffi.new("soak_timespec")
local rate, threads = $1, 2
local period = rate > 0 and threads * 1000 / rate or 0
local next_slot = 0
local function now_ms()
  ffi.C.clock_gettime(1, ts)  -- CLOCK_MONOTONIC
  return tonumber(ts.tv_sec) * 1000 + tonumber(ts.tv_nsec) / 1e6
end
wrk.method = "POST"
wrk.body = "grant_type=client_credentials"
wrk.headers["Content-Type"] = "application/x-www-form-urlencoded"
wrk.headers["Authorization"] = "Basic $auth"
if period > 0 then
  function delay()
    local now = now_ms()
    if next_slot < now then next_slot = now end  -- never bursts to catch up
    local d = next_slot - now
    next_slot = next_slot + period
    return d
  end
end
done = function(summary, latency, requests)
  local e = summary.errors
  local ok = summary.requests - e.status - e.connect
  io.write(string.format("RESULT tokens/s=%.0f p50_ms=%.2f p99_ms=%.2f errors=%d\n",
    ok / (summary.duration / 1e6), latency:percentile(50) / 1000,
    latency:percentile(99) / 1000, e.connect + e.read + e.write + e.status + e.timeout))
end
LUA
}

field() { sed -n "s|.*$1=\([0-9.]*\).*|\1|p"; }

echo "$(bench_banner), soak of $minutes min"
write_lua 0
capacity=${SOAK_CAPACITY:-$(wrk -t2 -c16 -d10s --timeout 5s -s "$dir/soak.lua" "$target" | grep RESULT | field tokens/s)}
rate=$((capacity * 8 / 10))
echo "capacity $capacity tokens/s; holding $rate tokens/s with one admin change a second"
write_lua "$rate"

sample() {  # every 5 s: seconds since start, VmRSS in kB, open descriptors
  local t0=$SECONDS
  while [ ! -e "$dir/stop" ] && kill -0 "$pid" 2>/dev/null; do
    echo "$((SECONDS - t0)) $(awk '/^VmRSS/ {print $2}' "/proc/$pid/status") $(ls "/proc/$pid/fd" | wc -l)" >>"$dir/samples"
    sleep 5
  done
}

admin_changes() {  # one change a second until $dir/stop exists
  local i=0 id
  while [ ! -e "$dir/stop" ]; do
    case $((i % 4)) in
      0) id=$(ctl --json credential create --name "soak-$i" --role viewer --expires-in 1d |
              python3 -c 'import json,sys; print(json.load(sys.stdin)["client_id"])') || echo x >>"$dir/admin_errors" ;;
      1) ctl credential delete "$id" >/dev/null || echo x >>"$dir/admin_errors" ;;
      2) ctl allowlist add "10.$((i / 65536 % 256)).$((i / 256 % 256)).$((i % 256))" >/dev/null || echo x >>"$dir/admin_errors" ;;
      3) ctl allowlist remove "10.$(((i - 1) / 65536 % 256)).$(((i - 1) / 256 % 256)).$(((i - 1) % 256))" >/dev/null || echo x >>"$dir/admin_errors" ;;
    esac
    i=$((i + 1))
    echo "$i" >"$dir/admin_count"
    sleep 1
  done
}

sample &
sampler=$!
admin_changes 2>>"$dir/admin_stderr" &
changer=$!
result=$(wrk -t2 -c16 -d"${secs}s" --timeout 5s -s "$dir/soak.lua" "$target" | grep RESULT)
touch "$dir/stop"
wait "$changer" || true
kill "$sampler" 2>/dev/null || true
wait "$sampler" 2>/dev/null || true
achieved=$(echo "$result" | field tokens/s)
wrk_errors=$(echo "$result" | field errors)
touch "$dir/admin_errors"
admin_errors=$(wc -l <"$dir/admin_errors")
echo "wrk: $result; admin changes: $(cat "$dir/admin_count"), $admin_errors failed"
[ "$admin_errors" = 0 ] || sed 's/^/authctl: /' "$dir/admin_stderr" | sort | uniq -c | head -5 >&2
errors=$((wrk_errors + admin_errors))
python3 - "$dir/samples" "$minutes" "$achieved" "$rate" "$capacity" "$errors" "$secs" <<'PY'
import sys
path, minutes, achieved, rate, capacity, errors, secs = sys.argv[1:]
# Samples taken while wrk ran (not one racing its connections' close).
rows = [tuple(map(int, l.split())) for l in open(path) if len(l.split()) == 3]
rows = [r for r in rows if r[0] <= int(secs) - 3]
total = int(secs)
after = [r for r in rows if r[0] >= 0.2 * total]
rss0, rss1 = after[0][1], after[-1][1]
growth = 100.0 * (rss1 - rss0) / rss0
fds = [r[2] for r in after]
k = max(1, len(after) // 5)
fds_grew = min(fds[-k:]) > max(fds[:k])
print(f"samples {len(rows)}; RSS {rows[0][1]} kB at start, {rss0} kB after warm-up, "
      f"{rss1} kB at the end (max {max(r[1] for r in after)} kB)")
fd_word = f"fds grew ({min(fds)}..{max(fds)})" if fds_grew else f"fds flat ({min(fds)}..{max(fds)})"
share = round(100 * float(achieved) / float(capacity))
print(f"soak: {minutes} min at {achieved} tokens/s ({share}% of {capacity}, target {rate}), {errors} errors, "
      f"RSS {growth:+.1f}% after warm-up, {fd_word}")
sys.exit(1 if int(errors) > 0 or growth >= 5.0 or fds_grew else 0)
PY
