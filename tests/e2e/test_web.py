#!/usr/bin/env python3
# SPDX-License-Identifier: BSD-2-Clause
"""Browser acceptance of the web console: Debian's chromium, headless,
driven by chromium-driver (tests/lib/browser.py), against postern-web over
a real archive and trail.

Set-up: a private Postfix with postern-archive and postern-audit (the
Stack of tests/lib/stack.py; the archive writes its access_log), a set of
ordinary messages (an attachment and a Bcc recipient, a contract, 60
newsletters for paging, one over STARTTLS from the TLS partner) and the
hostile corpus (tests/e2e/data/hostile/*.eml plus the messages of
HOSTILE below, which mark what they would do: set document.title to
"PWNED:", window.pwned, console "PWNED", load from *.marker.postern.test)
sent through it; postern-web with a users file made by `postern-web
passwd` (an admin and an auditor).

In chromium, as a user would: log in (and fail with a bad password),
search by subject and by sender, page through results, open a message
(envelope with the Bcc recipient, headers, body), download the .eml (the
bytes equal what was sent and what `postern-archive get` gives), export
a selection as mbox and as zip (read back with mailbox and zipfile),
place and lift a legal hold as admin (`postern-archive search --held`
agrees), be refused as auditor (403, id="error", hold unchanged), see a
message's audit records with the chain verified, the TLS page.

Hostile corpus: every message is opened, and so is each "View HTML"
(the sandboxed frame) and the HTML part loaded on its own: no alert
opened, no mark set, no "PWNED" in the console, no request sent to
another origin (performance log), nothing reached the Marker (every
outside host name resolves to a listener on 127.0.0.1), and the page
still shows the subject.

Attacks: CSRF (an attacker page on another origin, same-site and
cross-site, auto-submits a hold form while the admin is logged in: the
hold does not change) and session fixation (a session id planted before
login is not the one after it, and gives /login).

Screenshots go to $POSTERN_BUILD/screenshots/ (the README's
docs/postern-web.png is a copy of results-held.png).

Under POSTERN_VALGRIND=1 postern-web runs under valgrind like every
daemon; the browser is the same, only the waits are longer.
"""
import glob
import json
import mailbox
import os
import re
import signal
import subprocess
import sys
import urllib.parse
import zipfile

TOP = os.environ.get("POSTERN_TOP") or os.path.abspath(
    os.path.join(os.path.dirname(__file__), "..", ".."))
BUILD = os.environ.get("POSTERN_BUILD", os.path.join(TOP, "build"))
sys.path.insert(0, os.path.join(TOP, "tests", "lib"))

from tap import test, main, check_eq, skip  # noqa: E402
from browser import Browser, Marker, Site, unavailable, chromium_version  # noqa: E402
from poll import wait_for  # noqa: E402
from smtp import send  # noqa: E402
from stack import Stack  # noqa: E402
from webserver import PosternWeb  # noqa: E402

S = {}
VALGRIND = os.environ.get("POSTERN_VALGRIND") == "1"
SHOTS = os.path.join(BUILD, "screenshots")
ADMIN, ADMIN_PW = "alice.admin", "correct horse battery staple"
AUDITOR, AUDITOR_PW = "bob.auditor", "Tr0ub4dor&3 auditor"
MARKER_DOMAIN = "marker.postern.test"
HOSTILE_DIR = os.path.join(TOP, "tests", "e2e", "data", "hostile")
NEWS = 60               # newsletters: more than one page of results (50)


def crlf(text):
    data = text.encode("utf-8") if isinstance(text, str) else text
    return re.sub(rb"\r?\n", b"\r\n", data)


def msg(msgid, sender, to, subject, body, extra=""):
    return crlf(f"From: {sender}\nTo: {to}\nSubject: {subject}\n"
                f"Date: Sat, 5 Dec 2026 08:00:00 +0000\nMessage-ID: <{msgid}@web.test>\n"
                f"{extra}\n{body}")


def normal_corpus():
    """[(key, sender, rcpts, raw bytes, options)]: the ordinary mail."""
    out = [
        ("report", "alice@sender.example", ["bob@dest.example", "carol@dest.example"],
         msg("report", "Alice <alice@sender.example>", "Bob <bob@dest.example>",
             "Quarterly report Q3",
             "--XYZ\nContent-Type: text/plain; charset=utf-8\n\nDear Bob,\n\nthe figures "
             "for the third quarter are attached.\n\nAlice\n--XYZ\nContent-Type: "
             "application/pdf; name=report.pdf\nContent-Disposition: attachment; "
             "filename=\"report.pdf\"\nContent-Transfer-Encoding: base64\n\n"
             "JVBERi0xLjQKJcfsj6IKMSAwIG9iago8PD4+CmVuZG9iagp0cmFpbGVyCjw8Pj4KJSVFT0YK\n"
             "--XYZ--\n",
             "MIME-Version: 1.0\nContent-Type: multipart/mixed; boundary=\"XYZ\"\n"), {}),
        ("lunch", "dave@other.example", ["bob@dest.example"],
         msg("lunch", "Dave <dave@other.example>", "bob@dest.example", "Lunch on Friday?",
             "Shall we try the new place on Friday at noon?\n"), {}),
        ("contract", "alice@sender.example", ["lawyer@firm.example"],
         msg("contract", "Alice <alice@sender.example>", "Lawyer <lawyer@firm.example>",
             "Contract draft for review",
             "Please review clause 7 (termination) before Monday.\n"), {}),
        ("csrf-target", "alice@sender.example", ["lawyer@firm.example"],
         msg("csrf-target", "Alice <alice@sender.example>", "lawyer@firm.example",
             "Board minutes", "Minutes of the board meeting.\n"), {}),
        ("tls", "erin@partner.example", ["bob@dest.example"],
         msg("tls", "Erin <erin@partner.example>", "bob@dest.example",
             "Delivery schedule over TLS", "Sent over STARTTLS.\n"), {"starttls": True}),
    ]
    for i in range(NEWS):
        out.append((f"news{i:02d}", "news@list.example", ["bob@dest.example"],
                    msg(f"news{i:02d}", "News <news@list.example>", "bob@dest.example",
                        f"Newsletter {i:02d}", f"Issue {i} of the newsletter.\n"), {}))
    return out


