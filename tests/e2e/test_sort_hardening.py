#!/usr/bin/env python3
# SPDX-License-Identifier: BSD-2-Clause
"""End-to-end: postern-sort against a sender who attacks its routing and
its headers, through a private Postfix on 127.0.0.1 (what arrives at the
sink is what a mail administrator would check).

Finding 6 (issue 12): with fileinto_method = subaddress, a folder built from
message data (List-Id) becomes part of the recipient's local part. Postfix
treats dest.example as local here (mydestination), so its percent hack
(user%domain@local -> user@domain) and bang paths (site!user@local ->
user@site) would route such a recipient off-site; every recipient that
reaches the sink must stay in dest.example.

Finding 7: with fileinto_method = header, the folder and redirect headers
go into the one header section every recipient receives; no recipient's
copy may name another recipient (a Bcc recipient, a private redirect
target), and a sender's own X-Postern-Folder / X-Postern-Redirected fields
never reach delivery.

Runs with postern-sort and with its engine in postern-suite.
"""
import os
import sys

TOP = os.environ.get("POSTERN_TOP") or os.path.abspath(
    os.path.join(os.path.dirname(__file__), "..", ".."))
sys.path.insert(0, os.path.join(TOP, "tests", "lib"))

from tap import test, main, check_eq  # noqa: E402
from daemon import Daemon, suite_mode  # noqa: E402
from mta import mta_of, mta_params  # noqa: E402
from postfix import PrivatePostfix  # noqa: E402
from sink import Sink, rcpts_of  # noqa: E402
from smtp import build_message, send  # noqa: E402

S = {}
SENDER = "list@sender.example"
LOCAL = "dest.example"

SUBADDRESS = """require ["fileinto", "variables"];
if header :matches "List-Id" "*<*>*" { fileinto "lists.${2}"; }
"""

HEADER = """require ["fileinto", "envelope", "copy"];
if envelope :is "to" "secret-bcc@dest.example" { fileinto "Legal"; }
if header :contains "subject" "forward privately" {
    redirect :copy "private-target@elsewhere.example";
}
if header :contains "subject" "file me" { fileinto "Filed"; }
"""


class Site:
    """A sink, a private Postfix for which dest.example is local (its
    mail goes to the sink too), and one postern-sort daemon."""

    def __init__(self, name, script, config, suite=False):
        self.pf = PrivatePostfix()
        self.sink = Sink(os.path.join(self.pf.base, "sink")).start()
        self.pf.relay_port = self.sink.port
        base = os.path.join(self.pf.base, name)
        os.makedirs(base)
        os.chmod(self.pf.base, 0o755)
        path = os.path.join(base, "global.sieve")
        with open(path, "w") as f:
            f.write(script)
        conf = {"script": path, "tmp_dir": base}
        conf.update(config)
        self.d = Daemon("postern-sort", base=base, config=conf, suite=suite)
        os.chmod(self.d.base, 0o755)
        self.d.start()
        self.pf.milters = [self.d.spec]
        self.pf.settings.update({
            "milter_default_action": "tempfail",
            "mydestination": LOCAL,
            "local_transport": f"relay:[127.0.0.1]:{self.sink.port}",
            # the defaults, said out loud: these are what the attack uses
            "allow_percent_hack": "yes",
            "swap_bangpath": "yes",
        })
        self.pf.start()

    def deliver(self, rcpts, subject, headers=(), to=None, expect=1):
        before = self.sink.count()
        msg = build_message(SENDER, to or rcpts, subject=subject, headers=headers)
        r = send("127.0.0.1", self.pf.port, SENDER, rcpts, msg)
        assert r.ok, r
        return r, self.sink.wait_for(before + expect, timeout=30)[before:]

    def stop(self):
        try:
            self.pf.stop()
            self.pf.cleanup()
        finally:
            self.sink.stop()
            self.d.stop()


def setup(param):
    S.clear()
    S["sub"] = Site("sub", SUBADDRESS, {}, suite_mode(param))
    S["hdr"] = Site("hdr", HEADER, {"fileinto_method": "header"}, suite_mode(param))


