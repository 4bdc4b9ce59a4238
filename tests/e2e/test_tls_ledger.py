#!/usr/bin/env python3
# SPDX-License-Identifier: BSD-2-Clause
"""End-to-end: the per-partner TLS ledger over real traffic.

A sending Postfix (tests/lib/partners.py SendingPostfix) has postern-tls
as its milter, with ledger_file set, and takes its outbound TLS policy
from `postern-tls postfix-map` (texthash:, so no postmap). Three partner
MX servers (ReceivingPostfix) answer for the partner domains by name:

  partner.example  TLS 1.3          rule: min_version=TLSv1.2 direction=both
  plain.example    no STARTTLS      rule: direction=outbound (TLS required)
  old.example      TLS 1.2 only     rule: min_version=TLSv1.3 direction=outbound

Inbound, a client sends from a@partner.example once in plain text
(refused by the milter) and once over TLS 1.3 (compliant). Outbound, one
message to each partner: delivered over TLS 1.3, deferred (not offered),
deferred (handshake: no TLS 1.3). Then `postern-tls ledger MAILLOG` reads
the sending Postfix's own log and `postern-tls report` must show those
counts per partner and direction, as text, JSON and an RFC 8460 report
whose every required member has its type (RFC 8460 section 4.4)."""
import json
import os
import re
import signal
import subprocess
import sys
import time

TOP = os.environ.get("POSTERN_TOP") or os.path.abspath(
    os.path.join(os.path.dirname(__file__), "..", ".."))
sys.path.insert(0, os.path.join(TOP, "tests", "lib"))

from tap import test, main, check_eq  # noqa: E402
from daemon import Daemon  # noqa: E402
from mta import stop_each  # noqa: E402
from partners import ReceivingPostfix, SendingPostfix  # noqa: E402
from sink import Sink  # noqa: E402
from smtp import build_message, send  # noqa: E402

S = {}
POLICY = """\
partner.example   min_version=TLSv1.2 direction=both
plain.example     direction=outbound
old.example       min_version=TLSv1.3 direction=outbound
"""


def setup():
    S.clear()
    S["sink"] = Sink().start()
    S["mx13"] = ReceivingPostfix(tls="TLSv1.3", relay_port=S["sink"].port).start()
    S["mxnone"] = ReceivingPostfix(tls="none", relay_port=S["sink"].port).start()
    S["mx12"] = ReceivingPostfix(tls="TLSv1.2", relay_port=S["sink"].port).start()
    pf = SendingPostfix(relay_port=S["sink"].port)
    base = os.path.join(pf.base, "postern")
    os.makedirs(base, exist_ok=True)
    S["policy"] = os.path.join(base, "tls_policy")
    with open(S["policy"], "w", encoding="utf-8") as f:
        f.write(POLICY)
    S["ledger"] = os.path.join(base, "ledger.db")
    d = Daemon("postern-tls", base=base, socket_dir=pf.socket_dir("tls"), config={
        "policy_file": S["policy"],
        "ledger_file": S["ledger"],
        "report_organization": "Postern Test",
        "report_contact": "tls-reports@postern.test",
    })
    r = d.run("postfix-map")
    assert r.returncode == 0, r.stderr
    table = os.path.join(base, "tls_policy_map")
    with open(table, "w", encoding="utf-8") as f:
        f.write(r.stdout)
    S["d"] = d.start()
    pf.milters = [d.spec]
    pf.settings["smtp_tls_policy_maps"] = f"texthash:{table}"
    pf.route("partner.example", S["mx13"])
    pf.route("plain.example", S["mxnone"])
    pf.route("old.example", S["mx12"])
    S["pf"] = pf.start()


def teardown():
    stop_each(*[S[n].shutdown for n in ("pf", "mx13", "mxnone", "mx12") if n in S],
              *[S[n].stop for n in ("sink", "d") if n in S])


def submit(sender, rcpt, starttls=True):
    pf = S["pf"]
    msg = build_message(sender, [rcpt], subject=f"to {rcpt}")
    return send("127.0.0.1", pf.port, sender, [rcpt], msg, starttls=starttls,
                cafile=pf.pki.ca_cert)


def tool(*args):
    r = S["d"].run(*args)
    check_eq(r.returncode, 0, f"postern-tls {' '.join(args)}: {r.stderr}")
    return r.stdout


