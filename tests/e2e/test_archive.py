#!/usr/bin/env python3
# SPDX-License-Identifier: BSD-2-Clause
"""End-to-end: postern-archive attached to a private Postfix and to a
private Sendmail on 127.0.0.1 (tests/lib/mta.py; Sendmail with the macro
lists of packaging/sendmail/postern.mc-snippet).

Archives on each MTA:
  plain   every message of a corpus (plain, multipart with attachments,
          8-bit, encoded-word subjects, a 20 MB message, 500 recipients
          with Bcc) must come back from `get` byte for byte as the client
          sent it, with the whole envelope and the MTA's queue id, and the
          sink must receive exactly the MTA's Received header followed by
          those bytes (neither MTA shows milters its own Received header);
  sealed  encrypting to a certificate: the object read with nothing but
          `openssl cms -decrypt | zstd -d` is the message;
  ro      (Postfix only: it needs a content_filter) behind a queue: a
          listener (no milter) hands mail to Postfix's queue, whose
          content_filter delivers it to a second smtpd with the milter.
          With the archive read-only the milter answers 451, so the
          message stays deferred in Postfix's queue; made writable again,
          the queue is flushed and the message is delivered and archived
          exactly once.

Read-only, as root: root ignores directory permissions, so a chmod alone
would prove nothing. The ro daemon runs as it would in production, with
user = nobody (the worker drops to nobody before it opens the archive), and
its archive is made read-only with chmod -R a-w. chattr +i would also work
here but needs CAP_LINUX_IMMUTABLE and an ext* filesystem; a read-only bind
mount needs a mount namespace. user = nobody needs neither.
"""
import hashlib
import json
import os
import pwd
import re
import shutil
import subprocess
import sys
import time

TOP = os.environ.get("POSTERN_TOP") or os.path.abspath(
    os.path.join(os.path.dirname(__file__), "..", ".."))
sys.path.insert(0, os.path.join(TOP, "tests", "lib"))

from tap import test, main, check_eq  # noqa: E402
from daemon import Daemon, suite_mode  # noqa: E402
from mta import free_port, mta_of, mta_params, private_mta, stop_all  # noqa: E402
from sink import Sink  # noqa: E402
from smtp import send  # noqa: E402

S = {}
SENDER = "alice@sender.example"
NOBODY = pwd.getpwnam("nobody")


def archive_daemon(mta, name, suite=False, **config):
    base = mta.daemon_base(name)
    conf = {"archive_directory": os.path.join(base, "archive"),
            "tmp_dir": os.path.join(base, "tmp"), "body_memory_limit": "256k"}
    conf.update(config)
    os.makedirs(conf["tmp_dir"], exist_ok=True)
    return Daemon("postern-archive", base=base, socket_dir=mta.socket_dir(name), config=conf,
                  suite=suite)


def setup(kind):
    S.clear()
    mta = private_mta(kind)
    S["sink"] = Sink(os.path.join(mta.base, "sink")).start()
    mta.relay_port = S["sink"].port
    keydir = os.path.join(mta.base, "archive-key")
    os.makedirs(keydir)
    S["key"], S["cert"] = os.path.join(keydir, "key.pem"), os.path.join(keydir, "cert.pem")
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout",
                    S["key"], "-out", S["cert"], "-days", "30", "-subj", "/CN=Archive Key"],
                   check=True, capture_output=True)
    S["plain"] = archive_daemon(mta, "plain", suite_mode(kind)).start()
    S["sealed"] = archive_daemon(mta, "sealed", suite_mode(kind),
                                 encryption_certificates=S["cert"]).start()
    mta.milters = [S["plain"].spec, S["sealed"].spec]
    if mta_of(kind) == "postfix":
        ro = archive_daemon(mta, "ro", suite_mode(kind), user="nobody")
        shutil.chown(ro.config["tmp_dir"], user="nobody")
        S["ro"] = ro.start()
        S["queue_port"], S["filter_port"] = free_port(), free_port()
        mta.settings["message_size_limit"] = str(30 * 1024 * 1024)
        mta.master_extra = (
            f"127.0.0.1:{S['queue_port']} inet n - n - - smtpd\n"
            f"  -o smtpd_milters=\n"
            f"  -o content_filter=smtp:[127.0.0.1]:{S['filter_port']}\n"
            f"127.0.0.1:{S['filter_port']} inet n - n - - smtpd\n"
            f"  -o smtpd_milters={S['ro'].spec}\n"
            f"  -o content_filter=\n")
    S["mta"] = mta.start()


