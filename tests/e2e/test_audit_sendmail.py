#!/usr/bin/env python3
# SPDX-License-Identifier: BSD-2-Clause
"""End-to-end: postern-audit attached last to a private Sendmail on
127.0.0.1 (tests/lib/sendmail.py with the macro lists of
packaging/sendmail/postern.mc-snippet), after postern-testd. The scenarios
of test_audit_postfix.py, with what Sendmail does differently asserted as
such: the queue id comes from i (Sendmail's own id, "QID Message
accepted"); "verified" comes from {verify} (OK, FAIL for an untrusted
certificate, NO without one); {cert_subject} is Sendmail's full DN,
xtext-encoded (recorded as sent), and sent empty without a certificate."""
import hashlib
import os
import shutil
import re
import subprocess
import sys
import threading
import time

TOP = os.environ.get("POSTERN_TOP") or os.path.abspath(
    os.path.join(os.path.dirname(__file__), "..", ".."))
sys.path.insert(0, os.path.join(TOP, "tests", "lib"))
sys.path.insert(0, os.path.join(TOP, "tests", "milter"))

from tap import test, main, check_eq  # noqa: E402
from daemon import Daemon  # noqa: E402
from sendmail import PrivateSendmail, queue_id_of  # noqa: E402
from sink import Sink  # noqa: E402
from smtp import build_message, connect, send, transaction  # noqa: E402
from audit_jsonschema import load_schema, validate_lines  # noqa: E402

S = {}
SENDER = "alice@sender.example"
SCHEMA = load_schema()
CLIENT_DN = "/O=Postern+20Test/CN=client.partner.test"
CA_DN = "/O=Postern+20Test/CN=Postern+20Test+20CA"
ROGUE_DN = "/O=Postern+20Test/CN=rogue.partner.test"


def setup():
    sm = PrivateSendmail(milter_flags="T")
    S["sink"] = Sink(os.path.join(sm.base, "sink")).start()
    sm.relay_port = S["sink"].port
    base = os.path.join(sm.base, "audit")
    os.makedirs(os.path.join(base, "log"))
    os.chmod(base, 0o755)
    mmdb = {k: os.path.join(base, k + ".mmdb") for k in ("country", "asn")}
    subprocess.run(["perl", os.path.join(TOP, "tests", "lib", "make_mmdb.pl"), "country",
                    mmdb["country"], "127.0.0.0/8=NL"], check=True)
    subprocess.run(["perl", os.path.join(TOP, "tests", "lib", "make_mmdb.pl"), "asn",
                    mmdb["asn"], "127.0.0.0/8=64496:Loopback Test AS"], check=True)
    S["key"] = os.path.join(base, "audit.key")
    with open(S["key"], "w") as f:
        f.write("e2e-key-0123456789abcdef0123456789\n")
    os.chmod(S["key"], 0o600)                   # refused otherwise (issue 12, finding 9)
    shutil.copy(S["key"], S["key"] + ".initial")   # the offline copy: the daemon evolves S["key"]
    S["trail"] = os.path.join(base, "log", "audit.jsonl")
    testd = Daemon("postern-testd", base=os.path.join(sm.base, "testd"),
                   socket_dir=sm.socket_dir("testd"))
    os.makedirs(testd.base, exist_ok=True)
    os.chmod(testd.base, 0o755)
    S["testd"] = testd.start()
    audit = Daemon("postern-audit", base=base, socket_dir=sm.socket_dir("audit"), config={
        "trail_file": S["trail"], "key_file": S["key"], "sync": "interval",
        "geoip_country_db": mmdb["country"], "geoip_asn_db": mmdb["asn"],
        "extra_headers": "X-Postern-Test", "body_memory_limit": "64k", "tmp_dir": base,
    })
    S["audit"] = audit.start()
    sm.milters = [testd.spec, audit.spec]
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
        for d in ("audit", "testd"):
            if d in S:
                S[d].stop()


def trail(path=None):
    with open(path or S["trail"], "rb") as f:
        recs = validate_lines(f.read().splitlines(), SCHEMA, path or S["trail"])
    return [r for r in recs if r["event"] not in ("trail-start", "key-change")]


def by_queue_id(qid):
    got = [r for r in trail() if r.get("queue_id") == qid]
    check_eq(len(got), 1, f"records for {qid}")
    return got[0]


def deliver(rcpt, **kw):
    sm, sink = S["sm"], S["sink"]
    msg = build_message(SENDER, [rcpt], subject=f"to {rcpt}", body="Hello.\n")
    r = send("127.0.0.1", sm.port, SENDER, [rcpt], msg, **kw)
    assert r.ok, r
    qid = queue_id_of(r)
    assert qid, r
    deadline = time.time() + 30
    while True:   # the sink may still be receiving earlier tests' mail
        got = [m for m in sink.messages() if rcpt in m.rcpts]
        if got:
            return qid, got[0]
        assert time.time() < deadline, f"{rcpt} never reached the sink"
        time.sleep(0.1)


def strip_header(data, name):
    """data without the (folded) header name: the first one only."""
    lines = data.split(b"\r\n")
    for i, line in enumerate(lines):
        if line.lower().startswith(name.lower() + b":"):
            j = i + 1
            while lines[j][:1] in (b" ", b"\t"):
                j += 1
            return b"\r\n".join(lines[:i] + lines[j:])
        if line == b"":
            break
    raise AssertionError(f"no {name!r} header in {data[:300]!r}")


