"""The HTTP transport against hostile clients, over raw sockets: ambiguous
framing (RFC 9112 §6.3), bodies past the limit, requests that trickle in, and
slow connections that must not starve an allowed client."""
import os
import select
import socket
import ssl
import time
import unittest

from harness import Daemon, basic, form

TOKEN_HEAD = (b"POST /v1/auth/token HTTP/1.1\r\nHost: x\r\n"
              b"Content-Type: application/x-www-form-urlencoded\r\n")


def read_all(s, timeout=10):
    """Everything the server sends until it closes the connection."""
    s.settimeout(timeout)
    data = b""
    while True:
        try:
            chunk = s.recv(65536)
        except (ConnectionResetError, ssl.SSLError):
            return data, True
        if not chunk:
            return data, True
        data += chunk


def status_of(data):
    return int(data.split(b" ", 2)[1]) if data.startswith(b"HTTP/1.") else None


class FramingTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.d = Daemon()
        cls.d.allow("127.0.0.1")
        cls.cred = cls.d.create_credential("viewer", "viewer")

    @classmethod
    def tearDownClass(cls):
        cls.d.cleanup()

    def send_raw(self, raw):
        s = socket.create_connection(("127.0.0.1", self.d.port))
        try:
            s.sendall(raw)
            return read_all(s)
        finally:
            s.close()

    def auth(self):
        return f"Authorization: {basic(self.cred['client_id'], self.cred['client_secret'])}\r\n".encode()

    def test_content_length_and_transfer_encoding_is_400_and_closes(self):
        body = form(grant_type="client_credentials").encode()
        chunked = b"%x\r\n%s\r\n0\r\n\r\n" % (len(body), body)
        data, closed = self.send_raw(
            TOKEN_HEAD + self.auth() + b"Content-Length: %d\r\n" % len(chunked)
            + b"Transfer-Encoding: chunked\r\n\r\n" + chunked)
        self.assertEqual(status_of(data), 400, data)
        self.assertIn(b"Transfer-Encoding and Content-Length", data)
        self.assertTrue(closed)

    def test_two_content_lengths_is_400(self):
        body = form(grant_type="client_credentials").encode()
        for second in (len(body), len(body) + 5):
            data, closed = self.send_raw(
                TOKEN_HEAD + self.auth() + b"Content-Length: %d\r\n" % len(body)
                + b"Content-Length: %d\r\n\r\n" % second + body)
            self.assertEqual(status_of(data), 400, data)
            self.assertIn(b"at most one Content-Length", data)
            self.assertTrue(closed)

    def test_well_framed_requests_still_work(self):
        body = form(grant_type="client_credentials").encode()
        chunked = b"%x\r\n%s\r\n0\r\n\r\n" % (len(body), body)
        data, _ = self.send_raw(TOKEN_HEAD + self.auth() + b"Connection: close\r\n"
                                b"Transfer-Encoding: chunked\r\n\r\n" + chunked)
        self.assertEqual(status_of(data), 200, data)
        data, _ = self.send_raw(TOKEN_HEAD + self.auth() + b"Connection: close\r\n"
                                b"Content-Length: %d\r\n\r\n" % len(body) + body)
        self.assertEqual(status_of(data), 200, data)


class BodyLimitTest(unittest.TestCase):
    def refused_while_sending(self, tls):
        with Daemon(server_extra="max_body_bytes = 1024\n", tls=tls) as d:
            d.allow("127.0.0.1")
            s = socket.create_connection(("127.0.0.1", d.port))
            if tls:
                ctx = ssl.create_default_context(
                    cafile=os.path.join(d.dir, "tls.crt"))
                s = ctx.wrap_socket(s, server_hostname="127.0.0.1")
            s.sendall(TOKEN_HEAD + b"Transfer-Encoding: chunked\r\n\r\n")
            chunk = b"200\r\n" + b"a" * 0x200 + b"\r\n"
            sent, reply, deadline = 0, b"", time.time() + 20
            try:
                # Keeps sending until the server answers: it must answer long
                # before the client stops on its own (4 MiB or 20 s).
                while sent < 4 << 20 and time.time() < deadline:
                    s.sendall(chunk)
                    sent += 0x200
                    if select.select([s], [], [], 0.01)[0]:
                        reply = s.recv(65536)
                        break
            except (BrokenPipeError, ConnectionResetError):
                pass
            self.assertEqual(status_of(reply), 413, reply)
            self.assertIn(b"payload_too_large", reply)
            self.assertLess(sent, 256 * 1024)  # not drained
            rest, closed = read_all(s)
            self.assertTrue(closed)
            s.close()

    def test_chunked_body_past_the_limit_is_refused_while_sending(self):
        self.refused_while_sending(tls=False)

    def test_chunked_body_past_the_limit_is_refused_over_tls_too(self):
        self.refused_while_sending(tls=True)


