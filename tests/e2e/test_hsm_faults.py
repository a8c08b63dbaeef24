"""HSM faults against the real daemon: authd loads a fault-injecting PKCS#11
module (tests/testing/fault_pkcs11) that forwards to SoftHSM2 and fails the
calls a plan file names. Every fault in the matrix must give 503 with
Retry-After (never 500, never a crash), turn /readyz false where the HSM is
lost, and heal without a restart once the HSM is back."""
import concurrent.futures
import os
import time
import unittest

from harness import BIN, Daemon

MODULE = os.path.normpath(os.path.join(BIN, "..", "lib", "libauthd_fault_pkcs11.so"))

LOST = ["CKR_DEVICE_ERROR", "CKR_DEVICE_REMOVED", "CKR_TOKEN_NOT_PRESENT",
        "CKR_SESSION_HANDLE_INVALID", "CKR_SESSION_CLOSED", "CKR_USER_NOT_LOGGED_IN"]
FAILED = ["CKR_GENERAL_ERROR", "CKR_FUNCTION_FAILED"]


class FaultDaemon(Daemon):
    def __init__(self, **kw):
        self.plan_dir = None
        tmp = __import__("tempfile").mkdtemp(prefix="authd-fault-")
        self.plan = os.path.join(tmp, "plan")
        self.stats = os.path.join(tmp, "stats")
        super().__init__(module=MODULE, hsm_extra="timeout_ms = 1000\n",
                         env={"AUTHD_FAULT_CONTROL": self.plan, "AUTHD_FAULT_STATS": self.stats},
                         **kw)

    def set_plan(self, text):
        tmp = self.plan + ".tmp"
        with open(tmp, "w") as f:
            f.write(text)
        os.replace(tmp, self.plan)

    def count(self, function):
        try:
            with open(self.stats) as f:
                for line in f:
                    name, n = line.split()
                    if name == function:
                        return int(n)
        except FileNotFoundError:
            pass
        return 0

    def wait_ready(self, want=True, timeout=15):
        deadline = time.time() + timeout
        while time.time() < deadline:
            if (self.http("GET", "/readyz").status == 200) == want:
                return True
            time.sleep(0.05)
        return False


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
        self.assertEqual(r.status, 503, r)
        self.assertTrue(r.header("retry-after"), r.headers)
        self.assertEqual(r.json()["error"], "temporarily_unavailable")

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

    def test_hung_call(self):
        self.d.set_plan("C_Sign HANG 3000 1\n")
        with concurrent.futures.ThreadPoolExecutor(1) as pool:
            slow = pool.submit(self.d.token, self.cred)
            self.assertTrue(self.d.wait_ready(False, timeout=5))
            start = time.time()
            self.assert_503(self.d.token(self.cred))
            self.assertLess(time.time() - start, 1.0)  # refused at once, not queued
            self.assertNotEqual(slow.result().status, 500)
        self.assertTrue(self.d.wait_ready(True))
        self.assertEqual(self.d.token(self.cred).status, 200)

    def test_failures_before_authentication_cost_no_hsm_operation(self):
        signs, hmacs = self.d.count("C_Sign"), self.d.count("C_SignInit")
        self.d.http("POST", "/v1/auth/token", "grant_type=password",
                    {"Content-Type": "application/x-www-form-urlencoded"})
        self.d.token(self.cred, source="127.0.0.2")  # not on the allowlist
        self.d.token(dict(self.cred, client_secret="wrong"))  # one HMAC, no signature
        self.assertEqual(self.d.count("C_SignInit") - hmacs, 1)
        self.assertEqual(self.d.count("C_Sign") - signs, 1)


if __name__ == "__main__":
    unittest.main()
