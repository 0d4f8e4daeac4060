"""What smtplib / aiosmtplib / aiosmtpd users reach for (issue 13): send_message, DSN and ESMTP
options, case-insensitive capabilities, the sync Pool, errors and values as Python values,
blocking hooks on worker threads, stop() from a hook, child loggers with record attributes."""

from __future__ import annotations

import asyncio
import concurrent.futures
import logging
import pickle
import smtplib
import threading
from email.message import EmailMessage

import pytest

import postwire
import postwire.aio
from conftest import Recorder, message


class OptionsRecorder(Recorder):
    """Also keeps the MAIL and RCPT parameters aiosmtpd saw."""

    def __init__(self):
        super().__init__()
        self.mail_options = []
        self.rcpt_options = []

    async def handle_MAIL(self, server, session, envelope, address, mail_options):
        self.mail_options.append(list(mail_options))
        envelope.mail_from = address
        envelope.mail_options.extend(mail_options)
        return "250 OK"

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        self.rcpt_options.append(list(rcpt_options))
        return await super().handle_RCPT(server, session, envelope, address, rcpt_options)


# ---- sending as smtplib users do ---------------------------------------------------------------


def test_send_message_takes_the_envelope_from_headers_and_strips_bcc(aiosmtpd_peer):
    handler, port = aiosmtpd_peer()
    msg = EmailMessage()
    msg["From"] = "Alice <alice@example.org>"
    msg["To"] = "Bob <bob@example.test>, carol@example.test"
    msg["Cc"] = "dave@example.test"
    msg["Bcc"] = "secret@example.test"
    msg["Subject"] = "hello"
    msg.set_content("Hi all.\n")
    with postwire.Client.connect("127.0.0.1", port, tls="none", timeout=10) as c:
        r = c.send_message(msg)
    assert sorted(r.accepted) == ["bob@example.test", "carol@example.test", "dave@example.test", "secret@example.test"]
    mail_from, rcpts, data = handler.messages[0]
    assert mail_from == "alice@example.org"
    assert sorted(rcpts) == sorted(r.accepted)
    assert b"Subject: hello" in data and b"Hi all." in data
    assert b"secret@example.test" not in data and b"Bcc" not in data
    assert msg["Bcc"] == "secret@example.test", "the caller's message is left alone"


def test_send_message_resent_headers_and_explicit_envelope(aiosmtpd_peer):
    handler, port = aiosmtpd_peer()
    msg = EmailMessage()
    msg["From"] = "alice@example.org"
    msg["To"] = "bob@example.test"
    msg["Resent-Date"] = "Tue, 1 Dec 2026 10:00:00 +0000"
    msg["Resent-Sender"] = "list@example.org"
    msg["Resent-To"] = "members@example.test"
    msg["Resent-Bcc"] = "hidden@example.test"
    msg.set_content("forwarded\n")
    with postwire.Client.connect("127.0.0.1", port, tls="none", timeout=10) as c:
        c.send_message(msg)
        c.send_message(msg, from_addr="x@example.org", to_addrs="y@example.test")
    (f1, r1, d1), (f2, r2, _) = handler.messages
    assert (f1, sorted(r1)) == ("list@example.org", ["hidden@example.test", "members@example.test"])
    assert b"hidden@example.test" not in d1
    assert (f2, r2) == ("x@example.org", ["y@example.test"])
    msg["Resent-Date"] = "Wed, 2 Dec 2026 10:00:00 +0000"  # a second block
    with postwire.Client.connect("127.0.0.1", port, tls="none", timeout=10) as c:
        with pytest.raises(ValueError):
            c.send_message(msg)


def test_dsn_and_esmtp_options_reach_the_server(serve):
    seen = []
    server, port = serve(advertise_dsn=True, on_mail_from=lambda s, a, p: seen.append(("mail", dict(p))),
                         on_rcpt_to=lambda s, a, p: seen.append(("rcpt", dict(p))))
    with postwire.Client.connect("127.0.0.1", port, tls="none", timeout=10) as c:
        assert c.has_extn("dsn") and "Dsn" in c.capabilities and c.capabilities.get("size") is not None
        c.send("a@example.org", ["b@example.test"], message(),
               dsn={"ret": "HDRS", "envid": "QQ314159", "notify": ["SUCCESS", "FAILURE"], "orcpt": True},
               mail_options=["XFOO=bar"], rcpt_options={"XBAZ": None})
        with pytest.raises(postwire.InvalidInputError):
            c.send("a@example.org", ["b@example.test"], message(), mail_options=["BAD PARAM"])
    (_, mail), (_, rcpt) = seen
    assert (mail["RET"], mail["ENVID"], mail["XFOO"]) == ("HDRS", "QQ314159", "bar")
    assert rcpt["NOTIFY"] == "SUCCESS,FAILURE" and rcpt["ORCPT"] == "rfc822;b@example.test" and "XBAZ" in rcpt


