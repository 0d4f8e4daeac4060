"""postwire.Server with Python hooks, driven by Python's smtplib over loopback."""

from __future__ import annotations

import asyncio
import hashlib
import logging
import os
import signal
import smtplib
import subprocess
import sys
import threading

import pytest

import postwire
from conftest import message


def test_multi_recipient_one_refused_by_hook(serve):
    got = []

    def on_rcpt_to(session, address, params):
        if address.startswith("nobody@"):
            return (550, "5.1.1 No such user here")
        return None

    def on_message(session, envelope, data):
        got.append((session, envelope, data))

    server, port = serve(on_rcpt_to=on_rcpt_to, on_message=on_message)
    with smtplib.SMTP("127.0.0.1", port, timeout=10) as s:
        refused = s.sendmail(
            "a@example.org", ["x@example.test", "nobody@example.test", "y@example.test"], message()
        )
    assert refused == {"nobody@example.test": (550, b"5.1.1 No such user here")}
    assert len(got) == 1
    session, envelope, data = got[0]
    assert envelope.mail_from == "a@example.org"
    assert envelope.rcpt_to == ["x@example.test", "y@example.test"]
    assert isinstance(data, bytes)
    assert data.startswith(b"Received: from ")
    assert data.endswith(b"Subject: Hello\r\n\r\nHi there.\r\n")
    assert session.peer[0] == "127.0.0.1" and session.tls is False
    assert session.helo  # smtplib sends EHLO <fqdn>
    assert envelope.to_dict()["rcpt_to"] == ["x@example.test", "y@example.test"]
    stats = server.stats
    assert stats["messages_accepted"] == 1 and stats["recipients_rejected"] == 1


def test_dot_stuffing_round_trip(serve):
    got = []
    server, port = serve(on_message=lambda s, e, d: got.append(d))
    body = ".leading dot\r\n..two dots\r\n.\r\nnot the end\r\n"
    with smtplib.SMTP("127.0.0.1", port, timeout=10) as s:
        s.sendmail("a@example.org", ["b@example.test"], message(body=body))
    assert got[0].endswith(body.encode())


