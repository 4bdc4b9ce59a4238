# SPDX-License-Identifier: BSD-2-Clause
"""milter_client - the MTA side of the milter protocol (version 6).

Drives a milter daemon over its socket the way Postfix or Sendmail would,
without an MTA. Constants are those of libmilter's mfdef.h and mfapi.h.

    from milter_client import MilterClient
    with MilterClient("unix:/tmp/x/m.sock") as c:
        c.negotiate()                       # offers every action and step
        r = c.connect("client.example", "4", 54321, "192.0.2.1",
                      macros={"j": "mx.postern.test"})
        assert r.action == "continue"
        c.helo("client.example")
        c.mail("<a@example.com>", macros={"{mail_addr}": "a@example.com"})
        c.rcpt("<b@example.org>")
        c.data(macros={"i": "4AbCdE"})
        c.header("Subject", "hi")
        c.eoh()
        c.body(b"hello\\r\\n")
        reply, mods = c.eom()
        assert ("addheader", "X-Postern", "ok") in mods
        c.quit()

Every event method returns a Reply. The client honours what the milter
negotiated, like an MTA: a step the milter declined (SMFIP_NOCONNECT,
SMFIP_NOHELO, ... SMFIP_NOHDRS, SMFIP_NOBODY, SMFIP_NOEOH, SMFIP_NODATA,
SMFIP_NOUNKNOWN) is not sent and returns Reply("not_sent"); for a step with
a no-reply flag (SMFIP_NR_CONN ... SMFIP_NR_HDR, SMFIP_NR_BODY) the event is
sent but no reply is read and Reply("noreply") is returned. Macros given to
an event are sent (SMFIC_MACRO with the event's command code) even when the
event itself is not, as Postfix and Sendmail do.

Reply.action is one of: continue, accept, reject, tempfail, discard,
replycode (Reply.code = 550, Reply.text = "550 5.7.1 ..."), skip, shutdown
(SMFIR_SHUTDOWN), conn_fail, not_sent, noreply. Reply.ok is True for
continue/not_sent/noreply/skip.

Modifications (returned by eom(), in the order received) are tuples:
  ("addheader", name, value)          SMFIR_ADDHEADER
  ("insheader", index, name, value)   SMFIR_INSHEADER
  ("chgheader", index, name, value)   SMFIR_CHGHEADER (value "" = delete)
  ("addrcpt", rcpt)                   SMFIR_ADDRCPT
  ("addrcpt_par", rcpt, args|None)    SMFIR_ADDRCPT_PAR
  ("delrcpt", rcpt)                   SMFIR_DELRCPT
  ("chgfrom", sender, args|None)      SMFIR_CHGFROM
  ("quarantine", reason)              SMFIR_QUARANTINE
  ("replbody", bytes)                 SMFIR_REPLBODY (one per chunk)
SMFIR_PROGRESS packets are counted in client.progress, not listed.
Every read has a timeout (MilterTimeout); EOF raises MilterClosed.
"""
import socket
import struct
import time

# ---- mfdef.h ------------------------------------------------------------
SMFI_PROT_VERSION = 6
MILTER_CHUNK_SIZE = 65535
MILTER_MAX_DATA_SIZE = 65535

SMFI_V1_ACTS = 0x0000000F
SMFI_V2_ACTS = 0x0000003F
SMFI_CURR_ACTS = 0x000001FF

SMFIA_UNKNOWN = "U"
SMFIA_UNIX = "L"
SMFIA_INET = "4"
SMFIA_INET6 = "6"

SMFIC_ABORT = b"A"
SMFIC_BODY = b"B"
SMFIC_CONNECT = b"C"
SMFIC_MACRO = b"D"
SMFIC_BODYEOB = b"E"
SMFIC_HELO = b"H"
SMFIC_QUIT_NC = b"K"
SMFIC_HEADER = b"L"
SMFIC_MAIL = b"M"
SMFIC_EOH = b"N"
SMFIC_OPTNEG = b"O"
SMFIC_QUIT = b"Q"
SMFIC_RCPT = b"R"
SMFIC_DATA = b"T"
SMFIC_UNKNOWN = b"U"

