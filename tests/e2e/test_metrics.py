#!/usr/bin/env python3
# SPDX-License-Identifier: BSD-2-Clause
"""End-to-end metrics: every daemon's metrics_listen behind the private Postfix.

Runs twice (tests/lib/mta.py stack_params(), POSTERN_SUITE): the four
daemons chained ("chain", four listeners) and the four engines in one
postern-suite ("suite", one listener).

1. N messages through Postfix: each daemon's /metrics counts them
   (messages accepted, connections, eom latency observations, TLS policy
   decisions, Sieve addheader actions, archive objects, audit records),
   `promtool check metrics` finds nothing to say, a path other than
   /metrics is 404, and no label value is a domain or an address.
2. Debian's real `prometheus` scrapes every listener every second (it
   asks for OpenMetrics, so that format is what it parses) and its HTTP
   API reports N for each daemon.
3. A sender whose TLS policy a plaintext session violates is refused at
   MAIL: counted as a rejected message and a "reject" policy outcome.
   SIGHUP counts a reload, and a failed one (a broken file) a failure.
4. A worker killed with SIGKILL: the counters it served do not go back
   to zero (they live in memory its supervisor mapped), and
   postern_worker_restarts_total goes up by one.
5. `check` names a metrics_listen that is not a numeric address.
6. packaging/prometheus/postern-alerts.yml: `promtool check rules` is
   clean and `promtool test rules` passes its unit test file.
"""
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.parse
import urllib.request
import uuid

TOP = os.environ.get("POSTERN_TOP") or os.path.abspath(
    os.path.join(os.path.dirname(__file__), "..", ".."))
sys.path.insert(0, os.path.join(TOP, "tests", "lib"))

from tap import test, main, check_eq  # noqa: E402
from smtp import build_message, send  # noqa: E402
from mta import free_port, stack_params  # noqa: E402
from stack import Stack, ORDER  # noqa: E402
from daemon import binary  # noqa: E402

N = 5
S = {}
RULES = os.path.join(TOP, "packaging", "prometheus", "postern-alerts.yml")
RULES_TEST = os.path.join(TOP, "packaging", "prometheus", "postern-alerts.test.yml")


def setup(mode):
    S.clear()
    S["mode"] = mode
    if mode == "chain":
        S["ports"] = {n: free_port() for n in ORDER}
        config = {n: {"metrics_listen": f"127.0.0.1:{p}"} for n, p in S["ports"].items()}
    else:
        S["ports"] = {"suite": free_port()}
        config = {"suite": {"metrics_listen": f"127.0.0.1:{S['ports']['suite']}"}}
    S["st"] = Stack(suite=mode == "suite", config=config).start()


def teardown():
    if "prom" in S:
        stop_prometheus()
    if "st" in S:
        S.pop("st").stop()


def scrape(port, path="/metrics", accept=None):
    req = urllib.request.Request(f"http://127.0.0.1:{port}{path}")
    if accept:
        req.add_header("Accept", accept)
    with urllib.request.urlopen(req, timeout=10) as r:
        return r.status, r.headers.get("Content-Type"), r.read().decode()


SAMPLE = re.compile(r'^([a-z_]+)(\{[^}]*\})? (\S+)$')


def samples(text):
    """{(name, labels-string): float} of an exposition text."""
    out = {}
    for line in text.splitlines():
        if not line or line.startswith("#"):
            continue
        m = SAMPLE.match(line)
        assert m, f"not a sample line: {line!r}"
        out[(m.group(1), m.group(2) or "")] = float(m.group(3))
    return out


def value(port, name, labels=""):
    return samples(scrape(port)[2]).get((name, labels))


def wait_value(port, name, labels, want, timeout=30):
    """Poll until the sample equals want (a session's close reaches the
    milter a moment after the sink has the message); its last value."""
    deadline = time.monotonic() + timeout
    v = None
    while time.monotonic() < deadline:
        v = value(port, name, labels)
        if v == want:
            return v
        time.sleep(0.2)
    return v


