//! What a person reading the trace should look at: each [`Finding`] names its kind, the hop, a
//! severity, a sentence and the evidence (the values compared). The checks are pure functions of
//! the hops, so the same trace gives the same findings in every runtime.
//!
//! Severity is chosen so that a genuine multi-hop chain (Postfix → Gmail, Exchange's internal
//! hops, a webmail injection) raises nothing above `low`: `suspicious` is any `medium` or `high`.

use serde::Serialize;

use super::hop::Hop;
use super::names::{self, NameMatch};

/// How much a finding weighs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Severity {
    /// Worth knowing, common in genuine mail.
    Low,
    /// Unusual; genuine mail rarely shows it.
    Medium,
    /// Points at forgery.
    High,
}

impl Severity {
    /// `"low"`, `"medium"`, `"high"`.
    pub fn as_str(self) -> &'static str {
        match self {
            Severity::Low => "low",
            Severity::Medium => "medium",
            Severity::High => "high",
        }
    }
}

/// One observation about the trace.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Finding {
    /// `chain_break`, `helo_mismatch`, `after_trusted`, `date_order`, `future_date`,
    /// `huge_delay`, `private_ip_in_public_path`, `unparsable`, `fcrdns_failed`.
    pub kind: String,
    /// The hop (index in path order, oldest = 0) it is about; `None` for the whole trace.
    pub hop: Option<usize>,
    /// How much it weighs.
    pub severity: Severity,
    /// One sentence for a person.
    pub detail: String,
    /// The values compared, as `name=value` strings.
    pub evidence: Vec<String>,
}

impl Finding {
    fn new(
        kind: &str,
        hop: Option<usize>,
        severity: Severity,
        detail: String,
        evidence: Vec<String>,
    ) -> Self {
        Finding { kind: kind.to_string(), hop, severity, detail, evidence }
    }
}

/// Limits the date checks use.
#[derive(Debug, Clone, Copy)]
pub struct DateLimits {
    /// "Now", seconds since the epoch (UTC).
    pub now: i64,
    /// A hop may be this much older than the one before it (clock skew) before `date_order`.
    pub skew: i64,
    /// A date further than this in the future is `future_date`.
    pub future: i64,
    /// A delay between two hops above this is `huge_delay`.
    pub huge_delay: i64,
}

impl DateLimits {
    /// Defaults: 5 minutes of skew, 15 minutes into the future, 2 days of delay.
    pub fn at(now: i64) -> Self {
        DateLimits { now, skew: 300, future: 900, huge_delay: 2 * 86_400 }
    }
}

/// Every check, in hop order.
pub fn check(hops: &[Hop], trusted: &[String], limits: DateLimits) -> Vec<Finding> {
    let mut out = Vec::new();
    unparsable(hops, &mut out);
    chain(hops, &mut out);
    helo(hops, &mut out);
    dates(hops, limits, &mut out);
    private_ips(hops, &mut out);
    after_trusted(hops, trusted, &mut out);
    out.sort_by_key(|f| (f.hop.unwrap_or(usize::MAX), f.kind.clone()));
    out
}

fn unparsable(hops: &[Hop], out: &mut Vec<Finding>) {
    for (i, h) in hops.iter().enumerate() {
        if h.defects.iter().any(|d| d == "unparsable") {
            let shown: String = h.raw.chars().take(120).collect();
            out.push(Finding::new(
                "unparsable",
                Some(i),
                Severity::Medium,
                "the line has no from, by, id or date that a Received parser recognises".into(),
                vec![format!("raw={shown}")],
            ));
        }
    }
}

/// Hop i's `by` must be hop i+1's client: by name, by registrable domain or by address.
fn chain(hops: &[Hop], out: &mut Vec<Finding>) {
    for i in 0..hops.len().saturating_sub(1) {
        let (older, newer) = (&hops[i], &hops[i + 1]);
        let Some(by) = older.by_host.as_deref() else { continue };
        let from = newer.from_names();
        if from.is_empty() {
            continue; // a local hop (qmail "invoked by", Gmail's internal "by 2002:…")
        }
        let best = from.iter().map(|f| names::compare(by, f)).max().unwrap_or(NameMatch::None);
        // Hop i+1 may also name its own host the way hop i did (`by` equal on both lines:
        // content filters re-injecting on the same host).
        let same_host = newer.by_host.as_deref().map(|b| names::compare(by, b)).unwrap_or(NameMatch::None);
        if best == NameMatch::None && same_host < NameMatch::Label {
            out.push(Finding::new(
                "chain_break",
                Some(i + 1),
                Severity::Medium,
                format!(
                    "hop {} says it received the message from a host that is not hop {}'s `by` {by}",
                    i + 1,
                    i
                ),
                vec![format!("by[{i}]={by}"), format!("from[{}]={}", i + 1, from.join(" | "))],
            ));
        }
    }
}

