#!/usr/bin/env python3
# SPDX-License-Identifier: BSD-2-Clause
"""End-to-end: two audit daemons (host mx1 a postern-audit, host mx2 the
audit engine in postern-suite, each with its own sealed trail) ship their records to one PostgreSQL 15 (tests/lib/pg.py,
the documented roles), driven over their sockets by the milter client as
Postfix would.

What a compliance officer relies on: every record of every host is in
audit_records exactly once, byte for byte as in the host's trail; a
database outage never refuses (tempfails) mail and the store catches up
when the database is back; a worker killed with SIGKILL resumes from what
the database has; `postern-audit ship` twice is one copy; `verify
--database` checks every host's chain in the database and names host,
trail and seq of a row edited, deleted or forged by someone with the
owner's rights; the auditor role only reads; `export --database` gives, in
every format, what the files give.
"""
import csv
import gzip
import hashlib
import io
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import threading

TOP = os.environ.get("POSTERN_TOP") or os.path.abspath(
    os.path.join(os.path.dirname(__file__), "..", ".."))
sys.path.insert(0, os.path.join(TOP, "tests", "lib"))

from tap import test, main, check_eq  # noqa: E402
import milter_client as mc  # noqa: E402
from daemon import Daemon  # noqa: E402
from pg import PostgreSQL  # noqa: E402
from poll import wait_for  # noqa: E402
from stack import children  # noqa: E402

S = {}
HOSTS = ("mx1", "mx2")
OWN_EVENTS = ("trail-start", "key-change")
MSG = (b"From: Alice <alice@example.com>\r\nTo: Bob <bob@example.org>\r\n"
       b"Subject: quarterly report\r\nMessage-ID: <%s@example.com>\r\n\r\nline one\r\n")
COUNTER = [0]
LOCK = threading.Lock()


def host_config(base, host):
    key = os.path.join(base, "audit.key")
    with open(key, "w") as f:
        f.write(f"{host}-key-0123456789abcdef0123456789\n")
    os.chmod(key, 0o600)
    shutil.copy(key, key + ".initial")     # the offline copy: the daemon evolves key
    os.makedirs(os.path.join(base, "log"))
    return {"trail_file": os.path.join(base, "log", "audit.jsonl"), "key_file": key,
            "host_name": host, "sync": "always", "tmp_dir": base,
            "seal_epoch_records": "7",
            "store": "postgresql", "store_connection": S["db"].conninfo("postern_audit")}


def setup():
    S["base"] = tempfile.mkdtemp(prefix="postern-audit-pg-")
    os.chmod(S["base"], 0o755)
    S["db"] = db = PostgreSQL()
    db.start()
    db.setup_roles()
    S["d"] = {}
    for host in HOSTS:
        base = os.path.join(S["base"], host)
        os.makedirs(base)
        # mx2 runs the audit engine inside postern-suite: the same shipping
        S["d"][host] = Daemon("postern-audit", base=base, config=host_config(base, host),
                              suite=host == "mx2")
    r = S["d"]["mx1"].run("db", "init", "--connection", db.conninfo("postern_owner"))
    assert r.returncode == 0, r.stderr
    for d in S["d"].values():
        d.start()


def teardown():
    try:
        for d in S.get("d", {}).values():
            d.stop()
    finally:
        if "db" in S:
            S["db"].cleanup()
        shutil.rmtree(S["base"], ignore_errors=True)


def send(host, n, replies=None):
    """n messages over one connection to host's daemon; returns the replies."""
    out = [] if replies is None else replies
    c = mc.MilterClient(S["d"][host].spec)
    c.negotiate()
    macros = mc.postfix_macros(hostname=host + ".postern.test")
    c.connect("client.example", mc.SMFIA_INET, 40000, "192.0.2.10",
              macros=macros[mc.SMFIC_CONNECT])
    c.helo("helo.example", macros=macros[mc.SMFIC_HELO])
    for _ in range(n):
        with LOCK:
            COUNTER[0] += 1
            qid = f"Q{COUNTER[0]:06d}"
        t = c.transaction("alice@example.com", ["bob@example.org"],
                          MSG % qid.encode(), queue_id=qid)
        out.append((qid, t.stage, t.reply.action))
    c.quit()
    return out


