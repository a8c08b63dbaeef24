"""systemd packaging: `cmake --install` into a scratch root, then check the
unit offline with systemd-analyze (verify, security), create the user and
directories with systemd-sysusers/systemd-tmpfiles --root, and run the real
daemon on the installed sample config speaking the sd_notify protocol to a
socket of ours.

No systemd needs to run (PID 1 in CI is usually not systemd): every systemd
tool used here works offline on a --root tree. The scratch root stands for a
Debian system, so the targets the unit depends on are copied from the host.
"""
import glob
import http.client
import json
import os
import re
import shutil
import signal
import socket
import ssl
import subprocess
import tempfile
import time
import unittest

import harness

BUILD = os.path.dirname(os.path.abspath(harness.BIN))
UNIT = "usr/lib/systemd/system/authd.service"
EXAMPLE = "etc/authd/authd.toml.example"
MAX_EXPOSURE = 2.0
# Checks a network server cannot pass: it must reach the network and remote
# clients, and runs from the host's root. Any other failed check means the
# unit lost a hardening setting.
ALLOWED_EXPOSURE = {
    "PrivateNetwork=",
    "IPAddressDeny=",
    "RestrictAddressFamilies=~AF_(INET|INET6)",
    "RestrictAddressFamilies=~AF_UNIX",
    "RootDirectory=/RootImage=",
    "DeviceAllow=",  # char-rtc:r, added by ProtectClock=
}


def run(*args, **kw):
    return subprocess.run(args, capture_output=True, text=True, timeout=120, **kw)


def unit_settings(path):
    """[(section, key, value)] in file order; repeated keys stay separate."""
    out, section = [], None
    with open(path) as f:
        for line in f:
            line = line.strip()
            if not line or line[0] in "#;":
                continue
            if line.startswith("["):
                section = line.strip("[]")
                continue
            key, _, value = line.partition("=")
            out.append((section, key.strip(), value.strip()))
    return out


class Installed(unittest.TestCase):
    """One `cmake --install --prefix /usr` into a scratch root per class."""

    @classmethod
    def setUpClass(cls):
        cls.root = tempfile.mkdtemp(prefix="authd-root-")
        r = run("cmake", "--install", BUILD, "--prefix", "/usr",
                env=dict(os.environ, DESTDIR=cls.root))
        if r.returncode != 0:
            raise AssertionError(f"cmake --install failed:\n{r.stdout}{r.stderr}")
        # What a Debian host provides and the unit uses: targets, and helper
        # commands such as ExecReload='s /bin/kill. Our own files are never
        # taken from the host.
        units = os.path.join(cls.root, "usr/lib/systemd/system")
        for target in glob.glob("/usr/lib/systemd/system/*.target"):
            dest = os.path.join(units, os.path.basename(target))
            if not os.path.exists(dest):
                shutil.copy(target, dest)
        for _, key, value in unit_settings(os.path.join(cls.root, UNIT)):
            command = value.lstrip("-+!@:").split()[0] if value else ""
            if (key.startswith("Exec") and command.startswith("/")
                    and "authd" not in command and os.path.isfile(command)):
                dest = os.path.join(cls.root, command.lstrip("/"))
                os.makedirs(os.path.dirname(dest), exist_ok=True)
                if not os.path.exists(dest):
                    shutil.copy(command, dest)

    @classmethod
    def tearDownClass(cls):
        shutil.rmtree(cls.root, ignore_errors=True)

    def path(self, rel):
        return os.path.join(self.root, rel)


class InstallLayoutTest(Installed):
    def test_files_land_where_debian_expects_them(self):
        for rel, executable in [
            ("usr/sbin/authd", True),
            ("usr/bin/authctl", True),
            ("usr/bin/authd-token-init", True),
            (UNIT, False),
            ("usr/lib/sysusers.d/authd.conf", False),
            ("usr/lib/tmpfiles.d/authd.conf", False),
            (EXAMPLE, False),
            ("usr/share/authd/nginx/authd-gateway.conf", False),
            ("usr/share/authd/nginx/authd-protect.conf", False),
        ]:
            with self.subTest(rel):
                p = self.path(rel)
                self.assertTrue(os.path.isfile(p), f"{rel} not installed")
                self.assertEqual(os.access(p, os.X_OK), executable, rel)
        # Nothing under /usr/etc or /usr/local: sysconfdir follows --prefix.
        self.assertFalse(os.path.exists(self.path("usr/etc")))
        self.assertFalse(os.path.exists(self.path("usr/local")))

    def test_installed_binary_runs(self):
        r = run(self.path("usr/sbin/authd"), "--version")
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertRegex(r.stdout, r"^authd \S+")


