# SPDX-License-Identifier: BSD-2-Clause
"""postfix - a private Postfix instance under a temporary directory.

    from postfix import PrivatePostfix
    from sink import Sink
    with Sink() as sink, PrivatePostfix(relay_port=sink.port,
            milters=["unix:/tmp/x/s/m.sock"],
            settings={"milter_default_action": "accept"}) as pf:
        smtp.send("127.0.0.1", pf.port, ...)
        pf.wait_for_log(r"status=sent")

Layout under base (a fresh mkdtemp, mode 0755, unless base= is given):
  etc/main.cf, etc/master.cf   config_directory (postfix -c base/etc)
  queue/                       queue_directory (pid/master.pid inside)
  data/                        data_directory (owned by postfix)
  log/maillog                  maillog_file (postlog service, no syslog)
  pki/                         test certificates from certs.make_pki()
  sockets/NAME/                socket_dir(NAME): 0755 dirs for milters

No service is chrooted. smtpd listens on 127.0.0.1:port only (a free port
picked at start, retried on a bind conflict); everything is relayed to
[127.0.0.1]:relay_port (or discarded when relay_port is None). DNS is never
used. STARTTLS is offered with the test server certificate; client
certificates are asked for and verified against the test CA, so {cert_subject}
reaches milters for the good client certificate only.

Must run as root (postfix start/stop). Set POSTERN_KEEP=1 to keep the
directory after stop() for post-mortems (it is always kept when base= was
given by the caller).
"""
import json
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time

import certs
from mta import MtaBase, alive, free_port, proc_stat

POSTFIX = "/usr/sbin/postfix"
POSTQUEUE = "/usr/sbin/postqueue"
POSTSUPER = "/usr/sbin/postsuper"

MASTER_CF = """\
# service type  private unpriv  chroot  wakeup  maxproc command
{listen} inet  n       -       n       -       -       smtpd
pickup    unix  n       -       n       60      1       pickup
cleanup   unix  n       -       n       -       0       cleanup
qmgr      unix  n       -       n       300     1       qmgr
tlsmgr    unix  -       -       n       1000?   1       tlsmgr
rewrite   unix  -       -       n       -       -       trivial-rewrite
bounce    unix  -       -       n       -       0       bounce
defer     unix  -       -       n       -       0       bounce
trace     unix  -       -       n       -       0       bounce
verify    unix  -       -       n       -       1       verify
flush     unix  n       -       n       1000?   0       flush
proxymap  unix  -       -       n       -       -       proxymap
proxywrite unix -       -       n       -       1       proxymap
smtp      unix  -       -       n       -       -       smtp
relay     unix  -       -       n       -       -       smtp
showq     unix  n       -       n       -       -       showq
error     unix  -       -       n       -       -       error
retry     unix  -       -       n       -       -       error
discard   unix  -       -       n       -       -       discard
local     unix  -       n       n       -       -       local
virtual   unix  -       n       n       -       -       virtual
lmtp      unix  -       -       n       -       -       lmtp
anvil     unix  -       -       n       -       1       anvil
scache    unix  -       -       n       -       1       scache
postlog   unix-dgram n  -       n       -       1       postlogd
"""


class PostfixError(RuntimeError):
    pass


def make_socket_dir(path, mode=0o755, owner=None):
    """Create directory path (and missing parents, 0755) for a daemon's unix
    socket; make it mode (default 0755) and optionally chown it to owner (a
    user name; the daemon under test may run as that user). Raises when some
    existing parent is not searchable by others, as user postfix must reach
    the socket. Returns the absolute path."""
    path = os.path.abspath(path)
    os.makedirs(path, mode=0o755, exist_ok=True)
    os.chmod(path, mode)
    if owner is not None:
        shutil.chown(path, user=owner)
    p = os.path.dirname(path)
    while True:
        st = os.stat(p)
        if not st.st_mode & 0o001:
            raise PostfixError(f"{p} is not searchable by others "
                               f"(mode {st.st_mode & 0o777:o}): user postfix "
                               f"could not reach sockets under {path}")
        if p == "/":
            break
        p = os.path.dirname(p)
    return path


DAEMON_DIRECTORY = "/usr/lib/postfix/sbin/"


def _is_postfix(pid):
    try:
        return os.readlink(f"/proc/{pid}/exe").startswith(DAEMON_DIRECTORY)
    except OSError:
        return False


def session_pids(sid):
    """Live Postfix daemon pids whose session id is sid (the master is a
    session leader, so these are the master and every daemon it started).
    Only programs from the Postfix daemon directory count, so a stale pid
    file can never point at someone else's processes."""
    out = []
    for name in os.listdir("/proc"):
        if not name.isdigit():
            continue
        st = proc_stat(int(name))
        if st and st[2] == sid and st[0] not in ("Z", "X") and \
                _is_postfix(int(name)):
            out.append(int(name))
    return sorted(out)


