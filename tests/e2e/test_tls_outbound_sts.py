#!/usr/bin/env python3
# SPDX-License-Identifier: BSD-2-Clause
"""End-to-end: MTA-STS answers reaching Postfix through postern-tls's
policy socketmap. The partner side runs here on 127.0.0.1
(tests/lib/sts_servers.py): dnsmasq with the _mta-sts TXT records and
an HTTPS server with test-CA certificates for mta-sts.DOMAIN; the
daemon reaches them through sts_resolver, sts_https_port and
sts_ca_file. A sending private Postfix asks the daemon's socketmap
(smtp_tls_policy_maps = socketmap:unix:PATH:postfix) and delivers by
name to partner MX servers that are private Postfix instances
(tests/lib/partners.py), so no lookup of Postfix's leaves the machine.

Checked in the sending Postfix's own log: an enforce policy that lists
the MX, whose certificate verifies, is delivered over a verified
session; an enforce policy that does not list the MX is deferred with
Postfix's certificate reason; a static partner rule wins over the
partner's published policy; and the daemon logs which MTA-STS policy
it answered from."""
import json
import os
import re
import shutil
import sys
import tempfile

TOP = os.environ.get("POSTERN_TOP") or os.path.abspath(
    os.path.join(os.path.dirname(__file__), "..", ".."))
sys.path.insert(0, os.path.join(TOP, "tests", "lib"))

from tap import test, main, check_eq  # noqa: E402
from certs import make_pki  # noqa: E402
from daemon import Daemon  # noqa: E402
from mta import stop_each  # noqa: E402
from partners import ReceivingPostfix, SendingPostfix  # noqa: E402
from sink import Sink  # noqa: E402
from smtp import build_message, send  # noqa: E402
from sts_servers import DNSMASQ, Dns, PolicyServer, policy_cert  # noqa: E402

S = {}
DOMAINS = ["enforce.test", "mismatch.test", "static.test", "testing.test"]
ENFORCE = ("version: STSv1\nmode: enforce\nmx: mx.postern.test\nmx: *.enforce.test\n"
           "max_age: 86400\n")
POLICY = """\
enforce.test   outbound=sts
mismatch.test  outbound=sts
static.test    outbound=encrypt min_version=TLSv1.3
testing.test   outbound=sts
"""


def setup():
    if not os.path.exists(DNSMASQ):
        raise RuntimeError("dnsmasq missing: apt-get install dnsmasq-base")
    S["dir"] = d = tempfile.mkdtemp(prefix="postern-smap-sts-")
    os.chmod(d, 0o755)
    S["pki"] = pki = make_pki(os.path.join(d, "pki"))
    good = policy_cert(pki, os.path.join(d, "web"), [f"mta-sts.{x}" for x in DOMAINS])
    S["web"] = web = PolicyServer(*good)
    web.policies["enforce.test"] = ENFORCE
    web.policies["mismatch.test"] = ENFORCE.replace("mx.postern.test", "mx.other.test")
    web.policies["static.test"] = ENFORCE
    # testing mode, and a policy that does not list the MX
    web.policies["testing.test"] = ENFORCE.replace("mode: enforce", "mode: testing").replace(
        "mx.postern.test", "mx.other.test").replace("*.enforce.test", "*.testing.test")
    web.start()
    S["dns"] = Dns(os.path.join(d, "dns")).start(
        txt={f"_mta-sts.{x}": "v=STSv1; id=1" for x in DOMAINS},
        a={f"mta-sts.{x}": "127.0.0.1" for x in DOMAINS},
        mx={x: "mx.postern.test" for x in DOMAINS})
    S["sink"] = sink = Sink(os.path.join(d, "sink")).start()
    # the MX servers show the test PKI's server certificate (mx.postern.test)
    S["mx13"] = ReceivingPostfix(tls="any", relay_port=sink.port, pki=pki).start()
    S["mx12"] = ReceivingPostfix(tls="TLSv1.2", relay_port=sink.port, pki=pki).start()
    S["pf"] = pf = SendingPostfix(pki=pki, relay_port=sink.port,
                                  settings={"smtp_tls_CAfile": pki.ca_cert})
    base = pf.daemon_base("tls")
    policy = os.path.join(base, "tls_policy")
    with open(policy, "w") as f:
        f.write(POLICY)
    sockdir = pf.socket_dir("tls")
    smap = os.path.join(sockdir, "tls-policy.sock")
    S["d"] = Daemon("postern-tls", base=base, socket_dir=sockdir, config={
        "policy_file": policy,
        "policy_socketmap": "unix:" + smap,
        "sts_enable": "yes",
        "sts_resolver": f"127.0.0.1:{S['dns'].port}",
        "sts_ca_file": pki.ca_cert,
        "sts_https_port": str(web.port),
        "sts_cache_file": os.path.join(base, "mta-sts.cache"),
        "sts_lookup_timeout": "10s",
        "sts_fetch_timeout": "10s",
        "ledger_file": os.path.join(base, "ledger.db"),
    }).start()
    pf.settings["smtp_tls_policy_maps"] = f"socketmap:unix:{smap}:postfix"
    pf.route("enforce.test", S["mx13"])
    pf.route("mismatch.test", S["mx13"])
    pf.route("static.test", S["mx12"])
    pf.route("testing.test", S["mx13"])
    pf.start()


