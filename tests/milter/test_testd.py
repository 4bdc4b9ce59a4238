#!/usr/bin/env python3
# SPDX-License-Identifier: BSD-2-Clause
"""Milter-protocol tests of the shared layer (common/milter/), through the
test daemon postern-testd driven over its socket by tests/lib/milter_client.

What an MTA would see: negotiation, replies at each stage, modifications at
end of message, spooling of large bodies, abort and disconnect in the middle
of a message, reload (SIGHUP) with connections keeping their snapshot,
concurrency, and the `check` subcommand's errors.
"""
import hashlib
import os
import re
import shutil
import subprocess
import sys
import tempfile
import threading

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "lib"))
from tap import test, main, check_eq  # noqa: E402
import milter_client as mc  # noqa: E402
from daemon import Daemon, binary  # noqa: E402

BASE = tempfile.mkdtemp(prefix="postern-milter-")
os.chmod(BASE, 0o755)
D = Daemon("postern-testd", base=BASE, config={
    "reject_recipient": "bad@example.org",
    "tempfail_sender": "slow@example.com",
    "quarantine_subject": "HOLD ME",
    "body_memory_limit": "4k",
    "tmp_dir": BASE,
})

MSG = (b"From: Sender <sender@example.com>\r\nTo: rcpt@example.org\r\n"
       b"Subject: hello\r\n\tfolded\r\n\r\nline one\r\nline two\r\n")


def body_of(raw):
    return raw.split(b"\r\n\r\n", 1)[1]


def header_fields(mods, name="X-Postern-Test"):
    for m in mods:
        if m[0] == "addheader" and m[1] == name:
            return dict(kv.split("=", 1) for kv in m[2].strip().split("; "))
    raise AssertionError(f"no {name} header in {mods}")


def client(tls=None, cert_subject=None, cert_issuer=None):
    c = mc.MilterClient(D.spec)
    c.negotiate()
    macros = mc.postfix_macros(tls=tls, cert_subject=cert_subject, cert_issuer=cert_issuer)
    c.connect("client.example", mc.SMFIA_INET, 40000, "192.0.2.10",
              macros=macros[mc.SMFIC_CONNECT])
    c.helo("client.example", macros=macros[mc.SMFIC_HELO])
    return c


def setup():
    D.start()


def teardown():
    try:
        D.stop()
    finally:
        shutil.rmtree(BASE, ignore_errors=True)


@test
def negotiates_only_what_the_engine_needs():
    c = mc.MilterClient(D.spec)
    n = c.negotiate()
    for flag in ("SMFIP_HDR_LEADSPC", "SMFIP_NR_HDR", "SMFIP_NR_BODY", "SMFIP_NOUNKNOWN"):
        assert n.protocol & getattr(mc, flag), f"{flag} not negotiated: 0x{n.protocol:x}"
    for flag in ("SMFIP_NOCONNECT", "SMFIP_NOHELO", "SMFIP_NOBODY", "SMFIP_NOHDRS"):
        assert not n.protocol & getattr(mc, flag), f"{flag} negotiated: 0x{n.protocol:x}"
    for flag in ("SMFIF_ADDHDRS", "SMFIF_ADDRCPT", "SMFIF_QUARANTINE"):
        assert n.actions & getattr(mc, flag), f"{flag} missing: 0x{n.actions:x}"
    for flag in ("SMFIF_CHGFROM", "SMFIF_DELRCPT", "SMFIF_CHGBODY"):
        assert not n.actions & getattr(mc, flag), f"{flag} asked for: 0x{n.actions:x}"
    c.quit()


@test
def end_of_message_header_reports_macros_envelope_and_body():
    c = client(tls="TLSv1.3", cert_subject="client.partner.test", cert_issuer="Postern Test CA")
    t = c.transaction("<sender@example.com>", ["<rcpt@example.org>", "<two@example.org>"], MSG,
                      queue_id="4XyZ12")
    check_eq(t.stage, "eom", "stage")
    check_eq(t.reply.action, "continue", "eom reply")
    f = header_fields(t.mods)
    check_eq(f["tls"], "TLSv1.3", "tls")
    check_eq(f["cipher"], "TLS_AES_256_GCM_SHA384", "cipher")
    check_eq(f["bits"], "256", "bits")
    check_eq(f["cert_subject"], "client.partner.test", "cert_subject")
    check_eq(f["cert_issuer"], "Postern Test CA", "cert_issuer")
    check_eq(f["queue_id"], "4XyZ12", "queue id")
    check_eq(f["client"], "192.0.2.10", "client address")
    check_eq(f["helo"], "client.example", "helo")
    check_eq(f["rcpts"], "2", "recipients")
    check_eq(f["headers"], "3", "headers")
    check_eq(f["size"], str(len(MSG)), "size (header block + body as received)")
    check_eq(f["body_sha256"], hashlib.sha256(body_of(MSG)).hexdigest(), "body sha256")
    check_eq(f["spooled"], "memory", "small body stays in memory")
    c.quit()


