"""The audit log end to end: every change recorded, readable over the API with
audit:read, exportable and verifiable offline by authctl with only the public
key, refused after a database restore, and intact after kill -9."""
import base64
import concurrent.futures
import csv
import io
import json
import os
import random
import shutil
import signal
import sqlite3
import subprocess
import time
import unittest
import urllib.parse

from harness import AUTHCTL, Daemon, basic, form


def offline(*args):
    """authctl with no daemon reachable: a socket path that does not exist."""
    return subprocess.run([AUTHCTL, "--socket", "/nonexistent/authd.sock", *args],
                          capture_output=True, text=True, timeout=120)


class AuditApiTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.d = Daemon()
        cls.d.allow("127.0.0.0/8")
        cls.owner = cls.d.create_credential("owner", "owner")
        cls.auditor = cls.d.create_credential("auditor", "auditor")
        cls.pem = cls.d.audit_pem()

    @classmethod
    def tearDownClass(cls):
        cls.d.cleanup()

    def bearer(self, cred, scope=None):
        return {"Authorization": "Bearer " + self.d.access_token(cred, scope)}

    def export(self, *extra):
        path = os.path.join(self.d.dir, f"export-{time.monotonic_ns()}.jsonl")
        self.d.ctl("audit", "export", "--output", path, *extra)
        return path

    def test_every_change_is_recorded_with_actor_and_reason(self):
        d = self.d
        r = d.http("POST", "/v1/admin/allowlist", {"cidr": "198.51.100.0/24", "reason": "CHG-1"},
                   self.bearer(self.owner))
        self.assertEqual(r.status, 201)
        d.ctl("allowlist", "remove", "198.51.100.0/24", "--reason", "CHG-2")
        cred = d.create_credential("viewer", "audited")
        d.ctl("credential", "delete", cred["client_id"], "--reason", "offboarded")
        entries = d.admin("GET", "/v1/admin/audit?limit=1000").json()["entries"]
        actions = [e["action"] for e in entries]
        self.assertEqual(actions[:4], ["key.create"] * 3 + ["roles.set"])
        by = {(e["action"], e["target"]): e for e in entries}
        add = by[("allowlist.add", "198.51.100.0/24")]
        self.assertEqual(add["actor"], "client:" + self.owner["client_id"])
        self.assertEqual(add["source"], "127.0.0.1")
        self.assertEqual(add["reason"], "CHG-1")
        rm = by[("allowlist.remove", "198.51.100.0/24")]
        self.assertEqual(rm["actor"], "uid:%d" % os.getuid())
        self.assertEqual(rm["source"], "unix")
        self.assertEqual(rm["reason"], "CHG-2")
        create = by[("credential.create", cred["client_id"])]
        self.assertEqual(create["values"], {"name": "audited", "role": "viewer",
                                            "expires_at": cred["expires_at"]})
        delete = by[("credential.delete", cred["client_id"])]
        self.assertEqual(delete["reason"], "offboarded")
        self.assertEqual([e["seq"] for e in entries], list(range(len(entries))))
        blob = json.dumps(entries) + d.read_log()
        self.assertNotIn(cred["client_secret"], blob)
        self.assertNotIn(cred["client_secret"][8:], blob)

    def test_filters_and_pagination(self):
        d = self.d
        for i in range(5):
            d.allow(f"10.9.{i}.0/24")
        all_entries = d.admin("GET", "/v1/admin/audit?limit=1000").json()["entries"]
        page = d.admin("GET", "/v1/admin/audit?limit=2").json()
        self.assertEqual(len(page["entries"]), 2)
        self.assertEqual(page["next_after_seq"], 1)
        page2 = d.admin("GET", "/v1/admin/audit?limit=2&after_seq=1").json()
        self.assertEqual(page2["entries"][0]["seq"], 2)
        adds = d.admin("GET", "/v1/admin/audit?action=allowlist.add&limit=1000").json()["entries"]
        self.assertTrue(adds and all(e["action"] == "allowlist.add" for e in adds))
        t = d.admin("GET", "/v1/admin/audit?target=10.9.3.0%2F24").json()["entries"]
        self.assertEqual(len(t), 1)
        actor = d.admin("GET", "/v1/admin/audit?actor=system&limit=1000").json()["entries"]
        self.assertEqual({e["actor"] for e in actor}, {"system"})
        future = d.admin("GET", "/v1/admin/audit?since=2999-01-01T00:00:00Z").json()["entries"]
        self.assertEqual(future, [])
        past = d.admin("GET", "/v1/admin/audit?until=2000-01-01T00:00:00Z").json()["entries"]
        self.assertEqual(past, [])
        self.assertLessEqual(len(all_entries), 1000)
        for bad in ("limit=0", "limit=1001", "after_seq=-1", "since=yesterday", "limit=x"):
            self.assertEqual(d.admin("GET", "/v1/admin/audit?" + bad).status, 400, bad)

    def test_audit_read_scope_over_tcp(self):
        d = self.d
        r = d.http("GET", "/v1/admin/audit", headers=self.bearer(self.auditor))
        self.assertEqual(r.status, 200)
        r = d.http("GET", "/v1/admin/audit/checkpoint", headers=self.bearer(self.owner, "admin:read"))
        self.assertEqual(r.status, 403)
        self.assertEqual(d.http("GET", "/v1/admin/audit").status, 401)
        r = d.http("GET", "/v1/admin/audit/checkpoint", headers=self.bearer(self.auditor))
        self.assertEqual(r.status, 200)
        self.assertTrue(r.header("content-type").startswith("text/plain"))
        self.assertIn("\n\n\u2014 ", r.body.decode())

    def test_export_verifies_offline_and_tampering_fails(self):
        d = self.d
        d.allow("192.0.2.0/24")
        path = self.export()
        r = offline("audit", "verify", "--file", path, "--key", self.pem)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertTrue(r.stdout.startswith("audit verify OK: "), r.stdout)
        self.assertEqual(len(r.stdout.strip().splitlines()), 1)
        with open(path) as f:
            lines = f.read().splitlines()

        def verify_lines(ls, *extra):
            p = path + ".t"
            with open(p, "w") as f:
                f.write("\n".join(ls) + "\n")
            return offline("audit", "verify", "--file", p, "--key", self.pem, *extra)

        e = json.loads(lines[5])
        e["target"] = "0.0.0.0/0"
        r = verify_lines(lines[:5] + [json.dumps(e)] + lines[6:])
        self.assertEqual(r.returncode, 1)
        self.assertIn("line 6", r.stderr)
        r = verify_lines(lines[:3] + lines[4:])
        self.assertEqual(r.returncode, 1)
        self.assertIn("line 4", r.stderr)
        # A key that did not sign the log.
        other = os.path.join(d.dir, "other.pem")
        subprocess.run(["openssl", "ecparam", "-name", "prime256v1", "-genkey", "-noout",
                        "-out", other + ".key"], check=True)
        subprocess.run(["openssl", "ec", "-in", other + ".key", "-pubout", "-out", other],
                       check=True, capture_output=True)
        r = offline("audit", "verify", "--file", path, "--key", other)
        self.assertEqual(r.returncode, 1)
        self.assertIn("checkpoint", r.stderr)
        r = offline("audit", "verify", "--file", "/nonexistent", "--key", self.pem)
        self.assertEqual(r.returncode, 1)

    def test_kept_checkpoint_detects_truncation(self):
        d = self.d
        early = self.export()
        kept = os.path.join(d.dir, "kept.note")
        d.ctl("audit", "checkpoint", "--output", kept)
        d.allow("192.0.2.128/25")
        later = self.export()
        r = offline("audit", "verify", "--file", later, "--key", self.pem, "--checkpoint", kept)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn("consistent with the kept checkpoint", r.stdout)
        later_kept = os.path.join(d.dir, "later.note")
        d.ctl("audit", "checkpoint", "--output", later_kept)
        r = offline("audit", "verify", "--file", early, "--key", self.pem, "--checkpoint", later_kept)
        self.assertEqual(r.returncode, 1)
        self.assertIn("truncated or rolled back", r.stderr)

    def test_prove_and_verify_proof(self):
        d = self.d
        d.allow("203.0.113.0/24")
        n = d.admin("GET", "/v1/admin/audit?action=allowlist.add&target=203.0.113.0%2F24").json()["entries"][0]["seq"]
        proof = os.path.join(d.dir, "proof.txt")
        d.ctl("audit", "prove", "--index", str(n), "--output", proof)
        with open(proof) as f:
            self.assertTrue(f.read().startswith("c2sp.org/tlog-proof@v1\n"))
        r = offline("audit", "verify-proof", "--file", proof, "--key", self.pem)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn("203.0.113.0/24", r.stdout)
        with open(proof) as f:
            text = f.read()
        lines = text.split("\n")
        lines[3] = base64.b64encode(b"\x00" * 32).decode()  # a proof hash
        with open(proof, "w") as f:
            f.write("\n".join(lines))
        r = offline("audit", "verify-proof", "--file", proof, "--key", self.pem)
        self.assertEqual(r.returncode, 1)
        r = d.admin("GET", "/v1/admin/audit/proof?index=99999")
        self.assertEqual(r.status, 400)
        r = d.admin("GET", "/v1/admin/audit/consistency?from=1")
        self.assertEqual(r.status, 200, r)
        self.assertIn("hashes", r.json())

    def test_csv_export(self):
        path = self.export("--format", "csv")
        with open(path) as f:
            rows = f.read().splitlines()
        self.assertEqual(rows[0].split(",")[:5], ["seq", "time", "actor", "source", "action"])
        self.assertTrue(rows[1].startswith("0,"))

    def test_csv_export_neutralises_formulas(self):
        # OWASP "CSV Injection": a reason a spreadsheet would run as a formula
        # is exported as text (a leading single quote, quoted cell).
        reason = '=HYPERLINK("http://evil.example/","open")'
        self.d.ctl("allowlist", "add", "203.0.113.0/24", "--reason", reason)
        path = self.export("--format", "csv")
        with open(path, newline="") as f:
            text = f.read()
        rows = list(csv.DictReader(io.StringIO(text)))
        row = [r for r in rows if r["target"] == "203.0.113.0/24"][-1]
        self.assertEqual(row["reason"], "'" + reason)
        self.assertIn('"\'=HYPERLINK(""http://evil.example/"",""open"")"', text)
        for r in rows:
            for cell in r.values():
                self.assertNotIn(cell[:1], ("=", "+", "-", "@", "\t", "\r"), r)


