#!/usr/bin/env python3
# SPDX-License-Identifier: BSD-2-Clause
"""Differential test of postern-sort against Pigeonhole (Dovecot's Sieve,
Debian package dovecot-sieve), the reference implementation.

For every case of the golden corpus (tests/sieve/cases/) that both
implementations support (not marked "# reference: no"), the script is run
on its message by Pigeonhole's sieve-test and by `postern-sort test`; the
two action lists, normalised to one form, must be equal:

    keep                 Pigeonhole: store message in folder: INBOX, in any letter
                         case (also the implicit keep)
    fileinto "F"         store message in folder: F
    redirect "a@b"       redirect message to: <a@b>
    discard              discard
    reject "text"        reject message with reason: text

Header edits are not listed by sieve-test; their effect is compared
through the tests that follow them in the scripts. A script that fails at
run time ends in the implicit keep in both. Compile-error cases must be
refused by both. sieve-test runs with a private dovecot.conf in a temp
directory, no network."""
import os
import re
import shutil
import subprocess
import sys
import tempfile

TOP = os.environ.get("POSTERN_TOP") or os.path.abspath(
    os.path.join(os.path.dirname(__file__), "..", ".."))
sys.path.insert(0, os.path.join(TOP, "tests", "lib"))
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from tap import test, main  # noqa: E402
import test_sort_golden as golden  # noqa: E402

SIEVE_TEST = shutil.which("sieve-test") or "/usr/bin/sieve-test"
TMP = tempfile.mkdtemp(prefix="postern-sort-ph-")
DOVECOT_CONF = os.path.join(TMP, "dovecot.conf")


def normalise_pigeonhole(out, err=""):
    """Action lines of sieve-test's report in the common form."""
    if "resolved with successful implicit keep" in err:
        return ["keep"]	# a run-time error: the implicit keep alone
    acts = []
    section = None
    for line in out.splitlines():
        s = line.strip()
        if s == "Performed actions:":
            section = "performed"
            continue
        if s == "Implicit keep:":
            section = "implicit"
            continue
        m = re.match(r"\+ add IMAP flags: (.*)$", s)
        if m and acts and section is not None:
            acts[-1] = with_flags(acts[-1], m.group(1).split())
            continue
        if not s.startswith("* ") or section is None:
            continue
        s = s[2:]
        m = re.match(r"store message in folder: (.*)$", s)
        if m:
            # Dovecot's INBOX is case-insensitive: sieve-test names it as the
            # script spelled it ("inbox"), and stores there once, as keep does
            inbox = m.group(1).upper() == "INBOX"
            acts.append("keep" if inbox else 'fileinto "%s"' % m.group(1))
            continue
        m = re.match(r"redirect message to: <(.*)>$", s)
        if m:
            acts.append('redirect "%s"' % m.group(1).lower())
            continue
        m = re.match(r"reject message with reason: (.*)$", s)
        if m:
            acts.append('reject "%s"' % m.group(1))
            continue
        if s.startswith("track ") and "duplicate" in s:
            continue	# duplicate: an ID to record, not an action on the message
        if s == "discard":
            acts.append("discard")
            continue
        acts.append("?" + s)
    return dedupe(acts)


def with_flags(act, flags):
    """imap4flags: "keep" or 'fileinto "F"' with its flags as a set:
    "keep :flags \\seen work" (system flags in lower case, each flag
    once in any case, sorted), the form both sides are compared in."""
    seen, out = set(), []
    for f in flags:
        key = f.lower()
        if key not in seen:
            seen.add(key)
            out.append(f.lower() if f.startswith("\\") else f)
    if not out:
        return act
    return "%s :flags %s" % (act, " ".join(sorted(out, key=str.lower)))