def teardown():
    stop_all(S.get("mta"), S.get("sink"), [S[n] for n in ("plain", "sealed", "ro") if n in S])


def crlf(text):
    data = text.encode("utf-8") if isinstance(text, str) else text
    return re.sub(rb"\r?\n", b"\r\n", data)


def head(msgid, subject, to="Bob <bob@dest.example>", extra=""):
    return (f"From: Alice <{SENDER}>\nTo: {to}\nSubject: {subject}\n"
            f"Date: Mon, 1 Jan 2024 10:00:00 +0000\nMessage-ID: <{msgid}@sender.example>\n{extra}")


def corpus():
    big_line = "QUJDREVGR0hJSktMTU5PUFFSU1RVVldYWVphYmNkZWZnaGlqa2xtbm9wcXJzdHV2d3h5ejAx\n"
    return [
        ("plain", crlf(head("plain", "Plain text") + "\nHello Bob.\n\n.a line with a dot\n"),
         ["bob@dest.example"], ()),
        ("multipart", crlf(head("multi", "Report attached",
                                extra="MIME-Version: 1.0\nContent-Type: multipart/mixed; "
                                      "boundary=\"XYZ\"\n")
                           + "\n--XYZ\nContent-Type: text/plain; charset=utf-8\n\nSee the "
                             "figures.\n--XYZ\nContent-Type: application/pdf; name=report.pdf\n"
                             "Content-Disposition: attachment; filename=\"report.pdf\"\n"
                             "Content-Transfer-Encoding: base64\n\nJVBERi0xLjQKJcfsj6IK\n"
                             "--XYZ\nContent-Type: text/csv\nContent-Disposition: attachment;"
                             " filename*=UTF-8''%E2%82%AC-Zahlen.csv\n\na,b\n1,2\n--XYZ--\n"),
         ["bob@dest.example"], ()),
        ("8bit", crlf(head("eight", "8-bit body", extra="MIME-Version: 1.0\nContent-Type: "
                           "text/plain; charset=utf-8\nContent-Transfer-Encoding: 8bit\n")
                      + "\nGrüße aus Köln, ça va? Ελληνικά 日本語\n"),
         ["bob@dest.example"], ("BODY=8BITMIME",)),
        ("encoded-words", crlf(head("ew", "=?UTF-8?B?R3LDvMOfZSBhdXMgS8O2bG4=?= und "
                                    "=?ISO-8859-1?Q?=E9t=E9?=\n =?UTF-8?Q?=E2=82=AC_100?=")
                               + "\nbody\n"),
         ["bob@dest.example"], ()),
        ("20MB", crlf(head("big", "Twenty megabytes") + "\n" + big_line * 280000),
         ["bob@dest.example"], ()),
        ("500 recipients", crlf(head("many", "To many", to="Team <team@dest.example>, "
                                     "Bob <bob@dest.example>", extra="Cc: carol@dest.example\n")
                                + "\nEveryone, including the Bcc recipients.\n"),
         [f"user{i:03d}@dest.example" for i in range(497)]
         + ["team@dest.example", "bob@dest.example", "carol@dest.example"], ()),
    ]


def tool(d, *args):
    r = subprocess.run(d.command(*args), capture_output=True, timeout=120)
    return r


def deliveries(d, msgid):
    r = tool(d, "search", "--json", "--message-id", f"<{msgid}@sender.example>")
    return [json.loads(x) for x in r.stdout.decode().splitlines()]


def object_path(d, sha):
    root = os.path.join(d.config["archive_directory"], "objects", sha[:2])
    for suffix in (".eml.zst.p7m", ".eml.zst"):
        if os.path.exists(os.path.join(root, sha + suffix)):
            return os.path.join(root, sha + suffix)
    raise AssertionError(f"no object file for {sha} in {root}")


def only_received_before(prefix):
    """The sink's bytes before the archived message: the MTA's Received only."""
    lines = prefix.split(b"\r\n")
    assert lines[-1] == b"", prefix[-200:]
    assert lines[0].startswith(b"Received: from client.postern.test "), prefix[:200]
    for line in lines[1:-1]:
        assert line[:1] in (b" ", b"\t"), f"unexpected header before the message: {line!r}"


