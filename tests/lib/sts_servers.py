# SPDX-License-Identifier: BSD-2-Clause
"""sts_servers - the partner side of MTA-STS on 127.0.0.1: a DNS server
(Debian's dnsmasq) and an HTTPS policy server with test-CA certificates.

    from sts_servers import Dns, PolicyServer, policy_cert
    dns = Dns(dir).start(txt={"_mta-sts.p.test": "v=STSv1; id=1"},
                         a={"mta-sts.p.test": "127.0.0.1"},
                         mx={"p.test": "mx.p.test"})
    dns.port                       # sts_resolver = 127.0.0.1:PORT
    dns.restart(txt=...)           # new records (a changed policy id)
    web = PolicyServer(certfile, keyfile, extra={"mta-sts.bad.test": (c, k)})
    web.policies["p.test"] = "version: STSv1\\nmode: enforce\\n..."
    web.start(); web.port; web.hits["p.test"]
    policy_cert(pki, dir, ["mta-sts.p.test"], ca="ca") -> (cert, key)

Dns runs dnsmasq in the foreground (-k) with no configuration file, no
/etc/hosts, no upstream servers (--no-resolv): it answers only the
records given, NXDOMAIN for other names under .test, and refuses the rest, so no query leaves the machine.

PolicyServer serves GET /.well-known/mta-sts.txt for the Host's domain
(the policies dict, "mta-sts." stripped) as text/plain, or as a dict
{"body", "status", "type", "headers", "chunked", "stall": seconds} says, counts the hits
per domain, answers 404 for anything else, and picks the certificate
by SNI (extra: server name -> (cert, key)), so one port can present a
certificate of an untrusted CA or for the wrong name.
"""
import http.server
import os
import socket
import ssl
import subprocess
import threading
import time

from certs import _run, _key  # noqa: F401  (the openssl helpers of the test PKI)

DNSMASQ = "/usr/sbin/dnsmasq"


def free_port(kind=socket.SOCK_STREAM):
    s = socket.socket(socket.AF_INET, kind)
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def policy_cert(pki, directory, names, ca="ca", tag=None):
    """A serverAuth certificate for names (SAN DNS) signed by the test CA
    ("ca") or the untrusted one ("rogue-ca"); returns (cert, key)."""
    tag = tag or names[0].replace("*", "star")
    d = pki.dir
    ext = os.path.join(directory, f"{tag}.ext")
    os.makedirs(directory, exist_ok=True)
    with open(ext, "w") as f:
        f.write("basicConstraints=critical,CA:FALSE\n"
                "keyUsage=critical,digitalSignature,keyEncipherment\n"
                "extendedKeyUsage=serverAuth\n"
                "subjectAltName=" + ",".join(f"DNS:{n}" for n in names) + "\n")
    key = os.path.join(directory, f"{tag}.key")
    csr = os.path.join(directory, f"{tag}.csr")
    cert = os.path.join(directory, f"{tag}.crt")
    _run("genpkey", "-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256", "-out", key,
         cwd=directory)
    _run("req", "-new", "-key", key, "-out", csr, "-subj", f"/O=Postern Test/CN={names[0]}",
         cwd=directory)
    _run("x509", "-req", "-in", csr, "-CA", os.path.join(d, f"{ca}.crt"),
         "-CAkey", os.path.join(d, f"{ca}.key"), "-CAcreateserial",
         "-CAserial", os.path.join(directory, f"{tag}.srl"), "-out", cert,
         "-days", "30", "-sha256", "-extfile", ext, cwd=directory)
    return cert, key


def has_ipv6_loopback():
    """True when a socket can be bound to [::1] here."""
    try:
        with socket.socket(socket.AF_INET6, socket.SOCK_DGRAM) as s:
            s.bind(("::1", 0))
        return True
    except OSError:
        return False


