"""A deliberately half-closed SMTP server for the relay checker's tests, on aiosmtpd.

It refuses every foreign recipient (550 5.7.1) except those that use the one address trick named
by ``--accept`` — so the test can toggle each trick alone and check that postwire's
``check_relay`` finds exactly that hole. Recipients at its own domains without routing tricks
are accepted (the control probe). ``--accept none`` is fully closed.

aiosmtpd parses MAIL and RCPT arguments as RFC 5321 paths and would refuse most tricks as
malformed before any handler sees them, so this server overrides those two commands to read the
argument as written; everything else (banner, EHLO, RSET, QUIT, DATA) is aiosmtpd's. The trick
rules are written independently of postwire's (``relay_check/matrix.rs``) on purpose: the test is
that both read the same strings the same way.

Prints ``READY <port>`` and serves until stdin closes.
"""

import argparse
import asyncio
import sys

from aiosmtpd.smtp import SMTP

HOSTNAME = "mx.half.test"
OWN = {HOSTNAME, "half.test"}


def strip(arg):
    a = arg.strip()
    if a.startswith("<") and a.endswith(">"):
        return a[1:-1]
    return a


def domain(arg):
    inner, quoted, at = strip(arg), False, None
    for i, c in enumerate(inner):
        if c == '"':
            quoted = not quoted
        elif c == "@" and not quoted:
            at = i
    return None if at is None else inner[at + 1:].lower()


def tricks(mail_from, rcpt_to):
    t = set()
    s = strip(mail_from)
    if s == "":
        t.add("null_sender")
    elif "!" in s:
        t.add("bang_sender")
    elif "@" not in s:
        t.add("unqualified_sender")
    else:
        d = domain(mail_from) or ""
        if d.startswith("["):
            t.add("literal_sender")
        elif d in OWN:
            t.add("local_sender")
    r = strip(rcpt_to)
    if not rcpt_to.lstrip().startswith("<"):
        t.add("bare_recipient")
    source_route = r.startswith("@")
    if source_route:
        t.add("source_route")
    for ch, name in (('"', "quoted"), ("%", "percent"), ("!", "bang")):
        if ch in r:
            t.add(name)
    ats = sum(part.count("@") for part in r.split('"')[::2])
    if not source_route and ats >= 2:
        t.add("double_at")
    routed = source_route or any(c in r for c in '"%!') or ats >= 2
    d = domain(rcpt_to)
    if d is not None:
        if d.startswith("["):
            t.add("literal_domain")
        elif d == "localhost":
            t.add("localhost_domain")
        elif routed and d in OWN:
            t.add("server_domain")
    return t


class HalfClosed(SMTP):
    accept = "none"

    async def smtp_MAIL(self, arg):
        if await self.check_helo_needed():
            return
        if not arg or not arg.upper().startswith("FROM:"):
            await self.push("501 Syntax: MAIL FROM:<address>")
            return
        if getattr(self.envelope, "raw_from", None) is not None:
            await self.push("503 Error: nested MAIL command")
            return
        self.envelope.raw_from = arg[5:].strip()
        self.envelope.mail_from = self.envelope.raw_from or "<>"
        await self.push("250 2.1.0 OK")

    async def smtp_RCPT(self, arg):
        if await self.check_helo_needed():
            return
        raw_from = getattr(self.envelope, "raw_from", None)
        if raw_from is None:
            await self.push("503 Error: need MAIL command")
            return
        if not arg or not arg.upper().startswith("TO:"):
            await self.push("501 Syntax: RCPT TO:<address>")
            return
        raw = arg[3:].strip()
        t = tricks(raw_from, raw)
        local = domain(raw) in OWN and not (t - {"null_sender", "unqualified_sender", "bang_sender",
                                                   "literal_sender", "local_sender"})
        if local or self.accept in t:
            self.envelope.rcpt_tos.append(raw)
            await self.push("250 2.1.5 OK")
        else:
            await self.push("550 5.7.1 Relaying denied")


class Handler:
    async def handle_DATA(self, server, session, envelope):
        return "250 2.0.0 OK"


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--accept", default="none")
    p.add_argument("--port", type=int, default=0)
    args = p.parse_args()
    HalfClosed.accept = args.accept

    async def serve():
        loop = asyncio.get_running_loop()
        server = await loop.create_server(lambda: HalfClosed(Handler(), hostname=HOSTNAME), "127.0.0.1", args.port)
        print(f"READY {server.sockets[0].getsockname()[1]}", flush=True)
        await loop.run_in_executor(None, sys.stdin.read)
        server.close()

    asyncio.run(serve())


if __name__ == "__main__":
    main()
