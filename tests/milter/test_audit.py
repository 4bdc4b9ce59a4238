#!/usr/bin/env python3
# SPDX-License-Identifier: BSD-2-Clause
"""Milter-protocol tests of postern-audit, driven over its socket by
tests/lib/milter_client like an MTA would.

What an administrator relies on: one record per message with the client,
TLS, envelope, headers and a digest of the message as received; aborted
messages and bare connections leave records too; concurrent connections
give one unbroken chain; a SIGHUP after logrotate moved the file, and a
restart, continue the chain; a key signs every record; a trail that
cannot be written refuses mail (451) instead of losing its record; every
record matches the published JSON Schema.
"""
import glob
import gzip
import hashlib
import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "lib"))
sys.path.insert(0, HERE)
from tap import test, main, check_eq  # noqa: E402
import milter_client as mc  # noqa: E402
from daemon import Daemon  # noqa: E402
from audit_jsonschema import load_schema, validate_lines  # noqa: E402

BASE = tempfile.mkdtemp(prefix="postern-audit-milter-")
os.chmod(BASE, 0o755)
TRAIL = os.path.join(BASE, "log", "audit.jsonl")
KEY = os.path.join(BASE, "audit.key")
MMDB = os.path.join(BASE, "mmdb")
os.makedirs(os.path.dirname(TRAIL))
D = Daemon("postern-audit", base=BASE, config={
    "trail_file": TRAIL,
    "sync": "always",
    "body_memory_limit": "16k",
    "tmp_dir": BASE,
    "extra_headers": "X-Postern-Test, X-Spam-Score",
})
SCHEMA = load_schema()

MSG = (b"From: Alice <alice@example.com>\r\nTo: Bob <bob@example.org>\r\n"
       b"Subject: =?UTF-8?Q?caf=C3=A9?= report\r\n\tfolded\r\n"
       b"Message-ID: <m1@example.com>\r\nX-Spam-Score: 2.5\r\n\r\nline one\r\nline two\r\n")


def setup():
    with open(KEY, "w") as f:
        f.write("0123456789abcdef0123456789abcdef\n")
    os.chmod(KEY, 0o600)   # the daemon refuses a key others can read (issue 12, finding 9)
    shutil.copy(KEY, KEY + ".initial")   # the administrator's offline copy: the daemon evolves KEY
    os.makedirs(MMDB)
    top = os.path.join(HERE, "..", "..")
    for kind in ("country", "asn"):
        subprocess.run(["perl", os.path.join(top, "tests", "lib", "make_mmdb.pl"), kind,
                        os.path.join(MMDB, kind + ".mmdb")], check=True)
    D.start()


def teardown():
    try:
        D.stop()
    finally:
        shutil.rmtree(BASE, ignore_errors=True)


def trail_files():
    """Rotated files (oldest first, as the tests name them) then the current one."""
    rotated = sorted((p for p in glob.glob(TRAIL + ".*")
                      if not p.endswith((".head", ".tmp", ".key"))), key=os.path.getmtime)
    return rotated + ([TRAIL] if os.path.exists(TRAIL) else [])


def read_lines(path):
    opener = gzip.open if path.endswith(".gz") else open
    with opener(path, "rb") as f:
        return f.read().splitlines()


OWN_EVENTS = ("trail-start", "key-change")   # the daemon's own records, not mail


def records(validate=True):
    """Every mail record of the trail, in order, each checked against the schema."""
    out = []
    for p in trail_files():
        out += validate_lines(read_lines(p), SCHEMA, p) if validate else \
            [json.loads(x) for x in read_lines(p)]
    return [r for r in out if r["event"] not in OWN_EVENTS]


def wait_records(n, timeout=10):
    """Records once there are at least n (connection records come at close)."""
    deadline = time.time() + timeout
    while time.time() < deadline:
        recs = records(validate=False)
        if len(recs) >= n:
            return records()
        time.sleep(0.05)
    raise AssertionError(f"want {n} records, have {len(records(validate=False))}")


