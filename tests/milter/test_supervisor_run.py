#!/usr/bin/env python3
# SPDX-License-Identifier: BSD-2-Clause
"""Without systemd: packaging/supervisor/run, the run script for runit, s6,
daemontools or a container's init, run as such a supervisor runs it (its
service directory as the working directory, its stdout read as the log):

- the process the supervisor started is the daemon itself (-f: no fork
  into the background), so its signals reach the daemon;
- the milter answers on its socket; log lines arrive on standard output;
- SIGTERM to that process stops the daemon and its worker, exit 0, the
  socket removed and no process left;
- a broken configuration ends the script with exit 78 and the error as its
  last line, before anything listens."""
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "lib"))
from tap import test, main, check_eq  # noqa: E402
import milter_client as mc  # noqa: E402
from daemon import binary, leftover_processes  # noqa: E402

TOP = os.environ.get("POSTERN_TOP") or os.path.abspath(
    os.path.join(os.path.dirname(__file__), "..", ".."))
RUN = os.path.join(TOP, "packaging", "supervisor", "run")
BASE = tempfile.mkdtemp(prefix="postern-run-")
os.chmod(BASE, 0o755)
SERVICE = os.path.join(BASE, "service", "postern-tls")   # as /etc/service/postern-tls
CONF = os.path.join(BASE, "tls.conf")
SOCK = os.path.join(BASE, "tls.sock")


def setup():
    os.makedirs(SERVICE)
    with open(os.path.join(BASE, "policy"), "w") as f:
        f.write("partner.example min_version=TLSv1.2\n")


def teardown():
    shutil.rmtree(BASE, ignore_errors=True)


def write_conf(extra=""):
    with open(CONF, "w") as f:
        f.write(f"socket = unix:{SOCK}\nsocket_mode = 0666\n"
                f"policy_file = {BASE}/policy\n{extra}")


def start():
    log = open(os.path.join(BASE, "out.log"), "w")
    env = dict(os.environ, CONF=CONF, BIN=binary("postern-tls"))
    return subprocess.Popen(["sh", RUN], cwd=SERVICE, env=env, stdout=log,
                            stderr=subprocess.STDOUT), log


def output():
    with open(os.path.join(BASE, "out.log"), errors="replace") as f:
        return f.read()


@test
def the_run_script_becomes_the_daemon_and_stops_on_sigterm():
    write_conf()
    proc, log = start()
    try:
        deadline = time.time() + 20
        while time.time() < deadline and "serving on" not in output():
            assert proc.poll() is None, output()
            time.sleep(0.05)
        assert "serving on" in output(), output()
        with open(f"/proc/{proc.pid}/cmdline", "rb") as f:
            argv = f.read().split(b"\0")
        check_eq((os.path.basename(argv[0].decode()), argv[-3:-1]),
                 ("postern-tls", [b"-f", b"serve"]), "the supervised process")
        c = mc.MilterClient("unix:" + SOCK)
        c.negotiate()
        c.close()
        proc.send_signal(signal.SIGTERM)
        check_eq(proc.wait(30), 0, f"exit status: {output()}")
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        log.close()
    assert not os.path.exists(SOCK), "socket left behind"
    check_eq(leftover_processes(CONF), [], "processes after SIGTERM")


@test
def a_broken_configuration_stops_the_script_with_its_error():
    write_conf("no_such_parameter = 1\n")
    proc, log = start()
    try:
        check_eq(proc.wait(30), 78, output())
    finally:
        log.close()
    lines = output().strip().splitlines()
    assert "no_such_parameter" in lines[-1], lines
    assert not os.path.exists(SOCK), "a socket was opened"


if __name__ == "__main__":
    main(setup, teardown)
