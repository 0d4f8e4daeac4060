//! The API's values in their JS shape: `Reply` (a class: `new Reply(code, text?, enhanced?)`,
//! as in every runtime) and plain objects for the rest — `SendResult` with its
//! `RejectedRecipient`s and `Timings` (seconds), `Session` and `Envelope` (hook arguments),
//! `RecipientResult` (`sendMail`), `Address`, and the server's and pool's counters.
//!
//! Optional values are `null` when absent (as `None` in Python), never missing.

use std::collections::HashMap;
use std::net::SocketAddr;

use napi::bindgen_prelude::{Buffer, JsValue, ToNapiValue, TypeName};
use napi::Env;
use napi_derive::napi;
use postwire::client::{
    PoolStats as CorePoolStats, RecipientResult as CoreRecipientResult, SendResult as CoreSendResult,
};
use postwire::server::ServerStats as CoreServerStats;

use crate::error::invalid_input;

/// An SMTP reply: `code`, `enhanced` (`"2.1.5"` or `null`), `lines`, and `text` (the lines
/// joined by `\n`). `new Reply(550, "5.7.1 relaying denied")` recognises the enhanced code at the
/// start of the text; a hook may return one to refuse.
#[napi]
#[derive(Clone)]
pub struct Reply {
    pub(crate) inner: postwire::Reply,
}

impl From<postwire::Reply> for Reply {
    fn from(inner: postwire::Reply) -> Self {
        Reply { inner }
    }
}

/// A `Reply` as plain data (`reply.toJSON()`, what `JSON.stringify` writes).
#[napi(object, object_from_js = false, use_nullable = true)]
pub struct ReplyJson {
    /// The three-digit code.
    pub code: u32,
    /// The enhanced status code, or null.
    pub enhanced: Option<String>,
    /// The text lines.
    pub lines: Vec<String>,
    /// The lines joined by `\n`.
    pub text: String,
}

#[napi]
impl Reply {
    /// `new Reply(code, text = "", enhanced = null)`; `code` must be 200..599.
    #[napi(constructor, catch_unwind)]
    pub fn new(env: Env, code: u32, text: Option<String>, enhanced: Option<String>) -> napi::Result<Self> {
        let code = u16::try_from(code)
            .ok()
            .filter(|c| (200..600).contains(c))
            .ok_or_else(|| invalid_input(&env, format!("reply code {code} is not between 200 and 599")))?;
        Ok(Reply { inner: postwire::Reply::new(code, text.as_deref().unwrap_or(""), enhanced.as_deref()) })
    }

    /// The three-digit code.
    #[napi(getter, catch_unwind)]
    pub fn code(&self) -> u32 {
        u32::from(self.inner.code)
    }

    /// The enhanced status code (RFC 3463), e.g. `"5.1.1"`, or null.
    #[napi(getter, catch_unwind)]
    pub fn enhanced(&self) -> Option<String> {
        self.inner.enhanced.clone()
    }

    /// The text lines.
    #[napi(getter, catch_unwind)]
    pub fn lines(&self) -> Vec<String> {
        self.inner.lines.clone()
    }

    /// The lines joined by `\n`.
    #[napi(getter, catch_unwind)]
    pub fn text(&self) -> String {
        self.inner.text()
    }

    /// 2xx.
    #[napi(getter, catch_unwind)]
    pub fn is_positive(&self) -> bool {
        self.inner.is_positive()
    }

    /// 4xx.
    #[napi(getter, catch_unwind)]
    pub fn is_transient(&self) -> bool {
        self.inner.is_transient()
    }

    /// 5xx.
    #[napi(getter, catch_unwind)]
    pub fn is_permanent(&self) -> bool {
        self.inner.is_permanent()
    }

    /// `"550 5.7.1 relaying denied"`: the reply on one line.
    #[napi(js_name = "toString", catch_unwind)]
    pub fn to_js_string(&self) -> String {
        self.inner.one_line()
    }

    /// `{code, enhanced, lines, text}`.
    #[napi(js_name = "toJSON", catch_unwind)]
    pub fn to_json(&self) -> ReplyJson {
        ReplyJson { code: self.code(), enhanced: self.enhanced(), lines: self.lines(), text: self.text() }
    }

    /// True when both replies have the same code, enhanced code and lines.
    #[napi(catch_unwind)]
    pub fn equals(&self, other: &Reply) -> bool {
        self.inner == other.inner
    }
}

