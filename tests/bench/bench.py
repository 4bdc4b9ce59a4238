#!/usr/bin/env python3
# SPDX-License-Identifier: BSD-2-Clause
"""bench.py - Postern's benchmark harness (`make bench`; never part of `make check`).

    make bench                              build, then run everything below
    python3 tests/bench/bench.py [BUILD] [--quick] [--reps N] [--sessions N]
            [--small N] [--large N] [--budget SECONDS] [--keep]

Run as root (a private Postfix, smtp-sink -u postfix). Prints a table and
writes it to BUILD/bench.txt, all figures and every run to BUILD/bench.json.
It asserts nothing: timings depend on the machine and on what else runs on
it, so compare configurations only within one run, as ratios. --quick (200
messages per run, 2 rounds, short micro-benchmarks) checks the harness in
well under a minute; the default (5 rounds of 2000 x 2 KB and 800 x 100 KB
per configuration, stopped early at --budget 300 s of load) fits `make
bench` in 10 minutes on a 2-core machine.

ENGINE MICRO-BENCHMARKS (no MTA), run first
  * every executable BUILD/tests/bench/micro_* (from tests/bench/micro_*.c;
    the Makefile links each with every libNAME.a and libpostern), and
  * `postern-NAME -c CONF bench` for every daemon whose --help lists a
    `bench` tool (CONF is the benchmark configuration described below).
  Contract: print one line per figure, "bench NAME VALUE UNIT", e.g.
  "bench sort.run_script 12.5 us/msg" (NAME without spaces, prefixed with the
  daemon's short name; VALUE a plain number; lower-is-better units such as
  us/msg preferred); other lines are ignored, "#" lines are for people.
  Spend about $POSTERN_BENCH_SECONDS CPU seconds per figure (1, or 0.2 with
  --quick); finish within 120 s; exit 0.

END TO END
  A private Postfix on 127.0.0.1 (tests/lib/postfix.py) relays everything to
  Postfix's smtp-sink on a free 127.0.0.1 port; smtp-source loads it
  (-s SESSIONS parallel sessions, one message per connection, -l 2 KB and
  100 KB payloads). Each configuration has its own smtpd listener with its
  own -o smtpd_milters, so every milter stays up and nothing is reloaded:
      none     no milter
      ref      BUILD/tests/bench/refmilter: plain libmilter, every protocol
               step with a reply to each, "continue" to all: the floor
      testd    postern-testd: libpostern, every step, adds one header
      NAME     each BUILD/bin/postern-NAME alone, found automatically
      audit-interval  postern-audit with sync = interval, next to "audit"
               (its durable default, sync = always with group commit)
      archive-pg  postern-archive with index = postgresql (one host of a
               several-MX setup) on a private PostgreSQL (tests/lib/pg.py:
               roles.sql, `postern-archive db init`), next to "archive"
               (index = sqlite, the default); skipped with the reason when
               PostgreSQL or `db init` is not there
      chain    all those daemons in the order tls, sort, archive, audit
               (when at least two run): "all four chained"
      suite    BUILD/bin/postern-suite running the same engines in one
               process behind one socket ("suite, all four"), each engine
               with its own copy of the configuration its daemon has here
               (own archive, trail...) and tests/bench/suite.conf for the
               suite's own parameters; shown with "x chain", its rate
               relative to chain (when both ran)
      suite-metrics  the same suite (own copies of the data) with
               metrics_listen on a free 127.0.0.1 port, scraped once a
               second through the whole benchmark as Prometheus would:
               "Metrics on vs off" shows its msg/s and CPU relative to
               suite's
  After one uncounted warm-up each, runs are interleaved in rounds (every
  configuration once per size, the order rotated each round) so the
  machine's drift hits all alike; a figure is the median of the valid runs.
  A run is valid only when smtp-sink received every message, the maillog
  shows nothing deferred, bounced or rejected and smtp-source succeeded;
  milter_default_action is tempfail, so a failing milter shows up here.
  Invalid runs are listed with their counts, never dropped silently.

  msg/s       messages / (smtp-source start .. last message at the sink)
  x none      msg/s relative to no milter; x ref: relative to refmilter
  pf ms       CPU ms per message of the whole Postfix instance: user+system
              time of every process in the master's session, exited children
              included (cutime/cstime), read from /proc before and after
  x chain     msg/s relative to chain (the suite's line)
  milter ms   CPU ms per message of the configuration's milter process
              trees (supervisor and worker; for archive-pg also the whole
              PostgreSQL server, which works for it alone during the runs)
  total ms    pf ms + milter ms; cpu x none: total relative to no milter
  peak RSS    VmHWM of each milter's largest process (the worker) at the end
  smtp-source, smtp-sink and this script are not counted. On a busy machine
  msg/s follows the scheduler more than the milter; CPU ms is steadier.

SEVERAL MX HOSTS (issue 16)
  For one host: archive and archive-pg relative to ref (the do-nothing
  milter; goal >= 0.95 each) and archive-pg relative to archive (goal
  >= 0.9), from the same interleaved rounds. Then, once the MTA and the
  milters are stopped, search latency over --search-rows (default
  1,000,000; --quick 20,000; 0: skip) synthetic deliveries loaded straight
  into the PostgreSQL index (tests/bench/pg_search.py says how): median
  and 95th percentile of `postern-archive search` for a sender, a
  recipient, a subject word, a full-text word and a one-hour date range,
  --search-reps (default 40) queries each (goal: p95 under 200 ms).

CONFIGURING A DAEMON FOR THE BENCHMARK
  milters/NAME/bench.conf if it exists ("@DIR@" becomes a private writable
  directory, "@TOP@" the source tree, so rules and policies can live in
  milters/NAME/), else the sample milters/NAME/NAME.conf with every path
  under /var, /run or /srv moved into the private directory. The harness
  always sets socket, socket_mode and pidfile, and drops a `user` that does
  not exist. A daemon with neither file, or whose `check` fails, is listed
  as skipped with the reason. Mail never leaves 127.0.0.1; every wait is
  bounded.
"""
import argparse
import json
import os
import platform
import pwd
import re
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time

TOP = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
MILTERS_DIR = os.path.join(TOP, "milters")      # where bench.conf / NAME.conf live
SUITE_CONF = os.path.join(TOP, "tests", "bench", "suite.conf")
SMTP_SOURCE = "/usr/sbin/smtp-source"
SMTP_SINK = "/usr/sbin/smtp-sink"
DAEMON_ORDER = ["tls", "sort", "archive", "audit"]
SIZES = [("2KB", 2 * 1024), ("100KB", 100 * 1024)]
CLK_TCK = os.sysconf("SC_CLK_TCK")
BENCH_LINE = re.compile(r"^bench\s+(\S+)\s+([-+]?[0-9.]+(?:[eE][-+]?\d+)?)\s+(\S+)\s*$")
QUEUE_SUBDIRS = ("maildrop", "incoming", "active", "deferred", "hold", "corrupt")


