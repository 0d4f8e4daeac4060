//! How a client session is opened: the server, the TLS mode, the per-phase timeouts (RFC 5321
//! §4.5.3.2) and the switches (plaintext AUTH, PIPELINING, CHUNKING, transcript) — plain data
//! with the API contract's defaults, validated when [`crate::client::Client::connect`] uses it.

use std::fmt;
use std::path::PathBuf;
use std::str::FromStr;
use std::time::Duration;

use crate::error::Error;
use crate::proto::ReplyLimits;

/// How the session uses TLS.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum TlsMode {
    /// Never; plain SMTP even when the server offers STARTTLS.
    None,
    /// STARTTLS when the server offers it, plain otherwise (the default).
    #[default]
    Opportunistic,
    /// STARTTLS required: a `tls` error when the server does not offer it or it fails.
    StartTls,
    /// TLS from the first byte (port 465, RFC 8314).
    Implicit,
}

impl TlsMode {
    /// `"none"`, `"opportunistic"`, `"starttls"`, `"implicit"`.
    pub fn as_str(self) -> &'static str {
        match self {
            TlsMode::None => "none",
            TlsMode::Opportunistic => "opportunistic",
            TlsMode::StartTls => "starttls",
            TlsMode::Implicit => "implicit",
        }
    }
}

impl fmt::Display for TlsMode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for TlsMode {
    type Err = Error;

    /// Case-insensitive `none | opportunistic | starttls | implicit`; anything else is
    /// `invalid_input`.
    fn from_str(s: &str) -> Result<Self, Error> {
        match s.to_ascii_lowercase().as_str() {
            "none" | "plain" => Ok(TlsMode::None),
            "opportunistic" => Ok(TlsMode::Opportunistic),
            "starttls" | "required" => Ok(TlsMode::StartTls),
            "implicit" | "tls" | "smtps" => Ok(TlsMode::Implicit),
            _ => Err(Error::invalid_input(format!(
                "unknown TLS mode {s:?} (expected none, opportunistic, starttls or implicit)"
            ))),
        }
    }
}

/// The default of every client timeout: the API's `timeout=30.0`.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(30);
/// The default wait for the reply to the end of the message: RFC 5321 §4.5.3.2.6's 10 minutes
/// (the API's `data_timeout=600.0`). Cutting it short makes duplicates: the server may have
/// accepted the message while we gave up on its reply.
pub const DEFAULT_DATA_TIMEOUT: Duration = Duration::from_secs(600);
/// The port without TLS from the first byte (RFC 5321).
pub const SMTP_PORT: u16 = 25;
/// The port of implicit TLS, "submissions" (RFC 8314).
pub const IMPLICIT_TLS_PORT: u16 = 465;

/// The client timeouts, one per phase: the waits of RFC 5321 §4.5.3.2 (banner, MAIL, RCPT, DATA
/// initiation, data block, DATA termination) plus connect, EHLO, TLS, AUTH and `other`.
///
/// Each bounds the whole wait for one reply (or one write), so a server that drips a reply one
/// byte at a time still fails within it. The default is the API's: every phase 30 s
/// ([`DEFAULT_TIMEOUT`]) except `data_end`, 600 s ([`DEFAULT_DATA_TIMEOUT`]);
/// [`ClientTimeouts::rfc5321`] gives the RFC's own values. Bindings build it with
/// [`ClientTimeouts::from_seconds`] from the API's `timeout`, `data_timeout` and `timeouts` map.
/// (De)serialized as float seconds per phase; `greeting` and `data_init`, the names of the first
/// release, are still read as `banner` and `data_start`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ClientTimeouts {
    /// Name resolution and TCP connect.
    #[serde(with = "crate::option_values::secs")]
    pub connect: Duration,
    /// The 220 banner (RFC 5321 §4.5.3.2.1: 5 minutes).
    #[serde(with = "crate::option_values::secs", alias = "greeting")]
    pub banner: Duration,
    /// Each EHLO/HELO reply.
    #[serde(with = "crate::option_values::secs")]
    pub ehlo: Duration,
    /// The STARTTLS reply and each TLS handshake (implicit TLS or after STARTTLS).
    #[serde(with = "crate::option_values::secs")]
    pub tls: Duration,
    /// Each reply of an AUTH exchange.
    #[serde(with = "crate::option_values::secs")]
    pub auth: Duration,
    /// The MAIL reply (RFC: 5 minutes).
    #[serde(with = "crate::option_values::secs")]
    pub mail: Duration,
    /// Each RCPT reply (RFC: 5 minutes).
    #[serde(with = "crate::option_values::secs")]
    pub rcpt: Duration,
    /// The 354 after DATA (RFC: 2 minutes).
    #[serde(with = "crate::option_values::secs", alias = "data_init")]
    pub data_start: Duration,
    /// Each write of message data, and the reply to each BDAT chunk but the last (RFC: 3 minutes
    /// per block).
    #[serde(with = "crate::option_values::secs")]
    pub data_block: Duration,
    /// The reply after the final dot or the last BDAT chunk (RFC: 10 minutes).
    #[serde(with = "crate::option_values::secs")]
    pub data_end: Duration,
    /// Everything else: RSET, VRFY, EXPN, HELP, NOOP, QUIT.
    #[serde(with = "crate::option_values::secs")]
    pub other: Duration,
}

