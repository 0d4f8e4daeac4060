//! Hops: the `Received:` lines of a message turned round into path order (the oldest line, at
//! the bottom of the header, is hop 0) with the fields named the way the API contract names them
//! and the delay from the hop before.

use std::net::IpAddr;

use serde::Serialize;

use super::line::ReceivedLine;
use super::names;

/// One relay step: what the receiving host (`by_host`) wrote about the host that handed it the
/// message.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Hop {
    /// The name the client gave in HELO/EHLO, as this hop recorded it.
    pub from_helo: Option<String>,
    /// The client's reverse-DNS name as this hop recorded it (`None` for `unknown`).
    pub from_rdns: Option<String>,
    /// The client's IP address.
    pub from_ip: Option<IpAddr>,
    /// The host that wrote the line.
    pub by_host: Option<String>,
    /// The `with` protocol (`ESMTPS`, `LMTP`, `HTTP`, `mapi` …).
    pub with_protocol: Option<String>,
    /// True when the line says the hop was encrypted (`ESMTPS`/`ESMTPSA`, a TLS version or cipher).
    pub tls: bool,
    /// TLS version named in the line.
    pub tls_version: Option<String>,
    /// TLS cipher named in the line.
    pub tls_cipher: Option<String>,
    /// The receiving host's queue id.
    pub id: Option<String>,
    /// The recipient of the `for` clause.
    pub for_addr: Option<String>,
    /// The date the hop wrote, RFC 3339.
    pub date: Option<String>,
    /// The date as seconds since the Unix epoch (UTC).
    pub timestamp: Option<i64>,
    /// Seconds since the previous hop that has a date (`None` for the first, or without dates);
    /// negative when this hop claims to be older.
    pub delay: Option<f64>,
    /// The field as it appeared (unfolded lines kept as they were), without `Received:`.
    pub raw: String,
    /// What is odd about the line (see [`ReceivedLine::defects`]).
    pub defects: Vec<String>,
    /// Resolved reverse-DNS name of `from_ip` (only with `resolve`).
    pub resolved_rdns: Option<String>,
    /// Forward-confirmed reverse DNS of `from_ip` (only with `resolve`): the PTR name resolves
    /// back to `from_ip`.
    pub fcrdns: Option<bool>,
    /// The grammar's own fields, for whoever wants more than the hop table.
    pub line: ReceivedLine,
}

impl Hop {
    /// The hop of one parsed line. Where the HELO name sits depends on the software: an explicit
    /// `HELO x` / `helo=x` comment wins and then the word after `from` is the reverse-DNS name
    /// (Exim, qmail); otherwise that word is the HELO name and the comment holds the reverse-DNS
    /// name (Postfix, Sendmail, Exchange).
    pub fn from_line(line: ReceivedLine, raw: String) -> Hop {
        let from_is_ip = line.from.as_deref().and_then(names::as_ip);
        let unknown = |s: &String| !s.eq_ignore_ascii_case("unknown") && !s.is_empty();
        let (from_helo, from_rdns) = match &line.helo {
            Some(h) => {
                let rdns = line
                    .from_iprev
                    .clone()
                    .filter(unknown)
                    .or_else(|| line.from.clone().filter(|f| from_is_ip.is_none() && unknown(f)));
                (Some(h.clone()), rdns)
            }
            None => {
                let helo = match (&line.from, from_is_ip) {
                    (Some(_), Some(ip)) => Some(format!("[{ip}]")),
                    (Some(f), None) => Some(f.clone()),
                    _ => None,
                };
                (helo, line.from_iprev.clone().filter(unknown))
            }
        };
        let with_protocol = line.with.clone().or_else(|| line.with_word.clone());
        let tls = line.tls_version.is_some()
            || line.tls_cipher.is_some()
            // RFC 3848 / 8314 names: a trailing `S` (before an `A` for AUTH) means TLS.
            || line.with.as_deref().is_some_and(|w| {
                let w = w.to_ascii_uppercase();
                w.strip_suffix('A').unwrap_or(&w).ends_with('S')
            });
        Hop {
            from_helo,
            from_rdns: from_rdns.map(|r| r.trim_end_matches('.').to_string()),
            from_ip: line.from_ip.or(from_is_ip),
            by_host: line.by.clone(),
            with_protocol,
            tls,
            tls_version: line.tls_version.clone(),
            tls_cipher: line.tls_cipher.clone(),
            id: line.id.clone(),
            for_addr: line.for_.clone(),
            date: line.date.clone(),
            timestamp: line.timestamp,
            delay: None,
            raw,
            defects: line.defects.clone(),
            resolved_rdns: None,
            fcrdns: None,
            line,
        }
    }

    /// Every name by which this hop knew its client: HELO, reverse DNS, address.
    pub fn from_names(&self) -> Vec<String> {
        let mut v: Vec<String> = Vec::new();
        v.extend(self.from_helo.clone());
        v.extend(self.from_rdns.clone());
        v.extend(self.line.from.clone());
        v.extend(self.resolved_rdns.clone());
        v.extend(self.from_ip.map(|ip| ip.to_string()));
        let mut seen = std::collections::HashSet::new();
        v.retain(|n| seen.insert(names::normalise(n)));
        v
    }
}

/// Hops in path order from the `Received:` fields in header order (newest first).
pub fn assemble(fields: Vec<(ReceivedLine, String)>) -> Vec<Hop> {
    let mut hops: Vec<Hop> = fields.into_iter().rev().map(|(l, raw)| Hop::from_line(l, raw)).collect();
    let mut previous: Option<i64> = None;
    for hop in &mut hops {
        if let Some(t) = hop.timestamp {
            hop.delay = previous.map(|p| (t - p) as f64);
            previous = Some(t);
        }
    }
    hops
}
