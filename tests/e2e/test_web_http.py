#!/usr/bin/env python3
# SPDX-License-Identifier: BSD-2-Clause
"""End-to-end: postern-web over HTTP (python's http.client) on an archive
and an audit trail filled by the real postern-archive and postern-audit
behind the private Postfix (tests/lib/stack.py).

What a user or an attacker would check: the login form and its CSRF
cookie; a login without or with a wrong CSRF token is 403; a session id
planted before the login is not the one after it and never logs anyone
in; search, count and paging; the message page; the .eml download is
byte for byte what `postern-archive get` writes; export as mbox and as
zip (read back with python's mailbox and zipfile); an auditor's hold is
403, an admin's hold is seen by `postern-archive search --held`; every
view, download and export is in the archive's access_log and in the
access trail, which `postern-audit verify` accepts; security headers;
the login rate limit (429 after 5 failures, per address and per name,
a right password included); single sign-on honoured from a trusted
proxy address only. Twice: on a SQLite index, and on a PostgreSQL one
(tests/lib/pg.py; the archive daemon's role). Clients use other loopback source addresses
(127.0.0.2...) where a test needs an address of its own: the daemon
listens on 127.0.0.1 and sees the source.
"""
import http.client
import io
import json
import mailbox
import os
import re
import shutil
import ssl
import subprocess
import sys
import tempfile
import zipfile

TOP = os.environ.get("POSTERN_TOP") or os.path.abspath(
    os.path.join(os.path.dirname(__file__), "..", ".."))
sys.path.insert(0, os.path.join(TOP, "tests", "lib"))

from tap import test, main, check_eq  # noqa: E402
from daemon import Daemon, binary  # noqa: E402
import milter_client as mc  # noqa: E402
from pg import PostgreSQL  # noqa: E402
from poll import wait_for  # noqa: E402
from smtp import send  # noqa: E402
from stack import Stack  # noqa: E402
from webd import Client, WebDaemon  # noqa: E402

S = {}
BULK = 48
CSP = ("default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; "
       "form-action 'self'; frame-ancestors 'none'; base-uri 'none'")
USERS = {"alice": ("admin", "alice-secret"), "bob": ("auditor", "bob-secret"),
         "erin": ("auditor", "erin-secret")}


def message(n, subject, extra_headers="", body="Hello.\n"):
    return (f"From: Alice <alice@sender.example>\nTo: Bob <bob@dest.example>\n"
            f"Subject: {subject}\nDate: Mon, 1 Jan 2024 10:00:0{n} +0000\n"
            f"Message-ID: <web-{n}@sender.example>\n{extra_headers}\n{body}")


MESSAGES = [
    ("plain", message(1, "Quarterly figures", body="From the start.\nThe figures.\n")),
    ("multipart", message(2, "Report attached",
                          "MIME-Version: 1.0\nContent-Type: multipart/mixed; boundary=\"B\"\n",
                          "--B\nContent-Type: text/plain\n\nSee the report.\n--B\n"
                          "Content-Type: application/pdf; name=report.pdf\n"
                          "Content-Disposition: attachment; filename=report.pdf\n"
                          "Content-Transfer-Encoding: base64\n\nJVBERi0xLjQK\n--B--\n")),
    ("html", message(3, "<script>alert(1)</script> offer",
                     "MIME-Version: 1.0\nContent-Type: text/html; charset=utf-8\n",
                     "<LINK rel=preconnect href=\"https://preconnect.evil.example\">"
                     "<p onclick=\"x()\">Hi <script>alert(2)</script></p>\n")),
]


