//! The `Received:` line every accepted message gets on top (RFC 5321 §4.4), and queue ids.
//!
//! `Received: from <helo> (<rdns or unknown> [<ip>])
//!         by <hostname> with <SMTP|ESMTP|ESMTPS|ESMTPA|ESMTPSA> id <queue id>
//!         for <rcpt>; <RFC 5322 date>` — `for` only with a single recipient, so the line does
//! not disclose Bcc recipients to each other.

use std::net::IpAddr;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

/// Everything the line names.
#[derive(Debug, Clone)]
pub struct ReceivedInfo<'a> {
    /// The client's HELO/EHLO argument (sanitised here).
    pub helo: &'a str,
    /// Reverse-DNS name of the client, if looked up and found.
    pub rdns: Option<&'a str>,
    /// The client's IP.
    pub ip: IpAddr,
    /// Our host name.
    pub by: &'a str,
    /// `SMTP`, `ESMTP`, `ESMTPS`, `ESMTPA` or `ESMTPSA` (RFC 3848).
    pub with: &'a str,
    /// The queue id of this message.
    pub id: &'a str,
    /// The single recipient, when there is exactly one.
    pub for_rcpt: Option<&'a str>,
}

/// Append the header, folded over three lines, ending in CRLF.
pub fn write_received(info: &ReceivedInfo<'_>, out: &mut Vec<u8>) {
    use std::io::Write;
    let ip = canonical(info.ip);
    let literal = match ip {
        IpAddr::V4(v4) => format!("[{v4}]"),
        IpAddr::V6(v6) => format!("[IPv6:{v6}]"),
    };
    let helo = sanitise(info.helo);
    let rdns = info.rdns.map(sanitise).unwrap_or_else(|| "unknown".to_string());
    let date = chrono::Local::now().to_rfc2822();
    let _ = write!(
        out,
        "Received: from {helo} ({rdns} {literal})\r\n\tby {} with {} id {}",
        info.by, info.with, info.id
    );
    if let Some(rcpt) = info.for_rcpt {
        let _ = write!(out, "\r\n\tfor <{}>", sanitise(rcpt));
    }
    let _ = write!(out, ";\r\n\t{date}\r\n");
}

/// An IPv4-mapped IPv6 peer is shown as IPv4.
fn canonical(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map(IpAddr::V4).unwrap_or(ip),
        v4 => v4,
    }
}

/// Client-chosen text must not break the header: keep printable non-space characters, drop
/// parentheses and anything else; `unknown` when nothing is left.
fn sanitise(s: &str) -> String {
    let t: String = s
        .chars()
        .filter(|c| !c.is_control() && !c.is_whitespace() && !matches!(c, '(' | ')' | ';' | '\\'))
        .take(255)
        .collect();
    if t.is_empty() {
        "unknown".to_string()
    } else {
        t
    }
}

static SEQ: AtomicU32 = AtomicU32::new(0);

/// A new queue id: 16 upper-case hex digits from the time in microseconds and a per-process
/// sequence, unique within a process and practically unique across restarts (ids are for logs
/// and file names; Maildir names add the pid for cross-process uniqueness).
pub fn new_queue_id() -> String {
    let micros = SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_micros() as u64).unwrap_or(0);
    let seq = SEQ.fetch_add(1, Ordering::Relaxed) & 0xFFFF;
    format!("{:012X}{:04X}", micros & 0xFFFF_FFFF_FFFF, seq)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn received_line_names_every_field() {
        let mut out = Vec::new();
        write_received(
            &ReceivedInfo {
                helo: "client.example",
                rdns: None,
                ip: "192.0.2.7".parse().unwrap(),
                by: "mx.example.test",
                with: "ESMTPS",
                id: "ABC123",
                for_rcpt: Some("bob@example.test"),
            },
            &mut out,
        );
        let s = String::from_utf8(out).unwrap();
        assert!(s.starts_with("Received: from client.example (unknown [192.0.2.7])\r\n\tby mx.example.test with ESMTPS id ABC123\r\n\tfor <bob@example.test>;\r\n\t"), "{s}");
        assert!(s.ends_with("\r\n"));
        assert_eq!(s.matches("\r\n").count(), 4);
    }

    #[test]
    fn hostile_helo_cannot_inject_header_lines() {
        let mut out = Vec::new();
        let ip: IpAddr = "::ffff:127.0.0.1".parse().unwrap();
        write_received(
            &ReceivedInfo {
                helo: "evil\r\nX-Injected: 1 (x)",
                rdns: Some("a b"),
                ip,
                by: "mx",
                with: "SMTP",
                id: "1",
                for_rcpt: None,
            },
            &mut out,
        );
        let s = String::from_utf8(out).unwrap();
        assert!(!s.contains("X-Injected: 1"), "{s}");
        assert!(s.contains("[127.0.0.1]"), "{s}");
        assert!(!s.contains("for <"));
    }

    #[test]
    fn queue_ids_are_unique() {
        let ids: std::collections::HashSet<_> = (0..1000).map(|_| new_queue_id()).collect();
        assert_eq!(ids.len(), 1000);
    }
}
