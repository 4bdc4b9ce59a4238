#!/usr/bin/env python3
# SPDX-License-Identifier: BSD-2-Clause
"""`postern-NAME check --postfix=DIR` lists the milters a Postfix
configuration names whose sockets accept nothing - what an administrator
needs after removing a package while main.cf still names its socket (every
message then waits). Checked against a private Postfix's configuration
(tests/lib/postfix.py, read through `postconf -c DIR`):

- a running daemon's socket passes; a missing file, a socket left behind by
  a stopped daemon and a plain file are each reported, with the parameter;
- a chrooted service's "-o smtpd_milters=unix:/postern/..." is looked up
  inside queue_directory, as Postfix does; a non-chrooted one as written;
- the braced form "{ unix:..., default_action=... }" is understood;
- every daemon's check has the option; exit 69 when something is missing,
  0 when all is well; and a Postfix the test starts really defers mail for
  a missing milter, which is why this matters."""
import os
import shutil
import socket
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "lib"))
from tap import test, main, check_eq  # noqa: E402
from daemon import Daemon  # noqa: E402
from postfix import PrivatePostfix  # noqa: E402

BASE = tempfile.mkdtemp(prefix="postern-check-postfix-")
os.chmod(BASE, 0o755)
S = {}


def setup():
    pf = PrivatePostfix(base=os.path.join(BASE, "pf"))
    S["pf"] = pf
    for d in ("live", "chrooted"):
        os.makedirs(os.path.join(BASE, d))
    # a live daemon outside the spool, and one inside the (pretend) chroot
    live = Daemon("postern-tls", base=os.path.join(BASE, "live"), config={
        "policy_file": os.path.join(BASE, "policy")})
    with open(os.path.join(BASE, "policy"), "w") as f:
        f.write("partner.example min_version=TLSv1.2\n")
    chrooted = Daemon("postern-tls", base=os.path.join(BASE, "chrooted"),
                      socket_dir=os.path.join(pf.queue_dir, "postern"),
                      config={"policy_file": os.path.join(BASE, "policy")})
    S["live"], S["chrooted"] = live.start(), chrooted.start()
    # a socket whose daemon stopped without removing it, and a plain file
    S["stale"] = os.path.join(BASE, "stale.sock")
    s = socket.socket(socket.AF_UNIX)
    s.bind(S["stale"])
    s.close()
    S["plain"] = os.path.join(BASE, "plain.sock")
    open(S["plain"], "w").close()
    S["missing"] = os.path.join(BASE, "removed", "archive.sock")


def teardown():
    for k in ("live", "chrooted"):
        if k in S:
            S[k].stop()
    if S.get("pf") and S["pf"].started:
        S["pf"].stop()
    shutil.rmtree(BASE, ignore_errors=True)


def check(name, *extra):
    live = S["live"]
    return subprocess.run([os.path.join(os.environ.get("POSTERN_BUILD", "build"), "bin", name),
                           "-c", live.conf, "check", f"--postfix={S['pf'].config_dir}", *extra],
                          capture_output=True, text=True, timeout=60)


@test
def a_missing_stale_or_plain_socket_is_reported_a_live_one_is_not():
    pf = S["pf"]
    pf.configure(milters=[S["live"].spec, "unix:" + S["missing"]], settings={
        "non_smtpd_milters": f"{{ unix:{S['stale']}, default_action=tempfail }}, "
                             f"{{ unix:{S['plain']}, default_action=accept }}"}, reload=False)
    r = check("postern-tls")
    check_eq(r.returncode, 69, r.stdout + r.stderr)
    lines = r.stdout.splitlines()
    problems = [x for x in lines if x.startswith("postfix: ")]
    check_eq(len(problems), 3, r.stdout)
    assert any(x.startswith(f"postfix: smtpd_milters: unix:{S['missing']}: no such file:")
               for x in problems), r.stdout
    assert any(x.startswith(f"postfix: non_smtpd_milters: unix:{S['stale']}: nobody listens")
               for x in problems), r.stdout
    assert any(x.startswith(f"postfix: non_smtpd_milters: unix:{S['plain']}: not a socket")
               for x in problems), r.stdout
    assert "delete it from smtpd_milters" in r.stdout, r.stdout
    assert S["live"].sock_path not in "\n".join(problems), r.stdout
    assert "configuration OK" in r.stdout, r.stdout


@test
def a_chrooted_service_is_looked_up_inside_the_queue_directory():
    pf = S["pf"]
    inside = "unix:/postern/" + os.path.basename(S["chrooted"].sock_path)
    pf.master_extra = (f"127.0.0.1:{pf.port or 10587} inet n - y - - smtpd\n"
                       f"  -o smtpd_milters={inside}\n"
                       f"127.0.0.1:{(pf.port or 10587) + 1} inet n - n - - smtpd\n"
                       f"  -o smtpd_milters={inside}\n")
    pf.configure(milters=[S["live"].spec], settings={"non_smtpd_milters": ""}, reload=False)
    try:
        r = check("postern-tls")
    finally:
        pf.master_extra = ""
    problems = [x for x in r.stdout.splitlines() if x.startswith("postfix: ")]
    check_eq(len(problems), 1, r.stdout)
    assert f"/smtpd_milters: {inside}: no such file" in problems[0], problems
    assert "inet/smtpd_milters" in problems[0], problems
    check_eq(r.returncode, 69, r.stdout)


@test
def every_daemon_has_it_and_all_well_exits_0():
    pf = S["pf"]
    pf.configure(milters=["{ %s, default_action=tempfail }" % S["live"].spec],
                 settings={"non_smtpd_milters": ""}, reload=False)
    for name in ("postern-tls", "postern-sort", "postern-archive", "postern-audit"):
        r = subprocess.run([os.path.join(os.environ.get("POSTERN_BUILD", "build"), "bin", name),
                            "check", f"--postfix={pf.config_dir}", "-c", "/nonexistent.conf"],
                           capture_output=True, text=True, timeout=60)
        assert "every milter Postfix names accepts connections" in r.stdout, (name, r)
    r = check("postern-tls")
    check_eq(r.returncode, 0, r.stdout + r.stderr)


@test
def why_it_matters_postfix_defers_mail_for_a_missing_milter():
    import smtp
    pf = S["pf"]
    pf.configure(milters=["unix:" + S["missing"]],
                 settings={"milter_default_action": "tempfail"}, reload=False)
    pf.start()
    r = smtp.send("127.0.0.1", pf.port, "a@example.com", ["b@example.org"],
                  b"Subject: x\r\n\r\nbody\r\n")
    assert not r.ok and str(r.code).startswith("4"), r


if __name__ == "__main__":
    main(setup, teardown)
