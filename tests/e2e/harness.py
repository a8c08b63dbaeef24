"""Runs the real authd against a throwaway SoftHSM2 token, for e2e tests.

Each Daemon gets its own temp dir holding softhsm2.conf, the token, the PIN
files, the database, the config and the admin socket; it binds port 0 and
learns the port from authd's "event=listening" log line.
"""
import base64
import http.client
import json
import os
import secrets
import shutil
import socket
import ssl
import subprocess
import tempfile
import time
import urllib.parse

BIN = os.environ.get("AUTHD_BIN", os.path.join(os.path.dirname(__file__), "../../build/bin"))
AUTHD = os.path.join(BIN, "authd")
AUTHCTL = os.path.join(BIN, "authctl")
TOKEN_INIT = os.path.join(BIN, "authd-token-init")


class UnixHTTPConnection(http.client.HTTPConnection):
    def __init__(self, path, timeout=30):
        super().__init__("localhost", timeout=timeout)
        self._path = path

    def connect(self):
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.settimeout(self.timeout)
        self.sock.connect(self._path)


class Reply:
    def __init__(self, status, headers, body):
        self.status = status
        self.headers = headers
        self.body = body

    def json(self):
        return json.loads(self.body)

    def header(self, name):
        return self.headers.get(name.lower())

    def __repr__(self):
        return f"Reply({self.status}, {self.body[:300]!r})"


# The status of a request whose connection was closed without an answer, as
# authd does at accept for a peer that is neither allowed nor a trusted proxy.
DROPPED = 0


def request(conn, method, path, body=None, headers=None):
    headers = dict(headers or {})
    if isinstance(body, (dict, list)):
        body = json.dumps(body).encode()
        headers.setdefault("Content-Type", "application/json")
    elif isinstance(body, str):
        body = body.encode()
    try:
        try:
            conn.request(method, path, body=body, headers=headers)
            r = conn.getresponse()
        except (ConnectionResetError, BrokenPipeError, http.client.RemoteDisconnected,
                ssl.SSLZeroReturnError, ssl.SSLEOFError):
            return Reply(DROPPED, {}, b"")
        data = r.read()
        return Reply(r.status, {k.lower(): v for k, v in r.getheaders()}, data)
    finally:
        conn.close()


def wait_until(probe, timeout=10, interval=0.05):
    """Polls probe() until it returns something truthy or timeout seconds
    pass; returns its last value. For conditions only the real daemon can
    bring about (a wall-clock expiry, a reload), never as a fixed delay."""
    deadline = time.time() + timeout
    value = probe()
    while not value and time.time() < deadline:
        time.sleep(interval)
        value = probe()
    return value


def iso(offset):
    """RFC 3339 UTC time `offset` seconds from now, as expires_at takes it."""
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(time.time() + offset))


def form(**fields):
    return urllib.parse.urlencode(fields)


def basic(client_id, secret):
    raw = f"{urllib.parse.quote(client_id, safe='')}:{urllib.parse.quote(secret, safe='')}"
    return "Basic " + base64.b64encode(raw.encode()).decode()


