#!/usr/bin/env python3
# SPDX-License-Identifier: BSD-2-Clause
"""End-to-end: what a recipient sees of postern-sort's rewrites, through a
private MTA on 127.0.0.1 with postern-tls and postern-sort attached
(read at the sink, as the mailbox would get it).

Issue 13: with fileinto_method = subaddress the recipient alice@ becomes
alice+Folder@, and the delivered copy should still say which address the
mail came to: X-Postern-Original-To names it, but only when that tells no
reader anything new (one envelope recipient, already named in To or Cc, no
redirect): a Bcc recipient or one of several recipients is never named
(issue 12's rule: the header section is every recipient's).

And Postern's headers (postern-tls's trace header, a Sieve addheader,
postern-sort's own fields) sit below the MTA's Received: line, where a
reader of the trace expects what was added at this hop: neither Postfix
nor Sendmail shows its own Received: to milters, yet both count it when a
milter inserts a header at position 0.

Every scenario runs against both MTAs (tests/lib/mta.py), with the two
daemons and with their two engines in one postern-suite.
"""
import os
import sys

TOP = os.environ.get("POSTERN_TOP") or os.path.abspath(
    os.path.join(os.path.dirname(__file__), "..", ".."))
sys.path.insert(0, os.path.join(TOP, "tests", "lib"))

from tap import test, main, check_eq  # noqa: E402
from daemon import Daemon, suite_mode, suite_process  # noqa: E402
from mta import mta_params, private_mta, stop_all  # noqa: E402
from sink import Sink  # noqa: E402
from smtp import build_message, send  # noqa: E402

S = {}
SENDER = "pat@sender.example"
LOCAL = "dest.example"
SCRIPT = """require ["fileinto", "editheader", "copy"];
addheader "X-Sorted" "yes";
if header :contains "subject" "file me" { fileinto "Filed"; }
if header :contains "subject" "and copy" { redirect :copy "copy@elsewhere.example"; }
"""


def setup(kind):
    S.clear()
    mta = private_mta(kind)
    S["mta"] = mta
    S["kind"] = mta.kind
    S["sink"] = Sink(os.path.join(mta.base, "sink")).start()
    mta.relay_port = S["sink"].port
    # in suite mode one postern-suite serves both engines
    suite = suite_process(mta.daemon_base("suite"), mta.socket_dir("suite")) \
        if suite_mode(kind) else None
    tls_base = mta.daemon_base("tls")
    policy = os.path.join(tls_base, "tls_policy")
    with open(policy, "w", encoding="utf-8") as f:
        f.write("partner.example min_version=TLSv1.2\n")
    S["tls"] = Daemon("postern-tls", base=tls_base, socket_dir=mta.socket_dir("tls"),
                      config={"policy_file": policy,
                              "trace_header": "X-Postern-TLS"}, process=suite)
    sort_base = mta.daemon_base("sort")
    script = os.path.join(sort_base, "global.sieve")
    with open(script, "w", encoding="utf-8") as f:
        f.write(SCRIPT)
    S["sort"] = Daemon("postern-sort", base=sort_base, socket_dir=mta.socket_dir("sort"),
                       config={"script": script, "tmp_dir": sort_base,
                               "log_level": "info"}, process=suite)
    S["tls"].start()
    S["sort"].start()      # in suite mode: already started with tls
    mta.milters = list(dict.fromkeys([S["tls"].spec, S["sort"].spec]))
    mta.start()


def teardown(kind=None):
    stop_all(S.get("mta"), S.get("sink"), [S[k] for k in ("tls", "sort") if k in S])


def deliver(rcpts, subject, to, headers=(), expect=1):
    sink = S["sink"]
    before = sink.count()
    msg = build_message(SENDER, to, subject=subject, headers=headers)
    r = send("127.0.0.1", S["mta"].port, SENDER, rcpts, msg)
    assert r.ok, r
    return sink.wait_for(before + expect, timeout=30)[before:]


def original_to(m):
    return [v.strip() for v in m.headers("X-Postern-Original-To")]


@test
def a_single_recipient_filed_into_a_folder_keeps_its_address_visible():
    got = deliver([f"alice@{LOCAL}"], "file me", to=[f"alice@{LOCAL}"])
    check_eq(got[0].rcpts, [f"alice+Filed@{LOCAL}"], "recipient at the sink")
    check_eq(original_to(got[0]), [f"<alice@{LOCAL}>"], "X-Postern-Original-To")


@test
def a_bcc_recipient_is_not_named():
    got = deliver([f"alice@{LOCAL}"], "file me", to=["team@elsewhere.example"])
    check_eq(got[0].rcpts, [f"alice+Filed@{LOCAL}"], "recipient at the sink")
    check_eq(original_to(got[0]), [], "X-Postern-Original-To")
    named = [n for n, v in got[0].headers() if "alice" in v and n.lower() != "received"]
    check_eq(named, [], "fields naming the Bcc recipient")


@test
def of_two_recipients_neither_is_named():
    got = deliver([f"alice@{LOCAL}", f"bob@{LOCAL}"], "file me",
                  to=[f"alice@{LOCAL}", f"bob@{LOCAL}"])
    check_eq(sorted(r for m in got for r in m.rcpts),
             [f"alice+Filed@{LOCAL}", f"bob+Filed@{LOCAL}"], "recipients at the sink")
    for m in got:
        check_eq(original_to(m), [], "X-Postern-Original-To")


@test
def a_redirect_target_is_not_told_the_original_recipient():
    got = deliver([f"alice@{LOCAL}"], "file me and copy", to=[f"alice@{LOCAL}"])
    if len(got[0].rcpts) < 2:	# the MTA delivered the two separately
        got = S["sink"].wait_for(S["sink"].count() + 1, timeout=30)[-2:]
    check_eq(sorted(r for m in got for r in m.rcpts),
             [f"alice+Filed@{LOCAL}", "copy@elsewhere.example"], "recipients at the sink")
    for m in got:
        check_eq(original_to(m), [], "X-Postern-Original-To")


@test
def a_forged_original_recipient_header_never_reaches_the_mailbox():
    got = deliver([f"alice@{LOCAL}"], "hello", to=[f"alice@{LOCAL}"],
                  headers=[("X-Postern-Original-To", "<ceo@dest.example>")])
    check_eq(original_to(got[0]), [], "X-Postern-Original-To")


@test
def posterns_headers_are_below_the_mtas_received_line():
    got = deliver([f"alice@{LOCAL}"], "file me", to=[f"alice@{LOCAL}"])
    names = [n.lower() for n, v in got[0].headers()]
    check_eq(names[0], "received", f"first field (fields: {names})")
    ours = ["x-postern-tls", "x-sorted", "x-postern-original-to"]
    for name in ours:
        assert name in names, f"{name} missing: {names}"
        assert names.index(name) > names.index("received"), \
            f"{name} above Postfix's Received: {names}"
    # the Received: line at the top is the MTA's own, for this hop
    first = got[0].headers("Received")[0]
    assert "127.0.0.1" in first, first
    if S["kind"] == "postfix":
        assert "Postfix" in first, first


if __name__ == "__main__":
    main(setup, teardown, params=mta_params())
