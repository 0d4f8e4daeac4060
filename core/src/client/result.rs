//! What a transaction is asked to do and what came of it: [`SendOptions`] (envelope + DSN),
//! [`SendResult`] with per-recipient outcomes and the queue id, and [`Timings`] per phase —
//! `Duration`s in Rust, with the views bindings report: float seconds (`None` for a phase that
//! did not run; also the JSON form) and whole milliseconds for C's `_ms` fields.

use std::time::Duration;

use serde::{Serialize, Serializer};

use crate::proto::params::{Notify, Ret};
use crate::proto::Reply;

/// RFC 3461 delivery status notification requests, sent only when the server offers DSN.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DsnOptions {
    /// `RET=FULL|HDRS` on MAIL.
    pub ret: Option<Ret>,
    /// `ENVID=` on MAIL (xtext-encoded by the client).
    pub envid: Option<String>,
    /// `NOTIFY=` on every RCPT.
    pub notify: Option<Notify>,
    /// Add `ORCPT=rfc822;<recipient>` on every RCPT.
    pub orcpt: bool,
}

/// One transaction's envelope and options.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SendOptions {
    /// Reverse-path; `""` is the null sender `<>`.
    pub mail_from: String,
    /// Forward-paths, one RCPT each.
    pub rcpt_to: Vec<String>,
    /// DSN parameters (ignored when the server does not offer DSN).
    pub dsn: Option<DsnOptions>,
    /// More MAIL parameters, sent as given after the client's own (`SIZE`, `BODY`, `SMTPUTF8`,
    /// DSN) — one the client sends itself is not repeated. smtplib's `mail_options`
    /// (`["BODY=8BITMIME"]` there is `("BODY", Some("8BITMIME"))` here).
    pub mail_params: Vec<(String, Option<String>)>,
    /// More RCPT parameters, sent on every RCPT after the client's own (DSN); smtplib's
    /// `rcpt_options`.
    pub rcpt_params: Vec<(String, Option<String>)>,
}

impl SendOptions {
    /// An envelope without DSN.
    pub fn new(mail_from: impl Into<String>, rcpt_to: Vec<String>) -> Self {
        SendOptions { mail_from: mail_from.into(), rcpt_to, ..Default::default() }
    }
}

pub use crate::error::RejectedRecipient;

/// Time spent per phase; a phase that did not happen is `None`. Serialised as float seconds
/// (`null` for a phase that did not run), as the API reports them.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct Timings {
    /// TCP connect.
    #[serde(serialize_with = "ser_secs")]
    pub connect: Option<Duration>,
    /// Waiting for the banner.
    #[serde(serialize_with = "ser_secs")]
    pub banner: Option<Duration>,
    /// TLS handshake (STARTTLS command included) .
    #[serde(serialize_with = "ser_secs")]
    pub tls: Option<Duration>,
    /// EHLO/HELO (both of them after STARTTLS).
    #[serde(serialize_with = "ser_secs")]
    pub ehlo: Option<Duration>,
    /// AUTH exchange.
    #[serde(serialize_with = "ser_secs")]
    pub auth: Option<Duration>,
    /// MAIL reply (with PIPELINING: from the batch write to the MAIL reply).
    #[serde(serialize_with = "ser_secs")]
    pub mail: Option<Duration>,
    /// All RCPT replies.
    #[serde(serialize_with = "ser_secs")]
    pub rcpt: Option<Duration>,
    /// DATA/BDAT: from the DATA reply wait to the final reply.
    #[serde(serialize_with = "ser_secs")]
    pub data: Option<Duration>,
    /// The whole transaction (send) or session so far (client).
    #[serde(serialize_with = "ser_secs")]
    pub total: Option<Duration>,
}

fn ser_secs<S: Serializer>(d: &Option<Duration>, s: S) -> Result<S::Ok, S::Error> {
    match d {
        Some(d) => s.serialize_f64(d.as_secs_f64()),
        None => s.serialize_none(),
    }
}