@test
def traffic_in_both_directions():
    pf = S["pf"]
    # inbound: the partner's plain-text attempt is refused, its TLS one accepted
    r = submit("a@partner.example", "u@here.test", starttls=False)
    check_eq((r.stage, r.code), ("mail", 550), "plain text from partner.example")
    r = submit("a@partner.example", "u@here.test")
    check_eq(r.code, 250, f"TLS from partner.example: {r.text}")
    pf.wait_for_log(rf"{r.queue_id}: to=<u@here\.test>.*status=sent", timeout=30)
    # outbound: one message to each partner
    q = {}
    for rcpt in ("b@partner.example", "c@plain.example", "d@old.example"):
        r = submit("s@here.test", rcpt)
        check_eq(r.code, 250, f"submission to {rcpt}: {r.text}")
        q[rcpt] = r.queue_id
    pf.wait_for_log(rf"{q['b@partner.example']}: to=<b@partner\.example>.*status=sent",
                    timeout=30)
    pf.wait_for_log(rf"{q['c@plain.example']}: to=<c@plain\.example>.*status=deferred "
                    r"\(TLS is required, but was not offered", timeout=30)
    pf.wait_for_log(rf"{q['d@old.example']}: to=<d@old\.example>.*status=deferred", timeout=30)
    # hold what is deferred so no retry adds attempts while the test reads the log
    pf.postsuper("-h", "ALL", check=False)
    S["q"] = q


def deliveries(rcpt, status):
    """How many times the sending Postfix's log says it tried rcpt with status."""
    return len(re.findall(rf"postfix/smtp\[\d+\]: \w+: to=<{re.escape(rcpt)}>.*status={status}",
                          S["pf"].log_text()))


@test
def ledger_reads_postfix_log_once():
    log = S["pf"].maillog
    # Postfix's default smtp_tls_loglevel (0) logs no TLS session: refused, nothing counted
    r = S["d"].run("ledger", "--postfix-config", S["mx13"].config_dir, log)
    check_eq(r.returncode, 78, f"ledger with smtp_tls_loglevel = 0: {r.stderr}")
    assert "smtp_tls_loglevel is 0" in r.stderr, r.stderr
    out = tool("ledger", "--postfix-config", S["pf"].config_dir, log)
    m = re.search(r"(\d+) lines, (\d+) deliveries counted", out)
    assert m, out
    # every smtp(8) delivery to a partner, and only those (u@here.test has no rule)
    want = deliveries("b@partner.example", "sent") + deliveries("c@plain.example", "deferred") \
        + deliveries("d@old.example", "deferred")
    check_eq(int(m.group(2)), want, "deliveries counted")
    out = tool("ledger", "--postfix-config", S["pf"].config_dir, log)
    check_eq(re.search(r"(\d+) deliveries counted", out).group(1), "0", "second run: " + out)


def report_json(*args):
    return json.loads(tool("report", "--format", "json", *args))


@test
def report_counts_per_partner_and_direction():
    rep = report_json()
    parts = {p["domain"]: p for p in rep["partners"]}
    check_eq(sorted(parts), ["old.example", "partner.example", "plain.example"], "partners")
    p = parts["partner.example"]
    check_eq(p["inbound"]["results"], {"compliant": 1, "refused": 1}, "partner.example inbound")
    tls_in = [(x["result"], x["tls"]) for x in p["inbound"]["rows"]]
    check_eq(sorted(tls_in), [("compliant", "TLSv1.3"), ("refused", "none")],
             "partner.example inbound TLS")
    check_eq(p["outbound"]["results"], {"delivered": 1}, "partner.example outbound")
    row = p["outbound"]["rows"][0]
    check_eq((row["tls"], row["trust"], row["failure"], row["mx_host"]),
             ("TLSv1.3", "untrusted", "", "partner.example"), "partner.example delivery")
    assert row["cipher"].startswith("TLS_"), row
    n = deliveries("c@plain.example", "deferred")
    assert n >= 1
    p = parts["plain.example"]
    check_eq(p["inbound"]["sessions"], 0, "plain.example inbound")
    check_eq(p["outbound"]["results"], {"deferred": n}, "plain.example outbound")
    check_eq({x["failure"] for x in p["outbound"]["rows"]}, {"starttls-not-supported"},
             "plain.example failure")
    n = deliveries("d@old.example", "deferred")
    p = parts["old.example"]
    check_eq(p["outbound"]["results"], {"deferred": n}, "old.example outbound")
    check_eq({x["failure"] for x in p["outbound"]["rows"]}, {"validation-failure"},
             "old.example failure")
    # one partner, spelled as a user might
    rep = report_json("--partner", "PARTNER.Example.")
    check_eq([p["domain"] for p in rep["partners"]], ["partner.example"], "--partner")
    # today (0d) has all of it; a range that ended yesterday has none
    rep = report_json("--since", "0d", "--until", "0d")
    check_eq(len(rep["partners"]), 3, "today's report")
    rep = report_json("--until", "1d")
    check_eq(rep["partners"], [], "report until yesterday")
    text = tool("report", "--partner", "partner.example")
    assert "inbound   2 sessions: 1 compliant, 1 refused" in text, text
    assert "outbound  1 session: 1 delivered" in text, text


def member(obj, name, typ, where):
    assert name in obj, f"{where}: required member {name!r} missing in {obj}"
    v = obj[name]
    ok = isinstance(v, typ) and not (typ is int and isinstance(v, bool))
    assert ok, f"{where}: {name!r} is {type(v).__name__}, want {typ.__name__}"
    return v


