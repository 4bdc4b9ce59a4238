#!/usr/bin/env python3
# SPDX-License-Identifier: BSD-2-Clause
"""End-to-end: the Debian packages, built, checked, installed and purged.

Builds them with `make deb` into a temporary directory, runs lintian on
them, installs them on this machine with apt-get, and runs every packaged
daemon the way its systemd unit would: the unit's ExecStart line, under the
unit's capability bounding set, NoNewPrivileges and UMask (systemd itself is
not running here), so a unit that leaves the root supervisor too few
capabilities fails here too. It checks the user, the directories and their
owners (one system user per daemon, and the upgrade from the one shared
user of older packages), the conffiles, the sockets (owner, mode, reachable by user postfix),
reload (ExecReload) and stop, sends one message through a private Postfix
whose smtpd_milters come from packaging/postfix/main.cf.snippet, and
then removes the packages while the daemons run under another supervisor
and a main.cf still names their sockets (the removal stops them and prints
the main.cf entries to delete), finally purges the packages and removes
what purge keeps on purpose (the archive, the audit trail, the users),
leaving the machine as it was.

Daemons: every milters/NAME/main.c. One that lacks its packaging (control
stanza, unit, sample configuration, man pages) fails the first test and is
left out of the rest, so the others are still tested.

Skipped, with a TAP "# SKIP" line per test, when not root, when a packaging
tool is missing (dpkg-buildpackage, dh, fakeroot, apt-get, lintian,
setpriv), or when Postern packages are installed here already (the test
would replace an admin's installation). A lock serialises concurrent runs.
About 90 s on a 2-core machine, most of it building and lintian.
"""
import fcntl
import glob
import grp
import os
import pwd
import re
import shlex
import shutil
import signal
import stat
import subprocess
import sys
import tempfile
import time

TOP = os.environ.get("POSTERN_TOP") or os.path.abspath(
    os.path.join(os.path.dirname(__file__), "..", ".."))
sys.path.insert(0, os.path.join(TOP, "tests", "lib"))

from tap import test, main, check_eq, skip  # noqa: E402
from milter_client import MilterClient  # noqa: E402
from postfix import PrivatePostfix  # noqa: E402
from sink import Sink  # noqa: E402
from smtp import build_message, send  # noqa: E402

TOOLS = ["dpkg-buildpackage", "dh", "fakeroot", "apt-get", "lintian", "setpriv", "runuser"]
SPOOL = "/var/spool/postfix/postern"
STATE_PATHS = ("/etc/postern", "/var/lib/postern", "/var/log/postern", "/run/postern", SPOOL,
               "/var/log/postern-archive-access.log")
# one system user per daemon, and the one shared user of older packages
USERS = ["postern-tls", "postern-sort", "postern-archive", "postern-audit", "postern-suite",
         "postern"]
# postern-suite runs the four daemons' engines on their data: not enabled
# at install, and run here only after the switch README.Debian describes
SUITE = "suite"
# postern-web is no milter: no socket, no user of its own (it runs as
# postern-archive); its own test below, left out of the milter checks
WEB = "web"
UNIT_DIR = "/lib/systemd/system"
KEEP = os.environ.get("POSTERN_KEEP") == "1"
S = {"procs": {}}


def daemons():
    d = os.path.join(TOP, "milters")
    return sorted(n for n in os.listdir(d) if os.path.isfile(os.path.join(d, n, "main.c")))


def milters_packaged():
    return [d for d in S["packaged"] if d != WEB]


def run(cmd, timeout=300, check=True, **kw):
    r = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, **kw)
    if check and r.returncode != 0:
        raise AssertionError(f"{' '.join(cmd)} exited {r.returncode}:\n{r.stdout[-3000:]}"
                             f"\n{r.stderr[-3000:]}")
    return r


def installed_postern_packages():
    """Names of postern packages dpkg knows (installed or with configs left)."""
    r = run(["dpkg-query", "-W", "-f", "${Package} ${db:Status-Status}\\n", "postern*"],
            check=False)
    return [line.split()[0] for line in r.stdout.splitlines()
            if len(line.split()) > 1 and line.split()[1] not in ("not-installed",)]


def control_packages():
    with open(os.path.join(TOP, "packaging", "debian", "control")) as f:
        return re.findall(r"^Package:\s*(\S+)", f.read(), re.M)


def missing_packaging(name):
    src = os.path.join(TOP, "milters", name)
    need = [os.path.join(src, f) for f in (f"{name}.conf", f"postern-{name}.8",
                                           f"postern-{name}.conf.5")]
    need.append(os.path.join(TOP, "packaging", "systemd", f"postern-{name}.service"))
    missing = [os.path.relpath(p, TOP) for p in need if not os.path.isfile(p)]
    if f"postern-{name}" not in control_packages():
        missing.append(f"a postern-{name} stanza in packaging/debian/control")
    return missing