SMFIR_ADDRCPT = b"+"
SMFIR_DELRCPT = b"-"
SMFIR_ADDRCPT_PAR = b"2"
SMFIR_SHUTDOWN = b"4"
SMFIR_ACCEPT = b"a"
SMFIR_REPLBODY = b"b"
SMFIR_CONTINUE = b"c"
SMFIR_DISCARD = b"d"
SMFIR_CHGFROM = b"e"
SMFIR_CONN_FAIL = b"f"
SMFIR_ADDHEADER = b"h"
SMFIR_INSHEADER = b"i"
SMFIR_SETSYMLIST = b"l"
SMFIR_CHGHEADER = b"m"
SMFIR_PROGRESS = b"p"
SMFIR_QUARANTINE = b"q"
SMFIR_REJECT = b"r"
SMFIR_SKIP = b"s"
SMFIR_TEMPFAIL = b"t"
SMFIR_REPLYCODE = b"y"

SMFIP_NOCONNECT = 0x00000001
SMFIP_NOHELO = 0x00000002
SMFIP_NOMAIL = 0x00000004
SMFIP_NORCPT = 0x00000008
SMFIP_NOBODY = 0x00000010
SMFIP_NOHDRS = 0x00000020
SMFIP_NOEOH = 0x00000040
SMFIP_NR_HDR = 0x00000080
SMFIP_NOHREPL = SMFIP_NR_HDR
SMFIP_NOUNKNOWN = 0x00000100
SMFIP_NODATA = 0x00000200
SMFIP_SKIP = 0x00000400
SMFIP_RCPT_REJ = 0x00000800
SMFIP_NR_CONN = 0x00001000
SMFIP_NR_HELO = 0x00002000
SMFIP_NR_MAIL = 0x00004000
SMFIP_NR_RCPT = 0x00008000
SMFIP_NR_DATA = 0x00010000
SMFIP_NR_UNKN = 0x00020000
SMFIP_NR_EOH = 0x00040000
SMFIP_NR_BODY = 0x00080000
SMFIP_HDR_LEADSPC = 0x00100000
SMFIP_MDS_256K = 0x10000000
SMFIP_MDS_1M = 0x20000000
SMFI_V1_PROT = 0x0000003F
SMFI_V2_PROT = 0x0000007F
SMFI_CURR_PROT = 0x001FFFFF
SMFI_INTERNAL = 0x70000000

# ---- mfapi.h ------------------------------------------------------------
SMFIF_NONE = 0x00000000
SMFIF_ADDHDRS = 0x00000001
SMFIF_CHGBODY = 0x00000002
SMFIF_MODBODY = SMFIF_CHGBODY
SMFIF_ADDRCPT = 0x00000004
SMFIF_DELRCPT = 0x00000008
SMFIF_CHGHDRS = 0x00000010
SMFIF_QUARANTINE = 0x00000020
SMFIF_CHGFROM = 0x00000040
SMFIF_ADDRCPT_PAR = 0x00000080
SMFIF_SETSYMLIST = 0x00000100

SMFIM_CONNECT = 0
SMFIM_HELO = 1
SMFIM_ENVFROM = 2
SMFIM_ENVRCPT = 3
SMFIM_DATA = 4
SMFIM_EOM = 5
SMFIM_EOH = 6

# symlist stage (SMFIM_*) -> command code the macros are sent with
SMFIM_COMMAND = {SMFIM_CONNECT: SMFIC_CONNECT, SMFIM_HELO: SMFIC_HELO,
                 SMFIM_ENVFROM: SMFIC_MAIL, SMFIM_ENVRCPT: SMFIC_RCPT,
                 SMFIM_DATA: SMFIC_DATA, SMFIM_EOM: SMFIC_BODYEOB,
                 SMFIM_EOH: SMFIC_EOH}

# event -> (flag: do not send, flag: no reply)
_STEP_FLAGS = {
    SMFIC_CONNECT: (SMFIP_NOCONNECT, SMFIP_NR_CONN),
    SMFIC_HELO: (SMFIP_NOHELO, SMFIP_NR_HELO),
    SMFIC_MAIL: (SMFIP_NOMAIL, SMFIP_NR_MAIL),
    SMFIC_RCPT: (SMFIP_NORCPT, SMFIP_NR_RCPT),
    SMFIC_DATA: (SMFIP_NODATA, SMFIP_NR_DATA),
    SMFIC_HEADER: (SMFIP_NOHDRS, SMFIP_NR_HDR),
    SMFIC_EOH: (SMFIP_NOEOH, SMFIP_NR_EOH),
    SMFIC_BODY: (SMFIP_NOBODY, SMFIP_NR_BODY),
    SMFIC_UNKNOWN: (SMFIP_NOUNKNOWN, SMFIP_NR_UNKN),
    SMFIC_BODYEOB: (0, 0),
}