def client(tls=None, cert_subject=None, addr="192.0.2.10", port=40000, macros_extra=None):
    c = mc.MilterClient(D.spec)
    c.negotiate()
    macros = mc.postfix_macros(tls=tls, cert_subject=cert_subject,
                               cert_issuer="Postern Test CA" if cert_subject else None)
    if macros_extra:
        macros[mc.SMFIC_HELO].update(macros_extra)
    c.connect("client.example", mc.SMFIA_INET, port, addr, macros=macros[mc.SMFIC_CONNECT])
    c.helo("helo.example", macros=macros[mc.SMFIC_HELO])
    return c


def reload(config):
    """SIGHUP with a changed configuration; wait until the daemon loaded it."""
    D.reload_and_wait(config)


def verify(*args):
    r = D.run("verify", *args)
    return r.returncode, r.stdout + r.stderr


@test
def negotiates_no_modifications_and_no_data_or_eoh_step():
    c = mc.MilterClient(D.spec)
    n = c.negotiate()
    # SMFIF_SETSYMLIST asks for macros (the envelope addresses), it modifies nothing
    check_eq(n.actions & ~mc.SMFIF_SETSYMLIST, 0, "modifications asked for")
    for flag in ("SMFIP_NODATA", "SMFIP_NOEOH", "SMFIP_NR_HDR", "SMFIP_NR_BODY"):
        assert n.protocol & getattr(mc, flag), f"{flag} not negotiated: 0x{n.protocol:x}"
    for flag in ("SMFIP_NOCONNECT", "SMFIP_NOHELO", "SMFIP_NOMAIL", "SMFIP_NORCPT",
                 "SMFIP_NOHDRS", "SMFIP_NOBODY"):
        assert not n.protocol & getattr(mc, flag), f"{flag} negotiated: 0x{n.protocol:x}"
    c.quit()


@test
def message_record_tells_who_what_from_where_over_what():
    before = len(records())
    c = client(tls="TLSv1.3", cert_subject="client.partner.test")
    t = c.transaction("<alice@example.com>", ["<bob@example.org>", "<carol@example.org>"], MSG,
                      mail_args=("SIZE=4096", "BODY=8BITMIME"), queue_id="4QmSg1")
    check_eq(t.reply.action, "continue", "eom reply")
    c.quit()
    r = wait_records(before + 1)[before]
    check_eq(r["event"], "message", "event")
    check_eq(r["queue_id"], "4QmSg1", "queue id")
    check_eq(r["host"], "mx.postern.test", "host ({j})")
    check_eq(r["client"], {"ip": "192.0.2.10", "port": 40000, "name": "client.example",
                           "helo": "helo.example"}, "client")
    check_eq(r["tls"], {"version": "TLSv1.3", "cipher": "TLS_AES_256_GCM_SHA384", "bits": 256,
                        "cert_subject": "client.partner.test",
                        "cert_issuer": "Postern Test CA", "verified": True}, "tls")
    check_eq(r["envelope"], {"from": "alice@example.com",
                             "rcpt": ["bob@example.org", "carol@example.org"],
                             "size": 4096, "body": "8BITMIME"}, "envelope")
    h = r["headers"]
    check_eq(h["subject"], "caf\u00e9 report\tfolded",
             "decoded, unfolded (CRLF removed, tab kept) subject")
    check_eq(h["from"], [{"addr": "alice@example.com", "name": "Alice"}], "from")
    check_eq(h["message_id"], "<m1@example.com>", "message id")
    check_eq(h["extra"], {"X-Spam-Score": ["2.5"]}, "extra headers")
    check_eq(r["size"], len(MSG), "size")
    check_eq(r["sha256"], hashlib.sha256(MSG).hexdigest(),
             "sha256 of the message as received (CRLF, so the raw bytes)")
    check_eq(r["attachments"], [], "attachments")


@test
def plaintext_session_has_no_tls_member():
    before = len(records())
    c = client()
    c.transaction("<a@example.com>", ["<b@example.org>"], MSG)
    c.quit()
    r = wait_records(before + 1)[before]
    assert "tls" not in r, r


