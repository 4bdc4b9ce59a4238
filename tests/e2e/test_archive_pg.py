#!/usr/bin/env python3
# SPDX-License-Identifier: BSD-2-Clause
"""End-to-end: the archive index in PostgreSQL (index = postgresql), with a
real PostgreSQL 15 (tests/lib/pg.py: initdb in a temporary directory, a unix
socket, roles.sql as documented) and two postern-archive daemons driven over
their milter sockets (tests/lib/milter_client) as an MTA would: one with the
SQLite index, one with the PostgreSQL index; [suite]: the same engines run by
postern-suite. What an administrator checks:

  - without a schema the daemon starts and takes mail, and every tool says
    "run postern-archive db init"; db init as the service role is refused
    (the owner runs it), twice is refused clearly, db upgrade on the
    current schema does nothing, db status shows the version and the rows;
  - the same messages give the same search results from either index, for
    every criterion (from, to with Bcc, subject, text, since/until,
    message-id, attachment, larger, held, keys), in the same order;
  - hostile search text (quotes, LIKE wildcards, backslashes, SQL, text
    search syntax, 10,000 characters, unicode) is only ever text: the same
    answer from both indexes, and the tables untouched;
  - a journal applied twice is one row (progress forgotten, reindex twice);
  - postern_auditor reads and cannot write;
  - PostgreSQL stopped: mail still flows, tools fail with "cannot connect",
    db status exits 75; started again: the index catches up.
"""
import json
import os
import secrets
import shutil
import sys
import tempfile
import time

TOP = os.environ.get("POSTERN_TOP") or os.path.abspath(
    os.path.join(os.path.dirname(__file__), "..", ".."))
sys.path.insert(0, os.path.join(TOP, "tests", "lib"))

from tap import test, main, check_eq  # noqa: E402
import milter_client as mc  # noqa: E402
from daemon import Daemon, suite_mode  # noqa: E402
from pg import PostgreSQL  # noqa: E402

S = {}


def archive(name, **config):
    base = os.path.join(S["base"], name)
    os.makedirs(os.path.join(base, "tmp"), exist_ok=True)
    conf = {"archive_directory": os.path.join(base, "archive"),
            "tmp_dir": os.path.join(base, "tmp"), "body_memory_limit": "64k"}
    conf.update(config)
    return Daemon("postern-archive", base=base, config=conf, suite=S["suite"])


def setup(param):
    S.clear()
    S["base"] = tempfile.mkdtemp(prefix="postern-archive-pg-")
    os.chmod(S["base"], 0o755)
    S["suite"] = suite_mode(param)
    db = S["db"] = PostgreSQL()
    db.start()
    db.setup_roles()
    S["sq"] = archive("sqlite").start()
    S["pg"] = archive("pg", index="postgresql", index_connection=db.conninfo("postern_archive"),
                      host_name="mx1").start()
    # compliance staff: the same archive directory, the read-only role
    S["auditor"] = archive("auditor", index="postgresql", host_name="mx1",
                           index_connection=db.conninfo("postern_auditor"),
                           archive_directory=S["pg"].config["archive_directory"])


def teardown():
    for name in ("sq", "pg"):
        if name in S:
            try:
                S[name].stop()
            except Exception as e:  # noqa: BLE001 - the rest still stops
                print(f"# stopping {name}: {e}")
    if "db" in S:
        S["db"].cleanup()
    if "base" in S and not os.environ.get("POSTERN_KEEP"):
        shutil.rmtree(S["base"], ignore_errors=True)


def send(d, raw, sender, rcpts, queue_id="4PgTest"):
    c = mc.MilterClient(d.spec)
    c.negotiate()
    macros = mc.postfix_macros(client_addr="192.0.2.10")
    c.connect("client.example", mc.SMFIA_INET, 40000, "192.0.2.10",
              macros=macros[mc.SMFIC_CONNECT])
    c.helo("client.example", macros=macros[mc.SMFIC_HELO])
    try:
        return c.transaction(sender, list(rcpts), raw, queue_id=queue_id)
    finally:
        c.quit()


def message(msgid, subject, frm="Alice <alice@example.com>", to="Bob <bob@example.org>",
            cc=None, body="Hello.\r\n", extra=""):
    head = (f"From: {frm}\r\nTo: {to}\r\n" + (f"Cc: {cc}\r\n" if cc else "")
            + f"Subject: {subject}\r\nMessage-ID: <{msgid}@example.com>\r\n"
            "Date: Mon, 1 Jan 2024 10:00:00 +0000\r\n" + extra)
    return (head + "\r\n" + body).encode("utf-8")