def skip_reason():
    if os.geteuid() != 0:
        return "needs root (installs packages)"
    gone = [t for t in TOOLS if shutil.which(t) is None]
    if gone:
        return "missing " + ", ".join(gone) + " (packaging/deps.sh)"
    have = installed_postern_packages()
    if have:
        return "Postern packages already installed here: " + ", ".join(have)
    return None


def unit(name):
    """The installed unit of postern-NAME as {key: [values]}."""
    keys = {}
    with open(os.path.join(UNIT_DIR, f"postern-{name}.service")) as f:
        for line in f:
            line = line.strip()
            if not line or line[0] in "#;[" or "=" not in line:
                continue
            k, v = line.split("=", 1)
            keys.setdefault(k.strip(), []).append(v.strip())
    return keys


def need(key):
    if key not in S:
        raise AssertionError(f"an earlier step failed ({key} missing)")
    return S[key]


def owner(path):
    st = os.stat(path)
    return (pwd.getpwuid(st.st_uid).pw_name, grp.getgrgid(st.st_gid).gr_name,
            oct(stat.S_IMODE(st.st_mode)))


# ---- fixtures -------------------------------------------------------------

def setup():
    lockdir = "/run/lock" if os.path.isdir("/run/lock") else tempfile.gettempdir()
    S["lock"] = open(os.path.join(lockdir, "postern-test-packages.lock"), "w")
    fcntl.flock(S["lock"], fcntl.LOCK_EX)
    reason = skip_reason()
    if reason:
        raise RuntimeError(reason)
    S["tmp"] = tempfile.mkdtemp(prefix="postern-pkg-")
    os.chmod(S["tmp"], 0o755)
    S["had_users"] = {u for u in USERS if _user_exists(u)}
    S["had_groups"] = {u for u in USERS if _group_exists(u)}
    # What an earlier install (or a killed run of this test) left is moved
    # aside and put back at teardown: the packages are tested on a clean
    # host, and real data on a developer's machine is never touched.
    S["had_paths"] = set()
    S["saved_paths"] = {}
    if not installed_postern_packages():
        for p in STATE_PATHS:
            if os.path.lexists(p):
                aside = p + ".postern-test-saved"
                if os.path.lexists(aside):
                    raise RuntimeError(f"{aside} exists: a killed run left it; restore it by hand")
                os.rename(p, aside)
                S["saved_paths"][p] = aside
    else:
        S["had_paths"] = {p for p in STATE_PATHS if os.path.exists(p)}
    S["daemons"] = daemons()
    S["packaged"] = [d for d in S["daemons"] if not missing_packaging(d)]


def _user_exists(name):
    try:
        pwd.getpwnam(name)
        return True
    except KeyError:
        return False


def _group_exists(name):
    try:
        grp.getgrnam(name)
        return True
    except KeyError:
        return False


def teardown():
    errors = []
    for name in list(S["procs"]):
        try:
            stop_daemon(name)
        except Exception as e:  # keep cleaning up
            errors.append(str(e))
    if "pf" in S:
        S["pf"].stop()
        S["pf"].cleanup()
    if "sink" in S:
        S["sink"].stop()
    if "tmp" in S:
        left = installed_postern_packages()
        if left:
            r = run(["apt-get", "purge", "-y", "-q", "-o", "DPkg::Lock::Timeout=300"] + left,
                    check=False, env=apt_env())
            if r.returncode != 0:
                errors.append(f"purge in teardown failed: {r.stderr}")
        remove_leftovers()
        if not KEEP:
            shutil.rmtree(S["tmp"], ignore_errors=True)
        else:
            print(f"# kept {S['tmp']}")
    if "lock" in S:
        S["lock"].close()
    if errors:
        raise AssertionError("; ".join(errors))


def remove_leftovers():
    """What purge keeps on purpose (data, the user), if this test made it;
    then what setup moved aside goes back."""
    for p in STATE_PATHS:
        if p not in S.get("had_paths", ()) and os.path.isfile(p):
            os.unlink(p)
        elif p not in S.get("had_paths", ()) and os.path.exists(p):
            shutil.rmtree(p, ignore_errors=True)
    for p, aside in S.get("saved_paths", {}).items():
        if not os.path.lexists(p) and os.path.lexists(aside):
            os.rename(aside, p)
            S.setdefault("had_paths", set()).add(p)	# never removed again
    S["saved_paths"] = {}
    for u in USERS:
        if "had_users" in S and u not in S["had_users"] and _user_exists(u):
            run(["userdel", u], check=False)
        if "had_groups" in S and u not in S["had_groups"] and _group_exists(u):
            run(["groupdel", u], check=False)


