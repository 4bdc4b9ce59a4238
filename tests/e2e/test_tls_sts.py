#!/usr/bin/env python3
# SPDX-License-Identifier: BSD-2-Clause
"""End-to-end: postern-tls's MTA-STS (RFC 8461) against real servers on
127.0.0.1 started here: dnsmasq answering the _mta-sts TXT, MX and A
records of the test domains, and an HTTPS server presenting test-CA
certificates for mta-sts.DOMAIN (and, by SNI, an untrusted CA's
certificate or one for another name). postern-tls reaches both through
sts_resolver = 127.0.0.1:PORT and sts_https_port, trusting the test CA
through sts_ca_file; nothing touches /etc/resolv.conf.

What an administrator checks with `postern-tls sts DOMAIN` (the same
lookup, fetch and cache the socketmap answers from): the Postfix answer
for enforce, none for testing, refusal of an unverifiable policy host,
a re-fetch exactly when the TXT id changes, and the cache file keeping
a policy across a restart while DNS and HTTPS are down."""
import os
import re
import shutil
import sys
import tempfile

TOP = os.environ.get("POSTERN_TOP") or os.path.abspath(
    os.path.join(os.path.dirname(__file__), "..", ".."))
sys.path.insert(0, os.path.join(TOP, "tests", "lib"))

from tap import test, main, check_eq, skip  # noqa: E402
from daemon import binary  # noqa: E402
from certs import make_pki  # noqa: E402
from sts_servers import Dns, ForgingDns, PolicyServer, policy_cert, DNSMASQ  # noqa: E402

S = {}
DOMAINS = ["enforce.test", "testing.test", "rogue.test", "wrongname.test", "bad.test",
           "changing.test", "static.test", "mismatch.test", "untrusted.test",
           "huge.test", "redirect.test", "chunked.test", "html.test", "slow.test",
           "bigtxt.test", "forged.test"]
ENFORCE = ("version: STSv1\nmode: enforce\nmx: mx.postern.test\nmx: *.enforce.test\n"
           "max_age: 86400\n")


def records(ids):
    txt = {f"_mta-sts.{d}": f"v=STSv1; id={ids.get(d, '1')}" for d in DOMAINS}
    txt["_mta-sts.nosts.test"] = "v=spf1 -all"   # a TXT that is not an STS record
    # among site-verification records: the answer passes 512 bytes (TCP)
    txt["_mta-sts.bigtxt.test"] = ["v=STSv1; id=7"] + [
        f"site-verification={n}-" + "x" * 90 for n in range(12)]
    a = {f"mta-sts.{d}": "127.0.0.1" for d in DOMAINS}
    mx = {d: "mx.postern.test" for d in DOMAINS}
    return txt, a, mx


def write_conf(name="tls.conf", fetch_timeout="10s", resolver=None, cache=None):
    conf = os.path.join(S["dir"], name)
    with open(conf, "w") as f:
        f.write(f"policy_file = {S['policy']}\n"
                "sts_enable = yes\nsts_all_domains = yes\n"
                f"sts_resolver = {resolver or '127.0.0.1:' + str(S['dns'].port)}\n"
                f"sts_ca_file = {S['pki'].ca_cert}\n"
                f"sts_https_port = {S['web'].port}\n"
                f"sts_cache_file = {cache or S['cache']}\n"
                f"sts_fetch_timeout = {fetch_timeout}\nsts_lookup_timeout = 10s\n")
    return conf


def sts(domain, conf=None):
    import subprocess
    r = subprocess.run([binary("postern-tls"), "-c", conf or S["conf"], "sts", domain],
                       capture_output=True, text=True, timeout=60)
    return r.returncode, r.stdout + r.stderr


