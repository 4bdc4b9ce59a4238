#!/usr/bin/env python3
"""End-to-end: postern-tls attached to a private Sendmail on 127.0.0.1
(tests/lib/sendmail.py, with the macro lists of
packaging/sendmail/postern.mc-snippet), mail sent with smtplib in plain
text and over STARTTLS (forced to TLS 1.2 where needed), checked in the
client's replies, at the sink and in Sendmail's queue. The scenarios of
test_tls_postfix.py, with what Sendmail does differently asserted as such:
{verify} (OK, FAIL for an untrusted certificate) decides "verified",
{cert_subject} is the full xtext DN, RCPT replies carry the address
("<addr>... text"), and hold is Sendmail's quarantine queue (hf file,
`mailq -qQ`, released with `sendmail -Q -qQ -qI`)."""
import os
import re
import smtplib
import ssl
import sys

TOP = os.environ.get("POSTERN_TOP") or os.path.abspath(
    os.path.join(os.path.dirname(__file__), "..", ".."))
sys.path.insert(0, os.path.join(TOP, "tests", "lib"))

from tap import test, main, check_eq  # noqa: E402
from daemon import Daemon  # noqa: E402
from sendmail import PrivateSendmail, queue_id_of  # noqa: E402
from sink import Sink  # noqa: E402
from smtp import build_message, send, transaction  # noqa: E402

S = {}
POLICY = """\
# e2e policy
partner.example     min_version=TLSv1.2
strict.example      min_version=TLSv1.3
.bank.example       verify=yes cert_issuer="Postern Test CA"
certified.example   cert_subject=client.partner.test
supplier.example    min_version=TLSv1.3 direction=both action=hold
rcptonly.example    direction=outbound
"""


def setup():
    sm = PrivateSendmail(milter_flags="T")
    S["sink"] = Sink(os.path.join(sm.base, "sink")).start()
    sm.relay_port = S["sink"].port
    base = os.path.join(sm.base, "tls")
    os.makedirs(base)
    os.chmod(base, 0o755)
    S["policy"] = os.path.join(base, "tls_policy")
    with open(S["policy"], "w") as f:
        f.write(POLICY)
    d = Daemon("postern-tls", base=base, socket_dir=sm.socket_dir("tls"), config={
        "policy_file": S["policy"],
        "trace_header": "X-Postern-TLS",
    })
    S["d"] = d.start()
    sm.milters = [d.spec]
    S["sm"] = sm.start()


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


def send_tls(sender, rcpts, max_version=None, cert=None, key=None):
    """One message over STARTTLS with an ssl context we control."""
    sm = S["sm"]
    msg = build_message(sender, rcpts, subject=f"from {sender}")
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.check_hostname = False
    ctx.load_verify_locations(sm.pki.ca_cert)
    if max_version:
        ctx.maximum_version = max_version
    if cert:
        ctx.load_cert_chain(cert, key)
    s = smtplib.SMTP("127.0.0.1", sm.port, local_hostname="client.postern.test", timeout=30)
    try:
        s.ehlo()
        s.starttls(context=ctx)
        s.ehlo()
        version = s.sock.version()
        r = transaction(s, sender, rcpts, msg)
        r.tls = True
    finally:
        try:
            s.quit()
        except (smtplib.SMTPException, OSError):
            s.close()
    return r, version


def arrived(r, rcpt):
    """The sink's copy of the message Sendmail queued as queue_id_of(r) for rcpt."""
    assert r.ok, r
    qid = queue_id_of(r)
    assert qid, r
    sink = S["sink"]
    msgs = sink.wait_for(1, timeout=20)
    for _ in range(3):
        got = [m for m in msgs if rcpt in m.rcpts
               and f"id {qid}" in " ".join("".join(m.headers("Received")).split())]
        if got:
            return got[0]
        msgs = sink.wait_for(len(msgs) + 1, timeout=20)
    raise AssertionError(f"{qid} for {rcpt} not at the sink: {msgs}")


def trace(m):
    values = m.headers("X-Postern-TLS")
    check_eq(len(values), 1, "trace headers")
    return " ".join(values[0].split())


