//! Option objects: what the JS side may pass, typed (they become the `.d.ts` interfaces), turned
//! into the JSON the core's host layer deserializes (`postwire::host::options`). The binding
//! declares the names and types — in camelCase for JS, snake_case in the JSON, which are the
//! API contract's names — and nothing else: every default, unit and check is the core's, and an
//! option left out (or `undefined`/`null`) takes the core's default.
//!
//! Functions (hooks, `auth` as a callable, `logger`) are not part of the JSON: `server.rs`,
//! `hooks.rs` and `logging.rs` take them out.

use std::collections::HashMap;

use napi::bindgen_prelude::{Function, Null, Object, Unknown};
use napi::Either;
use napi_derive::napi;
use serde::Serialize;
use serde_json::Value;

use crate::values::{Envelope, Params, Session};

/// A value's JSON with every null field removed (at any depth): a null option is one left out.
pub fn to_json(v: &impl Serialize) -> Value {
    fn strip(v: &mut Value) {
        match v {
            Value::Object(m) => {
                m.retain(|_, x| !x.is_null());
                m.values_mut().for_each(strip);
            }
            Value::Array(a) => a.iter_mut().for_each(strip),
            _ => {}
        }
    }
    // Serializing these plain structs cannot fail (string keys, finite numbers or null).
    let mut v = serde_json::to_value(v).unwrap_or(Value::Null);
    strip(&mut v);
    v
}

/// The client's timeouts per phase, in seconds (RFC 5321 §4.5.3.2).
#[napi(object, object_to_js = false)]
#[derive(Serialize, Default)]
pub struct ClientTimeouts {
    /// TCP connect (and the implicit-TLS handshake).
    pub connect: Option<f64>,
    /// The 220 banner.
    pub greeting: Option<f64>,
    /// EHLO/HELO.
    pub ehlo: Option<f64>,
    /// The reply to MAIL.
    pub mail: Option<f64>,
    /// Each reply to RCPT.
    pub rcpt: Option<f64>,
    /// The 354 after DATA.
    pub data_init: Option<f64>,
    /// Each write of message data.
    pub data_block: Option<f64>,
    /// The reply after the message (also set by `dataTimeout`).
    pub data_end: Option<f64>,
    /// Everything else: STARTTLS, AUTH, RSET, VRFY, NOOP, QUIT.
    pub other: Option<f64>,
}

/// How `Client.connect` opens a session (every field optional; the core's defaults).
#[napi(object, object_to_js = false)]
#[derive(Serialize, Default)]
pub struct ClientOptions<'a> {
    /// `"none"`, `"opportunistic"` (STARTTLS when offered, the default), `"starttls"`
    /// (required) or `"implicit"` (TLS from the first byte; port 465 by default).
    #[napi(ts_type = "'none' | 'opportunistic' | 'starttls' | 'implicit'")]
    pub tls: Option<String>,
    /// Name for EHLO/HELO (default: this machine's name).
    pub hello_name: Option<String>,
    /// Seconds to wait for each reply, except the one after the message (default 30).
    pub timeout: Option<f64>,
    /// Seconds to wait for the reply after the message (default 600, RFC 5321 §4.5.3.2.6).
    pub data_timeout: Option<f64>,
    /// One number for every phase, or seconds per phase.
    #[napi(ts_type = "number | ClientTimeouts")]
    pub timeouts: Option<Either<f64, ClientTimeouts>>,
    /// A PEM file of CA certificates trusted in addition to the public roots.
    pub ca_file: Option<String>,
    /// Skip certificate verification (tests only).
    pub accept_invalid_certs: Option<bool>,
    /// Allow AUTH over an unencrypted connection.
    pub allow_plaintext_auth: Option<bool>,
    /// Use PIPELINING when offered (default true).
    pub pipelining: Option<bool>,
    /// Use CHUNKING/BDAT for large messages when offered (default true).
    pub chunking: Option<bool>,
    /// Name to verify the server certificate against, when it is not the host.
    pub tls_server_name: Option<String>,
    /// Keep the `C:`/`S:` transcript (default true).
    pub record_transcript: Option<bool>,
    /// Where the core's log records go: an object with `debug/info/warn/error` (nodemailer's
    /// convention), or `true` for the console. Process-wide: see `setLogger`.
    #[napi(ts_type = "Logger | boolean")]
    #[serde(skip)]
    pub logger: Option<Either<Object<'a>, bool>>,
}

