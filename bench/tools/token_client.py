#!/usr/bin/env python3
"""A token client for the robustness benches: THREADS threads each request
tokens from SOURCE (a loopback address), one fresh TCP connection per
request, for SECONDS seconds or until the file STOP exists, optionally at a
total of RATE requests/s. Appends one line per request to OUT:
"<start unix time> <latency s> <ok 0|1> <status or error>".

usage: token_client.py PORT AUTH SOURCE SECONDS OUT [THREADS] [RATE] [STOP]
"""
import http.client
import os
import sys
import threading
import time

port, auth, source, seconds, out = (int(sys.argv[1]), sys.argv[2], sys.argv[3],
                                    float(sys.argv[4]), sys.argv[5])
threads = int(sys.argv[6]) if len(sys.argv) > 6 else 2
rate = float(sys.argv[7]) if len(sys.argv) > 7 else 0.0
stop_file = sys.argv[8] if len(sys.argv) > 8 else None
body = b"grant_type=client_credentials"
headers = {"Content-Type": "application/x-www-form-urlencoded",
           "Authorization": "Basic " + auth}
lock = threading.Lock()
lines = []
end = time.time() + seconds


def one():
    t0 = time.time()
    status = "-"
    try:
        c = http.client.HTTPConnection("127.0.0.1", port, timeout=10,
                                       source_address=(source, 0))
        c.request("POST", "/v1/auth/token", body=body, headers=headers)
        r = c.getresponse()
        r.read()
        c.close()
        status = str(r.status)
        ok = r.status == 200
    except Exception as e:  # a refused or reset connection, a timeout
        status = type(e).__name__
        ok = False
    return t0, time.time() - t0, ok, status


def worker(index):
    interval = threads / rate if rate > 0 else 0.0
    next_at = time.time() + (interval * index / threads)
    while time.time() < end and not (stop_file and os.path.exists(stop_file)):
        if interval:
            delay = next_at - time.time()
            if delay > 0:
                time.sleep(delay)
            next_at += interval
        t0, lat, ok, status = one()
        with lock:
            lines.append(f"{t0:.6f} {lat:.6f} {int(ok)} {status}\n")


ts = [threading.Thread(target=worker, args=(i,)) for i in range(threads)]
for t in ts:
    t.start()
for t in ts:
    t.join()
with open(out, "a") as f:
    f.writelines(lines)
