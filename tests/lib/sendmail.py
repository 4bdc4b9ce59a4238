# SPDX-License-Identifier: BSD-2-Clause
"""sendmail - a private Sendmail instance under a temporary directory.

    from sendmail import PrivateSendmail
    from sink import Sink
    with Sink() as sink, PrivateSendmail(relay_port=sink.port) as sm:
        d = Daemon("postern-testd", base=..., socket_dir=sm.socket_dir("testd"))
        sm.configure(milters=[d.spec])          # rebuilds sendmail.cf, restarts
        r = smtp.send("127.0.0.1", sm.port, ...)
        sm.wait_for_log(queue_id_of(r) + r": to=.*stat=Sent")

Same shape as postfix.PrivatePostfix (constructor with milters and
settings, start(), stop() leaving no process, log, queue, port, pki), so a
test can be parametrised over both MTAs.

Nothing is installed: Debian's sendmail-bin and sendmail-cf are fetched
once with `apt-get download` into CACHE_DIR (reused afterwards), unpacked
with `dpkg -x` into base/root, and sendmail.cf is built with m4 from
tests/sendmail/postern-test.mc plus a generated base/etc/site.m4 (ports,
test PKI, INPUT_MAIL_FILTER lines, the confMILTER_MACROS_* lines of
packaging/sendmail/postern.mc-snippet, then the test's settings).

Layout under base (a fresh mkdtemp in /run/postern-test, mode 0755):
  root/                  the unpacked packages (the binary runs from here)
  etc/sendmail.cf        built config; etc/site.m4, aliases(.db), hosts,
                         nsswitch.conf, service.switch, statistics
  queue/                 QueueDirectory (qf/df/hf files)
  run/sendmail.pid       PidFile
  log/maillog            what Sendmail sent to syslog
  pki/                   test certificates from certs.make_pki()
  sockets/NAME/          socket_dir(NAME): 0755 dirs for milters

Why /run and not /tmp: Sendmail refuses files (aliases, milter sockets)
whose directory path contains a world-writable directory such as /tmp.

Every Sendmail process runs in private mount and UTS namespaces
(unshare -m -u) where
  - the host name is mx.postern.test and /etc/hosts maps it to
    127.0.0.1: Sendmail qualifies its own host name before it reads its
    config (so no option such as confDOMAIN_NAME can help) and sleeps
    60 s when the name is unqualified, as the machine's may be;
  - /etc/nsswitch.conf says "hosts: files": no DNS, even through libc;
  - /dev is a small tmpfs with null, zero, full, random, urandom, tty and
    a /dev/log that leads to this harness's syslog receiver, which writes
    base/log/maillog (Sendmail logs only through syslog).
Nothing outside the namespace changes, so nothing needs restoring, even
when a test dies. Requires root (as PrivatePostfix does).

Sendmail runs as root (no RunAsUser; DefaultUser mail:mail), listens on
127.0.0.1:port only (picked at start, retried when taken), relays all
non-local mail to [127.0.0.1]:relay_port with the relay mailer (SMART_HOST;
relay_port None: mail stays queued, deferred), never uses DNS, and offers
STARTTLS with the test server certificate, asking for a client certificate
verified against the test CA.

What Sendmail 8.17.1.9 sends a milter with this .mc and the snippet's
confMILTER_MACROS_* lines (observed with a macro-recording milter; a macro
is sent only when it has a value; "" means sent empty):
  connect  j=mx.postern.test, _="localhost [127.0.0.1]",
           {daemon_name}=MTA, {daemon_addr}=127.0.0.1, {daemon_port}=PORT,
           {if_name}=localhost, {client_addr}=127.0.0.1,
           {client_name}=localhost, {client_port}, {client_ptr}=localhost,
           {client_resolve}=OK ({if_addr} not sent on loopback)
  helo     nothing before STARTTLS (a session without STARTTLS gets no
           TLS macro at all, not even {verify}); the helo callback runs
           again after STARTTLS, with {tls_version}=TLSv1.3,
           {cipher}=TLS_AES_256_GCM_SHA384, {cipher_bits}=256,
           {cert_subject}, {cert_issuer}, {verify}:
           - verified client certificate: {verify}=OK, {cert_subject}=
             "/O=Postern+20Test/CN=client.partner.test" (the full DN in
             OpenSSL's oneline form, xtext-encoded: "+20" is a space),
             {cert_issuer}="/O=Postern+20Test/CN=Postern+20Test+20CA"
           - no client certificate: {verify}=NO, {cert_subject}="",
             {cert_issuer}="" (sent, but empty)
           - certificate from an untrusted CA: {verify}=FAIL, and
             {cert_subject}/{cert_issuer} ARE sent (the unverified names)
  mail     i (the queue id, already here), {mail_mailer}=relay,
           {mail_host}=[127.0.0.1], {mail_addr}=alice@sender.example, and
           the TLS macros again (the snippet asks for them at MAIL too)
  rcpt     {rcpt_mailer}=relay, {rcpt_host}=[127.0.0.1],
           {rcpt_addr}=bob@dest.example
  data     i
  headers  the client's headers only: Sendmail's own Received: header
           is not sent (as with Postfix)
  eom      i, {msg_id}=<the Message-ID header's value>
{mail_host} and {rcpt_host} are the next hop of the mailer triple (here
the smart host), not the address's domain: take domains from
{mail_addr}/{rcpt_addr}. Without the snippet (Sendmail's defaults) there
is no {verify}, no {client_addr} and nothing at DATA.

The 250 reply to the final dot is "2.0.0 QUEUEID Message accepted for
delivery" (not Postfix's "queued as"): use queue_id_of(result).
"""
import fcntl
import glob
import os
import re
import shutil
import signal
import socket
import subprocess
import tempfile
import threading
import time

