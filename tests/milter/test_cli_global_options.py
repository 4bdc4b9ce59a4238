#!/usr/bin/env python3
# SPDX-License-Identifier: BSD-2-Clause
"""Global options before or after the command, for every command of every
daemon: `postern-tls -c F test ...`, `postern-tls test -c F ...` and
`postern-tls test ... -c F` read the same file and give the same answer;
-v and -f are accepted in either place; a tool's own option value that
looks like an option ("--from -v") stays the tool's."""
import os
import shutil
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "lib"))
from tap import test, main, check_eq  # noqa: E402
from daemon import binary  # noqa: E402

BASE = tempfile.mkdtemp(prefix="postern-cli-")
MSG = os.path.join(BASE, "msg.eml")
SIEVE = os.path.join(BASE, "rules.sieve")
POLICY = os.path.join(BASE, "tls_policy")


def conf(name, lines):
    path = os.path.join(BASE, name + ".conf")
    with open(path, "w") as f:
        f.write("socket = unix:%s/%s.sock\n" % (BASE, name))
        for line in lines:
            f.write(line + "\n")
    return path


def setup():
    with open(MSG, "w") as f:
        f.write("From: a@partner.example\nTo: b@example.org\nSubject: hi\n\nHello.\n")
    with open(SIEVE, "w") as f:
        f.write('require "fileinto";\nif header :contains "subject" "hi" '
                '{ fileinto "Hi"; }\n')
    with open(POLICY, "w") as f:
        f.write("partner.example min_version=TLSv1.2\n"
                "supplier.example min_version=TLSv1.3 direction=outbound\n")
    os.makedirs(os.path.join(BASE, "archive"))
    os.makedirs(os.path.join(BASE, "audit"))
    open(os.path.join(BASE, "audit", "trail.jsonl"), "w").close()


def teardown():
    shutil.rmtree(BASE, ignore_errors=True)


def configs():
    return {
        "postern-tls": conf("tls", ["policy_file = " + POLICY]),
        "postern-sort": conf("sort", ["script = " + SIEVE, "tmp_dir = " + BASE]),
        "postern-archive": conf("archive", ["archive_directory = %s/archive" % BASE,
                                            "tmp_dir = " + BASE,
                                            "access_log = %s/access.log" % BASE]),
        "postern-audit": conf("audit", ["trail_file = %s/audit/trail.jsonl" % BASE]),
    }


# command and its arguments, for each daemon: every command it has
COMMANDS = {
    "postern-tls": [["check"], ["config", "-n"],
                    ["test", "--from", "a@partner.example", "--rcpt", "b@example.org"],
                    ["postfix-map"]],
    "postern-sort": [["check"], ["config", "-n"], ["compile", SIEVE],
                     ["test", SIEVE, MSG, "--to", "b@example.org"]],
    "postern-archive": [["check"], ["config", "-n"], ["search"], ["stats"], ["verify"],
                        ["reindex"]],
    "postern-audit": [["check"], ["config", "-n"], ["export"], ["verify", "--no-key"],
                      ["checkpoint"]],
}


def run(name, args):
    r = subprocess.run([binary(name)] + args, capture_output=True, text=True, timeout=60)
    # the only thing that may differ between runs is nothing at all
    return r.returncode, r.stdout, r.stderr


def one_daemon(name):
    cfg = configs()[name]
    for cmd in COMMANDS[name]:
        before = run(name, ["-c", cfg] + cmd)
        assert before[0] not in (64, 78), (name, cmd, before)   # no usage or config error
        # a configuration only -c names: the default file does not exist here,
        # so a tool that missed -c would run on the defaults and answer otherwise
        after = run(name, cmd[:1] + ["-c", cfg] + cmd[1:])
        check_eq(after, before, f"{name} {cmd[0]} -c FILE ...")
        last = run(name, cmd + ["-c", cfg])
        check_eq(last, before, f"{name} {cmd[0]} ... -c FILE")
        glued = run(name, cmd + ["-c" + cfg])
        check_eq(glued, before, f"{name} {cmd[0]} ... -cFILE")
        if cmd[0] not in ("serve",):
            flags = run(name, cmd[:1] + ["-v", "-f", "-c", cfg] + cmd[1:])
            check_eq(flags[0], before[0], f"{name} {cmd[0]} -v -f -c FILE: {flags[2]}")


@test
def tls_every_command_takes_global_options_anywhere():
    one_daemon("postern-tls")


@test
def sort_every_command_takes_global_options_anywhere():
    one_daemon("postern-sort")


@test
def archive_every_command_takes_global_options_anywhere():
    one_daemon("postern-archive")


@test
def audit_every_command_takes_global_options_anywhere():
    one_daemon("postern-audit")


@test
def a_value_that_looks_like_an_option_stays_the_tools():
    cfg = configs()["postern-tls"]
    r = run("postern-tls", ["test", "-c", cfg, "--from", "-v", "--rcpt", "b@example.org"])
    assert "MAIL FROM -v:" in r[1], r


@test
def a_missing_file_after_the_command_is_reported_not_defaulted():
    r = run("postern-tls", ["test", "-c", os.path.join(BASE, "nonexistent.conf"),
                            "--from", "a@partner.example", "--rcpt", "b@example.org"])
    check_eq(r[0], 78, f"exit status: {r}")
    assert "nonexistent.conf" in r[2], r


if __name__ == "__main__":
    main(setup, teardown)
