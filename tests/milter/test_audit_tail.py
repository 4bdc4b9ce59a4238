#!/usr/bin/env python3
# SPDX-License-Identifier: BSD-2-Clause
"""postern-audit tail as a log shipper's input: records printed as the daemon
appends them, across logrotate's renames, resumed after a restart from a cursor
file without loss or duplicates; --from-seq over rotated and gzip files; a
cursor file that is not exactly SEQ:SHA256, or that names a record of another
trail, is refused.

The main test writes 10,000 records through the milter protocol while tail
--follow runs, rotates the trail twice (once while tail is stopped) and stops
and restarts tail from its cursor twice: the concatenated output must be the
trail's lines, each exactly once, in order."""
import gzip
import hashlib
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "lib"))
from tap import test, main, check_eq  # noqa: E402
import milter_client as mc  # noqa: E402
from daemon import Daemon  # noqa: E402

TOP = os.path.abspath(os.path.join(HERE, "..", ".."))
SAMPLE = os.path.join(TOP, "tests", "unit", "data", "audit", "trail-sample.jsonl")
BASE = tempfile.mkdtemp(prefix="postern-audit-tail-")
os.chmod(BASE, 0o755)
TRAIL = os.path.join(BASE, "log", "audit.jsonl")
os.makedirs(os.path.dirname(TRAIL))
D = Daemon("postern-audit", base=BASE, config={
    "trail_file": TRAIL, "sync": "never", "tmp_dir": BASE, "connection_records": "no",
})
MSG = (b"From: a@example.com\r\nTo: b@example.org\r\nSubject: tail\r\n"
       b"Message-ID: <tail@example.com>\r\n\r\nbody\r\n")
TOTAL = 10000
PER_CONNECTION = 250


def setup():
    D.start()


def teardown():
    try:
        D.stop()
    finally:
        shutil.rmtree(BASE, ignore_errors=True)


def tail_cmd(*args):
    return D.command("tail", *args)


def run_tail(*args):
    D.write_config()
    return subprocess.run(tail_cmd(*args), capture_output=True, text=True, timeout=60)


def sample_dir():
    """The sample trail split as logrotate leaves it: .2.gz, .1, current."""
    d = tempfile.mkdtemp(dir=BASE)
    with open(SAMPLE, "rb") as f:
        lines = f.read().splitlines(keepends=True)
    path = os.path.join(d, "t.jsonl")
    now = time.time()
    for i, (p, part) in enumerate([(path + ".2.gz", lines[:4]), (path + ".1", lines[4:8]),
                                   (path, lines[8:])]):
        with (gzip.open if p.endswith(".gz") else open)(p, "wb") as f:
            f.write(b"".join(part))
        os.utime(p, (now - 100 + i * 10, now - 100 + i * 10))
    return path, lines


@test
def from_seq_reads_rotated_and_compressed_files_in_order():
    path, lines = sample_dir()
    r = run_tail("--from-seq", "3", path)
    check_eq(r.returncode, 0, f"exit status ({r.stderr})")
    check_eq(r.stdout.encode(), b"".join(lines[2:]), "records 3..12, as stored")


@test
def a_cursor_resumes_after_its_record_and_is_rewritten():
    path, lines = sample_dir()
    cursor = os.path.join(BASE, "resume.cursor")
    with open(cursor, "w") as f:
        f.write("5:%s\n" % hashlib.sha256(lines[4].rstrip(b"\n")).hexdigest())
    r = run_tail("--cursor", cursor, "--format", "ecs", path)
    check_eq(r.returncode, 0, f"exit status ({r.stderr})")
    check_eq(len(r.stdout.splitlines()), 7, "events for records 6..12")
    with open(cursor) as f:
        check_eq(f.read(), "12:%s\n" % hashlib.sha256(lines[11].rstrip(b"\n")).hexdigest(),
                 "cursor names the last record printed")
    r = run_tail("--cursor", cursor, path)
    check_eq((r.returncode, r.stdout), (0, ""), "nothing new: nothing printed")


