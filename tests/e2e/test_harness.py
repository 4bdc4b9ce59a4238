# SPDX-License-Identifier: BSD-2-Clause
"""test_harness - proves the e2e test harness itself, without any Postern
milter: test PKI, private Postfix, the Python sink, the SMTP helpers and the
offline parts of the milter client."""
import os
import re
import socket
import subprocess
import sys
import time

TOP = os.environ.get("POSTERN_TOP") or os.path.abspath(
    os.path.join(os.path.dirname(__file__), "..", ".."))
sys.path.insert(0, os.path.join(TOP, "tests", "lib"))

from tap import test, main, check_eq  # noqa: E402
import certs  # noqa: E402
import milter_client as mc  # noqa: E402
from postfix import PrivatePostfix, make_socket_dir  # noqa: E402
from sink import Sink  # noqa: E402
from smtp import build_message, send, port_open  # noqa: E402

S = {}   # fixtures: pf, sink, pki, tmp
SENDER = "alice@sender.example"


def setup():
    pf = PrivatePostfix()
    S["pki"] = pf.pki
    S["sink"] = Sink(os.path.join(pf.base, "sink")).start()
    pf.relay_port = S["sink"].port
    S["pf"] = pf.start()


def teardown():
    if "pf" in S:
        S["pf"].stop()
        S["pf"].cleanup()
    if "sink" in S:
        S["sink"].stop()


def deliver(rcpt, **kw):
    """Send one message to rcpt through Postfix, wait for it at the sink."""
    pf, sink = S["pf"], S["sink"]
    before = sink.count()
    msg = build_message(SENDER, [rcpt], subject=f"to {rcpt}",
                        body=kw.pop("body", "Hello.\n"))
    r = send("127.0.0.1", pf.port, SENDER, [rcpt], msg, **kw)
    assert r.ok, r
    got = [m for m in sink.wait_for(before + 1, timeout=15)
           if rcpt in m.rcpts]
    assert len(got) == 1, got
    return r, msg, got[0]


@test
def pki_is_consistent():
    pki = S["pki"]
    for cert in (pki.server_cert, pki.client_cert):
        r = subprocess.run(["openssl", "verify", "-CAfile", pki.ca_cert,
                            cert], capture_output=True, text=True)
        check_eq(r.returncode, 0, f"verify {cert}: {r.stdout}{r.stderr}")
    r = subprocess.run(["openssl", "verify", "-CAfile", pki.ca_cert,
                        pki.rogue_cert], capture_output=True, text=True)
    assert r.returncode != 0, "rogue cert must not verify against test CA"
    r = subprocess.run(["openssl", "x509", "-in", pki.server_cert, "-noout",
                        "-ext", "subjectAltName"], capture_output=True,
                       text=True)
    for name in ("DNS:mx.postern.test", "DNS:localhost",
                 "IP Address:127.0.0.1"):
        assert name in r.stdout, r.stdout


@test
def plain_smtp_reaches_sink_with_received_header():
    rcpt = "bob@plain.example"
    r, msg, m = deliver(rcpt)
    assert r.queue_id and not r.tls, r
    check_eq(m.sender, SENDER, "envelope sender")
    check_eq(m.rcpts, [rcpt], "envelope recipients")
    received = m.headers("Received")
    check_eq(len(received), 1, "Received headers")
    assert re.search(r"by mx\.postern\.test \(Postfix\) with ESMTP id "
                     + re.escape(r.queue_id), received[0]), received[0]
    # everything after Postfix's Received header arrives byte for byte
    assert m.data.endswith(msg), (m.data, msg)
    check_eq(m.msg["Subject"], f"to {rcpt}", "Subject")


@test
def starttls_with_client_cert_shows_esmtps_and_verified_cn():
    pki, pf = S["pki"], S["pf"]
    mark = pf.log_offset()
    rcpt = "carol@tls.example"
    r, _, m = deliver(rcpt, starttls=True, client_cert=pki.client_cert,
                      client_key=pki.client_key, cafile=pki.ca_cert)
    assert r.tls, r
    received = m.headers("Received")[0]
    assert "with ESMTPS id " + r.queue_id in received, received
    assert 'Client CN "client.partner.test"' in received, received
    assert "(verified OK)" in received, received
    pf.wait_for_log(r"smtpd\[\d+\]: Trusted TLS connection established "
                    r"from \S+\[127\.0\.0\.1\]", since=mark)


