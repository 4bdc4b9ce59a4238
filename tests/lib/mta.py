"""mta - what a private MTA of the test harness offers whatever the MTA.

PrivatePostfix (postfix.py) and PrivateSendmail (sendmail.py) both derive
from MtaBase, which gives them the context-manager form and the maillog
readers; a subclass sets self.maillog and defines start(), stop() and
cleanup().

    with PrivatePostfix(...) as mta:     # start(); stop() and cleanup() at exit
        mark = mta.log_offset()
        ...
        mta.wait_for_log(r"status=sent", since=mark)
"""
import re
import time


class MtaBase:
    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()
        self.cleanup()

    def log_text(self):
        """The whole maillog as text ("" before the first line)."""
        try:
            with open(self.maillog, encoding="utf-8", errors="replace") as f:
                return f.read()
        except FileNotFoundError:
            return ""

    def log_offset(self):
        """Current length of the maillog text, for wait_for_log(since=)."""
        return len(self.log_text())

    def wait_for_log(self, regex, timeout=10, since=0, count=1):
        """Wait until regex (re.M) matches in the maillog after character
        offset since, count times; return the last match. TimeoutError
        (with the log tail) otherwise."""
        pat = re.compile(regex, re.M)
        deadline = time.monotonic() + timeout
        while True:
            text = self.log_text()[since:]
            found = list(pat.finditer(text))
            if len(found) >= count:
                return found[count - 1]
            if time.monotonic() >= deadline:
                raise TimeoutError(
                    f"maillog: {regex!r} seen {len(found)}/{count} times in "
                    f"{timeout}s; tail:\n{text[-2000:]}")
            time.sleep(0.05)