ATTACHED = ("MIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=\"B\"\r\n", (
    "--B\r\nContent-Type: text/plain; charset=utf-8\r\n\r\nThe quarterly figures, see the"
    " report.\r\n--B\r\nContent-Type: application/pdf; name=report.pdf\r\n"
    "Content-Disposition: attachment; filename=\"report.pdf\"\r\n"
    "Content-Transfer-Encoding: base64\r\n\r\nJVBERi0xLjQKJcfsj6IK\r\n--B\r\n"
    "Content-Type: text/csv\r\nContent-Disposition: attachment; filename=\"Zahlen_2024.csv\""
    "\r\n\r\na,b\r\n1,2\r\n--B--\r\n"))

# (message-id, raw, envelope sender, recipients): batch A, then batch B a
# second later, so that since/until split them
BATCH_A = [
    ("m1", message("m1", "Quarterly report", extra=ATTACHED[0], body=ATTACHED[1]),
     "<alice@example.com>", ["<bob@example.org>", "<secret-bcc@hidden.example>"]),
    ("m2", message("m2", "Lunch?", frm="Carol Sender <carol@example.net>",
                   to="Dave <dave@example.org>", cc="Erin <erin@cc.example>",
                   body="Shall we meet in K\u00f6ln at noon?\r\n",
                   extra="MIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\n"
                         "Content-Transfer-Encoding: 8bit\r\n"),
     "<carol@example.net>", ["<dave@example.org>", "<erin@cc.example>"]),
    ("m3", message("m3", "100% _done_ \\o/ it's \"quoted\"",
                   body="Percent and underscore: 100% a_b 'single' \"double\".\r\n"),
     "<alice@example.com>", ["<bob@example.org>"]),
]
BATCH_B = [
    ("m4", message("m4", "=?UTF-8?B?R3LDvMOfZSBhdXMgS8O2bG4=?=",
                   body="Gr\u00fc\u00dfe aus K\u00f6ln, \u65e5\u672c\u8a9e text.\r\n",
                   extra="MIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\n"
                         "Content-Transfer-Encoding: 8bit\r\n"),
     "<>", ["<bob@example.org>"]),
    ("m5", message("m5", "Big one", body="quarterly padding\r\n" + "x" * 4000 + "\r\n"),
     "<zed@big.example>", ["<bob@example.org>", "<team@example.org>"]),
    ("m1again", message("m1", "Quarterly report", extra=ATTACHED[0], body=ATTACHED[1]),
     "<alice@example.com>", ["<frank@example.org>"]),
]


def tool(d, *args):
    return d.run(*args)


def search(d, *args):
    r = tool(d, "search", "--json", *args)
    if r.returncode not in (0, 1):
        raise AssertionError(f"search {args} on {d.config.get('index', 'sqlite')} failed"
                             f" ({r.returncode}): {r.stderr}")
    return [json.loads(line) for line in r.stdout.splitlines()]


def view(rows):
    """What must agree between the indexes (ids and times are each archive's own)."""
    return [(r["message_id"], r["sender"], tuple(r["recipients"]), r["subject"], r["from"],
             r["to"], r["cc"], r["size"], tuple(r["attachments"]), r["held"],
             r.get("hold_reason", ""), r["sha256"], r["queue_id"]) for r in rows]


def same_results(*args, want=None):
    a, b = search(S["sq"], *args), search(S["pg"], *args)
    check_eq(view(b), view(a), f"search {' '.join(x[:40] for x in args)}: PostgreSQL as SQLite")
    if want is not None:
        check_eq(len(a), want, f"search {' '.join(args)}: deliveries")
    return a


def counts():
    return {t: int(S["db"].psql(f"SELECT count(*) FROM {t}").strip())
            for t in ("archive_deliveries", "archive_recipients", "archive_objects",
                      "archive_fulltext", "archive_holds", "archive_voids")}


@test
def without_a_schema_mail_flows_and_tools_say_db_init():
    t = send(S["pg"], message("early", "Before db init"), "<alice@example.com>",
             ["<bob@example.org>"])
    check_eq(t.reply.action, "continue", f"mail before db init ({t.reply})")
    r = tool(S["pg"], "search", "--from", "alice")
    assert r.returncode not in (0, 1), (r.returncode, r.stdout)
    assert "run `postern-archive db init`" in r.stderr, r.stderr
    # the daemon's indexer says so too, once its pass after the delivery ran
    S["pg"].wait_for_log("run `postern-archive db init`", timeout=30)
    r = tool(S["pg"], "db", "status")
    check_eq(r.returncode, 1, f"db status without a schema: {r.stdout} {r.stderr}")
    assert "schema version: 0" in r.stdout and "db init" in r.stdout, r.stdout


