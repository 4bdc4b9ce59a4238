#!/usr/bin/env python3
# SPDX-License-Identifier: BSD-2-Clause
"""End-to-end: one story per message through postern-suite (the four
engines behind one socket) and a private Postfix.

The engines are configured exactly as tests/lib/stack.py configures the
four separate daemons (each engine reads its own daemon's file), but run
in one postern-suite process, so the audit engine hears what the others
decided. Checked as an administrator would:

- plaintext mail from the TLS partner (partner.example, TLS 1.2 required)
  is refused by the tls engine at MAIL FROM, and the trail holds a
  "refused" record with the sender, the reply, the engine and its reason
  (with separate daemons Postfix never tells postern-audit: no record);
- a Sieve reject at end of message gives a "refused" record with the
  recipient, the reply and sort's reason, and no "message" record;
- a delivered message's record carries every engine's notes (tls policy
  and verdict, sort's actions per recipient), and `postern-audit why
  QUEUEID` prints them with the session, the seq and a verified chain;
- every record matches the JSON Schema and maps to valid ECS/OCSF events
  with a failure outcome for the refused attempts.
"""
import json
import os
import subprocess
import sys
import time

TOP = os.environ.get("POSTERN_TOP") or os.path.abspath(
    os.path.join(os.path.dirname(__file__), "..", ".."))
sys.path.insert(0, os.path.join(TOP, "tests", "lib"))
sys.path.insert(0, os.path.join(TOP, "tests", "milter"))

from tap import test, main, check_eq  # noqa: E402
from daemon import binary  # noqa: E402
from smtp import build_message, send  # noqa: E402
from stack import Stack  # noqa: E402
from audit_jsonschema import load_schema, validate_lines  # noqa: E402
import audit_siem_check as siem  # noqa: E402

S = {}
PARTNER = "alice@partner.example"
RCPT = "bob@shop.example"


def setup():
    S["st"] = Stack(suite=True).start()


def teardown():
    if "st" in S:
        S["st"].stop()


def trail():
    st = S["st"]
    with open(st.trail, "rb") as f:
        recs = validate_lines(f.read().splitlines(), load_schema(), st.trail)
    return [r for r in recs if r["event"] not in ("trail-start", "key-change")]


def wait_at_sink(msgid):
    deadline = time.time() + 30
    while not [m for m in S["st"].sink.messages() if m.msg["Message-ID"] == msgid]:
        assert time.time() < deadline, f"{msgid} never reached the sink"
        time.sleep(0.1)


