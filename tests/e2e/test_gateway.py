"""Protecting the appliance's API: a real nginx in front of a small upstream
service, asking authd (GET /v1/auth/check) about every request through the
snippets operators install (systemd/nginx/authd-gateway.conf and
authd-protect.conf, included by path, unchanged); then token introspection
and revocation against authd directly.

Clients reach nginx from different loopback addresses (127.0.0.2 is on the
allowlist, 127.0.0.3 is not); nginx itself is 127.0.0.1, authd's only
trusted proxy. Tokens with chosen claims are signed by authd's own token key
in the throwaway SoftHSM2 token (pkcs11-tool), so that each rule of the
verification can be hit on its own."""
import base64
import hashlib
import http.client
import http.server
import json
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import threading
import time
import unittest
import urllib.parse

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature

from harness import DROPPED, Daemon, basic, form, request, wait_until

NGINX = shutil.which("nginx") or (
    "/usr/sbin/nginx" if os.access("/usr/sbin/nginx", os.X_OK) else None)
SNIPPETS = os.path.abspath(os.path.join(os.path.dirname(__file__), "../../systemd/nginx"))
SOFTHSM = "/usr/lib/softhsm/libsofthsm2.so"
FORM = {"Content-Type": "application/x-www-form-urlencoded"}

ALLOWED = "127.0.0.2"  # on the allowlist
OUTSIDER = "127.0.0.3"  # not on it

GATEWAY = """
[gateway]
default = "{default}"

[[gateway.routes]]
prefix = "/api/v1/data"
scopes = ["data:read"]

[[gateway.routes]]
prefix = "/api/v1/data/public"

[[gateway.routes]]
prefix = "/api/v1/devices"
scopes = ["devices:control"]

[[gateway.routes]]
prefix = "/api/v1/sites"
methods = ["GET", "HEAD"]
scopes = ["data:read"]

[[gateway.routes]]
prefix = "/api/v1/sites"
scopes = ["data:read", "devices:control"]
{more}"""


def gateway_config(default="deny", more=""):
    return GATEWAY.format(default=default, more=more)


def b64url(data):
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Upstream:
    """The appliance's API behind nginx: answers 200 with what it got."""

    def __init__(self):
        self.seen = []
        seen = self.seen

        class Echo(http.server.BaseHTTPRequestHandler):
            def answer(self):
                n = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(n).decode() if n else ""
                got = {"method": self.command, "path": self.path, "body": body,
                       "authd": {k.lower(): self.headers.get_all(k)
                                 for k in set(self.headers.keys())
                                 if k.lower().startswith("x-authd")}}
                seen.append(got)
                out = json.dumps(got).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(out)))
                self.end_headers()
                if self.command != "HEAD":
                    self.wfile.write(out)

            do_GET = do_HEAD = do_POST = do_PUT = do_DELETE = do_PATCH = answer

            def log_message(self, *args):
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Echo)
        self.port = self.server.server_address[1]
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def close(self):
        self.server.shutdown()
        self.server.server_close()


