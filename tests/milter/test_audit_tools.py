#!/usr/bin/env python3
# SPDX-License-Identifier: BSD-2-Clause
"""postern-audit's offline tools as an administrator or auditor runs them:
export (formats, filters, rotated and gzip files, pseudonymised lookups),
verify (tampering found at its file:line, exit status), checkpoint and
verify --head, and flat memory on a large trail.

The sample trail tests/unit/data/audit/trail-sample.jsonl is a real chain
of twelve records built by the unit tests from the record builder's golden
output."""
import gzip
import hashlib
import json
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "lib"))
sys.path.insert(0, HERE)
from tap import test, main, check_eq  # noqa: E402
from daemon import Daemon, binary  # noqa: E402
from audit_jsonschema import load_schema, validate_lines  # noqa: E402

TOP = os.path.abspath(os.path.join(HERE, "..", ".."))
SAMPLE = os.path.join(TOP, "tests", "unit", "data", "audit", "trail-sample.jsonl")
BASE = tempfile.mkdtemp(prefix="postern-audit-tools-")
TRAIL = os.path.join(BASE, "log", "audit.jsonl")
PSEUDO_KEY = os.path.join(BASE, "pseudo.key")
D = Daemon("postern-audit", base=BASE, config={"trail_file": TRAIL})
with open(SAMPLE, "rb") as f:
    LINES = f.read().splitlines()
# The sample was written before trail identities: it has no trail-start
# record, so verify is told where it starts (the all-zero head).
LEGACY = ("--after", "0:" + "0" * 64)


def setup():
    os.makedirs(os.path.dirname(TRAIL))
    with open(PSEUDO_KEY, "w") as f:
        f.write("pseudonym-key-for-tests-0123456789\n")   # the key test_audit_record uses
    # logrotate's layout: .2.gz oldest, .1, then the current file
    parts = [(TRAIL + ".2.gz", LINES[:4]), (TRAIL + ".1", LINES[4:8]), (TRAIL, LINES[8:])]
    now = time.time()
    for i, (path, lines) in enumerate(parts):
        opener = gzip.open if path.endswith(".gz") else open
        with opener(path, "wb") as f:
            f.write(b"".join(x + b"\n" for x in lines))
        os.utime(path, (now - 100 + i * 10, now - 100 + i * 10))


def teardown():
    shutil.rmtree(BASE, ignore_errors=True)


def audit(*args, config=None):
    if config:
        D.write_config(config)
    r = D.run(*args)
    if config:
        for k in config:
            D.config.pop(k, None)
    return r


def seqs_jsonl(text):
    return [json.loads(x)["seq"] for x in text.splitlines()]


def write(path, lines):
    with open(path, "wb") as f:
        f.write(b"".join(x + b"\n" for x in lines))


@test
def export_default_is_a_json_array_of_every_record_in_rotated_and_current_files():
    r = audit("export")
    check_eq(r.returncode, 0, f"exit status ({r.stderr})")
    records = json.loads(r.stdout)
    check_eq([x["seq"] for x in records], list(range(1, 13)), "records, oldest first")
    validate_lines([json.dumps(x) for x in records], load_schema(), "export")


@test
def export_jsonl_gives_the_stored_lines_byte_for_byte():
    r = audit("export", "--format", "jsonl", TRAIL + ".2.gz", TRAIL + ".1", TRAIL)
    check_eq(r.returncode, 0, f"exit status ({r.stderr})")
    check_eq(r.stdout.encode(), b"".join(x + b"\n" for x in LINES), "jsonl output")


@test
def export_csv_has_a_header_and_one_row_per_record():
    r = audit("export", "--format", "csv", "--since", "2024-05-05", "--until", "2024-05-06")
    check_eq(r.returncode, 0, f"exit status ({r.stderr})")
    rows = r.stdout.splitlines()   # text mode has turned CRLF into LF
    assert rows[0].startswith("ts,seq,event,host,queue_id,"), rows[0]
    check_eq(len([x for x in rows[1:] if x]), 1, "rows")
    assert "\u20ac report.pdf; Donn\u00e9es 2024 part.zip" in rows[1], rows[1]


@test
def export_filters_combine_as_an_administrator_expects():
    cases = [
        (["--from", "@example.com", "--country", "DE"], [12]),
        (["--rcpt", "@EXAMPLE.net"], [3]),
        (["--client", "198.51.100.0/24"], [9]),
        (["--queue-id", "4VQ1xY2ZbC6"], [7]),
        (["--from", "nobody@example.com"], []),
        (["--since", "2024-05-11T00:00:00Z"], [11, 12]),
    ]
    for args, want in cases:
        r = audit("export", "--format", "jsonl", *args)
        check_eq((r.returncode, seqs_jsonl(r.stdout)), (0, want), " ".join(args))


@test
def export_finds_pseudonymised_addresses_from_the_real_address():
    cfg = {"pseudonymize_addresses": "yes", "pseudonymize_key_file": PSEUDO_KEY}
    r = audit("export", "--format", "jsonl", "--from", "sender@example.com", config=cfg)
    check_eq(seqs_jsonl(r.stdout), [5, 11], "plain and pseudonymised records of the sender")
    r = audit("export", "--format", "jsonl", "--from", "sender@example.com")
    check_eq(seqs_jsonl(r.stdout), [5], "without the key only the plain one")