@test
def corpus_round_trips_byte_for_byte_through_the_mta():
    mta, sink = S["mta"], S["sink"]
    seen = 0
    for name, raw, rcpts, opts in corpus():
        msgid = re.search(rb"Message-ID: <([^@]+)@", raw).group(1).decode()
        before = sink.count()
        r = send("127.0.0.1", mta.port, SENDER, rcpts, raw, mail_options=opts, timeout=120)
        assert r.ok and r.queue_id, (name, r)
        # the MTA relays in batches (Postfix: 50 recipients a transaction)
        mta.wait_for_log(mta.sent_line(r.queue_id), timeout=60)
        mta.wait_queue_empty(timeout=60)
        msgs = sink.messages()[before:]
        got_rcpts = sorted(x for m in msgs for x in m.rcpts)
        check_eq(got_rcpts, sorted(rcpts), f"{name}: recipients at the sink")
        rows = deliveries(S["plain"], msgid)
        check_eq(len(rows), 1, f"{name}: deliveries archived")
        row = rows[0]
        check_eq(row["queue_id"], r.queue_id, f"{name}: queue id")
        check_eq(row["recipients"], rcpts, f"{name}: envelope recipients, Bcc included")
        check_eq(row["sender"], SENDER, f"{name}: envelope sender")
        check_eq(row["size"], len(raw), f"{name}: size")
        g = tool(S["plain"], "get", row["id"])
        check_eq(g.returncode, 0, f"{name}: get ({g.stderr!r})")
        if g.stdout != raw:
            raise AssertionError(f"{name}: get returned {len(g.stdout)} bytes that differ from "
                                 f"the {len(raw)} sent: {g.stdout[:300]!r}")
        for m in msgs:
            assert m.data.endswith(raw), \
                f"{name}: the sink's copy is not Received + message: {m.data[:600]!r}"
            only_received_before(m.data[:-len(raw)])
        seen += 1
    check_eq(seen, 6, "messages checked")


def indexed_by_daemon(d, msgid, word, wait=30):
    """Poll index.db read-only, as no tool does (tools bring the index up to
    date when they open the archive): whether the daemon's own indexer
    applied the delivery, full text included. Bounded wait, not a timing
    assertion."""
    import sqlite3
    db = os.path.join(d.config["archive_directory"], "index.db")
    deadline = time.monotonic() + wait
    while True:
        con = sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=10)
        try:
            n = con.execute("SELECT count(*) FROM deliveries d WHERE d.message_id = ? AND d.num IN"
                            " (SELECT rowid FROM fulltext WHERE fulltext MATCH ?)",
                            (f"<{msgid}@sender.example>", word)).fetchone()[0]
        finally:
            con.close()
        if n or time.monotonic() > deadline:
            return n
        time.sleep(0.2)


@test
def daemon_indexes_what_it_journaled_by_itself():
    mta = S["mta"]
    raw = crlf(head("indexer", "Indexed off the delivery path") + "\nThe quetzal flies.\n")
    r = send("127.0.0.1", mta.port, SENDER, ["bob@dest.example"], raw, timeout=120)
    assert r.ok and r.queue_id, r
    mta.wait_for_log(mta.sent_line(r.queue_id), timeout=60)
    # the delivery's journal record is durable before the 250...
    journal = os.path.join(S["plain"].config["archive_directory"], "journal")
    text = "".join(open(os.path.join(journal, f)).read() for f in os.listdir(journal))
    assert "<indexer@sender.example>" in text, "delivery not in the journal at its 250"
    # ...and the daemon's indexer thread applies it to the index, text included
    check_eq(indexed_by_daemon(S["plain"], "indexer", "quetzal"), 1, "indexed by the daemon")


@test
def index_holds_decoded_fields_and_attachment_names():
    row = deliveries(S["plain"], "ew")[0]
    # RFC 2047: the white space between two encoded-words is not text
    check_eq(row["subject"], "Grüße aus Köln und été€ 100", "decoded subject")
    row = deliveries(S["plain"], "multi")[0]
    check_eq(row["attachments"], ["report.pdf", "€-Zahlen.csv"], "attachment names")
    r = tool(S["plain"], "search", "--attachment", "zahlen", "--text", "figures")
    check_eq(len(r.stdout.splitlines()), 1, "search by attachment and text")
    row = deliveries(S["plain"], "big")[0]
    assert row["stored_size"] < row["size"] // 4, row


