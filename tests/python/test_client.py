"""postwire.Client and postwire.aio.Client against aiosmtpd (and our own Server) on loopback;
every error kind raised as the right class."""

from __future__ import annotations

import asyncio
import os
import socket
import sys

import pytest

import postwire
import postwire.aio
from conftest import Recorder, free_port, message


def test_plain_send_byte_exact(aiosmtpd_peer):
    handler, port = aiosmtpd_peer()
    msg = message(body=".dot first\r\nline two\r\n")
    with postwire.Client.connect("127.0.0.1", port, tls="none", hello_name="client.example") as c:
        # What aiosmtpd 1.4 offers without TLS or AUTH set up: exactly these keywords.
        assert c.capabilities == {"SIZE": "33554432", "8BITMIME": "", "SMTPUTF8": "", "HELP": ""}
        assert c.banner.code == 220
        r = c.send("a@example.org", ["b@example.test"], msg)
        assert c.noop().code == 250
        assert c.reset().code == 250
    assert isinstance(r, postwire.SendResult)
    assert r.accepted == ["b@example.test"] and r.rejected == []
    assert r.reply.code == 250 and r.queue_id == "TEST42"
    t = r.timings  # seconds, float; None for the phases of the session, not of this send
    assert set(t) == {"connect", "banner", "tls", "ehlo", "auth", "mail", "rcpt", "data", "total"}
    assert all(isinstance(t[k], float) and t[k] >= 0 for k in ("mail", "rcpt", "data", "total")), t
    assert t["tls"] is None and t["auth"] is None
    assert t["total"] >= t["data"]
    assert r.to_dict()["reply"]["code"] == 250
    assert "SendResult(accepted=['b@example.test']" in repr(r)
    assert handler.messages == [("a@example.org", ["b@example.test"], msg)]
    assert c.closed
    assert any(line.startswith("C: EHLO client.example") for line in c.transcript)


def test_str_message_and_single_recipient_string(aiosmtpd_peer):
    handler, port = aiosmtpd_peer()
    with postwire.Client.connect("127.0.0.1", port, tls="none") as c:
        c.send("a@example.org", "b@example.test", "Subject: s\n\nbare LF body\n")
    assert handler.messages[0][2] == b"Subject: s\r\n\r\nbare LF body\r\n"


def test_one_recipient_refused_among_three(aiosmtpd_peer):
    handler, port = aiosmtpd_peer(Recorder(refuse=["nobody@example.test"]))
    with postwire.Client.connect("127.0.0.1", port, tls="none") as c:
        r = c.send("a@example.org", ["x@example.test", "nobody@example.test", "y@example.test"], message())
    assert r.accepted == ["x@example.test", "y@example.test"]
    assert len(r.rejected) == 1
    rej = r.rejected[0]
    assert rej.rcpt == "nobody@example.test"
    assert rej.reply.code == 550 and rej.reply.text == "No such user here"
    assert handler.messages[0][1] == ["x@example.test", "y@example.test"]


def test_all_refused_raises_rejected(aiosmtpd_peer):
    handler, port = aiosmtpd_peer(Recorder(refuse=["nobody@example.test"]))
    with postwire.Client.connect("127.0.0.1", port, tls="none") as c:
        with pytest.raises(postwire.RejectedError) as e:
            c.send("a@example.org", ["nobody@example.test"], message())
    assert e.value.kind == "rejected"
    assert isinstance(e.value, postwire.Error)
    assert e.value.reply.code == 550


def test_4xx_raises_transient(aiosmtpd_peer):
    handler, port = aiosmtpd_peer(Recorder(data_reply="451 4.3.0 Try again later"))
    with postwire.Client.connect("127.0.0.1", port, tls="none") as c:
        with pytest.raises(postwire.TransientError) as e:
            c.send("a@example.org", ["b@example.test"], message())
    assert e.value.reply.code == 451 and e.value.kind == "transient"


def test_starttls_with_test_ca(aiosmtpd_peer, tls_files):
    ca, _, _ = tls_files
    handler, port = aiosmtpd_peer(tls=True)
    with postwire.Client.connect("127.0.0.1", port, tls="starttls", ca_file=str(ca)) as c:
        assert c.tls
        c.send("a@example.org", ["b@example.test"], message())
    assert len(handler.messages) == 1


