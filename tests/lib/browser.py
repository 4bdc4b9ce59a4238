# SPDX-License-Identifier: BSD-2-Clause
"""browser - Debian's headless chromium under chromium-driver, with the
browser's own logs, for the web console's acceptance tests.

    from browser import Browser, Marker, Site, unavailable
    reason = unavailable()            # None, or why chromium cannot run here
    marker = Marker().start()         # every outside host resolves to it
    b = Browser("http://127.0.0.1:8425", downloads=dir, marker=marker).start()
    b.login("admin", "pw")            # True when /login sent us on
    b.get("/search?subject=x"); b.find("#results tr.result")
    b.screenshot(path)
    b.requests_outside()              # requests the pages made elsewhere
    b.console()                       # console messages, CSP reports included
    b.script_ran()                    # did a hostile script set its marks?
    f = b.download(lambda: b.click("#download-eml"))   # path of the new file
    b.stop()

The browser is /usr/bin/chromium, headless ("--headless=new"), driven by
/usr/bin/chromedriver through python3-selenium, with a throw-away
user-data-dir and download directory; as root it needs --no-sandbox (the
OS sandbox of the renderers; the iframe sandbox and CSP the tests rely on
are enforced by Blink either way). Site isolation is switched off so that
a sandboxed frame runs in its page's renderer and its requests and
console lines appear in the page's logs (chromedriver logs that target
only). Window size: desktop 1280x900 or Browser(phone=True), 390x844 at a
device-pixel-ratio of 1. Alerts stay open (unhandledPromptBehavior
ignore) until a test looks; submit_and_wait() waits for the next document.

Logs: goog:loggingPrefs performance + browser are on. Every read drains
chromedriver's buffers into self.perf (DevTools events) and self.logs
(console lines), so a test sees every request since start() (or since
mark()): requests() lists Network.requestWillBeSent with the final fate
(blocked by CSP / failed / answered with a status).

Outside hosts: chromium resolves every host name except localhost to the
Marker, a TCP listener on 127.0.0.1 that records each connection with the
host it asked for (HTTP Host, or the TLS ClientHello's server name). A
hostile message that gets anything out (an <img src=http://evil.example/>,
a CSS url(), a form, a <link rel=preconnect>, which opens a TLS connection
that no CSP stops and no performance-log request shows) thus reaches the
Marker; a test asserts Marker.hits(hosts its messages name) is empty.
Chromium's own services (update, accounts, the start page) connect there
too despite the QUIET flags, which is why hits() filters by host.

Every wait is bounded (WebDriverWait, page-load and script timeouts).
"""
import base64
import http.server
import json
import os
import shutil
import socket
import socketserver
import subprocess
import sys
import tempfile
import threading
import time
from urllib.parse import urlsplit

CHROMIUM = "/usr/bin/chromium"
CHROMEDRIVER = "/usr/bin/chromedriver"
WAIT = 30                      # seconds: the bound of every wait
DESKTOP = (1280, 900)
PHONE = (390, 844)


def _selenium():
    """Import selenium. Debian's python3-selenium lives in
    /usr/lib/python3/dist-packages, which a python3 from elsewhere (pyenv,
    a venv) does not search: add it when the interpreter's version is the
    system's."""
    try:
        import selenium  # noqa: F401
    except ImportError:
        dist = "/usr/lib/python3/dist-packages"
        if os.path.isdir(os.path.join(dist, "selenium")):
            sys.path.append(dist)
    import selenium.webdriver  # noqa: F401
    return selenium


def unavailable():
    """None when chromium, chromedriver and selenium are all here, else the
    reason (a test skips on it; .ci/run installs all three)."""
    for path in (CHROMIUM, CHROMEDRIVER):
        if not os.access(path, os.X_OK):
            return f"{path} is not installed (apt-get install chromium chromium-driver)"
    try:
        _selenium()
    except ImportError as e:
        return f"python3-selenium cannot be imported: {e}"
    return None


