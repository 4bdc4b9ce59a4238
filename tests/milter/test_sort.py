#!/usr/bin/env python3
# SPDX-License-Identifier: BSD-2-Clause
"""Milter-protocol tests of postern-sort, driven over its socket like an MTA
(tests/lib/milter_client.py): what it negotiates, and what each Sieve action
becomes at end of message (recipient changes, header edits, reject, discard),
per-domain and per-recipient scripts, environment items from the MTA's
macros, scripts recompiled when they change, reload, `check` and the tools,
and the log lines (queue id, script, line)."""
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "lib"))
from tap import test, main, check_eq  # noqa: E402
import milter_client as mc  # noqa: E402
from daemon import Daemon  # noqa: E402

BASE = tempfile.mkdtemp(prefix="postern-sort-milter-")
os.chmod(BASE, 0o755)
SIEVE = os.path.join(BASE, "sieve")
GLOBAL = os.path.join(SIEVE, "global.sieve")

GLOBAL_SCRIPT = """require ["fileinto", "copy", "reject", "editheader", "envelope",
         "environment", "variables", "body"];
if header :contains "subject" "report" { fileinto "Reports"; }
if header :contains "subject" "forward" { redirect "boss@example.net"; }
if header :contains "subject" "copy me" { redirect :copy "archive@example.net"; }
if header :contains "subject" "spam" { discard; }
if header :contains "subject" "refuse" { reject "We do not want this."; }
if exists "x-internal" { deleteheader "x-internal"; addheader "X-Sorted" "internal"; }
if environment :is "vnd.postern.tls-version" "TLSv1.3" { addheader :last "X-TLS" "1.3"; }
if environment :is "vnd.postern.authenticated" "yes" { addheader :last "X-Auth" "yes"; }
if body :contains "fail at run time" {
  set "bad" "not an address";
  redirect "${bad}";
}
if header :is "subject" "geo" {
  if environment :matches "vnd.postern.client-country" "*" { set "cc" "${1}"; }
  if environment :matches "vnd.postern.client-asn" "*" { set "asn" "${1}"; }
  addheader :last "X-Geo" "${cc} AS${asn}";
}
"""

D = Daemon("postern-sort", base=BASE, config={
    "script": GLOBAL,
    "domain_scripts": os.path.join(SIEVE, "%d.sieve"),
    "user_scripts": os.path.join(SIEVE, "%d", "%u.sieve"),
    "tmp_dir": BASE,
    "log_level": "info",
    "geoip_country_db": os.path.join(BASE, "country.mmdb"),
    "geoip_asn_db": os.path.join(BASE, "asn.mmdb"),
})


def write(path, text):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    tmp = path + ".tmp"
    with open(tmp, "w") as f:
        f.write(text)
    os.rename(tmp, path)	# a new inode: the daemon sees the change at once


def prefixes(line):
    """The severity words (error:, fatal:, ...) of a log or tool line: one
    is right; "FILE:1:2: error: ..." after the logger's own was not."""
    return re.findall(r"\b(error|fatal|warning|panic): ", line)


def msg(subject, extra="", body="Hello.\r\n", to="bob@example.org"):
    return (f"From: alice@example.com\r\nTo: {to}\r\nSubject: {subject}\r\n"
            f"{extra}\r\n{body}").encode()


def client(tls=None, auth=None):
    c = mc.MilterClient(D.spec)
    c.negotiate()
    macros = mc.postfix_macros(tls=tls)
    c.connect("client.example", mc.SMFIA_INET, 40000, "192.0.2.10",
              macros=macros[mc.SMFIC_CONNECT])
    c.helo("client.example", macros=macros[mc.SMFIC_HELO])
    return c


def send(subject, rcpts=("<bob@example.org>",), extra="", body="Hello.\r\n", tls=None,
         auth=None, queue_id="4SoRt1", to="bob@example.org"):
    c = client(tls=tls)
    macros = {mc.SMFIC_MAIL: {"{auth_authen}": auth}} if auth else None
    if macros:
        base = mc.postfix_macros()[mc.SMFIC_MAIL]
        base.update(macros[mc.SMFIC_MAIL])
        macros = {mc.SMFIC_MAIL: base}
    t = c.transaction("<alice@example.com>", list(rcpts), msg(subject, extra, body, to),
                      macros=macros, queue_id=queue_id)
    c.quit()
    return t


