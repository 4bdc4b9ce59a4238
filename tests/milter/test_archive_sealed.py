#!/usr/bin/env python3
# SPDX-License-Identifier: BSD-2-Clause
"""Milter-protocol tests of postern-archive with encryption at rest.

What an attacker who can read the archive's disk (a backup, a stolen disk,
another local user given read access) must not learn, checked as they would:
the object is CMS AuthEnvelopedData (AES-256-GCM, RSA-OAEP) that
`openssl cms -decrypt | zstd -d` opens byte for byte with the private key;
listing objects/ does not confirm a known message (names are an HMAC under
the archive's name key, not the message's SHA-256, and that SHA-256 is in no
file of the archive); index.db holds no message text unless the
administrator asked for it (and `check` warns when they did); a body large
enough to leave memory is spooled in the archive's spool directory,
encrypted: while the daemon holds it, no file it has open holds the text.
"""
import hashlib
import os
import shutil
import sqlite3
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "lib"))
from tap import test, main, check_eq  # noqa: E402
import milter_client as mc  # noqa: E402
from daemon import Daemon, leftover_processes  # noqa: E402

BASE = tempfile.mkdtemp(prefix="postern-archive-sealed-")
os.chmod(BASE, 0o755)
ARCHIVE = os.path.join(BASE, "archive")
TMP = os.path.join(BASE, "tmp")
KEY, CERT = os.path.join(BASE, "key.pem"), os.path.join(BASE, "cert.pem")
D = Daemon("postern-archive", base=BASE, config={
    "archive_directory": ARCHIVE,
    "encryption_certificates": CERT,
    "body_memory_limit": "64k",
    "tmp_dir": TMP,
})

MARKER = b"ZEPPELIN-CONFIDENTIAL"
MSG = (b"From: Alice <alice@example.com>\r\n"
       b"To: Bob <bob@example.org>\r\n"
       b"Subject: quarterly figures\r\n"
       b"Message-ID: <sealed1@example.com>\r\n"
       b"\r\n"
       b"The " + MARKER + b" figures are attached.\r\n")


def client():
    c = mc.MilterClient(D.spec)
    c.negotiate()
    macros = mc.postfix_macros(client_addr="192.0.2.10")
    c.connect("client.example", mc.SMFIA_INET, 40000, "192.0.2.10",
              macros=macros[mc.SMFIC_CONNECT])
    c.helo("client.example", macros=macros[mc.SMFIC_HELO])
    return c


def send(raw, queue_id="4SeAlEd"):
    c = client()
    try:
        t = c.transaction("<alice@example.com>", ["<bob@example.org>"], raw, queue_id=queue_id)
    finally:
        c.quit()
    check_eq(t.reply.action, "continue", "answer at end of message")
    return t


def rows(msgid):
    import json
    r = D.run("search", "--json", "--message-id", msgid)
    return [json.loads(x) for x in r.stdout.splitlines()]


def object_path(name):
    p = os.path.join(ARCHIVE, "objects", name[:2], name + ".eml.zst.p7m")
    assert os.path.exists(p), f"no sealed object {p}"
    return p


def all_archive_bytes():
    """Every file of the archive, as someone who can read the disk sees them."""
    out = []
    for root, _, files in os.walk(ARCHIVE):
        for f in files:
            with open(os.path.join(root, f), "rb") as fp:
                out.append((os.path.join(root, f), fp.read()))
    return out


def setup():
    os.makedirs(TMP)
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", KEY,
                    "-out", CERT, "-days", "30", "-subj", "/CN=Archive Key"],
                   check=True, capture_output=True)
    D.start()


def teardown():
    try:
        D.stop()
    finally:
        if not os.environ.get("POSTERN_KEEP"):
            shutil.rmtree(BASE, ignore_errors=True)


@test
def object_is_gcm_auth_enveloped_data_with_rsa_oaep_and_opens_with_openssl_and_zstd():
    send(MSG)
    r = rows("sealed1@example.com")
    check_eq(len(r), 1, "deliveries")
    path = object_path(r[0]["sha256"])
    p = subprocess.run(["openssl", "cms", "-cmsout", "-print", "-inform", "DER", "-in", path],
                       capture_output=True, text=True)
    check_eq(p.returncode, 0, f"openssl cms -cmsout -print ({p.stderr})")
    for want in ("contentType: id-smime-ct-authEnvelopedData", "algorithm: aes-256-gcm",
                 "algorithm: rsaesOaep"):
        assert want in p.stdout, f"{want!r} not in the CMS structure:\n{p.stdout}"
    p = subprocess.run(f"openssl cms -decrypt -inform DER -in {path} -inkey {KEY} "
                       f"| zstd -q -d -c", shell=True, capture_output=True)
    check_eq(p.returncode, 0, f"openssl cms -decrypt | zstd -d ({p.stderr!r})")
    check_eq(p.stdout, MSG, "decrypted object")


