#!/usr/bin/env python3
# SPDX-License-Identifier: BSD-2-Clause
"""Milter-protocol tests of postern-tls, driven over its socket by
tests/lib/milter_client like Postfix or Sendmail would.

What an MTA sees: the steps negotiated (no headers, no body), refusals at
MAIL and per recipient at RCPT with the reply codes and texts, hold and
tag applied at end of message, the trace header, Postfix-style and
Sendmail-style ({verify}, xtext DNs) macros, reload on SIGHUP and on a
changed policy file (a broken one keeps the old), and the log lines."""
import os
import re
import shutil
import sys
import tempfile
import time

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "lib"))
from tap import test, main, check_eq  # noqa: E402
import milter_client as mc  # noqa: E402
from daemon import Daemon  # noqa: E402

BASE = tempfile.mkdtemp(prefix="postern-tls-milter-")
os.chmod(BASE, 0o755)
POLICY = os.path.join(BASE, "tls_policy")
POLICY_TEXT = """\
# protocol-test policy
partner.example   min_version=TLSv1.2 min_bits=128
.bank.example     verify=yes cert_issuer="Postern Test CA" clients=192.0.2.0/24
supplier.example  min_version=TLSv1.3 direction=both action=hold
tagged.example    min_version=TLSv1.3 direction=outbound action=tag
temp.example      direction=outbound action=tempfail
"""
D = Daemon("postern-tls", base=BASE, config={
    "policy_file": POLICY,
    "trace_header": "X-Postern-TLS",
    "policy_check_interval": "1s",
})
MSG = b"From: a@partner.example\r\nTo: b@example.org\r\nSubject: hi\r\n\r\nHello.\r\n"
TLS13 = {"{tls_version}": "TLSv1.3", "{cipher}": "TLS_AES_256_GCM_SHA384",
         "{cipher_bits}": "256"}
TLS12 = {"{tls_version}": "TLSv1.2", "{cipher}": "ECDHE-RSA-AES256-GCM-SHA384",
         "{cipher_bits}": "256"}


def write_policy(text):
    # a new inode and a distinct mtime, as an editor's save would give
    tmp = POLICY + ".new"
    with open(tmp, "w") as f:
        f.write(text)
    os.rename(tmp, POLICY)


def client(helo_macros=None, addr="192.0.2.10"):
    c = mc.MilterClient(D.spec)
    c.negotiate()
    c.connect("client.example", mc.SMFIA_INET, 40000, addr,
              macros=mc.postfix_macros()[mc.SMFIC_CONNECT])
    c.helo("client.example", macros=helo_macros or {})
    return c


def trace(mods):
    for m in mods:
        if m[0] == "insheader" and m[2] == "X-Postern-TLS":
            # the top, below the MTA's own Received: line, which the MTA
            # does not show the milter but counts in SMFIR_INSHEADER
            check_eq(m[1], 1, "trace header position (top, below Received)")
            return m[3].strip()
    raise AssertionError(f"no trace header in {mods}")


def setup():
    write_policy(POLICY_TEXT)
    D.start()


def teardown():
    try:
        D.stop()
    finally:
        shutil.rmtree(BASE, ignore_errors=True)


@test
def negotiates_connect_helo_mail_rcpt_and_eom_only():
    c = mc.MilterClient(D.spec)
    n = c.negotiate()
    for flag in ("SMFIP_NOHDRS", "SMFIP_NOBODY", "SMFIP_NOEOH", "SMFIP_NODATA",
                 "SMFIP_NOUNKNOWN"):
        assert n.protocol & getattr(mc, flag), f"{flag} not negotiated: 0x{n.protocol:x}"
    for flag in ("SMFIP_NOCONNECT", "SMFIP_NOHELO", "SMFIP_NOMAIL", "SMFIP_NORCPT"):
        assert not n.protocol & getattr(mc, flag), f"{flag} negotiated: 0x{n.protocol:x}"
    for flag in ("SMFIF_ADDHDRS", "SMFIF_QUARANTINE"):
        assert n.actions & getattr(mc, flag), f"{flag} missing: 0x{n.actions:x}"
    for flag in ("SMFIF_CHGHDRS", "SMFIF_ADDRCPT", "SMFIF_DELRCPT", "SMFIF_CHGFROM",
                 "SMFIF_CHGBODY"):
        assert not n.actions & getattr(mc, flag), f"{flag} asked for: 0x{n.actions:x}"
    c.quit()


