#!/usr/bin/env python3
# SPDX-License-Identifier: BSD-2-Clause
"""End-to-end: what only postern-suite does, through a private Postfix.

postern-suite runs the four engines in one process behind one socket
(Postfix has one smtpd_milters entry). The scenarios every daemon has run
through the suite too (the e2e files are parametrised); this file checks
what the separate daemons cannot do:

1. Every engine sees the message as received: the sink gets sort's and
   tls's headers and sort's recipient, while the archive holds (and the
   audit record hashes) exactly the bytes Postfix handed the milter.
2. A TLS policy change applies to the next connection without SIGHUP: the
   list watches every engine's files.
3. A broken engine file on SIGHUP keeps every engine on its running
   configuration, and `postern-suite check` names the engine and the line.
4. A message refused at end of data by sort (Sieve reject) never reaches
   the archive, and the audit engine, after it, still hears of it.
"""
import hashlib
import os
import signal
import subprocess
import sys
import uuid

TOP = os.environ.get("POSTERN_TOP") or os.path.abspath(
    os.path.join(os.path.dirname(__file__), "..", ".."))
sys.path.insert(0, os.path.join(TOP, "tests", "lib"))

from tap import test, main, check_eq  # noqa: E402
from daemon import binary  # noqa: E402
from smtp import build_message, send  # noqa: E402
from poll import wait_for  # noqa: E402
from stack import Stack, POLICY  # noqa: E402

S = {}
RCPT = "bob@shop.example"


def setup():
    S["st"] = Stack(suite=True).start()


def teardown():
    if "st" in S:
        S["st"].stop()


def send_one(sender, msg, rcpts=(RCPT,)):
    return send("127.0.0.1", S["st"].pf.port, sender, list(rcpts), msg, timeout=60)


@test
def every_engine_sees_the_message_as_received():
    st = S["st"]
    sender = "alice@example.org"
    msgid = f"<asreceived-{uuid.uuid4().hex[:8]}@example.org>"
    msg = build_message(sender, [RCPT], subject="your invoice", message_id=msgid,
                        body="Please pay.\n")
    r = send_one(sender, msg)
    assert r.ok, r
    got = wait_for(lambda: [m for m in st.sink.messages() if m.msg["Message-ID"] == msgid],
                   30, "the message at the sink")[0]
    # what the engines changed reached the delivery ...
    assert got.msg["X-Sorted-By"] == "postern-sort", got.msg.items()
    assert got.msg["X-Postern-TLS"], got.msg.items()
    check_eq(got.rcpts, ["bob+Invoices@shop.example"], "recipient after fileinto")
    # ... and nothing of it reached the archive: the original, byte for byte
    d = wait_for(lambda: st.archive_deliveries("--message-id", msgid), 10, "the archive")
    check_eq(len(d), 1, "deliveries archived")
    g = subprocess.run([binary("postern-archive"), "-c", st.daemons["archive"].conf, "get",
                        d[0]["id"]], capture_output=True, timeout=60)
    check_eq(g.returncode, 0, g.stderr)
    assert b"X-Sorted-By" not in g.stdout and b"X-Postern-TLS" not in g.stdout, g.stdout
    assert b"Subject: your invoice" in g.stdout
    check_eq(hashlib.sha256(g.stdout).hexdigest(), d[0]["sha256"], "object hash")
    check_eq(d[0]["recipients"], [RCPT], "archived envelope")
    recs = [x for x in st.audit_records() if x.get("queue_id") == r.queue_id
            and x["event"] == "message"]
    check_eq(len(recs), 1, "audit message records")
    check_eq(recs[0]["sha256"], d[0]["sha256"], "audit hash = archive hash")


@test
def a_policy_change_applies_to_the_next_connection_without_sighup():
    st = S["st"]
    sender = "billing@newpartner.example"
    msg = build_message(sender, [RCPT], subject="plain text")
    r = send_one(sender, msg)
    assert r.ok, f"before the change: {r}"
    policy = os.path.join(st.base, "tls_policy")
    with open(policy, "w") as f:
        f.write(POLICY + "newpartner.example min_version=TLSv1.2 action=reject\n")
    try:
        r = send_one(sender, msg)
        check_eq((r.stage, r.code), ("mail", 550), f"after the change: {r}")
        assert "5.7.10" in r.text, r
    finally:
        with open(policy, "w") as f:
            f.write(POLICY)
    check_eq(st.crashes(), {}, "worker crashes")


@test
def a_broken_engine_file_keeps_every_engine_running():
    st = S["st"]
    suite = st.daemons["archive"]      # in suite mode: the one postern-suite process
    conf = suite.conf                  # the archive engine's own file
    with open(conf) as f:
        good = f.read()
    with open(conf, "a") as f:
        f.write("compression_level = 99\n")
    try:
        c = subprocess.run([binary("postern-suite"), "-c", suite.serve_conf, "check"],
                           capture_output=True, text=True, timeout=60)
        check_eq(c.returncode, 78, c.stderr)
        assert "engine archive" in c.stderr and "compression_level" in c.stderr, c.stderr
        mark = suite.log().count("compression_level")
        suite.proc.send_signal(signal.SIGHUP)     # not reload(): it rewrites the file
        wait_for(lambda: suite.log().count("compression_level") > mark, 10,
                 "the reload error in the log")
        sender = "stillup@example.org"
        msgid = f"<stillup-{uuid.uuid4().hex[:8]}@example.org>"
        r = send_one(sender, build_message(sender, [RCPT], subject="after a bad reload",
                                           message_id=msgid))
        assert r.ok, r
    finally:
        with open(conf, "w") as f:
            f.write(good)
    # archived by the running archive engine (the tool reads the good file)
    wait_for(lambda: st.archive_deliveries("--message-id", msgid), 10, "the archive")
    check_eq(st.crashes(), {}, "worker crashes")


@test
def a_sieve_reject_is_not_archived():
    st = S["st"]
    sender = "spammer@example.net"
    msgid = f"<pills-{uuid.uuid4().hex[:8]}@example.net>"
    r = send_one(sender, build_message(sender, [RCPT], subject="cheap pills",
                                       message_id=msgid))
    check_eq((r.stage, r.code), ("dot", 550), f"reply: {r}")
    assert "spam" in r.text, r
    check_eq(st.archive_deliveries("--message-id", msgid), [], "archived")
    rc, out = st.verify_archive()
    check_eq(rc, 0, out)
    rc, out = st.verify_audit()
    check_eq(rc, 0, out)


if __name__ == "__main__":
    main(setup, teardown)
