# SPDX-License-Identifier: BSD-2-Clause
"""sink - a minimal ESMTP server that stores every message it accepts.

It is the relay target of a PrivatePostfix: Postfix delivers to it and the
test reads back what arrived, byte for byte.

    from sink import Sink
    with Sink("/tmp/x/sink") as sink:          # binds 127.0.0.1, free port
        ...relayhost = [127.0.0.1]:sink.port...
        msgs = sink.wait_for(2, timeout=10)
        msgs[0].sender, msgs[0].rcpts, msgs[0].data, msgs[0].msg["Subject"]

Each accepted message is written to DIR/NNNNNN.eml (the DATA content with
dot-stuffing removed, CRLF line ends as received) and DIR/NNNNNN.json (the
envelope: sender, rcpts, mail/rcpt parameters, helo, peer, time).

Server: EHLO/HELO, MAIL, RCPT, DATA, RSET, NOOP, VRFY (252),
QUIT; advertises PIPELINING, SIZE, 8BITMIME, ENHANCEDSTATUSCODES, SMTPUTF8.
Recipients can be refused (reject_rcpts / tempfail_rcpts: sets of addresses,
compared case-insensitively) and DATA can be answered with a fixed reply
(data_reply, e.g. "451 4.3.0 try again"). Runs in threads of the calling
process: no process is left behind after stop().
"""
import email
import email.policy
import json
import os
import socket
import socketserver
import threading
import time

MAX_LINE = 1 << 20


class SinkMessage:
    """One stored message: .sender, .rcpts, .data (bytes), .msg (parsed
    email.message.EmailMessage), .helo, .mail_params, .rcpt_params, .peer,
    .path (the .eml file), .index; without_received(): the message as the
    MTA's milters saw it."""

    def __init__(self, index, envelope, data, path=None):
        self.index = index
        self.envelope = envelope
        self.sender = envelope["sender"]
        self.rcpts = list(envelope["rcpts"])
        self.mail_params = envelope.get("mail_params", [])
        self.rcpt_params = envelope.get("rcpt_params", [])
        self.helo = envelope.get("helo")
        self.peer = envelope.get("peer")
        self.data = data
        self.path = path
        self._msg = None

    @property
    def msg(self):
        if self._msg is None:
            self._msg = email.message_from_bytes(
                self.data, policy=email.policy.default)
        return self._msg

    def headers(self, name=None):
        """List of (name, value) raw header pairs in order; value unfolded
        is not attempted: it is the text after 'Name:' with the leading
        space kept and continuation lines joined with CRLF.
        With name, only the values of that header (case-insensitive)."""
        head = self.data.split(b"\r\n\r\n", 1)[0].decode("utf-8",
                                                          "surrogateescape")
        out = []
        for line in head.split("\r\n"):
            if line[:1] in (" ", "\t") and out:
                out[-1] = (out[-1][0], out[-1][1] + "\r\n" + line)
            elif ":" in line:
                n, v = line.split(":", 1)
                out.append((n, v))
        if name is None:
            return out
        return [v for n, v in out if n.lower() == name.lower()]

    @property
    def body(self):
        parts = self.data.split(b"\r\n\r\n", 1)
        return parts[1] if len(parts) > 1 else b""

    def without_received(self):
        """data minus the Received header the MTA put on top (Postfix and
        Sendmail alike), which milters never see: the message as the MTA
        handed it to its milters. Fails unless data starts with the MTA's
        Received header for the test client."""
        assert self.data.startswith(b"Received: from client.postern.test"), self.data[:80]
        lines = self.data.split(b"\r\n")
        i = 1
        while lines[i][:1] in (b" ", b"\t"):
            i += 1
        return b"\r\n".join(lines[i:])

    def __repr__(self):
        return (f"SinkMessage({self.index}, from={self.sender!r}, "
                f"to={self.rcpts!r}, {len(self.data)} bytes)")