def test_starttls_untrusted_certificate_is_tls_error(aiosmtpd_peer):
    handler, port = aiosmtpd_peer(tls=True)
    with pytest.raises(postwire.TlsError) as e:
        postwire.Client.connect("127.0.0.1", port, tls="starttls")
    assert e.value.kind == "tls"


def test_starttls_required_but_not_offered(aiosmtpd_peer):
    handler, port = aiosmtpd_peer()
    with pytest.raises(postwire.TlsError):
        postwire.Client.connect("127.0.0.1", port, tls="starttls")


def test_auth_over_starttls(aiosmtpd_peer, tls_files):
    ca, _, _ = tls_files
    handler, port = aiosmtpd_peer(tls=True, auth={"alice": "s3cret"})
    with postwire.Client.connect("127.0.0.1", port, tls="starttls", ca_file=ca) as c:
        with pytest.raises(postwire.AuthError) as e:
            c.login("alice", "wrong")
        assert e.value.reply is not None and e.value.reply.code == 535
    with postwire.Client.connect("127.0.0.1", port, tls="starttls", ca_file=ca) as c:
        assert c.login("alice", "s3cret").code == 235
        assert c.authenticated_user == "alice"
        c.send("alice@example.org", ["b@example.test"], message())
        assert not any("s3cret" in line for line in c.transcript)
    assert len(handler.messages) == 1


def test_connect_refused_is_connect_error():
    port = free_port()
    with pytest.raises(postwire.ConnectError) as e:
        postwire.Client.connect("127.0.0.1", port, timeout=5)
    assert e.value.kind == "connect" and e.value.reply is None


def test_crlf_in_address_is_invalid_input_and_value_error(aiosmtpd_peer):
    handler, port = aiosmtpd_peer()
    with postwire.Client.connect("127.0.0.1", port, tls="none") as c:
        with pytest.raises(postwire.InvalidInputError):
            c.send("a@example.org\r\nRCPT TO:<evil@example.test>", ["b@example.test"], message())
        with pytest.raises(ValueError):
            c.send("a@example.org", ["b@example.test\r\nDATA"], message())
        c.send("a@example.org", ["b@example.test"], message())  # the session is still usable
    assert [m[1] for m in handler.messages] == [["b@example.test"]]
    with pytest.raises(ValueError):
        postwire.Client.connect("127.0.0.1", port, tls="bogus")


def test_timeout_is_builtin_timeout_error(silent_server):
    with pytest.raises(TimeoutError) as e:
        postwire.Client.connect("127.0.0.1", silent_server, timeout=0.5)
    assert isinstance(e.value, postwire.TimeoutError) and e.value.kind == "timeout"


def test_protocol_error_when_server_hangs_up():
    srv = socket.socket()
    srv.bind(("127.0.0.1", 0))
    srv.listen(1)
    port = srv.getsockname()[1]
    import threading

    def serve_once():
        conn, _ = srv.accept()
        conn.sendall(b"220 hello\r\n")
        conn.recv(100)
        conn.close()

    t = threading.Thread(target=serve_once, daemon=True)
    t.start()
    with pytest.raises(postwire.ProtocolError):
        postwire.Client.connect("127.0.0.1", port, timeout=5)
    t.join(5)
    srv.close()


def test_vrfy_help_against_our_server(serve):
    server, port = serve(allow_vrfy=False)
    with postwire.Client.connect("127.0.0.1", port, tls="none") as c:
        assert c.verify("someone@example.test").code == 252
        assert c.help().code == 214
        assert c.expand("list").code == 502  # EXPN off: the reply is returned, not raised
        q = c.quit()
    assert q.code == 221
    with pytest.raises(postwire.ProtocolError):
        c.noop()


