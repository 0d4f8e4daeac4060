//! The values routing returns: a [`Route`] of [`MxHost`]s and the [`Step`]s that explain it.
//! Plain owned data with serde, the shape `shared/API.md` names (`Route`, `MxHost`), so the
//! bindings and `postwire mx --json` pass them on unchanged.

use std::net::IpAddr;

use serde::Serialize;

/// Where mail for a domain goes: the outcome of [`super::resolve_mx`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Route {
    /// The domain asked for, as given (lower-cased, no trailing dot).
    pub domain: String,
    /// The name the CNAME chain ended on (the domain itself when there was none).
    pub canonical: String,
    /// Every name the chain went through after `domain`, in order; the last is `canonical`.
    pub cname_chain: Vec<String>,
    /// The exchangers to try, best first (equal preferences in shuffled order); empty for a
    /// null MX.
    pub hosts: Vec<MxHost>,
    /// True when the domain has no MX and its own address is used (RFC 5321 §5.1).
    pub implicit: bool,
    /// True for a null MX (`MX 0 .`, RFC 7505): the domain accepts no mail.
    pub null_mx: bool,
    /// Each query, each answer, each candidate skipped and why.
    pub explanation: Vec<Step>,
}

/// One exchanger of a [`Route`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct MxHost {
    /// MX preference (lower is better); 0 for an implicit MX.
    pub preference: u16,
    /// The exchanger's name (no trailing dot).
    pub exchange: String,
    /// Its addresses: A records first, then AAAA, in the order the DNS gave them.
    pub addresses: Vec<IpAddr>,
    /// When the exchange name is itself a CNAME (RFC 5321 §5.1 says it must not be; tolerated
    /// as most MTAs do), the name it pointed to.
    pub cname: Option<String>,
}

/// What one step of the resolution was.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum StepKind {
    /// A DNS query sent (`"MX shmail.abc.test"`).
    Query,
    /// What came back.
    Answer,
    /// A candidate (host or address) left out, with the reason.
    Skip,
    /// A decision (implicit MX, null MX, shuffled preferences …).
    Note,
}

/// One line of a route's explanation.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Step {
    /// What kind of step.
    pub kind: StepKind,
    /// Human-readable detail.
    pub detail: String,
}

impl Step {
    /// A step of `kind` with `detail`.
    pub fn new(kind: StepKind, detail: impl Into<String>) -> Step {
        Step { kind, detail: detail.into() }
    }
}

impl std::fmt::Display for Step {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let tag = match self.kind {
            StepKind::Query => "query ",
            StepKind::Answer => "answer",
            StepKind::Skip => "skip  ",
            StepKind::Note => "note  ",
        };
        write!(f, "{tag} {}", self.detail)
    }
}