def _split_params(arg):
    """'FROM:<a@b> SIZE=10 BODY=8BITMIME' -> ('a@b', ['SIZE=10', ...])"""
    _, rest = arg.split(":", 1)
    rest = rest.strip()
    if rest.startswith("<"):
        end = rest.find(">")
        if end < 0:
            raise ValueError("unterminated address")
        addr, params = rest[1:end], rest[end + 1:].split()
    else:
        fields = rest.split()
        addr, params = (fields[0] if fields else ""), fields[1:]
    return addr, params


class _Handler(socketserver.StreamRequestHandler):
    timeout = 120

    def reply(self, text):
        self.wfile.write(text.encode() + b"\r\n")
        self.wfile.flush()

    def readline(self):
        line = self.rfile.readline(MAX_LINE)
        if not line:
            raise EOFError
        return line

    def handle(self):
        sink = self.server.sink
        with sink._lock:
            sink._sessions += 1
            sink._active.add(self.connection)
        self.helo = None
        self.reset()
        try:
            self.reply(f"220 {sink.hostname} ESMTP Postern test sink")
            while True:
                line = self.readline().rstrip(b"\r\n").decode(
                    "utf-8", "surrogateescape")
                verb, _, arg = line.partition(" ")
                verb = verb.upper()
                if not self.command(sink, verb, arg):
                    break
        except (EOFError, OSError, socket.timeout, ValueError):
            pass
        finally:
            with sink._lock:
                sink._active.discard(self.connection)

    def reset(self):
        self.sender = None
        self.mail_params = []
        self.rcpts = []
        self.rcpt_params = []

    def command(self, sink, verb, arg):
        if verb == "EHLO":
            self.helo = arg
            self.reset()
            self.reply(f"250-{sink.hostname}\r\n250-PIPELINING\r\n"
                       f"250-SIZE 104857600\r\n250-8BITMIME\r\n"
                       f"250-ENHANCEDSTATUSCODES\r\n250 SMTPUTF8")
        elif verb == "HELO":
            self.helo = arg
            self.reset()
            self.reply(f"250 {sink.hostname}")
        elif verb == "MAIL":
            if self.sender is not None:
                self.reply("503 5.5.1 Error: nested MAIL command")
                return True
            try:
                addr, params = _split_params(arg)
            except ValueError:
                self.reply("501 5.1.7 Bad sender address syntax")
                return True
            self.sender, self.mail_params = addr, params
            self.reply("250 2.1.0 Ok")
        elif verb == "RCPT":
            if self.sender is None:
                self.reply("503 5.5.1 Error: need MAIL command")
                return True
            try:
                addr, params = _split_params(arg)
            except ValueError:
                self.reply("501 5.1.3 Bad recipient address syntax")
                return True
            if addr.lower() in sink.reject_rcpts:
                self.reply("550 5.1.1 <%s>: Recipient rejected by sink" % addr)
            elif addr.lower() in sink.tempfail_rcpts:
                self.reply("450 4.2.0 <%s>: Recipient deferred by sink" % addr)
            else:
                self.rcpts.append(addr)
                self.rcpt_params.append(params)
                self.reply("250 2.1.5 Ok")
        elif verb == "DATA":
            if not self.rcpts:
                self.reply("554 5.5.1 Error: no valid recipients")
                return True
            self.reply("354 End data with <CR><LF>.<CR><LF>")
            chunks = []
            while True:
                line = self.readline()
                if line in (b".\r\n", b".\n"):
                    break
                if line.startswith(b"."):
                    line = line[1:]
                chunks.append(line)
            data = b"".join(chunks)
            if sink.data_reply:
                self.reply(sink.data_reply)
            else:
                idx = sink._store(self, data)
                self.reply(f"250 2.0.0 Ok: queued as SINK{idx:06d}")
            self.reset()
        elif verb == "RSET":
            self.reset()
            self.reply("250 2.0.0 Ok")
        elif verb == "NOOP":
            self.reply("250 2.0.0 Ok")
        elif verb == "VRFY":
            self.reply("252 2.0.0 Cannot VRFY")
        elif verb == "QUIT":
            self.reply("221 2.0.0 Bye")
            return False
        else:
            self.reply("502 5.5.2 Error: command not recognized")
        return True


