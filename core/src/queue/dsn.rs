//! Delivery status notifications (sans-IO): the RFC 3464 report the queue sends to the envelope
//! sender — `failed` for recipients bounced (5xx, or still deferred at expiry), `relayed` or
//! `delivered` for RFC 3461 `NOTIFY=SUCCESS` — built with mail-builder as a
//! `multipart/report; report-type=delivery-status` message: a human-readable part, the
//! `message/delivery-status` part (ENVID, ORCPT and each recipient's status carried in), and the
//! original message (`RET=FULL`, the default for failures) or its headers (`RET=HDRS`, and
//! always for success notices, as RFC 3461 §4.3 asks).

use mail_builder::headers::content_type::ContentType;
use mail_builder::headers::raw::Raw;
use mail_builder::mime::MimePart;
use mail_builder::MessageBuilder;

use super::entry::{QueueEntry, RcptStatus, RecipientState};
use crate::error::{Error, Result};

/// Which notice.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NoticeKind {
    /// Recipients failed or expired.
    Failure,
    /// Recipients relayed to a server that does not offer DSN (`Action: relayed`).
    Relayed,
    /// Recipients delivered into a final mailbox (`Action: delivered`).
    Delivered,
}

/// The headers of `message` (up to the first empty line).
fn headers_of(message: &[u8]) -> &[u8] {
    let end = message
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .map(|i| i + 2)
        .or_else(|| message.windows(2).position(|w| w == b"\n\n").map(|i| i + 1))
        .unwrap_or(message.len());
    &message[..end]
}

fn rfc2822(ms: u64) -> String {
    chrono::DateTime::from_timestamp_millis(ms as i64).unwrap_or_default().to_rfc2822()
}

/// The status code of a recipient: its last enhanced code, else one from the outcome.
fn status_code(r: &RecipientState, kind: NoticeKind) -> String {
    let last = r.last_reply.as_ref().and_then(|x| x.enhanced.clone());
    match (kind, r.status) {
        (NoticeKind::Failure, RcptStatus::Expired) => last.unwrap_or_else(|| "4.4.7".into()),
        (NoticeKind::Failure, _) => last.filter(|c| c.starts_with('5')).unwrap_or_else(|| "5.0.0".into()),
        _ => last.filter(|c| c.starts_with('2')).unwrap_or_else(|| "2.0.0".into()),
    }
}

/// The `message/delivery-status` body (RFC 3464 §2).
fn delivery_status(
    entry: &QueueEntry,
    rcpts: &[&RecipientState],
    kind: NoticeKind,
    host: &str,
    now_ms: u64,
) -> String {
    let mut s = format!("Reporting-MTA: dns; {host}\r\n");
    if let Some(envid) = &entry.envid {
        s.push_str(&format!("Original-Envelope-Id: {envid}\r\n"));
    }
    s.push_str(&format!("Arrival-Date: {}\r\n", rfc2822(entry.created_ms)));
    for r in rcpts {
        s.push_str("\r\n");
        if let Some(orcpt) = &r.orcpt {
            let (t, a) = orcpt.split_once(';').unwrap_or(("rfc822", orcpt));
            s.push_str(&format!("Original-Recipient: {}; {}\r\n", t.trim(), a.trim()));
        }
        s.push_str(&format!("Final-Recipient: rfc822; {}\r\n", r.rcpt));
        let action = match kind {
            NoticeKind::Failure => "failed",
            NoticeKind::Relayed => "relayed",
            NoticeKind::Delivered => "delivered",
        };
        s.push_str(&format!("Action: {action}\r\nStatus: {}\r\n", status_code(r, kind)));
        if let Some(h) = &r.remote_host {
            let name = h.split(' ').next().unwrap_or(h);
            s.push_str(&format!("Remote-MTA: dns; {name}\r\n"));
        }
        if let Some(reply) = &r.last_reply {
            let text = reply.text.replace(['\r', '\n'], " ");
            let enhanced = reply.enhanced.as_deref().map(|e| format!("{e} ")).unwrap_or_default();
            s.push_str(&format!("Diagnostic-Code: smtp; {} {enhanced}{text}\r\n", reply.code));
        }
        if r.status == RcptStatus::Expired {
            s.push_str(&format!("Will-Retry-Until: {}\r\n", rfc2822(now_ms)));
        }
        s.push_str(&format!("Last-Attempt-Date: {}\r\n", rfc2822(now_ms)));
    }
    s
}

fn human_text(entry: &QueueEntry, rcpts: &[&RecipientState], kind: NoticeKind, host: &str) -> String {
    let mut s = String::new();
    match kind {
        NoticeKind::Failure => {
            s.push_str(&format!(
                "This is the mail system at {host}.\r\n\r\nYour message could not be delivered to the \
                 recipients below; it will not be tried again.\r\n\r\n"
            ));
        }
        NoticeKind::Relayed => s.push_str(&format!(
            "This is the mail system at {host}.\r\n\r\nYour message was relayed to the recipients \
             below by a server that does not send delivery notifications itself, so this is the \
             last notice you will get about it.\r\n\r\n"
        )),
        NoticeKind::Delivered => s.push_str(&format!(
            "This is the mail system at {host}.\r\n\r\nYour message was delivered to the recipients below.\r\n\r\n"
        )),
    }
    for r in rcpts {
        let why = r
            .last_reply
            .as_ref()
            .map(|x| format!(": {} {}", x.code, x.text.replace('\n', " ")))
            .unwrap_or_default();
        let expired = if r.status == RcptStatus::Expired { " (gave up: too long in the queue)" } else { "" };
        s.push_str(&format!("<{}>{why}{expired}\r\n", r.rcpt));
    }
    if entry.envid.is_some() {
        s.push_str("\r\n(The original envelope id is in the delivery report.)\r\n");
    }
    s
}

