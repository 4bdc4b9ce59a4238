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

WebDaemon is tests/lib/webserver.py's PosternWeb (web.conf, valgrind,
bounded start and stop) that also creates the users with `postern-web
passwd` (password on standard input, as an admin would pipe it). Client
keeps the cookies the server sets (name=value, no attributes), and post()
sends the CSRF token of the last page it fetched (the hidden input named
csrf) unless the data has one.
"""
import http.client
import re
import urllib.parse

from webserver import PosternWeb


class WebDaemon(PosternWeb):
    """PosternWeb (tests/lib/webserver.py) set up from an archive and an
    audit configuration and a {name: (role, password)} dict of users."""

    def __init__(self, base, archive_conf, audit_conf="", users=None, config=None):
        conf = {"archive_config": archive_conf, "audit_config": audit_conf}
        conf.update(config or {})
        super().__init__(base, conf)
        self.users_file = self.config["users_file"]
        self.trail = self.config["access_trail"]
        self.users = users or {}

    def start(self, timeout=None):
        self.write_config()
        for name, (role, pw) in self.users.items():
            self.passwd(name, role, pw)
        return super().start(timeout)


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