def teardown():
    try:
        stop_each(*[S[k].shutdown for k in ("pf", "mx13", "mx12") if S.get(k)],
                  *[S[k].stop for k in ("sink", "d", "web", "dns") if S.get(k)])
    finally:
        if S.get("dir"):
            shutil.rmtree(S["dir"], ignore_errors=True)


def submit(rcpt):
    r = send("127.0.0.1", S["pf"].port, "a@sender.test", [rcpt],
             build_message("a@sender.test", [rcpt], subject=f"to {rcpt}"))
    assert r.ok and r.queue_id, r
    return r.queue_id


def outcome(qid, timeout=60):
    m = S["pf"].wait_for_log(rf"{qid}: to=<[^>]*>, relay=.*status=(sent|deferred|bounced) "
                             r"\((.*)\)$", timeout=timeout)
    return m.group(1), m.group(2)


@test
def enforce_policy_listing_the_mx_is_delivered_over_a_verified_session():
    qid = submit("b@enforce.test")
    status, _ = outcome(qid)
    check_eq(status, "sent", "status")
    assert re.search(r"Verified TLS connection established to enforce\.test\[127\.0\.0\.1\]",
                     S["pf"].log_text()), S["pf"].log_text()[-2000:]
    S["d"].wait_for_log("socketmap: enforce.test: MTA-STS enforce: secure "
                        "match=mx.postern.test:.enforce.test")
    check_eq(S["web"].hits.get("enforce.test"), 1, "one HTTPS policy fetch")


@test
def enforce_policy_not_listing_the_mx_is_deferred():
    qid = submit("b@mismatch.test")
    status, reason = outcome(qid)
    print(f"# mismatch.test: {status} ({reason})")
    check_eq(status, "deferred", "status")
    assert "certificate" in reason.lower() or "verif" in reason.lower(), reason
    assert not any(m.msg["Subject"] == "to b@mismatch.test" for m in S["sink"].messages())


@test
def a_static_rule_wins_over_the_published_policy():
    # static.test publishes the same enforce policy, which the TLS 1.2 MX
    # with its verified certificate would meet; the static rule needs TLS 1.3
    qid = submit("b@static.test")
    status, reason = outcome(qid)
    check_eq(status, "deferred", "status")
    assert reason.startswith("Cannot start TLS: handshake failure"), reason
    assert S["web"].hits.get("static.test") is None, S["web"].hits


@test
def testing_policy_delivers_what_enforce_would_defer():
    qid = submit("b@testing.test")
    status, _ = outcome(qid)
    check_eq(status, "sent", "status")
    S["d"].wait_for_log("socketmap: testing.test: MTA-STS")


@test
def the_rfc8460_report_names_the_published_policy_where_it_applied():
    # the ledger reads the sending Postfix's own log of the sessions above
    d, pf = S["d"], S["pf"]
    r = d.run("ledger", "--postfix-config", pf.config_dir, pf.maillog)
    check_eq(r.returncode, 0, f"ledger: {r.stderr}")
    r = d.run("report", "--format", "rfc8460")
    check_eq(r.returncode, 0, f"report: {r.stderr}")
    pol = {p["policy"]["policy-domain"]: p for p in json.loads(r.stdout)["policies"]}
    enforce = pol["enforce.test"]["policy"]
    check_eq(enforce["policy-type"], "sts", "enforce.test policy-type")
    check_eq(enforce["mx-host"], ["mx.postern.test", "*.enforce.test"], "enforce.test mx-host")
    assert "mode: enforce" in enforce["policy-string"], enforce["policy-string"]
    check_eq(pol["enforce.test"]["summary"]["total-successful-session-count"], 1,
             "enforce.test sessions delivered over TLS")
    assert pol["mismatch.test"]["summary"]["total-failure-session-count"] >= 1, pol
    check_eq(pol["mismatch.test"]["policy"]["policy-type"], "sts", "mismatch.test policy-type")
    # testing: delivered, and reported as what enforce would have refused
    testing = pol["testing.test"]
    check_eq(testing["policy"]["policy-type"], "sts", "testing.test policy-type")
    check_eq(testing["summary"]["total-failure-session-count"], 1, "testing.test failures")
    check_eq([d["result-type"] for d in testing["failure-details"]], ["validation-failure"],
             "testing.test failure type")
    # the static rule won for static.test: no published policy applied
    check_eq(pol["static.test"]["policy"]["policy-type"], "no-policy-found",
             "static.test policy-type")


if __name__ == "__main__":
    main(setup, teardown)
