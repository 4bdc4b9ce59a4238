#!/usr/bin/env python3
# SPDX-License-Identifier: BSD-2-Clause
"""End-to-end: include (RFC 6609) and date (RFC 5260) in postern-sort
behind the private Postfix, mail sent over SMTP, results checked at the
sink: the global script includes each recipient's :personal script (from
include_personal_dir, by %d/%u) and the site's :global one; an included
script edited on disk is used for the next message without a reload; an
include loop keeps the message (delivered unchanged) and the log names the
chain; a date rule files by the hour the sender's Date field gives in the
sender's own zone."""
import os
import sys

TOP = os.environ.get("POSTERN_TOP") or os.path.abspath(
    os.path.join(os.path.dirname(__file__), "..", ".."))
sys.path.insert(0, os.path.join(TOP, "tests", "lib"))

from tap import test, main, check_eq  # noqa: E402
from daemon import Daemon  # noqa: E402
from mta import private_mta_and_sink, stop_all  # noqa: E402
from smtp import build_message  # noqa: E402
from sink import rcpts_of  # noqa: E402

S = {}
SENDER = "alice@sender.example"

GLOBAL = """require ["include", "date", "relational", "comparator-i;ascii-numeric", "fileinto"];
include :optional "filters";
include :global "site";
if header :contains "subject" "loop" { include :global "loop-a"; }
if date :originalzone :value "ge" :comparator "i;ascii-numeric" "date" "hour" "18" {
    fileinto "After-Hours";
}
"""


def write(path, text):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path + ".tmp", "w") as f:
        f.write(text)
    os.replace(path + ".tmp", path)	# a new inode: the cache sees the change


def setup():
    S.clear()
    mta, S["sink"] = private_mta_and_sink("postfix")
    base = mta.daemon_base("sort")
    sieve = S["sieve"] = os.path.join(base, "sieve")
    write(os.path.join(sieve, "global.sieve"), GLOBAL)
    write(os.path.join(sieve, "users", "dest.example", "bob", "filters.sieve"),
          'require "fileinto";\nif header :contains "subject" "news" { fileinto "News"; }\n')
    write(os.path.join(sieve, "site", "site.sieve"),
          'require "fileinto";\nif header :contains "subject" "invoice" '
          '{ fileinto "Invoices"; }\n')
    write(os.path.join(sieve, "site", "loop-a.sieve"),
          'require "include";\ninclude :global "loop-b";\n')
    write(os.path.join(sieve, "site", "loop-b.sieve"),
          'require "include";\ninclude :global "loop-a";\n')
    d = Daemon("postern-sort", base=base, socket_dir=mta.socket_dir("sort"), config={
        "script": os.path.join(sieve, "global.sieve"),
        "include_personal_dir": os.path.join(sieve, "users", "%d", "%u"),
        "include_global_dir": os.path.join(sieve, "site"),
        "tmp_dir": base,
    })
    S["d"] = d.start()
    mta.milters = [d.spec]
    S["mta"] = mta.start()


def teardown():
    stop_all(S.get("mta"), S.get("sink"), [S[n] for n in ("d",) if n in S])


def deliver(rcpts, subject, date="Mon, 3 Jun 2024 10:00:00 +0200"):
    """Send, wait until delivered; (queue id, messages at the sink)."""
    msg = build_message(SENDER, rcpts, subject=subject, date=date)
    return S["mta"].deliver(S["sink"], SENDER, rcpts, msg)



@test
def personal_include_is_the_recipients_own():
    qid, got = deliver(["bob@dest.example", "carol@dest.example"], "daily news")
    check_eq(rcpts_of(got), ["bob+News@dest.example", "carol@dest.example"],
             "recipients at the sink")


@test
def global_include_applies_to_every_recipient():
    qid, got = deliver(["bob@dest.example", "carol@dest.example"], "invoice 42")
    check_eq(rcpts_of(got), ["bob+Invoices@dest.example", "carol+Invoices@dest.example"],
             "recipients at the sink")


@test
def an_edited_include_is_used_without_reload():
    write(os.path.join(S["sieve"], "site", "site.sieve"),
          'require "fileinto";\nif header :contains "subject" "invoice" '
          '{ fileinto "Billing"; }\n')
    qid, got = deliver(["carol@dest.example"], "invoice 43")
    check_eq(rcpts_of(got), ["carol+Billing@dest.example"], "recipients at the sink")


@test
def an_include_loop_keeps_the_message_and_names_the_chain():
    qid, got = deliver(["carol@dest.example"], "loop please")
    check_eq(rcpts_of(got), ["carol@dest.example"], "recipients at the sink")
    site = os.path.join(S["sieve"], "site")
    S["d"].wait_for_log(f"{qid}: sort: to=<carol@dest.example>")
    S["d"].wait_for_log("include loop: %s -> %s -> %s -> %s" % (
        os.path.join(S["sieve"], "global.sieve"), os.path.join(site, "loop-a.sieve"),
        os.path.join(site, "loop-b.sieve"), os.path.join(site, "loop-a.sieve")))
    # mail keeps flowing after the failed run
    qid, got = deliver(["carol@dest.example"], "invoice 44")
    check_eq(rcpts_of(got), ["carol+Billing@dest.example"], "recipients at the sink")


@test
def date_rule_reads_the_senders_own_zone():
    # 19:30 in New York is 23:30 UTC: after hours for the sender either way,
    # but 08:30 in Tokyo is 23:30 UTC the day before: not after hours there
    qid, got = deliver(["carol@dest.example"], "hello", date="Mon, 3 Jun 2024 19:30:00 -0400")
    check_eq(rcpts_of(got), ["carol+After-Hours@dest.example"], "recipients at the sink")
    qid, got = deliver(["carol@dest.example"], "hello", date="Tue, 4 Jun 2024 08:30:00 +0900")
    check_eq(rcpts_of(got), ["carol@dest.example"], "recipients at the sink")


if __name__ == "__main__":
    main(setup, teardown)
