#!/usr/bin/env python3
# SPDX-License-Identifier: BSD-2-Clause
"""End-to-end: postern-archive killed with SIGKILL under load loses nothing.

A private Postfix (milter_default_action = tempfail) with postern-archive
attached takes mail from parallel senders, each of which retries on a
temporary failure as an MTA would. In the middle of the load the archiving
worker is killed with SIGKILL (the supervisor restarts it), and later the
whole daemon, supervisor and worker, is killed with SIGKILL and started
again. Afterwards every message that reached the sink must be in the
archive, and verify must find nothing wrong: no missing or half-written
object, no journal line cut short, no delivery the index lacks.

A message can be archived and then still be tempfailed (the worker died
before answering): the retry is archived again, so the archive may hold
more deliveries than the sink received; it never holds fewer.
Runs with postern-archive and with its engine in postern-suite.
"""
import json
import os
import signal
import subprocess
import sys
import threading
import time

TOP = os.environ.get("POSTERN_TOP") or os.path.abspath(
    os.path.join(os.path.dirname(__file__), "..", ".."))
sys.path.insert(0, os.path.join(TOP, "tests", "lib"))

from tap import test, main, check_eq  # noqa: E402
from daemon import Daemon, suite_mode  # noqa: E402
from mta import mta_of, mta_params, private_mta, stop_all  # noqa: E402
from stack import children  # noqa: E402
from sink import Sink  # noqa: E402
from smtp import build_message, send  # noqa: E402

S = {}
SENDERS, PER_SENDER = 6, 30


def setup(param):
    S.clear()
    pf = private_mta("postfix")
    S["sink"] = Sink(os.path.join(pf.base, "sink")).start()
    pf.relay_port = S["sink"].port
    base = os.path.join(pf.base, "archive")
    os.makedirs(base)
    os.chmod(base, 0o755)
    S["d"] = Daemon("postern-archive", base=base, suite=suite_mode(param), config={
        "archive_directory": os.path.join(base, "archive"),
        "tmp_dir": base,
        "body_memory_limit": "8k",
    }).start()
    pf.milters = [S["d"].spec]
    S["pf"] = pf.start()


def teardown():
    stop_all(S.get("pf"), S.get("sink"), [S["d"]] if "d" in S else [])


def sender(n, results):
    """Send PER_SENDER messages, retrying each on 4xx or a dropped connection."""
    pf = S["pf"]
    for i in range(PER_SENDER):
        msgid = f"<crash-{n}-{i}@sender.example>"
        # a body beyond body_memory_limit half the time: spooled to disk
        body = ("line of body text %d\n" % i) * (20 if i % 2 else 600)
        msg = build_message("load@sender.example", [f"r{n}@dest.example"],
                            subject=f"load {n}/{i}", body=body, message_id=msgid)
        for attempt in range(120):
            try:
                r = send("127.0.0.1", pf.port, "load@sender.example", [f"r{n}@dest.example"],
                         msg, timeout=30)
                if r.ok:
                    results[msgid] = attempt
                    break
                if not str(r.code).startswith("4"):
                    results[msgid] = f"refused {r}"
                    break
            except OSError:
                pass
            time.sleep(0.3)
        else:
            results[msgid] = "gave up"


def wait_archived(d, count, timeout=60):
    deadline = time.time() + timeout
    while time.time() < deadline:
        if d.log().count(": archive: id=") >= count:
            return
        time.sleep(0.02)
    raise AssertionError(f"fewer than {count} messages archived: {d.log()[-2000:]}")


@test
def sigkill_under_load_loses_nothing_and_verify_is_clean():
    d, sink = S["d"], S["sink"]
    results = {}
    threads = [threading.Thread(target=sender, args=(n, results)) for n in range(SENDERS)]
    for t in threads:
        t.start()
    # 1: the worker dies; the supervisor starts another one
    wait_archived(d, 25)
    workers = children(d.proc.pid)
    assert workers, "no worker process"
    for w in workers:
        os.kill(w, signal.SIGKILL)
    d.wait_for_log("worker killed by signal 9: restarting it")
    # 2: the whole daemon dies, and is started again
    wait_archived(d, 70)
    workers = children(d.proc.pid)
    os.kill(d.proc.pid, signal.SIGKILL)
    for w in workers:
        try:
            os.kill(w, signal.SIGKILL)
        except ProcessLookupError:
            pass
    d.proc.wait(10)
    d.log_fp.close()
    time.sleep(1)
    d.start()
    for t in threads:
        t.join(180)
    bad = {k: v for k, v in results.items() if not isinstance(v, int)}
    check_eq(bad, {}, "messages that never went through")
    check_eq(len(results), SENDERS * PER_SENDER, "messages sent")
    retried = sum(1 for v in results.values() if v > 0)
    assert retried > 0, "no sender ever saw a temporary failure: the kills missed"
    at_sink = {m.msg["Message-ID"] for m in sink.wait_for(SENDERS * PER_SENDER, timeout=60)}
    r = d.run("search", "--json", "--subject", "load ")
    archived = [json.loads(x) for x in r.stdout.splitlines()]
    in_archive = {x["message_id"] for x in archived}
    check_eq(sorted(at_sink - in_archive), [], "messages at the sink but not in the archive")
    assert len(archived) >= len(at_sink), (len(archived), len(at_sink))
    r = d.run("verify")
    check_eq(r.returncode, 0, f"verify after restart: {r.stdout}{r.stderr}")
    # every archived message reads back as the sink got it, minus Received
    sink_bytes = {m.msg["Message-ID"]: m.data for m in sink.messages()}
    for row in archived[:: max(1, len(archived) // 15)]:
        g = subprocess.run(d.command("get", row["id"]), capture_output=True, timeout=60)
        assert sink_bytes[row["message_id"]].endswith(g.stdout), row["id"]


if __name__ == "__main__":
    main(setup, teardown, params=[p for p in mta_params() if mta_of(p) == "postfix"])
