"""postwire.analyze_received / parse_received: the same vectors as the Rust suite
(core/tests/trace_corpus.rs, trace_vectors.rs, trace_resolve.rs) — the 181 real headers of
tests/vectors/received-stalwart-expected.json field for field (the expected values are built and
corrected in trace_corpus.rs only), the shared tests/vectors/received.json cases, and
resolve=True through the test DNS server."""

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


# The vector's field names are the core's JSON ones (the Rust test, C's `pw_received_to_json`);
# `from` and `with` are Python keywords, so the attributes are `from_` and `with_`.
_ATTR = {"from": "from_", "with": "with_"}


def test_stalwart_corpus_parses_field_for_field():
    cases = json.loads((ROOT / "tests/vectors/received-stalwart-expected.json").read_text())
    assert len(cases) == 181
    failures = []
    for i, c in enumerate(cases):
        got = postwire.parse_received(c["header"])
        assert isinstance(got, postwire.ReceivedLine)
        for name, want in c["expected"].items():
            have = getattr(got, _ATTR.get(name, name))
            if have != want:
                failures.append(f"#{i} {name}: got {have!r}, expected {want!r} in {c['header']!r}")
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
