# SPDX-License-Identifier: BSD-2-Clause
"""certs - a throw-away test PKI made with the openssl command line.

    from certs import make_pki
    pki = make_pki("/tmp/x/pki")
    pki.ca_cert, pki.server_cert, pki.server_key, pki.client_cert, ...

Layout (all PEM, EC P-256 keys, unencrypted):
  ca.crt / ca.key                 test CA "Postern Test CA" (trusted)
  server.crt / server.key         CN mx.postern.test, SAN DNS:mx.postern.test,
                                  DNS:localhost, IP:127.0.0.1 (serverAuth)
  client.crt / client.key         CN client.partner.test, signed by the CA
  rogue-ca.crt / rogue-ca.key     a second CA nobody trusts
  rogue.crt / rogue.key           CN rogue.partner.test, signed by the rogue CA
  server-chain.crt                server cert followed by the CA cert

make_pki() is idempotent: when every file already exists it returns at once.
"""
import os
import subprocess
from types import SimpleNamespace

DAYS = "3650"


def _run(*args, cwd):
    r = subprocess.run(["openssl", *args], cwd=cwd, capture_output=True,
                       text=True, timeout=30)
    if r.returncode != 0:
        raise RuntimeError(f"openssl {' '.join(args)} failed: {r.stderr}")


def _key(d, name):
    _run("genpkey", "-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256",
         "-out", name, cwd=d)
    os.chmod(os.path.join(d, name), 0o600)


def _ca(d, name, cn):
    _key(d, f"{name}.key")
    _run("req", "-new", "-x509", "-key", f"{name}.key", "-out", f"{name}.crt",
         "-days", DAYS, "-subj", f"/O=Postern Test/CN={cn}",
         "-addext", "basicConstraints=critical,CA:TRUE",
         "-addext", "keyUsage=critical,keyCertSign,cRLSign", cwd=d)


def _leaf(d, name, cn, ca, extensions):
    _key(d, f"{name}.key")
    _run("req", "-new", "-key", f"{name}.key", "-out", f"{name}.csr",
         "-subj", f"/O=Postern Test/CN={cn}", cwd=d)
    ext = os.path.join(d, f"{name}.ext")
    with open(ext, "w") as f:
        f.write(extensions)
    _run("x509", "-req", "-in", f"{name}.csr", "-CA", f"{ca}.crt",
         "-CAkey", f"{ca}.key", "-CAcreateserial", "-out", f"{name}.crt",
         "-days", DAYS, "-sha256", "-extfile", ext, cwd=d)
    os.unlink(ext)
    os.unlink(os.path.join(d, f"{name}.csr"))


SERVER_EXT = ("basicConstraints=critical,CA:FALSE\n"
              "keyUsage=critical,digitalSignature,keyEncipherment\n"
              "extendedKeyUsage=serverAuth\n"
              "subjectAltName=DNS:mx.postern.test,DNS:localhost,IP:127.0.0.1\n")
CLIENT_EXT = ("basicConstraints=critical,CA:FALSE\n"
              "keyUsage=critical,digitalSignature\n"
              "extendedKeyUsage=clientAuth\n")


def _paths(d):
    p = lambda n: os.path.join(d, n)  # noqa: E731
    return SimpleNamespace(
        dir=d,
        ca_cert=p("ca.crt"), ca_key=p("ca.key"),
        server_cert=p("server.crt"), server_key=p("server.key"),
        server_chain=p("server-chain.crt"),
        client_cert=p("client.crt"), client_key=p("client.key"),
        client_cn="client.partner.test",
        rogue_ca_cert=p("rogue-ca.crt"), rogue_ca_key=p("rogue-ca.key"),
        rogue_cert=p("rogue.crt"), rogue_key=p("rogue.key"),
        rogue_cn="rogue.partner.test",
        server_name="mx.postern.test",
    )


def make_pki(directory):
    """Create (or reuse) the test PKI in directory; return a namespace of
    paths: ca_cert, ca_key, server_cert, server_key, server_chain,
    client_cert, client_key, client_cn, rogue_ca_cert, rogue_ca_key,
    rogue_cert, rogue_key, rogue_cn, server_name, dir."""
    os.makedirs(directory, exist_ok=True)
    d = os.path.abspath(directory)
    pki = _paths(d)
    files = [pki.ca_cert, pki.ca_key, pki.server_cert, pki.server_key,
             pki.server_chain, pki.client_cert, pki.client_key,
             pki.rogue_ca_cert, pki.rogue_ca_key, pki.rogue_cert,
             pki.rogue_key]
    if all(os.path.exists(f) for f in files):
        return pki
    _ca(d, "ca", "Postern Test CA")
    _ca(d, "rogue-ca", "Rogue Test CA")
    _leaf(d, "server", pki.server_name, "ca", SERVER_EXT)
    _leaf(d, "client", pki.client_cn, "ca", CLIENT_EXT)
    _leaf(d, "rogue", pki.rogue_cn, "rogue-ca", CLIENT_EXT)
    with open(pki.server_chain, "w") as out:
        for f in (pki.server_cert, pki.ca_cert):
            with open(f) as src:
                out.write(src.read())
    for f in os.listdir(d):
        if f.endswith(".srl"):
            os.unlink(os.path.join(d, f))
    return pki


if __name__ == "__main__":
    import sys
    print(make_pki(sys.argv[1] if len(sys.argv) > 1 else "pki"))
