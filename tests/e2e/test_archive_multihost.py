#!/usr/bin/env python3
# SPDX-License-Identifier: BSD-2-Clause
"""End-to-end: several archive hosts, one archive directory, one PostgreSQL index.

Three postern-archive daemons with host names mx1, mx2 and mx3 share one
archive directory (objects/ and the journals) and one PostgreSQL index (a
private PostgreSQL, tests/lib/pg.py, roles from packaging/postgresql/roles.sql,
schema by `postern-archive db init` as the owner role). Mail comes over the
milter protocol (tests/lib/milter_client.py), as Postfix would send it.

What an administrator of several MX hosts checks:
- each host journals to journal/HOST/; search from every host's
  configuration shows the same deliveries, every host's mail;
- the same message through two hosts is one object and two deliveries;
- PostgreSQL stopped: mail is still accepted (never a 4xx), the journals
  grow, and once the database is back the index catches up;
- the archive worker killed with SIGKILL mid-load: after its restart
  every accepted message is in the index exactly once;
- reindex (from any host, every host's journal) twice gives the same index;
- prune, hold and reindex wait for the database's maintenance lock that
  another host holds;
- a hold put from one host keeps prune on another host from the held mail;
- verify from any host is clean;
- an object directory that is gone still answers tempfail;
- check refuses a host_name that is not one ("../x", "a/b") and
  index = postgresql without index_connection, naming file:line (exit 78).
Runs with postern-archive and with its engine in postern-suite.
"""
import glob
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time

TOP = os.environ.get("POSTERN_TOP") or os.path.abspath(
    os.path.join(os.path.dirname(__file__), "..", ".."))
sys.path.insert(0, os.path.join(TOP, "tests", "lib"))

from tap import test, main, check_eq  # noqa: E402
from daemon import Daemon, suite_mode  # noqa: E402
from pg import PostgreSQL  # noqa: E402
from poll import wait_for  # noqa: E402
from stack import children  # noqa: E402
import milter_client as mc  # noqa: E402

HOSTS = ("mx1", "mx2", "mx3")
S = {}


def host_config(name, archive, conninfo, **extra):
    cfg = {
        "archive_directory": archive,
        "index": "postgresql",
        "index_connection": conninfo,
        "host_name": name,
        "tmp_dir": os.path.dirname(archive),
        "retention": "30d",
        "fulltext": "text",
    }
    cfg.update(extra)
    return cfg


def setup(param):
    S.clear()
    base = tempfile.mkdtemp(prefix="postern-multihost-")
    os.chmod(base, 0o755)
    S["base"] = base
    db = PostgreSQL()
    S["db"] = db
    db.start()
    db.setup_roles()
    archive = os.path.join(base, "archive")
    S["archive"] = archive
    S["d"] = {}
    for name in HOSTS:
        hb = os.path.join(base, name)
        os.makedirs(hb)
        S["d"][name] = Daemon("postern-archive", base=hb, suite=suite_mode(param),
                              config=host_config(name, archive, db.conninfo("postern_archive")))
    r = S["d"]["mx1"].run("db", "init", "--connection", db.conninfo("postern_owner"))
    check_eq(r.returncode, 0, f"db init: {r.stdout}{r.stderr}")
    for d in S["d"].values():
        d.start()


def teardown():
    try:
        for d in S.get("d", {}).values():
            try:
                d.stop()
            except AssertionError as e:
                print(f"# {e}")
    finally:
        if "db" in S:
            S["db"].cleanup()
        if "base" in S and not os.environ.get("POSTERN_KEEP"):
            shutil.rmtree(S["base"], ignore_errors=True)


def message(mid, subject, body="hello"):
    return (f"From: Alice <alice@example.com>\r\nTo: Bob <bob@example.org>\r\n"
            f"Subject: {subject}\r\nMessage-ID: <{mid}>\r\n\r\n{body}\r\n").encode()


def send(host, raw, **kw):
    """One transaction to host's daemon; the final reply's action."""
    return send_to(S["d"][host], raw, **kw)