_ACTIONS = {
    SMFIR_CONTINUE: "continue", SMFIR_ACCEPT: "accept",
    SMFIR_REJECT: "reject", SMFIR_TEMPFAIL: "tempfail",
    SMFIR_DISCARD: "discard", SMFIR_REPLYCODE: "replycode",
    SMFIR_SKIP: "skip", SMFIR_SHUTDOWN: "shutdown",
    SMFIR_CONN_FAIL: "conn_fail",
}

_MODS = {SMFIR_ADDHEADER, SMFIR_INSHEADER, SMFIR_CHGHEADER, SMFIR_ADDRCPT,
         SMFIR_ADDRCPT_PAR, SMFIR_DELRCPT, SMFIR_CHGFROM, SMFIR_QUARANTINE,
         SMFIR_REPLBODY}

# action flag each modification needs (an MTA refuses unnegotiated ones)
_MOD_ACTION = {SMFIR_ADDHEADER: SMFIF_ADDHDRS, SMFIR_INSHEADER: SMFIF_ADDHDRS,
               SMFIR_CHGHEADER: SMFIF_CHGHDRS, SMFIR_ADDRCPT: SMFIF_ADDRCPT,
               SMFIR_ADDRCPT_PAR: SMFIF_ADDRCPT_PAR,
               SMFIR_DELRCPT: SMFIF_DELRCPT, SMFIR_CHGFROM: SMFIF_CHGFROM,
               SMFIR_QUARANTINE: SMFIF_QUARANTINE,
               SMFIR_REPLBODY: SMFIF_CHGBODY}

MAX_PACKET = 64 * 1024 * 1024


class MilterError(Exception):
    pass


class MilterTimeout(MilterError):
    pass


class MilterClosed(MilterError):
    pass


class MilterProtocolError(MilterError):
    pass


class Reply:
    """A milter's answer to one event. action: see module doc; code/text
    for replycode; raw: the packet data."""

    def __init__(self, action, raw=b""):
        self.action = action
        self.raw = raw
        self.code = None
        self.text = None
        if action == "replycode":
            self.text = _cstrings(raw)[0] if raw else ""
            try:
                self.code = int(self.text[:3])
            except ValueError:
                self.code = None

    @property
    def ok(self):
        """True when the MTA would go on with the transaction."""
        return self.action in ("continue", "not_sent", "noreply", "skip")

    @property
    def smtp_class(self):
        """'2', '4' or '5' (first digit of the SMTP reply the MTA would
        give), or None when nothing is rejected."""
        if self.action == "reject":
            return "5"
        if self.action in ("tempfail", "shutdown", "conn_fail"):
            return "4"
        if self.action == "replycode" and self.text:
            return self.text[0]
        return None

    def __eq__(self, other):
        if isinstance(other, str):
            return self.action == other
        return (isinstance(other, Reply) and self.action == other.action
                and self.raw == other.raw)

    def __hash__(self):
        return hash((self.action, self.raw))

    def __repr__(self):
        if self.action == "replycode":
            return f"Reply(replycode {self.text!r})"
        return f"Reply({self.action})"


class Negotiated:
    """The milter's OPTNEG answer: version, actions (SMFIF_*), protocol
    (SMFIP_*), macros {SMFIM_stage: 'space separated names'}."""

    def __init__(self, version, actions, protocol, macros):
        self.version = version
        self.actions = actions
        self.protocol = protocol
        self.macros = macros

    def __repr__(self):
        return (f"Negotiated(version={self.version}, "
                f"actions=0x{self.actions:x}, protocol=0x{self.protocol:x},"
                f" macros={self.macros!r})")


def _cstrings(data):
    """Split NUL-terminated strings (a trailing unterminated one kept)."""
    parts = data.split(b"\0")
    if parts and parts[-1] == b"":
        parts.pop()
    return [p.decode("utf-8", "surrogateescape") for p in parts]


