# SPDX-License-Identifier: BSD-2-Clause
"""stack - a private Postfix, a sink and any of the four Postern daemons.

    from stack import Stack
    st = Stack(daemons=("tls", "sort", "archive", "audit"),
               settings={"default_process_limit": 100},
               config={"archive": {"body_memory_limit": "8k"}}).start()
    r = smtp.send("127.0.0.1", st.pf.port, ...)
    st.sink.wait_for(1)
    st.audit_records()         # postern-audit export --format jsonl, parsed
    st.archive_deliveries()    # postern-archive search --json, parsed
    st.verify_audit()          # (returncode, output) of postern-audit verify
    st.verify_archive()        # (returncode, output) of postern-archive verify
    st.workers("archive")      # pids of the daemon's worker processes
    st.kill_worker("audit")    # SIGKILL the worker; the supervisor restarts it
    st.kill_daemon("audit"); st.daemons["audit"].start()   # whole daemon
    st.stop()                  # everything; raises on a daemon's bad exit

The layout is the one tests/e2e/demo.py uses: the daemons are attached in
smtpd_milters order tls, sort, archive, audit (audit last, so its records
show what the others added), each with its configuration under
pf.base/postern/NAME.conf and its own tmp_dir pf.base/postern/tmp-NAME
(empty between messages: a test can check that nothing was left behind);
postern-tls has a partner policy and a trace header, postern-sort a small
Sieve script, postern-archive its archive in .archive_dir, postern-audit
its trail in .trail with an HMAC key (.key) and GeoIP test databases.
Postfix uses milter_default_action = tempfail unless settings say
otherwise. config={name: {param: value}} overrides or adds daemon
parameters; settings are Postfix main.cf parameters.

Stack(suite=True) runs the same engines, with the same files, in ONE
postern-suite (its configuration pf.base/postern/postern-suite.conf names
each engine's NAME.conf; its tmp_dir is tmp_dir("suite"), where the one
spooled body goes; config["suite"] adds suite.conf parameters), and
Postfix has that one milter. daemons[NAME] is still each engine's
(tools: tool(), audit_records()... run postern-NAME -c NAME.conf as an
admin would); their process calls (workers, kill_worker, kill_daemon,
start, log) all reach the suite's one process, and processes() lists
the serving processes (one daemon each) in milter order.

at_stop(fn) registers cleanup that must run between the daemons' stop and
the removal of the directory (unmounting a tmpfs under archive_dir).
stop() is safe after a partial start() and always stops everything it
started; the first error (a daemon that exited non-zero, leaked, or left a
process) is raised at the end. With POSTERN_KEEP=1 the directory stays.
"""
import json
import os
import shutil
import signal
import subprocess
import time

from daemon import Daemon, Process, binary
from mta import proc_stat
from postfix import PrivatePostfix
from sink import Sink

TOP = os.environ.get("POSTERN_TOP", os.path.abspath(
    os.path.join(os.path.dirname(__file__), "..", "..")))
ORDER = ("tls", "sort", "archive", "audit")

POLICY = """\
# partner.example must send over TLS 1.2 or later
partner.example   min_version=TLSv1.2 min_bits=128 action=reject
"""

SIEVE = """\
require ["fileinto", "reject", "copy", "editheader"];
if header :contains "subject" "invoice" {
    fileinto "Invoices";
}
elsif address :is "to" "sales@shop.example" {
    redirect :copy "crm@shop.example";
}
elsif header :contains "subject" "pills" {
    reject "Message refused: it looks like spam.";
}
addheader "X-Sorted-By" "postern-sort";
"""


def children(pid):
    """pids whose parent is pid."""
    out = []
    for name in os.listdir("/proc"):
        if not name.isdigit():
            continue
        try:
            with open(f"/proc/{name}/stat") as f:
                data = f.read()
        except OSError:
            continue
        if int(data[data.rindex(")") + 2:].split()[1]) == pid:
            out.append(int(name))
    return out


def proc_state(pid):
    """One-letter state of pid (R, S, Z...), or None when it is gone."""
    st = proc_stat(pid)
    return st[0] if st else None


def proc_status(pid, field):
    """A /proc/PID/status field as an int (kB for Vm* fields), or None."""
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith(field + ":"):
                    return int(line.split()[1])
    except OSError:
        return None
    return None