@test
def export_refuses_bad_arguments():
    for args, says in [(["--since", "last tuesday"], "bad time"),
                       (["--format", "xml"], "--format"),
                       (["--client", "192.0.2.1/8"], "192.0.2.1/8")]:
        r = audit("export", *args)
        check_eq(r.returncode, 64, f"exit status of {args}")
        assert says in r.stderr, r.stderr
    r = audit("export", os.path.join(BASE, "no-such-file"))
    check_eq(r.returncode, 66, "missing file")


@test
def verify_accepts_the_intact_trail_and_prints_its_head():
    r = audit("verify")
    check_eq(r.returncode, 1, f"a trail without its trail-start record ({r.stdout}{r.stderr})")
    assert "oldest records were deleted" in r.stdout, r.stdout
    r = audit("verify", *LEGACY)
    check_eq(r.returncode, 0, f"exit status ({r.stdout}{r.stderr})")
    head = f"12:{hashlib.sha256(LINES[-1]).hexdigest()}"
    assert "12 records, seq 1..12" in r.stdout and head in r.stdout, r.stdout
    assert "NO mac checked" in r.stdout, r.stdout


@test
def verify_names_the_file_and_line_of_each_kind_of_tampering():
    bad = os.path.join(BASE, "tampered.jsonl")
    edited = LINES[6].replace(b"ready", b"READY")
    cases = [
        ("edit", LINES[:6] + [edited] + LINES[7:], 7, "edited"),
        ("delete", LINES[:6] + LINES[7:], 7, "deleted"),
        ("insert", LINES[:6] + [LINES[5]] + LINES[6:], 7, "inserted"),
        ("reorder", LINES[:5] + [LINES[6], LINES[5]] + LINES[7:], 7, "out of order"),
    ]
    for what, lines, line, says in cases:
        write(bad, lines)
        r = audit("verify", *LEGACY, bad)
        check_eq(r.returncode, 1, f"{what}: exit status ({r.stdout})")
        assert f"{bad}:{line}:" in r.stdout and says in r.stdout, f"{what}: {r.stdout}"
    with open(bad, "wb") as f:
        f.write(b"".join(x + b"\n" for x in LINES)[:-30])
    r = audit("verify", *LEGACY, bad)
    check_eq(r.returncode, 1, "truncate: exit status")
    assert f"{bad}:12: record cut short" in r.stdout, r.stdout


@test
def checkpoint_and_verify_head_catch_records_removed_from_the_end():
    r = audit("checkpoint")
    check_eq(r.returncode, 0, f"checkpoint exit status ({r.stderr})")
    head = r.stdout.strip()
    check_eq(head, f"12:{hashlib.sha256(LINES[-1]).hexdigest()}", "checkpoint")
    short = os.path.join(BASE, "short.jsonl")
    write(short, LINES[8:11])
    files = [TRAIL + ".2.gz", TRAIL + ".1", short]
    r = audit("verify", *LEGACY, *files)
    check_eq(r.returncode, 0, "a chain without its newest record still verifies")
    r = audit("verify", *LEGACY, "--head", head, *files)
    check_eq(r.returncode, 1, "with the checkpoint it does not")
    assert "records after seq 11 were removed" in r.stdout, r.stdout
    r = audit("verify", *LEGACY, "--head", head)
    check_eq(r.returncode, 0, f"the real trail matches its checkpoint ({r.stdout})")
    r = audit("verify", "--head", "12:nothex")
    check_eq(r.returncode, 64, "malformed --head")


@test
def large_trail_is_streamed_in_flat_memory():
    big = os.path.join(BASE, "big.jsonl")
    prev = "0" * 64
    with open(big, "wb") as f:
        for i in range(1, 150001):
            line = ('{"schema":1,"seq":%d,"ts":"2024-06-01T00:00:00.000Z","host":"mx","event":'
                    '"message","duration_ms":1,"client":{"ip":"192.0.2.%d"},"envelope":{"from":'
                    '"s%d@example.com","rcpt":["r@example.org"]},"headers":{"subject":"%s"},'
                    '"prev":"%s"}' % (i, i % 250, i, "x" * 200, prev)).encode()
            f.write(line + b"\n")
            prev = hashlib.sha256(line).hexdigest()
    size_mb = os.path.getsize(big) / 1e6
    probe = ("import resource, subprocess, sys\n"
             "r = subprocess.run(sys.argv[1:], stdout=subprocess.DEVNULL)\n"
             "print(r.returncode, resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)\n")
    # An ASan build holds freed memory in quarantine: keep that small here.
    env = dict(os.environ, ASAN_OPTIONS="quarantine_size_mb=1:"
               + os.environ.get("ASAN_OPTIONS", ""))
    for args in (["export", "--format", "json", big], ["export", "--format", "csv", big],
                 ["verify", *LEGACY, big]):
        out = subprocess.run([sys.executable, "-c", probe] + D.command(*args), env=env,
                             capture_output=True, text=True, timeout=300).stdout.split()
        rc, rss_mb = int(out[0]), int(out[1]) / 1024
        check_eq(rc, 0, f"{args[0]} exit status")
        print(f"# {' '.join(args[:-1])}: max RSS {rss_mb:.1f} MB, trail {size_mb:.0f} MB")
        assert rss_mb < 40 and rss_mb < size_mb / 2, \
            f"{args[0]} {args[1]}: max RSS {rss_mb:.0f} MB for a {size_mb:.0f} MB trail"


if __name__ == "__main__":
    main(setup, teardown)
