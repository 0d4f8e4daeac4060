//! [`DeliveryOptions`]: how delivery reaches the exchangers — plain data with the defaults an
//! MTA uses (port 25, opportunistic TLS without certificate checks as RFC 7435 allows, RFC 5321
//! timeouts, Postfix's limits on hosts and addresses).

use std::time::Duration;

use crate::client::{ClientTimeouts, TlsMode};
use crate::route::ResolveOptions;

/// How [`super::deliver`] delivers. `Debug` shows the AUTH secret as `****`.
#[derive(Clone)]
pub struct DeliveryOptions {
    /// Send everything through this host instead of routing by MX (loopback allowed: it was
    /// named explicitly).
    pub smarthost: Option<String>,
    /// The SMTP port of every exchanger (and of the smarthost): 25; tests use others.
    pub port: u16,
    /// DNS servers, own host names, shuffle seed and limits for routing.
    pub resolve: ResolveOptions,
    /// Deliver to exchangers whose address is loopback (127.0.0.0/8, ::1) or unspecified.
    /// Off by default: an MX pointing there is a loop or an SSRF attempt. Tests turn it on.
    pub allow_loopback: bool,
    /// Most MX hosts tried per attempt (Postfix `smtp_mx_address_limit` spirit: 5).
    pub max_hosts: usize,
    /// Most addresses tried per host (2).
    pub max_addresses_per_host: usize,
    /// TLS: opportunistic STARTTLS by default.
    pub tls: TlsMode,
    /// Verify exchanger certificates. Off by default: opportunistic TLS encrypts against
    /// passive listeners without authenticating (RFC 7435); most MX certificates would fail.
    pub verify_certificates: bool,
    /// EHLO name (default: this host's name).
    pub hello_name: Option<String>,
    /// `(user, secret)` for AUTH at the smarthost (never sent to an MX).
    pub credentials: Option<(String, String)>,
    /// Allow AUTH without TLS at the smarthost.
    pub allow_plaintext_auth: bool,
    /// Session timeouts.
    pub timeouts: ClientTimeouts,
    /// Domains delivered at the same time for one message.
    pub parallel_domains: usize,
}

impl Default for DeliveryOptions {
    fn default() -> Self {
        DeliveryOptions {
            smarthost: None,
            port: 25,
            resolve: ResolveOptions::default(),
            allow_loopback: false,
            max_hosts: 5,
            max_addresses_per_host: 2,
            tls: TlsMode::Opportunistic,
            verify_certificates: false,
            hello_name: None,
            credentials: None,
            allow_plaintext_auth: false,
            timeouts: ClientTimeouts::default(),
            parallel_domains: 8,
        }
    }
}

impl DeliveryOptions {
    /// Defaults with every session timeout set to `d` (tests, the CLI's `--timeout`).
    pub fn with_timeout(mut self, d: Duration) -> Self {
        self.timeouts = ClientTimeouts::uniform(d);
        self
    }
}

impl std::fmt::Debug for DeliveryOptions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DeliveryOptions")
            .field("smarthost", &self.smarthost)
            .field("port", &self.port)
            .field("resolve", &self.resolve)
            .field("allow_loopback", &self.allow_loopback)
            .field("max_hosts", &self.max_hosts)
            .field("max_addresses_per_host", &self.max_addresses_per_host)
            .field("tls", &self.tls)
            .field("verify_certificates", &self.verify_certificates)
            .field("hello_name", &self.hello_name)
            .field("credentials", &self.credentials.as_ref().map(|(user, _)| (user, "****")))
            .field("timeouts", &self.timeouts)
            .field("parallel_domains", &self.parallel_domains)
            .finish_non_exhaustive()
    }
}