class Stack:
    def __init__(self, daemons=ORDER, settings=None, config=None, sink=True, suite=False):
        unknown = set(daemons) - set(ORDER)
        if unknown:
            raise ValueError(f"unknown daemons {sorted(unknown)}")
        self.names = [n for n in ORDER if n in daemons]
        self.settings = {"milter_default_action": "tempfail"}
        self.settings.update(settings or {})
        self.config = config or {}
        self.want_sink = sink
        self.suite_mode = suite
        self.pf = PrivatePostfix()
        self.base = os.path.join(self.pf.base, "postern")
        self.archive_dir = os.path.join(self.base, "archive")
        self.trail = os.path.join(self.base, "audit.jsonl")
        self.key = os.path.join(self.base, "audit.key")
        self.sink = None
        self.daemons = {}
        self._started = []
        self._at_stop = []

    # ---- lifecycle ----------------------------------------------------

    def _files(self):
        os.makedirs(self.base, exist_ok=True)
        os.chmod(self.base, 0o755)
        with open(os.path.join(self.base, "tls_policy"), "w") as f:
            f.write(POLICY)
        with open(os.path.join(self.base, "global.sieve"), "w") as f:
            f.write(SIEVE)
        with open(self.key, "wb") as f:
            f.write(os.urandom(32))
        os.chmod(self.key, 0o600)   # postern-audit refuses a key others can read
        shutil.copy(self.key, self.key + ".initial")   # offline copy: the daemon evolves self.key
        script = os.path.join(TOP, "tests", "lib", "make_mmdb.pl")
        self.geo = {k: os.path.join(self.base, f"geo-{k}.mmdb") for k in ("country", "asn")}
        if "audit" in self.names:
            subprocess.run(["perl", script, "country", self.geo["country"],
                            "127.0.0.0/8=DE"], check=True, timeout=60)
            subprocess.run(["perl", script, "asn", self.geo["asn"],
                            "127.0.0.0/8=64512:Loopback Test AS"], check=True, timeout=60)

    def tmp_dir(self, name):
        """The daemon's private tmp_dir (spool files of large bodies);
        tmp_dir("suite") is postern-suite's (it spools each body once)."""
        return os.path.join(self.base, "tmp-" + name)

    def _suite_process(self):
        """The one postern-suite of suite mode: its own tmp_dir, the
        engines' process parameters from config (daemon.py), config["suite"]
        last."""
        tmp = self.tmp_dir("suite")
        os.makedirs(tmp, exist_ok=True)
        os.chmod(tmp, 0o1777)
        settings = {"tmp_dir": tmp}
        settings.update(self.config.get("suite", {}))
        sock_dir = os.path.join(self.base, "run")
        return Process("postern-suite", os.path.join(self.base, "postern-suite.conf"),
                       os.path.join(self.base, "postern-suite.log"),
                       os.path.join(sock_dir, "postern-suite.sock"), settings, composed=True)

    def _daemon_config(self, name):
        b = self.base
        cfg = {
            "tls": {"policy_file": os.path.join(b, "tls_policy"),
                    "trace_header": "X-Postern-TLS"},
            "sort": {"script": os.path.join(b, "global.sieve")},
            "archive": {"archive_directory": self.archive_dir},
            "audit": {"trail_file": self.trail, "key_file": self.key, "sync": "always",
                      "geoip_country_db": self.geo["country"],
                      "geoip_asn_db": self.geo["asn"],
                      "extra_headers": "X-Postern-TLS"},
        }[name]
        tmp = self.tmp_dir(name)
        os.makedirs(tmp, exist_ok=True)
        os.chmod(tmp, 0o1777)
        cfg["tmp_dir"] = tmp
        cfg.update(self.config.get(name, {}))
        return cfg

    def start(self):
        try:
            self._files()
            if self.want_sink:
                self.sink = Sink(os.path.join(self.pf.base, "sink")).start()
                self.pf.relay_port = self.sink.port
            process = self._suite_process() if self.suite_mode else None
            for name in self.names:
                d = Daemon("postern-" + name, base=self.base,
                           config=self._daemon_config(name), process=process)
                self.daemons[name] = d
            # one process per daemon, or the one suite serving them all
            for d in self.processes():
                d.start()
                self._started.append(d)
            self.pf.milters = [d.spec for d in self.processes()]
            self.pf.settings.update(self.settings)
            self.pf.start()
        except BaseException:
            try:
                self.stop()
            except Exception:
                pass
            raise
        return self

    def stop(self):
        errors = []
        try:
            self.pf.stop()
        except Exception as e:
            errors.append(e)
        if self.sink:
            self.sink.stop()
        for d in reversed(self._started):
            try:
                d.stop()
            except Exception as e:
                errors.append(e)
        self._started = []
        for fn in reversed(self._at_stop):
            try:
                fn()
            except Exception as e:
                errors.append(e)
        self._at_stop = []
        self.pf.cleanup()
        if not os.environ.get("POSTERN_KEEP"):
            shutil.rmtree(self.pf.base, ignore_errors=True)
        if errors:
            raise errors[0]

    def at_stop(self, fn):
        """Call fn() in stop(), after the daemons stopped and before the
        directory is removed (e.g. to unmount a file system the test
        mounted under it); callbacks run last registered first, each even
        when an earlier one failed."""
        self._at_stop.append(fn)

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()

    # ---- processes ----------------------------------------------------

    def processes(self):
        """One daemon per serving process, in milter order: each daemon,
        or in suite mode the first engine's (which stands for the suite)."""
        out, seen = [], set()
        for n in self.names:
            d = self.daemons[n]
            if id(d.process) not in seen:
                seen.add(id(d.process))
                out.append(d)
        return out

    def workers(self, name):
        """pids of the worker processes of daemon name (children of the
        supervisor; under valgrind, of valgrind's process)."""
        d = self.daemons[name]
        return children(d.proc.pid) if d.proc else []

    def kill_worker(self, name, timeout=20):
        """SIGKILL the worker and wait until the supervisor started another
        one that serves again."""
        d = self.daemons[name]
        old = self.workers(name)
        assert old, f"{name}: no worker process"
        mark = d.log().count("serving on")
        for p in old:
            os.kill(p, signal.SIGKILL)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if d.log().count("serving on") > mark and d.accepts():
                return
            time.sleep(0.05)
        raise AssertionError(f"{name}: no new worker after SIGKILL: {d.log()[-2000:]}")

    def kill_daemon(self, name):
        """SIGKILL supervisor and worker (a power cut for that daemon); the
        caller starts it again with daemons[name].start()."""
        d = self.daemons[name]
        workers = self.workers(name)
        os.kill(d.proc.pid, signal.SIGKILL)
        for w in workers:
            try:
                os.kill(w, signal.SIGKILL)
            except ProcessLookupError:
                pass
        d.proc.wait(10)
        d.log_fp.close()
        deadline = time.monotonic() + 10
        while any(proc_state(w) not in (None, "Z", "X") for w in workers) \
                and time.monotonic() < deadline:
            time.sleep(0.05)
        # the next start() appends nothing: keep the old log apart
        os.replace(d.logfile, d.logfile + f".{int(time.time() * 1000)}")

    def worker_hwm_kb(self, name):
        """Peak resident memory (VmHWM, kB) of the daemon's workers."""
        vals = [proc_status(p, "VmHWM") for p in self.workers(name)]
        return max([v for v in vals if v is not None], default=None)

    def crashes(self):
        """{name: supervisor log lines about a worker that died}."""
        out = {}
        for d in self.processes():
            name = "suite" if self.suite_mode else d.name[len("postern-"):]
            bad = [line for line in d.log().splitlines()
                   if "worker killed" in line or "worker exited" in line
                   or "AddressSanitizer" in line or "runtime error:" in line]
            if bad:
                out[name] = bad
        return out

    # ---- tools --------------------------------------------------------

    def tool(self, name, *args, timeout=120):
        """Run postern-NAME -c CONF ARGS... and return CompletedProcess."""
        d = self.daemons[name]
        return subprocess.run([binary(d.name), "-c", d.conf, *args],
                              capture_output=True, text=True, timeout=timeout)

    def audit_records(self):
        """Every record of the trail (export --format jsonl), parsed."""
        r = self.tool("audit", "export", "--format", "jsonl")
        if r.returncode != 0:
            raise AssertionError(f"audit export exited {r.returncode}: {r.stderr}")
        return [json.loads(line) for line in r.stdout.splitlines()]

    def archive_deliveries(self, *query):
        """Deliveries of the archive (search --json [query]), parsed; [] when
        nothing matched."""
        r = self.tool("archive", "search", "--json", *query)
        if r.returncode not in (0, 1):
            raise AssertionError(f"archive search exited {r.returncode}: {r.stderr}")
        return [json.loads(line) for line in r.stdout.splitlines() if line.strip()]

    def verify_audit(self):
        r = self.tool("audit", "verify", "--key", self.key + ".initial")
        return r.returncode, (r.stdout + r.stderr).strip()

    def verify_archive(self):
        r = self.tool("archive", "verify")
        return r.returncode, (r.stdout + r.stderr).strip()

    def archive_temp_files(self):
        """Temporary object files left in the archive directory."""
        out = []
        for root, _, files in os.walk(self.archive_dir):
            out += [os.path.join(root, f) for f in files if f.startswith(".tmp-")]
        return out

    def stale_tmp_files(self):
        """Files left in any daemon's tmp_dir."""
        out = []
        for name in self.names + (["suite"] if self.suite_mode else []):
            tmp = self.tmp_dir(name)
            if os.path.isdir(tmp):
                out += [os.path.join(tmp, f) for f in os.listdir(tmp)]
        return out