@test
def asks_the_mta_for_its_own_parse_of_each_envelope_address():
    c = mc.MilterClient(D.spec)
    c.negotiate()
    assert "{mail_addr}" in (c.macro_names(mc.SMFIM_ENVFROM) or []), c.negotiated
    assert "{rcpt_addr}" in (c.macro_names(mc.SMFIM_ENVRCPT) or []), c.negotiated
    # the Postfix and Sendmail defaults stay in the lists it replaces
    for name in ("i", "{auth_authen}", "{auth_type}", "{mail_host}", "{mail_mailer}"):
        assert name in c.macro_names(mc.SMFIM_ENVFROM), (name, c.negotiated)
    c.quit()
    # an MTA that cannot take macro lists still works
    c = mc.MilterClient(D.spec, actions=mc.SMFI_CURR_ACTS & ~mc.SMFIF_SETSYMLIST)
    check_eq(c.negotiate().macros, {}, "no lists without SMFIF_SETSYMLIST")
    c.quit()


@test
def the_mta_parse_of_the_address_decides_over_the_path_as_written():
    # what Postfix hands over for MAIL FROM:<a(x)@partner.example >
    c = client()
    t = c.transaction("<a(x)@partner.example >", ["<bob@example.org>"], MSG,
                      macros={mc.SMFIC_MAIL: {"{mail_addr}": "a@partner.example"}})
    check_eq((t.stage, t.reply.text[:30]), ("mail", "550 5.7.10 Encryption needed: "), "refused")
    c.quit()
    # without the macro the path parser reads the same address
    c = client()
    t = c.transaction("<a(x)@PARTNER.example. >", ["<bob@example.org>"], MSG,
                      macros={mc.SMFIC_MAIL: {"{mail_addr}": ""}})
    check_eq((t.stage, t.reply.text[:30]), ("mail", "550 5.7.10 Encryption needed: "), "refused")
    c.quit()
    # and at RCPT, {rcpt_addr} per recipient
    c = client()
    t = c.transaction("<a@example.org>", ["<b(x)@temp.example>", "<c@example.org>"], MSG,
                      macros={mc.SMFIC_RCPT: {"{rcpt_addr}": "b@temp.example"}})
    check_eq(t.rcpt_replies[0][1].text[:3], "450", "outbound partner refused")
    c.quit()


@test
def plaintext_from_a_partner_is_refused_at_mail_with_what_was_required():
    c = client()
    t = c.transaction("<alice@partner.example>", ["<bob@example.org>"], MSG)
    check_eq(t.stage, "mail", "stage")
    check_eq(t.reply.action, "replycode", "reply")
    check_eq(t.reply.text, "550 5.7.10 Encryption needed: TLS policy for mail from "
             "partner.example requires TLS, TLSv1.2 or later, 128 or more cipher bits; "
             "seen no TLS", "reply text")
    c.quit()


@test
def tls_that_meets_the_policy_passes_with_a_trace_header():
    c = client(TLS13)
    t = c.transaction("<alice@partner.example>", ["<bob@example.org>"], MSG)
    check_eq((t.stage, t.reply.action), ("eom", "continue"), "transaction")
    check_eq(trace(t.mods), "version=TLSv1.3; cipher=TLS_AES_256_GCM_SHA384; bits=256; "
             "verified=no; policy=from partner.example (partner.example:2 pass)", "trace")
    check_eq([m[0] for m in t.mods], ["insheader"], "modifications")
    c.quit()


@test
def non_partner_mail_passes_untouched_except_the_trace_header():
    c = client()
    t = c.transaction("<x@elsewhere.example>", ["<y@example.org>"], MSG)
    check_eq((t.stage, t.reply.action), ("eom", "continue"), "transaction")
    check_eq(trace(t.mods), "version=none; verified=no; policy=none", "trace")
    c.quit()