def test_pool_send_takes_the_client_send_options(serve):
    """Pool.send and aio.Pool.send carry DSN and ESMTP parameters as Client.send does."""
    seen = []
    server, port = serve(advertise_dsn=True, on_mail_from=lambda s, a, p: seen.append(dict(p)))
    dest = {"host": "127.0.0.1", "port": port, "tls": "none", "timeout": 10}
    with postwire.Pool() as pool:
        pool.send(dest, "a@example.org", "b@example.test", message(), dsn={"ret": "FULL", "envid": "P1"})
        with pytest.raises(postwire.InvalidInputError):
            pool.send(dest, "a@example.org", "b@example.test", message(), mail_options=["BAD PARAM"])

    async def aio_send():
        async with postwire.aio.Pool() as p:
            await p.send(dest, "a@example.org", "b@example.test", message(), mail_options=["XFOO=bar"])

    asyncio.run(aio_send())
    assert (seen[0]["RET"], seen[0]["ENVID"]) == ("FULL", "P1")
    assert seen[1]["XFOO"] == "bar"


def test_mail_options_at_aiosmtpd(aiosmtpd_peer):
    handler = OptionsRecorder()
    _, port = aiosmtpd_peer(handler)
    with postwire.Client.connect("127.0.0.1", port, tls="none", timeout=10) as c:
        c.send("a@example.org", ["b@example.test"], message(), mail_options=["BODY=8BITMIME"])
    assert "BODY=8BITMIME" in handler.mail_options[0]


def test_sync_pool_reuses_sessions(aiosmtpd_peer):
    handler, port = aiosmtpd_peer()
    dest = {"host": "127.0.0.1", "port": port, "tls": "none", "timeout": 10}
    with postwire.Pool(max_connections=1) as pool:
        for i in range(3):
            assert pool.send(dest, "a@example.org", "b@example.test", message(subject=f"p{i}")).reply.code == 250
        assert (pool.stats["created"], pool.stats["reused"]) == (1, 2)
    assert pool.closed and len(handler.messages) == 3
    with pytest.raises(postwire.InvalidInputError):
        pool.send(dest, "a@example.org", "b@example.test", message())


# ---- errors and values ---------------------------------------------------------------------------


def _raise_refused(port: int) -> None:
    with postwire.Client.connect("127.0.0.1", port, tls="none", timeout=10) as c:
        c.send("a@example.org", ["nobody@example.test"], message())


def test_errors_cross_a_process_pool(aiosmtpd_peer):
    _, port = aiosmtpd_peer(Recorder(refuse=["nobody@example.test"]))
    with concurrent.futures.ProcessPoolExecutor(max_workers=1) as ex:
        with pytest.raises(postwire.RejectedError) as e:
            ex.submit(_raise_refused, port).result(timeout=60)
    err = e.value
    assert err.kind == "rejected" and err.reply is not None and err.reply.code == 550
    assert [(r.rcpt, r.reply.code) for r in err.rejected] == [("nobody@example.test", 550)]


def test_values_are_hashable_comparable_picklable():
    a, b = postwire.Reply(550, "5.7.1 relay denied"), postwire.Reply(550, "5.7.1 relay denied")
    assert a == b and hash(a) == hash(b) and len({a, b}) == 1 and a != postwire.Reply(550, "other")
    assert pickle.loads(pickle.dumps(a)) == a and a.enhanced == "5.7.1"
    rr = postwire.RejectedRecipient("x@example.test", a)
    assert pickle.loads(pickle.dumps(rr)) == rr and hash(rr) == hash(postwire.RejectedRecipient("x@example.test", b))
    e = postwire.ConnectError("refused", reply=a, rejected=[rr])
    e2 = pickle.loads(pickle.dumps(e))
    assert type(e2) is postwire.ConnectError and (e2.kind, e2.reply, e2.rejected) == ("connect", a, [rr])