def send_to(d, raw, rcpts=("<bob@example.org>", "<carol@example.net>"), queue_id="4AbCdEf"):
    c = mc.MilterClient(d.spec, timeout=30)
    try:
        c.negotiate()
        macros = mc.postfix_macros(client_addr="192.0.2.10")
        c.connect("client.example", mc.SMFIA_INET, 40000, "192.0.2.10",
                  macros=macros[mc.SMFIC_CONNECT])
        c.helo("client.example", macros=macros[mc.SMFIC_HELO])
        t = c.transaction("<alice@example.com>", list(rcpts), raw, queue_id=queue_id)
        c.quit()
    finally:
        c.close()
    return t.reply.action


def search(host, *args):
    r = S["d"][host].run("search", "--json", *args)
    if r.returncode not in (0, 1):
        raise AssertionError(f"search on {host} failed ({r.returncode}): {r.stderr}")
    return [json.loads(x) for x in r.stdout.splitlines()]


def journal_lines(host):
    n = 0
    for f in glob.glob(os.path.join(S["archive"], "journal", host, "*.jsonl")):
        with open(f) as fp:
            n += sum(1 for _ in fp)
    return n


def ids_by_subject(host, prefix=None):
    """Ids of the deliveries whose subject has the word prefix (None: all)."""
    return sorted(x["id"] for x in search(host, *(("--subject", prefix) if prefix else ())))


@test
def every_host_journals_apart_and_every_host_searches_all():
    for i, host in enumerate(HOSTS):
        for k in range(2):
            check_eq(send(host, message(f"spread-{host}-{k}@example.com", f"spread {host} {k}")),
                     "continue", "reply")
    for host in HOSTS:
        days = glob.glob(os.path.join(S["archive"], "journal", host, "*.jsonl"))
        assert days, f"no journal of {host}"
    # the single-host layout is not used
    check_eq(glob.glob(os.path.join(S["archive"], "journal", "*.jsonl")), [], "journal/*.jsonl")
    assert not os.path.exists(os.path.join(S["archive"], "index.db")), "index.db created"
    want = wait_for(lambda: len(ids_by_subject("mx1", "spread")) == 6
                    and ids_by_subject("mx1", "spread"), 60, "six deliveries in the index")
    for host in HOSTS:
        check_eq(ids_by_subject(host, "spread"), want, f"search from {host}")
    rows = search("mx2", "--subject", "spread")
    rcpts = {tuple(sorted(x["recipients"])) for x in rows}
    check_eq(rcpts, {("bob@example.org", "carol@example.net")}, "envelope recipients")
    # export from a host spans every host's mail
    mbox = os.path.join(S["base"], "spread.mbox")
    r = S["d"]["mx3"].run("export", "--subject", "spread", "--mbox", mbox)
    check_eq(r.returncode, 0, f"export on mx3: {r.stdout}{r.stderr}")
    with open(mbox, errors="replace") as f:
        subjects = sorted(line.strip() for line in f if line.startswith("Subject: spread"))
    check_eq(subjects, sorted(f"Subject: spread {h} {k}" for h in HOSTS for k in range(2)),
             "exported messages")


@test
def one_message_through_two_hosts_is_one_object_and_two_deliveries():
    raw = message("twice@example.com", "twice through two hosts", "the same bytes\r\n" * 50)
    check_eq(send("mx1", raw), "continue", "mx1")
    check_eq(send("mx2", raw), "continue", "mx2")
    rows = wait_for(lambda: (lambda r: len(r) == 2 and r)(search("mx3", "twice@example.com")),
                    60, "two deliveries of the message")
    check_eq(len({r["sha256"] for r in rows}), 1, "objects")
    sha = rows[0]["sha256"]
    files = [f for f in glob.glob(os.path.join(S["archive"], "objects", sha[:2], "*"))
             if os.path.basename(f).startswith(sha)]
    check_eq(len(files), 1, f"object files {files}")
    g = S["d"]["mx3"].run("get", rows[0]["id"])
    check_eq(g.returncode, 0, g.stderr)
    assert "the same bytes" in g.stdout


def indexer_warnings(host):
    return S["d"][host].log().count("archive index: cannot apply the journal")


