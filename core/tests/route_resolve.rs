//! `resolve_mx` against a real DNS server on 127.0.0.1 (postwire-testdns serving
//! `tests/dns/zone.json`): every branch of RFC 5321 §5.1 and RFC 7505 routing.

use std::collections::HashSet;
use std::net::IpAddr;

use postwire::route::{resolve_mx, MxResolver, ResolveOptions, StepKind};
use postwire::ErrorKind;
use postwire_testdns::TestDns;

fn dns() -> TestDns {
    TestDns::start().expect("test DNS server")
}

fn resolver(dns: &TestDns, f: impl FnOnce(&mut ResolveOptions)) -> MxResolver {
    let mut o = ResolveOptions::with_nameservers(vec![dns.nameserver()]);
    f(&mut o);
    MxResolver::new(o).expect("resolver")
}

fn ip(s: &str) -> IpAddr {
    s.parse().unwrap()
}

#[tokio::test]
async fn cname_chain_is_followed_and_reported_and_mx_sorted() {
    let dns = dns();
    let ns = [dns.nameserver()];
    let route = resolve_mx("chain.abc.test", Some(&ns)).await.expect("route");
    assert_eq!(route.domain, "chain.abc.test");
    assert_eq!(route.cname_chain, ["sh.abc.test", "shmail.abc.test"]);
    assert_eq!(route.canonical, "shmail.abc.test");
    assert!(!route.implicit && !route.null_mx);
    let hosts: Vec<(u16, &str)> = route.hosts.iter().map(|h| (h.preference, h.exchange.as_str())).collect();
    assert_eq!(hosts, [(5, "shmail.abc.test"), (10, "shmail2.abc.test")]);
    assert_eq!(route.hosts[0].addresses, [ip("127.0.0.2"), ip("::1")], "A and AAAA");
    assert_eq!(route.hosts[1].addresses, [ip("127.0.0.3")]);
    let text: Vec<String> = route.explanation.iter().map(|s| s.to_string()).collect();
    assert!(text.iter().any(|l| l.contains("sh.abc.test CNAME shmail.abc.test")), "{text:#?}");
    assert!(text.iter().any(|l| l.starts_with("query") && l.contains("MX shmail.abc.test")), "{text:#?}");
    // The JSON form names every field of the API contract.
    let json = serde_json::to_value(&route).unwrap();
    for k in ["domain", "canonical", "cname_chain", "hosts", "implicit", "null_mx", "explanation"] {
        assert!(json.get(k).is_some(), "{k} missing in {json}");
    }
}

#[tokio::test]
async fn no_mx_means_the_domain_itself_implicit_mx() {
    let dns = dns();
    let route = resolver(&dns, |_| {}).resolve("implicit.test").await.expect("route");
    assert!(route.implicit);
    assert_eq!(route.hosts.len(), 1);
    assert_eq!(route.hosts[0].exchange, "implicit.test");
    assert_eq!(route.hosts[0].preference, 0);
    assert_eq!(route.hosts[0].addresses, [ip("127.0.0.4"), ip("::1")]);
}

#[tokio::test]
async fn null_mx_is_reported_with_no_hosts() {
    let dns = dns();
    let route = resolver(&dns, |_| {}).resolve("nullmx.test").await.expect("route");
    assert!(route.null_mx);
    assert!(route.hosts.is_empty(), "the A record of a null-MX domain is not used");
}

#[tokio::test]
async fn nxdomain_is_a_permanent_dns_error() {
    let dns = dns();
    let e = resolver(&dns, |_| {}).resolve("nope.test").await.unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Dns);
    assert!(e.reply().expect("reply").is_permanent(), "{e}");
}

#[tokio::test]
async fn servfail_is_a_transient_dns_error() {
    let dns = dns();
    let e = resolver(&dns, |_| {}).resolve("servfail.test").await.unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Dns);
    assert!(e.reply().expect("reply").is_transient(), "{e}");
    assert!(e.message().contains("SERVFAIL"), "{e}");
}

#[tokio::test]
async fn a_dead_nameserver_is_a_transient_dns_error() {
    // A UDP port with nothing behind it: refused or timed out, never an answer.
    let free = std::net::UdpSocket::bind("127.0.0.1:0").unwrap().local_addr().unwrap();
    let o = ResolveOptions {
        query_timeout: std::time::Duration::from_millis(300),
        ..ResolveOptions::with_nameservers(vec![free.to_string()])
    };
    let e = MxResolver::new(o).unwrap().resolve("shmail.abc.test").await.unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Dns);
    assert!(e.reply().expect("reply").is_transient(), "{e}");
}

