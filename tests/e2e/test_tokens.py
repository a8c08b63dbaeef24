"""The token endpoint end to end: issuance, verification by an independent
verifier (PyJWT), every error case, concurrency, and what never reaches disk."""
import base64
import concurrent.futures
import glob
import os
import socket
import subprocess
import json
import time
import unittest

import jwt  # PyJWT, Debian's python3-jwt: the independent verifier

from harness import DROPPED, Daemon, basic, form, wait_until

FORM = {"Content-Type": "application/x-www-form-urlencoded"}


def b64json(part):
    return json.loads(base64.urlsafe_b64decode(part + "=" * (-len(part) % 4)))


class TokenTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.d = Daemon()
        cls.d.allow("127.0.0.0/8")
        cls.owner = cls.d.create_credential("owner", "owner")
        cls.viewer = cls.d.create_credential("viewer", "viewer")

    @classmethod
    def tearDownClass(cls):
        cls.d.cleanup()

    def jwks_key(self):
        r = self.d.http("GET", "/v1/auth/jwks")
        self.assertEqual(r.status, 200)
        keys = r.json()["keys"]
        self.assertEqual(len(keys), 1)
        return keys[0]

    def verify(self, token):
        key = jwt.PyJWK(self.jwks_key())
        return jwt.decode(token, key.key, algorithms=["ES256"], audience=self.d.audience,
                          issuer=self.d.issuer)

    def test_basic_token_verifies_with_jwks(self):
        before = int(time.time())
        r = self.d.token(self.viewer)
        self.assertEqual(r.status, 200, r)
        self.assertEqual(r.header("cache-control"), "no-store")
        body = r.json()
        self.assertEqual(body["token_type"], "Bearer")
        self.assertEqual(body["expires_in"], 600)
        self.assertEqual(body["scope"], "data:read")
        claims = self.verify(body["access_token"])
        header = b64json(body["access_token"].split(".")[0])
        self.assertEqual(header, {"alg": "ES256", "typ": "at+jwt", "kid": self.jwks_key()["kid"]})
        self.assertEqual(claims["sub"], self.viewer["client_id"])
        self.assertEqual(claims["client_id"], self.viewer["client_id"])
        self.assertEqual(claims["role"], "viewer")
        self.assertEqual(claims["scope"], "data:read")
        self.assertEqual(claims["exp"] - claims["iat"], 600)
        self.assertEqual(claims["nbf"], claims["iat"])
        self.assertGreaterEqual(claims["iat"], before)
        self.assertTrue(claims["jti"])

    def test_same_key_in_both_jwks_paths_and_metadata(self):
        a = self.d.http("GET", "/v1/auth/jwks").json()
        b = self.d.http("GET", "/.well-known/jwks.json").json()
        self.assertEqual(a, b)
        meta = self.d.http("GET", "/.well-known/oauth-authorization-server").json()
        self.assertEqual(meta["issuer"], self.d.issuer)
        self.assertEqual(meta["token_endpoint"], self.d.issuer + "/v1/auth/token")
        self.assertEqual(meta["grant_types_supported"], ["client_credentials"])
        self.assertIn("client_secret_basic", meta["token_endpoint_auth_methods_supported"])

    def test_client_secret_post(self):
        r = self.d.http("POST", "/v1/auth/token",
                        form(grant_type="client_credentials", client_id=self.viewer["client_id"],
                             client_secret=self.viewer["client_secret"]), FORM)
        self.assertEqual(r.status, 200, r)
        self.verify(r.json()["access_token"])

    def test_kid_is_rfc7638_thumbprint(self):
        import hashlib
        k = self.jwks_key()
        canon = json.dumps({"crv": k["crv"], "kty": k["kty"], "x": k["x"], "y": k["y"]},
                           separators=(",", ":"), sort_keys=True)
        want = base64.urlsafe_b64encode(hashlib.sha256(canon.encode()).digest()).rstrip(b"=").decode()
        self.assertEqual(k["kid"], want)

    def test_exp_never_passes_credential_expiry(self):
        cred = self.d.create_credential("viewer", "short", expires_in=120)
        expires_at = int(time.mktime(time.strptime(cred["expires_at"], "%Y-%m-%dT%H:%M:%SZ"))) - time.timezone
        r = self.d.token(cred)
        self.assertEqual(r.status, 200, r)
        claims = self.verify(r.json()["access_token"])
        self.assertEqual(claims["exp"], expires_at)
        self.assertLessEqual(r.json()["expires_in"], 120)

    def test_scope_subset_and_invalid_scope(self):
        r = self.d.token(self.owner, scope="admin:read data:read")
        self.assertEqual(r.status, 200, r)
        self.assertEqual(r.json()["scope"], "admin:read data:read")
        r = self.d.token(self.viewer, scope="admin:write")
        self.assertEqual(r.status, 400)
        self.assertEqual(r.json()["error"], "invalid_scope")

    def test_bad_clients_indistinguishable(self):
        deleted = self.d.create_credential("viewer", "to-delete")
        self.assertEqual(self.d.token(deleted).status, 200)
        self.assertEqual(self.d.admin("DELETE", "/v1/admin/credentials/" + deleted["client_id"]).status, 204)
        expiring = self.d.create_credential("viewer", "expiring", expires_in=2)
        cases = {
            "wrong secret": dict(self.viewer, client_secret="authd_s_" + "A" * 43),
            "unknown id": {"client_id": "nosuchclientid0000000A", "client_secret": "x"},
            "deleted": deleted,
        }
        replies = {name: self.d.token(c, source="127.0.0.3") for name, c in cases.items()}
        def refused():  # the expiry itself has to pass
            r = self.d.token(expiring, source="127.0.0.3")
            return r if r.status != 200 else None
        replies["expired"] = wait_until(refused) or self.d.token(expiring, source="127.0.0.3")
        for name, r in replies.items():
            self.assertEqual(r.status, 401, name)
            self.assertEqual(r.json(), {"error": "invalid_client",
                                        "error_description": "client authentication failed"}, name)
            self.assertEqual(r.header("www-authenticate"), 'Basic realm="authd"', name)
            self.assertEqual(r.header("cache-control"), "no-store", name)

    def test_overlong_client_id_is_invalid_client_and_never_throttled(self):
        # As long as the body limit allows: refused like any failure, before
        # the failure limiter, so 30 of them (past the address's 20) are all
        # 401 and leave the address's budget untouched.
        huge = "a" * 16000
        body = form(grant_type="client_credentials", client_id=huge, client_secret="x")
        for _ in range(30):
            r = self.d.http("POST", "/v1/auth/token", body, FORM, source="127.0.0.5")
            self.assertEqual(r.status, 401, r)
            self.assertEqual(r.json(), {"error": "invalid_client",
                                        "error_description": "client authentication failed"})
            self.assertEqual(r.header("www-authenticate"), 'Basic realm="authd"')
        self.assertEqual(self.d.token(self.viewer, source="127.0.0.5").status, 200)

    def test_deletion_takes_effect_on_next_request(self):
        cred = self.d.create_credential("viewer", "deleted-next")
        self.assertEqual(self.d.token(cred).status, 200)
        self.d.ctl("credential", "delete", cred["client_id"])
        self.assertEqual(self.d.token(cred).status, 401)

    def test_request_errors(self):
        auth = {"Authorization": basic(self.viewer["client_id"], self.viewer["client_secret"])}
        cases = [
            ("missing grant_type", form(scope="data:read"), FORM, 400, "invalid_request"),
            ("unknown grant_type", form(grant_type="password"), FORM, 400, "unsupported_grant_type"),
            ("malformed body", "grant_type=client_credentials&x=%zz", FORM, 400, "invalid_request"),
            ("repeated parameter", "grant_type=client_credentials&grant_type=client_credentials", FORM,
             400, "invalid_request"),
            ("json content type", json.dumps({"grant_type": "client_credentials"}),
             {"Content-Type": "application/json"}, 400, "invalid_request"),
            ("no content type", form(grant_type="client_credentials"), {}, 400, "invalid_request"),
        ]
        for name, body, headers, status, error in cases:
            r = self.d.http("POST", "/v1/auth/token", body, dict(headers, **auth))
            self.assertEqual(r.status, status, name)
            self.assertEqual(r.json()["error"], error, name)
            self.assertIn("error_description", r.json(), name)
        r = self.d.http("GET", "/v1/auth/token")
        self.assertEqual(r.status, 405)
        r = self.d.http("POST", "/v1/auth/token", "grant_type=client_credentials&pad=" + "a" * 20000,
                        dict(FORM, **auth))
        self.assertEqual(r.status, 413)
        r = self.d.http("POST", "/v1/auth/token", form(grant_type="client_credentials"),
                        dict(FORM, Authorization="Basic !!notbase64"))
        self.assertEqual(r.status, 401)
        self.assertEqual(r.json()["error"], "invalid_client")
        r = self.d.http("POST", "/v1/auth/token", form(grant_type="client_credentials"), FORM)
        self.assertEqual(r.status, 401)

    def test_oversized_chunked_body_is_413(self):
        conn = self.d.conn()
        conn.putrequest("POST", "/v1/auth/token")
        conn.putheader("Content-Type", "application/x-www-form-urlencoded")
        conn.putheader("Transfer-Encoding", "chunked")
        conn.endheaders()
        chunk = b"a" * 8192
        try:
            for _ in range(4):
                conn.send(b"%x\r\n%s\r\n" % (len(chunk), chunk))
            conn.send(b"0\r\n\r\n")
        except (BrokenPipeError, ConnectionResetError):
            pass  # refused as soon as the limit was crossed, then closed
        r = conn.getresponse()
        self.assertEqual(r.status, 413)
        conn.close()

    def test_1000_tokens_from_16_concurrent_clients(self):
        key = jwt.PyJWK(self.jwks_key()).key

        def one(_):
            r = self.d.token(self.viewer)
            if r.status != 200:
                return r.status
            jwt.decode(r.json()["access_token"], key, algorithms=["ES256"],
                       audience=self.d.audience, issuer=self.d.issuer)
            return 200

        with concurrent.futures.ThreadPoolExecutor(16) as pool:
            statuses = list(pool.map(one, range(1000)))
        self.assertEqual(statuses.count(200), 1000, {s: statuses.count(s) for s in set(statuses)})

    def test_database_never_holds_a_secret(self):
        cred = self.d.create_credential("viewer", "canary")
        self.assertEqual(self.d.token(cred).status, 200)
        secret = cred["client_secret"].encode()
        files = glob.glob(self.d.db + "*")
        self.assertTrue(files)
        for path in files:
            with open(path, "rb") as f:
                data = f.read()
            self.assertNotIn(secret, data, path)
            self.assertNotIn(secret[8:], data, path)
        self.assertNotIn(cred["client_secret"], self.d.read_log())
        listed = self.d.admin("GET", "/v1/admin/credentials").json()
        self.assertNotIn(cred["client_secret"], json.dumps(listed))
        for c in listed:
            self.assertNotIn("client_secret", c)
            self.assertNotIn("secret_mac", c)



