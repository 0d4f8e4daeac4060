//! One `Received:` field value → [`ReceivedLine`]: the fields of RFC 5321 §4.4 (and the
//! real-world extras: HELO in comments, reverse-DNS name, TLS version and cipher, ident, via)
//! plus a per-line `defects` list instead of a failure.
//!
//! The grammar itself is `mail-parser`'s (`MessageStream::parse_received`, Apache-2.0 OR MIT):
//! it is a single-pass tokenizer that keeps comment and bracket depths as counters (so nested
//! comments cost linear time and no recursion), it already knows the Postfix, Exim, Sendmail,
//! qmail, Exchange and Gmail shapes, and its own 181-header corpus is the regression suite we run
//! too. What it does not give, this file adds in one linear pass over the raw text: the `with`
//! word when it is not a registered protocol (Exchange's `with mapi`), a date after a missing
//! `;`, obsolete named time zones (RFC 5322 §4.3: `EST`, `PDT` …), and the defects.

use std::net::IpAddr;

use mail_parser::{DateTime, HeaderValue, Host, Received};
use serde::Serialize;

/// What the line grammar found in one `Received:` value, field for field as the parser read it
/// (`from`, `by`, `helo` are the host names or IP addresses as text).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct ReceivedLine {
    /// The word after `from` (usually the HELO name; Exim and qmail put the reverse-DNS name here).
    pub from: Option<String>,
    /// The connecting IP address, from the brackets or comment after `from`.
    pub from_ip: Option<IpAddr>,
    /// The reverse-DNS name in the `from` comment (`(rdns [ip])`).
    pub from_iprev: Option<String>,
    /// The host after `by`.
    pub by: Option<String>,
    /// The address after `for`.
    pub for_: Option<String>,
    /// The `with` protocol when it is a registered one (`ESMTPS`, `LMTP`, `HTTP` …).
    pub with: Option<String>,
    /// The first word after `with` whatever it is (`mapi`, `Microsoft`), when `with` is none.
    pub with_word: Option<String>,
    /// TLS version named in the line (`TLSv1.3`).
    pub tls_version: Option<String>,
    /// TLS cipher named in the line.
    pub tls_cipher: Option<String>,
    /// The `id` clause.
    pub id: Option<String>,
    /// An ident (RFC 1413) user.
    pub ident: Option<String>,
    /// The name given in an explicit `HELO`/`EHLO`/`helo=` comment.
    pub helo: Option<String>,
    /// `HELO`, `EHLO` or `LHLO` when the line says which greeting was used.
    pub helo_cmd: Option<String>,
    /// The `via` clause.
    pub via: Option<String>,
    /// The date as RFC 3339 (`2023-09-02T04:24:06+02:00`), when one was found and is valid.
    pub date: Option<String>,
    /// The date as seconds since the Unix epoch (UTC).
    pub timestamp: Option<i64>,
    /// What is odd about the line: `no_from`, `no_by`, `no_date`, `no_semicolon`, `bad_date`,
    /// `obsolete_zone`, `not_utf8`, `unparsable`.
    pub defects: Vec<String>,
}

fn host_text(h: &Host<'_>) -> String {
    match h {
        Host::Name(n) => n.to_string(),
        Host::IpAddr(ip) => ip.to_string(),
    }
}

fn tls_version_text(v: mail_parser::TlsVersion) -> &'static str {
    use mail_parser::TlsVersion as V;
    match v {
        V::SSLv2 => "SSLv2",
        V::SSLv3 => "SSLv3",
        V::TLSv1_0 => "TLSv1.0",
        V::TLSv1_1 => "TLSv1.1",
        V::TLSv1_2 => "TLSv1.2",
        V::TLSv1_3 => "TLSv1.3",
        V::DTLSv1_0 => "DTLSv1.0",
        V::DTLSv1_2 => "DTLSv1.2",
        V::DTLSv1_3 => "DTLSv1.3",
    }
}

fn greeting_text(g: mail_parser::Greeting) -> &'static str {
    match g {
        mail_parser::Greeting::Helo => "HELO",
        mail_parser::Greeting::Ehlo => "EHLO",
        mail_parser::Greeting::Lhlo => "LHLO",
    }
}