def send_messages(tag, n):
    st = S["st"]
    ids = []
    for i in range(n):
        msgid = f"<{tag}-{i}-{uuid.uuid4().hex[:8]}@metrics.example>"
        msg = build_message("ops@metrics.example", ["bob@shop.example"],
                            subject=f"{tag} {i}", body=f"body {i} {uuid.uuid4()}\n",
                            message_id=msgid)
        r = send("127.0.0.1", st.pf.port, "ops@metrics.example", ["bob@shop.example"], msg)
        assert r.ok, f"message {i} not accepted: {r}"
        ids.append(msgid)
    return ids


def port_of(engine):
    return S["ports"]["suite" if S["mode"] == "suite" else engine]


@test
def each_daemon_counts_the_messages_and_promtool_is_clean():
    st = S["st"]
    # Postfix's start-up probe (connect, QUIT) is a session too: wait
    # until the milters have seen it end, then count from there
    conns = {name: wait_value(port, "postern_connections_total", '{verdict="accept"}', 1)
             for name, port in S["ports"].items()}
    send_messages("count", N)
    st.sink.wait_for(N, timeout=60)
    for name, port in S["ports"].items():
        got = wait_value(port, "postern_messages_total", '{verdict="accept"}', N)
        check_eq(got, N, f"{name}: messages accepted")
        want = conns[name] + N
        got = wait_value(port, "postern_connections_total", '{verdict="accept"}', want)
        check_eq(got, want, f"{name}: connections accepted")
        check_eq(value(port, "postern_milter_step_seconds_count", '{step="eom"}'), N,
                 f"{name}: end-of-message latency observations")
        check_eq(value(port, "postern_messages_total", '{verdict="reject"}'), 0,
                 f"{name}: messages rejected")
        status, ctype, text = scrape(port)
        check_eq(status, 200, f"{name}: GET /metrics")
        assert ctype.startswith("text/plain; version=0.0.4"), ctype
        r = subprocess.run(["promtool", "check", "metrics"], input=text, capture_output=True,
                           text=True, timeout=60)
        check_eq((r.returncode, r.stdout + r.stderr), (0, ""), f"{name}: promtool check metrics")
        # fixed label values only: nothing from the mail
        for bad in ("metrics.example", "shop.example", "@", "127.0.0.1"):
            assert bad not in text, f"{name}: {bad!r} in the metrics"
        status, ctype, om = scrape(port, accept="application/openmetrics-text; version=1.0.0")
        assert ctype.startswith("application/openmetrics-text"), ctype
        assert om.endswith("# EOF\n"), om[-200:]
        try:
            scrape(port, "/other")
            raise AssertionError(f"{name}: /other answered")
        except urllib.error.HTTPError as e:
            check_eq(e.code, 404, f"{name}: GET /other")
    # each engine's own figures, on the listener that runs it
    tls = samples(scrape(port_of("tls"))[2])
    decided = sum(v for (n, _), v in tls.items() if n == "postern_tls_policy_total")
    check_eq(decided, 2 * N, "postern-tls decisions (MAIL and one RCPT per message)")
    check_eq(tls[("postern_tls_policy_total", '{outcome="none"}')], 2 * N,
             "postern-tls: no policy for these domains")
    check_eq(value(port_of("sort"), "postern_sort_actions_total", '{action="addheader"}'), N,
             "postern-sort addheader actions")
    arc = samples(scrape(port_of("archive"))[2])
    check_eq(arc[("postern_archive_stored_total", "")], N, "archive: new objects")
    check_eq(arc[("postern_archive_failures_total", "")], 0, "archive: failures")
    assert arc[("postern_archive_stored_bytes_total", "")] > 0, "archive: bytes stored"
    check_eq(arc[("postern_fsync_seconds_count", '{file="archive_object"}')], N,
             "archive: object fsyncs")
    aud = samples(scrape(port_of("audit"))[2])
    trail = [r for r in st.audit_records() if r["event"] in ("message", "connection")]
    check_eq(aud[("postern_audit_records_total", "")], len(trail),
             "audit: records written = message and connection records in the trail")
    assert aud[("postern_audit_bytes_total", "")] > 0, "audit: bytes"
    assert aud[("postern_fsync_seconds_count", '{file="audit_trail"}')] >= 1, "audit: syncs"
    check_eq(aud[("postern_audit_write_failures_total", "")], 0, "audit: write failures")
    if S["mode"] == "chain":
        # a daemon shows its own engine's families only
        assert ("postern_archive_stored_total", "") not in tls
        assert ("postern_tls_policy_total", '{outcome="none"}') not in arc