def setup(param):
    S.clear()
    base = S["base"] = tempfile.mkdtemp(prefix="postern-web-")
    os.chmod(base, 0o755)
    S["access_log"] = os.path.join(base, "access.log")
    archive = {"access_log": S["access_log"]}
    if param == "postgresql":
        db = S["db"] = PostgreSQL()
        db.start()
        db.setup_roles()
        archive.update(index="postgresql", index_connection=db.conninfo("postern_archive"),
                       host_name="mx1")
    st = Stack(daemons=("archive", "audit"), config={"archive": archive}).start()
    S["st"] = st
    if param == "postgresql":
        r = st.tool("archive", "db", "init", "--connection", S["db"].conninfo("postern_owner"))
        assert r.returncode == 0, r.stderr
    for i, (_, msg) in enumerate(MESSAGES):
        r = send("127.0.0.1", st.pf.port, "alice@sender.example",
                 ["bob@dest.example", f"hidden{i}@dest.example"], msg)
        assert r.code == 250, (r.stage, r.code, r.text)
    # enough for two result pages, and an export of more ids than one
    # index query takes (40)
    for i in range(BULK):
        r = send("127.0.0.1", st.pf.port, "news@list.example", ["bob@dest.example"],
                 f"From: news@list.example\nTo: bob@dest.example\nSubject: Bulk {i:02d}\n"
                 f"Message-ID: <bulk-{i}@list.example>\n\nIssue {i}.\n")
        assert r.code == 250, (r.stage, r.code, r.text)
    st.sink.wait_for(len(MESSAGES) + BULK)
    wait_for(lambda: len(st.archive_deliveries()) == len(MESSAGES) + BULK, 60, "archived")
    S["ids"] = {d["subject"]: d["id"] for d in st.archive_deliveries()}
    S["alice_ids"] = [S["ids"][m[1].split("Subject: ")[1].split("\n")[0]] for m in MESSAGES]
    S["web"] = WebDaemon(os.path.join(base, "web"), st.daemons["archive"].conf,
                         st.daemons["audit"].conf, USERS,
                         {"tls_policy": os.path.join(st.base, "tls_policy"),
                          "audit_verify_key_file": st.key + ".initial"}).start()


def teardown():
    for k in ("web", "sso", "https", "sealed_nokey", "sealed_key", "sealed_archive",
              "unrec_log", "unrec_trail", "capped"):
        if S.get(k):
            S[k].stop()
    if S.get("st"):
        S["st"].stop()
    if S.get("db"):
        S["db"].cleanup()
    if S.get("base"):
        shutil.rmtree(S["base"], ignore_errors=True)


def logged_in(user):
    c = Client(S["web"].port)
    r = c.login(user, USERS[user][1])
    check_eq(r.status, 303, f"login {user}")
    return c


def archive_tool(*args):
    st = S["st"]
    return subprocess.run([binary("postern-archive"), "-c", st.daemons["archive"].conf,
                           *args], capture_output=True, timeout=60)


@test
def login_form_sets_a_csrf_cookie_and_security_headers():
    r = Client(S["web"].port).get("/login")
    check_eq(r.status, 200)
    assert 'id="login-form"' in r.text and 'name="csrf"' in r.text
    value, attrs = r.cookies()["postern_login"]
    assert re.fullmatch(r"[0-9a-f]{64}", value), value
    assert "HttpOnly" in attrs and "SameSite=Strict" in attrs, attrs
    check_eq(r.header("Content-Security-Policy"), CSP)
    check_eq(r.header("X-Frame-Options"), "DENY")
    check_eq(r.header("Referrer-Policy"), "no-referrer")
    assert r.header("Strict-Transport-Security") is None   # plain HTTP


@test
def login_without_or_with_a_wrong_csrf_token_is_403():
    c = Client(S["web"].port)
    c.get("/login")
    r = c.post("/login", {"user": "alice", "password": USERS["alice"][1]}, csrf=False)
    check_eq(r.status, 403, "no token")
    assert 'id="error"' in r.text
    r = c.post("/login", {"user": "alice", "password": USERS["alice"][1], "csrf": "0" * 64})
    check_eq(r.status, 403, "wrong token")
    assert "postern_session" not in c.cookies
    # a cookie planted from a sibling domain, and a form that matches it
    c = Client(S["web"].port)
    planted = "c0ffee" * 10 + "c0ff"
    c.cookies["postern_login"] = planted
    r = c.post("/login", {"user": "alice", "password": USERS["alice"][1], "csrf": planted})
    check_eq(r.status, 403, "a token the server did not make")
    assert "postern_session" not in c.cookies


