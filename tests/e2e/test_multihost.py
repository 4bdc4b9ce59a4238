#!/usr/bin/env python3
# SPDX-License-Identifier: BSD-2-Clause
"""End-to-end: three MX hosts, one archive and one audit store on PostgreSQL.

A private PostgreSQL (tests/lib/pg.py: Debian's server binaries, initdb in
a temporary directory, a unix socket only) gets the documented roles
(packaging/postgresql/roles.sql) and its schemas from `postern-archive db
init` and `postern-audit db init`, run as postern_owner. Three private
Postfix instances on 127.0.0.1 (hosts mx1, mx2, mx3: their own ports,
queues and daemons) relay to ONE sink. Each has postern-archive (index =
postgresql, host_name = its name, its own journal in ARCHIVE/journal/HOST/)
and postern-audit (store = postgresql, its own local trail); the three
archives share ONE archive directory, so their objects land side by side.
mx3 runs both engines in one postern-suite: what the daemons do must hold
there too. Postfix tempfails when a milter fails (milter_default_action).

1. Load: 50 SMTP sessions at once on each host (150 in all), each sender
   sending messages with To, Cc and two Bcc recipients (envelope only),
   retrying on a 4xx as an MTA would. During the load PostgreSQL is stopped
   for 10 s and started again; later the archive worker of mx1 and the
   audit worker of mx2 are killed with SIGKILL (their supervisors restart
   them). Afterwards:
   - no client got a 4xx before the first kill, the database outage
     included: mail never waits for PostgreSQL;
   - every message the sink received is in the PostgreSQL index (read with
     psql as postern_auditor) with its full envelope: the sender and every
     recipient, Bcc included; the index holds exactly the deliveries of
     the three journals, each once (a message whose first attempt was cut
     by the kill may be archived twice, as on one host: a figure);
   - `postern-archive search` from each host's configuration returns the
     same deliveries, the ones psql sees;
   - every record of each host's local trail is in audit_records exactly
     once (host, trail, seq and the line's hash), and every message has
     its record;
   - `postern-archive verify` and `postern-audit verify --database` are
     clean.
2. The shared object directory replaced by a file (an NFS export gone):
   every host tempfails (4xx) and archives nothing; once it is back the
   retries are accepted and each is archived once.
"""
import hashlib
import json
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time
import uuid

TOP = os.environ.get("POSTERN_TOP") or os.path.abspath(
    os.path.join(os.path.dirname(__file__), "..", ".."))
sys.path.insert(0, os.path.join(TOP, "tests", "lib"))

from tap import test, main, check_eq  # noqa: E402
from daemon import binary  # noqa: E402
from pg import PostgreSQL  # noqa: E402
from poll import wait_for  # noqa: E402
from sink import Sink  # noqa: E402
from smtp import build_message, send  # noqa: E402
from stack import Stack  # noqa: E402

HOSTS = ("mx1", "mx2", "mx3")
SUITE_HOST = "mx3"          # archive and audit engines in one postern-suite
# parallel SMTP sessions per host: the figure; under valgrind
# (make check-valgrind), where every daemon runs ten times slower, 10
SESSIONS = 10 if os.environ.get("POSTERN_VALGRIND") == "1" else 50
PAUSE = 2                   # seconds between one sender's messages
S = {}


def write_conf(path, params):
    with open(path, "w") as f:
        for k, v in params.items():
            f.write(f"{k} = {v}\n")


def run(argv, timeout=120):
    return subprocess.run(argv, capture_output=True, text=True, timeout=timeout)


def db_init(base, db, archive_dir):
    """`postern-archive db init` and `postern-audit db init` as the owner
    role, as the documentation says an administrator does once."""
    owner = db.conninfo("postern_owner")
    conf = os.path.join(base, "init-archive.conf")
    write_conf(conf, {"archive_directory": archive_dir, "index": "postgresql",
                      "index_connection": db.conninfo("postern_archive"),
                      "host_name": "init"})
    r = run([binary("postern-archive"), "-c", conf, "db", "init", "--connection", owner])
    assert r.returncode == 0, f"postern-archive db init: {r.stdout}{r.stderr}"
    conf = os.path.join(base, "init-audit.conf")
    write_conf(conf, {"trail_file": os.path.join(base, "init-audit.jsonl"),
                      "store": "postgresql",
                      "store_connection": db.conninfo("postern_audit"),
                      "host_name": "init"})
    r = run([binary("postern-audit"), "-c", conf, "db", "init", "--connection", owner])
    assert r.returncode == 0, f"postern-audit db init: {r.stdout}{r.stderr}"