def origin_of(url):
    u = urlsplit(url)
    port = u.port or {"http": 80, "https": 443}.get(u.scheme)
    return f"{u.scheme}://{u.hostname}:{port}"


def host_of(data):
    """The host a connection asked for: an HTTP request's Host header, or
    the server_name of a TLS ClientHello; None when neither is there."""
    if data[:1] == b"\x16" and len(data) > 43:     # TLS handshake record
        try:
            i = 43                                  # record 5 + hs 4 + version 2 + random 32
            i += 1 + data[i]                        # session id
            i += 2 + int.from_bytes(data[i:i + 2], "big")      # cipher suites
            i += 1 + data[i]                        # compression methods
            end = i + 2 + int.from_bytes(data[i:i + 2], "big")
            i += 2
            while i + 4 <= min(end, len(data)):
                kind = int.from_bytes(data[i:i + 2], "big")
                size = int.from_bytes(data[i + 2:i + 4], "big")
                if kind == 0:                       # server_name: list, type, length, name
                    n = int.from_bytes(data[i + 7:i + 9], "big")
                    return data[i + 9:i + 9 + n].decode("ascii", "replace")
                i += 4 + size
        except IndexError:
            return None
        return None
    for line in data.split(b"\r\n")[1:]:
        if line.lower().startswith(b"host:"):
            return line[5:].strip().decode("ascii", "replace").rsplit(":", 1)[0]
    return None


# ---- listeners -------------------------------------------------------------

class Marker:
    """A TCP listener on 127.0.0.1 that records every connection (peer,
    first bytes: an HTTP request line and Host header, or a TLS
    ClientHello with its server name). Nothing should ever connect."""

    def __init__(self):
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(64)
        self.port = self.sock.getsockname()[1]
        self._hits = []
        self._lock = threading.Lock()
        self._stop = False
        self._thread = threading.Thread(target=self._serve, daemon=True)

    def start(self):
        self._thread.start()
        return self

    def _serve(self):
        self.sock.settimeout(0.2)
        while not self._stop:
            try:
                c, peer = self.sock.accept()
            except socket.timeout:
                continue
            except OSError:
                return
            c.settimeout(2)
            data = b""
            try:
                data = c.recv(4096)
                if data.startswith((b"GET", b"POST", b"HEAD", b"OPTIONS", b"PUT")):
                    c.sendall(b"HTTP/1.1 204 No Content\r\nConnection: close\r\n\r\n")
            except OSError:
                pass
            finally:
                c.close()
            with self._lock:
                self._hits.append({"peer": peer, "time": time.time(),
                                   "host": host_of(data), "data": data[:600]})

    def hits(self, hosts=None):
        """Connections so far: [{peer, time, host, data}]; with hosts (a
        collection of host names), only those for one of them. Chromium's
        own services (update, accounts, the start page) also end here
        despite the QUIET flags; a test passes the hosts its pages name."""
        with self._lock:
            out = list(self._hits)
        if hosts is not None:
            hosts = {h.lower() for h in hosts}
            out = [h for h in out if (h["host"] or "").lower() in hosts]
        return out

    def clear(self):
        with self._lock:
            self._hits.clear()

    def stop(self):
        self._stop = True
        self.sock.close()
        self._thread.join(5)


class Site:
    """A small HTTP server on 127.0.0.1 (a free port) serving fixed pages:
    the attacker's site of the CSRF tests. pages: {path: (ctype, bytes)};
    requests() lists the paths asked for."""

    def __init__(self, pages, host="127.0.0.1"):
        site = self
        self.pages = dict(pages)
        self._requests = []

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self):
                site._requests.append(self.path)
                page = site.pages.get(self.path.split("?")[0])
                if page is None:
                    self.send_error(404)
                    return
                ctype, body = page
                self.send_response(200)
                self.send_header("Content-Type", ctype)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *a):
                pass

        class Server(socketserver.ThreadingMixIn, http.server.HTTPServer):
            daemon_threads = True

        self.server = Server((host, 0), Handler)
        self.port = self.server.server_address[1]
        self._thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def url(self, path, host="127.0.0.1"):
        return f"http://{host}:{self.port}{path}"

    def start(self):
        self._thread.start()
        return self

    def requests(self):
        return list(self._requests)

    def stop(self):
        self.server.shutdown()
        self.server.server_close()


