//! Server configuration: every option of the API contract's `Server(...)`, with the defaults a
//! Postfix or aiosmtpd user expects.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use ipnet::IpNet;

use super::hooks::Authenticator;
use super::maildir::MaildirLayout;
use crate::delivery::DeliveryOptions;
use crate::error::{Error, Result};
use crate::option_values::de;
use crate::proto::BareLinePolicy;
use crate::queue::{LocalDelivery, QueueOptions};
use crate::route::ResolveOptions;

/// Where accepted messages go after the `on_message` hook accepted them.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum Delivery {
    /// Hooks only: the server stores nothing itself (the API's `delivery=None`).
    #[default]
    None,
    /// One shared Maildir at this path (`tmp/`, `new/`, `cur/`); see `server::maildir`.
    Maildir(PathBuf),
    /// Accept and drop (benchmarks): like `None`, spelled out.
    Discard,
    /// Store-and-forward: each accepted message is submitted to the durable queue whose spool
    /// is this directory (250 only once it is fsynced); the server runs the queue's runner,
    /// which relays by MX or through `queue_smarthost` (see `queue_options`).
    Queue(PathBuf),
}

impl Delivery {
    /// Parse the API's delivery string: `"maildir:PATH"`, `"queue:PATH"`, `"discard"`, or
    /// `""`/`"none"`.
    pub fn parse(s: &str) -> Result<Delivery> {
        if s.is_empty() || s.eq_ignore_ascii_case("none") {
            Ok(Delivery::None)
        } else if s.eq_ignore_ascii_case("discard") {
            Ok(Delivery::Discard)
        } else if let Some(p) = s.strip_prefix("maildir:") {
            if p.is_empty() {
                return Err(Error::invalid_input("delivery \"maildir:\" needs a path"));
            }
            Ok(Delivery::Maildir(PathBuf::from(p)))
        } else if let Some(p) = s.strip_prefix("queue:") {
            if p.is_empty() {
                return Err(Error::invalid_input("delivery \"queue:\" needs a spool directory"));
            }
            Ok(Delivery::Queue(PathBuf::from(p)))
        } else {
            Err(Error::invalid_input(format!(
                "unknown delivery {s:?}: expected \"maildir:PATH\", \"queue:PATH\", \"discard\" or none"
            )))
        }
    }
}

/// RFC 5321 §4.5.3.2.7: the server waits at least 5 minutes for each command and data block.
/// Deserialized from float seconds per phase (`option_values::de`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ServerTimeouts {
    /// Waiting for the next command line (and AUTH continuation lines).
    #[serde(deserialize_with = "de::seconds")]
    pub command: Duration,
    /// Waiting for the next bytes of DATA/BDAT content.
    #[serde(deserialize_with = "de::seconds")]
    pub data: Duration,
    /// The whole TLS handshake after STARTTLS.
    #[serde(deserialize_with = "de::seconds")]
    pub tls_handshake: Duration,
    /// Writing a reply to a client that does not read.
    #[serde(deserialize_with = "de::seconds")]
    pub write: Duration,
}

impl Default for ServerTimeouts {
    fn default() -> Self {
        ServerTimeouts {
            command: Duration::from_secs(300),
            data: Duration::from_secs(300),
            tls_handshake: Duration::from_secs(60),
            write: Duration::from_secs(300),
        }
    }
}

impl ServerTimeouts {
    /// Every timeout set to `d` (tests use short ones).
    pub fn uniform(d: Duration) -> Self {
        ServerTimeouts { command: d, data: d, tls_handshake: d, write: d }
    }
}

/// Largest `max_connections` accepted (far beyond what one process can hold open; keeps the
/// session semaphore within its limits).
pub const MAX_CONNECTIONS: usize = 1 << 20;