@test
def one_noncompliant_recipient_is_refused_and_the_others_kept():
    c = client()
    t = c.transaction("<x@elsewhere.example>",
                      ["<a@example.org>", "<b@temp.example>", "<c@example.net>"], MSG)
    replies = dict(t.rcpt_replies)
    check_eq(replies["<a@example.org>"].action, "continue", "first recipient")
    check_eq(replies["<c@example.net>"].action, "continue", "third recipient")
    check_eq(replies["<b@temp.example>"].text, "450 4.7.10 Encryption needed: TLS policy for "
             "mail to temp.example requires TLS; seen no TLS", "partner recipient")
    check_eq(t.accepted, ["<a@example.org>", "<c@example.net>"], "accepted")
    check_eq((t.stage, t.reply.action), ("eom", "continue"), "message goes on")
    c.quit()


@test
def hold_decided_at_rcpt_is_a_quarantine_at_end_of_message():
    c = client(TLS12)
    t = c.transaction("<x@elsewhere.example>", ["<s@supplier.example>", "<o@example.org>"],
                      MSG)
    check_eq([r.action for _, r in t.rcpt_replies], ["continue", "continue"], "rcpt replies")
    q = [m for m in t.mods if m[0] == "quarantine"]
    check_eq(q, [("quarantine", "postern-tls: mail to supplier.example requires TLSv1.3 or "
                  f"later; seen TLSv1.2 (policy {POLICY}:4)")], "quarantine")
    assert "to supplier.example (supplier.example:4 hold)" in trace(t.mods), t.mods
    c.quit()


@test
def tag_adds_a_header_and_lets_the_mail_through():
    c = client(TLS12)
    t = c.transaction("<x@elsewhere.example>", ["<t@tagged.example>"], MSG)
    tags = [m for m in t.mods if m[0] == "addheader" and m[1] == "X-Postern-TLS-Policy"]
    check_eq(len(tags), 1, "tag headers")
    check_eq(tags[0][2].strip(), "mail to tagged.example requires TLSv1.3 or later; seen "
             f"TLSv1.2 (policy {POLICY}:5)", "tag header")
    check_eq([m for m in t.mods if m[0] == "quarantine"], [], "no quarantine")
    c.quit()


@test
def verified_client_certificate_from_the_right_network_passes():
    c = client(dict(TLS13, **{"{cert_subject}": "mx.bank.example",
                              "{cert_issuer}": "Postern Test CA"}))
    t = c.transaction("<a@x.bank.example>", ["<b@example.org>"], MSG)
    check_eq((t.stage, t.reply.action), ("eom", "continue"), "transaction")
    assert "verified=yes" in trace(t.mods), trace(t.mods)
    c.quit()


@test
def unverified_certificate_or_wrong_network_is_not_authorized():
    c = client(TLS13)
    t = c.transaction("<a@x.bank.example>", ["<b@example.org>"], MSG)
    check_eq(t.reply.text, "550 5.7.1 Not authorized: TLS policy for mail from x.bank.example "
             "requires a verified client certificate issued by Postern Test CA; seen no "
             "verified client certificate", "no certificate")
    c.quit()
    c = client(dict(TLS13, **{"{cert_subject}": "mx.bank.example",
                              "{cert_issuer}": "Postern Test CA"}), addr="198.51.100.7")
    t = c.transaction("<a@x.bank.example>", ["<b@example.org>"], MSG)
    check_eq(t.reply.text, "550 5.7.1 Not authorized: TLS policy for mail from x.bank.example "
             "requires a client in 192.0.2.0/24; seen client 198.51.100.7", "wrong network")
    c.quit()