@test
def encrypted_object_opens_with_openssl_and_zstd_alone():
    for msgid in ("plain", "8bit", "big"):
        rows = deliveries(S["sealed"], "eight" if msgid == "8bit" else msgid)
        check_eq(len(rows), 1, f"{msgid}: deliveries in the sealed archive")
        path = object_path(S["sealed"], rows[0]["sha256"])
        assert path.endswith(".eml.zst.p7m"), path
        with open(path, "rb") as f:
            assert b"Hello Bob" not in f.read(), "plaintext in an encrypted object"
        cms = subprocess.run(["openssl", "cms", "-cmsout", "-print", "-inform", "DER", "-in",
                              path], capture_output=True, text=True, timeout=120).stdout
        for want in ("id-smime-ct-authEnvelopedData", "aes-256-gcm", "rsaesOaep"):
            assert want in cms, f"{msgid}: {want} not in the CMS structure:\n{cms[:3000]}"
        p = subprocess.run(f"openssl cms -decrypt -inform DER -in {path} -inkey {S['key']} "
                           f"| zstd -q -d -c", shell=True, capture_output=True, timeout=120)
        check_eq(p.returncode, 0, f"openssl | zstd ({p.stderr!r})")
        plain_row = deliveries(S["plain"], "eight" if msgid == "8bit" else msgid)[0]
        plain = tool(S["plain"], "get", plain_row["id"]).stdout
        check_eq(len(p.stdout), rows[0]["size"], f"{msgid}: decrypted size")
        assert p.stdout == plain, f"{msgid}: decrypted object differs from the message"
        # the name is keyed: the message's SHA-256 (the plain archive's name) confirms nothing
        check_eq(plain_row["sha256"], hashlib.sha256(plain).hexdigest(), "plain name")
        assert rows[0]["sha256"] != plain_row["sha256"], f"{msgid}: sealed name is the SHA-256"
    g = tool(S["sealed"], "get", deliveries(S["sealed"], "plain")[0]["id"])
    check_eq(g.returncode, 69, "get without --key")
    g = tool(S["sealed"], "get", "--key", S["key"], deliveries(S["sealed"], "plain")[0]["id"])
    check_eq(g.returncode, 0, "get with --key")
    assert g.stdout.startswith(b"From: Alice"), g.stdout[:100]


@test
def sealed_archive_keeps_no_message_text_in_its_index():
    # the plain archive indexes the body text; the sealed one, by default, does not
    r = tool(S["plain"], "search", "--text", "Everyone")
    check_eq(len(r.stdout.splitlines()), 1, "plain archive: search --text")
    r = tool(S["sealed"], "search", "--text", "Everyone")
    check_eq(r.stdout, b"", "sealed archive: search --text")
    db = os.path.join(S["sealed"].config["archive_directory"], "index.db")
    p = subprocess.run(["sqlite3", "-readonly", db, ".dump"], capture_output=True, timeout=60)
    check_eq(p.returncode, 0, f"sqlite3 .dump ({p.stderr!r})")
    for text in (b"Everyone, including", b"Hello Bob", b"QUJDREVGR0hJSktMTU5PUFFS"):
        assert text not in p.stdout, f"sealed index.db holds message text {text!r}"


