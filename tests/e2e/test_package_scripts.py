#!/usr/bin/env python3
# SPDX-License-Identifier: BSD-2-Clause
"""The packages' removal scripts (packaging/debian/postern-NAME.prerm), run
as dpkg runs them, against a private Postfix configuration (postconf
honours MAIL_CONFIG) and with start-stop-daemon replaced by a recorder, so
nothing of this machine is touched:

- "remove" stops every instance of /usr/sbin/postern-NAME (the unit's,
  or one another supervisor runs) and, while main.cf or master.cf still
  names NAME.sock, warns and prints the entries to delete and a postconf
  command that leaves the other milters as they are;
- applying that command leaves a main.cf that `check --postfix` finds
  clean of the removed socket;
- "upgrade" neither stops nor warns; a main.cf that does not name the
  socket gets no warning."""
import os
import re
import shlex
import shutil
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "lib"))
from tap import test, main, check_eq  # noqa: E402
from postfix import PrivatePostfix  # noqa: E402

TOP = os.environ.get("POSTERN_TOP") or os.path.abspath(
    os.path.join(os.path.dirname(__file__), "..", ".."))
BASE = tempfile.mkdtemp(prefix="postern-prerm-")
os.chmod(BASE, 0o755)
FAKEBIN = os.path.join(BASE, "bin")
CALLS = os.path.join(BASE, "calls")
PF = PrivatePostfix(base=os.path.join(BASE, "pf"), pki=object())
SMTPD = ("{ unix:/postern/tls.sock, default_action=tempfail } "
         "{ unix:/postern/sort.sock, default_action=accept } "
         "{ unix:/postern/archive.sock, default_action=tempfail } "
         "{ unix:/postern/audit.sock, default_action=tempfail }")
NON_SMTPD = "unix:/postern/sort.sock, unix:/postern/archive.sock"


def setup():
    os.makedirs(FAKEBIN)
    with open(os.path.join(FAKEBIN, "start-stop-daemon"), "w") as f:
        f.write(f'#!/bin/sh\necho "$*" >> {CALLS}\n')
    os.chmod(os.path.join(FAKEBIN, "start-stop-daemon"), 0o755)


def teardown():
    shutil.rmtree(BASE, ignore_errors=True)


def write_postfix(smtpd, non_smtpd, master_extra=""):
    # main.cf only needs to be readable by postconf: no PKI, no start
    PF.main_cf = lambda: {"queue_directory": PF.queue_dir, "compatibility_level": "3.6",
                          "smtpd_milters": smtpd, "non_smtpd_milters": non_smtpd}
    PF.port = 10025
    PF.master_extra = master_extra
    PF.write_config()


def prerm(name, *args):
    if os.path.exists(CALLS):
        os.unlink(CALLS)
    env = dict(os.environ, MAIL_CONFIG=PF.config_dir,
               PATH=FAKEBIN + ":" + os.environ.get("PATH", "/usr/bin:/bin"))
    script = os.path.join(TOP, "packaging", "debian", f"postern-{name}.prerm")
    r = subprocess.run(["sh", script] + list(args), capture_output=True, text=True, env=env,
                       timeout=60)
    calls = open(CALLS).read() if os.path.exists(CALLS) else ""
    return r, calls


def postconf(*args):
    return subprocess.run(["postconf", "-c", PF.config_dir] + list(args), capture_output=True,
                          text=True, check=True).stdout.strip()


@test
def remove_stops_every_instance_and_prints_what_to_delete():
    write_postfix(SMTPD, NON_SMTPD, "submission inet n - y - - smtpd\n"
                  "  -o smtpd_milters=unix:/postern/sort.sock,unix:/postern/tls.sock\n")
    r, calls = prerm("tls", "remove")
    check_eq(r.returncode, 0, r.stderr)
    assert "--stop" in calls and "--exec /usr/sbin/postern-tls" in calls, calls
    err = r.stderr
    assert "main.cf smtpd_milters still names this daemon's socket; delete:" in err, err
    assert "    { unix:/postern/tls.sock, default_action=tempfail }" in err, err
    assert "non_smtpd_milters" not in err, err     # it does not name tls
    assert "master.cf -o settings still name" in err and "submission/inet/smtpd_milters" \
        in err, err
    assert "postfix reload" in err, err
    cmd = [x for x in err.splitlines() if "postconf -e" in x]
    check_eq(len(cmd), 1, err)
    # the suggested command, run against this configuration
    arg = shlex.split(cmd[0].split("e.g.: ", 1)[1])
    subprocess.run(arg[:1] + ["-c", PF.config_dir] + arg[1:], check=True)
    check_eq(postconf("-h", "smtpd_milters"),
             "{ unix:/postern/sort.sock, default_action=accept } "
             "{ unix:/postern/archive.sock, default_action=tempfail } "
             "{ unix:/postern/audit.sock, default_action=tempfail }", "main.cf after the fix")


