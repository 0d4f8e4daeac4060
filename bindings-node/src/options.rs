//! Option objects: what the JS side may pass, typed (the `#[napi(object)]` structs below become
//! the `.d.ts` interfaces), and [`js_options`], the generic walk that turns the object the caller
//! actually passed into the JSON the core's host layer deserializes (`postwire::host::options`,
//! `postwire::host::mta`): camelCase keys become the API contract's snake_case names, `undefined`
//! is left out, everything else is passed on as it is. Every default, unit and check is the
//! core's — and so is the refusal of an unknown option (`PW_INVALID_INPUT` naming it): a typo
//! such as `maxRecipent` must not pass silently, which a typed napi object alone would allow.
//!
//! The structs are never built from JS (`js_options` reads the object itself, so an unknown key
//! reaches the core): they are the documented, typed shape of each options object.
//!
//! Functions (hooks, `auth` as a callable) and `logger` are not part of the JSON: `server.rs`,
//! `hooks.rs` and `logging.rs` take them out of the object.

use std::collections::HashMap;

use napi::bindgen_prelude::{
    Array, FromNapiValue, Function, JsObjectValue, JsValue, Null, Object, Unknown, ValueType,
};
use napi::{Either, Env};
use napi_derive::napi;
use serde_json::{Map, Number, Value};

use crate::error::invalid_input;
use crate::values::{Envelope, Params, Session};

/// An options object as the core takes it, and the `logger` taken out of it.
pub struct JsOptions<'a> {
    /// The options with snake_case keys (an object; `{}` when none were given).
    pub json: Value,
    /// The `logger` option, when given.
    pub logger: Option<Either<Object<'a>, bool>>,
}

/// `maxMessageSize` → `max_message_size` (a snake_case key stays as it is). A key without a
/// lowercase letter is data, not an option name — an ESMTP keyword such as `BODY` or `XFOO` in
/// `rcptOptions: {XFOO: '1'}` — and stays as it is too.
fn snake(key: &str) -> String {
    if !key.bytes().any(|b| b.is_ascii_lowercase()) {
        return key.to_string();
    }
    let mut out = String::with_capacity(key.len() + 4);
    for c in key.chars() {
        if c.is_ascii_uppercase() {
            out.push('_');
            out.push(c.to_ascii_lowercase());
        } else {
            out.push(c);
        }
    }
    out
}

/// Keys whose value is a map of data (user names), not of option names: kept as given.
const DATA_MAPS: [&str; 1] = ["auth"];

/// How deep an options value may nest (the deepest real one is 2: `timeouts.command`); a
/// cyclic object stops here instead of overflowing the stack.
const MAX_DEPTH: usize = 16;

/// A JS value as JSON: `None` for `undefined`; integers as integers (napi's own conversion makes
/// every number past 2^32 a float, which no integer option would take).
fn json(
    env: &Env,
    what: &str,
    v: Unknown<'_>,
    snake_keys: bool,
    depth: usize,
) -> napi::Result<Option<Value>> {
    if depth > MAX_DEPTH {
        return Err(invalid_input(env, format!("option {what} nests too deeply (a cycle?)")));
    }
    Ok(Some(match v.get_type()? {
        ValueType::Undefined => return Ok(None),
        ValueType::Null => Value::Null,
        ValueType::Boolean => Value::Bool(unsafe { bool::from_napi_value(env.raw(), v.raw())? }),
        ValueType::String => Value::String(unsafe { String::from_napi_value(env.raw(), v.raw())? }),
        ValueType::Number => {
            let n = unsafe { f64::from_napi_value(env.raw(), v.raw())? };
            if n.trunc() == n && n.abs() < 9_007_199_254_740_992.0 {
                Value::Number(Number::from(n as i64))
            } else {
                Number::from_f64(n)
                    .map(Value::Number)
                    .ok_or_else(|| invalid_input(env, format!("option {what} must be a finite number")))?
            }
        }
        ValueType::Object if v.is_array()? => {
            let arr = unsafe { Array::from_napi_value(env.raw(), v.raw())? };
            let mut out = Vec::with_capacity(arr.len() as usize);
            for i in 0..arr.len() {
                let item: Unknown<'_> = arr.get(i)?.ok_or_else(|| invalid_input(env, "array hole"))?;
                out.push(json(env, what, item, snake_keys, depth + 1)?.unwrap_or(Value::Null));
            }
            Value::Array(out)
        }
        ValueType::Object => {
            let obj = unsafe { Object::from_napi_value(env.raw(), v.raw())? };
            let mut map = Map::new();
            for key in Object::keys(&obj)? {
                let item: Unknown<'_> = obj.get_named_property(&key)?;
                let nested = snake_keys && !DATA_MAPS.contains(&key.as_str());
                let name = if snake_keys { snake(&key) } else { key };
                if let Some(x) = json(env, &name, item, nested, depth + 1)? {
                    map.insert(name, x);
                }
            }
            Value::Object(map)
        }
        _ => return Err(invalid_input(env, format!("option {what} must not be a function or symbol"))),
    }))
}