class EmptyAllowlistTest(unittest.TestCase):
    def test_empty_allowlist_refuses_every_tcp_client(self):
        with Daemon() as d:
            # Dropped at accept, health probes included: a probe's address
            # must be on the allowlist (or a trusted proxy).
            for path in ("/healthz", "/readyz", "/v1/auth/jwks", "/v1/auth/token",
                         "/v1/admin/credentials"):
                self.assertEqual(d.http("GET", path).status, DROPPED, path)
            # The admin socket is exempt: local trust.
            self.assertEqual(d.admin("GET", "/v1/admin/allowlist").status, 200)
            self.assertEqual(d.admin("GET", "/healthz").status, 200)
            r = d.admin("GET", "/readyz")
            self.assertEqual(r.status, 200)
            self.assertEqual(r.json()["ready"], True)

    def test_tls_listener_serves_tokens(self):
        import ssl
        for mode in (True, "hsm"):  # key in a file, key in the HSM
            with Daemon(tls=mode) as d:
                d.allow("127.0.0.1")
                cred = d.create_credential("viewer")
                r = d.token(cred)
                self.assertEqual(r.status, 200, (mode, r))
                if mode == "hsm":
                    self.assertFalse(os.path.exists(os.path.join(d.dir, "tls.key")))
                # TLS 1.2 and 1.3 only. The client side lowers OpenSSL's
                # security level so that only the server can say no.
                def handshake(version):
                    r = subprocess.run(["openssl", "s_client", "-connect", f"127.0.0.1:{d.port}",
                                        version, "-cipher", "DEFAULT@SECLEVEL=0"],
                                       input=b"", capture_output=True, timeout=30)
                    return b"Cipher is (NONE)" not in r.stdout and r.returncode == 0
                self.assertTrue(handshake("-tls1_2"), mode)
                self.assertTrue(handshake("-tls1_3"), mode)
                self.assertFalse(handshake("-tls1_1"), mode)
                self.assertFalse(handshake("-tls1"), mode)

    def test_tls_key_not_matching_the_certificate_is_refused(self):
        with Daemon(tls="hsm", start=False) as d:
            # Swap in a certificate for another key.
            subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt",
                            "ec_paramgen_curve:P-256", "-nodes", "-days", "1", "-subj", "/CN=x",
                            "-keyout", os.path.join(d.dir, "other.key"),
                            "-out", os.path.join(d.dir, "tls.crt")], check=True, capture_output=True)
            d.start(expect_ready=False)
            self.assertNotEqual(d.wait_exit(), 0)
            self.assertIn("does not match", d.read_log().strip().splitlines()[-1])


