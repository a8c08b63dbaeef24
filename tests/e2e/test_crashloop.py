"""kill -9 during admin changes: no acknowledged change lost, no change half
made, no crash taken for a rollback, the audit log still verifying offline.

CrashLoopTest runs crashloop.py's loop for CRASHLOOP_CYCLES cycles (10 by
default; scripts/crashloop.sh runs it for 1000). HeadPhaseKillTest kills
authd at each step of the audit log's two-phase HSM head write, using the
fault module to hold the process there."""
import os
import signal
import sqlite3
import subprocess
import unittest

from crashloop import CrashLoop
from faults import MODULE, FaultDaemon
from harness import AUTHCTL, wait_until

CYCLES = int(os.environ.get("CRASHLOOP_CYCLES", "10"))


class CrashLoopTest(unittest.TestCase):
    def setUp(self):
        self.loop = CrashLoop(out=print)

    def tearDown(self):
        self.loop.close()

    def test_kill_9_loop(self):
        seconds = self.loop.run(CYCLES)
        print(self.loop.summary(seconds))
        self.assertEqual(self.loop.cycle_no, CYCLES)
        self.assertFalse(self.loop.failed(), self.loop.summary(seconds))
        self.assertGreater(self.loop.counts["acknowledged"], CYCLES)

    def test_checker_sees_a_lost_change(self):
        """The loop's checks can fail: a row taken out of the database while
        authd is down is a lost change and disagrees with the audit log."""
        loop = self.loop
        self.assertTrue(loop.cycle())
        loop.d.proc.send_signal(signal.SIGKILL)
        loop.d.proc.wait()
        loop.d.log.close()
        db = sqlite3.connect(loop.d.db)
        db.execute("DELETE FROM credentials WHERE client_id = ?", (loop.owner["client_id"],))
        db.commit()
        db.close()
        self.assertFalse(loop.restart_and_check())
        self.assertEqual(loop.counts["lost"], 1)
        self.assertEqual(loop.counts["half"], 1)  # the audit log still has it
        self.assertTrue(loop.failed())


@unittest.skipUnless(os.path.exists(MODULE), "fault module not built")
class HeadPhaseKillTest(unittest.TestCase):
    """An allowlist change writes the HSM head (find, create the new object,
    destroy the old) as pending before its commit and as committed after it.
    authd is killed while the fault module holds it at each step; the restart
    must be ready without --accept-rollback, with the change there exactly
    when its commit happened. A long hsm.timeout_ms keeps the held call from
    being abandoned before the kill."""

    CASES = [
        # name, plan, committed before the kill
        ("phase 1, before the pending head is created", "C_CreateObject BLOCK 1\n", False),
        ("phase 1, pending head created, old not destroyed", "C_DestroyObject BLOCK 1\n", False),
        ("after the commit, before the committed head",
         "C_CreateObject HANG 1 1\nC_CreateObject BLOCK 1\n", True),
        ("phase 2, committed head created, pending not destroyed",
         "C_DestroyObject HANG 1 1\nC_DestroyObject BLOCK 1\n", True),
    ]

    def setUp(self):
        self.d = FaultDaemon(hsm_extra="timeout_ms = 20000\n")
        self.d.allow("127.0.0.1")
        self.pem = self.d.audit_pem()

    def tearDown(self):
        self.d.set_plan("")
        self.d.cleanup()

    def restart(self):
        offset = os.path.getsize(self.d.log_path)
        self.d.start()
        log = self.d.read_log()[offset:]
        self.assertNotIn("event=audit_rollback", log)
        self.assertEqual(self.d.http("GET", "/readyz").status, 200, log)

    def kill_during(self, plan, cidr):
        function = plan.split()[0]
        before = self.d.count(function)
        held = 2 if "HANG" in plan else 1
        self.d.set_plan(plan)
        change = self.d.admin_async("POST", "/v1/admin/allowlist", {"cidr": cidr})
        self.assertTrue(wait_until(lambda: self.d.count(function) >= before + held, timeout=30))
        self.assertNotIn("reply", change)
        self.d.proc.send_signal(signal.SIGKILL)
        self.d.proc.wait()
        self.d.log.close()
        self.d.set_plan("")

    def test_kill_at_each_step_of_the_head_write(self):
        for i, (name, plan, committed) in enumerate(self.CASES):
            with self.subTest(name):
                cidr = f"192.0.2.{i + 1}/32"
                self.kill_during(plan, cidr)
                self.restart()
                listed = {e["cidr"] for e in self.d.admin("GET", "/v1/admin/allowlist").json()}
                self.assertEqual(cidr in listed, committed, listed)
                entries = self.d.admin("GET", "/v1/admin/audit?action=allowlist.add&target="
                                       + cidr.replace("/", "%2F")).json()["entries"]
                self.assertEqual(len(entries), 1 if committed else 0, entries)
                # The head was moved to the database: a further change and a
                # second restart are fine too.
                r = self.d.admin("POST", "/v1/admin/allowlist", {"cidr": f"198.51.100.{i + 1}"})
                self.assertEqual(r.status, 201, r)
                self.d.stop()
                self.restart()
                path = os.path.join(self.d.dir, "export.jsonl")
                self.d.ctl("audit", "export", "--output", path)
                r = subprocess.run([AUTHCTL, "--socket", "/nonexistent", "audit", "verify",
                                    "--file", path, "--key", self.pem],
                                   capture_output=True, text=True, timeout=60)
                self.assertEqual(r.returncode, 0, r.stderr)


if __name__ == "__main__":
    unittest.main()
