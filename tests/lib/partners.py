# SPDX-License-Identifier: BSD-2-Clause
"""partners - outbound TLS tests: partner MX servers and a sending Postfix
that reaches them by their domain names, all on 127.0.0.1.

    from partners import ReceivingPostfix, SendingPostfix
    from sink import Sink
    sink = Sink(dir).start()
    mx = ReceivingPostfix(tls="TLSv1.2", relay_port=sink.port).start()
    pf = SendingPostfix(settings={"smtp_tls_policy_maps": "socketmap:..."})
    pf.route("partner.example", mx)          # before or after start()
    pf.start()
    r = smtp.send("127.0.0.1", pf.port, "a@here.test", ["b@partner.example"], msg)
    pf.wait_for_log(pf.sent_line(r.queue_id))   # or status=deferred
    mx.tls_sessions()                          # what the MX negotiated

ReceivingPostfix(tls=..., relay_port=..., **PrivatePostfix arguments):
a partner's MX. tls is one of
  "none"     no STARTTLS offered at all
  "TLSv1.2"  STARTTLS with TLS 1.2 only (smtpd_tls_protocols)
  "TLSv1.3"  STARTTLS with TLS 1.3 only
  "any"      STARTTLS with what OpenSSL allows (1.2 and 1.3)
with the test PKI's server certificate (CN mx.postern.test, SAN localhost,
127.0.0.1), relaying what it accepts to relay_port (the sink).

SendingPostfix(**PrivatePostfix arguments, binds=None): the sending MTA.
Outbound TLS starts at "may" unless settings say otherwise; mail to other
domains goes to relay_port. route(domain, mx) makes Postfix deliver mail
for domain to that ReceivingPostfix with the recipient's domain as the
next hop, so smtp_tls_policy_maps is asked about "domain" exactly as in
production (a bracketed [127.0.0.1]:port next hop would be the lookup key
instead, and no partner rule would ever apply):
  - transport_maps (texthash:, no postmap) "domain  rNNN:" with an empty
    next hop, and a master.cf service rNNN = smtp -o smtp_tcp_port=PORT;
  - the name resolves to 127.0.0.1 through a private hosts file: Postfix
    is started inside its own mount namespace (unshare -m) where that file
    is bind-mounted over /etc/hosts; DNS stays disabled (native lookups,
    files first), so no query leaves the machine and the host's /etc/hosts
    is never touched.
binds={"/etc/resolv.conf": path, ...} bind-mounts more files in the same
namespace (e.g. a resolv.conf naming a dnsmasq on 127.0.0.1 for tests
that let Postfix use DNS). Every process of the instance lives in that
namespace; stop() and the queue tools work from outside as usual.

Needs root (postfix, unshare, mount) like PrivatePostfix.
"""
import os
import re
import subprocess

from postfix import POSTFIX, PrivatePostfix

UNSHARE = "/usr/bin/unshare"

PROTOCOLS = {
    "TLSv1.2": ">=TLSv1.2, <=TLSv1.2",
    "TLSv1.3": ">=TLSv1.3",
    "any": ">=TLSv1.2",
}


class ReceivingPostfix(PrivatePostfix):
    """A partner's MX with the given TLS offer (see the module doc)."""

    def __init__(self, tls="any", relay_port=None, settings=None, **kw):
        if tls != "none" and tls not in PROTOCOLS:
            raise ValueError(f"tls={tls!r}: want none, TLSv1.2, TLSv1.3 or any")
        s = {"myhostname": "mx.postern.test", "smtpd_tls_ask_ccert": "no"}
        if tls == "none":
            s["smtpd_tls_security_level"] = "none"
        else:
            s["smtpd_tls_security_level"] = "may"
            s["smtpd_tls_protocols"] = PROTOCOLS[tls]
            s["smtpd_tls_mandatory_protocols"] = PROTOCOLS[tls]
        s.update(settings or {})
        super().__init__(settings=s, relay_port=relay_port, **kw)
        self.tls = tls

    def tls_sessions(self):
        """[(protocol, cipher)] of every TLS session smtpd logged
        ("Anonymous TLS connection established from ...: TLSv1.3 with
        cipher ..."), in order."""
        return re.findall(r"TLS connection established from \S+: (\S+) with cipher (\S+)",
                          self.log_text())


class SendingPostfix(PrivatePostfix):
    """The sending MTA, routing partner domains to ReceivingPostfix
    instances by name (see the module doc)."""

    def __init__(self, settings=None, binds=None, **kw):
        s = {"smtp_tls_security_level": "may", "smtp_tls_loglevel": "1"}
        s.update(settings or {})
        super().__init__(settings=s, **kw)
        self.routes = {}        # domain -> port
        self.binds = dict(binds or {})
        self.hosts_file = os.path.join(self.base, "etc", "hosts")
        self.transport_file = os.path.join(self.base, "etc", "transport")

    def route(self, domain, mx):
        """Deliver mail for domain (and nothing else) to mx (a started
        ReceivingPostfix, or a port) by name; reloads a running
        instance."""
        port = mx if isinstance(mx, int) else mx.port
        if port is None:
            raise ValueError("route(): start the receiving Postfix first")
        self.routes[domain.lower()] = port
        if self.started:
            self.write_config()
            self.reload()

    def write_config(self):
        os.makedirs(self.config_dir, exist_ok=True)
        services = sorted(set(self.routes.values()))
        self.master_extra = "".join(
            f"r{p} unix  -       -       n       -       -       smtp\n"
            f"  -o smtp_tcp_port={p}\n" for p in services)
        with open(self.transport_file, "w") as f:
            for d, p in sorted(self.routes.items()):
                f.write(f"{d}  r{p}:\n")
        self.settings["transport_maps"] = f"texthash:{self.transport_file}"
        # Rewritten in place, never replaced: the bind mount follows the
        # inode it was made on.
        with open(self.hosts_file, "a+") as f:
            f.seek(0)
            f.truncate()
            f.write("127.0.0.1 localhost\n")
            for d in sorted(self.routes):
                f.write(f"127.0.0.1 {d}\n")
        super().write_config()

    def postfix(self, *args, **kw):
        """postfix -c CONFIG ARGS...; "start" runs in a new mount namespace
        with the private hosts file (and binds) mounted, which the master
        and every daemon it starts inherit."""
        if not args or args[0] != "start":
            return super().postfix(*args, **kw)
        mounts = [(self.hosts_file, "/etc/hosts")] + \
            [(src, dst) for dst, src in sorted(self.binds.items())]
        script = "set -e\n" + "".join(
            f'mount --bind "$SRC{i}" "$DST{i}"\n' for i in range(len(mounts))) + 'exec "$@"\n'
        env = dict(os.environ)
        for i, (src, dst) in enumerate(mounts):
            env[f"SRC{i}"] = src
            env[f"DST{i}"] = dst
        args_full = [UNSHARE, "-m", "--propagation", "private", "sh", "-c", script,
                     "postern-unshare", POSTFIX, "-c", self.config_dir, *args]
        timeout = kw.get("timeout", 60)
        r = subprocess.run(args_full, capture_output=True, text=True, timeout=timeout, env=env)
        if kw.get("check", True) and r.returncode != 0:
            raise RuntimeError(f"postfix start (unshare -m) exited {r.returncode}: "
                               f"{r.stdout}{r.stderr}")
        return r

    def deferred_reason(self, qid, timeout=20, since=0):
        """The reason text of qid's first status=deferred line."""
        m = self.wait_for_log(rf"{qid}: .*status=deferred \((.*)\)$", timeout=timeout,
                              since=since)
        return m.group(1)