@test
def sendmail_verify_macro_is_honoured():
    dn_issuer = "/O=Postern+20Test/CN=Postern+20Test+20CA"
    sm = {"{verify}": "OK", "{cert_subject}": "/O=Postern+20Test/CN=mx.bank.example",
          "{cert_issuer}": dn_issuer}
    mail_macros = {mc.SMFIC_MAIL: {"i": "SM4Q1d", "{mail_addr}": "a@x.bank.example"}}
    c = client(dict(TLS13, **sm))
    t = c.transaction("<a@x.bank.example>", ["<b@example.org>"], MSG, macros=mail_macros)
    check_eq((t.stage, t.reply.action), ("eom", "continue"), "verify=OK, issuer DN's CN matches")
    c.quit()
    c = client(dict(TLS13, **dict(sm, **{"{verify}": "FAIL"})))
    t = c.transaction("<a@x.bank.example>", ["<b@example.org>"], MSG, macros=mail_macros)
    check_eq(t.reply.text, "550 5.7.1 Not authorized: TLS policy for mail from x.bank.example "
             "requires a verified client certificate issued by Postern Test CA; seen client "
             "certificate verify=FAIL", "verify=FAIL despite a subject")
    c.quit()
    c = client({"{verify}": "NONE"})
    t = c.transaction("<a@partner.example>", ["<b@example.org>"], MSG,
                      macros={mc.SMFIC_MAIL: {"i": "SM4Q1d", "{mail_addr}": "a@partner.example"}})
    assert t.reply.text.startswith("550 5.7.10 Encryption needed"), t.reply
    c.quit()
    # Sendmail gives the queue id at MAIL: the log line carries it
    D.wait_for_log("SM4Q1d: tls: reject from=<a@partner.example> domain=partner.example")


@test
def every_decision_is_logged_with_policy_line_required_and_seen():
    log = D.log()
    assert re.search(r"NOQUEUE: tls: reject from=<alice@partner\.example> "
                     r"domain=partner\.example policy=\S+tls_policy:2 \(partner\.example\) "
                     r"client=192\.0\.2\.10 required=\"TLS, TLSv1\.2 or later, 128 or more "
                     r"cipher bits\" seen=\"no TLS\"", log), log
    assert re.search(r"tls: pass from=<alice@partner\.example> .*seen=\"TLSv1\.3, cipher "
                     r"TLS_AES_256_GCM_SHA384, 256 bits", log), log
    assert re.search(r"4AbCdEf: tls: hold applied: mail to supplier\.example requires "
                     r"TLSv1\.3 or later; seen TLSv1\.2", log), log


@test
def sighup_reload_applies_to_new_connections_and_keeps_open_ones():
    old = client()
    write_policy(POLICY_TEXT + "elsewhere.example min_version=TLSv1.2\n")
    D.reload()
    D.wait_for_log("generation 2")
    new = client()
    t = new.transaction("<x@elsewhere.example>", ["<y@example.org>"], MSG)
    check_eq(t.stage, "mail", "new connection uses the new policy")
    t = old.transaction("<x@elsewhere.example>", ["<y@example.org>"], MSG)
    check_eq((t.stage, t.reply.action), ("eom", "continue"), "open connection keeps the old one")
    old.quit()
    new.quit()


def wait_generation(n, timeout=15):
    """Open connections (each may look at the file) until the log shows generation n."""
    deadline = time.time() + timeout
    while time.time() < deadline:
        c = client()
        c.quit()
        if f"generation {n}" in D.log():
            return
        time.sleep(0.3)
    raise AssertionError(f"no generation {n} in log:\n{D.log()}")


@test
def a_changed_policy_file_is_reloaded_without_sighup():
    write_policy(POLICY_TEXT + "elsewhere.example tls=optional\nnew.example min_bits=1\n")
    wait_generation(3)
    assert "tls_policy changed: reloading" in D.log(), D.log()
    c = client()
    t = c.transaction("<x@new.example>", ["<y@example.org>"], MSG)
    check_eq(t.stage, "mail", "rule from the changed file applies")
    c.quit()


@test
def a_broken_policy_file_keeps_the_old_policy_and_says_why():
    write_policy(POLICY_TEXT + "broken.example min_version=TLSv1.9\nnew.example min_bits=1\n")
    deadline = time.time() + 15
    while "reload failed" not in D.log() and time.time() < deadline:
        client().quit()
        time.sleep(0.3)
    log = D.log()
    assert re.search(r'tls_policy:7: attribute "min_version" = "TLSv1.9": unknown TLS version',
                     log), log
    assert "reload failed: keeping the running configuration" in log, log
    c = client()
    t = c.transaction("<x@new.example>", ["<y@example.org>"], MSG)
    check_eq(t.stage, "mail", "the old policy still applies")
    c.quit()
    # asked once for that broken file, not on every connection
    for _ in range(4):
        client().quit()
        time.sleep(0.4)
    check_eq(D.log().count("reload failed"), 1, "reload attempts for one broken file")
    write_policy(POLICY_TEXT)
    wait_generation(4)


