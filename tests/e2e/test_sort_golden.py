#!/usr/bin/env python3
# SPDX-License-Identifier: BSD-2-Clause
"""Golden corpus of postern-sort: every script under tests/sieve/cases/ is
run with `postern-sort test` on its message and the whole output (the Sieve
actions, a blank line, the milter modifications) must equal the .out file
beside it; scripts marked "# expect: error" must fail to compile with exit
status 65 and the error line in the .out file ("postern-sort: error:
file:line:column: text", one severity prefix).

Each script may start with comment lines that set up the run:
    # message: NAME.eml        (tests/sieve/messages/, default plain.eml)
    # from: ADDR               (envelope sender, default alice@example.com)
    # to: ADDR                 (envelope recipient, repeatable, default bob@example.org)
    # env: NAME=VALUE          (environment item, repeatable)
    # now: SECONDS             (the clock currentdate reads, seconds since 1970)
    # reference: no - REASON   (skipped by the Pigeonhole comparison)
    # expect: error            (a compile error case)

POSTERN_SORT_REGEN=1 rewrites the .out files (review the diff before
committing)."""
import os
import subprocess
import sys
import tempfile

TOP = os.environ.get("POSTERN_TOP") or os.path.abspath(
    os.path.join(os.path.dirname(__file__), "..", ".."))
sys.path.insert(0, os.path.join(TOP, "tests", "lib"))

from tap import test, main  # noqa: E402
from daemon import binary  # noqa: E402

CASES = os.path.join(TOP, "tests", "sieve", "cases")
MESSAGES = os.path.join(TOP, "tests", "sieve", "messages")
# the scripts include :personal and include :global find (RFC 6609)
INCLUDE_PERSONAL = os.path.join(TOP, "tests", "sieve", "include", "personal")
INCLUDE_GLOBAL = os.path.join(TOP, "tests", "sieve", "include", "global")
REGEN = os.environ.get("POSTERN_SORT_REGEN") == "1"
TMP = tempfile.mkdtemp(prefix="postern-sort-golden-")
CONF = os.path.join(TMP, "sort.conf")


# spamtest_ and virustest_ cases read SpamAssassin's fields; the Pigeonhole
# comparison gives sieve-test the same settings (sieve_spamtest_*)
SPAM_SETTINGS = [
    ("spamtest_status_header",
     "X-Spam-Status: [[:alpha:]]+, score=(-?[[:digit:]]+[.][[:digit:]]+)"),
    ("spamtest_max_header",
     "X-Spam-Status: [[:alpha:]]+, score=-?[[:digit:]]+[.][[:digit:]]+ "
     "required=([[:digit:]]+[.][[:digit:]]+)"),
    ("virustest_status_header", "X-Virus-Status"),
    ("virustest_status_type", "text"),
    ("virustest_text_values", "1=Clean, 5=Infected"),
]


def meta(path):
    """The set-up comments at the top of a case."""
    m = {"message": "plain.eml", "from": "alice@example.com", "to": [], "env": [],
         "reference": True, "error": False, "now": None}
    with open(path, encoding="utf-8") as f:
        for line in f:
            if not line.startswith("# "):
                break
            key, _, value = line[2:].strip().partition(": ")
            if key == "message":
                m["message"] = value
            elif key == "from":
                m["from"] = value
            elif key == "to":
                m["to"].append(value)
            elif key == "env":
                m["env"].append(value)
            elif key == "now":
                m["now"] = value
            elif key == "reference":
                m["reference"] = not value.startswith("no")
            elif key == "expect":
                m["error"] = value == "error"
    if not m["to"]:
        m["to"] = ["bob@example.org"]
    return m


def run_case(name):
    """(exit status, stdout, stderr) of postern-sort test for a case."""
    script = os.path.join(CASES, name + ".sieve")
    m = meta(script)
    cmd = [binary("postern-sort"), "-c", CONF, "test", script,
           os.path.join(MESSAGES, m["message"]), "--from", m["from"]]
    for t in m["to"]:
        cmd += ["--to", t]
    for e in m["env"]:
        cmd += ["--env", e]
    if m["now"]:
        cmd += ["--now", m["now"]]
    p = subprocess.run(cmd, capture_output=True, text=True, timeout=60, cwd=TOP)
    return p.returncode, p.stdout, p.stderr


def case_names():
    return sorted(f[:-6] for f in os.listdir(CASES) if f.endswith(".sieve"))


def check_case(name):
    script = os.path.join(CASES, name + ".sieve")
    m = meta(script)
    rc, out, err = run_case(name)
    # error messages name the script by the path given: make it relative
    err = err.replace(CASES + "/", "")
    out = out.replace(os.path.join(TOP, "tests", "sieve") + "/", "")
    got = err if m["error"] else out
    ref = os.path.join(CASES, name + ".out")
    if REGEN:
        with open(ref, "w", encoding="utf-8") as f:
            f.write(got)
    with open(ref, encoding="utf-8") as f:
        want = f.read()
    if m["error"]:
        assert rc == 65, f"{name}: exit status {rc}, want 65 (compile error); stderr {err!r}"
    else:
        assert rc == 0, f"{name}: exit status {rc}, want 0; stderr {err!r}"
    assert got == want, f"{name}: output differs\n--- got\n{got}--- want\n{want}"


def setup():
    with open(CONF, "w") as f:
        f.write("environment_host = mx.postern.test\ntmp_dir = %s\n" % TMP)
        f.write("include_personal_dir = %s\ninclude_global_dir = %s\n"
                % (INCLUDE_PERSONAL, INCLUDE_GLOBAL))
        for k, v in SPAM_SETTINGS:
            f.write("%s = %s\n" % (k, v))


def teardown():
    for f in os.listdir(TMP):
        os.unlink(os.path.join(TMP, f))
    os.rmdir(TMP)


def corpus_covers_every_area():
    names = case_names()
    for prefix in ("core_", "test_", "cmp_", "rel_", "sub_", "copy_", "var_", "body_",
                   "edit_", "reject_", "ereject_", "env_", "regex_", "enc_", "limit_",
                   "multi_", "err_"):
        assert any(n.startswith(prefix) for n in names), f"no case for {prefix}*"
    for n in names:
        assert os.path.exists(os.path.join(CASES, n + ".out")) or REGEN, f"{n}.out missing"


def make_test(name):
    def t():
        check_case(name)
    t.__name__ = "case " + name
    return t


if __name__ == "__main__":
    test(corpus_covers_every_area)
    for _n in case_names():
        test(make_test(_n))
    main(setup, teardown)