impl Default for ClientTimeouts {
    /// 30 s for every phase, 600 s for `data_end` (the API contract's defaults).
    fn default() -> Self {
        ClientTimeouts::from_timeout(DEFAULT_TIMEOUT)
    }
}

impl ClientTimeouts {
    /// The phase names, as the `timeouts` map of every binding spells them.
    pub const PHASES: [&'static str; 11] = [
        "connect",
        "banner",
        "ehlo",
        "tls",
        "auth",
        "mail",
        "rcpt",
        "data_start",
        "data_block",
        "data_end",
        "other",
    ];

    /// The API's single `timeout`: every phase `d` except `data_end`, which keeps
    /// [`DEFAULT_DATA_TIMEOUT`].
    pub fn from_timeout(d: Duration) -> Self {
        ClientTimeouts { data_end: DEFAULT_DATA_TIMEOUT, ..ClientTimeouts::uniform(d) }
    }

    /// Every phase `d`, `data_end` included (tests and benchmarks that want a short bound
    /// everywhere).
    pub fn uniform(d: Duration) -> Self {
        ClientTimeouts {
            connect: d,
            banner: d,
            ehlo: d,
            tls: d,
            auth: d,
            mail: d,
            rcpt: d,
            data_start: d,
            data_block: d,
            data_end: d,
            other: d,
        }
    }

    /// RFC 5321 §4.5.3.2's values (5 minutes for the banner, MAIL, RCPT and the phases it does
    /// not name, 2 for DATA initiation, 3 per data block, 10 for DATA termination; 30 s to
    /// connect): what an MTA relaying on its own schedule uses.
    pub fn rfc5321() -> Self {
        let min = |m: u64| Duration::from_secs(m * 60);
        ClientTimeouts {
            connect: DEFAULT_TIMEOUT,
            data_start: min(2),
            data_block: min(3),
            data_end: min(10),
            ..ClientTimeouts::uniform(min(5))
        }
    }

    fn slot_mut(&mut self, phase: &str) -> Option<&mut Duration> {
        Some(match phase {
            "connect" => &mut self.connect,
            "banner" | "greeting" => &mut self.banner,
            "ehlo" => &mut self.ehlo,
            "tls" => &mut self.tls,
            "auth" => &mut self.auth,
            "mail" => &mut self.mail,
            "rcpt" => &mut self.rcpt,
            "data_start" | "data_init" => &mut self.data_start,
            "data_block" => &mut self.data_block,
            "data_end" => &mut self.data_end,
            "other" => &mut self.other,
            _ => return None,
        })
    }

    /// The timeout of `phase` (one of [`ClientTimeouts::PHASES`]).
    pub fn get(&self, phase: &str) -> Option<Duration> {
        let mut copy = *self;
        copy.slot_mut(phase).map(|d| *d)
    }

    /// Set the timeout of `phase`; an unknown phase is `invalid_input` naming the known ones.
    pub fn set(&mut self, phase: &str, d: Duration) -> Result<(), Error> {
        match self.slot_mut(phase) {
            Some(slot) => {
                *slot = d;
                Ok(())
            }
            None => Err(Error::invalid_input(format!(
                "unknown client timeout {phase:?} (known: {})",
                ClientTimeouts::PHASES.join(", ")
            ))),
        }
    }