def setup():
    if not os.path.exists(DNSMASQ):
        raise RuntimeError("dnsmasq missing: apt-get install dnsmasq-base")
    S["dir"] = tempfile.mkdtemp(prefix="postern-sts-")
    S["pki"] = pki = make_pki(os.path.join(S["dir"], "pki"))
    certs = os.path.join(S["dir"], "web")
    good = policy_cert(pki, certs, [f"mta-sts.{d}" for d in DOMAINS if d != "wrongname.test"])
    rogue = policy_cert(pki, certs, ["mta-sts.rogue.test"], ca="rogue-ca", tag="rogue")
    other = policy_cert(pki, certs, ["mta-sts.elsewhere.test"], tag="other")
    S["web"] = PolicyServer(*good, extra={"mta-sts.rogue.test": rogue,
                                          "mta-sts.wrongname.test": other})
    pol = S["web"].policies
    pol["enforce.test"] = ENFORCE
    pol["testing.test"] = ENFORCE.replace("enforce\n", "testing\n")
    pol["rogue.test"] = ENFORCE
    pol["wrongname.test"] = ENFORCE
    pol["bad.test"] = "version: STSv1\nmode: bogus\nmx: mx.postern.test\nmax_age: 60\n"
    pol["changing.test"] = ENFORCE.replace("*.enforce.test", "mx1.changing.test")
    pol["static.test"] = ENFORCE
    pol["mismatch.test"] = ENFORCE.replace("mx.postern.test", "mx.other.test")
    pol["untrusted.test"] = ENFORCE
    pol["huge.test"] = ENFORCE + "x-pad: " + "y" * 70000 + "\n"
    pol["redirect.test"] = {"status": 301, "headers": {"Location": "https://mta-sts.enforce.test/"
                                                       ".well-known/mta-sts.txt"}}
    pol["chunked.test"] = {"body": ENFORCE, "chunked": True}
    pol["html.test"] = {"body": ENFORCE, "type": "text/html"}
    pol["slow.test"] = {"body": ENFORCE, "stall": 4}
    pol["bigtxt.test"] = ENFORCE
    pol["forged.test"] = ENFORCE
    S["web"].start()
    S["dns"] = Dns(os.path.join(S["dir"], "dns")).start(*records({}))
    S["policy"] = os.path.join(S["dir"], "tls_policy")
    with open(S["policy"], "w") as f:
        f.write("static.test outbound=secure match=mx.static.test\n"
                "enforce.test outbound=sts\n")
    S["cache"] = os.path.join(S["dir"], "mta-sts.cache")
    S["conf"] = write_conf()


def teardown():
    if S.get("daemon"):
        S["daemon"].stop()
    for k in ("sender", "mx_trusted", "mx_untrusted"):
        if S.get(k):
            S[k].stop()
            S[k].cleanup()
    if S.get("sink"):
        S["sink"].stop()
    for k in ("web", "dns"):
        if S.get(k):
            S[k].stop()
    if S.get("dir"):
        shutil.rmtree(S["dir"], ignore_errors=True)


@test
def enforce_policy_becomes_postfix_secure_match():
    rc, out = sts("Enforce.Test.")      # case and trailing dot: the same domain
    check_eq(rc, 0, out)
    assert "postfix: secure match=mx.postern.test:.enforce.test servername=hostname" in out, out
    assert "enforce, id 1" in out, out
    assert "mx mx.postern.test: matches the policy" in out, out   # the MX record, RFC 8461 4.1
    check_eq(S["web"].hits.get("enforce.test"), 1, "one HTTPS fetch")


@test
def mx_not_in_policy_is_reported():
    rc, out = sts("mismatch.test")
    check_eq(rc, 0, out)
    assert "mx mx.postern.test: does NOT match the policy (enforce: no delivery there)" in out, out


@test
def testing_policy_is_fetched_but_not_enforced():
    rc, out = sts("testing.test")
    check_eq(rc, 0, out)
    assert "testing, id 1" in out and "not enforced" in out, out
    assert "postfix: NOTFOUND" in out, out


def answer_of(out):
    """The Postfix answer line the sts tool printed: the table value, or None."""
    m = re.search(r"^postfix: (.*)$", out, re.M)
    assert m, out
    return None if m.group(1).startswith("NOTFOUND") else m.group(1)