/// Parse one field value (the text after `Received:`, folded lines included).
pub fn parse_received_value(value: &[u8]) -> ReceivedLine {
    let parsed = mail_parser::parsers::MessageStream::new(value).parse_received();
    let text = String::from_utf8_lossy(value);
    let (mut line, grammar_date) = match parsed {
        HeaderValue::Received(r) => (from_parser(&r), r.date),
        _ => (ReceivedLine::default(), None),
    };
    if std::str::from_utf8(value).is_err() {
        line.defects.push("not_utf8".into());
    }
    let scan = scan(&text);
    if line.with.is_none() {
        line.with_word = scan.with_word;
    }
    let mut date = grammar_date.filter(DateTime::is_valid);
    if date.is_none() && !scan.semicolon {
        // A line without `;` has no date for the grammar; real ones often still end in one.
        line.defects.push("no_semicolon".into());
        date = scan.tail_date.as_deref().and_then(date_without_semicolon).filter(DateTime::is_valid);
    } else if let Some(d) = date.as_mut() {
        // The grammar read no numeric zone and took UTC; RFC 5322 §4.3 names a few.
        let numeric_zone = scan.date_words.iter().any(|w| is_numeric_zone(w));
        if let (false, Some(offset)) =
            (numeric_zone, scan.zone_name.as_deref().and_then(obsolete_zone_offset))
        {
            line.defects.push("obsolete_zone".into());
            set_zone(d, offset);
        }
    }
    if date.is_none() {
        // asctime (`Fri Feb 07 10:18:12 2003 -0800`), written by old Sendmail and friends: the
        // grammar reads its numbers in the wrong order, so we read it here.
        date = asctime(&scan.date_words);
        if date.is_some() {
            line.defects.push("obsolete_date".into());
        } else if grammar_date.is_some() {
            line.defects.push("bad_date".into());
        }
    }
    if let Some(d) = date {
        line.date = Some(d.to_rfc3339());
        line.timestamp = Some(d.to_timestamp());
    }
    if line.from.is_none() && line.from_ip.is_none() {
        line.defects.push("no_from".into());
    }
    if line.by.is_none() {
        line.defects.push("no_by".into());
    }
    if line.date.is_none() && !line.defects.iter().any(|d| d == "bad_date") {
        line.defects.push("no_date".into());
    }
    let nothing = line.from.is_none() && line.by.is_none() && line.date.is_none() && line.id.is_none();
    if nothing {
        line.defects.push("unparsable".into());
    }
    line
}

fn from_parser(r: &Received<'_>) -> ReceivedLine {
    let line = ReceivedLine {
        from: r.from.as_ref().map(host_text),
        from_ip: r.from_ip,
        from_iprev: r.from_iprev.as_ref().map(|s| s.to_string()),
        by: r.by.as_ref().map(host_text),
        for_: r.for_.as_ref().map(|s| s.to_string()),
        with: r.with.map(|p| p.as_str().to_string()),
        with_word: None,
        tls_version: r.tls_version.map(|v| tls_version_text(v).to_string()),
        tls_cipher: r.tls_cipher.as_ref().map(|s| s.to_string()),
        id: r.id.as_ref().map(|s| s.to_string()),
        ident: r.ident.as_ref().map(|s| s.to_string()),
        helo: r.helo.as_ref().map(host_text),
        helo_cmd: r.helo_cmd.map(|g| greeting_text(g).to_string()),
        via: r.via.as_ref().map(|s| s.to_string()),
        date: None,
        timestamp: None,
        defects: Vec::new(),
    };
    line
}

/// What one pass over the raw text (outside comments) tells beyond the grammar.
#[derive(Debug, Default)]
struct Scan {
    /// A `;` outside comments.
    semicolon: bool,
    /// The first word after a `with` keyword outside comments.
    with_word: Option<String>,
    /// From the first weekday or day number that starts a date-looking tail, when no `;`.
    tail_date: Option<String>,
    /// The last alphabetic word outside comments when it is a time-zone name (after `;`).
    zone_name: Option<String>,
    /// The words of the date: after the `;`, or of `tail_date`.
    date_words: Vec<String>,
}

