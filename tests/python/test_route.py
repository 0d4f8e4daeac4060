"""postwire.resolve_mx against the test DNS server (tests/dns/zone.json): the cases of
core/tests/route_resolve.rs — CNAME chain, implicit MX, null MX, NXDOMAIN, SERVFAIL, CNAME loop
and overlong chain, equal preferences over seeds, own host, MX target that is a CNAME."""

from __future__ import annotations

import asyncio
import pickle

import pytest

import postwire
import postwire.aio
from mta_support import dns  # noqa: F401  (fixture)


def test_cname_chain_is_followed_and_reported_and_mx_sorted(dns):
    route = postwire.resolve_mx("chain.abc.test", nameservers=[dns])
    assert isinstance(route, postwire.Route)
    assert route.domain == "chain.abc.test"
    assert route.cname_chain == ["sh.abc.test", "shmail.abc.test"]
    assert route.canonical == "shmail.abc.test"
    assert not route.implicit and not route.null_mx
    assert [(h.preference, h.exchange) for h in route.hosts] == [(5, "shmail.abc.test"), (10, "shmail2.abc.test")]
    assert route.hosts[0].addresses == ["127.0.0.2", "::1"]
    assert route.hosts[1].addresses == ["127.0.0.3"]
    text = [str(s) for s in route.explanation]
    assert any("sh.abc.test CNAME shmail.abc.test" in line for line in text), text
    assert any(s.kind == "query" and "MX shmail.abc.test" in s.detail for s in route.explanation), text
    d = route.to_dict()
    assert set(d) >= {"domain", "canonical", "cname_chain", "hosts", "implicit", "null_mx", "explanation"}
    assert d["hosts"][0]["exchange"] == "shmail.abc.test"
    assert pickle.loads(pickle.dumps(route)) == route
    assert repr(route).startswith("Route(domain='chain.abc.test'")


def test_no_mx_means_the_domain_itself_implicit_mx(dns):
    route = postwire.resolve_mx("implicit.test", nameservers=[dns])
    assert route.implicit
    assert [(h.preference, h.exchange, h.addresses) for h in route.hosts] == [
        (0, "implicit.test", ["127.0.0.4", "::1"])
    ]


def test_null_mx_is_reported_with_no_hosts(dns):
    route = postwire.resolve_mx("nullmx.test", nameservers=[dns])
    assert route.null_mx
    assert route.hosts == []


def test_nxdomain_is_a_permanent_dns_error(dns):
    with pytest.raises(postwire.DnsError) as e:
        postwire.resolve_mx("nope.test", nameservers=[dns])
    assert e.value.reply is not None and e.value.reply.is_permanent


def test_servfail_is_a_transient_dns_error(dns):
    with pytest.raises(postwire.DnsError) as e:
        postwire.resolve_mx("servfail.test", nameservers=[dns])
    assert e.value.reply is not None and e.value.reply.is_transient
    assert "SERVFAIL" in str(e.value)


def test_cname_loop_and_overlong_chain_are_detected(dns):
    with pytest.raises(postwire.DnsError, match="CNAME loop"):
        postwire.resolve_mx("loop1.test", nameservers=[dns])
    with pytest.raises(postwire.DnsError, match="longer than 8"):
        postwire.resolve_mx("deep0.test", nameservers=[dns])
    route = postwire.resolve_mx("deep0.test", nameservers=[dns], max_cname_chain=12)
    assert len(route.cname_chain) == 10 and route.canonical == "deep10.test"


def test_equal_preferences_come_in_every_order_over_seeds_and_a_seed_repeats(dns):
    orders = set()
    for seed in range(60):
        names = [h.exchange for h in postwire.resolve_mx("equal.test", nameservers=[dns], seed=seed).hosts]
        assert len(names) == 4 and names[3] == "d.equal.test", names
        orders.add(tuple(names[:3]))
        if len(orders) == 6:
            break
    assert len(orders) == 6, orders
    a = postwire.resolve_mx("equal.test", nameservers=[dns], seed=3)
    b = postwire.resolve_mx("equal.test", nameservers=[dns], seed=3)
    assert a.hosts == b.hosts


def test_own_host_drops_itself_and_every_worse_preference(dns):
    route = postwire.resolve_mx("self.test", nameservers=[dns], own_hostnames=["MX.self.test"])
    assert [h.exchange for h in route.hosts] == ["other1.self.test"]
    assert any(s.kind == "skip" and "other3.self.test" in s.detail for s in route.explanation)
    with pytest.raises(postwire.DnsError, match="loops back to myself") as e:
        postwire.resolve_mx("selfonly.test", nameservers=[dns], own_hostnames=["mx.self.test"])
    assert e.value.reply is not None and e.value.reply.is_permanent


def test_an_mx_target_that_is_a_cname_is_tolerated_and_flagged(dns):
    route = postwire.resolve_mx("cnametarget.test", nameservers=[dns])
    h = route.hosts[0]
    assert (h.exchange, h.cname, h.addresses) == ("alias.cnametarget.test", "real.cnametarget.test", ["127.0.0.5"])


def test_an_exchanger_without_address_is_skipped_and_explained(dns):
    route = postwire.resolve_mx("noaddr.test", nameservers=[dns])
    assert [h.exchange for h in route.hosts] == ["mx.noaddr.test"]
    assert any(s.kind == "skip" and "gone.noaddr.test" in s.detail for s in route.explanation)


def test_bad_input_is_invalid_input(dns):
    for bad in ["", "a..b", "bad domain.test", "x@y.test"]:
        with pytest.raises(postwire.InvalidInputError):
            postwire.resolve_mx(bad, nameservers=[dns])
    with pytest.raises(postwire.InvalidInputError):
        postwire.resolve_mx("chain.abc.test", nameservers=["nope"])
    with pytest.raises(postwire.InvalidInputError, match="nameserver"):
        postwire.resolve_mx("chain.abc.test", nameserver=[dns])
    route = postwire.resolve_mx("[127.0.0.9]", nameservers=[dns])
    assert route.hosts[0].addresses == ["127.0.0.9"]


def test_aio_resolve_mx(dns):
    async def main():
        route = await postwire.aio.resolve_mx("chain.abc.test", nameservers=[dns])
        with pytest.raises(postwire.DnsError):
            await postwire.aio.resolve_mx("nope.test", nameservers=[dns])
        return route

    route = asyncio.run(main())
    assert route.hosts == postwire.resolve_mx("chain.abc.test", nameservers=[dns]).hosts
