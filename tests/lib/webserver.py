# SPDX-License-Identifier: BSD-2-Clause
"""webserver - postern-web under test: its files, its users, its process.

    from webserver import PosternWeb
    w = PosternWeb(base, {"archive_config": st.daemons["archive"].conf,
                          "audit_config": st.daemons["audit"].conf})
    w.passwd("admin", "admin", "correct horse")   # postern-web passwd, pw on stdin
    w.start()                # writes web.conf, runs `postern-web -c CONF -f serve`,
                             # waits (bounded) until GET /login answers
    w.url("/search")         # http://127.0.0.1:PORT/search
    w.request("GET", "/login")            # (status, headers, body) with http.client
    w.log(); w.stop()        # SIGTERM; raises on a non-zero exit (valgrind: 99)

Files under base: web.conf, web.users (users_file), access.jsonl
(access_trail), web.log (stderr). listen is 127.0.0.1 on a free port
unless config says otherwise. With POSTERN_VALGRIND=1 `serve` runs under
valgrind as every daemon does (tests/lib/daemon.py), and stop() fails on
any error it reports.
"""
import http.client
import os
import ssl
import subprocess
import time

from daemon import Daemon, binary, stop_process
from mta import free_port


def exchange(conn, method, path, body=None, headers=None):
    """One request on http.client connection conn, which is closed after:
    (status, headers (lower-case names; set-cookie a list), body bytes)."""
    try:
        conn.request(method, path, body=body, headers=headers or {})
        r = conn.getresponse()
        data = r.read()
        hdrs = {}
        for k, v in r.getheaders():
            k = k.lower()
            if k == "set-cookie":
                hdrs.setdefault(k, []).append(v)
            else:
                hdrs[k] = v
        return r.status, hdrs, data
    finally:
        conn.close()


class PosternWeb:
    def __init__(self, base, config=None):
        self.base = base
        os.makedirs(base, exist_ok=True)
        self.conf = os.path.join(base, "web.conf")
        self.logfile = os.path.join(base, "web.log")
        self.port = free_port()
        self.config = {
            "listen": f"127.0.0.1:{self.port}",
            "users_file": os.path.join(base, "web.users"),
            "access_trail": os.path.join(base, "access.jsonl"),
        }
        self.config.update(config or {})
        host, _, port = self.config["listen"].rpartition(":")
        self.host, self.port = host.strip("[]"), int(port)
        self.proc = None
        self.log_fp = None
        self.https = bool(self.config.get("tls_cert_file"))

    @property
    def origin(self):
        return f"{'https' if self.https else 'http'}://{self.host}:{self.port}"

    def url(self, path="/"):
        return self.origin + path

    def write_config(self):
        with open(self.conf, "w") as f:
            f.write("# postern-web test configuration\n")
            for k, v in self.config.items():
                f.write(f"{k} = {v}\n")

    def command(self, *args):
        return [binary("postern-web"), "-c", self.conf, *args]

    def run(self, *args, input=None, timeout=120):
        """A subcommand (check, config, passwd): CompletedProcess (text)."""
        self.write_config()
        return subprocess.run(self.command(*args), capture_output=True, text=True,
                              input=input, timeout=timeout)

    def passwd(self, user, role, password):
        """postern-web passwd USER --role ROLE, the password on stdin."""
        r = self.run("passwd", user, "--role", role, input=password + "\n")
        if r.returncode != 0:
            raise AssertionError(f"postern-web passwd {user} exited {r.returncode}: "
                                 f"{r.stdout}{r.stderr}")
        return r

    def start(self, timeout=None):
        if timeout is None:
            timeout = 120 if os.environ.get("POSTERN_VALGRIND") == "1" else 30
        self.write_config()
        self.log_fp = open(self.logfile, "a")
        cmd = Daemon._wrap(self.command("-f", "serve"))
        self.proc = subprocess.Popen(cmd, stdout=self.log_fp, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"postern-web exited with {self.proc.returncode}: "
                                   f"{self.log()}")
            try:
                status, _, _ = self.request("GET", "/login", timeout=5)
                if status == 200:
                    return self
            except (OSError, http.client.HTTPException):
                pass
            time.sleep(0.1)
        raise RuntimeError(f"postern-web did not answer on {self.origin} within "
                           f"{timeout} s: {self.log()}")

    def connection(self, timeout=30, context=None):
        if self.https:
            ctx = context or ssl._create_unverified_context()
            return http.client.HTTPSConnection(self.host, self.port, timeout=timeout,
                                               context=ctx)
        return http.client.HTTPConnection(self.host, self.port, timeout=timeout)

    def request(self, method, path, body=None, headers=None, timeout=30):
        """One request on a new connection: see exchange()."""
        return exchange(self.connection(timeout), method, path, body, headers)

    def log(self):
        try:
            with open(self.logfile, errors="replace") as f:
                return f.read()
        except FileNotFoundError:
            return ""

    def stop(self, timeout=None):
        if self.proc is None:
            return None
        if timeout is None:
            timeout = 120 if os.environ.get("POSTERN_VALGRIND") == "1" else 30
        try:
            return stop_process(self.proc, self.log_fp, self.conf, "postern-web", timeout,
                                lambda: self.log()[-4000:])
        finally:
            self.proc = None
