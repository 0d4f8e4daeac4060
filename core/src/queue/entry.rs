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

    /// `RET=` as the client takes it ([`Ret::parse`]); `None` when absent or not valid (only
    /// an entry stored before submit checked it).
    pub fn ret(&self) -> Option<Ret> {
        self.ret.as_deref().and_then(|r| Ret::parse(r).ok())
    }

    /// Whether a failure notice returns the whole message: `RET=FULL` or no RET (RFC 3461
    /// §4.3). A value that does not parse (stored before submit checked it) returns headers
    /// only, as before.
    pub fn returns_full_message(&self) -> bool {
        self.ret.as_deref().is_none_or(|r| Ret::parse(r) == Ok(Ret::Full))
    }
}

impl NewEntry {
    /// The DSN values are ones RFC 3461 allows: every recipient's `notify` and the `ret` as
    /// [`Notify::parse`] and [`Ret::parse`] read them on the wire. The message names the field.
    pub fn check_dsn_values(&self) -> crate::Result<()> {
        let bad = crate::Error::invalid_input;
        for r in &self.recipients {
            if let Some(n) = &r.notify {
                Notify::parse(n)
                    .map_err(|e| bad(format!("recipient {:?}: bad notify {n:?}: {e}", r.address)))?;
            }
        }
        if let Some(ret) = &self.ret {
            Ret::parse(ret).map_err(|e| bad(format!("bad ret: {e}")))?;
        }
        Ok(())
    }
}

/// `"SUCCESS,FAILURE"` → [`Notify`] as [`Notify::parse`] reads it; `None` when it does not
/// parse (only a value stored before submit checked it): the default, failure and delay.
pub fn parse_notify(s: &str) -> Option<Notify> {
    Notify::parse(s).ok()
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
        assert_eq!(parse_notify("delay"), Some(Notify { delay: true, ..Notify::default() }));
        assert!(wants_success(Some("success")) && !wants_failure(Some("Success,Delay")));
    }

    #[test]
    fn stored_values_that_do_not_parse_mean_the_default() {
        // Submit refuses them now; an entry stored before that reads them as no NOTIFY (failure
        // notices, no NOTIFY sent on) — spaces and NEVER with others included.
        for stored in ["NEVER,SUCCESS", "SUCCESS, FAILURE", "", "bogus"] {
            assert_eq!(parse_notify(stored), None, "{stored:?}");
            assert!(wants_failure(Some(stored)) && !wants_success(Some(stored)), "{stored:?}");
        }
    }

    #[test]
    fn submitted_dsn_values_are_checked_as_on_the_wire() {
        let env = |notify: Option<&str>, ret: Option<&str>| NewEntry {
            mail_from: "a@b.test".into(),
            recipients: vec![NewRecipient {
                address: "c@d.test".into(),
                notify: notify.map(str::to_string),
                orcpt: None,
            }],
            envid: None,
            ret: ret.map(str::to_string),
        };
        for (n, r) in [(None, None), (Some("never"), Some("hdrs")), (Some("SUCCESS,DELAY"), Some("FULL"))] {
            assert!(env(n, r).check_dsn_values().is_ok(), "{n:?} {r:?}");
        }
        for (n, r, needle) in [
            (Some("NEVER,SUCCESS"), None, "NEVER excludes"),
            (Some("SUCCESS, FAILURE"), None, "unknown flag \" FAILURE\""),
            (Some(""), None, "empty flag"),
            (Some("SOMETIMES"), None, "unknown flag"),
            (None, Some("ALL"), "bad ret"),
            (None, Some(" full"), "bad ret"),
        ] {
            let e = env(n, r).check_dsn_values().unwrap_err();
            assert_eq!(e.kind(), crate::ErrorKind::InvalidInput);
            assert!(e.message().contains(needle), "{n:?} {r:?}: {e}");
        }
        let stored = |ret: &str| QueueEntry::fresh("q", &env(None, Some(ret)), 1, 0);
        assert!(stored("Full").returns_full_message() && !stored("HDRS").returns_full_message());
        assert_eq!((stored("hdrs").ret(), stored("bogus").ret()), (Some(Ret::Hdrs), None));
        assert!(!stored("bogus").returns_full_message());
        assert!(QueueEntry::fresh("q", &env(None, None), 1, 0).returns_full_message());
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
