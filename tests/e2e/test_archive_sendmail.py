#!/usr/bin/env python3
"""End-to-end: postern-archive attached to a private Sendmail on 127.0.0.1
(tests/lib/sendmail.py with the macro lists of
packaging/sendmail/postern.mc-snippet). The round trip of
test_archive_postfix.py: every message of a corpus (plain, multipart with
attachments, 8-bit, encoded-word subjects, 300 recipients with Bcc) must
come back from `get` byte for byte as the client sent it, with the whole
envelope and Sendmail's queue id, and the sink must receive exactly
Sendmail's Received header followed by those bytes (Sendmail, like
Postfix, does not show milters its own Received header). The archive then
verifies clean."""
import json
import os
import re
import subprocess
import sys

TOP = os.environ.get("POSTERN_TOP") or os.path.abspath(
    os.path.join(os.path.dirname(__file__), "..", ".."))
sys.path.insert(0, os.path.join(TOP, "tests", "lib"))

from tap import test, main, check_eq  # noqa: E402
from daemon import Daemon  # noqa: E402
from sendmail import PrivateSendmail, queue_id_of  # noqa: E402
from sink import Sink  # noqa: E402
from smtp import send  # noqa: E402

S = {}
SENDER = "alice@sender.example"


def setup():
    sm = PrivateSendmail(milter_flags="T")
    S["sink"] = Sink(os.path.join(sm.base, "sink")).start()
    sm.relay_port = S["sink"].port
    base = os.path.join(sm.base, "archive")
    os.makedirs(os.path.join(base, "tmp"))
    os.chmod(base, 0o755)
    d = Daemon("postern-archive", base=base, socket_dir=sm.socket_dir("archive"), config={
        "archive_directory": os.path.join(base, "archive"),
        "tmp_dir": os.path.join(base, "tmp"), "body_memory_limit": "256k"})
    S["d"] = d.start()
    sm.milters = [d.spec]
    S["sm"] = sm.start()


def teardown():
    try:
        if "sm" in S:
            S["sm"].stop()
            if S["sm"].processes():
                raise AssertionError(f"sendmail left {S['sm'].processes()}")
            S["sm"].cleanup()
    finally:
        if "sink" in S:
            S["sink"].stop()
        if "d" in S:
            S["d"].stop()


def crlf(text):
    data = text.encode("utf-8") if isinstance(text, str) else text
    return re.sub(rb"\r?\n", b"\r\n", data)


def head(msgid, subject, to="Bob <bob@dest.example>", extra=""):
    return (f"From: Alice <{SENDER}>\nTo: {to}\nSubject: {subject}\n"
            f"Date: Mon, 1 Jan 2024 10:00:00 +0000\nMessage-ID: <{msgid}@sender.example>\n{extra}")


def corpus():
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
                             "--XYZ--\n"),
         ["bob@dest.example"], ()),
        ("8bit", crlf(head("eight", "8-bit body", extra="MIME-Version: 1.0\nContent-Type: "
                           "text/plain; charset=utf-8\nContent-Transfer-Encoding: 8bit\n")
                      + "\nGrüße aus Köln, ça va? Ελληνικά 日本語\n"),
         ["bob@dest.example"], ("BODY=8BITMIME",)),
        ("encoded-words", crlf(head("ew", "=?UTF-8?B?R3LDvMOfZSBhdXMgS8O2bG4=?= und "
                                    "=?ISO-8859-1?Q?=E9t=E9?=\n =?UTF-8?Q?=E2=82=AC_100?=")
                               + "\nbody\n"),
         ["bob@dest.example"], ()),
        ("300 recipients", crlf(head("many", "To many", to="Team <team@dest.example>, "
                                     "Bob <bob@dest.example>", extra="Cc: carol@dest.example\n")
                                + "\nEveryone, including the Bcc recipients.\n"),
         [f"user{i:03d}@dest.example" for i in range(297)]
         + ["team@dest.example", "bob@dest.example", "carol@dest.example"], ()),
    ]


def tool(*args):
    return subprocess.run(S["d"].command(*args), capture_output=True, timeout=120)


def deliveries(msgid):
    r = tool("search", "--json", "--message-id", f"<{msgid}@sender.example>")
    return [json.loads(x) for x in r.stdout.decode().splitlines()]


def only_received_before(prefix):
    """The sink's bytes before the archived message: Sendmail's Received only."""
    lines = prefix.split(b"\r\n")
    assert lines[-1] == b"", prefix[-200:]
    assert lines[0].startswith(b"Received: from client.postern.test "), prefix[:200]
    for line in lines[1:-1]:
        assert line[:1] in (b" ", b"\t"), f"unexpected header before the message: {line!r}"


@test
def corpus_round_trips_byte_for_byte_through_sendmail():
    sm, sink = S["sm"], S["sink"]
    seen = 0
    for name, raw, rcpts, opts in corpus():
        msgid = re.search(rb"Message-ID: <([^@]+)@", raw).group(1).decode()
        before = sink.count()
        r = send("127.0.0.1", sm.port, SENDER, rcpts, raw, mail_options=opts, timeout=120)
        assert r.ok, (name, r)
        qid = queue_id_of(r)
        sm.wait_for_log(rf"{qid}: to=.*stat=Sent", timeout=60)
        sm.wait_queue_empty(timeout=60)
        msgs = [m for m in sink.messages()[before:]]
        got_rcpts = sorted(x for m in msgs for x in m.rcpts)
        check_eq(got_rcpts, sorted(rcpts), f"{name}: recipients at the sink")
        rows = deliveries(msgid)
        check_eq(len(rows), 1, f"{name}: deliveries archived")
        row = rows[0]
        check_eq(row["queue_id"], qid, f"{name}: queue id (Sendmail's)")
        check_eq(row["recipients"], rcpts, f"{name}: envelope recipients, Bcc included")
        check_eq(row["sender"], SENDER, f"{name}: envelope sender")
        check_eq(row["size"], len(raw), f"{name}: size")
        g = tool("get", row["id"])
        check_eq(g.returncode, 0, f"{name}: get ({g.stderr!r})")
        if g.stdout != raw:
            raise AssertionError(f"{name}: get returned {len(g.stdout)} bytes that differ from "
                                 f"the {len(raw)} sent: {g.stdout[:300]!r}")
        for m in msgs:
            assert m.data.endswith(raw), \
                f"{name}: the sink's copy is not Received + message: {m.data[:600]!r}"
            only_received_before(m.data[:-len(raw)])
        seen += 1
    check_eq(seen, 5, "messages checked")


@test
def index_holds_decoded_fields_and_attachment_names():
    row = deliveries("ew")[0]
    check_eq(row["subject"], "Grüße aus Köln und été€ 100", "decoded subject")
    row = deliveries("multi")[0]
    check_eq(row["attachments"], ["report.pdf"], "attachment names")


@test
def archive_verifies_clean():
    r = tool("verify")
    check_eq(r.returncode, 0, f"verify {r.stdout!r}{r.stderr!r}")


if __name__ == "__main__":
    main(setup, teardown)