impl Timings {
    /// The phase names, in the order of [`Timings::phases`]: the API's `timings` keys.
    pub const NAMES: [&'static str; 9] =
        ["connect", "banner", "tls", "ehlo", "auth", "mail", "rcpt", "data", "total"];

    /// Every phase with its name, in [`Timings::NAMES`] order.
    pub fn phases(&self) -> [(&'static str, Option<Duration>); 9] {
        let t = self;
        [
            ("connect", t.connect),
            ("banner", t.banner),
            ("tls", t.tls),
            ("ehlo", t.ehlo),
            ("auth", t.auth),
            ("mail", t.mail),
            ("rcpt", t.rcpt),
            ("data", t.data),
            ("total", t.total),
        ]
    }

    /// Every phase in float seconds (`None` for a phase that did not run): Python's and Node's
    /// `timings`.
    pub fn seconds(&self) -> [(&'static str, Option<f64>); 9] {
        self.phases().map(|(name, d)| (name, d.map(|d| d.as_secs_f64())))
    }

    /// Every phase in whole milliseconds, rounded down (`None` for a phase that did not run):
    /// C's `_ms` fields.
    pub fn millis(&self) -> [(&'static str, Option<u64>); 9] {
        self.phases().map(|(name, d)| (name, d.map(|d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))))
    }
}

/// The outcome of one accepted transaction.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SendResult {
    /// Recipients the server accepted (2xx to RCPT), as given.
    pub accepted: Vec<String>,
    /// Recipients refused at RCPT, with the reply.
    pub rejected: Vec<RejectedRecipient>,
    /// The reply after the message (final dot or last BDAT).
    pub reply: Reply,
    /// The queue id the server named in that reply, when we could find one.
    pub queue_id: Option<String>,
    /// MAIL, RCPT, DATA and total durations of this transaction.
    pub timings: Timings,
}

/// Find the queue id in a final 250: `queued as X` (Postfix, smtp-sink), `id=X` (Exim),
/// `<X> Queued mail for delivery`-style bracketed ids, else the last token when it looks like
/// an id (at least 6 characters of letters, digits, `.-_`, with a digit and a letter).
pub fn parse_queue_id(reply: &Reply) -> Option<String> {
    let text = reply.lines.join(" ");
    let clean = |s: &str| -> Option<String> {
        let t = s.trim_matches(|c: char| {
            matches!(c, '<' | '>' | '(' | ')' | '[' | ']' | ',' | ';' | '.' | ':' | '"')
        });
        let ok = !t.is_empty()
            && t.len() <= 128
            && t.chars().all(|c| {
                c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_' | '@' | '$' | '=' | '+' | '/')
            });
        ok.then(|| t.to_string())
    };
    let lower = text.to_ascii_lowercase();
    for key in ["queued as ", "id="] {
        if let Some(i) = lower.find(key) {
            let rest = &text[i + key.len()..];
            if let Some(tok) = rest.split_whitespace().next() {
                if let Some(id) = clean(tok) {
                    return Some(id);
                }
            }
        }
    }
    let last = text.split_whitespace().last()?;
    let id = clean(last)?;
    let looks = id.len() >= 6
        && id.chars().any(|c| c.is_ascii_digit())
        && id.chars().any(|c| c.is_ascii_alphabetic())
        && id.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_'));
    looks.then_some(id)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn r(text: &str) -> Reply {
        Reply { code: 250, enhanced: Some("2.0.0".into()), lines: vec![text.into()] }
    }

    #[test]
    fn timings_in_seconds_and_milliseconds() {
        let t = Timings {
            connect: Some(Duration::from_millis(1500)),
            data: Some(Duration::from_micros(2500)),
            ..Timings::default()
        };
        let secs = t.seconds();
        assert_eq!(secs[0], ("connect", Some(1.5)));
        assert_eq!(secs[1], ("banner", None));
        assert_eq!(secs[7], ("data", Some(0.0025)));
        let ms = t.millis();
        assert_eq!((ms[0], ms[7], ms[8]), (("connect", Some(1500)), ("data", Some(2)), ("total", None)));
        let json = serde_json::to_value(t).expect("json");
        assert_eq!(json["connect"], 1.5);
        assert!(json["tls"].is_null());
        let names: Vec<_> = t.phases().iter().map(|p| p.0).collect();
        assert_eq!(names, Timings::NAMES);
        let keys: Vec<_> = json.as_object().map(|o| o.keys().cloned().collect()).unwrap_or_default();
        assert_eq!(keys.len(), names.len());
        assert!(names.iter().all(|n| keys.iter().any(|k| k == n)));
    }

    #[test]
    fn queue_ids() {
        assert_eq!(parse_queue_id(&r("Ok: queued as 4Xyz12AbC")).as_deref(), Some("4Xyz12AbC"));
        assert_eq!(parse_queue_id(&r("OK id=1qAbCd-000Abc-5x")).as_deref(), Some("1qAbCd-000Abc-5x"));
        assert_eq!(parse_queue_id(&r("Message accepted for delivery")), None);
        assert_eq!(parse_queue_id(&r("OK 1700000000 a1si123.45 - gsmtp")), None);
        assert_eq!(parse_queue_id(&r("Ok")), None);
        assert_eq!(parse_queue_id(&r("OK: queued as <abc123@host>")).as_deref(), Some("abc123@host"));
        assert_eq!(parse_queue_id(&r("2.6.0 accepted 7f3a9b21c0")).as_deref(), Some("7f3a9b21c0"));
    }
}