/// AUTH credentials for a pool destination or `sendMail`.
#[napi(object, object_to_js = false)]
#[derive(Serialize)]
pub struct Credentials {
    /// The user name.
    pub user: String,
    /// The password (or OAuth token for XOAUTH2 sessions).
    pub password: String,
}

/// Where `pool.send` goes: a host, a port, credentials and every `ClientOptions` field. Sends
/// to equal destinations share sessions.
#[napi(object, object_to_js = false)]
#[derive(Serialize)]
pub struct Destination {
    /// The server's host name or IP address.
    pub host: String,
    /// The port (25, or 465 with `tls: "implicit"`).
    pub port: Option<u32>,
    /// AUTH after connecting.
    pub credentials: Option<Credentials>,
    /// Session options.
    #[napi(ts_type = "'none' | 'opportunistic' | 'starttls' | 'implicit'")]
    pub tls: Option<String>,
    /// Name for EHLO/HELO.
    pub hello_name: Option<String>,
    /// Seconds per reply (default 30), except after the message.
    pub timeout: Option<f64>,
    /// Seconds for the reply after the message (default 600).
    pub data_timeout: Option<f64>,
    /// One number for every phase, or seconds per phase.
    #[napi(ts_type = "number | ClientTimeouts")]
    pub timeouts: Option<Either<f64, ClientTimeouts>>,
    /// Extra CA certificates (PEM file).
    pub ca_file: Option<String>,
    /// Skip certificate verification (tests only).
    pub accept_invalid_certs: Option<bool>,
    /// Allow AUTH without TLS.
    pub allow_plaintext_auth: Option<bool>,
    /// Use PIPELINING when offered.
    pub pipelining: Option<bool>,
    /// Use CHUNKING/BDAT when offered.
    pub chunking: Option<bool>,
    /// Name to verify the certificate against.
    pub tls_server_name: Option<String>,
}

/// Limits of a `Pool` (every field optional; the core's defaults).
#[napi(object, object_to_js = false)]
#[derive(Serialize, Default)]
pub struct PoolOptions<'a> {
    /// Open connections across all destinations (default 10).
    pub max_connections: Option<u32>,
    /// Open connections to one destination (default 5).
    pub max_per_destination: Option<u32>,
    /// Seconds an idle session is kept (default 60).
    pub idle_timeout: Option<f64>,
    /// Seconds a session lives at most (default 600).
    pub max_lifetime: Option<f64>,
    /// Retries on a fresh connection when one dropped before content was sent (default 2).
    pub max_retries: Option<u32>,
    /// Seconds idle after which a session is checked with NOOP before reuse (default 10).
    pub health_check_after: Option<f64>,
    /// Messages per session before it is closed (default 1000; 0 = no limit).
    pub max_messages_per_connection: Option<u32>,
    /// Where the core's log records go (see `ClientOptions.logger`).
    #[napi(ts_type = "Logger | boolean")]
    #[serde(skip)]
    pub logger: Option<Either<Object<'a>, bool>>,
}