class Nginx:
    """nginx in its own prefix directory, running the operator's setup: the
    upstream `authd`, authd-gateway.conf in the server, authd-protect.conf in
    the protected location. `server_extra` goes into the server block."""

    def __init__(self, authd, upstream_port, ca_file, server_extra=""):
        self.dir = tempfile.mkdtemp(prefix="authd-nginx-")
        os.makedirs(os.path.join(self.dir, "authd"))
        # What the operator copies: authd's certificate as the trust anchor,
        # at the path the snippet names relative to nginx's conf dir.
        shutil.copy(ca_file, os.path.join(self.dir, "authd", "authd-ca.crt"))
        self.port = free_port()
        d = self.dir
        user = "user root;" if os.geteuid() == 0 else ""
        with open(os.path.join(d, "nginx.conf"), "w") as f:
            f.write(f"""{user}
worker_processes 1;
pid {d}/nginx.pid;
error_log {d}/error.log info;
events {{ worker_connections 128; }}
http {{
    access_log {d}/access.log;
    client_body_temp_path {d}/body;
    proxy_temp_path {d}/proxy;
    fastcgi_temp_path {d}/fastcgi;
    uwsgi_temp_path {d}/uwsgi;
    scgi_temp_path {d}/scgi;

    upstream authd {{
        server 127.0.0.1:{authd.port};
        keepalive 4;
    }}

    server {{
        listen 127.0.0.1:{self.port};
        {server_extra}
        include {SNIPPETS}/authd-gateway.conf;

        location / {{
            include {SNIPPETS}/authd-protect.conf;
            proxy_pass http://127.0.0.1:{upstream_port};
        }}
    }}
}}
""")
        self.proc = subprocess.Popen(
            [NGINX, "-p", d, "-c", os.path.join(d, "nginx.conf"), "-e",
             os.path.join(d, "error.log"), "-g", "daemon off;"],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)

        def up():
            if self.proc.poll() is not None:
                raise RuntimeError(f"nginx exited {self.proc.returncode}:\n{self.log()}")
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=1).close()
                return True
            except OSError:
                return False

        if not wait_until(up, timeout=10):
            self.stop()
            raise RuntimeError("nginx did not start:\n" + self.log())

    def log(self):
        try:
            with open(os.path.join(self.dir, "error.log")) as f:
                return f.read()
        except OSError:
            return ""

    def request(self, method, path, token=None, source=ALLOWED, headers=None, body=None):
        headers = dict(headers or {})
        if token is not None:
            headers["Authorization"] = "Bearer " + token
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=15,
                                          source_address=(source, 0))
        return request(conn, method, path, body, headers)

    def stop(self):
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)  # fast shutdown, workers too
            self.proc.wait(timeout=30)

    def cleanup(self):
        self.stop()
        shutil.rmtree(self.dir, ignore_errors=True)


@unittest.skipIf(NGINX is None, "nginx is not installed (apt-get install nginx-light); "
                                "scripts/install-deps.sh installs it")
class GatewayTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.cleanups = []
        try:
            cls.start()
        except BaseException:
            cls.tearDownClass()
            raise

    @classmethod
    def start(cls):
        # A fixed port, so that nginx's upstream stays right across restarts;
        # a certificate naming "authd", the name the shipped snippet checks.
        cls.d = Daemon(tls=True, listen=f"127.0.0.1:{free_port()}", tls_names=("authd",),
                       server_extra='trusted_proxies = ["127.0.0.1/32"]\n',
                       config_extra=gateway_config())
        cls.cleanups.append(cls.d.cleanup)
        cls.d.allow("127.0.0.1")  # the test's own calls to authd
        cls.d.allow(ALLOWED)
        cls.upstream = Upstream()
        cls.cleanups.append(cls.upstream.close)
        cls.ca = os.path.join(cls.d.dir, "tls.crt")
        cls.nginx = Nginx(cls.d, cls.upstream.port, cls.ca)
        cls.cleanups.append(cls.nginx.cleanup)
        cls.viewer = cls.d.create_credential("viewer", "viewer")
        cls.operator = cls.d.create_credential("operator", "operator")
        cls.rs = cls.d.create_credential("resource-server", "rs")
        cls.viewer_token = cls.d.access_token(cls.viewer)
        cls.operator_token = cls.d.access_token(cls.operator)
        keys = json.loads(cls.d.ctl("--json", "keys", "list").stdout)
        cls.kid = [k["kid"] for k in keys if k["use"] == "token" and k["state"] == "active"][0]

    @classmethod
    def tearDownClass(cls):
        for cleanup in reversed(cls.cleanups):
            cleanup()

    # --- helpers ---------------------------------------------------------
    def via(self, method, path, token=None, **kw):
        """A request through nginx; returns (reply, what upstream saw or None)."""
        before = len(self.upstream.seen)
        r = self.nginx.request(method, path, token, **kw)
        seen = self.upstream.seen[before:]
        if r.status == 200:
            self.assertEqual(len(seen), 1, r)
            return r, seen[0]
        self.assertEqual(seen, [], f"a refused request reached upstream: {r}")
        return r, None

    def check(self, method, uri, token=None, client=ALLOWED, path="/v1/auth/check"):
        """authd's check asked directly, as nginx asks it."""
        headers = {"X-Forwarded-For": client}
        if method is not None:
            headers["X-Original-Method"] = method
        if uri is not None:
            headers["X-Original-URI"] = uri
        if token is not None:
            headers["Authorization"] = "Bearer " + token
        return self.d.http("GET", path, headers=headers)

    def post(self, path, cred, **fields):
        return self.d.http("POST", path, form(**fields),
                           dict(FORM, Authorization=basic(cred["client_id"], cred["client_secret"])))

    def introspect(self, token, cred=None):
        return self.post("/v1/auth/introspect", cred or self.rs, token=token)

    def revoke(self, token, cred):
        return self.post("/v1/auth/revoke", cred, token=token)

    def sighup(self, config_extra, probe):
        """Rewrites the [gateway] part of the config, reloads authd and waits
        until `probe` sees the new rules."""
        with open(self.d.config) as f:
            text = f.read()
        head = text[:text.index("\n[gateway]")]
        with open(self.d.config, "w") as f:
            f.write(head + "\n" + config_extra)
        self.d.proc.send_signal(signal.SIGHUP)
        self.assertTrue(wait_until(probe), self.d.read_log()[-2000:])

    def hsm_sign(self, data):
        """ES256 signature of `data` by authd's token key, in the HSM."""
        digest = os.path.join(self.d.dir, "digest.bin")
        sig = os.path.join(self.d.dir, "sig.bin")
        with open(digest, "wb") as f:
            f.write(hashlib.sha256(data).digest())
        with open(self.d.pin_file) as f:
            pin = f.read().strip()
        subprocess.run(["pkcs11-tool", "--module", SOFTHSM, "--token-label", "authd",
                        "--login", "--pin", pin, "--sign", "--mechanism", "ECDSA",
                        # authd sets CKA_ID to the label; pkcs11-tool's --sign
                        # selects the key by id (it would ignore --label).
                        "--id", b"authd-token-signing".hex(), "--input-file", digest,
                        "--output-file", sig],
                       env=self.d.env, check=True, capture_output=True)
        with open(sig, "rb") as f:
            return f.read()  # r || s, as JWS wants it

    def craft(self, key=None, header=None, **claims):
        """A token for the viewer credential with chosen claims, signed by
        authd's key (or by `key`, a foreign one). A claim set to None is
        left out."""
        now = int(time.time())
        cid = self.viewer["client_id"]
        body = {"iss": self.d.issuer, "sub": cid, "client_id": cid, "aud": self.d.audience,
                "iat": now, "nbf": now, "exp": now + 300, "jti": b64url(os.urandom(16)),
                "scope": "data:read", "role": "viewer"}
        body.update(claims)
        body = {k: v for k, v in body.items() if v is not None}
        head = {"alg": "ES256", "typ": "at+jwt", "kid": self.kid, **(header or {})}
        signing_input = (b64url(json.dumps(head).encode()) + "."
                         + b64url(json.dumps(body).encode())).encode()
        if key is None:
            sig = self.hsm_sign(signing_input)
        else:
            r, s = decode_dss_signature(key.sign(signing_input, ec.ECDSA(hashes.SHA256())))
            sig = r.to_bytes(32, "big") + s.to_bytes(32, "big")
        return signing_input.decode() + "." + b64url(sig)

    def assert_challenge(self, r, status, error):
        self.assertEqual(r.status, status, r)
        self.assertIn(f'error="{error}"', r.header("www-authenticate") or "", r.headers)

    # --- through nginx ---------------------------------------------------
    def test_allowed_request_reaches_upstream_with_the_caller(self):
        forged = {"X-Authd-Client-Id": "someone-else", "X-Authd-Scope": "admin:write",
                  "X-Authd-Role": "owner"}
        r, seen = self.via("GET", "/api/v1/data/7?x=1", self.viewer_token, headers=forged)
        self.assertEqual(r.status, 200, r)
        self.assertEqual(seen["method"], "GET")
        self.assertEqual(seen["path"], "/api/v1/data/7?x=1")
        self.assertEqual(seen["authd"], {
            "x-authd-client-id": [self.viewer["client_id"]],
            "x-authd-role": ["viewer"],
            "x-authd-scope": ["data:read"]})
        r, seen = self.via("GET", "/api/v1/devices/1", self.operator_token)
        self.assertEqual(r.status, 200, r)
        self.assertEqual(seen["authd"]["x-authd-scope"], ["data:read devices:control"])
        self.assertEqual(seen["authd"]["x-authd-client-id"], [self.operator["client_id"]])

    def test_forged_headers_are_not_trusted_on_a_refusal_either(self):
        r, _ = self.via("GET", "/api/v1/data/7",
                        headers={"X-Authd-Client-Id": self.viewer["client_id"]})
        self.assert_challenge(r, 401, "invalid_token")
        # A client cannot claim an allowlisted address through X-Forwarded-For.
        r, _ = self.via("GET", "/api/v1/data/7", self.viewer_token, source=OUTSIDER,
                        headers={"X-Forwarded-For": ALLOWED})
        self.assertEqual(r.status, 403, r)

    def test_missing_or_bad_tokens_are_401(self):
        foreign = ec.generate_private_key(ec.SECP256R1())
        now = int(time.time())
        cases = {
            "no token": None,
            "garbage": "garbage",
            # The viewer's claims under the operator token's signature.
            "bad signature": (self.viewer_token.rsplit(".", 1)[0] + "."
                              + self.operator_token.rsplit(".", 1)[1]),
            "foreign key": self.craft(key=foreign),
            "expired": self.craft(iat=now - 700, nbf=now - 700, exp=now - 100),
            "not yet valid": self.craft(nbf=now + 60),
            "wrong audience": self.craft(aud="another-api"),
            "wrong issuer": self.craft(iss="https://elsewhere.test"),
            "not an access token": self.craft(header={"typ": "JWT"}),
            "unknown credential": self.craft(client_id="nobody", sub="nobody"),
        }
        for name, token in cases.items():
            with self.subTest(name):
                r, _ = self.via("GET", "/api/v1/data/7", token)
                self.assert_challenge(r, 401, "invalid_token")
        # What authd says about them (nginx shows the client only the status).
        for name, words in [("expired", "expired"), ("not yet valid", "not valid yet"),
                            ("wrong audience", "audience"), ("wrong issuer", "issuer")]:
            with self.subTest(name):
                r = self.check("GET", "/api/v1/data/7", cases[name])
                self.assert_challenge(r, 401, "invalid_token")
                self.assertIn(words, r.json()["error_description"])

    def test_crafted_token_with_good_claims_passes_and_nbf_has_leeway(self):
        # The crafting itself is sound: the same recipe with good claims passes.
        r, seen = self.via("GET", "/api/v1/data/7", self.craft())
        self.assertEqual(r.status, 200, r)
        self.assertEqual(seen["authd"]["x-authd-client-id"], [self.viewer["client_id"]])
        # authority::kNotBeforeLeewaySeconds = 5: a clock slightly ahead is fine.
        r, _ = self.via("GET", "/api/v1/data/7", self.craft(nbf=int(time.time()) + 2))
        self.assertEqual(r.status, 200, r)

    def test_client_address_not_on_the_allowlist_is_403(self):
        r, _ = self.via("GET", "/api/v1/data/7", self.viewer_token, source=OUTSIDER)
        self.assertEqual(r.status, 403, r)
        r = self.check("GET", "/api/v1/data/7", self.viewer_token, client=OUTSIDER)
        self.assert_challenge(r, 403, "access_denied")
        self.assertIn(OUTSIDER, r.json()["error_description"])

    def test_route_scope_missing_is_403(self):
        r, _ = self.via("GET", "/api/v1/devices/1", self.viewer_token)
        self.assertEqual(r.status, 403, r)
        r = self.check("GET", "/api/v1/devices/1", self.viewer_token)
        self.assert_challenge(r, 403, "insufficient_scope")
        self.assertIn('scope="devices:control"', r.header("www-authenticate"))

    def test_method_rules(self):
        # GET on /api/v1/sites needs data:read (the rule naming GET wins over
        # the one for every method); other methods need both scopes.
        r, seen = self.via("GET", "/api/v1/sites/3", self.viewer_token)
        self.assertEqual(r.status, 200, r)
        r, _ = self.via("POST", "/api/v1/sites/3", self.viewer_token, body="{}",
                        headers={"Content-Type": "application/json"})
        self.assertEqual(r.status, 403, r)
        r, seen = self.via("POST", "/api/v1/sites/3", self.operator_token, body='{"on":true}',
                           headers={"Content-Type": "application/json"})
        self.assertEqual(r.status, 200, r)
        self.assertEqual((seen["method"], seen["body"]), ("POST", '{"on":true}'))
        # All listed scopes are needed: devices:control alone is not enough.
        narrowed = self.d.access_token(self.operator, scope="devices:control")
        r, _ = self.via("DELETE", "/api/v1/sites/3", narrowed)
        self.assertEqual(r.status, 403, r)
        r, _ = self.via("DELETE", "/api/v1/sites/3", self.operator_token)
        self.assertEqual(r.status, 200, r)

    def test_chunked_body_is_not_sent_to_authd(self):
        conn = http.client.HTTPConnection("127.0.0.1", self.nginx.port, timeout=15,
                                          source_address=(ALLOWED, 0))
        before = len(self.upstream.seen)
        try:
            conn.request("POST", "/api/v1/sites/3", body=iter([b'{"a":', b"1}"]),
                         headers={"Authorization": "Bearer " + self.operator_token,
                                  "Content-Type": "application/json"},
                         encode_chunked=True)
            r = conn.getresponse()
            r.read()
        finally:
            conn.close()
        self.assertEqual(r.status, 200)
        self.assertEqual(self.upstream.seen[before]["body"], '{"a":1}')

    def test_longest_whole_segment_prefix_and_default_deny(self):
        narrowed = self.d.access_token(self.operator, scope="devices:control")
        # /api/v1/data/public has a rule without scopes: any valid token.
        r, _ = self.via("GET", "/api/v1/data/public/logo", narrowed)
        self.assertEqual(r.status, 200, r)
        r, _ = self.via("GET", "/api/v1/data/7", narrowed)
        self.assertEqual(r.status, 403, r)
        # Prefixes match whole segments: /api/v1/database is no data path,
        # and no rule covers it: default deny.
        for path in ("/api/v1/database", "/api/v1/other", "/", "/API/v1/data/7"):
            with self.subTest(path):
                r, _ = self.via("GET", path, self.operator_token)
                self.assertEqual(r.status, 403, r)
        r = self.check("GET", "/api/v1/other", self.operator_token)
        self.assert_challenge(r, 403, "insufficient_scope")

    def test_dot_segments_and_encodings_do_not_reach_the_data_rule(self):
        sneaky = ["/api/v1/data/../devices/1",
                  "/api/v1/data/%2e%2e/devices/1",
                  "/api/v1/data/%2E%2E/devices/1",
                  "/api/v1/data/.%2e/devices/1",
                  "/api/v1/data/./../devices/1",
                  "/api/v1/data//../../v1/devices/1",
                  "/api/v1/%64ata/../devices/1",
                  "/api/v1/data%2F..%2Fdevices/1",
                  "/api/v1/data%2f..%2fdevices/1"]
        for path in sneaky:
            with self.subTest(path):
                r, _ = self.via("GET", path, self.viewer_token)
                self.assertEqual(r.status, 403, r)
        # The operator may reach the devices: the devices rule applied.
        r, _ = self.via("GET", "/api/v1/data/../devices/1", self.operator_token)
        self.assertEqual(r.status, 200, r)
        # Encoded unreserved characters are the same path.
        r, _ = self.via("GET", "/api/v1/%64ata/%37", self.viewer_token)
        self.assertEqual(r.status, 200, r)

    def test_deleted_credential_token_is_refused_at_once(self):
        cred = self.d.create_credential("viewer", "short-lived")
        token = self.d.access_token(cred)
        r, _ = self.via("GET", "/api/v1/data/7", token)
        self.assertEqual(r.status, 200, r)
        r = self.d.admin("DELETE", "/v1/admin/credentials/" + cred["client_id"])
        self.assertEqual(r.status, 204, r)
        r, _ = self.via("GET", "/api/v1/data/7", token)
        self.assert_challenge(r, 401, "invalid_token")
        self.assertEqual(self.introspect(token).json(), {"active": False})

    def test_revoked_token_is_refused_at_once_and_after_a_restart(self):
        cred = self.d.create_credential("viewer", "revoker")
        token, other = self.d.access_token(cred), self.d.access_token(cred)
        r, _ = self.via("GET", "/api/v1/data/7", token)
        self.assertEqual(r.status, 200, r)
        r = self.revoke(token, cred)
        self.assertEqual((r.status, r.json()), (200, {}), r)
        r, _ = self.via("GET", "/api/v1/data/7", token)
        self.assert_challenge(r, 401, "invalid_token")
        self.assertIn("revoked", self.check("GET", "/api/v1/data/7", token).json()["error_description"])
        # Only that token: the client's other token still works.
        r, _ = self.via("GET", "/api/v1/data/7", other)
        self.assertEqual(r.status, 200, r)

        self.d.stop()
        try:
            # authd down: nginx fails closed.
            r, _ = self.via("GET", "/api/v1/data/7", other)
            self.assertEqual(r.status, 500, r)
        finally:
            self.d.start()
        r, _ = self.via("GET", "/api/v1/data/7", token)
        self.assert_challenge(r, 401, "invalid_token")
        self.assertEqual(self.introspect(token).json(), {"active": False})
        r, _ = self.via("GET", "/api/v1/data/7", other)
        self.assertEqual(r.status, 200, r)

    def test_sighup_applies_changed_routes(self):
        path = "/api/v1/reports/9"
        r, _ = self.via("GET", path, self.viewer_token)
        self.assertEqual(r.status, 403, r)
        more = '\n[[gateway.routes]]\nprefix = "/api/v1/reports"\nscopes = ["data:read"]\n'
        try:
            self.sighup(gateway_config(more=more),
                        lambda: self.via("GET", path, self.viewer_token)[0].status == 200)
            r, seen = self.via("GET", path, self.viewer_token)
            self.assertEqual(seen["path"], path)
            r, _ = self.via("GET", path, self.craft(scope="other"))
            self.assertEqual(r.status, 403, r)
        finally:
            self.sighup(gateway_config(),
                        lambda: self.via("GET", path, self.viewer_token)[0].status == 403)

    def test_default_authenticated(self):
        try:
            self.sighup(gateway_config(default="authenticated"),
                        lambda: self.via("GET", "/api/v1/other", self.viewer_token)[0].status == 200)
            # Any valid token passes where no rule applies; rules still hold,
            # and an invalid token is still refused.
            narrowed = self.d.access_token(self.operator, scope="devices:control")
            r, seen = self.via("GET", "/api/v1/other", narrowed)
            self.assertEqual(r.status, 200, r)
            self.assertEqual(seen["authd"]["x-authd-scope"], ["devices:control"])
            r, _ = self.via("GET", "/api/v1/devices/1", self.viewer_token)
            self.assertEqual(r.status, 403, r)
            r, _ = self.via("GET", "/api/v1/other", "garbage")
            self.assertEqual(r.status, 401, r)
            r, _ = self.via("GET", "/api/v1/other", self.viewer_token, source=OUTSIDER)
            self.assertEqual(r.status, 403, r)
        finally:
            self.sighup(gateway_config(),
                        lambda: self.via("GET", "/api/v1/other", self.viewer_token)[0].status == 403)

    def test_certificate_not_verified_fails_closed(self):
        # A server that checks another name: the snippet's location inherits
        # proxy_ssl_name, authd's certificate does not match, nginx answers
        # 500 and forwards nothing.
        other = Nginx(self.d, self.upstream.port, self.ca,
                      server_extra="proxy_ssl_name other.example;")
        try:
            before = len(self.upstream.seen)
            r = other.request("GET", "/api/v1/data/7", self.viewer_token)
            self.assertEqual(r.status, 500, r)
            self.assertEqual(len(self.upstream.seen), before)
            self.assertIn("upstream SSL certificate does not match", other.log())
        finally:
            other.cleanup()

    # --- authd directly --------------------------------------------------
    def test_check_answers(self):
        r = self.check("GET", "/api/v1/data/7", self.viewer_token)
        self.assertEqual(r.status, 204, r)
        self.assertEqual(r.body, b"")
        self.assertEqual(r.header("x-authd-client-id"), self.viewer["client_id"])
        self.assertEqual(r.header("x-authd-role"), "viewer")
        self.assertEqual(r.header("x-authd-scope"), "data:read")
        self.assertEqual(r.header("cache-control"), "no-store")
        r = self.check("GET", "/api/v1/data/7")
        self.assertEqual(r.status, 401, r)
        self.assertEqual(r.header("www-authenticate"), 'Bearer realm="authd", error="invalid_token"')
        self.assertEqual(r.json()["error"], "invalid_token")

    def test_check_envoy_style(self):
        # Envoy's ext_authz: the original method is the check's own, the
        # original path follows /v1/auth/check.
        headers = {"X-Forwarded-For": ALLOWED, "Authorization": "Bearer " + self.viewer_token}
        r = self.d.http("GET", "/v1/auth/check/api/v1/sites/3", headers=headers)
        self.assertEqual(r.status, 204, r)
        r = self.d.http("POST", "/v1/auth/check/api/v1/sites/3", headers=headers)
        self.assertEqual(r.status, 403, r)
        r = self.d.http("GET", "/v1/auth/check/api/v1/devices/1", headers=headers)
        self.assertEqual(r.status, 403, r)
        r = self.d.http("POST", "/v1/auth/check/api/v1/sites/3",
                        headers=dict(headers, Authorization="Bearer " + self.operator_token))
        self.assertEqual(r.status, 204, r)

    def test_introspection(self):
        r = self.introspect(self.viewer_token)
        self.assertEqual(r.status, 200, r)
        self.assertEqual(r.header("cache-control"), "no-store")
        body = r.json()
        self.assertEqual(set(body), {"active", "scope", "client_id", "sub", "role", "exp", "iat",
                                     "nbf", "iss", "aud", "jti", "token_type"})
        self.assertIs(body["active"], True)
        self.assertEqual((body["client_id"], body["sub"], body["role"], body["scope"]),
                         (self.viewer["client_id"], self.viewer["client_id"], "viewer", "data:read"))
        self.assertEqual((body["iss"], body["aud"], body["token_type"]),
                         (self.d.issuer, self.d.audience, "Bearer"))
        self.assertGreater(body["exp"], time.time())
        self.assertLessEqual(body["iat"], time.time() + 1)
        # client_secret_post works as well.
        r = self.d.http("POST", "/v1/auth/introspect",
                        form(token=self.operator_token, client_id=self.rs["client_id"],
                             client_secret=self.rs["client_secret"]), FORM)
        self.assertEqual((r.status, r.json()["scope"]), (200, "data:read devices:control"), r)
        now = int(time.time())
        for token in ("garbage", self.craft(exp=now - 1, iat=now - 100, nbf=now - 100),
                      self.craft(aud="another-api")):
            r = self.introspect(token)
            self.assertEqual(r.status, 200, r)
            self.assertEqual(r.body.strip(), b'{"active":false}')

    def test_introspection_needs_scope_and_client_auth(self):
        r = self.introspect(self.viewer_token, cred=self.viewer)
        self.assertEqual(r.status, 403, r)
        self.assertEqual(r.json()["error"], "insufficient_scope")
        bad = dict(self.rs, client_secret=self.rs["client_secret"][:-1] + "x")
        r = self.introspect(self.viewer_token, cred=bad)
        self.assertEqual(r.status, 401, r)
        self.assertEqual(r.json()["error"], "invalid_client")
        self.assertTrue(r.header("www-authenticate").startswith("Basic"))
        r = self.d.http("POST", "/v1/auth/introspect", form(token=self.viewer_token), FORM)
        self.assertEqual(r.status, 401, r)
        r = self.post("/v1/auth/introspect", self.rs)
        self.assertEqual(r.status, 400, r)
        # The allowlist applies to the caller.
        r = self.d.http("POST", "/v1/auth/introspect", form(token=self.viewer_token),
                        dict(FORM, Authorization=basic(self.rs["client_id"], self.rs["client_secret"])),
                        source=OUTSIDER)
        self.assertEqual(r.status, DROPPED, r)  # at accept

    def test_revocation_rules(self):
        # Unknown tokens: 200, nothing to do.
        for token in ("garbage", self.craft(client_id="nobody", sub="nobody")):
            r = self.revoke(token, self.viewer)
            self.assertEqual((r.status, r.json()), (200, {}), r)
        # Another client's token: 200, and it is not revoked.
        victim = self.d.access_token(self.operator)
        r = self.revoke(victim, self.viewer)
        self.assertEqual((r.status, r.json()), (200, {}), r)
        r, _ = self.via("GET", "/api/v1/devices/1", victim)
        self.assertEqual(r.status, 200, r)
        self.assertIs(self.introspect(victim).json()["active"], True)
        # Client authentication is required.
        bad = dict(self.operator, client_secret="authd_s_wrong")
        r = self.revoke(victim, bad)
        self.assertEqual((r.status, r.json()["error"]), (401, "invalid_client"), r)
        r = self.d.http("POST", "/v1/auth/revoke", form(token=victim), FORM)
        self.assertEqual(r.status, 401, r)
        r = self.post("/v1/auth/revoke", self.operator)
        self.assertEqual(r.status, 400, r)
        r = self.d.http("GET", "/v1/auth/revoke")
        self.assertEqual((r.status, r.header("allow")), (405, "POST"), r)
        self.assertIs(self.introspect(victim).json()["active"], True)
        # Its own client can revoke it (client_secret_post).
        r = self.d.http("POST", "/v1/auth/revoke",
                        form(token=victim, client_id=self.operator["client_id"],
                             client_secret=self.operator["client_secret"]), FORM)
        self.assertEqual(r.status, 200, r)
        self.assertEqual(self.introspect(victim).json(), {"active": False})
        r, _ = self.via("GET", "/api/v1/devices/1", victim)
        self.assertEqual(r.status, 401, r)


if __name__ == "__main__":
    unittest.main()
