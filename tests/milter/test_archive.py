#!/usr/bin/env python3
# SPDX-License-Identifier: BSD-2-Clause
"""Milter-protocol tests of postern-archive, driven over its socket by
tests/lib/milter_client as an MTA would.

What an MTA and an administrator see: every accepted message is in the
archive byte for byte with its whole envelope (Bcc recipients included);
identical messages are stored once; a failure to archive answers 451 so the
message stays with the client; scope rules and the size limit; the tools
(search, get, stats, verify, hold, prune) on what the daemon wrote.
"""
import json
import os
import shutil
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "lib"))
from tap import test, main, check_eq  # noqa: E402
import milter_client as mc  # noqa: E402
from daemon import Daemon  # noqa: E402

BASE = tempfile.mkdtemp(prefix="postern-archive-milter-")
os.chmod(BASE, 0o755)
ARCHIVE = os.path.join(BASE, "archive")
D = Daemon("postern-archive", base=BASE, config={
    "archive_directory": ARCHIVE,
    "body_memory_limit": "4k",
    "tmp_dir": BASE,
    "internal_networks": "10.0.0.0/8",
    "access_log": os.path.join(BASE, "access.log"),
})
# a second daemon with narrow rules: scope and size
BASE2 = os.path.join(BASE, "narrow")
os.makedirs(BASE2)
D2 = Daemon("postern-archive", base=BASE2, config={
    "archive_directory": os.path.join(BASE2, "archive"),
    "tmp_dir": BASE2,
    "exclude_sender_domains": "noise.example",
    "direction": "inbound",
    "size_limit": "10k",
    "size_limit_action": "reject",
})

MSG = (b"From: Alice <alice@example.com>\r\n"
       b"To: Bob <bob@example.org>\r\n"
       b"Subject: =?UTF-8?Q?Gr=C3=BC=C3=9Fe?=\r\n"
       b"\tfolded on two lines  \r\n"
       b"X-Empty:\r\n"
       b"X-Tab:\tvalue after a tab\r\n"
       b"Message-ID: <m1@example.com>\r\n"
       b"\r\n"
       b"line one\r\n"
       b"\r\n"
       b".leading dot\r\n"
       b"no newline at the end")


def client(addr="192.0.2.10"):
    c = mc.MilterClient(D.spec if addr != "d2" else D2.spec)
    c.negotiate()
    macros = mc.postfix_macros(client_addr="192.0.2.10")
    c.connect("client.example", mc.SMFIA_INET, 40000, "192.0.2.10" if addr == "d2" else addr,
              macros=macros[mc.SMFIC_CONNECT])
    c.helo("client.example", macros=macros[mc.SMFIC_HELO])
    return c


def send(raw, sender="<alice@example.com>", rcpts=("<bob@example.org>",), queue_id="4AbCdEf",
         addr="192.0.2.10", macros=None, mail_args=()):
    c = client(addr)
    try:
        t = c.transaction(sender, list(rcpts), raw, queue_id=queue_id, macros=macros,
                          mail_args=mail_args)
    finally:
        c.quit()
    return t


def tool(*args, d=D):
    return d.run(*args)


def search(*args, d=D):
    r = tool("search", "--json", *args, d=d)
    if r.returncode not in (0, 1):
        raise AssertionError(f"search failed: {r.stderr}")
    return [json.loads(line) for line in r.stdout.splitlines()]


def get(key, d=D):
    r = subprocess.run(D.command("get", key) if d is D else d.command("get", key),
                       capture_output=True, timeout=60)
    return r


def setup():
    D.start()
    D2.start()


def teardown():
    try:
        D.stop()
    finally:
        D2.stop()
        if not os.environ.get("POSTERN_KEEP"):
            shutil.rmtree(BASE, ignore_errors=True)


@test
def archived_message_comes_back_byte_for_byte_with_its_whole_envelope():
    t = send(MSG, rcpts=["<bob@example.org>", "<hidden-bcc@example.net>"], queue_id="4QID01")
    check_eq(t.reply.action, "continue", "answer at end of message")
    rows = search("--message-id", "m1@example.com")
    check_eq(len(rows), 1, "deliveries")
    r = rows[0]
    check_eq(r["recipients"], ["bob@example.org", "hidden-bcc@example.net"], "recipients")
    check_eq((r["sender"], r["queue_id"], r["client_addr"], r["helo"]),
             ("alice@example.com", "4QID01", "192.0.2.10", "client.example"), "envelope")
    check_eq(r["subject"], "Grüße folded on two lines", "decoded subject")
    check_eq(r["size"], len(MSG), "size")
    check_eq(r["direction"], "inbound", "direction")
    g = get(r["id"])
    check_eq(g.returncode, 0, f"get exit status ({g.stderr!r})")
    check_eq(g.stdout, MSG, "message from get")
    g = get(r["sha256"])
    check_eq(g.stdout, MSG, "message from get by SHA-256")
    D.wait_for_log(f"4QID01: archive: id={r['id']} sha256={r['sha256']}")


