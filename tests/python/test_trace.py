"""postwire.analyze_received / parse_received: the same vectors as the Rust suite
(core/tests/trace_corpus.rs, trace_vectors.rs, trace_resolve.rs) — the 181 real headers of
tests/vectors/received-stalwart.json field for field, the shared tests/vectors/received.json
cases, and resolve=True through the test DNS server."""

from __future__ import annotations

import asyncio
import email
import json
import pickle

import pytest

import postwire
import postwire.aio
from conftest import ROOT
from mta_support import dns  # noqa: F401  (fixture)


def _host(v):
    if not isinstance(v, dict):
        return None
    return v.get("Name") or v.get("IpAddr")


def _tls(v):
    return v.replace("_", ".", 1) if isinstance(v, str) else None


def _date(v):
    if v is None:
        return None
    th, tm = v.get("tz_hour", 0), v.get("tz_minute", 0)
    zone = "Z" if th == 0 and tm == 0 else f"{'-' if v.get('tz_before_gmt') else '+'}{th:02}:{tm:02}"
    return (f"{v['year']:04}-{v['month']:02}-{v['day']:02}T{v['hour']:02}:{v['minute']:02}:"
            f"{v['second']:02}{zone}")


# Where the corpus records mail-parser's own misreading and the line says otherwise (asctime
# dates, obsolete zone names, a date after a missing `;`): the same list as trace_corpus.rs.
DATE_CORRECTIONS = {
    13: "2003-02-07T10:18:12-08:00",
    67: "2003-02-12T14:22:21-08:00",
    69: "2003-02-20T16:13:20-07:00",
    117: "2005-11-13T14:50:12Z",
    118: "2005-11-13T15:38:52Z",
    151: "2018-09-14T14:36:56-04:00",
    163: "2006-06-02T08:15:21-07:00",
}


def test_stalwart_corpus_parses_field_for_field():
    cases = json.loads((ROOT / "tests/vectors/received-stalwart.json").read_text())
    assert len(cases) == 181
    failures = []
    for i, c in enumerate(cases):
        e = c["expected"]
        got = postwire.parse_received(c["header"])
        assert isinstance(got, postwire.ReceivedLine)
        want_date = DATE_CORRECTIONS.get(i, _date(e.get("date")))
        if i in DATE_CORRECTIONS:
            assert _date(e.get("date")) != want_date, f"#{i} is no longer a correction"
        helo_cmd = e.get("helo_cmd")
        pairs = [
            ("from", _host(e.get("from")), got.from_),
            ("from_ip", e.get("from_ip"), got.from_ip),
            ("from_iprev", e.get("from_iprev"), got.from_iprev),
            ("by", _host(e.get("by")), got.by),
            ("for_", e.get("for_"), got.for_),
            ("with", e.get("with"), got.with_),
            ("tls_version", _tls(e.get("tls_version")), got.tls_version),
            ("tls_cipher", e.get("tls_cipher"), got.tls_cipher),
            ("id", e.get("id"), got.id),
            ("ident", e.get("ident"), got.ident),
            ("helo", _host(e.get("helo")), got.helo),
            ("helo_cmd", helo_cmd.upper() if isinstance(helo_cmd, str) else None, got.helo_cmd),
            ("via", e.get("via"), got.via),
            ("date", want_date, got.date),
        ]
        failures += [f"#{i} {n}: got {g!r}, expected {w!r}" for n, w, g in pairs if w != g]
    assert not failures, "\n".join(failures)


def test_received_vectors():
    cases = json.loads((ROOT / "tests/vectors/received.json").read_text())
    assert len(cases) >= 10
    failures = []
    for c in cases:
        name, e = c["name"], c["expect"]
        a = postwire.analyze_received(c["message"], trusted_hosts=c.get("trusted_hosts") or [], now=c.get("now"))
        if len(a.hops) != e["hops"]:
            failures.append(f"{name}: {len(a.hops)} hops, expected {e['hops']}")
            continue
        if a.suspicious != e["suspicious"]:
            failures.append(f"{name}: suspicious = {a.suspicious}; {a.findings}")
        got = sorted(f"{f.kind}@{'-' if f.hop is None else f.hop}" for f in a.findings)
        if got != sorted(e["findings"]):
            failures.append(f"{name}: findings {got}, expected {sorted(e['findings'])}")
        for hf in e.get("hop_fields", []):
            hop = a.hops[hf["index"]]
            for k, want in hf.items():
                if k != "index" and getattr(hop, k) != want:
                    failures.append(f"{name}: hop {hf['index']} {k} = {getattr(hop, k)!r}, expected {want!r}")
    assert not failures, "\n".join(failures)