class AcceptPolicyTest(unittest.TestCase):
    def test_peers_neither_allowed_nor_trusted_are_dropped_at_accept(self):
        with Daemon(server_extra='trusted_proxies = ["127.0.0.5"]\n') as d:
            d.allow("127.0.0.1")
            for source, path in (("127.0.0.2", "/v1/auth/jwks"), ("127.0.0.2", "/healthz")):
                s = socket.socket()
                s.bind((source, 0))
                s.connect(("127.0.0.1", d.port))
                start = time.time()
                try:
                    s.sendall(b"GET %s HTTP/1.1\r\nHost: x\r\n\r\n" % path.encode())
                except (BrokenPipeError, ConnectionResetError):
                    pass
                data, closed = read_all(s, timeout=5)
                s.close()
                self.assertEqual(data, b"", (source, path))  # no HTTP answer at all
                self.assertTrue(closed)
                self.assertLess(time.time() - start, 2)  # at once, not at a timeout
            self.assertEqual(d.http("GET", "/v1/auth/jwks").status, 200)
            # A trusted proxy that is not on the allowlist gets in; the client
            # it forwards for is then held to the allowlist.
            r = d.http("GET", "/v1/auth/jwks", headers={"X-Forwarded-For": "127.0.0.1"},
                       source="127.0.0.5")
            self.assertEqual(r.status, 200, r)
            r = d.http("GET", "/v1/auth/jwks", headers={"X-Forwarded-For": "203.0.113.9"},
                       source="127.0.0.5")
            self.assertEqual(r.status, 403, r)


class DeadlineTest(unittest.TestCase):
    def test_trickling_headers_hit_an_absolute_deadline(self):
        with Daemon(server_extra="connection_timeout_seconds = 2\n") as d:
            d.allow("127.0.0.1")
            s = socket.create_connection(("127.0.0.1", d.port))
            start = time.time()
            s.sendall(b"POST /v1/auth/token HTTP/1.1\r\nHost: x\r\nX-Slow: ")
            closed_after = None
            try:
                while time.time() - start < 15:
                    s.sendall(b"a")  # never idle for more than 0.3 s
                    if select.select([s], [], [], 0.3)[0]:
                        if s.recv(4096) == b"":
                            closed_after = time.time() - start
                            break
            except (BrokenPipeError, ConnectionResetError):
                closed_after = time.time() - start
            s.close()
            self.assertIsNotNone(closed_after, "the trickle kept its connection")
            self.assertGreaterEqual(closed_after, 1.5)
            self.assertLess(closed_after, 2 + 1.5)

    def test_slow_connections_from_others_do_not_starve_an_allowed_client(self):
        with Daemon(server_extra="connection_timeout_seconds = 30\n") as d:
            d.allow("127.0.0.1")
            cred = d.create_credential("viewer", "viewer")
            slow = []
            try:
                for i in range(300):
                    s = socket.socket()
                    s.bind((f"127.0.1.{10 + i % 20}", 0))
                    slow.append(s)
                    s.connect(("127.0.0.1", d.port))
                    try:
                        s.sendall(b"POST /v1/auth/token HTTP/1.1\r\nHost: x\r\n")
                    except (BrokenPipeError, ConnectionResetError):
                        pass  # dropped at accept: not on the allowlist
                start = time.time()
                r = d.token(cred)
                elapsed = time.time() - start
                self.assertEqual(r.status, 200, r)
                self.assertLess(elapsed, 1.0)
            finally:
                for s in slow:
                    s.close()


if __name__ == "__main__":
    unittest.main()