/// The options object `obj` as the core's JSON (see the module doc). Top-level keys named in
/// `functions` may hold a function: it is left out of the JSON (the caller reads it from the
/// object itself); `logger` is taken out.
pub fn js_options<'a>(env: &Env, obj: Option<Object<'a>>, functions: &[&str]) -> napi::Result<JsOptions<'a>> {
    let Some(obj) = obj else {
        return Ok(JsOptions { json: Value::Object(Map::new()), logger: None });
    };
    let mut map = Map::new();
    let mut logger = None;
    for key in Object::keys(&obj)? {
        let v: Unknown<'a> = obj.get_named_property(&key)?;
        if key == "logger" {
            if v.get_type()? != ValueType::Undefined && v.get_type()? != ValueType::Null {
                logger = Some(unsafe { Either::<Object<'a>, bool>::from_napi_value(env.raw(), v.raw())? });
            }
            continue;
        }
        if v.get_type()? == ValueType::Function && functions.contains(&key.as_str()) {
            continue;
        }
        let nested = !DATA_MAPS.contains(&key.as_str());
        let name = snake(&key);
        if let Some(x) = json(env, &key, v, nested, 0)? {
            map.insert(name, x);
        }
    }
    Ok(JsOptions { json: Value::Object(map), logger })
}

/// A plain value (a result of the core, the JSON of `postwire::host::mta::to_value`) with
/// camelCase keys (`cname_chain` → `cnameChain`, `for_` → `for`).
pub fn camel(v: Value) -> Value {
    match v {
        Value::Object(m) => Value::Object(
            m.into_iter()
                .map(|(k, v)| {
                    let mut out = String::with_capacity(k.len());
                    let mut up = false;
                    for c in k.chars() {
                        if c == '_' {
                            up = true;
                        } else if up && !out.is_empty() {
                            out.push(c.to_ascii_uppercase());
                            up = false;
                        } else {
                            out.push(c);
                            up = false;
                        }
                    }
                    (out, camel(v))
                })
                .collect(),
        ),
        Value::Array(a) => Value::Array(a.into_iter().map(camel).collect()),
        other => other,
    }
}

/// The client's timeouts per phase, in seconds (RFC 5321 §4.5.3.2).
#[napi(object, object_to_js = false)]
#[allow(dead_code)] // the `.d.ts` interface: `js_options` reads the object itself
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
#[allow(dead_code)] // the `.d.ts` interface: `js_options` reads the object itself
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
    pub logger: Option<Either<Object<'a>, bool>>,
}

