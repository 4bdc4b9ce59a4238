#!/usr/bin/env python3
# SPDX-License-Identifier: BSD-2-Clause
"""End-to-end: the live outbound policy. postern-tls serves Postfix's
socketmap protocol (policy_socketmap); a sending private Postfix asks it
through smtp_tls_policy_maps = socketmap:unix:PATH:postfix and delivers
to partner MX servers that are private Postfix instances too
(tests/lib/partners.py): one without STARTTLS, one with TLS 1.2 only,
one with TLS 1.3 only, all relaying to the sink. Partner domains are
reached by name (transport_maps with an empty next hop, a private hosts
file), so Postfix asks the socketmap about the partner's domain exactly
as in production.

Checked as an administrator would: the sending Postfix's own log line
(status=deferred with its TLS reason, status=sent), the queue, what
arrived at the sink and with which TLS version the partner's MX logged
the session; and that a policy edit applies to the next delivery with no
postfix-map, no postmap and no reload of anything."""
import os
import re
import sys
import time

TOP = os.environ.get("POSTERN_TOP") or os.path.abspath(
    os.path.join(os.path.dirname(__file__), "..", ".."))
sys.path.insert(0, os.path.join(TOP, "tests", "lib"))

from tap import test, main, check_eq  # noqa: E402
from daemon import Daemon, suite_mode  # noqa: E402
from mta import stop_each  # noqa: E402
from partners import ReceivingPostfix, SendingPostfix  # noqa: E402
from sink import Sink  # noqa: E402
from smtp import build_message, send  # noqa: E402

S = {}
POLICY = """\
# outbound e2e policy
plain.example    outbound=encrypt
old.example      outbound=encrypt min_version=TLSv1.3
new.example      outbound=encrypt min_version=TLSv1.3
edit.example     min_version=TLSv1.2
"""


def write_policy(text):
    # rewritten in place, as an editor would save it
    with open(S["policy"], "w", encoding="utf-8") as f:
        f.write(text)


def setup(kind):
    S.clear()
    S["mx"] = []
    S["sink"] = Sink().start()
    for tls in ("none", "TLSv1.2", "TLSv1.3"):
        S["mx"].append(ReceivingPostfix(tls=tls, relay_port=S["sink"].port).start())
    plain, old, new = S["mx"]
    pf = SendingPostfix(relay_port=S["sink"].port)
    S["pf"] = pf
    base = pf.daemon_base("tls")
    S["policy"] = os.path.join(base, "tls_policy")
    write_policy(POLICY)
    sockdir = pf.socket_dir("tls")
    S["smap"] = os.path.join(sockdir, "tls-policy.sock")
    d = Daemon("postern-tls", base=base, socket_dir=sockdir, suite=suite_mode(kind), config={
        "policy_file": S["policy"],
        "policy_socketmap": "unix:" + S["smap"],
        "log_level": "debug",
    })
    S["d"] = d.start()
    # no milter here: only the outbound policy is under test
    pf.settings["smtp_tls_policy_maps"] = f"socketmap:unix:{S['smap']}:postfix"
    for domain, mx in (("plain.example", plain), ("old.example", old),
                       ("new.example", new), ("edit.example", old)):
        pf.route(domain, mx)
    pf.start()


def teardown():
    stop_each(S["pf"].shutdown if "pf" in S else None,
              *[mx.shutdown for mx in S.get("mx", [])],
              S["sink"].stop if "sink" in S else None, S["d"].stop if "d" in S else None)


def submit(rcpt, subject):
    """One message from a local user to rcpt through the sending Postfix;
    returns its queue id."""
    sender = "user@here.test"
    r = send("127.0.0.1", S["pf"].port, sender, [rcpt],
             build_message(sender, [rcpt], subject=subject))
    assert r.ok and r.queue_id, r
    return r.queue_id


def outcome(qid, since=0, timeout=40):
    """(status, reason) of qid's first delivery attempt in the sending
    Postfix's log."""
    m = S["pf"].wait_for_log(rf"{qid}: to=<[^>]*>, relay=.*status=(sent|deferred|bounced) "
                             r"\((.*)\)$", since=since, timeout=timeout)
    return m.group(1), m.group(2)