def apt_env():
    return dict(os.environ, DEBIAN_FRONTEND="noninteractive")


# ---- daemons run as their units would -------------------------------------

CAPS = re.compile(r"CAP_([A-Z_]+)")


def unit_command(name):
    """ExecStart of the installed unit, wrapped in its capability bounding
    set and NoNewPrivileges as systemd would apply them."""
    u = unit(name)
    check_eq(len(u.get("ExecStart", [])), 1, f"ExecStart lines of postern-{name}")
    cmd = shlex.split(u["ExecStart"][0])
    caps = CAPS.findall(" ".join(u.get("CapabilityBoundingSet", [])))
    assert caps, f"postern-{name}.service has no CapabilityBoundingSet"
    wrap = ["setpriv", "--bounding-set", "-all," + ",".join("+" + c.lower() for c in caps)]
    if u.get("NoNewPrivileges", ["no"])[-1] == "yes":
        wrap.append("--no-new-privs")
    return wrap + ["--"] + cmd, int(u.get("UMask", ["0022"])[-1], 8)


def start_daemon(name):
    cmd, umask = unit_command(name)
    log = os.path.join(S["tmp"], f"{name}.log")
    fp = open(log, "w")
    proc = subprocess.Popen(cmd, stdout=fp, stderr=subprocess.STDOUT,
                            preexec_fn=lambda: os.umask(umask), cwd="/")
    S["procs"][name] = (proc, fp, log)
    sock = f"{SPOOL}/{name}.sock"
    deadline = time.time() + 20
    while time.time() < deadline:
        if proc.poll() is not None:
            raise AssertionError(f"postern-{name} exited {proc.returncode}: {read(log)}")
        if os.path.exists(sock) and "serving on" in read(log):
            return proc
        time.sleep(0.05)
    raise AssertionError(f"postern-{name} did not open {sock}: {read(log)}")


def stop_daemon(name):
    """SIGTERM to the main process only (KillMode=mixed); its exit status."""
    proc, fp, log = S["procs"].pop(name)
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
    try:
        rc = proc.wait(45)  # TimeoutStopSec
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(5)
        raise AssertionError(f"postern-{name} did not stop within 45 s: {read(log)}")
    finally:
        fp.close()
    return rc


def read(path):
    try:
        with open(path, errors="replace") as f:
            return f.read()
    except FileNotFoundError:
        return ""


def workers(name):
    """(user, pid) of every process running postern-NAME's packaged config."""
    out = []
    conf = f"/etc/postern/{name}.conf".encode()
    for d in os.listdir("/proc"):
        if not d.isdigit():
            continue
        try:
            with open(f"/proc/{d}/cmdline", "rb") as f:
                argv = f.read().split(b"\0")
            uid = os.stat(f"/proc/{d}").st_uid
        except OSError:
            continue
        if conf in argv and argv[0].endswith(f"postern-{name}".encode()):
            out.append((pwd.getpwuid(uid).pw_name, int(d)))
    return out


# ---- tests ----------------------------------------------------------------

@test
def every_daemon_has_its_packaging():
    bad = {d: missing_packaging(d) for d in S["daemons"]}
    bad = {d: m for d, m in bad.items() if m}
    print(f"# packaged: {' '.join(S['packaged']) or 'none'}")
    extra = [p for p in control_packages()
             if p != "postern-common" and p[len("postern-"):] not in S["daemons"]]
    assert not bad and not extra, \
        f"not packageable: {bad}; control stanzas without a daemon: {extra}"


@test
def make_deb_builds_common_and_one_package_per_daemon():
    assert S["packaged"], "no daemon can be packaged"
    out = os.path.join(S["tmp"], "deb")
    t0 = time.time()
    run(["make", "-C", TOP, "deb", f"DEB_DIR={out}", "DEB_DAEMONS=" + " ".join(S["packaged"])],
        timeout=600)
    print(f"# make deb: {time.time() - t0:.0f} s")
    debs = {os.path.basename(p).split("_")[0]: p for p in glob.glob(os.path.join(out, "*.deb"))}
    want = ["postern-common"] + [f"postern-{d}" for d in S["packaged"]]
    for p in want:
        assert p in debs, f"{p} not built: {sorted(debs)}"
    S["debs"] = debs
    S["install"] = [debs[p] for p in want]
    for d in S["packaged"]:
        listing = run(["dpkg-deb", "-c", debs[f"postern-{d}"]]).stdout
        files = {line.split()[-1].lstrip(".") for line in listing.splitlines() if line.strip()}
        for path in (f"/usr/sbin/postern-{d}", f"/etc/postern/{d}.conf",
                     f"/usr/share/man/man8/postern-{d}.8.gz",
                     f"/usr/share/man/man5/postern-{d}.conf.5.gz",
                     f"{UNIT_DIR}/postern-{d}.service"):
            assert path in files, f"postern-{d} lacks {path}"


