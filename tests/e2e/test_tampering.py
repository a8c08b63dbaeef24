"""Database tampering (issue 9): someone who can edit, copy and restore the
SQLite file while authd is stopped, but does not hold the HSM PIN, gains
nothing. An edited or copied-back row is not honoured, /readyz and
`authctl status` say so, and changes are refused until the operator deletes
the row; then authd is ready again without a restart."""
import json
import os
import sqlite3
import unittest

from harness import DROPPED, Daemon


def edit(path, sql, *params):
    db = sqlite3.connect(path)
    db.execute(sql, params)
    db.commit()
    db.close()


class TamperingTest(unittest.TestCase):
    def assert_unready(self, d):
        r = d.http("GET", "/readyz")
        self.assertEqual(r.status, 503, r)
        self.assertEqual(r.json()["integrity"], "rows failed their check")
        return r

    def test_edited_role_is_not_honoured_until_the_row_is_deleted(self):
        with Daemon() as d:
            d.allow("127.0.0.0/8")
            viewer = d.create_credential("viewer", "viewer")
            other = d.create_credential("viewer", "other")
            cid = viewer["client_id"]
            self.assertEqual(d.token(viewer).status, 200)
            d.stop()
            edit(d.db, "UPDATE credentials SET role = 'owner' WHERE client_id = ?", cid)
            d.start()

            # The edited credential gets nothing; the others are unaffected.
            r = d.token(viewer)
            self.assertEqual(r.status, 401, r)
            self.assertEqual(r.json()["error"], "invalid_client")
            self.assertEqual(d.token(other).status, 200)

            # Reported: /readyz without detail, the log and authctl status
            # naming the row and the way out.
            r = self.assert_unready(d)
            self.assertNotIn(cid, r.body.decode())
            lines = [l for l in d.read_log().splitlines()
                     if "event=integrity table=credentials key=" + cid in l]
            self.assertEqual(len(lines), 1, d.read_log())
            self.assertIn("does not match its integrity MAC", lines[0])
            self.assertIn("authctl credential delete " + cid, lines[0])
            text = d.ctl("status").stdout
            self.assertIn("credentials " + cid + ": does not match its integrity MAC", text)
            self.assertIn("resolve: authctl credential delete " + cid, text)
            status = json.loads(d.ctl("--json", "status").stdout)
            self.assertFalse(status["ready"])
            self.assertEqual(status["integrity_failures"],
                             [{"table": "credentials", "key": cid,
                               "problem": "does not match its integrity MAC (edited outside authd)",
                               "resolve": "authctl credential delete " + cid}])
            self.assertNotIn(cid, [c["client_id"] for c in
                                   json.loads(d.ctl("--json", "credential", "list").stdout)])

            # Changes are refused, with the message, except the deletion.
            r = d.ctl("allowlist", "add", "192.0.2.0/24", check=False)
            self.assertEqual(r.returncode, 1)
            self.assertIn("changes are refused while stored rows fail their integrity check", r.stderr)
            self.assertIn("authctl credential delete " + cid, r.stderr)
            self.assertIn("HTTP 409", r.stderr)
            r = d.ctl("credential", "delete", other["client_id"], check=False)
            self.assertEqual(r.returncode, 1, r.stderr)
            self.assertEqual(d.ctl("credential", "delete", cid, "--reason", "INC-9").stdout.strip(),
                             "deleted credential " + cid)

            # Resolved: ready and accepting changes, no restart.
            self.assertEqual(d.http("GET", "/readyz").status, 200)
            self.assertEqual(json.loads(d.ctl("--json", "status").stdout)["integrity"], "ok")
            d.ctl("allowlist", "add", "192.0.2.0/24")
            entries = d.admin("GET", "/v1/admin/audit?action=credential.delete&target=" + cid).json()["entries"]
            self.assertEqual(len(entries), 1)
            self.assertEqual(entries[0]["reason"], "INC-9")
            self.assertIn("failed its integrity check", entries[0]["values"]["integrity"])

    def test_deleted_credential_copied_back_is_not_honoured(self):
        with Daemon() as d:
            d.allow("127.0.0.0/8")
            gone = d.create_credential("owner", "gone")
            cid = gone["client_id"]
            saved = os.path.join(d.dir, "saved.db")
            src, dst = sqlite3.connect(d.db), sqlite3.connect(saved)
            src.backup(dst)  # a copy taken while authd runs
            src.close()
            dst.close()
            d.ctl("credential", "delete", cid)
            self.assertEqual(d.token(gone).status, 401)
            d.stop()
            db = sqlite3.connect(d.db)
            db.execute("ATTACH ? AS old", (saved,))
            db.execute("INSERT INTO credentials SELECT * FROM old.credentials WHERE client_id = ?",
                       (cid,))
            db.commit()
            db.close()
            d.start()
            r = d.token(gone)
            self.assertEqual(r.status, 401, r)
            self.assertEqual(r.json()["error"], "invalid_client")
            self.assert_unready(d)
            failure = json.loads(d.ctl("--json", "status").stdout)["integrity_failures"][0]
            self.assertEqual(failure["key"], cid)
            self.assertRegex(failure["problem"], r"^was deleted by audit entry \d+ \(copied back")
            d.ctl("credential", "delete", cid)
            self.assertEqual(d.http("GET", "/readyz").status, 200)

    def test_forged_allowlist_entry_is_not_honoured(self):
        with Daemon() as d:
            d.allow("127.0.0.1")
            d.stop()
            edit(d.db, "INSERT INTO allowlist (cidr, created_at, created_by) VALUES ('0.0.0.0/0', 0, 'uid:0')")
            d.start()
            self.assert_unready(d)
            listed = [e["cidr"] for e in d.admin("GET", "/v1/admin/allowlist").json()]
            self.assertEqual(listed, ["127.0.0.1/32"])
            self.assertEqual(d.http("GET", "/v1/auth/jwks", source="127.0.0.2").status, DROPPED)
            self.assertEqual(d.http("GET", "/v1/auth/jwks").status, 200)
            r = d.ctl("allowlist", "remove", "127.0.0.1", check=False)
            self.assertEqual(r.returncode, 1)
            self.assertIn("authctl allowlist remove 0.0.0.0/0", r.stderr)
            d.ctl("allowlist", "remove", "0.0.0.0/0")
            self.assertEqual(d.http("GET", "/readyz").status, 200)


if __name__ == "__main__":
    unittest.main()