class Daemon:
    """One authd process. Use as a context manager or call stop().

    `listen` is the TCP listener (port 0 picks a new one at each start; a
    fixed port survives stop() and start()); `tls_names` adds DNS names to
    the self-signed certificate made for tls=True."""

    def __init__(self, config_extra="", tokens_extra="", server_extra="",
                 ttl=600, start=True, module="softhsm2", pin=None, tls=False,
                 env=None, hsm_extra="", listen="127.0.0.1:0", tls_names=()):
        self.dir = tempfile.mkdtemp(prefix="authd-e2e-")
        self.socket = os.path.join(self.dir, "admin.sock")
        self.db = os.path.join(self.dir, "authd.db")
        self.log_path = os.path.join(self.dir, "authd.log")
        self.env = dict(os.environ, SOFTHSM2_CONF=os.path.join(self.dir, "softhsm2.conf"),
                        **(env or {}))
        os.makedirs(os.path.join(self.dir, "tokens"))
        with open(self.env["SOFTHSM2_CONF"], "w") as f:
            f.write(f"directories.tokendir = {self.dir}/tokens\nobjectstore.backend = file\nlog.level = ERROR\n")
        os.chmod(self.dir, 0o700)
        old_umask = os.umask(0o077)
        self.pin_file = os.path.join(self.dir, "pin")
        with open(self.pin_file, "w") as f:
            f.write(secrets.token_hex(8) + "\n")
        with open(os.path.join(self.dir, "so-pin"), "w") as f:
            f.write(secrets.token_hex(8) + "\n")
        subprocess.run([TOKEN_INIT, "--label", "authd", "--so-pin-file",
                        os.path.join(self.dir, "so-pin"), "--pin-file", self.pin_file],
                       env=self.env, check=True, capture_output=True)
        if pin is not None:
            with open(self.pin_file, "w") as f:
                f.write(pin)
        os.umask(old_umask)
        self.tls = tls
        tls_lines = ""
        if tls == "hsm":
            # The TLS key is generated in the token and never exists as a
            # file; GnuTLS's tools read this throwaway token's PIN from
            # GNUTLS_PIN (test only: authd itself takes PINs from files).
            with open(self.pin_file) as f:
                tool_env = dict(self.env, GNUTLS_PIN=f.read().strip())
            subprocess.run(["p11tool", "--login", "--generate-ecc", "--curve=secp256r1",
                            "--label", "authd-tls", "pkcs11:token=authd"],
                           env=tool_env, check=True, capture_output=True)
            template = os.path.join(self.dir, "cert.tmpl")
            with open(template, "w") as f:
                f.write('cn = "localhost"\nip_address = "127.0.0.1"\nexpiration_days = 2\n'
                        'tls_www_server\nsigning_key\n')
            subprocess.run(["certtool", "--generate-self-signed", "--load-privkey",
                            "pkcs11:token=authd;object=authd-tls;type=private",
                            "--template", template,
                            "--outfile", os.path.join(self.dir, "tls.crt")],
                           env=tool_env, check=True, capture_output=True)
            tls_lines = (f'tls_cert = "{self.dir}/tls.crt"\n'
                         'tls_key = "pkcs11:token=authd;object=authd-tls;type=private"\n')
        elif tls:
            subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt",
                            "ec_paramgen_curve:P-256", "-nodes", "-days", "2",
                            "-subj", "/CN=localhost", "-addext",
                            ",".join(["subjectAltName=IP:127.0.0.1"]
                                     + [f"DNS:{n}" for n in tls_names]),
                            "-keyout", os.path.join(self.dir, "tls.key"),
                            "-out", os.path.join(self.dir, "tls.crt")],
                           check=True, capture_output=True)
            tls_lines = f'tls_cert = "{self.dir}/tls.crt"\ntls_key = "{self.dir}/tls.key"\n'
        self.issuer = "https://authd.test"
        self.audience = "powerhub-api"
        self.ttl = ttl
        self.config = os.path.join(self.dir, "authd.toml")
        with open(self.config, "w") as f:
            f.write(f"""[server]
listen = ["{listen}"]
admin_socket = "{self.socket}"
{tls_lines}{server_extra}
[storage]
path = "{self.db}"

[hsm]
module = "{module}"
token = "pkcs11:token=authd"
pin_file = "{self.pin_file}"
{hsm_extra}
[tokens]
issuer = "{self.issuer}"
audience = "{self.audience}"
ttl_seconds = {ttl}
{tokens_extra}
{config_extra}
""")
        self.proc = None
        self.port = None
        if start:
            self.start()

    # --- lifecycle -------------------------------------------------------
    def start(self, expect_ready=True, timeout=30):
        offset = os.path.getsize(self.log_path) if os.path.exists(self.log_path) else 0
        self.log = open(self.log_path, "ab")
        self.proc = subprocess.Popen([AUTHD, "--config", self.config], env=self.env,
                                     stdout=self.log, stderr=self.log)
        if not expect_ready:
            return
        deadline = time.time() + timeout
        while time.time() < deadline:
            text = self.read_log()[offset:]
            if "event=ready" in text:
                for line in reversed(text.splitlines()):
                    if "event=listening address=" in line:
                        self.port = int(line.rsplit(":", 1)[1])
                        break
                return
            if self.proc.poll() is not None:
                raise RuntimeError(f"authd exited {self.proc.returncode}:\n{text}")
            time.sleep(0.02)
        raise RuntimeError("authd did not become ready:\n" + self.read_log())

    def wait_exit(self, timeout=30):
        return self.proc.wait(timeout=timeout)

    def stop(self, sig=15):
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(sig)
            self.proc.wait(timeout=30)
        if getattr(self, "log", None):
            self.log.close()
        return self.proc.returncode if self.proc else None

    def cleanup(self):
        self.stop()
        shutil.rmtree(self.dir, ignore_errors=True)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.cleanup()

    def read_log(self):
        with open(self.log_path, "rb") as f:
            return f.read().decode("latin-1")

    # --- clients ---------------------------------------------------------
    def conn(self, source="127.0.0.1", timeout=30):
        if self.tls:
            import ssl
            ctx = ssl.create_default_context(cafile=os.path.join(self.dir, "tls.crt"))
            return http.client.HTTPSConnection("127.0.0.1", self.port, timeout=timeout,
                                               source_address=(source, 0), context=ctx)
        return http.client.HTTPConnection("127.0.0.1", self.port, timeout=timeout,
                                          source_address=(source, 0))

    def http(self, method, path, body=None, headers=None, source="127.0.0.1"):
        return request(self.conn(source), method, path, body, headers)

    def admin(self, method, path, body=None, headers=None):
        return request(UnixHTTPConnection(self.socket), method, path, body, headers)

    def ctl(self, *args, check=True):
        r = subprocess.run([AUTHCTL, "--socket", self.socket, *args],
                           capture_output=True, text=True, timeout=60)
        if check and r.returncode != 0:
            raise AssertionError(f"authctl {args} failed {r.returncode}: {r.stderr}")
        return r

    # --- conveniences ----------------------------------------------------
    def allow(self, cidr="127.0.0.1"):
        r = self.admin("POST", "/v1/admin/allowlist", {"cidr": cidr})
        assert r.status in (201, 409), r
        return r

    def create_credential(self, role="owner", name="test", expires_in=86400, expires_at=None):
        if expires_at is None:
            expires_at = iso(expires_in)
        r = self.admin("POST", "/v1/admin/credentials",
                       {"name": name, "role": role, "expires_at": expires_at})
        assert r.status == 201, r
        return r.json()

    def token(self, cred, scope=None, source="127.0.0.1"):
        fields = {"grant_type": "client_credentials"}
        if scope is not None:
            fields["scope"] = scope
        return self.http("POST", "/v1/auth/token", form(**fields),
                         {"Content-Type": "application/x-www-form-urlencoded",
                          "Authorization": basic(cred["client_id"], cred["client_secret"])},
                         source=source)

    def audit_pem(self):
        """Writes the audit public key as an auditor takes it (authctl keys
        list) and returns the file's path."""
        keys = json.loads(self.ctl("--json", "keys", "list").stdout)
        path = os.path.join(self.dir, "audit.pem")
        with open(path, "w") as f:
            f.write([k for k in keys if k["use"] == "audit"][0]["public_key_pem"])
        return path

    def access_token(self, cred, scope=None):
        r = self.token(cred, scope)
        assert r.status == 200, r
        return r.json()["access_token"]