def _z(s):
    if isinstance(s, bytes):
        return s + b"\0"
    return s.encode("utf-8", "surrogateescape") + b"\0"


def parse_spec(spec):
    """'unix:/p', 'local:/p', '/p' -> (AF_UNIX, '/p');
    'inet:PORT@HOST', 'inet:HOST:PORT', 'inet:PORT' -> (AF_INET, (h, p));
    'inet6:PORT@HOST' -> (AF_INET6, (h, p))."""
    if spec.startswith("/"):
        return socket.AF_UNIX, spec
    kind, _, rest = spec.partition(":")
    kind = kind.lower()
    if kind in ("unix", "local"):
        return socket.AF_UNIX, rest
    if kind in ("inet", "inet6"):
        fam = socket.AF_INET if kind == "inet" else socket.AF_INET6
        if "@" in rest:
            port, host = rest.split("@", 1)
        elif kind == "inet" and ":" in rest:
            host, port = rest.rsplit(":", 1)
        else:
            port, host = rest, ("127.0.0.1" if kind == "inet" else "::1")
        return fam, (host.strip("[]"), int(port))
    raise ValueError(f"bad milter socket spec {spec!r}")


class MilterClient:
    """MilterClient(spec, timeout=10, actions=SMFI_CURR_ACTS,
    protocol=SMFI_CURR_PROT, version=6).

    actions/protocol: what the MTA offers in OPTNEG (default: everything)."""

    def __init__(self, spec, timeout=10.0, actions=SMFI_CURR_ACTS,
                 protocol=SMFI_CURR_PROT, version=SMFI_PROT_VERSION,
                 connect_timeout=None):
        self.spec = spec
        self.timeout = timeout
        self.offer_actions = actions
        self.offer_protocol = protocol
        self.offer_version = version
        self.connect_timeout = connect_timeout or timeout
        self.sock = None
        self.negotiated = None
        self.progress = 0
        self.sent = []          # command codes sent, in order (for tests)

    # ---- transport ----------------------------------------------------

    def open(self):
        fam, addr = parse_spec(self.spec)
        s = socket.socket(fam, socket.SOCK_STREAM)
        s.settimeout(self.connect_timeout)
        try:
            s.connect(addr)
        except BaseException:
            s.close()
            raise
        s.settimeout(self.timeout)
        self.sock = s
        return self

    def close(self):
        if self.sock:
            try:
                self.sock.close()
            finally:
                self.sock = None

    def __enter__(self):
        if self.sock is None:
            self.open()
        return self

    def __exit__(self, *exc):
        self.close()

    def send_packet(self, cmd, data=b""):
        """Send one raw packet (command code + data)."""
        if self.sock is None:
            self.open()
        pkt = struct.pack("!I", len(data) + 1) + cmd + data
        try:
            self.sock.sendall(pkt)
        except socket.timeout as e:
            raise MilterTimeout(f"timeout sending {cmd!r}") from e
        except (BrokenPipeError, ConnectionResetError) as e:
            raise MilterClosed(f"milter closed the connection at {cmd!r}: "
                               f"{e}") from e
        self.sent.append(cmd)

    def _recv_exact(self, n, timeout):
        buf = bytearray()
        deadline = time.monotonic() + timeout
        while len(buf) < n:
            left = deadline - time.monotonic()
            if left <= 0:
                raise MilterTimeout(f"no complete milter reply in {timeout}s "
                                    f"(got {len(buf)} of {n} bytes)")
            self.sock.settimeout(left)
            try:
                chunk = self.sock.recv(n - len(buf))
            except socket.timeout as e:
                raise MilterTimeout(
                    f"no milter reply in {timeout}s") from e
            except ConnectionResetError as e:
                raise MilterClosed(f"milter reset the connection: {e}") \
                    from e
            if not chunk:
                raise MilterClosed("milter closed the connection"
                                   + (" mid-packet" if buf else ""))
            buf += chunk
        return bytes(buf)

    def read_packet(self, timeout=None):
        """Read one packet: (command code bytes, data bytes)."""
        t = self.timeout if timeout is None else timeout
        (length,) = struct.unpack("!I", self._recv_exact(4, t))
        if length < 1 or length > MAX_PACKET:
            raise MilterProtocolError(f"bad packet length {length}")
        pkt = self._recv_exact(length, t)
        return pkt[:1], pkt[1:]

    def _read_reply(self, event, timeout=None):
        while True:
            cmd, data = self.read_packet(timeout)
            if cmd == SMFIR_PROGRESS:
                self.progress += 1
                continue
            if cmd in _ACTIONS:
                if cmd == SMFIR_SKIP and event != SMFIC_BODY:
                    raise MilterProtocolError(
                        f"SMFIR_SKIP in reply to {event!r}")
                return Reply(_ACTIONS[cmd], data)
            raise MilterProtocolError(
                f"unexpected reply {cmd!r} ({data[:60]!r}) to {event!r}")

    # ---- negotiation --------------------------------------------------

    def negotiate(self):
        """OPTNEG: offer version/actions/protocol; store and return the
        milter's Negotiated answer (also self.negotiated)."""
        if self.sock is None:
            self.open()
        self.send_packet(SMFIC_OPTNEG, struct.pack(
            "!III", self.offer_version, self.offer_actions,
            self.offer_protocol))
        cmd, data = self.read_packet()
        if cmd != SMFIC_OPTNEG:
            raise MilterProtocolError(f"OPTNEG answered with {cmd!r}")
        if len(data) < 12:
            raise MilterProtocolError(f"short OPTNEG reply {data!r}")
        version, actions, protocol = struct.unpack("!III", data[:12])
        macros = {}
        rest = data[12:]
        while rest:
            if len(rest) < 5:
                raise MilterProtocolError(f"bad symlist in OPTNEG {rest!r}")
            (stage,) = struct.unpack("!I", rest[:4])
            end = rest.find(b"\0", 4)
            if end < 0:
                raise MilterProtocolError("unterminated symlist in OPTNEG")
            macros[stage] = rest[4:end].decode()
            rest = rest[end + 1:]
        if version < 2 or version > self.offer_version:
            raise MilterProtocolError(f"milter protocol version {version}")
        if actions & ~self.offer_actions:
            raise MilterProtocolError(
                f"milter wants actions 0x{actions:x}, offered "
                f"0x{self.offer_actions:x}")
        if protocol & ~self.offer_protocol & ~SMFI_INTERNAL:
            raise MilterProtocolError(
                f"milter wants protocol 0x{protocol:x}, offered "
                f"0x{self.offer_protocol:x}")
        self.negotiated = Negotiated(version, actions, protocol, macros)
        return self.negotiated

    @property
    def protocol(self):
        return self.negotiated.protocol if self.negotiated else 0

    @property
    def actions(self):
        return self.negotiated.actions if self.negotiated else 0

    def wants(self, event):
        """Whether the milter negotiated to receive event (SMFIC_*)."""
        no, _ = _STEP_FLAGS.get(event, (0, 0))
        return not (self.protocol & no)

    def macro_names(self, stage):
        """Macro names the milter asked for at SMFIM_ stage via
        smfi_setsymlist, or None (MTA default)."""
        if not self.negotiated or stage not in self.negotiated.macros:
            return None
        return self.negotiated.macros[stage].split()

    def filter_macros(self, macros):
        """{code: dict} reduced, per stage, to the names the milter asked
        for with smfi_setsymlist (as Postfix does); other stages as is."""
        out = {}
        for code, m in macros.items():
            names = None
            for stage, c in SMFIM_COMMAND.items():
                if c == code:
                    names = self.macro_names(stage)
            if names is not None and m:
                m = {k: v for k, v in m.items() if k in names}
            out[code] = m
        return out

    # ---- events -------------------------------------------------------

    def macros(self, cmd, macros):
        """SMFIC_MACRO for command code cmd (b'C', b'H', ...): a dict or a
        list of (name, value); nothing is sent for an empty one."""
        if not macros:
            return
        items = macros.items() if isinstance(macros, dict) else macros
        data = cmd + b"".join(_z(k) + _z(v) for k, v in items)
        self.send_packet(SMFIC_MACRO, data)

    def event(self, cmd, data=b"", macros=None, timeout=None):
        """Send macros, then the event unless declined; read the reply
        unless the milter negotiated no reply for it."""
        self.macros(cmd, macros)
        no, nr = _STEP_FLAGS.get(cmd, (0, 0))
        if self.protocol & no:
            return Reply("not_sent")
        self.send_packet(cmd, data)
        if self.protocol & nr:
            return Reply("noreply")
        return self._read_reply(cmd, timeout)

    def connect(self, hostname="client.example", family=SMFIA_INET, port=0,
                address="127.0.0.1", macros=None):
        """SMFIC_CONNECT. family '4', '6', 'L' (address = socket path) or
        'U' (no port/address sent)."""
        data = _z(hostname) + family.encode()
        if family != SMFIA_UNKNOWN:
            data += struct.pack("!H", port) + _z(address)
        return self.event(SMFIC_CONNECT, data, macros)

    def helo(self, name="client.example", macros=None):
        return self.event(SMFIC_HELO, _z(name), macros)

    @staticmethod
    def _addr_args(addr, args):
        if not addr.startswith("<"):
            addr = f"<{addr}>"
        return _z(addr) + b"".join(_z(a) for a in args)

    def mail(self, sender, args=(), macros=None):
        """SMFIC_MAIL; sender gets <> added when missing (as Postfix
        sends it); args are ESMTP parameters like 'SIZE=100'."""
        return self.event(SMFIC_MAIL, self._addr_args(sender, args), macros)

    def rcpt(self, rcpt, args=(), macros=None):
        return self.event(SMFIC_RCPT, self._addr_args(rcpt, args), macros)

    def data(self, macros=None):
        return self.event(SMFIC_DATA, b"", macros)

    def header(self, name, value, macros=None):
        return self.event(SMFIC_HEADER, _z(name) + _z(value), macros)

    def headers(self, headers, macros=None):
        """Send (name, value) pairs until one is answered with anything
        but continue; return the last Reply (not_sent for none)."""
        r = Reply("not_sent")
        for name, value in headers:
            r = self.header(name, value, macros)
            if not r.ok:
                break
        return r

    def eoh(self, macros=None):
        return self.event(SMFIC_EOH, b"", macros)

    def body(self, data, macros=None, chunk_size=MILTER_CHUNK_SIZE):
        """Send data in chunks of at most chunk_size (<= 65535) bytes; stop
        at the first answer other than continue (SMFIR_SKIP: the rest of
        the body is not sent, like an MTA). Returns the last Reply."""
        if isinstance(data, str):
            data = data.encode("utf-8")
        chunk_size = min(chunk_size, MILTER_CHUNK_SIZE)
        r = Reply("not_sent")
        for off in range(0, len(data), chunk_size):
            r = self.event(SMFIC_BODY, data[off:off + chunk_size], macros)
            if r.action != "continue" and r.action != "noreply":
                break
        return r

    def eom(self, macros=None, data=b"", timeout=None):
        """SMFIC_BODYEOB; collect modifications until the final reply.
        Returns (Reply, [modification tuples])."""
        self.macros(SMFIC_BODYEOB, macros)
        self.send_packet(SMFIC_BODYEOB, data)
        mods = []
        while True:
            cmd, pkt = self.read_packet(timeout)
            if cmd == SMFIR_PROGRESS:
                self.progress += 1
                continue
            if cmd in _MODS:
                need = _MOD_ACTION[cmd]
                if not self.actions & need:
                    raise MilterProtocolError(
                        f"modification {cmd!r} without negotiated action "
                        f"0x{need:x}")
                mods.append(self._parse_mod(cmd, pkt))
                continue
            if cmd in _ACTIONS and cmd != SMFIR_SKIP:
                return Reply(_ACTIONS[cmd], pkt), mods
            raise MilterProtocolError(f"unexpected {cmd!r} at end of message")

    @staticmethod
    def _parse_mod(cmd, pkt):
        try:
            if cmd == SMFIR_REPLBODY:
                return ("replbody", pkt)
            if cmd in (SMFIR_INSHEADER, SMFIR_CHGHEADER):
                (index,) = struct.unpack("!I", pkt[:4])
                s = _cstrings(pkt[4:])
                kind = "insheader" if cmd == SMFIR_INSHEADER else "chgheader"
                return (kind, index, s[0], s[1] if len(s) > 1 else "")
            s = _cstrings(pkt)
            if cmd == SMFIR_ADDHEADER:
                return ("addheader", s[0], s[1])
            if cmd == SMFIR_ADDRCPT:
                return ("addrcpt", s[0])
            if cmd == SMFIR_ADDRCPT_PAR:
                return ("addrcpt_par", s[0], s[1] if len(s) > 1 else None)
            if cmd == SMFIR_DELRCPT:
                return ("delrcpt", s[0])
            if cmd == SMFIR_CHGFROM:
                return ("chgfrom", s[0], s[1] if len(s) > 1 else None)
            if cmd == SMFIR_QUARANTINE:
                return ("quarantine", s[0])
        except (IndexError, struct.error) as e:
            raise MilterProtocolError(f"malformed {cmd!r}: {pkt!r}") from e
        raise MilterProtocolError(f"unknown modification {cmd!r}")

    def unknown(self, command, macros=None):
        """SMFIC_UNKNOWN: an SMTP command the MTA does not know."""
        return self.event(SMFIC_UNKNOWN, _z(command), macros)

    def abort(self):
        """SMFIC_ABORT: end the message transaction (no reply)."""
        self.send_packet(SMFIC_ABORT)

    def quit(self):
        """SMFIC_QUIT (no reply), then close the socket."""
        try:
            self.send_packet(SMFIC_QUIT)
        except MilterError:
            pass
        self.close()

    def quit_nc(self):
        """SMFIC_QUIT_NC: end this SMTP connection's session but keep the
        milter socket and the negotiated options; the next session starts
        with connect() (no new OPTNEG, as in libmilter)."""
        self.send_packet(SMFIC_QUIT_NC)

    def closed_by_peer(self, timeout=1.0):
        """True when the milter closes the socket (EOF) within timeout."""
        if self.sock is None:
            return True
        self.sock.settimeout(timeout)
        try:
            return self.sock.recv(1) == b""
        except socket.timeout:
            return False
        except OSError:
            return True
        finally:
            if self.sock:
                self.sock.settimeout(self.timeout)

    # ---- whole messages -----------------------------------------------

    def message(self, raw, macros=None):
        """Headers, EOH, body and EOM of an RFC 5322 message (bytes), as
        Postfix would send them (see split_message). Stops early like an
        MTA on a reply other than continue. macros: {command code: dict}
        for b'L', b'N', b'B', b'E'. Returns (stage, Reply, mods)."""
        macros = macros or {}
        leadspc = bool(self.protocol & SMFIP_HDR_LEADSPC)
        headers, body = split_message(raw, leadspc)
        for name, value in headers:
            r = self.header(name, value, macros.get(SMFIC_HEADER))
            if not r.ok:
                return "header", r, []
        r = self.eoh(macros.get(SMFIC_EOH))
        if not r.ok:
            return "eoh", r, []
        if body:
            r = self.body(body, macros.get(SMFIC_BODY))
            if not r.ok and r.action != "skip":
                return "body", r, []
        r, mods = self.eom(macros.get(SMFIC_BODYEOB))
        return "eom", r, mods

    def transaction(self, sender, rcpts, raw, mail_args=(), macros=None,
                    queue_id="4AbCdEf"):
        """MAIL, RCPT..., DATA and message(raw), stopping like an MTA:
        a MAIL/DATA answer other than continue ends it; rejected recipients
        are dropped and with none left it ends. macros: {code: dict}
        override the Postfix-like defaults (postfix_macros()).
        Returns a Transaction (stage, reply, mods, rcpt_replies)."""
        dm = postfix_macros(sender=sender, queue_id=queue_id)
        if macros:
            for k, v in macros.items():
                dm[k] = v
        dm = self.filter_macros(dm)
        t = Transaction()
        t.stage = "mail"
        t.reply = self.mail(sender, mail_args, dm.get(SMFIC_MAIL))
        if not t.reply.ok:
            return t
        t.stage = "rcpt"
        for rcpt in ([rcpts] if isinstance(rcpts, str) else rcpts):
            m = dict(_rcpt_macros(rcpt))
            if macros and SMFIC_RCPT in macros:
                m.update(macros[SMFIC_RCPT])
            m = self.filter_macros({SMFIC_RCPT: m})[SMFIC_RCPT]
            r = self.rcpt(rcpt, (), m)
            t.rcpt_replies.append((rcpt, r))
            if r.ok or r.action == "accept":
                t.accepted.append(rcpt)
        if not t.accepted:
            t.reply = t.rcpt_replies[-1][1] if t.rcpt_replies else t.reply
            return t
        t.stage = "data"
        t.reply = self.data(dm.get(SMFIC_DATA))
        if not t.reply.ok:
            return t
        t.stage, t.reply, t.mods = self.message(raw, dm)
        return t


