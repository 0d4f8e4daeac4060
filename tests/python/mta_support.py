"""Fixtures of the MTA tests (routing, delivery, queue, relay check): the test DNS server
(postwire-testdns serving tests/dns/zone.json, the zone every suite resolves against) and
aiosmtpd receivers bound on the 127.0.0.x addresses the zone names. Imported by the test
modules that use them."""

from __future__ import annotations

import os
import select
import socket
import subprocess
import time
from pathlib import Path

import pytest

from conftest import ROOT, Recorder, need


def testdns_binary() -> Path:
    target = Path(os.environ.get("CARGO_TARGET_DIR") or ROOT / "target")
    exe = target / "debug" / "postwire-testdns"
    if not exe.exists():
        pytest.fail(f"{exe} is missing: run `cargo build -p postwire-testdns` (make test-python does)")
    return exe


@pytest.fixture(scope="session")
def dns():
    """The test DNS server's `ip:port`, for `nameservers=[dns]`."""
    p = subprocess.Popen([str(testdns_binary())], stdin=subprocess.PIPE, stdout=subprocess.PIPE)
    try:
        ready, _, _ = select.select([p.stdout], [], [], 30)
        line = p.stdout.readline().decode() if ready else ""
        assert line.startswith("READY "), f"postwire-testdns did not start: {line!r}"
        yield f"127.0.0.1:{int(line.split()[1])}"
    finally:
        p.stdin.close()
        try:
            p.wait(timeout=10)
        except subprocess.TimeoutExpired:
            p.kill()
            p.wait(timeout=10)


def port_free_on(*ips: str) -> int:
    """A TCP port free on every address of `ips` (the delivery port is one for every host)."""
    for _ in range(50):
        with socket.socket() as first:
            first.bind((ips[0], 0))
            port = first.getsockname()[1]
            ok = True
            for ip in ips[1:]:
                with socket.socket() as s:
                    try:
                        s.bind((ip, port))
                    except OSError:
                        ok = False
                        break
            if ok:
                return port
    pytest.fail(f"no port free on all of {ips}")


@pytest.fixture
def receiver():
    """receiver(ip, port, **Recorder args) -> Recorder: aiosmtpd on ip:port, stopped after."""
    controller_mod = need("aiosmtpd.controller")
    started = []

    def make(ip: str, port: int, handler: Recorder | None = None, **kw) -> Recorder:
        rec = handler if handler is not None else Recorder(**kw)
        c = controller_mod.Controller(rec, hostname=ip, port=port, server_hostname="aiosmtpd.test",
                                      ready_timeout=10)
        c.start()
        started.append(c)
        return rec

    yield make
    for c in started:
        c.stop()


def wait_for(check, what: str, limit: float = 20.0):
    """Poll `check()` until it is truthy (bounded); its value."""
    deadline = time.monotonic() + limit
    while True:
        v = check()
        if v:
            return v
        if time.monotonic() > deadline:
            pytest.fail(f"gave up waiting for {what}")
        time.sleep(0.05)


class Deferring(Recorder):
    """A Recorder that answers the first `defer_first` RCPTs with 451 4.3.0."""

    def __init__(self, defer_first: int = 1, **kw):
        super().__init__(**kw)
        self.defer_left = defer_first

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        with self.lock:
            if self.defer_left > 0:
                self.defer_left -= 1
                return "451 4.3.0 Try again later"
        return await super().handle_RCPT(server, session, envelope, address, rcpt_options)
