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
import urllib.parse
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
    lines = out.splitlines()
    for i, line in enumerate(lines):
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
        if s == "send vacation message:":
            acts.append(pigeonhole_vacation(lines, i))
            continue
        if s.startswith("send notification with method 'mailto:'"):
            acts.append(pigeonhole_notify(lines, i))
            continue
        acts.append("?" + s)
    return dedupe(acts)


def pigeonhole_fields(lines, i):
    """The "=> name : value" lines after line i, and the lines that follow."""
    fields, rcpts, j = {}, [], i + 1
    while j < len(lines):
        s = lines[j].strip()
        m = re.match(r"=> (\w+)\s*: ?(.*)$", s)
        if m:
            fields[m.group(1)] = m.group(2)
        elif s.startswith("+ ") and ":" in s:
            rcpts.append(s.split(":", 1)[1].strip().lower())
        elif s.startswith("* ") or s == "Implicit keep:":
            break
        elif s == "START MESSAGE":
            fields["reason"] = lines[j + 1] if j + 1 < len(lines) else ""
            break
        j += 1
    return fields, rcpts


def pigeonhole_vacation(lines, i):
    """sieve-test's vacation block in postern-sort's form (no :addresses,
    which it does not print; its made-up default handle dropped)."""
    f, _ = pigeonhole_fields(lines, i)
    q = {k: v.replace("\\", "\\\\").replace('"', '\\"') for k, v in f.items()}
    out = "vacation :seconds %s" % f.get("seconds", "")
    for tag in ("subject", "from"):
        if tag in f:
            out += ' :%s "%s"' % (tag, q[tag])
    # the default handle (printed up to its first line break) is made up
    h = f.get("handle", "")
    if h and not h.endswith(("<NO-MIME>", "<MIME>")) and h != f.get("reason"):
        out += ' :handle "%s"' % q["handle"]
    return out + ' "%s"' % q.get("reason", "")


def pigeonhole_notify(lines, i):
    """sieve-test's notification block: from, importance, subject and
    the recipients."""
    f, rcpts = pigeonhole_fields(lines, i)
    out = "notify"
    if "from" in f:
        out += ' :from "%s"' % f["from"]
    out += ' :importance "%s"' % f.get("importance", "2")
    if f.get("subject"):
        out += ' :subject "%s"' % f["subject"]
    return out + " %s" % sorted(rcpts)


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
        if line.startswith("vacation "):
            # sieve-test prints neither :addresses nor :mime, and it
            # decides the RFC 3834 refusals only when sending
            line = re.sub(r' # not sent: .*$', "", line)
            line = re.sub(r' :addresses \[.*?\]', "", line)
            line = line.replace(" :mime", "")
        if line.startswith("notify "):
            line = postern_notify(line)
        acts.append(line)
    return dedupe(acts)


def postern_notify(line):
    """postern-sort's notify line in the form of pigeonhole_notify()."""
    line = re.sub(r' # not sent: .*$', "", line)
    tags = dict(re.findall(r':(\w+) "((?:[^"\\]|\\.)*)"', line))
    uri = re.search(r'"([^"]*)"$', line).group(1)
    to, _, query = uri[len("mailto:"):].partition("?")
    q = urllib.parse.parse_qs(query)
    rcpts = [a for a in urllib.parse.unquote(to).split(",") if a]
    for h in ("to", "cc", "bcc"):
        for v in q.get(h, []):
            rcpts += [a for a in v.split(",") if a]
    out = "notify"
    if "from" in tags:
        out += ' :from "%s"' % tags["from"]
    out += ' :importance "%s"' % tags.get("importance", "2")
    subject = tags.get("message") or (q.get("subject") or [""])[0]
    if subject:
        out += ' :subject "%s"' % subject
    return out + " %s" % sorted(a.strip().lower() for a in rcpts)


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
    # include :personal and :global (RFC 6609): copies sieve-test may
    # write its compiled binaries beside
    personal = os.path.join(TMP, "personal")
    global_dir = os.path.join(TMP, "global")
    shutil.copytree(golden.INCLUDE_PERSONAL, personal)
    shutil.copytree(golden.INCLUDE_GLOBAL, global_dir)
    for d in (personal, global_dir):
        os.chmod(d, 0o777)
    with open(DOVECOT_CONF, "w") as f:
        f.write("log_path = /dev/stderr\ninfo_log_path = /dev/stderr\n"
                "mail_uid = nobody\nmail_gid = nogroup\n"
                f"mail_location = maildir:{mail}\n"
                "plugin {\n  sieve_extensions = +editheader +encoded-character"
                " +spamtest +spamtestplus +virustest +vacation-seconds\n"
                f"  sieve = file:{personal}\n  sieve_global = {global_dir}\n")
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
