//! `resolve=true`: forward-confirmed reverse DNS of each hop's client address, looked up through
//! the test DNS server. `tests/dns/zone.json` uses documentation addresses for it (resolvers
//! answer loopback reverse lookups with `localhost` themselves): 192.0.2.41 has a PTR name that
//! resolves back, 192.0.2.42 a PTR name that resolves elsewhere, 192.0.2.43 no PTR at all.

use postwire::trace::{analyze_offline, analyze_received, TraceOptions};
use postwire_testdns::TestDns;

const MESSAGE: &[u8] = b"Received: from c.trace.test (c.trace.test [192.0.2.43])\r\n\
\tby mx3.trace.test with ESMTP id C; Tue, 1 Dec 2026 10:00:02 +0000\r\n\
Received: from b.trace.test (b.trace.test [192.0.2.42])\r\n\
\tby c.trace.test with ESMTP id B; Tue, 1 Dec 2026 10:00:01 +0000\r\n\
Received: from a.trace.test (good.trace.test [192.0.2.41])\r\n\
\tby b.trace.test with ESMTP id A; Tue, 1 Dec 2026 10:00:00 +0000\r\n\
Subject: traced\r\n\r\nbody\r\n";

fn fcrdns_findings(a: &postwire::trace::TraceAnalysis) -> Vec<Option<usize>> {
    a.findings.iter().filter(|f| f.kind == "fcrdns_failed").map(|f| f.hop).collect()
}

#[tokio::test]
async fn resolve_confirms_reverse_dns_through_the_nameservers() {
    let dns = TestDns::start().expect("test DNS server");
    let opts = TraceOptions {
        resolve: true,
        nameservers: Some(vec![dns.nameserver()]),
        now: Some(1_796_119_200), // 2026-12-01T10:00:00Z: the dates are not in the future
        ..Default::default()
    };
    let a = analyze_received(MESSAGE, &opts).await.expect("analysis");
    let seen: Vec<_> = a
        .hops
        .iter()
        .map(|h| (h.from_ip.map(|ip| ip.to_string()), h.resolved_rdns.clone(), h.fcrdns))
        .collect();
    assert_eq!(
        seen,
        [
            (Some("192.0.2.41".into()), Some("good.trace.test".into()), Some(true)),
            (Some("192.0.2.42".into()), Some("liar.trace.test".into()), Some(false)),
            (Some("192.0.2.43".into()), None, Some(false)),
        ]
    );
    assert_eq!(fcrdns_findings(&a), [Some(1), Some(2)]);
    // The name hop 1's line gives its client ("b.trace.test") is not what the address resolves
    // to now.
    assert!(
        a.findings.iter().any(|f| f.kind == "helo_mismatch"
            && f.hop == Some(1)
            && f.evidence.iter().any(|e| e == "rdns_now=liar.trace.test")),
        "{:#?}",
        a.findings
    );
}

#[tokio::test]
async fn without_resolve_nothing_is_looked_up() {
    let opts = TraceOptions { now: Some(1_796_119_200), ..Default::default() };
    let a = analyze_received(MESSAGE, &opts).await.expect("analysis");
    assert!(a.hops.iter().all(|h| h.fcrdns.is_none() && h.resolved_rdns.is_none()));
    assert!(fcrdns_findings(&a).is_empty());
    assert_eq!(a, analyze_offline(MESSAGE, &opts), "the offline analysis is the same without resolve");
}