    /// The timeouts from the API's options, in seconds: `timeout` (every phase; default 30 s),
    /// then `data_timeout` (`data_end`; default 600 s), then each `(phase, seconds)` of the
    /// `timeouts` map. Every value goes through [`crate::option_values::seconds`] (NaN, zero,
    /// negative, `1e-12` … are `invalid_input`), an unknown phase is `invalid_input`. Bindings
    /// pass `None` for what the caller did not give, so no binding repeats a default.
    pub fn from_seconds<I, S>(
        timeout: Option<f64>,
        data_timeout: Option<f64>,
        phases: I,
    ) -> Result<Self, Error>
    where
        I: IntoIterator<Item = (S, f64)>,
        S: AsRef<str>,
    {
        let mut t = match timeout {
            Some(secs) => ClientTimeouts::from_timeout(crate::option_values::seconds("timeout", secs)?),
            None => ClientTimeouts::default(),
        };
        if let Some(secs) = data_timeout {
            t.data_end = crate::option_values::seconds("data_timeout", secs)?;
        }
        for (phase, secs) in phases {
            let phase = phase.as_ref();
            let d = crate::option_values::seconds(&format!("timeouts[{phase:?}]"), secs)?;
            t.set(phase, d)?;
        }
        Ok(t)
    }
}

/// Everything [`crate::client::Client::connect`] needs. `ClientOptions::default()` holds every
/// default of the API contract (bindings never repeat one); build with [`ClientOptions::new`] and
/// change fields, or — a binding — deserialize it from the host's keyword arguments
/// (`host::options::client_options`), fields left out keeping their defaults.
#[derive(Debug, Clone, serde::Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ClientOptions {
    /// Server host name or IP address (also the TLS server name unless `tls_server_name`). A
    /// name that does not resolve is a `dns` error.
    pub host: String,
    /// Server port; `None` is 465 with implicit TLS, else 25 (see
    /// [`ClientOptions::effective_port`]).
    pub port: Option<u16>,
    /// TLS mode (default opportunistic).
    #[serde(deserialize_with = "crate::option_values::de::from_str")]
    pub tls: TlsMode,
    /// Name for EHLO/HELO; default: this machine's fully qualified name, else the address
    /// literal of the local end of the connection (`[192.0.2.1]`, `[IPv6:2001:db8::1]`), as RFC
    /// 5321 §4.1.4 asks — never a bare short host name.
    pub hello_name: Option<String>,
    /// Timeouts per phase (default: 30 s each, 600 s for the reply to the end of the message).
    #[serde(deserialize_with = "crate::option_values::de::timeouts")]
    pub timeouts: ClientTimeouts,
    /// A PEM file of certificates trusted in addition to the webpki roots: CA certificates, or
    /// the server's own self-signed certificate (then pinned: accepted as the server's
    /// certificate for the names it carries, within its validity dates).
    pub ca_file: Option<PathBuf>,
    /// Skip certificate verification entirely (tests only: anyone can impersonate the server).
    pub accept_invalid_certs: bool,
    /// Allow AUTH over an unencrypted connection (refused by default, error kind `auth`).
    pub allow_plaintext_auth: bool,
    /// Use PIPELINING when the server offers it (default true): the envelope in one write, and
    /// BDAT chunks sent without waiting for each reply.
    pub pipelining: bool,
    /// Use CHUNKING/BDAT for large messages when the server offers it (default true).
    pub chunking: bool,
    /// Name to verify the server certificate against, when it differs from `host`.
    pub tls_server_name: Option<String>,
    /// Record the `C:`/`S:` transcript (default true; benchmarks turn it off — it costs one
    /// `String` per line).
    pub record_transcript: bool,
    /// Bounds on replies read from the server (line length, lines per reply).
    #[serde(skip)]
    pub reply_limits: ReplyLimits,
}

impl Default for ClientOptions {
    /// No host (set one), default port, opportunistic TLS, the default timeouts, PIPELINING and
    /// CHUNKING on, plaintext AUTH refused, transcript recorded.
    fn default() -> Self {
        ClientOptions {
            host: String::new(),
            port: None,
            tls: TlsMode::Opportunistic,
            hello_name: None,
            timeouts: ClientTimeouts::default(),
            ca_file: None,
            accept_invalid_certs: false,
            allow_plaintext_auth: false,
            pipelining: true,
            chunking: true,
            tls_server_name: None,
            record_transcript: true,
            reply_limits: ReplyLimits::default(),
        }
    }
}