class StartupTest(unittest.TestCase):
    def fails_with(self, d, needle):
        d.start(expect_ready=False)
        rc = d.wait_exit()
        log = d.read_log().strip().splitlines()
        self.assertNotEqual(rc, 0)
        self.assertTrue(log, "no output")
        self.assertIn(needle, log[-1])
        self.assertTrue(log[-1].startswith("authd: "), log[-1])
        return log[-1]

    def test_unknown_key(self):
        with Daemon(config_extra="[bogus]\nx = 1\n", start=False) as d:
            self.fails_with(d, "unknown key bogus")
        with Daemon(tokens_extra="tll_seconds = 5\n", start=False) as d:
            self.fails_with(d, "unknown key tokens.tll_seconds")

    def test_bad_value(self):
        with Daemon(ttl=601, start=False) as d:
            self.fails_with(d, "tokens.ttl_seconds")

    def test_missing_pin_file(self):
        with Daemon(start=False) as d:
            import os
            os.unlink(d.pin_file)
            self.fails_with(d, "hsm.pin_file")

    # SPEC "Security rules": the PIN file is a regular file readable by its
    # owner only; authd stops with one line naming the file and the fault.
    def test_pin_file_readable_by_others_is_refused(self):
        for mode in (0o640, 0o644, 0o604, 0o700):
            with Daemon(start=False) as d:
                with open(d.pin_file) as f:
                    pin = f.read().strip()
                os.chmod(d.pin_file, mode)
                line = self.fails_with(d, "hsm.pin_file " + d.pin_file)
                self.assertIn("has mode %04o; it must be 0400 or 0600" % mode, line)
                self.assertNotIn(pin, d.read_log())

    def test_pin_file_through_a_symlink_is_refused(self):
        with Daemon(start=False) as d:
            real = d.pin_file + ".real"
            os.rename(d.pin_file, real)
            os.symlink(real, d.pin_file)
            self.assertEqual(os.stat(real).st_mode & 0o777, 0o600)
            line = self.fails_with(d, "hsm.pin_file " + d.pin_file)
            self.assertIn("is a symbolic link", line)

    def test_pin_file_that_is_not_a_regular_file_is_refused(self):
        with Daemon(start=False) as d:
            os.unlink(d.pin_file)
            os.mkfifo(d.pin_file, 0o600)  # must not block authd either
            line = self.fails_with(d, "hsm.pin_file " + d.pin_file)
            self.assertIn("is not a regular file", line)

    @unittest.skipUnless(os.geteuid() == 0, "chown to another user needs root")
    def test_pin_file_owned_by_another_user_is_refused(self):
        with Daemon(start=False) as d:
            os.chown(d.pin_file, 65534, -1)
            line = self.fails_with(d, "hsm.pin_file " + d.pin_file)
            self.assertIn("is owned by uid 65534", line)

    def test_pin_file_mode_0400_is_accepted(self):
        with Daemon(start=False) as d:
            os.chmod(d.pin_file, 0o400)
            d.start()
            self.assertEqual(d.admin("GET", "/readyz").status, 200)

    def test_wrong_pin(self):
        with Daemon(start=False, pin="not-the-pin\n") as d:
            line = self.fails_with(d, "CKR_PIN_INCORRECT")
            self.assertNotIn("not-the-pin", d.read_log())
            self.assertIn("C_Login", line)

    def test_missing_module(self):
        with Daemon(start=False, module="no-such-module") as d:
            self.fails_with(d, "no-such-module")
        with Daemon(start=False, module="/nonexistent/libpkcs11.so") as d:
            self.fails_with(d, "/nonexistent/libpkcs11.so")

    def test_sigterm_exits_zero(self):
        d = Daemon()
        try:
            self.assertEqual(d.stop(), 0)
        finally:
            d.cleanup()


if __name__ == "__main__":
    unittest.main()
