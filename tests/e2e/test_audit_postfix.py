#!/usr/bin/env python3
# SPDX-License-Identifier: BSD-2-Clause
"""End-to-end: postern-audit attached last to a private Postfix on
127.0.0.1, after postern-testd (which adds a header at end of message, as
postern-tls would). Checks what a compliance officer reads later: one
record per message with the queue id Postfix reported, the client with its
GeoIP facts (a test database maps 127.0.0.0/8), the header the earlier
milter added, STARTTLS with a client certificate, a digest of the message
as Postfix handed it over; twenty concurrent senders give exactly one
record per message in one verified chain; a SIGHUP after logrotate moved
the file continues the chain in the new file; every record matches the
JSON Schema."""
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
from postfix import PrivatePostfix  # noqa: E402
from sink import Sink  # noqa: E402
from smtp import build_message, connect, send, transaction  # noqa: E402
from audit_jsonschema import load_schema, validate_lines  # noqa: E402

S = {}
SENDER = "alice@sender.example"
SCHEMA = load_schema()


def setup():
    pf = PrivatePostfix()
    S["sink"] = Sink(os.path.join(pf.base, "sink")).start()
    pf.relay_port = S["sink"].port
    base = os.path.join(pf.base, "audit")
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
    testd = Daemon("postern-testd", base=os.path.join(pf.base, "testd"))
    os.makedirs(testd.base, exist_ok=True)
    os.chmod(testd.base, 0o755)
    S["testd"] = testd.start()
    audit = Daemon("postern-audit", base=base, config={
        "trail_file": S["trail"], "key_file": S["key"], "sync": "interval",
        "geoip_country_db": mmdb["country"], "geoip_asn_db": mmdb["asn"],
        "extra_headers": "X-Postern-Test", "body_memory_limit": "64k", "tmp_dir": base,
    })
    S["audit"] = audit.start()
    pf.milters = [testd.spec, audit.spec]
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
    pf, sink = S["pf"], S["sink"]
    msg = build_message(SENDER, [rcpt], subject=f"to {rcpt}", body="Hello.\n")
    r = send("127.0.0.1", pf.port, SENDER, [rcpt], msg, **kw)
    assert r.ok, r
    deadline = time.time() + 30
    while True:   # the sink may still be receiving earlier tests' mail
        got = [m for m in sink.messages() if rcpt in m.rcpts]
        if got:
            return r, got[0]
        assert time.time() < deadline, f"{rcpt} never reached the sink"
        time.sleep(0.1)


def without_received(data):
    """The message minus the Received header Postfix put on top, which
    milters never see."""
    assert data.startswith(b"Received:"), data[:80]
    lines = data.split(b"\r\n")
    i = 1
    while lines[i][:1] in (b" ", b"\t"):
        i += 1
    return b"\r\n".join(lines[i:])


@test
def message_record_matches_what_postfix_and_the_sink_saw():
    r, m = deliver("bob@dest.example")
    rec = by_queue_id(r.queue_id)
    check_eq(rec["event"], "message", "event")
    check_eq(rec["host"], "mx.postern.test", "host ({j})")
    check_eq({k: rec["client"][k] for k in ("ip", "helo")},
             {"ip": "127.0.0.1", "helo": "client.postern.test"}, "client")
    check_eq(rec["client"]["geo"], {"country": "NL", "asn": 64496,
                                    "as_org": "Loopback Test AS"}, "geo")
    check_eq(rec["envelope"]["from"], SENDER, "sender")
    check_eq(rec["envelope"]["rcpt"], ["bob@dest.example"], "recipients")
    check_eq(rec["headers"]["subject"], "to bob@dest.example", "subject")
    added = m.headers("X-Postern-Test")
    check_eq(rec["headers"]["extra"]["X-Postern-Test"], [v.strip() for v in added],
             "header the earlier milter added")
    assert "tls" not in rec, rec
    body = without_received(m.data)
    check_eq(rec["sha256"], hashlib.sha256(body).hexdigest(), "sha256 of the message as relayed")
    check_eq(rec["size"], len(body), "size")


@test
def starttls_with_a_client_certificate_shows_in_tls():
    pki = S["pf"].pki
    r, m = deliver("carol@dest.example", starttls=True, client_cert=pki.client_cert,
                   client_key=pki.client_key, cafile=pki.ca_cert)
    tls = by_queue_id(r.queue_id)["tls"]
    assert re.match(r"TLSv1\.[23]$", tls["version"]), tls
    assert tls["bits"] >= 128 and tls["cipher"], tls
    check_eq((tls["cert_subject"], tls["cert_issuer"], tls["verified"]),
             ("client.partner.test", "Postern Test CA", True), "client certificate")
    r, m = deliver("dave@dest.example", starttls=True, cafile=pki.ca_cert)
    tls = by_queue_id(r.queue_id)["tls"]
    check_eq(tls["verified"], False, "no client certificate")
    assert "cert_subject" not in tls, tls


@test
def twenty_concurrent_senders_give_one_record_per_message_in_one_chain():
    pf = S["pf"]
    before = len(trail())
    queued, errors = [], []
    lock = threading.Lock()

    def sender(i):
        try:
            s = connect("127.0.0.1", pf.port, helo=f"sender{i}.postern.test")
            try:
                for j in range(15):
                    rcpt = f"r{i}x{j}@dest.example"
                    msg = build_message(SENDER, [rcpt], subject=f"load {i} {j}",
                                        body="z" * (i * 500 + j * 37) + "\n")
                    res = transaction(s, SENDER, [rcpt], msg)
                    assert res.ok, res
                    with lock:
                        queued.append((res.queue_id, rcpt))
            finally:
                s.quit()
        except Exception as e:  # collected and reported below
            errors.append(repr(e))

    threads = [threading.Thread(target=sender, args=(i,)) for i in range(20)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    assert not errors, errors[:3]
    check_eq(len(queued), 300, "messages queued")
    recs = trail()[before:]
    got = sorted((r["queue_id"], r["envelope"]["rcpt"][0]) for r in recs
                 if r["event"] == "message")
    check_eq(got, sorted(queued), "exactly one record per message")
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
    r, m = deliver("erin@dest.example")
    new = trail()
    check_eq(len(new), 1, "records in the new file")
    check_eq(new[0]["queue_id"], r.queue_id, "queue id")
    check_eq(new[0]["seq"], last["seq"] + 1, "seq continues")
    r = audit.run("verify", "--key", S["key"] + ".initial", rotated, S["trail"])
    check_eq(r.returncode, 0, f"verify across the rotated and the new file ({r.stdout})")
    head = audit.run("checkpoint").stdout.strip()
    check_eq(head.split(":")[0], str(new[0]["seq"]), "checkpoint seq")


@test
def every_record_postfix_produced_is_a_valid_siem_event_in_each_format():
    import json
    import audit_siem_check as siem
    from tap import skip
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
    main(setup, teardown)