/// Everything `Server::new` needs. Field names are the API contract's option names; a binding
/// deserializes them from the host's keyword arguments (`host::options`), fields left out
/// keeping the defaults below.
#[derive(Clone, serde::Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ServerOptions {
    /// Our name: banner, EHLO greeting, Received `by`.
    #[serde(deserialize_with = "de::hostname")]
    pub hostname: String,
    /// Domains we accept mail for (case-insensitive; `[192.0.2.1]` for an address literal).
    pub local_domains: Vec<String>,
    /// Clients allowed to relay (to non-local domains). Empty = nobody.
    #[serde(deserialize_with = "de::networks")]
    pub relay_networks: Vec<IpNet>,
    /// Authenticated clients may relay.
    pub relay_authenticated: bool,
    /// SIZE: largest message in bytes; 552 above it. 0 = unlimited (not advertised as a number).
    #[serde(deserialize_with = "de::size_limit")]
    pub max_message_size: u64,
    /// Most recipients per transaction; 452 past it.
    pub max_recipients: usize,
    /// Most simultaneous sessions; 421 past it.
    pub max_connections: usize,
    /// Timeouts.
    #[serde(deserialize_with = "de::timeouts")]
    pub timeouts: ServerTimeouts,
    /// PEM certificate chain; with `tls_key`, STARTTLS is offered.
    pub tls_cert: Option<PathBuf>,
    /// PEM private key.
    pub tls_key: Option<PathBuf>,
    /// Credential check; AUTH PLAIN LOGIN is offered when set.
    #[serde(deserialize_with = "de::credentials")]
    pub auth: Option<Arc<dyn Authenticator>>,
    /// Offer AUTH without TLS (tests, trusted networks). Off by default.
    pub allow_insecure_auth: bool,
    /// Answer VRFY (otherwise `252`).
    pub allow_vrfy: bool,
    /// Answer EXPN (otherwise `502`).
    pub allow_expn: bool,
    /// What happens to accepted messages.
    #[serde(deserialize_with = "de::delivery")]
    pub delivery: Delivery,
    /// Conformance mode: no leniency for real-world quirks (see `proto::ParseOptions::strict`).
    pub strict: bool,
    /// Longest command line, CRLF included (RFC 5321: 512).
    pub max_command_line: usize,
    /// Longest text line in DATA, CRLF included (RFC 5321: 1000). 0 = unlimited.
    pub max_line_length: usize,
    /// Bare CR/LF and NUL in DATA: reject (default) or normalise.
    #[serde(deserialize_with = "de::bare_line_policy")]
    pub bare_line_policy: BareLinePolicy,
    /// Look up the client's reverse-DNS name for the Received line (else `unknown`).
    pub reverse_dns: bool,
    /// Close a session after this many refused commands (Postfix `smtpd_hard_error_limit`).
    pub max_errors: usize,
    /// After `stop()`, how long transactions in flight may take before every session is told
    /// `421` and closed.
    #[serde(deserialize_with = "de::seconds")]
    pub shutdown_grace: Duration,
    /// Message bytes all sessions together may hold in memory; past it a message is drained
    /// and answered `452 4.3.1` (see `server::budget`).
    pub max_buffered_bytes: u64,
    /// How long the server waits for a host hook (`host::dispatch`) before answering
    /// `451 4.3.0` in its place.
    #[serde(deserialize_with = "de::seconds")]
    pub hook_timeout: Duration,
    /// Host threads that may run blocking hooks at the same time
    /// (`host::dispatch::HookDispatch::on_workers`): a hook that sleeps, writes to a database or
    /// calls a web service holds one worker, the others keep serving. Default
    /// [`default_hook_workers`] (`min(32, cpus + 4)`, Python's `ThreadPoolExecutor` default).
    pub hook_workers: usize,
    /// Most simultaneous sessions from one client address (an IPv6 client counts by its /64);
    /// `421 4.7.0` past it. 0 = no per-address limit. Default 20: what a Postfix peer opens
    /// towards one destination at most (`default_destination_concurrency_limit`), so a
    /// default-configured MTA is never turned away, while one address can hold 2 % of the
    /// default `max_connections` (Postfix's own `smtpd_client_connection_count_limit` is 50 of
    /// 100 processes).
    pub max_connections_per_ip: usize,
    /// Clients the per-address limit does not apply to (besides `relay_networks`, always
    /// exempt). Default loopback, as Postfix exempts `$mynetworks` (which includes loopback).
    #[serde(deserialize_with = "de::networks")]
    pub connection_limit_exceptions: Vec<IpNet>,
    /// Least average rate, in bytes per second, at which message content must arrive: the time
    /// a message may take is `timeouts.data` plus one second per `min_data_rate` bytes received
    /// (Postfix's `smtpd_min_data_rate`, default 500). Past it: `421 4.4.2` and close, so a
    /// client dripping bytes cannot hold a connection slot. 0 = only the per-read timeout.
    pub min_data_rate: u64,
    /// Commands that move no transaction forward (NOOP, RSET, VRFY, EXPN, HELP) allowed between
    /// two accepted messages; past it `421 4.7.0` and close (Postfix's
    /// `smtpd_junk_command_limit`, 100). 0 = unlimited.
    pub max_junk_commands: usize,
    /// Advertise DSN (RFC 3461) and accept its parameters (NOTIFY, ORCPT, RET, ENVID). Off by
    /// default: a server that advertises DSN promises the notices, and only a queue can send
    /// them; without it a conforming client sends no DSN parameter (and one that does gets
    /// `555 5.5.4`), and the sending MTA notifies its sender itself ("relayed").
    pub advertise_dsn: bool,
    /// With Maildir delivery: one shared Maildir, or one copy per recipient (see
    /// `server::maildir`).
    #[serde(deserialize_with = "de::from_str")]
    pub maildir_layout: MaildirLayout,
    /// Queue mode: relay everything through this host (`HOST` or `HOST:PORT`, `[v6]:PORT`)
    /// instead of routing by MX.
    pub queue_smarthost: Option<String>,
    /// Queue mode: the SMTP port of the exchangers (and of a smarthost named without one): 25.
    pub queue_port: u16,
    /// Queue mode: DNS servers for MX routing as `ip:port`; default the system's.
    pub nameservers: Option<Vec<String>>,
    /// Queue mode: deliver to exchangers on loopback addresses (tests). Off by default.
    pub allow_loopback: bool,
    /// Queue mode: recipients of `local_domains` or of `hostname` are delivered into this
    /// Maildir (one shared Maildir) by the queue runner instead of relayed.
    pub local_maildir: Option<PathBuf>,
    /// Queue mode: seconds between retries, the last repeating (default 5 min doubling to
    /// 70 min, as Postfix).
    pub queue_retry: Option<Vec<f64>>,
    /// Queue mode: seconds after which a message still deferred is bounced (default 5 days).
    pub queue_max_age: Option<f64>,
}

