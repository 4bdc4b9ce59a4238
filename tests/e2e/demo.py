#!/usr/bin/env python3
"""demo - Postern in action on this machine, in under a minute.

Starts a private Postfix on 127.0.0.1 (its own config, queue and logs under
a temp directory; the system's Postfix is not touched), attaches the Postern
daemons that exist so far, sends sample mail in plain text and over STARTTLS
with a client certificate, shows the SMTP replies and what arrived at the
relay sink, then stops everything and removes the temp directory.

Usage: python3 tests/e2e/demo.py [BUILD_DIR]   (make demo does this)
"""
import os
import shutil
import sys

TOP = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
if len(sys.argv) > 1:
    os.environ["POSTERN_BUILD"] = os.path.abspath(sys.argv[1])
os.environ.setdefault("POSTERN_TOP", TOP)
sys.path.insert(0, os.path.join(TOP, "tests", "lib"))

from daemon import Daemon  # noqa: E402
from postfix import PrivatePostfix  # noqa: E402
from sink import Sink  # noqa: E402
from smtp import build_message, send  # noqa: E402


def title(text):
    print(f"\n=== {text}")


def show_reply(what, r):
    where = "accepted" if r.ok else f"refused at {r.stage}"
    print(f"  {what}: {r.code} {r.text}  [{where}{', TLS' if r.tls else ''}]")
    for rcpt, code, text in r.rcpt_replies:
        if code >= 400:
            print(f"    RCPT {rcpt}: {code} {text}")


def main():
    pf = PrivatePostfix()
    sink = Sink(os.path.join(pf.base, "sink")).start()
    pf.relay_port = sink.port
    testd = Daemon("postern-testd", base=os.path.join(pf.base, "postern"),
                   config={"reject_recipient": "blocked@partner.example"})
    os.chmod(testd.base, 0o755)
    try:
        title("Starting postern-testd and a private Postfix on 127.0.0.1")
        testd.start()
        pf.milters = [testd.spec]
        pf.start()
        print(f"  Postfix smtpd on 127.0.0.1:{pf.port}, relaying to a sink on port {sink.port}")
        print(f"  smtpd_milters = {testd.spec}")

        pki = pf.pki
        sender = "alice@example.com"
        cases = [
            ("plain SMTP", ["bob@partner.example"], {}),
            ("STARTTLS + client certificate", ["carol@partner.example"],
             dict(starttls=True, client_cert=pki.client_cert, client_key=pki.client_key,
                  cafile=pki.ca_cert)),
            ("refused recipient", ["blocked@partner.example"], {}),
        ]
        title("Sending mail")
        for what, rcpts, kw in cases:
            msg = build_message(sender, rcpts, subject=f"Postern demo: {what}",
                                body=f"This message was sent with {what}.\n")
            show_reply(what, send("127.0.0.1", pf.port, sender, rcpts, msg, **kw))

        sink.wait_for(2, timeout=20)
        title(f"Arrived at the sink ({sink.count()} messages)")
        for m in sink.messages():
            print(f"  from {m.sender} to {', '.join(m.rcpts)}")
            for name in ("Received", "X-Postern-Test"):
                for v in m.headers(name):
                    print(f"    {name}: " + " ".join(v.split()))

        title("postern-testd log (lines start with the Postfix queue id)")
        for line in testd.log().splitlines():
            print("  " + line)
    finally:
        title("Stopping")
        pf.stop()
        sink.stop()
        testd.stop()
        pf.cleanup()
        shutil.rmtree(pf.base, ignore_errors=True)
        print("  done: no process left, temp directory removed")


if __name__ == "__main__":
    main()
