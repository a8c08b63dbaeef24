"""The web console's server side against the real daemon over TLS, with a
plain HTTP client standing in for the browser (the browser test drives the
page itself): `authctl console login` gives a one-time link, its code buys a
session cookie, the console API changes things only with the CSRF token and
the console's own Origin, every change is audited as console:uid:<uid>,
sign-out and a restart end the session, and the audit export authctl now
fetches from the server still verifies offline."""
import json
import os
import re
import subprocess
import time
import unittest

from harness import AUTHCTL, Daemon

CSP = ("default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; "
       "connect-src 'self'; form-action 'self'; base-uri 'none'; frame-ancestors 'none'")


def in_days(n):
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(time.time() + n * 86400))


class Browser:
    """What the page does over HTTP: it keeps the cookie and the CSRF token and
    sends Origin on changes, as Chromium does for a same-origin fetch."""

    def __init__(self, d):
        self.d = d
        self.cookie = None
        self.csrf = None

    @property
    def origin(self):
        return f"https://127.0.0.1:{self.d.port}"

    def sign_in(self, code, origin=None):
        r = self.d.http("POST", "/console/api/session", {"code": code},
                        {"Origin": origin or self.origin})
        if r.status == 200:
            self.cookie = r.header("set-cookie").split(";")[0]
            self.csrf = r.json()["csrf_token"]
        return r

    def call(self, method, path, body=None, origin=True, csrf=True):
        headers = {}
        if self.cookie:
            headers["Cookie"] = self.cookie
        if method in ("POST", "DELETE"):
            if origin:
                headers["Origin"] = self.origin if origin is True else origin
            if csrf:
                headers["X-CSRF-Token"] = self.csrf if csrf is True else csrf
        return self.d.http(method, "/console/api/" + path, body, headers)


class ConsoleApiTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.d = Daemon(tls=True, config_extra='[console]\nname = "Site 7 gateway"\n')
        cls.d.allow("127.0.0.0/8")

    @classmethod
    def tearDownClass(cls):
        cls.d.cleanup()

    def login(self):
        out = json.loads(self.d.ctl("console", "login", "--json").stdout)
        url = out["url"]
        prefix = f"https://127.0.0.1:{self.d.port}/console/#code="
        self.assertTrue(url.startswith(prefix), url)
        code = url[len(prefix):]
        self.assertRegex(code, r"^[A-Za-z0-9_-]{43}$")
        return code

    def signed_in(self):
        b = Browser(self.d)
        r = b.sign_in(self.login())
        self.assertEqual(r.status, 200, r)
        return b

    def test_login_prints_a_link_valid_once_for_five_minutes(self):
        r = self.d.ctl("console", "login")
        lines = r.stdout.splitlines()
        self.assertEqual(len(lines), 2, r.stdout)
        self.assertRegex(lines[0], rf"^https://127\.0\.0\.1:{self.d.port}/console/#code=[A-Za-z0-9_-]{{43}}$")
        self.assertEqual(lines[1], "Valid for 5 minutes and for one sign-in.")
        out = json.loads(self.d.ctl("--json", "console", "login").stdout)
        self.assertEqual(set(out), {"url", "expires_at"})
        self.assertRegex(out["expires_at"], r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$")
        r = self.d.ctl("console", "login", "extra", check=False)
        self.assertEqual(r.returncode, 2)

    def test_the_link_route_is_on_the_admin_socket_only(self):
        owner = self.d.create_credential("owner", "link-tester")
        token = self.d.access_token(owner)
        r = self.d.http("POST", "/v1/admin/console/links", {},
                        {"Authorization": "Bearer " + token})
        self.assertEqual(r.status, 404, r)

    def test_sign_in_create_a_credential_and_find_the_console_actor(self):
        d = self.d
        b = Browser(d)
        code = self.login()
        r = b.sign_in(code)
        self.assertEqual(r.status, 200, r)
        cookie = r.header("set-cookie")
        self.assertRegex(cookie, r"^__Host-authd_console=[A-Za-z0-9_-]{43}; Path=/; Secure; "
                                 r"HttpOnly; SameSite=Strict$")
        session = r.json()
        self.assertEqual(session["actor"], f"console:uid:{os.getuid()}")
        self.assertEqual(session["appliance"], "Site 7 gateway")
        self.assertEqual(session["instance"], d.issuer)
        self.assertEqual(session["idle_timeout_seconds"], 1800)
        self.assertEqual(session["address"], "127.0.0.1")
        self.assertEqual(r.header("content-security-policy"), CSP)
        self.assertEqual(r.header("cache-control"), "no-store")

        # The link is spent.
        again = Browser(d).sign_in(code)
        self.assertEqual(again.status, 401)
        self.assertEqual(again.json()["error"], "invalid_code")

        r = b.call("POST", "credentials", {"name": "from-console", "role": "viewer",
                                           "expires_at": in_days(90)})
        self.assertEqual(r.status, 201, r)
        cred = r.json()
        self.assertEqual(cred["created_by"], f"console:uid:{os.getuid()}")
        self.assertEqual(d.token(cred).status, 200)  # the shown secret works
        entries = d.admin("GET", "/v1/admin/audit?action=credential.create&target="
                          + cred["client_id"]).json()["entries"]
        self.assertEqual(len(entries), 1)
        self.assertEqual(entries[0]["actor"], f"console:uid:{os.getuid()}")
        self.assertEqual(entries[0]["source"], "127.0.0.1")

        r = b.call("POST", "allowlist", {"cidr": "10.1.2.3/8"})
        self.assertEqual(r.status, 400)
        self.assertIn("10.0.0.0/8", r.json()["message"])
        self.assertEqual(b.call("DELETE", "credentials/" + cred["client_id"]).status, 204)

        # Nothing secret reaches the log.
        log = d.read_log()
        for secret in (code, b.cookie.split("=", 1)[1], b.csrf, cred["client_secret"]):
            self.assertNotIn(secret, log)
        self.assertIn("event=console_sign_in actor=console:uid:", log)

    def test_forged_cross_site_changes_are_refused(self):
        b = self.signed_in()
        before = self.d.admin("GET", "/v1/admin/credentials").json()
        body = {"name": "forged", "role": "owner", "expires_at": in_days(30)}
        for kwargs in ({"origin": "https://evil.example"}, {"origin": False},
                       {"csrf": False}, {"csrf": "A" * 43},
                       {"origin": f"http://127.0.0.1:{self.d.port}"}):
            r = b.call("POST", "credentials", body, **kwargs)
            self.assertEqual(r.status, 403, (kwargs, r))
            self.assertEqual(r.json()["error"], "csrf")
        r = b.call("DELETE", "allowlist/127.0.0.0%2F8", origin="https://evil.example")
        self.assertEqual(r.status, 403)
        self.assertEqual(self.d.admin("GET", "/v1/admin/credentials").json(), before)
        self.assertIn("127.0.0.0/8", [e["cidr"] for e in
                                      self.d.admin("GET", "/v1/admin/allowlist").json()])
        # Without the cookie (what SameSite=Strict leaves a cross-site form).
        r = self.d.http("POST", "/console/api/credentials", body,
                        {"Origin": b.origin, "X-CSRF-Token": b.csrf})
        self.assertEqual(r.status, 401)
        self.assertEqual(r.json()["error"], "no_session")

    def test_sign_out_ends_the_session(self):
        b = self.signed_in()
        self.assertEqual(b.call("GET", "session").status, 200)
        r = b.call("DELETE", "session")
        self.assertEqual(r.status, 204)
        self.assertIn("Max-Age=0", r.header("set-cookie"))
        r = b.call("GET", "session")
        self.assertEqual(r.status, 401)
        self.assertEqual(r.json()["error"], "no_session")
        self.assertEqual(b.call("GET", "credentials").status, 401)

    def test_assets_have_types_cache_and_security_headers(self):
        d = self.d
        r = d.http("GET", "/console/")
        self.assertEqual(r.status, 200)
        self.assertEqual(r.header("content-type"), "text/html; charset=utf-8")
        self.assertEqual(r.header("cache-control"), "no-store")
        for name, value in (("content-security-policy", CSP),
                            ("x-content-type-options", "nosniff"),
                            ("referrer-policy", "no-referrer"),
                            ("x-frame-options", "DENY"),
                            ("cross-origin-opener-policy", "same-origin")):
            self.assertEqual(r.header(name), value, name)
        r = d.http("GET", "/console/app.js")
        self.assertEqual(r.status, 200)
        self.assertEqual(r.header("content-type"), "text/javascript; charset=utf-8")
        self.assertEqual(r.header("cache-control"), "no-cache")
        etag = r.header("etag")
        self.assertRegex(etag, r'^"[A-Za-z0-9_-]+"$')
        r = d.http("GET", "/console/app.js", headers={"If-None-Match": etag})
        self.assertEqual(r.status, 304)
        self.assertEqual(r.body, b"")
        r = d.http("GET", "/console/no-such-file.js")
        self.assertEqual(r.status, 404)
        self.assertEqual(r.header("content-security-policy"), CSP)
        r = d.http("GET", "/console/api/credentials")
        self.assertEqual(r.status, 401)
        self.assertEqual(r.header("x-content-type-options"), "nosniff")

    def test_exports_from_console_and_authctl_verify(self):
        d = self.d
        b = self.signed_in()
        self.assertEqual(b.call("POST", "allowlist", {"cidr": "198.51.100.0/24"}).status, 201)
        path = os.path.join(d.dir, "export.jsonl")
        d.ctl("audit", "export", "--output", path)
        pem = d.audit_pem()
        r = subprocess.run([AUTHCTL, "--socket", "/nonexistent", "audit", "verify",
                            "--file", path, "--key", pem], capture_output=True, text=True)
        self.assertEqual(r.returncode, 0, r.stderr)
        with open(path, "rb") as f:
            exported = f.read()
        r = b.call("GET", "audit/export")
        self.assertEqual(r.status, 200)
        self.assertEqual(r.header("content-disposition"),
                         'attachment; filename="authd-audit-export.jsonl"')
        # The console's copy is the same log; a change may have come between.
        self.assertTrue(r.body.startswith(exported.rsplit(b"\n", 2)[0]))
        r = b.call("GET", "audit/public-key")
        self.assertEqual(r.status, 200)
        with open(pem, "rb") as f:
            self.assertEqual(r.body, f.read())
        r = d.ctl("audit", "export", "--format", "xml", check=False)
        self.assertEqual(r.returncode, 2)
        r = d.ctl("audit", "export", "--since", "yesterday", check=False)
        self.assertEqual(r.returncode, 1)
        self.assertIn("since", r.stderr)


class ConsoleRestartTest(unittest.TestCase):
    def test_restart_ends_sessions(self):
        with Daemon(tls=True) as d:
            d.allow("127.0.0.0/8")
            b = Browser(d)
            url = json.loads(d.ctl("console", "login", "--json").stdout)["url"]
            unused = json.loads(d.ctl("console", "login", "--json").stdout)["url"]
            self.assertEqual(b.sign_in(url.split("#code=")[1]).status, 200)
            self.assertEqual(b.call("GET", "session").status, 200)
            d.stop()
            d.start()
            r = b.call("GET", "session")
            self.assertEqual(r.status, 401)
            self.assertEqual(r.json()["error"], "no_session")
            r = Browser(d).sign_in(unused.split("#code=")[1])
            self.assertEqual(r.status, 401, "links do not survive a restart either")


class PlainHttpConsoleTest(unittest.TestCase):
    def test_cookie_without_prefix_or_secure(self):
        with Daemon(config_extra='[console]\nurl = "http://appliance.example:8080/"\n') as d:
            d.allow("127.0.0.0/8")
            url = json.loads(d.ctl("console", "login", "--json").stdout)["url"]
            self.assertTrue(url.startswith("http://appliance.example:8080/console/#code="), url)
            code = url.split("#code=")[1]
            r = d.http("POST", "/console/api/session", {"code": code},
                       {"Origin": f"http://127.0.0.1:{d.port}"})
            self.assertEqual(r.status, 200, r)
            self.assertTrue(re.fullmatch(r"authd_console=[A-Za-z0-9_-]{43}; Path=/; HttpOnly; "
                                         r"SameSite=Strict", r.header("set-cookie")),
                            r.header("set-cookie"))

    def test_console_off(self):
        with Daemon(config_extra="[console]\nenabled = false\n") as d:
            d.allow("127.0.0.0/8")
            r = d.ctl("console", "login", check=False)
            self.assertEqual(r.returncode, 1)
            self.assertIn("console.enabled = false", r.stderr)
            self.assertEqual(d.http("GET", "/console/").status, 404)


if __name__ == "__main__":
    unittest.main()