/// One linear pass: depth counters only, no backtracking.
fn scan(text: &str) -> Scan {
    let mut out = Scan::default();
    let mut depth: u32 = 0;
    // Words outside comments: (start, end, after a `;`).
    let mut spans: Vec<(usize, usize, bool)> = Vec::new();
    let mut word_start: Option<usize> = None;
    for (i, &b) in text.as_bytes().iter().enumerate() {
        let ends_word = depth > 0 || matches!(b, b'(' | b')' | b';' | b' ' | b'\t' | b'\r' | b'\n' | b',');
        if ends_word {
            if let Some(s) = word_start.take() {
                spans.push((s, i, out.semicolon));
            }
        }
        match b {
            b'(' => depth = depth.saturating_add(1),
            b')' => depth = depth.saturating_sub(1),
            _ if depth > 0 => {}
            b';' => out.semicolon = true,
            _ if ends_word => {}
            _ => {
                if word_start.is_none() {
                    word_start = Some(i);
                }
            }
        }
    }
    if let Some(s) = word_start.take() {
        spans.push((s, text.len(), out.semicolon));
    }
    let words: Vec<(usize, &str)> = spans.iter().map(|&(s, e, _)| (s, &text[s..e])).collect();
    let after_semicolon_words: Vec<&str> =
        spans.iter().filter(|(_, _, sc)| *sc).map(|&(s, e, _)| &text[s..e]).collect();

    if let Some(pos) = words.iter().position(|(_, w)| w.eq_ignore_ascii_case("with")) {
        out.with_word = words.get(pos + 1).map(|(_, w)| w.to_string());
    }
    out.date_words = after_semicolon_words.iter().map(|w| w.to_string()).collect();
    if let Some(last) = after_semicolon_words.last() {
        if last.chars().all(|c| c.is_ascii_alphabetic()) {
            out.zone_name = Some(last.to_ascii_uppercase());
        }
    }
    if !out.semicolon {
        // The date is the tail from a weekday name, or from a day number followed by a month.
        let start = words.iter().enumerate().find_map(|(k, (s, w))| {
            let w = w.trim_end_matches(',');
            if WEEKDAYS.iter().any(|d| w.eq_ignore_ascii_case(d)) {
                return Some(*s);
            }
            let next = words.get(k + 1).map(|(_, n)| *n).unwrap_or("");
            let is_day = !w.is_empty() && w.len() <= 2 && w.bytes().all(|c| c.is_ascii_digit());
            (is_day && MONTHS.iter().any(|m| next.eq_ignore_ascii_case(m))).then_some(*s)
        });
        if let Some(s) = start {
            out.tail_date = Some(text[s..].to_string());
            out.date_words = words.iter().filter(|(ws, _)| *ws >= s).map(|(_, w)| w.to_string()).collect();
            if let Some((_, last)) = words.last() {
                if last.chars().all(|c| c.is_ascii_alphabetic()) {
                    out.zone_name = Some(last.to_ascii_uppercase());
                }
            }
        }
    }
    out
}

const WEEKDAYS: [&str; 7] = ["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"];
const MONTHS: [&str; 12] =
    ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"];

/// The date at the tail of a line that lacks its `;`, through the same grammar (`; tail`).
fn date_without_semicolon(tail: &str) -> Option<DateTime> {
    let text = format!("; {tail}");
    match mail_parser::parsers::MessageStream::new(text.as_bytes()).parse_received() {
        HeaderValue::Received(r) => r.date,
        _ => None,
    }
}

fn is_numeric_zone(w: &str) -> bool {
    let b = w.as_bytes();
    b.len() == 5 && matches!(b[0], b'+' | b'-') && b[1..].iter().all(u8::is_ascii_digit)
}

/// Give `d` the zone `offset` (seconds east of UTC), keeping its wall-clock time.
fn set_zone(d: &mut DateTime, offset: i64) {
    d.tz_before_gmt = offset < 0;
    d.tz_hour = (offset.abs() / 3600) as u8;
    d.tz_minute = ((offset.abs() % 3600) / 60) as u8;
}

