#!/usr/bin/env python3
# SPDX-License-Identifier: BSD-2-Clause
"""postern-audit export --format ecs|ocsf|cim as a SIEM administrator checks it.

Every record the audit tests produce (the record builder's golden records, the
sample trail of twelve, and records a live daemon writes here over the milter
protocol: TLS with a client certificate, GeoIP, attachments, an aborted
message, a bare connection, privacy options) is exported in each format and
validated against the reference schemas in $POSTERN_TOP/../shared/siem (ECS:
every field exists with a value of its type; OCSF: the class's required
attributes, the dictionary's types, nothing outside the class but unmapped;
CIM: the 11 required fields non-empty), and against the project's own field
table (`postern-audit fields`), which is itself checked against the
references. Without ../shared/siem the reference checks are reported as
skipped, never passed.

Records of kinds the mapping does not know (a trail's own records with a
"type", members of unexpected JSON types) map to a generic event or are
skipped by the documented rule, never crash. Redaction and
pseudonymisation show the same in every format."""
import base64
import glob
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "lib"))
sys.path.insert(0, HERE)
from tap import test, main, check_eq, skip  # noqa: E402
import milter_client as mc  # noqa: E402
from daemon import Daemon  # noqa: E402
import audit_siem_check as siem  # noqa: E402

TOP = os.path.abspath(os.path.join(HERE, "..", ".."))
DATA = os.path.join(TOP, "tests", "unit", "data", "audit")
BASE = tempfile.mkdtemp(prefix="postern-audit-siem-")
os.chmod(BASE, 0o755)
TRAIL = os.path.join(BASE, "log", "audit.jsonl")
KEY = os.path.join(BASE, "pseudo.key")
MMDB = os.path.join(BASE, "mmdb")
os.makedirs(os.path.dirname(TRAIL))
D = Daemon("postern-audit", base=BASE, config={
    "trail_file": TRAIL, "sync": "always", "tmp_dir": BASE,
    "extra_headers": "X-Spam-Score", "connection_records": "yes",
    "geoip_country_db": os.path.join(MMDB, "country.mmdb"),
    "geoip_asn_db": os.path.join(MMDB, "asn.mmdb"),
})
REF = siem.reference()
FORMATS = ("ecs", "ocsf", "cim")

MSG = (b"From: Alice <alice@example.com>\r\nTo: Bob <bob@example.org>\r\n"
       b"Cc: carol@example.org\r\nSubject: =?UTF-8?Q?caf=C3=A9?= report\r\n"
       b"Message-ID: <siem1@example.com>\r\nX-Spam-Score: 2.5\r\nMIME-Version: 1.0\r\n"
       b"Content-Type: multipart/mixed; boundary=\"b1\"\r\n\r\n--b1\r\n"
       b"Content-Type: text/plain\r\n\r\nsee attached\r\n--b1\r\n"
       b"Content-Type: application/pdf\r\nContent-Transfer-Encoding: base64\r\n"
       b"Content-Disposition: attachment; filename=\"salaries-2024.pdf\"\r\n\r\n"
       + base64.encodebytes(bytes(range(256)) * 8).replace(b"\n", b"\r\n") + b"--b1--\r\n")


def setup():
    with open(KEY, "w") as f:
        f.write("pseudonym-key-for-tests-0123456789\n")
    os.makedirs(MMDB)
    for kind in ("country", "asn"):
        subprocess.run(["perl", os.path.join(TOP, "tests", "lib", "make_mmdb.pl"), kind,
                        os.path.join(MMDB, kind + ".mmdb")], check=True)
    D.start()
    live_traffic()


def teardown():
    try:
        D.stop()
    finally:
        shutil.rmtree(BASE, ignore_errors=True)