@test
def a_cross_site_login_post_is_403():
    c = Client(S["web"].port)
    c.get("/login")
    r = c.post("/login", {"user": "alice", "password": USERS["alice"][1]},
               headers={"Origin": "http://evil.example"})
    check_eq(r.status, 403)


@test
def a_wrong_password_is_refused_with_the_error_element():
    c = Client(S["web"].port, source_address="127.0.0.3")
    r = c.login("bob", "not-the-password")
    check_eq(r.status, 401)
    assert 'id="error"' in r.text and 'id="login-form"' in r.text
    r = c.login("nobody-here", "x")
    check_eq(r.status, 401)


@test
def session_fixation_a_planted_id_is_never_the_logged_in_one():
    planted = "ab" * 32
    c = Client(S["web"].port)
    c.cookies["postern_session"] = planted
    r = c.login("bob", USERS["bob"][1])
    check_eq(r.status, 303)
    check_eq(r.header("Location"), "/search")
    new = c.cookies["postern_session"]
    assert new != planted and re.fullmatch(r"[0-9a-f]{64}", new), new
    attacker = Client(S["web"].port)
    attacker.cookies["postern_session"] = planted
    r = attacker.get("/search")
    check_eq(r.status, 303, "the planted id logs nobody in")
    check_eq(r.header("Location"), "/login")
    # a second login of the same browser gets yet another id
    c.login("bob", USERS["bob"][1])
    assert c.cookies["postern_session"] != new


@test
def search_lists_every_delivery_with_its_count():
    c = logged_in("bob")
    r = c.get("/search?from=alice%40sender.example")
    check_eq(r.status, 200)
    assert re.search(r'id="count"[^>]*>3 deliveries<', r.text), r.text[:2000]
    check_eq(len(re.findall(r'<tr class="result">', r.text)), 3)
    for ident in S["alice_ids"]:
        assert f'href="/message?id={ident}"' in r.text
    assert 'id="search-form"' in r.text and 'id="export-form"' in r.text
    # the hostile subject is text, not markup
    assert "<script>alert(1)" not in r.text and "&lt;script&gt;alert(1)" in r.text
    r = c.get("/search?subject=report")
    assert re.search(r'id="count"[^>]*>1 delivery<', r.text)
    r = c.get("/search?since=not-a-date")
    check_eq(r.status, 400)
    assert 'id="error"' in r.text


@test
def results_come_fifty_a_page_with_paging_links():
    c = logged_in("bob")
    total = len(MESSAGES) + BULK
    r = c.get("/search")
    assert re.search(rf'id="count"[^>]*>{total} deliveries<', r.text), r.text[:2000]
    check_eq(len(re.findall(r'<tr class="result">', r.text)), 50)
    assert 'id="prev"' not in r.text
    m = re.search(r'id="next" href="([^"]+)"', r.text)
    assert m, "no next link"
    r = c.get(m.group(1).replace("&amp;", "&"))
    check_eq(len(re.findall(r'<tr class="result">', r.text)), total - 50)
    assert 'id="prev"' in r.text and 'id="next"' not in r.text
    # the search survives paging
    r = c.get("/search?subject=bulk&page=0")
    m = re.search(r'id="next" href="([^"]+)"', r.text)
    check_eq(m, None, "48 bulk deliveries fit one page")
    r = c.get("/search?page=99")
    check_eq(len(re.findall(r'<tr class="result">', r.text)), 0)


