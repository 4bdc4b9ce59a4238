#!/usr/bin/env python3
# SPDX-License-Identifier: BSD-2-Clause
"""End-to-end: a vacation reply through the private Postfix, checked at the
sink as a mail administrator would. postern-sort runs a global script with
vacation (and a notify); its replies leave through the outbound spool and
the sender thread, submitted by SMTP to the same Postfix (submit_method =
smtp:127.0.0.1:PORT), so they arrive at the sink like any other mail.

Checked: a normal sender gets one reply, with Auto-Submitted: auto-replied,
In-Reply-To and References naming its message, the null envelope sender,
and a subject made from the original; a second message in the :days
window gets none, also after the daemon was restarted (the response store
survives); a mailing list message (List-Id), a bulk one (Precedence:
bulk), an Auto-Submitted one and one from the null sender get none; a
header a sender crafts cannot add a line to the reply; notify sends a
message with Auto-Submitted: auto-notified, and a line break in a mailto
subject cannot add a recipient. "No reply" is proven by the
daemon's log line that says why (written before the message is accepted)
and, after a later reply to another sender has arrived, by its absence at
the sink. The same reply also goes out through Postfix's own sendmail binary
(submit_method = sendmail:/usr/sbin/sendmail, MAIL_CONFIG naming the
private instance)."""
import os
import re
import sys

TOP = os.environ.get("POSTERN_TOP") or os.path.abspath(
    os.path.join(os.path.dirname(__file__), "..", ".."))
sys.path.insert(0, os.path.join(TOP, "tests", "lib"))

from tap import test, main, check_eq  # noqa: E402
from daemon import Daemon  # noqa: E402
from mta import private_mta_and_sink, stop_all, free_port  # noqa: E402
from smtp import build_message, send  # noqa: E402

S = {}
ME = "bob@dest.example"

SCRIPT = """require ["vacation", "enotify", "variables"];
if header :contains "subject" "notify me" {
    notify :message "mail for bob" "mailto:boss@elsewhere.example";
}
if header :contains "subject" "crafted notify" {
    notify "mailto:boss2@elsewhere.example?subject=hi%0D%0ABcc:%20victim@elsewhere.example&body=x";
}
vacation :days 7 :from "Bob <bob@dest.example>" "I am away until Monday.
Ask carol@dest.example for anything urgent.";
"""


def setup():
    S.clear()
    port = free_port()
    mta, S["sink"] = private_mta_and_sink("postfix", port=port)
    base = mta.daemon_base("sort")
    script = os.path.join(base, "global.sieve")
    with open(script, "w") as f:
        f.write(SCRIPT)
    S["spool"] = os.path.join(base, "outgoing")
    # the sendmail binary the daemon runs reaches this private Postfix
    os.environ["MAIL_CONFIG"] = mta.config_dir
    S["config"] = {
        "script": script,
        "tmp_dir": base,
        "response_store": os.path.join(base, "responses"),
        "submit_method": "smtp:127.0.0.1:%d" % port,
        "submit_spool_dir": S["spool"],
    }
    d = Daemon("postern-sort", base=base, socket_dir=mta.socket_dir("sort"), config={
        "script": script,
        "tmp_dir": base,
        "response_store": os.path.join(base, "responses"),
        "submit_method": "smtp:127.0.0.1:%d" % port,
        "submit_spool_dir": S["spool"],
    })
    S["d"] = d.start()
    mta.milters = [d.spec]
    S["mta"] = mta.start()


def teardown():
    os.environ.pop("MAIL_CONFIG", None)
    stop_all(S.get("mta"), S.get("sink"), [S[n] for n in ("d",) if n in S])


def deliver(sender, subject, headers=(), env_sender=None, message_id=None):
    """Send one message to ME and wait until Postfix delivered it; the
    queue id."""
    mta = S["mta"]
    env = sender if env_sender is None else env_sender
    msg = build_message(sender, [ME], subject=subject, headers=headers,
                        message_id=message_id)
    r = send("127.0.0.1", mta.port, env, [ME], msg)
    assert r.ok and r.queue_id, r
    mta.wait_for_log(mta.sent_line(r.queue_id), timeout=30)
    return r.queue_id


def replies_to(addr):
    """Messages at the sink with the null sender addressed to addr."""
    return [m for m in S["sink"].messages() if m.sender in ("", "<>") and addr in m.rcpts]


def wait_at_sink(select, what, n=1):
    """Wait until select() gives n messages at the sink; return them."""
    sink = S["sink"]
    for _ in range(600):
        got = select()
        if len(got) >= n:
            return got
        try:
            sink.wait_for(sink.count() + 1, timeout=0.5)
        except TimeoutError:
            pass
    raise AssertionError(f"no {what} at the sink: {sink.messages()}")


def wait_reply(addr, n=1):
    """Wait until n replies to addr are at the sink; return them."""
    return wait_at_sink(lambda: replies_to(addr), f"reply to {addr}", n)


def wait_mail_to(addr):
    """Wait until a message to addr is at the sink; the messages to addr."""
    return wait_at_sink(lambda: [m for m in S["sink"].messages() if addr in m.rcpts],
                        f"message to {addr}")


def not_sent_logged(qid, why):
    S["d"].wait_for_log(f"{qid}: sort: vacation", timeout=15)
    log = S["d"].log()
    line = [x for x in log.splitlines() if qid in x and "vacation" in x]
    assert line and "not sent" in line[-1] and why in line[-1], line


