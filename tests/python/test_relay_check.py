"""postwire.check_relay against real servers on loopback (the cases of
core/tests/relay_check.rs): our own Server closed (nothing relayed) and open (relay_networks
includes 127.0.0.1: relayed), aiosmtpd accepting everything (open), the tests= subset."""

from __future__ import annotations

import asyncio
import pickle
import select
import subprocess
import sys

import pytest

import postwire
import postwire.aio
from conftest import ROOT
from mta_support import port_free_on, receiver  # noqa: F401  (fixture)

CHECK = dict(tls="none", timeout=20.0, helo="checker.client.test")


def ours(serve, open_: bool):
    opts = dict(hostname="mx.test.example", local_domains=["test.example"])
    if open_:
        opts["relay_networks"] = ["127.0.0.0/8"]
    return serve(**opts)[1]


def relayed(report):
    return [t.name for t in report.results if not t.control and t.verdict == "relayed"]


def test_our_server_closed_relays_nothing(serve):
    r = postwire.check_relay("127.0.0.1", ours(serve, False), **CHECK)
    assert isinstance(r, postwire.RelayReport)
    assert len(r.results) >= 40, len(r.results)
    assert not r.open and not r.inconclusive, r.evidence
    assert relayed(r) == [] and r.evidence == []
    assert r.server_name == "mx.test.example"
    [control] = [t for t in r.results if t.control]
    assert control.verdict == "relayed", control.transcript
    for t in r.results:
        assert any(line.startswith(" -> MAIL FROM:") for line in t.transcript), (t.name, t.transcript)
        assert " -> RSET" in t.transcript, t.name
        assert t.reply is not None, t.name
        if t.verdict == "refused":
            assert t.reply.code >= 500, (t.name, t.reply)
    plain = next(t for t in r.results if t.name == "nmap_foreign_to_foreign")
    assert plain.reply is not None and (plain.reply.code, plain.reply.enhanced) == (550, "5.7.1")
    assert plain.mail_from.startswith("<") and plain.rcpt_to.startswith("<")
    assert "relay-probe.invalid" in plain.rcpt_to, "the default probe domain"
    assert pickle.loads(pickle.dumps(r)) == r
    assert r.to_dict()["results"][0]["reply"]["code"] == r.results[0].reply.code


def test_our_server_open_relays_everything_it_can_parse(serve):
    r = postwire.check_relay("127.0.0.1", ours(serve, True), **CHECK)
    assert r.open, [(t.name, t.verdict) for t in r.results]
    assert len(relayed(r)) >= 20
    assert r.evidence == relayed(r)
    for t in r.results:
        if t.verdict != "relayed":
            # What is not relayed is refused as bad syntax, never by policy.
            assert t.reply is not None and t.reply.code in (501, 553, 555), (t.name, t.reply)
            assert t.reply.enhanced != "5.7.1", t.name


def test_aiosmtpd_accept_all_is_open(receiver):
    port = port_free_on("127.0.0.1")
    receiver("127.0.0.1", port)
    r = postwire.check_relay("127.0.0.1", port, tests="all", **CHECK)
    assert r.open and len(r.results) >= 40
    assert "nmap_foreign_to_foreign" in r.evidence
    assert r.server_name == "aiosmtpd.test"


def test_tests_selects_a_subset_and_unknown_names_are_invalid_input(serve):
    port = ours(serve, False)
    r = postwire.check_relay("127.0.0.1", port, tests=["nmap_null_sender", "external_to_internal"], **CHECK)
    assert [t.name for t in r.results] == ["nmap_null_sender", "external_to_internal"]
    one = postwire.check_relay("127.0.0.1", port, tests="nmap_null_sender", **CHECK)
    assert [t.name for t in one.results] == ["nmap_null_sender"]
    with pytest.raises(postwire.InvalidInputError, match="nmap_null_sender"):
        postwire.check_relay("127.0.0.1", port, tests=["no_such_probe"], **CHECK)
    with pytest.raises(postwire.InvalidInputError, match="probe_domian"):
        postwire.check_relay("127.0.0.1", port, probe_domian="x.test")


def test_an_unreachable_server_is_a_connect_error():
    port = port_free_on("127.0.0.1")
    with pytest.raises(postwire.ConnectError):
        postwire.check_relay("127.0.0.1", port, tests="nmap_null_sender", **CHECK)


def test_aio_check_relay(serve):
    port = ours(serve, True)

    async def main():
        return await postwire.aio.check_relay("127.0.0.1", port, tests="nmap_foreign_to_foreign", **CHECK)

    r = asyncio.run(main())
    assert r.open and r.evidence == ["nmap_foreign_to_foreign"]


# The half-closed server of tests/peers/python/relay_half_closed.py: it refuses plain foreign
# recipients and accepts exactly the one trick named by --accept (its own rules, written apart
# from the core's matrix). The same tricks as core/tests/relay_check_half_closed.rs.
TRICKS = ["null_sender", "unqualified_sender", "bang_sender", "literal_sender", "local_sender",
          "bare_recipient", "source_route", "quoted", "percent", "bang", "double_at", "literal_domain",
          "localhost_domain", "server_domain"]


@pytest.fixture
def half_closed():
    started = []

    def start(accept: str) -> int:
        script = ROOT / "tests" / "peers" / "python" / "relay_half_closed.py"
        p = subprocess.Popen([sys.executable, str(script), "--accept", accept],
                             stdin=subprocess.PIPE, stdout=subprocess.PIPE)
        started.append(p)
        ready, _, _ = select.select([p.stdout], [], [], 30)
        line = p.stdout.readline().decode() if ready else ""
        assert line.startswith("READY "), f"relay_half_closed.py did not start: {line!r}"
        return int(line.split()[1])

    yield start
    for p in started:
        p.stdin.close()
        try:
            p.wait(timeout=10)
        except subprocess.TimeoutExpired:
            p.kill()
            p.wait(timeout=10)


def test_half_closed_fully_closed_is_closed(half_closed):
    r = postwire.check_relay("127.0.0.1", half_closed("none"), **CHECK)
    assert not r.open and not r.inconclusive, r.evidence
    assert r.server_name == "mx.half.test"


@pytest.mark.parametrize("trick", TRICKS)
def test_half_closed_each_trick_alone_is_found(half_closed, trick):
    r = postwire.check_relay("127.0.0.1", half_closed(trick), **CHECK)
    expected = sorted(t.name for t in r.results if not t.control and trick in t.tricks)
    assert expected, f"no probe uses {trick}"
    assert r.open and sorted(relayed(r)) == expected
    plain = next(t for t in r.results if t.name == "nmap_foreign_to_foreign")
    assert plain.verdict == "refused"