def beacon(tag):
    return f"http://{tag}.{MARKER_DOMAIN}/{tag}"


# Messages that say what they would do if they ran: a title "PWNED:...",
# window.pwned, a console line "PWNED", loads from *.marker.postern.test.
HOSTILE = {
    "marks-html": (
        "Marks <script>document.title='PWNED:subject'</script>",
        "MIME-Version: 1.0\nContent-Type: multipart/alternative; boundary=\"b\"\n",
        "--b\nContent-Type: text/plain; charset=utf-8\n\n<script>window.pwned=1</script>"
        f" plain <img src={beacon('plainimg')}>\n"
        "--b\nContent-Type: text/html; charset=utf-8\n\n"
        "<html><head>"
        f"<meta http-equiv=\"refresh\" content=\"0;url={beacon('refresh')}\">"
        f"<link rel=\"prefetch\" href=\"{beacon('prefetch')}\">"
        f"<link rel=\"stylesheet\" href=\"{beacon('css')}\">"
        f"<style>body{{background:url({beacon('cssurl')})}}"
        f"@font-face{{font-family:x;src:url({beacon('font')})}}</style>"
        "<script>document.title='PWNED:head';window.pwned=1;console.log('PWNED head');"
        f"new Image().src='{beacon('script')}';fetch('{beacon('fetch')}')</script>"
        "</head><body onload=\"window.pwned=2;console.log('PWNED onload')\">"
        "<p>Visible text of the marks message.</p>"
        f"<img src=\"{beacon('img')}\" onerror=\"window.pwned=3;console.log('PWNED img')\">"
        f"<img srcset=\"{beacon('srcset')} 2x\">"
        f"<picture><source srcset=\"{beacon('source')}\"><img></picture>"
        f"<video poster=\"{beacon('poster')}\" src=\"{beacon('video')}\"></video>"
        f"<audio src=\"{beacon('audio')}\"></audio>"
        f"<iframe src=\"{beacon('iframe')}\"></iframe>"
        f"<embed src=\"{beacon('embed')}\"><object data=\"{beacon('object')}\"></object>"
        f"<form action=\"{beacon('form')}\" method=post><input autofocus "
        "onfocus=\"window.pwned=4;console.log('PWNED focus')\"></form>"
        "<svg onload=\"window.pwned=5;console.log('PWNED svg')\">"
        f"<image href=\"{beacon('svgimage')}\"/></svg>"
        "<a id=\"js\" href=\"javascript:window.pwned=6\">javascript link</a>"
        "<div style=\"width:expression(window.pwned=7)\">css expression</div>"
        f"<div style=\"background-image:url({beacon('inline')})\">inline style</div>"
        "<math><mtext><table><mglyph><style><img src=x "
        "onerror=\"window.pwned=8;console.log('PWNED mxss')\"></style></mglyph></table>"
        "</mtext></math>"
        "<p>End of the marks message.</p></body></html>\n--b--\n"),
    "subject-img": (
        f"<img src={beacon('subject')} onerror=\"window.pwned=1\"> subject with a tag",
        "", "Plain body: <b>bold?</b> &amp; <script>window.pwned=1</script>\n"),
    "encoded-script": (
        "=?UTF-8?B?" + __import__("base64").b64encode(
            "Encoded <script>window.pwned=1;console.log('PWNED ew')</script> subject"
            .encode()).decode() + "?=",
        "", "The subject is an encoded-word holding a script tag.\n"),
    "long-subject": (
        "Ten thousand " + "<b>x</b>" * 1200 + " end",
        "", "A subject of ten thousand characters.\n"),
    "attachment-names": (
        "Attachment names",
        "MIME-Version: 1.0\nContent-Type: multipart/mixed; boundary=\"m\"\n",
        "--m\nContent-Type: text/plain\n\nSee the attachments.\n"
        "--m\nContent-Type: text/html; name=\"x.html\"\n"
        "Content-Disposition: attachment; filename=\"\\\"><img src=x "
        "onerror=window.pwned=1>.html\"\n\n"
        f"<script>window.pwned=1</script><img src={beacon('attach')}>\n"
        "--m\nContent-Type: image/svg+xml\nContent-Disposition: attachment; "
        "filename=\"javascript:alert(1).svg\"\n\n"
        "<svg xmlns=\"http://www.w3.org/2000/svg\" onload=\"window.pwned=1\"/>\n--m--\n"),
    "header-names": (
        "Headers with markup",
        "Reply-To: \"<script>window.pwned=1</script>\" <r@evil.example>\n"
        f"X-Link: <a href=\"javascript:window.pwned=1\">x</a> {beacon('header')}\n", "Body.\n"),
}


