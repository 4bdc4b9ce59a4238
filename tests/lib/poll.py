# SPDX-License-Identifier: BSD-2-Clause
"""poll - wait, within a bound, for something a test expects to happen.

    from poll import wait_for
    got = wait_for(lambda: st.archive_deliveries("--message-id", mid), 30,
                   "the delivery in the archive")

wait_for(pred, timeout, what) calls pred() every interval seconds (0.1)
until it returns something true, and returns that; after timeout seconds
it raises AssertionError naming what. The bound keeps a test from hanging;
it is never a speed requirement (speed is for make bench).
"""
import time


def wait_for(pred, timeout, what, interval=0.1):
    deadline = time.monotonic() + timeout
    while True:
        got = pred()
        if got:
            return got
        if time.monotonic() >= deadline:
            raise AssertionError(f"timed out after {timeout} s waiting for {what}")
        time.sleep(interval)