class _Server(socketserver.ThreadingMixIn, socketserver.TCPServer):
    daemon_threads = True
    allow_reuse_address = True
    block_on_close = False
    request_queue_size = 64


class Sink:
    """Sink(directory=None, host='127.0.0.1', port=0, hostname=...,
    reject_rcpts=(), tempfail_rcpts=(), data_reply=None).

    port=0 lets the kernel pick a free port (read .port after start()).
    A directory of None keeps messages in memory only."""

    def __init__(self, directory=None, host="127.0.0.1", port=0,
                 hostname="sink.postern.test", reject_rcpts=(),
                 tempfail_rcpts=(), data_reply=None):
        self.directory = directory
        self.host = host
        self.port = port
        self.hostname = hostname
        self.reject_rcpts = {a.lower() for a in reject_rcpts}
        self.tempfail_rcpts = {a.lower() for a in tempfail_rcpts}
        self.data_reply = data_reply
        self._lock = threading.Condition()
        self._messages = []
        self._sessions = 0
        self._active = set()
        self._server = None
        self._thread = None
        if directory:
            os.makedirs(directory, exist_ok=True)

    @property
    def address(self):
        return f"[{self.host}]:{self.port}"

    def start(self):
        self._server = _Server((self.host, self.port), _Handler)
        self._server.sink = self
        self.port = self._server.server_address[1]
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.1},
            name=f"sink-{self.port}", daemon=True)
        self._thread.start()
        return self

    def stop(self):
        """Stop accepting and cut off open sessions (an MTA's cached
        connection must not deliver to a stopped sink); afterwards
        connections to the port are refused."""
        if self._server:
            self._server.shutdown()
            self._server.server_close()
            self._thread.join(timeout=10)
            self._server = None
        with self._lock:
            active = list(self._active)
        for conn in active:
            try:
                conn.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass

    @property
    def running(self):
        return self._server is not None

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()

    def _store(self, handler, data):
        with self._lock:
            idx = len(self._messages) + 1
            env = {
                "sender": handler.sender,
                "rcpts": list(handler.rcpts),
                "mail_params": handler.mail_params,
                "rcpt_params": handler.rcpt_params,
                "helo": handler.helo,
                "peer": "%s:%d" % handler.client_address[:2],
                "time": time.time(),
            }
            path = None
            if self.directory:
                path = os.path.join(self.directory, f"{idx:06d}.eml")
                with open(path, "wb") as f:
                    f.write(data)
                with open(os.path.join(self.directory, f"{idx:06d}.json"),
                          "w") as f:
                    json.dump(env, f, indent=1)
            self._messages.append(SinkMessage(idx, env, data, path))
            self._lock.notify_all()
            return idx

    def messages(self):
        """All messages received so far, oldest first."""
        with self._lock:
            return list(self._messages)

    def count(self):
        with self._lock:
            return len(self._messages)

    def clear(self):
        """Forget the messages received so far (files stay on disk)."""
        with self._lock:
            self._messages.clear()

    def wait_for(self, count, timeout=10):
        """Wait until at least count messages arrived; return them all.
        Raises TimeoutError with the number received on timeout."""
        deadline = time.monotonic() + timeout
        with self._lock:
            while len(self._messages) < count:
                left = deadline - time.monotonic()
                if left <= 0:
                    raise TimeoutError(
                        f"sink: {len(self._messages)} of {count} messages "
                        f"after {timeout}s")
                self._lock.wait(left)
            return list(self._messages)


def load_dir(directory):
    """Read back messages stored by a Sink in directory (e.g. after the
    test process that ran it is gone)."""
    out = []
    for name in sorted(os.listdir(directory)):
        if not name.endswith(".eml"):
            continue
        path = os.path.join(directory, name)
        with open(path, "rb") as f:
            data = f.read()
        with open(path[:-4] + ".json") as f:
            env = json.load(f)
        out.append(SinkMessage(int(name[:-4]), env, data, path))
    return out


def rcpts_of(messages):
    """Every envelope recipient of the sink's messages, sorted."""
    return sorted(r for m in messages for r in m.rcpts)