@test
def lintian_finds_no_errors():
    debs = list(need("debs").values())
    r = run(["lintian", "--fail-on", "error", "-I", "--pedantic"] + sorted(debs),
            check=False, timeout=300)
    tags = sorted({line for line in r.stdout.splitlines() if re.match(r"[EWIPX]: ", line)})
    for t in tags:
        print("# " + t)
    errors = [t for t in tags if t.startswith("E: ")]
    assert r.returncode == 0 and not errors, f"lintian exited {r.returncode}: {errors or r.stderr}"


@test
def packages_install_with_apt_get():
    debs = need("install")
    r = run(["apt-get", "install", "-y", "-q", "--no-install-recommends",
             "-o", "DPkg::Lock::Timeout=300"] + debs, env=apt_env(), timeout=600)
    S["installed"] = True
    have = installed_postern_packages()
    for p in ["postern-common"] + [f"postern-{d}" for d in S["packaged"]]:
        assert p in have, f"{p} not installed: {have}\n{r.stdout[-2000:]}"


@test
def system_user_and_directories():
    need("installed")
    uids = set()
    for d in milters_packaged():
        user = f"postern-{d}"
        pw = pwd.getpwnam(user)
        assert pw.pw_uid < 1000, f"{user} is not a system user: uid {pw.pw_uid}"
        assert pw.pw_shell.endswith("nologin") or pw.pw_shell == "/bin/false", pw.pw_shell
        check_eq(grp.getgrgid(pw.pw_gid).gr_name, user, f"group of {user}")
        assert user not in grp.getgrnam("postfix").gr_mem, f"{user} is in group postfix"
        uids.add(pw.pw_uid)
    check_eq(len(uids), len(milters_packaged()), "distinct uids of the daemons")
    want = {"/var/lib/postern": ("root", "root", "0o755"),
            "/etc/postern": ("root", "root", "0o755"),
            "/run/postern": ("root", "root", "0o755"),
            SPOOL: ("root", "root", "0o755")}
    if "archive" in S["packaged"]:
        want["/var/lib/postern/archive"] = ("postern-archive", "postern-archive", "0o750")
    if "audit" in S["packaged"]:
        want["/var/log/postern"] = ("postern-audit", "adm", "0o2750")
    if WEB in S["packaged"]:
        want["/var/lib/postern/web"] = ("postern-archive", "postern-archive", "0o750")
    for path, w in want.items():
        assert os.path.isdir(path), f"{path} missing"
        check_eq(owner(path), w, path)
    if WEB in S["packaged"]:
        check_eq(owner("/etc/postern/web.users"), ("root", "postern-archive", "0o640"),
                 "web.users")


@test
def upgrade_from_the_shared_user_gives_the_archive_to_its_own_user():
    """What older packages left (everything postern's) becomes postern-archive's
    when its postinst runs again; a link planted by postern changes nothing
    outside the archive."""
    need("installed")
    if "archive" not in S["packaged"]:
        skip("postern-archive is not packaged")
    if not _user_exists("postern"):
        run(["adduser", "--system", "--group", "--no-create-home", "--quiet", "postern"])
    archive = "/var/lib/postern/archive"
    outside = os.path.join(S["tmp"], "root-file")
    with open(outside, "w") as f:
        f.write("root's\n")
    os.makedirs(os.path.join(archive, "journal"), exist_ok=True)
    with open(os.path.join(archive, "journal", "old.jsonl"), "w") as f:
        f.write("{}\n")
    os.link(outside, os.path.join(archive, "hardlink"))
    os.symlink(outside, os.path.join(archive, "symlink"))
    run(["chown", "-R", "-h", "postern:postern", archive])
    os.chown(os.path.join(archive, "hardlink"), 0, 0)	# it is root's file
    os.lchown(os.path.join(archive, "symlink"), pwd.getpwnam("postern").pw_uid, -1)
    run(["dpkg-reconfigure", "-fnoninteractive", "postern-archive"], env=apt_env())
    check_eq(owner(archive)[:2], ("postern-archive", "postern-archive"), archive)
    check_eq(owner(os.path.join(archive, "journal", "old.jsonl"))[:2],
             ("postern-archive", "postern-archive"), "a file of the old user")
    check_eq(owner(outside), ("root", "root", "0o644"), "root's file behind the links")
    for n in ("hardlink", "symlink", "journal/old.jsonl"):
        os.unlink(os.path.join(archive, n))
    os.rmdir(os.path.join(archive, "journal"))