/// A recipient refused at RCPT, with the server's reply.
#[napi(object, object_from_js = false)]
pub struct RejectedRecipient {
    /// The recipient as given.
    pub rcpt: String,
    /// The reply to its RCPT.
    pub reply: Reply,
}

/// Seconds per phase of a send; null for a phase that did not run.
#[napi(object, object_from_js = false, use_nullable = true)]
pub struct Timings {
    /// TCP connect.
    pub connect: Option<f64>,
    /// Waiting for the banner.
    pub banner: Option<f64>,
    /// STARTTLS and the handshake.
    pub tls: Option<f64>,
    /// EHLO/HELO.
    pub ehlo: Option<f64>,
    /// AUTH.
    pub auth: Option<f64>,
    /// MAIL.
    pub mail: Option<f64>,
    /// Every RCPT.
    pub rcpt: Option<f64>,
    /// DATA/BDAT up to the final reply.
    pub data: Option<f64>,
    /// The whole transaction.
    pub total: Option<f64>,
}

/// The outcome of one transaction.
#[napi(object, object_from_js = false, use_nullable = true)]
pub struct SendResult {
    /// Recipients the server accepted.
    pub accepted: Vec<String>,
    /// Recipients refused at RCPT (the send succeeds while one is accepted).
    pub rejected: Vec<RejectedRecipient>,
    /// The reply after the message.
    pub reply: Reply,
    /// The queue id the server named in that reply, when found.
    pub queue_id: Option<String>,
    /// Seconds per phase.
    pub timings: Timings,
}

impl From<CoreSendResult> for SendResult {
    fn from(r: CoreSendResult) -> Self {
        let t = r.timings;
        let s = |d: Option<std::time::Duration>| d.map(|d| d.as_secs_f64());
        SendResult {
            accepted: r.accepted,
            rejected: r.rejected.into_iter().map(RejectedRecipient::from).collect(),
            reply: r.reply.into(),
            queue_id: r.queue_id,
            timings: Timings {
                connect: s(t.connect),
                banner: s(t.banner),
                tls: s(t.tls),
                ehlo: s(t.ehlo),
                auth: s(t.auth),
                mail: s(t.mail),
                rcpt: s(t.rcpt),
                data: s(t.data),
                total: s(t.total),
            },
        }
    }
}

impl From<postwire::client::RejectedRecipient> for RejectedRecipient {
    fn from(r: postwire::client::RejectedRecipient) -> Self {
        RejectedRecipient { rcpt: r.rcpt, reply: r.reply.into() }
    }
}

/// What `sendMail` did for one recipient.
#[napi(object, object_from_js = false, use_nullable = true)]
pub struct RecipientResult {
    /// The recipient as given.
    pub rcpt: String,
    /// True when the message was accepted for it.
    pub ok: bool,
    /// The reply that decided it, if any.
    pub reply: Option<Reply>,
    /// The failure as an `Error` (with `.code`, `.kind`, `.reply`; not thrown), or null.
    #[napi(ts_type = "PostwireError | null")]
    pub error: Option<ErrorValue>,
}

impl From<CoreRecipientResult> for RecipientResult {
    fn from(r: CoreRecipientResult) -> Self {
        let error = r.error.map(|(kind, message)| {
            let e = postwire::Error::new(kind, message);
            ErrorValue(match &r.reply {
                Some(rep) => e.with_reply(rep.clone()),
                None => e,
            })
        });
        RecipientResult { rcpt: r.rcpt, ok: r.ok, reply: r.reply.map(Reply::from), error }
    }
}

/// A core error handed to JS as a value (not thrown): the object of `error::js_error`.
pub struct ErrorValue(pub postwire::Error);

impl ToNapiValue for ErrorValue {
    unsafe fn to_napi_value(env: napi::sys::napi_env, val: Self) -> napi::Result<napi::sys::napi_value> {
        let env = Env::from_raw(env);
        Ok(crate::error::js_error(&env, &val.0)?.raw())
    }
}

impl TypeName for ErrorValue {
    fn type_name() -> &'static str {
        "PostwireError"
    }
    fn value_type() -> napi::ValueType {
        napi::ValueType::Object
    }
}

/// A host and port (`listen()`'s answer, a session's `peer` and `local`).
#[napi(object)]
#[derive(Clone)]
pub struct Address {
    /// The IP address as text.
    pub host: String,
    /// The port.
    pub port: u32,
}

