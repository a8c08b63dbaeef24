"""kill -9 loops: authd is killed (SIGKILL) at a random moment while several
threads make admin changes, restarted, and checked, cycle after cycle.

Writers 0 and 1 use the admin socket, the others the TCP admin API with an
owner's bearer token. Each writer owns the items it changes (credentials it
created, CIDRs it added), so no two requests race on one item and every
answer has one meaning:

- 2xx: the change is committed and must be there after any later crash;
- any other answer: nothing was committed, so it must not be there;
- no answer (the kill came first): either, but whole. The listing decides,
  and the model follows it.

After each restart, with the writers stopped:

- authd becomes ready on its own (no --accept-rollback, no audit_rollback or
  integrity line, /readyz 200): a crash is not a rollback;
- the credentials and allowlist listed over the API, the rows in the
  database file and the fold of the audit log (create minus delete, add
  minus remove) are the same three sets, and match the model;
- credentials created this cycle authenticate (200), as do a few older
  ones, and a few deleted ones are refused (401);
- the audit log, exported, verifies offline against the audit public key
  and the checkpoint kept from the previous cycle (authctl audit verify).

tests/e2e/test_crashloop.py runs a few cycles under ctest;
scripts/crashloop.sh runs `python3 crashloop.py CYCLES` for a long run.
"""
import argparse
import http.client
import json
import os
import random
import signal
import sqlite3
import subprocess
import sys
import threading
import time
import urllib.parse

from harness import AUTHCTL, Daemon, UnixHTTPConnection, basic, form, iso

BASE_CIDR = "127.0.0.1/32"
UNANSWERED = None  # status of a request sent but never answered


class Writer:
    """One writer thread's items and what it knows about them."""

    def __init__(self, index, rng):
        self.index = index
        self.rng = rng
        self.creds = {}        # client_id -> secret (None: adopted, unknown)
        self.cidrs = set()     # present
        self.uncertain = []    # (op, key) sent without an answer
        self.gone_creds = {}   # client_id -> secret, deleted (acknowledged)
        self.gone_cidrs = set()
        self.created = []      # client_ids acknowledged this cycle
        self.counter = 0
        self.problems = []

    def name(self, cycle):
        self.counter += 1
        return f"w{self.index}-c{cycle}-{self.counter}"

    def cidr(self):
        self.counter += 1
        n = self.index * 1_000_000 + self.counter
        return f"10.{n >> 16 & 255}.{n >> 8 & 255}.{n & 255}/32"