@test
def an_empty_search_stops_counting_at_the_limit():
    # with search_count_limit below the archive's size, the first page
    # says "more than N" and still pages on; a deeper page counts on
    st = S["st"]
    total = len(MESSAGES) + BULK
    S["capped"] = WebDaemon(os.path.join(S["base"], "capped"), st.daemons["archive"].conf,
                            st.daemons["audit"].conf, {"bob": USERS["bob"]},
                            {"search_count_limit": 10}).start()
    c = Client(S["capped"].port)
    check_eq(c.login("bob", USERS["bob"][1]).status, 303)
    r = c.get("/search")
    assert re.search(r'id="count"[^>]*>more than 50 deliveries', r.text), r.text[:2000]
    check_eq(len(re.findall(r'<tr class="result">', r.text)), 50)
    assert "of more than 50" in r.text
    m = re.search(r'id="next" href="([^"]+)"', r.text)
    assert m, "no next link"
    r = c.get(m.group(1).replace("&amp;", "&"))
    check_eq(len(re.findall(r'<tr class="result">', r.text)), total - 50)
    # a narrow search under the limit still gets its exact count
    r = c.get("/search?from=alice%40sender.example")
    assert re.search(r'id="count"[^>]*>3 deliveries<', r.text), r.text[:2000]


@test
def the_message_page_shows_envelope_with_bcc_and_hold_state():
    c = logged_in("bob")
    ident = S["ids"]["Report attached"]
    r = c.get(f"/message?id={ident}")
    check_eq(r.status, 200)
    for part in ('id="envelope"', 'id="hold-state"', 'id="hold-form"', 'id="download-eml"',
                 'id="audit-link"', 'id="headers"', 'id="body"'):
        assert part in r.text, part
    assert "hidden1@dest.example" in r.text    # the Bcc recipient, from the envelope
    assert re.search(r'id="hold-state"[^>]*>not held<', r.text)
    # the attachment: a download of the decoded bytes, never shown inline
    m = re.search(r'href="(/message/part\?id=[^"&]+&amp;part=\d+)"', r.text)
    assert m, r.text[-3000:]
    p = c.get(m.group(1).replace("&amp;", "&"))
    check_eq(p.status, 200)
    check_eq(p.body, b"%PDF-1.4\n")
    check_eq(p.header("Content-Type"), "application/octet-stream")
    assert p.header("Content-Disposition").startswith('attachment; filename="report.pdf"'), \
        p.header("Content-Disposition")
    check_eq(c.get(f"/message/part?id={ident}&part=999").status, 404)
    check_eq(c.get(f"/message/part?id={ident}&part=-1").status, 404)
    check_eq(c.get("/message?id=20990101000000-00000000").status, 404)
    check_eq(c.get("/message?id=../../etc/passwd").status, 404)


@test
def the_eml_download_is_the_original_bytes():
    c = logged_in("bob")
    for ident in S["ids"].values():
        r = c.get(f"/message/eml?id={ident}")
        check_eq(r.status, 200)
        check_eq(r.header("Content-Type"), "message/rfc822")
        assert r.header("Content-Disposition").startswith("attachment"), r.headers
        want = archive_tool("get", ident)
        check_eq(want.returncode, 0)
        assert r.body == want.stdout, (len(r.body), len(want.stdout))


@test
def posts_without_or_with_a_wrong_csrf_token_are_403():
    c = logged_in("alice")
    ident = S["ids"]["Quarterly figures"]
    c.get(f"/message?id={ident}")
    form = {"id": ident, "action": "add", "reason": "case 17"}
    r = c.post("/hold", form, csrf=False)
    check_eq(r.status, 403, "no token")
    assert 'id="error"' in r.text
    r = c.post("/hold", dict(form, csrf="f" * 64))
    check_eq(r.status, 403, "wrong token")
    r = c.post("/hold", form, headers={"Referer": "http://evil.example/x"})
    check_eq(r.status, 403, "cross-site referer")
    r = c.post("/hold", form, headers={"Origin": "null", "Sec-Fetch-Site": "cross-site"})
    check_eq(r.status, 403, "a browser's cross-site post")
    check_eq(archive_tool("search", "--held").returncode, 1, "nothing held")