@test
def db_init_is_the_owners_once_and_upgrade_is_a_no_op():
    owner = S["db"].conninfo("postern_owner")
    r = tool(S["pg"], "db", "init")     # the service's role: not the owner
    check_eq(r.returncode, 77, f"db init as postern_archive: {r.stderr}")
    assert "postern_owner" in r.stderr, r.stderr
    r = tool(S["pg"], "db", "init", "--connection", owner)
    check_eq(r.returncode, 0, f"db init: {r.stderr}")
    assert "created, version 1" in r.stdout, r.stdout
    r = tool(S["pg"], "db", "init", "--connection", owner)
    check_eq(r.returncode, 1, "db init twice")
    assert "exists already" in r.stderr and "nothing done" in r.stderr, r.stderr
    before = S["db"].psql("SELECT version, updated FROM postern_schema"
                          " WHERE component = 'archive'")
    r = tool(S["pg"], "db", "upgrade", "--connection", owner)
    check_eq(r.returncode, 0, f"db upgrade: {r.stderr}")
    assert "nothing to do" in r.stdout, r.stdout
    check_eq(S["db"].psql("SELECT version, updated FROM postern_schema"
                          " WHERE component = 'archive'"), before, "upgrade changed nothing")
    r = tool(S["pg"], "db", "status")
    check_eq(r.returncode, 0, f"db status: {r.stderr}")
    assert "schema version: 1" in r.stdout and "archive_deliveries:" in r.stdout, r.stdout
    r = tool(S["pg"], "db", "status", "--connection", "host=/nonexistent dbname=postern")
    check_eq(r.returncode, 75, f"db status, no server: {r.stderr}")
    # the message taken before db init is in the index now
    check_eq([x["message_id"] for x in search(S["pg"], "--subject", "Before db init")],
             ["<early@example.com>"], "mail taken without a schema")


@test
def both_indexes_answer_every_criterion_alike():
    # the early message is in the PostgreSQL host's journal: a twin for SQLite
    send(S["sq"], message("early", "Before db init"), "<alice@example.com>",
         ["<bob@example.org>"])
    for name, raw, sender, rcpts in BATCH_A:
        for d in (S["sq"], S["pg"]):
            t = send(d, raw, sender, rcpts, queue_id="4Q" + name.upper())
            check_eq(t.reply.action, "continue", f"{name} accepted ({t.reply})")
    time.sleep(2.1)
    S["split"] = int(time.time())
    time.sleep(1.1)
    for name, raw, sender, rcpts in BATCH_B:
        for d in (S["sq"], S["pg"]):
            t = send(d, raw, sender, rcpts, queue_id="4Q" + name.upper())
            check_eq(t.reply.action, "continue", f"{name} accepted ({t.reply})")
    same_results()      # the early twin included: PostgreSQL re-indexes it below
    every = same_results("--since", "2001-01-01")
    n = len(every)
    check_eq(n, 7, "deliveries")
    split = f"@{S['split']}"
    for args, want in [
            (("--from", "alice"), 6), (("--from", "ALICE@EXAMPLE.COM"), 6),
            (("--from", "Carol Sender"), 1), (("--from", "nobody"), 0),
            (("--to", "bob"), 6), (("--to", "secret-bcc"), 1), (("--to", "erin@cc"), 1),
            (("--to", "FRANK"), 1), (("--subject", "report"), 2),
            (("--subject", "100%"), 1), (("--subject", "_done_"), 1), (("--subject", "\\o/"), 1),
            (("--subject", "it's"), 1), (("--subject", "\"quoted\""), 1),
            (("--subject", "Grüße"), 1), (("--text", "quarterly"), 3),
            (("--text", "quarterly figures"), 2), (("--text", "FIGURES Quarterly"), 2),
            (("--text", "Köln"), 2), (("--text", "koln"), 2), (("--text", "日本語"), 1),
            (("--text", "lunch"), 1), (("--text", "nothing-like-this"), 0),
            (("--since", split), 3), (("--until", split), 4),
            (("--since", split, "--from", "alice"), 3),
            (("--since", "2001-01-01", "--until", split, "--to", "bob"), 3),
            (("--message-id", "m3@example.com"), 1), (("--message-id", "<m1@example.com>"), 2),
            (("--attachment", "report.pdf"), 2), (("--attachment", ".CSV"), 2),
            (("--attachment", "n_2"), 2), (("--attachment", "%"), 0),
            (("--larger", "3k"), 1), (("--larger", "0"), n),
            (("<m2@example.com>",), 1), (("m1@example.com", "m4@example.com"), 3)]:
        same_results(*args, want=want)
    sha = [r for r in every if r["message_id"] == "<m1@example.com>"][0]["sha256"]
    same_results(sha, want=2)
    same_results(sha[:10], want=2)
    pg_id = [r for r in search(S["pg"]) if r["message_id"] == "<m5@example.com>"][0]["id"]
    check_eq([r["message_id"] for r in search(S["pg"], pg_id)], ["<m5@example.com>"],
             "a delivery id")