fn helo(hops: &[Hop], out: &mut Vec<Finding>) {
    for (i, h) in hops.iter().enumerate() {
        let Some(helo) = h.from_helo.as_deref() else { continue };
        let helo_ip = names::as_ip(helo);
        if let (Some(hip), Some(ip)) = (helo_ip, h.from_ip) {
            if hip != ip {
                out.push(Finding::new(
                    "helo_mismatch",
                    Some(i),
                    Severity::Medium,
                    "the client greeted with an address that is not the one it connected from".into(),
                    vec![format!("helo={helo}"), format!("ip={ip}")],
                ));
            }
            continue;
        }
        if helo_ip.is_some() {
            continue;
        }
        let rdns = h.resolved_rdns.as_deref().or(h.from_rdns.as_deref());
        if let Some(rdns) = rdns {
            if names::compare(helo, rdns) == NameMatch::None {
                out.push(Finding::new(
                    "helo_mismatch",
                    Some(i),
                    Severity::Low,
                    "the HELO name and the reverse-DNS name belong to different domains".into(),
                    vec![format!("helo={helo}"), format!("rdns={rdns}")],
                ));
            }
        }
        if h.raw.contains("may be forged") {
            out.push(Finding::new(
                "helo_mismatch",
                Some(i),
                Severity::Low,
                "the receiving host itself marked the client name as possibly forged".into(),
                vec!["raw=(may be forged)".into()],
            ));
        }
        if let (Some(claimed), Some(real)) = (h.from_rdns.as_deref(), h.resolved_rdns.as_deref()) {
            if names::compare(claimed, real) < NameMatch::Same {
                out.push(Finding::new(
                    "helo_mismatch",
                    Some(i),
                    Severity::Medium,
                    "the reverse-DNS name in the line is not what the address resolves to now".into(),
                    vec![format!("rdns_in_line={claimed}"), format!("rdns_now={real}")],
                ));
            }
        }
        if h.fcrdns == Some(false) {
            out.push(Finding::new(
                "fcrdns_failed",
                Some(i),
                Severity::Low,
                "the client's reverse-DNS name does not resolve back to its address".into(),
                vec![
                    format!("ip={}", h.from_ip.map(|ip| ip.to_string()).unwrap_or_default()),
                    format!("rdns={}", h.resolved_rdns.clone().unwrap_or_default()),
                ],
            ));
        }
    }
}

fn dates(hops: &[Hop], limits: DateLimits, out: &mut Vec<Finding>) {
    for (i, h) in hops.iter().enumerate() {
        let Some(t) = h.timestamp else { continue };
        if t > limits.now + limits.future {
            out.push(Finding::new(
                "future_date",
                Some(i),
                Severity::Medium,
                "the hop is dated in the future".into(),
                vec![format!("date={}", h.date.clone().unwrap_or_default()), format!("now={}", limits.now)],
            ));
        }
        let Some(d) = h.delay else { continue };
        let evidence = vec![format!("date={}", h.date.clone().unwrap_or_default()), format!("delay={d}s")];
        if d < -(limits.skew as f64) {
            out.push(Finding::new(
                "date_order",
                Some(i),
                Severity::Medium,
                "the hop is dated before the hop it follows (beyond clock skew)".into(),
                evidence,
            ));
        } else if d > limits.huge_delay as f64 {
            out.push(Finding::new(
                "huge_delay",
                Some(i),
                Severity::Low,
                "the message waited a long time before this hop".into(),
                evidence,
            ));
        }
    }
}

/// A private client address between two hops whose clients were public: the sender's own
/// network is at the start of the path and the recipient's at the end, never in the middle.
fn private_ips(hops: &[Hop], out: &mut Vec<Finding>) {
    let public: Vec<Option<bool>> = hops.iter().map(|h| h.from_ip.map(|ip| !names::is_private(ip))).collect();
    for (i, h) in hops.iter().enumerate() {
        let Some(ip) = h.from_ip else { continue };
        if !names::is_private(ip) {
            continue;
        }
        let before = public[..i].contains(&Some(true));
        let after = public[i + 1..].contains(&Some(true));
        if before && after {
            out.push(Finding::new(
                "private_ip_in_public_path",
                Some(i),
                Severity::Medium,
                "a private address appears between hops that came over the public Internet".into(),
                vec![format!("ip={ip}")],
            ));
        }
    }
}

/// Below the lowest hop of the unbroken run of trusted hosts at the top, anything could have been
/// written by the sender.
fn after_trusted(hops: &[Hop], trusted: &[String], out: &mut Vec<Finding>) {
    if trusted.is_empty() || hops.is_empty() {
        return;
    }
    let mut boundary = hops.len();
    for (i, h) in hops.iter().enumerate().rev() {
        match h.by_host.as_deref() {
            Some(by) if names::is_trusted(by, trusted) => boundary = i,
            // A line that names no client is a host's internal step (Gmail's `by <IPv6> with
            // SMTP id`, qmail's `invoked by`): it neither proves nor breaks trust.
            _ if h.from_names().is_empty() => continue,
            _ => break,
        }
    }
    if boundary == hops.len() {
        out.push(Finding::new(
            "after_trusted",
            None,
            Severity::Low,
            "no hop at the top of the trace was written by a trusted host: every line could be forged".into(),
            vec![format!("trusted={}", trusted.join(","))],
        ));
        return;
    }
    for (i, h) in hops.iter().enumerate().take(boundary) {
        out.push(Finding::new(
            "after_trusted",
            Some(i),
            Severity::Low,
            format!(
                "written before the message reached trusted hop {boundary}: it may be forged or appended"
            ),
            vec![format!("by={}", h.by_host.clone().unwrap_or_default())],
        ));
    }
}
