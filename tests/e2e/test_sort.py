#!/usr/bin/env python3
# SPDX-License-Identifier: BSD-2-Clause
"""End-to-end: postern-sort attached to a private Postfix and to a private
Sendmail on 127.0.0.1 (tests/lib/mta.py; Sendmail with the macro lists of
packaging/sendmail/postern.mc-snippet), mail sent over SMTP, results
checked at the sink (what a mail administrator would check): fileinto by
subaddress rewrites the recipient, redirect with and without :copy,
discard, reject with the script's text, header edits, a per-recipient
script that affects only its recipient, and log lines that carry the MTA's
queue id.

Every scenario runs against both MTAs; what they do differently is said
in tests/lib (how each logs a discard). The envelope test on the address
as the MTA gave it (a comment, a trailing dot, letter case) needs Postfix,
which drops the comment and the dot before the milter sees the address."""
import os
import sys

TOP = os.environ.get("POSTERN_TOP") or os.path.abspath(
    os.path.join(os.path.dirname(__file__), "..", ".."))
sys.path.insert(0, os.path.join(TOP, "tests", "lib"))

from tap import test, main, check_eq  # noqa: E402
from daemon import Daemon, suite_mode  # noqa: E402
from mta import mta_params, private_mta_and_sink, stop_all  # noqa: E402
from smtp import build_message, send  # noqa: E402
from sink import rcpts_of  # noqa: E402

S = {}
SENDER = "alice@sender.example"

GLOBAL = """require ["fileinto", "copy", "reject", "editheader"];
if header :contains "subject" "report" { fileinto "Reports"; }
if header :contains "subject" "forward" { redirect "boss@elsewhere.example"; }
if header :contains "subject" "copy me" { redirect :copy "archive@elsewhere.example"; }
if header :contains "subject" "spam" { discard; }
if header :contains "subject" "refuse" { reject "Sorting rules refuse this message."; }
if exists "x-internal" { deleteheader "x-internal"; addheader "X-Sorted" "by postern"; }
"""

ERIN = """require ["envelope", "fileinto", "variables"];
if envelope :domain :is :comparator "i;octet" "to" "dest.example" { fileinto "Lower"; }
elsif envelope :domain :matches "to" "*" { fileinto "${1}"; }
"""


def setup(kind):
    S.clear()
    mta, S["sink"] = private_mta_and_sink(kind)
    base = mta.daemon_base("sort")
    sieve = os.path.join(base, "sieve")
    os.makedirs(os.path.join(sieve, "dest.example"))
    with open(os.path.join(sieve, "global.sieve"), "w") as f:
        f.write(GLOBAL)
    with open(os.path.join(sieve, "dest.example", "carol.sieve"), "w") as f:
        f.write('require "fileinto";\nfileinto "Carol";\n')
    with open(os.path.join(sieve, "dest.example", "erin.sieve"), "w") as f:
        f.write(ERIN)
    d = Daemon("postern-sort", base=base, socket_dir=mta.socket_dir("sort"), suite=suite_mode(kind), config={
        "script": os.path.join(sieve, "global.sieve"),
        "user_scripts": os.path.join(sieve, "%d", "%u.sieve"),
        "tmp_dir": base,
    })
    S["d"] = d.start()
    mta.milters = [d.spec]
    S["mta"] = mta.start()


def teardown():
    stop_all(S.get("mta"), S.get("sink"), [S[n] for n in ("d",) if n in S])


def deliver(rcpts, subject, headers=()):
    """Send, wait until the MTA has delivered and its queue is empty
    again; return (queue id, messages that reached the sink)."""
    msg = build_message(SENDER, rcpts, subject=subject, headers=headers)
    return S["mta"].deliver(S["sink"], SENDER, rcpts, msg)



@test
def fileinto_by_subaddress_rewrites_the_recipient_at_the_sink():
    qid, got = deliver(["bob@dest.example"], "monthly report")
    check_eq(rcpts_of(got), ["bob+Reports@dest.example"], "recipients at the sink")


@test
def redirect_sends_the_message_elsewhere_only():
    qid, got = deliver(["bob@dest.example"], "please forward")
    check_eq(rcpts_of(got), ["boss@elsewhere.example"], "recipients at the sink")
    check_eq([v.strip() for v in got[0].headers("X-Postern-Redirected")],
             ["hops=1"], "trace header")


@test
def redirect_copy_keeps_the_original_recipient():
    qid, got = deliver(["bob@dest.example"], "copy me")
    check_eq(rcpts_of(got), ["archive@elsewhere.example", "bob@dest.example"],
             "recipients at the sink")


@test
def discard_accepts_and_delivers_nothing():
    mta, sink = S["mta"], S["sink"]
    before = sink.count()
    msg = build_message(SENDER, ["bob@dest.example"], subject="cheap spam")
    r = send("127.0.0.1", mta.port, SENDER, ["bob@dest.example"], msg)
    assert r.ok and r.queue_id, r	# the client is told it was accepted
    mta.wait_for_log(mta.discard_line(r.queue_id), timeout=15)
    deliver(["bob@dest.example"], "hello after discard")	# later mail still flows
    check_eq(sink.count(), before + 1, "messages at the sink")


@test
def reject_gives_the_scripts_text_to_the_smtp_client():
    mta = S["mta"]
    msg = build_message(SENDER, ["bob@dest.example"], subject="refuse me")
    r = send("127.0.0.1", mta.port, SENDER, ["bob@dest.example"], msg)
    assert not r.ok, r
    check_eq((r.stage, r.code), ("dot", 550), "reply to the final dot")
    # at end of message both MTAs pass the text as it is (no address)
    check_eq(r.text, "5.7.1 Sorting rules refuse this message.", "reply text")
    check_eq(mta.queue(), [], "the MTA's queue")


@test
def header_edits_are_visible_at_the_sink():
    qid, got = deliver(["bob@dest.example"], "internal note", headers=[("X-Internal", "secret")])
    m = got[0]
    check_eq(m.headers("X-Internal"), [], "deleted header")
    check_eq([v.strip() for v in m.headers("X-Sorted")], ["by postern"], "added header")
    check_eq(len(m.headers("Received")), 1, "the MTA's Received header untouched")
    raw = [x for x in m.data.split(b"\r\n") if x.startswith(b"X-Sorted:")]
    check_eq(raw, [b"X-Sorted: by postern"], "raw added header (one space)")


@test
def per_recipient_script_affects_only_its_recipient():
    qid, got = deliver(["bob@dest.example", "carol@dest.example"], "hello both")
    check_eq(rcpts_of(got), ["bob@dest.example", "carol+Carol@dest.example"],
             "recipients at the sink")


@test(only="postfix")
def envelope_test_sees_the_recipient_as_postfix_gave_it():
    # Postfix drops the comment (and routes without the trailing dot); the
    # per-recipient script is found under the canonical name, and the
    # envelope test compares the domain in the case the client wrote it
    qid, got = deliver(["erin(at work)@Dest.Example."], "hello erin")
    check_eq(rcpts_of(got), ["erin+Dest.Example@Dest.Example"], "recipients at the sink")


@test
def log_lines_start_with_the_mta_queue_id():
    qid, got = deliver(["dave@dest.example"], "weekly report")
    S["d"].wait_for_log(f"{qid}: sort: to=<dave@dest.example> script=")
    S["d"].wait_for_log('line=2: fileinto "Reports": recipient <dave+Reports@dest.example>')


if __name__ == "__main__":
    main(setup, teardown, params=mta_params())