@test
def attachments_are_listed_with_decoded_names_and_digests():
    pdf = bytes(range(256)) * 40
    import base64
    raw = (b"From: a@example.com\r\nTo: b@example.org\r\nSubject: files\r\nMIME-Version: 1.0\r\n"
           b"Content-Type: multipart/mixed; boundary=\"b1\"\r\n\r\n--b1\r\n"
           b"Content-Type: text/plain\r\n\r\nsee attached\r\n--b1\r\n"
           b"Content-Type: application/pdf\r\nContent-Transfer-Encoding: base64\r\n"
           b"Content-Disposition: attachment; filename*=UTF-8''r%C3%A9sum%C3%A9.pdf\r\n\r\n"
           + base64.encodebytes(pdf).replace(b"\n", b"\r\n") + b"--b1--\r\n")
    before = len(records())
    c = client()
    t = c.transaction("<a@example.com>", ["<b@example.org>"], raw)
    check_eq(t.reply.action, "continue", "eom reply (body spooled to disk)")
    c.quit()
    r = wait_records(before + 1)[before]
    check_eq(r["attachments"], [{"filename": "r\u00e9sum\u00e9.pdf",
                                 "content_type": "application/pdf", "size": len(pdf),
                                 "sha256": hashlib.sha256(pdf).hexdigest()}], "attachments")
    check_eq(r["sha256"], hashlib.sha256(raw).hexdigest(), "sha256 of a spooled message")


@test
def address_comments_and_broken_literals_are_not_names_or_hosts():
    """RFC 5322 3.4: a comment inside an addr-spec is not a display name;
    an unterminated domain literal stays unparsed text, not a host."""
    raw = (b"From: pat(work)@example.org\r\nTo: <pat@[198.51.100.7>, Bob <bob@example.org>\r\n"
           b"Cc: <carol(home)@example.org> (Carol)\r\nSubject: comments\r\n\r\nhi\r\n")
    before = len(records())
    c = client()
    c.transaction("<pat@example.org>", ["<bob@example.org>"], raw)
    c.quit()
    h = wait_records(before + 1)[before]["headers"]
    check_eq(h["from"], [{"addr": "pat@example.org"}], "from: no name from the inner comment")
    check_eq(h["to"], [{"addr": "bob@example.org", "name": "Bob"}],
             "to: the broken literal gives no mailbox")
    check_eq(h["unparsed"], {"to": "<pat@[198.51.100.7>, Bob <bob@example.org>"},
             "to: the text is kept as written")
    check_eq(h["cc"], [{"addr": "carol@example.org", "name": "Carol"}],
             "cc: the trailing comment is the name")


@test
def aborted_message_leaves_what_was_known():
    before = len(records())
    c = client()
    c.mail("<quitter@example.com>", macros={"{mail_addr}": "quitter@example.com"})
    c.rcpt("<r@example.org>")
    c.abort()
    c.quit()
    r = wait_records(before + 1)[before]
    check_eq(r["event"], "aborted", "event")
    check_eq(r["envelope"]["from"], "quitter@example.com", "sender")
    check_eq(r["envelope"]["rcpt"], ["r@example.org"], "recipients")
    assert "sha256" not in r, r


@test
def connection_without_message_leaves_a_connection_record():
    before = len(records())
    c = client(addr="198.51.100.7", port=50123)
    c.quit()
    r = wait_records(before + 1)[before]
    check_eq(r["event"], "connection", "event")
    check_eq(r["client"]["ip"], "198.51.100.7", "client")
    assert "queue_id" not in r and "envelope" not in r, r


@test
def geoip_fills_client_geo():
    reload({"geoip_country_db": os.path.join(MMDB, "country.mmdb"),
            "geoip_asn_db": os.path.join(MMDB, "asn.mmdb")})
    before = len(records())
    c = client(addr="192.0.2.77")
    c.transaction("<a@example.com>", ["<b@example.org>"], MSG)
    c.quit()
    r = wait_records(before + 1)[before]
    check_eq(r["client"]["geo"], {"country": "DE", "asn": 64500,
                                  "as_org": "Example Transit AS"}, "geo")


@test
def concurrent_connections_give_one_record_each_in_one_chain():
    before = len(records())
    sent, errors = [], []
    lock = threading.Lock()

    def worker(i):
        try:
            c = client(addr=f"192.0.2.{100 + i}", port=30000 + i)
            for j in range(10):
                qid = f"4C{i:02d}M{j:02d}"
                body = b"x" * (i * 997 + j * 131) + b"\r\n"
                t = c.transaction(f"<s{i}@example.com>", [f"<r{j}@example.org>"],
                                  MSG + body, queue_id=qid)
                assert t.reply.action == "continue", t
                with lock:
                    sent.append((qid, hashlib.sha256(MSG + body).hexdigest()))
            c.quit()
        except Exception as e:  # reported below
            errors.append(repr(e))

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(20)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    assert not errors, errors[:3]
    recs = wait_records(before + 200)[before:]
    got = sorted((r["queue_id"], r["sha256"]) for r in recs if r["event"] == "message")
    check_eq(got, sorted(sent), "one record per message, with its digest")
    check_eq([r["seq"] for r in recs], list(range(recs[0]["seq"], recs[0]["seq"] + len(recs))),
             "seq without gaps")
    rc, out = verify(TRAIL)
    check_eq(rc, 0, f"verify exit status ({out})")