@test
def object_name_does_not_confirm_a_known_message():
    known = hashlib.sha256(MSG).hexdigest()
    r = rows("sealed1@example.com")
    assert r[0]["sha256"] != known, "the object is named by the message's SHA-256"
    for path, data in all_archive_bytes():
        assert known not in path, f"{path} is named by the message's SHA-256"
        assert known.encode() not in data, f"{path} holds the message's SHA-256"
    key = os.path.join(ARCHIVE, "object-name.key")
    check_eq(oct(os.stat(key).st_mode & 0o7777), "0o600", "name key mode")
    # the same message again: same keyed name, stored once
    send(MSG, queue_id="4SeAlEe")
    again = rows("sealed1@example.com")
    check_eq(len(again), 2, "deliveries")
    check_eq(again[0]["sha256"], again[1]["sha256"], "one object for both")
    objects = [f for _, _, fs in os.walk(os.path.join(ARCHIVE, "objects")) for f in fs]
    check_eq(len(objects), 1, f"object files ({objects})")
    g = subprocess.run(D.command("get", "--key", KEY, again[1]["id"]), capture_output=True)
    check_eq(g.returncode, 0, f"get ({g.stderr!r})")
    check_eq(g.stdout, MSG, "get")


@test
def index_holds_no_message_text_by_default_with_encryption():
    db = sqlite3.connect(f"file:{os.path.join(ARCHIVE, 'index.db')}?mode=ro", uri=True)
    try:
        tables = [t for (t,) in db.execute("select name from sqlite_master where type='table'")]
        for t in tables:
            for row in db.execute(f'select * from "{t}"'):
                for v in row:
                    if isinstance(v, (str, bytes)):
                        b = v.encode() if isinstance(v, str) else v
                        assert MARKER not in b, f"message text in index table {t}: {row!r}"
    finally:
        db.close()
    for path, data in all_archive_bytes():
        assert MARKER not in data, f"message text in plaintext in {path}"
    r = D.run("search", "--text", MARKER.decode())
    check_eq(r.stdout, "", "search --text finds nothing: the text is not indexed")


@test
def check_warns_when_index_text_and_encryption_are_both_on():
    r = D.run("check")
    check_eq(r.returncode, 0, f"check ({r.stderr})")
    assert "fulltext" not in r.stderr, r.stderr
    other = Daemon("postern-archive", base=os.path.join(BASE, "text"), config={
        "archive_directory": os.path.join(BASE, "text", "archive"),
        "encryption_certificates": CERT, "fulltext": "text"})
    r = other.run("check")
    check_eq(r.returncode, 0, f"check ({r.stderr})")
    assert "fulltext = text with encryption" in r.stderr and "plaintext" in r.stderr, r.stderr