@test
def plaintext_from_a_partner_domain_is_refused():
    sm = S["sm"]
    msg = build_message("a@partner.example", ["b@dest.example"])
    r = send("127.0.0.1", sm.port, "a@partner.example", ["b@dest.example"], msg)
    check_eq((r.stage, r.code), ("mail", 550), "refused at MAIL FROM")
    # Sendmail puts the address between the status code and the milter's
    # text, at MAIL as at RCPT (Postfix: the text only)
    assert r.text.startswith("5.7.10 <a@partner.example>... Encryption needed: TLS policy for mail from partner.example "
                             "requires TLS, TLSv1.2 or later; seen no TLS"), r.text
    # Sendmail sends i at MAIL: the daemon logs the refusal with the queue
    # id Sendmail logs it with (Postfix: NOQUEUE)
    m = S["sm"].wait_for_log(r"(\w+): Milter: from=<a@partner\.example>, reject=550 5\.7\.10 "
                             r"Encryption needed")
    S["d"].wait_for_log(f"{m.group(1)}: tls: reject from=<a@partner.example> "
                        "domain=partner.example")


@test
def tls_1_2_is_refused_where_the_policy_says_tls_1_3():
    r, version = send_tls("a@strict.example", ["b@dest.example"],
                          max_version=ssl.TLSVersion.TLSv1_2)
    check_eq(version, "TLSv1.2", "negotiated version")
    check_eq((r.stage, r.code), ("mail", 550), "refused at MAIL FROM")
    assert "requires TLSv1.3 or later; seen TLSv1.2" in r.text, r.text
    r, version = send_tls("a@strict.example", ["b@dest.example"])
    check_eq(version, "TLSv1.3", "negotiated version")
    m = arrived(r, "b@dest.example")
    assert trace(m).startswith("version=TLSv1.3; cipher=TLS_"), trace(m)
    assert "from strict.example (strict.example:3 pass)" in trace(m), trace(m)


@test
def client_certificate_signed_by_the_test_ca_is_accepted_where_verify_is_required():
    pki = S["sm"].pki
    r, _ = send_tls("a@mx.bank.example", ["b@dest.example"], cert=pki.client_cert,
                    key=pki.client_key)
    m = arrived(r, "b@dest.example")
    assert "verified=yes" in trace(m) and ".bank.example:4 pass" in trace(m), trace(m)
    # Sendmail's view, which it sent as {verify}
    rec = " ".join(m.headers("Received")[0].split())
    assert "verify=OK" in rec, rec
    # cert_subject=client.partner.test matches the CN of Sendmail's full DN
    r, _ = send_tls("a@certified.example", ["c@dest.example"], cert=pki.client_cert,
                    key=pki.client_key)
    m = arrived(r, "c@dest.example")
    assert "certified.example:5 pass" in trace(m), trace(m)


@test
def rogue_or_missing_client_certificate_is_refused():
    pki = S["sm"].pki
    for sender in ("a@mx.bank.example", "a@certified.example"):
        r, _ = send_tls(sender, ["b@dest.example"], cert=pki.rogue_cert, key=pki.rogue_key)
        check_eq((r.stage, r.code), ("mail", 550), f"rogue certificate from {sender}")
        # Sendmail sends the rogue certificate's names too; {verify}=FAIL
        # is what refuses it, and the text says so
        assert r.text.startswith(f"5.7.1 <{sender}>... Not authorized") and \
            "client certificate verify=FAIL" in r.text, r.text
    r, _ = send_tls("a@mx.bank.example", ["b@dest.example"])
    check_eq((r.stage, r.code), ("mail", 550), "no certificate")
    assert "client certificate verify=NO" in r.text, r.text