def test_ten_megabyte_message(serve):
    got = []
    server, port = serve(on_message=lambda s, e, d: got.append(d))
    line = b"0123456789" * 7 + b"\r\n"
    big = message(extra=line * (10 * 1024 * 1024 // len(line)))
    assert len(big) > 10_000_000
    with smtplib.SMTP("127.0.0.1", port, timeout=60) as s:
        s.sendmail("a@example.org", ["b@example.test"], big)
    body = got[0][got[0].index(b"\r\n\r\n") :]
    assert hashlib.sha256(body).hexdigest() == hashlib.sha256(big[big.index(b"\r\n\r\n") :]).hexdigest()


def test_async_def_hooks(serve):
    seen = []

    async def on_mail_from(session, address, params):
        await asyncio.sleep(0.01)
        seen.append(params)
        return None

    async def on_message(session, envelope, data):
        await asyncio.sleep(0.01)
        if b"Subject: spam" in data:
            return postwire.Reply(554, "No spam here", enhanced="5.7.1")
        return None

    server, port = serve(on_mail_from=on_mail_from, on_message=on_message)
    with smtplib.SMTP("127.0.0.1", port, timeout=10) as s:
        s.sendmail("a@example.org", ["b@example.test"], message(), mail_options=["BODY=8BITMIME"])
        with pytest.raises(smtplib.SMTPDataError) as e:
            s.sendmail("a@example.org", ["b@example.test"], message(subject="spam"))
    assert e.value.smtp_code == 554 and e.value.smtp_error == b"5.7.1 No spam here"
    assert seen[0]["BODY"] == "8BITMIME" and int(seen[0]["SIZE"]) == len(message())


def test_raising_hook_answers_451_and_server_keeps_serving(serve, caplog):
    calls = []

    def on_message(session, envelope, data):
        calls.append(1)
        if len(calls) == 1:
            raise RuntimeError("boom in hook")
        return None

    server, port = serve(on_message=on_message)
    with caplog.at_level(logging.ERROR, logger="postwire"):
        with smtplib.SMTP("127.0.0.1", port, timeout=10) as s:
            with pytest.raises(smtplib.SMTPDataError) as e:
                s.sendmail("a@example.org", ["b@example.test"], message())
            assert e.value.smtp_code == 451 and e.value.smtp_error.startswith(b"4.3.0")
            s.sendmail("a@example.org", ["b@example.test"], message())  # same session, accepted
        with smtplib.SMTP("127.0.0.1", port, timeout=10) as s:  # and new sessions too
            assert s.noop()[0] == 250
    records = [r for r in caplog.records if r.name == "postwire.server" and r.exc_info]
    assert records, "the hook's traceback was not logged"
    assert "boom in hook" in str(records[0].exc_info[1])
    assert server.stats["messages_accepted"] == 1


def test_hook_returning_garbage_answers_451(serve):
    server, port = serve(on_rcpt_to=lambda s, a, p: "not a reply")
    with smtplib.SMTP("127.0.0.1", port, timeout=10) as s:
        s.ehlo()
        s.mail("a@example.org")
        code, text = s.rcpt("b@example.test")
    assert code == 451


def test_on_connect_refusal(serve):
    server, port = serve(on_connect=lambda session: (554, "5.7.1 go away " + session.peer_ip))
    with pytest.raises(smtplib.SMTPConnectError) as e:
        smtplib.SMTP("127.0.0.1", port, timeout=10)
    assert e.value.smtp_code == 554 and b"go away 127.0.0.1" in e.value.smtp_error


def test_maildir_delivery(serve, tmp_path):
    md = tmp_path / "Maildir"
    server, port = serve(delivery=f"maildir:{md}")
    with smtplib.SMTP("127.0.0.1", port, timeout=10) as s:
        s.sendmail("a@example.org", ["b@example.test"], message(subject="stored"))
    files = list((md / "new").iterdir())
    assert len(files) == 1
    stored = files[0].read_bytes()
    assert b"Subject: stored" in stored and b"Received: from " in stored


def test_relay_refused_and_auth_dict(serve):
    server, port = serve(auth={"alice": "s3cret"}, allow_insecure_auth=True)
    with smtplib.SMTP("127.0.0.1", port, timeout=10) as s:
        s.ehlo()
        s.mail("a@example.org")
        assert s.rcpt("someone@elsewhere.example") == (550, b"5.7.1 Relaying denied")
        s.rset()
        with pytest.raises(smtplib.SMTPAuthenticationError):
            s.login("alice", "wrong")
        s.login("alice", "s3cret")
        assert s.sendmail("alice@example.org", ["someone@elsewhere.example"], message()) == {}


def test_auth_callable_async(serve):
    checked = []

    async def auth(user, password):
        checked.append(user)
        return password == "pw"

    server, port = serve(auth=auth, allow_insecure_auth=True)
    with smtplib.SMTP("127.0.0.1", port, timeout=10) as s:
        s.login("bob", "pw")
    assert checked == ["bob"]


def test_options_are_checked():
    with pytest.raises(postwire.InvalidInputError):
        postwire.Server(relay_networks=["not-a-net"])
    with pytest.raises(ValueError):
        postwire.Server(delivery="queue:")  # a queue needs its spool directory
    with pytest.raises(postwire.InvalidInputError):
        postwire.Server(timeouts={"bogus": 1})
    with pytest.raises(postwire.InvalidInputError):
        postwire.Server(on_message=42)
    s = postwire.Server(hostname="mx.example.test", timeouts={"command": 2.5, "data": 10}, max_message_size=None,
                        relay_networks=["192.0.2.0/24"], tls_cert=None)
    with pytest.raises(postwire.InvalidInputError):
        s.start()  # listen() first


def test_context_manager_and_stats(tmp_path):
    with postwire.Server(hostname="mx.example.test", local_domains=["example.test"]) as server:
        _, port = server.listen("127.0.0.1", 0)
        server.start()
        server.start()  # started once: the second start is the same server
        assert server.running
        with pytest.raises(postwire.InvalidInputError, match=r"before start\(\)"):
            server.listen("127.0.0.1", 0)  # its socket would never be served
        with smtplib.SMTP("127.0.0.1", port, timeout=10) as s:
            s.sendmail("a@example.org", ["b@example.test"], message())
    assert not server.running
    # A stopped server never serves again: start, serve_forever and listen say to make a new one.
    for again in (server.start, server.serve_forever, lambda: server.listen("127.0.0.1", 0)):
        with pytest.raises(postwire.InvalidInputError, match="stopped; build a new Server"):
            again()
    assert not server.running
    assert server.stats["connections"] == 1 and server.stats["messages_accepted"] == 1
    assert "mx.example.test" in repr(server)


def test_session_log_reaches_python_logging(serve, caplog):
    postwire.set_log_level("INFO")
    try:
        server, port = serve()
        with caplog.at_level(logging.INFO, logger="postwire"):
            with smtplib.SMTP("127.0.0.1", port, timeout=10) as s:
                s.sendmail("a@example.org", ["b@example.test"], message())
            server.stop()
        assert any("message accepted" in r.getMessage() for r in caplog.records if r.name == "postwire.server")
    finally:
        postwire.set_log_level("WARNING")


SERVE_FOREVER = r"""
import postwire, signal, sys
# A background job inherits SIGINT ignored (CI shells); an interactive Python has this handler.
signal.signal(signal.SIGINT, signal.default_int_handler)
s = postwire.Server(hostname="mx.example.test")
host, port = s.listen("127.0.0.1", 0)
print("listening", port, flush=True)
s.serve_forever()
print("returned", flush=True)
"""


def test_serve_forever_returns_on_ctrl_c():
    p = subprocess.Popen([sys.executable, "-c", SERVE_FOREVER], stdout=subprocess.PIPE, text=True)
    try:
        line = p.stdout.readline()
        assert line.startswith("listening"), line
        port = int(line.split()[1])
        with smtplib.SMTP("127.0.0.1", port, timeout=10) as s:
            assert s.noop()[0] == 250
        p.send_signal(signal.SIGINT)
        out, _ = p.communicate(timeout=30)
    finally:
        if p.poll() is None:
            p.kill()
    assert p.returncode == 0
    assert "returned" in out


def test_stop_cuts_a_stalled_transaction_after_the_grace_period(serve):
    """stop() returns even when a client stalls mid-DATA: after shutdown_grace it is told 421."""
    import socket

    server, port = serve(shutdown_grace=0.5)
    c = socket.create_connection(("127.0.0.1", port), timeout=10)
    f = c.makefile("rb")
    assert f.readline().startswith(b"220")
    c.sendall(b"EHLO c.example\r\nMAIL FROM:<a@example.org>\r\nRCPT TO:<b@example.test>\r\nDATA\r\n")
    codes = []
    while len(codes) < 4:
        line = f.readline()
        if line[3:4] == b" ":
            codes.append(int(line[:3]))
    assert codes == [250, 250, 250, 354]
    c.sendall(b"Subject: never finished\r\n")
    server.stop()  # must return: the grace period is half a second
    assert f.readline().startswith(b"421")
    assert server.stats["messages_accepted"] == 0
    c.close()


def test_memory_budget_answers_452(serve):
    server, port = serve(max_buffered_bytes=64 * 1024)
    with smtplib.SMTP("127.0.0.1", port, timeout=10) as s:
        with pytest.raises(smtplib.SMTPDataError) as e:
            s.sendmail("a@example.org", ["b@example.test"], b"Subject: big\r\n\r\n" + (b"x" * 98 + b"\r\n") * 2000)
        assert e.value.smtp_code == 452
        # The budget comes back: a small message goes through on the same session.
        assert s.sendmail("a@example.org", ["b@example.test"], message()) == {}


def test_hook_that_never_answers_is_cut_by_hook_timeout(serve):
    release = threading.Event()

    async def on_rcpt_to(session, address, params):
        # Far longer than hook_timeout; released at the end so the loop thread is not left busy.
        await asyncio.get_running_loop().run_in_executor(None, release.wait, 30)

    server, port = serve(on_rcpt_to=on_rcpt_to, hook_timeout=0.5)
    try:
        with smtplib.SMTP("127.0.0.1", port, timeout=10) as s:
            s.ehlo()
            s.mail("a@example.org")
            code, text = s.rcpt("b@example.test")
            assert (code, text[:5]) == (451, b"4.3.0")
            assert s.noop()[0] == 250  # the session goes on
    finally:
        release.set()
    with pytest.raises(postwire.InvalidInputError):
        postwire.Server(hook_timeout=0)


SERVE_CLI = [sys.executable, "-m", "postwire", "serve", "--listen", "127.0.0.1:0", "--hostname", "mx.example.test",
             "--local-domain", "example.test", "--discard"]


def run_cli_server(extra):
    """Start `python -m postwire serve` with `extra`, send one message, stop it: its stderr."""
    p = subprocess.Popen(SERVE_CLI + extra, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        line = p.stdout.readline()
        assert line.startswith("postwire: listening on 127.0.0.1:"), line
        port = int(line.rsplit(":", 1)[1])
        with smtplib.SMTP("127.0.0.1", port, timeout=10) as s:
            s.sendmail("a@example.org", ["b@example.test"], message())
        p.send_signal(signal.SIGTERM)
        _, err = p.communicate(timeout=30)
    finally:
        if p.poll() is None:
            p.kill()
    assert p.returncode == 0, err
    return err


def test_cli_serve_json_log_and_quiet():
    import json

    lines = [l for l in run_cli_server(["--json-log"]).splitlines() if l.strip()]
    records = [json.loads(l) for l in lines]  # every line is JSON
    assert any("message accepted" in r["message"] and r["level"] == "INFO" for r in records), lines
    quiet = run_cli_server(["--quiet"])
    assert "message accepted" not in quiet and "INFO" not in quiet, quiet