def prometheus_config(path, ports):
    targets = ", ".join(f'"127.0.0.1:{p}"' for p in ports.values())
    with open(path, "w") as f:
        f.write("global:\n  scrape_interval: 1s\n  evaluation_interval: 1s\n"
                "scrape_configs:\n  - job_name: postern\n    scrape_timeout: 1s\n"
                f"    static_configs:\n      - targets: [{targets}]\n")


def stop_prometheus():
    proc, tmp = S.pop("prom")
    proc.send_signal(signal.SIGTERM)
    try:
        proc.wait(30)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(10)
    shutil.rmtree(tmp, ignore_errors=True)


def prom_query(port, expr):
    url = f"http://127.0.0.1:{port}/api/v1/query?" + urllib.parse.urlencode({"query": expr})
    with urllib.request.urlopen(url, timeout=10) as r:
        data = json.load(r)
    assert data["status"] == "success", data
    return {tuple(sorted(x["metric"].items())): float(x["value"][1])
            for x in data["data"]["result"]}


@test
def prometheus_scrapes_every_daemon_and_finds_n():
    tmp = tempfile.mkdtemp(prefix="postern-prom-")
    conf = os.path.join(tmp, "prometheus.yml")
    prometheus_config(conf, S["ports"])
    port = free_port()
    log = open(os.path.join(tmp, "log"), "w")
    proc = subprocess.Popen(["prometheus", f"--config.file={conf}",
                             f"--storage.tsdb.path={os.path.join(tmp, 'data')}",
                             f"--web.listen-address=127.0.0.1:{port}"],
                            stdout=log, stderr=subprocess.STDOUT)
    S["prom"] = (proc, tmp)
    want = {f"127.0.0.1:{p}" for p in S["ports"].values()}
    deadline = time.monotonic() + 90
    last = None
    while time.monotonic() < deadline:
        try:
            up = prom_query(port, 'up{job="postern"}')
            got = prom_query(port, 'postern_messages_total{verdict="accept"}')
            last = (up, got)
            inst = {dict(k)["instance"]: v for k, v in got.items()}
            if all(v == 1 for v in up.values()) and len(up) == len(want) \
                    and set(inst) == want and all(v == N for v in inst.values()):
                break
        except (OSError, ValueError):
            pass
        time.sleep(0.5)
    else:
        with open(os.path.join(tmp, "log")) as f:
            raise AssertionError(f"prometheus never saw {N} for every daemon: {last}\n"
                                 f"{f.read()[-3000:]}")
    stored = prom_query(port, "postern_archive_stored_total")
    check_eq(list(stored.values()), [N], "prometheus: archive stored")
    records = prom_query(port, "postern_audit_records_total")
    assert list(records.values())[0] >= N, records
    # a histogram as Prometheus reads it: N end-of-message observations
    count = prom_query(port, 'sum(postern_milter_step_seconds_count{step="eom"})')
    check_eq(list(count.values()), [N * len(want)], "prometheus: eom observations")
    stop_prometheus()


@test
def a_tls_refusal_at_mail_counts_as_rejected():
    st = S["st"]
    port = port_of("tls")
    msg = build_message("ceo@partner.example", ["bob@shop.example"], subject="plaintext",
                        body="no TLS\n")
    r = send("127.0.0.1", st.pf.port, "ceo@partner.example", ["bob@shop.example"], msg)
    assert not r.ok and str(r.code).startswith("5"), f"partner without TLS not refused: {r}"
    check_eq(wait_value(port, "postern_messages_total", '{verdict="reject"}', 1), 1,
             "messages rejected (at MAIL)")
    check_eq(value(port, "postern_tls_policy_total", '{outcome="reject"}'), 1,
             "TLS decisions: violated policy with action reject")
    check_eq(value(port, "postern_messages_total", '{verdict="accept"}'), N, "accepted")


