#!/usr/bin/env python3
# SPDX-License-Identifier: BSD-2-Clause
"""postern-sort asks the MTA for the message body only when a script tests
the body or the size: connections of a snapshot whose scripts do neither
negotiate SMFIP_NOBODY, so no body crosses the socket. A per-recipient
script that appears later and tests the body cannot be answered correctly
on such a connection: that message is tempfailed (the client retries), the
daemon reloads, and the next connection asks for the body."""
import os
import shutil
import sys
import tempfile

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "lib"))
from tap import test, main, check_eq  # noqa: E402
import milter_client as mc  # noqa: E402
from daemon import Daemon  # noqa: E402

BASE = tempfile.mkdtemp(prefix="postern-sort-body-")
os.chmod(BASE, 0o755)
SIEVE = os.path.join(BASE, "sieve")
GLOBAL = os.path.join(SIEVE, "global.sieve")

D = Daemon("postern-sort", base=BASE, config={
    "script": GLOBAL,
    "user_scripts": os.path.join(SIEVE, "%d", "%u.sieve"),
    "tmp_dir": BASE,
})

MSG = (b"From: alice@example.com\r\nTo: bob@example.org\r\nSubject: hello\r\n\r\n"
       b"the secret word is pineapple\r\n")


def write(path, text):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path + ".tmp", "w") as f:
        f.write(text)
    os.rename(path + ".tmp", path)


def negotiated():
    c = mc.MilterClient(D.spec)
    n = c.negotiate()
    c.quit()
    return n.protocol


def deliver(rcpt):
    c = mc.MilterClient(D.spec)
    c.negotiate()
    c.connect("client.example", mc.SMFIA_INET, 40000, "192.0.2.10")
    t = c.transaction("<alice@example.com>", [rcpt], MSG, queue_id="4BoDy1")
    c.quit()
    return t


def setup():
    write(GLOBAL, 'require "fileinto";\nif header :contains "subject" "report" '
                  '{ fileinto "Reports"; }\n')
    D.start()


def teardown():
    try:
        D.stop()
    finally:
        shutil.rmtree(BASE, ignore_errors=True)


@test
def header_only_scripts_do_not_ask_for_the_body():
    p = negotiated()
    assert p & mc.SMFIP_NOBODY, f"SMFIP_NOBODY not negotiated: 0x{p:x}"
    assert not p & mc.SMFIP_NOHDRS, f"headers not asked for: 0x{p:x}"
    t = deliver("<bob@example.org>")
    check_eq((t.stage, t.reply.action), ("eom", "continue"), "delivery")


@test
def new_body_script_tempfails_once_then_gets_the_body():
    write(os.path.join(SIEVE, "example.org", "carol.sieve"),
          'require ["body", "fileinto"];\nif body :contains "pineapple" { fileinto "Fruit"; }\n')
    t = deliver("<carol@example.org>")
    check_eq(t.reply.action, "replycode", "first attempt")
    assert t.reply.text.startswith("451 4.3.0"), t.reply.text
    D.wait_for_log("tests the body or size, which this connection did not ask for")
    D.wait_for_log("generation 2")
    p = negotiated()
    assert not p & mc.SMFIP_NOBODY, f"body still not negotiated after reload: 0x{p:x}"
    t = deliver("<carol@example.org>")
    check_eq(t.reply.action, "continue", "retry")
    assert any(m[0] in ("addrcpt", "addrcpt_par") and m[1] == "<carol+Fruit@example.org>"
               for m in t.mods), t.mods


@test
def size_test_also_needs_the_body():
    os.remove(os.path.join(SIEVE, "example.org", "carol.sieve"))
    write(GLOBAL, 'require "fileinto";\n')
    D.reload()
    D.wait_for_log("generation 3")
    assert negotiated() & mc.SMFIP_NOBODY, "body asked for with no body or size test"
    write(GLOBAL, 'if size :over 10K { discard; }\n')
    D.reload()
    D.wait_for_log("generation 4")
    assert not negotiated() & mc.SMFIP_NOBODY, "size test without the body"


if __name__ == "__main__":
    main(setup, teardown)