@test
def an_auditor_cannot_place_a_hold():
    c = logged_in("bob")
    ident = S["ids"]["Quarterly figures"]
    c.get(f"/message?id={ident}")
    r = c.post("/hold", {"id": ident, "action": "add", "reason": "mine"})
    check_eq(r.status, 403)
    assert 'id="error"' in r.text
    check_eq(archive_tool("search", "--held").returncode, 1, "nothing held")


@test
def an_admin_hold_is_what_the_cli_sees():
    c = logged_in("alice")
    ident = S["ids"]["Quarterly figures"]
    c.get(f"/message?id={ident}")
    r = c.post("/hold", {"id": ident, "action": "add", "reason": ""})
    check_eq(r.status, 400, "a reason is required")
    # what a browser sends under Referrer-Policy: no-referrer, from our own form
    r = c.post("/hold", {"id": ident, "action": "add", "reason": "case 17"},
               headers={"Origin": "null", "Sec-Fetch-Site": "same-origin"})
    check_eq(r.status, 303)
    out = archive_tool("search", "--held")
    check_eq(out.returncode, 0)
    lines = out.stdout.decode().splitlines()
    check_eq(len(lines), 1)
    assert lines[0].startswith(ident) and "case 17" in lines[0], lines
    r = c.get(f"/message?id={ident}")
    assert re.search(r'id="hold-state"[^>]*>held<', r.text)
    r = c.get("/search?held=1")
    assert re.search(r'id="count"[^>]*>1 delivery<', r.text)
    r = c.post("/hold", {"id": ident, "action": "remove", "reason": "case closed"})
    check_eq(r.status, 303)
    check_eq(archive_tool("search", "--held").returncode, 1, "released")


@test
def export_mbox_and_zip_are_readable():
    c = logged_in("bob")
    c.get("/search")
    ids = sorted(S["ids"].values())
    r = c.post("/export", [("format", "mbox")] + [("id", i) for i in ids])
    check_eq(r.status, 200)
    check_eq(r.header("Content-Type"), "application/mbox")
    with tempfile.NamedTemporaryFile(suffix=".mbox") as f:
        f.write(r.body)
        f.flush()
        box = mailbox.mbox(f.name)
        subjects = sorted(m["subject"] for m in box)
        box.close()
    check_eq(subjects, sorted(S["ids"].keys()))
    r = c.post("/export", [("format", "zip")] + [("id", i) for i in ids[:2]])
    check_eq(r.status, 200)
    check_eq(r.header("Content-Type"), "application/zip")
    z = zipfile.ZipFile(io.BytesIO(r.body))
    check_eq(z.testzip(), None)
    check_eq(sorted(z.namelist()), [i + ".eml" for i in ids[:2]])
    for i in ids[:2]:
        check_eq(z.read(i + ".eml"), archive_tool("get", i).stdout)
    # nothing ticked: the search fields select
    r = c.post("/export", {"format": "zip", "subject": "report"})
    check_eq(r.status, 200)
    check_eq(zipfile.ZipFile(io.BytesIO(r.body)).namelist(),
             [S["ids"]["Report attached"] + ".eml"])
    r = c.post("/export", {"format": "tar", "id": ids[0]})
    check_eq(r.status, 400)
    # an id repeated is exported once
    r = c.post("/export", [("format", "zip")] + [("id", ids[0])] * 3)
    check_eq(zipfile.ZipFile(io.BytesIO(r.body)).namelist(), [ids[0] + ".eml"])


@test
def every_read_is_in_the_access_log_and_the_verified_trail():
    c = logged_in("bob")
    ident = S["ids"]["Report attached"]
    c.get(f"/message/eml?id={ident}")
    with open(S["access_log"]) as f:
        log = f.read()
    assert re.search(rf"web-download: read by user=web:bob \(auditor from 127\.0\.0\.1\) "
                     rf"uid=\d+ id={ident} sha256=[0-9a-f]{{64}}", log), log[-2000:]
    assert "web-export: read by user=web:bob" in log
    assert "web-view: read by user=web:bob" in log
    with open(S["web"].trail) as f:
        records = [json.loads(line) for line in f]
    kinds = {(r.get("action"), r.get("user")) for r in records if r.get("type") == "web-access"}
    for want in (("download", "bob"), ("view", "bob"), ("export", "bob"), ("search", "bob"),
                 ("login", "bob"), ("login-failed", "bob"), ("hold-add", "alice")):
        assert want in kinds, (want, sorted(kinds))
    v = subprocess.run([binary("postern-audit"), "verify", S["web"].trail],
                       capture_output=True, text=True, timeout=60)
    check_eq(v.returncode, 0, v.stdout + v.stderr)


