#!/usr/bin/env python3
# SPDX-License-Identifier: BSD-2-Clause
"""End-to-end: `postern-audit why` with the four separate daemons in front
of a private Postfix (tests/lib/stack.py).

An administrator asks "what happened to this message?" with the queue id
Postfix logged, or with the Message-ID a user quoted, and reads one story:
the session (client, HELO, TLS), the envelope, the audit seq, and whether
the trail's chain verifies up to that record (with the HMAC key, as
verify). With separate daemons postern-audit sees no other engine's notes
(no notes reach it across milter hops) and says so; an id the trail does
not know exits 1, like grep; a trail edited before the record still shows
the story but says the chain does NOT verify.
"""
import json
import os
import sys
import time

TOP = os.environ.get("POSTERN_TOP") or os.path.abspath(
    os.path.join(os.path.dirname(__file__), "..", ".."))
sys.path.insert(0, os.path.join(TOP, "tests", "lib"))
sys.path.insert(0, os.path.join(TOP, "tests", "milter"))

from tap import test, main, check_eq  # noqa: E402
from smtp import build_message, send  # noqa: E402
from stack import Stack  # noqa: E402
from audit_jsonschema import load_schema, validate_lines  # noqa: E402

S = {}
SENDER = "alice@sender.example"
RCPT = "bob@shop.example"


def setup():
    S["st"] = Stack().start()


def teardown():
    if "st" in S:
        S["st"].stop()


def deliver(subject, msgid, starttls=False):
    """One message through Postfix and the four daemons; its queue id."""
    st = S["st"]
    msg = build_message(SENDER, [RCPT], subject=subject, message_id=msgid)
    r = send("127.0.0.1", st.pf.port, SENDER, [RCPT], msg, starttls=starttls)
    assert r.ok and r.queue_id, r
    deadline = time.time() + 30
    while not [m for m in st.sink.messages() if m.msg["Message-ID"] == msgid]:
        assert time.time() < deadline, f"{msgid} never reached the sink"
        time.sleep(0.1)
    return r.queue_id


def why(*args):
    st = S["st"]
    return st.tool("audit", "why", "--key", st.key + ".initial", *args)


@test
def why_by_queue_id_tells_session_envelope_seq_and_verification():
    qid = deliver("invoice 42", "<why1@sender.example>", starttls=True)
    r = why(qid)
    check_eq(r.returncode, 0, f"exit status ({r.stderr})")
    out = r.stdout
    rec = [x for x in S["st"].audit_records() if x.get("queue_id") == qid]
    check_eq([x["event"] for x in rec], ["message"], "the trail's records of the message")
    seq = rec[0]["seq"]
    for want in (f"{qid}: 1 record", f"seq {seq} ", "session: client 127.0.0.1",
                 "helo client.postern.test", rec[0]["tls"]["version"],
                 f"from <{SENDER}> to <{RCPT}>", "message-id <why1@sender.example>",
                 "subject invoice 42", "engines: no notes (postern-audit ran on its own)",
                 f"chain: verifies (macs checked) up to seq {seq}: intact"):
        assert want in out, (want, out)


@test
def why_by_message_id_with_or_without_brackets_and_as_json():
    qid = deliver("hello", "<why2@sender.example>")
    for ident in ("<why2@sender.example>", "why2@sender.example"):
        r = why("--json", ident)
        check_eq(r.returncode, 0, f"exit status for {ident} ({r.stderr})")
        story = json.loads(r.stdout)
        check_eq((story["found"], story["queue_ids"]), (True, [qid]), "found, queue ids")
        recs = story["records"]
        validate_lines([json.dumps(x).encode() for x in recs], load_schema(), "why --json")
        check_eq([(x["event"], x["envelope"]["rcpt"]) for x in recs], [("message", [RCPT])],
                 "records")
        check_eq((story["verify"]["ok"], story["verify"]["macs_checked"],
                  story["verify"]["upto_seq"]), (True, True, recs[-1]["seq"]), "verify")


@test
def unknown_id_exits_1_like_grep():
    r = why("NOSUCHQID")
    check_eq((r.returncode, r.stdout.strip()), (1, "NOSUCHQID: no record in the trail"),
             "text")
    r = why("--json", "<nobody@nowhere.example>")
    check_eq((r.returncode, json.loads(r.stdout)), (1, {"id": "nobody@nowhere.example",
                                                        "found": False}), "json")
    r = S["st"].tool("audit", "why")
    check_eq(r.returncode, 64, "no id: usage (EX_USAGE)")


@test
def an_edited_trail_still_tells_the_story_but_does_not_verify():
    st = S["st"]
    qid = deliver("edited later", "<why3@sender.example>")
    copy = os.path.join(st.base, "edited.jsonl")
    with open(st.trail, "rb") as f:
        lines = f.read().splitlines(keepends=True)
    # an earlier record's recipient rewritten: its hash no longer chains
    for i, line in enumerate(lines):
        if b'"event":"message"' in line and qid.encode() not in line:
            lines[i] = line.replace(RCPT.encode(), b"eve@shop.example")
            break
    else:
        raise AssertionError("no earlier message record to edit")
    with open(copy, "wb") as f:
        f.writelines(lines)
    r = why(qid, copy)
    check_eq(r.returncode, 0, f"the story is found ({r.stderr})")
    assert f"from <{SENDER}> to <{RCPT}>" in r.stdout, r.stdout
    assert "chain: DOES NOT VERIFY" in r.stdout, r.stdout
    r = why("--json", qid, copy)
    check_eq(json.loads(r.stdout)["verify"]["ok"], False, "verify.ok")
    # the live trail is untouched and still verifies
    rc, out = st.verify_audit()
    check_eq(rc, 0, f"verify of the live trail: {out}")


if __name__ == "__main__":
    main(setup, teardown)