@test
def a_plain_list_is_cleaned_to_a_valid_list():
    write_postfix("unix:/postern/tls.sock", NON_SMTPD)
    r, _ = prerm("archive", "remove")
    cmd = [x for x in r.stderr.splitlines() if "postconf -e" in x]
    check_eq(cmd, ["  e.g.: postconf -e 'non_smtpd_milters = unix:/postern/sort.sock'"],
             r.stderr)


@test
def upgrade_neither_stops_nor_warns_and_an_unnamed_socket_is_quiet():
    write_postfix(SMTPD, NON_SMTPD)
    r, calls = prerm("tls", "upgrade", "0.1.0")
    check_eq((r.returncode, r.stderr, calls), (0, "", ""), "upgrade")
    write_postfix("{ unix:/postern/sort.sock, default_action=accept }", "")
    r, calls = prerm("tls", "remove")
    check_eq(r.stderr, "", "nothing names tls.sock")
    assert "--exec /usr/sbin/postern-tls" in calls, calls


@test
def removing_postern_suite_names_its_one_line_and_leaves_the_four_alone():
    """A main.cf wired as main.cf.suite-snippet: removing postern-suite
    stops it and prints its entries; the suggested commands leave the
    lists empty. The four daemons' sockets (README.Debian: back to four)
    are not touched by its warning."""
    suite = "{ unix:/postern/suite.sock, default_action=tempfail }"
    write_postfix(suite, suite)
    r, calls = prerm("suite", "remove")
    check_eq(r.returncode, 0, r.stderr)
    assert "--stop" in calls and "--exec /usr/sbin/postern-suite" in calls, calls
    for param in ("smtpd_milters", "non_smtpd_milters"):
        assert f"postern-suite: main.cf {param} still names this daemon's socket; delete:" \
            in r.stderr, r.stderr
    assert "    " + suite in r.stderr, r.stderr
    cmds = [x for x in r.stderr.splitlines() if "postconf -e" in x]
    check_eq(len(cmds), 2, r.stderr)
    for cmd in cmds:
        arg = shlex.split(cmd.split("e.g.: ", 1)[1])
        subprocess.run(arg[:1] + ["-c", PF.config_dir] + arg[1:], check=True)
    check_eq((postconf("-h", "smtpd_milters"), postconf("-h", "non_smtpd_milters")), ("", ""),
             "main.cf after the fix")
    # the four daemons' entries are not the suite's
    write_postfix(SMTPD, NON_SMTPD)
    r, _ = prerm("suite", "remove")
    check_eq(r.stderr, "", "nothing names suite.sock")


@test
def every_daemon_package_has_the_same_script_but_its_name():
    texts = {}
    for name in ("tls", "sort", "archive", "audit", "suite"):
        with open(os.path.join(TOP, "packaging", "debian", f"postern-{name}.prerm")) as f:
            texts[name] = f.read().replace(name, "NAME")
    check_eq(len(set(texts.values())), 1, "prerm scripts differ beyond the name")


@test
def every_maintainer_script_has_one_debhelper_mark_and_parses_once_filled():
    """debhelper replaces #DEBHELPER# wherever it stands, comments included:
    a second mark inside a comment breaks the script (lintian:
    maintainer-shell-script-fails-syntax-check)."""
    d = os.path.join(TOP, "packaging", "debian")
    filled = 'if [ "$1" = remove ]; then\n\ttrue\nfi'
    for f in sorted(os.listdir(d)):
        if not re.search(r"\.(pre|post)(inst|rm)\Z", f):
            continue
        with open(os.path.join(d, f)) as fp:
            text = fp.read()
        check_eq(text.count("#DEBHELPER#"), 1, f"#DEBHELPER# marks in {f}")
        r = subprocess.run(["sh", "-n"], input=text.replace("#DEBHELPER#", filled),
                           capture_output=True, text=True)
        check_eq(r.returncode, 0, f"{f} once filled: {r.stderr}")


if __name__ == "__main__":
    main(setup, teardown)