@test
def export_writes_mbox_maildir_and_eml_files():
    base = os.path.join(S["mta"].base, "export")
    mbox = os.path.join(base, "all.mbox")
    os.makedirs(base)
    r = tool(S["plain"], "export", "--until", "2100-01-01", "--larger", "0",
             "--subject", "plain text", "--mbox", mbox)
    check_eq(r.returncode, 0, f"export mbox ({r.stderr!r})")
    with open(mbox, "rb") as f:
        data = f.read()
    assert data.startswith(b"From alice@sender.example "), data[:80]
    assert b"\r\n" not in data and b"\n>.a line" not in data and b"\n.a line with" in data, data
    r = tool(S["plain"], "export", "--message-id", "<multi@sender.example>", "--maildir",
             os.path.join(base, "Maildir"))
    check_eq(r.returncode, 0, f"export maildir ({r.stderr!r})")
    check_eq(len(os.listdir(os.path.join(base, "Maildir", "new"))), 1, "maildir messages")
    r = tool(S["plain"], "export", "--text", "Bcc", "--eml-dir", os.path.join(base, "eml"))
    check_eq(r.returncode, 0, f"export eml ({r.stderr!r})")
    with open(os.path.join(base, "eml", "deliveries.jsonl")) as f:
        rows = [json.loads(x) for x in f]
    check_eq(len(rows[0]["recipients"]), 500, "recipients in the delivery list")
    with open(os.path.join(base, "eml", rows[0]["file"]), "rb") as f:
        assert f.read() == tool(S["plain"], "get", rows[0]["id"]).stdout


def queue_entries(pf):
    """Postfix's queue (postqueue -j), one dict per message."""
    out = pf.postqueue("-j").stdout
    return [json.loads(x) for x in out.splitlines() if x.strip()]


@test(only="postfix")
def read_only_archive_keeps_mail_in_postfix_queue_until_writable():
    pf, sink, ro = S["mta"], S["sink"], S["ro"]
    archive = ro.config["archive_directory"]
    raw = crlf(head("ro-first", "before") + "\nfirst\n")
    before = sink.count()
    assert send("127.0.0.1", S["queue_port"], SENDER, ["bob@dest.example"], raw).ok
    sink.wait_for(before + 1, timeout=30)
    check_eq(len(deliveries(ro, "ro-first")), 1, "archived while writable")
    st = os.stat(archive)
    check_eq((st.st_uid, st.st_gid), (NOBODY.pw_uid, NOBODY.pw_gid), "archive owner")
    subprocess.run(["chmod", "-R", "a-w", archive], check=True)
    try:
        raw = crlf(head("ro-held", "while read-only") + "\nsecond\n")
        mark = pf.log_offset()
        before = sink.count()
        r = send("127.0.0.1", S["queue_port"], SENDER, ["bob@dest.example"], raw)
        assert r.ok, r
        m = pf.wait_for_log(rf"relay=127\.0\.0\.1\[127\.0\.0\.1\]:{S['filter_port']}, .*"
                            r"status=deferred \(host 127\.0\.0\.1\[127\.0\.0\.1\] said: "
                            r"451 4\.3\.0 Mail archive unavailable", since=mark, timeout=30)
        assert m
        ro.wait_for_log("archive: cannot archive (answering tempfail)")
        entries = queue_entries(pf)
        check_eq(len(entries), 1, "messages in Postfix's queue")
        check_eq(entries[0]["queue_name"], "deferred", "queue")
        assert "451 4.3.0" in entries[0]["recipients"][0]["delay_reason"], entries
        time.sleep(0.5)
        check_eq(sink.count(), before, "messages at the sink while read-only")
    finally:
        subprocess.run(["chmod", "-R", "u+w", archive], check=True)
    pf.postqueue("-f")
    sink.wait_for(before + 1, timeout=60)
    check_eq(len(deliveries(ro, "ro-held")), 1, "archived exactly once")
    check_eq(queue_entries(pf), [], "Postfix's queue after the flush")
    # files root's tools created are the daemon's: it can still write
    raw = crlf(head("ro-after", "after tools ran as root") + "\nthird\n")
    before = sink.count()
    assert send("127.0.0.1", S["queue_port"], SENDER, ["bob@dest.example"], raw).ok
    sink.wait_for(before + 1, timeout=30)
    check_eq(len(deliveries(ro, "ro-after")), 1, "archived after root's tools ran")


@test
def every_archive_verifies_clean():
    for name in ("plain", "sealed", "ro"):
        if name not in S:
            continue
        r = tool(S[name], "verify")
        check_eq(r.returncode, 0, f"{name}: verify {r.stdout!r}{r.stderr!r}")
    r = tool(S["sealed"], "verify", "--key", S["key"])
    check_eq(r.returncode, 0, f"sealed with key: {r.stdout!r}")
    assert b"not checked" not in r.stdout, r.stdout


if __name__ == "__main__":
    main(setup, teardown, params=mta_params())