@test
def every_read_is_logged_with_the_invoking_user():
    rows = search("--message-id", "m1@example.com")
    get("<m1@example.com>")
    with open(os.path.join(BASE, "access.log")) as f:
        log = f.read()
    assert f"get: read by user=root uid=0 id={rows[0]['id']} sha256={rows[0]['sha256']}" in log, log


@test
def identical_messages_are_stored_once_and_each_delivery_recorded():
    raw = MSG.replace(b"<m1@", b"<dup@")
    for i in range(3):
        t = send(raw, rcpts=[f"<r{i}@example.org>"], queue_id=f"4DUP0{i}")
        check_eq(t.reply.action, "continue", f"delivery {i}")
    rows = search("--message-id", "dup@example.com")
    check_eq(len(rows), 3, "deliveries")
    check_eq(len({r["sha256"] for r in rows}), 1, "objects")
    objects = [f for _, _, fs in os.walk(os.path.join(ARCHIVE, "objects"))
               for f in fs if f.startswith(rows[0]["sha256"])]
    check_eq(len(objects), 1, "object files")
    D.wait_for_log("4DUP02: archive:")
    assert " dedup from=<alice@example.com>" in D.log(), D.log()[-2000:]


@test
def large_body_is_spooled_and_archived_intact():
    body = b"".join(b"line %06d %s\r\n" % (i, b"z" * 90) for i in range(30000))
    raw = MSG.replace(b"<m1@", b"<big@") + b"\r\n" + body
    t = send(raw, queue_id="4BIG01")
    check_eq(t.reply.action, "continue", "answer")
    r = search("--message-id", "big@example.com")[0]
    check_eq(r["size"], len(raw), "size")
    assert r["stored_size"] < len(raw) // 10, r
    check_eq(get(r["id"]).stdout, raw, "message")


@test
def authenticated_or_internal_clients_are_outbound():
    send(MSG.replace(b"<m1@", b"<auth@"), queue_id="4AUTH1",
         macros={mc.SMFIC_MAIL: {"{auth_authen}": "alice", "{mail_addr}": "alice@example.com"}})
    send(MSG.replace(b"<m1@", b"<int@"), queue_id="4INT01", addr="10.1.2.3")
    check_eq(search("--message-id", "auth@example.com")[0]["direction"], "outbound", "auth")
    check_eq(search("--message-id", "auth@example.com")[0]["auth"], "alice", "auth login")
    check_eq(search("--message-id", "int@example.com")[0]["direction"], "outbound", "internal")


@test
def archive_failure_answers_tempfail_and_records_nothing():
    objects = os.path.join(ARCHIVE, "objects")
    os.rename(objects, objects + ".away")
    with open(objects, "w") as f:   # root ignores permissions: break it with a file
        f.write("not a directory")
    try:
        t = send(MSG.replace(b"<m1@", b"<fail@"), queue_id="4FAIL1")
    finally:
        os.unlink(objects)
        os.rename(objects + ".away", objects)
    check_eq(t.reply.action, "replycode", "answer")
    check_eq(t.reply.code, 451, "reply code")
    assert "4.3.0" in t.reply.text, t.reply
    check_eq(search("--message-id", "fail@example.com"), [], "deliveries")
    D.wait_for_log("4FAIL1: archive: cannot archive (answering tempfail)")
    # the client's retry goes through
    t = send(MSG.replace(b"<m1@", b"<fail@"), queue_id="4FAIL2")
    check_eq(t.reply.action, "continue", "retry")
    check_eq(len(search("--message-id", "fail@example.com")), 1, "deliveries after retry")