@test
def the_audit_page_shows_the_records_and_a_verified_chain():
    c = logged_in("bob")
    ident = S["ids"]["Report attached"]
    r = c.get(f"/audit?id={ident}")
    check_eq(r.status, 200)
    assert 'id="audit-records"' in r.text
    assert len(re.findall(r'<tr class="record"', r.text)) >= 1, r.text[-3000:]
    m = re.search(r'id="chain-status"[^>]*>([^<]*)', r.text)
    assert m and m.group(1).startswith("verified"), m and m.group(1)
    r = c.get("/tls")
    check_eq(r.status, 200)
    assert 'id="partners"' in r.text and "partner.example" in r.text
    r = c.get("/tls?domain=partner.example")
    check_eq(r.status, 200)
    assert 'id="sessions"' in r.text and 'id="compliance"' in r.text
    r = c.get("/tls?domain=%3Cscript%3E")
    assert "<script>" not in r.text


@test
def concurrent_readers_all_answered_and_the_trail_still_verifies():
    import concurrent.futures
    c = logged_in("bob")
    ids = list(S["ids"].values())
    paths = [f"/message/eml?id={ids[i % len(ids)]}" if i % 2 else "/search?subject=report"
             for i in range(80)]

    def fetch(path):
        d = Client(S["web"].port)
        d.cookies = dict(c.cookies)
        return d.get(path).status

    with concurrent.futures.ThreadPoolExecutor(max_workers=8) as pool:
        statuses = list(pool.map(fetch, paths))
    check_eq(set(statuses), {200})
    v = subprocess.run([binary("postern-audit"), "verify", S["web"].trail],
                       capture_output=True, text=True, timeout=60)
    check_eq(v.returncode, 0, v.stdout + v.stderr)


@test
def logout_ends_the_session():
    c = logged_in("bob")
    c.get("/search")
    old = c.cookies["postern_session"]
    r = c.post("/logout", {})
    check_eq(r.status, 303)
    check_eq(r.header("Location"), "/login")
    c.cookies["postern_session"] = old
    check_eq(c.get("/search").status, 303, "the old id is dead")


@test
def head_404_static_and_the_sandboxed_html_part():
    c = logged_in("bob")
    r = c.request("HEAD", "/search")
    check_eq(r.status, 200)
    check_eq(r.body, b"")
    r = c.get("/no-such-page")
    check_eq(r.status, 404)
    assert 'id="error"' in r.text
    r = c.get("/static/app.css")
    check_eq(r.status, 200)
    assert r.header("Content-Type").startswith("text/css")
    check_eq(c.get("/static/../web.conf").status, 404)
    r = c.get(f"/message/html?id={S['ids']['<script>alert(1)</script> offer']}&part=0")
    check_eq(r.status, 200)
    check_eq(r.header("Content-Security-Policy"),
             "sandbox; default-src 'none'; style-src 'unsafe-inline'")
    # resource hints are outside CSP: no <link> element reaches the browser,
    # nor a script or an event handler
    assert not re.search(rb"<link[\s/>]", r.body, re.I), r.body
    assert b"<script" not in r.body.lower() and b"onclick" not in r.body.lower(), r.body


