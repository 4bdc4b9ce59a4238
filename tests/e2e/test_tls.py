#!/usr/bin/env python3
# SPDX-License-Identifier: BSD-2-Clause
"""End-to-end: postern-tls attached to a private Postfix and to a private
Sendmail on 127.0.0.1 (tests/lib/mta.py; Sendmail with the macro lists of
packaging/sendmail/postern.mc-snippet), each asking for client
certificates verified against the test CA. Mail is sent with smtplib in
plain text and over STARTTLS (forced to TLS 1.2 where needed) and checked
in the client's replies, at the sink and in the MTA's queue.

Every scenario runs against both MTAs; what Sendmail does differently is
asserted as such: {verify} (OK, FAIL for an untrusted certificate) decides
"verified", {cert_subject} is the full xtext DN, replies carry the address
("<addr>... text"), Sendmail sends the queue id at MAIL, and hold is
Sendmail's quarantine queue (hf file, `mailq -qQ`, released with
`sendmail -Q -qQ -qI`) where Postfix uses its hold queue. The probe and
the postfix-map output through postmap need Postfix only."""
import os
import re
import smtplib
import ssl
import subprocess
import sys

TOP = os.environ.get("POSTERN_TOP") or os.path.abspath(
    os.path.join(os.path.dirname(__file__), "..", ".."))
sys.path.insert(0, os.path.join(TOP, "tests", "lib"))

from tap import test, main, check_eq  # noqa: E402
from daemon import Daemon, suite_mode  # noqa: E402
from mta import mta_params, private_mta, stop_all  # noqa: E402
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
bücher.example      direction=outbound min_version=TLSv1.2
"""
# How the daemon words a refused certificate: Postfix sends {cert_subject}
# for a verified certificate only; Sendmail sends the names of any
# certificate and says in {verify} whether it verified it.
ROGUE = {"postfix": "seen no verified client certificate",
         "sendmail": "client certificate verify=FAIL"}
NO_CERT = {"postfix": "seen no verified client certificate",
           "sendmail": "client certificate verify=NO"}


def setup(kind):
    S.clear()
    mta = private_mta(kind)
    S["sink"] = Sink(os.path.join(mta.base, "sink")).start()
    mta.relay_port = S["sink"].port
    base = mta.daemon_base("tls")
    S["policy"] = os.path.join(base, "tls_policy")
    with open(S["policy"], "w", encoding="utf-8") as f:
        f.write(POLICY)
    d = Daemon("postern-tls", base=base, socket_dir=mta.socket_dir("tls"), suite=suite_mode(kind), config={
        "policy_file": S["policy"],
        "trace_header": "X-Postern-TLS",
    })
    S["d"] = d.start()
    mta.milters = [d.spec]
    S["mta"] = mta.start()


def teardown():
    stop_all(S.get("mta"), S.get("sink"), [S[n] for n in ("d",) if n in S])


def send_tls(sender, rcpts, max_version=None, cert=None, key=None):
    """One message over STARTTLS with an ssl context we control."""
    mta = S["mta"]
    msg = build_message(sender, rcpts, subject=f"from {sender}")
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.check_hostname = False
    ctx.load_verify_locations(mta.pki.ca_cert)
    if max_version:
        ctx.maximum_version = max_version
    if cert:
        ctx.load_cert_chain(cert, key)
    s = smtplib.SMTP("127.0.0.1", mta.port, local_hostname="client.postern.test", timeout=30)
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
    """The sink's copy of the message the MTA queued as r.queue_id for rcpt."""
    assert r.ok and r.queue_id, r
    sink = S["sink"]
    msgs = sink.wait_for(1, timeout=20)
    for _ in range(3):
        got = [m for m in msgs if rcpt in m.rcpts and S["mta"].received_names(m, r.queue_id)]
        if got:
            return got[0]
        msgs = sink.wait_for(len(msgs) + 1, timeout=20)
    raise AssertionError(f"{r.queue_id} for {rcpt} not at the sink: {msgs}")


def trace(m):
    values = m.headers("X-Postern-TLS")
    check_eq(len(values), 1, "trace headers")
    return S["mta"].added_header(values[0])


