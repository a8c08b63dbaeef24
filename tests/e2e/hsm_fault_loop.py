"""The HSM fault matrix of test_hsm_faults.py as a loop: every fault,
CYCLES times, against one real daemon on the fault module (faults.py).

Each cycle of each fault checks:

- no crash: the daemon's pid is alive afterwards; only where the design
  says so (SIGTERM with a hung call, fresh sessions hanging too) it exits,
  with status 3, and is started again as systemd would;
- during the outage the token endpoint answers 503 with Retry-After
  (temporarily_unavailable), never 500, and /readyz turns 503 where the HSM
  is lost;
- recovery: from the moment the fault clears (the plan is emptied, or for
  an exit or a rejected PIN the restart begins) until /readyz is 200 and a
  token is issued, at most 30 s;
- CKR_PIN_INCORRECT is never retried: exactly one C_Login after it, also
  once the HSM is healthy again, until authd is restarted.

tests/e2e/test_hsm_fault_loop.py runs a few cycles under ctest;
scripts/hsm-faults.sh runs `python3 hsm_fault_loop.py CYCLES`.
"""
import argparse
import signal
import sys
import threading
import time

from faults import FAILED, LOST, FaultDaemon, unavailable
from harness import wait_until

RECOVERY_LIMIT = 30.0


class Cycle:
    """What one cycle of one fault found."""

    def __init__(self):
        self.problems = []
        self.recovery = None
        self.crashed = False
        self.pin_retries = 0

    def check(self, ok, text):
        if not ok:
            self.problems.append(text)
        return ok