/// DSN parameters of one transaction (RFC 3461), sent only when the server offers DSN.
#[napi(object, object_to_js = false)]
#[allow(dead_code)] // the `.d.ts` interface: `js_options` reads the object itself
pub struct DsnOptions {
    /// `RET=`: the whole message (`"full"`) or its header (`"hdrs"`) in a failure notice.
    #[napi(ts_type = "'full' | 'hdrs'")]
    pub ret: Option<String>,
    /// `ENVID=`: an id of ours the notices carry.
    pub envid: Option<String>,
    /// `NOTIFY=` on every RCPT: `"NEVER"` or a list such as `"SUCCESS,FAILURE,DELAY"`.
    pub notify: Option<String>,
    /// Add `ORCPT=rfc822;<recipient>` on every RCPT.
    pub orcpt: Option<bool>,
}

/// `client.send`'s options.
#[napi(object, object_to_js = false)]
#[allow(dead_code)] // the `.d.ts` interface: `js_options` reads the object itself
pub struct SendOptions {
    /// DSN parameters (RFC 3461).
    pub dsn: Option<DsnOptions>,
    /// More MAIL FROM parameters: `["KEYWORD=value", …]` or `{KEYWORD: value | null}`.
    #[napi(ts_type = "string[] | Record<string, string | null>")]
    pub mail_options: Option<Value>,
    /// More parameters on every RCPT TO, in the same forms.
    #[napi(ts_type = "string[] | Record<string, string | null>")]
    pub rcpt_options: Option<Value>,
}

/// AUTH credentials for a pool destination or `sendMail`.
#[napi(object, object_to_js = false)]
#[allow(dead_code)] // the `.d.ts` interface: `js_options` reads the object itself
pub struct Credentials {
    /// The user name.
    pub user: String,
    /// The password (or OAuth token for XOAUTH2 sessions).
    pub password: String,
}

/// Where `pool.send` goes: a host, a port, credentials and every `ClientOptions` field. Sends
/// to equal destinations share sessions.
#[napi(object, object_to_js = false)]
#[allow(dead_code)] // the `.d.ts` interface: `js_options` reads the object itself
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
#[allow(dead_code)] // the `.d.ts` interface: `js_options` reads the object itself
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
    pub logger: Option<Either<Object<'a>, bool>>,
}

/// How `sendMail` delivers: through `smarthost`, or without one by MX routing per recipient
/// domain (where the core routes; `nameservers`, `allowLoopback` and `port` apply there).
#[napi(object, object_to_js = false)]
#[allow(dead_code)] // the `.d.ts` interface: `js_options` reads the object itself
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
    pub logger: Option<Either<Object<'a>, bool>>,
}

/// The server's timeouts per phase, in seconds.
#[napi(object, object_to_js = false)]
#[allow(dead_code)] // the `.d.ts` interface: `js_options` reads the object itself
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
#[allow(dead_code)]
pub type AuthOption<'a> = Either<Function<'a, AuthArgs, Unknown<'static>>, HashMap<String, String>>;

/// A JS hook as given in the options.
pub type Hook<'a, A> = Function<'a, A, Unknown<'static>>;