import certs
from mta import MtaBase, alive, free_port

TOP = os.environ.get("POSTERN_TOP") or os.path.abspath(
    os.path.join(os.path.dirname(__file__), "..", ".."))
MC_FILE = os.path.join(TOP, "tests", "sendmail", "postern-test.mc")
SNIPPET = os.path.join(TOP, "packaging", "sendmail", "postern.mc-snippet")
CACHE_DIR = os.environ.get("POSTERN_SENDMAIL_CACHE",
                           "/var/cache/postern-test/sendmail")
RUN_PARENT = "/run/postern-test"
PACKAGES = ("sendmail-bin", "sendmail-cf")
SENDMAIL_REL = "usr/libexec/sendmail/sendmail"
CF_REL = "usr/share/sendmail/cf"
MILTER_TIMEOUTS = "C:30s;S:30s;R:30s;E:5m"

# Run inside `unshare -m -u --propagation private`: $1 is the instance
# base, the rest the command to exec. Mounts vanish with the last process.
NS_START = """\
set -e
B=$1; shift
hostname mx.postern.test
mount --bind "$B/etc/hosts" /etc/hosts
mount --bind "$B/etc/nsswitch.conf" /etc/nsswitch.conf
mkdir -p "$B/run/olddev"
mount --bind /dev "$B/run/olddev"
mount -t tmpfs -o mode=0755,size=64k postern-dev /dev
for n in null zero full random urandom tty; do
	: > "/dev/$n"
	mount --bind "$B/run/olddev/$n" "/dev/$n"
done
umount "$B/run/olddev"
ln -s /proc/self/fd /dev/fd
ln -s "$B/log/syslog.sock" /dev/log
exec "$@"
"""

NSSWITCH = """\
passwd: files
group: files
shadow: files
hosts: files
networks: files
services: files
protocols: files
"""


class SendmailError(RuntimeError):
    pass


def queue_id_of(result):
    """The queue id from a smtp.Result (or a reply text): Sendmail answers
    the final dot with "2.0.0 QUEUEID Message accepted for delivery"."""
    if getattr(result, "queue_id", None):
        return result.queue_id
    text = result if isinstance(result, str) else result.text
    m = re.match(r"(?:\d\.\d\.\d+ )?(\S+) Message accepted", text or "")
    return m.group(1) if m else None


def _deb_version(path):
    return os.path.basename(path).split("_")[1]