@test
def plaintext_from_the_partner_is_refused_at_mail_and_recorded_with_its_reason():
    st = S["st"]
    msg = build_message(PARTNER, [RCPT], subject="plain", message_id="<plain@partner.example>")
    r = send("127.0.0.1", st.pf.port, PARTNER, [RCPT], msg)
    check_eq((r.stage, r.code // 100), ("mail", 5), f"refused at MAIL: {r}")
    recs = [x for x in trail() if x.get("envelope", {}).get("from") == PARTNER]
    check_eq([x["event"] for x in recs], ["refused"], "records of the attempt (no aborted)")
    ref = recs[0]
    check_eq((ref["refusal"]["step"], ref["refusal"]["by"], ref["refusal"]["verdict"],
              ref["refusal"]["code"]), ("mail", "tls", "reject", str(r.code)), "refusal")
    assert ref["refusal"]["text"] in r.text, (ref["refusal"], r.text)
    assert "partner.example" in ref["refusal"]["reason"], ref["refusal"]
    check_eq(ref["engines"]["tls"]["policy"], "partner.example line 2", "tls policy note")
    check_eq(ref["engines"]["tls"]["verdict"], "reject", "tls verdict note")
    check_eq(ref["engines"]["tls"]["tls"], "no TLS", "TLS facts the decision saw")
    check_eq((ref["client"]["ip"], ref["client"]["helo"]), ("127.0.0.1", "client.postern.test"),
             "client")
    assert "tls" not in ref, ref


@test
def a_sieve_reject_is_a_refused_record_not_a_message():
    st = S["st"]
    msgid = "<pills@sender.example>"
    msg = build_message("spam@sender.example", [RCPT], subject="cheap pills", message_id=msgid)
    r = send("127.0.0.1", st.pf.port, "spam@sender.example", [RCPT], msg)
    check_eq((r.stage, r.code), ("dot", 550), f"refused at end of data: {r}")
    recs = [x for x in trail() if x.get("headers", {}).get("message_id") == msgid]
    check_eq([x["event"] for x in recs], ["refused"], "records of the message")
    ref = recs[0]
    check_eq((ref["refusal"]["step"], ref["refusal"]["by"], ref["refusal"]["code"]),
             ("eom", "sort", "550"), "refusal")
    check_eq(ref["refusal"]["reason"], "Message refused: it looks like spam.", "sort's reason")
    check_eq(ref["envelope"]["rcpt"], [RCPT], "recipient")
    check_eq(ref["engines"]["sort"]["verdict"], "reject", "sort verdict note")
    assert "reject" in ref["engines"]["sort"]["actions"], ref["engines"]
    assert ref.get("queue_id"), ref
    # why finds the refused attempt by its queue id
    w = st.tool("audit", "why", ref["queue_id"])
    check_eq(w.returncode, 0, f"why exit status ({w.stderr})")
    assert "refused at eom by sort: reject 550" in w.stdout, w.stdout
    assert "reason: Message refused: it looks like spam." in w.stdout, w.stdout


@test
def a_delivered_message_carries_every_engines_decision_and_why_tells_it():
    st = S["st"]
    msgid = "<invoice@partner.example>"
    msg = build_message(PARTNER, [RCPT], subject="invoice 7", message_id=msgid)
    r = send("127.0.0.1", st.pf.port, PARTNER, [RCPT], msg, starttls=True)
    assert r.ok and r.queue_id, r
    wait_at_sink(msgid)
    recs = [x for x in trail() if x.get("queue_id") == r.queue_id]
    check_eq([x["event"] for x in recs], ["message"], "records of the message")
    eng = recs[0]["engines"]
    check_eq((eng["tls"]["policy"], eng["tls"]["verdict"]), ("partner.example line 2", "pass"),
             "tls notes")
    assert eng["tls"]["tls"].startswith("TLSv1."), eng["tls"]
    assert eng["sort"]["actions"].startswith(f"{RCPT}: fileinto Invoices"), eng["sort"]
    check_eq(eng["sort"]["verdict"], "continue", "sort verdict")
    # the archive's decision: the delivery search finds, the object it hashed
    arc = st.archive_deliveries("--message-id", msgid)
    check_eq([(d["id"], d["sha256"]) for d in arc],
             [(eng["archive"]["id"], eng["archive"]["sha256"])], "archive notes")
    check_eq(eng["archive"]["sha256"], recs[0]["sha256"], "archived = audited bytes")
    # the suite's own why: the audit engine it runs, with the suite's file
    w = subprocess.run([binary("postern-suite"), "-c", st.daemons["audit"].serve_conf,
                        "why", "--key", st.key + ".initial", r.queue_id],
                       capture_output=True, text=True, timeout=60)
    check_eq(w.returncode, 0, f"why exit status ({w.stderr})")
    for want in (f"seq {recs[0]['seq']} ", "session: client 127.0.0.1", "tls: policy=partner."
                 "example line 2; verdict=pass;", f"sort: actions={RCPT}: fileinto Invoices",
                 f"chain: verifies (macs checked) up to seq {recs[0]['seq']}",
                 eng["archive"]["id"]):
        assert want in w.stdout, (want, w.stdout)
    rc, out = st.verify_audit()
    check_eq(rc, 0, f"verify: {out}")


@test
def refused_attempts_are_failures_in_ecs_and_ocsf():
    st = S["st"]
    ref = siem.reference()
    table = siem.fields_table(st.tool("audit", "fields").stdout)
    for fmt, check in (("ecs", siem.check_ecs), ("ocsf", siem.check_ocsf)):
        r = st.tool("audit", "export", "--format", fmt)
        check_eq(r.returncode, 0, f"export {fmt} ({r.stderr})")
        events = [json.loads(x) for x in r.stdout.splitlines()]
        if ref is not None:
            check_eq(sorted({p for e in events for p in check(e, table, ref)}), [],
                     f"{fmt} problems")
        if fmt == "ecs":
            refused = [e for e in events if e["event"]["action"] == "message-refused"]
            check_eq({e["event"]["outcome"] for e in refused}, {"failure"}, "ECS outcome")
            assert any("by tls" in e["event"]["reason"] for e in refused), refused
        else:
            refused = [e for e in events if "refusal" in e["unmapped"]]
            check_eq({(e["class_uid"], e["status_id"]) for e in refused}, {(4009, 2)},
                     "OCSF Email Activity, Failure")
        check_eq(len(refused), 2, f"{fmt}: the two refused attempts")
    # tail prints them as it prints every record
    for fmt in ("jsonl", "ecs", "ocsf", "cim"):
        r = st.tool("audit", "tail", "--format", fmt, "--from-seq", "1")
        check_eq(r.returncode, 0, f"tail --format {fmt} ({r.stderr})")
        want = (['"by":"tls"', '"by":"sort"'] if fmt == "jsonl"
                else ["refused at mail by tls: 550", "refused at eom by sort: 550"])
        check_eq([r.stdout.count(w) for w in want], [1, 1], f"tail --format {fmt}: refusals")
    r = st.tool("audit", "export", "--format", "cim")
    cim = [json.loads(x) for x in r.stdout.splitlines()]
    check_eq(sorted(e["postern_refused_by"] for e in cim if e.get("postern_refused_by")),
             ["sort", "tls"], "CIM postern_refused_by")
    check_eq({e["action"] for e in cim if e.get("postern_refused_by")}, {"blocked"}, "CIM")


if __name__ == "__main__":
    main(setup, teardown)
