//! What delivery reports per recipient, and the sans-IO rules that decide it from a client
//! result or error: a 5xx (or a local refusal that no retry can change) fails the recipient, a
//! 4xx or any connection trouble defers it, an accepted RCPT with an accepted message delivers.

use serde::Serialize;

use crate::client::SendResult;
use crate::error::{Error, ErrorKind};
use crate::proto::params::Notify;
use crate::proto::Reply;

/// A recipient to deliver to, with its RFC 3461 parameters as the sender gave them.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Recipient {
    /// The address (`user@domain`).
    pub address: String,
    /// `NOTIFY=` (None: the default, failure and delay).
    pub notify: Option<Notify>,
    /// `ORCPT=` as (address type, address).
    pub orcpt: Option<(String, String)>,
}

impl Recipient {
    /// A recipient without DSN parameters.
    pub fn new(address: impl Into<String>) -> Recipient {
        Recipient { address: address.into(), ..Default::default() }
    }
}

/// Where a recipient stands after an attempt.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Status {
    /// A server took responsibility for it (250 after the message).
    Delivered,
    /// Not this time (4xx, connection trouble, DNS failure): try again later.
    Deferred,
    /// Never (5xx, NXDOMAIN, null MX): bounce.
    Failed,
}

/// The outcome of one attempt for one recipient.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RecipientOutcome {
    /// The recipient.
    pub rcpt: String,
    /// Delivered, deferred or failed.
    pub status: Status,
    /// The reply that decided it: the server's, or one synthesised for a local decision (DNS
    /// failure, null MX, loopback guard) so that the DSN always has a status code.
    pub reply: Option<Reply>,
    /// Error kind when not delivered (`dns`, `connect`, `rejected` …).
    #[serde(serialize_with = "ser_kind")]
    pub kind: Option<ErrorKind>,
    /// Human-readable detail.
    pub detail: String,
    /// The exchanger that answered last, as `name [address]`.
    pub host: Option<String>,
    /// True when the receiving server offers DSN and got this recipient's NOTIFY: it, not we,
    /// sends any success notice from here on (RFC 3461 §4.1).
    pub remote_dsn: bool,
}

fn ser_kind<S: serde::Serializer>(k: &Option<ErrorKind>, s: S) -> Result<S::Ok, S::Error> {
    match k {
        Some(k) => s.serialize_str(k.as_str()),
        None => s.serialize_none(),
    }
}

/// Deferred or failed, from an error: the reply class when a reply is attached; otherwise a
/// local refusal (message too big for the server, bad address) fails and the rest defers.
pub fn status_of(e: &Error) -> Status {
    match e.reply() {
        Some(r) if r.is_permanent() => Status::Failed,
        Some(_) => Status::Deferred,
        None if matches!(e.kind(), ErrorKind::Rejected | ErrorKind::InvalidInput) => Status::Failed,
        None => Status::Deferred,
    }
}

/// Every recipient of `rcpts` with the outcome `e` decides.
pub(super) fn from_error(rcpts: &[Recipient], e: &Error, host: Option<&str>) -> Vec<RecipientOutcome> {
    let status = status_of(e);
    rcpts
        .iter()
        .map(|r| RecipientOutcome {
            rcpt: r.address.clone(),
            status,
            reply: e.reply().cloned().or_else(|| Some(synthetic(status, e.message()))),
            kind: Some(e.kind()),
            detail: e.message().to_string(),
            host: host.map(str::to_string),
            remote_dsn: false,
        })
        .collect()
}

/// A reply for a decision no server made: 451 4.4.1 (no answer) or 550 5.4.4 (unroutable),
/// or 554 5.0.0 for a local permanent refusal, so a DSN always has a status.
fn synthetic(status: Status, text: &str) -> Reply {
    match status {
        Status::Failed => Reply::new(554, text, Some("5.0.0")),
        _ => Reply::new(451, text, Some("4.4.1")),
    }
}

/// The outcomes of a transaction that went through for at least one recipient.
pub(super) fn from_result(
    rcpts: &[Recipient],
    res: &SendResult,
    host: &str,
    remote_dsn: bool,
) -> Vec<RecipientOutcome> {
    rcpts
        .iter()
        .map(|r| match res.rejected.iter().find(|x| x.rcpt == r.address) {
            Some(x) => refused(r, &x.reply, host),
            None => RecipientOutcome {
                rcpt: r.address.clone(),
                status: Status::Delivered,
                reply: Some(res.reply.clone()),
                kind: None,
                detail: format!("delivered to {host}: {}", res.reply.one_line()),
                host: Some(host.to_string()),
                remote_dsn,
            },
        })
        .collect()
}

/// A recipient the server refused at RCPT.
pub(super) fn refused(r: &Recipient, reply: &Reply, host: &str) -> RecipientOutcome {
    let status = if reply.is_permanent() { Status::Failed } else { Status::Deferred };
    RecipientOutcome {
        rcpt: r.address.clone(),
        status,
        reply: Some(reply.clone()),
        kind: Some(if reply.is_permanent() { ErrorKind::Rejected } else { ErrorKind::Transient }),
        detail: format!("{host} refused the recipient: {}", reply.one_line()),
        host: Some(host.to_string()),
        remote_dsn: false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn errors_decide_by_reply_class_then_by_kind() {
        let e = Error::from_reply(Reply::new(550, "no", Some("5.1.1")));
        assert_eq!(status_of(&e), Status::Failed);
        let e = Error::from_reply(Reply::new(451, "later", None));
        assert_eq!(status_of(&e), Status::Deferred);
        assert_eq!(status_of(&Error::new(ErrorKind::Connect, "refused")), Status::Deferred);
        assert_eq!(status_of(&Error::new(ErrorKind::Rejected, "over SIZE")), Status::Failed);
        let out = from_error(&[Recipient::new("a@x.test")], &Error::new(ErrorKind::Timeout, "slow"), None);
        assert_eq!(out[0].reply.as_ref().map(|r| r.code), Some(451), "a DSN always gets a status");
    }
}
