"""postwire.aio: Server with hooks on the caller's loop, Client properties during a call, Pool
and send_mail — against aiosmtplib, aiosmtpd and our own server, on loopback."""

from __future__ import annotations

import asyncio

import pytest

import postwire
import postwire.aio
from conftest import Recorder, message, need


def run(coro, timeout=30):
    """Run `coro` on a fresh loop, bounded."""
    return asyncio.run(asyncio.wait_for(coro, timeout))


def test_hooks_run_on_the_callers_loop_and_use_its_queue():
    aiosmtplib = need("aiosmtplib")

    async def main():
        inbox: asyncio.Queue = asyncio.Queue()  # bound to this test's loop
        loop = asyncio.get_running_loop()
        seen_loops = []

        async def on_message(session, envelope, data):
            seen_loops.append(asyncio.get_running_loop())
            await inbox.put((envelope.mail_from, envelope.rcpt_to, data))
            return None

        def on_rcpt_to(session, address, params):  # a plain hook: on the loop thread too
            seen_loops.append(asyncio.get_running_loop())
            return (550, "5.1.1 no such user") if address.startswith("nobody@") else None

        server = postwire.aio.Server(
            hostname="mx.example.test", local_domains=["example.test"], on_message=on_message, on_rcpt_to=on_rcpt_to
        )
        _, port = server.listen("127.0.0.1", 0)
        async with server:
            await server.start()  # started once: the second start is the same server
            assert server.running
            errors, _ = await aiosmtplib.send(
                message(), sender="a@example.org", recipients=["b@example.test", "nobody@example.test"],
                hostname="127.0.0.1", port=port, start_tls=False, timeout=10,
            )
            assert errors["nobody@example.test"][0] == 550
            mail_from, rcpt_to, data = await asyncio.wait_for(inbox.get(), 10)
            assert (mail_from, rcpt_to) == ("a@example.org", ["b@example.test"])
            assert b"Subject: Hello" in data
            assert server.stats["messages_accepted"] == 1
        assert not server.running
        # A stopped server never serves again: start and serve_forever say to make a new one.
        for again in (server.start, server.serve_forever):
            with pytest.raises(postwire.InvalidInputError, match="stopped; build a new Server"):
                await asyncio.wait_for(again(), 10)  # bounded, should it serve
        assert not server.running
        assert seen_loops and all(l is loop for l in seen_loops)

    run(main())


def test_awaitable_results_and_refusals():
    aiosmtplib = need("aiosmtplib")

    class Later:
        """An awaitable that is not a coroutine."""

        def __init__(self, value):
            self.value = value

        def __await__(self):
            yield from asyncio.sleep(0).__await__()
            return self.value

    async def main():
        def on_mail_from(session, address, params):
            return Later((550, "5.7.1 not you") if address.startswith("bad@") else None)

        async def on_message(session, envelope, data):
            await asyncio.sleep(0)
            raise RuntimeError("boom")

        server = postwire.aio.Server(hostname="mx.example.test", local_domains=["example.test"],
                                     on_mail_from=on_mail_from, on_message=on_message)
        _, port = server.listen()
        await server.start()
        try:
            with pytest.raises(aiosmtplib.SMTPSenderRefused) as e:
                await aiosmtplib.send(message(), sender="bad@example.org", recipients=["b@example.test"],
                                      hostname="127.0.0.1", port=port, start_tls=False, timeout=10)
            assert e.value.code == 550
            with pytest.raises(aiosmtplib.SMTPDataError) as e2:
                await aiosmtplib.send(message(), sender="a@example.org", recipients=["b@example.test"],
                                      hostname="127.0.0.1", port=port, start_tls=False, timeout=10)
            assert e2.value.code == 451
        finally:
            await server.stop()
            await server.stop()  # idempotent

    run(main())