def log(msg):
    print(msg, file=sys.stderr, flush=True)


# ---- /proc accounting -----------------------------------------------------

def scan_proc():
    """{pid: (ppid, session, cpu_ticks)} for every process; cpu_ticks is
    utime+stime+cutime+cstime, i.e. the process and its reaped children.
    Zombies still report their own times until they are reaped."""
    out = {}
    for name in os.listdir("/proc"):
        if not name.isdigit():
            continue
        try:
            with open(f"/proc/{name}/stat") as f:
                data = f.read()
        except OSError:
            continue
        fields = data[data.rindex(")") + 2:].split()
        # fields[0] is stat field 3 (state): ppid=4, session=6, utime=14 .. cstime=17
        out[int(name)] = (int(fields[1]), int(fields[3]),
                          sum(int(x) for x in fields[11:15]))
    return out


def tree(scan, root):
    """root and all its descendants that are in scan."""
    children = {}
    for pid, (ppid, _, _) in scan.items():
        children.setdefault(ppid, []).append(pid)
    out, todo = [], [root]
    while todo and len(out) < 10000:
        p = todo.pop()
        if p in scan:
            out.append(p)
            todo.extend(children.get(p, []))
    return out


def tree_cpu(scan, root):
    """CPU seconds of a process tree (live members plus everything reaped)."""
    return sum(scan[p][2] for p in tree(scan, root)) / CLK_TCK


def session_cpu(scan, sid):
    """CPU seconds of every process of session sid (a Postfix master's)."""
    return sum(v[2] for v in scan.values() if v[1] == sid) / CLK_TCK


def vm_hwm_kb(pid):
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1])
    except OSError:
        pass
    return 0


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def unix_accepts(path):
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        s.connect(path)
        return True
    except OSError:
        return False
    finally:
        s.close()


# ---- the sink -------------------------------------------------------------

class SmtpSink:
    """Postfix's smtp-sink on 127.0.0.1; count() is its running message count
    (-c writes "sess=N quit=N mesg=N\\r" records to stdout, here a file)."""

    def __init__(self, base):
        self.out = os.path.join(base, "smtp-sink.out")
        self.proc = None
        self.port = None

    def start(self):
        for _ in range(5):
            self.port = free_port()
            fp = open(self.out, "wb")
            self.proc = subprocess.Popen(
                [SMTP_SINK, "-c", "-u", "postfix", "-m", "1000",
                 f"127.0.0.1:{self.port}", "1000"],
                stdout=fp, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
            fp.close()
            deadline = time.monotonic() + 5
            while time.monotonic() < deadline and self.proc.poll() is None:
                try:
                    with socket.create_connection(("127.0.0.1", self.port), 1) as s:
                        s.settimeout(2)
                        if s.recv(100).startswith(b"220"):
                            s.sendall(b"QUIT\r\n")
                            return self
                except OSError:
                    time.sleep(0.05)
            self.stop()
        raise RuntimeError("smtp-sink did not start; output: " + self._tail(400))

    def _tail(self, n):
        try:
            with open(self.out, "rb") as f:
                f.seek(max(0, os.path.getsize(self.out) - n))
                return f.read().decode("ascii", "replace")
        except OSError:
            return ""

    def count(self):
        for rec in reversed(self._tail(256).split("\r")):
            m = re.search(r"mesg=(\d+)", rec)
            if m:
                return int(m.group(1))
        return 0

    def stop(self):
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)
        self.proc = None


# ---- milters --------------------------------------------------------------

class RefMilter:
    label = "ref"

    def __init__(self, binary, base):
        self.name = "refmilter"
        self.binary = binary
        self.base = base
        self.sock = os.path.join(base, "refmilter.sock")
        self.spec = "unix:" + self.sock
        self.proc = None

    def start(self):
        os.makedirs(self.base, exist_ok=True)
        os.chmod(self.base, 0o755)
        self.logf = open(os.path.join(self.base, "refmilter.log"), "w")
        self.proc = subprocess.Popen([self.binary, "-b", "1024", self.spec],
                                     stdout=self.logf, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"refmilter exited {self.proc.returncode}")
            if unix_accepts(self.sock):
                return self
            time.sleep(0.05)
        raise RuntimeError("refmilter did not open its socket")

    def root_pid(self):
        return self.proc.pid if self.proc else None

    def helper_pids(self):
        return []

    def exit_status(self):
        """None while running, else the exit status (negative: signal)."""
        return self.proc.poll() if self.proc else None

    def log_tail(self):
        with open(os.path.join(self.base, "refmilter.log"), errors="replace") as f:
            return f.read()[-400:]

    def stop(self):
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)
        self.proc = None
        self.logf.close()


class PosternMilter:
    """A libpostern daemon (postern-testd or BUILD/bin/postern-NAME) run in
    the foreground through tests/lib/daemon.py."""

    def __init__(self, binary_name, label, base, config, source, daemon=None):
        from daemon import Daemon
        self.name = binary_name
        self.label = label
        self.source = source
        self.d = daemon or Daemon(binary_name, config=config, base=base,
                                  socket_dir=os.path.join(base, "run"))
        self.helpers = []   # functions giving the pid of a server it uses
        os.chmod(base, 0o755)
        self.spec = self.d.spec

    def check(self):
        if self.d.suite:    # the suite's own check, which loads every engine
            from daemon import binary
            self.d.write_config()
            r = subprocess.run([binary("postern-suite"), "-c", self.d.serve_conf, "check"],
                               capture_output=True, text=True, timeout=60)
        else:
            r = self.d.run("check")
        return r.returncode, (r.stdout + r.stderr).strip()

    def bench_tool(self):
        """The daemon's `bench` tool output, or None when it has none."""
        if self.d.suite:
            return None     # its engines' daemons have theirs
        r = subprocess.run(self.d.command("--help"), capture_output=True,
                           text=True, timeout=30)
        if not re.search(r"^\s+bench\b", r.stdout + r.stderr, re.M):
            return None
        self.d.write_config()
        return self.d.command("bench")

    def start(self):
        self.d.start()
        return self

    def root_pid(self):
        return self.d.proc.pid if self.d.proc else None

    def helper_pids(self):
        """Roots of other process trees whose CPU counts as this milter's."""
        return [f() for f in self.helpers if f()]

    def exit_status(self):
        return self.d.proc.poll() if self.d.proc else None

    def log_tail(self):
        return self.d.log()[-400:]

    def stop(self):
        self.d.stop()