def at_sink(subject, timeout=30):
    """The sink's message with that subject, waiting for it."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for m in S["sink"].messages():
            if m.msg["Subject"] == subject:
                return m
        time.sleep(0.1)
    raise AssertionError(f"{subject!r} not at the sink")


@test
def the_socketmap_answers_postfix_itself():
    # Postfix's own client (postmap -q) against the daemon's socket: the
    # same value postern-tls postfix-map writes into the file
    pf = S["pf"]
    q = pf._cmd(["postmap", "-c", pf.config_dir, "-q", "old.example",
                 f"socketmap:unix:{S['smap']}:postfix"], check=False)
    check_eq((q.returncode, q.stdout.strip()), (0, "encrypt protocols=>=TLSv1.3"), "postmap -q")
    exported = S["d"].run("postfix-map").stdout
    assert re.search(r"^old\.example\s+encrypt protocols=>=TLSv1\.3$", exported, re.M), exported
    q = pf._cmd(["postmap", "-c", pf.config_dir, "-q", "edit.example",
                 f"socketmap:unix:{S['smap']}:postfix"], check=False)
    check_eq((q.returncode, q.stdout), (1, ""), "inbound-only line: not found")


@test
def no_starttls_at_the_partner_is_deferred_with_postfix_reason():
    qid = submit("b@plain.example", "to plain")
    status, reason = outcome(qid)
    check_eq(status, "deferred", "status")
    check_eq(reason, "TLS is required, but was not offered by host "
             "plain.example[127.0.0.1]", "Postfix's reason")
    q = S["pf"].queue()
    assert any(m["queue_id"] == qid for m in q), q
    assert not any(m.msg["Subject"] == "to plain" for m in S["sink"].messages())


@test
def tls_1_2_where_the_rule_needs_1_3_is_deferred():
    old = S["mx"][1]
    qid = submit("b@old.example", "to old")
    status, reason = outcome(qid)
    check_eq(status, "deferred", "status")
    assert reason.startswith("Cannot start TLS: handshake failure"), reason
    # the partner's MX offered TLS 1.2 and never completed a session
    check_eq(old.tls_sessions(), [], "TLS sessions at the TLS 1.2 MX")
    assert not any(m.msg["Subject"] == "to old" for m in S["sink"].messages())


@test
def compliant_partner_gets_the_mail_over_tls_1_3():
    new = S["mx"][2]
    qid = submit("b@new.example", "to new")
    status, _ = outcome(qid)
    check_eq(status, "sent", "status")
    m = at_sink("to new")
    check_eq(m.rcpts, ["b@new.example"], "recipients at the sink")
    versions = [v for v, _ in new.tls_sessions()]
    check_eq(versions, ["TLSv1.3"], "TLS at the partner's MX")
    S["pf"].wait_for_log(rf"(?:Untrusted|Anonymous) TLS connection established to new\.example\[127\.0\.0\.1\]"
                         r":\d+: TLSv1\.3")


@test
def a_policy_edit_applies_to_the_next_message_without_postmap():
    pf = S["pf"]
    # edit.example: inbound-only rule, so Postfix's default (may) applies
    # and the TLS 1.2 MX gets the mail
    qid = submit("b@edit.example", "edit before")
    check_eq(outcome(qid)[0], "sent", "before the edit")
    at_sink("edit before")
    # the administrator requires TLS 1.3 for edit.example: nothing else
    write_policy(POLICY.replace("edit.example     min_version=TLSv1.2",
                                "edit.example     outbound=encrypt min_version=TLSv1.3"))
    mark = pf.log_offset()
    qid = submit("b@edit.example", "edit after")
    status, reason = outcome(qid, since=mark)
    check_eq(status, "deferred", "the next message after the edit")
    assert reason.startswith("Cannot start TLS: handshake failure"), reason
    S["d"].wait_for_log("changed: reloading")
    # and back: relaxing old.example to TLS 1.2 lets the deferred mail go
    write_policy(POLICY.replace("old.example      outbound=encrypt min_version=TLSv1.3",
                                "old.example      outbound=encrypt min_version=TLSv1.2"))
    mark = pf.log_offset()
    pf.flush()
    m = pf.wait_for_log(r"(\w+): to=<b@old\.example>, relay=.*status=sent", since=mark,
                        timeout=40)
    assert m, "old.example delivered after the edit"
    at_sink("to old")


@test
def a_broken_policy_edit_keeps_the_running_policy():
    pf = S["pf"]
    write_policy("new.example outbound=encrypt min_version=TLSv1.5\n")
    mark = pf.log_offset()
    qid = submit("b@new.example", "after broken edit")
    check_eq(outcome(qid, since=mark)[0], "sent", "delivered under the running policy")
    S["d"].wait_for_log("TLSv1.5")
    write_policy(POLICY)


@test
def check_names_a_bad_socketmap_setting():
    import subprocess
    from daemon import binary
    conf = os.path.join(os.path.dirname(S["policy"]), "bad.conf")
    for line, want in (("policy_socketmap = inet:127.0.0.1:1234",
                        'parameter "policy_socketmap" = "inet:127.0.0.1:1234": want '
                        "unix:/ABSOLUTE/PATH"),
                       ("policy_socketmap_mode = 99x",
                        'parameter "policy_socketmap_mode" = "99x": not an octal mode')):
        with open(conf, "w") as f:
            f.write(f"policy_file = {S['policy']}\n{line}\n")
        r = subprocess.run([binary("postern-tls"), "-c", conf, "check"], capture_output=True,
                           text=True, timeout=30)
        check_eq(r.returncode, 78, f"check exit status for {line}")
        assert f"{conf}: {want}" in r.stderr, r.stderr


@test
def a_stop_removes_the_socketmap_socket_and_a_start_makes_it_again():
    S["d"].stop()
    assert not os.path.exists(S["smap"]), "a clean stop left the socketmap socket behind"
    S["d"].start()
    for _ in range(200):            # bounded: the worker makes it once it serves
        if os.path.exists(S["smap"]):
            break
        time.sleep(0.05)
    qid = submit("someone@new.example", "after restart")
    check_eq(outcome(qid)[0], "sent", "answered again after the restart")


if __name__ == "__main__":
    main(setup, teardown, params=("postfix", "postfix+suite"))