/// The default number of hook workers: `min(32, cpus + 4)`, as Python's `ThreadPoolExecutor`
/// sizes its pool for blocking work.
pub fn default_hook_workers() -> usize {
    let cpus = std::thread::available_parallelism().map_or(1, |n| n.get());
    (cpus + 4).min(32)
}

impl std::fmt::Debug for ServerOptions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ServerOptions")
            .field("hostname", &self.hostname)
            .field("local_domains", &self.local_domains)
            .field("relay_networks", &self.relay_networks)
            .field("max_message_size", &self.max_message_size)
            .field("delivery", &self.delivery)
            .field("maildir_layout", &self.maildir_layout)
            .field("max_connections_per_ip", &self.max_connections_per_ip)
            .field("auth", &self.auth.is_some())
            .finish_non_exhaustive()
    }
}

impl Default for ServerOptions {
    fn default() -> Self {
        ServerOptions {
            hostname: system_hostname(),
            local_domains: Vec::new(),
            relay_networks: Vec::new(),
            relay_authenticated: true,
            max_message_size: 25 * 1024 * 1024,
            max_recipients: 100,
            max_connections: 1000,
            timeouts: ServerTimeouts::default(),
            tls_cert: None,
            tls_key: None,
            auth: None,
            allow_insecure_auth: false,
            allow_vrfy: false,
            allow_expn: false,
            delivery: Delivery::None,
            strict: false,
            max_command_line: 512,
            max_line_length: 1000,
            bare_line_policy: BareLinePolicy::Reject,
            reverse_dns: false,
            max_errors: 20,
            shutdown_grace: Duration::from_secs(30),
            max_buffered_bytes: 512 * 1024 * 1024,
            hook_timeout: Duration::from_secs(60),
            hook_workers: default_hook_workers(),
            max_connections_per_ip: 20,
            connection_limit_exceptions: vec![
                ipnet::Ipv4Net::new_assert(std::net::Ipv4Addr::new(127, 0, 0, 0), 8).into(),
                ipnet::Ipv6Net::new_assert(std::net::Ipv6Addr::LOCALHOST, 128).into(),
            ],
            min_data_rate: 500,
            max_junk_commands: 100,
            advertise_dsn: false,
            maildir_layout: MaildirLayout::Shared,
            queue_smarthost: None,
            queue_port: 25,
            nameservers: None,
            allow_loopback: false,
            local_maildir: None,
            queue_retry: None,
            queue_max_age: None,
        }
    }
}