class Dns:
    """dnsmasq on 127.0.0.1:port (and [::1]:port, when the host has IPv6
    loopback) with the given records only; a TXT value that is a list
    gives the name one record per item."""

    def __init__(self, directory):
        self.dir = directory
        os.makedirs(directory, exist_ok=True)
        self.port = free_port(socket.SOCK_DGRAM)
        self.ipv6 = has_ipv6_loopback()
        self.proc = None
        self.log = os.path.join(directory, "dnsmasq.log")

    def start(self, txt=None, a=None, mx=None):
        self.records = (dict(txt or {}), dict(a or {}), dict(mx or {}))
        args = [DNSMASQ, "-k", "--conf-file=/dev/null", "--no-resolv", "--no-hosts",
                "--no-poll", "--listen-address=127.0.0.1", "--bind-interfaces",
                *(["--listen-address=::1"] if self.ipv6 else []),
                f"--port={self.port}", "--user=root", "--group=root", "--pid-file=",
                "--log-queries", f"--log-facility={self.log}", "--cache-size=0",
                "--local=/test/"]     # other names under .test: NXDOMAIN, not REFUSED
        for name, value in self.records[0].items():
            # no shell: quotes would be part of the record; "," splits strings
            for one in value if isinstance(value, list) else [value]:
                args.append(f"--txt-record={name},{one}")
        for name, addr in self.records[1].items():
            args.append(f"--host-record={name},{addr}")
        for name, host in self.records[2].items():
            args.append(f"--mx-host={name},{host},10")
        self.proc = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        self._wait_ready()
        return self

    def _wait_ready(self, timeout=10):
        """Until dnsmasq answers a query (its first TXT name), bounded."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError("dnsmasq exited: " + self.proc.stderr.read().decode())
            if os.path.exists(self.log) and "started" in open(self.log).read():
                return
            time.sleep(0.05)
        raise RuntimeError("dnsmasq did not start")

    def restart(self, txt=None, a=None, mx=None):
        old = self.records
        self.stop()
        os.unlink(self.log) if os.path.exists(self.log) else None
        return self.start(txt if txt is not None else old[0], a if a is not None else old[1],
                          mx if mx is not None else old[2])

    def stop(self):
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=10)
        self.proc = None


class ForgingDns:
    """A DNS server on 127.0.0.1 that answers each TXT query for a name of
    txt ({name: (true value, forged value)}) three times: the forged
    value under another query id, the forged value under the right id for
    another question, then the true value. A queries get 127.0.0.1, any
    other query an answer with no records."""

    def __init__(self, txt):
        self.txt = {k.lower(): v for k, v in txt.items()}
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.settimeout(0.2)
        self.port = self.sock.getsockname()[1]
        self.stopping = False
        self.thread = threading.Thread(target=self._serve, daemon=True)

    def start(self):
        self.thread.start()
        return self

    def stop(self):
        self.stopping = True
        self.thread.join(5)
        self.sock.close()

    @staticmethod
    def _answer(qid, question, rdtype=None, rdata=b""):
        count = 0 if rdtype is None else 1
        head = qid + b"\x81\x80" + (1).to_bytes(2, "big") + count.to_bytes(2, "big") + bytes(4)
        if rdtype is None:
            return head + question
        rr = (b"\xc0\x0c" + rdtype.to_bytes(2, "big") + b"\x00\x01" + (60).to_bytes(4, "big")
              + len(rdata).to_bytes(2, "big") + rdata)
        return head + question + rr

    def _serve(self):
        for _ in range(100000):         # bounded: one datagram per turn
            if self.stopping:
                return
            try:
                data, peer = self.sock.recvfrom(512)
            except socket.timeout:
                continue
            except OSError:
                return
            labels, i = [], 12
            while i < len(data) and data[i] and len(labels) < 64:
                labels.append(data[i + 1:i + 1 + data[i]].decode("ascii", "replace"))
                i += 1 + data[i]
            question = data[12:i + 5]
            qid, qtype = data[:2], int.from_bytes(data[i + 1:i + 3], "big")
            name = ".".join(labels).lower()
            if qtype == 16 and name in self.txt:
                true, forged = (v.encode() for v in self.txt[name])
                wrong_id = bytes([qid[0] ^ 0xFF, qid[1]])
                as_a = question[:-4] + (1).to_bytes(2, "big") + question[-2:]
                for qi, q, text in ((wrong_id, question, forged), (qid, as_a, forged),
                                    (qid, question, true)):
                    self.sock.sendto(self._answer(qi, q, 16, bytes([len(text)]) + text), peer)
            elif qtype == 1:
                self.sock.sendto(self._answer(qid, question, 1, bytes([127, 0, 0, 1])), peer)
            else:
                self.sock.sendto(self._answer(qid, question), peer)


class PolicyServer:
    """HTTPS server for /.well-known/mta-sts.txt (see the module doc)."""

    def __init__(self, certfile, keyfile, extra=None):
        self.certs = (certfile, keyfile)
        self.extra_files = dict(extra or {})
        self.policies = {}
        self.hits = {}
        self.lock = threading.Lock()
        self.ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        self.ctx.load_cert_chain(certfile, keyfile)
        self.extra = {}
        for name, (c, k) in (extra or {}).items():
            x = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
            x.load_cert_chain(c, k)
            self.extra[name.lower()] = x
        self.ctx.sni_callback = self._sni
        self.httpd = None
        self.port = None

    def _sni(self, sock, name, ctx):
        if name and name.lower() in self.extra:
            sock.context = self.extra[name.lower()]

    def start(self):
        server = self

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_GET(self):
                host = (self.headers.get("Host") or "").split(":")[0].lower()
                domain = host[len("mta-sts."):] if host.startswith("mta-sts.") else None
                with server.lock:
                    if domain is not None:
                        server.hits[domain] = server.hits.get(domain, 0) + 1
                    body = server.policies.get(domain)
                if self.path != "/.well-known/mta-sts.txt" or body is None:
                    self.send_response(404)
                    self.send_header("Content-Length", "0")
                    self.send_header("Connection", "close")
                    self.end_headers()
                    return
                spec = body if isinstance(body, dict) else {"body": body}
                if spec.get("stall"):
                    time.sleep(spec["stall"])   # a server that never answers in time
                data = spec.get("body", "").encode()
                self.send_response(spec.get("status", 200))
                self.send_header("Content-Type", spec.get("type", "text/plain"))
                for name, value in spec.get("headers", {}).items():
                    self.send_header(name, value)
                if spec.get("chunked"):
                    self.send_header("Transfer-Encoding", "chunked")
                else:
                    self.send_header("Content-Length", str(len(data)))
                self.send_header("Connection", "close")
                self.end_headers()
                if spec.get("chunked"):
                    for i in range(0, len(data), 7):     # small chunks, hex sizes
                        part = data[i:i + 7]
                        self.wfile.write(b"%x\r\n%s\r\n" % (len(part), part))
                    self.wfile.write(b"0\r\n\r\n")
                else:
                    self.wfile.write(data)

            def log_message(self, *a):
                pass

        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.socket = self.ctx.wrap_socket(self.httpd.socket, server_side=True)
        self.port = self.httpd.server_address[1]
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()
        return self

    def stop(self):
        if self.httpd:
            self.httpd.shutdown()
            self.httpd.server_close()
            self.httpd = None
