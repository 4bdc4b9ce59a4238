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


class Daemon:
    def __init__(self, name, config=None, base=None, socket_dir=None):
        self.name = name
        self.base = base or "/tmp"
        self.socket_dir = socket_dir or os.path.join(self.base, "run")
        os.makedirs(self.socket_dir, exist_ok=True)
        # Postfix's processes (user postfix) must reach the socket.
        os.chmod(self.socket_dir, 0o755)
        self.sock_path = os.path.join(self.socket_dir, name + ".sock")
        self.spec = "unix:" + self.sock_path
        self.conf = os.path.join(self.base, name + ".conf")
        self.logfile = os.path.join(self.base, name + ".log")
        self.config = {"socket": self.spec, "socket_mode": "0666"}
        self.config.update(config or {})
        self.proc = None

    def write_config(self, config=None):
        if config is not None:
            self.config.update(config)
        with open(self.conf, "w") as f:
            f.write(f"# {self.name} test configuration\n")
            for k, v in self.config.items():
                f.write(f"{k} = {v}\n")

    def command(self, *args):
        cmd = [binary(self.name), "-c", self.conf] + list(args)
        if os.environ.get("POSTERN_VALGRIND") == "1" and args and args[-1] == "serve":
            cmd = ["valgrind", "--error-exitcode=99", "--leak-check=full",
                   "--errors-for-leak-kinds=definite", "--trace-children=yes",
                   "-q"] + cmd
        return cmd

    def run(self, *args, input=None):
        """Run a subcommand (check, config, a tool) and return CompletedProcess."""
        self.write_config()
        return subprocess.run(self.command(*args), capture_output=True, text=True,
                              input=input, timeout=60)

    def start(self, timeout=20):
        self.write_config()
        self.log_fp = open(self.logfile, "w")
        self.proc = subprocess.Popen(self.command("-f", "serve"), stdout=self.log_fp,
                                     stderr=subprocess.STDOUT)
        deadline = time.time() + timeout
        while time.time() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"{self.name} exited with {self.proc.returncode}: {self.log()}")
            # The supervisor opens the socket before it forks the worker;
            # the daemon is ready once the worker has loaded its
            # configuration and says so.
            if self.accepts() and "serving on" in self.log():
                return self
            time.sleep(0.05)
        raise RuntimeError(f"{self.name} did not open {self.sock_path}: {self.log()}")

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
        loaded = "configuration " + self.conf + " loaded"
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
        if self.proc is None:
            return None
        pid = self.proc.pid
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
        try:
            rc = self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(5)
            raise AssertionError(f"{self.name} did not stop within {timeout}s")
        finally:
            self.log_fp.close()
        self.proc = None
        left = leftover_processes(self.conf)
        if left:
            for p in left:
                try:
                    os.kill(p, signal.SIGKILL)
                except ProcessLookupError:
                    pass
            raise AssertionError(f"{self.name} left processes {left}")
        if rc != 0:
            raise AssertionError(f"{self.name} exited with {rc}: {self.log()}")
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