@test
def a_cursor_that_is_not_exactly_seq_colon_sha256_is_refused():
    path, _ = sample_dir()
    h = "a" * 64
    bad = ["", "\n", "5", "5:" + h[:-1], "0:" + h, "05:" + h, "5:" + h.upper(), "5:" + h + "x",
           "5:" + h + "\n\n", " 5:" + h, "-5:" + h, "18446744073709551616:" + h,
           "5;" + h, "5:" + h + "\r\n", "5:" + "g" * 64, "9" * 200]
    cursor = os.path.join(BASE, "bad.cursor")
    for text in bad:
        with open(cursor, "wb") as f:
            f.write(text.encode())
        r = run_tail("--cursor", cursor, path)
        check_eq((r.returncode, r.stdout), (65, ""), f"cursor {text[:30]!r}")
        assert "SEQ:SHA256" in r.stderr, r.stderr
        with open(cursor, "rb") as f:
            check_eq(f.read(), text.encode(), "a refused cursor is left as it was")


@test
def a_cursor_of_another_trail_stops_tail_instead_of_guessing():
    path, _ = sample_dir()
    cursor = os.path.join(BASE, "other.cursor")
    with open(cursor, "w") as f:
        f.write("5:" + "ab" * 32 + "\n")
    r = run_tail("--cursor", cursor, path)
    check_eq((r.returncode, r.stdout), (65, ""), "exit status and output")
    assert "another trail" in r.stderr, r.stderr


@test
def usage_errors():
    for args in (["--from-seq", "0"], ["--from-seq", "1", "--cursor", "c"],
                 ["--format", "csv"], ["--format", "json"], ["a", "b"]):
        r = run_tail(*args)
        check_eq(r.returncode, 64, " ".join(args))


def wait_for(fn, what, timeout=20):
    deadline = time.time() + timeout
    while not fn():
        if time.time() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.05)


@test
def follow_takes_a_late_record_of_the_rotated_file_first_and_survives_copytruncate():
    """The rename of logrotate's "create" can come between the daemon's check
    of the path and its write: that record lands in the old file after the new
    one exists. tail must still print it, before the new file's records."""
    d = tempfile.mkdtemp(dir=BASE)
    path, out = os.path.join(d, "t.jsonl"), os.path.join(d, "out")

    def rec(n):
        return b'{"schema":1,"seq":%d,"event":"connection"}\n' % n

    def append(p, *ns):
        with open(p, "ab") as f:
            f.write(b"".join(rec(n) for n in ns))

    def printed():
        with open(out, "rb") as f:
            return f.read()

    append(path, 1, 2, 3)
    with open(out, "wb") as fp:
        p = subprocess.Popen(tail_cmd("--follow", "--from-seq", "1", path), stdout=fp,
                             stderr=subprocess.PIPE)
        try:
            wait_for(lambda: printed().count(b"\n") == 3, "records 1-3")
            os.rename(path, path + ".1")
            open(path, "wb").close()            # logrotate's create
            time.sleep(0.5)                     # tail sees the new, empty file
            append(path + ".1", 4)              # the late write
            time.sleep(0.3)
            append(path, 5, 6)
            wait_for(lambda: printed().count(b"\n") == 6, "records 4-6")
            with open(path, "r+b") as f:        # copytruncate
                f.truncate(0)
            time.sleep(0.3)
            append(path, 7)
            wait_for(lambda: printed().count(b"\n") == 7, "record 7")
        finally:
            p.send_signal(signal.SIGTERM)
            rc = p.wait(timeout=30)
    check_eq(rc, 0, "exit status")
    check_eq(printed(), b"".join(rec(n) for n in range(1, 8)), "records 1-7, in order")


