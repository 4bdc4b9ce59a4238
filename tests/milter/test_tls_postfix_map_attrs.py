#!/usr/bin/env python3
# SPDX-License-Identifier: BSD-2-Clause
"""postern-tls postfix-map drops nothing silently, and policy keys are
domain names, reported with their bytes escaped.

- min_bits (no per-domain Postfix equivalent) is exported as the weakest
  cipher grade whose every cipher has that many bits, with a comment
  saying so; above 128 bits the comment says Postfix cannot enforce it;
- `--check` flags a table whose cipher grade is too weak for min_bits, and
  a min_bits no grade can guarantee;
- attributes the milter alone checks are named in a comment;
- a key with "_" or a leading "-" is refused; a control byte or a byte
  that is not UTF-8 in a key or value is shown as \\xNN, never raw."""
import os
import shutil
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "lib"))
from tap import test, main, check_eq  # noqa: E402
from daemon import binary  # noqa: E402

BASE = tempfile.mkdtemp(prefix="postern-tls-map-")
POLICY = os.path.join(BASE, "tls_policy")
CONF = os.path.join(BASE, "tls.conf")


def teardown():
    shutil.rmtree(BASE, ignore_errors=True)


def tls(policy, *args):
    with open(POLICY, "wb") as f:
        f.write(policy)
    with open(CONF, "w") as f:
        f.write(f"socket = unix:{BASE}/tls.sock\npolicy_file = {POLICY}\n")
    return subprocess.run([binary("postern-tls"), "-c", CONF] + list(args),
                          capture_output=True, timeout=60)


def entries(out):
    return [x for x in out.decode().splitlines() if x and not x.startswith("#")]


def comments(out):
    return [x for x in out.decode().splitlines() if x.startswith("# ") and "(line" in x]


POLICY_BITS = b"""\
weak.example    direction=outbound min_bits=56
aes.example     direction=outbound min_bits=128
big.example     direction=outbound min_bits=256
graded.example  outbound=encrypt outbound_ciphers=low min_bits=128
plain.example   outbound=none min_bits=128
"""


@test
def min_bits_is_exported_as_a_cipher_grade_and_said_so():
    r = tls(POLICY_BITS, "postfix-map")
    check_eq(r.returncode, 0, r.stderr)
    check_eq(entries(r.stdout), [
        "weak.example    encrypt ciphers=medium",
        "aes.example     encrypt ciphers=high",
        "big.example     encrypt ciphers=high",
        "graded.example  encrypt ciphers=high",
        "plain.example   none",
    ], "table")
    notes = "\n".join(comments(r.stdout))
    assert "weak.example (line 1): min_bits=56 exported as ciphers=medium" in notes, notes
    assert "aes.example (line 2): min_bits=128 exported as ciphers=high" in notes, notes
    assert ("big.example (line 3): min_bits=256 has no Postfix equivalent; exported as "
            "ciphers=high, which still allows 128-bit ciphers") in notes, notes
    assert "graded.example (line 4): outbound_ciphers=low raised to high for min_bits=128" \
        in notes, notes
    assert "plain.example (line 5): min_bits=128 not exported: level none" in notes, notes


@test
def check_flags_a_grade_too_weak_for_min_bits_and_bits_postfix_cannot_give():
    table = os.path.join(BASE, "postfix_table")
    with open(table, "w") as f:
        f.write("weak.example encrypt ciphers=medium\n"
                "aes.example encrypt ciphers=medium\n"
                "big.example encrypt ciphers=high\n"
                "graded.example encrypt\n"
                "plain.example none\n")
    r = tls(POLICY_BITS, "postfix-map", "--check", table)
    check_eq(r.returncode, 1, r.stdout + r.stderr)
    check_eq(r.stdout.decode().splitlines(), [
        f"{table}:2: aes.example: ciphers=medium is weaker than high for min_bits=128 "
        f"(policy {POLICY}:2)",
        f"{table}:3: big.example: min_bits=256 cannot be enforced by Postfix: ciphers=high "
        f"still allows 128-bit ciphers (policy {POLICY}:3)",
        f"{table}:4: graded.example: no ciphers= (main.cf applies; the policy needs high for "
        f"min_bits=128) (policy {POLICY}:4)",
    ], "report")


@test
def attributes_only_the_milter_checks_are_named():
    r = tls(b'.bank.example direction=both ciphers=ECDHE-* cert_issuer="Bank CA" '
            b'clients=192.0.2.0/24\n', "postfix-map")
    check_eq(r.returncode, 0, r.stderr)
    assert ("# .bank.example (line 1): not exported, checked by the milter on incoming "
            "sessions only: ciphers verify cert_issuer clients") in r.stdout.decode(), r.stdout


@test
def keys_must_be_ldh_domain_names():
    for key, why in ((b"under_score.example", b"a character other than letters"),
                     (b"-lead.example", b"begins or ends with"),
                     (b"trail-.example", b"begins or ends with"),
                     (b".x" + b"a" * 64 + b".example", b"longer than 63")):
        r = tls(key + b" min_version=TLSv1.2\n", "check")
        check_eq(r.returncode, 78, f"{key!r}: {r.stderr!r}")
        assert why in r.stderr, r.stderr
    for key in (b"b\xc3\xbccher.example", b"xn--bcher-kva.example", b".sub-domain.example",
                b"a1.example"):
        r = tls(key + b" min_version=TLSv1.2\n", "check")
        check_eq(r.returncode, 0, f"{key!r}: {r.stderr!r}")


@test
def errors_quote_control_bytes_escaped():
    for line, shown in ((b"bad\x01key.example min_version=TLSv1.2\n", b'"bad\\x01key.example"'),
                        (b"ok.example min_version=TLSv1\x1b[31m\n", b'"TLSv1\\x1b[31m"'),
                        (b"b\xff.example min_version=TLSv1.2\n", b'"b\\xff.example"')):
        r = tls(line, "check")
        check_eq(r.returncode, 78, r.stderr)
        assert shown in r.stderr, r.stderr
        assert not any(c < 0x20 and c != 0x0a for c in r.stderr), r.stderr
        assert b"\xff" not in r.stderr, r.stderr


if __name__ == "__main__":
    main(None, teardown)