#[tokio::test]
async fn cname_loop_and_overlong_chain_are_detected() {
    let dns = dns();
    let r = resolver(&dns, |_| {});
    let (res, steps) = r.resolve_explained("loop1.test").await;
    let e = res.unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Dns);
    assert!(e.message().contains("CNAME loop"), "{e}");
    assert!(steps.iter().filter(|s| s.kind == StepKind::Query).count() <= 3, "{steps:?}");
    let e = r.resolve("deep0.test").await.unwrap_err();
    assert!(e.message().contains("longer than 8"), "{e}");
    // With a longer cap the same chain resolves.
    let long = resolver(&dns, |o| o.max_cname_chain = 12).resolve("deep0.test").await.expect("route");
    assert_eq!(long.cname_chain.len(), 10);
    assert_eq!(long.canonical, "deep10.test");
}

#[tokio::test]
async fn equal_preferences_come_in_every_order_over_seeds_and_a_seed_repeats() {
    let dns = dns();
    let mut orders = HashSet::new();
    for seed in 0..60u64 {
        let route = resolver(&dns, |o| o.seed = Some(seed)).resolve("equal.test").await.expect("route");
        let names: Vec<&str> = route.hosts.iter().map(|h| h.exchange.as_str()).collect();
        assert_eq!(names.len(), 4);
        assert_eq!(names[3], "d.equal.test", "preference 20 stays last");
        orders.insert(names[..3].join(","));
        if orders.len() == 6 {
            break;
        }
    }
    assert_eq!(orders.len(), 6, "all 3! orders of the preference-10 hosts: {orders:?}");
    let a = resolver(&dns, |o| o.seed = Some(3)).resolve("equal.test").await.unwrap();
    let b = resolver(&dns, |o| o.seed = Some(3)).resolve("equal.test").await.unwrap();
    assert_eq!(a.hosts, b.hosts);
}

#[tokio::test]
async fn own_host_drops_itself_and_every_worse_preference() {
    let dns = dns();
    let r = resolver(&dns, |o| o.own_hostnames = vec!["MX.self.test".into()]);
    let route = r.resolve("self.test").await.expect("route");
    let names: Vec<&str> = route.hosts.iter().map(|h| h.exchange.as_str()).collect();
    assert_eq!(names, ["other1.self.test"]);
    assert!(route
        .explanation
        .iter()
        .any(|s| s.kind == StepKind::Skip && s.detail.contains("other3.self.test")));
    let e = r.resolve("selfonly.test").await.unwrap_err();
    assert!(e.message().contains("loops back to myself"), "{e}");
    assert!(e.reply().unwrap().is_permanent());
    // The same by address.
    let by_addr = resolver(&dns, |o| o.own_addresses = vec![ip("127.0.0.22")]);
    let route = by_addr.resolve("self.test").await.expect("route");
    assert_eq!(route.hosts.len(), 1);
}

#[tokio::test]
async fn an_mx_target_that_is_a_cname_is_tolerated_and_flagged() {
    let dns = dns();
    let route = resolver(&dns, |_| {}).resolve("cnametarget.test").await.expect("route");
    assert_eq!(route.hosts[0].exchange, "alias.cnametarget.test");
    assert_eq!(route.hosts[0].cname.as_deref(), Some("real.cnametarget.test"));
    assert_eq!(route.hosts[0].addresses, [ip("127.0.0.5")]);
}

#[tokio::test]
async fn an_exchanger_without_address_is_skipped_and_explained() {
    let dns = dns();
    let route = resolver(&dns, |_| {}).resolve("noaddr.test").await.expect("route");
    let names: Vec<&str> = route.hosts.iter().map(|h| h.exchange.as_str()).collect();
    assert_eq!(names, ["mx.noaddr.test"]);
    assert!(route
        .explanation
        .iter()
        .any(|s| s.kind == StepKind::Skip && s.detail.contains("gone.noaddr.test")));
}

#[tokio::test]
async fn bad_input_is_invalid_input_and_address_literals_need_no_dns() {
    let dns = dns();
    let r = resolver(&dns, |_| {});
    for bad in ["", "a..b", "bad domain.test", "x@y.test"] {
        assert_eq!(r.resolve(bad).await.unwrap_err().kind(), ErrorKind::InvalidInput, "{bad:?}");
    }
    let route = r.resolve("[127.0.0.9]").await.expect("literal");
    assert_eq!(route.hosts[0].addresses, [ip("127.0.0.9")]);
    assert_eq!(
        MxResolver::new(ResolveOptions::with_nameservers(vec!["nope".into()])).unwrap_err().kind(),
        ErrorKind::InvalidInput
    );
}
