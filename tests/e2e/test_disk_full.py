"""A full disk under the real daemon: the database lives on a small tmpfs,
a filler file takes the rest of it, and changes must then be refused with
503 and a message that says the disk is full, while tokens are still issued
and /readyz stays 200. Once the filler is removed the next change succeeds
without a restart, and after a restart every change that was answered 2xx
is still there. Needs `mount -t tmpfs` (root, and a kernel that allows it):
skipped, saying why, where mounting is refused."""
import errno
import os
import subprocess
import unittest

from harness import Daemon, iso


def fill(path):
    """Writes `path` until the filesystem is full; returns the bytes written."""
    written = 0
    with open(path, "wb", buffering=0) as f:
        for chunk in (1 << 20, 1 << 16, 4096, 512, 1):
            block = b"\0" * chunk
            while True:
                try:
                    written += f.write(block)
                except OSError as e:
                    if e.errno != errno.ENOSPC:
                        raise
                    break
    return written


class DiskFullTest(unittest.TestCase):
    def setUp(self):
        self.daemon = Daemon(start=False)
        self.addCleanup(self.daemon.cleanup)
        self.mnt = os.path.join(self.daemon.dir, "disk")
        os.makedirs(self.mnt)
        r = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=8m,mode=0700", "authd-e2e",
                            self.mnt], capture_output=True, text=True)
        if r.returncode != 0:
            self.skipTest("cannot mount a tmpfs for the database here: "
                          + (r.stderr.strip() or f"mount exited {r.returncode}"))
        # Runs before the daemon's cleanup (removes its dir): stop, unmount.
        self.addCleanup(subprocess.run, ["umount", self.mnt], capture_output=True)
        self.addCleanup(self.daemon.stop)
        db = os.path.join(self.mnt, "authd.db")
        with open(self.daemon.config) as f:
            config = f.read()
        with open(self.daemon.config, "w") as f:
            f.write(config.replace(f'path = "{self.daemon.db}"', f'path = "{db}"'))
        self.daemon.db = db

    def create(self, name):
        return self.daemon.admin("POST", "/v1/admin/credentials",
                                 {"name": name, "role": "viewer",
                                  "expires_at": iso(30 * 86400)})

    def test_full_disk_refuses_changes_keeps_tokens_and_recovers(self):
        d = self.daemon
        d.start()
        d.allow("127.0.0.1")
        cred = d.create_credential("viewer", name="standing")
        filler = os.path.join(self.mnt, "filler")
        self.assertGreater(fill(filler), 0)

        # Changes may still fit in the WAL's pages already on disk; the
        # first that needs a new one is refused.
        acknowledged, refused = [cred["client_id"]], None
        for i in range(500):
            r = self.create(f"while-full-{i}")
            if r.status == 201:
                acknowledged.append(r.json()["client_id"])
                continue
            refused = r
            break
        self.assertIsNotNone(refused, "no change was refused on a full disk")
        self.assertEqual(refused.status, 503, refused)
        self.assertEqual(refused.header("retry-after"), "5")
        message = refused.json()["message"]
        self.assertTrue(message.startswith("storage: disk full: "), message)
        self.assertIn("Free space", message)
        # Refused again while full, and the token path does not care.
        self.assertEqual(self.create("still-full").status, 503)
        self.assertEqual(d.token(cred).status, 200)
        self.assertEqual(d.http("GET", "/readyz").status, 200)

        # Space returns: the next change succeeds, no restart.
        os.remove(filler)
        r = self.create("after")
        self.assertEqual(r.status, 201, r)
        acknowledged.append(r.json()["client_id"])
        self.assertEqual(d.http("GET", "/readyz").status, 200)
        self.assertEqual(d.token(cred).status, 200)

        # And every acknowledged change survives a restart, with an audit
        # log that authd still trusts.
        d.stop()
        d.start()
        self.assertEqual(d.http("GET", "/readyz").status, 200)
        listed = d.admin("GET", "/v1/admin/credentials").json()
        ids = {c["client_id"] for c in listed}
        self.assertEqual(set(acknowledged) - ids, set())
        self.assertNotIn("still-full", {c["name"] for c in listed})
        self.assertEqual(d.token(cred).status, 200)


if __name__ == "__main__":
    unittest.main()