def parse_conf(text):
    """key = value lines (continuation lines kept with their indentation)
    of a Postern configuration, comments and blank lines dropped."""
    params, key = {}, None
    for line in text.splitlines():
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        if line[0] in " \t" and key:
            params[key] += "\n" + line
            continue
        if "=" not in line:
            key = None
            continue
        key, value = line.split("=", 1)
        key = key.strip()
        params[key] = value.strip()
    return params


def bench_config(short, scratch):
    """(config dict, source) for daemon postern-SHORT, private paths under
    scratch (see the module comment); (None, reason) without a file: the
    compiled-in defaults point at system paths a benchmark must not touch."""
    own = os.path.join(MILTERS_DIR, short, "bench.conf")
    sample = os.path.join(MILTERS_DIR, short, short + ".conf")
    if os.path.exists(own):
        with open(own) as f:
            text = f.read().replace("@DIR@", scratch).replace("@TOP@", TOP)
        params, source = parse_conf(text), own
    elif os.path.exists(sample):
        with open(sample) as f:
            params, source = parse_conf(f.read()), sample

        def move(m):
            path = scratch + m.group(0)
            os.makedirs(os.path.dirname(path), exist_ok=True)
            return path
        for k, v in params.items():
            v = re.sub(r"(?<![^\s,=:])/(?:var|run|srv)/[^\s,]+", move, v)
            if re.search(r"(_dir|directory)$", k) and v.startswith(scratch):
                os.makedirs(v, exist_ok=True)
            params[k] = v
    else:
        return None, f"no {own} or {sample}"
    user = params.get("user", "")
    if user:
        try:
            pw = pwd.getpwnam(user)
            for dirpath, dirs, files in os.walk(scratch):
                for n in [dirpath] + [os.path.join(dirpath, x) for x in files]:
                    os.chown(n, pw.pw_uid, pw.pw_gid)
        except KeyError:
            params["user"] = ""
    # The harness owns the socket (tests/lib/daemon.py sets it and its mode).
    for k in ("socket", "socket_mode", "socket_owner"):
        params.pop(k, None)
    params["pidfile"] = ""
    return params, source


def variant_data(cfg, d_base, v_base):
    """A second configuration of a daemon beside the first (d_base): its
    own data directory v_base/data, and cfg with every path into the
    first's data directory moved there, so the two share nothing."""
    os.makedirs(v_base)
    scratch = os.path.join(v_base, "data")
    os.makedirs(scratch)
    os.chmod(scratch, 0o755)
    old = os.path.join(d_base, "data")
    return scratch, {k: (val.replace(old, scratch) if isinstance(val, str) else val)
                     for k, val in cfg.items()}


def audit_interval_variant(cfg, d_base, source):
    """postern-audit a second time with sync = interval (fdatasync at most
    once a second), next to the durable default (sync = always: the record
    is on disk before the MTA gets its reply, group commit): configuration
    "audit-interval", its own trail and key so nothing is shared."""
    v_base = d_base + "-interval"
    _, v = variant_data(cfg, d_base, v_base)
    for k in ("trail_file", "key_file", "head_file"):
        if v.get(k):
            os.makedirs(os.path.dirname(v[k]), exist_ok=True)
    if cfg.get("key_file") and os.path.exists(cfg["key_file"]):
        shutil.copy2(cfg["key_file"], v["key_file"])
    v["sync"] = "interval"
    m = PosternMilter("postern-audit", "audit-interval", v_base, v, source + " + sync = interval")
    m.name = "postern-audit(interval)"   # CPU and RSS figures are kept per name
    rc, _ = m.check()
    return m if rc == 0 else None


def start_postgresql(base, notes):
    """A private PostgreSQL with the documented roles, or None (noted)."""
    try:
        from pg import PostgreSQL
        os.makedirs(os.path.join(base, "pg"))
        db = PostgreSQL(root=os.path.join(base, "pg"))
    except Exception as e:
        notes.append(f"PostgreSQL not available: {str(e)[:300]}")
        return None
    try:
        db.start()
        db.setup_roles()
    except Exception as e:
        notes.append(f"PostgreSQL did not start: {str(e)[:300]}")
        db.cleanup()
        return None
    return db


def archive_pg_variant(cfg, d_base, source, db, notes):
    """postern-archive a second time with index = postgresql (the index of
    several MX hosts, here one host: host_name bench), its own archive
    directory, next to the SQLite default: configuration "archive-pg".
    The schema comes from `postern-archive db init` run as postern_owner,
    as the documentation tells an administrator."""
    v_base = d_base + "-pg"
    scratch, v = variant_data(cfg, d_base, v_base)
    for k, val in v.items():
        if re.search(r"(_dir|directory)$", k) and val.startswith(scratch):
            os.makedirs(val, exist_ok=True)
    v.update({"index": "postgresql", "index_connection": db.conninfo("postern_archive"),
              "host_name": "bench"})
    m = PosternMilter("postern-archive", "archive-pg", v_base, v, source + " + index = postgresql")
    m.name = "postern-archive(pg)"   # CPU and RSS figures are kept per name
    m.helpers.append(db.server_pid)     # PostgreSQL's CPU is the index's cost
    r = m.d.run("db", "init", "--connection", db.conninfo("postern_owner"))
    if r.returncode != 0:
        notes.append("archive-pg skipped: `postern-archive db init` failed "
                     f"({r.returncode}): {(r.stdout + r.stderr).strip()[-300:]}")
        return None
    rc, out = m.check()
    if rc != 0:
        notes.append(f"archive-pg skipped: `check` failed ({rc}): {out[-300:]}")
        return None
    return m