@test
def objects_written_before_in_the_old_format_stay_readable_by_get_and_export():
    # an archive written without encryption, whose object is then sealed the
    # way earlier versions did (EnvelopedData, AES-256-CBC, RSA PKCS#1 v1.5)
    base = os.path.join(BASE, "old")
    os.makedirs(base)
    old = Daemon("postern-archive", base=base, config={
        "archive_directory": os.path.join(base, "archive"), "tmp_dir": base})
    old.start()
    try:
        c = mc.MilterClient(old.spec)
        c.negotiate()
        m = mc.postfix_macros(client_addr="192.0.2.10")
        c.connect("client.example", mc.SMFIA_INET, 40000, "192.0.2.10",
                  macros=m[mc.SMFIC_CONNECT])
        c.helo("client.example", macros=m[mc.SMFIC_HELO])
        raw = MSG.replace(b"sealed1@", b"old1@")
        t = c.transaction("<alice@example.com>", ["<bob@example.org>"], raw, queue_id="4OlD")
        c.quit()
        check_eq(t.reply.action, "continue", "answer at end of message")
    finally:
        old.stop()
    name = hashlib.sha256(raw).hexdigest()
    plain = os.path.join(base, "archive", "objects", name[:2], name + ".eml.zst")
    sealed = plain + ".p7m"
    subprocess.run(["openssl", "cms", "-encrypt", "-binary", "-aes256", "-outform", "DER",
                    "-in", plain, "-out", sealed, CERT], check=True, capture_output=True)
    os.unlink(plain)
    cms = subprocess.run(["openssl", "cms", "-cmsout", "-print", "-inform", "DER", "-in", sealed],
                         capture_output=True, text=True).stdout
    assert "pkcs7-envelopedData" in cms and "aes-256-cbc" in cms, cms[:2000]
    # the archive now encrypts: what was written before still reads
    old.write_config({"encryption_certificates": CERT})
    import json
    row = json.loads(old.run("search", "--json", "--message-id", "old1@example.com").stdout)
    g = subprocess.run(old.command("get", "--key", KEY, row["id"]), capture_output=True)
    check_eq(g.returncode, 0, f"get ({g.stderr!r})")
    check_eq(g.stdout, raw, "get of an old-format object")
    out = os.path.join(base, "eml")
    r = subprocess.run(old.command("export", "--message-id", "old1@example.com", "--eml-dir", out,
                                   "--key", KEY), capture_output=True)
    check_eq(r.returncode, 0, f"export ({r.stderr!r})")
    with open(os.path.join(out, name + ".eml"), "rb") as f:
        check_eq(f.read(), raw, "exported old-format object")


def daemon_open_files():
    """(link target, bytes) of every regular file the daemon's processes hold open."""
    out = []
    for pid in leftover_processes(D.conf):
        fddir = f"/proc/{pid}/fd"
        try:
            fds = os.listdir(fddir)
        except OSError:
            continue
        for fd in fds:
            link = os.path.join(fddir, fd)
            try:
                target = os.readlink(link)
                st = os.stat(link)
            except OSError:
                continue
            if not target.startswith("/") or not (st.st_mode & 0o170000 == 0o100000):
                continue
            try:
                with open(link, "rb") as f:
                    out.append((target, f.read()))
            except OSError:
                continue
    return out


@test
def large_body_is_spooled_encrypted_in_the_archive_spool_directory():
    body = b"".join(b"line %06d: the " % i + MARKER + b" text of a big body\r\n"
                    for i in range(40000))   # about 2 MB, far over body_memory_limit
    head = (b"From: Alice <alice@example.com>\r\nTo: Bob <bob@example.org>\r\n"
            b"Subject: big\r\nMessage-ID: <sealed-big@example.com>\r\n")
    c = client()
    try:
        dm = c.filter_macros(mc.postfix_macros(sender="<alice@example.com>", queue_id="4BiG"))
        assert c.mail("<alice@example.com>", (), dm.get(mc.SMFIC_MAIL)).ok
        assert c.rcpt("<bob@example.org>").ok
        assert c.data(dm.get(mc.SMFIC_DATA)).ok
        hdrs, _ = mc.split_message(head + b"\r\n", bool(c.protocol & mc.SMFIP_HDR_LEADSPC))
        for name, value in hdrs:
            c.header(name, value)
        c.eoh()
        c.body(body)
        # the daemon holds the whole body now, before the end of the message
        held = daemon_open_files()
        for target, data in held:
            assert MARKER not in data, f"{target} holds the body in plaintext"
        spool = os.path.join(ARCHIVE, "spool") + "/"
        in_spool = [t for t, _ in held if t.startswith(spool)]
        assert in_spool, f"no spool file in {spool}; the daemon holds {[t for t, _ in held]}"
        assert not any(MARKER in open(os.path.join(TMP, f), "rb").read()
                       for f in os.listdir(TMP)), "plaintext in tmp_dir"
        r, _ = c.eom()
        check_eq(r.action, "continue", "answer at end of message")
    finally:
        c.quit()
    r = rows("sealed-big@example.com")
    check_eq(len(r), 1, "deliveries")
    g = subprocess.run(D.command("get", "--key", KEY, r[0]["id"]), capture_output=True)
    check_eq(g.stdout, head + b"\r\n" + body, "get gives the big message back byte for byte")


if __name__ == "__main__":
    main(setup, teardown)