@test
def a_normal_sender_gets_one_reply_with_the_rfc_3834_fields():
    sender = "alice@sender.example"
    deliver(sender, "Lunch on Friday?", message_id="<lunch-1@sender.example>",
            headers=[("References", "<thread-0@sender.example>")])
    got = wait_reply(sender)
    check_eq(len(got), 1, "replies")
    m = got[0]
    check_eq(m.msg["Auto-Submitted"].split()[0], "auto-replied", "Auto-Submitted")
    check_eq(m.msg["In-Reply-To"], "<lunch-1@sender.example>", "In-Reply-To")
    check_eq(m.msg["References"].split(), ["<thread-0@sender.example>",
                                           "<lunch-1@sender.example>"], "References")
    check_eq(m.msg["Subject"], "Auto: Lunch on Friday?", "Subject")
    print("# the reply as the sink got it:\n# " + m.data.decode().replace("\r\n", "\n# "))
    check_eq(m.msg["To"].addresses[0].addr_spec, sender, "To")
    check_eq(m.rcpts, [sender], "envelope recipients of the reply")
    assert "bob@dest.example" in m.msg["From"], m.msg["From"]
    assert "I am away until Monday." in m.msg.get_content(), m.msg.get_content()


@test
def a_second_message_in_the_window_gets_no_reply_even_after_a_restart():
    sender = "dave@sender.example"
    deliver(sender, "first")
    wait_reply(sender)
    qid = deliver(sender, "second, same daemon")
    not_sent_logged(qid, "already answered")
    S["d"].stop()
    S["d"].start()
    qid = deliver(sender, "third, after a restart")
    not_sent_logged(qid, "already answered")
    # a later reply to someone else has come through the same spool
    deliver("erin@sender.example", "barrier")
    wait_reply("erin@sender.example")
    check_eq(len(replies_to(sender)), 1, "replies to dave after three messages")


@test
def no_reply_to_a_list_a_bulk_sender_an_auto_reply_or_the_null_sender():
    cases = [
        ("list@lists.example", [("List-Id", "<discuss.lists.example>")], None, "List-"),
        ("news@shop.example", [("Precedence", "bulk")], None, "Precedence"),
        ("ooo@sender.example", [("Auto-Submitted", "auto-replied")], None, "Auto-Submitted"),
        ("mailer@sender.example", [], "", "null sender"),
        ("MAILER-DAEMON@sender.example", [], None, "program"),
    ]
    for sender, headers, env, why in cases:
        qid = deliver(sender, "hello", headers=headers, env_sender=env)
        not_sent_logged(qid, why)
    deliver("frank@sender.example", "barrier")
    wait_reply("frank@sender.example")
    for sender, _, _, _ in cases:
        check_eq(replies_to(sender), [], "replies to " + sender)
    check_eq(os.listdir(S["spool"]), [], "spool after the replies went out")


@test
def a_crafted_subject_cannot_add_a_header_line_to_the_reply():
    sender = "mallory@sender.example"
    # an encoded line break in the subject: decoded, it must stay inside
    # the reply's Subject field
    deliver(sender, "=?UTF-8?Q?hi=0D=0ABcc:_victim@elsewhere.example?=")
    m = wait_reply(sender)[0]
    check_eq(m.msg.get_all("Bcc"), None, "Bcc in the reply")
    check_eq(m.rcpts, [sender], "recipients of the reply")
    assert "victim" in m.msg["Subject"], m.msg["Subject"]


@test
def notify_sends_an_auto_notified_message():
    deliver("grace@sender.example", "please notify me")
    got = wait_mail_to("boss@elsewhere.example")
    check_eq(got[0].msg["Auto-Submitted"], "auto-notified", "Auto-Submitted")
    check_eq(got[0].msg["Subject"], "mail for bob", "Subject")


@test
def a_line_break_in_a_mailto_subject_stays_inside_the_subject():
    deliver("heidi@sender.example", "crafted notify")
    got = wait_mail_to("boss2@elsewhere.example")
    check_eq(got[0].rcpts, ["boss2@elsewhere.example"], "recipients of the notification")
    check_eq(got[0].msg.get_all("Bcc"), None, "Bcc in the notification")
    check_eq([m for m in S["sink"].messages() if "victim@elsewhere.example" in m.rcpts], [],
             "messages to the address in the crafted subject")


@test
def the_sendmail_method_submits_through_postfixs_sendmail_binary():
    config = dict(S["config"], submit_method="sendmail:/usr/sbin/sendmail")
    S["d"].reload_and_wait(config)
    sender = "ivan@sender.example"
    deliver(sender, "via sendmail", message_id="<sm-1@sender.example>")
    m = wait_reply(sender)[0]
    check_eq(m.msg["In-Reply-To"], "<sm-1@sender.example>", "In-Reply-To")
    check_eq(m.msg["Auto-Submitted"].split()[0], "auto-replied", "Auto-Submitted")
    # it came in by pickup (the sendmail binary's maildrop), not by SMTP
    assert re.search(r"pickup\[\d+\]: \w+: uid=\d+ from=<>", S["mta"].log_text()), \
        "no pickup of a null-sender message in the Postfix log"


if __name__ == "__main__":
    main(setup, teardown)