def hostile_corpus():
    """[(key, raw bytes)]: h-webview's files, then HOSTILE."""
    out = []
    for path in sorted(glob.glob(os.path.join(HOSTILE_DIR, "*.eml"))):
        with open(path, "rb") as f:
            out.append(("file:" + os.path.basename(path), crlf(f.read())))
    for key, (subject, extra, body) in HOSTILE.items():
        out.append((key, msg("hostile-" + key, "Mallory <mallory@evil.example>",
                             "<script>window.pwned=1</script> <victim@example.org>",
                             subject, body, extra)))
    return out


def message_id(raw):
    m = re.search(rb"(?im)^Message-ID:\s*(<[^>\r\n]+>)", raw)
    return m.group(1).decode("ascii", "replace") if m else None


# ---- fixture -------------------------------------------------------------

def setup():
    S.clear()
    S["why_no_browser"] = unavailable()
    st = Stack(daemons=("archive", "audit"))
    st.config = {"archive": {"access_log": os.path.join(st.base, "archive-access.log")}}
    S["st"] = st.start()
    S["sent"] = {}
    for key, sender, rcpts, raw, opts in normal_corpus():
        r = send("127.0.0.1", st.pf.port, sender, rcpts, raw, timeout=120, **opts)
        assert r.ok, (key, r)
        S["sent"][key] = {"raw": raw, "sender": sender, "rcpts": rcpts, "qid": r.queue_id}
    S["hostile"] = {}
    for key, raw in hostile_corpus():
        try:
            r = send("127.0.0.1", st.pf.port, "mallory@evil.example", ["victim@example.org"],
                     raw, timeout=120)
        except Exception as e:      # noqa: BLE001 - reported, the rest still runs
            print(f"# hostile {key}: not sent: {e}")
            continue
        if not r.ok:
            print(f"# hostile {key}: refused by Postfix: {r.code} {r.text}")
            continue
        S["hostile"][key] = {"raw": raw, "qid": r.queue_id}
    total = len(S["sent"]) + len(S["hostile"])
    wait_for(lambda: len(st.archive_deliveries()) >= total, 120 if VALGRIND else 60,
             f"{total} deliveries in the archive")
    # by queue id: a hostile Message-ID is no key
    by_qid = {row.get("queue_id"): row for row in st.archive_deliveries()}
    for table in (S["sent"], S["hostile"]):
        for key, m in table.items():
            row = by_qid.get(m["qid"])
            assert row, f"{key}: queue id {m['qid']} not archived"
            m["row"], m["id"] = row, row["id"]
    web = PosternWeb(os.path.join(st.base, "web"), {
        "archive_config": st.daemons["archive"].conf,
        "audit_config": st.daemons["audit"].conf,
        "tls_policy": os.path.join(st.base, "tls_policy"),
    })
    web.passwd(ADMIN, "admin", ADMIN_PW)
    web.passwd(AUDITOR, "auditor", AUDITOR_PW)
    S["web"] = web.start()
    S["marker"] = Marker().start()
    S["browsers"] = []
    os.makedirs(SHOTS, exist_ok=True)
    print(f"# {chromium_version()}; postern-web on {web.origin}; "
          f"{len(S['sent'])} messages and {len(S['hostile'])} hostile ones archived")


def teardown():
    errors = []
    for b in S.get("browsers", []):
        try:
            b.stop()
        except Exception as e:      # noqa: BLE001
            errors.append(e)
    for k in ("marker", "attacker", "attacker2"):
        if S.get(k):
            S[k].stop()
    for k in ("web", "st"):
        if S.get(k):
            try:
                S[k].stop()
            except Exception as e:  # noqa: BLE001
                errors.append(e)
    if errors:
        raise errors[0]


def new_browser(phone=False):
    if S["why_no_browser"]:
        skip(S["why_no_browser"])
    b = Browser(S["web"].origin, marker=S["marker"], phone=phone,
                wait=240 if VALGRIND else 30).start()
    S["browsers"].append(b)
    return b


def admin():
    """The admin's browser, logged in (one for the whole file)."""
    if "admin" not in S:
        b = new_browser()
        assert b.login(ADMIN, ADMIN_PW), f"admin login failed at {b.path}: {page_text(b)}"
        S["admin"] = b
    return S["admin"]


def auditor():
    if "auditor" not in S:
        b = new_browser()
        assert b.login(AUDITOR, AUDITOR_PW), f"auditor login failed at {b.path}"
        S["auditor"] = b
    return S["auditor"]


def page_text(b):
    try:
        return b.driver.find_element("tag name", "body").text
    except Exception:       # noqa: BLE001
        return ""


def shot(b, name):
    return b.screenshot(os.path.join(SHOTS, name + ".png"))