@test
def postgresql_outage_never_refuses_mail_and_the_index_catches_up():
    db = S["db"]
    before = {h: journal_lines(h) for h in HOSTS}
    warned = {h: indexer_warnings(h) for h in HOSTS}
    db.stop()
    try:
        replies = []
        for k in range(12):
            host = HOSTS[k % 3]
            replies.append(send(host, message(f"outage-{k}@example.com", f"outage {k}")))
        check_eq(replies, ["continue"] * 12, "replies while PostgreSQL is down")
        # a host (re)started while the database is down takes mail at once
        S["d"]["mx3"].stop()
        S["d"]["mx3"].start()
        check_eq(send("mx3", message("outage-restarted@example.com", "outage restarted")),
                 "continue", "reply of a host started while PostgreSQL is down")
        for h in HOSTS:
            assert journal_lines(h) > before[h], f"journal of {h} did not grow"
        # the indexers notice, and say so once per outage, not once a second
        for h in HOSTS:
            wait_for(lambda: indexer_warnings(h) > warned[h], 60, f"{h} logs the outage")
        time.sleep(3)
        for h in ("mx1", "mx2"):
            check_eq(indexer_warnings(h) - warned[h], 1, f"outage warnings of {h}")
    finally:
        db.start()
    wait_for(lambda: len(ids_by_subject("mx2", "outage")) == 13, 90,
             "the index to catch up after the outage")
    for h in HOSTS:
        S["d"][h].wait_for_log("archive index: up to date with the journal again", timeout=60)
    check_eq(len(search("mx1", "outage-restarted@example.com")), 1, "the restarted host's mail")


@test
def sigkill_of_a_worker_mid_load_loses_nothing_and_indexes_once():
    d = S["d"]["mx1"]
    accepted, failed, stop = [], set(), threading.Event()

    def sender(tag):
        k = 0
        while not stop.is_set():
            mid = f"kill-{tag}-{k}@example.com"
            try:
                if send("mx1", message(mid, f"kill {tag} {k}")) == "continue":
                    accepted.append(f"<{mid}>")
                    k += 1
                    continue
            except (mc.MilterClosed, mc.MilterTimeout, OSError):
                pass
            # the worker is gone: an MTA tries the same message again later
            failed.add(f"<{mid}>")
            time.sleep(0.05)

    threads = [threading.Thread(target=sender, args=(t,)) for t in range(4)]
    for t in threads:
        t.start()
    try:
        wait_for(lambda: len(accepted) >= 20, 60, "mail accepted before the kill")
        workers = children(d.proc.pid)
        assert workers, "no worker process"
        for w in workers:
            os.kill(w, signal.SIGKILL)
        d.wait_for_log("killed by signal 9", timeout=30)
        n = len(accepted)
        wait_for(lambda: len(accepted) >= n + 20, 60, "mail accepted after the restart")
    finally:
        stop.set()
        for t in threads:
            t.join(60)

    def indexed():
        rows = search("mx2", "--subject", "kill")
        by_mid = {}
        for r in rows:
            by_mid.setdefault(r["message_id"], []).append(r["id"])
        return all(mid in by_mid for mid in accepted) and (rows, by_mid)
    rows, by_mid = wait_for(indexed, 90, "every accepted message in the index")
    ids = [r["id"] for r in rows]
    check_eq(len(ids), len(set(ids)), "deliveries indexed twice")
    # a message whose answer the kill lost was archived, and is archived
    # again when retried: one delivery more, never one less
    check_eq(sorted(m for m in accepted if m not in failed and len(by_mid[m]) != 1), [],
             "accepted messages not indexed exactly once")
    check_eq(sorted(m for m in by_mid if m in failed and len(by_mid[m]) > 2), [],
             "retried messages with more deliveries than attempts")


