"""The shared protocol vectors (tests/vectors/*.json) through the binding: Python must get the
results the Rust suite gets (see tests/vectors/README.md for the format)."""

from __future__ import annotations

import json

import pytest

import postwire
from postwire import _postwire as ext
from conftest import ROOT


def load(name):
    vectors = json.loads((ROOT / "tests" / "vectors" / name).read_text(encoding="utf-8"))
    assert vectors, f"{name}: no vectors"
    return vectors


def check_subset(what, expect, actual):
    for k, v in expect.items():
        assert k in actual, f"{what}: {k} missing in {actual}"
        assert actual[k] == v, f"{what}: {k}: expected {v!r}, got {actual[k]!r}"


def test_command_vectors():
    failures = []
    for i, v in enumerate(load("commands.json")):
        line = v["line"].encode() if "line" in v else bytes.fromhex(v["line_hex"])
        got = ext.parse_command(line, strict=v.get("strict", False), smtputf8=v.get("smtputf8", False))
        what = f"#{i} {line!r}"
        try:
            if "expect" in v:
                assert isinstance(got, dict), f"{what}: expected a command, got {got!r}"
                check_subset(what, v["expect"], got)
            else:
                assert isinstance(got, postwire.Reply), f"{what}: expected an error, got {got!r}"
                check_subset(what, v["error"], {"code": got.code, "enhanced": got.enhanced})
        except AssertionError as e:
            failures.append(str(e))
    assert not failures, "\n".join(failures)


def test_reply_vectors():
    failures = []
    for i, v in enumerate(load("replies.json")):
        wire = v["wire"].encode()
        what = f"#{i} {v.get('name')}"
        try:
            if "build" in v:
                b = v["build"]
                r = postwire.Reply(b["code"], b["text"], enhanced=b["enhanced"])
                parsed = ext.parse_reply(wire)
                assert parsed is not None and parsed[0] == r and parsed[1] == len(wire), f"{what}: {parsed!r}"
                continue
            limits = v.get("limits", {"max_line": 4096, "max_lines": 128})
            if v.get("error"):
                with pytest.raises(postwire.ProtocolError):
                    ext.parse_reply(wire, **limits)
                continue
            got = ext.parse_reply(wire, **limits)
            if v.get("incomplete"):
                assert got is None, f"{what}: expected incomplete, got {got!r}"
                continue
            assert got is not None, f"{what}: incomplete"
            r, n = got
            check_subset(what, v["expect"], {"code": r.code, "enhanced": r.enhanced, "lines": r.lines, "consumed": n})
        except (AssertionError, pytest.fail.Exception) as e:
            failures.append(f"{what}: {e}")
    assert not failures, "\n".join(failures)


def test_address_vectors():
    failures = []
    for i, v in enumerate(load("addresses.json")):
        what = f"#{i} {v['input']!r} kind={v['kind']}"
        try:
            got = ext.parse_address(v["input"], v["kind"], strict=v.get("strict", False), smtputf8=v.get("smtputf8", False))
        except postwire.InvalidInputError as e:
            if "expect" in v:
                failures.append(f"{what}: error {e}")
            continue
        if "expect" not in v:
            failures.append(f"{what}: expected an error, got {got}")
            continue
        try:
            check_subset(what, v["expect"], got)
        except AssertionError as e:
            failures.append(str(e))
    assert not failures, "\n".join(failures)


def test_relay_probe_vectors():
    """relay_probes.json: the probe matrix, reply verdicts and summaries, as Rust, Node and C
    get them."""
    v = load("relay_probes.json")
    c = dict(v["context"])
    ours = postwire.relay_probes(c.pop("ip"), **c)
    assert len(v["probes"]) >= 40
    assert [(p.name, p.mail_from, p.rcpt_to, p.tricks, p.control) for p in ours] == [
        (p["name"], p["mail_from"], p["rcpt_to"], p["tricks"], p["control"]) for p in v["probes"]
    ]
    for x in v["verdicts"]:
        assert postwire.relay_verdict(postwire.Reply(x["code"], x["text"])) == x["verdict"], x
    for x in v["summaries"]:
        assert postwire.relay_summary(x["verdicts"]) == {"open": x["open"], "inconclusive": x["inconclusive"]}, x


def test_relay_probes_left_out_context_takes_the_checkers_defaults():
    """The same partial context gives the same matrix in every runtime: what is left out is the
    checker's default (the Node and C suites assert the same)."""
    full = postwire.relay_probes("192.0.2.7", domain="relay-probe.invalid", from_user="antispam", to_user="relaytest")
    assert postwire.relay_probes("192.0.2.7") == full
    assert any("relaytest%relay-probe.invalid@[192.0.2.7]" in p.rcpt_to for p in full), full[:3]
    with pytest.raises(postwire.InvalidInputError):
        postwire.relay_probes("not-an-ip")
    with pytest.raises(postwire.InvalidInputError):
        postwire.relay_summary(["relayed", "maybe"])
