//! `analyze_received`: a message in, its [`TraceAnalysis`] out — the `Received:` fields found by
//! `mail-parser`'s header splitter, each parsed into a line, turned into hops, optionally
//! resolved, then checked. The whole thing is a pure function except the optional DNS step.

use serde::Serialize;

use crate::error::Result;

use super::findings::{self, DateLimits, Finding, Severity};
use super::hop::{self, Hop};
use super::line::parse_received_value;
use super::resolve;

/// How to analyse.
#[derive(Debug, Clone, Default)]
pub struct TraceOptions {
    /// Hosts (names, parent domains, addresses or CIDRs) whose `Received:` lines are believed:
    /// normally your own MX and mail hosts.
    pub trusted_hosts: Vec<String>,
    /// Look up forward-confirmed reverse DNS of every client address.
    pub resolve: bool,
    /// DNS servers for `resolve` (`"ip:port"`); `None` = the system's.
    pub nameservers: Option<Vec<String>>,
    /// "Now" for the future-date check, seconds since the epoch; `None` = the clock.
    pub now: Option<i64>,
}

/// The result: hops oldest first, findings, and the one-word summary.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct TraceAnalysis {
    /// The path, oldest hop first.
    pub hops: Vec<Hop>,
    /// What looks wrong, by hop.
    pub findings: Vec<Finding>,
    /// True when any finding is `medium` or `high`.
    pub suspicious: bool,
}

/// The `Received:` field values of `message` (a whole message or only its header), newest
/// first, as (value bytes, value text for `raw`). Stops at the end of the header.
pub fn received_fields(message: &[u8]) -> Vec<(&[u8], String)> {
    let Some(parsed) = mail_parser::MessageParser::new().parse_headers(message) else {
        return Vec::new();
    };
    parsed
        .headers()
        .iter()
        .filter(|h| matches!(h.name, mail_parser::HeaderName::Received))
        .filter_map(|h| {
            let value = message.get(h.offset_start as usize..h.offset_end as usize)?;
            let text = String::from_utf8_lossy(value).trim().to_string();
            Some((value, text))
        })
        .collect()
}

/// Parse and check without any DNS lookup (`resolve` is ignored): the pure part, also what the
/// bindings call when they do not resolve.
pub fn analyze_offline(message: &[u8], opts: &TraceOptions) -> TraceAnalysis {
    let hops = parse_hops(message);
    finish(hops, opts)
}

/// The hops of `message`, oldest first, without findings.
pub fn parse_hops(message: &[u8]) -> Vec<Hop> {
    let fields =
        received_fields(message).into_iter().map(|(v, raw)| (parse_received_value(v), raw)).collect();
    hop::assemble(fields)
}

fn finish(hops: Vec<Hop>, opts: &TraceOptions) -> TraceAnalysis {
    let now = opts.now.unwrap_or_else(|| chrono::Utc::now().timestamp());
    let findings = findings::check(&hops, &opts.trusted_hosts, DateLimits::at(now));
    let suspicious = findings.iter().any(|f| f.severity >= Severity::Medium);
    TraceAnalysis { hops, findings, suspicious }
}

/// Analyse the `Received:` trace of `message`. With `opts.resolve`, each client address gets a
/// forward-confirmed reverse-DNS check through `opts.nameservers`; lookups that fail leave a hop
/// unresolved. Errors: `invalid_input` for a nameserver that is not `ip:port`, `dns` when the
/// system resolver configuration cannot be read. A message without `Received:` lines gives zero
/// hops and no error.
pub async fn analyze_received(message: &[u8], opts: &TraceOptions) -> Result<TraceAnalysis> {
    let mut hops = parse_hops(message);
    if opts.resolve {
        let r = resolve::resolver(opts.nameservers.as_deref())?;
        resolve::resolve_hops(&mut hops, &r).await;
    }
    Ok(finish(hops, opts))
}