def client(addr="192.0.2.7", tls=None, cert_subject=None, helo="helo.example"):
    c = mc.MilterClient(D.spec)
    c.negotiate()
    macros = mc.postfix_macros(tls=tls, cert_subject=cert_subject,
                               cert_issuer="Postern Test CA" if cert_subject else None)
    family = mc.SMFIA_INET6 if ":" in addr else mc.SMFIA_INET
    c.connect("client.example", family, 40000, addr, macros=macros[mc.SMFIC_CONNECT])
    c.helo(helo, macros=macros[mc.SMFIC_HELO])
    return c


# The trail's own bookkeeping records, which export leaves out (a gap
# record is exported: an auditor must see it).
BOOKKEEPING = (b'"event":"trail-start"', b'"event":"key-change"')


def mail_records(data):
    """The lines of a trail that export turns into events."""
    return [x for x in data.splitlines()
            if x.strip() and not any(b in x for b in BOOKKEEPING)]


def trail_lines():
    with open(TRAIL, "rb") as f:
        return mail_records(f.read())


def wait_lines(n, timeout=10):
    deadline = time.time() + timeout
    while time.time() < deadline:
        if os.path.exists(TRAIL) and len(trail_lines()) >= n:
            return trail_lines()
        time.sleep(0.05)
    raise AssertionError(f"want {n} records in the trail")


def live_traffic():
    """The kinds of record a daemon writes: message (TLS + client certificate,
    attachment, Cc, a blind copy), plaintext message, aborted message, bare
    connection."""
    c = client(tls="TLSv1.3", cert_subject="client.partner.test")
    c.transaction("<alice@example.com>", ["<bob@example.org>", "<carol@example.org>",
                                          "<hidden@example.net>"], MSG, queue_id="4QsiemA")
    c.quit()
    c = client(addr="2001:db8::25")
    c.transaction("<>", ["<postmaster@example.org>"], MSG, queue_id="4QsiemB")
    c.quit()
    c = client()
    c.mail("<someone@example.com>")
    c.rcpt("<rcpt@example.org>")
    c.abort()
    c.quit()
    c = client(addr="198.51.100.20")
    c.quit()
    wait_lines(4)


def audit(*args):
    return D.run(*args)


def reload(config):
    """SIGHUP with a changed configuration; wait until the daemon loaded it."""
    D.reload_and_wait(config)


def table():
    r = audit("fields")
    check_eq(r.returncode, 0, f"fields exit status ({r.stderr})")
    return siem.fields_table(r.stdout)


def record_files():
    """Everything the audit tests hold or made: golden records, sample trail, live trail."""
    golden = sorted(glob.glob(os.path.join(DATA, "*.json")))
    return golden + [os.path.join(DATA, "trail-sample.jsonl"), TRAIL]


def export(fmt, *files):
    r = audit("export", "--format", fmt, *files)
    check_eq(r.returncode, 0, f"export --format {fmt} exit status ({r.stderr})")
    return [json.loads(x) for x in r.stdout.splitlines()]


def count_records(files):
    n = 0
    for p in files:
        with open(p, "rb") as f:
            n += len(mail_records(f.read()))
    return n


@test
def field_table_matches_the_reference_schemas():
    if REF is None:
        skip("../shared/siem not present")
    problems = siem.check_table(table(), REF)
    check_eq(problems, [], "field table against ECS, OCSF and the CIM data model")


@test
def every_audit_test_record_is_a_valid_ecs_event():
    if REF is None:
        skip("../shared/siem not present")
    t, files = table(), record_files()
    events = export("ecs", *files)
    check_eq(len(events), count_records(files), "one event per record")
    problems = sorted({p for e in events for p in siem.check_ecs(e, t, REF)})
    check_eq(problems, [], "ECS problems")
    kinds = {(e["event"]["action"], e["event"]["outcome"]) for e in events}
    check_eq(kinds, {("message-received", "success"), ("message-aborted", "failure"),
                     ("connection-without-message", "failure")}, "actions and outcomes")


