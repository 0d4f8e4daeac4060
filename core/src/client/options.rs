//! How a client session is opened: the server, the TLS mode, the RFC 5321 §4.5.3.2 timeouts and
//! the switches (plaintext AUTH, PIPELINING, CHUNKING, transcript) — plain data, validated when
//! [`crate::client::Client::connect`] uses it.

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

/// The client timeouts of RFC 5321 §4.5.3.2, one per phase, plus `connect` and `other`.
///
/// Each bounds the whole wait for one reply (or one write), so a server that drips a reply one
/// byte at a time still fails within it. (De)serialized as float seconds per phase.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ClientTimeouts {
    /// TCP connect (and the implicit-TLS handshake).
    #[serde(with = "crate::option_values::secs")]
    pub connect: Duration,
    /// The 220 banner (RFC: 5 minutes).
    #[serde(with = "crate::option_values::secs")]
    pub greeting: Duration,
    /// EHLO/HELO replies (we use the "other" 5 minutes by default).
    #[serde(with = "crate::option_values::secs")]
    pub ehlo: Duration,
    /// MAIL reply (RFC: 5 minutes).
    #[serde(with = "crate::option_values::secs")]
    pub mail: Duration,
    /// Each RCPT reply (RFC: 5 minutes).
    #[serde(with = "crate::option_values::secs")]
    pub rcpt: Duration,
    /// The 354 after DATA (RFC: 2 minutes).
    #[serde(with = "crate::option_values::secs")]
    pub data_init: Duration,
    /// Each write of message data (RFC: 3 minutes per block).
    #[serde(with = "crate::option_values::secs")]
    pub data_block: Duration,
    /// The reply after the final dot or the last BDAT (RFC: 10 minutes).
    #[serde(with = "crate::option_values::secs")]
    pub data_end: Duration,
    /// Everything else: STARTTLS, AUTH, RSET, VRFY, NOOP, QUIT … (we use 5 minutes).
    #[serde(with = "crate::option_values::secs")]
    pub other: Duration,
}

impl Default for ClientTimeouts {
    /// RFC 5321 §4.5.3.2 values; 30 s for connect.
    fn default() -> Self {
        let min = |m: u64| Duration::from_secs(m * 60);
        ClientTimeouts {
            connect: Duration::from_secs(30),
            greeting: min(5),
            ehlo: min(5),
            mail: min(5),
            rcpt: min(5),
            data_init: min(2),
            data_block: min(3),
            data_end: min(10),
            other: min(5),
        }
    }
}

impl ClientTimeouts {
    /// Every timeout set to `d`: the API's single `timeout` option.
    pub fn uniform(d: Duration) -> Self {
        ClientTimeouts {
            connect: d,
            greeting: d,
            ehlo: d,
            mail: d,
            rcpt: d,
            data_init: d,
            data_block: d,
            data_end: d,
            other: d,
        }
    }
}

/// Everything [`crate::client::Client::connect`] needs. Build with [`ClientOptions::new`] and
/// change fields; a binding deserializes it from the host's keyword arguments
/// (`host::options::client_options`), fields left out keeping the defaults of `new`.
#[derive(Debug, Clone, serde::Deserialize)]
#[serde(default = "crate::option_values::de::client_defaults", deny_unknown_fields)]
pub struct ClientOptions {
    /// Server host name or IP address (also the TLS server name unless `tls_server_name`).
    pub host: String,
    /// Server port.
    pub port: u16,
    /// TLS mode (default opportunistic).
    #[serde(deserialize_with = "crate::option_values::de::from_str")]
    pub tls: TlsMode,
    /// Name for EHLO/HELO; default: this machine's host name, or `localhost`.
    pub hello_name: Option<String>,
    /// Timeouts per phase.
    #[serde(deserialize_with = "crate::option_values::de::timeouts")]
    pub timeouts: ClientTimeouts,
    /// A PEM file of CA certificates trusted in addition to the webpki roots.
    pub ca_file: Option<PathBuf>,
    /// Skip certificate verification entirely (tests only: anyone can impersonate the server).
    pub accept_invalid_certs: bool,
    /// Allow AUTH over an unencrypted connection (refused by default, error kind `auth`).
    pub allow_plaintext_auth: bool,
    /// Use PIPELINING when the server offers it (default true).
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

impl ClientOptions {
    /// Options for `host:port` with the defaults: opportunistic TLS, RFC timeouts, PIPELINING
    /// and CHUNKING on, plaintext AUTH refused, transcript recorded.
    pub fn new(host: impl Into<String>, port: u16) -> Self {
        ClientOptions {
            host: host.into(),
            port,
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
