#!/usr/bin/env python3
# SPDX-License-Identifier: BSD-2-Clause
"""The attacks on postern-audit's trail of issue 12 (findings 5 and 9), each
tried on a trail the real daemon wrote through the milter protocol, and
judged by `postern-audit verify` as an auditor runs it: exit 1 and a
message that names what was done.

  - finding 5 as reported: five records, lines 4-5 cut while the daemon
    runs, two more messages: the old daemon renumbered and verify said
    "intact"; now a gap record and exit 1;
  - the tail cut, the oldest or a middle record deleted, two records
    swapped, two trails spliced, the trail replaced by another host's;
  - a record older than the current sealing epoch forged with the key
    found on the host;
  - key files: `check` refuses one readable by others or owned by another
    user; verify fails when a key is given and no mac was checked."""
import json
import os
import shutil
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "lib"))
sys.path.insert(0, HERE)
from tap import test, main, check_eq  # noqa: E402
import milter_client as mc  # noqa: E402
from daemon import Daemon  # noqa: E402

BASE = tempfile.mkdtemp(prefix="postern-audit-attacks-")
os.chmod(BASE, 0o755)
MSG = b"From: a@example.com\r\nTo: b@example.org\r\nSubject: hello\r\n\r\nbody\r\n"
SERIAL = [0]


def make(name, host="mx.example", key=True, **extra):
    """A daemon with its own trail (and initial key, copied offline)."""
    base = os.path.join(BASE, name)
    os.makedirs(os.path.join(base, "log"))
    trail = os.path.join(base, "log", "audit.jsonl")
    config = {"trail_file": trail, "host_name": host, "connection_records": "no"}
    if key:
        keyfile = os.path.join(base, "log", "audit.key")
        with open(keyfile, "w") as f:
            f.write(os.urandom(32).hex() + "\n")
        os.chmod(keyfile, 0o600)
        shutil.copy(keyfile, os.path.join(base, "initial.key"))
        config["key_file"] = keyfile
    config.update(extra)
    d = Daemon("postern-audit", base=base, config=config)
    d.trail = trail
    d.initial = os.path.join(base, "initial.key")
    d.head = os.path.join(base, "log", ".audit.jsonl.head")
    return d


def send(d, n):
    for _ in range(n):
        SERIAL[0] += 1
        c = mc.MilterClient(d.spec)
        c.negotiate()
        c.connect("client.example", mc.SMFIA_INET, 40000, "192.0.2.10")
        c.helo("helo.example")
        t = c.transaction("<a@example.com>", ["<b@example.org>"], MSG,
                          queue_id=f"Q{SERIAL[0]:05d}")
        check_eq(t.reply.action, "continue", "eom reply")
        c.quit()


def lines(path):
    with open(path, "rb") as f:
        return f.read().splitlines()


def write(path, ls):
    """In place, as an intruder editing the file would (the inode stays)."""
    with open(path, "r+b") as f:
        f.write(b"".join(x + b"\n" for x in ls))
        f.truncate()


def verify(d, *args):
    r = d.run("verify", *args)
    return r.returncode, r.stdout + r.stderr


def expect_caught(d, what, says, *args):
    rc, out = verify(d, *args)
    check_eq(rc, 1, f"{what}: verify exit status ({out.strip()})")
    assert "intact" not in out.split(":")[0], f"{what}: {out}"
    assert says in out, f"{what}: verify does not say \"{says}\": {out}"
    print(f"# {what}: {out.strip()[:200]}")


def teardown():
    shutil.rmtree(BASE, ignore_errors=True)


@test
def finding5_lines_cut_while_running_then_two_more_is_a_gap_not_intact():
    d = make("finding5")
    d.start()
    try:
        send(d, 5)
        ls = lines(d.trail)
        # the report counted message records 1..5; cut the 4th and 5th
        msgs = [i for i, x in enumerate(ls) if json.loads(x)["event"] == "message"]
        write(d.trail, [x for i, x in enumerate(ls) if i not in msgs[3:5]])
        send(d, 2)
    finally:
        d.stop()
    seqs = [json.loads(x)["seq"] for x in lines(d.trail)]
    check_eq(len(seqs), len(set(seqs)), f"seq numbers never reused ({seqs})")
    expect_caught(d, "finding 5", "gap record", "--key", d.initial)
    assert "TAMPERING" in d.log(), d.log()[-2000:]


