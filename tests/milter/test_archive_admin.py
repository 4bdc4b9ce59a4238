#!/usr/bin/env python3
# SPDX-License-Identifier: BSD-2-Clause
"""postern-archive as an administrator meets it in the first week:

- a restart does not re-apply journal records the index already holds
  (no "applied N journal records missing from the index" on a clean
  restart), while records the index really lacks are still applied;
- every read by `get` and by `export` is a line of the access log file,
  as well as a syslog line."""
import os
import shutil
import signal
import sqlite3
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "lib"))
from tap import test, main, check_eq  # noqa: E402
import milter_client as mc  # noqa: E402
from daemon import Daemon  # noqa: E402

BASE = tempfile.mkdtemp(prefix="postern-archive-admin-")
os.chmod(BASE, 0o755)
ARCHIVE = os.path.join(BASE, "archive")
ACCESS = os.path.join(BASE, "access.log")
D = Daemon("postern-archive", base=BASE, config={
    "archive_directory": ARCHIVE,
    "tmp_dir": BASE,
    "access_log": ACCESS,
})


def msg(n):
    return (f"From: a@example.com\r\nTo: b@example.org\r\nSubject: restart {n}\r\n"
            f"Message-ID: <restart{n}@example.com>\r\n\r\nbody {n}\r\n").encode()


def send(n, quit_after=None):
    """one message in one session; quit_after(): called before the QUIT"""
    c = mc.MilterClient(D.spec)
    c.negotiate()
    macros = mc.postfix_macros(client_addr="192.0.2.10")
    c.connect("client.example", mc.SMFIA_INET, 40000, "192.0.2.10",
              macros=macros[mc.SMFIC_CONNECT])
    c.helo("client.example", macros=macros[mc.SMFIC_HELO])
    try:
        c.transaction("<a@example.com>", ["<b@example.org>"], msg(n), queue_id=f"4RST{n:02d}")
        if quit_after:
            quit_after()
    finally:
        c.quit()


def teardown():
    D.stop()
    shutil.rmtree(BASE, ignore_errors=True)


@test
def a_clean_restart_applies_nothing_again():
    D.start()
    for n in range(3):
        send(n)
    D.wait_for_log("4RST02: archive:")
    D.stop()
    D.start()
    assert "missing from the index" not in D.log(), D.log()
    send(3)
    D.wait_for_log("4RST03: archive:")
    D.stop()
    D.start()
    assert "missing from the index" not in D.log(), D.log()
    D.stop()


@test
def a_stop_waits_for_a_session_whose_quit_is_on_its_way():
    """Postfix ends a message, then its SMTP client leaves: a stop that
    arrives between the two must still leave the index current."""
    D.start()

    def stop_first():
        D.wait_for_log("4RST04: archive:")
        D.process.proc.send_signal(signal.SIGTERM)
        time.sleep(0.5)
    send(4, quit_after=stop_first)
    D.stop()
    D.start()
    assert "missing from the index" not in D.log(), D.log()
    D.stop()


@test
def records_the_index_lacks_are_still_applied():
    db = sqlite3.connect(os.path.join(ARCHIVE, "index.db"))
    with db:
        db.execute("DELETE FROM recipients WHERE delivery IN "
                   "(SELECT rowid FROM deliveries WHERE queue_id = '4RST01')")
        db.execute("DELETE FROM deliveries WHERE queue_id = '4RST01'")
        # as after a crash between the journal's write and the index's
        db.execute("DELETE FROM journal_applied")
    db.close()
    D.start()
    assert "applied 1 journal record missing from the index" in D.log(), D.log()
    r = D.run("search", "--json", "--message-id", "restart1@example.com")
    check_eq(r.returncode, 0, r.stderr)
    check_eq(len(r.stdout.splitlines()), 1, "the delivery is back")


@test
def get_and_export_reads_are_lines_of_the_access_log_file():
    r = D.run("search", "--json", "--message-id", "restart2@example.com")
    check_eq(r.returncode, 0, r.stderr)
    g = subprocess.run(D.command("get", "<restart2@example.com>"), capture_output=True)
    check_eq(g.returncode, 0, g.stderr)
    mbox = os.path.join(BASE, "out.mbox")
    e = D.run("export", "--from", "a@example.com", "--mbox", mbox)
    check_eq(e.returncode, 0, e.stderr)
    s = D.run("search", "--from", "a@example.com")
    exported = len(s.stdout.splitlines())
    check_eq(exported, 5, f"deliveries: {s.stdout}")
    with open(ACCESS) as f:
        lines = f.read().splitlines()
    check_eq(len([x for x in lines if " get: read by user=" in x]), 1, f"get lines: {lines}")
    check_eq(len([x for x in lines if " export: read by user=" in x]), exported,
             f"export lines: {lines}")


if __name__ == "__main__":
    main(None, teardown)