class UnitTest(Installed):
    def settings(self):
        return unit_settings(self.path(UNIT))

    def value(self, key, section="Service"):
        values = [v for s, k, v in self.settings() if s == section and k == key]
        self.assertEqual(len(values), 1, f"{key}= set {len(values)} times")
        return values[0]

    def test_contract_with_the_daemon_and_the_sample_config(self):
        self.assertEqual(self.value("Type"), "notify")
        self.assertEqual(self.value("ExecStart"),
                         "/usr/sbin/authd --config /etc/authd/authd.toml")
        self.assertEqual(self.value("User"), "authd")
        self.assertEqual(self.value("ExecReload"), "/bin/kill -HUP $MAINPID")
        self.assertEqual(self.value("WatchdogSec"), "30s")
        self.assertEqual(self.value("Restart"), "on-failure")
        self.assertEqual(self.value("TimeoutStopSec"), "30s")
        self.assertEqual(self.value("LimitCORE"), "0")
        self.assertEqual(self.value("UMask"), "0077")
        self.assertEqual(self.value("LoadCredential"), "hsm-pin:/etc/authd/hsm-pin")
        self.assertEqual(self.value("ConfigurationDirectory"), "authd")
        self.assertEqual(self.value("StateDirectory"), "authd")
        self.assertEqual(self.value("RuntimeDirectory"), "authd")
        with open(self.path(EXAMPLE)) as f:
            sample = f.read()
        # Every path the daemon opens is one the unit provides.
        self.assertIn('pin_file = "/run/credentials/authd.service/hsm-pin"', sample)
        self.assertIn('path = "/var/lib/authd/authd.db"', sample)
        self.assertIn('admin_socket = "/run/authd/admin.sock"', sample)
        self.assertIn('tls_cert = "/etc/authd/tls.crt"', sample)
        self.assertIn('tls_key = "/etc/authd/tls.key"', sample)
        # No secret or setting in the environment; examples stay comments.
        self.assertNotIn("Environment", [k for _, k, _ in self.settings()])
        self.assertNotIn("EnvironmentFile", [k for _, k, _ in self.settings()])

    def test_systemd_analyze_verify(self):
        r = run("systemd-analyze", "verify", f"--root={self.root}", "authd.service")
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        # verify exits 0 on unknown keys and bad values; it only prints them.
        self.assertEqual(r.stdout + r.stderr, "")

    def test_systemd_analyze_verify_catches_a_broken_unit(self):
        # The check above is only worth something if verify, run this way,
        # sees into the scratch root: a missing binary and a typo must show.
        units = self.path("usr/lib/systemd/system")
        broken = os.path.join(units, "authd-broken.service")
        with open(self.path(UNIT)) as f:
            text = f.read()
        text = text.replace("/usr/sbin/authd ", "/usr/sbin/authd-missing ")
        text = text.replace("ProtectHome=", "ProtectHomme=")
        with open(broken, "w") as f:
            f.write(text)
        try:
            r = run("systemd-analyze", "verify", f"--root={self.root}",
                    "authd-broken.service")
        finally:
            os.unlink(broken)
        out = r.stdout + r.stderr
        self.assertIn("/usr/sbin/authd-missing", out)
        self.assertIn("ProtectHomme", out)

    def test_security_exposure_at_most_2(self):
        r = run("systemd-analyze", "security", "--offline=true",
                f"--root={self.root}", f"--threshold={int(MAX_EXPOSURE * 10)}",
                "--no-pager", "authd.service")
        m = re.search(r"Overall exposure level for authd\.service: (\d+\.\d+)",
                      r.stdout)
        self.assertIsNotNone(m, r.stdout + r.stderr)
        exposure = float(m.group(1))
        print(f"\nsystemd-analyze security exposure: {exposure}")
        self.assertLessEqual(exposure, MAX_EXPOSURE, r.stdout)
        self.assertEqual(r.returncode, 0, r.stderr)

    def test_no_hardening_check_fails_except_network_access(self):
        r = run("systemd-analyze", "security", "--offline=true",
                f"--root={self.root}", "--json=short", "authd.service")
        self.assertEqual(r.returncode, 0, r.stderr)
        failed = {c["name"] for c in json.loads(r.stdout)
                  if c["set"] is False and c.get("exposure")}
        self.assertTrue(failed, "the security report lists no exposure at all")
        self.assertLessEqual(failed, ALLOWED_EXPOSURE)