@test
def conffiles_set_for_debian_and_units_enabled():
    need("installed")
    for d in S["packaged"]:
        conffiles = run(["dpkg-query", "-W", "-f", "${Conffiles}", f"postern-{d}"]).stdout
        assert f"/etc/postern/{d}.conf " in conffiles, f"postern-{d} conffiles: {conffiles}"
        # The daemon's default configuration file is the packaged one: no -c.
        r = run([f"/usr/sbin/postern-{d}", "config", "-n"])
        values = dict(line.split(" = ", 1) for line in r.stdout.splitlines()
                      if " = " in line and not line.startswith("#"))
        if d == WEB:
            check_eq(values.get("user"), "postern-archive", "postern-web user")
            assert "socket" not in values, values
            run(["/usr/sbin/postern-web", "check"])
            link = "/etc/systemd/system/multi-user.target.wants/postern-web.service"
            assert os.path.islink(link), f"postern-web.service not enabled ({link})"
            continue
        check_eq(values.get("socket"), f"unix:{SPOOL}/{d}.sock", f"postern-{d} socket")
        check_eq(values.get("socket_owner"), "root:postfix", f"postern-{d} socket_owner")
        check_eq(values.get("user"), f"postern-{d}", f"postern-{d} user")
        link = f"/etc/systemd/system/multi-user.target.wants/postern-{d}.service"
        if d == SUITE:
            # the engines' files, and nothing enabled before the switch
            for e in ("tls", "sort", "archive", "audit"):
                check_eq(values.get(f"{e}_config"), f"/etc/postern/{e}.conf",
                         f"postern-suite {e}_config")
            assert not os.path.lexists(link), f"postern-suite.service enabled at install"
            check_eq(unit(d).get("Conflicts", [""])[0].split(),
                     [f"postern-{e}.service" for e in ("tls", "sort", "archive", "audit")],
                     "postern-suite.service Conflicts=")
            continue
        run([f"/usr/sbin/postern-{d}", "check"])
        # enabled at install (started too, where systemd runs)
        assert os.path.islink(link), f"postern-{d}.service not enabled ({link})"
    if "tls" in S["packaged"]:
        with open("/etc/postern/tls_policy") as f:
            active = [l for l in f if l.strip() and not l.lstrip().startswith("#")]
        check_eq(active, [], "active rules in the packaged tls_policy")


def units_pass_systemd_analyze_verify():
    need("installed")
    units = [os.path.join(UNIT_DIR, f"postern-{d}.service") for d in S["packaged"]]
    r = run(["systemd-analyze", "verify"] + units, check=False, timeout=120)
    problems = [l for l in (r.stdout + r.stderr).splitlines() if l.strip()]
    assert r.returncode == 0 and not problems, f"systemd-analyze verify: {problems}"
    for u in units:
        s = run(["systemd-analyze", "security", "--offline=yes", u], check=False)
        m = re.search(r"Overall exposure level for \S+: ([\d.]+ \S+)", s.stdout)
        print(f"# {os.path.basename(u)}: exposure {m.group(1) if m else '?'}")


if shutil.which("systemd-analyze"):
    test(units_pass_systemd_analyze_verify)
else:
    # tap.py has no skip: the name carries TAP's SKIP directive.
    def _skipped():
        pass
    _skipped.__name__ = "units pass systemd-analyze verify # SKIP systemd-analyze missing"
    test(_skipped)


def check_running_daemon(name):
    need("installed")
    if name not in S["packaged"]:
        raise AssertionError(f"postern-{name} is not packaged (see the first test)")
    start_daemon(name)
    sock = f"{SPOOL}/{name}.sock"
    check_eq(owner(sock), ("root", "postfix", "0o660"), sock)
    assert stat.S_ISSOCK(os.stat(sock).st_mode), f"{sock} is not a socket"
    users = sorted(u for u, _ in workers(name))
    check_eq(users, [f"postern-{name}", "root"], f"users of postern-{name}'s processes")
    # Postfix's user may connect; the workers' user may not.
    probe = ("import socket,sys; s=socket.socket(socket.AF_UNIX); "
             "s.connect(sys.argv[1]); print('connected')")
    r = run(["runuser", "-u", "postfix", "--", "python3", "-c", probe, sock], check=False)
    check_eq(r.stdout.strip(), "connected", f"user postfix connects to {sock} ({r.stderr})")
    r = run(["runuser", "-u", f"postern-{name}", "--", "python3", "-c", probe, sock],
            check=False)
    assert r.returncode != 0 and "Permission denied" in r.stderr, \
        f"user postern-{name} could connect to {sock}: {r.stdout} {r.stderr}"
    # A milter that answers: negotiate and connect as an MTA would.
    with MilterClient("unix:" + sock) as c:
        c.negotiate()
        reply = c.connect("client.example", "4", 54321, "192.0.2.1",
                          macros={"j": "mx.postern.test"})
        assert reply.ok or reply.action == "accept", reply
        c.quit()
    # ExecReload, with $MAINPID as systemd fills it in.
    proc, _, log = S["procs"][name]
    reload = unit(name)["ExecReload"][0].replace("$MAINPID", str(proc.pid))
    run(shlex.split(reload))
    deadline = time.time() + 10
    while "reload: configuration" not in read(log):
        assert time.time() < deadline, f"postern-{name} did not reload: {read(log)}"
        time.sleep(0.05)


