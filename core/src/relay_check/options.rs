//! How a relay check is run: the server, the names the probes are made of, the subset of tests,
//! the optional DATA and the per-connection error budget. Plain data with the API's defaults.

use std::net::IpAddr;
use std::time::Duration;

use crate::client::TlsMode;

/// The foreign domain the probes try to relay to by default: `.invalid` can never be delivered
/// (RFC 2606), so a server that does relay sends nothing anywhere.
pub const DEFAULT_PROBE_DOMAIN: &str = "relay-probe.invalid";

/// Options of [`super::check_relay`]. Build with [`RelayCheckOptions::new`] and change fields.
#[derive(Debug, Clone)]
pub struct RelayCheckOptions {
    /// Server host name or address.
    pub host: String,
    /// Server port (25 by default).
    pub port: u16,
    /// Our EHLO name; `None` = this machine's host name (as the client does).
    pub helo: Option<String>,
    /// The foreign domain of the probes (default `relay-probe.invalid`).
    pub probe_domain: String,
    /// Bound on each wait (connect, each reply).
    pub timeout: Duration,
    /// The probes to run by name; empty (or containing `"all"`) = every probe.
    pub tests: Vec<String>,
    /// Sender local part (nmap's default `antispam`).
    pub from_user: String,
    /// Recipient local part (nmap's default `relaytest`).
    pub to_user: String,
    /// The server address used in `[ip]` tricks; `None` = the address the host resolves to.
    pub server_ip: Option<IpAddr>,
    /// The domain the server receives mail for (spoofed-sender and control probes); `None` = the
    /// registrable domain of its banner name.
    pub internal_domain: Option<String>,
    /// After a relayed RCPT, also send DATA with a short cookie body and judge by its reply
    /// (off by default: no message content is ever sent otherwise).
    pub send_data: bool,
    /// Open a fresh connection after this many refused commands on one, before the server's own
    /// error limit (Postfix: 10 soft, 20 hard) slows or drops us.
    pub errors_per_connection: usize,
    /// TLS: opportunistic STARTTLS by default. Certificates are not verified — a probe sends no
    /// content and a self-signed test server must not stop it.
    pub tls: TlsMode,
}

impl RelayCheckOptions {
    /// Options for `host:port` with the defaults of the API contract.
    pub fn new(host: impl Into<String>, port: u16) -> Self {
        RelayCheckOptions {
            host: host.into(),
            port,
            helo: None,
            probe_domain: DEFAULT_PROBE_DOMAIN.into(),
            timeout: Duration::from_secs(30),
            tests: Vec::new(),
            from_user: "antispam".into(),
            to_user: "relaytest".into(),
            server_ip: None,
            internal_domain: None,
            send_data: false,
            errors_per_connection: 8,
            tls: TlsMode::Opportunistic,
        }
    }
}