class SysusersTmpfilesTest(Installed):
    def test_user_and_directories(self):
        r = run("systemd-sysusers", f"--root={self.root}")
        self.assertEqual(r.returncode, 0, r.stderr)
        with open(self.path("etc/passwd")) as f:
            users = {l.split(":")[0]: l.strip().split(":") for l in f}
        self.assertIn("authd", users)
        _, _, uid, gid, _, home, shell = users["authd"]
        self.assertLess(int(uid), 1000, "a system user")
        self.assertEqual(home, "/var/lib/authd")
        self.assertEqual(shell, "/usr/sbin/nologin")

        r = run("systemd-tmpfiles", f"--root={self.root}", "--create")
        self.assertEqual(r.returncode, 0, r.stderr)
        for rel, mode, owner, group in [
            ("etc/authd", 0o750, 0, int(gid)),
            ("var/lib/authd", 0o700, int(uid), int(gid)),
            ("var/lib/authd/tokens", 0o700, int(uid), int(gid)),
        ]:
            with self.subTest(rel):
                st = os.stat(self.path(rel))
                self.assertEqual(st.st_mode & 0o7777, mode, oct(st.st_mode))
                self.assertEqual((st.st_uid, st.st_gid), (owner, group))
        # tmpfiles and the unit must agree, or systemd warns at every start.
        modes = {k: v for s, k, v in unit_settings(self.path(UNIT))
                 if k.endswith("DirectoryMode")}
        self.assertEqual(modes.get("ConfigurationDirectoryMode"), "0750")
        self.assertEqual(modes.get("StateDirectoryMode"), "0700")


class NotifyListener:
    """The receiving end of sd_notify(3): a datagram socket in a temp dir.
    Keeps every message with the monotonic time it arrived."""

    def __init__(self, directory):
        self.path = os.path.join(directory, "notify.sock")
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.sock.bind(self.path)
        self.messages = []  # [(time, "KEY=value\n...")]

    def times(self, line):
        return [t for t, m in self.messages if line in m.split("\n")]

    def wait_for(self, line, timeout, proc=None, count=1):
        """Receives until `count` messages hold `line`; returns their times."""
        self._receive(lambda: len(self.times(line)) >= count,
                      f"{count} x {line!r}", timeout, proc)
        return self.times(line)

    def wait_for_prefix(self, prefix, timeout, proc=None):
        self._receive(lambda: any(l.startswith(prefix) for _, m in self.messages
                                  for l in m.split("\n")),
                      f"{prefix}...", timeout, proc)

    def _receive(self, done, what, timeout, proc):
        deadline = time.monotonic() + timeout
        while not done():
            left = deadline - time.monotonic()
            if left <= 0 or (proc is not None and proc.poll() is not None):
                got = [m for _, m in self.messages]
                raise AssertionError(f"{what} from authd expected; got {got}")
            self.sock.settimeout(min(0.5, left))
            try:
                data = self.sock.recv(4096)
            except socket.timeout:
                continue
            self.messages.append((time.monotonic(), data.decode()))

    def close(self):
        self.sock.close()