def suite_milter(daemons, base, label="suite", extra=None):
    """postern-suite with the engines of daemons (the PosternMilters that
    passed check), each engine with a fresh copy of its daemon's bench
    configuration under base/LABEL/NAME/data (so the suite shares no
    archive, trail or key with the separate daemons), the suite's own
    parameters from tests/bench/suite.conf, then extra (a dict).
    (milter, None) or (None, why)."""
    from daemon import Daemon, Process
    s_base = os.path.join(base, label)
    scratch = os.path.join(s_base, "data")
    for d in (s_base, scratch, os.path.join(s_base, "run")):
        os.makedirs(d, exist_ok=True)
        os.chmod(d, 0o755)
    settings, source = {}, "built-in defaults"
    if os.path.exists(SUITE_CONF):
        with open(SUITE_CONF) as f:
            settings = parse_conf(f.read().replace("@DIR@", scratch).replace("@TOP@", TOP))
        source = SUITE_CONF
    for k, v in settings.items():
        if re.search(r"(_dir|directory)$", k):
            os.makedirs(v, exist_ok=True)
            os.chmod(v, 0o1777)
    for k in ("socket", "socket_mode", "socket_owner", "engines"):
        settings.pop(k, None)
    settings["pidfile"] = ""
    settings.update(extra or {})
    proc = Process("postern-suite", os.path.join(s_base, "postern-suite.conf"),
                   os.path.join(s_base, "postern-suite.log"),
                   os.path.join(s_base, "run", "postern-suite.sock"), settings,
                   composed=True)
    first = None
    for m in daemons:
        e_base = os.path.join(s_base, m.label)
        e_scratch = os.path.join(e_base, "data")
        os.makedirs(e_scratch)
        os.chmod(e_base, 0o755)
        os.chmod(e_scratch, 0o755)
        cfg, _ = bench_config(m.label, e_scratch)
        if m.label == "audit" and cfg.get("key_file") and m.d.config.get("key_file") \
                and os.path.exists(m.d.config["key_file"]):
            os.makedirs(os.path.dirname(cfg["key_file"]), exist_ok=True)
            shutil.copy2(m.d.config["key_file"], cfg["key_file"])
        d = Daemon(m.name, config=cfg, base=e_base, process=proc)
        first = first or d
    if first is None:
        return None, "no engine"
    sm = PosternMilter("postern-suite", label, s_base, None,
                       f"{source} + each engine's bench configuration", daemon=first)
    if label != "suite":
        sm.name = f"postern-suite({label})"   # CPU and RSS figures are kept per name
    rc, out = sm.check()
    if rc != 0:
        return None, (f"`postern-suite check` failed ({rc}): "
                      f"{out.splitlines()[-1] if out else ''}")
    return sm, None


# ---- Postfix --------------------------------------------------------------

class Config:
    def __init__(self, name, milters):
        self.name = name
        self.milters = milters
        self.port = None

    def master_line(self):
        line = (f"127.0.0.1:{self.port} inet n - n - - smtpd"
                f" -o syslog_name=postfix/bench-{self.name}")
        if self.milters:
            line += " -o { smtpd_milters = " + ", ".join(m.spec for m in self.milters) + " }"
        return line


def queue_count(pf, subdirs=QUEUE_SUBDIRS):
    n = 0
    for sub in subdirs:
        for _, _, files in os.walk(os.path.join(pf.queue_dir, sub)):
            n += len(files)
    return n


def wait_queue_empty(pf, timeout):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if queue_count(pf) == 0:
            return True
        time.sleep(0.05)
    return False


class MailLog:
    """Counts of delivery problems in the maillog since the last call."""

    def __init__(self, path):
        self.path = path
        self.offset = 0

    def skip(self):
        self.offset = os.path.getsize(self.path) if os.path.exists(self.path) else 0

    def problems(self):
        counts = {"deferred": 0, "bounced": 0, "rejected": 0, "milter_warnings": 0}
        try:
            with open(self.path, "rb") as f:
                f.seek(self.offset)
                data = f.read(256 * 1024 * 1024)
                self.offset += len(data)
        except OSError:
            return counts
        text = data.decode("utf-8", "replace")
        counts["deferred"] = text.count("status=deferred")
        counts["bounced"] = text.count("status=bounced")
        counts["rejected"] = len(re.findall(r"\b(?:milter-)?reject: ", text))
        counts["milter_warnings"] = len(re.findall(r"warning: milter ", text))
        return counts


def start_postfix(configs, sessions, base, relay_port):
    from postfix import PrivatePostfix
    from postfix import PostfixError
    last = None
    for _ in range(3):
        for c in configs:
            c.port = free_port()
        pf = PrivatePostfix(base=os.path.join(base, "postfix"), relay_port=relay_port, settings={
            "milter_default_action": "tempfail",
            "milter_connect_timeout": "10s",
            "milter_command_timeout": "10s",
            "milter_content_timeout": "30s",
            "default_process_limit": str(max(100, 2 * sessions + 20)),
            "default_destination_concurrency_limit": str(sessions),
            "smtp_destination_concurrency_limit": str(sessions),
            "initial_destination_concurrency": str(min(sessions, 20)),
            "smtpd_client_connection_count_limit": "0",
        }, master_extra="\n".join(c.master_line() for c in configs))
        try:
            return pf.start()
        except PostfixError as e:
            last = e
            pf.stop()
    raise last


# ---- one run --------------------------------------------------------------

class Bench:
    def __init__(self, args, pf, sink, configs, milters, base, notes):
        self.args = args
        self.notes = notes
        self.dead = set()
        self.pf = pf
        self.sink = sink
        self.configs = configs
        self.milters = milters
        self.base = base
        self.maillog = MailLog(pf.maillog)

    def cpu_snapshot(self):
        scan = scan_proc()
        snap = {"postfix": session_cpu(scan, self.pf.master_pid)}
        for m in self.milters:
            pid = m.root_pid()
            snap[m.name] = tree_cpu(scan, pid) if pid else 0.0
            # a milter's server (archive-pg's PostgreSQL) works for it
            snap[m.name] += sum(tree_cpu(scan, p) for p in m.helper_pids())
        return snap

    def run(self, cfg, size, n):
        """One smtp-source run of n messages of size bytes through cfg."""
        a = self.args
        wait_queue_empty(self.pf, 10)
        self.maillog.skip()
        base_count = self.sink.count()
        before = self.cpu_snapshot()
        errf = open(os.path.join(self.base, "smtp-source.err"), "w+")
        cmd = [SMTP_SOURCE, "-s", str(a.sessions), "-m", str(n), "-l", str(size),
               "-N", "-M", "client.bench.test", "-f", "bench@source.example",
               "-t", "sink@dest.example", "-S", "Postern bench",
               f"127.0.0.1:{cfg.port}"]
        t0 = time.monotonic()
        src = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=errf,
                               stdin=subprocess.DEVNULL)
        got, t_done, last_change, status = 0, None, t0, "ok"
        hard = t0 + a.run_timeout
        while True:
            time.sleep(0.02)
            now = time.monotonic()
            c = self.sink.count() - base_count
            if c != got:
                got, last_change = c, now
            if got >= n:
                t_done = now
                break
            # smtp-source gave up or mail went missing: stop waiting once
            # nothing moves and nothing is left that could still arrive
            if src.poll() is not None and now - last_change > 2 and \
                    queue_count(self.pf, ("maildrop", "incoming", "active")) == 0:
                status = "smtp-source failed" if src.returncode else "lost messages"
                break
            if now - last_change > a.stall:
                status = f"stalled {a.stall}s"
                break
            if now > hard:
                status = "timeout"
                break
        try:
            src.wait(max(1.0, hard - time.monotonic()))
        except subprocess.TimeoutExpired:
            src.kill()
            src.wait(5)
            status = status if status != "ok" else "smtp-source hung"
        if src.returncode not in (0, None) and status == "ok":
            status = f"smtp-source exit {src.returncode}"
        drained = wait_queue_empty(self.pf, 10)
        after = self.cpu_snapshot()
        errf.seek(0)
        err = errf.read(2000).strip()
        errf.close()
        got = self.sink.count() - base_count
        problems = self.maillog.problems()
        if not drained:
            status = status if status != "ok" else "queue not empty"
            self.pf.purge()
            wait_queue_empty(self.pf, 10)
        for m in cfg.milters:
            rc = m.exit_status()
            if rc is not None:
                status = status if status != "ok" else f"{m.name} exited"
                if m.name not in self.dead:
                    self.dead.add(m.name)
                    self.notes.append(f"{m.name} exited with status {rc} by the end of a "
                                      f"{cfg.name} run; its log ends: "
                                      + " | ".join(m.log_tail().splitlines()[-4:]))
        if got != n and status == "ok":
            status = "lost messages"
        if (problems["deferred"] or problems["bounced"] or problems["rejected"]) \
                and status == "ok":
            status = "deferred/rejected"
        elapsed = (t_done or time.monotonic()) - t0
        r = {
            "config": cfg.name, "size": size, "sent": n, "received": got,
            "seconds": round(elapsed, 3),
            "msg_per_s": round(n / elapsed, 1) if t_done else None,
            "postfix_cpu_ms": round((after["postfix"] - before["postfix"]) * 1000 / n, 3),
            # max(0): a milter that died and was reaped leaves nothing to count
            "milter_cpu_ms": {m.name: round(max(0.0, after[m.name] - before[m.name]) * 1000 / n, 3)
                              for m in cfg.milters},
            "valid": status == "ok", "status": status,
        }
        r.update(problems)
        if err and status != "ok":
            r["smtp_source_stderr"] = err[-500:]
        return r