@test
def each_edit_of_a_trail_is_named_by_verify():
    d = make("edits")
    d.start()
    try:
        send(d, 6)
    finally:
        d.stop()
    rc, out = verify(d, "--key", d.initial)
    check_eq(rc, 0, f"untouched trail ({out})")
    assert "intact:" in out and "7 macs checked" in out, out
    orig = lines(d.trail)
    copy = d.trail + ".copy"
    shutil.copy(d.trail, copy)
    attacks = [
        ("tail cut", orig[:-2], "the tail was cut"),
        ("oldest records deleted", orig[2:], "oldest records were deleted"),
        ("middle record deleted", orig[:3] + orig[4:], "was deleted"),
        ("records reordered", orig[:3] + [orig[4], orig[3]] + orig[5:], "out of order"),
    ]
    for what, ls, says in attacks:
        write(copy, ls)
        expect_caught(d, what, says, "--key", d.initial, "--head-file", d.head, copy)


@test
def spliced_trails_and_another_hosts_trail_are_refused():
    a, b = make("splice-a"), make("splice-b", host="other.example")
    shutil.copy(a.initial, b.initial)          # the worst case: one key for both hosts
    shutil.copy(a.initial, b.config["key_file"])
    for d in (a, b):
        d.start()
        try:
            send(d, 4)
        finally:
            d.stop()
    la, lb = lines(a.trail), lines(b.trail)
    mix = a.trail + ".mix"
    with open(mix, "wb") as f:
        f.write(b"".join(x + b"\n" for x in la[:3] + lb[3:]))
    expect_caught(a, "two trails spliced", "spliced", "--key", a.initial, mix)
    with open(mix, "wb") as f:
        f.write(b"".join(x + b"\n" for x in la + lb))
    expect_caught(a, "two trails back to back", "another trail", "--key", a.initial, mix)
    # b's trail in place of a's: a's head file names another trail
    shutil.copy(b.trail, a.trail)
    expect_caught(a, "another host's trail", "the trail was replaced", "--key", a.initial)
    expect_caught(a, "another host's trail (by host)", "another host's trail",
                  "--key", a.initial, "--host", "mx.example", a.trail)


@test
def a_record_older_than_the_current_epoch_forged_with_the_current_key_is_caught():
    d = make("forge", seal_epoch_records="2")
    d.start()
    try:
        send(d, 7)                              # 8 records: epochs 0..3
    finally:
        d.stop()
    with open(d.config["key_file"]) as f:
        stolen = f.read()
    assert stolen.startswith("postern-audit-sealing-key 1\n") and "\nepoch 3\n" in stolen, stolen
    with open(d.initial) as f:
        assert f.read().strip() not in stolen, "the initial key is still on the host"
    rc, out = verify(d, "--key", d.initial)
    check_eq(rc, 0, f"untouched ({out})")
    # with the key found on the host, rewrite record seq 4 (epoch 1): its mac
    # under the current key, claiming its own epoch, then claiming the current one
    import hashlib
    import hmac
    key = bytes.fromhex(stolen.split("\nkey ")[1].split("\n")[0])
    orig = lines(d.trail)
    for claim in ("own", "current"):
        ls = list(orig)
        rec = ls[3]
        body = rec[:rec.rindex(b',"epoch":')]
        body = body.replace(b"hello", b"HELLO") if b"hello" in body else body + b""
        epoch = json.loads(rec)["epoch"] if claim == "own" else 3
        covered = body + b',"epoch":%d}' % epoch
        mac = hmac.new(key, covered, hashlib.sha256).hexdigest().encode()
        ls[3] = covered[:-1] + b',"mac":"' + mac + b'"}'
        write(d.trail, ls)
        expect_caught(d, f"forged older record claiming its {claim} epoch", "seq 4",
                      "--key", d.initial)
    write(d.trail, orig)


@test
def check_refuses_a_key_readable_by_others_or_owned_by_someone_else():
    d = make("keymode")
    key = d.config["key_file"]
    for mode in (0o666, 0o644, 0o640):
        os.chmod(key, mode)
        r = d.run("check")
        check_eq(r.returncode, 78, f"check with a key of mode {mode:04o}")
        assert "must be 0600" in r.stderr, r.stderr
    os.chmod(key, 0o600)
    check_eq(d.run("check").returncode, 0, "check with mode 0600")
    if os.geteuid() == 0:
        os.chown(key, 65534, 65534)
        r = d.run("check")
        check_eq(r.returncode, 78, "check with a key owned by nobody")
        assert "owned by" in r.stderr, r.stderr
        os.chown(key, 0, 0)


@test
def verify_fails_when_a_key_is_given_and_no_mac_was_checked():
    d = make("unsigned", key=False)
    d.start()
    try:
        send(d, 2)
    finally:
        d.stop()
    rc, out = verify(d)
    check_eq(rc, 0, f"unsigned trail without a key ({out})")
    assert "NO mac checked" in out and "chain intact" in out, out
    other = make("unsigned-key")
    expect_caught(d, "key given, nothing sealed", "no mac checked although a key",
                  "--key", other.initial)


if __name__ == "__main__":
    main(None, teardown)