@test
def follow_without_a_start_prints_only_new_records():
    d = tempfile.mkdtemp(dir=BASE)
    path, out = os.path.join(d, "t.jsonl"), os.path.join(d, "out")
    with open(path, "wb") as f:   # old records, and one being written right now
        f.write(b'{"seq":1}\n{"seq":2}\n{"seq":3,"event":"mess')
    with open(out, "wb") as fp:
        p = subprocess.Popen(tail_cmd("--follow", path), stdout=fp, stderr=subprocess.PIPE)
        try:
            wait_for(lambda: any(os.path.realpath(os.path.join(f"/proc/{p.pid}/fd", x)) == path
                                 for x in os.listdir(f"/proc/{p.pid}/fd")), "tail to open it")
            time.sleep(0.3)         # and to look at its end
            with open(path, "ab") as f:
                f.write(b'age"}\n{"seq":4}\n')
            wait_for(lambda: os.path.getsize(out) > 0, "the new record")
        finally:
            p.send_signal(signal.SIGTERM)
            rc = p.wait(timeout=30)
    check_eq((rc, p.stderr.read()), (0, b""), "exit status, no complaint about half a record")
    with open(out, "rb") as f:
        check_eq(f.read(), b'{"seq":4}\n', "only the record appended after tail started")


SYSLOG = re.compile(rb"^<22>1 (\S+) (\S+) postern-audit (\d+) (\S+) - \xef\xbb\xbf(.*)$", re.S)


def syslog_events(frames, fmt):
    events = []
    for frame in frames:
        m = SYSLOG.match(frame)
        assert m, frame[:120]
        check_eq(m.group(4).decode(), fmt, "MSGID: the format")
        events.append((m.group(1).decode(), json.loads(m.group(5))))
    return events


