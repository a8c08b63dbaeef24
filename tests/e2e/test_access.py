"""API access management (issue: credentials, roles, allowlist, Owner-only)
over both the TCP API with Bearer tokens and the admin socket with authctl."""
import concurrent.futures
import json
import os
import socket
import threading
import time
import unittest
import urllib.parse

from harness import DROPPED, Daemon, basic, form, iso, wait_until

FORM = {"Content-Type": "application/x-www-form-urlencoded"}


class AdminOverTcpTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.d = Daemon()
        cls.d.allow("127.0.0.0/8")
        cls.owner = cls.d.create_credential("owner", "owner")
        cls.auditor = cls.d.create_credential("auditor", "auditor")
        cls.viewer = cls.d.create_credential("viewer", "viewer")
        cls.owner_token = cls.d.access_token(cls.owner)

    @classmethod
    def tearDownClass(cls):
        cls.d.cleanup()

    def tcp(self, method, path, body=None, token=None):
        headers = {}
        if token is not None:
            headers["Authorization"] = "Bearer " + token
        return self.d.http(method, path, body, headers)

    def test_no_or_bad_token_is_401_with_www_authenticate(self):
        for token in (None, "garbage", self.owner_token[:-4] + "AAAA"):
            r = self.tcp("GET", "/v1/admin/credentials", token=token)
            self.assertEqual(r.status, 401, token)
            self.assertTrue(r.header("www-authenticate").startswith("Bearer"), r.headers)
            self.assertIn("message", r.json())

    def test_scopes(self):
        viewer = self.d.access_token(self.viewer)
        auditor = self.d.access_token(self.auditor)
        self.assertEqual(self.tcp("GET", "/v1/admin/credentials", token=viewer).status, 403)
        self.assertEqual(self.tcp("GET", "/v1/admin/credentials", token=auditor).status, 200)
        r = self.tcp("POST", "/v1/admin/allowlist", {"cidr": "192.0.2.0/24"}, token=auditor)
        self.assertEqual(r.status, 403)
        self.assertEqual(r.json()["error"], "insufficient_scope")
        r = self.tcp("POST", "/v1/admin/allowlist", {"cidr": "192.0.2.0/24"}, token=self.owner_token)
        self.assertEqual(r.status, 201, r)
        self.assertEqual(r.json()["created_by"], "client:" + self.owner["client_id"])
        # A token narrowed to admin:read cannot write, even for the owner.
        narrowed = self.d.access_token(self.owner, scope="admin:read")
        r = self.tcp("DELETE", "/v1/admin/allowlist/" + urllib.parse.quote("192.0.2.0/24", safe=""),
                     token=narrowed)
        self.assertEqual(r.status, 403)
        r = self.tcp("DELETE", "/v1/admin/allowlist/" + urllib.parse.quote("192.0.2.0/24", safe=""),
                     token=self.owner_token)
        self.assertEqual(r.status, 204)

    def test_deleted_owner_token_stops_at_once(self):
        owner2 = self.d.create_credential("owner", "owner2")
        token = self.d.access_token(owner2)
        self.assertEqual(self.tcp("GET", "/v1/admin/roles", token=token).status, 200)
        r = self.tcp("DELETE", "/v1/admin/credentials/" + owner2["client_id"], token=self.owner_token)
        self.assertEqual(r.status, 204)
        self.assertEqual(self.tcp("GET", "/v1/admin/roles", token=token).status, 401)

    def test_roles(self):
        r = self.tcp("GET", "/v1/admin/roles", token=self.owner_token)
        self.assertEqual(r.status, 200)
        roles = {x["name"]: x for x in r.json()}
        self.assertEqual(set(roles), {"owner", "auditor", "operator", "viewer", "resource-server"})
        self.assertEqual(roles["viewer"]["scopes"], ["data:read"])
        self.assertEqual(set(roles["auditor"]["scopes"]), {"admin:read", "audit:read"})
        self.assertTrue(all(x["description"] for x in roles.values()))
        out = self.d.ctl("roles").stdout
        self.assertIn("auditor", out)
        self.assertIn("admin:read audit:read", out)

    def test_credential_rules_same_on_both_paths(self):
        cases = [
            ({"name": "", "role": "viewer", "expires_at": iso(3600)}, 400, "name"),
            ({"name": "x" * 65, "role": "viewer", "expires_at": iso(3600)}, 400, "64"),
            ({"name": "tab\there", "role": "viewer", "expires_at": iso(3600)}, 400, "printable"),
            ({"name": "ok", "role": "nope", "expires_at": iso(3600)}, 400, "role"),
            ({"name": "ok", "role": "viewer", "expires_at": iso(-10)}, 400, "future"),
            ({"name": "ok", "role": "viewer", "expires_at": iso(366 * 86400)}, 400, "365"),
            ({"name": "ok", "role": "viewer", "expires_at": "tomorrow"}, 400, "RFC 3339"),
            ({"name": "ok", "role": "viewer"}, 400, "expires_at"),
            ({"name": "ok", "role": "viewer", "expires_at": iso(60), "secret": "x"}, 400, "secret"),
        ]
        for body, status, needle in cases:
            for via in ("tcp", "socket"):
                if via == "tcp":
                    r = self.tcp("POST", "/v1/admin/credentials", body, token=self.owner_token)
                else:
                    r = self.d.admin("POST", "/v1/admin/credentials", body)
                self.assertEqual(r.status, status, (body, via, r))
                self.assertIn(needle, r.json()["message"], (body, via))
        r = self.d.admin("POST", "/v1/admin/credentials", "not json", {"Content-Type": "application/json"})
        self.assertEqual(r.status, 400)
        r = self.d.admin("POST", "/v1/admin/credentials", "name=x", {"Content-Type": "text/plain"})
        self.assertEqual(r.status, 415)
        ok = self.d.admin("POST", "/v1/admin/credentials",
                          {"name": "ü" * 64, "role": "viewer", "expires_at": iso(365 * 86400 - 60)})
        self.assertEqual(ok.status, 201, ok)

    def test_secret_shown_once_and_list_flags_expired(self):
        cred = self.d.create_credential("viewer", "soon", expires_in=2)
        self.assertTrue(cred["client_secret"].startswith("authd_s_"))
        self.assertEqual(len(cred["client_secret"]), 8 + 43)  # 256 bits, base64url
        def listing():
            return {c["client_id"]: c for c in self.d.admin("GET", "/v1/admin/credentials").json()}
        wait_until(lambda: listing()[cred["client_id"]]["expired"])
        listed = listing()
        self.assertTrue(listed[cred["client_id"]]["expired"])
        self.assertFalse(listed[self.owner["client_id"]]["expired"])
        self.assertNotIn("client_secret", json.dumps(listed))
        text = self.d.ctl("credential", "list").stdout
        line = [l for l in text.splitlines() if cred["client_id"] in l][0]
        self.assertIn("EXPIRED", line)
        created = [c["created_at"] for c in self.d.admin("GET", "/v1/admin/credentials").json()]
        self.assertEqual(created, sorted(created, reverse=True))

    def test_bad_reason_and_bad_utf8_are_4xx(self):
        cred = self.d.create_credential("viewer", "reasoned")
        for reason in ("%FF", "a%0Ab", "x" * 1025):
            r = self.d.admin("DELETE", f"/v1/admin/credentials/{cred['client_id']}?reason={reason}")
            self.assertEqual(r.status, 400, reason)
            self.assertIn("reason", r.json()["message"])
        r = self.d.admin("POST", "/v1/admin/allowlist", {"cidr": "192.0.2.77", "reason": "\u202e"})
        self.assertEqual(r.status, 400)
        self.assertEqual(self.d.admin("GET", "/%FF").status, 404)  # echoed, not thrown
        entries = self.d.admin("GET", "/v1/admin/audit?limit=1000").json()["entries"]
        self.assertTrue(entries)  # the log still reads

    def test_delete_unknown_is_404(self):
        r = self.tcp("DELETE", "/v1/admin/credentials/nosuch", token=self.owner_token)
        self.assertEqual(r.status, 404)
        r = self.d.ctl("credential", "delete", "nosuch", check=False)
        self.assertEqual(r.returncode, 1)
        self.assertIn("no credential", r.stderr)

    def test_authctl_create_with_expires_in(self):
        r = self.d.ctl("--json", "credential", "create", "--name", "cli", "--role", "operator",
                       "--expires-in", "90d")
        out = json.loads(r.stdout)
        self.assertEqual(out["role"], "operator")
        r = self.d.token(out)
        self.assertEqual(r.status, 200)
        self.assertEqual(r.json()["scope"], "data:read devices:control")
        bad = self.d.ctl("credential", "create", "--name", "x", "--role", "viewer",
                         "--expires-in", "soon", check=False)
        self.assertEqual(bad.returncode, 2)


class AllowlistTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.d = Daemon(server_extra='trusted_proxies = ["127.0.0.5/32"]\n')
        cls.d.allow("127.0.0.1")
        cls.d.allow("127.0.0.5")

    @classmethod
    def tearDownClass(cls):
        cls.d.cleanup()

    def test_entries_normalized_duplicates_and_errors(self):
        d = self.d
        r = d.admin("POST", "/v1/admin/allowlist", {"cidr": "2001:DB8:0:0::/32"})
        self.assertEqual(r.status, 201, r)
        self.assertEqual(r.json()["cidr"], "2001:db8::/32")
        r = d.admin("POST", "/v1/admin/allowlist", {"cidr": "2001:db8::/32"})
        self.assertEqual(r.status, 409)
        r = d.admin("POST", "/v1/admin/allowlist", {"cidr": "10.1.2.3/8"})
        self.assertEqual(r.status, 400)
        self.assertIn("10.0.0.0/8", r.json()["message"])
        for bad in ("10.0.0.256", "1.2.3.4/33", "", "banana", "::1/129"):
            r = d.admin("POST", "/v1/admin/allowlist", {"cidr": bad})
            self.assertEqual(r.status, 400, bad)
        r = d.admin("POST", "/v1/admin/allowlist", {"cidr": "198.51.100.7"})
        self.assertEqual(r.json()["cidr"], "198.51.100.7/32")
        self.assertEqual(d.admin("DELETE", "/v1/admin/allowlist/198.51.100.7%2F32").status, 204)
        self.assertEqual(d.admin("DELETE", "/v1/admin/allowlist/198.51.100.7%2F32").status, 404)
        self.assertEqual(d.ctl("allowlist", "remove", "2001:db8::/32").returncode, 0)
        listed = [e["cidr"] for e in d.admin("GET", "/v1/admin/allowlist").json()]
        self.assertNotIn("2001:db8::/32", listed)

    def test_ipv6_loopback_and_mapped(self):
        # ::ffff:127.0.0.1 as an entry equals 127.0.0.1/32.
        r = self.d.admin("POST", "/v1/admin/allowlist", {"cidr": "::ffff:127.0.0.1"})
        self.assertEqual(r.status, 409, r)

    def test_update_applies_on_next_request(self):
        d = self.d
        # A peer that is neither allowed nor a trusted proxy is dropped at
        # accept, without an answer; /healthz is no exception.
        self.assertEqual(d.http("GET", "/v1/auth/jwks", source="127.0.0.2").status, DROPPED)
        self.assertEqual(d.http("GET", "/healthz", source="127.0.0.2").status, DROPPED)
        d.ctl("allowlist", "add", "127.0.0.2")
        self.assertEqual(d.http("GET", "/v1/auth/jwks", source="127.0.0.2").status, 200)
        d.ctl("allowlist", "remove", "127.0.0.2")
        self.assertEqual(d.http("GET", "/v1/auth/jwks", source="127.0.0.2").status, DROPPED)

    def test_x_forwarded_for(self):
        d = self.d
        xff = lambda v: {"X-Forwarded-For": v}
        # From a trusted proxy: the right-most untrusted hop is the client.
        r = d.http("GET", "/v1/auth/jwks", headers=xff("203.0.113.9"), source="127.0.0.5")
        self.assertEqual(r.status, 403)
        self.assertIn("203.0.113.9", r.json()["error_description"])
        r = d.http("GET", "/v1/auth/jwks", headers=xff("203.0.113.9, 127.0.0.1"), source="127.0.0.5")
        self.assertEqual(r.status, 200)
        r = d.http("GET", "/v1/auth/jwks", headers=xff("127.0.0.1, 203.0.113.9, 127.0.0.5"),
                   source="127.0.0.5")
        self.assertEqual(r.status, 403)
        r = d.http("GET", "/v1/auth/jwks", headers=xff("not-an-ip"), source="127.0.0.5")
        self.assertEqual(r.status, 400)
        # From an untrusted peer the header is ignored.
        r = d.http("GET", "/v1/auth/jwks", headers=xff("203.0.113.9"), source="127.0.0.1")
        self.assertEqual(r.status, 200)
        r = d.http("GET", "/v1/auth/jwks", headers=xff("127.0.0.1"), source="127.0.0.3")
        self.assertEqual(r.status, DROPPED)

    def test_no_stale_decision_after_acknowledged_change(self):
        """Adds and removes an entry while 8 threads request tokens from it: any
        request sent after a removal was acknowledged must be refused, and any
        sent after an add was acknowledged must be admitted."""
        d = self.d
        owner = d.create_credential("viewer", "race")
        lock = threading.Lock()
        state = {"allowed": False, "gen": 0}
        errors = []
        checked = {True: 0, False: 0}
        stop = time.time() + 6

        def client():
            while time.time() < stop:
                with lock:
                    gen, allowed = state["gen"], state["allowed"]
                r = d.token(owner, source="127.0.0.7")
                with lock:
                    # Odd generations mark a change in flight; a request that
                    # overlapped one may be decided either way.
                    settled = state["gen"] == gen and gen % 2 == 0
                if settled:
                    with lock:
                        checked[allowed] += 1
                    if (r.status == 200) != allowed:
                        errors.append((allowed, r.status))

        with concurrent.futures.ThreadPoolExecutor(8) as pool:
            futures = [pool.submit(client) for _ in range(8)]
            flips = 0
            while time.time() < stop:
                with lock:
                    state["gen"] += 1  # a change is in flight: decisions may go either way
                if state["allowed"]:
                    self.assertEqual(d.admin("DELETE", "/v1/admin/allowlist/127.0.0.7%2F32").status, 204)
                else:
                    self.assertEqual(d.admin("POST", "/v1/admin/allowlist", {"cidr": "127.0.0.7"}).status, 201)
                with lock:
                    state["allowed"] = not state["allowed"]
                    state["gen"] += 1
                flips += 1
                time.sleep(0.05)
            for f in futures:
                f.result()
        self.assertGreater(flips, 10)
        self.assertGreater(min(checked.values()), 20, checked)
        self.assertEqual(errors, [])