def archive_get(delivery):
    """The message's bytes as `postern-archive get` gives them."""
    g = subprocess.run(S["st"].daemons["archive"].command("get", delivery),
                       capture_output=True, timeout=120)
    assert g.returncode == 0, f"postern-archive get {delivery}: {g.stderr!r}"
    return g.stdout


def held_ids():
    return {row["id"] for row in S["st"].archive_deliveries("--held")}


def result_ids(b):
    out = []
    for a in b.find("#results tr.result a.open"):
        q = urllib.parse.urlsplit(a.get_attribute("href")).query
        out.append(urllib.parse.parse_qs(q)["id"][0])
    return out


def search(b, **fields):
    """Fill the search form and submit it; the ids of the result rows."""
    b.get("/search")
    form = b.fill("#search-form", fields)
    b.submit_and_wait(lambda: b.press_submit(form))
    b.one("#count")
    return result_ids(b)


# ---- the detectors themselves ---------------------------------------------------

@test
def detectors_see_a_script_and_a_leak_on_a_page_without_defences():
    """The checks of the hostile corpus, on a page that has none of
    postern-web's defences (no escaping, no CSP, no sandbox): each must
    fire, or passing them later would prove nothing."""
    b = new_browser()
    leak = f"leak.{MARKER_DOMAIN}"
    page = ("<!doctype html><title>naive</title><p>naive viewer</p>"
            "<script>window.pwned=1;console.log('PWNED naive');"
            f"new Image().src='http://{leak}/x.png'</script>").encode()
    alerting = b"<!doctype html><title>naive</title><script>alert('PWNED')</script>"
    site = Site({"/naive": ("text/html", page), "/alert": ("text/html", alerting)}).start()
    try:
        S["marker"].clear()
        b.mark()
        b.get(site.url("/naive"))
        wait_for(lambda: S["marker"].hits({leak}), 30, "the leak at the Marker")
        findings = []
        check_no_script(b, "naive", findings)
        assert any("window.pwned" in f for f in findings), findings
        assert any("PWNED naive" in f for f in findings), findings
        sent = [r["url"] for r in b.requests_outside(site.url("/")) if not r["blocked"]]
        assert f"http://{leak}/x.png" in sent, sent
        b.get(site.url("/alert"))
        findings = []
        check_no_script(b, "alert", findings)
        assert any("alert opened" in f for f in findings), findings
    finally:
        site.stop()


# ---- log in -----------------------------------------------------------------

@test
def login_page_refuses_a_bad_password_and_keeps_the_user_out():
    b = new_browser()
    b.get("/search")
    b.wait(lambda d: "/login" in d.current_url, "the redirect to /login")
    shot(b, "login")
    assert b.find("#login-form input[name=csrf]"), "no csrf field in the login form"
    ok = b.login(ADMIN, "not the password")
    assert not ok, f"logged in with a bad password (at {b.path})"
    assert b.find("#error"), f"no id=error after a bad password: {page_text(b)[:300]}"
    st = b.status_of("/login")
    assert st in (200, 401), f"a bad password answered {st} (a CSRF refusal is 403): " \
        f"{b.text('#error')!r}"
    b.get("/search")
    b.wait(lambda d: "/login" in d.current_url, "still /login after the failed login")


@test
def admin_logs_in_and_lands_on_search():
    b = admin()
    assert b.path.startswith("/search"), b.path
    c = b.cookie()
    assert c, "no postern_session cookie"
    assert c.get("httpOnly"), f"cookie not HttpOnly: {c}"
    check_eq(c.get("sameSite"), "Strict", "cookie SameSite")
    check_eq(c.get("path"), "/", "cookie Path")
    assert b.one("#search-form"), "no search form"


CSP = ["default-src 'none'", "script-src 'self'", "style-src 'self'", "img-src 'self'",
       "form-action 'self'", "frame-ancestors 'none'", "base-uri 'none'"]


@test
def every_page_carries_the_security_headers():
    b = admin()
    cookie = {"Cookie": f"postern_session={b.cookie()['value']}"}
    m = S["sent"]["report"]
    bad = {}
    for path in ("/login", "/search?subject=report", f"/message?id={m['id']}",
                 f"/audit?id={m['id']}", "/tls", "/no-such-page"):
        st, hdrs, _ = S["web"].request("GET", path, headers=cookie)
        csp = [d.strip() for d in hdrs.get("content-security-policy", "").split(";")]
        missing = [d for d in CSP if d not in csp]
        extra = [d for d in csp if d not in CSP and d != "frame-src 'self'"]
        if missing or extra or hdrs.get("x-frame-options") != "DENY" \
                or hdrs.get("referrer-policy") != "no-referrer":
            bad[path] = (st, hdrs.get("content-security-policy"), hdrs.get("x-frame-options"),
                         hdrs.get("referrer-policy"))
    check_eq(bad, {}, "pages without the contract's headers")


# ---- search, paging, message -------------------------------------------------

@test
def search_by_subject_and_by_sender():
    b = admin()
    ids = search(b, subject="Quarterly report")
    check_eq(ids, [S["sent"]["report"]["id"]], "search by subject")
    assert "1" in b.text("#count"), b.text("#count")
    shot(b, "results-one")
    ids = search(b, **{"from": "alice@sender.example"})
    want = {S["sent"][k]["id"] for k in ("report", "contract", "csrf-target")}
    check_eq(set(ids), want, "search by sender")
    ids = search(b, to="lawyer@firm.example")
    check_eq(set(ids), {S["sent"][k]["id"] for k in ("contract", "csrf-target")},
             "search by recipient")
    ids = search(b, text="termination")
    check_eq(ids, [S["sent"]["contract"]["id"]], "search by text")