@test
def key_signs_records_and_verify_checks_the_mac():
    reload({"key_file": KEY})
    before = len(records())
    c = client()
    c.transaction("<a@example.com>", ["<b@example.org>"], MSG)
    c.quit()
    r = wait_records(before + 1)[before]
    assert len(r.get("mac", "")) == 64, r
    # the unsigned records before the key are covered by the signed key-change record
    own = [json.loads(x) for x in read_lines(TRAIL)]
    change = [x for x in own if x["event"] == "key-change"]
    check_eq(len(change), 1, "key-change records")
    assert "mac" in change[0] and "previous_key_id" not in change[0], change[0]
    rc, out = verify("--key", KEY + ".initial", TRAIL)
    check_eq(rc, 0, f"verify --key across the key change ({out})")
    assert "intact:" in out and "2 macs checked" in out, out
    rc, out = verify(TRAIL)
    check_eq(rc, 1, f"verify without the key of a sealed trail ({out})")
    assert "not checked" in out, out
    wrong = os.path.join(BASE, "wrong.key")
    with open(wrong, "w") as f:
        f.write("another key of sufficient length\n")
    rc, out = verify("--key", wrong, TRAIL)
    check_eq(rc, 1, f"verify with the wrong key ({out})")
    assert "not checked" in out, out
    lines = read_lines(TRAIL)
    edited = os.path.join(BASE, "edited.jsonl")
    with open(edited, "wb") as f:
        f.write(b"".join(x + b"\n" for x in lines[:-1]))
        f.write(lines[-1].replace(b"a@example.com", b"z@example.com") + b"\n")
    rc, out = verify("--key", KEY + ".initial", edited)
    check_eq(rc, 1, f"verify of an edited signed record ({out})")
    assert "mac does not match" in out, out


@test
def sighup_after_logrotate_moves_the_file_continues_the_chain_in_a_new_file():
    before = records()
    os.rename(TRAIL, TRAIL + ".1")
    reload({})
    c = client()
    c.transaction("<a@example.com>", ["<b@example.org>"], MSG)
    c.quit()
    new = validate_lines(read_lines(TRAIL), SCHEMA, TRAIL)
    check_eq(len(new), 1, "records in the new file")
    check_eq(new[0]["seq"], before[-1]["seq"] + 1, "seq continues")
    last = read_lines(TRAIL + ".1")[-1]
    check_eq(new[0]["prev"], hashlib.sha256(last).hexdigest(), "prev is the old file's last line")
    rc, out = verify("--key", KEY + ".initial", TRAIL + ".1", TRAIL)
    check_eq(rc, 0, f"verify across both files ({out})")


@test
def restart_recovers_the_chain_from_the_newest_rotated_file():
    last_seq = records()[-1]["seq"]
    D.stop()
    # logrotate with compress: current file moved and gzipped, none in its place
    with open(TRAIL, "rb") as f, gzip.open(TRAIL + ".0.gz", "wb") as g:
        g.write(f.read())
    os.utime(TRAIL + ".0.gz", (time.time() + 5, time.time() + 5))
    os.unlink(TRAIL)
    D.start()
    c = client()
    c.transaction("<a@example.com>", ["<b@example.org>"], MSG)
    c.quit()
    new = validate_lines(read_lines(TRAIL), SCHEMA, TRAIL)
    check_eq(new[0]["seq"], last_seq + 1, "seq after a restart")
    rc, out = verify("--key", KEY + ".initial", TRAIL + ".1", TRAIL + ".0.gz", TRAIL)
    check_eq(rc, 0, f"verify across plain, gzip and current files ({out})")


