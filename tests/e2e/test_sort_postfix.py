#!/usr/bin/env python3
# SPDX-License-Identifier: BSD-2-Clause
"""End-to-end: postern-sort attached to a private Postfix on 127.0.0.1,
mail sent over SMTP, results checked at the sink (what a mail
administrator would check): fileinto by subaddress rewrites the recipient,
redirect with and without :copy, discard, reject with the script's text,
header edits, a per-recipient script that affects only its recipient, the
envelope test on the address as Postfix gave it (odd spelling, letter
case), and log lines that carry Postfix's queue id."""
import os
import sys
import time

TOP = os.environ.get("POSTERN_TOP") or os.path.abspath(
    os.path.join(os.path.dirname(__file__), "..", ".."))
sys.path.insert(0, os.path.join(TOP, "tests", "lib"))

from tap import test, main, check_eq  # noqa: E402
from daemon import Daemon  # noqa: E402
from postfix import PrivatePostfix  # noqa: E402
from sink import Sink  # noqa: E402
from smtp import build_message, send  # noqa: E402

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


def setup():
    pf = PrivatePostfix()
    S["sink"] = Sink(os.path.join(pf.base, "sink")).start()
    pf.relay_port = S["sink"].port
    base = os.path.join(pf.base, "sort")
    sieve = os.path.join(base, "sieve")
    os.makedirs(os.path.join(sieve, "dest.example"))
    os.chmod(pf.base, 0o755)
    with open(os.path.join(sieve, "global.sieve"), "w") as f:
        f.write(GLOBAL)
    with open(os.path.join(sieve, "dest.example", "carol.sieve"), "w") as f:
        f.write('require "fileinto";\nfileinto "Carol";\n')
    with open(os.path.join(sieve, "dest.example", "erin.sieve"), "w") as f:
        f.write(ERIN)
    d = Daemon("postern-sort", base=base, config={
        "script": os.path.join(sieve, "global.sieve"),
        "user_scripts": os.path.join(sieve, "%d", "%u.sieve"),
        "tmp_dir": base,
    })
    os.chmod(d.base, 0o755)
    S["d"] = d.start()
    pf.milters = [d.spec]
    pf.settings["milter_default_action"] = "tempfail"
    S["pf"] = pf.start()


def teardown():
    try:
        if "pf" in S:
            S["pf"].stop()
            S["pf"].cleanup()
    finally:
        if "sink" in S:
            S["sink"].stop()
        if "d" in S:
            S["d"].stop()


def deliver(rcpts, subject, headers=(), expect=1):
    """Send and return (Result, messages that reached the sink)."""
    pf, sink = S["pf"], S["sink"]
    before = sink.count()
    msg = build_message(SENDER, rcpts, subject=subject, headers=headers)
    r = send("127.0.0.1", pf.port, SENDER, rcpts, msg)
    assert r.ok, r
    got = sink.wait_for(before + expect, timeout=30)[before:]
    return r, got


def all_rcpts(messages):
    return sorted(r for m in messages for r in m.rcpts)


@test
def fileinto_by_subaddress_rewrites_the_recipient_at_the_sink():
    r, got = deliver(["bob@dest.example"], "monthly report")
    check_eq(all_rcpts(got), ["bob+Reports@dest.example"], "recipients at the sink")


@test
def redirect_sends_the_message_elsewhere_only():
    r, got = deliver(["bob@dest.example"], "please forward")
    check_eq(all_rcpts(got), ["boss@elsewhere.example"], "recipients at the sink")
    check_eq([v.strip() for v in got[0].headers("X-Postern-Redirected")],
             ["hops=1"], "trace header")


@test
def redirect_copy_keeps_the_original_recipient():
    r, got = deliver(["bob@dest.example"], "copy me")
    check_eq(all_rcpts(got), ["archive@elsewhere.example", "bob@dest.example"],
             "recipients at the sink")


@test
def discard_accepts_and_delivers_nothing():
    pf, sink = S["pf"], S["sink"]
    before = sink.count()
    msg = build_message(SENDER, ["bob@dest.example"], subject="cheap spam")
    r = send("127.0.0.1", pf.port, SENDER, ["bob@dest.example"], msg)
    assert r.ok, r	# the client is told it was accepted
    pf.wait_for_log(rf"{r.queue_id}: milter-discard", timeout=15)
    deliver(["bob@dest.example"], "hello after discard")	# later mail still flows
    check_eq(sink.count(), before + 1, "messages at the sink")


@test
def reject_gives_the_scripts_text_to_the_smtp_client():
    pf = S["pf"]
    msg = build_message(SENDER, ["bob@dest.example"], subject="refuse me")
    r = send("127.0.0.1", pf.port, SENDER, ["bob@dest.example"], msg)
    assert not r.ok, r
    check_eq(r.code, 550, "reply code")
    assert "5.7.1 Sorting rules refuse this message." in r.text, r.text


@test
def header_edits_are_visible_at_the_sink():
    r, got = deliver(["bob@dest.example"], "internal note", headers=[("X-Internal", "secret")])
    m = got[0]
    check_eq(m.headers("X-Internal"), [], "deleted header")
    check_eq([v.strip() for v in m.headers("X-Sorted")], ["by postern"], "added header")
    check_eq(len(m.headers("Received")), 1, "Postfix's Received header untouched")


@test
def per_recipient_script_affects_only_its_recipient():
    r, got = deliver(["bob@dest.example", "carol@dest.example"], "hello both")
    check_eq(all_rcpts(got), ["bob@dest.example", "carol+Carol@dest.example"],
             "recipients at the sink")


@test
def envelope_test_sees_the_recipient_as_postfix_gave_it():
    # Postfix drops the comment (and routes without the trailing dot); the
    # per-recipient script is found under the canonical name, and the
    # envelope test compares the domain in the case the client wrote it
    r, got = deliver(["erin(at work)@Dest.Example."], "hello erin")
    check_eq(all_rcpts(got), ["erin+Dest.Example@Dest.Example"], "recipients at the sink")


@test
def log_lines_start_with_the_postfix_queue_id():
    r, got = deliver(["dave@dest.example"], "weekly report")
    S["d"].wait_for_log(f"{r.queue_id}: sort: to=<dave@dest.example> script=")
    S["d"].wait_for_log('line=2: fileinto "Reports": recipient <dave+Reports@dest.example>')


if __name__ == "__main__":
    main(setup, teardown)