class PrivatePostfix(MtaBase):
    """PrivatePostfix(base=None, milters=(), settings=None, relay_port=None,
    pki=None, port=None, master_extra='').

    milters: smtpd_milters entries, e.g. "unix:/path/m.sock",
             "inet:127.0.0.1:PORT", "{ inet:127.0.0.1:PORT,
             default_action=accept }".
    settings: extra main.cf parameters (override the defaults), e.g.
             {"milter_default_action": "accept", "milter_protocol": 6}.
    relay_port: the sink's port; None discards every message.
    master_extra: lines appended to master.cf."""

    kind = "postfix"

    def __init__(self, base=None, milters=(), settings=None, relay_port=None,
                 pki=None, port=None, master_extra=""):
        self._own_base = base is None
        if base is None:
            base = tempfile.mkdtemp(prefix="postern-pf-")
        self.base = os.path.abspath(base)
        os.makedirs(self.base, exist_ok=True)
        os.chmod(self.base, 0o755)
        self.config_dir = os.path.join(self.base, "etc")
        self.queue_dir = os.path.join(self.base, "queue")
        self.data_dir = os.path.join(self.base, "data")
        self.log_dir = os.path.join(self.base, "log")
        self.maillog = os.path.join(self.log_dir, "maillog")
        self.pki = pki or certs.make_pki(os.path.join(self.base, "pki"))
        self.milters = list(milters)
        self.settings = dict(settings or {})
        self.relay_port = relay_port
        self.host = "127.0.0.1"
        self.port = port
        self._fixed_port = port is not None
        self.master_extra = master_extra
        self.master_pid = None
        self.started = False

    # ---- configuration -------------------------------------------------

    def main_cf(self):
        """The main.cf parameters as a dict (defaults + settings)."""
        p = {
            "compatibility_level": "3.6",
            "queue_directory": self.queue_dir,
            "data_directory": self.data_dir,
            "mail_owner": "postfix",
            "setgid_group": "postdrop",
            "maillog_file": self.maillog,
            "maillog_file_prefixes": self.base,
            "inet_interfaces": "127.0.0.1",
            "inet_protocols": "ipv4",
            "myhostname": "mx.postern.test",
            "mydomain": "postern.test",
            "myorigin": "$myhostname",
            "mydestination": "",
            "local_recipient_maps": "",
            "alias_maps": "",
            "alias_database": "",
            "mynetworks": "127.0.0.0/8",
            "relay_domains": "",
            "smtpd_relay_restrictions":
                "permit_mynetworks, reject_unauth_destination",
            "smtpd_banner": "$myhostname ESMTP Postern test",
            "biff": "no",
            "append_dot_mydomain": "no",
            "readme_directory": "no",
            "in_flow_delay": "0",
            # no DNS, ever
            "smtp_dns_support_level": "disabled",
            "smtp_host_lookup": "native",
            "lmtp_host_lookup": "native",
            "smtpd_peername_lookup": "no",
            # fast retries for tests
            "queue_run_delay": "10s",
            "minimal_backoff_time": "10s",
            "maximal_backoff_time": "30s",
            "smtp_connect_timeout": "5s",
            "delay_warning_time": "0",
            # outbound: plain
            "smtp_tls_security_level": "none",
            # inbound: STARTTLS with the test PKI
            "smtpd_tls_security_level": "may",
            "smtpd_tls_cert_file": self.pki.server_cert,
            "smtpd_tls_key_file": self.pki.server_key,
            "smtpd_tls_CAfile": self.pki.ca_cert,
            "smtpd_tls_ask_ccert": "yes",
            "smtpd_tls_loglevel": "1",
            "smtpd_tls_received_header": "yes",
            "smtpd_milters": ", ".join(self.milters),
            "non_smtpd_milters": "",
        }
        if self.relay_port is not None:
            p["relayhost"] = f"[127.0.0.1]:{self.relay_port}"
        else:
            p["relayhost"] = ""
            p["default_transport"] = "discard:no relay configured"
        p.update({k: str(v) for k, v in self.settings.items()})
        return p

    def write_config(self):
        os.makedirs(self.config_dir, exist_ok=True)
        with open(os.path.join(self.config_dir, "main.cf"), "w") as f:
            f.write("# written by tests/lib/postfix.py\n")
            for k, v in self.main_cf().items():
                f.write(f"{k} = {v}\n")
        with open(os.path.join(self.config_dir, "master.cf"), "w") as f:
            f.write(MASTER_CF.format(listen=f"{self.host}:{self.port}"))
            if self.master_extra:
                f.write(self.master_extra.rstrip("\n") + "\n")
        # Postfix sleeps in 300 ms steps while main.cf is less than 2 s
        # old (dict_load_file() guards against files still being edited),
        # in every command it runs: backdate both files.
        past = time.time() - 10
        for name in ("main.cf", "master.cf"):
            os.utime(os.path.join(self.config_dir, name), (past, past))

    def socket_dir(self, name="milter", owner=None):
        """A 0755 directory base/sockets/NAME for a daemon's unix socket."""
        return make_socket_dir(os.path.join(self.base, "sockets", name),
                               owner=owner)

    # ---- commands -----------------------------------------------------

    def _cmd(self, args, timeout=60, check=True):
        r = subprocess.run(args, capture_output=True, text=True,
                           timeout=timeout)
        if check and r.returncode != 0:
            raise PostfixError(
                f"{' '.join(args)} exited {r.returncode}: "
                f"{r.stdout}{r.stderr}\n--- maillog tail:\n"
                f"{self.log_text()[-3000:]}")
        return r

    def postfix(self, *args, **kw):
        """Run postfix -c CONFIG_DIR ARGS... (as root)."""
        return self._cmd([POSTFIX, "-c", self.config_dir, *args], **kw)

    def postqueue(self, *args, **kw):
        return self._cmd([POSTQUEUE, "-c", self.config_dir, *args], **kw)

    def postsuper(self, *args, **kw):
        return self._cmd([POSTSUPER, "-c", self.config_dir, *args], **kw)

    def _read_master_pid(self):
        try:
            with open(os.path.join(self.queue_dir, "pid", "master.pid")) as f:
                return int(f.read().strip())
        except (FileNotFoundError, ValueError):
            return None

    # ---- lifecycle ----------------------------------------------------

    def start(self, timeout=30):
        if self.started:
            return self
        for d in (self.log_dir, self.queue_dir):
            os.makedirs(d, exist_ok=True)
            os.chmod(d, 0o755)
        os.makedirs(self.data_dir, exist_ok=True)
        shutil.chown(self.data_dir, user="postfix", group="postfix")
        os.chmod(self.data_dir, 0o700)
        attempts = 1 if self._fixed_port else 5
        for attempt in range(attempts):
            if not self._fixed_port:
                self.port = free_port(self.host)
            self.write_config()
            self.postfix("check")
            r = self.postfix("start", check=False)
            if r.returncode == 0:
                break
            self._kill_leftovers()
            text = r.stdout + r.stderr + self.log_text()
            if "in use" in text and attempt + 1 < attempts:
                continue
            raise PostfixError(f"postfix start failed ({r.returncode}): "
                               f"{r.stdout}{r.stderr}\n--- maillog:\n"
                               f"{self.log_text()[-3000:]}")
        self.master_pid = self._read_master_pid()
        self.started = True
        try:
            self._wait_port(timeout)
        except Exception:
            self.stop()
            raise
        return self

    def _wait_port(self, timeout):
        deadline = time.monotonic() + timeout
        last = None
        while time.monotonic() < deadline:
            try:
                with socket.create_connection((self.host, self.port),
                                              timeout=2) as s:
                    s.settimeout(5)
                    banner = s.recv(512)
                    if banner.startswith(b"220"):
                        s.sendall(b"QUIT\r\n")
                        return
                    last = banner
            except OSError as e:
                last = e
            time.sleep(0.05)
        raise PostfixError(f"smtpd on port {self.port} not ready after "
                           f"{timeout}s: {last!r}")

    def stop(self, timeout=20):
        """postfix stop; wait until the master and every daemon of its
        session are gone, SIGKILL what is left after timeout seconds.
        The directory stays (see cleanup())."""
        if self.master_pid is None:
            self.master_pid = self._read_master_pid()
        if self.started or self.master_pid:
            t0 = time.monotonic()
            try:
                self.postfix("stop", check=False, timeout=timeout)
            except subprocess.TimeoutExpired:
                pass
            self._wait_gone(max(1.0, timeout - (time.monotonic() - t0)))
        self._kill_leftovers()
        self.started = False
        return self

    def _wait_gone(self, timeout):
        pid = self.master_pid
        if not pid:
            return
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if not session_pids(pid) and not alive(pid):
                return
            time.sleep(0.05)

    def _kill_leftovers(self):
        pid = self.master_pid or self._read_master_pid()
        if not pid:
            return
        for p in session_pids(pid):
            try:
                os.kill(p, signal.SIGKILL)
            except ProcessLookupError:
                pass
        deadline = time.monotonic() + 5
        while session_pids(pid) and time.monotonic() < deadline:
            time.sleep(0.05)

    def processes(self):
        """Live pids of this instance (master + daemons), [] when stopped."""
        pid = self.master_pid or self._read_master_pid()
        return session_pids(pid) if pid else []

    def reload(self):
        """postfix reload: new config for new daemon processes. Returns
        after the master logged the reload."""
        mark = self.log_offset()
        self.postfix("reload")
        self.wait_for_log(r"postfix/master\[\d+\]: reload", since=mark,
                          timeout=10)

    # ---- queue --------------------------------------------------------

    def queue(self):
        """The queue as a list of dicts from postqueue -j (queue_name,
        queue_id, sender, recipients[{address, delay_reason}], ...)."""
        r = self.postqueue("-j")
        return [json.loads(line) for line in r.stdout.splitlines()
                if line.strip()]

    def flush(self):
        """postqueue -f: retry all deferred mail now (dead destinations
        are forgotten)."""
        self.postqueue("-f")

    def purge(self):
        """postsuper -d ALL: delete every queued message."""
        self.postsuper("-d", "ALL", check=False)