@test
def holds_agree():
    for d in (S["sq"], S["pg"]):
        r = tool(d, "hold", "add", "--reason", "case 7 'x'", "--subject", "report")
        check_eq(r.returncode, 0, f"hold add: {r.stderr}")
    same_results("--held", want=2)
    held = same_results("--held", "--from", "alice", want=2)
    check_eq({r["hold_reason"] for r in held}, {"case 7 'x'"}, "reason")
    for d in (S["sq"], S["pg"]):
        r = tool(d, "hold", "remove", "--message-id", "m1@example.com", "--since", f"@{S['split']}")
        check_eq(r.returncode, 0, f"hold remove: {r.stderr}")
    same_results("--held", want=1)
    st = [json.loads(tool(d, "stats", "--json").stdout) for d in (S["sq"], S["pg"])]
    for k in ("deliveries", "recipients", "objects", "held", "message_bytes", "object_bytes"):
        check_eq(st[1][k], st[0][k], f"stats {k}")


HOSTILE = ["'", "''", "\"", "%", "_", "\\", "\\%", "%%", "a%b", "a_b", "%' OR '1'='1",
           "'); DELETE FROM archive_deliveries; --", "\\'; DROP TABLE archive_holds; --",
           "$1", "$$ $tag$", "!(a | b) & c:* <-> d", "quarterly & !figures",
           "\"quarterly\" OR figures", "NEAR(a b)", "*", "-", "x" * 10000,
           "ü" * 3000 + "%", "日本語'\"\\%_", "\u202e\u200b", "bob@example.org"]


@test
def hostile_search_text_is_only_text():
    before = counts()
    for opt in ("--from", "--to", "--subject", "--text", "--attachment", "--message-id"):
        for value in HOSTILE:
            a = tool(S["sq"], "search", "--json", opt, value)
            b = tool(S["pg"], "search", "--json", opt, value)
            label = f"{opt} {value[:30]!r}"
            check_eq(b.returncode, a.returncode, f"{label}: exit status ({b.stderr[:300]})")
            check_eq(view([json.loads(x) for x in b.stdout.splitlines()]),
                     view([json.loads(x) for x in a.stdout.splitlines()]), label)
    # keys: a Message-ID is anything with an '@'; a SHA-256 prefix is hex only
    for key in ("<'; DROP TABLE archive_deliveries; --@x>", "%@%", "_@_", "\\@\\",
                "m1@example.com' OR '1'='1", "0123abcd%", "x" * 5000 + "@y"):
        a = tool(S["sq"], "search", "--json", key)
        b = tool(S["pg"], "search", "--json", key)
        check_eq(b.returncode, a.returncode, f"key {key[:30]!r}: exit status ({b.stderr[:200]})")
        check_eq((a.stdout, b.stdout), ("", ""), f"key {key[:30]!r} selects nothing")
    check_eq(counts(), before, "tables untouched")
    check_eq(len(search(S["pg"], "--subject", "%")), 1, "a literal %")
    check_eq(len(search(S["pg"], "--subject", "_")), 1, "a literal _")
    check_eq(len(search(S["pg"], "--subject", "\\")), 1, "a literal backslash")


@test
def a_journal_applied_twice_is_one_row():
    before = counts()
    # forget the progress: the next catch-up reads every record again
    S["db"].psql("DELETE FROM archive_journal_applied")
    r = tool(S["pg"], "search", "--from", "alice")
    check_eq(r.returncode, 0, f"search after forgetting: {r.stderr}")
    check_eq(S["db"].psql("SELECT count(*) FROM archive_journal_applied WHERE host = 'mx1'")
             .strip() != "0", True, "progress recorded per host")
    check_eq(counts(), before, "rows after applying the journal again")
    for i in (1, 2):
        r = tool(S["pg"], "reindex")
        check_eq(r.returncode, 0, f"reindex {i}: {r.stderr}")
        check_eq(counts(), before, f"rows after reindex {i}")
    check_eq(S["db"].psql("SELECT count(DISTINCT id) = count(*) FROM archive_deliveries")
             .strip(), "t", "ids unique")
    same_results("--held", want=1)
    same_results("--text", "quarterly", want=3)