impl ServerOptions {
    /// Check the options for contradictions before a socket is opened.
    pub fn validate(&self) -> Result<()> {
        if self.hostname.is_empty() || self.hostname.bytes().any(|b| b <= b' ' || b >= 0x7f) {
            return Err(Error::invalid_input(format!(
                "hostname {:?} is not a valid host name",
                self.hostname
            )));
        }
        if self.tls_cert.is_some() != self.tls_key.is_some() {
            return Err(Error::invalid_input("tls_cert and tls_key must be given together"));
        }
        if self.max_command_line < 512 {
            return Err(Error::invalid_input("max_command_line must be at least 512 (RFC 5321 §4.5.3.1.4)"));
        }
        if self.max_line_length != 0 && self.max_line_length < 1000 {
            return Err(Error::invalid_input(
                "max_line_length must be 0 or at least 1000 (RFC 5321 §4.5.3.1.6)",
            ));
        }
        if self.hook_workers == 0 || self.hook_workers > 1024 {
            return Err(Error::invalid_input("hook_workers must be between 1 and 1024"));
        }
        if self.max_connections == 0 || self.max_recipients == 0 {
            return Err(Error::invalid_input("max_connections and max_recipients must be positive"));
        }
        if self.max_connections > MAX_CONNECTIONS {
            return Err(Error::invalid_input(format!("max_connections must be at most {MAX_CONNECTIONS}")));
        }
        for d in &self.local_domains {
            if d.is_empty() || d.bytes().any(|b| b <= b' ' || b == 0x7f) {
                return Err(Error::invalid_input(format!("local domain {d:?} is not a domain")));
            }
        }
        if matches!(self.delivery, Delivery::Queue(_)) {
            self.queue_options()?;
        } else {
            let set = [
                ("queue_smarthost", self.queue_smarthost.is_some()),
                ("queue_port", self.queue_port != 25),
                ("nameservers", self.nameservers.is_some()),
                ("allow_loopback", self.allow_loopback),
                ("local_maildir", self.local_maildir.is_some()),
                ("queue_retry", self.queue_retry.is_some()),
                ("queue_max_age", self.queue_max_age.is_some()),
            ];
            if let Some((name, _)) = set.iter().find(|(_, on)| *on) {
                return Err(Error::invalid_input(format!(
                    "{name} only applies with delivery=\"queue:PATH\""
                )));
            }
        }
        Ok(())
    }

    /// The options of the queue behind `delivery="queue:PATH"`: routing (MX through
    /// `nameservers`, or `queue_smarthost`), `queue_port`, `allow_loopback`, the retry schedule,
    /// `hostname` for the notices, and local delivery of `local_domains` and `hostname` into
    /// `local_maildir`. Errors: `invalid_input` for a bad smarthost, retry or age.
    pub fn queue_options(&self) -> Result<QueueOptions> {
        let mut o = QueueOptions { hostname: self.hostname.clone(), ..Default::default() };
        let (smarthost, port) = match &self.queue_smarthost {
            Some(h) => {
                let (host, port) = split_host_port(h)?;
                (Some(host), port.unwrap_or(self.queue_port))
            }
            None => (None, self.queue_port),
        };
        if port == 0 {
            return Err(Error::invalid_input("queue_port must not be 0"));
        }
        o.delivery = DeliveryOptions {
            smarthost,
            port,
            resolve: ResolveOptions { nameservers: self.nameservers.clone(), ..Default::default() },
            allow_loopback: self.allow_loopback,
            hello_name: Some(self.hostname.clone()),
            ..Default::default()
        };
        if let Some(r) = &self.queue_retry {
            if r.is_empty() {
                return Err(Error::invalid_input("queue_retry must list at least one delay"));
            }
            o.retry.delays =
                r.iter().map(|s| crate::option_values::seconds("queue_retry", *s)).collect::<Result<_>>()?;
        }
        if let Some(m) = self.queue_max_age {
            o.retry.max_age = crate::option_values::seconds("queue_max_age", m)?;
        }
        if let Some(dir) = &self.local_maildir {
            let mut domains = self.local_domains.clone();
            domains.push(self.hostname.clone());
            o.local = Some(LocalDelivery { maildir: dir.clone(), domains });
        }
        Ok(o)
    }
}

/// `HOST`, `HOST:PORT` or `[IPv6]:PORT` (a bare IPv6 address has no port).
fn split_host_port(s: &str) -> Result<(String, Option<u16>)> {
    let bad = || Error::invalid_input(format!("queue_smarthost {s:?} is not HOST or HOST:PORT"));
    let (host, port) = if let Some(rest) = s.strip_prefix('[') {
        let (h, after) = rest.split_once(']').ok_or_else(bad)?;
        match after {
            "" => (h, None),
            p => (h, Some(p.strip_prefix(':').ok_or_else(bad)?)),
        }
    } else {
        match s.split_once(':') {
            Some((h, p)) if !p.contains(':') => (h, Some(p)),
            _ => (s, None),
        }
    };
    if host.is_empty() || host.bytes().any(|b| b <= b' ' || b == 0x7f) {
        return Err(bad());
    }
    let port = port.map(|p| p.parse::<u16>().ok().filter(|&p| p != 0).ok_or_else(bad)).transpose()?;
    Ok((host.to_string(), port))
}

/// The machine's host name, or `localhost`.
fn system_hostname() -> String {
    crate::hostname::system_hostname().unwrap_or_else(|| "localhost".to_string())
}