@test
def postfix_delivers_or_defers_by_the_sts_answer():
    """Real Postfix deliveries on the answers: enforce to an MX whose
    verified certificate names a policy mx is delivered; to an MX the
    policy does not list, or whose certificate does not verify, deferred
    with Postfix's TLS reason; testing delivers to that unverifiable MX.
    The socketmap server (helper smap) is not merged yet: the answers
    reach Postfix through a texthash smtp_tls_policy_maps table written
    from `postern-tls sts` output (same strings the socketmap returns)."""
    from partners import ReceivingPostfix, SendingPostfix
    from sink import Sink
    from smtp import build_message, send
    table = os.path.join(S["dir"], "sts_policy_table")
    lines = []
    for d in ("enforce.test", "mismatch.test", "untrusted.test", "testing.test"):
        rc, out = sts(d)
        a = answer_of(out)
        if a is not None:
            lines.append(f"{d} {a}\n")
    check_eq(len(lines), 3, "enforce answers (testing is NOTFOUND)")
    with open(table, "w") as f:
        f.writelines(lines)
    S["sink"] = sink = Sink(os.path.join(S["dir"], "sink")).start()
    # same test CA as the sender trusts; the other has a CA of its own
    S["mx_trusted"] = ReceivingPostfix(tls="any", relay_port=sink.port, pki=S["pki"]).start()
    S["mx_untrusted"] = ReceivingPostfix(tls="any", relay_port=sink.port).start()
    S["sender"] = pf = SendingPostfix(
        pki=S["pki"], relay_port=sink.port,
        settings={"smtp_tls_CAfile": S["pki"].ca_cert,
                  "smtp_tls_policy_maps": f"texthash:{table}"})
    pf.route("enforce.test", S["mx_trusted"])
    pf.route("mismatch.test", S["mx_trusted"])
    pf.route("untrusted.test", S["mx_untrusted"])
    pf.route("testing.test", S["mx_untrusted"])
    pf.start()
    qids = {}
    for d in ("enforce.test", "mismatch.test", "untrusted.test", "testing.test"):
        r = send("127.0.0.1", pf.port, "a@sender.test", [f"b@{d}"],
                 build_message("a@sender.test", [f"b@{d}"]))
        assert r.ok and r.queue_id, r
        qids[d] = r.queue_id
    pf.wait_for_log(pf.sent_line(qids["enforce.test"]), timeout=60)
    assert re.search(r"Verified TLS connection established to enforce\.test", pf.log_text()), \
        pf.log_text()[-2000:]
    why = pf.deferred_reason(qids["mismatch.test"], timeout=60)
    print(f"# mismatch.test deferred: {why}")
    assert "certificate" in why.lower() or "verif" in why.lower(), why
    why = pf.deferred_reason(qids["untrusted.test"], timeout=60)
    print(f"# untrusted.test deferred: {why}")
    assert "certificate" in why.lower() or "verif" in why.lower(), why
    pf.wait_for_log(pf.sent_line(qids["testing.test"]), timeout=60)
    # what the report counts as a failure of the testing policy: the MX's
    # certificate did not verify, and Postfix says so
    assert re.search(r"Untrusted TLS connection established to testing\.test", pf.log_text()), \
        pf.log_text()[-2000:]


@test
def untrusted_ca_is_refused():
    rc, out = sts("rogue.test")
    check_eq(rc, 1, out)
    assert "certificate verify failed" in out, out
    assert "postfix: NOTFOUND" in out, out


@test
def certificate_for_another_name_is_refused():
    rc, out = sts("wrongname.test")
    check_eq(rc, 1, out)
    assert "certificate verify failed" in out, out
    assert "postfix: NOTFOUND" in out, out


@test
def malformed_policy_is_refused_with_the_reason():
    rc, out = sts("bad.test")
    check_eq(rc, 1, out)
    assert 'mode "bogus"' in out, out
    assert "postfix: NOTFOUND" in out, out


