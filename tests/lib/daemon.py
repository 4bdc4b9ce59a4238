# SPDX-License-Identifier: BSD-2-Clause
"""daemon - start and stop a Postern daemon under test.

    from daemon import Daemon
    d = Daemon("postern-testd", config={"header_name": "X-Test"}, base=tmpdir)
    d.start()            # writes the config, runs `NAME -c CONF -f serve`,
                         # waits until the socket accepts connections
    d.spec               # "unix:/.../NAME.sock" for Postfix or MilterClient
    d.reload(config)     # rewrite the config and send SIGHUP
    d.log()              # what the daemon wrote to stderr
    d.stop()             # SIGTERM, wait, assert it exited 0 and left no process

Suite mode runs the engine in the combined daemon instead:

    d = Daemon("postern-tls", config=..., base=..., suite=True)
    d.start()            # writes tls.conf as above and NAME-suite.conf
                         # (engines = tls, tls_config = tls.conf, the
                         # socket, and the engine's process parameters:
                         # user, tmp_dir, limits...), runs postern-suite
    d.run("check")       # still postern-tls -c tls.conf: tools are the
    d.command("get")     # engine's daemon, on the same files
    d.log()              # postern-suite's log (every engine's lines)

Stack(suite=True) shares one Process among several engines (process=P).

Binaries come from $POSTERN_BUILD (bin/ for daemons, tests/ for test-only
ones). With POSTERN_VALGRIND=1 the daemon runs under valgrind and stop()
fails on any error valgrind reports.
"""
import os
import signal
import socket
import subprocess
import time

TOP = os.environ.get("POSTERN_TOP", os.path.abspath(os.path.join(os.path.dirname(__file__), "..", "..")))
BUILD = os.environ.get("POSTERN_BUILD", os.path.join(TOP, "build"))


def binary(name):
    for sub in ("bin", "tests"):
        path = os.path.join(BUILD, sub, name)
        if os.access(path, os.X_OK):
            return path
    raise FileNotFoundError(f"{name} not built in {BUILD}")


# The parameters postern-suite reads from its own file and not from an
# engine's (the separate daemon's process and the milter layer, shared by
# the engines of one process). A single-engine suite gets the engine's
# values for them, so that it behaves as that engine's daemon would.
SUITE_PROCESS_PARAMS = ("socket_mode", "socket_owner", "user", "pidfile", "log_level",
                        "milter_timeout", "listen_backlog", "tmp_dir", "body_memory_limit",
                        "max_header_count", "max_header_bytes", "header_limit_action",
                        "metrics_listen")
SUITE_ENGINES = ("tls", "sort", "archive", "audit")


def suite_mode(param):
    """Whether a test parameter ("postfix+suite", "suite") asks for the
    engines to run in postern-suite rather than in their own daemons."""
    return bool(param) and "suite" in param.split("+")


class Process:
    """The process that serves a socket: a daemon's own, or one
    postern-suite shared by the Daemon objects of its engines (members).
    Its configuration file is the daemon's (self.conf of its only member)
    or the suite's, written from the members' files and settings."""

    def __init__(self, binary_name, conf, logfile, sock_path, settings=None, composed=False):
        self.binary_name = binary_name
        # composed: a postern-suite whose file this harness writes from its
        # members (engines); else the members' own file is the process's
        self.composed = composed
        self.conf = conf
        self.logfile = logfile
        self.sock_path = sock_path
        self.spec = "unix:" + sock_path
        self.settings = dict(settings or {})   # suite.conf parameters set by the test
        self.members = []
        self.started_with = []
        self.proc = None
        self.log_fp = None

    def suite_config(self):
        """suite.conf as a dict: engines in their fixed order, each
        engine's file, the process parameters (from the engines' settings,
        so a one-engine suite keeps its daemon's user, tmp_dir, limits...;
        on_error too when there is one engine), then the test's own."""
        short = {m.name[len("postern-"):]: m for m in self.members}
        names = [n for n in SUITE_ENGINES if n in short]
        cfg = {"socket": self.spec, "socket_mode": "0666", "engines": " ".join(names)}
        for n in names:
            cfg[n + "_config"] = short[n].conf
        keys = SUITE_PROCESS_PARAMS + (("on_error",) if len(names) == 1 else ())
        for n in names:
            for k in keys:
                if k in short[n].config:
                    cfg[k] = short[n].config[k]
        cfg.update(self.settings)
        return cfg

    def write_config(self):
        for m in self.members:
            m.write_own_config()
        if self.composed:
            write_conf(self.conf, "postern-suite", self.suite_config())


