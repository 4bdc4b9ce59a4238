#!/usr/bin/env python3
# SPDX-License-Identifier: BSD-2-Clause
"""End-to-end: postern-web behind Debian's nginx, with the shipped
packaging/nginx/postern-web.conf.

The test takes the shipped server blocks and changes only what differs on
a test machine: the listen addresses (free ports on 127.0.0.1), the
certificate (a test CA and server certificate made with openssl,
tests/lib/certs.py), the log paths, and the upstream port of postern-web.
Each of those strings must be in the shipped file (a changed file fails
here rather than being tested by accident). nginx runs as it would, but
in its own prefix: `nginx -p DIR -c DIR/nginx.conf -g 'daemon off;'`
with its pid file, temp directories and error log under DIR.

postern-web runs on loopback with secure_cookies = yes and single sign-on
enabled for nginx's address (sso_header = X-Remote-User,
sso_trusted_proxies = 127.0.0.1), as the file's comments tell an administrator to set it.
Checked with Python over HTTPS, trusting the test CA only:
  - nginx -t accepts the file; plain HTTP redirects to HTTPS;
  - login works through nginx (303 to /search), the session cookie is
    Secure, HttpOnly, SameSite=Strict; the session then opens /search;
  - postern-web's CSP, X-Frame-Options and Referrer-Policy arrive
    unchanged, with nginx's HSTS;
  - a client's own X-Remote-User never logs anyone in through nginx.
    The attack is first shown to work where the file's defence is absent:
    straight to postern-web from 127.0.0.1, and through an nginx whose
    copy of the file lacks the `proxy_set_header X-Remote-User ""` line;
  - with nginx doing the authentication (auth_basic, the commented
    alternative of the file), the user nginx established is logged in.
"""
import http.client
import os
import re
import signal
import ssl
import subprocess
import sys
import time
import urllib.parse

TOP = os.environ.get("POSTERN_TOP") or os.path.abspath(
    os.path.join(os.path.dirname(__file__), "..", ".."))
sys.path.insert(0, os.path.join(TOP, "tests", "lib"))

from tap import test, main, check_eq, skip  # noqa: E402
from certs import make_pki  # noqa: E402
from mta import free_port  # noqa: E402
from stack import Stack  # noqa: E402
from webserver import PosternWeb, exchange  # noqa: E402

NGINX = "/usr/sbin/nginx"
SHIPPED = os.path.join(TOP, "packaging", "nginx", "postern-web.conf")
S = {}
ADMIN, ADMIN_PW = "carol.admin", "nginx test password 1"
AUDITOR, AUDITOR_PW = "dave.auditor", "nginx test password 2"