@test
def untrusted_client_cert_is_not_verified():
    pki, pf = S["pki"], S["pf"]
    mark = pf.log_offset()
    r, _, m = deliver("dave@rogue.example", starttls=True,
                      client_cert=pki.rogue_cert, client_key=pki.rogue_key)
    received = m.headers("Received")[0]
    assert "with ESMTPS" in received, received
    assert "verified OK" not in received, received
    pf.wait_for_log(r"Untrusted TLS connection established", since=mark)


@test
def dot_stuffing_survives_and_long_lines_are_folded():
    long_line = "x" * 1500
    body = (".leading dot\n..two dots\n.\n" + "y" * 998 + "\n"
            + "line\n" * 20000 + long_line + "\nend\n")
    r, msg, m = deliver("erin@dots.example", body=body)
    # Postfix's smtp client (smtp_line_length_limit = 998) folds longer
    # lines on delivery by inserting CRLF SPACE; all else arrives as sent
    tail = (long_line + "\r\nend\r\n").encode()
    folded = (long_line[:998] + "\r\n " + long_line[998:]
              + "\r\nend\r\n").encode()
    assert msg.endswith(tail)
    want = msg[:-len(tail)] + folded
    if not m.data.endswith(want):
        raise AssertionError(f"message changed on the way: "
                             f"{len(m.data)} bytes, want ...{len(want)}")


@test
def smtp_send_reports_rcpt_and_data_rejects():
    # straight to the sink, which refuses some recipients
    with Sink(reject_rcpts={"no@x.example"},
              data_reply="554 5.6.0 refused by test") as s:
        msg = build_message()
        r = send("127.0.0.1", s.port, SENDER, ["no@x.example"], msg)
        check_eq((r.stage, r.code), ("rcpt", 550), f"all rejected: {r}")
        r = send("127.0.0.1", s.port, SENDER, ["no@x.example",
                                                "yes@x.example"], msg)
        check_eq((r.stage, r.code, r.accepted),
                 ("dot", 554, ["yes@x.example"]), f"data reject: {r}")
        assert not r.ok
        check_eq(s.count(), 0, "messages stored")


@test
def unreachable_milter_tempfails_then_default_accept_delivers():
    pf = S["pf"]
    sockdir = pf.socket_dir("nothing")
    pf.configure(milters=[f"unix:{sockdir}/absent.sock"])
    try:
        msg = build_message(SENDER, ["frank@milter.example"])
        r = None
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            r = send("127.0.0.1", pf.port, SENDER, ["frank@milter.example"],
                     msg)
            if not r.ok:
                break
            time.sleep(0.2)     # an smtpd of the old generation answered
        assert r is not None and r.code is not None and \
            400 <= r.code < 500, r
        pf.wait_for_log(r"absent\.sock.*(No such file|connect)", timeout=5)
        pf.configure(settings={"milter_default_action": "accept"})
        deliver("grace@milter.example")
    finally:
        pf.settings.pop("milter_default_action", None)
        pf.configure(milters=[])


@test
def deferred_mail_stays_queued_and_flush_delivers():
    pf, sink = S["pf"], S["sink"]
    # a recipient the sink tempfails stays in the deferred queue
    sink.tempfail_rcpts.add("later@defer.example")
    msg = build_message(SENDER, ["later@defer.example"])
    r = send("127.0.0.1", pf.port, SENDER, ["later@defer.example"], msg)
    assert r.ok, r
    q = pf.wait_for_queue(lambda q: any(
        m["queue_id"] == r.queue_id and m["queue_name"] == "deferred"
        for m in q), timeout=15)
    entry = [m for m in q if m["queue_id"] == r.queue_id][0]
    check_eq(entry["sender"], SENDER, "queued sender")
    reason = entry["recipients"][0].get("delay_reason", "")
    assert "450 4.2.0" in reason, entry
    assert r.queue_id in pf.queue_ids("deferred")

    # a stopped sink: connection refused, deferred too
    port = sink.port
    sink.stop()
    assert not port_open("127.0.0.1", port)
    r2 = send("127.0.0.1", pf.port, SENDER, ["henry@down.example"],
              build_message(SENDER, ["henry@down.example"]))
    assert r2.ok, r2
    q = pf.wait_for_queue(lambda q: r2.queue_id in
                          [m["queue_id"] for m in q
                           if m["queue_name"] == "deferred"], timeout=15)
    entry = [m for m in q if m["queue_id"] == r2.queue_id][0]
    assert "refused" in entry["recipients"][0]["delay_reason"].lower(), entry

    # sink back on the same port and no more tempfails: flush empties it
    sink.tempfail_rcpts.clear()
    sink.start()
    check_eq(sink.port, port, "sink port after restart")
    pf.flush()
    pf.wait_queue_empty(timeout=20)
    rcpts = [r for m in sink.messages() for r in m.rcpts]
    assert "later@defer.example" in rcpts and "henry@down.example" in rcpts