class RateLimitTest(unittest.TestCase):
    def test_failures_limited_per_client_and_address(self):
        with Daemon() as d:
            d.allow("127.0.0.0/8")
            cred = d.create_credential("viewer")
            wrong = dict(cred, client_secret="wrong")
            for _ in range(5):
                self.assertEqual(d.token(wrong, source="127.0.0.11").status, 401)
            r = d.token(wrong, source="127.0.0.11")
            self.assertEqual(r.status, 429)
            self.assertGreater(int(r.header("retry-after")), 0)
            # Even the right secret waits from that address...
            self.assertEqual(d.token(cred, source="127.0.0.11").status, 429)
            # ...but the same client from another address is not locked out.
            self.assertEqual(d.token(cred, source="127.0.0.12").status, 200)

    def test_address_limit_across_random_ids(self):
        with Daemon(config_extra="[rate_limit]\naddress_failures = 10\n") as d:
            d.allow("127.0.0.0/8")
            cred = d.create_credential("viewer")
            statuses = [d.token({"client_id": f"random{i}", "client_secret": "x"},
                                source="127.0.0.13").status for i in range(12)]
            self.assertEqual(statuses[:10], [401] * 10)
            self.assertEqual(statuses[10:], [429, 429])
            self.assertEqual(d.token(cred, source="127.0.0.14").status, 200)


