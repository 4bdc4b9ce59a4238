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
"""
import sys
import traceback

_tests = []


class Skip(Exception):
    """Raised by skip(): the test could not run here (reported, not passed)."""


def skip(reason):
    """End the current test as skipped: TAP "ok N - name # SKIP reason"."""
    raise Skip(reason)


def test(fn):
    _tests.append(fn)
    return fn


def check_eq(got, want, what=""):
    """Assert got == want with a message that says got X, want Y."""
    if got != want:
        raise AssertionError(f"{what}: got {got!r}, want {want!r}")


def main(setup=None, teardown=None):
    failed = 0
    setup_error = None
    if setup:
        try:
            setup()
        except Exception:
            setup_error = traceback.format_exc()
    try:
        for i, fn in enumerate(_tests, 1):
            name = fn.__name__.replace("_", " ")
            if setup_error:
                print(f"not ok {i} - {name} (setup failed)")
                failed += 1
                continue
            try:
                fn()
                print(f"ok {i} - {name}", flush=True)
            except Skip as e:
                print(f"ok {i} - {name} # SKIP {e}", flush=True)
            except Exception:
                failed += 1
                print(f"not ok {i} - {name}")
                for line in traceback.format_exc().rstrip().splitlines():
                    print("# " + line)
                sys.stdout.flush()
    finally:
        # A failing teardown (a daemon that exits non-zero, leaks under
        # LeakSanitizer, or leaves processes) is a failed test, not a note.
        if teardown:
            try:
                teardown()
            except Exception:
                failed += 1
                print(f"not ok {len(_tests) + 1} - teardown")
                for line in traceback.format_exc().rstrip().splitlines():
                    print("# " + line)
            else:
                print(f"ok {len(_tests) + 1} - teardown")
    if setup_error:
        for line in setup_error.rstrip().splitlines():
            print("# " + line)
    print(f"1..{len(_tests) + (1 if teardown else 0)}")
    sys.exit(1 if failed else 0)