/// How `sendMail` delivers: through `smarthost`, or without one by MX routing per recipient
/// domain (where the core routes; `nameservers`, `allowLoopback` and `port` apply there).
#[napi(object, object_to_js = false)]
#[derive(Serialize, Default)]
pub struct SendMailOptions<'a> {
    /// Relay everything through this host.
    pub smarthost: Option<String>,
    /// Its port (default 25).
    pub port: Option<u32>,
    /// AUTH at the smarthost.
    pub credentials: Option<Credentials>,
    /// TLS mode (default opportunistic).
    #[napi(ts_type = "'none' | 'opportunistic' | 'starttls' | 'implicit'")]
    pub tls: Option<String>,
    /// Seconds per reply (default 30), except after the message.
    pub timeout: Option<f64>,
    /// Seconds for the reply after the message (default 600).
    pub data_timeout: Option<f64>,
    /// Name for EHLO/HELO.
    pub hello_name: Option<String>,
    /// DNS servers (`"ip:port"`) for MX routing.
    pub nameservers: Option<Vec<String>>,
    /// Allow MX hosts on loopback (tests).
    pub allow_loopback: Option<bool>,
    /// Extra CA certificates (PEM file).
    pub ca_file: Option<String>,
    /// Skip certificate verification (tests only).
    pub accept_invalid_certs: Option<bool>,
    /// Allow AUTH without TLS.
    pub allow_plaintext_auth: Option<bool>,
    /// Where the core's log records go (see `ClientOptions.logger`).
    #[napi(ts_type = "Logger | boolean")]
    #[serde(skip)]
    pub logger: Option<Either<Object<'a>, bool>>,
}

/// The server's timeouts per phase, in seconds.
#[napi(object, object_to_js = false)]
#[derive(Serialize, Default)]
pub struct ServerTimeouts {
    /// Waiting for the next command line (default 300).
    pub command: Option<f64>,
    /// Waiting for the next bytes of message content (default 300).
    pub data: Option<f64>,
    /// The TLS handshake after STARTTLS (default 60).
    pub tls_handshake: Option<f64>,
    /// Writing a reply to a client that does not read (default 300).
    pub write: Option<f64>,
}

/// A hook's arguments, as the JS function receives them.
pub type ConnectArgs = napi::bindgen_prelude::FnArgs<(Session,)>;
/// `onMailFrom` / `onRcptTo` arguments.
pub type AddressArgs = napi::bindgen_prelude::FnArgs<(Session, String, Params)>;
/// `onMessage` arguments.
pub type MessageArgs = napi::bindgen_prelude::FnArgs<(Session, Envelope, napi::bindgen_prelude::Buffer)>;
/// `auth` arguments.
pub type AuthArgs = napi::bindgen_prelude::FnArgs<(String, String)>;

/// `auth` as given: a function, or a `{user: password}` map.
pub type AuthOption<'a> = Either<Function<'a, AuthArgs, Unknown<'static>>, HashMap<String, String>>;

/// A JS hook as given in the options.
pub type Hook<'a, A> = Function<'a, A, Unknown<'static>>;