@test
def results_page_through_sixty_newsletters():
    b = admin()
    seen = search(b, subject="Newsletter")
    assert str(NEWS) in b.text("#count"), f"count: {b.text('#count')!r}"
    shot(b, "results")
    pages = 1
    while b.find("#next") and pages < 40:
        b.submit_and_wait(lambda: b.click("#next"))
        pages += 1
        seen += result_ids(b)
        assert b.find("#prev"), f"page {pages}: no id=prev"
    want = {m["id"] for k, m in S["sent"].items() if k.startswith("news")}
    check_eq(len(seen), NEWS, f"rows over {pages} page(s)")
    check_eq(set(seen), want, "the newsletters")
    assert pages > 1, "one page only: paging not exercised"
    print(f"# {NEWS} newsletters on {pages} pages")


@test
def message_page_shows_envelope_with_bcc_headers_and_body():
    b = admin()
    search(b, subject="Quarterly report")
    b.submit_and_wait(lambda: b.click("#results tr.result a.open"))
    m = S["sent"]["report"]
    check_eq(b.path, f"/message?id={m['id']}", "opened from the results")
    env = b.text("#envelope")
    for addr in ("alice@sender.example", "bob@dest.example", "carol@dest.example"):
        assert addr in env, f"{addr} not in the envelope: {env!r}"
    assert "Quarterly report Q3" in b.text("#headers"), b.text("#headers")
    assert "figures for the third quarter" in b.text("#body"), b.text("#body")
    atts = b.find("#attachments a")
    assert atts and "report.pdf" in atts[0].text, [a.text for a in atts]
    assert "/message/part?id=" in atts[0].get_attribute("href"), atts[0].get_attribute("href")
    check_eq(b.text("#hold-state").strip(), "not held", "hold state")
    shot(b, "message")


@test
def eml_download_is_the_original_bytes():
    b = admin()
    for key in ("report", "lunch"):
        m = S["sent"][key]
        b.get(f"/message?id={m['id']}")
        path = b.download(lambda: b.click("#download-eml"))
        with open(path, "rb") as f:
            got = f.read()
        g = archive_get(m["id"])
        if got != m["raw"]:
            raise AssertionError(f"{key}: downloaded {len(got)} bytes differ from the "
                                 f"{len(m['raw'])} sent: {got[:200]!r}")
        check_eq(got, g, f"{key}: download = postern-archive get")
    # the attachment link downloads the decoded part
    b.get(f"/message?id={S['sent']['report']['id']}")
    path = b.download(lambda: b.one("#attachments a").click())
    with open(path, "rb") as f:
        assert f.read().startswith(b"%PDF-1.4"), "report.pdf is not the decoded part"


def export(b, fmt, tick, **fields):
    """Search, tick every row (with the select-all box, /static/app.js)
    or none (the export then takes every result), export as fmt: the
    ids ticked and the downloaded file."""
    from selenium.webdriver.support.ui import Select
    from selenium.webdriver.common.by import By
    search(b, **fields)
    boxes = b.find("#export-form tr.result input[name=id]")
    assert boxes, "no id checkboxes in the export form"
    if tick:
        b.click("#select-all")
        unticked = [x.get_attribute("value") for x in boxes if not x.is_selected()]
        check_eq(unticked, [], "rows left unticked by select-all")
    ids = [x.get_attribute("value") for x in boxes if x.is_selected()]
    form = b.one("#export-form")
    Select(form.find_element(By.NAME, "format")).select_by_value(fmt)
    path = b.download(lambda: b.press_submit(form))
    return ids, path


@test
def export_a_page_of_ticked_rows_as_mbox():
    b = admin()
    ids, path = export(b, "mbox", True, subject="Newsletter")
    check_eq(len(ids), 50, "rows ticked (one page)")
    box = mailbox.mbox(path, create=False)
    got = sorted(m["Message-ID"] for m in box)
    box.close()
    want = sorted(message_id(m["raw"]) for m in S["sent"].values() if m["id"] in ids)
    check_eq(got, want, "Message-IDs in the mbox")
    with open(S["web"].config["access_trail"]) as f:
        assert "export" in f.read(), "no export in the access trail"


@test
def export_every_result_of_a_search_as_zip():
    b = admin()
    ids, path = export(b, "zip", False, **{"from": "alice@sender.example"})
    check_eq(ids, [], "rows ticked")
    want = sorted(S["sent"][k]["id"] for k in ("report", "contract", "csrf-target"))
    with zipfile.ZipFile(path) as z:
        check_eq(sorted(z.namelist()), [f"{i}.eml" for i in want], "zip entries")
        for i in want:
            check_eq(z.read(f"{i}.eml"), archive_get(i), f"{i}.eml = postern-archive get")


# ---- holds ---------------------------------------------------------------------

