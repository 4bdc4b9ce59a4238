#!/usr/bin/env python3
# SPDX-License-Identifier: BSD-2-Clause
"""End-to-end: postern-audit attached last to a private Postfix and to a
private Sendmail on 127.0.0.1 (tests/lib/mta.py; Sendmail with the macro
lists of packaging/sendmail/postern.mc-snippet), after postern-testd
(which adds a header at end of message, as postern-tls would). Checks what
a compliance officer reads later: one record per message with the queue
id the MTA reported, the client with its GeoIP facts (a test database maps
127.0.0.0/8), the header the earlier milter added, STARTTLS with a client
certificate (and with an untrusted one), a digest of the message as the
MTA handed it over; concurrent senders give exactly one record per message
in one verified chain; a SIGHUP after logrotate moved the file continues
the chain in the new file; every record matches the JSON Schema and is a
valid SIEM event in each export format.

Every scenario runs against both MTAs; what they do differently is said
in tests/lib: the queue id (Postfix's "queued as", Sendmail's i macro,
"QID Message accepted"), the certificate names (Postfix sends the common
names of a verified certificate only; Sendmail the full DN, xtext-encoded,
for an untrusted certificate too, with {verify} saying OK, FAIL or NO)."""
import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
import threading
import time

TOP = os.environ.get("POSTERN_TOP") or os.path.abspath(
    os.path.join(os.path.dirname(__file__), "..", ".."))
sys.path.insert(0, os.path.join(TOP, "tests", "lib"))
sys.path.insert(0, os.path.join(TOP, "tests", "milter"))

from tap import test, main, check_eq, skip  # noqa: E402
from daemon import Daemon, suite_mode  # noqa: E402
from mta import mta_params, private_mta_and_sink, stop_all  # noqa: E402
from smtp import build_message, connect, send, transaction  # noqa: E402
from audit_jsonschema import load_schema, validate_lines  # noqa: E402
import audit_siem_check as siem  # noqa: E402

S = {}
SENDER = "alice@sender.example"
SCHEMA = load_schema()
# (senders, messages each) of the concurrency scenario: Sendmail forks a
# process per connection and delivers each message at once, so it gets a
# smaller load in the same time
LOAD = {"postfix": (20, 15), "sendmail": (8, 8)}


def setup(kind):
    S.clear()
    mta, S["sink"] = private_mta_and_sink(kind)
    base = mta.daemon_base("audit")
    os.makedirs(os.path.join(base, "log"))
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
    S["testd"] = Daemon("postern-testd", base=mta.daemon_base("testd"),
                        socket_dir=mta.socket_dir("testd")).start()
    S["audit"] = Daemon("postern-audit", base=base, socket_dir=mta.socket_dir("audit"),
                        suite=suite_mode(kind), config={
        "trail_file": S["trail"], "key_file": S["key"], "sync": "interval",
        "geoip_country_db": mmdb["country"], "geoip_asn_db": mmdb["asn"],
        "extra_headers": "X-Postern-Test", "body_memory_limit": "64k", "tmp_dir": base,
    }).start()
    mta.milters = [S["testd"].spec, S["audit"].spec]
    S["mta"] = mta.start()


def teardown():
    stop_all(S.get("mta"), S.get("sink"), [S[n] for n in ("audit", "testd") if n in S])


def trail(path=None):
    with open(path or S["trail"], "rb") as f:
        recs = validate_lines(f.read().splitlines(), SCHEMA, path or S["trail"])
    return [r for r in recs if r["event"] not in ("trail-start", "key-change")]


def by_queue_id(qid):
    got = [r for r in trail() if r.get("queue_id") == qid]
    check_eq(len(got), 1, f"records for {qid}")
    return got[0]


def deliver(rcpt, **kw):
    """Send one message to rcpt; return (the MTA's queue id, the sink's copy)."""
    mta, sink = S["mta"], S["sink"]
    msg = build_message(SENDER, [rcpt], subject=f"to {rcpt}", body="Hello.\n")
    r = send("127.0.0.1", mta.port, SENDER, [rcpt], msg, **kw)
    assert r.ok and r.queue_id, r
    deadline = time.time() + 30
    while True:   # the sink may still be receiving earlier tests' mail
        got = [m for m in sink.messages() if rcpt in m.rcpts]
        if got:
            return r.queue_id, got[0]
        assert time.time() < deadline, f"{rcpt} never reached the sink"
        time.sleep(0.1)