@test(only="sqlite")
def https_sends_hsts_and_a_secure_cookie():
    st = S["st"]
    d = os.path.join(S["base"], "https")
    os.makedirs(d)
    cert, key = os.path.join(d, "cert.pem"), os.path.join(d, "key.pem")
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", key,
                    "-out", cert, "-days", "2", "-subj", "/CN=127.0.0.1"],
                   check=True, capture_output=True, timeout=60)
    S["https"] = WebDaemon(d, st.daemons["archive"].conf, st.daemons["audit"].conf,
                           {"alice": ("admin", "x")},
                           {"tls_cert_file": cert, "tls_key_file": key}).start()
    ctx = ssl.create_default_context(cafile=cert)
    ctx.check_hostname = False
    conn = http.client.HTTPSConnection("127.0.0.1", S["https"].port, context=ctx, timeout=60)
    try:
        conn.request("GET", "/login")
        resp = conn.getresponse()
        resp.read()
        check_eq(resp.status, 200)
        assert resp.getheader("Strict-Transport-Security", "").startswith("max-age="), \
            resp.getheaders()
        assert "Secure" in resp.getheader("Set-Cookie", ""), resp.getheader("Set-Cookie")
    finally:
        conn.close()
    # plain HTTP on the HTTPS port is not served
    r = subprocess.run(["curl", "-s", "-o", "/dev/null", "-w", "%{http_code}",
                        f"http://127.0.0.1:{S['https'].port}/login"],
                       capture_output=True, text=True, timeout=60)
    assert r.stdout != "200", r.stdout


@test(only="sqlite")
def an_encrypted_archive_needs_the_console_key():
    """A second archive, encrypted to a certificate, fed over the milter
    protocol: without archive_key_file the console says the message is
    encrypted (envelope only, no download); with it the download is the
    original bytes."""
    base = os.path.join(S["base"], "sealed")
    os.makedirs(os.path.join(base, "tmp"))
    key, cert = os.path.join(base, "key.pem"), os.path.join(base, "cert.pem")
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", key,
                    "-out", cert, "-days", "2", "-subj", "/CN=Archive Key"],
                   check=True, capture_output=True, timeout=60)
    arc = Daemon("postern-archive", base=base,
                 config={"archive_directory": os.path.join(base, "archive"),
                         "tmp_dir": os.path.join(base, "tmp"),
                         "encryption_certificates": cert})
    S["sealed_archive"] = arc.start()
    raw = (b"From: Alice <alice@sender.example>\r\nTo: bob@dest.example\r\n"
           b"Subject: Sealed figures\r\nMessage-ID: <sealed@sender.example>\r\n\r\nSecret.\r\n")
    c = mc.MilterClient(arc.spec)
    c.negotiate()
    macros = mc.postfix_macros(client_addr="192.0.2.10")
    c.connect("client.example", mc.SMFIA_INET, 40000, "192.0.2.10",
              macros=macros[mc.SMFIC_CONNECT])
    c.helo("client.example", macros=macros[mc.SMFIC_HELO])
    c.transaction("<alice@sender.example>", ["<bob@dest.example>"], raw, queue_id="5EaLeD")
    c.quit()
    found = subprocess.run([binary("postern-archive"), "-c", arc.conf, "search", "--json"],
                           capture_output=True, text=True, timeout=60)
    ident = json.loads(found.stdout.splitlines()[0])["id"]
    for name, extra in (("nokey", {}), ("key", {"archive_key_file": key})):
        S["sealed_" + name] = WebDaemon(os.path.join(base, "web-" + name), arc.conf, "",
                                        {"bob": ("auditor", "pw")}, extra).start()
        c = Client(S["sealed_" + name].port)
        check_eq(c.login("bob", "pw").status, 303)
        r = c.get(f"/message?id={ident}")
        check_eq(r.status, 200)
        r_eml = c.get(f"/message/eml?id={ident}")
        if name == "nokey":
            assert 'id="encrypted"' in r.text and "Secret." not in r.text, r.text[-1500:]
            check_eq(r_eml.status, 409)
            assert "encrypted" in r_eml.text and 'id="error"' in r_eml.text
        else:
            assert "Secret." in r.text
            check_eq(r_eml.status, 200)
            check_eq(r_eml.body, raw)


