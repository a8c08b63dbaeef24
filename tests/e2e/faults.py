"""Shared by the HSM fault tests and loops: the fault-injecting PKCS#11
module (tests/testing/fault_pkcs11, which forwards to SoftHSM2 and fails the
calls a plan file names) and a Daemon that loads it.

Used by test_hsm_faults.py, test_crashloop.py and hsm_fault_loop.py
(scripts/hsm-faults.sh)."""
import os
import shutil
import tempfile
import threading
import time

from harness import BIN, Daemon, UnixHTTPConnection, request

MODULE = os.path.normpath(os.path.join(BIN, "..", "lib", "libauthd_fault_pkcs11.so"))

LOST = ["CKR_DEVICE_ERROR", "CKR_DEVICE_REMOVED", "CKR_TOKEN_NOT_PRESENT",
        "CKR_SESSION_HANDLE_INVALID", "CKR_SESSION_CLOSED", "CKR_USER_NOT_LOGGED_IN"]
FAILED = ["CKR_GENERAL_ERROR", "CKR_FUNCTION_FAILED"]


def unavailable(r):
    """The answer the token endpoint gives while the HSM is out: 503
    temporarily_unavailable with Retry-After."""
    if r is None or r.status != 503 or not r.header("retry-after"):
        return False
    try:
        return r.json().get("error") == "temporarily_unavailable"
    except ValueError:
        return False


class FaultDaemon(Daemon):
    """A Daemon on the fault module. set_plan() replaces the fault plan;
    count() reads how often the module was asked for a function since it
    was loaded (this process's calls, injected failures included)."""

    def __init__(self, hsm_extra="timeout_ms = 1000\n", **kw):
        tmp = self.fault_dir = tempfile.mkdtemp(prefix="authd-fault-")
        self.plan = os.path.join(tmp, "plan")
        self.stats = os.path.join(tmp, "stats")
        super().__init__(module=MODULE, hsm_extra=hsm_extra,
                         env={"AUTHD_FAULT_CONTROL": self.plan, "AUTHD_FAULT_STATS": self.stats},
                         **kw)

    def cleanup(self):
        super().cleanup()
        shutil.rmtree(self.fault_dir, ignore_errors=True)

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

    def admin_async(self, method, path, body=None):
        """Starts an admin request on a daemon thread (it may never return
        while the HSM hangs); the returned dict gets its reply."""
        out = {}

        def run():
            out["reply"] = request(UnixHTTPConnection(self.socket, timeout=120),
                                   method, path, body)
        threading.Thread(target=run, daemon=True).start()
        return out

    def metric(self, name):
        for line in self.http("GET", "/metrics").body.decode().splitlines():
            if line.startswith(name + " "):
                return float(line.split()[1])
        return None

    def wait_ready(self, want=True, timeout=15):
        deadline = time.time() + timeout
        while time.time() < deadline:
            if (self.http("GET", "/readyz").status == 200) == want:
                return True
            time.sleep(0.05)
        return False