/// Every option of the API contract's `Server(...)` (each optional; the core's defaults) and the
/// hooks. A hook returns nothing to accept, or `[code, text]`, `{code, text}` or a `Reply` to
/// refuse — or a Promise of one of those; a hook that throws or rejects answers `451 4.3.0`.
#[napi(object, object_to_js = false)]
#[allow(dead_code)] // the `.d.ts` interface: `js_options` reads the object itself
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
    pub auth: Option<AuthOption<'a>>,
    /// Offer AUTH without TLS (tests, trusted networks; default false).
    pub allow_insecure_auth: Option<bool>,
    /// Answer VRFY (otherwise 252).
    pub allow_vrfy: Option<bool>,
    /// Answer EXPN (otherwise 502).
    pub allow_expn: Option<bool>,
    /// `"maildir:PATH"`, `"discard"`, `"queue:DIR"` (relay mode: 250 once the message is in the
    /// durable queue on DIR, which relays it by MX or through `queueSmarthost`), or none (hooks
    /// only; the default).
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
    /// Where the sessions run (Node only): `'jsThread'` (the default) — on this thread's event
    /// loop, beside the hooks, as Node's own servers do: a hook is called without a hand-off
    /// between threads, but JS that blocks the thread holds up every session; or `'runtime'` —
    /// on postwire's own threads, only the hook calls come to the JS thread (for servers whose
    /// JS thread is busy, or with many TLS handshakes on a machine with many cores). Where the
    /// JS thread cannot host them (not Linux), sessions run on the runtime.
    #[napi(ts_type = "'jsThread' | 'runtime'")]
    pub sessions_on: Option<String>,
    /// Simultaneous sessions from one client address (an IPv6 client counts by its /64);
    /// `421 4.7.0` past it (default 20; 0 = no per-address limit).
    pub max_connections_per_ip: Option<u32>,
    /// CIDRs the per-address limit does not apply to (default loopback; `relayNetworks` are
    /// always exempt).
    pub connection_limit_exceptions: Option<Vec<String>>,
    /// Least average rate, bytes per second, at which message content must arrive (default
    /// 500, Postfix's `smtpd_min_data_rate`); past it `421 4.4.2`. 0 = only the per-read timeout.
    pub min_data_rate: Option<i64>,
    /// NOOP/RSET/VRFY/EXPN/HELP allowed between two accepted messages; past it `421 4.7.0`
    /// (default 100; 0 = unlimited).
    pub max_junk_commands: Option<u32>,
    /// Advertise DSN (RFC 3461) and accept its parameters (default false: only a server that
    /// can send the notices, one with a queue, should).
    pub advertise_dsn: Option<bool>,
    /// With `delivery: "maildir:PATH"`: `"shared"` (one Maildir, the default),
    /// `"per-recipient"` (`{domain}/{user}`) or a template such as `"{domain}/{user}/Maildir"`.
    pub maildir_layout: Option<String>,
    /// Relay mode (`delivery: "queue:DIR"`): relay everything through this host (`HOST` or
    /// `HOST:PORT`) instead of routing by MX.
    pub queue_smarthost: Option<String>,
    /// Relay mode: the SMTP port of the exchangers (and of a smarthost named without one; 25).
    pub queue_port: Option<u32>,
    /// Relay mode: DNS servers for MX routing as `"ip:port"` (default the system's).
    pub nameservers: Option<Vec<String>>,
    /// Relay mode: deliver to exchangers on loopback addresses (tests; default false).
    pub allow_loopback: Option<bool>,
    /// Relay mode: recipients of `localDomains` or `hostname` go into this Maildir instead of
    /// being relayed.
    pub local_maildir: Option<String>,
    /// Relay mode: seconds between retries, the last repeating (default 5 min doubling to 70 min).
    pub queue_retry: Option<Vec<f64>>,
    /// Relay mode: seconds after which a message still deferred is bounced (default 5 days).
    pub queue_max_age: Option<f64>,
    /// After accept, before the banner.
    #[napi(ts_type = "(session: Session) => HookResult | Promise<HookResult>")]
    pub on_connect: Option<Hook<'a, ConnectArgs>>,
    /// On MAIL, after the syntax checks.
    #[napi(
        ts_type = "(session: Session, address: string, params: Record<string, string | null>) => HookResult | Promise<HookResult>"
    )]
    pub on_mail_from: Option<Hook<'a, AddressArgs>>,
    /// On RCPT, after the relay policy.
    #[napi(
        ts_type = "(session: Session, address: string, params: Record<string, string | null>) => HookResult | Promise<HookResult>"
    )]
    pub on_rcpt_to: Option<Hook<'a, AddressArgs>>,
    /// After the end of the message, before the reply (`data` has our Received line on top).
    #[napi(
        ts_type = "(session: Session, envelope: Envelope, data: Buffer) => HookResult | Promise<HookResult>"
    )]
    pub on_message: Option<Hook<'a, MessageArgs>>,
    /// Where the core's log records go (see `ClientOptions.logger`).
    #[napi(ts_type = "Logger | boolean")]
    pub logger: Option<Either<Object<'a>, bool>>,
}