@test
def added_header_value_carries_the_leading_space_for_leadspc():
    c = client()
    t = c.transaction("<sender@example.com>", ["<rcpt@example.org>"], MSG)
    value = [m for m in t.mods if m[0] == "addheader"][0][2]
    assert value.startswith(" tls=none;"), f"got {value[:20]!r}, want ' tls=none;...'"
    c.quit()


@test
def plaintext_session_has_no_tls_macros():
    c = client()
    t = c.transaction("<sender@example.com>", ["<rcpt@example.org>"], MSG)
    f = header_fields(t.mods)
    check_eq((f["tls"], f["cipher"], f["cert_subject"]), ("none", "none", "none"), "tls facts")
    c.quit()


@test
def rejected_recipient_gets_550_and_is_not_counted():
    c = client()
    t = c.transaction("<sender@example.com>", ["<bad@example.org>", "<ok@example.org>"], MSG)
    r = dict(t.rcpt_replies)["<bad@example.org>"]
    check_eq(r.action, "replycode", "reply kind")
    assert r.text.startswith("550 5.7.1 testd: recipient rejected"), f"got {r.text!r}"
    check_eq(header_fields(t.mods)["rcpts"], "1", "recipients kept")
    c.quit()


@test
def tempfailed_sender_gets_451():
    c = client()
    t = c.transaction("<slow@example.com>", ["<rcpt@example.org>"], MSG)
    check_eq(t.stage, "mail", "stage")
    assert t.reply.text.startswith("451 4.7.1"), f"got {t.reply.text!r}"
    c.quit()


@test
def quarantine_and_added_recipient_reach_the_mta():
    D.reload({"add_recipient": "<archive@example.net>"})
    D.wait_for_log("generation 2")
    c = client()
    raw = MSG.replace(b"Subject: hello", b"Subject: please HOLD ME")
    t = c.transaction("<sender@example.com>", ["<rcpt@example.org>"], raw)
    kinds = [m[0] for m in t.mods]
    assert ("quarantine", "testd: subject matched") in t.mods, t.mods
    assert any(m[0] in ("addrcpt", "addrcpt_par") and m[1] == "<archive@example.net>"
               for m in t.mods), kinds
    c.quit()
    D.reload({"add_recipient": ""})
    D.wait_for_log("generation 3")


@test
def large_body_is_spooled_to_disk_and_hashes_the_same():
    body = b"".join(b"line %06d " % i + b"x" * 90 + b"\r\n" for i in range(3000))
    raw = b"Subject: big\r\n\r\n" + body
    c = client()
    t = c.transaction("<sender@example.com>", ["<rcpt@example.org>"], raw)
    f = header_fields(t.mods)
    check_eq(f["spooled"], "disk", "spool")
    check_eq(f["body_sha256"], hashlib.sha256(body).hexdigest(), "body sha256")
    check_eq(f["size"], str(len(raw)), "size")
    c.quit()
    leftovers = [n for n in os.listdir(BASE) if n.startswith("postern-spool")]
    check_eq(leftovers, [], "spool files left in tmp_dir")


@test
def abort_then_next_message_on_same_connection():
    c = client()
    c.mail("<sender@example.com>")
    c.rcpt("<rcpt@example.org>")
    c.header("Subject", " aborted")
    c.abort()
    t = c.transaction("<sender@example.com>", ["<rcpt@example.org>"], MSG)
    f = header_fields(t.mods)
    check_eq(f["rcpts"], "1", "recipients of the second message only")
    check_eq(f["headers"], "3", "headers of the second message only")
    c.quit()


@test
def client_vanishing_mid_message_does_not_hurt_the_daemon():
    for cut in ("after-mail", "mid-body", "garbage"):
        s = mc.MilterClient(D.spec)
        s.negotiate()
        if cut == "garbage":
            s.sock.sendall(b"\x00\x00\x00\x05Zjunk" + os.urandom(64))
        else:
            s.connect("client.example", mc.SMFIA_INET, 1, "192.0.2.1")
            s.mail("<a@example.com>")
            if cut == "mid-body":
                s.rcpt("<b@example.org>")
                s.header("Subject", " x")
                s.eoh()
                s.body(b"partial body without end")
        s.sock.close()
    c = client()
    t = c.transaction("<sender@example.com>", ["<rcpt@example.org>"], MSG)
    check_eq(t.reply.action, "continue", "daemon still serves")
    c.quit()


