//! What the queue keeps per message: the envelope given to `submit` ([`NewEntry`]) and the
//! state that changes with every attempt ([`QueueEntry`], one [`RecipientState`] per recipient).
//! Plain owned values with serde: the spool stores them as JSON, `list()` and
//! `postwire queue list --json` show them as they are, bindings convert them field by field.

use serde::{Deserialize, Serialize};

use crate::delivery::Recipient;
use crate::proto::params::{Notify, Ret};
use crate::proto::Reply;

/// A message's envelope as submitted.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct NewEntry {
    /// Reverse-path; `""` is `<>` (no DSN is ever sent for it).
    pub mail_from: String,
    /// Recipients with their DSN parameters.
    pub recipients: Vec<NewRecipient>,
    /// `ENVID=` (RFC 3461), carried into notices.
    pub envid: Option<String>,
    /// `RET=`: `"full"` or `"hdrs"` (RFC 3461), how much of the message a notice returns.
    pub ret: Option<String>,
}

/// One recipient as submitted.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct NewRecipient {
    /// The address.
    pub address: String,
    /// `NOTIFY=` as on the wire (`"SUCCESS,FAILURE"`, `"NEVER"`); `None` = failure and delay.
    pub notify: Option<String>,
    /// `ORCPT=` as `"type;address"` (`"rfc822;a@b.test"`).
    pub orcpt: Option<String>,
}

impl NewEntry {
    /// An envelope without DSN parameters.
    pub fn new(mail_from: impl Into<String>, rcpt_to: &[String]) -> NewEntry {
        NewEntry {
            mail_from: mail_from.into(),
            recipients: rcpt_to
                .iter()
                .map(|a| NewRecipient { address: a.clone(), ..Default::default() })
                .collect(),
            ..Default::default()
        }
    }
}

/// Where one recipient stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RcptStatus {
    /// Still to deliver (never tried, or deferred).
    Pending,
    /// A server took it.
    Delivered,
    /// Refused for good; bounced.
    Failed,
    /// Still deferred when the entry reached its maximum age; bounced.
    Expired,
}

/// A reply as stored: code, enhanced code, text.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StoredReply {
    /// Reply code.
    pub code: u16,
    /// Enhanced status code (`"5.1.1"`).
    pub enhanced: Option<String>,
    /// Text, lines joined by `\n`.
    pub text: String,
}

impl From<&Reply> for StoredReply {
    fn from(r: &Reply) -> Self {
        StoredReply { code: r.code, enhanced: r.enhanced.clone(), text: r.text() }
    }
}

impl StoredReply {
    /// Back to a [`Reply`].
    pub fn to_reply(&self) -> Reply {
        Reply::new(self.code, &self.text, self.enhanced.as_deref())
    }
}

/// One recipient of a queued message.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RecipientState {
    /// The address.
    pub rcpt: String,
    /// `NOTIFY=` as given (see [`NewRecipient::notify`]).
    pub notify: Option<String>,
    /// `ORCPT=` as given.
    pub orcpt: Option<String>,
    /// Where it stands.
    pub status: RcptStatus,
    /// Attempts made for it.
    pub attempts: u32,
    /// The last reply that decided something for it.
    pub last_reply: Option<StoredReply>,
    /// The last attempt's detail (error message, host).
    pub last_detail: Option<String>,
    /// The exchanger that answered last.
    pub remote_host: Option<String>,
    /// True once its notice (DSN or success notice) was queued — or needed none.
    pub notified: bool,
    /// True when the receiving server took over DSN duty for it (offered DSN, got NOTIFY).
    pub remote_dsn: bool,
}

/// A queued message's state: `list()` shows these.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct QueueEntry {
    /// Queue id (file name in the spool).
    pub id: String,
    /// Reverse-path (`""` = `<>`).
    pub mail_from: String,
    /// `ENVID=`.
    pub envid: Option<String>,
    /// `RET=` (`"full"`/`"hdrs"`).
    pub ret: Option<String>,
    /// Message size in bytes.
    pub size: u64,
    /// When it was submitted (Unix time, milliseconds).
    pub created_ms: u64,
    /// When it is tried next (Unix time, milliseconds).
    pub next_try_ms: u64,
    /// Attempts made.
    pub attempts: u32,
    /// Per recipient.
    pub recipients: Vec<RecipientState>,
}