@test
def privacy_options_redact_and_pseudonymize():
    reload({"redact": "subject, helo", "pseudonymize_addresses": "yes",
              "pseudonymize_key_file": KEY})
    before = len(records())
    c = client()
    c.transaction("<Alice@example.com>", ["<bob@example.org>"], MSG)
    c.quit()
    r = wait_records(before + 1)[before]
    assert "subject" not in r["headers"] and "helo" not in r["client"], r
    sender = r["envelope"]["from"]
    assert sender.startswith("anon-") and sender.endswith("@example.com"), sender
    check_eq(r["headers"]["from"][0], {"addr": sender}, "header From: same pseudonym, no name")
    check_eq(r["privacy"], {"redacted": ["subject", "helo"], "pseudonymized": True}, "privacy")
    reload({"redact": "", "pseudonymize_addresses": "no"})


@test
def unwritable_trail_refuses_mail_with_451_instead_of_losing_its_record():
    reload({"trail_file": os.path.join(BASE, "missing-dir", "audit.jsonl")})
    c = client()
    t = c.transaction("<a@example.com>", ["<b@example.org>"], MSG, queue_id="4FaIl1")
    check_eq(t.reply.action, "replycode", "eom reply")
    assert t.reply.text.startswith("451 4.3.0"), t.reply.text
    c.quit()
    D.wait_for_log("4FaIl1: audit: message record not written")
    reload({"trail_file": TRAIL})
    c = client()
    t = c.transaction("<a@example.com>", ["<b@example.org>"], MSG)
    check_eq(t.reply.action, "continue", "eom reply once the trail is back")
    c.quit()


@test
def syslog_gets_the_same_line_with_the_cee_prefix():
    """Needs /dev/log to itself: on machines without a syslog daemon (like
    the test machines) the test binds it for its duration."""
    if os.path.exists("/dev/log"):
        print("# /dev/log belongs to a running syslog daemon: checked by hand only")
        return
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    sock.bind("/dev/log")
    sock.settimeout(0.2)
    got, done = [], threading.Event()

    def reader():   # keep reading so that no sender ever blocks on a full socket
        while not done.is_set():
            try:
                got.append(sock.recv(1 << 20))
            except socket.timeout:
                pass
    t = threading.Thread(target=reader)
    t.start()
    path = os.path.join(BASE, "syslog", "audit.jsonl")
    d = Daemon("postern-audit", base=os.path.join(BASE, "syslog"),
               config={"trail_file": path, "syslog": "yes", "syslog_cee": "yes"})
    try:
        d.start()
        c = mc.MilterClient(d.spec)
        c.negotiate()
        c.connect("client.example", mc.SMFIA_INET, 4242, "192.0.2.99")
        c.helo("helo.example")
        c.quit()
        deadline = time.time() + 10
        while not any(b"@cee: " in m for m in got) and time.time() < deadline:
            time.sleep(0.05)
        d.stop()
    finally:
        done.set()
        t.join()
        sock.close()
        os.unlink("/dev/log")
    lines = [m for m in got if b"@cee: " in m]
    # the trail-start record too: the syslog copy is a whole chain
    check_eq(len(lines), 2, "records sent to syslog")
    for i in range(2):
        check_eq(lines[i][:4], b"<22>", "facility mail, level info")
        check_eq(lines[i].split(b"@cee: ", 1)[1].rstrip(b"\n"), read_lines(path)[i],
                 "the same line as in the file")


@test
def check_reports_bad_parameters_with_file_and_line():
    bad = Daemon("postern-audit", base=os.path.join(BASE, "bad"),
                 config={"trail_file": TRAIL, "redact": "subject, colour"})
    r = bad.run("check")
    check_eq(r.returncode, 78, "check exit status")
    assert 'parameter "redact"' in r.stderr and "colour" in r.stderr, r.stderr
    good = Daemon("postern-audit", base=os.path.join(BASE, "good"),
                  config={"trail_file": TRAIL, "key_file": KEY})
    r = good.run("check")
    check_eq(r.returncode, 0, f"check of a good file ({r.stderr})")


@test
def every_record_matches_the_json_schema_and_the_whole_trail_verifies():
    recs = records()
    assert len(recs) > 200, len(recs)
    kinds = {r["event"] for r in recs}
    check_eq(kinds, {"message", "aborted", "connection"}, "events seen")


if __name__ == "__main__":
    main(setup, teardown)
