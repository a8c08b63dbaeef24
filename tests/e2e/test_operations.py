"""Operating authd: /metrics, structured logs without secrets, SIGHUP reload,
and SIGTERM finishing requests in flight."""
import concurrent.futures
import re
import signal
import time
import unittest

from harness import DROPPED, Daemon, wait_until


def metric(text, name, labels=""):
    pattern = r"(?m)^" + re.escape(name) + (r"\{" + re.escape(labels) + r"\}" if labels else "") + r" (\S+)$"
    m = re.search(pattern, text)
    return float(m.group(1)) if m else None


class MetricsTest(unittest.TestCase):
    def test_metrics_count_what_happened(self):
        with Daemon() as d:
            d.allow("127.0.0.1")
            cred = d.create_credential("viewer")
            for _ in range(3):
                self.assertEqual(d.token(cred).status, 200)
            self.assertEqual(d.token(dict(cred, client_secret="wrong")).status, 401)
            self.assertEqual(d.http("POST", "/v1/auth/token", "grant_type=password",
                                    {"Content-Type": "application/x-www-form-urlencoded"}).status, 400)
            # Not allowed: dropped at accept, so no request is counted.
            self.assertEqual(d.token(cred, source="127.0.0.2").status, DROPPED)
            r = d.http("GET", "/metrics")
            self.assertEqual(r.status, 200)
            self.assertTrue(r.header("content-type").startswith("text/plain; version=0.0.4"))
            text = r.body.decode()
            self.assertEqual(metric(text, "authd_tokens_issued_total"), 3)
            self.assertEqual(metric(text, "authd_token_failures_total", 'reason="invalid_client"'), 1)
            self.assertEqual(metric(text, "authd_token_failures_total", 'reason="unsupported_grant_type"'), 1)
            self.assertEqual(metric(text, "authd_token_failures_total", 'reason="access_denied"'), 0)
            self.assertEqual(metric(text, "authd_admin_changes_total", 'action="credential.create"'), 1)
            self.assertEqual(metric(text, "authd_admin_changes_total", 'action="allowlist.add"'), 1)
            self.assertEqual(metric(text, "authd_http_request_duration_seconds_count", 'endpoint="token"'), 5)
            self.assertGreaterEqual(metric(text, "authd_hsm_operation_duration_seconds_count", 'op="sign"'), 3)
            self.assertEqual(metric(text, "authd_hsm_errors_total", 'op="sign"'), 0)
            self.assertEqual(metric(text, "authd_allowlist_entries"), 1)
            self.assertEqual(metric(text, "authd_credentials"), 1)
            self.assertEqual(metric(text, "authd_ready"), 1)
            self.assertEqual(metric(text, "authd_build_info", 'version="0.1.0"'), 1)
            self.assertIsNotNone(metric(text, "authd_hsm_sessions_open"))
            # Histogram buckets are cumulative and end at the count.
            buckets = [float(v) for v in re.findall(
                r'authd_http_request_duration_seconds_bucket\{endpoint="token",le="[^"]+"\} (\S+)', text)]
            self.assertEqual(buckets, sorted(buckets))
            self.assertEqual(buckets[-1], 5)
            # /metrics is behind the allowlist like every other TCP path.
            self.assertEqual(d.http("GET", "/metrics", source="127.0.0.2").status, DROPPED)


class LogTest(unittest.TestCase):
    def test_one_line_per_request_without_secrets(self):
        with Daemon() as d:
            d.allow("127.0.0.1")
            cred = d.create_credential("viewer")
            token = d.access_token(cred)
            d.token(dict(cred, client_secret="wrong-secret-canary"))
            log = d.read_log()
            lines = [l for l in log.splitlines() if "event=request" in l and "/v1/auth/token" in l]
            self.assertEqual(len(lines), 2)
            ok = [l for l in lines if "status=200" in l][0]
            self.assertIn("client_id=" + cred["client_id"], ok)
            self.assertRegex(ok, r"id=[0-9a-f]{16} ")
            self.assertRegex(ok, r"latency_ms=\d+\.\d+")
            for secret in (cred["client_secret"], token, "wrong-secret-canary",
                           open(d.pin_file).read().strip()):
                self.assertNotIn(secret, log)
            for line in log.splitlines():
                self.assertRegex(line, r"^(level=(debug|info|notice|warn|error) |authd: )")
            # A request path cannot forge a log line or a field.
            d.http("GET", "/x%0alevel=error%20event=hsm_unready%20msg=forged")
            log = d.read_log()
            self.assertNotIn("\nlevel=error event=hsm_unready", log)
            self.assertIn("path=/x\\x0alevel\\x3derror", log)

    def test_log_level_and_sighup_reload(self):
        with Daemon(config_extra='[log]\nlevel = "warn"\n') as d:
            d.allow("127.0.0.1")
            d.http("GET", "/v1/auth/jwks")
            self.assertNotIn("event=request", d.read_log())
            with open(d.config) as f:
                text = f.read()
            with open(d.config, "w") as f:
                f.write(text.replace('level = "warn"', 'level = "info"')
                        .replace("ttl_seconds = 600", "ttl_seconds = 300"))
            d.proc.send_signal(signal.SIGHUP)
            wait_until(lambda: "event=reload" in d.read_log())
            self.assertIn('msg="applied log.level, tokens.ttl_seconds"', d.read_log())
            d.http("GET", "/v1/auth/jwks")
            self.assertIn("event=request", d.read_log())
            # An invalid config keeps the running one.
            with open(d.config, "w") as f:
                f.write(text + "\nbogus = 1\n")
            d.proc.send_signal(signal.SIGHUP)
            wait_until(lambda: "keeping the running configuration" in d.read_log())
            self.assertIn("unknown key log.bogus", d.read_log())
            self.assertEqual(d.http("GET", "/v1/auth/jwks").status, 200)
            self.assertIsNone(d.proc.poll())


class ShutdownTest(unittest.TestCase):
    def test_sigterm_finishes_requests_in_flight(self):
        with Daemon() as d:
            d.allow("127.0.0.1")
            cred = d.create_credential("viewer")
            with concurrent.futures.ThreadPoolExecutor(8) as pool:
                futures = [pool.submit(d.token, cred) for _ in range(64)]
                time.sleep(0.05)
                d.proc.send_signal(signal.SIGTERM)
                results = []
                for f in futures:
                    # Closed without an answer (DROPPED) or refused: it
                    # arrived after the listener stopped taking requests.
                    try:
                        status = f.result().status
                    except OSError:
                        status = DROPPED
                    results.append("refused" if status == DROPPED else status)
            self.assertEqual(d.proc.wait(timeout=30), 0)
            self.assertNotIn(500, results)
            self.assertTrue(all(r in (200, "refused") for r in results), results)
            self.assertIn("event=stopped", d.read_log())


if __name__ == "__main__":
    unittest.main()