@test
def milter_client_offline_parts():
    check_eq(mc.parse_spec("unix:/a/b.sock"), (socket.AF_UNIX, "/a/b.sock"),
             "unix spec")
    check_eq(mc.parse_spec("inet:8891@127.0.0.1"),
             (socket.AF_INET, ("127.0.0.1", 8891)), "libmilter inet spec")
    check_eq(mc.parse_spec("inet:127.0.0.1:8891"),
             (socket.AF_INET, ("127.0.0.1", 8891)), "postfix inet spec")
    check_eq(mc.parse_spec("inet6:8891@[::1]"),
             (socket.AF_INET6, ("::1", 8891)), "inet6 spec")
    # constants agree with the installed libmilter headers
    hdr = ""
    for h in ("/usr/include/libmilter/mfdef.h",
              "/usr/include/libmilter/mfapi.h"):
        if os.path.exists(h):
            with open(h) as f:
                hdr += f.read()
    checked = 0
    for name, value in re.findall(
            r"#\s*define\s+(SMF[ICRPFIAM]{1,2}_\w+)\s+('.'|0x[0-9A-Fa-f]+L?"
            r"|\d+)", hdr):
        if not hasattr(mc, name):
            continue
        want = getattr(mc, name)
        if value.startswith("'"):
            got = value[1].encode() if isinstance(want, bytes) else value[1]
        else:
            got = int(value.rstrip("L"), 0)
        check_eq(want, got, name)
        checked += 1
    assert not hdr or checked > 60, f"only {checked} constants checked"
    headers, body = mc.split_message(
        b"Subject:  two spaces\r\nX-F: a\r\n\tb\r\nEmpty:\r\n\r\nbody\n")
    check_eq(headers, [("Subject", " two spaces"), ("X-F", "a\n\tb"),
                       ("Empty", "")], "headers")
    check_eq(body, b"body\r\n", "body")
    # nothing listens: a clear error quickly, not a hang
    d = make_socket_dir(os.path.join(S["pf"].base, "sockets", "none"))
    t = time.monotonic()
    for spec in (f"unix:{d}/nobody.sock", "inet:1@127.0.0.1"):
        try:
            mc.MilterClient(spec, timeout=2).negotiate()
            raise AssertionError(f"{spec}: connected to nothing")
        except (FileNotFoundError, ConnectionRefusedError):
            pass
    assert time.monotonic() - t < 2


@test
def stop_leaves_no_process_behind():
    pf, sink = S["pf"], S["sink"]
    master = pf.master_pid
    assert master and pf.processes(), "instance not running"
    with open(os.path.join(pf.queue_dir, "pid", "master.pid")) as f:
        check_eq(int(f.read().strip()), master, "master.pid")
    pids = pf.processes()
    pf.stop()
    sink.stop()
    check_eq(pf.processes(), [], "processes left in the master's session")
    for pid in pids:
        assert not os.path.exists(f"/proc/{pid}") or \
            open(f"/proc/{pid}/stat").read().split(") ")[1][0] == "Z", \
            f"pid {pid} still there"
    # zombies (state Z) are dead; PID 1 here reaps orphans lazily
    ps = subprocess.run(["ps", "-eo", "pid=,sess=,stat=,args="],
                        capture_output=True, text=True).stdout
    left = [line for line in ps.splitlines()
            if line.split()[1] == str(master) and
            not line.split()[2].startswith("Z")]
    check_eq(left, [], "ps: processes in the old master session")
    r = pf.postfix("status", check=False)
    assert r.returncode != 0, "postfix status says running"
    assert not port_open("127.0.0.1", pf.port), "smtpd port still open"
    assert not port_open("127.0.0.1", sink.port), "sink port still open"


if __name__ == "__main__":
    main(setup, teardown)
