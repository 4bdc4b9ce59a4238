#!/usr/bin/env python3
# SPDX-License-Identifier: BSD-2-Clause
"""packaging/deps.sh separates what a production host needs (runtime) from
what building and testing need: every shared library a built daemon links
names comes from a package in its runtime list (or from libc6, which every
Debian system has), and the runtime list holds no -dev or test package."""
import os
import re
import subprocess
import sys

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "lib"))
from tap import test, main  # noqa: E402
from daemon import binary  # noqa: E402

TOP = os.environ.get("POSTERN_TOP") or os.path.abspath(
    os.path.join(os.path.dirname(__file__), "..", ".."))
ESSENTIAL = {"libc6", "libgcc-s1"}


def lists():
    with open(os.path.join(TOP, "packaging", "deps.sh")) as f:
        text = f.read()
    out = {}
    for name in ("RUNTIME", "BUILD"):
        m = re.search(name + r'="\n(.*?)\n"', text, re.S)
        assert m, f"no {name} list in deps.sh"
        out[name] = set(m.group(1).split())
    return out


def packages_of(path):
    # the libraries it names itself (apt brings theirs along)
    needed = set(re.findall(r"NEEDED\s+(\S+)", subprocess.run(
        ["objdump", "-p", path], capture_output=True, text=True, check=True).stdout))
    where = dict(re.findall(r"^\s*(\S+) => (/\S+)", subprocess.run(
        ["ldd", path], capture_output=True, text=True, check=True).stdout, re.M))
    # a sanitizer build (make check-sanitize) links the sanitizers'
    # runtimes, which no release build does
    libs = [where[n] for n in needed
            if not re.match(r"lib(asan|ubsan|lsan|tsan)\.so", n)]
    pkgs = set()
    for lib in libs:
        real = os.path.realpath(lib)
        r = subprocess.run(["dpkg", "-S", real], capture_output=True, text=True)
        if r.returncode != 0:   # merged /usr: dpkg knows the /lib spelling
            r = subprocess.run(["dpkg", "-S", real.replace("/usr/lib/", "/lib/", 1)],
                               capture_output=True, text=True)
        assert r.returncode == 0, f"{lib}: no package owns it"
        pkgs.add(r.stdout.split(":")[0])
    return pkgs


@test
def every_library_a_daemon_links_is_in_the_runtime_list():
    runtime = lists()["RUNTIME"]
    for d in ("tls", "sort", "archive", "audit"):
        missing = packages_of(binary(f"postern-{d}")) - runtime - ESSENTIAL
        assert not missing, f"postern-{d} links libraries of {sorted(missing)}: add them " \
                            "to RUNTIME in packaging/deps.sh"


@test
def the_runtime_list_holds_nothing_for_building_or_testing():
    ls = lists()
    extra = [p for p in ls["RUNTIME"] if p.endswith("-dev") or p in ls["BUILD"]]
    assert not extra, f"build or test packages in RUNTIME: {extra}"


if __name__ == "__main__":
    main()
