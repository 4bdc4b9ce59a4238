# SPDX-License-Identifier: BSD-2-Clause
"""mta - what a private MTA of the test harness offers whatever the MTA.

PrivatePostfix (postfix.py) and PrivateSendmail (sendmail.py) both derive
from MtaBase, which gives them the context-manager form, the maillog
readers, configure() and cleanup(); a subclass sets self.maillog,
self.settings, self.milters, self.started, self._own_base and defines
start(), stop(), reload() and write_config().

    with PrivatePostfix(...) as mta:     # start(); stop() and cleanup() at exit
        mark = mta.log_offset()
        ...
        mta.wait_for_log(r"status=sent", since=mark)

A scenario file runs against both MTAs with tap.main(params=MTAS) and
private_mta(kind) in its setup; what the MTAs do differently is said once
here, by the subclasses:

    mta = private_mta("sendmail")        # tempfails when a milter is down
    mta, sink = private_mta_and_sink("postfix")   # relaying to a started Sink
    send(..., **mta.starttls("client"))  # STARTTLS with the test client cert
    mta.kind                             # "postfix" or "sendmail"
    mta.reply(code, addr, text)          # a milter's reply as the client sees it
    mta.added_header(value)              # a milter's header value, unfolded
    mta.received_names(m, qid)           # the sink's copy m carries qid
    mta.sent_line(qid, rcpt=None)        # maillog regex: delivered (to rcpt)
    mta.discard_line(qid)                # maillog regex: a milter discarded qid
    mta.queue_ids("hold")                # queue listing, Postfix-shaped
    mta.cert_macros("client")            # {cert_subject}, {cert_issuer} sent
    mta.shutdown()                       # stop, no process left, cleanup

A scenario file of the four daemons runs with tap.main(params=mta_params()):
"postfix", "sendmail", then "postfix+suite" and "sendmail+suite", where
its daemons are started with Daemon(..., suite=daemon.suite_mode(param))
and so run as engines of postern-suite; private_mta("postfix+suite") is a
Postfix. A Stack file runs with params=stack_params(): "chain" (four
daemons) and "suite" (Stack(suite=True)). POSTERN_SUITE (all, none, only,
or an MTA) chooses which.
"""
import os
import re
import shutil
import socket
import time

MTAS = ("postfix", "sendmail")


def mta_params():
    """The parameters of a scenario file that runs the engines of the
    four daemons: each MTA with the engine in its own daemon, then each
    MTA with the engine in postern-suite ("postfix+suite"; daemon.py's
    suite_mode()). POSTERN_SUITE=none leaves the suite variants out,
    =only runs them alone, =postfix (an MTA) keeps that MTA's only (the
    valgrind run, where every daemon runs ten times slower)."""
    which = os.environ.get("POSTERN_SUITE", "all")
    plain = [] if which == "only" else list(MTAS)
    if which == "none":
        return tuple(plain)
    suite = [m + "+suite" for m in MTAS if which in ("all", "only", m)]
    return tuple(plain + suite)


def stack_params():
    """The parameters of a Stack scenario file: the four daemons chained
    ("chain") and the four engines in one postern-suite ("suite");
    POSTERN_SUITE=none leaves "suite" out, =only leaves "chain" out."""
    which = os.environ.get("POSTERN_SUITE", "all")
    return tuple(p for p, keep in (("chain", which != "only"), ("suite", which != "none"))
                 if keep)


def mta_of(param):
    """The MTA of a test parameter: "postfix" for "postfix+suite"."""
    return param.split("+")[0]


def free_port(host="127.0.0.1"):
    """A TCP port that was free a moment ago (bind to 0, read, release)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((host, 0))
        return s.getsockname()[1]


def proc_stat(pid):
    """(state, pgrp, session) of pid, or None if it is gone."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            data = f.read()
    except OSError:
        return None
    fields = data[data.rindex(")") + 2:].split()
    return fields[0], int(fields[2]), int(fields[3])


def alive(pid):
    """pid runs (exists and is no zombie)."""
    st = proc_stat(pid)
    return st is not None and st[0] not in ("Z", "X")


def stop_each(*fns):
    """Call every function (None is skipped), each even when an earlier one
    failed; the first error is raised at the end. For teardowns: a fixture
    half set up still stops what it started."""
    errors = []
    for fn in fns:
        if fn is None:
            continue
        try:
            fn()
        except Exception as e:
            errors.append(e)
    if errors:
        raise errors[0]


def stop_all(mta=None, sink=None, daemons=()):
    """Stop a scenario file's fixture: the MTA (shutdown(): no process
    left), the sink, then the daemons, each even when an earlier one
    failed; the first error is raised at the end."""
    stop_each(mta.shutdown if mta else None, sink.stop if sink else None,
              *[d.stop for d in daemons])


def private_mta(kind, **kw):
    """A private MTA of that kind that answers 4xx when a milter is
    unreachable (Postfix: milter_default_action = tempfail; Sendmail: F=T),
    so that no test loses mail by a daemon it stopped. kind may be a
    test parameter ("postfix+suite"): its MTA part counts."""
    kind = mta_of(kind)
    if kind == "postfix":
        from postfix import PrivatePostfix
        mta = PrivatePostfix(**kw)
        mta.settings.setdefault("milter_default_action", "tempfail")
        return mta
    if kind == "sendmail":
        from sendmail import PrivateSendmail
        return PrivateSendmail(milter_flags="T", **kw)
    raise ValueError(f"unknown MTA {kind!r}")


def private_mta_and_sink(kind, **kw):
    """private_mta(kind) relaying to a new, started Sink in its base
    directory: (mta, sink); the MTA is not started yet."""
    from sink import Sink
    mta = private_mta(kind, **kw)
    sink = Sink(os.path.join(mta.base, "sink")).start()
    mta.relay_port = sink.port
    return mta, sink