def setup():
    S.clear()
    base = tempfile.mkdtemp(prefix="postern-mh-")
    os.chmod(base, 0o755)
    S["base"] = base
    S["archive"] = archive = os.path.join(base, "archive")
    os.makedirs(archive)
    os.chmod(archive, 0o755)
    os.makedirs(os.path.join(base, "pg"))
    S["db"] = db = PostgreSQL(root=os.path.join(base, "pg"))
    db.start()
    db.setup_roles()
    db_init(base, db, archive)
    S["sink"] = Sink(os.path.join(base, "sink")).start()
    S["stacks"] = {}
    for name in HOSTS:
        st = Stack(daemons=("archive", "audit"), suite=name == SUITE_HOST, settings={
            "myhostname": f"{name}.postern.test",
            "default_process_limit": 2 * SESSIONS + 30,
            "smtpd_client_connection_count_limit": 0,
            "smtpd_client_connection_rate_limit": 0,
        }, config={
            "archive": {"archive_directory": archive, "index": "postgresql",
                        "index_connection": db.conninfo("postern_archive"),
                        "host_name": name, "body_memory_limit": "8k"},
            "audit": {"store": "postgresql",
                      "store_connection": db.conninfo("postern_audit"),
                      "host_name": name, "body_memory_limit": "8k"},
        }, sink=False)
        st.pf.relay_port = S["sink"].port
        st.archive_dir = archive      # shared: temp files are looked for here
        S["stacks"][name] = st
        st.start()


def teardown():
    errors = []
    for st in S.get("stacks", {}).values():
        try:
            st.stop()
        except Exception as e:
            errors.append(e)
    if "sink" in S:
        S["sink"].stop()
    if "db" in S:
        S["db"].cleanup()
    if "base" in S and not os.environ.get("POSTERN_KEEP"):
        shutil.rmtree(S["base"], ignore_errors=True)
    if errors:
        raise errors[0]


# ---- what the database, the journals and the trails hold ------------------

def psql(sql):
    """Rows of sql run by psql as the read-only auditor role, as lists."""
    out = S["db"].psql(sql, user="postern_auditor")
    return [line.split("|") for line in out.splitlines() if line]


def index_deliveries():
    """{delivery id: (message_id, sender, sorted recipients)} of the
    PostgreSQL index, as compliance staff read it with psql."""
    rows = psql("SELECT d.id, d.message_id, d.sender, r.address"
                " FROM archive_deliveries d"
                " LEFT JOIN archive_recipients r ON r.delivery = d.num")
    out = {}
    for did, mid, sender, rcpt in rows:
        got = out.setdefault(did, (mid, sender, []))
        if rcpt:
            got[2].append(rcpt)
    return {k: (m, s, sorted(r)) for k, (m, s, r) in out.items()}


def index_row_count():
    return int(psql("SELECT count(*) FROM archive_deliveries")[0][0])


def journal_deliveries():
    """{delivery id: delivery record} of every host's journal (voided ones
    left out), and the number of delivery records read (a record written
    twice counts twice)."""
    out, voided, n = {}, set(), 0
    S["blank_journal_lines"] = 0
    jdir = os.path.join(S["archive"], "journal")
    for root, _, files in os.walk(jdir):
        for f in files:
            if not f.endswith(".jsonl"):
                continue
            with open(os.path.join(root, f), "rb") as fp:
                for line in fp:
                    if not line.strip():
                        S["blank_journal_lines"] += 1
                        continue
                    if not line.endswith(b"\n"):
                        continue        # a line cut short by a kill: not a record
                    rec = json.loads(line)
                    if rec.get("type") == "delivery":
                        out[rec["id"]] = rec
                        n += 1
                    elif rec.get("type") == "void":
                        voided.add(rec["id"])
    return {k: v for k, v in out.items() if k not in voided}, n


def trail_lines(st):
    """[(trail_id, seq, sha256 of the line)] of a host's local trail."""
    out, trail_id = [], None
    with open(st.trail, "rb") as f:
        for line in f:
            if not line.endswith(b"\n"):
                continue
            line = line.rstrip(b"\n")
            rec = json.loads(line)
            trail_id = rec.get("trail_id", trail_id)
            out.append((trail_id, rec["seq"], hashlib.sha256(line).hexdigest()))
    return out


def db_audit(host):
    """[(trail_id, seq, hash)] of audit_records for host, duplicates kept."""
    rows = psql(f"SELECT trail_id, seq, hash FROM audit_records WHERE host = '{host}'"
                " ORDER BY trail_id, seq")
    return [(t, int(s), h) for t, s, h in rows]