class SampleConfigTest(Installed):
    """The installed daemon on the installed sample config, paths moved to a
    temp dir, driven the way systemd drives it: NOTIFY_SOCKET, WATCHDOG_USEC,
    SIGTERM."""

    def setUp(self):
        self.dir = tempfile.mkdtemp(prefix="authd-e2e-")
        self.addCleanup(shutil.rmtree, self.dir, True)
        d = self.dir
        os.makedirs(os.path.join(d, "tokens"))
        self.env = dict(os.environ, SOFTHSM2_CONF=os.path.join(d, "softhsm2.conf"))
        with open(self.env["SOFTHSM2_CONF"], "w") as f:
            f.write(f"directories.tokendir = {d}/tokens\nobjectstore.backend = file\n"
                    "log.level = ERROR\n")
        for name in ("hsm-pin", "so-pin"):
            with open(os.path.join(d, name), "w") as f:
                f.write(os.urandom(8).hex() + "\n")
            os.chmod(os.path.join(d, name), 0o600)
        run(harness.TOKEN_INIT, "--label", "authd", "--so-pin-file",
            os.path.join(d, "so-pin"), "--pin-file", os.path.join(d, "hsm-pin"),
            env=self.env).check_returncode()
        run("openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt",
            "ec_paramgen_curve:P-256", "-nodes", "-days", "2", "-subj", "/CN=localhost",
            "-addext", "subjectAltName=IP:127.0.0.1", "-keyout",
            os.path.join(d, "tls.key"), "-out", os.path.join(d, "tls.crt")
            ).check_returncode()
        with open(self.path(EXAMPLE)) as f:
            text = f.read()
        for prefix in ("/etc/authd/", "/var/lib/authd/", "/run/authd/",
                       "/run/credentials/authd.service/"):
            text = text.replace(f'"{prefix}', f'"{d}/')
        text, n = re.subn(r"(?m)^listen = .*$", 'listen = ["127.0.0.1:0"]', text)
        self.assertEqual(n, 1, "the sample has one listen line")
        self.assertNotRegex(text, r'"/(etc|var|run)/', "a path was left unmoved")
        self.config = os.path.join(d, "authd.toml")
        with open(self.config, "w") as f:
            f.write(text)
        self.notify = NotifyListener(d)
        self.addCleanup(self.notify.close)
        self.log_path = os.path.join(d, "authd.log")
        self.proc = None

    def start(self, **env):
        self.log = open(self.log_path, "ab")
        self.addCleanup(self.log.close)
        env = dict(self.env, NOTIFY_SOCKET=self.notify.path, **env)
        self.proc = subprocess.Popen([self.path("usr/sbin/authd"), "--config", self.config],
                                     env=env, stdout=self.log, stderr=self.log)
        self.addCleanup(self.kill)
        try:
            self.notify.wait_for("READY=1", 60, self.proc)
        except AssertionError as e:
            raise AssertionError(f"{e}\nlog:\n{self.read_log()}") from None

    def kill(self):
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()

    def read_log(self):
        with open(self.log_path, "rb") as f:
            return f.read().decode("latin-1")

    def test_sample_config_serves_and_notifies_ready_only_when_up(self):
        self.start()
        # READY=1 promises that HSM, storage and every listener are up.
        r = harness.request(harness.UnixHTTPConnection(os.path.join(self.dir, "admin.sock")),
                             "GET", "/readyz")
        self.assertEqual(r.status, 200, r)
        # TCP peers must be allowed, probes included (dropped at accept).
        r = harness.request(harness.UnixHTTPConnection(os.path.join(self.dir, "admin.sock")),
                            "POST", "/v1/admin/allowlist", json.dumps({"cidr": "127.0.0.1"}),
                            {"Content-Type": "application/json"})
        self.assertEqual(r.status, 201, r)
        port = int(re.search(r"event=listening address=127\.0\.0\.1:(\d+)",
                             self.read_log()).group(1))
        ctx = ssl.create_default_context(cafile=os.path.join(self.dir, "tls.crt"))
        r = harness.request(http.client.HTTPSConnection("127.0.0.1", port, timeout=30,
                                                         context=ctx),
                             "GET", "/readyz")
        self.assertEqual(r.status, 200, r)
        # `systemctl status` shows a one-line state.
        self.notify.wait_for_prefix("STATUS=", 10, self.proc)
        status = [l for _, m in self.notify.messages for l in m.split("\n")
                  if l.startswith("STATUS=")]
        self.assertGreater(len(status[0]), len("STATUS="), status)

        # ExecReload= sends SIGHUP: the daemon reports the reload and is ready
        # again, still serving.
        self.proc.send_signal(signal.SIGHUP)
        self.notify.wait_for("RELOADING=1", 30, self.proc)
        self.notify.wait_for("READY=1", 30, self.proc, count=2)
        r = harness.request(harness.UnixHTTPConnection(os.path.join(self.dir, "admin.sock")),
                             "GET", "/healthz")
        self.assertEqual(r.status, 200, r)

        self.proc.send_signal(signal.SIGTERM)
        self.notify.wait_for("STOPPING=1", 30)
        self.assertEqual(self.proc.wait(timeout=30), 0, self.read_log())

    def test_watchdog_pings_while_serving(self):
        # systemd passes WatchdogSec= as WATCHDOG_USEC (WATCHDOG_PID may be
        # left out) and aborts the service when a ping is late; sd_watchdog_
        # enabled(3) asks for one every half interval.
        usec = 2_000_000
        self.start(WATCHDOG_USEC=str(usec))
        ready = self.notify.times("READY=1")[0]
        pings = self.notify.wait_for("WATCHDOG=1", 10, self.proc, count=3)
        gaps = [b - a for a, b in zip([ready] + pings, pings)]
        self.assertLess(max(gaps), usec / 1e6, f"gaps between pings: {gaps}")


if __name__ == "__main__":
    unittest.main()
