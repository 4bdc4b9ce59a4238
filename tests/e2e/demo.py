#!/usr/bin/env python3
# SPDX-License-Identifier: BSD-2-Clause
"""demo - all four Postern daemons in front of a private Postfix, in about a minute.

Starts a private Postfix on 127.0.0.1 (its own configuration, queue and log
under a temp directory; the system's Postfix is not touched) with, in
smtpd_milters order, postern-tls, postern-sort, postern-archive and
postern-audit, each with its own configuration in the same temp directory,
TLS certificates made by openssl and a small GeoIP database written with
libmaxmind-db-writer-perl. It sends a scripted set of messages, prints what
happened (SMTP replies, where each message went, the sorting actions, the
archive search listing, the audit export, and the archive and audit verify
results), then stops everything and removes the temp directory.

Usage: python3 tests/e2e/demo.py [BUILD_DIR]   (make demo does this)
"""
import json
from email.header import decode_header, make_header
import os
import signal
import subprocess
import sys
import time

TOP = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
if len(sys.argv) > 1:
    os.environ["POSTERN_BUILD"] = os.path.abspath(sys.argv[1])
os.environ.setdefault("POSTERN_TOP", TOP)
sys.path.insert(0, os.path.join(TOP, "tests", "lib"))

from daemon import binary  # noqa: E402
from stack import POLICY, SIEVE, Stack  # noqa: E402
from smtp import build_message, send  # noqa: E402

ATTACHMENT = (
    b"Content-Type: multipart/mixed; boundary=\"b1\"\r\n\r\n"
    b"--b1\r\nContent-Type: text/plain; charset=utf-8\r\n\r\nThe report is attached.\r\n"
    b"--b1\r\nContent-Type: application/pdf\r\n"
    b"Content-Disposition: attachment; filename*=utf-8''Q3-r%C3%A9sum%C3%A9.pdf\r\n"
    b"Content-Transfer-Encoding: base64\r\n\r\nJVBERi0xLjQKJcOkw7zDtsOfCjEgMCBvYmoKPDw+PgplbmRvYmoK\r\n"
    b"--b1--\r\n")


def title(text):
    print(f"\n=== {text}")


def run(cmd):
    r = subprocess.run(cmd, capture_output=True, text=True, timeout=60)
    return r.returncode, (r.stdout + r.stderr).rstrip()


def main():
    # SIGTERM/SIGHUP end the demo through the same clean-up as Ctrl-C
    for sig in (signal.SIGTERM, signal.SIGHUP):
        signal.signal(sig, lambda *_: sys.exit(1))
    st = Stack()
    try:
        title("Starting the four daemons and a private Postfix on 127.0.0.1")
        st.start()
        for name, d in st.daemons.items():
            print(f"  {d.name:16} {d.spec}")
        pf, sink, pki = st.pf, st.sink, st.pf.pki
        daemons = [st.daemons[n] for n in ("tls", "sort", "archive", "audit")]
        trail, key = st.trail, st.key
        print(f"  Postfix smtpd on 127.0.0.1:{pf.port}, relaying to a sink on port {sink.port}")
        print("  TLS policy:   " + POLICY.strip().splitlines()[-1])
        print("  Sieve script: " + SIEVE.strip().replace("\n", "\n                "))

        tls = dict(starttls=True, client_cert=pki.client_cert, client_key=pki.client_key,
                   cafile=pki.ca_cert)
        cases = [
            ("partner over TLS", "alice@partner.example", ["bob@shop.example"],
             "Delivery schedule", None, tls),
            ("partner in plain text", "alice@partner.example", ["bob@shop.example"],
             "Delivery schedule (plain)", None, {}),
            ("an invoice", "billing@supplier.example", ["bob@shop.example"],
             "Invoice 2026-117", None, {}),
            ("mail for sales", "carol@customer.example", ["sales@shop.example"],
             "Quote request", None, {}),
            ("spam", "promo@spam.example", ["bob@shop.example"], "Cheap pills", None, {}),
            ("an attachment", "dave@customer.example", ["bob@shop.example"],
             "=?utf-8?q?R=C3=A9sum=C3=A9_Q3?=", ATTACHMENT, {}),
        ]
        title("Sending mail")
        accepted = 0
        for what, sender, rcpts, subject, raw_body, kw in cases:
            msg = build_message(sender, rcpts, subject=subject, body="Hello from the demo.\n")
            if raw_body:
                head = msg.split(b"\r\n\r\n", 1)[0] if isinstance(msg, bytes) else \
                    msg.split("\n\n", 1)[0].replace("\n", "\r\n").encode()
                head = b"\r\n".join(h for h in head.split(b"\r\n")
                                    if not h.lower().startswith(b"content-"))
                msg = head + b"\r\nMIME-Version: 1.0\r\n" + raw_body
            r = send("127.0.0.1", pf.port, sender, rcpts, msg, **kw)
            accepted += r.ok
            where = "accepted" if r.ok else f"refused at {r.stage.upper()}"
            print(f"  {what:22} {sender} -> {', '.join(rcpts)}{' (TLS)' if r.tls else ''}")
            print(f"  {'':22} {r.code} {r.text}  [{where}]")

        sink.wait_for(accepted, timeout=30)
        time.sleep(0.5)
        title(f"Where each message went (the relay sink received {sink.count()})")
        for m in sink.messages():
            subj = str(make_header(decode_header(m.headers("Subject")[0]))) \
                if m.headers("Subject") else ""
            subj = " ".join(subj.split())
            print(f"  \"{subj}\" from {m.sender} to {', '.join(m.rcpts)}")
            for name in ("X-Postern-TLS", "X-Sorted-By", "X-Postern-Redirected"):
                for v in m.headers(name):
                    print(f"      {name}: " + " ".join(v.split()))

        title("Sorting actions (postern-sort log, lines start with the queue id)")
        sort = daemons[1]
        for line in sort.log().splitlines():
            if "serving on" in line or "running as root" in line:
                continue
            print("  " + line.split(": ", 1)[-1])
        for line in daemons[0].log().splitlines():
            if "5.7.10" in line or "reject" in line:
                print("  postern-tls: " + line.split(": ", 1)[-1])

        title("postern-archive search")
        rc, out = run([binary("postern-archive"), "-c", daemons[2].conf, "search"])
        print("  " + out.replace("\n", "\n  "))

        title("postern-audit export --format json (the attachment message)")
        rc, out = run([binary("postern-audit"), "-c", daemons[3].conf, "export",
                       "--format", "jsonl", trail])
        records = [json.loads(line) for line in out.splitlines() if line.startswith("{")]
        print(f"  {len(records)} records: " +
              ", ".join(f"{r.get('event')}" for r in records))
        att = [r for r in records if r.get("attachments")]
        if att:
            print("  " + json.dumps(att[-1], indent=2, ensure_ascii=False).replace("\n", "\n  "))

        title("Verification")
        rc, out = run([binary("postern-audit"), "-c", daemons[3].conf, "verify",
                       "--key", key + ".initial", trail])
        print(f"  postern-audit verify: exit {rc}: {out}")
        rc, out = run([binary("postern-archive"), "-c", daemons[2].conf, "verify"])
        print(f"  postern-archive verify: exit {rc}: {out}")
    finally:
        try:
            title("Stopping")
        except BrokenPipeError:		# output piped into head: still clean up
            sys.stdout = open(os.devnull, "w")
        st.stop()
        print("  done: no process left, temp directory removed")


if __name__ == "__main__":
    main()