@test
def hostile_policy_servers_are_refused():
    for domain, reason in (("huge.test", "larger than 65536 bytes"),
                           ("redirect.test", "HTTP status 301"),
                           ("html.test", "Content-Type is not text/plain")):
        rc, out = sts(domain)
        check_eq(rc, 1, out)
        assert reason in out, out
        assert "postfix: NOTFOUND" in out, out
    check_eq(S["web"].hits.get("enforce.test"), 1, "the redirect was not followed")
    rc, out = sts("chunked.test")         # chunked transfer coding is fine
    check_eq(rc, 0, out)
    assert "postfix: secure match=mx.postern.test:.enforce.test servername=hostname" in out, out


@test
def a_server_that_stalls_is_given_up_on():
    conf = write_conf("tls-fast.conf", fetch_timeout="1s")
    rc, out = sts("slow.test", conf)
    check_eq(rc, 1, out)
    assert "timed out after 1000 ms during reading the response" in out, out
    assert "postfix: NOTFOUND" in out, out


@test
def no_sts_record_means_no_policy():
    rc, out = sts("nosts.test")
    check_eq(rc, 1, out)
    assert "no _mta-sts TXT record" in out, out
    check_eq(S["web"].hits.get("nosts.test"), None, "no HTTPS fetch without a TXT record")
    rc, out = sts("nothing-at-all.test")
    assert "no _mta-sts TXT record" in out, out


@test
def an_ipv6_resolver_gives_the_same_answer():
    if not S["dns"].ipv6:
        skip("no IPv6 loopback on this host")
    conf = write_conf("ipv6.conf", resolver=f"[::1]:{S['dns'].port}",
                      cache=os.path.join(S["dir"], "ipv6.cache"))
    rc, out = sts("enforce.test", conf)
    check_eq(rc, 0, out)
    assert "postfix: secure match=mx.postern.test:.enforce.test servername=hostname" in out, out
    with open(S["dns"].log) as f:
        assert "query[TXT] _mta-sts.enforce.test from ::1" in f.read(), "asked over IPv6"


@test
def a_truncated_answer_is_asked_again_over_tcp():
    rc, out = sts("bigtxt.test")
    check_eq(rc, 0, out)
    assert "enforce, id 7" in out, out


@test
def forged_dns_answers_are_not_believed():
    """an off-path forger racing the resolver: a wrong query id, or the
    right id for another question, carries another policy id"""
    fake = ForgingDns({"_mta-sts.forged.test": ("v=STSv1; id=true1", "v=STSv1; id=forged1")})
    fake.start()
    try:
        conf = write_conf("forged.conf", resolver=f"127.0.0.1:{fake.port}",
                          cache=os.path.join(S["dir"], "forged.cache"))
        rc, out = sts("forged.test", conf)
    finally:
        fake.stop()
    check_eq(rc, 0, out)
    assert "enforce, id true1" in out, out
    assert "forged1" not in out, out


@test
def static_rule_wins_over_published_policy():
    rc, out = sts("static.test")
    assert "static policy" in out and "wins" in out, out


@test
def same_id_no_refetch_changed_id_refetches():
    rc, out = sts("changing.test")
    check_eq(rc, 0, out)
    assert "match=mx.postern.test:mx1.changing.test " in out, out
    check_eq(S["web"].hits.get("changing.test"), 1)
    rc, out = sts("changing.test")          # same id: the cached policy stands
    check_eq(rc, 0, out)
    check_eq(S["web"].hits.get("changing.test"), 1, "no re-fetch for the same id")
    S["web"].policies["changing.test"] = ENFORCE.replace("*.enforce.test", "mx2.changing.test")
    rc, out = sts("changing.test")          # the server changed, the id did not
    assert "mx1.changing.test" in out, out
    S["dns"].restart(*records({"changing.test": "2"}))
    rc, out = sts("changing.test")
    check_eq(rc, 0, out)
    check_eq(S["web"].hits.get("changing.test"), 2, "re-fetched for the new id")
    assert "match=mx.postern.test:mx2.changing.test " in out and "id 2" in out, out


