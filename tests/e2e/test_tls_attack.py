#!/usr/bin/env python3
# SPDX-License-Identifier: BSD-2-Clause
"""End-to-end attack suite for postern-tls: a partner policy that requires
TLS, and an attacker over plain text who spells the partner's address in
every form Postfix accepts (comments, spaces, case, trailing dot, source
route, quoted local part, U-label and A-label, "%" and "!" routing,
subdomains), at MAIL FROM for inbound rules and at RCPT TO for outbound
rules. Every spelling must be refused with the policy's 5.7.10 reply, and
nothing may reach the sink. Also: a partner line added to the policy file
applies to the very next connection (finding 4 of issue 12).
Runs with postern-tls and with its engine in postern-suite."""
import os
import smtplib
import sys
import time
import uuid

TOP = os.environ.get("POSTERN_TOP") or os.path.abspath(
    os.path.join(os.path.dirname(__file__), "..", ".."))
sys.path.insert(0, os.path.join(TOP, "tests", "lib"))

from tap import test, main, check_eq  # noqa: E402
from daemon import Daemon, suite_mode  # noqa: E402
from mta import mta_of, mta_params, private_mta, stop_all  # noqa: E402
from sink import Sink  # noqa: E402

S = {}
# IDN keys are written once as a U-label and once as an A-label, so that
# each direction of the equivalence is tried.
POLICY = """\
# attack-suite policy
partner.example        min_version=TLSv1.2
.partner.example       min_version=TLSv1.2
bücher.example         min_version=TLSv1.2
xn--caf-dma.example    min_version=TLSv1.2
outpartner.example     direction=outbound
.xn--mller-kva.example direction=outbound
"""

# (what is tried, MAIL FROM argument as the attacker writes it)
MAIL_SPELLINGS = [
    ("plain", "<a@partner.example>"),
    ("upper-case domain", "<a@PARTNER.EXAMPLE>"),
    ("mixed case", "<A@Partner.Example>"),
    ("trailing dot", "<a@partner.example.>"),
    ("comment in local part", "<a(x)@partner.example>"),
    ("comment after domain", "<a@partner.example(x)>"),
    ("trailing space", "<a@partner.example >"),
    ("leading space", "< a@partner.example>"),
    ("source route", "<@relay.example:a@partner.example>"),
    ("two-hop source route", "<@relay.example,@other.example:a@partner.example>"),
    ("quoted local part", '<"a b"@partner.example>'),
    ("quoted plain local part", '<"a"@partner.example>'),
    ("no angle brackets", "a@partner.example"),
    ("percent hack, no domain", "<a%partner.example>"),
    ("percent hack", "<a%partner.example@mx.postern.test>"),
    ("bang path", "<partner.example!a>"),
    ("subdomain", "<a@mail.partner.example>"),
    ("subdomain, case and dot", "<a@MAIL.Partner.Example.>"),
    ("A-label for a U-label key", "<a@xn--bcher-kva.example>"),
    ("upper-case A-label", "<a@XN--BCHER-KVA.EXAMPLE>"),
    ("U-label for a U-label key", "<a@bücher.example>"),
    ("upper-case U-label", "<a@BÜCHER.example>"),
    ("U-label for an A-label key", "<a@café.example>"),
    ("decomposed U-label (NFD)", "<a@cafe\u0301.example>"),
    ("A-label for an A-label key", "<a@XN--CAF-DMA.example.>"),
]

# (what is tried, RCPT TO argument) for the outbound-only partners
RCPT_SPELLINGS = [
    ("plain", "<b@outpartner.example>"),
    ("case and dot", "<B@OutPartner.Example.>"),
    ("comment", "<b(x)@outpartner.example>"),
    ("trailing space", "<b@outpartner.example >"),
    ("source route", "<@relay.example:b@outpartner.example>"),
    ("quoted local part", '<"b c"@outpartner.example>'),
    ("percent hack", "<b%outpartner.example@mx.postern.test>"),
    ("U-label subdomain of an A-label key", "<b@mail.müller.example>"),
    ("A-label subdomain", "<b@mail.XN--MLLER-KVA.example>"),
]


def setup(param):
    S.clear()
    pf = private_mta("postfix")
    S["sink"] = Sink(os.path.join(pf.base, "sink")).start()
    pf.relay_port = S["sink"].port
    base = os.path.join(pf.base, "tls")
    os.makedirs(base)
    os.chmod(base, 0o755)
    S["policy"] = os.path.join(base, "tls_policy")
    with open(S["policy"], "w", encoding="utf-8") as f:
        f.write(POLICY)
    d = Daemon("postern-tls", base=base, config={"policy_file": S["policy"]},
               suite=suite_mode(param))
    S["d"] = d.start()
    pf.milters = [d.spec]
    pf.settings["smtputf8_enable"] = "yes"
    S["pf"] = pf.start()


