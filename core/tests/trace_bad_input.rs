//! Hostile `Received:` input: a megabyte of nested comments or brackets parses in linear time
//! (checked by doubling the input under a hard limit that a quadratic parser would blow through,
//! never by asserting on elapsed time), nothing panics (proptest), and no `Received:` lines is
//! zero hops and no error.

use std::sync::mpsc;
use std::time::Duration;

use postwire::trace::{analyze_offline, analyze_received, parse_received_value, TraceOptions};
use proptest::prelude::*;

/// Run `f` on its own thread; fail the test if it has not finished within `limit` (a hang guard
/// for a super-linear parser, not a measurement).
fn within<T: Send + 'static>(limit: Duration, f: impl FnOnce() -> T + Send + 'static) -> T {
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        let _ = tx.send(f());
    });
    rx.recv_timeout(limit).expect("the parser did not finish: super-linear on this input?")
}

fn hostile(mb: usize, open: &str, close: &str) -> Vec<u8> {
    let n = mb * 1024 * 1024 / 2;
    let mut m = b"Received: from a.example ".to_vec();
    m.extend(open.repeat(n).as_bytes());
    m.extend(close.repeat(n).as_bytes());
    m.extend(b" by b.example with ESMTP id 1; Mon, 02 Oct 2023 10:00:00 +0000\r\nSubject: x\r\n\r\nbody\r\n");
    m
}

#[test]
fn megabytes_of_nesting_parse_in_linear_time() {
    // 1 MB and 2 MB of each shape: at O(n²) the 2 MB inputs alone would be ~10^12 steps, far
    // beyond the limit; at O(n) both finish in well under a second.
    for (open, close) in [("(", ")"), ("[", "]"), ("<", ">"), ("(\\", ")")] {
        for mb in [1, 2] {
            let m = hostile(mb, open, close);
            let a = within(Duration::from_secs(120), move || analyze_offline(&m, &TraceOptions::default()));
            assert_eq!(a.hops.len(), 1, "{open}{close} × {mb} MB");
            // Unbalanced: only openers.
            let mut only_open = b"Received: ".to_vec();
            only_open.extend(open.repeat(mb * 1024 * 1024).as_bytes());
            let l = within(Duration::from_secs(120), move || parse_received_value(&only_open));
            assert!(!l.defects.is_empty());
        }
    }
}

#[test]
fn no_received_lines_is_zero_hops() {
    for m in [&b""[..], b"\r\n\r\n", b"Subject: x\r\n\r\nReceived: in the body, not a header\r\n", b"garbage"]
    {
        let a = analyze_offline(m, &TraceOptions::default());
        assert!(a.hops.is_empty(), "{m:?}");
        assert!(!a.suspicious);
    }
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    let a = rt.block_on(analyze_received(b"Subject: x\r\n\r\n", &TraceOptions::default())).expect("no error");
    assert!(a.hops.is_empty() && a.findings.is_empty());
}

#[test]
fn a_bad_nameserver_is_invalid_input() {
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    let opts = TraceOptions { resolve: true, nameservers: Some(vec!["nope".into()]), ..Default::default() };
    let e =
        rt.block_on(analyze_received(b"Received: from a by b; Mon, 02 Oct 2023 10:00:00 +0000\r\n", &opts));
    assert_eq!(e.unwrap_err().kind(), postwire::ErrorKind::InvalidInput);
}

fn received_ish() -> impl Strategy<Value = String> {
    let atom = prop_oneof![
        Just("from ".to_string()),
        Just("by ".to_string()),
        Just("with ESMTPS ".to_string()),
        Just("id x1 ".to_string()),
        Just("for <a@b> ".to_string()),
        Just("(".to_string()),
        Just(")".to_string()),
        Just("[".to_string()),
        Just("]".to_string()),
        Just("[IPv6:2001:db8::1%eth0]:25 ".to_string()),
        Just("[192.0.2.1] ".to_string()),
        Just("; ".to_string()),
        Just("Mon, 02 Oct 2023 10:00:00 +0000".to_string()),
        Just("Sun Nov 13 14:50:12 EST 2005".to_string()),
        Just("\r\n\t".to_string()),
        Just("helo=".to_string()),
        "[ -~]{0,12}",
        "\\PC{0,6}",
    ];
    proptest::collection::vec(atom, 0..40).prop_map(|v| v.concat())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]

    #[test]
    fn nothing_panics_on_received_like_text(lines in proptest::collection::vec(received_ish(), 0..6)) {
        let mut m = Vec::new();
        for l in &lines {
            m.extend_from_slice(b"Received: ");
            m.extend_from_slice(l.replace("\r\n\t", "\r\n ").replace(['\r', '\n'], " ").as_bytes());
            m.extend_from_slice(b"\r\n");
        }
        m.extend_from_slice(b"\r\nbody\r\n");
        let a = analyze_offline(&m, &TraceOptions::default());
        prop_assert_eq!(a.hops.len(), lines.len());
        for f in &a.findings {
            prop_assert!(f.hop.is_none_or(|h| h < a.hops.len()));
        }
    }

    #[test]
    fn nothing_panics_on_arbitrary_bytes(bytes in proptest::collection::vec(any::<u8>(), 0..2048)) {
        let _ = parse_received_value(&bytes);
        let mut m = b"Received: ".to_vec();
        m.extend_from_slice(&bytes);
        let _ = analyze_offline(&m, &TraceOptions::default());
    }
}