def setup():
    top = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..")
    for kind in ("country", "asn"):
        subprocess.run(["perl", os.path.join(top, "tests", "lib", "make_mmdb.pl"), kind,
                        os.path.join(BASE, kind + ".mmdb")], check=True)
    write(GLOBAL, GLOBAL_SCRIPT)
    write(os.path.join(SIEVE, "special.example.sieve"),
          'require "fileinto";\nfileinto "FromDomainScript";\n')
    write(os.path.join(SIEVE, "example.org", "carol.sieve"),
          'require "fileinto";\nfileinto "Carol";\n')
    D.start()


def teardown():
    try:
        D.stop()
    finally:
        shutil.rmtree(BASE, ignore_errors=True)


@test
def negotiates_body_and_recipient_changes():
    c = mc.MilterClient(D.spec)
    n = c.negotiate()
    for flag in ("SMFIF_ADDHDRS", "SMFIF_CHGHDRS", "SMFIF_ADDRCPT", "SMFIF_DELRCPT"):
        assert n.actions & getattr(mc, flag), f"{flag} missing: 0x{n.actions:x}"
    for flag in ("SMFIF_CHGFROM", "SMFIF_CHGBODY", "SMFIF_QUARANTINE"):
        assert not n.actions & getattr(mc, flag), f"{flag} asked for: 0x{n.actions:x}"
    for flag in ("SMFIP_NOHELO", "SMFIP_NODATA", "SMFIP_NOEOH"):
        assert n.protocol & getattr(mc, flag), f"{flag} not negotiated: 0x{n.protocol:x}"
    for flag in ("SMFIP_NOBODY", "SMFIP_NOHDRS", "SMFIP_NORCPT", "SMFIP_NOMAIL"):
        assert not n.protocol & getattr(mc, flag), f"{flag} negotiated: 0x{n.protocol:x}"
    c.quit()


@test
def no_rule_matches_nothing_changes():
    t = send("hello")
    check_eq(t.reply.action, "continue", "reply")
    check_eq(t.mods, [], "modifications")


@test
def fileinto_rewrites_the_recipient_to_a_subaddress():
    t = send("monthly report")
    check_eq(t.reply.action, "continue", "reply")
    # one recipient, named in To: the delivered copy keeps its address
    check_eq(sorted(t.mods), [("addheader", "X-Postern-Original-To", " <bob@example.org>"),
                              ("addrcpt", "<bob+Reports@example.org>"),
                              ("delrcpt", "<bob@example.org>")], "modifications")


def original_to(t):
    return [m for m in t.mods if m[0] != "addrcpt" and m[0] != "delrcpt"]


@test
def original_recipient_is_named_in_any_letter_case_of_to_or_cc():
    t = send("monthly report", rcpts=("<Bob@EXAMPLE.org>",),
             to="Team <team@example.org>", extra="Cc: \"Bob\" <Bob@example.ORG>\r\n")
    check_eq(original_to(t), [("addheader", "X-Postern-Original-To", " <Bob@example.org>")],
             "header modifications")


@test
def a_bcc_recipient_is_never_named_in_the_original_recipient_header():
    # bob is the only envelope recipient but in no To/Cc: a Bcc copy
    t = send("monthly report", to="team@example.org", queue_id="4BcC01")
    assert ("addrcpt", "<bob+Reports@example.org>") in t.mods, t.mods
    check_eq(original_to(t), [], "header modifications")
    assert not any("bob@" in str(m) for m in original_to(t)), t.mods
    D.wait_for_log("4BcC01: sort: to=<bob@example.org>: no X-Postern-Original-To")


@test
def with_two_recipients_neither_is_named():
    # both are in To, both are filed: the header would be in both copies
    t = send("monthly report", rcpts=("<bob@example.org>", "<dave@example.org>"),
             to="bob@example.org, dave@example.org")
    assert ("addrcpt", "<dave+Reports@example.org>") in t.mods, t.mods
    check_eq(original_to(t), [], "header modifications")