# ---- the browser -----------------------------------------------------------

QUIET = [
    # no background traffic of chromium's own: it would reach the Marker
    "--disable-background-networking", "--disable-component-update",
    "--disable-sync", "--disable-default-apps", "--no-first-run",
    "--disable-domain-reliability", "--disable-client-side-phishing-detection",
    "--no-pings", "--metrics-recording-only", "--disable-breakpad",
    "--no-default-browser-check", "--password-store=basic",
    "--disable-features=OptimizationHints,Translate,MediaRouter,"
    "DialMediaRouteProvider,AutofillServerCommunication,"
    "CertificateTransparencyComponentUpdater,InterestFeedContentSuggestions,"
    "PrivacySandboxSettings4,NetworkTimeServiceQuerying,SafeBrowsingEnhancedProtection,"
    # frames in the page's own renderer, so that the performance and
    # console logs (the page target's) include what a sandboxed frame
    # tried: chromium otherwise moves sandboxed and cross-site frames to
    # processes of their own, whose events chromedriver does not log. The
    # sandbox and CSP are enforced by Blink either way.
    "IsolateSandboxedIframes,IsolateOrigins,site-per-process",
    "--disable-site-isolation-trials",
]


class Browser:
    def __init__(self, base_url, downloads=None, marker=None, phone=False,
                 logdir=None, wait=WAIT):
        self.timeout = wait     # the bound of every wait (a slow server: valgrind)
        self.base_url = base_url.rstrip("/")
        self.origin = origin_of(self.base_url)
        self.tmp = tempfile.mkdtemp(prefix="postern-chromium-")
        self.downloads = downloads or os.path.join(self.tmp, "downloads")
        os.makedirs(self.downloads, exist_ok=True)
        self.marker = marker
        self.size = PHONE if phone else DESKTOP
        self.logdir = logdir or self.tmp
        self.driver = None
        self.perf = []          # DevTools events (dicts), in order
        self.logs = []          # console lines: {"level", "source", "message"}
        self._mark_perf = 0
        self._mark_logs = 0

    # ---- lifecycle --------------------------------------------------------

    def start(self):
        _selenium()
        from selenium import webdriver
        from selenium.webdriver.chrome.service import Service
        o = webdriver.ChromeOptions()
        o.binary_location = CHROMIUM
        args = ["--headless=new", "--no-sandbox", "--disable-dev-shm-usage",
                "--disable-gpu", f"--user-data-dir={os.path.join(self.tmp, 'profile')}",
                f"--window-size={self.size[0]},{self.size[1]}",
                "--force-device-scale-factor=1", "--lang=en-GB"] + QUIET
        if self.marker is not None:
            args.append(f"--host-resolver-rules=MAP * 127.0.0.1:{self.marker.port}, "
                        "EXCLUDE localhost, EXCLUDE 127.0.0.1")
        for a in args:
            o.add_argument(a)
        o.add_experimental_option("prefs", {
            "download.default_directory": self.downloads,
            "download.prompt_for_download": False,
            "download.directory_upgrade": True,
            "safebrowsing.enabled": False,
        })
        o.set_capability("goog:loggingPrefs", {"performance": "ALL", "browser": "ALL"})
        # an alert() stays open until a test looks at it (the default would
        # dismiss it at the next command, hiding that a script ran)
        o.set_capability("unhandledPromptBehavior", "ignore")
        o.add_experimental_option("perfLoggingPrefs", {"enableNetwork": True,
                                                       "enablePage": True})
        service = Service(CHROMEDRIVER, log_output=os.path.join(self.logdir, "chromedriver.log")) \
            if _service_takes_log_output() else \
            Service(CHROMEDRIVER, log_path=os.path.join(self.logdir, "chromedriver.log"))
        self.driver = webdriver.Chrome(service=service, options=o)
        self.driver.set_page_load_timeout(self.timeout)
        self.driver.set_script_timeout(self.timeout)
        self.driver.execute_cdp_cmd("Browser.setDownloadBehavior",
                                    {"behavior": "allow", "downloadPath": self.downloads})
        return self

    def stop(self):
        if self.driver is not None:
            try:
                self.driver.quit()
            finally:
                self.driver = None
        shutil.rmtree(self.tmp, ignore_errors=True)

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()

    # ---- navigation -------------------------------------------------------

    def url(self, path):
        return path if "://" in path else self.base_url + path

    def get(self, path):
        self.driver.get(self.url(path))
        return self

    @property
    def path(self):
        u = urlsplit(self.driver.current_url)
        return u.path + ("?" + u.query if u.query else "")

    def wait(self, cond, what, timeout=None):
        """Wait (bounded) until cond(driver) is true; return its value."""
        timeout = timeout or self.timeout
        from selenium.common.exceptions import TimeoutException
        from selenium.webdriver.support.ui import WebDriverWait
        try:
            return WebDriverWait(self.driver, timeout, poll_frequency=0.1).until(cond)
        except TimeoutException:
            raise AssertionError(f"timed out after {timeout} s waiting for {what} "
                                 f"(at {self.driver.current_url}, title "
                                 f"{self.driver.title!r})") from None

    def find(self, css):
        """The elements matching css (a list, maybe empty)."""
        from selenium.webdriver.common.by import By
        return self.driver.find_elements(By.CSS_SELECTOR, css)

    def one(self, css, timeout=None):
        """The first element matching css, waited for (bounded)."""
        from selenium.webdriver.common.by import By
        return self.wait(lambda d: (d.find_elements(By.CSS_SELECTOR, css) or [None])[0],
                         f"element {css}", timeout)

    def text(self, css):
        return self.one(css).text

    def click(self, css):
        self.one(css).click()

    def submit_and_wait(self, action):
        """Run action (a click that submits a form or follows a link) and
        wait until a new document has loaded: the old one carried a mark
        that the new one lacks. Errors of a page that is being replaced
        (a node or a context gone) only mean "not yet"."""
        from selenium.common.exceptions import (UnexpectedAlertPresentException,
                                                WebDriverException)
        from selenium.webdriver.support.ui import WebDriverWait
        self.driver.execute_script("window.__posternOldPage = true")
        action()

        def loaded(d):
            try:
                return d.execute_script("return window.__posternOldPage === undefined && "
                                        "document.readyState === 'complete'")
            except UnexpectedAlertPresentException:
                return True     # the caller looks at the alert (a script ran)
        try:
            WebDriverWait(self.driver, self.timeout, poll_frequency=0.1,
                          ignored_exceptions=(WebDriverException,)).until(loaded)
        except WebDriverException:
            raise AssertionError(f"timed out after {self.timeout} s waiting for the next "
                                 f"page (at {self.driver.current_url})") from None

    def fill(self, form_css, values):
        """Set the named fields of a form (text inputs, selects, checkboxes
        by value) without submitting it."""
        from selenium.webdriver.common.by import By
        from selenium.webdriver.support.ui import Select
        form = self.one(form_css)
        for name, value in values.items():
            el = form.find_element(By.NAME, name)
            if el.tag_name == "select":
                Select(el).select_by_value(value)
            elif (el.get_attribute("type") or "").lower() in ("checkbox", "radio"):
                if el.is_selected() != bool(value):
                    el.click()
            else:
                el.clear()
                el.send_keys(value)
        return form

    def press_submit(self, form):
        """Submit form as a user does: its (first) submit button, or
        Enter in it when it has none."""
        from selenium.webdriver.common.by import By
        buttons = form.find_elements(By.CSS_SELECTOR, "button:not([type]), button[type=submit],"
                                                      " input[type=submit]")
        if buttons:
            buttons[0].click()
        else:
            form.submit()

    def login(self, user, password):
        """Log in through the form of /login; True when the server sent the
        browser on (away from /login), False when it stayed (id="error")."""
        self.get("/login")
        form = self.fill("#login-form", {"user": user, "password": password})
        self.submit_and_wait(lambda: self.press_submit(form))
        return not self.path.startswith("/login") and not self.find("#error")

    def cookie(self, name="postern_session"):
        return self.driver.get_cookie(name)

    def screenshot(self, path):
        """A PNG of the page: on desktop the whole document (up to 4000
        px; the viewport is made that tall for the shot, so that frames
        are painted too), on a phone the viewport."""
        os.makedirs(os.path.dirname(path), exist_ok=True)
        d = self.driver
        if self.size == DESKTOP:
            h = d.execute_script("return Math.min(4000, document.documentElement.scrollHeight)")
            d.execute_cdp_cmd("Emulation.setDeviceMetricsOverride", {
                "width": self.size[0], "height": max(int(h), 200), "deviceScaleFactor": 1,
                "mobile": False})
            try:
                shot = d.execute_cdp_cmd("Page.captureScreenshot", {"format": "png"})
            finally:
                d.execute_cdp_cmd("Emulation.clearDeviceMetricsOverride", {})
            with open(path, "wb") as f:
                f.write(base64.b64decode(shot["data"]))
        else:
            d.save_screenshot(path)
        return path

    # ---- downloads --------------------------------------------------------

    def download(self, action, timeout=None):
        """Run action (a click on a download link or an export button) and
        return the path of the file it downloaded (bounded wait until the
        .crdownload is renamed)."""
        timeout = timeout or self.timeout
        before = set(os.listdir(self.downloads))
        action()
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            now = set(os.listdir(self.downloads)) - before
            partial = [f for f in now if f.endswith((".crdownload", ".tmp"))]
            new = [f for f in now
                   if not f.endswith((".crdownload", ".tmp")) and not f.startswith(".")]
            # chromium reserves the final name with an empty file while it
            # writes NAME.crdownload, then renames that over it: the file is
            # complete only once no partial file is left
            if new and not partial:
                return os.path.join(self.downloads, sorted(new)[0])
            time.sleep(0.1)
        shown = ""
        try:
            shown = self.driver.find_element("tag name", "body").text[-300:]
        except Exception:       # noqa: BLE001 - the message is what matters
            pass
        raise AssertionError(f"no download within {timeout} s (the tab shows "
                             f"{self.driver.current_url}: {shown!r})")

    # ---- logs -------------------------------------------------------------

    def _drain(self):
        if self.driver is None:
            return
        for e in self.driver.get_log("performance"):
            try:
                self.perf.append(json.loads(e["message"])["message"])
            except (KeyError, ValueError):
                pass
        for e in self.driver.get_log("browser"):
            self.logs.append({"level": e.get("level"), "source": e.get("source"),
                              "message": e.get("message", "")})

    def mark(self):
        """From now on requests(), console() see only what follows."""
        self._drain()
        self._mark_perf, self._mark_logs = len(self.perf), len(self.logs)

    def requests(self, since_mark=True):
        """Every request the pages made: [{url, method, type, frame, top,
        status, blocked, error}] from the performance log (top: made by
        the tab's document itself, not by a frame in it). blocked is
        DevTools' blockedReason (e.g. "csp", "inspector") when chromium
        refused to send it; status is the HTTP status when answered."""
        self._drain()
        events = self.perf[self._mark_perf:] if since_mark else self.perf
        out, by_id = [], {}
        main = self.main_frames()
        for ev in events:
            m, p = ev.get("method"), ev.get("params", {})
            if m == "Network.requestWillBeSent":
                r = {"id": p.get("requestId"), "url": p["request"]["url"],
                     "method": p["request"].get("method"), "type": p.get("type"),
                     "frame": p.get("frameId"), "status": None, "blocked": None,
                     "error": None}
                r["top"] = r["frame"] in main
                out.append(r)
                by_id[r["id"]] = r
            elif m == "Network.responseReceived" and p.get("requestId") in by_id:
                by_id[p["requestId"]]["status"] = p["response"].get("status")
            elif m == "Network.loadingFailed" and p.get("requestId") in by_id:
                by_id[p["requestId"]]["blocked"] = p.get("blockedReason")
                by_id[p["requestId"]]["error"] = p.get("errorText")
        return out

    def main_frames(self):
        """Ids of the top-level frames (the tab's document, not an iframe)."""
        out = set()
        for ev in self.perf:
            if ev.get("method") == "Page.frameNavigated":
                f = ev.get("params", {}).get("frame", {})
                if not f.get("parentId"):
                    out.add(f.get("id"))
        return out

    def requests_outside(self, origin=None, sent_only=False):
        """Requests whose origin is not the console's (origin): URLs of
        http(s), ws(s) and other fetched schemes; data: and blob: URLs
        stay in the page and are not counted, about:blank neither. With
        sent_only, requests chromium blocked before sending are left out."""
        origin = origin or self.origin
        out = []
        for r in self.requests():
            scheme = r["url"].split(":", 1)[0].lower()
            if scheme in ("data", "blob", "about", "chrome", "devtools"):
                continue    # stays in the page, or chromium's own (the start page)
            if scheme in ("http", "https", "ws", "wss") and origin_of(r["url"]) == origin:
                continue
            if sent_only and r["blocked"]:
                continue
            out.append(r)
        return out

    def status_of(self, path_prefix):
        """HTTP status of the last response to a request whose URL (on the
        console's origin) starts with path_prefix."""
        for r in reversed(self.requests(since_mark=False)):
            if r["url"].startswith(self.url(path_prefix)) and r["status"] is not None:
                return r["status"]
        return None

    def console(self, since_mark=True):
        """Console lines (JavaScript errors, CSP violation reports,
        failed loads) since the mark."""
        self._drain()
        return self.logs[self._mark_logs:] if since_mark else list(self.logs)

    def csp_reports(self):
        return [c for c in self.console() if "Content Security Policy" in c["message"]]

    def script_ran(self):
        """What a hostile script could have left behind, in the top page and
        in each frame chromium lets WebDriver into: window.pwned set,
        document.title or window.name starting with "PWNED", an element
        id="pwned". A list of findings (empty: nothing ran). A sandboxed
        frame without allow-scripts may refuse WebDriver's own script:
        then nothing of the message ran there either."""
        from selenium.common.exceptions import WebDriverException
        from selenium.webdriver.common.by import By
        d = self.driver
        probe = ("var out = [];"
                 "if (window.pwned !== undefined) out.push('window.pwned=' + window.pwned);"
                 "if ((document.title || '').indexOf('PWNED') === 0)"
                 "  out.push('title=' + document.title);"
                 "if ((window.name || '').indexOf('PWNED') === 0)"
                 "  out.push('window.name=' + window.name);"
                 "if (document.getElementById('pwned')) out.push('element pwned');"
                 "return out;")
        found = []
        try:
            d.switch_to.default_content()
            found += d.execute_script(probe)
            for i in range(len(d.find_elements(By.TAG_NAME, "iframe"))):
                try:
                    d.switch_to.default_content()
                    d.switch_to.frame(d.find_elements(By.TAG_NAME, "iframe")[i])
                    found += [f"frame {i}: {x}" for x in d.execute_script(probe)]
                except WebDriverException:
                    pass
        finally:
            d.switch_to.default_content()
        return found


_service_log_arg = None


def _service_takes_log_output():
    """selenium >= 4.11 names the driver's log file log_output, older
    log_path (Debian 12 ships 4.8)."""
    global _service_log_arg
    if _service_log_arg is None:
        import inspect
        from selenium.webdriver.chrome.service import Service
        _service_log_arg = "log_output" in inspect.signature(Service.__init__).parameters
    return _service_log_arg


def chromium_version():
    try:
        return subprocess.run([CHROMIUM, "--version"], capture_output=True, text=True,
                              timeout=30).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return "?"
