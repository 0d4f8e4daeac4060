"""Type-checked (mypy --strict) use of the public API: proves the stub and py.typed are
shipped and describe the API. Not run, only checked."""

from __future__ import annotations

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