@test
def plaintext_from_a_partner_domain_is_refused():
    mta = S["mta"]
    msg = build_message("a@partner.example", ["b@dest.example"])
    r = send("127.0.0.1", mta.port, "a@partner.example", ["b@dest.example"], msg)
    check_eq((r.stage, r.code), ("mail", 550), "refused at MAIL FROM")
    want = mta.reply("5.7.10", "a@partner.example", "Encryption needed: TLS policy for mail from "
                     "partner.example requires TLS, TLSv1.2 or later; seen no TLS")
    assert r.text.startswith(want), r.text
    if mta.kind == "sendmail":
        # Sendmail sends i at MAIL: the daemon logs the refusal with the
        # queue id Sendmail logs it with (Postfix: NOQUEUE)
        m = mta.wait_for_log(r"(\w+): Milter: from=<a@partner\.example>, reject=550 5\.7\.10 "
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
    mta = S["mta"]
    pki = mta.pki
    r, _ = send_tls("a@mx.bank.example", ["b@dest.example"], cert=pki.client_cert,
                    key=pki.client_key)
    m = arrived(r, "b@dest.example")
    assert "verified=yes" in trace(m) and ".bank.example:4 pass" in trace(m), trace(m)
    if mta.kind == "sendmail":
        # Sendmail's view, which it sent as {verify}
        rec = " ".join(m.headers("Received")[0].split())
        assert "verify=OK" in rec, rec
    # cert_subject=client.partner.test matches the CN (Postfix) or the CN
    # of the full DN (Sendmail)
    r, _ = send_tls("a@certified.example", ["c@dest.example"], cert=pki.client_cert,
                    key=pki.client_key)
    m = arrived(r, "c@dest.example")
    assert "certified.example:5 pass" in trace(m), trace(m)


@test
def rogue_or_missing_client_certificate_is_refused():
    mta = S["mta"]
    pki = mta.pki
    for sender in ("a@mx.bank.example", "a@certified.example"):
        r, _ = send_tls(sender, ["b@dest.example"], cert=pki.rogue_cert, key=pki.rogue_key)
        check_eq((r.stage, r.code), ("mail", 550), f"rogue certificate from {sender}")
        assert r.text.startswith(mta.reply("5.7.1", sender, "Not authorized")) and \
            ROGUE[mta.kind] in r.text, r.text
    r, _ = send_tls("a@mx.bank.example", ["b@dest.example"])
    check_eq((r.stage, r.code), ("mail", 550), "no certificate")
    assert NO_CERT[mta.kind] in r.text, r.text


@test(only="postfix")
def hold_lands_the_message_in_postfix_hold_queue():
    pf = S["mta"]
    r, _ = send_tls("a@dest.example", ["s@supplier.example"], max_version=ssl.TLSVersion.TLSv1_2)
    assert r.ok and r.queue_id, r
    q = pf.wait_for_queue(lambda q: any(m["queue_id"] == r.queue_id for m in q))
    held = [m for m in q if m["queue_id"] == r.queue_id][0]
    check_eq(held["queue_name"], "hold", "queue")
    check_eq([x["address"] for x in held["recipients"]], ["s@supplier.example"], "recipients")
    S["d"].wait_for_log(f"{r.queue_id}: tls: hold applied: mail to supplier.example requires "
                        "TLSv1.3 or later; seen TLSv1.2")
    pf.wait_for_log(rf"{r.queue_id}: milter-hold: END-OF-MESSAGE", timeout=10)
    pf.postsuper("-d", r.queue_id)


@test(only="sendmail")
def hold_puts_the_message_in_sendmails_quarantine_queue():
    sm, sink = S["mta"], S["sink"]
    before = sink.count()
    r, _ = send_tls("a@dest.example", ["s@supplier.example"], max_version=ssl.TLSVersion.TLSv1_2)
    qid = r.queue_id
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
    mta = S["mta"]
    msg = build_message("x@other.example", ["y@dest.example"], subject="untouched",
                        body="Body stays as it was.\n")
    r = send("127.0.0.1", mta.port, "x@other.example", ["y@dest.example"], msg)
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
    mta = S["mta"]
    rcpts = ["a@dest.example", "b@rcptonly.example", "c@dest.example"]
    msg = build_message("x@other.example", rcpts, subject="three recipients")
    r = send("127.0.0.1", mta.port, "x@other.example", rcpts, msg)
    codes = {rc: code for rc, code, _ in r.rcpt_replies}
    check_eq(codes, {"a@dest.example": 250, "b@rcptonly.example": 550, "c@dest.example": 250},
             "RCPT replies")
    text = dict((rc, t) for rc, _, t in r.rcpt_replies)["b@rcptonly.example"]
    assert text.startswith(mta.reply("5.7.10", "b@rcptonly.example", "Encryption needed: TLS "
                                     "policy for mail to rcptonly.example")), text
    m = arrived(r, "a@dest.example")
    check_eq(sorted(m.rcpts), ["a@dest.example", "c@dest.example"], "delivered to")


@test(only="postfix")
def probe_reports_the_certificate_the_test_made():
    pf, d = S["mta"], S["d"]
    r = d.run("probe", f"127.0.0.1:{pf.port}", "--cafile", pf.pki.ca_cert, "--domain",
              "partner.example", "--timeout", "20")
    check_eq(r.returncode, 0, f"probe: {r.stdout}{r.stderr}")
    out = dict(line.split(": ", 1) for line in r.stdout.splitlines() if ": " in line)
    fp = subprocess.run(["openssl", "x509", "-noout", "-fingerprint", "-sha256", "-in",
                         pf.pki.server_cert], capture_output=True, text=True, check=True)
    want = fp.stdout.strip().split("=", 1)[1]
    check_eq(out["certificate 0 sha256"], want, "leaf fingerprint")
    assert out["certificate 0 subject"].endswith("CN = mx.postern.test"), out
    assert "CN = Postern Test CA" in out["certificate 0 issuer"], out
    check_eq(out["certificate 0 san"], "DNS:mx.postern.test, DNS:localhost, IP:127.0.0.1", "SANs")
    assert re.match(r"TLSv1\.[23]$", out["protocol"]), out
    assert out["starttls"] == "offered" and int(out["bits"]) >= 128, out
    check_eq(out["verification"], f"ok (against {pf.pki.ca_cert})", "verification")
    check_eq(out["name"], "127.0.0.1 matches", "name check")
    assert out["policy"].startswith("partner.example (") and out["policy"].endswith(
        "partner.example) satisfied"), out["policy"]


@test(only="postfix")
def probe_with_an_untrusted_ca_reports_failed_verification():
    pf, d = S["mta"], S["d"]
    r = d.run("probe", f"127.0.0.1:{pf.port}", "--cafile", pf.pki.rogue_ca_cert, "--timeout",
              "20")
    check_eq(r.returncode, 0, f"TLS itself worked: {r.stdout}{r.stderr}")
    line = [x for x in r.stdout.splitlines() if x.startswith("verification: ")][0]
    assert not line.startswith("verification: ok"), line


@test(only="postfix")
def postfix_map_output_is_accepted_by_postmap():
    d, pf = S["d"], S["mta"]
    r = d.run("postfix-map")
    check_eq(r.returncode, 0, r.stderr)
    table = os.path.join(d.base, "postfix_tls_policy")
    with open(table, "w", encoding="utf-8") as f:
        f.write(r.stdout)
    pm = subprocess.run(["postmap", "-c", pf.config_dir, f"hash:{table}"],
                        capture_output=True, text=True)
    check_eq(pm.returncode, 0, f"postmap: {pm.stderr}")
    q = subprocess.run(["postmap", "-c", pf.config_dir, "-q", "supplier.example",
                        f"hash:{table}"], capture_output=True, text=True)
    check_eq(q.stdout.strip(), "encrypt protocols=>=TLSv1.3", "lookup of supplier.example")
    # an internationalised partner: Postfix finds it by A-label and by U-label
    for key in ("xn--bcher-kva.example", "bücher.example"):
        q = subprocess.run(["postmap", "-c", pf.config_dir, "-q", key, f"hash:{table}"],
                           capture_output=True, text=True)
        check_eq(q.stdout.strip(), "encrypt protocols=>=TLSv1.2", f"lookup of {key}")


if __name__ == "__main__":
    main(setup, teardown, params=mta_params())