def test_compose_and_send_mail_through_smarthost(aiosmtpd_peer):
    handler, port = aiosmtpd_peer(Recorder(refuse=["nobody@example.test"]))
    msg = postwire.compose(
        "Alice <a@example.org>",
        ["b@example.test"],
        "Grüße",
        "Hello\n",
        bcc=["hidden@example.test", "nobody@example.test"],
        headers={"X-Test": "1"},
        attachments=[("a.txt", "text/plain", b"attached"), {"filename": "b.bin", "data": b"\x00\x01"}],
    )
    assert b"hidden@example.test" not in msg and b"X-Test: 1" in msg and b"Message-ID:" in msg
    results = postwire.send_mail(
        "a@example.org", ["b@example.test", "hidden@example.test", "nobody@example.test"], msg,
        smarthost="127.0.0.1", port=port, tls="none",
    )
    assert [r.ok for r in results] == [True, True, False]
    assert isinstance(results[2].error, postwire.RejectedError)
    assert results[2].reply.code == 550
    assert results[2].to_dict()["error"]["kind"] == "rejected"
    assert handler.messages[0][1] == ["b@example.test", "hidden@example.test"]
    with pytest.raises(ValueError):
        postwire.compose("not an address", ["b@example.test"], "s", "t")


def test_aio_client(aiosmtpd_peer, tls_files):
    ca, _, _ = tls_files
    handler, port = aiosmtpd_peer(Recorder(refuse=["nobody@example.test"]), tls=True)

    async def one(i):
        async with await postwire.aio.Client.connect("127.0.0.1", port, tls="starttls", ca_file=ca) as c:
            assert c.tls
            r = await c.send(f"s{i}@example.org", [f"r{i}@example.test", "nobody@example.test"], message(subject=str(i)))
            assert r.accepted == [f"r{i}@example.test"] and r.rejected[0].reply.code == 550
            assert (await c.noop()).code == 250
            return r

    async def main():
        results = await asyncio.gather(*(one(i) for i in range(10)))
        with pytest.raises(postwire.RejectedError):
            c = await postwire.aio.Client.connect("127.0.0.1", port, tls="none")
            try:
                await c.send("a@example.org", ["nobody@example.test"], message())
            finally:
                await c.quit()
        with pytest.raises(postwire.ConnectError):
            await postwire.aio.Client.connect("127.0.0.1", free_port(), timeout=5)
        return results

    results = asyncio.run(main())
    assert len(results) == 10 and len(handler.messages) == 10


def test_aio_timeout(silent_server):
    async def main():
        await postwire.aio.Client.connect("127.0.0.1", silent_server, timeout=0.5)

    with pytest.raises(TimeoutError):
        asyncio.run(main())


@pytest.mark.skipif(not os.path.isdir("/proc/self/fd"), reason="counts descriptors in /proc")
def test_aio_many_event_loops_do_not_leak_descriptors(aiosmtpd_peer):
    # Each loop gets its own completion bridge (a socketpair); closed loops must give it back.
    import gc

    handler, port = aiosmtpd_peer()

    async def one(i):
        async with await postwire.aio.Client.connect("127.0.0.1", port, tls="none") as c:
            await c.send(f"loop{i}@example.org", ["b@example.test"], message())

    asyncio.run(one(0))
    gc.collect()
    before = len(os.listdir("/proc/self/fd"))
    for i in range(1, 31):
        asyncio.run(one(i))
    gc.collect()
    asyncio.run(one(31))  # registering a loop also forgets the bridges of closed ones
    gc.collect()
    after = len(os.listdir("/proc/self/fd"))
    assert len(handler.messages) == 32
    assert after <= before + 4, f"{after - before} descriptors leaked over 31 event loops"


def test_aio_cancelled_call_leaves_client_usable(aiosmtpd_peer):
    # Cancelling the awaiting task cancels the asyncio future only; the session call finishes,
    # its result is dropped (no InvalidStateError), and the next call on the client works.
    handler, port = aiosmtpd_peer()

    async def main():
        c = await postwire.aio.Client.connect("127.0.0.1", port, tls="none")
        task = asyncio.ensure_future(c.send("cancelled@example.org", ["b@example.test"], message()))
        await asyncio.sleep(0)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        r = await c.send("after@example.org", ["b@example.test"], message())
        assert r.accepted == ["b@example.test"]
        await c.quit()

    loop = asyncio.new_event_loop()
    errors = []
    loop.set_exception_handler(lambda _loop, ctx: errors.append(ctx))
    try:
        loop.run_until_complete(main())
    finally:
        loop.close()
    assert errors == []
    assert [m[0] for m in handler.messages][-1] == "after@example.org"