@test
def syslog_to_udp_and_tcp_sends_one_rfc5424_message_per_event():
    path, lines = sample_dir()
    want = run_tail("--from-seq", "1", "--format", "ocsf", path).stdout.splitlines()
    check_eq(len(want), 12, "events")
    u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    u.bind(("127.0.0.1", 0))
    u.settimeout(5)
    cursor = os.path.join(BASE, "syslog.cursor")
    r = run_tail("--cursor", cursor, "--format", "ocsf", "--syslog-to",
                 "udp:127.0.0.1:%d" % u.getsockname()[1], path)
    check_eq((r.returncode, r.stdout), (0, ""), f"udp: exit status, stdout ({r.stderr})")
    frames = [u.recv(70000) for _ in want]
    u.close()
    got = syslog_events(frames, "ocsf")
    check_eq([e for _, e in got], [json.loads(x) for x in want], "udp: the events, in order")
    check_eq(got[0][0], json.loads(lines[0])["ts"], "TIMESTAMP: the record's time")
    with open(cursor) as f:
        check_eq(f.read().split(":")[0], "12", "cursor after the last message sent")

    srv = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    srv.bind(("127.0.0.1", 0))
    srv.listen(1)
    p = subprocess.Popen(tail_cmd("--from-seq", "1", "--format", "ocsf", "--syslog-to",
                                  "tcp:127.0.0.1:%d" % srv.getsockname()[1], path),
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    srv.settimeout(10)
    conn, _ = srv.accept()
    conn.settimeout(10)
    data = b""
    while True:
        chunk = conn.recv(65536)
        if not chunk:
            break
        data += chunk
    conn.close()
    srv.close()
    check_eq(p.wait(timeout=30), 0, "tcp: exit status")
    frames = []
    while data:   # RFC 6587 octet counting: LENGTH SP MESSAGE
        n, rest = data.split(b" ", 1)
        frames.append(rest[:int(n)])
        data = rest[int(n):]
    check_eq([e for _, e in syslog_events(frames, "ocsf")], [json.loads(x) for x in want],
             "tcp: the events, in order")


@test
def syslog_target_that_cannot_be_reached_or_parsed_is_an_error():
    path, _ = sample_dir()
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()                       # nobody listens there now
    r = run_tail("--syslog-to", "tcp:127.0.0.1:%d" % port, path)
    check_eq(r.returncode, 69, f"unreachable ({r.stderr})")
    for bad in ("127.0.0.1:514", "udp:", "udp:host", "tcp:[::1]514", "unix:"):
        r = run_tail("--syslog-to", bad, path)
        check_eq(r.returncode, 69, f"{bad!r} ({r.stderr})")


class Tail:
    """A tail --follow --cursor process writing to one output file (appended)."""

    def __init__(self, out, cursor):
        self.out, self.cursor, self.proc = out, cursor, None

    def start(self):
        self.fp = open(self.out, "ab")
        self.err = open(self.out + ".err", "ab")
        self.proc = subprocess.Popen(tail_cmd("--follow", "--cursor", self.cursor),
                                     stdout=self.fp, stderr=self.err)

    def stop(self):
        self.proc.send_signal(signal.SIGTERM)
        rc = self.proc.wait(timeout=30)
        self.fp.close()
        self.err.close()
        check_eq(rc, 0, "tail's exit status after SIGTERM")

    def lines(self):
        with open(self.out, "rb") as f:
            return f.read().count(b"\n")


def rotate():
    """logrotate without copytruncate: .1 -> .2, current -> .1; the daemon opens a
    new file at its next record."""
    if os.path.exists(TRAIL + ".1"):
        os.rename(TRAIL + ".1", TRAIL + ".2")
    os.rename(TRAIL, TRAIL + ".1")


@test
def ten_thousand_records_two_rotations_two_restarts_each_printed_once_in_order():
    D.write_config()
    out, cursor = os.path.join(BASE, "tail.out"), os.path.join(BASE, "tail.cursor")
    t = Tail(out, cursor)
    t.start()
    events = {3000: "rotate", 5000: "stop", 6000: "rotate", 6500: "start", 8000: "restart"}
    sent = 0
    while sent < TOTAL:
        c = mc.MilterClient(D.spec)
        c.negotiate()
        macros = mc.postfix_macros()
        c.connect("client.example", mc.SMFIA_INET, 40000, "192.0.2.7",
                  macros=macros[mc.SMFIC_CONNECT])
        c.helo("helo.example", macros=macros[mc.SMFIC_HELO])
        for _ in range(PER_CONNECTION):
            tr = c.transaction("<a@example.com>", ["<b@example.org>"], MSG,
                               queue_id="4Qt%05d" % sent)
            check_eq(tr.reply.action, "continue", "eom reply")
            sent += 1
            what = events.get(sent)
            if what == "rotate":
                rotate()
            elif what == "stop":
                t.stop()
            elif what == "start":
                t.start()
            elif what == "restart":
                t.stop()
                t.start()
        c.quit()
    deadline = time.time() + 120
    # the trail opens with its trail-start record, then one per message;
    # tail prints the messages' records only (it waited the whole bound
    # for one more line when it counted the trail-start record)
    records = TOTAL + 1
    while t.lines() < TOTAL and time.time() < deadline:
        time.sleep(0.2)
    time.sleep(0.5)     # anything beyond TOTAL would be a duplicate: give it a chance
    t.stop()
    stored = b""
    for p in (TRAIL + ".2", TRAIL + ".1", TRAIL):
        with open(p, "rb") as f:
            stored += f.read()
    check_eq(stored.count(b"\n"), records, "records in the trail files")
    with open(out, "rb") as f:
        printed = f.read()
    # tail prints what export would: the trail-start record is the trail's
    # own bookkeeping (verify reads it), not an event
    stored = b"".join(x + b"\n" for x in stored.splitlines()
                      if b'"event":"trail-start"' not in x)
    if printed != stored:
        seqs = [json.loads(x)["seq"] for x in printed.splitlines()]
        dup = len(seqs) - len(set(seqs))
        missing = sorted(set(range(2, records + 1)) - set(seqs))[:10]
        raise AssertionError(f"printed {len(seqs)} records, {dup} duplicates, missing "
                             f"{missing}..., in order: {seqs == sorted(seqs)}")
    with open(cursor) as f:
        last = stored.splitlines()[-1]
        check_eq(f.read(), "%d:%s\n" % (records, hashlib.sha256(last).hexdigest()), "cursor")
    with open(out + ".err") as f:
        check_eq(f.read(), "", "tail's warnings")


if __name__ == "__main__":
    main(setup, teardown)
