"""SIGHUP while serving: what a reload applies (token options, roles, trusted
proxies, a renewed TLS certificate and key), what it names as needing a
restart, and an invalid file that changes nothing. The real daemon, over
TLS where it matters, against a throwaway SoftHSM2 token."""
import hashlib
import http.client
import json
import os
import re
import signal
import socket
import ssl
import subprocess
import unittest

import jwt  # PyJWT: reads the claims of the tokens authd issued

from harness import DROPPED, Daemon, wait_until


def served_fingerprint(port):
    """SHA-256 of the certificate a new TLS connection to authd is shown."""
    ctx = ssl.create_default_context()
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    with socket.create_connection(("127.0.0.1", port), timeout=30) as s:
        with ctx.wrap_socket(s) as t:
            return hashlib.sha256(t.getpeercert(binary_form=True)).hexdigest()


def file_fingerprint(path):
    with open(path) as f:
        return hashlib.sha256(ssl.PEM_cert_to_DER_cert(f.read())).hexdigest()


def make_pair(directory, name):
    """A new self-signed P-256 certificate for 127.0.0.1 and its key."""
    crt, key = os.path.join(directory, name + ".crt"), os.path.join(directory, name + ".key")
    subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt",
                    "ec_paramgen_curve:P-256", "-nodes", "-days", "2", "-subj", "/CN=localhost",
                    "-addext", "subjectAltName=IP:127.0.0.1", "-keyout", key, "-out", crt],
                   check=True, capture_output=True)
    return crt, key


def claims(token):
    return jwt.decode(token, options={"verify_signature": False})


