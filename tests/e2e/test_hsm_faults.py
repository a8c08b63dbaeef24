"""HSM faults against the real daemon: authd loads a fault-injecting PKCS#11
module (tests/testing/fault_pkcs11) that forwards to SoftHSM2 and fails the
calls a plan file names. Every fault in the matrix must give 503 with
Retry-After (never 500, never a crash), turn /readyz false where the HSM is
lost, and heal without a restart once the HSM is back. A call that hangs
must stall nothing but itself: probes, metrics, the JWKS and SIGTERM keep
working, the hung session is abandoned after hsm.timeout_ms, and authd
exits for a restart only when fresh sessions hang too."""
import concurrent.futures
import os
import signal
import time
import unittest

from faults import FAILED, LOST, MODULE, FaultDaemon, unavailable
from harness import wait_until as wait_for

@unittest.skipUnless(os.path.exists(MODULE), "fault module not built")
class HsmFaultTest(unittest.TestCase):
    def setUp(self):
        self.d = FaultDaemon()
        self.d.allow("127.0.0.1")
        self.cred = self.d.create_credential("viewer")
        self.assertEqual(self.d.token(self.cred).status, 200)

    def tearDown(self):
        self.d.cleanup()

    def assert_503(self, r):
        self.assertTrue(unavailable(r), (r, r.headers))

    def test_lost_hsm_turns_unready_and_heals(self):
        for rv in LOST:
            with self.subTest(rv=rv):
                self.d.set_plan(f"* {rv}\n")
                self.assert_503(self.d.token(self.cred))
                self.assertTrue(self.d.wait_ready(False), rv)
                r = self.d.admin("POST", "/v1/admin/allowlist", {"cidr": "192.0.2.1"})
                self.assertEqual(r.status, 503, r)
                self.d.set_plan("")
                self.assertTrue(self.d.wait_ready(True), rv)
                self.assertEqual(self.d.token(self.cred).status, 200, rv)
        self.assertIsNone(self.d.proc.poll())
        self.assertIn("event=hsm_ready", self.d.read_log())

    def test_failed_calls_give_503(self):
        for rv in FAILED:
            with self.subTest(rv=rv):
                self.d.set_plan(f"C_Sign {rv}\n")
                self.assert_503(self.d.token(self.cred))
                self.d.set_plan("")
                self.d.wait_ready(True)
                self.assertEqual(self.d.token(self.cred).status, 200, rv)

    def test_one_lost_session_is_absorbed(self):
        self.d.set_plan("C_Sign CKR_SESSION_HANDLE_INVALID 1\n")
        self.assertEqual(self.d.token(self.cred).status, 200)

    def test_hsm_restart_logs_in_again(self):
        logins = self.d.count("C_Login")
        self.d.set_plan("LOGOUT\n")
        deadline = time.time() + 15
        while time.time() < deadline and self.d.token(self.cred).status != 200:
            time.sleep(0.05)
        self.assertEqual(self.d.token(self.cred).status, 200)
        self.assertGreater(self.d.count("C_Login"), logins)

    def test_rejected_pin_is_never_retried(self):
        before = self.d.count("C_Login")
        self.d.set_plan("LOGOUT\nC_Login CKR_PIN_INCORRECT\n")
        for _ in range(5):
            self.assert_503(self.d.token(self.cred))
        self.assertTrue(self.d.wait_ready(False))
        time.sleep(1.5)  # several supervisor rounds
        for _ in range(5):
            self.assert_503(self.d.token(self.cred))
        self.d.set_plan("")  # even a healed HSM is not logged into again
        time.sleep(0.5)
        self.assert_503(self.d.token(self.cred))
        self.assertEqual(self.d.count("C_Login") - before, 1)
        readyz = self.d.http("GET", "/readyz")
        self.assertEqual(readyz.status, 503)
        self.assertIn("CKR_PIN_INCORRECT", self.d.read_log())
        self.assertIn("restart authd", self.d.read_log())

    def timed(self, fn, limit=1.0):
        """Runs fn(), asserts it answered within `limit` seconds, returns it."""
        start = time.time()
        r = fn()
        self.assertLess(time.time() - start, limit, r)
        return r

    def test_hung_call(self):
        signs = self.d.count("C_Sign")
        # One C_Sign hangs; recovery fails (C_Login) until the plan changes,
        # so the unready window lasts as long as the test needs it.
        self.d.set_plan("C_Sign BLOCK 1\nC_Login CKR_DEVICE_ERROR\n")
        with concurrent.futures.ThreadPoolExecutor(1) as pool:
            slow = pool.submit(self.d.token, self.cred)
            self.assertTrue(wait_for(lambda: self.d.count("C_Sign") > signs))
            self.assertTrue(self.d.wait_ready(False, timeout=5))
            self.assert_503(self.timed(lambda: self.d.token(self.cred)))  # not queued
            # Recovery on fresh sessions while the call still hangs.
            self.d.set_plan("C_Sign BLOCK 0\n")
            self.assertTrue(self.d.wait_ready(True))
            self.assertEqual(self.d.token(self.cred).status, 200)
            self.d.set_plan("")  # the HSM answers the hung call at last
            self.assert_503(slow.result())  # too late to be used
        self.assertTrue(self.d.wait_ready(True))
        self.assertEqual(self.d.metric("authd_hsm_calls_stuck"), 0)
        self.assertGreaterEqual(self.d.metric("authd_hsm_calls_abandoned_total"), 1)

    def probes_answer_at_once(self):
        """/healthz, /readyz, /metrics, the JWKS and the admin socket's
        /healthz and status answer within 1 s each, also with 8 probes of
        /readyz and /metrics running at once."""
        self.assertEqual(self.timed(lambda: self.d.http("GET", "/healthz")).status, 200)
        self.assertEqual(self.timed(lambda: self.d.http("GET", "/metrics")).status, 200)
        self.assertEqual(self.timed(lambda: self.d.http("GET", "/.well-known/jwks.json")).status, 200)
        self.assertEqual(self.timed(lambda: self.d.admin("GET", "/healthz")).status, 200)
        self.assertEqual(self.timed(lambda: self.d.admin("GET", "/v1/admin/status")).status, 200)
        paths = ["/readyz", "/metrics"] * 4
        with concurrent.futures.ThreadPoolExecutor(len(paths) + 2) as pool:
            probes = [pool.submit(self.d.http, "GET", p) for p in paths]
            health = pool.submit(self.timed, lambda: self.d.http("GET", "/healthz"))
            jwks = pool.submit(self.timed, lambda: self.d.http("GET", "/v1/auth/jwks"))
            self.assertEqual(health.result(timeout=5).status, 200)
            self.assertEqual(jwks.result(timeout=5).status, 200)
            for f in probes:
                self.assertIn(f.result(timeout=5).status, (200, 503))

    def test_hung_sign_during_admin_change(self):
        """The checkpoint signature of an admin change hangs while the change
        holds the audit log and the database."""
        signs = self.d.count("C_Sign")
        self.d.set_plan("C_Sign BLOCK 1\nC_Login CKR_DEVICE_ERROR\n")
        change = self.d.admin_async("POST", "/v1/admin/allowlist", {"cidr": "192.0.2.7"})
        self.assertTrue(wait_for(lambda: self.d.count("C_Sign") > signs))
        readyz = self.timed(lambda: self.d.http("GET", "/readyz"))  # not hung
        self.assertIn(readyz.status, (200, 503))
        self.probes_answer_at_once()

        # Past hsm.timeout_ms the session is abandoned and the HSM unready.
        self.assertTrue(self.d.wait_ready(False, timeout=5))
        self.assertEqual(self.timed(lambda: self.d.http("GET", "/readyz")).status, 503)
        self.assertEqual(self.timed(lambda: self.d.http("GET", "/healthz")).status, 200)
        self.probes_answer_at_once()
        self.assertEqual(self.d.metric("authd_hsm_calls_stuck"), 1)
        self.assertEqual(self.d.metric("authd_ready"), 0)
        self.assert_503(self.timed(lambda: self.d.token(self.cred)))

        # Fresh sessions work: ready again while the change still hangs.
        self.d.set_plan("C_Sign BLOCK 0\n")
        self.assertTrue(self.d.wait_ready(True))
        self.assertEqual(self.d.token(self.cred).status, 200)
        self.assertNotIn("reply", change)

        # The HSM answers at last: too late, the change is not made.
        self.d.set_plan("")
        self.assertTrue(wait_for(lambda: "reply" in change))
        self.assertEqual(change["reply"].status, 503, change["reply"])
        self.assertTrue(change["reply"].header("retry-after"))
        cidrs = [e["cidr"] for e in self.d.admin("GET", "/v1/admin/allowlist").json()]
        self.assertFalse([c for c in cidrs if c.startswith("192.0.2.7")], cidrs)
        self.assertEqual(self.d.admin("POST", "/v1/admin/allowlist",
                                      {"cidr": "192.0.2.8"}).status, 201)
        self.assertEqual(self.d.metric("authd_hsm_calls_stuck"), 0)
        self.assertIsNone(self.d.proc.poll())
        self.assertIn("event=hsm_abandoned", self.d.read_log())

    def test_failures_before_authentication_cost_no_hsm_operation(self):
        signs, hmacs = self.d.count("C_Sign"), self.d.count("C_SignInit")
        self.d.http("POST", "/v1/auth/token", "grant_type=password",
                    {"Content-Type": "application/x-www-form-urlencoded"})
        self.d.token(self.cred, source="127.0.0.2")  # not on the allowlist
        self.d.token(dict(self.cred, client_secret="wrong"))  # one HMAC, no signature
        self.assertEqual(self.d.count("C_SignInit") - hmacs, 1)
        self.assertEqual(self.d.count("C_Sign") - signs, 1)