class Nginx:
    """nginx in its own prefix, running site (the text of a server file)."""

    def __init__(self, base, site):
        self.dir = base
        os.makedirs(os.path.join(base, "tmp"), exist_ok=True)
        os.chmod(base, 0o755)
        self.conf = os.path.join(base, "nginx.conf")
        with open(os.path.join(base, "site.conf"), "w") as f:
            f.write(site)
        temp = "\n".join(f"    {k}_temp_path {base}/tmp/{k};"
                         for k in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi"))
        with open(self.conf, "w") as f:
            f.write(f"""# nginx for test_web_nginx.py
worker_processes 1;
pid {base}/nginx.pid;
error_log {base}/error.log info;
events {{ worker_connections 64; }}
http {{
    include /etc/nginx/mime.types;
    default_type application/octet-stream;
    access_log {base}/access.log;
{temp}
    include {base}/site.conf;
}}
""")
        self.proc = None

    def test(self):
        return subprocess.run([NGINX, "-t", "-p", self.dir, "-c", self.conf,
                               "-e", os.path.join(self.dir, "error.log")],
                              capture_output=True, text=True, timeout=30)

    def start(self, ports, timeout=20):
        self.log_fp = open(os.path.join(self.dir, "stderr.log"), "w")
        self.proc = subprocess.Popen([NGINX, "-p", self.dir, "-c", self.conf,
                                      "-e", os.path.join(self.dir, "error.log"),
                                      "-g", "daemon off;"],
                                     stdout=self.log_fp, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + timeout
        import socket
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"nginx exited {self.proc.returncode}: {self.errors()}")
            try:
                for p in ports:
                    socket.create_connection(("127.0.0.1", p), 1).close()
                return self
            except OSError:
                time.sleep(0.05)
        raise RuntimeError(f"nginx did not listen on {ports}: {self.errors()}")

    def errors(self):
        out = ""
        for name in ("stderr.log", "error.log"):
            try:
                with open(os.path.join(self.dir, name), errors="replace") as f:
                    out += f.read()[-3000:]
            except FileNotFoundError:
                pass
        return out

    def stop(self):
        if self.proc is None:
            return
        self.proc.send_signal(signal.SIGQUIT)
        try:
            self.proc.wait(20)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(5)
        self.log_fp.close()
        self.proc = None


def site_for_test(text, https_port, http_port, web_port, pki, logdir, strip_sso=True,
                  basic_auth=None):
    """The shipped file with the test machine's values. Every replaced
    string must be in the shipped file."""
    subs = [
        ("listen 443 ssl http2;", f"listen 127.0.0.1:{https_port} ssl http2;"),
        ("listen 80;", f"listen 127.0.0.1:{http_port};"),
        ("/etc/ssl/certs/postern-web.pem", pki.server_chain),
        ("/etc/ssl/private/postern-web.key", pki.server_key),
        ("/var/log/nginx/postern-web.access.log", os.path.join(logdir, "postern-web.access.log")),
        ("/var/log/nginx/postern-web.error.log", os.path.join(logdir, "postern-web.error.log")),
        ("proxy_pass http://127.0.0.1:8425;", f"proxy_pass http://127.0.0.1:{web_port};"),
        ("return 301 https://$host$request_uri;",
         f"return 301 https://$host:{https_port}$request_uri;"),
    ]
    for old, new in subs:
        if old not in text:
            raise AssertionError(f"{SHIPPED}: {old!r} is gone; update this test")
        text = text.replace(old, new)
    strip = 'proxy_set_header X-Remote-User "";'
    if strip not in text:
        raise AssertionError(f"{SHIPPED}: no {strip!r}")
    if not strip_sso:
        text = text.replace(strip, "# (removed by the test)")
    if basic_auth:
        # the file's commented alternative, made live
        text = text.replace(strip, f'auth_basic "Postern archive";\n'
                                   f"        auth_basic_user_file {basic_auth};\n"
                                   "        proxy_set_header X-Remote-User $remote_user;")
    return text


def tls_context():
    ctx = ssl.create_default_context(cafile=S["pki"].ca_cert)
    ctx.check_hostname = True
    return ctx


def https(method, path, body=None, headers=None, port=None):
    return exchange(http.client.HTTPSConnection("localhost", port or S["https"], timeout=30,
                                                context=tls_context()),
                    method, path, body, headers)


def session_cookie(hdrs):
    """(value, attributes lower-cased) of postern_session in Set-Cookie."""
    for c in hdrs.get("set-cookie", []):
        if c.startswith("postern_session="):
            parts = [p.strip() for p in c.split(";")]
            return parts[0].split("=", 1)[1], [p.lower() for p in parts[1:]]
    return None, []


def login(user, pw, request=https):
    """A browser's steps: GET /login (csrf field, its cookies), POST the
    form with the Origin a browser sends. (status, headers) of the POST."""
    st, hdrs, body = request("GET", "/login")
    check_eq(st, 200, "GET /login")
    m = re.search(rb'name="csrf"[^>]*value="([^"]*)"', body) or \
        re.search(rb'value="([^"]*)"[^>]*name="csrf"', body)
    assert m, f"no csrf field in /login: {body[:500]!r}"
    headers = {"Content-Type": "application/x-www-form-urlencoded",
               "Origin": f"https://localhost:{S['https']}"}
    cookies = [c.split(";", 1)[0] for c in hdrs.get("set-cookie", [])]
    if cookies:
        headers["Cookie"] = "; ".join(cookies)
    form = urllib.parse.urlencode({"user": user, "password": pw,
                                   "csrf": m.group(1).decode()})
    st, hdrs, _ = request("POST", "/login", body=form, headers=headers)
    return st, hdrs


def logged_in(st, hdrs):
    """A response to GET /search that is the page, not a way to /login."""
    return st == 200 and not hdrs.get("location")


def setup():
    S.clear()
    for path in (NGINX,):
        if not os.access(path, os.X_OK):
            S["skip"] = f"{path} not installed (apt-get install nginx)"
            return
    st = Stack(daemons=("archive", "audit"), sink=True)
    S["st"] = st.start()
    base = os.path.join(st.base, "nginx-test")
    os.makedirs(base)
    S["pki"] = make_pki(os.path.join(base, "pki"))
    web = PosternWeb(os.path.join(base, "web"), {
        "archive_config": st.daemons["archive"].conf,
        "audit_config": st.daemons["audit"].conf,
        "secure_cookies": "yes",
        "sso_header": "X-Remote-User",
        "sso_trusted_proxies": "127.0.0.1",
    })
    web.passwd(ADMIN, "admin", ADMIN_PW)
    web.passwd(AUDITOR, "auditor", AUDITOR_PW)
    S["web"] = web.start()
    with open(SHIPPED) as f:
        S["shipped"] = f.read()
    S["https"], S["http"] = free_port(), free_port()
    S["nginx"] = start_nginx(os.path.join(base, "nginx"), S["https"], S["http"])
    S["base"] = base


def start_nginx(d, https_port, http_port, **kw):
    os.makedirs(d, exist_ok=True)
    site = site_for_test(S["shipped"], https_port, http_port, S["web"].port, S["pki"], d, **kw)
    n = Nginx(d, site)
    t = n.test()
    if t.returncode != 0:
        raise AssertionError(f"nginx -t refuses the shipped file: {t.stderr}")
    S.setdefault("nginxes", []).append(n)
    return n.start([https_port, http_port])


def teardown():
    for n in S.get("nginxes", []):
        n.stop()
    err = None
    for k in ("web", "st"):
        if S.get(k):
            try:
                S[k].stop()
            except Exception as e:  # noqa: BLE001
                err = err or e
    if err:
        raise err


def need():
    if S.get("skip"):
        skip(S["skip"])


@test
def plain_http_redirects_to_https():
    need()
    c = http.client.HTTPConnection("127.0.0.1", S["http"], timeout=30)
    c.request("GET", "/login", headers={"Host": "localhost"})
    r = c.getresponse()
    check_eq(r.status, 301, "status")
    check_eq(r.getheader("Location"), f"https://localhost:{S['https']}/login", "Location")
    c.close()


@test
def login_over_https_gives_a_secure_cookie():
    need()
    st, hdrs = login(ADMIN, ADMIN_PW)
    check_eq(st, 303, "POST /login through nginx")
    assert hdrs.get("location", "").endswith("/search"), hdrs.get("location")
    value, attrs = session_cookie(hdrs)
    assert value, f"no postern_session cookie: {hdrs.get('set-cookie')}"
    for a in ("secure", "httponly", "samesite=strict", "path=/"):
        assert a in attrs, f"cookie lacks {a}: {attrs}"
    st, hdrs, body = https("GET", "/search", headers={"Cookie": f"postern_session={value}"})
    assert logged_in(st, hdrs), (st, hdrs.get("location"))
    assert b"search-form" in body, body[:300]
    S["cookie"] = value


@test
def security_headers_pass_through_unchanged():
    need()
    st, hdrs, _ = https("GET", "/login")
    direct = S["web"].request("GET", "/login")[1]
    for h in ("content-security-policy", "x-frame-options", "referrer-policy"):
        assert direct.get(h), f"postern-web sent no {h}"
        check_eq(hdrs.get(h), direct.get(h), f"{h} through nginx")
    assert "default-src 'none'" in hdrs["content-security-policy"], hdrs
    assert hdrs.get("strict-transport-security", "").startswith("max-age="), hdrs


@test
def a_client_x_remote_user_is_not_believed_through_nginx():
    need()
    forged = {"X-Remote-User": ADMIN}
    # the attack works where the defence is absent: postern-web believes
    # its proxy's address (the test talks from 127.0.0.1 too)...
    st, hdrs, _ = S["web"].request("GET", "/search", headers=forged)
    assert logged_in(st, hdrs), \
        f"SSO itself does not work straight to postern-web ({st} {hdrs.get('location')})"
    # ...and through an nginx without the strip line
    p1, p2 = free_port(), free_port()
    n = start_nginx(os.path.join(S["base"], "nginx-nostrip"), p1, p2, strip_sso=False)
    try:
        st, hdrs, _ = https("GET", "/search", headers=forged, port=p1)
        assert logged_in(st, hdrs), "without the strip line the forged header did not log in"
    finally:
        n.stop()
    # the shipped file blanks it
    st, hdrs, _ = https("GET", "/search", headers=forged)
    assert not logged_in(st, hdrs), "a client's X-Remote-User logged in through nginx"
    assert hdrs.get("location", "").endswith("/login") or st in (401, 403), \
        (st, hdrs.get("location"))
    for variant in ("x-remote-user", "X-REMOTE-USER", "X_Remote_User"):
        st, hdrs, _ = https("GET", "/search", headers={variant: ADMIN})
        assert not logged_in(st, hdrs), f"{variant} logged in through nginx"


@test
def sso_with_nginx_basic_auth_logs_the_user_in():
    need()
    d = os.path.join(S["base"], "nginx-basic")
    os.makedirs(d)
    htpasswd = os.path.join(d, "htpasswd")
    salt = "pStrn"
    r = subprocess.run(["openssl", "passwd", "-apr1", "-salt", salt, "sso secret"],
                       capture_output=True, text=True, timeout=30, check=True)
    with open(htpasswd, "w") as f:
        f.write(f"{AUDITOR}:{r.stdout.strip()}\n")
    os.chmod(htpasswd, 0o644)
    p1, p2 = free_port(), free_port()
    n = start_nginx(d, p1, p2, basic_auth=htpasswd)
    try:
        import base64
        auth = "Basic " + base64.b64encode(f"{AUDITOR}:sso secret".encode()).decode()
        st, hdrs, _ = https("GET", "/search", port=p1)
        check_eq(st, 401, "no credentials: nginx asks")
        st, hdrs, body = https("GET", "/search", headers={"Authorization": auth}, port=p1)
        assert logged_in(st, hdrs), (st, hdrs.get("location"))
        assert AUDITOR.encode() in body, "the page does not name the SSO user"
        # the client cannot choose another name next to its credentials
        st, hdrs, body = https("GET", "/search", port=p1,
                               headers={"Authorization": auth, "X-Remote-User": ADMIN})
        assert logged_in(st, hdrs) and ADMIN.encode() not in body, \
            "X-Remote-User from the client replaced nginx's user"
    finally:
        n.stop()


if __name__ == "__main__":
    main(setup, teardown)