@test
def search_criteria_select_deliveries():
    cases = [
        (["--to", "hidden-bcc@"], 1),
        (["--from", "ALICE@example.com"], None),
        (["--subject", "grüße"], None),
        (["--text", "leading"], None),
        (["--larger", "1m"], 1),
        (["--since", "1d", "--message-id", "<m1@example.com>"], 1),
        (["--until", "2000-01-01"], 0),
        (["--message-id", "nonexistent@example.com"], 0),
    ]
    total = len(search())
    for args, want in cases:
        got = len(search(*args))
        check_eq(got, total if want is None else want, f"search {' '.join(args)}")


@test
def stats_and_verify_agree_with_what_was_archived():
    r = tool("stats", "--json")
    check_eq(r.returncode, 0, f"stats ({r.stderr})")
    st = json.loads(r.stdout)
    check_eq(st["deliveries"], len(search()), "deliveries")
    assert st["objects"] < st["deliveries"], st
    r = tool("verify")
    check_eq(r.returncode, 0, f"verify: {r.stdout}{r.stderr}")
    assert "no problems" in r.stdout, r.stdout


@test
def hold_keeps_deliveries_from_prune():
    r = tool("hold", "add", "--reason", "case 7", "--message-id", "dup@example.com")
    check_eq(r.returncode, 0, f"hold add: {r.stderr}")
    assert "3 deliveries put under hold" in r.stdout, r.stdout
    r = tool("hold", "list")
    check_eq(len(r.stdout.splitlines()), 3, "held deliveries listed")
    assert "[held: case 7]" in r.stdout, r.stdout
    # as of 20 years from now, with a 1-year retention
    D.write_config({"retention": "1y"})
    r = tool("prune", "--dry-run", "--as-of", "@%d" % (2**31 + 10**9))
    check_eq(r.returncode, 0, f"prune: {r.stderr}")
    held = {x["id"] for x in search("--message-id", "dup@example.com")}
    for i in held:
        assert i not in r.stdout, (i, r.stdout)
    total = len(search())
    assert f"prune: {total - 3} deliveries" in r.stdout, r.stdout
    r = tool("hold", "remove", "--message-id", "dup@example.com")
    assert "3 deliveries released" in r.stdout, r.stdout
    D.write_config({"retention": "0"})


@test
def out_of_scope_mail_passes_unarchived():
    t = send(MSG.replace(b"<m1@", b"<noise@"), sender="<alerts@noise.example>", addr="d2",
             queue_id="4NOIS1")
    check_eq(t.reply.action, "continue", "answer")
    D2.wait_for_log("4NOIS1: archive: not archived: out of scope (exclude_sender_domains)")
    t = send(MSG.replace(b"<m1@", b"<out@"), addr="d2", queue_id="4OUT01",
             macros={mc.SMFIC_MAIL: {"{auth_authen}": "bob"}})
    check_eq(t.reply.action, "continue", "answer")
    D2.wait_for_log("4OUT01: archive: not archived: out of scope (direction)")
    check_eq(search(d=D2), [], "archived by the narrow daemon")


@test
def messages_over_the_size_limit_are_refused():
    t = send(MSG, addr="d2", mail_args=["SIZE=50000"], queue_id="4SIZE1")
    check_eq((t.stage, t.reply.code), ("mail", 552), f"declared size ({t.reply})")
    big = MSG + b"\r\n" + b"x" * 20000 + b"\r\n"
    t = send(big, addr="d2", queue_id="4SIZE2")
    check_eq((t.stage, t.reply.code), ("eom", 552), f"actual size ({t.reply})")
    assert "5.3.4" in t.reply.text, t.reply
    t = send(MSG, addr="d2", queue_id="4SIZE3")
    check_eq(t.reply.action, "continue", "small message")
    check_eq(len(search(d=D2)), 1, "archived")


@test
def configuration_errors_name_the_parameter():
    bad = Daemon("postern-archive", base=os.path.join(BASE, "bad"), config={
        "archive_directory": os.path.join(BASE, "bad", "archive"),
        "retention": "ten years",
    })
    r = bad.run("check")
    assert r.returncode == 78 and "retention" in r.stderr, (r.returncode, r.stderr)
    bad.write_config({"retention": "0", "encryption_certificates": "/nonexistent.pem"})
    r = bad.run("check")
    assert r.returncode == 78 and "/nonexistent.pem" in r.stderr, (r.returncode, r.stderr)
    bad.write_config({"encryption_certificates": "", "archive_directory": "relative/dir"})
    r = bad.run("check")
    assert r.returncode == 78 and "archive_directory" in r.stderr, (r.returncode, r.stderr)


if __name__ == "__main__":
    main(setup, teardown)