@test
def a_redirect_target_never_sees_the_original_recipient():
    t = send("report, copy me")	# fileinto Reports and redirect :copy archive@
    assert ("addrcpt", "<archive@example.net>") in t.mods, t.mods
    assert ("addrcpt", "<bob+Reports@example.org>") in t.mods, t.mods
    check_eq([m for m in original_to(t) if m[1] == "X-Postern-Original-To"], [],
             "original recipient header")


@test
def a_forged_original_recipient_header_is_removed():
    t = send("hello", extra="X-Postern-Original-To: <ceo@example.org>\r\n")
    check_eq(t.mods, [("chgheader", 1, "X-Postern-Original-To", "")], "modifications")


@test
def redirect_replaces_the_recipient_and_leaves_a_trace():
    t = send("please forward")
    assert ("addrcpt", "<boss@example.net>") in t.mods, t.mods
    assert ("delrcpt", "<bob@example.org>") in t.mods, t.mods
    # the trace counts hops and names no address (other recipients see it)
    assert ("addheader", "X-Postern-Redirected", " hops=1") in t.mods, t.mods


@test
def redirect_copy_keeps_the_recipient():
    t = send("copy me")
    assert ("addrcpt", "<archive@example.net>") in t.mods, t.mods
    assert not any(m[0] == "delrcpt" for m in t.mods), t.mods


@test
def redirect_loop_is_refused_and_the_message_kept():
    t = send("please forward", extra="X-Postern-Redirected: <boss@example.net>\r\n")
    # kept; the incoming trace field is removed like every field Postern writes
    check_eq(t.mods, [("chgheader", 1, "X-Postern-Redirected", "")], "modifications")
    D.wait_for_log("redirect to <boss@example.net> refused (mail loop)")


@test
def discard_of_every_recipient_discards_the_message():
    t = send("spam offer", rcpts=("<bob@example.org>", "<dave@example.org>"))
    check_eq(t.reply.action, "discard", "reply")


@test
def reject_gives_the_script_text_as_550():
    t = send("refuse this")
    check_eq(t.reply.action, "replycode", "reply")
    assert t.reply.text.startswith("550 5.7.1 We do not want this."), t.reply.text


@test
def header_edits_become_header_modifications():
    t = send("hello", extra="X-Internal: secret\r\n")
    assert ("chgheader", 1, "X-Internal", "") in t.mods, t.mods
    # the top of the fields the script sees: position 1, below the MTA's
    # own Received: line, which the milter never sees but the MTA counts
    assert ("insheader", 1, "X-Sorted", " internal") in t.mods, t.mods


@test
def environment_items_come_from_the_mta():
    t = send("hello", tls="TLSv1.3", auth="alice")
    assert ("addheader", "X-TLS", " 1.3") in t.mods, t.mods
    assert ("addheader", "X-Auth", " yes") in t.mods, t.mods
    t = send("hello")
    check_eq(t.mods, [], "plain, unauthenticated")


@test
def client_country_and_asn_come_from_the_geoip_databases():
    t = send("geo")	# the client is 192.0.2.10: DE, AS64500 in the test databases
    check_eq(t.mods, [("addheader", "X-Geo", " DE AS64500")], "modifications")


@test
def domain_and_recipient_scripts_affect_only_their_recipients():
    t = send("hello", rcpts=("<bob@example.org>", "<carol@example.org>",
                             "<x@special.example>"))
    check_eq(sorted(t.mods), [
        ("addrcpt", "<carol+Carol@example.org>"),
        ("addrcpt", "<x+FromDomainScript@special.example>"),
        ("delrcpt", "<carol@example.org>"),
        ("delrcpt", "<x@special.example>"),
    ], "modifications")


@test
def partial_reject_removes_only_that_recipient():
    write(os.path.join(SIEVE, "example.org", "erin.sieve"),
          'require "reject";\nreject "Erin is away.";\n')
    t = send("hello", rcpts=("<bob@example.org>", "<erin@example.org>"), queue_id="4PaRt1")
    check_eq(t.reply.action, "continue", "reply")
    check_eq(t.mods, [("delrcpt", "<erin@example.org>")], "modifications")
    D.wait_for_log("4PaRt1: sort: to=<erin@example.org>: rejected by its script")


CASE_SCRIPT = """require ["envelope", "fileinto", "variables"];
if envelope :domain :is "from" "evil.example" { discard; stop; }
if envelope :domain :is :comparator "i;octet" "to" "case.example" { fileinto "Lower"; }
elsif envelope :domain :matches "to" "*" { fileinto "${1}"; }
"""


