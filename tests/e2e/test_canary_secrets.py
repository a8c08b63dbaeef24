"""Canary secrets: a distinctive HSM PIN, client secrets, access tokens and
console sign-in codes, sessions and CSRF tokens are planted in a real authd
(TLS, log level debug, a gateway policy) and carried through every path
that handles them: token issue (success, a wrong secret, an unknown client,
secrets in the form body), introspection, revocation, the gateway check,
admin changes over the socket and over TCP with a Bearer token, the audit
API and export, the console's sign-in link, session and a change, SIGHUP,
key rotation, a restart and a token issued after it. Then each canary, and
the encodings it would naturally take (base64 as in a Basic header,
base64url, hex, percent-encoding, the secret's raw bytes), is looked for in
authd's stderr, the database and its -wal and -shm files (while authd runs
and after it stopped), the audit export, and /proc/<pid>/cmdline and
/proc/<pid>/environ. None may appear anywhere."""
import base64
import json
import os
import secrets
import shutil
import signal
import subprocess
import time
import unittest
import urllib.parse

from harness import TOKEN_INIT, Daemon, basic, form, wait_until

FORM = {"Content-Type": "application/x-www-form-urlencoded"}
CONFIG = """
[log]
level = "debug"

[gateway]
default = "deny"

[[gateway.routes]]
prefix = "/api/v1/data"
scopes = ["data:read"]
"""


def encodings(value):
    """The forms a secret takes on its way through HTTP, JSON and storage."""
    if isinstance(value, str):
        raw = value.encode()
        out = {raw, urllib.parse.quote(value, safe="").encode(),
               urllib.parse.quote_plus(value).encode()}
    else:
        raw = value
        out = {raw}
    out |= {base64.b64encode(raw), base64.urlsafe_b64encode(raw).rstrip(b"="),
            raw.hex().encode(), raw.hex().upper().encode()}
    return out


def b64url_bytes(text):
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


