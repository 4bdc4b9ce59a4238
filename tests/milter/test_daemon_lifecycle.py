#!/usr/bin/env python3
# SPDX-License-Identifier: BSD-2-Clause
"""Daemon lifecycle of the shared CLI (common/milter/daemon.c), as an admin
meets it: socket mode and owner, pidfile, privilege drop after the socket is
bound, detaching without -f, SIGHUP reload, SIGTERM clean stop (pidfile and
socket removed, no process left), crash restart by the supervisor, and the
--help / --version / unknown-command answers."""
import os
import pwd
import signal
import socket
import shutil
import stat
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "lib"))
from tap import test, main, check_eq  # noqa: E402
import milter_client as mc  # noqa: E402
from daemon import Daemon, binary, leftover_processes  # noqa: E402

BASE = tempfile.mkdtemp(prefix="postern-life-")
os.chmod(BASE, 0o755)
NOBODY = pwd.getpwnam("nobody")


def uids(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("Uid:"):
                return [int(x) for x in line.split()[1:]]
    return []


def children(pid):
    out = []
    for d in os.listdir("/proc"):
        if d.isdigit():
            try:
                with open(f"/proc/{d}/stat") as f:
                    fields = f.read().rsplit(")", 1)[1].split()
                if int(fields[1]) == pid and fields[0] not in "ZX":
                    out.append(int(d))
            except (OSError, IndexError):
                pass
    return out


def wait_until(pred, timeout=15, what="condition"):
    deadline = time.time() + timeout
    while time.time() < deadline:
        if pred():
            return
        time.sleep(0.05)
    raise AssertionError(f"timed out waiting for {what}")


def one_message(spec):
    c = mc.MilterClient(spec)
    c.negotiate()
    c.connect("client.example", mc.SMFIA_INET, 1, "192.0.2.1")
    t = c.transaction("<a@example.com>", ["<b@example.org>"], b"Subject: x\r\n\r\nbody\r\n")
    c.quit()
    return t


def teardown():
    shutil.rmtree(BASE, ignore_errors=True)


@test
def drops_privileges_after_binding_and_sets_socket_owner_and_mode():
    pidfile = os.path.join(BASE, "testd.pid")
    d = Daemon("postern-testd", base=BASE, config={
        "user": "nobody", "socket_owner": "nobody:nogroup", "socket_mode": "0660",
        "pidfile": pidfile, "tmp_dir": "/tmp"})
    d.start()
    try:
        st = os.stat(d.sock_path)
        check_eq(stat.S_IMODE(st.st_mode), 0o660, "socket mode")
        check_eq(st.st_uid, NOBODY.pw_uid, "socket owner")
        wait_until(lambda: os.path.exists(pidfile), what="pidfile")
        check_eq(int(open(pidfile).read()), d.proc.pid, "pidfile holds the supervisor's pid")
        workers = children(d.proc.pid)
        check_eq(len(workers), 1, "worker processes")
        # the worker, which handles mail, runs as nobody for good; the
        # supervisor, which only forwards signals, keeps root to clean up
        check_eq(set(uids(workers[0])), {NOBODY.pw_uid}, "worker uids (real, effective, saved, fs)")
        check_eq(uids(d.proc.pid)[0], 0, "supervisor uid")
        t = one_message(d.spec)
        check_eq(t.reply.action, "continue", "serves mail as nobody")
        d.reload({"header_name": "X-As-Nobody"})
        d.wait_for_log("generation 2")
        assert any(m[1] == "X-As-Nobody" for m in one_message(d.spec).mods if m[0] == "addheader")
    finally:
        d.stop()
    assert not os.path.exists(pidfile), "pidfile removed at stop"
    assert not os.path.exists(d.sock_path), "socket removed at stop"


@test
def detaches_without_f_and_stops_on_sigterm():
    pidfile = os.path.join(BASE, "bg.pid")
    d = Daemon("postern-testd", base=BASE, config={"pidfile": pidfile})
    d.sock_path = os.path.join(d.socket_dir, "bg.sock")
    d.config["socket"] = "unix:" + d.sock_path
    d.write_config()
    r = subprocess.run([binary("postern-testd"), "-c", d.conf, "serve"], timeout=30,
                       capture_output=True, text=True)
    check_eq(r.returncode, 0, "serve returns once detached")
    wait_until(lambda: os.path.exists(pidfile) and os.path.getsize(pidfile) > 0, what="pidfile")
    wait_until(d.accepts, what="socket")
    pid = int(open(pidfile).read())
    check_eq(os.getsid(pid), pid, "detached into its own session")
    check_eq(one_message("unix:" + d.sock_path).reply.action, "continue", "serves")
    os.kill(pid, signal.SIGTERM)
    wait_until(lambda: not leftover_processes(d.conf), timeout=20, what="processes to exit")
    assert not os.path.exists(pidfile), "pidfile removed"


def stop_seconds(d):
    """Time from SIGTERM to the daemon's exit, with no mail in flight."""
    d.start()
    wait_until(d.accepts, what="socket")
    check_eq(one_message(d.spec).reply.action, "continue", "serves before the stop")
    t0 = time.monotonic()
    d.stop()
    return time.monotonic() - t0


# Under valgrind every process starts and exits several times slower; the
# promise (a stop within 1 s) is about the daemon, not the instrumentation.
STOP_LIMIT = 1.0 if os.environ.get("POSTERN_VALGRIND") != "1" else 5.0


@test
def stops_within_a_second_of_sigterm_on_unix_and_inet_sockets():
    # libmilter polls its socket for 5 s at a time; an admin (and systemd,
    # and Postfix finding no socket) used to wait that long at every stop.
    d = Daemon("postern-testd", base=BASE, config={"tmp_dir": "/tmp"})
    d.sock_path = os.path.join(d.socket_dir, "quick.sock")
    d.spec = d.config["socket"] = "unix:" + d.sock_path
    took = stop_seconds(d)
    assert took < STOP_LIMIT, f"unix socket: stopped after {took:.2f}s"
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    d = Daemon("postern-testd", base=BASE, config={"tmp_dir": "/tmp"})
    d.sock_path = None
    d.spec = d.config["socket"] = f"inet:{port}@127.0.0.1"
    took = stop_seconds(d)
    assert took < STOP_LIMIT, f"inet socket: stopped after {took:.2f}s"


@test
def an_idle_session_does_not_hold_a_stop():
    # Postfix keeps its milter connection open for the whole SMTP session:
    # a worker told to stop must not wait for a session between messages
    # (it waited 25 s, and said "sessions still open").
    d = Daemon("postern-testd", base=BASE, config={"tmp_dir": "/tmp"})
    d.start()
    idle = mc.MilterClient(d.spec)
    try:
        idle.negotiate()
        idle.connect("client.example", mc.SMFIA_INET, 1, "192.0.2.1")
        check_eq(one_message(d.spec).reply.action, "continue", "another session")
        d.stop()
    finally:
        idle.close()
    assert "still" not in d.log(), d.log()
    assert "stopped" in d.log(), d.log()


@test
def supervisor_restarts_a_crashed_worker():
    d = Daemon("postern-testd", base=BASE, config={"tmp_dir": "/tmp"})
    d.sock_path = os.path.join(d.socket_dir, "crash.sock")
    d.spec = d.config["socket"] = "unix:" + d.sock_path
    d.start()
    try:
        worker = children(d.proc.pid)[0]
        # SIGKILL, not SIGSEGV: ASan builds catch SEGV and exit normally
        os.kill(worker, signal.SIGKILL)
        def replaced():
            now = children(d.proc.pid)
            return len(now) == 1 and now[0] != worker
        wait_until(replaced, what="a new worker")
        d.wait_for_log("worker killed by signal 9: restarting it")
        wait_until(lambda: one_message(d.spec).reply.action == "continue", what="service back")
    finally:
        d.stop()


@test
def help_version_and_unknown_command():
    b = binary("postern-testd")
    r = subprocess.run([b, "--version"], capture_output=True, text=True)
    check_eq((r.returncode, r.stdout.split()[0]), (0, "postern-testd"), "--version")
    r = subprocess.run([b, "--help"], capture_output=True, text=True)
    check_eq(r.returncode, 0, "--help exit")
    for word in ("serve", "check", "config", "show", "-c FILE"):
        assert word in r.stdout, f"{word!r} missing from --help"
    r = subprocess.run([b, "frobnicate"], capture_output=True, text=True)
    check_eq(r.returncode, 64, "unknown command exit (EX_USAGE)")
    assert 'unknown command "frobnicate"' in r.stderr, r.stderr
    r = subprocess.run([b, "-x"], capture_output=True, text=True)
    check_eq(r.returncode, 64, "unknown option exit (EX_USAGE)")


@test
def socket_that_cannot_be_opened_exits_69():
    d = Daemon("postern-testd", base=BASE, config={"socket": "unix:/proc/postern/x.sock"})
    r = d.run("-f", "serve")
    check_eq(r.returncode, 69, "exit code (EX_UNAVAILABLE)")
    assert "cannot open socket unix:/proc/postern/x.sock" in r.stderr, r.stderr


if __name__ == "__main__":
    main(None, teardown)