def hold_submit(b, action, reason="litigation 17"):
    """Use the hold form as a user would: the reason, then the button (or
    the field) for action."""
    from selenium.webdriver.common.by import By
    form = b.one("#hold-form")
    for el in form.find_elements(By.NAME, "reason"):
        if el.is_displayed():
            el.clear()
            el.send_keys(reason)
    buttons = [x for x in form.find_elements(By.CSS_SELECTOR, "[name=action]")
               if x.get_attribute("value") == action and
               x.tag_name in ("button", "input") and
               (x.get_attribute("type") or "").lower() in ("submit", "")]
    if buttons:
        b.submit_and_wait(buttons[0].click)
        return
    fields = form.find_elements(By.NAME, "action")
    if fields and fields[0].tag_name == "select":
        from selenium.webdriver.support.ui import Select
        Select(fields[0]).select_by_value(action)
    elif fields:
        b.driver.execute_script("arguments[0].value = arguments[1]", fields[0], action)
    b.submit_and_wait(form.submit)


@test
def admin_places_and_lifts_a_hold():
    b = admin()
    m = S["sent"]["contract"]
    b.get(f"/message?id={m['id']}")
    check_eq(b.text("#hold-state").strip(), "not held", "before")
    hold_submit(b, "add", "litigation 17: Contract")
    b.get(f"/message?id={m['id']}")
    check_eq(b.text("#hold-state").strip(), "held", "after add")
    assert m["id"] in held_ids(), "postern-archive search --held does not list it"
    shot(b, "message-held")
    search(b, **{"from": "alice@sender.example"})
    assert b.find("#results tr.result .held"), "no held mark in the results"
    shot(b, "results-held")
    ids = search(b, held="1") if b.find("#search-form [name=held]") else None
    if ids is not None:
        assert m["id"] in ids, f"held=1 search: {ids}"
    b.get(f"/message?id={m['id']}")
    hold_submit(b, "remove")
    b.get(f"/message?id={m['id']}")
    check_eq(b.text("#hold-state").strip(), "not held", "after remove")
    assert m["id"] not in held_ids(), "still held for postern-archive"


@test
def auditor_is_refused_a_hold():
    b = auditor()
    m = S["sent"]["contract"]
    b.get(f"/message?id={m['id']}")
    check_eq(b.text("#hold-state").strip(), "not held", "auditor sees the hold state")
    token = [x.get_attribute("value") for x in b.find("input[name=csrf]")]
    assert token, "no csrf field on the auditor's page"
    # the auditor's own session and token: only the role can refuse it
    b.mark()
    b.submit_and_wait(lambda: b.driver.execute_script(
        "var f = document.createElement('form'); f.method = 'POST'; f.action = '/hold';"
        "var v = {id: arguments[0], action: 'add', reason: 'auditor', csrf: arguments[1]};"
        "for (var k in v) { var i = document.createElement('input'); i.type = 'hidden';"
        "  i.name = k; i.value = v[k]; f.appendChild(i); }"
        "document.body.appendChild(f); f.submit();", m["id"], token[0]))
    check_eq(b.status_of("/hold"), 403, "status of the auditor's POST /hold")
    assert b.find("#error"), f"no id=error on the 403 page: {page_text(b)[:300]}"
    assert m["id"] not in held_ids(), "the auditor placed a hold"


# ---- audit and TLS ------------------------------------------------------------

@test
def audit_records_of_a_message_and_the_chain_verifies():
    b = admin()
    m = S["sent"]["lunch"]
    b.get(f"/message?id={m['id']}")
    b.submit_and_wait(lambda: b.click("#audit-link"))
    check_eq(b.path, f"/audit?id={m['id']}", "audit link")
    rows = b.find("#audit-records tr.record")
    assert rows, f"no audit records: {page_text(b)[:500]}"
    assert any(m["qid"] in r.text for r in rows) or m["qid"] in page_text(b), \
        f"queue id {m['qid']} not on the audit page"
    status = b.text("#chain-status")
    assert status.startswith("verified"), f"chain-status: {status!r}"
    shot(b, "audit")


@test
def tls_page_lists_the_partner_and_its_sessions():
    b = admin()
    b.get("/tls")
    assert "partner.example" in b.text("#partners"), b.text("#partners")
    b.get("/tls?domain=partner.example")
    sessions = b.text("#sessions")
    assert "TLSv1" in sessions, f"no TLS session for partner.example: {sessions!r}"
    assert b.one("#compliance").text.strip(), "empty compliance"
    shot(b, "tls")


# ---- hostile corpus ------------------------------------------------------------

def corpus_hosts():
    """Every host name the hostile messages mention."""
    hosts = set()
    for m in S["hostile"].values():
        for h in re.findall(rb"(?i)(?:https?:)?//([a-z0-9.-]+\.[a-z]{2,})", m["raw"]):
            hosts.add(h.decode().lower())
    return hosts


def alert_open(b):
    from selenium.common.exceptions import NoAlertPresentException
    try:
        a = b.driver.switch_to.alert
        text = a.text
        a.dismiss()
        return text
    except NoAlertPresentException:
        return None


def printable(text):
    """text without what a page cannot show alike (control characters,
    U+FFFD), white space runs made one space."""
    text = "".join(ch if ch.isprintable() and ch != "\ufffd" else " " for ch in text)
    return " ".join(text.split())


def visible_subject(row):
    return printable(row.get("subject") or "")[:40].strip()