@test
def message_record_matches_what_the_mta_and_the_sink_saw():
    mta = S["mta"]
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
    # the MTA's own log names the same queue id for this message
    mta.wait_for_log(mta.sent_line(qid, "bob@dest.example"), timeout=15)
    # both MTAs show a later milter the header an earlier one added at end
    # of message
    added = m.headers("X-Postern-Test")
    check_eq(rec["headers"]["extra"]["X-Postern-Test"], [v.strip() for v in added],
             "header the earlier milter added")
    body = m.without_received()
    check_eq(rec["sha256"], hashlib.sha256(body).hexdigest(), "sha256 of the message as relayed")
    check_eq(rec["size"], len(body), "size")


@test
def starttls_with_a_client_certificate_shows_in_tls():
    mta = S["mta"]
    qid, m = deliver("carol@dest.example", **mta.starttls("client"))
    tls = by_queue_id(qid)["tls"]
    assert re.match(r"TLSv1\.[23]$", tls["version"]), tls
    assert tls["bits"] >= 128 and tls["cipher"], tls
    check_eq((tls["cert_subject"], tls["cert_issuer"], tls["verified"]),
             (*mta.cert_macros("client"), True), "client certificate (Sendmail: {verify}=OK)")
    qid, m = deliver("dave@dest.example", **mta.starttls())
    tls = by_queue_id(qid)["tls"]
    check_eq(tls["verified"], False, "no client certificate (Sendmail: {verify}=NO)")
    # Postfix does not send {cert_subject} and {cert_issuer} here, Sendmail
    # sends them empty: the record leaves them out for both
    assert "cert_subject" not in tls and "cert_issuer" not in tls, tls


@test
def untrusted_client_certificate_is_recorded_as_not_verified():
    mta = S["mta"]
    qid, m = deliver("erin@dest.example", **mta.starttls("rogue"))
    tls = by_queue_id(qid)["tls"]
    # Sendmail sends the names of a certificate it could not verify:
    # {verify}=FAIL is what makes it unverified; Postfix sends no names
    check_eq((tls.get("cert_subject"), tls["verified"]), (mta.cert_macros("rogue")[0], False),
             "rogue certificate")


@test
def concurrent_senders_give_one_record_per_message_in_one_chain():
    mta = S["mta"]
    senders, each = LOAD[mta.kind]
    before = len(trail())
    queued, errors = [], []
    lock = threading.Lock()

    def sender(i):
        try:
            s = connect("127.0.0.1", mta.port, helo=f"sender{i}.postern.test")
            try:
                for j in range(each):
                    rcpt = f"r{i}x{j}@dest.example"
                    msg = build_message(SENDER, [rcpt], subject=f"load {i} {j}",
                                        body="z" * (i * 500 + j * 37) + "\n")
                    res = transaction(s, SENDER, [rcpt], msg)
                    assert res.ok and res.queue_id, res
                    with lock:
                        queued.append((res.queue_id, rcpt))
            finally:
                s.quit()
        except Exception as e:  # collected and reported below
            errors.append(repr(e))

    threads = [threading.Thread(target=sender, args=(i,)) for i in range(senders)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    assert not errors, errors[:3]
    check_eq(len(queued), senders * each, "messages queued")
    recs = trail()[before:]
    got = sorted((r["queue_id"], r["envelope"]["rcpt"][0]) for r in recs
                 if r["event"] == "message")
    check_eq(got, sorted(queued), "exactly one record per message, with the MTA's queue id")
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
    head = audit.run("checkpoint").stdout.strip()
    check_eq(head.split(":")[0], str(new[0]["seq"]), "checkpoint seq")


@test
def every_record_the_mta_produced_is_a_valid_siem_event_in_each_format():
    ref = siem.reference()
    if ref is None:
        skip("../shared/siem not present")
    audit = S["audit"]
    table = siem.fields_table(audit.run("fields").stdout)
    files = [S["trail"] + ".1", S["trail"]]
    checks = {"ecs": lambda e: siem.check_ecs(e, table, ref),
              "ocsf": lambda e: siem.check_ocsf(e, table, ref),
              "cim": lambda e: siem.check_cim(e, table)}
    for fmt, check in checks.items():
        r = audit.run("export", "--format", fmt, *files)
        check_eq(r.returncode, 0, f"{fmt}: export ({r.stderr})")
        events = [json.loads(x) for x in r.stdout.splitlines()]
        assert len(events) > 20, f"{fmt}: {len(events)} events"
        check_eq(sorted({p for e in events for p in check(e)}), [], f"{fmt} problems")


if __name__ == "__main__":
    main(setup, teardown, params=mta_params())
