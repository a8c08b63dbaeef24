"""The Owner's web console in a real browser: Debian's chromium, headless,
driven through chromedriver and python3-selenium, against the real authd over
TLS (its self-signed test certificate is accepted with
--ignore-certificate-errors; everything else about TLS is real, including the
__Host- cookie, which needs a secure context).

Signs in with a link from `authctl console login --json`, manages credentials
and the allowlist through the page, reads the audit log and keys, signs out,
and checks the refusals: a used link, a dead session cookie and forged
cross-site changes. Every page is saved as a screenshot in the build tree
(AUTHD_SCREENSHOTS, set by tests/CMakeLists.txt). Skipped, with the reason,
only when chromium, chromedriver or selenium is missing;
scripts/install-deps.sh installs all three."""
import calendar
import datetime
import http.server
import json
import os
import re
import shutil
import socket
import threading
import time
import unittest
import urllib.parse

from harness import BIN, Daemon, iso, wait_until

CHROMIUM = shutil.which("chromium")
CHROMEDRIVER = shutil.which("chromedriver") or "/usr/bin/chromedriver"
CONSOLE_DIR = os.path.abspath(os.path.join(os.path.dirname(__file__), "../../console"))
SCREENSHOTS = os.environ.get("AUTHD_SCREENSHOTS",
                             os.path.join(BIN, "..", "console-screenshots"))
COOKIE = "__Host-authd_console"
APPLIANCE = "Substation 7 gateway"
CSP = ("default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; "
       "connect-src 'self'; form-action 'self'; base-uri 'none'; frame-ancestors 'none'")

try:
    from selenium import webdriver
    from selenium.common.exceptions import StaleElementReferenceException
    from selenium.webdriver.chrome.service import Service
    from selenium.webdriver.common.by import By
    from selenium.webdriver.common.action_chains import ActionChains
    from selenium.webdriver.common.keys import Keys
    from selenium.webdriver.support.ui import Select, WebDriverWait
    SELENIUM = True
except ImportError:
    SELENIUM = False


def missing_browser():
    if CHROMIUM is None:
        return "chromium is not installed"
    if not os.access(CHROMEDRIVER, os.X_OK):
        return "chromedriver is not installed (Debian package chromium-driver)"
    if not SELENIUM:
        return "selenium is not installed (Debian package python3-selenium)"
    return None


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class CrossSitePage:
    """Another site (http://localhost:PORT, not https://127.0.0.1:authd) whose
    page submits a change to the console API on its own, as an attacker's page
    open in the Owner's browser would."""

    def __init__(self, target):
        body = json.dumps({"cidr": "198.51.100.0/24"})
        name, value = body[:-2] + ',"x":"', '"}'
        page = (f'<!doctype html><title>Win a prize</title>'
                f'<form id="f" method="POST" enctype="text/plain" action="{target}">'
                f"<input type=\"hidden\" name='{name}' value='{value}'></form>"
                '<script>document.getElementById("f").submit();</script>').encode()

        class Page(http.server.BaseHTTPRequestHandler):
            def do_GET(self):
                self.send_response(200)
                self.send_header("Content-Type", "text/html; charset=utf-8")
                self.send_header("Content-Length", str(len(page)))
                self.end_headers()
                self.wfile.write(page)

            def log_message(self, *args):
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Page)
        self.url = f"http://localhost:{self.server.server_address[1]}/"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self):
        self.server.shutdown()
        self.server.server_close()


@unittest.skipIf(missing_browser() is not None,
                 f"{missing_browser()}; scripts/install-deps.sh installs chromium, "
                 "chromium-driver and python3-selenium")
class ConsoleTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.cleanups = []
        try:
            cls.start()
        except BaseException:
            cls.tearDownClass()
            raise

    @classmethod
    def start(cls):
        cls.port = free_port()
        cls.d = Daemon(tls=True, listen=f"127.0.0.1:{cls.port}",
                       config_extra=f'[console]\nname = "{APPLIANCE}"\n')
        cls.cleanups.append(cls.d.cleanup)
        cls.d.allow("127.0.0.0/8")
        cls.origin = f"https://127.0.0.1:{cls.port}"
        os.makedirs(SCREENSHOTS, exist_ok=True)
        opts = webdriver.ChromeOptions()
        opts.binary_location = CHROMIUM
        for arg in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage",
                    "--disable-gpu", "--ignore-certificate-errors", "--hide-scrollbars",
                    "--window-size=1280,800", "--lang=en-GB",
                    f"--user-data-dir={os.path.join(cls.d.dir, 'chromium')}"):
            opts.add_argument(arg)
        opts.set_capability("goog:loggingPrefs", {"browser": "ALL"})
        cls.browser = webdriver.Chrome(service=Service(CHROMEDRIVER), options=opts)
        cls.cleanups.append(cls.browser.quit)
        cls.browser.set_window_size(1280, 800)
        cls.browser_log = []

    @classmethod
    def tearDownClass(cls):
        for cleanup in reversed(cls.cleanups):
            try:
                cleanup()
            except Exception:
                pass

    def tearDown(self):
        # The page must never trip the Content-Security-Policy, whatever it did.
        log = self.browser.get_log("browser")
        self.browser_log += log
        violations = [e["message"] for e in log if "Content Security Policy" in e["message"]]
        self.assertEqual(violations, [])

    # --- helpers ---------------------------------------------------------
    def wait(self, condition, timeout=15, message=""):
        return WebDriverWait(self.browser, timeout,
                             ignored_exceptions=(StaleElementReferenceException,)
                             ).until(condition, message)

    def view(self):
        return self.browser.execute_script("return document.body.dataset.view || ''")

    def wait_view(self, name):
        self.wait(lambda b: self.view() == name, message=f"page never showed view {name!r}")

    def find(self, css):
        return self.browser.find_element(By.CSS_SELECTOR, css)

    def finds(self, css):
        return self.browser.find_elements(By.CSS_SELECTOR, css)

    def shot(self, name):
        """Saves the whole page (not just the window) as NAME.png."""
        b = self.browser
        width = b.get_window_size()["width"]
        height = b.execute_script("return document.documentElement.scrollHeight")
        b.set_window_size(width, max(800, height + 140))
        time.sleep(0.2)
        b.save_screenshot(os.path.join(SCREENSHOTS, name + ".png"))
        b.set_window_size(width, 800 if width > 600 else 844)

    def login_link(self):
        r = self.d.ctl("console", "login", "--json")
        link = json.loads(r.stdout)
        self.assertEqual(set(link) - {"expires_at"}, {"url"}, link)
        m = re.fullmatch(re.escape(self.origin) + r"/console/#code=([A-Za-z0-9_-]{43})",
                         link["url"])
        self.assertIsNotNone(m, link["url"])
        return link["url"], m.group(1)

    def sign_in(self, page=None):
        url, code = self.login_link()
        self.browser.get("about:blank")
        self.browser.get(url)
        self.wait_view("app")
        # The code left the address bar and the history at once.
        self.assertNotIn(code, self.browser.current_url)
        self.assertNotIn("code=", self.browser.current_url)
        if page:
            self.go(page)
        return url, code

    def go(self, page):
        self.browser.find_element(By.LINK_TEXT, page).click()
        self.wait(lambda b: self.find(".tabs a[aria-current=page]").text == page)

    def cookie(self):
        c = self.browser.get_cookie(COOKIE)
        self.assertIsNotNone(c, self.browser.get_cookies())
        return c

    def console_api(self, method, path, body=None, cookie=None, headers=None):
        h = {"Cookie": f"{COOKIE}={cookie}"} if cookie else {}
        h.update(headers or {})
        return self.d.http(method, "/console/api/" + path, body, h)

    def allowlist(self):
        return {e["cidr"] for e in self.d.admin("GET", "/v1/admin/allowlist").json()}

    def row(self, container, text):
        """The table row in CONTAINER whose first cell starts with TEXT."""
        for tr in self.finds(f"{container} tbody tr"):
            words = tr.find_element(By.CSS_SELECTOR, "td").text.split()
            if words and words[0] == text:
                return tr
        return None

    # --- tests -----------------------------------------------------------
    def test_page_is_served_under_a_strict_policy(self):
        r = self.d.http("GET", "/console/")
        self.assertEqual(r.status, 200)
        self.assertEqual(r.header("content-security-policy"), CSP)
        self.assertEqual(r.header("x-frame-options"), "DENY")
        self.assertEqual(r.header("cache-control"), "no-store")
        # Nothing inline for the policy to block: no script body, no style
        # attribute or element, no event handler attribute, no element.style.
        for name in os.listdir(CONSOLE_DIR):
            with open(os.path.join(CONSOLE_DIR, name), encoding="utf-8") as f:
                text = f.read()
            if name.endswith((".html", ".svg")):
                self.assertIsNone(re.search(r"<script(?![^>]*\bsrc=)[^>]*>", text), name)
                self.assertIsNone(re.search(r"<style|\sstyle=|\son[a-z]+=", text, re.I), name)
            if name.endswith(".js"):
                self.assertIsNone(re.search(r"\.style\b|innerHTML|localStorage|sessionStorage|"
                                            r"document\.cookie|eval\(", text), name)
            served = self.d.http("GET", "/console/" + name)
            self.assertEqual(served.status, 200, name)
            self.assertEqual(served.body, text.encode(), name)

    def test_credentials(self):
        self.sign_in()
        b = self.browser
        uid = os.getuid()
        self.assertEqual(self.find("#appliance-name").text, APPLIANCE)
        self.assertEqual(self.find("#appliance-instance").text, self.d.issuer)
        self.assertEqual(self.find("#actor").text, f"console:uid:{uid}")
        self.assertEqual(self.find("#sign-out").text, "Sign out")

        self.find("#add-credential").click()
        name = b.find_element(By.XPATH, "//label[normalize-space()='Name']")
        self.assertEqual(name.get_attribute("for"), "cred-name")
        self.assertEqual(self.find("#role-options").find_element(By.XPATH, "..").find_element(
            By.TAG_NAME, "legend").text, "Role")
        expires = self.find("#cred-expires")
        self.assertEqual(expires.get_attribute("type"), "date")
        self.assertEqual(b.find_element(By.CSS_SELECTOR, "label[for=cred-expires]").text,
                         "Expiration date")
        default = datetime.date.fromisoformat(expires.get_attribute("value"))
        latest = datetime.date.fromisoformat(expires.get_attribute("max"))
        self.assertEqual((latest - default).days, 365 - 90)
        # Each role's description and scopes are shown beside it.
        viewer = b.find_element(By.XPATH, "//label[.//input[@value='viewer']]")
        self.assertIn("Reads site and device data.", viewer.text)
        self.assertIn("data:read", viewer.text)
        owner = b.find_element(By.XPATH, "//label[.//input[@value='owner']]")
        self.assertIn("admin:write", owner.text)

        # The server's rules are the truth; its message sits next to its field.
        self.find("#cred-name").send_keys("meter-reader")
        viewer.click()
        b.execute_script("arguments[0].value = arguments[1]", expires,
                         (datetime.date.today() + datetime.timedelta(days=400)).isoformat())
        self.find("#cred-submit").click()
        error = self.wait(lambda b: self.find("#cred-expires-error").is_displayed()
                          and self.find("#cred-expires-error"))
        self.assertIn("at most 365 days", error.text)
        self.assertEqual(expires.get_attribute("aria-invalid"), "true")
        self.shot("add-credential-error")

        b.execute_script("arguments[0].value = arguments[1]", expires, default.isoformat())
        button = self.find("#cred-submit")
        self.assertEqual(button.text, "Generate new client credential")
        button.click()
        secret_el = self.wait(lambda b: self.finds("#new-client-secret"))[0]
        client_id = self.find("#new-client-id").text
        secret = secret_el.text
        self.assertTrue(secret.startswith("authd_s_"), secret)
        self.assertIn("cannot be shown again", self.find("#secret-panel").text)
        self.assertEqual(len(self.finds("#secret-panel button.copy")), 2)
        self.wait(lambda b: self.row("#cred-list", "meter-reader"))
        self.shot("credential-created")

        # The shown secret works at the token endpoint.
        r = self.d.token({"client_id": client_id, "client_secret": secret})
        self.assertEqual(r.status, 200, r)
        self.assertEqual(r.json()["scope"], "data:read")
        listed = {c["client_id"]: c for c in
                  self.d.admin("GET", "/v1/admin/credentials").json()}
        self.assertEqual(listed[client_id]["created_by"], f"console:uid:{uid}")
        self.assertEqual(listed[client_id]["role"], "viewer")

        # After a reload the secret is nowhere: page, storage or URL.
        b.refresh()
        self.wait_view("app")
        self.wait(lambda b: self.row("#cred-list", "meter-reader"))
        self.assertNotIn(secret, b.page_source)
        self.assertNotIn(secret, b.current_url)
        self.assertEqual(b.execute_script("return localStorage.length + sessionStorage.length"), 0)
        self.assertTrue(self.find("#secret-panel").get_attribute("hidden") is not None)
        row = self.row("#cred-list", "meter-reader")
        self.assertIn(client_id, row.text)
        self.assertIn(f"console:uid:{uid}", row.text)
        created = row.find_elements(By.TAG_NAME, "time")[0]
        self.assertEqual(created.get_attribute("datetime"), listed[client_id]["created_at"])
        self.assertTrue(created.get_attribute("title").endswith("UTC"))
        self.shot("api-access")

        # Delete asks first and says what happens; Cancel keeps it.
        row.find_element(By.XPATH, ".//button[normalize-space()='Delete']").click()
        dialog = self.find("dialog#confirm")
        self.wait(lambda b: dialog.get_attribute("open") is not None)
        self.assertIn("stop working at once", dialog.text)
        self.shot("delete-credential")
        self.find("#confirm-cancel").click()
        self.wait(lambda b: dialog.get_attribute("open") is None)
        self.assertIsNotNone(self.row("#cred-list", "meter-reader"))
        self.assertEqual(self.d.token({"client_id": client_id, "client_secret": secret}).status, 200)

        self.row("#cred-list", "meter-reader").find_element(
            By.XPATH, ".//button[normalize-space()='Delete']").click()
        self.wait(lambda b: dialog.get_attribute("open") is not None)
        self.find("#confirm-ok").click()
        self.wait(lambda b: dialog.get_attribute("open") is None)
        self.wait(lambda b: self.row("#cred-list", "meter-reader") is None)
        self.assertEqual(self.d.token({"client_id": client_id, "client_secret": secret}).status, 401)

        # Neither the secret nor a sign-in code reaches authd's log.
        self.assertNotIn(secret, self.d.read_log())

    def test_expired_credential_is_flagged(self):
        cred = self.d.create_credential("viewer", "nightly-report", expires_in=2)
        expires = calendar.timegm(time.strptime(cred["expires_at"], "%Y-%m-%dT%H:%M:%SZ"))
        self.assertTrue(wait_until(lambda: time.time() > expires + 1, timeout=10))
        self.sign_in()
        row = self.wait(lambda b: self.row("#cred-list", "nightly-report"))
        self.assertIn("is-expired", row.get_attribute("class"))
        icon = row.find_element(By.CSS_SELECTOR, "svg[role=img]")
        self.assertEqual(icon.get_attribute("aria-label"), "Expired")
        expiry = row.find_elements(By.TAG_NAME, "time")[1]
        self.assertEqual(expiry.get_attribute("datetime"), cred["expires_at"])
        self.assertIn("expired", self.find("#cred-expired-note").text)
        self.shot("expired-credential")

    def test_ip_addresses(self):
        self.sign_in("IP addresses")
        b = self.browser
        label = b.find_element(By.CSS_SELECTOR, "label[for=allow-cidr]")
        self.assertEqual(label.text, "IP address or CIDR range")
        field = self.find("#allow-cidr")
        mine = self.wait(lambda b: self.row("#allow-list", "127.0.0.0/8"))
        self.assertIn("Your address", mine.text)

        # A bad range: the server's message, with the range it suggests,
        # next to the field; nothing is added.
        field.send_keys("10.1.2.3/8")
        self.find("#allow-submit").click()
        error = self.wait(lambda b: self.find("#allow-cidr-error").is_displayed()
                          and self.find("#allow-cidr-error"))
        self.assertIn("10.1.2.3/8 has host bits set; did you mean 10.0.0.0/8?", error.text)
        self.assertNotIn("10.0.0.0/8", self.allowlist())
        self.shot("ip-addresses-error")

        # A good one, taken from the suggestion.
        self.find("#allow-suggestion").click()
        self.assertEqual(field.get_attribute("value"), "10.0.0.0/8")
        self.find("#allow-submit").click()
        self.wait(lambda b: self.row("#allow-list", "10.0.0.0/8"))
        self.assertIn("10.0.0.0/8", self.allowlist())
        self.assertFalse(self.find("#allow-cidr-error").is_displayed())
        self.shot("ip-addresses")

        # Removing the range this browser comes from warns first.
        self.row("#allow-list", "127.0.0.0/8").find_element(
            By.XPATH, ".//button[normalize-space()='Remove']").click()
        dialog = self.find("dialog#confirm")
        self.wait(lambda b: dialog.get_attribute("open") is not None)
        self.assertTrue(self.find("#lockout-warning").is_displayed())
        self.assertIn("127.0.0.1", self.find("#lockout-warning").text)
        self.shot("remove-own-address")
        ActionChains(self.browser).send_keys(Keys.ESCAPE).perform()
        self.wait(lambda b: dialog.get_attribute("open") is None)
        self.assertIn("127.0.0.0/8", self.allowlist())

        # Removing another range asks, without that warning.
        self.row("#allow-list", "10.0.0.0/8").find_element(
            By.XPATH, ".//button[normalize-space()='Remove']").click()
        self.wait(lambda b: dialog.get_attribute("open") is not None)
        self.assertEqual(self.finds("#lockout-warning"), [])
        self.find("#confirm-ok").click()
        self.wait(lambda b: dialog.get_attribute("open") is None)
        self.wait(lambda b: self.row("#allow-list", "10.0.0.0/8") is None)
        self.assertNotIn("10.0.0.0/8", self.allowlist())

        entries = self.d.admin("GET", "/v1/admin/audit?action=allowlist.remove").json()["entries"]
        self.assertEqual(entries[-1]["target"], "10.0.0.0/8")
        self.assertEqual(entries[-1]["actor"], f"console:uid:{os.getuid()}")
        self.assertEqual(entries[-1]["source"], "127.0.0.1")

    def test_audit_log(self):
        # Two changes to find at the top, newest first.
        self.d.admin("POST", "/v1/admin/allowlist", {"cidr": "192.0.2.0/24"})
        self.d.admin("DELETE", "/v1/admin/allowlist/" + urllib.parse.quote("192.0.2.0/24", safe=""))
        self.sign_in("Audit log")
        self.wait(lambda b: self.finds("#audit-list tbody tr") and self.finds("#checkpoint-size"))
        note = self.d.admin("GET", "/v1/admin/audit/checkpoint").body.decode()
        _, size, root = note.split("\n")[:3]
        self.assertEqual(self.find("#checkpoint-size").text, size)
        self.assertIn(root, self.find("#checkpoint").text)
        self.assertIn("Signing key ID", self.find("#checkpoint").text)

        # Newest first: the page's rows are the log's last entries, reversed.
        rows = [[td.text for td in tr.find_elements(By.TAG_NAME, "td")]
                for tr in self.finds("#audit-list tbody tr")]
        query = f"?after_seq={int(size) - 11}" if int(size) > 10 else ""
        last = self.d.admin("GET", "/v1/admin/audit" + query).json()["entries"][::-1]
        self.assertEqual([(int(r[0]), r[2], r[3], r[5]) for r in rows[:len(last)]],
                         [(e["seq"], e["action"], e["actor"], e["target"]) for e in last])
        self.assertEqual(int(rows[0][0]), int(size) - 1)
        changes = [(r[2], r[5]) for r in rows if r[5] == "192.0.2.0/24"]
        self.assertEqual(changes[:2], [("allowlist.remove", "192.0.2.0/24"),
                                       ("allowlist.add", "192.0.2.0/24")])
        self.shot("audit-log")

        # Filters: by action, then by actor.
        Select(self.find("#audit-action")).select_by_value("key.create")
        self.find("#audit-filter button[type=submit]").click()
        self.wait(lambda b: all("key.create" in tr.text for tr in self.finds("#audit-list tbody tr"))
                  and self.finds("#audit-list tbody tr"))
        self.find("#audit-clear").click()
        self.find("#audit-actor").send_keys(f"uid:{os.getuid()}")
        self.find("#audit-filter button[type=submit]").click()
        actor = f"uid:{os.getuid()}"
        self.wait(lambda b: "filtered" in self.find("#audit-count").text
                  and self.finds("#audit-list tbody tr")
                  and all(tr.find_elements(By.TAG_NAME, "td")[3].text == actor
                          for tr in self.finds("#audit-list tbody tr")))

        # The downloads an auditor needs for `authctl audit verify`.
        cookie = self.cookie()["value"]
        export = self.find("a[href='api/audit/export']").get_attribute("href")
        key = self.find("a[href='api/audit/public-key']").get_attribute("href")
        r = self.console_api("GET", "audit/export", cookie=cookie)
        self.assertEqual(export, self.origin + "/console/api/audit/export")
        self.assertEqual(r.status, 200, r)
        self.assertIn("checkpoint", r.body.decode().splitlines()[-1])
        r = self.console_api("GET", "audit/public-key", cookie=cookie)
        self.assertEqual(key, self.origin + "/console/api/audit/public-key")
        self.assertEqual(r.status, 200, r)
        self.assertTrue(r.body.startswith(b"-----BEGIN PUBLIC KEY-----"), r)

    def test_keys_are_shown_read_only(self):
        self.sign_in("Keys")
        self.wait(lambda b: self.finds("#token-keys tbody tr"))
        keys = self.d.admin("GET", "/v1/admin/keys").json()
        token = [k for k in keys if k["use"] == "token"][0]
        audit = [k for k in keys if k["use"] == "audit"][0]
        row = self.finds("#token-keys tbody tr")[0]
        for value in (token["kid"], token["algorithm"], token["state"]):
            self.assertIn(value, row.text)
        self.assertIn(audit["kid"], self.find("#audit-key").text)
        self.assertEqual(self.finds("#page-keys form"), [])
        self.assertEqual(self.finds("#page-keys button"), [])
        self.shot("keys")

    def test_phone_width(self):
        self.browser.set_window_size(390, 844)
        try:
            self.sign_in()
            self.wait(lambda b: self.finds("#cred-list tbody tr, #cred-list .empty"))
            # Nothing sideways: the page fits the phone's width.
            self.assertLessEqual(self.browser.execute_script(
                "return document.documentElement.scrollWidth"), 390)
            self.shot("phone-api-access")
            self.go("IP addresses")
            self.wait(lambda b: self.finds("#allow-list tbody tr"))
            self.assertLessEqual(self.browser.execute_script(
                "return document.documentElement.scrollWidth"), 390)
            self.shot("phone-ip-addresses")
        finally:
            self.browser.set_window_size(1280, 800)

    def test_sign_out_ends_the_session_and_links_work_once(self):
        url, _ = self.sign_in()
        cookie = self.cookie()
        self.assertTrue(cookie["secure"] and cookie["httpOnly"], cookie)
        self.assertEqual(cookie["sameSite"], "Strict")
        self.assertEqual(self.console_api("GET", "session", cookie=cookie["value"]).status, 200)
        self.find("#sign-out").click()
        self.wait_view("signed-out")
        self.assertIn("authctl console login", self.find("#gate").text)
        self.shot("signed-out")
        r = self.console_api("GET", "session", cookie=cookie["value"])
        self.assertEqual(r.status, 401, r)
        self.assertEqual(r.json()["error"], "no_session")
        # Opening the console again without a link: still signed out.
        self.browser.get(self.origin + "/console/")
        self.wait_view("signed-out")

        # The link that was used is refused, with a page that says so.
        self.browser.get("about:blank")
        self.browser.get(url)
        self.wait_view("link-refused")
        self.assertNotIn("code=", self.browser.current_url)
        self.assertIn("already been used or has expired", self.find("#gate").text)
        self.assertIn("authctl console login", self.find("#gate").text)
        self.shot("link-refused")

    def test_forged_cross_site_change_is_refused(self):
        self.sign_in()
        cookie = self.cookie()["value"]
        csrf = self.console_api("GET", "session", cookie=cookie).json()["csrf_token"]
        change = {"cidr": "198.51.100.0/24"}
        before = self.allowlist()
        json_type = {"Content-Type": "application/json"}

        # With the session cookie but another Origin, or without the token.
        for headers in ({"Origin": "https://evil.example", "X-CSRF-Token": csrf},
                        {"Origin": self.origin},
                        {"Origin": self.origin, "X-CSRF-Token": "A" * 43},
                        {"X-CSRF-Token": csrf}):
            r = self.console_api("POST", "allowlist", change, cookie, dict(json_type, **headers))
            self.assertEqual(r.status, 403, (headers, r))
            self.assertEqual(r.json()["error"], "csrf")
        r = self.console_api("DELETE", "allowlist/" + urllib.parse.quote("127.0.0.0/8", safe=""),
                             cookie=cookie, headers={"Origin": "https://evil.example",
                                                     "X-CSRF-Token": csrf})
        self.assertEqual(r.status, 403, r)
        self.assertEqual(self.allowlist(), before)

        # A page on another site, open in the signed-in browser, posts the
        # change itself: refused, and nothing changes.
        page = CrossSitePage(self.origin + "/console/api/allowlist")
        try:
            self.browser.get(page.url)
            self.wait(lambda b: b.current_url.startswith(self.origin))
            answer = self.browser.find_element(By.TAG_NAME, "body").text
        finally:
            page.close()
        self.assertRegex(answer, r'"error":\s*"(csrf|no_session|unsupported_media_type)"')
        self.assertEqual(self.allowlist(), before)

        # The same change from the console itself goes through: the refusals
        # above are the defence, not a broken endpoint.
        r = self.console_api("POST", "allowlist", change, cookie,
                             dict(json_type, Origin=self.origin, **{"X-CSRF-Token": csrf}))
        self.assertEqual(r.status, 201, r)
        self.d.admin("DELETE", "/v1/admin/allowlist/" + urllib.parse.quote(change["cidr"], safe=""))


if __name__ == "__main__":
    unittest.main()