@test
def hold_puts_the_message_in_sendmails_quarantine_queue():
    sm, sink = S["sm"], S["sink"]
    before = sink.count()
    r, _ = send_tls("a@dest.example", ["s@supplier.example"], max_version=ssl.TLSVersion.TLSv1_2)
    qid = queue_id_of(r)
    assert r.ok and qid, r
    reason = ("postern-tls: mail to supplier.example requires TLSv1.3 or later; "
              f"seen TLSv1.2 (policy {S['policy']}:6)")
    S["d"].wait_for_log(f"{qid}: tls: hold applied: mail to supplier.example requires "
                        "TLSv1.3 or later; seen TLSv1.2")
    # smfi_quarantine in Sendmail: the envelope is written as an hf file
    # (not qf) with the reason in it, and Sendmail logs "quarantine=".
    q = sm.wait_for_queue(lambda q: any(m["queue_id"] == qid for m in q))
    held = [m for m in q if m["queue_id"] == qid][0]
    check_eq(held["queue_name"], "hold", "queue (hf file)")
    check_eq([x["address"] for x in held["recipients"]], ["s@supplier.example"], "recipients")
    with open(os.path.join(sm.queue_dir, "hf" + qid), errors="replace") as f:
        qf = f.read()
    assert "\nq" + reason + "\n" in qf, qf[:600]
    sm.wait_for_log(rf"{qid}: milter=postern-tls, quarantine={re.escape(reason)}")
    # mailq -qQ lists it with the reason; a queue run leaves it alone
    listing = sm.sendmail("-bp", "-qQ").stdout
    assert re.search(rf"(?m)^{qid} .*\n\s+QUARANTINE: {re.escape(reason[:50])}", listing), \
        listing
    assert qid not in sm.sendmail("-bp").stdout, "listed by plain mailq"
    sm.flush()
    check_eq(sink.count(), before, "messages at the sink while quarantined")
    check_eq(sm.queue_ids("hold"), [qid], "still quarantined after a queue run")
    # released (-Q without a reason unquarantines the -qQ items matched
    # by -qI), it is an ordinary qf file again and a queue run delivers it
    sm.sendmail("-Q", "-qQ", f"-qI{qid}")
    check_eq(sm.queue_ids("hold"), [], "quarantined after release")
    check_eq(sm.queue_ids(), [qid], "queued after release")
    sm.flush()
    m = [x for x in sink.wait_for(before + 1, timeout=30)[before:]
         if "s@supplier.example" in x.rcpts]
    check_eq(len(m), 1, "delivered after release")
    sm.wait_queue_empty()


@test
def non_partner_mail_passes_untouched():
    sm = S["sm"]
    msg = build_message("x@other.example", ["y@dest.example"], subject="untouched",
                        body="Body stays as it was.\n")
    r = send("127.0.0.1", sm.port, "x@other.example", ["y@dest.example"], msg)
    m = arrived(r, "y@dest.example")
    check_eq(trace(m), "version=none; verified=no; policy=none", "trace")
    sent_head, sent_body = msg.split(b"\r\n\r\n", 1)
    check_eq(m.body, sent_body, "body")
    got = [(n, v) for n, v in m.headers() if n not in ("Received", "X-Postern-TLS")]
    want = [(line.split(":", 1)[0], line.split(":", 1)[1])
            for line in sent_head.decode().split("\r\n")]
    check_eq(got, want, "the client's headers")
    raw = [x for x in m.data.split(b"\r\n") if x.startswith(b"X-Postern-TLS:")]
    want = [b"X-Postern-TLS: version=none; verified=no; policy=none"]
    check_eq(raw, want, "raw trace header (one space after the colon)")


@test
def multi_recipient_message_is_refused_only_for_the_partner_recipient():
    sm = S["sm"]
    rcpts = ["a@dest.example", "b@rcptonly.example", "c@dest.example"]
    msg = build_message("x@other.example", rcpts, subject="three recipients")
    r = send("127.0.0.1", sm.port, "x@other.example", rcpts, msg)
    codes = {rc: code for rc, code, _ in r.rcpt_replies}
    check_eq(codes, {"a@dest.example": 250, "b@rcptonly.example": 550, "c@dest.example": 250},
             "RCPT replies")
    text = dict((rc, t) for rc, _, t in r.rcpt_replies)["b@rcptonly.example"]
    # Sendmail puts the address between the status code and the text
    assert text.startswith("5.7.10 <b@rcptonly.example>... Encryption needed: TLS policy for "
                           "mail to rcptonly.example"), text
    m = arrived(r, "a@dest.example")
    check_eq(sorted(m.rcpts), ["a@dest.example", "c@dest.example"], "delivered to")


if __name__ == "__main__":
    main(setup, teardown)