@pytest.mark.skipif(not hasattr(os, "fork"), reason="fork() is POSIX-only")
def test_client_and_runtime_work_after_fork(aiosmtpd_peer):
    handler, port = aiosmtpd_peer()
    # Use the shared runtime and a sync client in the parent first.
    with postwire.Client.connect("127.0.0.1", port, tls="none") as c:
        c.send("parent@example.org", ["b@example.test"], message())

    async def aio_send():
        c = await postwire.aio.Client.connect("127.0.0.1", port, tls="none")
        await c.send("aio@example.org", ["b@example.test"], message())
        await c.quit()

    asyncio.run(aio_send())
    pid = os.fork()
    if pid == 0:  # child: must not touch pytest machinery; report through the exit code
        code = 1
        try:
            with postwire.Client.connect("127.0.0.1", port, tls="none", timeout=10) as c:
                c.send("child@example.org", ["b@example.test"], message())
            asyncio.run(aio_send())
            code = 0
        finally:
            os._exit(code)
    _, status = os.waitpid(pid, 0)
    assert os.WIFEXITED(status) and os.WEXITSTATUS(status) == 0
    senders = [m[0] for m in handler.messages]
    assert senders.count("child@example.org") == 1 and senders.count("aio@example.org") == 2


def test_implicit_tls_defaults_to_port_465():
    # Nothing listens on 127.0.0.1:465 here: the refusal names the port that was tried.
    with pytest.raises(postwire.ConnectError) as e:
        postwire.Client.connect("127.0.0.1", tls="implicit", timeout=5)
    assert "127.0.0.1:465" in str(e.value)


def test_timeout_does_not_cut_the_wait_after_the_final_dot(serve):
    """`timeout` bounds each reply except the one after the message, which waits `data_timeout`."""
    async def on_message(session, envelope, data):
        await asyncio.sleep(1.0)  # longer than the client's timeout below

    server, port = serve(on_message=on_message)
    with postwire.Client.connect("127.0.0.1", port, tls="none", timeout=0.3) as c:
        assert c.send("a@example.org", ["b@example.test"], message()).reply.code == 250
    with postwire.Client.connect("127.0.0.1", port, tls="none", timeout=5, data_timeout=0.3) as c:
        with pytest.raises(postwire.TimeoutError):
            c.send("a@example.org", ["b@example.test"], message())


def test_timeouts_map_sets_one_phase(silent_server):
    with pytest.raises(postwire.TimeoutError):
        postwire.Client.connect("127.0.0.1", silent_server, timeout=60, timeouts={"greeting": 0.3})
    for bad in [{"timeouts": {"no_such_phase": 1}}, {"data_timeout": 0}, {"timeout": -1}, {"bogus_option": 1}]:
        with pytest.raises(postwire.InvalidInputError):
            postwire.Client.connect("127.0.0.1", silent_server, **bad)


def test_unresolvable_host_is_dns_error():
    with pytest.raises(postwire.DnsError) as e:
        postwire.Client.connect("no-such-host.invalid", 25, timeout=5)
    assert e.value.kind == "dns"


def test_all_refused_error_carries_every_refusal(aiosmtpd_peer):
    handler, port = aiosmtpd_peer(Recorder(refuse=["x@example.test", "y@example.test"]))
    with postwire.Client.connect("127.0.0.1", port, tls="none") as c:
        with pytest.raises(postwire.RejectedError) as e:
            c.send("a@example.org", ["x@example.test", "y@example.test"], message())
    assert [(r.rcpt, r.reply.code) for r in e.value.rejected] == [("x@example.test", 550), ("y@example.test", 550)]


def test_send_mail_options_are_the_cores():
    # send_mail's options are read by the core (host::options::send_mail_options), as in Node and
    # C: data_timeout and timeouts are checked there, and a misspelt option is named.
    with pytest.raises(postwire.InvalidInputError, match="data_timeout"):
        postwire.send_mail("a@example.org", "b@example.test", b"x\r\n", smarthost="127.0.0.1", data_timeout=0)
    with pytest.raises(postwire.InvalidInputError, match="smarthots"):
        postwire.send_mail("a@example.org", "b@example.test", b"x\r\n", smarthots="127.0.0.1")