def test_errors_are_the_builtin_families_and_star_import_shadows_nothing():
    assert issubclass(postwire.ConnectError, ConnectionError)
    assert issubclass(postwire.IoError, OSError) and issubclass(postwire.TimeoutError, TimeoutError)
    ns: dict = {}
    exec("from postwire import *", ns)
    exec("from postwire.errors import *", ns)
    assert "TimeoutError" not in ns and "Pool" in ns and "ConnectError" in ns
    with pytest.raises(ConnectionError):
        postwire.Client.connect("127.0.0.1", 1, tls="none", timeout=5)


def test_mappings_other_than_dict_are_accepted(serve):
    from types import MappingProxyType

    server, port = serve(timeouts=MappingProxyType({"command": 30.0}))
    with postwire.Client.connect("127.0.0.1", port, tls="none", timeouts=MappingProxyType({"connect": 5.0})) as c:
        assert c.noop().code == 250
    msg = postwire.compose("a@example.org", "b@example.test", "s", "t\n",
                           headers=MappingProxyType({"X-Mapped": "yes"}),
                           attachments=[MappingProxyType({"filename": "f.txt", "data": b"hi"})])
    assert b"X-Mapped: yes" in msg and b"f.txt" in msg


# ---- the server's hooks --------------------------------------------------------------------------


def test_blocking_hooks_overlap_on_worker_threads(serve):
    running = 0
    most = 0
    lock = threading.Lock()
    all_in = threading.Event()
    clients = 10

    def on_message(session, envelope, data):
        nonlocal running, most
        with lock:
            running += 1
            most = max(most, running)
            if running == 4:
                all_in.set()
        all_in.wait(10)  # blocks (GIL released) until four hooks run at once, bounded
        with lock:
            running -= 1

    server, port = serve(on_message=on_message, hook_workers=4)

    def send(i):
        with smtplib.SMTP("127.0.0.1", port, timeout=30) as s:
            s.sendmail("a@example.org", ["b@example.test"], message(subject=f"c{i}"))

    threads = [threading.Thread(target=send, args=(i,)) for i in range(clients)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert all_in.is_set(), "blocking hooks never overlapped"
    assert most == 4, f"at most hook_workers hooks at once, got {most}"
    assert server.stats["messages_accepted"] == clients


def test_hook_workers_option_is_checked():
    with pytest.raises(postwire.InvalidInputError):
        postwire.Server(hostname="mx.example.test", hook_workers=0)


def test_stop_from_a_hook_raises_instead_of_deadlocking(serve):
    errors = []
    server = None

    def on_message(session, envelope, data):
        try:
            server.stop()
        except RuntimeError as e:
            errors.append(str(e))

    async def on_rcpt_to(session, address, params):
        try:
            server.stop()
        except RuntimeError as e:
            errors.append(str(e))

    server, port = serve(on_message=on_message, on_rcpt_to=on_rcpt_to)
    with smtplib.SMTP("127.0.0.1", port, timeout=10) as s:
        s.sendmail("a@example.org", ["b@example.test"], message())
    assert len(errors) == 2 and all("own hooks" in e for e in errors)
    assert server.running


# ---- logging -------------------------------------------------------------------------------------


def test_child_loggers_record_attributes_and_levels_without_refresh(serve, caplog):
    server, port = serve()
    child = logging.getLogger("postwire.server")
    try:
        # A level change through `logging` alone (no postwire call) takes effect.
        child.setLevel(logging.INFO)
        caplog.set_level(logging.INFO, logger="postwire.server")
        with smtplib.SMTP("127.0.0.1", port, timeout=10) as s:
            s.sendmail("a@example.org", ["b@example.test"], message())
        server.stop()
        recs = [r for r in caplog.records if r.name == "postwire.server" and r.getMessage() == "message accepted"]
        assert recs, [r.getMessage() for r in caplog.records]
        r = recs[0]
        assert r.levelno == logging.INFO and r.status == "accepted" and r.to == "<b@example.test>"
        assert r.session and r.id and r.postwire_fields["from"] == "<a@example.org>"
    finally:
        child.setLevel(logging.NOTSET)