impl From<SocketAddr> for Address {
    fn from(a: SocketAddr) -> Self {
        Address { host: a.ip().to_string(), port: u32::from(a.port()) }
    }
}

// Built by `hook_args.rs`; this type gives its d.ts.
/// The session as hooks see it.
#[napi(object, object_from_js = false, use_nullable = true)]
pub struct Session {
    /// Session id (also in the server's log lines and queue ids).
    pub id: String,
    /// The client's address.
    pub peer: Address,
    /// Our address the client connected to.
    pub local: Address,
    /// The HELO/EHLO name, once given.
    pub helo: Option<String>,
    /// True after STARTTLS.
    pub tls: bool,
    /// The user name after AUTH, else null.
    pub authenticated_user: Option<String>,
}

/// ESMTP parameters: keyword → value (`null` for a keyword without a value).
pub type Params = HashMap<String, Option<String>>;

/// MAIL/RCPT parameters as a JS object.
pub fn params(pairs: Vec<(String, Option<String>)>) -> Params {
    pairs.into_iter().collect()
}

// Built by `hook_args.rs`; this type gives its d.ts.
/// The envelope of a transaction (`onMessage`'s second argument).
#[napi(object, object_from_js = false)]
pub struct Envelope {
    /// The envelope sender; `""` is the null sender `<>`.
    pub mail_from: String,
    /// The accepted recipients, in order.
    pub rcpt_to: Vec<String>,
    /// MAIL parameters.
    #[napi(ts_type = "Record<string, string | null>")]
    pub mail_params: Params,
    /// RCPT parameters, one object per accepted recipient.
    #[napi(ts_type = "Array<Record<string, string | null>>")]
    pub rcpt_params: Vec<Params>,
}

/// The server's counters.
#[napi(object, object_from_js = false)]
pub struct ServerStats {
    /// Sessions accepted since start.
    pub connections: i64,
    /// Sessions open now.
    pub active_connections: i64,
    /// Connections turned away with 421 (server full).
    pub refused_connections: i64,
    /// Messages answered 250 after DATA/BDAT.
    pub messages_accepted: i64,
    /// Messages refused after DATA/BDAT.
    pub messages_rejected: i64,
    /// RCPT accepted.
    pub recipients_accepted: i64,
    /// RCPT refused.
    pub recipients_rejected: i64,
    /// Message bytes received.
    pub bytes_received: i64,
}

fn n(v: u64) -> i64 {
    i64::try_from(v).unwrap_or(i64::MAX)
}

impl From<CoreServerStats> for ServerStats {
    fn from(s: CoreServerStats) -> Self {
        ServerStats {
            connections: n(s.connections),
            active_connections: n(s.active_connections),
            refused_connections: n(s.refused_connections),
            messages_accepted: n(s.messages_accepted),
            messages_rejected: n(s.messages_rejected),
            recipients_accepted: n(s.recipients_accepted),
            recipients_rejected: n(s.recipients_rejected),
            bytes_received: n(s.bytes_received),
        }
    }
}

/// A pool's counters.
#[napi(object, object_from_js = false)]
pub struct PoolStats {
    /// Connections open now (busy, idle or closing).
    pub open: i64,
    /// Connections idle now.
    pub idle: i64,
    /// Connections opened since the pool was made.
    pub created: i64,
    /// Sends that reused an idle connection.
    pub reused: i64,
    /// Sends retried on a fresh connection after a dropped one.
    pub retried: i64,
}

impl From<CorePoolStats> for PoolStats {
    fn from(s: CorePoolStats) -> Self {
        let u = |v: usize| n(v as u64);
        PoolStats {
            open: u(s.open),
            idle: u(s.idle),
            created: n(s.created),
            reused: n(s.reused),
            retried: n(s.retried),
        }
    }
}

/// Message bytes: a `Buffer` (copied once) or a string (UTF-8).
pub type MessageArg = napi::Either<Buffer, String>;

/// The bytes of a message argument.
pub fn message_bytes(m: MessageArg) -> Vec<u8> {
    match m {
        napi::Either::A(b) => b.to_vec(),
        napi::Either::B(s) => s.into_bytes(),
    }
}

/// One address or a list of them.
pub type Recipients = napi::Either<String, Vec<String>>;

/// The list of a recipients argument.
pub fn recipients(r: Recipients) -> Vec<String> {
    match r {
        napi::Either::A(one) => vec![one],
        napi::Either::B(many) => many,
    }
}
