#!/usr/bin/env python3
# SPDX-License-Identifier: BSD-2-Clause
"""End-to-end: postern-testd (built on libpostern) attached to a private
Postfix and to a private Sendmail on 127.0.0.1 (tests/lib/mta.py;
Sendmail through INPUT_MAIL_FILTER and the confMILTER_MACROS_* lines of
packaging/sendmail/postern.mc-snippet), mail sent with smtplib in plain
text and over STARTTLS, checked at the sink. Proves the shared milter
layer in the real path: the header the daemon adds arrives after the MTA's
Received header, the TLS macros the daemon saw match the session, replies
at RCPT reach the client, a daemon that is down makes the MTA tempfail (no
mail lost), and the daemon's log lines start with the MTA's queue id.

Every scenario runs against both MTAs; what Sendmail does differently is
asserted as such: its reply texts, {cert_subject} as the full DN
(xtext-encoded; Postfix: the CN), sent empty without a certificate and
sent for an unverified certificate too, with only {verify} telling the
difference (asserted through Sendmail's log and Received: header until
testd reports {verify})."""
import hashlib
import os
import re
import sys

TOP = os.environ.get("POSTERN_TOP") or os.path.abspath(
    os.path.join(os.path.dirname(__file__), "..", ".."))
sys.path.insert(0, os.path.join(TOP, "tests", "lib"))

from tap import test, main, check_eq  # noqa: E402
from daemon import Daemon  # noqa: E402
from mta import MTAS, private_mta_and_sink, stop_all  # noqa: E402
from smtp import build_message, send  # noqa: E402

S = {}
SENDER = "alice@sender.example"


def cert_report(which):
    """{cert_subject} and {cert_issuer} as the daemon reports them for the
    MTA's macros (tests/lib: mta.cert_macros): "none" for a macro not sent."""
    return tuple("none" if v is None else v for v in S["mta"].cert_macros(which))


def setup(kind):
    S.clear()
    mta, S["sink"] = private_mta_and_sink(kind)
    d = Daemon("postern-testd", base=mta.daemon_base("testd"),
               socket_dir=mta.socket_dir("testd"), config={
                   "reject_recipient": "refused@dest.example",
                   "body_memory_limit": "64k",
               })
    S["d"] = d.start()
    mta.milters = [d.spec]
    S["mta"] = mta.start()


def teardown():
    stop_all(S.get("mta"), S.get("sink"), [S[n] for n in ("d",) if n in S])


def deliver(rcpt, body="Hello.\n", **kw):
    mta, sink = S["mta"], S["sink"]
    before = sink.count()
    msg = build_message(SENDER, [rcpt], subject=f"to {rcpt}", body=body)
    r = send("127.0.0.1", mta.port, SENDER, [rcpt], msg, **kw)
    assert r.ok and r.queue_id, r
    got = [m for m in sink.wait_for(before + 1, timeout=20) if rcpt in m.rcpts]
    check_eq(len(got), 1, "messages at the sink")
    return r.queue_id, got[0]


def report(m):
    """The X-Postern-Test header as a dict, checking it appears once."""
    values = m.headers("X-Postern-Test")
    check_eq(len(values), 1, "X-Postern-Test headers")
    return dict(kv.split("=", 1) for kv in values[0].strip().split("; "))


def received(m):
    """The MTA's Received header, unfolded, checking there is one."""
    values = m.headers("Received")
    check_eq(len(values), 1, "Received headers")
    return " ".join(values[0].split())


def raw_header_line(m, name):
    for line in m.data.split(b"\r\n"):
        if line.lower().startswith(name.lower().encode() + b":"):
            return line
    raise AssertionError(f"{name} not in {m.data[:400]!r}")


def starttls_log(qid):
    """Sendmail's STARTTLS=server log line of the session that queued qid
    (same process id)."""
    sm = S["mta"]
    pid = sm.wait_for_log(rf"sm-mta\[(\d+)\]: {qid}: from=").group(1)
    return sm.wait_for_log(rf"sm-mta\[{pid}\]: STARTTLS=server, .*$").group(0)


@test
def plain_smtp_goes_through_the_mta_and_gets_the_header():
    mta = S["mta"]
    qid, m = deliver("bob@dest.example")
    f = report(m)
    check_eq(f["tls"], "none", "tls")
    check_eq(f["queue_id"], qid, "queue id the daemon saw")
    check_eq(f["client"], "127.0.0.1", "client address")
    check_eq(f["helo"], "client.postern.test", "helo")
    check_eq(f["rcpts"], "1", "recipients")
    check_eq(f["body_sha256"], hashlib.sha256(m.body).hexdigest(), "body as the sink got it")
    rec = received(m)
    if mta.kind == "postfix":
        assert "by mx.postern.test (Postfix)" in rec and qid in rec, rec
    else:
        assert re.search(rf"^from client\.postern\.test \(localhost \[127\.0\.0\.1\]\) "
                         rf"by mx\.postern\.test \(8\.[\d.]+/8\.[\d.]+/Postern\) "
                         rf"with ESMTP id {qid} for <bob@dest\.example>;", rec), rec
    # Neither MTA shows its own Received: header to milters: the daemon
    # saw the client's headers only.
    check_eq(f["headers"], str(len(m.headers()) - 2), "headers the daemon saw")
    # the milter's header is appended after the client's headers, with one space
    assert raw_header_line(m, "X-Postern-Test").startswith(b"X-Postern-Test: tls=none;"), \
        raw_header_line(m, "X-Postern-Test")