@test
def message_record_matches_what_sendmail_and_the_sink_saw():
    qid, m = deliver("bob@dest.example")
    rec = by_queue_id(qid)
    check_eq(rec["event"], "message", "event")
    check_eq(rec["host"], "mx.postern.test", "host ({j})")
    check_eq({k: rec["client"][k] for k in ("ip", "helo")},
             {"ip": "127.0.0.1", "helo": "client.postern.test"}, "client")
    check_eq(rec["client"]["geo"], {"country": "NL", "asn": 64496,
                                    "as_org": "Loopback Test AS"}, "geo")
    check_eq(rec["envelope"]["from"], SENDER, "sender")
    check_eq(rec["envelope"]["rcpt"], ["bob@dest.example"], "recipients")
    check_eq(rec["headers"]["subject"], "to bob@dest.example", "subject")
    assert "tls" not in rec, rec
    # Sendmail's own log names the same queue id for this message
    S["sm"].wait_for_log(rf"{qid}: to=<bob@dest\.example>.*stat=Sent", timeout=15)
    # As Postfix, Sendmail shows a later milter the header an earlier one
    # added at end of message
    added = m.headers("X-Postern-Test")
    check_eq(rec["headers"]["extra"]["X-Postern-Test"], [v.strip() for v in added],
             "header the earlier milter added")
    # the digest is of the sink's copy minus Sendmail's Received header,
    # which milters never see
    body = strip_header(m.data, b"Received")
    assert m.data.startswith(b"Received: from client.postern.test"), m.data[:80]
    check_eq(rec["sha256"], hashlib.sha256(body).hexdigest(), "sha256 of the message as relayed")
    check_eq(rec["size"], len(body), "size")


@test
def starttls_with_a_client_certificate_shows_in_tls():
    pki = S["sm"].pki
    qid, m = deliver("carol@dest.example", starttls=True, client_cert=pki.client_cert,
                     client_key=pki.client_key, cafile=pki.ca_cert)
    tls = by_queue_id(qid)["tls"]
    assert re.match(r"TLSv1\.[23]$", tls["version"]), tls
    assert tls["bits"] >= 128 and tls["cipher"], tls
    # Sendmail: the full DN as it sends it (xtext, "+20" a space);
    # Postfix: the common names
    check_eq((tls["cert_subject"], tls["cert_issuer"], tls["verified"]),
             (CLIENT_DN, CA_DN, True), "client certificate ({verify}=OK)")
    qid, m = deliver("dave@dest.example", starttls=True, cafile=pki.ca_cert)
    tls = by_queue_id(qid)["tls"]
    check_eq(tls["verified"], False, "no client certificate ({verify}=NO)")
    # Sendmail sends {cert_subject} and {cert_issuer} empty here; the
    # record leaves them out as it does for Postfix, which does not send them
    assert "cert_subject" not in tls and "cert_issuer" not in tls, tls


@test
def untrusted_client_certificate_is_recorded_as_not_verified():
    pki = S["sm"].pki
    qid, m = deliver("erin@dest.example", starttls=True, client_cert=pki.rogue_cert,
                     client_key=pki.rogue_key, cafile=pki.ca_cert)
    tls = by_queue_id(qid)["tls"]
    # Sendmail sends the names of a certificate it could not verify:
    # {verify}=FAIL is what makes it unverified
    check_eq((tls["cert_subject"], tls["verified"]), (ROGUE_DN, False), "rogue certificate")


@test
def concurrent_senders_give_one_record_per_message_in_one_chain():
    sm = S["sm"]
    before = len(trail())
    queued, errors = [], []
    lock = threading.Lock()

    def sender(i):
        try:
            s = connect("127.0.0.1", sm.port, helo=f"sender{i}.postern.test")
            try:
                for j in range(8):
                    rcpt = f"r{i}x{j}@dest.example"
                    msg = build_message(SENDER, [rcpt], subject=f"load {i} {j}",
                                        body="z" * (i * 500 + j * 37) + "\n")
                    res = transaction(s, SENDER, [rcpt], msg)
                    assert res.ok, res
                    with lock:
                        queued.append((queue_id_of(res), rcpt))
            finally:
                s.quit()
        except Exception as e:  # collected and reported below
            errors.append(repr(e))

    threads = [threading.Thread(target=sender, args=(i,)) for i in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    assert not errors, errors[:3]
    check_eq(len(queued), 64, "messages queued")
    recs = trail()[before:]
    got = sorted((r["queue_id"], r["envelope"]["rcpt"][0]) for r in recs
                 if r["event"] == "message")
    check_eq(got, sorted(queued), "exactly one record per message, with Sendmail's queue id")
    check_eq([r for r in recs if r["event"] != "message"], [],
             "no aborted or connection records for sessions that delivered")
    r = S["audit"].run("verify", "--key", S["key"] + ".initial", S["trail"])
    check_eq(r.returncode, 0, f"verify ({r.stdout}{r.stderr})")


@test
def sighup_after_logrotate_moved_the_file_continues_the_chain():
    audit = S["audit"]
    last = trail()[-1]
    rotated = S["trail"] + ".1"
    os.rename(S["trail"], rotated)
    n = audit.log().count("loaded (generation")
    audit.reload()
    audit.wait_for_log(f"loaded (generation {n + 2})")
    qid, m = deliver("frank@dest.example")
    new = trail()
    check_eq(len(new), 1, "records in the new file")
    check_eq(new[0]["queue_id"], qid, "queue id")
    check_eq(new[0]["seq"], last["seq"] + 1, "seq continues")
    r = audit.run("verify", "--key", S["key"] + ".initial", rotated, S["trail"])
    check_eq(r.returncode, 0, f"verify across the rotated and the new file ({r.stdout})")


if __name__ == "__main__":
    main(setup, teardown)