def normalise_postern(out):
    """Action lines of postern-sort test (before the blank line)."""
    acts = []
    for line in out.split("\n\n", 1)[0].splitlines():
        m = re.match(r'(keep|fileinto) :flags \[(.*?)\](.*)$', line)
        if m:
            flags = [f.replace("\\\\", "\\") for f in re.findall(r'"((?:[^"\\]|\\.)*)"', m.group(2))]
            line = with_flags(m.group(1) + m.group(3), flags)
        if line.startswith(("addheader", "deleteheader")):
            continue
        if line == 'fileinto "INBOX"':
            line = "keep"
        m = re.match(r'redirect "(.*)"$', line)
        if m:
            line = 'redirect "%s"' % m.group(1).lower()
        acts.append(line)
    return dedupe(acts)


def dedupe(acts):
    seen, out = set(), []
    for a in acts:
        if a not in seen:
            seen.add(a)
            out.append(a)
    return out


def run_pigeonhole(name):
    m = golden.meta(os.path.join(golden.CASES, name + ".sieve"))
    script = os.path.join(TMP, name + ".sieve")
    shutil.copy(os.path.join(golden.CASES, name + ".sieve"), script)
    msg = os.path.join(TMP, m["message"])
    if not os.path.exists(msg):
        shutil.copy(os.path.join(golden.MESSAGES, m["message"]), msg)
    cmd = [SIEVE_TEST, "-c", DOVECOT_CONF, "-f", m["from"], "-a", m["to"][0],
           "-r", m["to"][0], script, msg]
    p = subprocess.run(cmd, capture_output=True, text=True, timeout=60, cwd=TMP)
    return p.returncode, p.stdout, p.stderr


def compared_cases():
    return [n for n in golden.case_names()
            if golden.meta(os.path.join(golden.CASES, n + ".sieve"))["reference"]]


def setup():
    os.chmod(TMP, 0o777)	# sieve-test runs as nobody and saves compiled scripts
    mail = os.path.join(TMP, "mail")
    os.makedirs(mail)
    os.chmod(mail, 0o777)
    with open(DOVECOT_CONF, "w") as f:
        f.write("log_path = /dev/stderr\ninfo_log_path = /dev/stderr\n"
                "mail_uid = nobody\nmail_gid = nogroup\n"
                f"mail_location = maildir:{mail}\n"
                "plugin {\n  sieve_extensions = +editheader +encoded-character"
                " +spamtest +spamtestplus +virustest\n")
        for k, v in golden.SPAM_SETTINGS:
            if k.endswith("_text_values"):
                for item in v.split(","):
                    n, _, text = item.strip().partition("=")
                    f.write("  sieve_%s%s = %s\n" % (k[:-len("s")], n, text))
            else:
                f.write("  sieve_%s = %s\n" % (k, v))
        f.write("}\n")
    golden.setup()


def teardown():
    shutil.rmtree(TMP, ignore_errors=True)
    golden.teardown()


def make_test(name):
    def t():
        m = golden.meta(os.path.join(golden.CASES, name + ".sieve"))
        prc, pout, perr = run_pigeonhole(name)
        rc, out, err = golden.run_case(name)
        if m["error"]:
            assert rc == 65, f"postern-sort accepted {name}: {out!r}"
            assert prc != 0 and "compile" in perr, \
                f"Pigeonhole accepted {name} (status {prc}): {pout!r} {perr!r}"
            return
        assert "failed to compile" not in perr, f"Pigeonhole refused {name}: {perr}"
        got, want = normalise_postern(out), normalise_pigeonhole(pout, perr)
        assert got == want, f"{name}: postern-sort {got}, Pigeonhole {want}\n{perr}"
    t.__name__ = "same as pigeonhole " + name
    return t


if __name__ == "__main__":
    if not os.access(SIEVE_TEST, os.X_OK):
        print("ok 1 - Pigeonhole comparison # SKIP sieve-test not installed "
              "(apt-get install dovecot-sieve)")
        print("1..1")
        sys.exit(0)
    for _n in compared_cases():
        test(make_test(_n))
    main(setup, teardown)
