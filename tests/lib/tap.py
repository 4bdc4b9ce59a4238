# SPDX-License-Identifier: BSD-2-Clause
"""tap - a minimal TAP test runner for Postern's Python tests.

Usage:
    from tap import test, main

    @test
    def sends_mail():
        ...assert ...

    if __name__ == "__main__":
        main()

Each decorated function is one test; it passes when it returns and fails
when it raises (the traceback is printed as TAP diagnostics). Tests run in
the order they are defined. `skip(reason)` inside a test reports it as skipped (TAP "# SKIP"), for a
test that cannot run on this machine; the runner counts it apart.
`main(setup, teardown)` runs optional fixtures
around the whole file; a failing setup fails every test.

A parametrised file runs all its tests once per parameter (say, per MTA):

    @test
    def mail_goes_through(): ...            # runs for every parameter
    @test(only="sendmail")
    def quarantine_is_an_hf_file(): ...     # runs for that parameter only

    main(setup, teardown, params=("postfix", "sendmail"))

setup(param) starts the fixture for one parameter, teardown() stops it;
each test is reported as "name [param]". POSTERN_PARAM=sendmail runs one
parameter only (while working on one MTA). A parameter may be made of
parts joined by "+" ("postfix+suite": Postfix, the engines in
postern-suite): only=PART runs the test for every parameter that has
that part (only="postfix" also runs for "postfix+suite"; only="suite" for
the suite variants alone).
"""
import os
import sys
import traceback

_tests = []


class Skip(Exception):
    """Raised by skip(): the test could not run here (reported, not passed)."""


def skip(reason):
    """End the current test as skipped: TAP "ok N - name # SKIP reason"."""
    raise Skip(reason)


def test(fn=None, *, only=None):
    """@test, or @test(only=PARAM) for a test that applies to one
    parameter of a parametrised file."""
    def add(f):
        f.only = only
        _tests.append(f)
        return f
    return add(fn) if fn is not None else add


def applies(only, param):
    """Whether a test marked only=ONLY runs for param (see the module comment)."""
    return only is None or only == param or only in param.split("+")


def check_eq(got, want, what=""):
    """Assert got == want with a message that says got X, want Y."""
    if got != want:
        raise AssertionError(f"{what}: got {got!r}, want {want!r}")


class _Run:
    """Numbering and counting of the TAP lines of one file."""

    def __init__(self):
        self.n = 0
        self.failed = 0

    def report(self, ok, text, trace=""):
        self.n += 1
        if not ok:
            self.failed += 1
        print(f"{'ok' if ok else 'not ok'} {self.n} - {text}")
        for line in trace.rstrip().splitlines():
            print("# " + line)
        sys.stdout.flush()

    def one_fixture(self, setup, teardown, tests, suffix="", args=()):
        setup_error = None
        if setup:
            try:
                setup(*args)
            except Exception:
                setup_error = traceback.format_exc()
        try:
            for fn in tests:
                name = fn.__name__.replace("_", " ") + suffix
                if setup_error:
                    self.report(False, f"{name} (setup failed)")
                    continue
                try:
                    fn()
                    self.report(True, name)
                except Skip as e:
                    self.report(True, f"{name} # SKIP {e}")
                except Exception:
                    self.report(False, name, traceback.format_exc())
        finally:
            # A failing teardown (a daemon that exits non-zero, leaks under
            # LeakSanitizer, or leaves processes) is a failed test, not a note.
            if teardown:
                try:
                    teardown()
                except Exception:
                    self.report(False, "teardown" + suffix, traceback.format_exc())
                else:
                    self.report(True, "teardown" + suffix)
        if setup_error:
            for line in setup_error.rstrip().splitlines():
                print("# " + line)


def main(setup=None, teardown=None, params=None):
    run = _Run()
    if params is None:
        run.one_fixture(setup, teardown, _tests)
    else:
        chosen = os.environ.get("POSTERN_PARAM")
        for p in params:
            if chosen and p != chosen:
                continue
            tests = [fn for fn in _tests if applies(fn.only, p)]
            run.one_fixture(setup, teardown, tests, f" [{p}]", (p,))
    print(f"1..{run.n}")
    sys.exit(1 if run.failed else 0)
