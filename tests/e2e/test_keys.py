"""Token key rotation and RS256: new tokens use the new key at once, the
JWKS keeps the old public key until every token it signed has expired,
clients holding an older JWKS keep working, and every rotation is audited."""
import base64
import json
import subprocess
import unittest

import jwt  # PyJWT: the independent verifier

from harness import Daemon, wait_until


def header(token):
    part = token.split(".")[0]
    return json.loads(base64.urlsafe_b64decode(part + "=" * (-len(part) % 4)))


def verify(d, token, jwks):
    kid = header(token)["kid"]
    key = [k for k in jwks["keys"] if k["kid"] == kid]
    if not key:
        raise jwt.InvalidKeyError("kid not in JWKS")
    jwk = jwt.PyJWK(key[0])
    return jwt.decode(token, jwk.key, algorithms=[key[0]["alg"]], audience=d.audience,
                      issuer=d.issuer)


class KeyUsageTest(unittest.TestCase):
    # SPEC "Security rules": HSM keys allow only their one use. authd's own
    # keys are made so; one an older version made (here: p11tool's, with
    # SoftHSM2's default usages) is named once at start, with its usages.
    def test_key_with_wider_usages_is_reported_once_at_start(self):
        with Daemon(start=False) as d:
            with open(d.pin_file) as f:
                env = dict(d.env, GNUTLS_PIN=f.read().strip())
            subprocess.run(["p11tool", "--login", "--generate-ecc", "--curve=secp256r1",
                            "--label", "authd-audit-signing", "pkcs11:token=authd"],
                           env=env, check=True, capture_output=True)
            d.start()
            lines = [l for l in d.read_log().splitlines() if "event=hsm_key_usage" in l]
            self.assertEqual(len(lines), 1, lines)
            self.assertIn("level=warn", lines[0])
            self.assertIn("label=authd-audit-signing", lines[0])
            self.assertRegex(lines[0], r'usages="[a-z ]*(decrypt|unwrap)')
            self.assertNotIn(d.pin_file, lines[0])
            d.stop()
            d.start()
            lines = [l for l in d.read_log().splitlines() if "event=hsm_key_usage" in l]
            self.assertEqual(len(lines), 2, lines)  # once per start
            self.assertNotIn("authd-pepper", "".join(lines))
            self.assertNotIn("authd-token-signing", "".join(lines))