def send_envelope(sender, rcpt, mail_addr, rcpt_addr, queue_id="4EnV01"):
    """One message with the MTA's own parse of the addresses ({mail_addr},
    {rcpt_addr}: comments, route and trailing dot gone, case kept, as
    Postfix sends them) beside the paths as the client spelled them."""
    c = client()
    macros = mc.postfix_macros(sender=mail_addr, queue_id=queue_id)
    macros[mc.SMFIC_RCPT] = {"{rcpt_addr}": rcpt_addr}
    t = c.transaction(sender, [rcpt], msg("hello"), macros=macros, queue_id=queue_id)
    c.quit()
    return t


@test
def envelope_domain_is_compared_in_the_case_the_mta_gave():
    # i;octet sees "Case.Example", not a lower-cased copy; ${1} keeps the case;
    # the domain script is found under the canonical (lower-case) name
    write(os.path.join(SIEVE, "case.example.sieve"), CASE_SCRIPT)
    t = send_envelope("<alice@example.com>", "<u@Case.Example>", "alice@example.com",
                      "u@Case.Example")
    check_eq(t.mods, [("addrcpt", "<u+Case.Example@Case.Example>"),
                      ("delrcpt", "<u@Case.Example>")], "modifications")


@test
def odd_recipient_spellings_are_the_canonical_address():
    # comments, a source route, a trailing dot, needless quotes: the MTA
    # delivers to u@Case.Example, so the scripts and their tests see that
    # (with the MTA's {rcpt_addr}, and without: then the path parsed alike)
    for path in ("<u(x)@Case.Example.>", "<@relay.example:u@Case.Example>",
                 '<"u"@Case.Example>', "< u@Case.Example >"):
        for rcpt_addr in ("u@Case.Example", ""):
            t = send_envelope("<alice@example.com>", path, "alice@example.com", rcpt_addr)
            check_eq(t.mods, [("addrcpt", "<u+Case.Example@Case.Example>"),
                              ("delrcpt", path)], f"modifications for {path} {rcpt_addr!r}")


@test
def odd_sender_spelling_does_not_get_past_an_envelope_rule():
    for path, mail_addr in (("<spam(x)@Evil.Example.>", "spam@Evil.Example"),
                            ("<@relay.example:spam@evil.example>", "spam@evil.example"),
                            ("<spam@evil.example.>", "spam@evil.example"),
                            ("<spam(x)@Evil.Example.>", "")):
        t = send_envelope(path, "<u@case.example>", mail_addr, "u@case.example",
                          queue_id="4EnV02")
        check_eq(t.reply.action, "discard", f"verdict for sender {path} {mail_addr!r}")


@test
def run_time_error_keeps_the_message_and_is_logged():
    t = send("hello", body="please fail at run time\r\n", queue_id="4ErR01")
    check_eq(t.mods, [], "modifications")
    D.wait_for_log("4ErR01: sort: to=<bob@example.org> script=" + GLOBAL
                   + ": run-time failure at line 13: redirect: invalid address")
    line = [x for x in D.log().splitlines() if "4ErR01: sort: to=" in x][0]
    check_eq(prefixes(line), ["warning"], f"one severity in {line!r}")


@test
def applied_actions_are_logged_with_queue_id_script_and_line():
    send("monthly report", queue_id="4LoG01")
    D.wait_for_log(f"4LoG01: sort: to=<bob@example.org> script={GLOBAL} line=3: "
                   'fileinto "Reports": recipient <bob+Reports@example.org>')


@test
def changed_script_is_recompiled_without_reload():
    path = os.path.join(SIEVE, "changing.example.sieve")
    write(path, 'require "fileinto";\nfileinto "One";\n')
    t = send("hello", rcpts=("<u@changing.example>",))
    assert ("addrcpt", "<u+One@changing.example>") in t.mods, t.mods
    write(path, 'require "fileinto";\nfileinto "Two";\n')
    t = send("hello", rcpts=("<u@changing.example>",))
    assert ("addrcpt", "<u+Two@changing.example>") in t.mods, t.mods
    write(path, 'require "fileinto";\nfileinto "Three"\n')	# broken: last good stays
    t = send("hello", rcpts=("<u@changing.example>",))
    assert ("addrcpt", "<u+Two@changing.example>") in t.mods, t.mods
    D.wait_for_log(f"error: {path}:3:1: expected ';'")
    line = [x for x in D.log().splitlines() if f"{path}:3:1:" in x][0]
    check_eq(prefixes(line), ["error"], f"one severity in {line!r}")
    os.unlink(path)	# a broken script would make `check` and reload fail
    t = send("hello", rcpts=("<u@changing.example>",))
    check_eq(t.mods, [], "script removed")