class FaultLoop:
    def __init__(self, out=print):
        self.out = out
        self.d = FaultDaemon(server_extra="connection_timeout_seconds = 2\n")
        self.d.allow("127.0.0.1")
        self.cred = self.d.create_credential("viewer", "fault-loop")
        self.cidrs = 0
        self.faults = (
            [(f"{rv} on every call", self.lost(rv)) for rv in LOST]
            + [(f"{rv} on C_Sign", self.failed(rv)) for rv in FAILED]
            + [("one lost session", self.one_lost_session),
               ("HSM restart (logged out)", self.hsm_restart),
               ("CKR_PIN_INCORRECT", self.pin_rejected),
               ("hung C_Sign on a token request", self.hung_token),
               ("hung C_Sign during an admin change", self.hung_change),
               ("SIGTERM with a hung call (exit 3)", self.sigterm_hung),
               ("fresh sessions hang too (exit 3)", self.fresh_sessions_hang)])

    def close(self):
        self.d.set_plan("")
        self.d.cleanup()

    # --- building blocks --------------------------------------------------
    def outage_503(self, c, what):
        r = self.d.token(self.cred)
        c.check(unavailable(r), f"{what}: token answered {r!r}, not 503")

    def recover(self, c, since):
        """Waits for /readyz 200 and an issued token; records the time."""
        def healthy():
            return (self.d.http("GET", "/readyz").status == 200
                    and self.d.token(self.cred).status == 200)
        ok = wait_until(healthy, timeout=RECOVERY_LIMIT, interval=0.02)
        c.recovery = time.time() - since
        c.check(ok, f"not ready {RECOVERY_LIMIT:.0f} s after the fault cleared")

    def clear_and_recover(self, c):
        self.d.set_plan("")
        self.recover(c, time.time())

    def restart(self, c):
        self.d.set_plan("")
        start = time.time()
        self.d.log.close()
        self.d.start()
        self.recover(c, start)

    def change(self):
        self.cidrs += 1
        n = self.cidrs
        return f"10.{n >> 16 & 255}.{n >> 8 & 255}.{n & 255}/32"

    # --- the faults -------------------------------------------------------
    def lost(self, rv):
        def run(c):
            self.d.set_plan(f"* {rv}\n")
            self.outage_503(c, rv)
            c.check(self.d.wait_ready(False), "/readyz stayed 200")
            r = self.d.admin("POST", "/v1/admin/allowlist", {"cidr": self.change()})
            c.check(r.status == 503, f"admin change answered {r!r}, not 503")
            self.clear_and_recover(c)
        return run

    def failed(self, rv):
        def run(c):
            self.d.set_plan(f"C_Sign {rv}\n")
            self.outage_503(c, rv)
            self.clear_and_recover(c)
        return run

    def one_lost_session(self, c):
        self.d.set_plan("C_Sign CKR_SESSION_HANDLE_INVALID 1\n")
        r = self.d.token(self.cred)
        c.check(r.status == 200, f"a lost session was not absorbed: {r!r}")
        self.clear_and_recover(c)

    def hsm_restart(self, c):
        logins = self.d.count("C_Login")
        self.d.set_plan("LOGOUT\n")
        r = self.d.token(self.cred)
        c.check(r.status == 200 or unavailable(r), f"token answered {r!r}")
        self.clear_and_recover(c)
        c.check(self.d.count("C_Login") > logins, "no new C_Login after the HSM restart")

    def pin_rejected(self, c):
        before = self.d.count("C_Login")
        self.d.set_plan("LOGOUT\nC_Login CKR_PIN_INCORRECT\n")
        self.outage_503(c, "rejected PIN")
        c.check(self.d.wait_ready(False), "/readyz stayed 200")
        time.sleep(1.5)  # several supervisor rounds
        self.d.set_plan("")  # a healed HSM is not logged into either
        time.sleep(0.5)
        self.outage_503(c, "rejected PIN, HSM healed")
        logins = self.d.count("C_Login") - before
        c.pin_retries = max(0, logins - 1)
        c.check(logins == 1, f"{logins} C_Login calls after CKR_PIN_INCORRECT, not 1")
        self.d.stop()  # the operator's remedy: restart with the right PIN
        c.check(self.d.proc.returncode == 0, f"SIGTERM exit {self.d.proc.returncode}")
        self.restart(c)

    def hung_token(self, c):
        signs = self.d.count("C_Sign")
        self.d.set_plan("C_Sign BLOCK 1\nC_Login CKR_DEVICE_ERROR\n")
        slow = {}
        t = threading.Thread(target=lambda: slow.update(r=self.d.token(self.cred)))
        t.start()
        c.check(wait_until(lambda: self.d.count("C_Sign") > signs), "C_Sign never called")
        c.check(self.d.wait_ready(False), "/readyz stayed 200 with a hung call")
        self.outage_503(c, "hung call")
        self.clear_and_recover(c)
        t.join(60)
        c.check(unavailable(slow.get("r")), f"the hung request answered {slow.get('r')!r}")

    def hung_change(self, c):
        signs, cidr = self.d.count("C_Sign"), self.change()
        self.d.set_plan("C_Sign BLOCK 1\nC_Login CKR_DEVICE_ERROR\n")
        change = self.d.admin_async("POST", "/v1/admin/allowlist", {"cidr": cidr})
        c.check(wait_until(lambda: self.d.count("C_Sign") > signs), "C_Sign never called")
        c.check(self.d.wait_ready(False), "/readyz stayed 200 with a hung change")
        self.outage_503(c, "hung change")
        self.clear_and_recover(c)
        c.check(wait_until(lambda: "reply" in change, timeout=60), "the hung change never answered")
        r = change.get("reply")
        c.check(r is not None and r.status == 503, f"the hung change answered {r!r}")
        listed = {e["cidr"] for e in self.d.admin("GET", "/v1/admin/allowlist").json()}
        c.check(cidr not in listed, f"the abandoned change {cidr} was made")

    def exits_3(self, c, plan):
        signs = self.d.count("C_Sign")
        self.d.set_plan(plan)
        self.d.admin_async("POST", "/v1/admin/allowlist", {"cidr": self.change()})
        c.check(wait_until(lambda: self.d.count("C_Sign") > signs), "C_Sign never called")
        return signs

    def sigterm_hung(self, c):
        self.exits_3(c, "C_Sign BLOCK\n")
        self.d.proc.send_signal(signal.SIGTERM)
        self.expect_exit_3(c)

    def fresh_sessions_hang(self, c):
        self.exits_3(c, "C_Sign BLOCK\nC_Login BLOCK\n")
        self.expect_exit_3(c)

    def expect_exit_3(self, c):
        try:
            code = self.d.proc.wait(timeout=60)
        except Exception:  # noqa: BLE001 -- a hang is a failure, not a crash
            c.check(False, "authd did not exit within 60 s")
            self.d.proc.kill()
            code = self.d.proc.wait()
        c.check(code == 3, f"exit status {code}, not 3")
        c.crashed = code not in (3, None) and code != -signal.SIGKILL
        self.restart(c)

    # --- the loop ---------------------------------------------------------
    def run_cycle(self, fault):
        c = Cycle()
        pid = self.d.proc.pid
        try:
            fault(c)
        except Exception as e:  # noqa: BLE001 -- reported as a failed check
            c.check(False, f"raised {e!r}")
        if self.d.proc.poll() is not None:
            c.crashed = True
            c.check(False, f"authd (pid {pid}) exited {self.d.proc.returncode}: "
                    + self.d.read_log()[-1500:])
            self.restart(Cycle())
        return c

    def run(self, cycles):
        """Runs every fault `cycles` times; returns per-fault results."""
        results = []
        for name, fault in self.faults:
            runs = []
            for i in range(cycles):
                c = self.run_cycle(fault)
                for p in c.problems:
                    self.out(f"hsm-faults: {name}: cycle {i + 1}: {p}")
                runs.append(c)
            results.append((name, runs))
            self.out(line(name, runs))
        return results


def line(name, runs):
    bad = sum(1 for c in runs if c.problems)
    times = [c.recovery for c in runs if c.recovery is not None]
    return (f"hsm-faults: {name}: {len(runs) - bad}/{len(runs)} ok, "
            f"{sum(c.crashed for c in runs)} crashes, "
            f"recovery max {max(times, default=0):.1f}s mean "
            f"{sum(times) / max(len(times), 1):.2f}s, "
            f"{sum(c.pin_retries for c in runs)} PIN retries")


def summary(results, cycles, seconds):
    runs = [c for _, rs in results for c in rs]
    return (f"hsm-faults: {len(results)} faults x {cycles} cycles, "
            f"{sum(c.crashed for c in runs)} crashes, "
            f"max recovery {max((c.recovery or 0 for c in runs), default=0):.1f}s, "
            f"{sum(c.pin_retries for c in runs)} PIN retries, "
            f"{sum(1 for c in runs if c.problems)} failed cycles ({seconds:.0f} s)")


def failed(results):
    return any(c.problems or c.crashed or c.pin_retries for _, rs in results for c in rs)


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("cycles", type=int, nargs="?", default=100)
    args = p.parse_args(argv)
    start = time.time()
    loop = FaultLoop(out=lambda s: print(s, flush=True))
    try:
        results = loop.run(args.cycles)
    finally:
        loop.close()
    print(summary(results, args.cycles, time.time() - start), flush=True)
    return 1 if failed(results) else 0


if __name__ == "__main__":
    sys.exit(main())