class MtaBase:
    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()
        self.cleanup()

    def log_text(self):
        """The whole maillog as text ("" before the first line)."""
        try:
            with open(self.maillog, encoding="utf-8", errors="replace") as f:
                return f.read()
        except FileNotFoundError:
            return ""

    def log_offset(self):
        """Current length of the maillog text, for wait_for_log(since=)."""
        return len(self.log_text())

    def wait_for_log(self, regex, timeout=10, since=0, count=1):
        """Wait until regex (re.M) matches in the maillog after character
        offset since, count times; return the last match. TimeoutError
        (with the log tail) otherwise."""
        pat = re.compile(regex, re.M)
        deadline = time.monotonic() + timeout
        while True:
            text = self.log_text()[since:]
            found = list(pat.finditer(text))
            if len(found) >= count:
                return found[count - 1]
            if time.monotonic() >= deadline:
                raise TimeoutError(
                    f"maillog: {regex!r} seen {len(found)}/{count} times in "
                    f"{timeout}s; tail:\n{text[-2000:]}")
            time.sleep(0.05)

    def starttls(self, cert=None):
        """smtp.send() arguments for STARTTLS checked against the test CA,
        the client showing the test PKI's "client" certificate, its
        "rogue" one (from a CA nobody trusts) or none."""
        args = {"starttls": True, "cafile": self.pki.ca_cert}
        if cert:
            args["client_cert"] = getattr(self.pki, cert + "_cert")
            args["client_key"] = getattr(self.pki, cert + "_key")
        return args

    # ---- what differs by MTA (set or overridden by the subclasses) -----

    kind = None
    # Sendmail puts the address between the status code and a milter's
    # reply text ("5.7.1 <a@b.example>... text"); Postfix sends the text.
    reply_names_address = False

    def reply(self, status, addr, text):
        """The reply text a client sees for a milter's "STATUS TEXT" at
        MAIL FROM:<addr> or RCPT TO:<addr>."""
        if self.reply_names_address:
            return f"{status} <{addr}>... {text}"
        return f"{status} {text}"

    def added_header(self, value):
        """The value of a header a milter added, as the sink got it
        (Sendmail folds a long one: unfolded here)."""
        return value.strip()

    def received_names(self, m, qid):
        """Whether the Received header of the sink's message m names qid."""
        return qid in "".join(m.headers("Received"))

    def sent_line(self, qid, rcpt=None):
        """maillog regex of the delivery of qid to rcpt (to any recipient
        when rcpt is None)."""
        to = re.escape(rcpt) if rcpt else ".*"
        return rf"{qid}: .*to=<{to}>.*status=sent"

    def discard_line(self, qid):
        """maillog regex of a milter's discard of qid."""
        return rf"{qid}: milter-discard"

    def cert_macros(self, which):
        """({cert_subject}, {cert_issuer}) as the MTA sends them to a
        milter when the client shows the test PKI's client certificate
        ("client"), the one from the untrusted CA ("rogue") or none
        ("none"); None: not sent. Postfix sends the common names, of a
        verified certificate only."""
        if which == "client":
            return ("client.partner.test", "Postern Test CA")
        return (None, None)

    # ---- lifecycle shared by both -------------------------------------

    def configure(self, settings=None, milters=None, reload=True):
        """Change settings (merged) and/or the milter list, rewrite the
        config (main.cf; sendmail.cf) and reload a running instance
        (postfix reload; SIGHUP)."""
        if settings:
            self.settings.update(settings)
        if milters is not None:
            self.milters = list(milters)
        self.write_config()
        if reload and self.started:
            self.reload()

    def cleanup(self):
        """Remove the base directory (only if we made it)."""
        if self._own_base and not os.environ.get("POSTERN_KEEP"):
            shutil.rmtree(self.base, ignore_errors=True)

    def shutdown(self):
        """stop(); then fail when a process of this instance is left;
        cleanup() in any case."""
        try:
            self.stop()
            left = self.processes()
            if left:
                raise AssertionError(f"{self.kind} left {left}")
        finally:
            self.cleanup()

    def daemon_base(self, name):
        """A 0755 directory base/NAME for a daemon's files."""
        path = os.path.join(self.base, name)
        os.makedirs(path, exist_ok=True)
        os.chmod(path, 0o755)
        return path

    # ---- queue --------------------------------------------------------

    def queue_ids(self, queue_name=None):
        """Queue ids currently queued (optionally only in queue_name:
        'deferred', 'active', 'hold', ...)."""
        return [m["queue_id"] for m in self.queue()
                if queue_name is None or m["queue_name"] == queue_name]

    def wait_for_queue(self, predicate, timeout=10):
        """Wait until predicate(queue list) is true; return the list."""
        deadline = time.monotonic() + timeout
        while True:
            q = self.queue()
            if predicate(q):
                return q
            if time.monotonic() >= deadline:
                raise TimeoutError(f"queue condition not met in {timeout}s: "
                                   f"{q!r}")
            time.sleep(0.1)

    def wait_queue_empty(self, timeout=10):
        return self.wait_for_queue(lambda q: not q, timeout)

    def deliver(self, sink, sender, rcpts, msg, timeout=30):
        """Send msg over SMTP, wait until the MTA delivered it and its
        queue is empty again; (queue id, the messages that reached the
        sink meanwhile)."""
        from smtp import send
        before = sink.count()
        r = send("127.0.0.1", self.port, sender, rcpts, msg)
        assert r.ok and r.queue_id, r
        self.wait_for_log(self.sent_line(r.queue_id), timeout=timeout)
        self.wait_queue_empty(timeout=timeout)
        return r.queue_id, sink.messages()[before:]