@test
def a_restarted_worker_catches_up_its_journal_without_new_mail():
    db, d = S["db"], S["d"]["mx2"]
    mids = [f"<restart-{k}@example.com>" for k in range(3)]
    db.stop()
    try:
        for k, mid in enumerate(mids):
            check_eq(send("mx2", message(mid[1:-1], f"restart {k}")), "continue", "reply")
        old = children(d.proc.pid)
        for w in old:
            os.kill(w, signal.SIGKILL)
        wait_for(lambda: (lambda c: c and c != old)(children(d.proc.pid)), 30,
                 "a new worker")
    finally:
        db.start()
    # no mail, no tool: the database alone shows that the new worker's
    # indexer applied what the killed one journaled
    where = " OR ".join(f"message_id = '{m}'" for m in mids)
    wait_for(lambda: db.psql(f"SELECT count(*) FROM archive_deliveries WHERE {where}",
                             user="postern_auditor").strip() == "3", 90,
             "the journal of the killed worker in the index")


def stats(host):
    r = S["d"][host].run("stats", "--json")
    check_eq(r.returncode, 0, r.stderr)
    st = json.loads(r.stdout)
    return {k: st[k] for k in ("deliveries", "objects", "held", "recipients")}


@test
def reindex_from_any_host_twice_gives_the_same_index():
    wait_for(lambda: search("mx1", "--subject", "kill") == search("mx3", "--subject", "kill"),
             30, "a settled index")
    before, rows = stats("mx1"), ids_by_subject("mx1")
    for host in ("mx2", "mx3"):
        r = S["d"][host].run("reindex")
        check_eq(r.returncode, 0, f"reindex on {host}: {r.stdout}{r.stderr}")
        check_eq(stats("mx1"), before, f"stats after reindex on {host}")
        check_eq(ids_by_subject("mx2"), rows, f"deliveries after reindex on {host}")


@test
def verify_from_any_host_is_clean():
    for host in HOSTS:
        r = S["d"][host].run("verify")
        check_eq(r.returncode, 0, f"verify on {host}: {r.stdout}{r.stderr}")


@test
def maintenance_waits_for_the_database_lock_another_host_holds():
    # another host's maintenance holds "postern-archive maintenance"
    other = subprocess.Popen(["psql", "-X", "-q", "-A", "-t", "-d",
                              S["db"].conninfo("postern_archive")],
                             stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    try:
        other.stdin.write("SELECT pg_advisory_lock(hashtext('postern-archive maintenance'));\n"
                          "\\echo locked\n")
        other.stdin.flush()
        while other.stdout.readline().strip() != "locked":
            pass
        d = S["d"]["mx2"]
        d.write_config()
        prune = subprocess.Popen(d.command("prune", "--dry-run"), stdout=subprocess.PIPE,
                                 stderr=subprocess.PIPE, text=True)
        try:
            # still waiting while the other host holds the lock
            time.sleep(2)
            check_eq(prune.poll(), None, "prune while another host holds the lock")
        finally:
            other.stdin.write("SELECT pg_advisory_unlock(hashtext('postern-archive maintenance'));\n")
            other.stdin.flush()
        out, err = prune.communicate(timeout=60)
        check_eq(prune.returncode, 0, f"prune once the lock is free: {out}{err}")
    finally:
        other.stdin.close()
        other.wait(30)


@test
def prune_never_deletes_what_an_unindexed_journal_of_another_host_uses():
    # mx4 cannot reach the database at all (its indexer never feeds it):
    # its mail is still accepted, and lives in its journal only
    hb = os.path.join(S["base"], "mx4")
    os.makedirs(hb, exist_ok=True)
    d = Daemon("postern-archive", base=hb, suite=S["d"]["mx1"].suite, config=host_config(
        "mx4", S["archive"], "host=/nonexistent port=1 dbname=postern user=postern_archive"))
    d.start()
    try:
        check_eq(send_to(d, message("lagging@example.com", "lagging host")), "continue",
                 "reply of a host without its database")
    finally:
        d.stop()
    assert journal_lines("mx4") > 0, "mx4 journaled nothing"
    # prune from mx1 now: nothing is past retention; the object mx4's
    # delivery uses is in no index yet, and must not look unused
    r = S["d"]["mx1"].run("prune")
    check_eq(r.returncode, 0, f"prune on mx1: {r.stdout}{r.stderr}")
    rows = search("mx2", "lagging@example.com")
    check_eq(len(rows), 1, "mx4's delivery, seen from mx2")
    g = S["d"]["mx3"].run("get", rows[0]["id"])
    check_eq(g.returncode, 0, f"get of mx4's delivery: {g.stderr}")
    assert "lagging host" in g.stdout


@test
def a_hold_from_one_host_keeps_prune_on_another_from_the_held_mail():
    held_mid = "spread-mx3-0@example.com"
    r = S["d"]["mx3"].run("hold", "add", "--reason", "case 16", held_mid)
    check_eq(r.returncode, 0, f"hold on mx3: {r.stdout}{r.stderr}")
    held = search("mx1", held_mid)
    check_eq([x["held"] for x in held], [True], "held, seen from mx1")
    # a year on, everything is past retention but the held delivery
    later = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(time.time() + 365 * 86400))
    r = S["d"]["mx1"].run("prune", "--as-of", later)
    check_eq(r.returncode, 0, f"prune on mx1: {r.stdout}{r.stderr}")
    for host in HOSTS:
        left = search(host)
        check_eq([x["message_id"] for x in left], [f"<{held_mid}>"],
                 f"left after prune, from {host}")
    g = S["d"]["mx2"].run("get", held[0]["id"])
    check_eq(g.returncode, 0, f"get of the held mail: {g.stderr}")
    assert "spread mx3 0" in g.stdout
    objects = [f for f in glob.glob(os.path.join(S["archive"], "objects", "*", "*"))
               if not os.path.basename(f).startswith(".")]
    check_eq(len(objects), 1, f"objects left {objects}")
    r = S["d"]["mx2"].run("verify")
    check_eq(r.returncode, 0, f"verify after prune: {r.stdout}{r.stderr}")
    # released from a third host: every host sees it released, also after a reindex
    r = S["d"]["mx1"].run("hold", "remove", held_mid)
    check_eq(r.returncode, 0, f"release on mx1: {r.stdout}{r.stderr}")
    check_eq([x["held"] for x in search("mx2", held_mid)], [False], "released, seen from mx2")
    r = S["d"]["mx3"].run("reindex")
    check_eq(r.returncode, 0, f"reindex on mx3: {r.stdout}{r.stderr}")
    check_eq([x["held"] for x in search("mx2", held_mid)], [False], "released after reindex")