@test
def starttls_with_verified_client_certificate():
    mta = S["mta"]
    qid, m = deliver("carol@dest.example", **mta.starttls("client"))
    f = report(m)
    assert f["tls"].startswith("TLSv1."), f
    assert f["cipher"] != "none" and f["bits"].isdigit() and int(f["bits"]) >= 128, f
    check_eq((f["cert_subject"], f["cert_issuer"]), cert_report("client"),
             "cert_subject and cert_issuer")
    rec = received(m)
    assert "with ESMTPS" in rec and f["tls"] in rec, rec
    if mta.kind == "sendmail":
        # {verify}: testd does not report it yet; Sendmail's view of it,
        # which is what it sends as {verify}, is in its log and Received.
        assert f"version={f['tls']}" in rec and "verify=OK" in rec, rec
        assert f"version={f['tls']}, verify=OK," in starttls_log(qid), starttls_log(qid)


@test
def starttls_without_a_certificate_has_no_cert_macros():
    mta = S["mta"]
    qid, m = deliver("dave@dest.example", **mta.starttls())
    f = report(m)
    assert f["tls"].startswith("TLSv1."), f
    # Sendmail sends {cert_subject} and {cert_issuer} empty, not absent
    check_eq((f["cert_subject"], f["cert_issuer"]), cert_report("none"), "cert macros")
    if mta.kind == "sendmail":
        assert "verify=NO" in received(m), received(m)
        assert "verify=NO," in starttls_log(qid), starttls_log(qid)


@test
def untrusted_client_certificate_is_not_reported_as_verified():
    mta = S["mta"]
    qid, m = deliver("erin@dest.example", **mta.starttls("rogue"))
    f = report(m)
    assert f["tls"].startswith("TLSv1."), f
    # Unlike Postfix, Sendmail passes the names of a certificate it could
    # not verify: only {verify}=FAIL says so. A daemon must not take a
    # present {cert_subject} for a verified one.
    check_eq(f["cert_subject"], cert_report("rogue")[0],
             "cert_subject of an unverified certificate")
    if mta.kind == "sendmail":
        assert "verify=FAIL" in received(m), received(m)
        assert "verify=FAIL," in starttls_log(qid), starttls_log(qid)


@test
def recipient_refused_by_the_milter_gets_its_reply_at_rcpt():
    mta = S["mta"]
    msg = build_message(SENDER, ["refused@dest.example"], subject="refuse")
    r = send("127.0.0.1", mta.port, SENDER, ["refused@dest.example"], msg)
    assert not r.ok and r.stage == "rcpt", r
    check_eq(r.rcpt_replies[0][1], 550, "RCPT reply code")
    check_eq(r.rcpt_replies[0][2],
             mta.reply("5.7.1", "refused@dest.example", "testd: recipient rejected"),
             "RCPT reply text")


@test
def large_message_is_spooled_and_arrives_intact():
    body = "".join("line %06d %s\n" % (i, "y" * 80) for i in range(4000))
    qid, m = deliver("frank@dest.example", body=body)
    f = report(m)
    check_eq(f["spooled"], "disk", "body beyond body_memory_limit")
    check_eq(f["body_sha256"], hashlib.sha256(m.body).hexdigest(), "body sha256")


@test
def daemon_log_lines_start_with_the_mta_queue_id():
    mta = S["mta"]
    qid, m = deliver("grace@dest.example")
    S["d"].wait_for_log(f"{qid}: testd: from=<{SENDER}>")
    mta.wait_for_log(rf"{qid}: from=<{re.escape(SENDER)}>")
    mta.wait_for_log(mta.sent_line(qid, "grace@dest.example"), timeout=15)


@test
def daemon_down_means_tempfail_and_nothing_lost():
    mta, d, sink = S["mta"], S["d"], S["sink"]
    d.stop()
    mark = mta.log_offset()
    msg = build_message(SENDER, ["henry@dest.example"], subject="while down")
    r = send("127.0.0.1", mta.port, SENDER, ["henry@dest.example"], msg)
    # tempfail (Sendmail's F=T: it greets, then answers 4xx from MAIL
    # on): the client keeps the message, the MTA queues nothing.
    assert not r.ok and str(r.code).startswith("4"), r
    if mta.kind == "sendmail":
        mta.wait_for_log(r"Milter \(postern-testd\): to error state", since=mark)
    check_eq(mta.queue(), [], "the MTA's queue")
    assert not [m for m in sink.messages() if "henry@dest.example" in m.rcpts]
    d.start()
    qid, m = deliver("henry@dest.example")
    check_eq(report(m)["rcpts"], "1", "delivered after restart")


if __name__ == "__main__":
    main(setup, teardown, params=MTAS)
