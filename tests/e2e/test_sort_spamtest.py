#!/usr/bin/env python3
# SPDX-License-Identifier: BSD-2-Clause
"""End-to-end: the extensions that act on what came before, through a
private Postfix on 127.0.0.1 and the sink of tests/lib/sink.py.

- spamtest files a message by the score an earlier filter wrote
  (SpamAssassin's X-Spam-Status, "score=S required=R": the score over the
  maximum R), and a message no filter scanned is "0" (RFC 5235).
- duplicate (RFC 7352): the second delivery of one Message-ID to one
  recipient is a duplicate, also after the daemon restarted (the response
  store is a file); the same message to another recipient is not.
- imap4flags: the flags reach the delivery agent in X-Postern-Flags, a
  sender's own X-Postern-Flags never does, and one recipient's flags never
  reach another recipient of the same message."""
import os
import sys

TOP = os.environ.get("POSTERN_TOP") or os.path.abspath(
    os.path.join(os.path.dirname(__file__), "..", ".."))
sys.path.insert(0, os.path.join(TOP, "tests", "lib"))

from tap import test, main, check_eq  # noqa: E402
from daemon import Daemon  # noqa: E402
from mta import private_mta_and_sink, stop_all  # noqa: E402
from smtp import build_message  # noqa: E402
from sink import rcpts_of  # noqa: E402

S = {}
SENDER = "alice@sender.example"

SCRIPT = r"""require ["spamtest", "fileinto", "relational", "comparator-i;ascii-numeric",
          "duplicate", "imap4flags", "envelope"];
if header :contains "subject" "split" {
    if envelope :localpart "to" "bob" { addflag "\\Seen"; }
    stop;
}
if header :contains "subject" "dup" {
    if duplicate { fileinto "Dup"; }
    stop;
}
if header :contains "subject" "flag" { addflag "\\Flagged"; addflag "work"; stop; }
if spamtest :value "ge" :comparator "i;ascii-numeric" "8" { fileinto "Junk"; }
elsif spamtest :value "ge" :comparator "i;ascii-numeric" "4" { fileinto "Maybe"; }
elsif spamtest :value "eq" :comparator "i;ascii-numeric" "0" { fileinto "Unscanned"; }
"""

SA_SCORE = r"X-Spam-Status: [[:alpha:]]+, score=(-?[[:digit:]]+[.][[:digit:]]+)"
SA_MAX = (r"X-Spam-Status: [[:alpha:]]+, score=-?[[:digit:]]+[.][[:digit:]]+ "
          r"required=([[:digit:]]+[.][[:digit:]]+)")


def setup():
    S.clear()
    mta, S["sink"] = private_mta_and_sink("postfix")
    base = mta.daemon_base("sort")
    script = os.path.join(base, "global.sieve")
    with open(script, "w") as f:
        f.write(SCRIPT)
    S["store"] = os.path.join(base, "responses")
    d = Daemon("postern-sort", base=base, socket_dir=mta.socket_dir("sort"), config={
        "script": script,
        "tmp_dir": base,
        "response_store": S["store"],
        "spamtest_status_header": SA_SCORE,
        "spamtest_max_header": SA_MAX,
    })
    S["d"] = d.start()
    mta.milters = [d.spec]
    S["mta"] = mta.start()


def teardown():
    stop_all(S.get("mta"), S.get("sink"), [S[n] for n in ("d",) if n in S])


def deliver(rcpts, subject, headers=(), message_id=None):
    """Send and wait until delivered; the messages that reached the sink."""
    msg = build_message(SENDER, rcpts, subject=subject, headers=headers,
                        message_id=message_id)
    return S["mta"].deliver(S["sink"], SENDER, rcpts, msg)[1]



def spam_status(score, required="5.0"):
    return [("X-Spam-Status", "%s, score=%s required=%s tests=BAYES autolearn=no"
             % ("Yes" if float(score) >= float(required) else "No", score, required))]


@test
def a_high_score_files_into_junk():
    got = deliver(["bob@dest.example"], "offer", spam_status("7.6"))
    check_eq(rcpts_of(got), ["bob+Junk@dest.example"], "recipients at the sink")


@test
def a_middle_score_files_into_maybe():
    # 2.5 of 5.0 is half: spamtest 5 (ratio * 9 + 1)
    got = deliver(["bob@dest.example"], "offer", spam_status("2.5"))
    check_eq(rcpts_of(got), ["bob+Maybe@dest.example"], "recipients at the sink")


@test
def a_low_score_stays_in_the_inbox():
    got = deliver(["bob@dest.example"], "hello", spam_status("-1.2"))
    check_eq(rcpts_of(got), ["bob@dest.example"], "recipients at the sink")


@test
def a_message_no_filter_scanned_is_unscanned():
    got = deliver(["bob@dest.example"], "hello")
    check_eq(rcpts_of(got), ["bob+Unscanned@dest.example"], "recipients at the sink")


@test
def a_score_the_regex_does_not_read_is_unscanned_not_an_error():
    # a sender's own field: garbled score, huge required value
    got = deliver(["bob@dest.example"], "hello",
                  [("X-Spam-Status", "Yes, score=lots required=5.0"),
                   ("X-Spam-Status", "No, score=0.0 required=9" + "9" * 500 + ".0")])
    check_eq(rcpts_of(got), ["bob+Unscanned@dest.example"], "recipients at the sink")


@test
def duplicate_catches_the_second_delivery_per_recipient_and_after_a_restart():
    mid = "<dup-e2e-1@client.postern.test>"
    got = deliver(["bob@dest.example"], "dup test", message_id=mid)
    check_eq(rcpts_of(got), ["bob@dest.example"], "first delivery")
    got = deliver(["bob@dest.example"], "dup test", message_id=mid)
    check_eq(rcpts_of(got), ["bob+Dup@dest.example"], "second delivery")
    got = deliver(["carol@dest.example"], "dup test", message_id=mid)
    check_eq(rcpts_of(got), ["carol@dest.example"], "another recipient")
    S["d"].stop()
    S["d"] = S["d"].start()
    got = deliver(["bob@dest.example"], "dup test", message_id=mid)
    check_eq(rcpts_of(got), ["bob+Dup@dest.example"], "after a restart")
    assert os.path.getsize(S["store"]) > 16, "the store file holds the IDs"
    with open(S["store"], "rb") as f:
        data = f.read()
    assert b"dup-e2e-1" not in data and b"bob@dest.example" not in data, \
        "the store holds no ID or address in clear"


@test
def flags_reach_the_delivery_agent_and_a_forged_field_does_not():
    got = deliver(["bob@dest.example"], "flag me",
                  [("X-Postern-Flags", "\\Deleted")])
    check_eq(rcpts_of(got), ["bob@dest.example"], "recipients at the sink")
    check_eq([v.strip() for v in got[0].headers("X-Postern-Flags")],
             ["\\Flagged work"], "flags header")
    got = deliver(["bob@dest.example"], "hello", [("X-Postern-Flags", "\\Deleted")]
                  + spam_status("0.0"))
    check_eq(got[0].headers("X-Postern-Flags"), [], "a sender's flags field")


@test
def one_recipients_flags_never_reach_another():
    got = deliver(["bob@dest.example", "carol@dest.example"], "split flags")
    check_eq(rcpts_of(got), ["bob@dest.example", "carol@dest.example"], "recipients")
    check_eq([h for m in got for h in m.headers("X-Postern-Flags")], [],
             "flags headers at the sink")
    assert "different flags" in S["d"].log(), "the dropped flags are logged"


if __name__ == "__main__":
    main(setup, teardown)