def check_no_script(b, what, findings):
    a = alert_open(b)
    if a is not None:
        findings.append(f"{what}: an alert opened ({a!r})")
        return
    ran = b.script_ran()
    if ran:
        findings.append(f"{what}: script marks {ran}")
    pwned = [c["message"] for c in b.console() if "PWNED" in c["message"]
             and "Content Security Policy" not in c["message"]
             and "violates" not in c["message"]]
    if pwned:
        findings.append(f"{what}: console {pwned[:3]}")


def check_no_request_out(b, what, findings, top_level):
    out = b.requests_outside()
    sent = [r["url"] for r in out if not r["blocked"]]
    if sent:
        findings.append(f"{what}: requests to other origins {sent[:5]}")
    if top_level:
        # the console's own page shows mail as text: not even an attempt
        # (its sandboxed frame may try; chromium blocks that, checked above)
        tried = [r["url"] for r in out if r["top"]]
        if tried:
            findings.append(f"{what}: the page tried (blocked) {tried[:5]}")
    return len(out)


@test
def hostile_messages_run_no_script_and_load_nothing_from_outside():
    b = new_browser()
    assert b.login(AUDITOR, AUDITOR_PW)
    hosts = corpus_hosts()
    S["marker"].clear()
    findings, blocked, frames, views = [], 0, 0, 0
    for key, m in S["hostile"].items():
        b.mark()
        b.get(f"/message?id={m['id']}")
        if alert_open(b) is not None:
            findings.append(f"{key}: alert on the message page")
            continue
        b.one("#body")
        text = page_text(b)
        want = visible_subject(m["row"])
        norm = printable(text)
        if want and want not in norm:
            findings.append(f"{key}: subject {want!r} not shown")
        check_no_script(b, key, findings)
        check_no_request_out(b, key, findings, top_level=True)
        # the first HTML part is framed on the message page: a sandbox
        # without scripts (its blocked loads are in the log: counted above)
        for f in b.find("iframe"):
            frames += 1
            sb = f.get_dom_attribute("sandbox")
            if sb is None or "allow-" in sb:
                findings.append(f"{key}: message page iframe sandbox={sb!r}")
        blocked += len([r for r in b.requests_outside() if not r["top"]])
        if key == "marks-html":
            shot(b, "hostile-message")
        # each "View HTML": the part as a page of its own (CSP sandbox)
        links = [a.get_attribute("href") for a in b.find("a")
                 if "/message/html" in (a.get_attribute("href") or "")]
        for href in links:
            views += 1
            b.get(f"/message?id={m['id']}")
            b.mark()
            view = [a for a in b.find("a") if a.get_attribute("href") == href]
            b.submit_and_wait(view[0].click)
            alert = alert_open(b)
            if alert is not None:
                findings.append(f"{key} View HTML: alert {alert!r}")
                continue
            check_no_script(b, key + " View HTML", findings)
            blocked += check_no_request_out(b, key + " View HTML", findings, top_level=False)
            if key == "marks-html":
                shot(b, "hostile-html-view")
        # the CSP header on the part itself
        for href in links:
            path = urllib.parse.urlsplit(href)
            st, hdrs, _ = S["web"].request("GET", path.path + "?" + path.query, headers={
                "Cookie": f"postern_session={b.cookie()['value']}"})
            csp = hdrs.get("content-security-policy", "")
            if st != 200 or "sandbox" not in csp or "default-src 'none'" not in csp:
                findings.append(f"{key} {href}: status {st}, CSP {csp!r}")
    hits = S["marker"].hits(hosts)
    if hits:
        findings.append(f"connections reached the marker for {[h['host'] for h in hits]}")
    print(f"# {len(S['hostile'])} hostile messages, {frames} sandboxed frames, {views} "
          "View HTML pages; "
          f"{blocked} outside loads tried and blocked by chromium; "
          f"CSP reports seen: {len([c for c in b.console(since_mark=False) if 'Content Security Policy' in c['message']])}")
    assert S["hostile"], "no hostile message was archived"
    check_eq(findings, [], "hostile corpus")


# ---- attacks -------------------------------------------------------------------

def attacker_page(target, mid, csrf=None):
    fields = (f'<input name="id" value="{mid}"><input name="action" value="add">'
              '<input name="reason" value="csrf attack">')
    if csrf:
        fields += f'<input name="csrf" value="{csrf}">'
    return (f'<!doctype html><title>prize</title><form id="f" method="POST" '
            f'action="{target}">{fields}</form>'
            '<script>document.getElementById("f").submit()</script>').encode()


@test
def csrf_from_another_origin_places_no_hold():
    b = admin()
    m = S["sent"]["csrf-target"]
    assert m["id"] not in held_ids()
    target = S["web"].url("/hold")
    site = Site({"/same-site": ("text/html", attacker_page(target, m["id"])),
                 "/guessed": ("text/html", attacker_page(target, m["id"], "0" * 64)),
                 "/cross-site": ("text/html", attacker_page(target, m["id"]))})
    S["attacker"] = site.start()
    statuses = {}
    for path, host in (("/same-site", "127.0.0.1"), ("/guessed", "127.0.0.1"),
                       ("/cross-site", "localhost")):
        b.mark()
        b.get(site.url(path, host))
        # the form posts itself; wait (bounded) until the browser left the page
        b.wait(lambda d: d.current_url.startswith(S["web"].origin),
               f"the attacker page {path} to submit")
        b.wait(lambda d: d.execute_script("return document.readyState") == "complete",
               "the answer")
        statuses[path] = b.status_of("/hold")
        assert m["id"] not in held_ids(), f"CSRF {path} placed a hold (status {statuses[path]})"
    print(f"# CSRF answers: {statuses}")
    for path, st in statuses.items():
        assert st is not None and st >= 400, f"{path}: POST /hold answered {st}"
    # the victim is still logged in and could have: the defence, not a dead session
    b.get(f"/message?id={m['id']}")
    check_eq(b.text("#hold-state").strip(), "not held", "hold state after the attacks")
    assert b.find("#hold-form"), "the admin has no hold form"