@test
def cache_survives_restart_with_dns_and_https_down():
    with open(S["cache"]) as f:
        cache = f.read()
    assert "enforce.test 1 " in cache and "changing.test 2 " in cache, cache
    assert "rogue.test" not in cache, cache
    S["web"].stop()
    S["dns"].stop()
    rc, out = sts("enforce.test")            # a new process: only the file knows
    assert "keeping the cached policy" in out or "DNS" in out, out
    assert "postfix: secure match=mx.postern.test:.enforce.test servername=hostname" in out, out
    assert "(cache)" in out, out


@test
def damaged_cache_file_is_ignored_not_fatal():
    with open(S["cache"], "a") as f:
        f.write("enforce.test x\n\x01garbage\n")
    rc, out = sts("testing.test")
    assert "malformed" in out, out
    assert "postfix: NOTFOUND" in out, out


def restart_servers():
    """DNS and HTTPS back up (after the cache test took them down)."""
    if S["dns"].proc is None:
        S["dns"].start(*records({"changing.test": "2"}))
    if S["web"].httpd is None:
        old = S["web"]
        S["web"] = PolicyServer(*old.certs, extra=old.extra_files)
        S["web"].policies.update(old.policies)
        S["web"].start()


def postmap_q(domain):
    pf = S["sender"]
    q = pf._cmd(["postmap", "-c", pf.config_dir, "-q", domain,
                 f"socketmap:unix:{S['smap']}:postfix"], check=False)
    return q.returncode, q.stdout.strip()


@test
def daemon_socketmap_answers_from_mta_sts():
    """The serving daemon: Postfix asks the policy socketmap, which answers
    from MTA-STS (sts_all_domains), and a static line wins."""
    from daemon import Daemon
    from partners import ReceivingPostfix, SendingPostfix
    from sink import Sink
    from smtp import build_message, send
    restart_servers()
    for k in ("sender", "mx_trusted", "mx_untrusted"):
        if S.get(k):
            S[k].stop()
            S[k].cleanup()
            S[k] = None
    if S.get("sink"):
        S["sink"].stop()
    S["sink"] = sink = Sink(os.path.join(S["dir"], "sink2")).start()
    S["mx_trusted"] = ReceivingPostfix(tls="any", relay_port=sink.port, pki=S["pki"]).start()
    S["mx_untrusted"] = ReceivingPostfix(tls="any", relay_port=sink.port).start()
    pf = SendingPostfix(pki=S["pki"], relay_port=sink.port,
                        settings={"smtp_tls_CAfile": S["pki"].ca_cert})
    S["sender"] = pf
    base = pf.daemon_base("tls")
    sockdir = pf.socket_dir("tls")
    S["smap"] = os.path.join(sockdir, "tls-policy.sock")
    S["dcache"] = os.path.join(base, "mta-sts.cache")
    S["daemon"] = Daemon("postern-tls", base=base, socket_dir=sockdir, config={
        "policy_file": S["policy"],
        "policy_socketmap": "unix:" + S["smap"],
        "log_level": "debug",
        "sts_enable": "yes", "sts_all_domains": "yes",
        "sts_resolver": f"127.0.0.1:{S['dns'].port}",
        "sts_ca_file": S["pki"].ca_cert,
        "sts_https_port": str(S["web"].port),
        "sts_cache_file": S["dcache"],
        "sts_lookup_timeout": "10s",
        "sts_refresh_interval": "1s",   # so the id check below comes soon
    }).start()
    pf.settings["smtp_tls_policy_maps"] = f"socketmap:unix:{S['smap']}:postfix"
    for d in ("enforce.test", "mismatch.test", "static.test"):
        pf.route(d, S["mx_trusted"])
    for d in ("untrusted.test", "testing.test"):
        pf.route(d, S["mx_untrusted"])
    pf.start()
    check_eq(postmap_q("enforce.test"),
             (0, "secure match=mx.postern.test:.enforce.test servername=hostname"), "postmap -q")
    check_eq(postmap_q("testing.test"), (1, ""), "testing: not found")
    check_eq(postmap_q("static.test"), (0, "secure match=mx.static.test"), "static line wins")
    qids = {}
    for d in ("enforce.test", "mismatch.test", "untrusted.test", "testing.test", "static.test"):
        r = send("127.0.0.1", pf.port, "a@sender.test", [f"b@{d}"],
                 build_message("a@sender.test", [f"b@{d}"], subject=f"sts {d}"))
        assert r.ok and r.queue_id, r
        qids[d] = r.queue_id
    pf.wait_for_log(pf.sent_line(qids["enforce.test"]), timeout=60)
    pf.wait_for_log(pf.sent_line(qids["testing.test"]), timeout=60)
    for d in ("mismatch.test", "untrusted.test", "static.test"):
        why = pf.deferred_reason(qids[d], timeout=60)
        print(f"# {d} deferred: {why}")
        assert "certificate" in why.lower() or "verif" in why.lower(), why
    log = S["daemon"].log()
    assert "mta-sts enforce.test: policy id 1 fetched: mode enforce" in log, log[-3000:]