@unittest.skipUnless(os.path.exists(MODULE), "fault module not built")
class HsmStuckExitTest(unittest.TestCase):
    """Exits: SIGTERM with a call that never returns, and giving up on an HSM
    whose fresh sessions hang too. A short request deadline keeps the drain
    bound (connection_timeout_seconds + hsm.timeout_ms) at 3 s."""

    def setUp(self):
        self.d = FaultDaemon(server_extra="connection_timeout_seconds = 2\n")
        self.d.allow("127.0.0.1")

    def tearDown(self):
        self.d.set_plan("")
        self.d.cleanup()

    def test_sigterm_stops_despite_a_hung_call(self):
        signs = self.d.count("C_Sign")
        self.d.set_plan("C_Sign BLOCK\n")  # every signature hangs
        self.d.admin_async("POST", "/v1/admin/allowlist", {"cidr": "192.0.2.9"})
        self.assertTrue(wait_for(lambda: self.d.count("C_Sign") > signs))
        start = time.time()
        self.d.proc.send_signal(signal.SIGTERM)
        code = self.d.proc.wait(timeout=30)  # a hang here fails the test
        self.assertLess(time.time() - start, 15)  # drain bound 3 s, generously
        self.assertEqual(code, 3)
        log = self.d.read_log()
        self.assertIn("event=stopping", log)
        self.assertIn("event=stop_timeout", log)

    def test_exits_when_fresh_sessions_hang_too(self):
        signs = self.d.count("C_Sign")
        self.d.set_plan("C_Sign BLOCK\nC_Login BLOCK\n")
        self.d.admin_async("POST", "/v1/admin/allowlist", {"cidr": "192.0.2.10"})
        self.assertTrue(wait_for(lambda: self.d.count("C_Sign") > signs))
        code = self.d.proc.wait(timeout=30)
        self.assertEqual(code, 3)
        log = self.d.read_log()
        self.assertEqual(log.count("event=hsm_fatal"), 1, log)
        self.assertIn("recovery on a fresh HSM session", log)


if __name__ == "__main__":
    unittest.main()
