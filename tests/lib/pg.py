# SPDX-License-Identifier: BSD-2-Clause
"""pg - a private PostgreSQL server for tests, started and stopped by them.

    from pg import PostgreSQL
    db = PostgreSQL()            # initdb in a new temporary directory
    db.start()                   # listens on a unix socket only
    db.setup_roles()             # packaging/postgresql/roles.sql, as documented
    db.conninfo("postern_archive")   # "host=... port=... dbname=postern user=..."
    db.psql("SELECT count(*) FROM ...", user="postern_auditor")  # -> text
    db.stop(); db.start()        # an outage; the data stays
    db.server_pid()              # the postmaster's pid (CPU accounting), or None
    db.cleanup()

Debian's server binaries (/usr/lib/postgresql/N/bin, newest N) run as the
unprivileged user "postgres" when the tests run as root (PostgreSQL
refuses to run as root), as the current user otherwise. The server has no
TCP listener (listen_addresses empty): clients use the socket directory,
so nothing leaves the machine. Authentication is trust for local
connections: the roles and their grants are what the tests check, not
passwords.
"""
import glob
import os
import pwd
import shutil
import subprocess
import tempfile

TOP = os.environ.get("POSTERN_TOP", os.path.join(os.path.dirname(__file__), "..", ".."))
ROLES_SQL = os.path.join(TOP, "packaging", "postgresql", "roles.sql")


def server_bin(name):
    found = sorted(glob.glob(f"/usr/lib/postgresql/*/bin/{name}"),
                   key=lambda p: int(p.split("/")[4]))
    if not found:
        raise RuntimeError(f"PostgreSQL's {name} not found (packaging/deps.sh installs postgresql)")
    return found[-1]


_next_port = [55432 + (os.getpid() % 500) * 10]


class PostgreSQL:
    def __init__(self, root=None, port=None):
        self.root = root or tempfile.mkdtemp(prefix="postern-pg-")
        os.chmod(self.root, 0o755)
        self.data = os.path.join(self.root, "data")
        self.sockdir = os.path.join(self.root, "sock")
        self.log = os.path.join(self.root, "server.log")
        if port is None:
            port = _next_port[0]
            _next_port[0] += 1
        self.port = port
        self.as_user = None
        if os.geteuid() == 0:
            self.as_user = "postgres"
        os.makedirs(self.sockdir, exist_ok=True)
        os.chmod(self.sockdir, 0o777)
        if self.as_user:
            pw = pwd.getpwnam(self.as_user)
            os.chown(self.root, pw.pw_uid, pw.pw_gid)
            os.chown(self.sockdir, pw.pw_uid, pw.pw_gid)
        self.running = False
        self._initdb()

    def _run(self, argv, **kw):
        if self.as_user:
            argv = ["runuser", "-u", self.as_user, "--"] + argv
        return subprocess.run(argv, check=True, capture_output=True, text=True, **kw)

    def _initdb(self):
        self._run([server_bin("initdb"), "-D", self.data, "-U", "postgres", "--auth=trust",
                   "-E", "UTF8", "--locale=C.UTF-8", "--no-sync"])
        with open(os.path.join(self.data, "postgresql.conf"), "a") as f:
            f.write("listen_addresses = ''\n"
                    f"unix_socket_directories = '{self.sockdir}'\n"
                    f"port = {self.port}\n"
                    "fsync = on\n"
                    "max_connections = 200\n"
                    "log_min_messages = warning\n")

    def start(self):
        self._run([server_bin("pg_ctl"), "-D", self.data, "-l", self.log, "-w", "-t", "60",
                   "start"])
        self.running = True

    def stop(self, mode="fast"):
        self._run([server_bin("pg_ctl"), "-D", self.data, "-m", mode, "-w", "-t", "60", "stop"])
        self.running = False

    def server_pid(self):
        """The postmaster's pid (its backends are its children), or None."""
        try:
            with open(os.path.join(self.data, "postmaster.pid")) as f:
                return int(f.readline())
        except (OSError, ValueError):
            return None

    def conninfo(self, user, dbname="postern"):
        return f"host={self.sockdir} port={self.port} dbname={dbname} user={user}"

    def psql(self, sql, user="postgres", dbname="postern", check=True):
        """Runs sql with psql (unaligned, tuples only) and returns stdout."""
        r = subprocess.run(["psql", "-X", "-q", "-A", "-t", "-v", "ON_ERROR_STOP=1",
                            "-d", self.conninfo(user, dbname), "-c", sql],
                           capture_output=True, text=True)
        if check and r.returncode != 0:
            raise AssertionError(f"psql as {user} failed: {r.stderr.strip()}\nSQL: {sql}")
        return r.stdout if check else r

    def setup_roles(self):
        """Runs the documented roles.sql as the superuser."""
        subprocess.run(["psql", "-X", "-q", "-v", "ON_ERROR_STOP=1",
                        "-d", self.conninfo("postgres", "postgres"), "-f", ROLES_SQL],
                       check=True, capture_output=True, text=True)

    def cleanup(self):
        if self.running:
            try:
                self.stop("immediate")
            except subprocess.CalledProcessError:
                pass
        shutil.rmtree(self.root, ignore_errors=True)

    def __enter__(self):
        self.start()
        return self

    def __exit__(self, *exc):
        self.cleanup()