@test
def reload_changes_new_connections_but_not_open_ones():
    old = client()
    old.mail("<sender@example.com>")
    old.rcpt("<rcpt@example.org>")
    D.reload({"header_name": "X-Reloaded"})
    D.wait_for_log("generation 4")
    new = client()
    t_new = new.transaction("<sender@example.com>", ["<rcpt@example.org>"], MSG)
    header_fields(t_new.mods, "X-Reloaded")
    old.data(macros={"i": "OLD1"})
    _, _, mods = old.message(MSG)
    header_fields(mods, "X-Postern-Test")
    old.quit()
    new.quit()


@test
def broken_reload_keeps_the_running_configuration():
    D.config["no_such_parameter"] = "1"
    D.reload()
    D.wait_for_log("reload failed: keeping the running configuration")
    del D.config["no_such_parameter"]
    assert re.search(r'testd\.conf:\d+: unknown parameter "no_such_parameter"', D.log()), D.log()
    c = client()
    t = c.transaction("<sender@example.com>", ["<rcpt@example.org>"], MSG)
    header_fields(t.mods, "X-Reloaded")
    c.quit()


@test
def concurrent_connections_each_get_their_own_message():
    errors = []

    def worker(n):
        try:
            c = client()
            for k in range(5):
                raw = MSG + b"worker %d message %d\r\n" % (n, k)
                t = c.transaction("<sender@example.com>", ["<r%d@example.org>" % n], raw,
                                  queue_id="Q%dN%d" % (n, k))
                f = header_fields(t.mods, "X-Reloaded")
                if f["queue_id"] != "Q%dN%d" % (n, k) or \
                        f["body_sha256"] != hashlib.sha256(body_of(raw)).hexdigest():
                    errors.append((n, k, f))
            c.quit()
        except Exception as e:  # noqa: BLE001 - reported below
            errors.append((n, repr(e)))

    threads = [threading.Thread(target=worker, args=(n,)) for n in range(16)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    check_eq(errors, [], "errors")


@test
def check_reports_config_errors_with_file_line_and_exit_78():
    cases = [
        ({"bogus_key": "1"}, r'testd\.conf:\d+: unknown parameter "bogus_key"'),
        ({"body_memory_limit": "12x"}, r'testd\.conf:\d+: parameter "body_memory_limit" = "12x": not a size'),
        ({"listen_backlog": "0"}, r'testd\.conf:\d+: parameter "listen_backlog" = "0": below the minimum'),
        ({"on_error": "maybe"}, r'testd\.conf:\d+: parameter "on_error" = "maybe"'),
        ({"socket": "tcp:1234"}, r'parameter "socket" = "tcp:1234": socket must start with'),
    ]
    for extra, pattern in cases:
        d = Daemon("postern-testd", base=BASE, config=dict(D.config, **extra))
        d.conf = os.path.join(BASE, "testd.conf")
        r = d.run("check")
        check_eq(r.returncode, 78, f"exit code for {extra}")
        assert re.search(pattern, r.stderr), f"{extra}: got {r.stderr!r}, want /{pattern}/"
    r = subprocess.run([binary("postern-testd"), "-c", "/nonexistent/testd.conf", "check"],
                       capture_output=True, text=True)
    check_eq(r.returncode, 78, "exit code for a missing file")
    assert "/nonexistent/testd.conf: cannot open: No such file or directory" in r.stderr, r.stderr


@test
def check_and_config_commands_on_a_valid_file():
    d = Daemon("postern-testd", base=BASE, config={"header_name": "X-Check"})
    d.conf = os.path.join(BASE, "valid.conf")
    r = d.run("check")
    check_eq(r.returncode, 0, "exit code")
    assert "configuration OK" in r.stdout, r.stdout
    r = d.run("config", "-n")
    assert "header_name = X-Check" in r.stdout, r.stdout
    assert "body_memory_limit" not in r.stdout, "config -n lists only what the file sets"
    r = d.run("config")
    assert re.search(r"^body_memory_limit = 1m$", r.stdout, re.M), r.stdout


if __name__ == "__main__":
    main(setup, teardown)
