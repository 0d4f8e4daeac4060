"""Shared fixtures for the Python binding's tests: our Server on loopback, aiosmtpd as a peer,
a test CA (trustme). Every peer is real and listens on 127.0.0.1 only."""

from __future__ import annotations

import importlib
import os
import socket
import threading
from pathlib import Path

import pytest

import postwire

ROOT = Path(__file__).resolve().parents[2]


def need(module: str):
    """Import a test peer; fail (never skip) with the fix when it is missing."""
    try:
        return importlib.import_module(module)
    except ImportError:
        pytest.fail(f"Python package {module!r} is missing: run `make deps` (or `make test-python`)")


@pytest.fixture
def serve():
    """serve(**opts) -> (server, port): a started postwire.Server on 127.0.0.1, stopped after."""
    started = []

    def make(**opts):
        opts.setdefault("hostname", "mx.example.test")
        opts.setdefault("local_domains", ["example.test"])
        s = postwire.Server(**opts)
        host, port = s.listen("127.0.0.1", 0)
        assert host == "127.0.0.1"
        s.start()
        started.append(s)
        return s, port

    yield make
    for s in started:
        s.stop()


class Recorder:
    """aiosmtpd handler storing every message; refuses recipients in `refuse` with RFC 821's
    "550 No such user here" and answers `data_reply` (when set) after DATA."""

    def __init__(self, refuse=(), data_reply=None):
        self.refuse = {a.lower() for a in refuse}
        self.data_reply = data_reply
        self.messages = []
        self.lock = threading.Lock()

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        if address.lower() in self.refuse:
            return "550 No such user here"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):
        if self.data_reply:
            return self.data_reply
        with self.lock:
            self.messages.append((envelope.mail_from, list(envelope.rcpt_tos), bytes(envelope.content)))
        return "250 2.0.0 Ok: queued as TEST42"


@pytest.fixture(scope="session")
def tls_files(tmp_path_factory):
    """(ca_pem, cert_pem, key_pem) paths: a test CA and a server certificate for 127.0.0.1."""
    trustme = need("trustme")
    d = tmp_path_factory.mktemp("tls")
    ca = trustme.CA()
    cert = ca.issue_cert("127.0.0.1", "localhost")
    ca_pem, cert_pem, key_pem = d / "ca.pem", d / "cert.pem", d / "key.pem"
    ca.cert_pem.write_to_path(str(ca_pem))
    cert.cert_chain_pems[0].write_to_path(str(cert_pem))
    for extra in cert.cert_chain_pems[1:]:
        with open(cert_pem, "ab") as f:
            f.write(extra.bytes())
    cert.private_key_pem.write_to_path(str(key_pem))
    return ca_pem, cert_pem, key_pem


@pytest.fixture
def aiosmtpd_peer(tls_files):
    """peer(handler=None, tls=False, auth=None) -> (handler, port): aiosmtpd on 127.0.0.1."""
    need("aiosmtpd")
    from aiosmtpd.controller import Controller
    from aiosmtpd.smtp import AuthResult

    controllers = []

    def make(handler=None, tls=False, auth=None):
        import ssl

        handler = handler or Recorder()
        kwargs = {}
        if tls:
            ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
            ctx.load_cert_chain(str(tls_files[1]), str(tls_files[2]))
            kwargs["tls_context"] = ctx
            kwargs["require_starttls"] = False
        if auth:
            users = dict(auth)

            def authenticator(server, session, envelope, mechanism, auth_data):
                ok = users.get(auth_data.login.decode()) == auth_data.password.decode()
                return AuthResult(success=ok, handled=False)

            kwargs["authenticator"] = authenticator
            kwargs["auth_require_tls"] = True
        c = Controller(handler, hostname="127.0.0.1", port=free_port(), server_hostname="peer.example.test", **kwargs)
        c.start()
        controllers.append(c)
        return handler, c.port

    yield make
    for c in controllers:
        c.stop()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def silent_server():
    """A TCP server on 127.0.0.1 that accepts and never says anything; yields its port."""
    srv = socket.socket()
    srv.bind(("127.0.0.1", 0))
    srv.listen(8)
    conns = []
    stop = threading.Event()

    def accept():
        srv.settimeout(0.2)
        while not stop.is_set():
            try:
                conns.append(srv.accept()[0])
            except OSError:
                continue

    t = threading.Thread(target=accept, daemon=True)
    t.start()
    yield srv.getsockname()[1]
    stop.set()
    t.join(5)
    for c in conns:
        c.close()
    srv.close()


def message(subject="Hello", body="Hi there.\r\n", extra=b""):
    return (
        f"From: a@example.org\r\nTo: b@example.test\r\nSubject: {subject}\r\n\r\n{body}".encode() + extra
    )
