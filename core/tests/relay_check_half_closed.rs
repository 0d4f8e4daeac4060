//! A deliberately half-closed server (`tests/peers/python/relay_half_closed.py`, aiosmtpd with
//! MAIL/RCPT read as written) refuses plain foreign recipients and accepts exactly one address
//! trick at a time: each trick toggled alone must make the report `open`, with exactly the probes
//! that use that trick as evidence. The server classifies the strings with its own code, so this
//! also checks that our trick labels mean what they say.

mod relay_support;

use postwire::relay_check::Verdict;
use relay_support::peer_support::python_peer;
use relay_support::{check_opts, run, with_verdict};

const TRICKS: [&str; 14] = [
    "null_sender",
    "unqualified_sender",
    "bang_sender",
    "literal_sender",
    "local_sender",
    "bare_recipient",
    "source_route",
    "quoted",
    "percent",
    "bang",
    "double_at",
    "literal_domain",
    "localhost_domain",
    "server_domain",
];

#[test]
fn fully_closed_is_closed() {
    let peer = python_peer("relay_half_closed.py", &["--accept", "none"]);
    let r = run(&check_opts(peer.port));
    assert!(!r.open && !r.inconclusive, "{:?}", r.evidence);
    assert_eq!(r.server_name.as_deref(), Some("mx.half.test"));
    let control = r.results.iter().find(|t| t.control).expect("control probe");
    assert_eq!(control.verdict, Verdict::Relayed, "postmaster@half.test is the server's own");
}

#[test]
fn each_trick_alone_is_found() {
    let mut failures = Vec::new();
    for trick in TRICKS {
        let peer = python_peer("relay_half_closed.py", &["--accept", trick]);
        let r = run(&check_opts(peer.port));
        let mut expected: Vec<String> = r
            .results
            .iter()
            .filter(|t| !t.control && t.tricks.iter().any(|x| x == trick))
            .map(|t| t.name.clone())
            .collect();
        let mut relayed = with_verdict(&r, Verdict::Relayed);
        expected.sort();
        relayed.sort();
        if expected.is_empty() {
            failures.push(format!("{trick}: no probe uses it"));
        }
        if !r.open || relayed != expected {
            failures.push(format!("{trick}: open={} relayed {relayed:?}, expected {expected:?}", r.open));
        }
        let plain = r.results.iter().find(|t| t.name == "nmap_foreign_to_foreign").expect("probe");
        if plain.verdict != Verdict::Refused {
            failures.push(format!("{trick}: the plain foreign recipient was {:?}", plain.verdict));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}