@test(only="sqlite")
def what_cannot_be_recorded_is_not_shown():
    st = S["st"]
    base = os.path.join(S["base"], "unrecorded")
    os.makedirs(base)
    # the archive's configuration, its access_log a directory: appends fail
    conf = os.path.join(base, "archive.conf")
    with open(st.daemons["archive"].conf) as f:
        text = f.read()
    with open(conf, "w") as f:
        f.write(re.sub(r"(?m)^access_log = .*$", f"access_log = {base}", text))
    S["unrec_log"] = WebDaemon(os.path.join(base, "a"), conf, "",
                               {"bob": ("auditor", "pw")}).start()
    c = Client(S["unrec_log"].port)
    check_eq(c.login("bob", "pw").status, 303)
    ident = S["ids"]["Quarterly figures"]
    for path in ("/search", f"/message?id={ident}", f"/message/eml?id={ident}"):
        r = c.get(path)
        check_eq(r.status, 500, path)
        assert "figures" not in r.text.lower(), (path, r.text[-500:])
    r = c.post("/export", {"format": "mbox", "id": ident})
    check_eq(r.status, 500, "export")
    # the access trail cannot be written: nobody logs in
    S["unrec_trail"] = WebDaemon(os.path.join(base, "t"), st.daemons["archive"].conf, "",
                                 {"bob": ("auditor", "pw")},
                                 {"access_trail": "/dev/null/access.jsonl"}).start()
    r = Client(S["unrec_trail"].port).login("bob", "pw")
    check_eq(r.status, 500)
    assert "postern_session" not in r.cookies()


@test
def login_rate_limit_per_address_and_per_name():
    # its own source address: the other tests' failures do not count here
    c = Client(S["web"].port, source_address="127.0.0.4")
    for i in range(5):
        check_eq(c.login("nobody-at-all", f"guess{i}").status, 401, f"failure {i + 1}")
    r = c.login("bob", USERS["bob"][1])
    check_eq(r.status, 429, "the address is blocked, even with a right password")
    assert 'id="error"' in r.text
    # per name: erin's five failures come from five addresses
    for i in range(5):
        d = Client(S["web"].port, source_address=f"127.0.1.{i + 1}")
        check_eq(d.login("erin", "wrong").status, 401)
    d = Client(S["web"].port, source_address="127.0.2.1")
    check_eq(d.login("erin", USERS["erin"][1]).status, 429, "the name is blocked")
    check_eq(logged_in("alice").get("/search").status, 200, "others still log in")


@test
def sso_header_is_honoured_from_a_trusted_proxy_only():
    st = S["st"]
    S["sso"] = WebDaemon(os.path.join(S["base"], "sso"), st.daemons["archive"].conf,
                         st.daemons["audit"].conf, {"alice": ("admin", "x")},
                         {"sso_header": "X-Remote-User",
                          "sso_trusted_proxies": "127.0.0.2"}).start()
    port = S["sso"].port
    trusted = Client(port, source_address="127.0.0.2")
    r = trusted.get("/search", headers={"X-Remote-User": "alice"})
    check_eq(r.status, 200)
    assert "alice" in r.text and "(admin)" in r.text
    r = trusted.get("/search", headers={"X-Remote-User": "mallory"})
    check_eq(r.status, 403, "a name without an account")
    untrusted = Client(port)   # 127.0.0.1 is not a trusted proxy here
    r = untrusted.get("/search", headers={"X-Remote-User": "alice"})
    check_eq(r.status, 303, "ignored: back to the login page")
    check_eq(r.header("Location"), "/login")
    assert "ignoring X-Remote-User header" in S["sso"].log(), S["sso"].log()


if __name__ == "__main__":
    # Under valgrind every yescrypt login costs seconds: SQLite only there,
    # to stay within run.sh's bound per file (postern-web's code is the
    # same for both; test_archive_pg covers the PostgreSQL index itself).
    main(setup, teardown, params=("sqlite",) if os.environ.get("POSTERN_VALGRIND") == "1"
         else ("sqlite", "postgresql"))