@test
def every_audit_test_record_is_a_valid_ocsf_event():
    if REF is None:
        skip("../shared/siem not present")
    t, files = table(), record_files()
    events = export("ocsf", *files)
    check_eq(len(events), count_records(files), "one event per record")
    problems = sorted({p for e in events for p in siem.check_ocsf(e, t, REF)})
    check_eq(problems, [], "OCSF problems")
    got = {(e["class_uid"], e["activity_id"], e["status_id"]) for e in events}
    check_eq(got, {(4009, 2, 1), (4009, 2, 2), (4001, 2, 2)},
             "Email Activity Receive (success, aborted: failure), connection: failure")


@test
def every_audit_test_record_is_a_cim_email_event_with_the_required_fields():
    t, files = table(), record_files()
    events = export("cim", *files)
    check_eq(len(events), count_records(files), "one event per record")
    problems = sorted({p for e in events for p in siem.check_cim(e, t)})
    check_eq(problems, [], "CIM problems")
    check_eq({e["action"] for e in events}, {"delivered", "blocked"}, "actions")


@test
def live_message_maps_the_facts_a_siem_user_searches_for():
    lines = trail_lines()
    first = os.path.join(BASE, "first.jsonl")
    with open(first, "wb") as f:
        f.write(lines[0] + b"\n")
    ecs, = export("ecs", first)
    em = ecs["email"]
    check_eq((em["from"]["address"], em["to"]["address"], em["cc"]["address"],
              em["bcc"]["address"]),
             (["alice@example.com"], ["bob@example.org"], ["carol@example.org"],
              ["hidden@example.net"]), "From, To, Cc, and the blind copy from the envelope")
    check_eq((em["subject"], em["message_id"], em["local_id"], em["direction"]),
             ("caf\u00e9 report", "<siem1@example.com>", "4QsiemA", "inbound"), "email")
    check_eq(em["attachments"][0]["file"]["name"], "salaries-2024.pdf", "attachment name")
    check_eq(ecs["tls"]["version"] + "/" + ecs["tls"]["version_protocol"], "1.3/tls", "tls")
    check_eq(ecs["tls"]["client"]["x509"]["subject"]["common_name"], "client.partner.test",
             "client certificate")
    check_eq((ecs["source"]["ip"], ecs["source"]["geo"]["country_iso_code"]),
             ("192.0.2.7", "DE"), "source and its country")
    assert isinstance(ecs["source"]["as"]["number"], int), ecs["source"]
    check_eq(ecs["postern"]["seq"], 2, "postern.seq (1 is the trail-start record)")
    tree = [(p["content_type"], p["raw_size"], p["size"]) for p in ecs["postern"]["mime"]["parts"]]
    check_eq(tree, [("text/plain", 12, 12), ("application/pdf", 2802, 2048)],
             "the MIME tree under postern.mime (no ECS field describes one)")
    ocsf, = export("ocsf", first)
    check_eq((ocsf["email"]["smtp_from"], ocsf["email"]["uid"], ocsf["src_endpoint"]["ip"]),
             ("alice@example.com", "4QsiemA", "192.0.2.7"), "OCSF email and endpoint")
    check_eq(ocsf["unmapped"]["tls"]["version"], "TLSv1.3", "TLS facts under unmapped")
    check_eq(ocsf["unmapped"]["mime"], ecs["postern"]["mime"], "the MIME tree under unmapped")
    cim, = export("cim", first)
    check_eq((cim["recipient"], cim["recipient_count"], cim["return_addr"], cim["src"]),
             (["bob@example.org", "carol@example.org", "hidden@example.net"], 3,
              "alice@example.com", "192.0.2.7"), "CIM")


@test
def export_filters_apply_to_siem_formats_as_to_json():
    for fmt in FORMATS:
        events = export(fmt, "--queue-id", "4QsiemB", TRAIL)
        check_eq(len(events), 1, f"{fmt}: events for one queue id")