@test
def the_auditor_reads_and_cannot_write():
    db = S["db"]
    for sql in ("INSERT INTO archive_deliveries(id, host, time, queue_id, sha256, mta,"
                " client_addr, client_name, helo, auth, direction, sender, hdr_from, hdr_to,"
                " hdr_cc, subject, message_id, hdr_date, size, stored_size, attachments)"
                " VALUES ('x','x',0,'','','','','','','','','','','','','','','',0,0,'')",
                "DELETE FROM archive_holds", "UPDATE archive_deliveries SET subject = ''",
                "INSERT INTO archive_journal_applied VALUES ('h', 'f', 0, 0)"):
        r = db.psql(sql, user="postern_auditor", check=False)
        assert r.returncode != 0 and "permission denied" in r.stderr, (sql, r.stderr)
    check_eq(db.psql("SELECT count(*) FROM archive_deliveries", user="postern_auditor").strip(),
             str(counts()["archive_deliveries"]), "auditor reads")
    check_eq(view(search(S["auditor"], "--to", "bob")), view(search(S["pg"], "--to", "bob")),
             "auditor's search")


@test
def a_delivery_id_from_another_host_is_reported_not_doubled():
    db = S["db"]
    row = search(S["pg"], "--message-id", "m3@example.com")[0]
    # as if host mx2 had journaled a delivery with this id first
    db.psql(f"UPDATE archive_deliveries SET host = 'mx2' WHERE id = '{row['id']}'")
    db.psql("DELETE FROM archive_journal_applied")
    before = counts()
    r = tool(S["pg"], "search", "--message-id", "m3@example.com")
    check_eq(r.returncode, 0, f"search: {r.stderr}")
    assert (f"delivery id {row['id']} of host \"mx1\" exists already from host \"mx2\""
            in r.stderr), r.stderr
    check_eq(counts(), before, "rows")
    db.psql(f"UPDATE archive_deliveries SET host = 'mx1' WHERE id = '{row['id']}'")


@test
def a_huge_message_id_and_subject_do_not_stop_the_index():
    # a B-tree refuses keys over 2704 bytes: the sender's Message-ID must not
    # leave the index stuck behind its journal record
    # (random: PostgreSQL compresses a key before it checks its size)
    msgid = "long" + secrets.token_hex(2500)
    subject = "huge " + secrets.token_hex(10000)
    t = send(S["pg"], message(msgid, subject), "<alice@example.com>", ["<bob@example.org>"],
             queue_id="4QLONG")
    check_eq(t.reply.action, "continue", f"accepted ({t.reply})")
    rows = search(S["pg"], "--message-id", f"{msgid}@example.com")
    check_eq([(r["message_id"] == f"<{msgid}@example.com>", len(r["subject"])) for r in rows],
             [(True, len(subject))], "indexed")
    check_eq(len(search(S["pg"], "--subject", subject[100:400])), 1, "subject search")


@test
def a_database_outage_stops_no_mail():
    db = S["db"]
    db.stop()
    try:
        t = send(S["pg"], message("outage", "During the outage"), "<alice@example.com>",
                 ["<bob@example.org>"], queue_id="4QOUT")
        check_eq(t.reply.action, "continue", f"mail while PostgreSQL is down ({t.reply})")
        r = tool(S["pg"], "search", "--subject", "outage")
        assert r.returncode == 75 and "cannot connect" in r.stderr, (r.returncode, r.stderr)
        for cmd in (["hold", "add", "--reason", "case 7", "<outage@example.com>"], ["reindex"],
                    ["prune", "--dry-run"]):
            r = tool(S["pg"], *cmd)
            check_eq(r.returncode, 75, f"{cmd[0]} while PostgreSQL is down ({r.stderr})")
        check_eq(tool(S["pg"], "db", "status").returncode, 75, "db status while down")
    finally:
        db.start()
    check_eq([x["message_id"] for x in search(S["pg"], "--subject", "During the outage")],
             ["<outage@example.com>"], "indexed once PostgreSQL is back")


if __name__ == "__main__":
    main(setup, teardown, params=("archive", "suite"))