/// `[Wdy] Mon DD HH:MM:SS [ZONE] YYYY [+hhmm]` in any of its real-world orders.
fn asctime(words: &[String]) -> Option<DateTime> {
    let m = words.iter().position(|w| MONTHS.iter().any(|m| w.eq_ignore_ascii_case(m)))?;
    let month = MONTHS.iter().position(|x| words[m].eq_ignore_ascii_case(x))? as u8 + 1;
    let day: u8 = words.get(m + 1)?.parse().ok()?;
    let mut hms = words.get(m + 2)?.split(':').map(|p| p.parse::<u8>().ok());
    let (hour, minute, second) = (hms.next()??, hms.next()??, hms.next().flatten().unwrap_or(0));
    let mut d = DateTime {
        year: 0,
        month,
        day,
        hour,
        minute,
        second,
        tz_before_gmt: false,
        tz_hour: 0,
        tz_minute: 0,
    };
    for w in &words[m + 3..] {
        if w.len() == 4 && w.bytes().all(|c| c.is_ascii_digit()) {
            d.year = w.parse().ok()?;
        } else if is_numeric_zone(w) {
            let n: i64 = w[1..].parse().ok()?;
            let secs = (n / 100) * 3600 + (n % 100) * 60;
            set_zone(&mut d, if w.starts_with('-') { -secs } else { secs });
        } else if let Some(offset) = obsolete_zone_offset(&w.to_ascii_uppercase()) {
            set_zone(&mut d, offset);
        }
    }
    d.is_valid().then_some(d)
}

/// Seconds east of UTC of an RFC 5322 §4.3 obsolete zone name (military zones are ambiguous in
/// practice and read as UTC, as the RFC advises).
fn obsolete_zone_offset(name: &str) -> Option<i64> {
    let hours = match name {
        "EST" => -5,
        "EDT" => -4,
        "CST" => -6,
        "CDT" => -5,
        "MST" => -7,
        "MDT" => -6,
        "PST" => -8,
        "PDT" => -7,
        _ => return None,
    };
    Some(hours * 3600)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn postfix_line() {
        let l = parse_received_value(
            b"from mail.example.org (mail.example.org [192.0.2.10])\r\n\tby mx.example.net (Postfix) with ESMTPS id 4AB12\r\n\tfor <u@example.net>; Tue, 29 Aug 2023 09:20:10 -0700 (PDT)\r\n",
        );
        assert_eq!(l.from.as_deref(), Some("mail.example.org"));
        assert_eq!(l.from_ip, Some("192.0.2.10".parse().unwrap()));
        assert_eq!(l.by.as_deref(), Some("mx.example.net"));
        assert_eq!(l.with.as_deref(), Some("ESMTPS"));
        assert_eq!(l.for_.as_deref(), Some("u@example.net"));
        assert_eq!(l.date.as_deref(), Some("2023-08-29T09:20:10-07:00"));
        assert_eq!(l.timestamp, Some(1693326010));
        assert!(l.defects.is_empty(), "{:?}", l.defects);
    }

    #[test]
    fn missing_semicolon_still_finds_the_date() {
        let l = parse_received_value(
            b"from a.example by b.example with SMTP id 1 Tue, 29 Aug 2023 16:20:12 +0000",
        );
        assert_eq!(l.date.as_deref(), Some("2023-08-29T16:20:12Z"));
        assert!(l.defects.contains(&"no_semicolon".to_string()));
    }

    #[test]
    fn obsolete_zone_is_applied() {
        let l = parse_received_value(b"from a.example by b.example; Tue, 29 Aug 2023 16:20:12 EST");
        assert_eq!(l.timestamp, Some(1693326012 + 5 * 3600));
        assert!(l.defects.contains(&"obsolete_zone".to_string()));
    }

    #[test]
    fn mapi_word_is_kept() {
        let l = parse_received_value(
            b"from DB7PR01MB1.eurprd01.prod.outlook.com ([fe80::1]) by DB7PR01MB1.eurprd01.prod.outlook.com ([fe80::1%12]) with mapi id 15.20.6699.034; Tue, 29 Aug 2023 16:20:12 +0000",
        );
        assert_eq!(l.with, None);
        assert_eq!(l.with_word.as_deref(), Some("mapi"));
    }

    #[test]
    fn garbage_is_a_defect_not_a_failure() {
        let l = parse_received_value(b"((((]]]]");
        assert!(l.defects.contains(&"unparsable".to_string()));
        let l = parse_received_value(b"");
        assert!(l.defects.contains(&"unparsable".to_string()));
    }
}