impl ClientOptions {
    /// Options for `host:port` with every other option at its default.
    pub fn new(host: impl Into<String>, port: u16) -> Self {
        ClientOptions { host: host.into(), port: Some(port), ..ClientOptions::default() }
    }

    /// Options for `host` on the default port (25, or 465 once `tls` is implicit) with every
    /// other option at its default.
    pub fn for_host(host: impl Into<String>) -> Self {
        ClientOptions { host: host.into(), ..ClientOptions::default() }
    }

    /// The port connected to: `port`, else 465 ([`IMPLICIT_TLS_PORT`]) with implicit TLS, else 25.
    pub fn effective_port(&self) -> u16 {
        self.port.unwrap_or(if self.tls == TlsMode::Implicit { IMPLICIT_TLS_PORT } else { SMTP_PORT })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ErrorKind;

    #[test]
    fn implicit_tls_defaults_to_port_465() {
        let mut o = ClientOptions::for_host("mx.example");
        assert_eq!(o.effective_port(), 25);
        o.tls = TlsMode::Implicit;
        assert_eq!(o.effective_port(), 465);
        o.port = Some(2465);
        assert_eq!(o.effective_port(), 2465);
        assert_eq!(ClientOptions::new("mx.example", 587).effective_port(), 587);
    }

    #[test]
    fn timeout_does_not_cut_the_wait_after_the_final_dot() {
        let d = ClientTimeouts::default();
        assert_eq!(d.data_end, Duration::from_secs(600));
        assert_eq!((d.mail, d.banner, d.other), (DEFAULT_TIMEOUT, DEFAULT_TIMEOUT, DEFAULT_TIMEOUT));
        let t = ClientTimeouts::from_seconds(Some(5.0), None, Vec::<(&str, f64)>::new()).expect("valid");
        assert_eq!((t.rcpt, t.data_end), (Duration::from_secs(5), Duration::from_secs(600)));
        let t = ClientTimeouts::from_seconds(Some(5.0), Some(900.0), [("rcpt", 60.0), ("data_block", 7.5)])
            .expect("valid");
        assert_eq!(t.data_end, Duration::from_secs(900));
        assert_eq!(t.rcpt, Duration::from_secs(60));
        assert_eq!(t.data_block, Duration::from_millis(7500));
        assert_eq!(t.mail, Duration::from_secs(5));
        assert_eq!(ClientTimeouts::rfc5321().data_end, Duration::from_secs(600));
        assert_eq!(ClientTimeouts::rfc5321().data_start, Duration::from_secs(120));
    }

    #[test]
    fn every_phase_is_named_and_bad_values_are_refused() {
        let mut t = ClientTimeouts::uniform(Duration::from_secs(1));
        for (i, phase) in ClientTimeouts::PHASES.iter().enumerate() {
            t.set(phase, Duration::from_secs(100 + i as u64)).expect("known phase");
        }
        for (i, phase) in ClientTimeouts::PHASES.iter().enumerate() {
            assert_eq!(t.get(phase), Some(Duration::from_secs(100 + i as u64)), "{phase}");
        }
        assert_eq!(t.get("dat"), None);
        assert_eq!(t.get("greeting"), t.get("banner"), "the first release's name still works");
        assert_eq!(t.get("data_init"), t.get("data_start"));
        let e = ClientTimeouts::from_seconds(None, None, [("dat", 1.0)]).unwrap_err();
        assert_eq!(e.kind(), ErrorKind::InvalidInput);
        assert!(e.message().contains("data_end"), "{e}");
        for bad in [1e-12, 0.0, -1.0, f64::NAN, f64::INFINITY] {
            for (timeout, data, map) in
                [(Some(bad), None, None), (None, Some(bad), None), (None, None, Some(bad))]
            {
                let phases = map.map(|v| ("mail", v));
                let e = ClientTimeouts::from_seconds(timeout, data, phases).unwrap_err();
                assert_eq!(e.kind(), ErrorKind::InvalidInput, "{bad}");
            }
        }
    }
}