@test
def reloads_and_failed_reloads_are_counted():
    d = S["st"].daemons["tls"]
    port = port_of("tls")
    ok0 = value(port, "postern_config_reloads_total")
    bad0 = value(port, "postern_config_reload_failures_total")
    d.reload_and_wait({"trace_header": "X-Postern-TLS-2"})
    check_eq(wait_value(port, "postern_config_reloads_total", "", ok0 + 1), ok0 + 1,
             "reloads after SIGHUP")
    failed = d.log().count("reload failed")
    d.reload({"policy_check_interval": "not-a-time"})
    deadline = time.monotonic() + 20
    while d.log().count("reload failed") == failed:
        assert time.monotonic() < deadline, f"no failed reload logged: {d.log()[-2000:]}"
        time.sleep(0.1)
    check_eq(wait_value(port, "postern_config_reload_failures_total", "", bad0 + 1), bad0 + 1,
             "reload failures after SIGHUP with a broken file")
    check_eq(value(port, "postern_config_reloads_total"), ok0 + 1, "reloads (unchanged)")
    d.reload_and_wait({"policy_check_interval": "1s"})
    check_eq(wait_value(port, "postern_config_reloads_total", "", ok0 + 2), ok0 + 2,
             "reloads after the file was mended")


@test
def a_killed_worker_does_not_reset_the_counters():
    st = S["st"]
    name = "archive"
    port = port_of(name)
    before = value(port, "postern_worker_restarts_total")
    accepted = value(port, "postern_messages_total", '{verdict="accept"}')
    check_eq(accepted, N, "accepted before the kill")
    st.kill_worker(name)
    check_eq(value(port, "postern_messages_total", '{verdict="accept"}'), N,
             "accepted after the kill (the new worker serves the same counters)")
    check_eq(value(port, "postern_worker_restarts_total"), before + 1, "worker restarts")
    send_messages("after", 1)
    st.sink.wait_for(N + 1, timeout=60)
    check_eq(wait_value(port, "postern_messages_total", '{verdict="accept"}', N + 1), N + 1,
             "accepted after one more message")
    check_eq(value(port, "postern_archive_stored_total"), N + 1, "archive: new objects")


@test(only="chain")
def check_names_a_bad_metrics_listen():
    d = S["st"].daemons["tls"]
    conf = os.path.join(S["st"].base, "bad-metrics.conf")
    with open(d.conf) as f, open(conf, "w") as out:
        out.writelines(line for line in f if not line.startswith("metrics_listen"))
        out.write("metrics_listen = localhost:9426\n")
    r = subprocess.run([binary("postern-tls"), "-c", conf, "check"], capture_output=True,
                       text=True, timeout=60)
    check_eq(r.returncode, 78, f"check with a host name: {r.stdout}{r.stderr}")
    assert 'parameter "metrics_listen"' in r.stderr and "localhost:9426" in r.stderr, r.stderr


@test(only="chain")
def shipped_alert_rules_pass_promtool():
    r = subprocess.run(["promtool", "check", "rules", RULES], capture_output=True, text=True,
                       timeout=60)
    check_eq(r.returncode, 0, f"promtool check rules: {r.stdout}{r.stderr}")
    assert "SUCCESS" in r.stdout, r.stdout
    r = subprocess.run(["promtool", "test", "rules", os.path.basename(RULES_TEST)],
                       cwd=os.path.dirname(RULES_TEST), capture_output=True, text=True,
                       timeout=60)
    check_eq(r.returncode, 0, f"promtool test rules: {r.stdout}{r.stderr}")


if __name__ == "__main__":
    main(setup, teardown, params=stack_params())
