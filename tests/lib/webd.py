# SPDX-License-Identifier: BSD-2-Clause
"""webd - a postern-web under test, and a small HTTP client for it.

    from webd import WebDaemon, Client
    web = WebDaemon(base, archive_conf=..., audit_conf=...,
                    users={"alice": ("admin", "pw")}, config={...}).start()
    c = Client(web.port)                 # source_address="127.0.0.2" too
    c.login("alice", "pw")               # GET /login, POST /login
    r = c.get("/search?subject=x")       # r.status, r.headers, r.body (bytes), r.text
    c.post("/hold", {"id": ID, "action": "add", "reason": "case 1"})  # adds csrf
    web.stop()

WebDaemon writes web.conf (listen 127.0.0.1:PORT, users_file, the archive
and audit configurations, access_trail), creates the users with
`postern-web passwd` (password on standard input, as an admin would pipe
it), runs `postern-web -c web.conf -f serve` (under valgrind with
POSTERN_VALGRIND=1) and waits until it accepts connections and logged
"serving on". Client keeps the cookies the server sets (name=value, no
attributes), and post() sends the CSRF token of the last page it fetched
(the hidden input named csrf) unless the data has one.
"""
import http.client
import os
import re
import socket
import subprocess
import time
import urllib.parse

from daemon import Daemon, binary
from mta import free_port


class WebDaemon:
    def __init__(self, base, archive_conf, audit_conf="", users=None, config=None):
        self.base = base
        os.makedirs(base, exist_ok=True)
        self.port = free_port()
        self.conf = os.path.join(base, "web.conf")
        self.log_path = os.path.join(base, "postern-web.log")
        self.users_file = os.path.join(base, "web.users")
        self.trail = os.path.join(base, "access.jsonl")
        self.config = {"listen": f"127.0.0.1:{self.port}", "users_file": self.users_file,
                       "archive_config": archive_conf, "audit_config": audit_conf,
                       "access_trail": self.trail}
        self.config.update(config or {})
        self.users = users or {}
        self.proc = None
        self.log_fp = None

    def write_config(self):
        with open(self.conf, "w") as f:
            f.write("# postern-web test configuration\n")
            for k, v in self.config.items():
                f.write(f"{k} = {v}\n")

    def passwd(self, user, password, role=None):
        cmd = [binary("postern-web"), "-c", self.conf, "passwd", user]
        if role:
            cmd += ["--role", role]
        return subprocess.run(cmd, input=password + "\n", capture_output=True, text=True,
                              timeout=60)

    def start(self, timeout=30):
        self.write_config()
        for name, (role, pw) in self.users.items():
            r = self.passwd(name, pw, role)
            if r.returncode != 0:
                raise RuntimeError(f"passwd {name}: {r.stderr}")
        self.log_fp = open(self.log_path, "w")
        cmd = Daemon._wrap([binary("postern-web"), "-c", self.conf, "-f", "serve"])
        self.proc = subprocess.Popen(cmd, stdout=self.log_fp, stderr=subprocess.STDOUT)
        deadline = time.time() + timeout
        while time.time() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"postern-web exited with {self.proc.returncode}: "
                                   f"{self.log()}")
            if "serving on" in self.log() and self._accepts():
                return self
            time.sleep(0.05)
        raise RuntimeError(f"postern-web did not start: {self.log()}")

    def _accepts(self):
        try:
            socket.create_connection(("127.0.0.1", self.port), timeout=1).close()
            return True
        except OSError:
            return False

    def log(self):
        try:
            with open(self.log_path, errors="replace") as f:
                return f.read()
        except FileNotFoundError:
            return ""

    def stop(self, timeout=30):
        if self.proc is None:
            return None
        if self.proc.poll() is None:
            self.proc.terminate()
        try:
            rc = self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(5)
            raise AssertionError("postern-web did not stop")
        finally:
            self.log_fp.close()
        self.proc = None
        if rc != 0:
            raise AssertionError(f"postern-web exited with {rc}: {self.log()}")
        return rc


class Response:
    def __init__(self, status, headers, body):
        self.status = status
        self.headers = headers          # list of (name, value)
        self.body = body

    @property
    def text(self):
        return self.body.decode("utf-8", "replace")

    def header(self, name):
        for k, v in self.headers:
            if k.lower() == name.lower():
                return v
        return None

    def cookies(self):
        """Set-Cookie headers as {name: (value, attributes text)}."""
        out = {}
        for k, v in self.headers:
            if k.lower() == "set-cookie":
                first, _, attrs = v.partition(";")
                name, _, value = first.partition("=")
                out[name.strip()] = (value.strip(), attrs)
        return out


class Client:
    def __init__(self, port, source_address=None, host="127.0.0.1"):
        self.port = port
        self.host = host
        self.source = source_address
        self.cookies = {}
        self.csrf = None

    def request(self, method, path, body=None, headers=None):
        conn = http.client.HTTPConnection(
            self.host, self.port, timeout=60,
            source_address=(self.source, 0) if self.source else None)
        h = dict(headers or {})
        if self.cookies:
            h["Cookie"] = "; ".join(f"{k}={v}" for k, v in self.cookies.items())
        try:
            conn.request(method, path, body=body, headers=h)
            resp = conn.getresponse()
            r = Response(resp.status, resp.getheaders(), resp.read())
        finally:
            conn.close()
        for name, (value, attrs) in r.cookies().items():
            if "max-age=0" in attrs.lower():
                self.cookies.pop(name, None)
            else:
                self.cookies[name] = value
        m = re.search(rb'name="csrf" value="([0-9a-f]{64})"', r.body)
        if m:
            self.csrf = m.group(1).decode()
        return r

    def get(self, path, headers=None):
        return self.request("GET", path, headers=headers)

    def post(self, path, data, headers=None, csrf=True):
        fields = list(data.items()) if isinstance(data, dict) else list(data)
        if csrf and self.csrf and not any(k == "csrf" for k, _ in fields):
            fields.append(("csrf", self.csrf))
        h = {"Content-Type": "application/x-www-form-urlencoded"}
        h.update(headers or {})
        return self.request("POST", path, urllib.parse.urlencode(fields), h)

    def login(self, user, password):
        self.get("/login")
        return self.post("/login", {"user": user, "password": password})