def write_conf(path, name, config):
    with open(path, "w") as f:
        f.write(f"# {name} test configuration\n")
        for k, v in config.items():
            f.write(f"{k} = {v}\n")


def suite_process(base, socket_dir, settings=None):
    """A postern-suite for several Daemon(process=...) engines: its files
    base/postern-suite.{conf,log}, its socket socket_dir/postern-suite.sock."""
    os.makedirs(socket_dir, exist_ok=True)
    os.chmod(socket_dir, 0o755)
    return Process("postern-suite", os.path.join(base, "postern-suite.conf"),
                   os.path.join(base, "postern-suite.log"),
                   os.path.join(socket_dir, "postern-suite.sock"), settings, composed=True)


class Daemon:
    """A Postern daemon under test. With suite=True (engines tls, sort,
    archive, audit) the engine's file is written as for its daemon, and
    postern-suite serves it (a suite.conf naming that engine only, the
    same socket); with process=P the daemon is one engine of the shared
    postern-suite P (Stack(suite=True)). Either way tools (run(),
    command()) are the engine's daemon with the engine's file, as an
    admin runs them, while start(), stop(), reload(), log() and proc are
    those of the serving process."""

    def __init__(self, name, config=None, base=None, socket_dir=None, suite=False,
                 process=None):
        self.name = name
        self.base = base or "/tmp"
        self.socket_dir = socket_dir or os.path.join(self.base, "run")
        os.makedirs(self.socket_dir, exist_ok=True)
        # Postfix's processes (user postfix) must reach the socket.
        os.chmod(self.socket_dir, 0o755)
        self.conf = os.path.join(self.base, name + ".conf")
        if process is None:
            sock = os.path.join(self.socket_dir, name + ".sock")
            log = os.path.join(self.base, name + ".log")
            if suite and name[len("postern-"):] in SUITE_ENGINES:
                process = Process("postern-suite", os.path.join(self.base, name + "-suite.conf"),
                                  log, sock, composed=True)
            else:
                process = Process(name, self.conf, log, sock)
        self.process = process
        process.members.append(self)
        self.suite = process.composed
        self.sock_path = process.sock_path
        self.spec = process.spec
        self.logfile = process.logfile
        self.config = {"socket": self.spec, "socket_mode": "0666"}
        self.config.update(config or {})

    # the serving process's state, shared by the engines of one suite
    proc = property(lambda self: self.process.proc,
                    lambda self, v: setattr(self.process, "proc", v))
    log_fp = property(lambda self: self.process.log_fp,
                      lambda self, v: setattr(self.process, "log_fp", v))

    @property
    def serve_conf(self):
        """The file the serving process reads (suite.conf in suite mode)."""
        return self.process.conf

    def write_own_config(self):
        write_conf(self.conf, self.name, self.config)

    def write_config(self, config=None):
        if config is not None:
            self.config.update(config)
        self.process.write_config()

    def command(self, *args):
        """NAME -c CONF ARGS: the daemon's own binary and file (a tool)."""
        return self._wrap([binary(self.name), "-c", self.conf] + list(args))

    def serve_command(self):
        return self._wrap([binary(self.process.binary_name), "-c", self.process.conf,
                           "-f", "serve"])

    @staticmethod
    def _wrap(cmd):
        if os.environ.get("POSTERN_VALGRIND") == "1" and cmd[-1] == "serve":
            # the daemon's own children are checked too, but not Postfix's
            # sendmail (vacation replies): it execs the setgid postdrop,
            # which under valgrind runs without its group and cannot queue
            cmd = ["valgrind", "--error-exitcode=99", "--leak-check=full",
                   "--errors-for-leak-kinds=definite", "--trace-children=yes",
                   "--trace-children-skip=*/sendmail,*/postdrop", "-q"] + cmd
        return cmd

    def run(self, *args, input=None):
        """Run a subcommand (check, config, a tool) and return CompletedProcess."""
        self.write_config()
        return subprocess.run(self.command(*args), capture_output=True, text=True,
                              input=input, timeout=60)

    def start(self, timeout=20):
        p = self.process
        if p.proc is not None and p.proc.poll() is None:
            if self not in p.started_with:
                raise RuntimeError(f"{p.binary_name} already runs without {self.name}: "
                                   "create every engine's Daemon before start()")
            return self     # another engine of this suite started it
        self.write_config()
        p.started_with = list(p.members)
        p.log_fp = open(self.logfile, "w")
        p.proc = subprocess.Popen(self.serve_command(), stdout=p.log_fp,
                                  stderr=subprocess.STDOUT)
        deadline = time.time() + timeout
        while time.time() < deadline:
            if p.proc.poll() is not None:
                raise RuntimeError(f"{p.binary_name} exited with {p.proc.returncode}: "
                                   f"{self.log()}")
            # The supervisor opens the socket before it forks the worker;
            # the daemon is ready once the worker has loaded its
            # configuration and says so.
            if self.accepts() and "serving on" in self.log():
                return self
            time.sleep(0.05)
        raise RuntimeError(f"{p.binary_name} did not open {self.sock_path}: {self.log()}")

    def accepts(self):
        if self.spec.startswith("inet:"):
            port, _, host = self.spec[5:].partition("@")
            s, addr = socket.socket(), (host or "127.0.0.1", int(port))
        else:
            s, addr = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM), self.sock_path
        try:
            s.connect(addr)
            return True
        except OSError:
            return False
        finally:
            s.close()

    def reload(self, config=None):
        self.write_config(config)
        self.proc.send_signal(signal.SIGHUP)

    def reload_and_wait(self, config=None, timeout=10):
        """SIGHUP with a changed configuration; return once the daemon loaded it."""
        loaded = "configuration " + self.serve_conf + " loaded"
        n = self.log().count(loaded)
        self.reload(config)
        deadline = time.time() + timeout
        while self.log().count(loaded) <= n:
            if time.time() > deadline:
                raise AssertionError(f"reload not logged:\n{self.log()}")
            time.sleep(0.05)

    def log(self):
        try:
            with open(self.logfile, errors="replace") as f:
                return f.read()
        except FileNotFoundError:
            return ""

    def wait_for_log(self, text, timeout=10):
        deadline = time.time() + timeout
        while time.time() < deadline:
            if text in self.log():
                return True
            time.sleep(0.05)
        raise AssertionError(f"{text!r} not in {self.name} log:\n{self.log()}")

    def stop(self, timeout=30):
        """SIGTERM; returns the exit status. Raises if it does not stop."""
        p = self.process
        if p.proc is None:
            return None
        try:
            return stop_process(p.proc, p.log_fp, p.conf, p.binary_name, timeout, self.log)
        finally:
            p.proc = None


def stop_process(proc, log_fp, conf, name, timeout, log):
    """SIGTERM a daemon started with -f and wait for it; returns its exit
    status. Raises if it does not stop within timeout, leaves processes of
    its configuration conf behind (they are killed), or exits non-zero
    (log() is shown). log_fp, its output file, is closed."""
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
    try:
        rc = proc.wait(timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(5)
        raise AssertionError(f"{name} did not stop within {timeout}s")
    finally:
        log_fp.close()
    left = leftover_processes(conf)
    if left:
        for pid in left:
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        raise AssertionError(f"{name} left processes {left}")
    if rc != 0:
        raise AssertionError(f"{name} exited with {rc}: {log()}")
    return rc


def leftover_processes(conf):
    """pids whose command line mentions conf (a daemon's private config)."""
    pids = []
    for d in os.listdir("/proc"):
        if not d.isdigit():
            continue
        try:
            with open(f"/proc/{d}/cmdline", "rb") as f:
                cmd = f.read().split(b"\0")
        except OSError:
            continue
        if conf.encode() in cmd and int(d) != os.getpid():
            pids.append(int(d))
    return pids