class RollbackTest(unittest.TestCase):
    def accept_rollback(self, d):
        r = subprocess.run([os.path.join(os.path.dirname(AUTHCTL), "authd"), "--config",
                            d.config, "--accept-rollback"], env=d.env,
                           capture_output=True, text=True, timeout=60)
        self.assertEqual(r.returncode, 0, r.stderr)

    def assert_untrusted(self, d, cred, token):
        """Nothing is served from a database that cannot be trusted."""
        r = d.token(cred)
        self.assertEqual(r.status, 503)
        self.assertEqual(r.json()["error"], "temporarily_unavailable")
        self.assertIn("--accept-rollback", r.json()["error_description"])
        self.assertIn("restored", r.json()["error_description"])
        self.assertIsNotNone(r.header("Retry-After"))
        r = d.http("POST", "/v1/auth/introspect", form(token=token),
                   {"Content-Type": "application/x-www-form-urlencoded",
                    "Authorization": basic(cred["client_id"], cred["client_secret"])})
        self.assertEqual(r.status, 503)
        r = d.http("GET", "/v1/auth/check", headers={"Authorization": "Bearer " + token,
                                                     "X-Original-URI": "/"})
        self.assertEqual(r.status, 503)

    def test_restored_database_refused_at_start(self):
        with Daemon() as d:
            d.allow("127.0.0.1")
            cred = d.create_credential("owner")
            d.stop()
            backup = os.path.join(d.dir, "backup.db")
            db = sqlite3.connect(d.db)
            db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
            db.close()
            shutil.copy(d.db, backup)
            d.start()
            token = d.access_token(cred)
            d.allow("192.0.2.0/24")
            d.stop()
            for suffix in ("-wal", "-shm"):
                if os.path.exists(d.db + suffix):
                    os.unlink(d.db + suffix)
            shutil.copy(backup, d.db)
            d.start()
            self.assertIn("event=audit_rollback", d.read_log())
            r = d.http("GET", "/readyz")
            self.assertEqual(r.status, 503)
            self.assertEqual(r.json()["audit"], "refusing changes")
            status = d.admin("GET", "/v1/admin/status").json()
            self.assertIn("behind the HSM", status["audit"])
            self.assertFalse(status["ready"])
            # A reason that is not valid UTF-8 never reaches the log.
            r = d.admin("DELETE", "/v1/admin/allowlist/127.0.0.1%2F32?reason=%FF")
            self.assertEqual(r.status, 400)
            r = d.admin("POST", "/v1/admin/allowlist", {"cidr": "203.0.113.0/24"})
            self.assertEqual(r.status, 503)
            self.assertIn("behind the HSM", r.json()["message"])
            # Changed rule (formerly: tokens still served): a restored copy may
            # hold credentials deleted since, so no token is issued, introspected
            # or checked until the operator accepts the restore.
            self.assert_untrusted(d, cred, token)
            d.stop()
            self.accept_rollback(d)
            d.start()
            self.assertEqual(d.http("GET", "/readyz").status, 200)
            self.assertEqual(d.token(cred).status, 200)
            self.assertEqual(d.admin("POST", "/v1/admin/allowlist", {"cidr": "203.0.113.0/24"}).status, 201)

    def test_emptied_log_under_another_origin_is_a_rollback(self):
        """Someone with the database file but not the HSM PIN empties the audit
        log and renames its origin so authd would look for another HSM head."""
        with Daemon() as d:
            d.allow("127.0.0.1")
            cred = d.create_credential("owner")
            token = d.access_token(cred)
            d.stop()
            db = sqlite3.connect(d.db)
            db.execute("DELETE FROM audit_log")
            db.execute("DELETE FROM audit_checkpoints")
            db.execute("DELETE FROM meta WHERE key = 'audit_frontier'")
            db.execute("UPDATE meta SET value = CAST('evil.example/log' AS BLOB) WHERE key = 'audit_origin'")
            db.commit()
            db.close()
            d.start()
            lines = [l for l in d.read_log().splitlines() if "event=audit_rollback" in l]
            self.assertEqual(len(lines), 1, lines)
            self.assertIn("behind the HSM", lines[0])
            self.assertIn("evil.example/log", lines[0])
            self.assertEqual(d.http("GET", "/readyz").status, 503)
            out = d.ctl("status", check=False)
            self.assertIn("behind the HSM", out.stdout + out.stderr)
            r = d.admin("POST", "/v1/admin/allowlist", {"cidr": "203.0.113.0/24"})
            self.assertEqual(r.status, 503)
            self.assert_untrusted(d, cred, token)
            d.stop()
            self.accept_rollback(d)
            d.start()
            self.assertEqual(d.http("GET", "/readyz").status, 200)
            page = d.admin("GET", "/v1/admin/audit?action=audit.rollback_accepted").json()
            self.assertEqual(len(page["entries"]), 1)
            self.assertEqual(d.admin("POST", "/v1/admin/allowlist", {"cidr": "203.0.113.0/24"}).status, 201)