class ReloadTest(unittest.TestCase):
    def reload(self, d, edit=None, text=None):
        """Rewrites the config (edit: a function of its text, or the whole
        text), sends SIGHUP and returns the log lines the reload wrote."""
        with open(d.config) as f:
            old = f.read()
        with open(d.config, "w") as f:
            f.write(text if text is not None else edit(old))
        before = d.read_log()
        d.proc.send_signal(signal.SIGHUP)
        # The last line a reload writes: what it applied, or why it kept all.
        done = lambda: re.search(r'event=reload msg="(applied |nothing to apply|'
                                 r'.*keeping the running configuration")',
                                 d.read_log()[len(before):])
        self.assertTrue(wait_until(done), d.read_log()[-2000:])
        self.assertIsNone(d.proc.poll())
        return d.read_log()[len(before):]

    def test_token_options_and_discovery_follow_a_reload(self):
        with Daemon(tls=True) as d:
            d.allow("127.0.0.1")
            owner = d.create_credential("owner")
            old = d.access_token(owner)
            auth = lambda t: {"Authorization": "Bearer " + t}
            self.assertEqual(d.http("GET", "/v1/admin/status", headers=auth(old)).status, 200)

            log = self.reload(d, lambda t: t
                              .replace('issuer = "https://authd.test"', 'issuer = "https://id.example"')
                              .replace('audience = "powerhub-api"', 'audience = "other-api"')
                              .replace("ttl_seconds = 600", "ttl_seconds = 120\nalgorithm = \"RS256\""))
            self.assertIn('msg="applied tokens.issuer, tokens.audience, tokens.ttl_seconds, '
                          'tokens.algorithm; restart to apply: audit.origin"', log)
            # audit.origin follows the issuer unless set: the log says what a
            # start under the new one would do.
            self.assertIn("audit.origin would change from authd.test/authd-audit to "
                          "id.example/authd-audit at the next start", log)
            self.assertIn("set audit.origin to authd.test/authd-audit to keep it", log)

            r = d.token(owner)
            self.assertEqual(r.status, 200, r)
            self.assertEqual(r.json()["expires_in"], 120)
            token = r.json()["access_token"]
            c = claims(token)
            self.assertEqual((c["iss"], c["aud"], c["exp"] - c["iat"]),
                             ("https://id.example", "other-api", 120))
            self.assertEqual(jwt.get_unverified_header(token)["alg"], "RS256")
            meta = d.http("GET", "/.well-known/oauth-authorization-server").json()
            self.assertEqual(meta["issuer"], "https://id.example")
            self.assertEqual(meta["jwks_uri"], "https://id.example/.well-known/jwks.json")
            self.assertEqual(meta["access_token_signing_alg_values_supported"], ["RS256"])
            # The new token is good on the admin API, the old one no longer.
            self.assertEqual(d.http("GET", "/v1/admin/status", headers=auth(token)).status, 200)
            r = d.http("GET", "/v1/admin/status", headers=auth(old))
            self.assertEqual(r.status, 401, r)
            # The algorithm switch is a recorded rotation, as at start.
            rotations = d.admin("GET", "/v1/admin/audit?action=key.rotate").json()["entries"]
            self.assertEqual([(e["actor"], e["values"]["algorithm"]) for e in rotations],
                             [("system", "RS256")])

    def test_roles_are_recorded_and_a_removed_role_gets_no_token(self):
        roles = """
[roles.admin]
description = "Administers."
scopes = ["admin:read", "admin:write", "audit:read"]

[roles.reader]
description = "Reads."
scopes = ["data:read"]

[roles.temp]
description = "Temporary."
scopes = ["data:read"]
"""
        with Daemon(config_extra=roles) as d:
            d.allow("127.0.0.1")
            reader = d.create_credential("reader", name="reader")
            temp = d.create_credential("temp", name="temp")
            self.assertEqual(claims(d.access_token(reader))["scope"], "data:read")

            log = self.reload(d, lambda t: t
                              .replace('scopes = ["data:read"]\n\n[roles.temp]',
                                       'scopes = ["data:read", "data:write"]\n\n[roles.temp]')
                              .replace('[roles.temp]\ndescription = "Temporary."\n'
                                       'scopes = ["data:read"]\n', ""))
            self.assertIn('msg="applied roles"', log)
            self.assertIn("1 credentials hold a role that no longer exists and get no token: "
                          + temp["client_id"] + " (temp)", log)

            entries = d.admin("GET", "/v1/admin/audit?action=roles.set").json()["entries"]
            self.assertEqual(len(entries), 2)  # the start's and the reload's
            last = entries[-1]
            self.assertEqual((last["actor"], last["source"], last["reason"]),
                             ("system", "local", "configuration reloaded"))
            self.assertEqual([r["name"] for r in json.loads(last["values"]["roles"])],
                             ["admin", "reader"])

            self.assertEqual(claims(d.access_token(reader))["scope"], "data:read data:write")
            r = d.token(temp)
            self.assertEqual(r.status, 400, r)
            self.assertEqual(r.json()["error"], "invalid_scope")
            listed = d.ctl("credential", "list").stdout
            self.assertRegex(listed, temp["client_id"] + r"\s+temp\s+temp REMOVED")
            self.assertIn("credentials_without_role: 1", d.ctl("status").stdout)
            self.assertEqual([r["name"] for r in d.admin("GET", "/v1/admin/roles").json()],
                             ["admin", "reader"])

    def test_trusted_proxies_follow_a_reload(self):
        with Daemon() as d:
            d.allow("127.0.0.1")
            via_proxy = lambda: d.http("GET", "/v1/auth/jwks",
                                       headers={"X-Forwarded-For": "127.0.0.1"},
                                       source="127.0.0.5").status
            self.assertEqual(via_proxy(), DROPPED)
            log = self.reload(d, lambda t: t.replace(
                "[storage]", 'trusted_proxies = ["127.0.0.5/32"]\n[storage]', 1))
            self.assertIn('msg="applied server.trusted_proxies"', log)
            self.assertEqual(via_proxy(), 200)
            # Its forwarded client is judged: one not allowed is refused.
            r = d.http("GET", "/v1/auth/jwks", headers={"X-Forwarded-For": "203.0.113.9"},
                       source="127.0.0.5")
            self.assertEqual(r.status, 403)
            self.reload(d, lambda t: t.replace('trusted_proxies = ["127.0.0.5/32"]\n', ""))
            self.assertEqual(via_proxy(), DROPPED)

    def test_renewed_certificate_is_served_and_a_broken_pair_is_not(self):
        with Daemon(tls=True) as d:
            d.allow("127.0.0.1")
            crt, key = os.path.join(d.dir, "tls.crt"), os.path.join(d.dir, "tls.key")
            first = file_fingerprint(crt)
            self.assertEqual(served_fingerprint(d.port), first)
            # A connection opened before the renewal (keep-alive).
            kept = http.client.HTTPSConnection(
                "127.0.0.1", d.port, timeout=30,
                context=ssl.create_default_context(cafile=crt))
            kept.request("GET", "/healthz")
            r = kept.getresponse()
            r.read()
            self.assertEqual(r.status, 200)

            new_crt, new_key = make_pair(d.dir, "renewed")
            second = file_fingerprint(new_crt)
            os.replace(new_key, key)
            os.replace(new_crt, crt)
            log = self.reload(d, lambda t: t)
            self.assertIn('msg="applied server.tls_cert (sha256 ' + second + ')"', log)
            self.assertEqual(served_fingerprint(d.port), second)
            self.assertEqual(d.http("GET", "/healthz").status, 200)  # verifies the new one
            kept.request("GET", "/healthz")
            r = kept.getresponse()
            r.read()
            self.assertEqual(r.status, 200)
            kept.close()

            # The same files again: nothing to apply.
            self.assertIn('msg="nothing to apply"', self.reload(d, lambda t: t))

            # A certificate whose key is not there: the running pair stays.
            other_crt, _ = make_pair(d.dir, "other")
            os.replace(other_crt, crt)
            log = self.reload(d, lambda t: t)
            self.assertIn("TLS certificate not replaced, the running one stays: "
                          "server.tls_key: the key does not match server.tls_cert", log)
            self.assertIn('msg="nothing to apply"', log)
            self.assertEqual(served_fingerprint(d.port), second)
            # Not PEM at all, and a key file that is gone.
            with open(crt, "w") as f:
                f.write("not a certificate\n")
            log = self.reload(d, lambda t: t)
            self.assertIn("server.tls_cert: not a PEM certificate chain", log)
            os.remove(key)
            log = self.reload(d, lambda t: t)
            self.assertIn("server.tls_key " + key + " cannot be read: No such file or directory",
                          log)
            self.assertEqual(served_fingerprint(d.port), second)

    def test_renewed_certificate_for_a_key_in_the_hsm_waits_for_a_restart(self):
        with Daemon(tls="hsm") as d:
            d.allow("127.0.0.1")
            crt = os.path.join(d.dir, "tls.crt")
            first = served_fingerprint(d.port)
            self.assertEqual(first, file_fingerprint(crt))
            with open(d.pin_file) as f:
                env = dict(d.env, GNUTLS_PIN=f.read().strip())
            subprocess.run(["certtool", "--generate-self-signed", "--load-privkey",
                            "pkcs11:token=authd;object=authd-tls;type=private",
                            "--template", os.path.join(d.dir, "cert.tmpl"), "--outfile", crt],
                           env=env, check=True, capture_output=True)
            self.assertNotEqual(file_fingerprint(crt), first)
            log = self.reload(d, lambda t: t)
            self.assertIn('msg="nothing to apply; restart to apply: server.tls_cert '
                          '(renewed file; the key is in the HSM)"', log)
            self.assertEqual(served_fingerprint(d.port), first)

    def test_restart_keys_are_named_and_an_invalid_file_changes_nothing(self):
        with Daemon() as d:
            d.allow("127.0.0.1")
            cred = d.create_credential("viewer")
            log = self.reload(d, lambda t: t
                              .replace('listen = ["127.0.0.1:0"]', 'listen = ["127.0.0.1:1"]')
                              .replace("[hsm]\n", "[hsm]\ntimeout_ms = 7000\n"))
            self.assertIn('msg="nothing to apply; restart to apply: server.listen, '
                          'hsm.timeout_ms"', log)
            self.assertEqual(d.token(cred).status, 200)  # still on the old port

            with open(d.config) as f:
                good = f.read()
            log = self.reload(d, text=good + "\n[tokens\n")
            self.assertIn("keeping the running configuration", log)
            self.assertIn("authd.toml:", log)  # names the line
            self.assertEqual(d.token(cred).status, 200)
            log = self.reload(d, text=good.replace("ttl_seconds = 600", "ttl_seconds = 6000"))
            self.assertIn("config: tokens.ttl_seconds: must be between 1 and 600; "
                          "keeping the running configuration", log)
            r = d.token(cred)
            self.assertEqual(r.json()["expires_in"], 600)


if __name__ == "__main__":
    unittest.main()