def register_daemon_test(name):
    def fn():
        check_running_daemon(name)
    fn.__name__ = (f"postern-{name} runs from its unit: socket root:postfix 0660, "
                   f"worker postern-{name}, reload")
    test(fn)


for _d in daemons():
    if _d not in (SUITE, WEB):
        register_daemon_test(_d)


def web_runs_from_its_unit():
    """postern-web from its unit: the worker is postern-archive, the login
    page answers on 127.0.0.1:8425, an account made with `postern-web
    passwd` in the packaged users file logs in, and it stops cleanly."""
    need("installed")
    if WEB not in S["packaged"]:
        raise AssertionError("postern-web is not packaged (see the first test)")
    r = run(["/usr/sbin/postern-web", "passwd", "pkgtest", "--role", "admin"],
            input="a password\n")
    check_eq(owner("/etc/postern/web.users"), ("root", "postern-archive", "0o640"),
             "web.users after passwd")
    cmd, umask = unit_command(WEB)
    log = os.path.join(S["tmp"], "web.log")
    fp = open(log, "w")
    proc = subprocess.Popen(cmd, stdout=fp, stderr=subprocess.STDOUT,
                            preexec_fn=lambda: os.umask(umask), cwd="/")
    S["procs"][WEB] = (proc, fp, log)
    deadline = time.time() + 20
    while "serving on" not in read(log):
        assert proc.poll() is None, f"postern-web exited {proc.returncode}: {read(log)}"
        assert time.time() < deadline, f"postern-web did not start: {read(log)}"
        time.sleep(0.05)
    check_eq(sorted(u for u, _ in workers(WEB)), ["postern-archive"], "user of postern-web")
    import http.client
    import urllib.parse
    conn = http.client.HTTPConnection("127.0.0.1", 8425, timeout=30)
    conn.request("GET", "/login")
    resp = conn.getresponse()
    body = resp.read().decode()
    check_eq(resp.status, 200, "GET /login")
    cookie = resp.getheader("Set-Cookie").split(";")[0]
    token = re.search(r'name="csrf" value="([0-9a-f]{64})"', body).group(1)
    conn.request("POST", "/login", urllib.parse.urlencode(
        {"user": "pkgtest", "password": "a password", "csrf": token}),
        {"Content-Type": "application/x-www-form-urlencoded", "Cookie": cookie})
    resp = conn.getresponse()
    resp.read()
    conn.close()
    check_eq(resp.status, 303, f"login: {read(log)[-800:]}")
    assert os.path.getsize("/var/lib/postern/web/access.jsonl") > 0, "no access trail"
    check_eq(stop_daemon(WEB), 0, f"exit status of postern-web: {read(log)[-800:]}")


if WEB in daemons():
    test(web_runs_from_its_unit)


@test
def a_message_through_postfix_wired_as_main_cf_snippet():
    need("installed")
    running = [d for d in S["packaged"] if d in S["procs"]]
    assert running, "no packaged daemon is running"
    with open(os.path.join(TOP, "packaging", "postfix", "main.cf.snippet")) as f:
        text = f.read()
    m = re.search(r"^smtpd_milters =((?:\n[ \t]+.*)+)", text, re.M)
    assert m, "no smtpd_milters in main.cf.snippet"
    entries = re.findall(r"\{[^}]*\}", m.group(1))
    # The private Postfix is not chrooted: the chroot-relative path becomes
    # the real one, as README.postfix says.
    milters = [e.replace("unix:/postern/", f"unix:{SPOOL}/") for e in entries
               if re.search(r"/(\w+)\.sock", e).group(1) in running]
    check_eq(len(milters), len(running), f"snippet entries for {running}")
    pf = PrivatePostfix(base=os.path.join(S["tmp"], "postfix"))
    S["sink"] = Sink(os.path.join(pf.base, "sink")).start()
    pf.relay_port = S["sink"].port
    pf.milters = milters
    S["pf"] = pf.start()
    sender, rcpt = "alice@sender.example", "bob@dest.example"
    msg = build_message(sender, [rcpt], subject="packaged milters")
    r = send("127.0.0.1", pf.port, sender, [rcpt], msg)
    assert r.ok, r
    got = S["sink"].wait_for(1, timeout=30)
    check_eq(len(got), 1, "messages at the sink")
    # Postfix reached every milter (sort's default_action=accept would hide
    # a failure from the sink; not from the log).
    trouble = [l for l in pf.log_text().splitlines()
               if re.search(r"milter", l, re.I) and re.search(r"warning|error|fatal", l)]
    check_eq(trouble, [], "milter warnings in Postfix's log")
    if "audit" in running:
        trail = "/var/log/postern/audit.jsonl"
        deadline = time.time() + 10
        while r.queue_id not in read(trail):
            assert time.time() < deadline, f"{r.queue_id} not in {trail}: {read(trail)[-500:]}"
            time.sleep(0.1)
        check_eq(owner(trail)[:2], ("postern-audit", "adm"), trail)
    if "archive" in running:
        s = run(["/usr/sbin/postern-archive", "search", "--json"], check=False)
        assert s.returncode == 0 and "packaged milters" in s.stdout, \
            f"archive search: {s.returncode} {s.stdout[-500:]} {s.stderr[-500:]}"
    pf.stop()
    pf.cleanup()
    del S["pf"]