/// Build the notice of `kind` about `rcpts` of `entry` to `entry.mail_from`, from
/// `MAILER-DAEMON@host`, returning the original `message` per `RET`.
///
/// Errors: `invalid_input` when the sender is `<>` (a notice never goes to the null sender).
pub fn build_notice(
    entry: &QueueEntry,
    rcpts: &[&RecipientState],
    kind: NoticeKind,
    host: &str,
    message: &[u8],
    now_ms: u64,
) -> Result<Vec<u8>> {
    if entry.mail_from.is_empty() {
        return Err(Error::invalid_input("no notice is ever sent to the null sender <>"));
    }
    let full = kind == NoticeKind::Failure && entry.returns_full_message();
    let original = if full {
        MimePart::new("message/rfc822", message.to_vec()).transfer_encoding(if message.is_ascii() {
            "7bit"
        } else {
            "8bit"
        })
    } else {
        let h = headers_of(message).to_vec();
        MimePart::new("text/rfc822-headers", h).transfer_encoding("7bit")
    };
    let subject = match kind {
        NoticeKind::Failure => "Undelivered Mail Returned to Sender",
        NoticeKind::Relayed => "Delivery Status Notification (relayed)",
        NoticeKind::Delivered => "Successful Mail Delivery Report",
    };
    let report = MimePart::new(
        ContentType::new("multipart/report").attribute("report-type", "delivery-status"),
        vec![
            MimePart::new("text/plain", human_text(entry, rcpts, kind, host)),
            MimePart::new("message/delivery-status", delivery_status(entry, rcpts, kind, host, now_ms))
                .transfer_encoding("7bit"),
            original,
        ],
    );
    MessageBuilder::new()
        .from(("Mail Delivery System", format!("MAILER-DAEMON@{host}").as_str()))
        .to(entry.mail_from.as_str())
        .subject(subject)
        .date((now_ms / 1000) as i64)
        .message_id(format!("{}.{}@{host}", entry.id, now_ms))
        .header("Auto-Submitted", Raw::new("auto-replied"))
        .body(report)
        .write_to_vec()
        .map_err(|e| Error::io(format!("cannot build the notice: {e}")))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::queue::entry::{NewEntry, NewRecipient, StoredReply};

    fn entry() -> QueueEntry {
        let env = NewEntry {
            mail_from: "sender@sender.test".into(),
            recipients: vec![NewRecipient {
                address: "bad@dest.test".into(),
                notify: None,
                orcpt: Some("rfc822;orig@dest.test".into()),
            }],
            envid: Some("ENV-42".into()),
            ret: Some("hdrs".into()),
        };
        let mut e = QueueEntry::fresh("q1", &env, 10, 0);
        e.recipients[0].status = RcptStatus::Failed;
        e.recipients[0].last_reply =
            Some(StoredReply { code: 550, enhanced: Some("5.1.1".into()), text: "No such user".into() });
        e.recipients[0].remote_host = Some("mx.dest.test [127.0.0.33]".into());
        e
    }

    #[test]
    fn failure_report_parses_and_carries_envid_orcpt_and_status() {
        let e = entry();
        let msg = b"Subject: hello\r\nFrom: sender@sender.test\r\n\r\nsecret body\r\n";
        let out = build_notice(
            &e,
            &[&e.recipients[0]],
            NoticeKind::Failure,
            "mx.relay.test",
            msg,
            1_700_000_000_000,
        )
        .unwrap();
        let parsed = mail_parser::MessageParser::default().parse(&out).expect("parses");
        assert_eq!(parsed.parts.len(), 4, "the report and its three parts");
        assert_eq!(parsed.subject(), Some("Undelivered Mail Returned to Sender"));
        let text = String::from_utf8_lossy(&out);
        assert!(
            text.contains("report-type=delivery-status") || text.contains("report-type=\"delivery-status\""),
            "{text}"
        );
        for needle in [
            "Original-Envelope-Id: ENV-42",
            "Original-Recipient: rfc822; orig@dest.test",
            "Final-Recipient: rfc822; bad@dest.test",
            "Action: failed",
            "Status: 5.1.1",
            "Diagnostic-Code: smtp; 550 5.1.1 No such user",
            "Remote-MTA: dns; mx.dest.test",
            "text/rfc822-headers",
            "Auto-Submitted: auto-replied",
        ] {
            assert!(text.contains(needle), "{needle} missing in\n{text}");
        }
        assert!(!text.contains("secret body"), "RET=HDRS returns headers only");
    }

    #[test]
    fn no_notice_to_the_null_sender() {
        let mut e = entry();
        e.mail_from.clear();
        assert!(build_notice(&e, &[&e.recipients[0]], NoticeKind::Failure, "h", b"x", 0).is_err());
    }
}