# ---- micro-benchmarks -----------------------------------------------------

def parse_bench_lines(text, origin):
    out = []
    for line in text.splitlines():
        m = BENCH_LINE.match(line.strip())
        if m:
            out.append({"name": m.group(1), "value": float(m.group(2)),
                        "unit": m.group(3), "from": origin})
    return out


def run_micro(build, daemons, quick):
    env = dict(os.environ, POSTERN_BENCH_SECONDS="0.2" if quick else "1")
    results, notes = [], []
    bdir = os.path.join(build, "tests", "bench")
    progs = []
    if os.path.isdir(bdir):
        for n in sorted(os.listdir(bdir)):
            p = os.path.join(bdir, n)
            if n.startswith("micro_") and "." not in n and os.path.isfile(p) \
                    and os.access(p, os.X_OK):
                progs.append((n, [p]))
    for d in daemons:
        try:
            cmd = d.bench_tool()
        except (OSError, subprocess.SubprocessError) as e:
            notes.append(f"{d.name} bench tool: {e}")
            continue
        if cmd:
            progs.append((d.name + " bench", cmd))
    for name, cmd in progs:
        log(f"micro: {name}")
        try:
            r = subprocess.run(cmd, capture_output=True, text=True, timeout=120, env=env)
        except subprocess.TimeoutExpired:
            notes.append(f"{name}: timed out after 120 s")
            continue
        got = parse_bench_lines(r.stdout, name)
        if r.returncode != 0:
            notes.append(f"{name}: exit {r.returncode}: {(r.stderr or r.stdout).strip()[-300:]}")
        elif not got:
            notes.append(f"{name}: printed no 'bench NAME VALUE UNIT' line")
        results.extend(got)
    return results, notes


# ---- report ---------------------------------------------------------------

def median(xs):
    xs = [x for x in xs if x is not None]
    return statistics.median(xs) if xs else None


def fmt(x, spec):
    """format(x, spec), or "-" as wide as the spec asks when x is None."""
    if x is None:
        width = re.match(r"\d*", spec).group(0)
        return "-".rjust(int(width) if width else 1)
    return format(x, spec)


def summarize(runs, configs, sizes):
    summary = []
    for label, size in sizes:
        rows = {}
        for c in configs:
            rs = [r for r in runs if r["config"] == c.name and r["size"] == size]
            ok = [r for r in rs if r["valid"]]
            pf = median([r["postfix_cpu_ms"] for r in ok])
            mil = median([sum(r["milter_cpu_ms"].values()) for r in ok]) if c.milters else 0.0
            rows[c.name] = {
                "config": c.name, "size": size, "size_label": label,
                "msg_per_s": median([r["msg_per_s"] for r in ok]),
                "postfix_cpu_ms": pf,
                "milter_cpu_ms": mil if ok else None,
                "total_cpu_ms": (pf + mil) if ok and pf is not None else None,
                "runs": len(rs), "valid_runs": len(ok),
                "received": [r["received"] for r in rs], "sent": rs[0]["sent"] if rs else 0,
            }
        for row in rows.values():
            for ref in ("none", "ref", "chain"):
                b = rows.get(ref)
                row["x_" + ref] = (row["msg_per_s"] / b["msg_per_s"]
                                   if b and b["msg_per_s"] and row["msg_per_s"] else None)
            b = rows.get("none")
            row["cpu_x_none"] = (row["total_cpu_ms"] / b["total_cpu_ms"]
                                 if b and b["total_cpu_ms"] and row["total_cpu_ms"] else None)
            if row["runs"]:
                summary.append(row)
    return summary


def search_latency(build, db, base, a, notes):
    """The search figures of tests/bench/pg_search.py, {} when it could not run."""
    from pg_search import SearchBench
    log(f"search: loading {a.search_rows} synthetic deliveries into PostgreSQL")
    sb = SearchBench(build, db, base)
    try:
        why = sb.prepare(a.search_rows)
        if why:
            notes.append(f"search latency skipped: {why}")
            return {}
        log(f"search: {sb.rows} deliveries loaded in {sb.load_seconds:.0f} s; measuring")
        return {"rows": sb.rows, "load_seconds": round(sb.load_seconds, 1),
                "reps": a.search_reps, "queries": sb.measure(a.search_reps)}
    except Exception as e:  # a figure missing is reported, never fatal
        notes.append(f"search latency failed: {str(e)[:400]}")
        return {}


def multihost_figures(summary):
    """Per size: archive and archive-pg relative to ref (goal >= 0.95)
    and archive-pg relative to archive (goal >= 0.9), msg/s and CPU."""
    out = []
    sizes = []
    for r in summary:
        if r["size_label"] not in sizes:
            sizes.append(r["size_label"])
    for label in sizes:
        rows = {r["config"]: r for r in summary if r["size_label"] == label}
        sq, pg = rows.get("archive"), rows.get("archive-pg")
        if not sq and not pg:
            continue

        def ratio(x, y, key):
            return x[key] / y[key] if x and y and x.get(key) and y.get(key) else None
        out.append({"size": label,
                    "sqlite_x_ref": sq and sq["x_ref"], "pg_x_ref": pg and pg["x_ref"],
                    "pg_x_sqlite": ratio(pg, sq, "msg_per_s"),
                    "pg_cpu_x_sqlite": ratio(pg, sq, "total_cpu_ms")})
    return out