/// Every option of the API contract's `Server(...)` (each optional; the core's defaults) and the
/// hooks. A hook returns nothing to accept, or `[code, text]`, `{code, text}` or a `Reply` to
/// refuse — or a Promise of one of those; a hook that throws or rejects answers `451 4.3.0`.
#[napi(object, object_to_js = false)]
#[derive(Serialize, Default)]
pub struct ServerOptions<'a> {
    /// Our name: banner, EHLO, Received `by` (default: this machine's name).
    pub hostname: Option<String>,
    /// Domains we accept mail for.
    pub local_domains: Option<Vec<String>>,
    /// CIDRs allowed to relay (default none).
    pub relay_networks: Option<Vec<String>>,
    /// Authenticated users may relay (default true).
    pub relay_authenticated: Option<bool>,
    /// SIZE in bytes; 552 above it (default 25 MiB); `null` or 0: no limit.
    #[napi(ts_type = "number | null")]
    #[serde(serialize_with = "size_limit")]
    pub max_message_size: Option<Either<i64, Null>>,
    /// Recipients per transaction; 452 past it (default 100).
    pub max_recipients: Option<u32>,
    /// Simultaneous sessions; 421 past it (default 1000).
    pub max_connections: Option<u32>,
    /// One number for every phase, or seconds per phase.
    #[napi(ts_type = "number | ServerTimeouts")]
    pub timeouts: Option<Either<f64, ServerTimeouts>>,
    /// PEM certificate chain; with `tlsKey`, STARTTLS is offered.
    pub tls_cert: Option<String>,
    /// PEM private key.
    pub tls_key: Option<String>,
    /// Credential check: `(user, password) => boolean | Promise<boolean>`, or
    /// `{user: password}`. AUTH PLAIN/LOGIN is offered when set.
    #[napi(
        ts_type = "((user: string, password: string) => boolean | Promise<boolean>) | Record<string, string>"
    )]
    #[serde(serialize_with = "auth_map")]
    pub auth: Option<AuthOption<'a>>,
    /// Offer AUTH without TLS (tests, trusted networks; default false).
    pub allow_insecure_auth: Option<bool>,
    /// Answer VRFY (otherwise 252).
    pub allow_vrfy: Option<bool>,
    /// Answer EXPN (otherwise 502).
    pub allow_expn: Option<bool>,
    /// `"maildir:PATH"`, `"discard"`, or none (hooks only; the default).
    pub delivery: Option<String>,
    /// No leniency for real-world quirks.
    pub strict: Option<bool>,
    /// Longest command line, CRLF included (default 512).
    pub max_command_line: Option<u32>,
    /// Longest text line in DATA (default 1000; 0 = unlimited).
    pub max_line_length: Option<u32>,
    /// Bare CR/LF and NUL in DATA: `"reject"` (default) or `"normalize"`.
    #[napi(ts_type = "'reject' | 'normalize'")]
    pub bare_line_policy: Option<String>,
    /// Look up the client's reverse-DNS name for the Received line.
    pub reverse_dns: Option<bool>,
    /// Close a session after this many refused commands (default 20).
    pub max_errors: Option<u32>,
    /// Seconds `stop()` lets transactions finish before 421 (default 30).
    pub shutdown_grace: Option<f64>,
    /// Message bytes all sessions may hold in memory (default 512 MiB).
    pub max_buffered_bytes: Option<i64>,
    /// Seconds the server waits for a hook before answering 451 (default 60).
    pub hook_timeout: Option<f64>,
    /// After accept, before the banner.
    #[napi(ts_type = "(session: Session) => HookResult | Promise<HookResult>")]
    #[serde(skip)]
    pub on_connect: Option<Hook<'a, ConnectArgs>>,
    /// On MAIL, after the syntax checks.
    #[napi(
        ts_type = "(session: Session, address: string, params: Record<string, string | null>) => HookResult | Promise<HookResult>"
    )]
    #[serde(skip)]
    pub on_mail_from: Option<Hook<'a, AddressArgs>>,
    /// On RCPT, after the relay policy.
    #[napi(
        ts_type = "(session: Session, address: string, params: Record<string, string | null>) => HookResult | Promise<HookResult>"
    )]
    #[serde(skip)]
    pub on_rcpt_to: Option<Hook<'a, AddressArgs>>,
    /// After the end of the message, before the reply (`data` has our Received line on top).
    #[napi(
        ts_type = "(session: Session, envelope: Envelope, data: Buffer) => HookResult | Promise<HookResult>"
    )]
    #[serde(skip)]
    pub on_message: Option<Hook<'a, MessageArgs>>,
    /// Where the core's log records go (see `ClientOptions.logger`).
    #[napi(ts_type = "Logger | boolean")]
    #[serde(skip)]
    pub logger: Option<Either<Object<'a>, bool>>,
}

/// `maxMessageSize: null` is "no limit", which the core spells 0.
fn size_limit<S: serde::Serializer>(v: &Option<Either<i64, Null>>, s: S) -> Result<S::Ok, S::Error> {
    match v {
        None => s.serialize_none(),
        Some(Either::A(n)) => s.serialize_i64(*n),
        Some(Either::B(_)) => s.serialize_u64(0),
    }
}

/// `auth` as a `{user: password}` map is an option value for the core; as a function it is not
/// (the server answers it through the hook dispatch).
fn auth_map<S: serde::Serializer>(v: &Option<AuthOption<'_>>, s: S) -> Result<S::Ok, S::Error> {
    match v {
        Some(Either::B(map)) => map.serialize(s),
        _ => s.serialize_none(),
    }
}