@test
def session_fixation_a_planted_session_id_is_replaced_at_login():
    b = new_browser()
    web = S["web"]
    # the attacker's own pre-login session id (if /login hands one out)
    _, hdrs, _ = web.request("GET", "/login")
    planted = None
    for c in hdrs.get("set-cookie", []):
        if c.startswith("postern_session="):
            planted = c.split("=", 1)[1].split(";", 1)[0]
    planted = planted or "f1xat10n" * 8
    b.get("/login")
    b.driver.delete_cookie("postern_session")
    b.driver.add_cookie({"name": "postern_session", "value": planted, "path": "/",
                         "httpOnly": True, "sameSite": "Strict"})
    assert b.login(ADMIN, ADMIN_PW), f"login failed at {b.path}"
    now = b.cookie()["value"]
    assert now != planted, "the session id after login is the planted one"
    st, hdrs, _ = web.request("GET", "/search", headers={"Cookie": f"postern_session={planted}"})
    loc = hdrs.get("location", "")
    assert (st in (302, 303) and loc.endswith("/login")) or \
        (st in (200, 401) and b"login-form" in _), \
        f"the planted id gives {st} {loc!r}"
    st, _, body = web.request("GET", "/search", headers={"Cookie": f"postern_session={now}"})
    check_eq(st, 200, "the new session works")


@test
def logout_ends_the_session():
    b = new_browser()
    assert b.login(AUDITOR, AUDITOR_PW)
    old = b.cookie()["value"]
    forms = b.find("form[action='/logout']")
    assert forms, "no logout form on the page"
    b.submit_and_wait(forms[0].submit)
    assert b.path.startswith("/login"), b.path
    st, hdrs, body = S["web"].request("GET", "/search",
                                      headers={"Cookie": f"postern_session={old}"})
    assert st in (302, 303) and hdrs.get("location", "").endswith("/login"), (st, hdrs)


@test
def usable_at_phone_width():
    b = new_browser(phone=True)
    assert b.login(AUDITOR, AUDITOR_PW)
    search(b, subject="Newsletter")
    shot(b, "phone-results")
    wide = {}
    for key, path in (("search", "/search?subject=Newsletter"),
                      ("message", f"/message?id={S['sent']['report']['id']}"),
                      ("long subject", f"/message?id={S['hostile']['long-subject']['id']}"
                       if "long-subject" in S["hostile"] else None)):
        if path is None:
            continue
        b.get(path)
        w = b.driver.execute_script(
            "return [document.documentElement.scrollWidth, window.innerWidth]")
        if w[0] > w[1] + 2:
            wide[key] = w
        if key == "message":
            shot(b, "phone-message")
    check_eq(wide, {}, "pages wider than the phone (scrollWidth, innerWidth)")


@test
def every_view_was_recorded_and_the_access_trail_verifies():
    if S["why_no_browser"]:
        skip(S["why_no_browser"])     # nothing was viewed
    path = S["web"].config["access_trail"]
    with open(path) as f:
        lines = [json.loads(x) for x in f if x.strip()]
    assert lines, "empty access trail"
    text = json.dumps(lines)
    for who in (ADMIN, AUDITOR):
        assert who in text, f"{who} not in the access trail"
    assert S["sent"]["report"]["id"] in text, "the report's views not recorded"
    r = subprocess.run(S["st"].daemons["audit"].command("verify", path),
                       capture_output=True, text=True, timeout=120)
    check_eq(r.returncode, 0, f"postern-audit verify {path}: {r.stdout}{r.stderr}")
    with open(os.path.join(S["st"].base, "archive-access.log")) as f:
        log = f.read()
    assert ADMIN in log, f"the admin's reads are not in the archive's access_log: {log[-500:]}"


@test
def screenshots_saved():
    if S["why_no_browser"]:
        skip(S["why_no_browser"])
    got = sorted(os.listdir(SHOTS))
    for name in ("login.png", "results.png", "message.png", "audit.png",
                 "hostile-message.png", "phone-message.png"):
        assert name in got, f"{name} missing in {SHOTS}: {got}"
        assert os.path.getsize(os.path.join(SHOTS, name)) > 2000, name
    print(f"# screenshots in {SHOTS}: {' '.join(got)}")


if __name__ == "__main__":
    # run.sh's timeout sends SIGTERM: leave through teardown, so that no
    # chromium, chromedriver or Postfix outlives the file
    signal.signal(signal.SIGTERM, lambda *_: sys.exit("SIGTERM"))
    main(setup, teardown)