impl QueueEntry {
    /// The state of a message just submitted: everything pending, due now.
    pub fn fresh(id: &str, env: &NewEntry, size: u64, now_ms: u64) -> QueueEntry {
        QueueEntry {
            id: id.to_string(),
            mail_from: env.mail_from.clone(),
            envid: env.envid.clone(),
            ret: env.ret.clone(),
            size,
            created_ms: now_ms,
            next_try_ms: now_ms,
            attempts: 0,
            recipients: env
                .recipients
                .iter()
                .map(|r| RecipientState {
                    rcpt: r.address.clone(),
                    notify: r.notify.clone(),
                    orcpt: r.orcpt.clone(),
                    status: RcptStatus::Pending,
                    attempts: 0,
                    last_reply: None,
                    last_detail: None,
                    remote_host: None,
                    notified: false,
                    remote_dsn: false,
                })
                .collect(),
        }
    }

    /// True when no recipient is pending and every notice is queued: the entry can go.
    pub fn is_done(&self) -> bool {
        self.recipients.iter().all(|r| r.status != RcptStatus::Pending && r.notified)
    }

    /// The pending recipients as delivery takes them.
    pub fn pending(&self) -> Vec<Recipient> {
        self.recipients
            .iter()
            .filter(|r| r.status == RcptStatus::Pending)
            .map(|r| Recipient {
                address: r.rcpt.clone(),
                notify: r.notify.as_deref().and_then(parse_notify),
                orcpt: r
                    .orcpt
                    .as_deref()
                    .and_then(|o| o.split_once(';'))
                    .map(|(t, a)| (t.to_string(), a.to_string())),
            })
            .collect()
    }

    /// `RET=` as the client takes it.
    pub fn ret(&self) -> Option<Ret> {
        match self.ret.as_deref().map(str::to_ascii_lowercase).as_deref() {
            Some("full") => Some(Ret::Full),
            Some("hdrs") => Some(Ret::Hdrs),
            _ => None,
        }
    }
}

/// `"SUCCESS,FAILURE"` → [`Notify`]; `None` for an empty or unknown value.
pub fn parse_notify(s: &str) -> Option<Notify> {
    let mut n = Notify::default();
    for item in s.split(',') {
        match item.trim().to_ascii_uppercase().as_str() {
            "NEVER" => n.never = true,
            "SUCCESS" => n.success = true,
            "FAILURE" => n.failure = true,
            "DELAY" => n.delay = true,
            _ => return None,
        }
    }
    Some(n)
}

/// Whether a recipient with `notify` wants a failure notice (RFC 3461 §4.1: the default is
/// FAILURE and DELAY; NEVER means none).
pub fn wants_failure(notify: Option<&str>) -> bool {
    notify.and_then(parse_notify).is_none_or(|n| !n.never && n.failure)
}

/// Whether a recipient with `notify` asked for a success notice.
pub fn wants_success(notify: Option<&str>) -> bool {
    notify.and_then(parse_notify).is_some_and(|n| !n.never && n.success)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn notify_defaults_and_never() {
        assert!(wants_failure(None));
        assert!(!wants_success(None));
        assert!(wants_success(Some("SUCCESS,FAILURE")));
        assert!(!wants_failure(Some("SUCCESS")));
        assert!(!wants_failure(Some("NEVER")) && !wants_success(Some("NEVER")));
        assert_eq!(parse_notify("bogus"), None);
    }

    #[test]
    fn fresh_entries_are_pending_and_not_done() {
        let mut e = QueueEntry::fresh("q1", &NewEntry::new("a@b.test", &["c@d.test".into()]), 10, 5);
        assert!(!e.is_done());
        assert_eq!(e.pending().len(), 1);
        e.recipients[0].status = RcptStatus::Delivered;
        e.recipients[0].notified = true;
        assert!(e.is_done());
    }
}