DATETIME = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z$")
RESULT_TYPES = {"starttls-not-supported", "certificate-host-mismatch", "certificate-expired",
                "certificate-not-trusted", "validation-failure", "tlsa-invalid",
                "dnssec-invalid", "dane-required", "sts-policy-fetch-error",
                "sts-policy-invalid", "sts-webpki-invalid"}


@test
def rfc8460_report_has_every_required_member_and_type():
    rep = json.loads(tool("report", "--format", "rfc8460"))
    check_eq(member(rep, "organization-name", str, "report"), "Postern Test", "organization")
    rng = member(rep, "date-range", dict, "report")
    for k in ("start-datetime", "end-datetime"):
        assert DATETIME.match(member(rng, k, str, "date-range")), rng
    check_eq(member(rep, "contact-info", str, "report"), "tls-reports@postern.test", "contact")
    assert member(rep, "report-id", str, "report")
    pols = member(rep, "policies", list, "report")
    by_domain = {}
    for p in pols:
        pol = member(p, "policy", dict, "policies[]")
        ptype = member(pol, "policy-type", str, "policy")
        assert ptype in ("sts", "tlsa", "no-policy-found"), ptype
        strings = member(pol, "policy-string", list, "policy")
        assert all(isinstance(s, str) for s in strings), strings
        domain = member(pol, "policy-domain", str, "policy")
        mx = member(pol, "mx-host", list, "policy")
        assert all(isinstance(s, str) for s in mx), mx
        summ = member(p, "summary", dict, "policies[]")
        ok = member(summ, "total-successful-session-count", int, "summary")
        bad = member(summ, "total-failure-session-count", int, "summary")
        failed = 0
        for fd in member(p, "failure-details", list, "policies[]"):
            assert member(fd, "result-type", str, "failure-details[]") in RESULT_TYPES, fd
            failed += member(fd, "failed-session-count", int, "failure-details[]")
            for opt in ("receiving-mx-hostname", "failure-reason-code"):
                if opt in fd:
                    assert isinstance(fd[opt], str), fd
        check_eq(failed, bad, f"{domain}: failure details add up")
        by_domain[domain] = (ptype, ok, bad, strings)
    check_eq(sorted(by_domain), ["old.example", "partner.example", "plain.example"], "policies")
    check_eq(by_domain["partner.example"][:3], ("no-policy-found", 1, 0), "partner.example")
    check_eq(by_domain["plain.example"][:3],
             ("no-policy-found", 0, deliveries("c@plain.example", "deferred")), "plain.example")
    assert "min_version: TLSv1.2" in by_domain["partner.example"][3], by_domain
    # inbound refusals are no outbound TLS sessions: not in the RFC 8460 report
    check_eq(by_domain["partner.example"][2], 0, "inbound refusal not reported")


@test
def ledger_follow_counts_new_deliveries_until_sigterm():
    d, pf = S["d"], S["pf"]
    d.write_config()
    p = subprocess.Popen(d.command("ledger", "--follow", "--interval", "1",
                                   "--postfix-config", pf.config_dir, pf.maillog),
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        r = submit("s@here.test", "e@partner.example")
        check_eq(r.code, 250, r.text)
        pf.wait_for_log(rf"{r.queue_id}: to=<e@partner\.example>.*status=sent", timeout=30)
        deadline = time.monotonic() + 30
        while True:
            out = report_json("--partner", "partner.example")["partners"][0]["outbound"]
            if out["results"].get("delivered") == 2:
                break
            assert time.monotonic() < deadline, f"--follow did not count the delivery: {out}"
            time.sleep(0.2)
    finally:
        p.send_signal(signal.SIGTERM)
        _, err = p.communicate(timeout=30)
    check_eq(p.returncode, 0, f"ledger --follow after SIGTERM: {err}")


@test
def mail_flows_when_the_ledger_cannot_be_written():
    d, pf = S["d"], S["pf"]
    d.reload_and_wait({"ledger_file": "/nonexistent/postern/ledger.db"})
    try:
        r = submit("a@partner.example", "u@here.test")
        check_eq(r.code, 250, f"TLS from partner.example with a broken ledger: {r.text}")
        pf.wait_for_log(rf"{r.queue_id}: to=<u@here\.test>.*status=sent", timeout=30)
        d.wait_for_log("tls: ledger: count for partner.example lost (1 so far): ledger "
                       "/nonexistent/postern/ledger.db: cannot open")
    finally:
        d.reload_and_wait({"ledger_file": S["ledger"]})


@test
def bad_arguments_get_a_clear_error():
    d = S["d"]
    for args, what in ((("report", "--since", "last week"), "--since"),
                       (("report", "--format", "xml"), "--format"),
                       (("report", "--partner", "a..b"), "--partner")):
        r = d.run(*args)
        check_eq(r.returncode, 64, f"{args}: {r.stderr}")
        assert what in r.stderr, r.stderr
    r = d.run("ledger", "--postfix-config", S["pf"].config_dir, "/nonexistent/maillog")
    assert r.returncode != 0 and "/nonexistent/maillog" in r.stderr, r.stderr


if __name__ == "__main__":
    main(setup, teardown)