class RotationTest(unittest.TestCase):
    def test_rotate_keeps_old_tokens_verifiable(self):
        with Daemon() as d:
            d.allow("127.0.0.1")
            owner = d.create_credential("owner")
            old_jwks = d.http("GET", "/v1/auth/jwks").json()
            t1 = d.access_token(owner)
            out = json.loads(d.ctl("--json", "keys", "rotate", "--use", "token",
                                   "--reason", "quarterly").stdout)
            self.assertEqual(out["state"], "active")
            t2 = d.access_token(owner)
            self.assertNotEqual(header(t1)["kid"], header(t2)["kid"])
            self.assertEqual(header(t2)["kid"], out["kid"])
            new_jwks = d.http("GET", "/.well-known/jwks.json").json()
            self.assertEqual([k["kid"] for k in new_jwks["keys"]],
                             [header(t2)["kid"], header(t1)["kid"]])
            verify(d, t1, old_jwks)   # a client that fetched before the rotation
            verify(d, t1, new_jwks)
            verify(d, t2, new_jwks)
            with self.assertRaises(jwt.InvalidKeyError):
                verify(d, t2, old_jwks)  # a client must refetch for new tokens
            # Tokens signed by the retired key still work on the admin API.
            r = d.http("GET", "/v1/admin/keys", headers={"Authorization": "Bearer " + t1})
            self.assertEqual(r.status, 200)
            by_use = {k["use"]: k for k in r.json()}
            self.assertEqual(set(by_use), {"token", "audit", "pepper"})
            self.assertTrue(by_use["audit"]["created_at"].endswith("Z"))
            self.assertTrue(by_use["pepper"]["created_at"].endswith("Z"))
            self.assertIn("BEGIN PUBLIC KEY", by_use["audit"]["public_key_pem"])
            self.assertNotIn("public_key_pem", by_use["pepper"])
            states = {k["kid"]: k["state"] for k in r.json() if k["use"] == "token"}
            self.assertEqual(states, {header(t2)["kid"]: "active", header(t1)["kid"]: "retired"})
            entries = d.admin("GET", "/v1/admin/audit?action=key.rotate").json()["entries"]
            self.assertEqual(len(entries), 1)
            self.assertEqual(entries[0]["values"]["previous_kid"], header(t1)["kid"])
            self.assertEqual(entries[0]["values"]["kid"], header(t2)["kid"])
            self.assertEqual(entries[0]["reason"], "quarterly")
            self.assertEqual(entries[0]["actor"], "uid:0")
            # The ring survives a restart.
            d.stop()
            d.start()
            self.assertEqual(header(d.access_token(owner))["kid"], header(t2)["kid"])
            self.assertEqual(len(d.http("GET", "/v1/auth/jwks").json()["keys"]), 2)

    def test_retired_key_leaves_jwks_after_tokens_expire(self):
        with Daemon(ttl=2) as d:
            d.allow("127.0.0.1")
            owner = d.create_credential("owner")
            d.ctl("keys", "rotate", "--use", "token")
            self.assertEqual(len(d.http("GET", "/v1/auth/jwks").json()["keys"]), 2)
            # The tokens' lifetime has to pass.
            wait_until(lambda: len(d.http("GET", "/v1/auth/jwks").json()["keys"]) == 1)
            self.assertEqual(len(d.http("GET", "/v1/auth/jwks").json()["keys"]), 1)
            keys = d.admin("GET", "/v1/admin/keys").json()
            self.assertEqual(sorted(k["state"] for k in keys if k["use"] == "token"),
                             ["active", "expired"])

    def test_rotation_refused_for_other_uses_and_scopes(self):
        with Daemon() as d:
            d.allow("127.0.0.1")
            auditor = d.create_credential("auditor")
            r = d.admin("POST", "/v1/admin/keys/rotate", {"use": "audit"})
            self.assertEqual(r.status, 400)
            r = d.admin("POST", "/v1/admin/keys/rotate", {"use": "token", "algorithm": "HS256"})
            self.assertEqual(r.status, 400)
            r = d.http("POST", "/v1/admin/keys/rotate", {"use": "token"},
                       {"Authorization": "Bearer " + d.access_token(auditor)})
            self.assertEqual(r.status, 403)


class Rs256Test(unittest.TestCase):
    def test_rs256_tokens_verify_and_switch_is_audited(self):
        with Daemon(tokens_extra='algorithm = "RS256"\n') as d:
            d.allow("127.0.0.1")
            owner = d.create_credential("owner")
            token = d.access_token(owner)
            self.assertEqual(header(token)["alg"], "RS256")
            meta = d.http("GET", "/.well-known/oauth-authorization-server").json()
            self.assertEqual(meta["access_token_signing_alg_values_supported"], ["RS256"])
            jwks = d.http("GET", "/v1/auth/jwks").json()
            self.assertEqual(jwks["keys"][0]["kty"], "RSA")
            self.assertEqual(jwks["keys"][0]["alg"], "RS256")
            claims = verify(d, token, jwks)
            self.assertEqual(claims["sub"], owner["client_id"])
            r = d.http("GET", "/v1/admin/roles", headers={"Authorization": "Bearer " + token})
            self.assertEqual(r.status, 200)
            rotations = d.admin("GET", "/v1/admin/audit?action=key.rotate").json()["entries"]
            self.assertEqual(rotations[0]["actor"], "system")
            self.assertEqual(rotations[0]["reason"], "tokens.algorithm is RS256")
            # A token claiming another algorithm for the same kid is refused.
            parts = token.split(".")
            forged_header = base64.urlsafe_b64encode(json.dumps(
                dict(header(token), alg="ES256")).encode()).rstrip(b"=").decode()
            forged = ".".join([forged_header, parts[1], parts[2]])
            r = d.http("GET", "/v1/admin/roles", headers={"Authorization": "Bearer " + forged})
            self.assertEqual(r.status, 401)


if __name__ == "__main__":
    unittest.main()