@test
def an_object_directory_that_is_gone_still_tempfails():
    objects = os.path.join(S["archive"], "objects")
    away = objects + ".away"
    os.rename(objects, away)
    try:
        with open(objects, "w") as f:
            f.write("not a directory\n")
        action = send("mx2", message("noobjects@example.com", "no objects dir"))
        check_eq(action, "replycode", "reply without an object directory")
    finally:
        os.unlink(objects)
        os.rename(away, objects)
    check_eq(send("mx2", message("objects-back@example.com", "objects back")), "continue",
             "reply once the directory is back")


def check_of(config):
    hb = os.path.join(S["base"], "checks")
    os.makedirs(hb, exist_ok=True)
    d = Daemon("postern-archive", base=hb, config=config)
    return d.run("check")


@test
def check_refuses_a_host_name_that_is_a_path_and_a_missing_connection():
    conninfo = S["db"].conninfo("postern_archive")
    for bad in ("../x", "a/b", "/", ".hidden"):
        r = check_of(host_config(bad, S["archive"], conninfo))
        check_eq(r.returncode, 78, f"check with host_name {bad!r}: {r.stdout}{r.stderr}")
        assert re.search(r'postern-archive\.conf:\d+: parameter "host_name"', r.stderr), r.stderr
    assert not os.path.exists(os.path.join(S["archive"], "x")), "../x created"
    r = check_of(host_config("mx9", S["archive"], ""))
    check_eq(r.returncode, 78, f"check without index_connection: {r.stdout}{r.stderr}")
    assert re.search(r'postern-archive\.conf:\d+: parameter "index".*index_connection',
                     r.stderr), r.stderr
    r = check_of(host_config("mx9", S["archive"], conninfo))
    check_eq(r.returncode, 0, f"check of a good host: {r.stdout}{r.stderr}")


if __name__ == "__main__":
    main(setup, teardown, params=("archive", "suite"))