@test
def daemon_refetches_when_the_id_changes():
    """The running daemon re-checks the TXT id (sts_refresh_interval) and
    fetches the policy again only when it changed; Postfix's next lookup
    gets the new policy."""
    import time
    web = S["web"]
    old = "secure match=mx.postern.test:.enforce.test servername=hostname"
    new = "secure match=mx.postern.test:mx.changed.test servername=hostname"
    web.policies["enforce.test"] = ENFORCE.replace("*.enforce.test", "mx.changed.test")
    hits = web.hits.get("enforce.test", 0)
    # same id: lookups over more than one refresh interval keep the policy
    deadline = time.monotonic() + 3
    while time.monotonic() < deadline:
        check_eq(postmap_q("enforce.test"), (0, old), "same id, cached policy")
        time.sleep(0.2)
    check_eq(web.hits.get("enforce.test", 0), hits, "no fetch for the same id")
    S["dns"].restart(*records({"changing.test": "2", "enforce.test": "2"}))
    deadline = time.monotonic() + 30
    got = None
    while time.monotonic() < deadline:
        got = postmap_q("enforce.test")
        if got == (0, new):
            break
        time.sleep(0.2)
    check_eq(got, (0, new), "new id: the new policy")
    check_eq(web.hits.get("enforce.test", 0), hits + 1, "exactly one fetch for the new id")
    assert "mta-sts enforce.test: policy id 2 fetched" in S["daemon"].log()


@test
def daemon_cache_survives_restart():
    """Restart the daemon with DNS and HTTPS gone: the cache file still
    makes Postfix refuse the MX the policy does not list."""
    from smtp import build_message, send
    with open(S["dcache"]) as f:
        text = f.read()
    assert "enforce.test 2 " in text and "mismatch.test 1 " in text, text
    S["daemon"].stop()
    S["web"].stop()
    S["dns"].stop()
    S["daemon"].start()
    check_eq(postmap_q("mismatch.test"),
             (0, "secure match=mx.other.test:.enforce.test servername=hostname"),
             "answered from the cache file")
    pf = S["sender"]
    mark = len(pf.log_text())
    r = send("127.0.0.1", pf.port, "a@sender.test", ["b@mismatch.test"],
             build_message("a@sender.test", ["b@mismatch.test"], subject="after restart"))
    assert r.ok and r.queue_id, r
    why = pf.deferred_reason(r.queue_id, timeout=60, since=mark)
    assert "certificate" in why.lower() or "verif" in why.lower(), why


if __name__ == "__main__":
    if not os.path.exists(DNSMASQ):
        print("1..0 # SKIP dnsmasq missing (apt-get install dnsmasq-base)")
        sys.exit(0)
    main(setup, teardown)