class CrashTest(unittest.TestCase):
    def test_kill_9_during_changes_loses_no_acknowledged_change(self):
        with Daemon() as d:
            acknowledged = []
            for round_no in range(4):
                stop_at = time.time() + random.uniform(0.5, 1.2)

                def writer(w):
                    i = 0
                    while time.time() < stop_at + 2:
                        cidr = f"10.{round_no}.{w}.{i}/32"
                        try:
                            r = d.admin("POST", "/v1/admin/allowlist", {"cidr": cidr})
                        except OSError:
                            return
                        if r.status == 201:
                            acknowledged.append(cidr)
                        i += 1

                with concurrent.futures.ThreadPoolExecutor(4) as pool:
                    futures = [pool.submit(writer, w) for w in range(4)]
                    while time.time() < stop_at:
                        time.sleep(0.01)
                    d.proc.send_signal(signal.SIGKILL)
                    d.proc.wait()
                    for f in futures:
                        f.result()
                d.log.close()
                d.start()
            listed = {e["cidr"] for e in d.admin("GET", "/v1/admin/allowlist").json()}
            self.assertGreater(len(acknowledged), 20)
            missing = [c for c in acknowledged if c not in listed]
            self.assertEqual(missing, [])
            targets, after = [], None
            while True:  # page through the whole log
                page = d.admin("GET", "/v1/admin/audit?action=allowlist.add&limit=1000"
                           + (f"&after_seq={after}" if after is not None else "")).json()
                targets += [e["target"] for e in page["entries"]]
                after = page["next_after_seq"]
                if after is None:
                    break
            self.assertEqual(len(targets), len(set(targets)))  # exactly one entry per change
            self.assertEqual(set(targets), listed)
            pem = d.audit_pem()
            path = os.path.join(d.dir, "export.jsonl")
            d.ctl("audit", "export", "--output", path)
            r = offline("audit", "verify", "--file", path, "--key", pem)
            self.assertEqual(r.returncode, 0, r.stderr)



