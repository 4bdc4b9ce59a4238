#!/usr/bin/env python3
# SPDX-License-Identifier: BSD-2-Clause
"""Root never follows a link the daemon's user plants in its archive.

The archive directory belongs to the daemon's user; an administrator runs
the tools as root (check, verify, stats, reindex, prune --dry-run, prune)
and starts the daemon as root. Whoever holds the daemon's user can put
anything under any name in that directory. For every name root touches
there (enumerated from milters/archive: FORMAT, lock, maintenance.lock,
index.db and SQLite's -journal/-wal/-shm, the journal and objects
directories, a day file, its .DAY.jsonl.tmp rewrite file, an object
subdirectory and an object) this test plants, one at a time in a fresh
copy of a real archive:
  - a symbolic link to a root file outside the archive,
  - a dangling symbolic link to a root path that does not exist yet (as
    /etc/ld.so.preload usually does not),
  - a hard link to the root file (for file names),
and runs every root command, with `user` set to the daemon's user (the
packaged setup) and with no `user` (root's tools on a directory that
belongs to someone else). The root file must keep its bytes, size, owner
and mode, the dangling target must not appear, and a root directory
linked in place of a subdirectory must stay empty.
"""
import glob
import hashlib
import os
import pwd
import shutil
import signal
import subprocess
import sys
import tempfile
import time

TOP = os.environ.get("POSTERN_TOP") or os.path.abspath(
    os.path.join(os.path.dirname(__file__), "..", ".."))
sys.path.insert(0, os.path.join(TOP, "tests", "lib"))

from tap import test, main, check_eq  # noqa: E402
import milter_client as mc  # noqa: E402
from daemon import Daemon, leftover_processes  # noqa: E402

USER = "postern-linktest"
BASE = tempfile.mkdtemp(prefix="postern-root-links-")
os.chmod(BASE, 0o755)
OUTSIDE = os.path.join(BASE, "outside")		# root's, never to change
PRECIOUS = os.path.join(OUTSIDE, "precious")
PRECIOUS_TEXT = b'{"not":"a journal line"}\nroot data without a final newline'
ROOTDIR = os.path.join(OUTSIDE, "rootdir")	# root's directory, must stay empty
TEMPLATE = os.path.join(BASE, "template")	# a real archive, copied per case
S = {"created_user": False}

COMMANDS = [["check"], ["verify"], ["stats"], ["reindex"], ["prune", "--dry-run"],
            ["prune", "--as-of", "2100-01-01"]]


def msg(n):
    return (f"From: a@example.com\r\nTo: b@example.org\r\nSubject: links {n}\r\n"
            f"Message-ID: <links{n}@example.com>\r\n\r\nbody {n}\r\n").encode()


def send(d, n):
    c = mc.MilterClient(d.spec)
    c.negotiate()
    macros = mc.postfix_macros(client_addr="192.0.2.10")
    c.connect("client.example", mc.SMFIA_INET, 40000, "192.0.2.10",
              macros=macros[mc.SMFIC_CONNECT])
    c.helo("client.example", macros=macros[mc.SMFIC_HELO])
    try:
        t = c.transaction("<a@example.com>", ["<b@example.org>"], msg(n), queue_id=f"4LNK{n}")
    finally:
        c.quit()
    check_eq(t.reply.action, "continue", "archived while populating the template")


def daemon(archive, with_user, base):
    conf = {"archive_directory": archive, "tmp_dir": os.path.join(base, "tmp"),
            "retention": "1d", "socket_mode": "0600",
            "lock_timeout": "1s"}
    if with_user:
        conf["user"] = USER
    os.makedirs(conf["tmp_dir"], exist_ok=True)
    shutil.chown(conf["tmp_dir"], user=USER, group=USER)
    return Daemon("postern-archive", base=base, config=conf)


def setup():
    try:
        pwd.getpwnam(USER)
    except KeyError:
        subprocess.run(["useradd", "--system", "--user-group", "--no-create-home",
                        "--home-dir", "/nonexistent", "--shell", "/usr/sbin/nologin", USER],
                       check=True, capture_output=True)
        S["created_user"] = True
    os.makedirs(ROOTDIR)
    with open(PRECIOUS, "wb") as f:
        f.write(PRECIOUS_TEXT)
    os.chmod(PRECIOUS, 0o644)
    # the archive as the package leaves it: a directory of the daemon's user
    os.makedirs(TEMPLATE, mode=0o750)
    shutil.chown(TEMPLATE, user=USER, group=USER)
    d = daemon(TEMPLATE, True, os.path.join(BASE, "populate"))
    d.start()
    try:
        for n in range(3):
            send(d, n)
    finally:
        d.stop()


def teardown():
    if not os.environ.get("POSTERN_KEEP"):
        shutil.rmtree(BASE, ignore_errors=True)
    if S["created_user"]:
        subprocess.run(["userdel", USER], capture_output=True)


def kill(d):
    """Stop a daemon at once: what it does at start is done by now, and a
    clean stop waits for libmilter's 5 s listener timeout."""
    if d.proc is None:
        return
    for pid in leftover_processes(d.conf) + [d.proc.pid]:
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
    d.proc.wait()
    d.log_fp.close()
    d.proc = None
    deadline = time.time() + 10
    while leftover_processes(d.conf) and time.time() < deadline:
        time.sleep(0.02)


def day_file():
    days = sorted(glob.glob(os.path.join(TEMPLATE, "journal", "*.jsonl")))
    assert days, "the template has a journal day file"
    return os.path.basename(days[-1])