@test
def records_of_unknown_kinds_map_to_generic_events_or_are_skipped_never_crash():
    path = os.path.join(BASE, "odd.jsonl")
    odd = [
        {"schema": 1, "seq": 1, "ts": "2024-05-01T10:00:00.000Z", "host": "mx",
         "type": "trail-start", "prev": "0" * 64},
        {"schema": 1, "seq": 2, "ts": "2024-05-01T10:00:01.000Z", "type": "gap",
         "missing": [3, 9]},
        {"schema": 1, "seq": 3, "type": "key-change", "event": "message"},
        {"schema": 1, "seq": 4, "ts": "2024-05-01T10:00:02.000Z", "event": "quarantine"},
        {"schema": 1, "seq": 5, "ts": "not a time", "event": "message", "client": "x",
         "tls": True, "envelope": {"from": 5, "rcpt": "bob"}, "headers": [],
         "attachments": {"a": 1}, "size": "big", "duration_ms": -4},
        {"event": "message", "headers": {"from": [{"addr": 7}, "x", None],
                                         "to": [{"addr": "j\u00fcrgen@b\u00fccher.example"}]},
         "attachments": [None, {"filename": 3}]},
    ]
    with open(path, "w") as f:
        f.write("".join(json.dumps(x) + "\n" for x in odd))
    t = table()
    ecs = export("ecs", path)
    check_eq([e["event"].get("action") for e in ecs],
             ["audit-trail-start", "audit-gap", "audit-key-change", "audit-quarantine",
              "message-received", "message-received"], "ECS actions")
    check_eq(ecs[1]["postern"]["record"]["missing"], [3, 9], "the whole record kept")
    ocsf = export("ocsf", path)
    check_eq([e["class_uid"] for e in ocsf], [0, 0, 0, 0, 4009, 4009], "OCSF classes")
    check_eq(ocsf[5]["unmapped"]["email"]["to"], ["j\u00fcrgen@b\u00fccher.example"],
             "an address OCSF's email_t cannot hold goes under unmapped, not lost")
    cim = export("cim", path)
    check_eq([e.get("postern_seq") for e in cim], [5, None],
             "CIM: only the email records (the others skipped, as documented)")
    problems = sorted({p for e in cim for p in siem.check_cim(e, t)})
    check_eq(problems, [], "CIM problems")
    if REF is not None:
        problems = sorted({p for e in ecs for p in siem.check_ecs(e, t, REF)}
                          | {p for e in ocsf for p in siem.check_ocsf(e, t, REF)})
        check_eq(problems, [], "ECS and OCSF problems of odd records")


@test
def redaction_and_pseudonymisation_show_the_same_in_every_format():
    cfg = {"redact": "subject, attachment_names, helo, client_name, cert, display_names",
           "pseudonymize_addresses": "yes", "pseudonymize_key_file": KEY,
           "trail_file": os.path.join(BASE, "log", "private.jsonl")}
    reload(cfg)
    c = client(tls="TLSv1.3", cert_subject="secret-cert.example", helo="secret-helo.example")
    c.transaction("<ceo.secret@example.com>", ["<bob@example.org>"],
                  MSG.replace(b"caf=C3=A9?= report", b"Secret_merger?= plans")
                  .replace(b"Alice <alice@example.com>", b"Chief <ceo.secret@example.com>"),
                  queue_id="4Qpriv")
    c.quit()
    private = cfg["trail_file"]
    deadline = time.time() + 10
    while not (os.path.exists(private) and os.path.getsize(private)) and time.time() < deadline:
        time.sleep(0.05)
    for fmt in ("json", "jsonl", "csv") + FORMATS:
        r = audit("export", "--format", fmt, private)
        check_eq(r.returncode, 0, f"{fmt}: exit status ({r.stderr})")
        out = r.stdout
        for secret in ("Secret", "merger", "salaries", "secret-helo", "secret-cert",
                       "ceo.secret", "Chief", "client.example"):
            assert secret not in out, f"{fmt} shows {secret!r}:\n{out}"
        assert "anon-" in out and "@example.com" in out, f"{fmt}: no pseudonym:\n{out}"


if __name__ == "__main__":
    main(setup=setup, teardown=teardown)