class ConnectionBoundsTest(unittest.TestCase):
    def test_slow_client_times_out_and_limits_hold(self):
        with Daemon(server_extra="connection_timeout_seconds = 1\nmax_connections_per_address = 4\n") as d:
            d.allow("127.0.0.1")
            s = socket.create_connection(("127.0.0.1", d.port))
            s.sendall(b"POST /v1/auth/token HTTP/1.1\r\nHost: x\r\n")  # and then nothing
            s.settimeout(10)
            start = time.time()
            self.assertEqual(s.recv(100), b"")  # closed by the server
            self.assertLess(time.time() - start, 8)
            s.close()
            time.sleep(0.5)  # the timed-out slot is freed once MHD reaps the socket
            # Five connections from one address against a limit of four:
            # whichever the server's accept threads take last is refused, so
            # the test counts answers rather than naming the refused one.
            conns = [socket.create_connection(("127.0.0.1", d.port)) for _ in range(5)]
            def ask(c):
                try:
                    c.settimeout(5)
                    c.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
                    return c.recv(100)[:12]
                except (ConnectionResetError, BrokenPipeError):
                    return b""
            answers = [ask(c) for c in conns]  # all still open: none frees a slot
            for c in conns:
                c.close()
            self.assertEqual(sorted(answers), [b""] + [b"HTTP/1.1 200"] * 4)

    def test_too_many_headers(self):
        with Daemon() as d:
            d.allow("127.0.0.1")
            headers = {f"X-H{i}": "v" for i in range(80)}
            r = d.http("GET", "/v1/auth/jwks", headers=headers)
            self.assertIn(r.status, (413, 431))


if __name__ == "__main__":
    unittest.main()