def teardown():
    stop_all(S.get("pf"), S.get("sink"), [S["d"]] if "d" in S else [])


def raw_transaction(mail_arg, rcpt_arg, tag):
    """One plaintext session with the arguments written exactly as given
    (smtplib's mail()/rcpt() would requote them). Returns (stage, code,
    text) of the reply that ended it; stage "dot" means queued."""
    s = smtplib.SMTP("127.0.0.1", S["pf"].port, local_hostname="client.postern.test",
                     timeout=30)
    s.command_encoding = "utf-8"
    try:
        s.ehlo()
        utf8 = any(ord(ch) > 127 for ch in mail_arg + rcpt_arg)
        code, text = s.docmd("MAIL", "FROM:" + mail_arg + (" SMTPUTF8" if utf8 else ""))
        if code != 250:
            return "mail", code, text.decode("utf-8", "replace")
        code, text = s.docmd("RCPT", "TO:" + rcpt_arg)
        if code not in (250, 251):
            return "rcpt", code, text.decode("utf-8", "replace")
        code, text = s.docmd("DATA")
        if code != 354:
            return "data", code, text.decode("utf-8", "replace")
        body = (f"Subject: {tag}\r\nMessage-ID: <{tag}@attacker.test>\r\n\r\n"
                "attack\r\n.\r\n")
        s.send(body.encode())
        code, text = s.getreply()
        return "dot", code, text.decode("utf-8", "replace")
    finally:
        try:
            s.quit()
        except (smtplib.SMTPException, OSError):
            s.close()


def attack(spellings, stage, make_args):
    """Try each spelling; every one must be refused at stage with 5.7.10."""
    tags, bypassed = [], []
    for what, spelling in spellings:
        tag = "attack-" + uuid.uuid4().hex
        tags.append(tag)
        got = raw_transaction(*make_args(spelling), tag)
        if not (got[0] == stage and got[1] == 550 and "5.7.10" in got[2]):
            bypassed.append((what, spelling, got))
    # whatever got through reaches the sink within seconds
    if bypassed and any(b[2][0] == "dot" for b in bypassed):
        S["sink"].wait_for(1, timeout=10)
    arrived = [m for m in S["sink"].messages()
               if any(t in (m.msg["Subject"] or "") for t in tags)]
    assert not bypassed and not arrived, (
        f"{len(bypassed)} of {len(spellings)} spellings not refused: "
        + "; ".join(f"{w} {s!r} -> {g}" for w, s, g in bypassed)
        + f"; {len(arrived)} reached the sink")


@test
def every_spelling_of_an_inbound_partner_at_mail_from_is_refused():
    check_eq(len(MAIL_SPELLINGS) >= 20, True, "at least 20 spellings")
    attack(MAIL_SPELLINGS, "mail", lambda sp: (sp, "<b@dest.example>"))


@test
def every_spelling_of_an_outbound_partner_at_rcpt_to_is_refused():
    attack(RCPT_SPELLINGS, "rcpt", lambda sp: ("<a@dest.example>", sp))


@test
def a_partner_added_to_the_policy_applies_to_the_next_connection():
    # one connection first, so that the policy file was looked at just now
    got = raw_transaction("<a@partner.example>", "<b@dest.example>", "warmup")
    check_eq(got[:2], ("mail", 550), "partner refused before the change")
    with open(S["policy"], encoding="utf-8") as f:
        text = f.read()
    tmp = S["policy"] + ".new"
    with open(tmp, "w", encoding="utf-8") as f:
        f.write(text + "newpartner.example min_version=TLSv1.2\n")
    # an editor's save: a new inode; the same second as the check above
    os.rename(tmp, S["policy"])
    tag = "first-" + uuid.uuid4().hex
    got = raw_transaction("<a@newpartner.example>", "<b@dest.example>", tag)
    check_eq(got[:2], ("mail", 550), f"first message after the change: {got}")
    assert "5.7.10" in got[2], got


@test
def a_broken_policy_edit_keeps_the_running_policy():
    with open(S["policy"], encoding="utf-8") as f:
        good = f.read()
    tmp = S["policy"] + ".new"
    with open(tmp, "w", encoding="utf-8") as f:
        f.write(good + "broken..example min_version=TLSv1.2\n")
    os.rename(tmp, S["policy"])
    got = raw_transaction("<a@partner.example>", "<b@dest.example>", "broken")
    check_eq(got[:2], ("mail", 550), "still refused under the running policy")
    deadline = time.time() + 20
    while "broken..example" not in S["d"].log() and time.time() < deadline:
        time.sleep(0.2)
    assert "tls_policy:" in S["d"].log(), S["d"].log()[-2000:]
    with open(tmp, "w", encoding="utf-8") as f:
        f.write(good)
    os.rename(tmp, S["policy"])


if __name__ == "__main__":
    main(setup, teardown, params=[p for p in mta_params() if mta_of(p) == "postfix"])