def render_multihost(multihost, search):
    L = []
    if multihost:
        L.append("")
        L.append("Several MX hosts, one host's delivery rate (msg/s ratios from the table above)")
        L.append(f"{'size':<6} {'sqlite x ref':>12} {'pg x ref':>9} {'pg x sqlite':>11} "
                 f"{'cpu pg x sqlite':>15}   goals: x ref >= 0.95, pg x sqlite >= 0.90")
        for m in multihost:
            L.append(f"{m['size']:<6} {fmt(m['sqlite_x_ref'], '12.2f')} "
                     f"{fmt(m['pg_x_ref'], '9.2f')} {fmt(m['pg_x_sqlite'], '11.2f')} "
                     f"{fmt(m['pg_cpu_x_sqlite'], '15.2f')}")
    if search:
        L.append("")
        L.append(f"Search latency, postern-archive search over {search['rows']:,} synthetic "
                 f"deliveries in PostgreSQL (loaded in {search['load_seconds']:.0f} s; "
                 f"{search['reps']} queries each; a new process per query; goal p95 < 200 ms)")
        L.append(f"  {'query':<13} {'median ms':>9} {'p95 ms':>8} {'max ms':>8} {'hits':>6}"
                 "  example")
        for q in search["queries"]:
            L.append(f"  {q['query']:<13} {q['median_ms']:9.1f} {q['p95_ms']:8.1f} "
                     f"{q['max_ms']:8.1f} {q['median_hits']:6.0f}  {q['example']}"
                     + ("  ERRORS: " + " | ".join(q["errors"]) if q["errors"] else ""))
    return L


def metrics_figures(summary):
    """Per size: suite-metrics relative to suite, msg/s and CPU."""
    out = []
    for label in dict.fromkeys(r["size_label"] for r in summary):
        rows = {r["config"]: r for r in summary if r["size_label"] == label}
        on, off = rows.get("suite-metrics"), rows.get("suite")
        if not on or not off:
            continue

        def ratio(key):
            return on[key] / off[key] if on.get(key) and off.get(key) else None
        out.append({"size": label, "on_msg_per_s": on["msg_per_s"],
                    "off_msg_per_s": off["msg_per_s"], "msg_x_off": ratio("msg_per_s"),
                    "milter_cpu_x_off": ratio("milter_cpu_ms"),
                    "total_cpu_x_off": ratio("total_cpu_ms")})
    return out


def render_metrics(metrics):
    L = []
    if metrics:
        L.append("")
        L.append("Metrics on vs off: postern-suite with metrics_listen, scraped every second, "
                 "relative to the same suite without (goal: within noise, ~1.00)")
        L.append(f"{'size':<6} {'on msg/s':>8} {'off msg/s':>9} {'msg/s x off':>11} "
                 f"{'milter cpu x off':>16} {'total cpu x off':>15}")
        for m in metrics:
            L.append(f"{m['size']:<6} {fmt(m['on_msg_per_s'], '8.0f')} "
                     f"{fmt(m['off_msg_per_s'], '9.0f')} {fmt(m['msg_x_off'], '11.2f')} "
                     f"{fmt(m['milter_cpu_x_off'], '16.2f')} "
                     f"{fmt(m['total_cpu_x_off'], '15.2f')}")
    return L


class Scraper:
    """GET /metrics once a second in a thread, as Prometheus would, so the
    metrics configuration pays for being read too."""

    def __init__(self, port):
        self.port = port
        self.stopping = threading.Event()
        self.thread = threading.Thread(target=self.loop, daemon=True)
        self.scrapes = self.errors = 0
        self.last = ""

    def start(self):
        self.thread.start()

    def loop(self):
        import urllib.request
        while not self.stopping.wait(1.0):
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{self.port}/metrics",
                                            timeout=5) as r:
                    self.last = r.read().decode()
                self.scrapes += 1
            except OSError:
                self.errors += 1

    def stop(self):
        """Notes: scrapes made and the messages the suite counted."""
        if not self.thread.is_alive():
            return []
        self.stopping.set()
        self.thread.join(10)
        m = re.search(r'^postern_messages_total\{verdict="accept"\} (\d+)$', self.last, re.M)
        return [f"suite-metrics: {self.scrapes} scrapes ({self.errors} failed); last one "
                f"counted {m.group(1) if m else '?'} messages accepted"]


def render(meta, summary, runs, rss, micro, notes, multihost=(), search=None, metrics=()):
    L = []
    L.append(f"Postern bench {meta['date']}  ({meta['cpus']} CPUs, load average "
             f"{meta['load_start']} at start, {meta['load_end']} at end)")
    L.append(f"{meta['rounds_done']} of {meta['rounds_asked']} interleaved rounds, "
             f"{meta['sessions']} parallel SMTP sessions, one message per connection; "
             f"messages per run: " + ", ".join(f"{k} x {v}" for k, v in meta["messages"].items()))
    if meta.get("stopped"):
        L.append("note: " + meta["stopped"])
    L.append("")
    L.append("End to end (median of valid runs; ms = CPU milliseconds per message)")
    hdr = (f"{'size':<6} {'config':<13} {'msg/s':>7} {'x none':>7} {'x ref':>6} {'x chain':>7} "
           f"{'pf ms':>6} {'milter ms':>9} {'total ms':>8} {'cpu x none':>10} {'valid':>6}")
    L.append(hdr)
    L.append("-" * len(hdr))
    for r in summary:
        bad = "" if r["valid_runs"] == r["runs"] else "  INVALID RUNS"
        L.append(f"{r['size_label']:<6} {r['config']:<13} {fmt(r['msg_per_s'], '7.0f')} "
                 f"{fmt(r['x_none'], '7.2f')} {fmt(r['x_ref'], '6.2f')} "
                 f"{fmt(r['x_chain'] if r['config'] == 'suite' else None, '7.2f')} "
                 f"{fmt(r['postfix_cpu_ms'], '6.2f')} {fmt(r['milter_cpu_ms'], '9.2f')} "
                 f"{fmt(r['total_cpu_ms'], '8.2f')} {fmt(r['cpu_x_none'], '10.2f')} "
                 f"{r['valid_runs']:>3}/{r['runs']:<2}{bad}")
    L.extend(render_multihost(multihost, search))
    L.extend(render_metrics(metrics))
    L.append("")
    L.append("Runs (in the order they ran; received = messages at smtp-sink)")
    for i, r in enumerate(runs, 1):
        mil = " ".join(f"{k}={v:.2f}" for k, v in r["milter_cpu_ms"].items())
        L.append(f"  {i:3d} {r['config']:<10} {r['size'] // 1024:>4}KB "
                 f"received {r['received']}/{r['sent']} in {r['seconds']:.2f}s "
                 f"{fmt(r['msg_per_s'], '.0f')} msg/s pf {r['postfix_cpu_ms']:.2f} ms"
                 f"{' ' + mil if mil else ''}"
                 f"{'' if r['valid'] else '  INVALID: ' + r['status']}"
                 f"{'' if not r['deferred'] + r['bounced'] + r['rejected'] else ' (deferred %d, bounced %d, rejected %d)' % (r['deferred'], r['bounced'], r['rejected'])}")
    L.append("")
    L.append("Peak RSS under the load (VmHWM of the milter's largest process)")
    for name, v in rss.items():
        L.append(f"  {name:<20} {v['peak_kb'] / 1024:7.1f} MB  ({v['processes']} processes)")
    L.append("")
    L.append("Micro-benchmarks (no MTA; CPU time)")
    for m in micro:
        L.append(f"  {m['name']:<32} {m['value']:>10.2f} {m['unit']}")
    if not micro:
        L.append("  none")
    if notes:
        L.append("")
        L.append("Notes")
        L.extend("  " + n for n in notes)
    return "\n".join(L) + "\n"


