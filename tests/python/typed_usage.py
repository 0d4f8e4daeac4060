"""Type-checked (mypy --strict) use of the public API: proves the stub and py.typed are
shipped and describe the API. Not run, only checked."""

from __future__ import annotations

import asyncio
from typing import List, Optional

import postwire
import postwire.aio


def send(host: str, port: int) -> List[str]:
    with postwire.Client.connect(host, port, tls="none", timeout=5.0) as c:
        r: postwire.SendResult = c.send("a@example.org", ["b@example.test"], b"Subject: x\r\n\r\nhi\r\n")
        code: int = r.reply.code
        assert code == 250
        return r.accepted + [x.rcpt for x in r.rejected]


async def send_async(host: str, port: int) -> Optional[str]:
    c = await postwire.aio.Client.connect(host, port)
    r = await c.send("a@example.org", "b@example.test", "hi")
    await c.quit()
    return r.queue_id


def on_message(session: postwire.Session, envelope: postwire.Envelope, data: bytes) -> Optional[tuple[int, str]]:
    if session.tls and envelope.mail_from == "" and data:
        return (550, "no")
    return None


def serve() -> postwire.Server:
    s = postwire.Server(hostname="mx.example.test", local_domains=["example.test"], on_message=on_message,
                        timeouts={"command": 60.0}, auth={"u": "p"})
    host, port = s.listen("127.0.0.1", 0)
    s.start()
    return s


def errors(e: postwire.Error) -> Optional[int]:
    return e.reply.code if e.reply is not None else None


# Issue 13: what smtplib / aiosmtplib / aiosmtpd users reach for.
def send_message(host: str, port: int) -> bool:
    from email.message import EmailMessage

    msg = EmailMessage()
    msg["From"], msg["To"], msg["Bcc"] = "a@example.org", "b@example.test", "c@example.test"
    with postwire.Client.connect(host, port, tls="none") as c:
        c.send("a@example.org", ["b@example.test"], b"x", dsn={"notify": ["FAILURE"], "ret": "HDRS"},
               mail_options=["BODY=8BITMIME"], rcpt_options={"XFOO": None})
        r: postwire.SendResult = c.send_message(msg)
        size: str = c.capabilities["size"]
        return c.has_extn("pipelining") and bool(size) and r.reply.code == 250


async def aio_server_and_pool(port: int) -> int:
    queue: "asyncio.Queue[bytes]" = asyncio.Queue()

    async def on_message(session: postwire.Session, envelope: postwire.Envelope, data: bytes) -> None:
        await queue.put(data)

    server = postwire.aio.Server(hostname="mx.example.test", on_message=on_message, hook_workers=4)
    server.listen("127.0.0.1", 0)
    async with server:
        async with postwire.aio.Pool(max_connections=2) as pool:
            r = await pool.send({"host": "127.0.0.1", "port": port, "tls": "none"}, "a@example.org", "b@example.test", b"x")
        results: List[postwire.RecipientResult] = await postwire.aio.send_mail(
            "a@example.org", "b@example.test", b"x", smarthost="127.0.0.1", port=port, tls="none")
        err: Optional[postwire.Error] = results[0].error
    with postwire.Pool() as p:
        p.send({"host": "127.0.0.1", "port": port}, "a@example.org", "b@example.test", b"x")
    return r.reply.code + len(server.stats) + (0 if err is None else 1) + len(await queue.get())

# --- MX routing, the queue, the relay check, the Received-trace analysis (issues 11 and 12) ---
def route(ns: str) -> List[str]:
    r: postwire.Route = postwire.resolve_mx("example.test", nameservers=[ns], seed=1)
    steps: List[str] = [str(s) for s in r.explanation]
    return [a for h in r.hosts for a in h.addresses] + r.cname_chain + steps


def queued(spool: str, ns: str) -> int:
    with postwire.Queue(spool, nameservers=[ns], port=2525, allow_loopback=True, retry=[1.0]) as q:
        qid: str = q.submit({"mail_from": "a@example.org", "rcpt_to": ["b@example.test"]}, b"x")
        q.submit(mail_from="", rcpt_to="b@example.test", message="x")
        stats: postwire.RunStats = q.run()
        entries: List[postwire.QueueEntry] = q.list()
        replies = [r.last_reply.code for e in entries for r in e.recipients if r.last_reply is not None]
        return stats.delivered + len(qid) + sum(replies) + entries[0].next_try.year


def relay(port: int) -> bool:
    rep: postwire.RelayReport = postwire.check_relay("127.0.0.1", port, tests=["nmap_null_sender"], timeout=5.0)
    return rep.open or any(t.verdict == "relayed" and t.reply is not None for t in rep.results)


def trace(message: bytes) -> List[Optional[str]]:
    a: postwire.TraceAnalysis = postwire.analyze_received(message, trusted_hosts=["mx.example.test"])
    line: postwire.ReceivedLine = postwire.parse_received("from a by b; Tue, 1 Dec 2026 10:00:00 +0000")
    return [h.from_ip for h in a.hops] + [f.kind for f in a.findings] + [line.from_]


async def mta_async(spool: str, ns: str) -> bool:
    r = await postwire.aio.resolve_mx("example.test", nameservers=[ns])
    async with postwire.aio.Queue(spool) as q:
        await q.submit(mail_from="a@example.org", rcpt_to=["b@example.test"], message=b"x")
        stats = await q.flush()
    rep = await postwire.aio.check_relay("127.0.0.1", 2525)
    a = await postwire.aio.analyze_received(b"")
    return bool(r.hosts) and stats.failed == 0 and rep.open and a.suspicious