class CrashLoop:
    def __init__(self, writers=4, seed=None, out=print, max_kill_delay=0.4):
        self.seed = seed if seed is not None else random.randrange(1 << 32)
        self.rng = random.Random(self.seed)
        self.out = out
        self.max_kill_delay = max_kill_delay
        self.d = Daemon(config_extra="[rate_limit]\naddress_failures = 1000\n")
        self.d.allow(BASE_CIDR)
        self.owner = self.d.create_credential("owner", "crashloop-owner")
        self.pem = self.d.audit_pem()
        self.kept = None
        self.writers = [Writer(i, random.Random(self.rng.random())) for i in range(writers)]
        self.cycle_no = 0
        self.audit_after = None
        self.fold_creds = {}   # client_id -> name, from the audit log
        self.fold_cidrs = set()
        self.counts = dict(acknowledged=0, refused=0, unanswered=0, lost=0, half=0,
                           not_ready=0, verify_failures=0, crashes=0)
        self.lock = threading.Lock()  # counts, from the writer threads
        self.fold_audit()

    def close(self):
        self.d.cleanup()

    # --- requests ---------------------------------------------------------
    def send(self, w, method, path, body=None):
        """Returns the status, UNANSWERED when the request may have reached
        authd but got no answer, or False when it never left (connect
        refused: authd is gone)."""
        headers = {}
        if w.index < 2:
            conn = UnixHTTPConnection(self.d.socket, timeout=30)
        else:
            conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=30)
            headers["Authorization"] = "Bearer " + self.bearer
        if body is not None:
            body = json.dumps(body).encode()
            headers["Content-Type"] = "application/json"
        try:
            conn.connect()
        except OSError:
            return False, None
        try:
            conn.request(method, path, body=body, headers=headers)
            r = conn.getresponse()
            return r.status, r.read()
        except (OSError, http.client.HTTPException):
            return UNANSWERED, None
        finally:
            conn.close()

    def step(self, w, stop):
        """One change by writer w; False when authd is gone."""
        ops = ["create", "add"]
        if w.creds:
            ops.append("delete")
        if w.cidrs:
            ops.append("remove")
        if len(w.creds) > 8:
            ops.remove("create")
        if len(w.cidrs) > 8:
            ops.remove("add")
        op = w.rng.choice(ops)
        if op == "create":
            key = w.name(self.cycle_no)
            expires = iso(86400)
            status, body = self.send(w, "POST", "/v1/admin/credentials",
                                     {"name": key, "role": "viewer", "expires_at": expires})
        elif op == "delete":
            key = w.rng.choice(sorted(w.creds))
            status, body = self.send(w, "DELETE", "/v1/admin/credentials/" + key)
        elif op == "add":
            key = w.cidr()
            status, body = self.send(w, "POST", "/v1/admin/allowlist", {"cidr": key})
        else:
            key = w.rng.choice(sorted(w.cidrs))
            status, body = self.send(w, "DELETE", "/v1/admin/allowlist/"
                                     + urllib.parse.quote(key, safe=""))
        if status is False:
            return False
        self.settle(w, op, key, status, body)
        return status is not UNANSWERED

    def settle(self, w, op, key, status, body):
        if status is UNANSWERED:
            with self.lock:
                self.counts["unanswered"] += 1
            w.uncertain.append((op, key))
            return
        if status >= 500 and status != 503 or status in (400, 401, 403, 404, 409):
            w.problems.append(f"{op} {key}: unexpected answer {status} {body[:200]!r}")
        if status // 100 != 2:
            with self.lock:
                self.counts["refused"] += 1
            if op == "create":
                w.uncertain.append(("create-refused", key))
            return
        with self.lock:
            self.counts["acknowledged"] += 1
        if op == "create":
            cred = json.loads(body)
            w.creds[cred["client_id"]] = cred["client_secret"]
            w.created.append(cred["client_id"])
        elif op == "delete":
            w.gone_creds[key] = w.creds.pop(key)
        elif op == "add":
            w.cidrs.add(key)
        else:
            w.cidrs.discard(key)
            w.gone_cidrs.add(key)

    def writer(self, w, stop):
        try:
            while not stop.is_set():
                if not self.step(w, stop):
                    return
        except Exception as e:  # noqa: BLE001 -- reported, never lost
            w.problems.append(f"writer {w.index} raised {e!r}")

    # --- one cycle --------------------------------------------------------
    def cycle(self):
        self.cycle_no += 1
        self.port = self.d.port
        self.bearer = self.d.access_token(self.owner)
        for w in self.writers:
            w.created = []
        stop = threading.Event()
        threads = [threading.Thread(target=self.writer, args=(w, stop)) for w in self.writers]
        for t in threads:
            t.start()
        time.sleep(self.rng.uniform(0.01, self.max_kill_delay))
        if self.d.proc.poll() is not None:
            self.problem("crashes", f"authd exited {self.d.proc.returncode} before the kill")
        self.d.proc.send_signal(signal.SIGKILL)
        self.d.proc.wait()
        stop.set()
        for t in threads:
            t.join()
        self.d.log.close()
        return self.restart_and_check()

    def problem(self, kind, text):
        self.counts[kind] += 1
        self.out(f"crashloop: cycle {self.cycle_no}: {kind}: {text}")

    def restart_and_check(self):
        before = self.counts.copy()
        offset = os.path.getsize(self.d.log_path)
        try:
            self.d.start()
        except RuntimeError as e:
            self.problem("not_ready", str(e)[-2000:])
            return False
        log = self.d.read_log()[offset:]
        for bad in ("event=audit_rollback", "event=integrity", "event=fatal"):
            if bad in log:
                self.problem("not_ready", f"{bad} after a restart:\n{log[-2000:]}")
        readyz = self.d.http("GET", "/readyz")
        if readyz.status != 200:
            self.problem("not_ready", f"/readyz {readyz.status} {readyz.body[:300]!r}")
        for w in self.writers:
            for p in w.problems:
                self.problem("crashes", p)
            w.problems = []
        self.check_state()
        self.check_tokens()
        self.verify_audit()
        return self.counts == before

    def check_state(self):
        creds = {c["client_id"]: c["name"] for c in
                 self.d.admin("GET", "/v1/admin/credentials").json()}
        cidrs = {e["cidr"] for e in self.d.admin("GET", "/v1/admin/allowlist").json()}
        by_name = {name: cid for cid, name in creds.items()}
        for w in self.writers:
            self.resolve(w, creds, by_name, cidrs)
        want_creds = {self.owner["client_id"]}
        want_cidrs = {BASE_CIDR}
        for w in self.writers:
            want_creds |= set(w.creds)
            want_cidrs |= w.cidrs
            for cid in w.gone_creds:
                if cid in creds:
                    self.problem("lost", f"deleted credential {cid} is back")
            for c in w.gone_cidrs & cidrs:
                self.problem("lost", f"removed allowlist entry {c} is back")
        for cid in want_creds - set(creds):
            self.problem("lost", f"acknowledged credential {cid} is gone")
        for c in want_cidrs - cidrs:
            self.problem("lost", f"acknowledged allowlist entry {c} is gone")
        for cid in set(creds) - want_creds:
            self.problem("half", f"credential {cid} ({creds[cid]}) nobody created")
        for c in cidrs - want_cidrs:
            self.problem("half", f"allowlist entry {c} nobody added")
        self.fold_audit()
        rows_creds, rows_cidrs = self.database_rows()
        for label, a, b in (("audit log", set(self.fold_creds), set(creds)),
                            ("credentials table", rows_creds, set(creds))):
            if a != b:
                self.problem("half", f"credentials: {label} {sorted(a ^ b)} differ from the listing")
        for label, a in (("audit log", self.fold_cidrs), ("allowlist table", rows_cidrs)):
            if a != cidrs:
                self.problem("half", f"allowlist: {label} {sorted(a ^ cidrs)} differ from the listing")

    def resolve(self, w, creds, by_name, cidrs):
        """Settles the writer's unanswered changes from what is listed."""
        for op, key in w.uncertain:
            if op == "create":
                if key in by_name:
                    w.creds[by_name[key]] = None
            elif op == "create-refused":
                if key in by_name:
                    self.problem("half", f"refused create {key} is present")
            elif op == "delete":
                if key not in creds:
                    w.gone_creds[key] = w.creds.pop(key)
            elif op == "add":
                if key in cidrs:
                    w.cidrs.add(key)
            elif key not in cidrs:
                w.cidrs.discard(key)
                w.gone_cidrs.add(key)
        w.uncertain = []

    def fold_audit(self):
        """Reads the audit entries added since the last call and folds them
        into the sets they describe; an entry seen twice is a problem."""
        while True:
            q = "/v1/admin/audit?limit=1000"
            if self.audit_after is not None:
                q += f"&after_seq={self.audit_after}"
            page = self.d.admin("GET", q).json()
            for e in page["entries"]:
                a, t = e["action"], e["target"]
                if a == "credential.create":
                    if t in self.fold_creds:
                        self.problem("half", f"credential {t} created twice in the audit log")
                    self.fold_creds[t] = e.get("values", {}).get("name")
                elif a == "credential.delete":
                    self.fold_creds.pop(t, None)
                elif a == "allowlist.add":
                    self.fold_cidrs.add(t)
                elif a == "allowlist.remove":
                    self.fold_cidrs.discard(t)
                self.audit_after = e["seq"]
            if page["next_after_seq"] is None:
                return

    def database_rows(self):
        db = sqlite3.connect(f"file:{self.d.db}?mode=ro", uri=True, timeout=30)
        try:
            creds = {r[0] for r in db.execute("SELECT client_id FROM credentials")}
            cidrs = {r[0] for r in db.execute("SELECT cidr FROM allowlist")}
        finally:
            db.close()
        return creds, cidrs

    def check_tokens(self):
        live, gone = [], []
        for w in self.writers:
            live += [(c, w.creds[c]) for c in w.created if c in w.creds]
            older = [(c, s) for c, s in w.creds.items() if s and c not in w.created]
            live += self.rng.sample(older, min(2, len(older)))
            gone += [(c, s) for c, s in w.gone_creds.items() if s][-1:]
        for cid, secret in live:
            if secret is None:
                continue
            r = self.d.token({"client_id": cid, "client_secret": secret})
            if r.status != 200:
                self.problem("lost", f"credential {cid} does not authenticate: {r}")
        for cid, secret in gone:
            r = self.d.token({"client_id": cid, "client_secret": secret})
            if r.status != 401:
                self.problem("lost", f"deleted credential {cid} answered {r.status}, not 401")

    def verify_audit(self):
        path = os.path.join(self.d.dir, "export.jsonl")
        self.d.ctl("audit", "export", "--output", path)
        args = [AUTHCTL, "--socket", "/nonexistent/authd.sock", "audit", "verify",
                "--file", path, "--key", self.pem]
        if self.kept:
            args += ["--checkpoint", self.kept]
        r = subprocess.run(args, capture_output=True, text=True, timeout=300)
        if r.returncode != 0 or not r.stdout.startswith("audit verify OK"):
            self.problem("verify_failures", (r.stdout + r.stderr).strip())
        self.kept = os.path.join(self.d.dir, "kept.note")
        self.d.ctl("audit", "checkpoint", "--output", self.kept)

    # --- whole runs -------------------------------------------------------
    def run(self, cycles):
        start = time.time()
        for _ in range(cycles):
            if not self.cycle() and self.counts["not_ready"]:
                break  # nothing more can be learned from a daemon that will not start
        return time.time() - start

    def summary(self, seconds):
        c = self.counts
        return (f"crashloop: {self.cycle_no} cycles, {c['lost']} lost changes, "
                f"{c['half']} half changes, {c['not_ready']} failed restarts, "
                f"{c['verify_failures']} verify failures, {c['crashes']} crashes "
                f"({c['acknowledged']} acknowledged, {c['refused']} refused, "
                f"{c['unanswered']} unanswered; {seconds:.0f} s, seed {self.seed})")

    def failed(self):
        c = self.counts
        return any(c[k] for k in ("lost", "half", "not_ready", "verify_failures", "crashes"))


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("cycles", type=int, nargs="?", default=1000)
    p.add_argument("--writers", type=int, default=4)
    p.add_argument("--seed", type=int)
    p.add_argument("--keep", action="store_true", help="keep the daemon's directory")
    args = p.parse_args(argv)
    loop = CrashLoop(writers=args.writers, seed=args.seed,
                     out=lambda s: print(s, flush=True))
    try:
        seconds = loop.run(args.cycles)
    finally:
        if args.keep:
            loop.d.stop()
            print(f"crashloop: state kept in {loop.d.dir}", flush=True)
        else:
            loop.close()
    print(loop.summary(seconds), flush=True)
    return 1 if loop.failed() else 0


if __name__ == "__main__":
    sys.exit(main())
