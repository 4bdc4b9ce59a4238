# SPDX-License-Identifier: BSD-2-Clause
"""smtp - send test mail over SMTP (smtplib) and build test messages.

    from smtp import send, build_message
    msg = build_message("a@example.com", ["b@example.org"], subject="hi")
    r = send("127.0.0.1", pf.port, "a@example.com", ["b@example.org"], msg,
             starttls=True, client_cert=pki.client_cert,
             client_key=pki.client_key, cafile=pki.ca_cert)
    assert r.ok and r.code == 250, r
    # a reject at MAIL or RCPT does not raise: r.stage tells where it ended
    assert r.stage == "rcpt" and r.code == 550

A Result has: stage ("connect", "helo", "starttls", "mail", "rcpt",
"data", "dot"): the last step reached; code, text: the reply that ended the
transaction (the reply to the final dot when everything went through);
ok (code 2xx at the final dot); rcpt_replies [(rcpt, code, text)];
accepted [rcpts]; tls (bool); queue_id (Postfix's "queued as X" or Sendmail's "X Message accepted").
Connection failures (refused, timeout, dropped) raise OSError /
smtplib.SMTPException.
"""
import re
import smtplib
import socket
import ssl
import time
import uuid
from email.utils import formatdate


class Result:
    def __init__(self):
        self.stage = "connect"
        self.code = None
        self.text = ""
        self.rcpt_replies = []
        self.accepted = []
        self.tls = False
        self.queue_id = None

    @property
    def ok(self):
        return self.stage == "dot" and self.code is not None and \
            200 <= self.code < 300

    def __repr__(self):
        return (f"Result(stage={self.stage!r}, code={self.code}, "
                f"text={self.text!r}, rcpts={self.rcpt_replies!r}, "
                f"tls={self.tls})")


def _text(msg):
    return msg.decode("utf-8", "replace") if isinstance(msg, bytes) else msg


def tls_context(client_cert=None, client_key=None, cafile=None):
    """Client TLS context: verifies the server against cafile (hostname not
    checked) when given, else no verification; presents client_cert."""
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.check_hostname = False
    if cafile:
        ctx.load_verify_locations(cafile)
        ctx.verify_mode = ssl.CERT_REQUIRED
    else:
        ctx.verify_mode = ssl.CERT_NONE
    if client_cert:
        ctx.load_cert_chain(client_cert, client_key)
    return ctx


def connect(host, port, helo="client.postern.test", starttls=False,
            client_cert=None, client_key=None, cafile=None, timeout=30):
    """An smtplib.SMTP session after EHLO (and STARTTLS + EHLO again when
    starttls). Raises smtplib.SMTPException on a refusal."""
    s = smtplib.SMTP(host, port, local_hostname=helo, timeout=timeout)
    try:
        code, msg = s.ehlo()
        if code != 250:
            raise smtplib.SMTPHeloError(code, msg)
        if starttls:
            s.starttls(context=tls_context(client_cert, client_key, cafile))
            s.ehlo()
    except BaseException:
        s.close()
        raise
    return s


def _stuff(data, fix_eols=True):
    if isinstance(data, str):
        data = data.encode("utf-8")
    if fix_eols:
        data = re.sub(rb"\r?\n|\r", b"\r\n", data)
    data = re.sub(rb"(?m)^\.", b"..", data)
    if not data.endswith(b"\r\n"):
        data += b"\r\n"
    return data + b".\r\n"


def transaction(s, sender, rcpts, message, mail_options=(),
                rcpt_options=(), fix_eols=True, result=None):
    """Run MAIL, RCPT..., DATA, message, dot on an open smtplib.SMTP;
    return a Result (no exception for SMTP rejects)."""
    r = result or Result()
    r.stage = "mail"
    code, msg = s.mail(sender, list(mail_options))
    r.code, r.text = code, _text(msg)
    if code != 250:
        s.rset()
        return r
    r.stage = "rcpt"
    if isinstance(rcpts, str):
        rcpts = [rcpts]
    for rcpt in rcpts:
        code, msg = s.rcpt(rcpt, list(rcpt_options))
        r.rcpt_replies.append((rcpt, code, _text(msg)))
        r.code, r.text = code, _text(msg)
        if code in (250, 251):
            r.accepted.append(rcpt)
    if not r.accepted:
        s.rset()
        return r
    r.stage = "data"
    code, msg = s.docmd("DATA")
    r.code, r.text = code, _text(msg)
    if code != 354:
        s.rset()
        return r
    r.stage = "dot"
    s.send(_stuff(message, fix_eols))
    code, msg = s.getreply()
    r.code, r.text = code, _text(msg)
    # Postfix: "2.0.0 Ok: queued as QID"; Sendmail: "2.0.0 QID Message accepted"
    m = re.search(r"queued as (\S+)", r.text) or \
        re.search(r"^\d\.\d\.\d+ (\S+) Message accepted", r.text)
    r.queue_id = m.group(1) if m else None
    return r


def send(host, port, sender, rcpts, message, starttls=False,
         client_cert=None, client_key=None, cafile=None,
         helo="client.postern.test", mail_options=(), rcpt_options=(),
         timeout=30, fix_eols=True):
    """One transaction on a new connection; returns a Result (see module
    doc). message: bytes or str; bare LF/CR become CRLF unless
    fix_eols=False; dot-stuffing is done here."""
    r = Result()
    s = smtplib.SMTP(host, port, local_hostname=helo, timeout=timeout)
    try:
        r.stage = "helo"
        code, msg = s.ehlo()
        r.code, r.text = code, _text(msg)
        if code != 250:
            return r
        if starttls:
            r.stage = "starttls"
            try:
                code, msg = s.starttls(
                    context=tls_context(client_cert, client_key, cafile))
            except smtplib.SMTPResponseException as e:
                r.code, r.text = e.smtp_code, _text(e.smtp_error)
                return r
            r.code, r.text = code, _text(msg)
            r.tls = True
            r.stage = "helo"
            code, msg = s.ehlo()
            r.code, r.text = code, _text(msg)
            if code != 250:
                return r
        return transaction(s, sender, rcpts, message, mail_options,
                           rcpt_options, fix_eols, r)
    finally:
        try:
            s.quit()
        except (smtplib.SMTPException, OSError):
            s.close()


def build_message(sender="sender@example.com", rcpts=("rcpt@example.org",),
                  subject="Postern test", body="Hello from the test.\n",
                  headers=(), date=None, message_id=None):
    """A small RFC 5322 message as bytes with CRLF line ends: From, To,
    Subject, Date, Message-ID, then extra headers [(name, value)], a blank
    line and body (str or bytes)."""
    if isinstance(rcpts, str):
        rcpts = [rcpts]
    lines = [
        f"From: <{sender}>",
        "To: " + ", ".join(f"<{r}>" for r in rcpts),
        f"Subject: {subject}",
        f"Date: {date or formatdate(time.time(), usegmt=True)}",
        f"Message-ID: {message_id or '<%s@client.postern.test>' % uuid.uuid4().hex}",
    ]
    lines += [f"{n}: {v}" for n, v in headers]
    head = ("\r\n".join(lines) + "\r\n\r\n").encode("utf-8")
    if isinstance(body, str):
        body = body.encode("utf-8")
    body = re.sub(rb"\r?\n", b"\r\n", body)
    return head + body


def port_open(host, port, timeout=1.0):
    try:
        with socket.create_connection((host, port), timeout=timeout):
            return True
    except OSError:
        return False