class Transaction:
    """Result of MilterClient.transaction(): stage where it ended ('mail',
    'rcpt', 'data', 'header', 'eoh', 'body', 'eom'), reply (Reply), mods,
    rcpt_replies [(rcpt, Reply)], accepted [rcpt]."""

    def __init__(self):
        self.stage = None
        self.reply = None
        self.mods = []
        self.rcpt_replies = []
        self.accepted = []

    def __repr__(self):
        return (f"Transaction(stage={self.stage!r}, reply={self.reply!r}, "
                f"mods={self.mods!r})")


def _strip_brackets(addr):
    return addr[1:-1] if addr.startswith("<") and addr.endswith(">") \
        else addr


def _rcpt_macros(rcpt):
    a = _strip_brackets(rcpt)
    return {"{rcpt_addr}": a, "{rcpt_host}": a.rpartition("@")[2],
            "{rcpt_mailer}": "smtp"}


def postfix_macros(sender="sender@example.com", queue_id="4AbCdEf",
                   hostname="mx.postern.test", client_addr="127.0.0.1",
                   client_name="unknown", tls=None, cert_subject=None,
                   cert_issuer=None):
    """Macros like Postfix 3.7 sends by default, keyed by command code:
    C: j, {daemon_name}, {daemon_addr}, v, _; H: TLS macros when tls is
    given ({tls_version}, {cipher}, {cipher_bits}) plus {cert_subject},
    {cert_issuer} (common names) when given; M: {mail_addr}, {mail_host},
    {mail_mailer}; R: added per recipient by transaction();
    T, N, E: i (the queue id). Empty values are left out, as Postfix does."""
    s = _strip_brackets(sender)
    m = {
        SMFIC_CONNECT: {"j": hostname, "{daemon_name}": hostname,
                        "{daemon_addr}": "127.0.0.1",
                        "v": "Postfix 3.7.11",
                        "_": f"{client_name} [{client_addr}]"},
        SMFIC_HELO: {},
        SMFIC_MAIL: {"{mail_addr}": s,
                     "{mail_host}": s.rpartition("@")[2] if "@" in s else "",
                     "{mail_mailer}": "smtp"},
        SMFIC_DATA: {"i": queue_id},
        SMFIC_EOH: {"i": queue_id},
        SMFIC_BODYEOB: {"i": queue_id},
    }
    if tls:
        m[SMFIC_HELO].update({"{tls_version}": tls,
                              "{cipher}": "TLS_AES_256_GCM_SHA384",
                              "{cipher_bits}": "256"})
        if cert_subject:
            m[SMFIC_HELO]["{cert_subject}"] = cert_subject
        if cert_issuer:
            m[SMFIC_HELO]["{cert_issuer}"] = cert_issuer
    for k in m:
        m[k] = {n: v for n, v in m[k].items() if v}
    return m


def split_message(raw, leadspc=False):
    """Split an RFC 5322 message into ([(name, value)], body) the way
    Postfix hands them to a milter: value without its one leading space
    (all kept with leadspc), folded lines joined by LF with their
    indentation kept; body with CRLF line ends."""
    if isinstance(raw, str):
        raw = raw.encode("utf-8")
    raw = raw.replace(b"\r\n", b"\n")
    if raw.startswith(b"\n"):
        head, body = b"", raw[1:]
    elif b"\n\n" in raw:
        head, body = raw.split(b"\n\n", 1)
    else:
        head, body = raw, b""
    headers = []
    for line in head.split(b"\n") if head else []:
        text = line.decode("utf-8", "surrogateescape")
        if text[:1] in (" ", "\t") and headers:
            n, v = headers[-1]
            headers[-1] = (n, v + "\n" + text)
            continue
        name, _, value = text.partition(":")
        if not leadspc and value.startswith(" "):
            value = value[1:]
        headers.append((name, value))
    body = body.replace(b"\n", b"\r\n")
    return headers, body