def test_aio_client_properties_are_readable_during_a_call():
    async def main():
        gate = asyncio.Event()
        in_hook = asyncio.Event()

        async def on_message(session, envelope, data):
            in_hook.set()
            await asyncio.wait_for(gate.wait(), 10)

        server = postwire.aio.Server(hostname="mx.example.test", local_domains=["example.test"], on_message=on_message)
        _, port = server.listen()
        async with server:
            c = await postwire.aio.Client.connect("127.0.0.1", port, tls="none", timeout=10)
            sending = asyncio.ensure_future(c.send("a@example.org", ["b@example.test"], message()))
            # The hook holds the transaction: the send is in flight.
            await asyncio.wait_for(in_hook.wait(), 10)
            assert not sending.done()
            # Every property answers while the call is in flight.
            assert c.banner.code == 220 and not c.closed and not c.tls
            assert c.capabilities["pipelining"] == "" and c.has_extn("Pipelining")
            assert c.hello_name and c.authenticated_user is None
            gate.set()
            r = await sending
            assert r.reply.code == 250
            await c.quit()
            assert c.closed

    run(main())


def test_aio_pool_and_send_mail_against_aiosmtpd(aiosmtpd_peer):
    handler, port = aiosmtpd_peer()

    async def main():
        async with postwire.aio.Pool(max_per_destination=2) as pool:
            dest = {"host": "127.0.0.1", "port": port, "tls": "none", "timeout": 10}
            results = await asyncio.gather(
                *(pool.send(dest, "a@example.org", [f"r{i}@example.test"], message(subject=f"m{i}")) for i in range(4))
            )
            assert all(r.reply.code == 250 for r in results)
            assert pool.stats["created"] <= 2 and pool.stats["reused"] >= 2
        assert pool.closed
        rs = await postwire.aio.send_mail("a@example.org", ["z@example.test"], message(subject="direct"),
                                          smarthost="127.0.0.1", port=port, tls="none", timeout=10)
        assert [(r.rcpt, r.ok) for r in rs] == [("z@example.test", True)]

    run(main())
    subjects = sorted(m[2].split(b"Subject: ")[1].split(b"\r\n")[0] for m in handler.messages)
    assert subjects == [b"direct", b"m0", b"m1", b"m2", b"m3"]


def test_async_hooks_finishing_at_once_raising_at_once_and_context_isolation():
    aiosmtplib = need("aiosmtplib")
    import contextvars

    var = contextvars.ContextVar("var", default="unset")
    seen = []

    async def on_rcpt_to(session, address, params):
        seen.append(var.get())  # never a value another hook set
        var.set(address)
        if address.startswith("boom@"):
            raise RuntimeError("raised in the first step")
        return None  # finished without awaiting anything

    async def main():
        server = postwire.aio.Server(hostname="mx.example.test", local_domains=["example.test"], on_rcpt_to=on_rcpt_to)
        _, port = server.listen()
        async with server:
            errors, _ = await aiosmtplib.send(
                message(), sender="a@example.org",
                recipients=["b@example.test", "boom@example.test", "c@example.test"],
                hostname="127.0.0.1", port=port, start_tls=False, timeout=10,
            )
            assert errors["boom@example.test"][0] == 451
            assert server.stats["recipients_accepted"] == 2
        assert seen == ["unset", "unset", "unset"]

    run(main())


def test_awaiting_stop_from_its_own_hook_raises_and_a_task_of_its_own_stops_it():
    aiosmtplib = need("aiosmtplib")

    async def main():
        errors = []
        stopper = []

        async def on_message(session, envelope, data):
            await asyncio.sleep(0)  # a hook that suspends: its answer is carried by a task
            try:
                await server.stop()
            except RuntimeError as e:
                errors.append(str(e))
            stopper.append(asyncio.ensure_future(server.stop()))  # the way that works

        async def on_rcpt_to(session, address, params):
            try:
                await server.stop()  # in the hook's first step
            except RuntimeError as e:
                errors.append(str(e))

        server = postwire.aio.Server(hostname="mx.example.test", local_domains=["example.test"],
                                     on_message=on_message, on_rcpt_to=on_rcpt_to)
        _, port = server.listen()
        await server.start()
        await aiosmtplib.send(message(), sender="a@example.org", recipients=["b@example.test"],
                              hostname="127.0.0.1", port=port, start_tls=False, timeout=10)
        assert len(errors) == 2 and all("own hooks" in e for e in errors)
        await asyncio.wait_for(stopper[0], 20)
        assert not server.running

    run(main())