class CanarySecretsTest(unittest.TestCase):
    def setUp(self):
        self.d = Daemon(tls=True, start=False, config_extra=CONFIG,
                        server_extra='trusted_proxies = ["127.0.0.1/32"]\n')
        self.addCleanup(self.d.cleanup)
        # Re-initialise the throwaway token with the canary PIN.
        self.pin = "CanaryPin" + secrets.token_hex(12)
        shutil.rmtree(os.path.join(self.d.dir, "tokens"))
        os.makedirs(os.path.join(self.d.dir, "tokens"))
        with open(self.d.pin_file, "w") as f:
            f.write(self.pin + "\n")
        subprocess.run([TOKEN_INIT, "--label", "authd", "--so-pin-file",
                        os.path.join(self.d.dir, "so-pin"), "--pin-file", self.d.pin_file],
                       env=self.d.env, check=True, capture_output=True)
        self.canaries = {"hsm pin": encodings(self.pin)}
        self.snapshots = []  # (where, bytes)

    # --- planting ----------------------------------------------------------
    def plant_secret(self, name, cred):
        secret = cred["client_secret"]
        forms = encodings(secret) | encodings(b64url_bytes(secret))
        # The Basic header carries base64("id:secret").
        forms.add(base64.b64encode(f"{cred['client_id']}:{secret}".encode()))
        self.canaries[name] = forms

    def plant_token(self, name, token):
        forms = encodings(token)
        forms.add(token.rsplit(".", 1)[1].encode())  # the signature alone
        self.canaries[name] = forms

    def plant(self, name, value):
        self.canaries[name] = encodings(value)

    # --- evidence ----------------------------------------------------------
    def read(self, path):
        try:
            with open(path, "rb") as f:
                return f.read()
        except FileNotFoundError:
            return b""

    def snapshot_files(self, when):
        for suffix in ("", "-wal", "-shm"):
            data = self.read(self.d.db + suffix)
            self.snapshots.append((f"authd.db{suffix} ({when})", data))

    def snapshot_process(self):
        pid = self.d.proc.pid
        self.snapshots.append(("/proc/pid/cmdline", self.read(f"/proc/{pid}/cmdline")))
        self.snapshots.append(("/proc/pid/environ", self.read(f"/proc/{pid}/environ")))
        self.assertIn(b"authd", self.snapshots[-2][1])  # it was really read

    # --- the paths ---------------------------------------------------------
    def issue(self, cred, **extra):
        r = self.d.http("POST", "/v1/auth/token", form(grant_type="client_credentials", **extra),
                        dict(FORM, Authorization=basic(cred["client_id"], cred["client_secret"])))
        self.assertEqual(r.status, 200, r)
        return r.json()["access_token"]

    def token_paths(self, owner, viewer, token):
        d = self.d
        wrong = "WrongCanary" + secrets.token_hex(12)
        self.plant("wrong secret", wrong)
        r = d.http("POST", "/v1/auth/token", form(grant_type="client_credentials"),
                   dict(FORM, Authorization=basic(viewer["client_id"], wrong)))
        self.assertEqual(r.status, 401, r)
        r = d.http("POST", "/v1/auth/token", form(grant_type="client_credentials"),
                   dict(FORM, Authorization=basic("NoSuchClient" + secrets.token_hex(5),
                                                  viewer["client_secret"])))
        self.assertEqual(r.status, 401, r)
        # client_secret_post: the secret in the body.
        r = d.http("POST", "/v1/auth/token",
                   form(grant_type="client_credentials", client_id=viewer["client_id"],
                        client_secret=viewer["client_secret"]), FORM)
        self.assertEqual(r.status, 200, r)
        r = d.http("POST", "/v1/auth/introspect", form(token=token),
                   dict(FORM, Authorization=basic(owner["client_id"], owner["client_secret"])))
        self.assertEqual(r.status, 200, r)
        self.assertTrue(r.json()["active"], r)
        r = d.admin("POST", "/v1/auth/introspect", form(token=token + "x"),
                    dict(FORM, Authorization=basic(owner["client_id"], owner["client_secret"])))
        self.assertEqual(r.json(), {"active": False})

    def gateway_paths(self, token):
        for uri, want in (("/api/v1/data/7", 204), ("/api/v1/other", 403)):
            r = self.d.http("GET", "/v1/auth/check",
                            headers={"Authorization": "Bearer " + token,
                                     "X-Forwarded-For": "127.0.0.2", "X-Original-URI": uri})
            self.assertEqual(r.status, want, r)
        r = self.d.http("GET", "/v1/auth/check",
                        headers={"Authorization": "Bearer " + token[:-4] + "AAAA",
                                 "X-Forwarded-For": "127.0.0.2",
                                 "X-Original-URI": "/api/v1/data/7"})
        self.assertEqual(r.status, 401, r)

    def revoke(self, viewer, token):
        r = self.d.http("POST", "/v1/auth/revoke",
                        form(token=token, client_id=viewer["client_id"],
                             client_secret=viewer["client_secret"]), FORM)
        self.assertEqual(r.status, 200, r)
        r = self.d.http("GET", "/v1/auth/check",
                        headers={"Authorization": "Bearer " + token,
                                 "X-Forwarded-For": "127.0.0.2",
                                 "X-Original-URI": "/api/v1/data/7"})
        self.assertEqual(r.status, 401, r)

    def admin_over_tcp(self, admin_token):
        bearer = {"Authorization": "Bearer " + admin_token}
        r = self.d.http("POST", "/v1/admin/allowlist", {"cidr": "192.0.2.0/24"}, bearer)
        self.assertEqual(r.status, 201, r)
        r = self.d.http("DELETE", "/v1/admin/allowlist/192.0.2.0%2F24", headers=bearer)
        self.assertEqual(r.status, 204, r)
        r = self.d.http("POST", "/v1/admin/credentials",
                        {"name": "over-tcp", "role": "viewer",
                         "expires_at": time.strftime("%Y-%m-%dT%H:%M:%SZ",
                                                     time.gmtime(time.time() + 86400))}, bearer)
        self.assertEqual(r.status, 201, r)
        cred = r.json()
        self.plant_secret("secret created over tcp", cred)
        self.assertEqual(self.d.http("GET", "/v1/admin/audit?limit=5", headers=bearer).status, 200)
        r = self.d.http("DELETE", "/v1/admin/credentials/" + cred["client_id"], headers=bearer)
        self.assertEqual(r.status, 204, r)

    def console_paths(self):
        d = self.d
        url = json.loads(d.ctl("--json", "console", "login").stdout)["url"]
        code = url.split("#code=")[1]
        self.plant("console code", code)
        origin = f"https://127.0.0.1:{d.port}"
        r = d.http("POST", "/console/api/session", {"code": code}, {"Origin": origin})
        self.assertEqual(r.status, 200, r)
        cookie = r.header("set-cookie").split(";")[0]
        csrf = r.json()["csrf_token"]
        self.plant("console session", cookie.split("=", 1)[1])
        self.plant("console csrf", csrf)
        change = {"Cookie": cookie, "Origin": origin, "X-CSRF-Token": csrf}
        r = d.http("POST", "/console/api/allowlist", {"cidr": "198.51.100.0/24"}, change)
        self.assertEqual(r.status, 201, r)
        self.assertEqual(d.http("GET", "/console/api/audit/export",
                                headers={"Cookie": cookie}).status, 200)
        r = d.http("DELETE", "/console/api/session", headers=change)
        self.assertIn(r.status, (200, 204), r)
        # A spent code is refused, and says nothing about it.
        r = d.http("POST", "/console/api/session", {"code": code}, {"Origin": origin})
        self.assertEqual(r.status, 401, r)

    def reload_rotate_restart(self, viewer):
        d = self.d
        before = d.read_log().count("event=reload")
        d.proc.send_signal(signal.SIGHUP)
        self.assertTrue(wait_until(lambda: d.read_log().count("event=reload") > before, 30))
        d.ctl("keys", "rotate", "--use", "token", "--reason", "canary test")
        token = self.issue(viewer)
        self.plant_token("token after rotation", token)
        self.snapshot_files("running")
        self.snapshot_process()
        d.stop()
        self.snapshot_files("stopped")
        d.start()
        token = self.issue(viewer)
        self.plant_token("token after restart", token)
        self.gateway_paths(token)

    def test_no_canary_leaves_the_secret_paths(self):
        d = self.d
        d.start()
        d.allow("127.0.0.0/8")
        owner = d.create_credential("owner", "canary-owner")
        viewer = d.create_credential("viewer", "canary-viewer")
        self.plant_secret("owner secret", owner)
        self.plant_secret("viewer secret", viewer)
        self.snapshot_files("after create")
        token = self.issue(viewer)
        self.plant_token("viewer token", token)
        admin_token = self.issue(owner)
        self.plant_token("owner token", admin_token)
        self.token_paths(owner, viewer, token)
        self.gateway_paths(token)
        self.revoke(viewer, token)
        self.admin_over_tcp(admin_token)
        self.console_paths()
        self.assertEqual(d.http("GET", "/healthz").status, 200)  # logged at debug
        export = os.path.join(d.dir, "export.jsonl")
        d.ctl("audit", "export", "--output", export)
        self.snapshot_files("after the changes")
        self.reload_rotate_restart(viewer)
        d.ctl("audit", "export", "--output", export + ".2")
        self.snapshot_process()
        d.stop()
        self.snapshot_files("at the end")
        self.snapshots += [("authd's stderr", self.read(d.log_path)),
                           ("audit export", self.read(export)),
                           ("audit export after restart", self.read(export + ".2"))]
        # The evidence is real: the log has the debug lines, the export the
        # changes, the database the credentials.
        self.assertIn(b"level=debug", self.read(d.log_path))
        self.assertIn(b"credential.create", self.read(export + ".2"))
        self.assertIn(owner["client_id"].encode(), self.read(d.db) + self.snapshots[0][1]
                      + self.snapshots[1][1])
        leaks = [f"{name} in {where}"
                 for name, forms in self.canaries.items()
                 for where, data in self.snapshots
                 if any(f in data for f in forms)]
        self.assertEqual(leaks, [])


if __name__ == "__main__":
    unittest.main()
