#!/usr/bin/env python3
"""End-to-end: postern-testd (built on libpostern) attached to a private
Postfix on 127.0.0.1, mail sent with smtplib in plain text and over
STARTTLS, checked at the sink. Proves the shared milter layer in the real
path: the header the daemon adds arrives after Postfix's Received header,
the TLS macros the daemon saw match the session, replies at RCPT reach the
client, a daemon that is down makes Postfix tempfail (no mail lost), and
the daemon's log lines start with Postfix's queue id."""
import hashlib
import os
import re
import sys

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


def setup():
    pf = PrivatePostfix()
    S["sink"] = Sink(os.path.join(pf.base, "sink")).start()
    pf.relay_port = S["sink"].port
    d = Daemon("postern-testd", base=os.path.join(pf.base, "testd"), config={
        "reject_recipient": "refused@dest.example",
        "body_memory_limit": "64k",
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


def deliver(rcpt, body="Hello.\n", **kw):
    pf, sink = S["pf"], S["sink"]
    before = sink.count()
    msg = build_message(SENDER, [rcpt], subject=f"to {rcpt}", body=body)
    r = send("127.0.0.1", pf.port, SENDER, [rcpt], msg, **kw)
    assert r.ok, r
    got = [m for m in sink.wait_for(before + 1, timeout=20) if rcpt in m.rcpts]
    check_eq(len(got), 1, "messages at the sink")
    return r, got[0]


def report(m):
    """The X-Postern-Test header as a dict, checking it appears once."""
    values = m.headers("X-Postern-Test")
    check_eq(len(values), 1, "X-Postern-Test headers")
    return dict(kv.split("=", 1) for kv in values[0].strip().split("; "))


def raw_header_line(m, name):
    for line in m.data.split(b"\r\n"):
        if line.lower().startswith(name.lower().encode() + b":"):
            return line
    raise AssertionError(f"{name} not in {m.data[:400]!r}")


@test
def plain_smtp_goes_through_postfix_and_gets_the_header():
    r, m = deliver("bob@dest.example")
    f = report(m)
    check_eq(f["tls"], "none", "tls")
    check_eq(f["queue_id"], r.queue_id, "queue id the daemon saw")
    check_eq(f["client"], "127.0.0.1", "client address")
    check_eq(f["helo"], "client.postern.test", "helo")
    check_eq(f["rcpts"], "1", "recipients")
    check_eq(f["body_sha256"], hashlib.sha256(m.body).hexdigest(), "body as the sink got it")
    received = m.headers("Received")
    check_eq(len(received), 1, "Received headers")
    assert "by mx.postern.test (Postfix)" in received[0] and r.queue_id in received[0], received
    # the milter's header is appended after the client's headers, with one space
    assert raw_header_line(m, "X-Postern-Test").startswith(b"X-Postern-Test: tls=none;"), \
        raw_header_line(m, "X-Postern-Test")


@test
def starttls_with_verified_client_certificate():
    pki = S["pf"].pki
    r, m = deliver("carol@dest.example", starttls=True, client_cert=pki.client_cert,
                   client_key=pki.client_key, cafile=pki.ca_cert)
    f = report(m)
    assert f["tls"].startswith("TLSv1."), f
    assert f["cipher"] != "none" and f["bits"].isdigit() and int(f["bits"]) >= 128, f
    check_eq(f["cert_subject"], "client.partner.test", "cert_subject (common name)")
    check_eq(f["cert_issuer"], "Postern Test CA", "cert_issuer (common name)")
    received = m.headers("Received")[0]
    assert "with ESMTPS" in received and f["tls"] in received, received


@test
def starttls_without_a_certificate_has_no_cert_macros():
    pki = S["pf"].pki
    r, m = deliver("dave@dest.example", starttls=True, cafile=pki.ca_cert)
    f = report(m)
    assert f["tls"].startswith("TLSv1."), f
    check_eq((f["cert_subject"], f["cert_issuer"]), ("none", "none"), "cert macros")


@test
def untrusted_client_certificate_is_not_reported_as_verified():
    pki = S["pf"].pki
    r, m = deliver("erin@dest.example", starttls=True, client_cert=pki.rogue_cert,
                   client_key=pki.rogue_key, cafile=pki.ca_cert)
    f = report(m)
    assert f["tls"].startswith("TLSv1."), f
    check_eq(f["cert_subject"], "none", "cert_subject of an unverified certificate")


@test
def recipient_refused_by_the_milter_gets_its_reply_at_rcpt():
    pf = S["pf"]
    msg = build_message(SENDER, ["refused@dest.example"], subject="refuse")
    r = send("127.0.0.1", pf.port, SENDER, ["refused@dest.example"], msg)
    assert not r.ok, r
    text = str(r.rcpt_replies)
    assert "550" in text and "5.7.1 testd: recipient rejected" in text, r.rcpt_replies


@test
def large_message_is_spooled_and_arrives_intact():
    body = "".join("line %06d %s\n" % (i, "y" * 80) for i in range(4000))
    r, m = deliver("frank@dest.example", body=body)
    f = report(m)
    check_eq(f["spooled"], "disk", "body beyond body_memory_limit")
    check_eq(f["body_sha256"], hashlib.sha256(m.body).hexdigest(), "body sha256")


@test
def daemon_log_lines_start_with_the_postfix_queue_id():
    r, m = deliver("grace@dest.example")
    S["d"].wait_for_log(f"{r.queue_id}: testd: from=<{SENDER}>")
    S["pf"].wait_for_log(rf"{r.queue_id}: .*to=<grace@dest\.example>.*status=sent", timeout=15)


@test
def daemon_down_means_tempfail_and_nothing_lost():
    pf, d = S["pf"], S["d"]
    d.stop()
    msg = build_message(SENDER, ["henry@dest.example"], subject="while down")
    r = send("127.0.0.1", pf.port, SENDER, ["henry@dest.example"], msg)
    assert not r.ok and str(r.code).startswith("4"), r
    d.start()
    r, m = deliver("henry@dest.example")
    check_eq(report(m)["rcpts"], "1", "delivered after restart")


if __name__ == "__main__":
    main(setup, teardown)