class LongExportTest(unittest.TestCase):
    """An export longer than the server's page (1,000 entries) streams: the
    daemon sends it with chunked transfer coding as it reads it, authctl
    writes it as it arrives, and the file is byte for byte what a short
    export would be: it verifies, in both formats."""

    def test_long_export_streams_and_verifies(self):
        with Daemon() as d:
            with concurrent.futures.ThreadPoolExecutor(4) as pool:
                list(pool.map(lambda i: d.allow(f"10.{i // 256}.{i % 256}.0/24"),
                              range(1100)))
            pem = d.audit_pem()
            path = os.path.join(d.dir, "long.jsonl")
            d.ctl("audit", "export", "--output", path)
            self.assertFalse(os.path.exists(path + ".partial"))
            with open(path, "rb") as f:
                data = f.read()
            lines = data.decode().splitlines()
            n = len(lines) - 1
            self.assertGreater(n, 1100)
            self.assertEqual([json.loads(l)["seq"] for l in lines[:-1]], list(range(n)))
            self.assertEqual(list(json.loads(lines[-1])), ["checkpoint"])
            r = offline("audit", "verify", "--file", path, "--key", pem)
            self.assertEqual(r.returncode, 0, r.stderr)
            self.assertIn(f"audit verify OK: {n} entries", r.stdout)
            # The same bytes over the API, and from authctl on stdout.
            api = d.admin("GET", "/v1/admin/audit/export")
            self.assertEqual(api.status, 200)
            self.assertEqual(api.header("transfer-encoding"), "chunked")
            self.assertEqual(api.body, data)
            out = subprocess.run([AUTHCTL, "--socket", d.socket, "audit", "export"],
                                 capture_output=True, timeout=120)
            self.assertEqual(out.returncode, 0, out.stderr)
            self.assertEqual(out.stdout, data)
            d.ctl("audit", "export", "--format", "csv", "--output", path + ".csv")
            with open(path + ".csv", newline="") as f:
                rows = list(csv.reader(f))
            self.assertEqual(len(rows), n + 1)
            self.assertEqual([r[0] for r in rows[1:]], [str(i) for i in range(n)])
            # A tampered long export fails as a short one does.
            e = json.loads(lines[1050])
            e["target"] = "0.0.0.0/0"
            with open(path + ".t", "w") as f:
                f.write("\n".join(lines[:1050] + [json.dumps(e)] + lines[1051:]) + "\n")
            r = offline("audit", "verify", "--file", path + ".t", "--key", pem)
            self.assertEqual(r.returncode, 1)
            self.assertIn("line 1051: decoded fields do not match the leaf bytes", r.stderr)


if __name__ == "__main__":
    unittest.main()
