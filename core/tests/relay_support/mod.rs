//! Shared helpers of the relay-check tests: the three servers the issue names (our own server
//! closed and open, aiosmtpd accepting everything, the half-closed aiosmtpd of
//! `tests/peers/python/relay_half_closed.py`) and a blocking `check_relay`.
#![allow(dead_code)]

#[path = "../server_support/mod.rs"]
pub mod server_support;
pub use server_support::peer_support;

use std::time::Duration;

use postwire::relay_check::{check_relay, RelayCheckOptions, RelayReport, Verdict};
use server_support::{options, TestServer};

/// Our server for `test.example` as `mx.test.example`; `open` lets 127.0.0.0/8 relay.
pub fn our_server(open: bool) -> TestServer {
    let mut o = options();
    if open {
        o.relay_networks = vec!["127.0.0.0/8".parse().expect("cidr")];
    }
    TestServer::start(o)
}

/// Options for a loopback server: no TLS, 20 s timeouts, a fixed EHLO name.
pub fn check_opts(port: u16) -> RelayCheckOptions {
    let mut o = RelayCheckOptions::new("127.0.0.1", port);
    o.tls = postwire::client::TlsMode::None;
    o.timeout = Duration::from_secs(20);
    o.helo = Some("checker.client.test".into());
    o
}

/// Run the check on a private runtime.
pub fn run(opts: &RelayCheckOptions) -> RelayReport {
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().expect("runtime");
    rt.block_on(check_relay(opts)).expect("check_relay")
}

/// The names of the relay (non-control) probes with `verdict`.
pub fn with_verdict(r: &RelayReport, verdict: Verdict) -> Vec<String> {
    r.results.iter().filter(|t| !t.control && t.verdict == verdict).map(|t| t.name.clone()).collect()
}
