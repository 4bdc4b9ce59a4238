#!/usr/bin/env python3
"""End-to-end: postern-testd attached to a private Sendmail on 127.0.0.1
(tests/lib/sendmail.py) through INPUT_MAIL_FILTER and the
confMILTER_MACROS_* lines of packaging/sendmail/postern.mc-snippet, mail
sent with smtplib in plain text and over STARTTLS, checked at the sink.
The scenarios of test_testd_postfix.py, with what Sendmail does
differently asserted as such: its reply texts, {cert_subject} as the
full DN (xtext-encoded), sent empty without a certificate and sent for an
unverified certificate too, with only {verify} telling the difference
(asserted through Sendmail's log and Received: header until testd
reports {verify})."""
import hashlib
import os
import re
import sys

TOP = os.environ.get("POSTERN_TOP") or os.path.abspath(
    os.path.join(os.path.dirname(__file__), "..", ".."))
sys.path.insert(0, os.path.join(TOP, "tests", "lib"))

from tap import test, main, check_eq  # noqa: E402
from daemon import Daemon  # noqa: E402
from sendmail import PrivateSendmail, queue_id_of  # noqa: E402
from sink import Sink  # noqa: E402
from smtp import build_message, send  # noqa: E402

S = {}
SENDER = "alice@sender.example"
CLIENT_DN = "/O=Postern+20Test/CN=client.partner.test"
CA_DN = "/O=Postern+20Test/CN=Postern+20Test+20CA"
ROGUE_DN = "/O=Postern+20Test/CN=rogue.partner.test"


def setup():
    S["sm"] = sm = PrivateSendmail(milter_flags="T")
    S["sink"] = Sink(os.path.join(sm.base, "sink")).start()
    sm.relay_port = S["sink"].port
    os.makedirs(os.path.join(sm.base, "testd"), mode=0o755)
    d = Daemon("postern-testd", base=os.path.join(sm.base, "testd"),
               socket_dir=sm.socket_dir("testd"), config={
                   "reject_recipient": "refused@dest.example",
                   "body_memory_limit": "64k",
               })
    S["d"] = d.start()
    sm.milters = [d.spec]
    sm.start()


def teardown():
    try:
        if "sm" in S:
            S["sm"].stop()
            if S["sm"].processes():
                raise AssertionError(f"sendmail left {S['sm'].processes()}")
            S["sm"].cleanup()
    finally:
        if "sink" in S:
            S["sink"].stop()
        if "d" in S:
            S["d"].stop()


def deliver(rcpt, body="Hello.\n", **kw):
    sm, sink = S["sm"], S["sink"]
    before = sink.count()
    msg = build_message(SENDER, [rcpt], subject=f"to {rcpt}", body=body)
    r = send("127.0.0.1", sm.port, SENDER, [rcpt], msg, **kw)
    assert r.ok, r
    qid = queue_id_of(r)
    assert qid, r
    got = [m for m in sink.wait_for(before + 1, timeout=20) if rcpt in m.rcpts]
    check_eq(len(got), 1, "messages at the sink")
    return qid, got[0]


def report(m):
    """The X-Postern-Test header as a dict, checking it appears once."""
    values = m.headers("X-Postern-Test")
    check_eq(len(values), 1, "X-Postern-Test headers")
    return dict(kv.split("=", 1) for kv in values[0].strip().split("; "))


def received(m):
    """Sendmail's Received header, unfolded."""
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
    sm = S["sm"]
    pid = sm.wait_for_log(rf"sm-mta\[(\d+)\]: {qid}: from=").group(1)
    return sm.wait_for_log(rf"sm-mta\[{pid}\]: STARTTLS=server, .*$").group(0)


@test
def plain_smtp_goes_through_sendmail_and_gets_the_header():
    qid, m = deliver("bob@dest.example")
    f = report(m)
    check_eq(f["tls"], "none", "tls")
    check_eq(f["queue_id"], qid, "queue id the daemon saw")
    check_eq(f["client"], "127.0.0.1", "client address")
    check_eq(f["helo"], "client.postern.test", "helo")
    check_eq(f["rcpts"], "1", "recipients")
    check_eq(f["body_sha256"], hashlib.sha256(m.body).hexdigest(), "body as the sink got it")
    rec = received(m)
    assert re.search(rf"^from client\.postern\.test \(localhost \[127\.0\.0\.1\]\) "
                     rf"by mx\.postern\.test \(8\.[\d.]+/8\.[\d.]+/Postern\) "
                     rf"with ESMTP id {qid} for <bob@dest\.example>;", rec), rec
    # As Postfix, Sendmail does not show its own Received: header to
    # milters: the daemon saw the client's headers only.
    check_eq(f["headers"], str(len(m.headers()) - 2), "headers the daemon saw")
    # the milter's header is appended after the client's, with one space
    assert raw_header_line(m, "X-Postern-Test").startswith(b"X-Postern-Test: tls=none;"), \
        raw_header_line(m, "X-Postern-Test")