def teardown():
    for k in ("sub", "hdr"):
        if k in S:
            S[k].stop()



def list_message(list_id):
    site = S["sub"]
    r, got = site.deliver([f"alice@{LOCAL}"], "list mail", headers=[("List-Id", list_id)])
    return site, r, got


@test
def percent_in_a_folder_does_not_route_mail_off_site():
    site, r, got = list_message("<news%evil.example>")
    rcpts = rcpts_of(got)
    off = [x for x in rcpts if not x.lower().endswith("@" + LOCAL)]
    check_eq(off, [], "recipients Postfix routed off-site")
    check_eq(rcpts, [f"alice@{LOCAL}"], "recipients at the sink (kept)")
    site.d.wait_for_log("folder name cannot be a subaddress: keeping the message")


@test
def bang_path_in_a_folder_does_not_route_mail_off_site():
    site, r, got = list_message("<evil.example!news>")
    rcpts = rcpts_of(got)
    off = [x for x in rcpts if not x.lower().endswith("@" + LOCAL)]
    check_eq(off, [], "recipients Postfix routed off-site")
    check_eq(rcpts, [f"alice@{LOCAL}"], "recipients at the sink (kept)")


@test
def at_sign_and_quote_in_a_folder_stay_local():
    for lid in ("<news@evil.example>", '<"news"@evil.example>'):
        site, r, got = list_message(lid)
        check_eq(rcpts_of(got), [f"alice@{LOCAL}"], f"recipients at the sink for {lid}")


@test
def a_safe_folder_still_becomes_a_subaddress():
    site, r, got = list_message("<news.lists.example>")
    check_eq(rcpts_of(got), [f"alice+lists.news.lists.example@{LOCAL}"], "recipients")


@test
def a_forged_folder_header_never_reaches_delivery():
    site = S["hdr"]
    r, got = site.deliver([f"alice@{LOCAL}"], "hello", headers=[
        ("X-Postern-Folder", f"<alice@{LOCAL}> Trash"),
        ("X-Postern-Redirected", "hops=0"),
    ])
    m = got[0]
    check_eq(m.headers("X-Postern-Folder"), [], "X-Postern-Folder at the sink")
    check_eq(m.headers("X-Postern-Redirected"), [], "X-Postern-Redirected at the sink")
    assert b"Trash" not in m.data, m.data[:2000]


@test
def a_bcc_recipient_is_never_named_to_the_others():
    site = S["hdr"]
    r, got = site.deliver([f"alice@{LOCAL}", f"secret-bcc@{LOCAL}"], "board minutes",
                          to=[f"alice@{LOCAL}"])
    check_eq(rcpts_of(got), [f"alice@{LOCAL}", f"secret-bcc@{LOCAL}"], "recipients")
    for m in got:
        assert b"secret-bcc" not in m.data, m.data[:2000]
        check_eq(m.headers("X-Postern-Folder"), [], "folder header shared with alice")
    site.d.wait_for_log("the message has other recipients, who would see the folder header")


@test
def a_private_redirect_target_is_never_named_to_the_recipient():
    site = S["hdr"]
    # two deliveries: dest.example is local, elsewhere.example relayed
    r, got = site.deliver([f"alice@{LOCAL}"], "forward privately", expect=2)
    check_eq(rcpts_of(got), [f"alice@{LOCAL}", "private-target@elsewhere.example"],
             "recipients")
    for m in got:
        assert b"private-target" not in m.data, m.data[:2000]
        check_eq([v.strip() for v in m.headers("X-Postern-Redirected")], ["hops=1"],
                 "trace header")


@test
def one_recipient_gets_a_folder_header_without_an_address():
    site = S["hdr"]
    r, got = site.deliver([f"alice@{LOCAL}"], "file me")
    check_eq([v.strip() for v in got[0].headers("X-Postern-Folder")], ["Filed"],
             "folder header")


if __name__ == "__main__":
    main(setup, teardown, params=[p for p in mta_params() if mta_of(p) == "postfix"])