MESSAGE = (
    b"Received: from c.trace.test (c.trace.test [192.0.2.43])\r\n"
    b"\tby mx3.trace.test with ESMTP id C; Tue, 1 Dec 2026 10:00:02 +0000\r\n"
    b"Received: from b.trace.test (b.trace.test [192.0.2.42])\r\n"
    b"\tby c.trace.test with ESMTP id B; Tue, 1 Dec 2026 10:00:01 +0000\r\n"
    b"Received: from a.trace.test (good.trace.test [192.0.2.41])\r\n"
    b"\tby b.trace.test with ESMTP id A; Tue, 1 Dec 2026 10:00:00 +0000\r\n"
    b"Subject: traced\r\n\r\nbody\r\n"
)
NOW = 1_796_119_200  # 2026-12-01T10:00:00Z


def test_resolve_confirms_reverse_dns_through_the_nameservers(dns):
    a = postwire.analyze_received(MESSAGE, resolve=True, nameservers=[dns], now=NOW)
    assert [(h.from_ip, h.resolved_rdns, h.fcrdns) for h in a.hops] == [
        ("192.0.2.41", "good.trace.test", True),
        ("192.0.2.42", "liar.trace.test", False),
        ("192.0.2.43", None, False),
    ]
    assert [f.hop for f in a.findings if f.kind == "fcrdns_failed"] == [1, 2]
    assert any(f.kind == "helo_mismatch" and f.hop == 1 and "rdns_now=liar.trace.test" in f.evidence
               for f in a.findings), a.findings


def test_hops_in_path_order_and_every_message_form():
    a = postwire.analyze_received(MESSAGE, now=NOW)
    assert isinstance(a, postwire.TraceAnalysis)
    assert [(h.from_helo, h.by_host, h.id, h.with_protocol) for h in a.hops] == [
        ("a.trace.test", "b.trace.test", "A", "ESMTP"),
        ("b.trace.test", "c.trace.test", "B", "ESMTP"),
        ("c.trace.test", "mx3.trace.test", "C", "ESMTP"),
    ]
    assert [h.delay for h in a.hops] == [None, 1.0, 1.0]
    assert all(h.fcrdns is None for h in a.hops), "nothing looked up without resolve"
    assert a.hops[0].line.from_ == "a.trace.test"
    # str, bytearray and email.message.Message give the same analysis.
    assert postwire.analyze_received(MESSAGE.decode(), now=NOW) == a
    assert postwire.analyze_received(bytearray(MESSAGE), now=NOW) == a
    assert postwire.analyze_received(email.message_from_bytes(MESSAGE), now=NOW).hops[2].id == "C"
    assert pickle.loads(pickle.dumps(a)) == a
    d = a.to_dict()
    assert d["hops"][0]["from_ip"] == "192.0.2.41" and d["hops"][0]["line"]["by"] == "b.trace.test"
    assert repr(a).startswith("TraceAnalysis(hops=[Hop(")


def test_no_received_lines_and_bad_input():
    a = postwire.analyze_received(b"Subject: none\r\n\r\nbody\r\n")
    assert (a.hops, a.findings, a.suspicious) == ([], [], False)
    nested = b"Received: from x " + b"(" * 200_000 + b" by y; Tue, 1 Dec 2026 10:00:00 +0000\r\n\r\n"
    assert len(postwire.analyze_received(nested).hops) == 1
    line = postwire.parse_received("from x by y")
    assert "no_date" in line.defects
    with pytest.raises(postwire.InvalidInputError, match="trusted_host"):
        postwire.analyze_received(MESSAGE, trusted_host=["x"])
    with pytest.raises(postwire.InvalidInputError):
        postwire.analyze_received(MESSAGE, resolve=True, nameservers=["nope"])
    with pytest.raises(postwire.InvalidInputError):
        postwire.analyze_received(12)  # type: ignore[arg-type]


def test_aio_analyze_received(dns):
    async def main():
        return await postwire.aio.analyze_received(MESSAGE, resolve=True, nameservers=[dns], now=NOW)

    a = asyncio.run(main())
    assert a == postwire.analyze_received(MESSAGE, resolve=True, nameservers=[dns], now=NOW)