# ---- main -----------------------------------------------------------------

def stop_all(milters, notes):
    """Stop milters in parallel (libmilter takes seconds to wind down)."""
    def stop(m):
        try:
            m.stop()
        except Exception as e:
            notes.append(f"{m.name} stop: {str(e)[:300]}")
    threads = [threading.Thread(target=stop, args=(m,)) for m in milters]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)


def loadavg():
    with open("/proc/loadavg") as f:
        return " ".join(f.read().split()[:3])


def discover_daemons(build):
    bindir = os.path.join(build, "bin")
    names = []
    if os.path.isdir(bindir):
        for n in os.listdir(bindir):
            p = os.path.join(bindir, n)
            if n.startswith("postern-") and os.path.isfile(p) and os.access(p, os.X_OK):
                names.append(n[len("postern-"):])
    rank = {n: i for i, n in enumerate(DAEMON_ORDER)}
    return sorted(names, key=lambda n: (rank.get(n, len(rank)), n))


def main():
    ap = argparse.ArgumentParser(description="Postern benchmark (see the module comment)")
    ap.add_argument("build", nargs="?", default="build")
    ap.add_argument("--quick", action="store_true",
                    help="200 messages per run, 2 rounds (checks the harness)")
    ap.add_argument("--reps", type=int, help="interleaved rounds (default 5, quick 2)")
    ap.add_argument("--sessions", type=int, default=20, help="parallel SMTP sessions")
    ap.add_argument("--small", type=int, help="2 KB messages per run (default 2000)")
    ap.add_argument("--large", type=int, help="100 KB messages per run (default 800)")
    ap.add_argument("--budget", type=float, default=300,
                    help="seconds of load after which no new round starts (default 300)")
    ap.add_argument("--run-timeout", type=float, default=120, help=argparse.SUPPRESS)
    ap.add_argument("--stall", type=float, default=20, help=argparse.SUPPRESS)
    ap.add_argument("--only", help="comma-separated configurations to run "
                    "(none and ref are always run, for the ratios)")
    ap.add_argument("--search-rows", type=int,
                    help="synthetic deliveries in PostgreSQL for the search latency "
                    "(default 1000000, quick 20000; 0: no search benchmark)")
    ap.add_argument("--search-reps", type=int,
                    help="searches per kind of query (default 40, quick 10)")
    ap.add_argument("--keep", action="store_true",
                    help="keep the scratch directory (daemon logs, maillog)")
    a = ap.parse_args()
    a.reps = a.reps or (2 if a.quick else 5)
    a.small = a.small or (200 if a.quick else 2000)
    a.large = a.large or (200 if a.quick else 800)
    counts = {"2KB": a.small, "100KB": a.large}
    if a.search_rows is None:
        a.search_rows = 20000 if a.quick else 1000000
    a.search_reps = max(3, a.search_reps or (10 if a.quick else 40))
    a.reps = max(1, min(a.reps, 50))
    a.sessions = max(1, min(a.sessions, 200))

    build = os.path.abspath(a.build)
    os.environ["POSTERN_BUILD"] = build
    os.environ.setdefault("POSTERN_TOP", TOP)
    sys.path.insert(0, os.path.join(TOP, "tests", "lib"))

    if os.geteuid() != 0:
        sys.exit("bench.py: must run as root (private Postfix, smtp-sink -u postfix)")
    for p in (SMTP_SOURCE, SMTP_SINK, "/usr/sbin/postfix"):
        if not os.access(p, os.X_OK):
            sys.exit(f"bench.py: {p} missing: run `make deps` (Debian package postfix)")
    refbin = os.path.join(build, "tests", "bench", "refmilter")
    testdbin = os.path.join(build, "tests", "postern-testd")

    def stop_on_signal(signum, frame):
        raise KeyboardInterrupt(f"signal {signum}")
    signal.signal(signal.SIGTERM, stop_on_signal)

    t_start = time.monotonic()
    meta = {"date": time.strftime("%Y-%m-%d %H:%M:%S"), "cpus": os.cpu_count(),
            "host": platform.node(), "load_start": loadavg(), "sessions": a.sessions,
            "messages": counts, "rounds_asked": a.reps, "rounds_done": 0,
            "build": build, "quick": a.quick}
    notes = []
    base = tempfile.mkdtemp(prefix="postern-bench-")
    os.chmod(base, 0o755)
    started, milters, daemons, configs = [], [], [], []
    pf = sink = db = scraper = None
    found, interrupted = [], False
    runs, micro, rss, search = [], [], {}, {}
    try:
        # ---- milters that exist
        if os.access(refbin, os.X_OK):
            milters.append(RefMilter(refbin, os.path.join(base, "ref")))
        else:
            notes.append(f"{refbin} not built: no reference milter")
        if os.access(testdbin, os.X_OK):
            os.makedirs(os.path.join(base, "testd"))
            milters.append(PosternMilter("postern-testd", "testd",
                                         os.path.join(base, "testd"), {}, "built-in defaults"))
        found = discover_daemons(build)
        for short in found:
            if short == "suite":
                continue    # not a daemon of its own: its engines' (below)
            if short == "web":
                continue    # the archive's console, not a milter: no mail passes it
            d_base = os.path.join(base, short)
            os.makedirs(d_base)
            scratch = os.path.join(d_base, "data")
            os.makedirs(scratch)
            os.chmod(scratch, 0o755)
            cfg, source = bench_config(short, scratch)
            if cfg is None:
                notes.append(f"postern-{short} skipped: {source}")
                continue
            m = PosternMilter("postern-" + short, short, d_base, cfg, source)
            rc, out = m.check()
            if rc != 0:
                notes.append(f"postern-{short} skipped: `check` with {source} failed "
                             f"({rc}): {out.splitlines()[-1] if out else ''}")
                continue
            daemons.append(m)
            milters.append(m)
            if short == "audit":
                variant = audit_interval_variant(cfg, d_base, source)
                if variant:
                    milters.append(variant)
            if short == "archive" and (not a.only or "archive-pg" in a.only.split(",")
                                       or a.search_rows > 0):
                db = db or start_postgresql(base, notes)
                variant = archive_pg_variant(cfg, d_base, source, db, notes) if db else None
                if variant:
                    milters.append(variant)

        # ---- micro-benchmarks first, on a quiet machine
        micro, micro_notes = run_micro(build, [m for m in milters
                                               if isinstance(m, PosternMilter)], a.quick)
        notes.extend(micro_notes)

        # ---- configurations
        configs = [Config("none", [])]
        for m in milters:
            configs.append(Config(m.label, [m]))
        if len(daemons) >= 2:
            configs.append(Config("chain", list(daemons)))
        if "suite" in found and len(daemons) >= 2:
            suite, why = suite_milter(daemons, base)
            if suite:
                milters.append(suite)
                configs.append(Config("suite", [suite]))
                notes.append("suite = postern-suite with engines "
                             + " ".join(m.label for m in daemons))
            else:
                notes.append(f"postern-suite skipped: {why}")
            if suite:
                metrics_port = free_port()
                suite_m, why = suite_milter(daemons, base, "suite-metrics",
                                            {"metrics_listen": f"127.0.0.1:{metrics_port}"})
                if suite_m:
                    milters.append(suite_m)
                    configs.append(Config("suite-metrics", [suite_m]))
                    scraper = Scraper(metrics_port)
                else:
                    notes.append(f"suite-metrics skipped: {why}")
        if a.only:
            keep = set(a.only.split(",")) | {"none", "ref"}
            configs = [c for c in configs if c.name in keep]
            milters = [m for m in milters if any(m in c.milters for c in configs)]
        if any(c.name == "chain" for c in configs):
            notes.append("chain = " + " -> ".join(m.name for m in daemons))
        for m in list(milters):
            try:
                m.start()
                started.append(m)
            except Exception as e:  # a daemon that does not start is reported
                notes.append(f"{m.name} did not start: {str(e)[:300]}")
                configs = [c for c in configs if m not in c.milters]
                stop_all([m], [])
        notes.extend(f"{m.name} configured from {m.source}" for m in milters
                     if m in started and (m in daemons or m.label == "suite"))
        if scraper and any(c.name == "suite-metrics" for c in configs) \
                and any(m.label == "suite-metrics" for m in started):
            scraper.start()
        sink = SmtpSink(base).start()
        pf = start_postfix(configs, a.sessions, base, sink.port)
        log(f"postfix up ({len(configs)} listeners), sink on port {sink.port}; "
            f"configurations: {', '.join(c.name for c in configs)}")
        bench = Bench(a, pf, sink, configs, started, base, notes)

        # ---- warm-up: every path once, not counted
        for c in configs:
            r = bench.run(c, SIZES[0][1], min(50, a.small))
            if not r["valid"]:
                notes.append(f"warm-up of {c.name}: {r['status']} "
                             f"({r['received']}/{r['sent']} received)")
        t_load = time.monotonic()
        meta["warmup_seconds"] = round(t_load - t_start, 1)

        # ---- interleaved rounds
        total = a.reps * len(SIZES) * len(configs)
        for rnd in range(a.reps):
            t_round = time.monotonic()
            for label, size in SIZES:
                k = rnd % len(configs)
                for c in configs[k:] + configs[:k]:
                    if time.monotonic() - t_load > a.budget * 1.3:
                        raise KeyboardInterrupt("time budget exceeded in the middle of a round")
                    r = bench.run(c, size, counts[label])
                    r["round"] = rnd + 1
                    runs.append(r)
                    log(f"[{len(runs):3d}/{total}] {label:>5} {c.name:<8} "
                        f"{r['received']}/{r['sent']} {fmt(r['msg_per_s'], '.0f'):>5} msg/s "
                        f"pf {r['postfix_cpu_ms']:.2f} ms/msg"
                        f"{'' if r['valid'] else '  INVALID: ' + r['status']}")
            meta["rounds_done"] = rnd + 1
            used = time.monotonic() - t_load
            if rnd + 1 < a.reps and used + (time.monotonic() - t_round) > a.budget:
                meta["stopped"] = (f"stopped after {rnd + 1} rounds: the next would pass "
                                   f"the {a.budget:.0f} s budget")
                break
    except KeyboardInterrupt as e:
        notes.append(f"interrupted ({e}); partial results")
        interrupted = "signal" in str(e)
    finally:
        if scraper:
            notes.extend(scraper.stop())
        for m in started:
            pid = m.root_pid()
            if pid and runs:
                members = tree(scan_proc(), pid)
                rss[m.name] = {"peak_kb": max([vm_hwm_kb(p) for p in members] or [0]),
                               "processes": len(members),
                               "per_process_kb": {str(p): vm_hwm_kb(p) for p in members}}
        if pf is not None:
            try:
                pf.stop()
            except Exception as e:
                notes.append(f"postfix stop: {e}")
        if sink is not None:
            sink.stop()
        stop_all(started, notes)
        if db is not None and a.search_rows > 0 and "archive" in found and not interrupted:
            search = search_latency(build, db, base, a, notes)
        if db is not None:
            db.cleanup()
        if a.keep:
            notes.append(f"scratch directory kept: {base}")
        else:
            shutil.rmtree(base, ignore_errors=True)

    meta["load_end"] = loadavg()
    meta["seconds"] = round(time.monotonic() - t_start, 1)
    summary = summarize(runs, configs, SIZES)
    multihost = multihost_figures(summary)
    metrics = metrics_figures(summary)
    text = render(meta, summary, runs, rss, micro, notes, multihost, search, metrics)
    text += f"\n(total {meta['seconds']} s)\n"
    sys.stdout.write(text)
    os.makedirs(build, exist_ok=True)
    with open(os.path.join(build, "bench.txt"), "w") as f:
        f.write(text)
    with open(os.path.join(build, "bench.json"), "w") as f:
        json.dump({"meta": meta, "summary": summary, "runs": runs, "peak_rss": rss,
                   "micro": micro, "multihost": multihost, "search": search,
                   "metrics": metrics,
                   "notes": notes}, f, indent=1)
    return 0


if __name__ == "__main__":
    sys.exit(main())