@test
def daemons_stop_cleanly_and_remove_their_sockets():
    need("installed")
    for name in list(S["procs"]):
        _, _, log = S["procs"][name]
        rc = stop_daemon(name)
        check_eq(rc, 0, f"exit status of postern-{name}: {read(log)[-800:]}")
        assert not os.path.exists(f"{SPOOL}/{name}.sock"), f"{name}.sock left behind"
        check_eq(workers(name), [], f"processes of postern-{name} after stop")


@test
def postern_suite_runs_from_its_unit_after_the_switch_readme_debian_describes():
    """The four daemons stopped, their data given to postern-suite and
    user = postern-suite in archive.conf and audit.conf (so the tools take
    the data owner's rights), the suite runs from its unit like the others
    (socket root:postfix 0660, worker postern-suite, reload), a message
    through a Postfix wired with the suite's one smtpd_milters line is
    archived and audited, and the separate daemons' tools read it. Then
    everything is switched back."""
    need("installed")
    if SUITE not in S["packaged"]:
        skip("postern-suite is not packaged")
    engines = ("tls", "sort", "archive", "audit")
    if any(e not in S["packaged"] for e in engines):
        skip("postern-suite needs the four engines' packages")
    assert not S["procs"], f"daemons still run: {sorted(S['procs'])}"
    archive, logdir, trail = "/var/lib/postern/archive", "/var/log/postern", \
        "/var/log/postern/audit.jsonl"
    confs = {c: read(c) for c in ("/etc/postern/archive.conf", "/etc/postern/audit.conf")}
    run(["chown", "-R", "postern-suite:postern-suite", archive])
    run(["chown", "-R", "postern-suite", logdir])
    run(["sed", "-i", r"s/^user = postern-\(archive\|audit\)$/user = postern-suite/"]
        + list(confs))
    try:
        run(["/usr/sbin/postern-suite", "check"])
        check_running_daemon(SUITE)
        with open(os.path.join(TOP, "packaging", "postfix", "main.cf.suite-snippet")) as f:
            text = f.read()
        m = re.search(r"^smtpd_milters =((?:\n[ \t]+.*)+)", text, re.M)
        entries = re.findall(r"\{[^}]*\}", m.group(1)) if m else []
        check_eq(len(entries), 1, "smtpd_milters entries of main.cf.suite-snippet")
        pf = PrivatePostfix(base=os.path.join(S["tmp"], "postfix-suite"))
        S["suite_sink"] = Sink(os.path.join(pf.base, "sink")).start()
        pf.relay_port = S["suite_sink"].port
        pf.milters = [entries[0].replace("unix:/postern/", f"unix:{SPOOL}/")]
        S["suite_pf"] = pf.start()
        sender, rcpt = "alice@sender.example", "bob@dest.example"
        msg = build_message(sender, [rcpt], subject="through the packaged suite")
        r = send("127.0.0.1", pf.port, sender, [rcpt], msg)
        assert r.ok, r
        S["suite_sink"].wait_for(1, timeout=30)
        trouble = [l for l in pf.log_text().splitlines()
                   if re.search(r"milter", l, re.I) and re.search(r"warning|error|fatal", l)]
        check_eq(trouble, [], "milter warnings in Postfix's log")
        deadline = time.time() + 10
        while r.queue_id not in read(trail):
            assert time.time() < deadline, f"{r.queue_id} not in {trail}: {read(trail)[-500:]}"
            time.sleep(0.1)
        check_eq(owner(trail)[:2], ("postern-suite", "adm"), trail)
        s = run(["/usr/sbin/postern-archive", "search", "--json"], check=False)
        assert s.returncode == 0 and "through the packaged suite" in s.stdout, \
            f"archive search: {s.returncode} {s.stdout[-500:]} {s.stderr[-500:]}"
        run(["/usr/sbin/postern-audit", "verify"])
        pf.stop()
        pf.cleanup()
        del S["suite_pf"]
        S["suite_sink"].stop()
        del S["suite_sink"]
        _, _, log = S["procs"][SUITE]
        check_eq(stop_daemon(SUITE), 0, f"exit status of postern-suite: {read(log)[-800:]}")
        assert not os.path.exists(f"{SPOOL}/suite.sock"), "suite.sock left behind"
    finally:
        if "suite_pf" in S:
            S.pop("suite_pf").stop()
        if "suite_sink" in S:
            S.pop("suite_sink").stop()
        if SUITE in S["procs"]:
            stop_daemon(SUITE)
        run(["chown", "-R", "postern-archive:postern-archive", archive])
        run(["chown", "-R", "postern-audit", logdir])
        for c, t in confs.items():
            with open(c, "w") as f:
                f.write(t)