@test
def starttls_with_verified_client_certificate():
    pki = S["sm"].pki
    qid, m = deliver("carol@dest.example", starttls=True, client_cert=pki.client_cert,
                     client_key=pki.client_key, cafile=pki.ca_cert)
    f = report(m)
    assert f["tls"].startswith("TLSv1."), f
    assert f["cipher"] != "none" and f["bits"].isdigit() and int(f["bits"]) >= 128, f
    # Sendmail: the full DN, xtext-encoded (Postfix: the CN only)
    check_eq(f["cert_subject"], CLIENT_DN, "cert_subject (full DN)")
    check_eq(f["cert_issuer"], CA_DN, "cert_issuer (full DN)")
    rec = received(m)
    assert "with ESMTPS" in rec and f"version={f['tls']}" in rec, rec
    # {verify}: testd does not report it yet; Sendmail's view of it, which
    # is what it sends as {verify}, is in its log and Received header.
    assert "verify=OK" in rec, rec
    assert f"version={f['tls']}, verify=OK," in starttls_log(qid), starttls_log(qid)


@test
def starttls_without_a_certificate_has_empty_cert_macros():
    pki = S["sm"].pki
    qid, m = deliver("dave@dest.example", starttls=True, cafile=pki.ca_cert)
    f = report(m)
    assert f["tls"].startswith("TLSv1."), f
    # Sendmail sends {cert_subject} and {cert_issuer} empty, not absent
    check_eq((f["cert_subject"], f["cert_issuer"]), ("", ""), "cert macros")
    assert "verify=NO" in received(m), received(m)
    assert "verify=NO," in starttls_log(qid), starttls_log(qid)


@test
def untrusted_client_certificate_is_sent_with_verify_fail():
    pki = S["sm"].pki
    qid, m = deliver("erin@dest.example", starttls=True, client_cert=pki.rogue_cert,
                     client_key=pki.rogue_key, cafile=pki.ca_cert)
    f = report(m)
    assert f["tls"].startswith("TLSv1."), f
    # Unlike Postfix, Sendmail passes the names of a certificate it could
    # not verify: only {verify}=FAIL says so. A daemon must not take a
    # present {cert_subject} for a verified one.
    check_eq(f["cert_subject"], ROGUE_DN, "cert_subject of an unverified certificate")
    assert "verify=FAIL" in received(m), received(m)
    assert "verify=FAIL," in starttls_log(qid), starttls_log(qid)


@test
def recipient_refused_by_the_milter_gets_its_reply_at_rcpt():
    sm = S["sm"]
    msg = build_message(SENDER, ["refused@dest.example"], subject="refuse")
    r = send("127.0.0.1", sm.port, SENDER, ["refused@dest.example"], msg)
    assert not r.ok and r.stage == "rcpt", r
    check_eq(r.rcpt_replies[0][1], 550, "RCPT reply code")
    # Sendmail puts the address between the status code and the text
    text = r.rcpt_replies[0][2]
    assert text.startswith("5.7.1 ") and text.endswith("testd: recipient rejected"), text


@test
def large_message_is_spooled_and_arrives_intact():
    body = "".join("line %06d %s\n" % (i, "y" * 80) for i in range(4000))
    qid, m = deliver("frank@dest.example", body=body)
    f = report(m)
    check_eq(f["spooled"], "disk", "body beyond body_memory_limit")
    check_eq(f["body_sha256"], hashlib.sha256(m.body).hexdigest(), "body sha256")


@test
def daemon_log_lines_start_with_the_sendmail_queue_id():
    qid, m = deliver("grace@dest.example")
    S["d"].wait_for_log(f"{qid}: testd: from=<{SENDER}>")
    S["sm"].wait_for_log(rf"{qid}: from=<{re.escape(SENDER)}>")
    S["sm"].wait_for_log(rf"{qid}: to=<grace@dest\.example>.*stat=Sent", timeout=15)


@test
def daemon_down_means_tempfail_and_nothing_lost():
    sm, d, sink = S["sm"], S["d"], S["sink"]
    d.stop()
    mark = sm.log_offset()
    msg = build_message(SENDER, ["henry@dest.example"], subject="while down")
    r = send("127.0.0.1", sm.port, SENDER, ["henry@dest.example"], msg)
    # F=T: Sendmail greets, then answers 4xx from MAIL on; the client
    # keeps the message, Sendmail queues nothing.
    assert not r.ok and str(r.code).startswith("4"), r
    sm.wait_for_log(r"Milter \(postern-testd\): to error state", since=mark)
    check_eq(sm.queue(), [], "Sendmail's queue")
    assert not [m for m in sink.messages() if "henry@dest.example" in m.rcpts]
    d.start()
    qid, m = deliver("henry@dest.example")
    check_eq(report(m)["rcpts"], "1", "delivered after restart")


if __name__ == "__main__":
    main(setup, teardown)
