//! Agreement with an outsider: Debian nmap's `smtp-open-relay` script (installed by
//! `scripts/install-deps.sh`) and our `nmap_*` probes must relay the very same (MAIL FROM,
//! RCPT TO) pairs, probe by probe, on the three servers of the issue: ours closed, ours open,
//! aiosmtpd accepting everything.

mod relay_support;

use std::collections::BTreeSet;
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

use postwire::relay_check::Verdict;
use relay_support::peer_support::aiosmtpd;
use relay_support::{check_opts, our_server, run};

const DOMAIN: &str = "relay-probe.invalid";

/// nmap's verdict: the pairs it lists as relayed (`MAIL FROM:<a> -> RCPT TO:<b>`).
fn nmap_relayed(port: u16) -> BTreeSet<String> {
    let mut cmd = Command::new("nmap");
    // `+` runs the script whatever the port number; -sT needs no raw sockets; -vv lists the pairs.
    cmd.args(["-Pn", "-n", "-sT", "-vv", "--host-timeout", "120s", "--script-timeout", "90s"])
        .args(["-p", &port.to_string(), "--script", "+smtp-open-relay", "--script-args"])
        .arg(format!("smtp-open-relay.domain={DOMAIN},smtp-open-relay.ip=127.0.0.1,smtp.domain={DOMAIN}"))
        .arg("127.0.0.1")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        let _ = tx.send(cmd.output());
    });
    let out = rx
        .recv_timeout(Duration::from_secs(180))
        .expect("nmap did not finish within its own host timeout")
        .unwrap_or_else(|e| panic!("cannot run nmap ({e}) — run `make deps`"));
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains("smtp-open-relay:"),
        "nmap ran no smtp-open-relay script — run `make deps`:\n{text}"
    );
    text.lines()
        .filter_map(|l| {
            l.trim_start_matches(['|', '_', ' ']).strip_prefix("MAIL FROM:").map(|s| format!("MAIL FROM:{s}"))
        })
        .collect()
}

/// Ours, with nmap's names and strings: only the `nmap_*` probes.
fn ours_relayed(port: u16) -> (BTreeSet<String>, usize) {
    let mut o = check_opts(port);
    o.helo = Some(DOMAIN.into());
    o.server_ip = Some("127.0.0.1".parse().expect("ip"));
    let names: Vec<String> = [
        "null_sender",
        "foreign_to_foreign",
        "sender_at_server_name",
        "sender_at_ip",
        "percent_at_ip",
        "percent_at_server_name",
        "quoted_at",
        "quoted_percent",
        "double_at_ip",
        "quoted_at_ip",
        "double_at_server_name",
        "source_route_ip",
        "source_route_server_name",
        "bang",
        "bang_at_ip",
        "bang_at_server_name",
    ]
    .iter()
    .map(|n| format!("nmap_{n}"))
    .collect();
    o.tests = names;
    let r = run(&o);
    let relayed = r
        .results
        .iter()
        .filter(|t| t.verdict == Verdict::Relayed)
        .map(|t| format!("MAIL FROM:{} -> RCPT TO:{}", t.mail_from, t.rcpt_to))
        .collect();
    (relayed, r.results.len())
}

fn agree(port: u16, what: &str) -> usize {
    let theirs = nmap_relayed(port);
    let (ours, probes) = ours_relayed(port);
    assert_eq!(probes, 16, "{what}: all 16 nmap probes ran");
    assert_eq!(ours, theirs, "{what}: ours vs nmap");
    ours.len()
}

#[test]
fn agrees_with_nmap_on_our_closed_server() {
    let s = our_server(false);
    assert_eq!(agree(s.addr.port(), "ours closed"), 0);
}

#[test]
fn agrees_with_nmap_on_our_open_server() {
    let s = our_server(true);
    assert!(agree(s.addr.port(), "ours open") >= 8);
}

#[test]
fn agrees_with_nmap_on_aiosmtpd_accept_all() {
    let peer = aiosmtpd(&[]);
    assert!(agree(peer.port, "aiosmtpd") >= 8);
}