def search(st, *query):
    r = st.tool("archive", "search", "--json", *query, timeout=300)
    assert r.returncode in (0, 1), f"search from {st.pf.base}: {r.returncode} {r.stderr}"
    return [json.loads(line) for line in r.stdout.splitlines() if line.strip()]


# ---- load -------------------------------------------------------------------

class Load:
    """SESSIONS sender threads per host, started together. Each sends
    message after message (a new SMTP session each, PAUSE seconds apart:
    a moderate load on a 2-core machine), retrying one on a 4xx or a
    dropped connection until it is accepted, until stop is set. Every
    reply is kept with the time its session started and ended."""

    def __init__(self, stacks):
        self.stacks = stacks
        self.stop = threading.Event()
        self.lock = threading.Lock()
        self.replies = []       # (host, msgid, t0, t1, code or None, attempt)
        self.accepted = {}      # msgid -> (host, envelope sender, rcpts, attempts)
        self.threads = []
        self.barrier = threading.Barrier(len(stacks) * SESSIONS)

    def message(self, host, n, i):
        tag = f"{host}-{n}-{i}-{uuid.uuid4().hex[:8]}"
        sender = f"s-{tag}@load.example"
        to, cc = f"to-{tag}@dest.example", f"cc-{tag}@dest.example"
        bcc = [f"bcc1-{tag}@hidden.example", f"bcc2-{tag}@hidden.example"]
        msgid = f"<{tag}@load.example>"
        body = f"line of body text {i}\n" * (600 if i % 4 == 0 else 5)
        data = build_message(sender, [to], subject=f"load {host} word{tag[-8:]}",
                             body=body, message_id=msgid, headers=[("Cc", f"<{cc}>")])
        return msgid, sender, [to, cc] + bcc, data

    def sender(self, host, n):
        port = self.stacks[host].pf.port
        i = 0
        self.barrier.wait(60)
        while not self.stop.wait(PAUSE if i else 0):
            msgid, sender, rcpts, data = self.message(host, n, i)
            i += 1
            attempt = 0
            while attempt < 200:
                attempt += 1
                t0 = time.monotonic()
                try:
                    r = send("127.0.0.1", port, sender, rcpts, data, timeout=120)
                    code = r.code if r.ok else (r.code or 0)
                except OSError:
                    r, code = None, None
                with self.lock:
                    self.replies.append((host, msgid, t0, time.monotonic(), code, attempt))
                if r is not None and r.ok:
                    with self.lock:
                        self.accepted[msgid] = (host, sender, sorted(rcpts), attempt)
                    break
                if code is not None and not 400 <= code < 500:
                    break       # refused for good: reported by the test
                time.sleep(0.3)

    def start(self):
        for host in self.stacks:
            for n in range(SESSIONS):
                t = threading.Thread(target=self.sender, args=(host, n), daemon=True)
                t.start()
                self.threads.append(t)

    def count(self):
        with self.lock:
            return len(self.accepted)

    def wait_more(self, n, timeout, what):
        goal = self.count() + n
        wait_for(lambda: self.count() >= goal, timeout, what, interval=0.2)

    def finish(self, timeout):
        self.stop.set()
        deadline = time.monotonic() + timeout
        for t in self.threads:
            t.join(max(0.1, deadline - time.monotonic()))
        assert not any(t.is_alive() for t in self.threads), "senders still running"