@test
def remove_stops_daemons_any_supervisor_runs_and_warns_about_main_cf():
    """As without systemd: the daemons run under another supervisor (here
    this test) when the packages are removed; main.cf still names them."""
    need("installed")
    for name in milters_packaged():
        if name != SUITE:   # its engines run in the four (it warns all the same)
            start_daemon(name)
    pf = PrivatePostfix(base=os.path.join(S["tmp"], "postfix-removal"))
    pf.milters = [f"{{ unix:/postern/{d}.sock, default_action=tempfail }}"
                  for d in milters_packaged()]
    pf.port = 10025
    pf.write_config()
    pkgs = [f"postern-{d}" for d in S["packaged"]]
    # postconf in the removal scripts reads this main.cf (MAIL_CONFIG)
    r = run(["apt-get", "remove", "-y", "-q", "-o", "DPkg::Lock::Timeout=300"] + pkgs,
            env=dict(apt_env(), MAIL_CONFIG=pf.config_dir), timeout=600)
    out = r.stdout + r.stderr
    for d in milters_packaged():
        assert f"postern-{d}: main.cf smtpd_milters still names this daemon's socket" in out, \
            out[-3000:]
        assert f"    {{ unix:/postern/{d}.sock, default_action=tempfail }}" in out, out[-3000:]
    for name in list(S["procs"]):
        proc, fp, log = S["procs"].pop(name)
        try:
            rc = proc.wait(30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(5)
            raise AssertionError(f"postern-{name} still runs after its package's removal")
        finally:
            fp.close()
        check_eq(rc, 0, f"exit status of postern-{name} stopped by prerm: {read(log)[-800:]}")
        check_eq(workers(name), [], f"processes of postern-{name} after removal")


@test
def purge_removes_packages_and_configuration_keeps_data():
    need("installed")
    pkgs = ["postern-common"] + [f"postern-{d}" for d in S["packaged"]]
    run(["apt-get", "purge", "-y", "-q", "-o", "DPkg::Lock::Timeout=300"] + pkgs,
        env=apt_env(), timeout=600)
    check_eq(installed_postern_packages(), [], "postern packages after purge")
    for p in ["/etc/postern", "/run/postern", SPOOL] + \
            [f"{UNIT_DIR}/postern-{d}.service" for d in S["packaged"]] + \
            [f"/etc/systemd/system/multi-user.target.wants/postern-{d}.service"
             for d in S["packaged"]]:
        if p not in S["had_paths"]:
            assert not os.path.lexists(p), f"{p} left after purge"
    # Mail data is never purged (retention); README.Debian says so.
    if "audit" in S["packaged"]:
        assert os.path.exists("/var/log/postern/audit.jsonl"), "purge removed the audit trail"
    for d in milters_packaged():
        assert _user_exists(f"postern-{d}"), f"purge removed the system user postern-{d}"
    remove_leftovers()


def skip_all(reason):
    n = len(_tests_registered())
    for i, name in enumerate(_tests_registered(), 1):
        print(f"ok {i} - {name} # SKIP {reason}")
    print(f"1..{n}")
    sys.exit(0)


def _tests_registered():
    import tap
    return [fn.__name__.replace("_", " ") for fn in tap._tests]


if __name__ == "__main__":
    reason = None
    if os.geteuid() != 0 or any(shutil.which(t) is None for t in TOOLS):
        reason = skip_reason()
    elif installed_postern_packages():
        reason = skip_reason()
    if reason:
        skip_all(reason)
    main(setup, teardown)
