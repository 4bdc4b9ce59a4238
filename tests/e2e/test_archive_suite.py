#!/usr/bin/env python3
# SPDX-License-Identifier: BSD-2-Clause
"""End-to-end: no phantom deliveries through postern-suite and Postfix.

The four engines run in one postern-suite process, configured as
tests/lib/stack.py configures the four daemons (Stack(suite=True)). The audit trail is made immutable (chattr +i), so
the audit engine, after the archive engine, fails at end of message and
Postfix answers 451: the archive had stored the message, and must void
that delivery, so that after the client's retry (trail writable again)
the archive shows exactly one delivery of the message, the one Postfix
accepted, with the retry's queue id. With separate daemons, or an archive
engine that is not told the outcome, it would show two.

Also checked as an administrator would: the journal holds the void record
with the reply, `postern-archive verify` is clean (the voided delivery's
object is not reported as orphaned), and the audit record of the accepted
message carries the archive engine's notes (its delivery id and object).
"""
import json
import os
import subprocess
import sys
import uuid

TOP = os.environ.get("POSTERN_TOP") or os.path.abspath(
    os.path.join(os.path.dirname(__file__), "..", ".."))
sys.path.insert(0, os.path.join(TOP, "tests", "lib"))

from tap import test, main, check_eq, skip  # noqa: E402
from smtp import build_message, send  # noqa: E402
from poll import wait_for  # noqa: E402
from stack import Stack  # noqa: E402

S = {}
RCPT = "bob@shop.example"


def setup():
    S["st"] = Stack(suite=True).start()


def teardown():
    if "st" in S:
        S["st"].stop()


def chattr(flag, path):
    return subprocess.run(["chattr", flag, path], capture_output=True, text=True,
                          timeout=30).returncode == 0


def journal_lines():
    jdir = os.path.join(S["st"].archive_dir, "journal")
    out = []
    for name in sorted(os.listdir(jdir)):
        with open(os.path.join(jdir, name)) as f:
            out += [json.loads(x) for x in f if x.strip()]
    return out


@test
def a_message_tempfailed_after_archiving_is_archived_once():
    st = S["st"]
    # one message first: the trail exists, every engine opened its files
    warm = build_message("warm@sender.example", [RCPT], subject="warm-up")
    assert send("127.0.0.1", st.pf.port, "warm@sender.example", [RCPT], warm, timeout=60).ok
    wait_for(lambda: os.path.exists(st.trail) and os.path.getsize(st.trail) > 0, 30, "the trail")
    if not chattr("+i", st.trail):
        skip("chattr +i not supported here")
    sender = "twice@sender.example"
    msgid = f"<phantom-{uuid.uuid4().hex[:8]}@sender.example>"
    msg = build_message(sender, [RCPT], subject="archived once", message_id=msgid)
    try:
        r = send("127.0.0.1", st.pf.port, sender, [RCPT], msg, timeout=60)
        check_eq((r.stage, r.code), ("dot", 451), f"reply with an immutable trail: {r}")
    finally:
        assert chattr("-i", st.trail), "chattr -i failed"
    # the archive stored it before audit failed: the delivery is voided
    stored = [x for x in journal_lines() if x["type"] == "delivery"
              and x.get("message_id") == msgid]
    check_eq(len(stored), 1, "deliveries journaled by the refused attempt")
    voids = [x for x in journal_lines() if x["type"] == "void" and x["id"] == stored[0]["id"]]
    check_eq(len(voids), 1, "void records of the refused attempt")
    assert "451" in voids[0]["reason"] and "audit" in voids[0]["reason"], voids[0]
    check_eq(st.archive_deliveries("--message-id", msgid), [], "search after the refusal")
    # the client's retry is the one delivery the archive shows
    r = send("127.0.0.1", st.pf.port, sender, [RCPT], msg, timeout=60)
    assert r.ok and r.queue_id, r
    rows = st.archive_deliveries("--message-id", msgid)
    check_eq([x["queue_id"] for x in rows], [r.queue_id], "deliveries the archive shows")
    wait_for(lambda: [m for m in st.sink.messages() if m.msg["Message-ID"] == msgid],
             30, "the retry at the sink")
    rc, out = st.verify_archive()
    check_eq(rc, 0, f"postern-archive verify: {out}")
    # the audit record of the accepted message tells the archive's decision
    recs = [x for x in st.audit_records() if x.get("queue_id") == r.queue_id]
    check_eq([x["event"] for x in recs], ["message"], "audit records of the retry")
    notes = recs[0].get("engines", {}).get("archive", {})
    check_eq((notes.get("id"), notes.get("stored")), (rows[0]["id"], "dedup"),
             "archive notes in the audit record")
    check_eq(st.crashes(), {}, "worker crashes")


if __name__ == "__main__":
    main(setup, teardown)