@test
def three_hosts_under_load_with_kills_and_a_database_outage_lose_nothing():
    stacks, db, sink = S["stacks"], S["db"], S["sink"]
    load = Load(stacks)
    t_start = time.monotonic()
    load.start()
    try:
        load.wait_more(len(stacks) * SESSIONS, 240, "a first message per session accepted")
        # PostgreSQL away for 10 s while the load goes on
        t_down = time.monotonic()
        db.stop()
        during = load.count()
        time.sleep(10)
        during = load.count() - during
        db.start()
        t_up = time.monotonic()
        load.wait_more(len(stacks) * SESSIONS, 240, "as many again after the outage")
        # the workers killed: their supervisors start new ones
        t_kill = time.monotonic()
        stacks["mx1"].kill_worker("archive")
        load.wait_more(50, 240, "50 messages after the archive worker's kill")
        stacks["mx2"].kill_worker("audit")
        load.wait_more(50, 240, "50 messages after the audit worker's kill")
    finally:
        load.finish(300)
    t_end = time.monotonic()
    replies = load.replies
    print(f"# {len(load.accepted)} messages accepted in {t_end - t_start:.0f} s by "
          f"{len(stacks)} hosts x {SESSIONS} sessions; {during} accepted while "
          f"PostgreSQL was down ({t_up - t_down:.0f} s)")
    refused = [r for r in replies if r[4] is not None and r[4] >= 500]
    check_eq(refused, [], "permanent refusals")
    in_outage = [r for r in replies if r[2] < t_up and r[3] > t_down]
    print(f"# replies to sessions that overlapped the outage: {len(in_outage)}, "
          f"accepted: {sum(1 for r in in_outage if r[4] is not None and r[4] < 300)}")
    assert in_outage, "no session overlapped the database outage"
    tempfails = [r for r in replies if r[3] < t_kill and (r[4] is None or 400 <= r[4] < 500)]
    check_eq(tempfails, [], "4xx (or dropped sessions) before the kills, outage included")
    after_kill = [r for r in replies if r[3] >= t_kill and (r[4] is None or 400 <= r[4] < 500)]
    print(f"# 4xx or dropped sessions after the kills (retried): {len(after_kill)}")
    check_eq(sum(1 for r in replies if r[4] and r[4] < 300), len(load.accepted),
             "accepted replies = messages accepted")

    # the sink has every message, once
    want = dict(load.accepted)
    wait_for(lambda: sink.count() >= len(want), 300, f"{len(want)} messages at the sink")
    at_sink = {}
    for m in sink.messages():
        at_sink.setdefault(m.msg["Message-ID"], []).append(m)
    check_eq(sorted(k for k, v in at_sink.items() if len(v) > 1), [], "twice at the sink")
    check_eq(sorted(set(at_sink) - set(want)), [], "at the sink, never accepted")
    check_eq(sorted(set(want) - set(at_sink)), [], "accepted, not at the sink")

    # the index catches up with every journal; each sink message is there
    def indexed():
        got = index_deliveries()
        mids = {v[0] for v in got.values()}
        return got if all(mid in mids for mid in at_sink) else None
    wait_for(indexed, 300, "every message at the sink in the PostgreSQL index")

    def journal_indexed():
        journal, _ = journal_deliveries()
        return journal if journal.keys() <= index_deliveries().keys() else None
    journal = wait_for(journal_indexed, 120, "every journal delivery in the index")
    index = index_deliveries()
    check_eq(index_row_count(), len(index), "rows of archive_deliveries = distinct ids")
    check_eq(sorted(set(index) - set(journal)), [], "indexed, in no journal (or voided)")
    check_eq(sorted(set(journal) - set(index)), [], "journaled, not indexed")
    by_mid = {}
    for did, (mid, sender, rcpts) in index.items():
        by_mid.setdefault(mid, []).append((did, sender, rcpts))
    wrong, twice = [], []
    for mid, msgs in at_sink.items():
        m = msgs[0]
        env = (m.sender, sorted(m.rcpts))
        check_eq(env, (want[mid][1], want[mid][2]), f"envelope at the sink of {mid}")
        rows = by_mid.get(mid, [])
        wrong += [(mid, row) for row in rows if (row[1], row[2]) != env]
        if len(rows) > 1:
            twice.append(mid)
    check_eq(wrong, [], "deliveries whose envelope (sender, recipients incl. Bcc) differs")
    # a message archived twice was cut by a kill after its journal line
    # and retried: its first attempt ended in a 4xx or a dropped session
    retried = {mid for mid, v in want.items() if v[3] > 1}
    check_eq(sorted(set(twice) - retried), [], "archived twice without a retry")
    print(f"# deliveries in the index: {len(index)} for {len(at_sink)} messages; "
          f"archived twice by a kill: {len(twice)}; blank journal lines: "
          f"{S['blank_journal_lines']}")
    # appends racing the check for a line cut by a crash once left these
    check_eq(S["blank_journal_lines"], 0, "empty lines in the journals")
    for name in HOSTS:
        n = len([1 for v in journal.values()
                 if v.get("recipients") and v["sender"].startswith(f"s-{name}-")])
        assert n > 0, f"no delivery from {name}'s journal"

    # search from every host sees the same deliveries, the ones psql sees
    first = None
    for name, st in stacks.items():
        got = sorted(json.dumps(d, sort_keys=True) for d in search(st))
        check_eq(sorted(json.loads(d)["id"] for d in got), sorted(index),
                 f"search from {name}: the index's deliveries")
        if first is None:
            first = got
        else:
            check_eq(got, first, f"search from {name} = search from mx1")
    sample = next(iter(sorted(at_sink)))
    bcc = [a for a in want[sample][2] if a.startswith("bcc2-")][0]
    for name, st in stacks.items():
        got = [(d["message_id"], sorted(d["recipients"])) for d in search(st, "--to", bcc)]
        check_eq(got, [(sample, want[sample][2])] * len(by_mid[sample]),
                 f"search --to a Bcc recipient from {name}")

    # every host's trail is in audit_records, each record once
    for name, st in stacks.items():
        lines = trail_lines(st)
        last = {}
        for trail_id, seq, _ in lines:
            last[trail_id] = max(seq, last.get(trail_id, 0))

        def shipped_to_the_end():
            rows = db_audit(name)
            top = {}
            for trail_id, seq, _ in rows:
                top[trail_id] = max(seq, top.get(trail_id, 0))
            return rows if all(top.get(t, 0) >= n for t, n in last.items()) else None
        rows = wait_for(shipped_to_the_end, 180,
                        f"{name}'s trail shipped up to its last record ({last})")
        lines = trail_lines(st)
        check_eq(sorted(set(lines) - set(rows)), [], f"{name}: in the trail, not in audit_records")
        check_eq(sorted(set(rows) - set(lines)), [], f"{name}: in audit_records, not in the trail")
        check_eq(len(rows), len(set(rows)), f"{name}: records shipped twice")
    recorded = set()
    for st in stacks.values():
        with open(st.trail, "rb") as f:
            for line in f:
                rec = json.loads(line)
                if rec.get("event") == "message":
                    recorded.add(rec.get("headers", {}).get("message_id"))
    check_eq(sorted(set(at_sink) - recorded), [], "messages without an audit record")

    # verify, against the shared index and the central audit table
    st = stacks["mx1"]
    r = st.tool("archive", "verify", timeout=400)
    check_eq(r.returncode, 0, f"postern-archive verify: {(r.stdout + r.stderr)[-3000:]}")
    keys = []
    for s in stacks.values():
        keys += ["--key", s.key + ".initial"]
    r = st.tool("audit", "verify", "--database", *keys, timeout=300)
    check_eq(r.returncode, 0, f"postern-audit verify --database: {(r.stdout + r.stderr)[-3000:]}")
    for name, s in stacks.items():
        bad = {k: [line for line in v if "killed by signal 9" not in line]
               for k, v in s.crashes().items()}
        check_eq({k: v for k, v in bad.items() if v}, {},
                 f"{name}: worker deaths other than the test's kills")
        check_eq(s.archive_temp_files() + s.stale_tmp_files(), [], f"{name}: temp files left")


