//! `check_relay` against real servers on loopback: our own server closed (nothing relayed) and
//! open for 127.0.0.0/8 (everything it can parse relayed), aiosmtpd accepting everything (open),
//! plus the `tests=` subset, the optional DATA step, and fresh connections when the server's
//! error limit bites.

mod relay_support;

use postwire::relay_check::{check_relay, RelayCheckOptions, Verdict};
use relay_support::peer_support::aiosmtpd;
use relay_support::server_support::{options, TestServer};
use relay_support::{check_opts, our_server, run, with_verdict};

#[test]
fn our_server_closed_relays_nothing() {
    let s = our_server(false);
    let r = run(&check_opts(s.addr.port()));
    assert!(r.results.len() >= 40, "{} probes", r.results.len());
    assert!(!r.open && !r.inconclusive, "{:#?}", r.evidence);
    assert!(with_verdict(&r, Verdict::Relayed).is_empty());
    assert!(r.evidence.is_empty());
    assert_eq!(r.server_name.as_deref(), Some("mx.test.example"));
    // The control (external → postmaster@test.example) is ours to accept: not relaying.
    let control: Vec<_> = r.results.iter().filter(|t| t.control).collect();
    assert_eq!(control.len(), 1);
    assert_eq!(control[0].verdict, Verdict::Relayed, "{:#?}", control[0].transcript);
    for t in &r.results {
        assert!(
            t.transcript.iter().any(|l| l.starts_with(" -> MAIL FROM:")),
            "{}: {:?}",
            t.name,
            t.transcript
        );
        assert!(t.transcript.iter().any(|l| l == " -> RSET"), "{}: no RSET", t.name);
        let reply = t.reply.as_ref().unwrap_or_else(|| panic!("{} has no reply", t.name));
        if t.verdict == Verdict::Refused {
            assert!(reply.code >= 500, "{}: {reply:?}", t.name);
        }
    }
    // Relay tricks are refused by policy (5.7.1), not by accident.
    let plain = r.results.iter().find(|t| t.name == "nmap_foreign_to_foreign").expect("probe");
    let reply = plain.reply.as_ref().expect("reply");
    assert_eq!((reply.code, reply.enhanced.as_deref()), (550, Some("5.7.1")));
}

#[test]
fn our_server_open_relays_everything_it_can_parse() {
    let s = our_server(true);
    let r = run(&check_opts(s.addr.port()));
    assert!(r.open, "{:#?}", r.results);
    let relayed = with_verdict(&r, Verdict::Relayed);
    assert!(relayed.len() >= 20, "{relayed:?}");
    for t in r.results.iter().filter(|t| t.verdict != Verdict::Relayed) {
        // What is not relayed is refused as bad syntax (double @, no domain), never by policy.
        let reply = t.reply.as_ref().expect("reply");
        assert!(matches!(reply.code, 501 | 553 | 555), "{}: {reply:?}", t.name);
        assert_ne!(reply.enhanced.as_deref(), Some("5.7.1"), "{}", t.name);
    }
    assert_eq!(r.evidence, relayed);
}

#[test]
fn aiosmtpd_accept_all_is_open() {
    let peer = aiosmtpd(&[]);
    let r = run(&check_opts(peer.port));
    assert!(r.open);
    assert!(r.evidence.iter().any(|e| e == "nmap_foreign_to_foreign"), "{:?}", r.evidence);
    assert_eq!(r.server_name.as_deref(), Some("aiosmtpd.test"));
}

#[test]
fn tests_selects_a_subset_and_unknown_names_are_invalid_input() {
    let s = our_server(false);
    let mut o = check_opts(s.addr.port());
    o.tests = vec!["nmap_null_sender".into(), "external_to_internal".into()];
    let r = run(&o);
    let names: Vec<_> = r.results.iter().map(|t| t.name.as_str()).collect();
    assert_eq!(names, ["nmap_null_sender", "external_to_internal"]);
    o.tests = vec!["no_such_probe".into()];
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    let e = rt.block_on(check_relay(&o)).unwrap_err();
    assert_eq!(e.kind(), postwire::ErrorKind::InvalidInput);
    assert!(e.message().contains("nmap_null_sender"), "lists the known names: {e}");
}

#[test]
fn data_is_sent_only_when_asked() {
    let s = our_server(true);
    let mut o = check_opts(s.addr.port());
    o.tests = vec!["nmap_foreign_to_foreign".into()];
    let r = run(&o);
    assert!(!r.results[0].transcript.iter().any(|l| l == " -> DATA"));
    o.send_data = true;
    let r = run(&o);
    let t = &r.results[0];
    assert!(t.transcript.iter().any(|l| l == " -> DATA"), "{:?}", t.transcript);
    assert_eq!(t.verdict, Verdict::Relayed);
    assert_eq!(t.reply.as_ref().map(|r| r.code), Some(250), "the verdict is the reply after the dot");
}

#[test]
fn a_fresh_connection_when_the_server_hangs_up() {
    // Our server drops a client after 3 errors; the checker's own budget is set higher, so the
    // server's limit bites first and every later probe must still get a real verdict.
    let mut so = options();
    so.max_errors = 3;
    let s = TestServer::start(so);
    let mut o: RelayCheckOptions = check_opts(s.addr.port());
    o.errors_per_connection = 1000;
    let r = run(&o);
    assert!(r.connections > 3, "{} connections", r.connections);
    assert!(
        with_verdict(&r, Verdict::Error).is_empty(),
        "{:#?}",
        r.results.iter().filter(|t| t.verdict == Verdict::Error).collect::<Vec<_>>()
    );
    assert!(!r.open && !r.inconclusive);
    // And our own budget opens new connections before the server's limit.
    let s2 = our_server(false);
    let mut o2 = check_opts(s2.addr.port());
    o2.errors_per_connection = 5;
    let r2 = run(&o2);
    assert!(r2.connections >= r2.results.len() / 5, "{}", r2.connections);
    assert!(
        r2.results.iter().filter(|t| t.transcript.iter().any(|l| l.starts_with("=== Connected"))).count()
            == r2.connections
    );
}

#[test]
fn an_unreachable_server_is_a_connect_error() {
    let port = relay_support::peer_support::free_port();
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    let e = rt.block_on(check_relay(&check_opts(port))).unwrap_err();
    assert_eq!(e.kind(), postwire::ErrorKind::Connect);
}