def fetch_packages(cache_dir=CACHE_DIR):
    """Paths of the sendmail-bin and sendmail-cf .debs (one version),
    downloaded with apt-get download into cache_dir unless already
    there. A lock keeps parallel test runs from downloading twice."""
    os.makedirs(cache_dir, exist_ok=True)
    with open(os.path.join(cache_dir, ".lock"), "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        found = _cached_debs(cache_dir)
        if found:
            return found
        r = subprocess.run(["apt-get", "download", *PACKAGES], cwd=cache_dir,
                           capture_output=True, text=True, timeout=300)
        found = _cached_debs(cache_dir)
        if not found:
            raise SendmailError(
                f"apt-get download {' '.join(PACKAGES)} in {cache_dir} "
                f"failed ({r.returncode}): {r.stdout}{r.stderr}"
                "(run apt-get update first?)")
        return found


def _cached_debs(cache_dir):
    by_version = {}
    for pkg in PACKAGES:
        for path in glob.glob(os.path.join(cache_dir, pkg + "_*.deb")):
            by_version.setdefault(_deb_version(path), {})[pkg] = path
    complete = sorted(v for v, p in by_version.items() if len(p) == 2)
    if not complete:
        return None
    return [by_version[complete[-1]][p] for p in PACKAGES]


def snippet_macro_lines(path=SNIPPET):
    """The confMILTER_MACROS_* define lines of the packaging snippet."""
    with open(path) as f:
        return [line.rstrip("\n") for line in f
                if line.startswith("define(`confMILTER_MACROS_")]


def _m4_quote(value):
    value = str(value)
    return f"``{value}''" if "," in value else f"`{value}'"


class _SyslogReceiver:
    """A unix datagram socket standing in for /dev/log: each message goes
    to one line of the maillog, without its <priority> prefix."""

    def __init__(self, sock_path, logfile):
        self.sock_path = sock_path
        self.logfile = logfile
        self._sock = None
        self._thread = None
        self._stop = threading.Event()

    def start(self):
        try:
            os.unlink(self.sock_path)
        except FileNotFoundError:
            pass
        self._sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self._sock.bind(self.sock_path)
        os.chmod(self.sock_path, 0o666)
        self._sock.settimeout(0.2)
        self._stop.clear()
        self._thread = threading.Thread(target=self._run, daemon=True,
                                        name="sendmail-syslog")
        self._thread.start()

    def _run(self):
        with open(self.logfile, "ab", buffering=0) as out:
            while not self._stop.is_set():
                try:
                    data = self._sock.recv(65536)
                except socket.timeout:
                    continue
                except OSError:
                    break
                data = re.sub(rb"^<\d+>", b"", data.rstrip(b"\0\n"))
                out.write(data.replace(b"\n", b" ") + b"\n")

    def stop(self):
        if self._thread:
            self._stop.set()
            self._thread.join(timeout=5)
            self._thread = None
        if self._sock:
            self._sock.close()
            self._sock = None


class PrivateSendmail(MtaBase):
    """PrivateSendmail(base=None, milters=(), settings=None, relay_port=None,
    pki=None, port=None, milter_flags="T", milter_macros=True, mc_extra='').

    milters: milter specs, Postfix style ("unix:/path/m.sock",
             "inet:127.0.0.1:PORT") or Sendmail style ("inet:PORT@HOST"),
             each becoming INPUT_MAIL_FILTER(`NAME', `S=SPEC, F=FLAGS,
             T=...'), NAME from the socket's file name; or (name,
             equates) pairs taken verbatim.
    milter_flags: F= of every generated filter: "T" tempfails when the
             milter is unreachable (as Postfix's milter_default_action =
             tempfail), "R" rejects, "" accepts.
    milter_macros: use the packaging snippet's confMILTER_MACROS_* lines
             (False: Sendmail's defaults).
    settings: m4 defines appended last (they override), e.g.
             {"confMILTER_LOG_LEVEL": 14, "confLOG_LEVEL": 14}.
    mc_extra: raw m4 lines appended to site.m4 (FEATURE(...) etc.).
    relay_port: the sink's port; None leaves relayed mail deferred.
    pki: a certs.make_pki() namespace to copy into base/pki (the same
             certificates as, say, a PrivatePostfix's); default: new.
    base must not lie below a world-writable directory such as /tmp."""

    kind = "sendmail"

    reply_names_address = True

    def added_header(self, value):
        return " ".join(value.split())

    def received_names(self, m, qid):
        return f"id {qid}" in " ".join("".join(m.headers("Received")).split())

    def sent_line(self, qid, rcpt=None):
        if rcpt is None:
            return rf"{qid}: to=.*stat=Sent"
        return rf"{qid}: to=<{re.escape(rcpt)}>.*stat=Sent"

    def discard_line(self, qid):
        return rf"{qid}: Milter: data, discard"

    def cert_macros(self, which):
        # the full DN of any certificate, verified or not, in OpenSSL's
        # oneline form, xtext-encoded ("+20" a space); sent empty without one
        if which == "none":
            return ("", "")
        cn, ca = {"client": ("client.partner.test", "Postern Test CA"),
                  "rogue": ("rogue.partner.test", "Rogue Test CA")}[which]
        return tuple("/O=Postern+20Test/CN=" + name.replace(" ", "+20") for name in (cn, ca))

    def __init__(self, base=None, milters=(), settings=None, relay_port=None,
                 pki=None, port=None, milter_flags="T", milter_macros=True,
                 mc_extra=""):
        self._own_base = base is None
        if base is None:
            os.makedirs(RUN_PARENT, exist_ok=True)
            os.chmod(RUN_PARENT, 0o755)
            base = tempfile.mkdtemp(prefix="postern-sm-", dir=RUN_PARENT)
        self.base = os.path.abspath(base)
        os.makedirs(self.base, exist_ok=True)
        os.chmod(self.base, 0o755)
        self.root = os.path.join(self.base, "root")
        self.config_dir = os.path.join(self.base, "etc")
        self.cf_file = os.path.join(self.config_dir, "sendmail.cf")
        self.site_file = os.path.join(self.config_dir, "site.m4")
        self.queue_dir = os.path.join(self.base, "queue")
        self.run_dir = os.path.join(self.base, "run")
        self.log_dir = os.path.join(self.base, "log")
        self.maillog = os.path.join(self.log_dir, "maillog")
        self.binary = os.path.join(self.root, SENDMAIL_REL)
        pki_dir = os.path.join(self.base, "pki")
        if pki is not None:
            # Sendmail ignores certificates and keys below a world-writable
            # directory (a PrivatePostfix's PKI is in /tmp): use a copy.
            shutil.copytree(pki.dir, pki_dir, dirs_exist_ok=True)
        self.pki = certs.make_pki(pki_dir)
        self.milters = list(milters)
        self.settings = dict(settings or {})
        self.milter_flags = milter_flags
        self.milter_macros = milter_macros
        self.mc_extra = mc_extra
        self.relay_port = relay_port
        self.host = "127.0.0.1"
        self.port = port
        self._fixed_port = port is not None
        self.proc = None
        self.pid = None
        self.started = False
        self.instance = os.path.basename(self.base)
        self._syslog = _SyslogReceiver(
            os.path.join(self.log_dir, "syslog.sock"), self.maillog)

    # ---- configuration -------------------------------------------------

    def filter_lines(self):
        """The INPUT_MAIL_FILTER lines for self.milters."""
        lines, names = [], set()
        for spec in self.milters:
            if isinstance(spec, (tuple, list)):
                name, equates = spec
            else:
                name, equates = self._filter_from_spec(spec)
            base_name, n = name, 2
            while name in names:
                name, n = f"{base_name}{n}", n + 1
            names.add(name)
            lines.append(f"INPUT_MAIL_FILTER(`{name}', `{equates}')dnl")
        return lines

    def _filter_from_spec(self, spec):
        kind, _, addr = spec.partition(":")
        if kind in ("unix", "local"):
            name = os.path.basename(addr).rsplit(".", 1)[0]
            sock = f"unix:{addr}"
        elif kind in ("inet", "inet6"):
            if "@" in addr:
                port, host = addr.split("@", 1)
            else:
                host, port = addr.rsplit(":", 1)
            name = f"{kind}-{port}"
            sock = f"{kind}:{port}@{host}"
        else:
            raise SendmailError(f"milter spec {spec!r}: want unix:PATH, "
                                f"inet:HOST:PORT or inet:PORT@HOST")
        equates = f"S={sock}"
        if self.milter_flags:
            equates += f", F={self.milter_flags}"
        equates += f", T={MILTER_TIMEOUTS}"
        return re.sub(r"[^A-Za-z0-9_-]", "_", name), equates

    def site_m4(self):
        """The text of site.m4: what this instance adds to the .mc."""
        relay_port = self.relay_port if self.relay_port is not None else 9
        lines = [
            "dnl written by tests/lib/sendmail.py",
            f"DAEMON_OPTIONS(`Family=inet, Addr={self.host}, "
            f"Port={self.port}, Name=MTA')dnl",
            "define(`SMART_HOST', `relay:[127.0.0.1]')dnl",
            f"define(`RELAY_MAILER_ARGS', `TCP $h {relay_port}')dnl",
            # names this instance in its banner: start() must not take
            # another server on the same port for this one
            f"define(`confSMTP_LOGIN_MSG', `$j Sendmail $v/$Z; $b; "
            f"{self.instance}')dnl",
            f"define(`confCACERT_PATH', `{self.pki.dir}')dnl",
            f"define(`confCACERT', `{self.pki.ca_cert}')dnl",
            f"define(`confSERVER_CERT', `{self.pki.server_cert}')dnl",
            f"define(`confSERVER_KEY', `{self.pki.server_key}')dnl",
        ]
        lines += self.filter_lines()
        if self.milter_macros:
            lines += snippet_macro_lines()
        for k, v in self.settings.items():
            lines.append(f"define(`{k}', {_m4_quote(v)})dnl")
        if self.mc_extra:
            lines.append(self.mc_extra.rstrip("\n"))
        return "\n".join(lines) + "\n"

    def write_config(self):
        """Write etc/ (site.m4, hosts, nsswitch, aliases ...) and build
        sendmail.cf with m4."""
        self._unpack()
        os.makedirs(self.config_dir, exist_ok=True)
        files = {
            "site.m4": self.site_m4(),
            "hosts": "127.0.0.1\tlocalhost\n127.0.0.1\tmx.postern.test\n",
            "nsswitch.conf": NSSWITCH,
            "service.switch": "hosts\tfiles\naliases\tfiles\n",
            "aliases": "postmaster: root\nMAILER-DAEMON: postmaster\n"
                       "root: postmaster@sink.postern.test\n",
            "ns-start.sh": NS_START,
        }
        for name, text in files.items():
            with open(os.path.join(self.config_dir, name), "w") as f:
                f.write(text)
        stats = os.path.join(self.config_dir, "statistics")
        if not os.path.exists(stats):
            open(stats, "w").close()
        cf_dir = os.path.join(self.root, CF_REL)
        r = subprocess.run(
            ["m4", f"-DPOSTERN_CF_DIR={cf_dir}", f"-DPOSTERN_BASE={self.base}",
             f"-DPOSTERN_SITE={self.site_file}", MC_FILE],
            capture_output=True, text=True, timeout=60)
        if r.returncode != 0 or r.stderr.strip():
            raise SendmailError(f"m4 {MC_FILE} failed ({r.returncode}): "
                                f"{r.stderr}")
        with open(self.cf_file, "w") as f:
            f.write(r.stdout)

    def socket_dir(self, name="milter", owner=None):
        """A 0755 directory base/sockets/NAME for a daemon's unix socket;
        no directory above it is writable by others (Sendmail refuses
        such a socket)."""
        path = os.path.join(self.base, "sockets", name)
        os.makedirs(path, mode=0o755, exist_ok=True)
        os.chmod(os.path.dirname(path), 0o755)
        os.chmod(path, 0o755)
        if owner is not None:
            shutil.chown(path, user=owner)
        p = path
        while p != "/":
            p = os.path.dirname(p)
            if os.stat(p).st_mode & 0o002:
                raise SendmailError(f"{p} is world-writable: Sendmail would "
                                    f"refuse sockets under {path}")
        return path

    # ---- commands -----------------------------------------------------

    def _unpack(self):
        if os.path.exists(self.binary):
            return
        for deb in fetch_packages():
            r = subprocess.run(["dpkg", "-x", deb, self.root],
                               capture_output=True, text=True, timeout=120)
            if r.returncode != 0:
                raise SendmailError(f"dpkg -x {deb} failed: {r.stderr}")

    def _ns_command(self, *args):
        return ["unshare", "-m", "-u", "--propagation", "private", "sh",
                os.path.join(self.config_dir, "ns-start.sh"), self.base,
                self.binary, "-C", self.cf_file, "-L", "sm-mta", *args]

    def sendmail(self, *args, timeout=60, check=True):
        """Run this instance's sendmail -C CF ARGS... once, in its
        namespace (e.g. "-bi", "-q", "-bv", "ADDR")."""
        r = subprocess.run(self._ns_command(*args), capture_output=True,
                           text=True, timeout=timeout,
                           stdin=subprocess.DEVNULL)
        if check and r.returncode != 0:
            raise SendmailError(
                f"sendmail {' '.join(args)} exited {r.returncode}: "
                f"{r.stdout}{r.stderr}\n--- maillog tail:\n"
                f"{self.log_text()[-3000:]}")
        return r

    # ---- lifecycle ----------------------------------------------------

    def start(self, timeout=30):
        if self.started:
            return self
        if shutil.which("m4") is None:
            raise SendmailError("m4 is not installed (apt-get install m4)")
        self._unpack()
        for d in (self.log_dir, self.run_dir, self.config_dir):
            os.makedirs(d, exist_ok=True)
            os.chmod(d, 0o755)
        os.makedirs(self.queue_dir, exist_ok=True)
        os.chmod(self.queue_dir, 0o700)
        self._syslog.start()
        try:
            attempts = 1 if self._fixed_port else 5
            for attempt in range(attempts):
                if not self._fixed_port:
                    self.port = free_port(self.host)
                self.write_config()
                self.sendmail("-bi")
                mark = self.log_offset()
                self._spawn()
                try:
                    self._wait_ready(timeout, mark)
                    self._check_starttls(mark)
                    break
                except _PortTaken:
                    # it retries the bind with signals held: no SIGTERM
                    self._terminate(kill=True)
                    if attempt + 1 == attempts:
                        raise SendmailError(f"port {self.port} in use")
        except BaseException:
            self.stop()
            raise
        return self

    def _spawn(self):
        self._out = open(os.path.join(self.log_dir, "sendmail.out"), "ab")
        self.proc = subprocess.Popen(self._ns_command("-bD"),
                                     stdin=subprocess.DEVNULL,
                                     stdout=self._out,
                                     stderr=subprocess.STDOUT,
                                     start_new_session=True)
        self.pid = self.proc.pid    # unshare and sh exec: the same pid
        self.started = True

    def _wait_ready(self, timeout, since):
        deadline = time.monotonic() + timeout
        last = None
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise SendmailError(
                    f"sendmail exited {self.proc.returncode}: "
                    f"{self._output()}\n--- maillog:\n"
                    f"{self.log_text()[since:][-3000:]}")
            if "problem creating SMTP socket" in self.log_text()[since:]:
                raise _PortTaken()
            try:
                with socket.create_connection((self.host, self.port),
                                              timeout=2) as s:
                    s.settimeout(5)
                    banner = s.recv(512)
                    s.sendall(b"QUIT\r\n")
                    if self.instance.encode() in banner:
                        return
                    last = banner
            except OSError as e:
                last = e
            time.sleep(0.05)
        raise SendmailError(f"sendmail on port {self.port} not ready after "
                            f"{timeout}s: {last!r}\n{self._output()}")

    def _check_starttls(self, since):
        """Sendmail silently drops STARTTLS when it dislikes the PKI files
        (their modes, their directories): fail here, not in a test."""
        with socket.create_connection((self.host, self.port), timeout=5) as s:
            f = s.makefile("rb")
            f.readline()
            s.sendall(b"EHLO probe.postern.test\r\n")
            ehlo = b""
            while True:
                line = f.readline()
                ehlo += line
                if len(line) < 4 or line[3:4] != b"-":
                    break
            s.sendall(b"QUIT\r\n")
        if b"STARTTLS" not in ehlo:
            raise SendmailError(f"sendmail does not offer STARTTLS: "
                                f"{ehlo!r}\n--- maillog:\n"
                                f"{self.log_text()[since:][-3000:]}")

    def _output(self):
        try:
            with open(os.path.join(self.log_dir, "sendmail.out"),
                      errors="replace") as f:
                return f.read()[-3000:]
        except FileNotFoundError:
            return ""

    def reload(self, timeout=30):
        """SIGHUP: Sendmail re-executes itself with the rebuilt
        sendmail.cf (same pid). Returns once it accepts connections."""
        mark = self.log_offset()
        os.kill(self.pid, signal.SIGHUP)
        self.wait_for_log(r"starting daemon", since=mark, timeout=timeout)
        self._wait_ready(timeout, mark)

    def _terminate(self, timeout=20, kill=False):
        if self.proc is not None:
            if self.proc.poll() is None:
                self.proc.send_signal(signal.SIGKILL if kill else
                                      signal.SIGTERM)
                try:
                    self.proc.wait(timeout)
                except subprocess.TimeoutExpired:
                    self.proc.kill()
                    self.proc.wait(5)
            self.proc = None
            self._out.close()
        self._kill_leftovers()
        self.started = False

    def stop(self, timeout=20):
        """SIGTERM the daemon, wait for it and for every process running
        this instance's binary (delivery and queue-run children), SIGKILL
        what is left; stop the syslog receiver. The directory stays (see
        cleanup())."""
        try:
            self._terminate(timeout)
        finally:
            self._syslog.stop()
        return self

    def _kill_leftovers(self):
        deadline = time.monotonic() + 5
        sig = signal.SIGTERM
        while True:
            left = self.processes()
            if not left:
                return
            if time.monotonic() > deadline - 3:
                sig = signal.SIGKILL
            for p in left:
                try:
                    os.kill(p, sig)
                except ProcessLookupError:
                    pass
            if time.monotonic() > deadline:
                raise SendmailError(f"sendmail processes left: {left}")
            time.sleep(0.1)

    def processes(self):
        """Live pids running this instance's sendmail binary."""
        out = []
        for name in os.listdir("/proc"):
            if not name.isdigit():
                continue
            try:
                exe = os.readlink(f"/proc/{name}/exe")
            except OSError:
                continue
            if exe.replace(" (deleted)", "") == self.binary and alive(name):
                out.append(int(name))
        return sorted(out)

    # ---- queue --------------------------------------------------------

    def queue(self):
        """The queue as a list of dicts shaped like Postfix's postqueue -j:
        queue_name ("hold" for quarantined hf files, "deferred" after a
        delivery attempt, else "active"), queue_id, sender, arrival_time,
        recipients [{address, delay_reason}]."""
        out = []
        try:
            names = sorted(os.listdir(self.queue_dir))
        except FileNotFoundError:
            return out
        for name in names:
            if name[:2] not in ("qf", "hf"):
                continue
            try:
                with open(os.path.join(self.queue_dir, name), "rb") as f:
                    text = f.read().decode("utf-8", "replace")
            except FileNotFoundError:
                continue
            out.append(self._parse_qf(name[:2], name[2:], text))
        return out

    @staticmethod
    def _parse_qf(kind, qid, text):
        sender, reason, attempts, arrival, rcpts = "", "", 0, None, []
        for line in text.split("\n"):
            if line.startswith("H") or line == ".":
                break       # headers follow the envelope
            key, value = line[:1], line[1:]
            if key == "S":
                sender = value.strip("<>")
            elif key == "M":
                reason = value
            elif key == "N" and value.isdigit():
                attempts = int(value)
            elif key == "T" and value.isdigit():
                arrival = int(value)
            elif key == "R":
                rcpts.append(value.split(":", 1)[-1].strip("<>"))
        name = "hold" if kind == "hf" else \
            ("deferred" if attempts else "active")
        return {"queue_name": name, "queue_id": qid, "sender": sender,
                "arrival_time": arrival,
                "recipients": [{"address": a, "delay_reason": reason}
                               for a in rcpts]}

    def flush(self):
        """sendmail -q: one queue run now, in the foreground."""
        self.sendmail("-q", timeout=120)

    def purge(self):
        """Delete every queued message (queue files of all kinds)."""
        for name in os.listdir(self.queue_dir):
            if name[:2] in ("qf", "df", "hf", "xf", "tf", "Qf"):
                try:
                    os.unlink(os.path.join(self.queue_dir, name))
                except FileNotFoundError:
                    pass


class _PortTaken(Exception):
    pass