@test
def an_object_directory_outage_tempfails_on_every_host():
    stacks = S["stacks"]
    objects = os.path.join(S["archive"], "objects")
    away = objects + ".away"
    msgs = {}
    for name in HOSTS:
        tag = f"objout-{name}-{uuid.uuid4().hex[:8]}"
        sender, rcpts = f"{tag}@load.example", [f"to-{tag}@dest.example",
                                                f"bcc-{tag}@hidden.example"]
        msgs[name] = (f"<{tag}@load.example>", sender, rcpts,
                      build_message(sender, rcpts[:1], subject=tag,
                                    message_id=f"<{tag}@load.example>"))
    os.rename(objects, away)
    with open(objects, "w") as f:
        f.write("not a directory: the shared object store is gone\n")
    try:
        for name, (mid, sender, rcpts, data) in msgs.items():
            r = send("127.0.0.1", stacks[name].pf.port, sender, rcpts, data, timeout=120)
            assert r.code is not None and 400 <= r.code < 500, \
                f"{name} with no object directory: {r}"
    finally:
        os.unlink(objects)
        os.rename(away, objects)
    for name, (mid, sender, rcpts, data) in msgs.items():
        check_eq(search(stacks[name], "--message-id", mid), [],
                 f"{name}: archived while the object directory was gone")
        r = send("127.0.0.1", stacks[name].pf.port, sender, rcpts, data, timeout=120)
        assert r.ok, f"{name}: retry after the object directory came back: {r}"
    for name, (mid, sender, rcpts, data) in msgs.items():
        for other, st in stacks.items():
            got = wait_for(lambda: search(st, "--message-id", mid), 120,
                           f"{name}'s retry in the index, seen from {other}")
            check_eq([(d["sender"], sorted(d["recipients"])) for d in got],
                     [(sender, sorted(rcpts))], f"{name}'s retry seen from {other}")
    r = stacks["mx2"].tool("archive", "verify", timeout=400)
    check_eq(r.returncode, 0, f"postern-archive verify: {(r.stdout + r.stderr)[-3000:]}")


if __name__ == "__main__":
    main(setup, teardown)