@test
def check_and_compile_report_line_and_column():
    r = D.run("check")
    check_eq(r.returncode, 0, f"check of a good configuration: {r.stderr}")
    bad = os.path.join(BASE, "bad.sieve")
    with open(bad, "w") as f:
        f.write('require "fileinto";\nif header :is "subject" {\n  fileinto "x";\n}\n')
    r = D.run("compile", bad, GLOBAL)
    check_eq(r.returncode, 65, "compile exit status")
    check_eq(r.stderr, f'postern-sort: error: {bad}:2:4: test "header" needs a string list '
             'as argument 2\n', "compile error line: one prefix")
    assert f"{GLOBAL}: OK" in r.stdout, r.stdout
    conf = dict(D.config)
    D.config = dict(conf, user_scripts=os.path.join(BASE, "%u.sieve"))	# matches bad.sieve
    try:
        r = D.run("check")
    finally:
        D.config = conf
    check_eq(r.returncode, 78, "check with a broken per-recipient script")
    line = [x for x in r.stderr.splitlines() if "bad.sieve:2:4:" in x]
    assert line and line[0].startswith(f"postern-sort: fatal: {bad}:2:4: test "), r.stderr
    check_eq(prefixes(line[0]), ["fatal"], f"one severity in {line[0]!r}")
    D.config = dict(conf, script=bad)	# a broken global script
    try:
        r = D.run("check")
    finally:
        D.config = conf
    check_eq(r.returncode, 78, "check with a broken global script")
    check_eq(r.stderr, f'postern-sort: fatal: {bad}:2:4: test "header" needs a string list '
             'as argument 2\n', "check error line: one prefix")
    os.unlink(bad)


@test
def reload_with_a_broken_global_script_keeps_the_running_one():
    write(GLOBAL, GLOBAL_SCRIPT + "if true {\n")
    D.reload()
    D.wait_for_log("reload failed")
    t = send("monthly report")
    assert ("addrcpt", "<bob+Reports@example.org>") in t.mods, t.mods
    write(GLOBAL, GLOBAL_SCRIPT.replace('"Reports"', '"Reports2"'))
    D.reload()
    D.wait_for_log("generation 2")
    t = send("monthly report")
    assert ("addrcpt", "<bob+Reports2@example.org>") in t.mods, t.mods


@test
def test_tool_prints_actions_and_modifications():
    m = os.path.join(BASE, "m.eml")
    with open(m, "wb") as f:
        f.write(msg("monthly report"))
    r = D.run("test", GLOBAL, m, "--to", "bob@example.org", "--from", "<>")
    check_eq(r.returncode, 0, r.stderr)
    check_eq(r.stdout, 'fileinto "Reports2"\n\n'
             'add_header X-Postern-Original-To: <bob@example.org>\n'
             'add_rcpt <bob+Reports2@example.org>\n'
             'delete_rcpt <bob@example.org>\nverdict continue\n', "output")



@test
def a_header_over_max_header_count_is_refused_with_552():
    # the shared milter layer's limit (default 20000 fields): nothing past
    # it is kept and the message is refused at its end, before any script
    t = send("please forward", extra="X: y\r\n" * 20001)
    check_eq(t.reply.action, "replycode", "reply")
    assert t.reply.text.startswith("552 5.3.4"), t.reply.text
    check_eq(t.mods, [], "modifications")
    D.wait_for_log("message header over the limits: 20004 fields")


@test
def a_header_under_the_limits_is_sorted():
    t = send("please forward", extra="X: y\r\n" * 19000)
    assert ("addrcpt", "<boss@example.net>") in t.mods, t.mods


if __name__ == "__main__":
    main(setup, teardown)