@test
def check_reports_policy_errors_with_file_line_and_exit_78():
    r = D.run("check")
    check_eq(r.returncode, 0, f"check of a good policy: {r.stderr}")
    write_policy(POLICY_TEXT + "bad.example action=bounce\n")
    r = D.run("check")
    check_eq(r.returncode, 78, "exit status")
    assert f'{POLICY}:7: attribute "action" = "bounce": want reject, tempfail, hold, tag or log' \
        in r.stderr, r.stderr
    write_policy(POLICY_TEXT)


@test
def test_tool_prints_the_decision_and_the_reason():
    r = D.run("test", "--from", "a@partner.example", "--rcpt", "b@supplier.example",
              "--rcpt", "c@example.org", "--tls-version", "TLSv1.2", "--cipher",
              "ECDHE-RSA-AES256-GCM-SHA384", "--bits", "256", "--client", "192.0.2.1")
    check_eq(r.returncode, 1, f"exit status (a policy failed): {r.stderr}")
    lines = r.stdout.splitlines()
    check_eq(lines[1], f"MAIL FROM a@partner.example: pass (policy {POLICY}:2 partner.example)",
             "mail")
    check_eq(lines[2], "RCPT TO b@supplier.example: hold: requires TLSv1.3 or later; seen "
             f"TLSv1.2 (policy {POLICY}:4 supplier.example)", "rcpt")
    check_eq(lines[3], "RCPT TO c@example.org: no policy", "other rcpt")
    assert any(line.startswith("quarantine postern-tls: mail to supplier.example") for line in
               lines), r.stdout
    r = D.run("test", "--from", "a@partner.example", "--rcpt", "b@example.org")
    check_eq(r.returncode, 1, "plaintext refused")
    assert "reject 550 5.7.10 Encryption needed" in r.stdout, r.stdout
    r = D.run("test", "--from", "a@elsewhere.example", "--rcpt", "b@example.org")
    check_eq(r.returncode, 0, f"nothing applies: {r.stdout}")


@test
def postfix_map_prints_the_table_and_checks_one():
    write_policy(POLICY_TEXT + ".bank.example.net outbound=secure match=nexthop\n")
    r = D.run("postfix-map")
    check_eq(r.returncode, 0, r.stderr)
    entries = [line for line in r.stdout.splitlines() if line and not line.startswith("#")]
    check_eq(entries, ["supplier.example   encrypt protocols=>=TLSv1.3",
                       "tagged.example     encrypt protocols=>=TLSv1.3",
                       "temp.example       encrypt",
                       ".bank.example.net  secure match=nexthop"], "table")
    table = os.path.join(BASE, "postfix_tls_policy")
    with open(table, "w") as f:
        f.write(r.stdout)
    r = D.run("postfix-map", "--check", table)
    check_eq(r.returncode, 0, f"own table checks clean: {r.stdout}")
    with open(table, "w") as f:
        f.write("supplier.example may\n.example encrypt protocols=>=TLSv1.2\n")
    r = D.run("postfix-map", "--check", table)
    check_eq(r.returncode, 1, "weaker table")
    check_eq(r.stdout.splitlines(), [
        f"{table}:1: supplier.example: level may is weaker than encrypt (policy {POLICY}:4)",
        f"{table}:1: supplier.example: no protocols= (main.cf applies; the policy needs "
        f">=TLSv1.3) (policy {POLICY}:4)",
        f"{table}:2: tagged.example (entry .example): protocols=>=TLSv1.2 allows TLSv1.2 (the "
        f"policy needs >=TLSv1.3) (policy {POLICY}:5)",
        f"{table}: .bank.example.net: no entry (the policy needs secure) (policy {POLICY}:7)",
    ], "report")
    write_policy(POLICY_TEXT)


if __name__ == "__main__":
    main(setup, teardown)