def send_parallel(host, connections, each):
    replies = []
    threads = [threading.Thread(target=send, args=(host, each, replies))
               for _ in range(connections)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return replies


def all_continue(replies):
    bad = [r for r in replies if r[1] != "eom" or r[2] != "continue"]
    check_eq(bad, [], "messages not accepted (a tempfail is a 4xx to the client)")


def trail_lines(host):
    """Every line of host's trail files (rotated, oldest first, then current)."""
    path = S["d"][host].config["trail_file"]
    lines = []
    rotated = sorted((os.path.join(os.path.dirname(path), p)
                      for p in os.listdir(os.path.dirname(path))
                      if p.startswith("audit.jsonl.")), key=os.path.getmtime)
    for p in rotated + [path]:
        if os.path.exists(p):
            with (gzip.open if p.endswith(".gz") else open)(p, "rb") as f:
                lines += f.read().splitlines()
    return lines


def db_rows(host=None):
    """(host, trail_id, seq, hash, record bytes) of every row, ordered."""
    where = f"WHERE host = '{host}'" if host else ""
    out = S["db"].psql("SELECT host, trail_id, seq, hash, encode(convert_to(record, 'UTF8'),"
                       f" 'hex') FROM audit_records {where} ORDER BY host, trail_id, seq",
                       user="postern_auditor")
    rows = []
    for line in out.splitlines():
        h, tid, seq, hsh, rec = line.split("|")
        rows.append((h, tid, int(seq), hsh, bytes.fromhex(rec)))
    return rows


def shipped_all(host):
    """True once the database holds exactly host's trail, line for line."""
    return [r[4] for r in db_rows(host)] == trail_lines(host)


def wait_shipped(host, what):
    wait_for(lambda: shipped_all(host), 30, what)


def audit(host, *args):
    return S["d"][host].run(*args)


def owner(sql):
    return S["db"].psql(sql, user="postern_owner")


def verify_db(*extra):
    keys = []
    for h in HOSTS:
        keys += ["--key", S["d"][h].config["key_file"] + ".initial"]
    return audit("mx1", "verify", "--database", *(list(extra) or keys))


def trail_id(host):
    return db_rows(host)[0][1]


@test
def check_wants_a_connection_string_with_store_postgresql():
    conf = os.path.join(S["base"], "bad.conf")
    with open(conf, "w") as f:
        f.write("# audit\ntrail_file = /tmp/x.jsonl\n\nstore = postgresql\n")
    r = subprocess.run([S["d"]["mx1"].command("check")[0], "-c", conf, "check"],
                       capture_output=True, text=True)
    check_eq(r.returncode, 78, "exit status of check: " + r.stderr)
    assert f"{conf}:4:" in r.stderr and "store_connection" in r.stderr, r.stderr
    with open(conf, "a") as f:
        f.write("store_connection = host=/nonexistent dbname=postern user=postern_audit\n")
    r = subprocess.run([S["d"]["mx1"].command("check")[0], "-c", conf, "check"],
                       capture_output=True, text=True)
    check_eq(r.returncode, 0, "check does not need the database: " + r.stderr)


@test
def db_schema_is_versioned_and_created_once():
    owner_conn = S["db"].conninfo("postern_owner")
    r = audit("mx1", "db", "status")
    check_eq(r.returncode, 0, "status: " + r.stdout + r.stderr)
    assert "version 1" in r.stdout and "current" in r.stdout, r.stdout
    r = audit("mx1", "db", "init", "--connection", owner_conn)
    assert r.returncode != 0 and "exists already" in r.stderr, r.stderr
    r = audit("mx1", "db", "upgrade", "--connection", owner_conn)
    check_eq(r.returncode, 0, "upgrade of a current schema: " + r.stderr)
    # the writer role cannot create or change the schema
    r = audit("mx1", "db", "upgrade")
    assert r.returncode != 0, r.stdout


@test
def records_are_in_the_table_exactly_once():
    all_continue(send_parallel("mx1", 4, 5))
    wait_shipped("mx1", "mx1's records in audit_records")
    rows = db_rows("mx1")
    lines = trail_lines("mx1")
    check_eq(len(rows), len(lines), "rows")
    check_eq(len({(r[1], r[2]) for r in rows}), len(rows), "distinct (trail_id, seq)")
    check_eq([r[2] for r in rows], list(range(1, len(lines) + 1)), "seqs")
    for r, line in zip(rows, lines):
        check_eq(r[3], hashlib.sha256(line).hexdigest(), f"hash of seq {r[2]}")
    start = json.loads(lines[0])
    check_eq((start["event"], rows[0][1]), ("trail-start", start["trail_id"]), "trail id")
    mail = [json.loads(x) for x in lines if json.loads(x)["event"] == "message"]
    check_eq(len(mail), 20, "message records")


@test
def a_database_outage_never_tempfails_and_the_store_catches_up():
    d, db = S["d"]["mx1"], S["db"]
    before = len(trail_lines("mx1"))
    db.stop()
    try:
        replies = send_parallel("mx1", 3, 5)
        all_continue(replies)
        assert len(trail_lines("mx1")) >= before + 15, "the trail did not grow"
        d.wait_for_log("cannot ship records", timeout=30)
        replies = send("mx1", 5)
        all_continue(replies)
    finally:
        db.start()
    wait_shipped("mx1", "the records written during the outage shipped")
    d.wait_for_log("audit store: caught up", timeout=30)
    check_eq(d.log().count("cannot ship records"), 1, "outage logged once")
    rows = db_rows("mx1")
    check_eq(len({(r[1], r[2]) for r in rows}), len(rows), "distinct (trail_id, seq)")


@test
def a_worker_killed_with_sigkill_resumes_from_the_database():
    d = S["d"]["mx1"]
    replies = []
    stop = threading.Event()

    def traffic():
        while not stop.is_set():
            try:
                send("mx1", 3, replies)
            except (mc.MilterError, OSError):
                pass     # the connection the kill cut: the MTA would retry

    t = threading.Thread(target=traffic)
    t.start()
    try:
        wait_for(lambda: len(replies) >= 10, 30, "traffic before the kill")
        old = children(d.proc.pid)
        assert old, "no worker"
        for w in old:
            os.kill(w, signal.SIGKILL)
        d.wait_for_log("worker killed by signal 9", timeout=30)
        n = len(replies)
        wait_for(lambda: len(replies) >= n + 10, 60, "traffic after the restart")
    finally:
        stop.set()
        t.join()
    wait_shipped("mx1", "every record shipped after the restart")
    rows = db_rows("mx1")
    check_eq(len({(r[1], r[2]) for r in rows}), len(rows), "distinct (trail_id, seq)")
    check_eq([r[2] for r in rows], list(range(1, len(rows) + 1)), "no seq missing")


@test
def a_restarted_worker_ships_without_waiting_for_mail():
    d, db = S["d"]["mx1"], S["db"]
    wait_shipped("mx1", "mx1's records")
    kills = d.log().count("worker killed by signal 9")
    shipped = len(trail_lines("mx1"))
    db.stop()
    try:
        all_continue(send("mx1", 4))
        assert len(trail_lines("mx1")) > shipped
        for w in children(d.proc.pid):
            os.kill(w, signal.SIGKILL)
        wait_for(lambda: d.log().count("worker killed by signal 9") > kills, 30,
                 "the worker restarted")
    finally:
        db.start()
    # no more mail: the new worker ships what the trail holds on its own
    wait_shipped("mx1", "the records the killed worker had not shipped")


@test
def ship_twice_is_one_copy_and_says_when_the_database_is_down():
    r = audit("mx1", "ship")
    check_eq(r.returncode, 0, "ship: " + r.stderr)
    n = len(db_rows("mx1"))
    r = audit("mx1", "ship")
    check_eq(r.returncode, 0, "ship again: " + r.stderr)
    assert "shipped 0 records" in r.stdout, r.stdout
    check_eq(len(db_rows("mx1")), n, "rows after a second ship")
    S["db"].stop()
    try:
        r = audit("mx1", "ship")
        check_eq(r.returncode, 75, "ship with the database down: " + r.stderr)
    finally:
        S["db"].start()


@test
def ship_never_overwrites_a_different_row_and_says_so():
    wait_shipped("mx1", "mx1's records")
    tid = trail_id("mx1")
    _, _, seq, hsh, rec = db_rows("mx1")[-1]
    text = rec.decode()
    other = text[:-1] + ',"forged":1}'
    where = f"WHERE trail_id = '{tid}' AND seq = {seq}"
    owner(f"UPDATE audit_records SET record = {sql_text(other)}, "
          f"hash = '{hashlib.sha256(other.encode()).hexdigest()}' {where}")
    try:
        r = audit("mx1", "ship")
        check_eq(r.returncode, 65, "ship over a different row: " + r.stdout + r.stderr)
        assert f"trail {tid} seq {seq}" in r.stderr and "another record" in r.stderr, r.stderr
        check_eq(row("mx1", seq)[4].decode(), other, "the row, not overwritten")
    finally:
        owner(f"UPDATE audit_records SET record = {sql_text(text)}, hash = '{hsh}' {where}")
    r = audit("mx1", "ship")
    check_eq(r.returncode, 0, "ship once restored: " + r.stderr)


@test
def verify_database_is_clean_for_two_hosts():
    all_continue(send_parallel("mx2", 2, 6))
    wait_shipped("mx2", "mx2's records")
    wait_shipped("mx1", "mx1's records")
    r = verify_db()
    check_eq(r.returncode, 0, "verify --database: " + r.stdout + r.stderr)
    for h in HOSTS:
        line = [x for x in r.stdout.splitlines() if x.startswith(f"host {h} trail ")]
        check_eq(len(line), 1, f"{h}'s summary in {r.stdout}")
        assert ": intact:" in line[0] and "macs checked" in line[0], line[0]
    r = verify_db("--no-key")
    check_eq(r.returncode, 0, "verify --database --no-key: " + r.stdout)


def tampered(args, restore, *needles):
    """verify --database (with the keys, or args) fails, naming host, trail
    and seq; then restore."""
    try:
        r = verify_db(*args)
        check_eq(r.returncode, 1, "verify after tampering: " + r.stdout + r.stderr)
        for n in needles:
            assert n in r.stdout, f"{n!r} not in:\n{r.stdout}"
        # the other host's trail is still found intact
        assert any(x.startswith("host mx2 trail ") and "intact:" in x
                   for x in r.stdout.splitlines()), r.stdout
    finally:
        owner(restore)
    r = verify_db()
    check_eq(r.returncode, 0, "verify after restoring: " + r.stdout)


def sql_text(text):
    return "'" + text.replace("'", "''") + "'"


def row(host, seq):
    return [r for r in db_rows(host) if r[2] == seq][0]


@test
def an_edited_row_is_named():
    tid = trail_id("mx1")
    _, _, _, hsh, rec = row("mx1", 5)
    text = rec.decode()
    assert "quarterly" in text, text
    edit = text.replace("quarterly", "annual")
    where = f"WHERE trail_id = '{tid}' AND seq = 5"
    restore = f"UPDATE audit_records SET record = {sql_text(text)}, hash = '{hsh}' {where}"
    owner(f"UPDATE audit_records SET record = {sql_text(edit)} {where}")
    tampered((), restore, f"host mx1 trail {tid} seq 5")
    # the hash column edited too: the mac shows it, and without the keys the chain
    h = hashlib.sha256(edit.encode()).hexdigest()
    owner(f"UPDATE audit_records SET record = {sql_text(edit)}, hash = '{h}' {where}")
    tampered((), restore, f"host mx1 trail {tid} seq 5: seq 5: mac does not match")
    owner(f"UPDATE audit_records SET record = {sql_text(edit)}, hash = '{h}' {where}")
    tampered(("--no-key",), restore, f"host mx1 trail {tid} seq 5", "seq 5 was edited")


@test
def a_deleted_row_is_named():
    tid = trail_id("mx1")
    h, _, seq, hsh, rec = row("mx1", 8)
    q = rec.decode().replace("'", "''")
    owner(f"DELETE FROM audit_records WHERE trail_id = '{tid}' AND seq = 8")
    tampered((), "INSERT INTO audit_records (host, trail_id, seq, hash, prev, ts, event, record)"
             f" VALUES ('{h}', '{tid}', 8, '{hsh}', '{json.loads(rec)['prev']}',"
             f" '{json.loads(rec)['ts']}', '{json.loads(rec)['event']}', '{q}')",
             f"host mx1 trail {tid} seq 9", "record seq 8 was deleted")


@test
def a_forged_or_duplicated_row_is_named():
    tid = trail_id("mx1")
    rows = db_rows("mx1")
    last = rows[-1]
    new = last[2] + 1
    ins = ("INSERT INTO audit_records (host, trail_id, seq, hash, prev, event, record)"
           " VALUES ('mx1', '{tid}', {seq}, '{hash}', '{prev}', 'message', '{rec}')")
    # a copy of an existing record under a new seq
    dup = rows[5][4].decode()
    owner(ins.format(tid=tid, seq=new, hash=hashlib.sha256(dup.encode()).hexdigest(),
                     prev=json.loads(dup)["prev"], rec=dup.replace("'", "''")))
    tampered((), f"DELETE FROM audit_records WHERE trail_id = '{tid}' AND seq = {new}",
             f"host mx1 trail {tid} seq {new}: the row's seq is not its record's")
    # a forged record that chains on (seq and prev right) but was sealed by no key
    o = json.loads(rows[5][4])
    o["seq"], o["prev"], o["queue_id"] = new, last[3], "FORGED"
    forged = json.dumps(o, separators=(",", ":"))
    owner(ins.format(tid=tid, seq=new, hash=hashlib.sha256(forged.encode()).hexdigest(),
                     prev=last[3], rec=forged.replace("'", "''")))
    tampered((), f"DELETE FROM audit_records WHERE trail_id = '{tid}' AND seq = {new}",
             f"host mx1 trail {tid} seq {new}: seq {new} is sealed in epoch")


@test
def the_auditor_reads_and_nobody_but_the_owner_changes_rows():
    db = S["db"]
    n = int(db.psql("SELECT count(*) FROM audit_records", user="postern_auditor"))
    assert n > 0
    tid = trail_id("mx1")
    for user in ("postern_auditor", "postern_audit"):
        for sql in (f"UPDATE audit_records SET record = 'x' WHERE trail_id = '{tid}'",
                    f"DELETE FROM audit_records WHERE trail_id = '{tid}'",
                    "TRUNCATE audit_records"):
            r = db.psql(sql, user=user, check=False)
            assert r.returncode != 0 and "permission denied" in r.stderr, (user, sql, r)
    r = db.psql("INSERT INTO audit_records (host, trail_id, seq, hash, prev, record) VALUES "
                "('x', 'x', 1, 'x', 'x', 'x')", user="postern_auditor", check=False)
    assert r.returncode != 0 and "permission denied" in r.stderr, r
    check_eq(int(db.psql("SELECT count(*) FROM audit_records", user="postern_auditor")), n,
             "rows")


def parsed(fmt, text):
    """An export's records as sorted canonical JSON strings (CSV: rows)."""
    if fmt == "json":
        items = json.loads(text)
    elif fmt == "csv":
        rows = list(csv.reader(io.StringIO(text)))
        return rows[0], sorted(json.dumps(x) for x in rows[1:])
    else:
        items = [json.loads(x) for x in text.splitlines() if x]
    return sorted(json.dumps(x, sort_keys=True) for x in items)


@test
def export_database_equals_export_from_the_files_in_every_format():
    for h in HOSTS:
        wait_shipped(h, f"{h}'s records")
    for fmt in ("json", "jsonl", "csv", "ecs", "ocsf", "cim"):
        r = audit("mx1", "export", "--database", "--format", fmt)
        check_eq(r.returncode, 0, f"export --database --format {fmt}: {r.stderr}")
        from_db = parsed(fmt, r.stdout)
        files = [audit(h, "export", "--format", fmt) for h in HOSTS]
        for f in files:
            check_eq(f.returncode, 0, f"export from files: {f.stderr}")
        if fmt == "csv":
            heads = [parsed(fmt, f.stdout) for f in files]
            check_eq(from_db[0], heads[0][0], "csv header")
            want = (heads[0][0], sorted(heads[0][1] + heads[1][1]))
        else:
            want = sorted(sum((parsed(fmt, f.stdout) for f in files), []))
        check_eq(from_db, want, f"format {fmt}")
        assert len(from_db[1] if fmt == "csv" else from_db) > 40, fmt
    # the same filters
    r = audit("mx1", "export", "--database", "--format", "jsonl", "--queue-id", "Q000003")
    got = [json.loads(x) for x in r.stdout.splitlines()]
    check_eq([g["queue_id"] for g in got], ["Q000003"], "--queue-id over the database")
    # ordered by ts across hosts
    r = audit("mx1", "export", "--database", "--format", "jsonl")
    ts = [json.loads(x)["ts"] for x in r.stdout.splitlines()]
    check_eq(ts, sorted(ts), "ordered by ts")
    # a time window: the same records as from the files
    since, until = ts[len(ts) // 3], ts[2 * len(ts) // 3]
    window = ("--since", since, "--until", until, "--format", "jsonl")
    w = audit("mx1", "export", "--database", *window)
    want = sorted(sum(([x for x in audit(h, "export", *window).stdout.splitlines()]
                       for h in HOSTS), []))
    check_eq(sorted(w.stdout.splitlines()), want, f"--since {since} --until {until}")
    assert 0 < len(want) < len(ts), len(want)
    check_eq({json.loads(x)["host"] for x in r.stdout.splitlines()}, set(HOSTS), "hosts")



@test
def records_written_into_a_file_rotated_and_compressed_meanwhile_are_shipped():
    d, db = S["d"]["mx1"], S["db"]
    path = d.config["trail_file"]
    wait_shipped("mx1", "mx1's records before the rotation")
    db.stop()
    try:
        all_continue(send("mx1", 4))
        # logrotate without copytruncate: rename, the daemon goes on in a new file
        os.rename(path, path + ".1")
        all_continue(send("mx1", 3))
        subprocess.run(["gzip", path + ".1"], check=True)
        all_continue(send("mx1", 3))
    finally:
        db.start()
    wait_shipped("mx1", "the records of the rotated, compressed file and the new one")
    rows = db_rows("mx1")
    check_eq([r[2] for r in rows], list(range(1, len(rows) + 1)), "seqs")
    r = verify_db()
    check_eq(r.returncode, 0, "verify --database: " + r.stdout)



@test
def a_reload_takes_the_new_store_connection():
    d = S["d"]["mx1"]
    good = d.config["store_connection"]
    outages = d.log().count("cannot ship records")
    d.reload_and_wait({"store_connection": S["db"].conninfo("postern_nobody")})
    all_continue(send("mx1", 3))
    wait_for(lambda: d.log().count("cannot ship records") > outages, 30,
             "the outage the wrong role makes, logged")
    assert not shipped_all("mx1")
    caught = d.log().count("audit store: caught up")
    d.reload_and_wait({"store_connection": good})
    wait_shipped("mx1", "the records shipped with the connection string restored")
    wait_for(lambda: d.log().count("audit store: caught up") > caught, 30, "caught up")


if __name__ == "__main__":
    main(setup, teardown)