def object_file():
    objs = sorted(p for p in glob.glob(os.path.join(TEMPLATE, "objects", "*", "*"))
                  if os.path.isfile(p))
    assert objs, "the template has an object"
    return os.path.relpath(objs[0], TEMPLATE)


def file_names():
    """Every file name root opens, creates, truncates or chowns in the archive."""
    day = day_file()
    return ["FORMAT", "lock", "maintenance.lock", "index.db", "index.db-journal",
            "index.db-wal", "index.db-shm", f"journal/{day}", f"journal/.{day}.tmp",
            object_file()]


def dir_names():
    return ["journal", "objects", os.path.dirname(object_file())]


def snapshot_outside():
    st = os.stat(PRECIOUS)
    with open(PRECIOUS, "rb") as f:
        data = hashlib.sha256(f.read()).hexdigest()[:16]
    return (data, st.st_size, st.st_uid, st.st_gid, oct(st.st_mode), st.st_mtime_ns,
            sorted(os.listdir(OUTSIDE)), sorted(os.listdir(ROOTDIR)))


def run_case(name, kind, with_user):
    """Plant one link, run every root command; what changed outside, or None."""
    case = os.path.join(BASE, "case")
    shutil.rmtree(case, ignore_errors=True)
    os.makedirs(case)
    os.chmod(case, 0o755)
    archive = os.path.join(case, "archive")
    subprocess.run(["cp", "-a", TEMPLATE, archive], check=True)
    path = os.path.join(archive, name)
    dangling = os.path.join(OUTSIDE, "created-" + name.replace("/", "_"))
    if os.path.isdir(path) and not os.path.islink(path):
        shutil.rmtree(path)
    elif os.path.lexists(path):
        os.unlink(path)
    # planted "as the daemon's user": root does it here only because
    # fs.protected_hardlinks would stop the user on this machine, not on all
    if kind == "symlink":
        os.symlink(ROOTDIR if name in dir_names() else PRECIOUS, path)
    elif kind == "dangling":
        os.symlink(dangling, path)
    else:
        os.link(PRECIOUS, path)
    if kind != "hardlink":
        os.lchown(path, pwd.getpwnam(USER).pw_uid, -1)
    before = snapshot_outside()
    d = daemon(archive, with_user, case)
    for cmd in COMMANDS:
        d.run(*cmd)
    try:
        d.start(timeout=10)	# returns once the worker has opened the archive
    except RuntimeError:
        pass		# refusing to start on a planted link is fine
    finally:
        kill(d)
    after = snapshot_outside()
    created = sorted(e for e in os.listdir(OUTSIDE) if e.startswith("created-"))
    for e in created:
        os.unlink(os.path.join(OUTSIDE, e))
    if created:
        return f"{name}: {kind}: root created {', '.join(created)} outside"
    if before != after:
        with open(PRECIOUS, "wb") as f:		# restore for the next case
            f.write(PRECIOUS_TEXT)
        os.chown(PRECIOUS, 0, 0)
        os.chmod(PRECIOUS, 0o644)
        for e in os.listdir(ROOTDIR):
            p = os.path.join(ROOTDIR, e)
            shutil.rmtree(p) if os.path.isdir(p) else os.unlink(p)
        return f"{name}: {kind}: outside changed: {before} -> {after}"
    return None


def run_all(with_user):
    bad = []
    for name in file_names():
        for kind in ("symlink", "dangling", "hardlink"):
            r = run_case(name, kind, with_user)
            if r:
                bad.append(r)
    for name in dir_names():
        for kind in ("symlink", "dangling"):
            r = run_case(name, kind, with_user)
            if r:
                bad.append(r)
    assert not bad, "root followed planted links:\n  " + "\n  ".join(bad)


@test
def template_archive_belongs_to_the_daemon_user():
    uid = pwd.getpwnam(USER).pw_uid
    owners = {}
    for root, dirs, files in os.walk(TEMPLATE):
        for n in dirs + files:
            p = os.path.join(root, n)
            if os.lstat(p).st_uid != uid:
                owners[os.path.relpath(p, TEMPLATE)] = os.lstat(p).st_uid
    check_eq(owners, {}, "files of the archive not owned by the daemon user")


@test
def root_tools_and_start_never_follow_planted_links_with_user_set():
    run_all(True)


@test
def root_tools_never_follow_planted_links_without_user():
    run_all(False)


@test
def tools_still_work_as_root_on_the_untouched_archive():
    case = os.path.join(BASE, "case-clean")
    os.makedirs(case)
    os.chmod(case, 0o755)
    archive = os.path.join(case, "archive")
    subprocess.run(["cp", "-a", TEMPLATE, archive], check=True)
    for with_user in (True, False):
        d = daemon(archive, with_user, case)
        for cmd in (["check"], ["verify"], ["reindex"], ["prune", "--dry-run"]):
            r = d.run(*cmd)
            check_eq(r.returncode, 0, f"{cmd} with_user={with_user} ({r.stderr})")
        r = d.run("search", "--json")
        check_eq(len(r.stdout.splitlines()), 3, f"search with_user={with_user} ({r.stderr})")
    r = d.run("prune", "--as-of", "2100-01-01")
    check_eq(r.returncode, 0, f"prune ({r.stderr})")
    owners = {os.path.relpath(os.path.join(root, n), archive)
              for root, dirs, files in os.walk(archive) for n in dirs + files
              if os.lstat(os.path.join(root, n)).st_uid != pwd.getpwnam(USER).pw_uid}
    check_eq(owners, set(), "files root left behind that the daemon could not write")


if __name__ == "__main__":
    main(setup, teardown)
