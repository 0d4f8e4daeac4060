//! From replies to verdicts: one probe's [`Verdict`] from the server's answers, and the report's
//! `open` / `inconclusive` from all of them. Pure functions, so every runtime and the vectors
//! agree on them.

use serde::Serialize;

use crate::proto::Reply;

/// What happened to one probe.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Verdict {
    /// The server accepted the foreign recipient (RCPT 250/251; with DATA, also the message).
    Relayed,
    /// A permanent refusal (5xx other than 530).
    Refused,
    /// A temporary refusal (4xx): says nothing either way.
    Deferred,
    /// 530 (or an enhanced `5.7.0`/`5.7.1` asking for AUTH): only authenticated users may relay.
    AuthRequired,
    /// No usable answer: connection lost, timeout, bad reply.
    Error,
}

impl Verdict {
    /// Every verdict.
    pub const ALL: [Verdict; 5] =
        [Verdict::Relayed, Verdict::Refused, Verdict::Deferred, Verdict::AuthRequired, Verdict::Error];

    /// `"relayed"`, `"refused"`, `"deferred"`, `"auth_required"`, `"error"`.
    pub fn as_str(self) -> &'static str {
        match self {
            Verdict::Relayed => "relayed",
            Verdict::Refused => "refused",
            Verdict::Deferred => "deferred",
            Verdict::AuthRequired => "auth_required",
            Verdict::Error => "error",
        }
    }
}

impl std::str::FromStr for Verdict {
    type Err = crate::Error;

    /// The name [`Verdict::as_str`] gives; anything else is `invalid_input`.
    fn from_str(s: &str) -> crate::Result<Verdict> {
        Verdict::ALL
            .into_iter()
            .find(|v| v.as_str() == s)
            .ok_or_else(|| crate::Error::invalid_input(format!("{s:?} is not a verdict")))
    }
}

impl std::fmt::Display for Verdict {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The verdict a refusal (MAIL or RCPT not accepted) or an acceptance gives.
pub fn classify(reply: &Reply) -> Verdict {
    match reply.code {
        250 | 251 => Verdict::Relayed,
        530 => Verdict::AuthRequired,
        400..=499 => Verdict::Deferred,
        500..=599 => {
            // "530 5.7.0 Authentication required" is the rule; some servers say 550/554 with
            // 5.7.0 and the word, which means the same.
            let text = reply.lines.join(" ").to_ascii_lowercase();
            if reply.enhanced.as_deref() == Some("5.7.0") && text.contains("auth") {
                Verdict::AuthRequired
            } else {
                Verdict::Refused
            }
        }
        _ => Verdict::Error,
    }
}

/// `(open, inconclusive)` from the verdicts of the relay probes (control probes excluded by the
/// caller): open when any probe relayed; inconclusive when not open and nothing was refused
/// outright (only 4xx and errors).
pub fn summarise(verdicts: &[Verdict]) -> (bool, bool) {
    let open = verdicts.contains(&Verdict::Relayed);
    let decided = verdicts.iter().any(|v| matches!(v, Verdict::Refused | Verdict::AuthRequired));
    (open, !open && !decided)
}

/// [`summarise`] over verdict names (`"relayed"`, `"refused"` …) as the bindings receive them;
/// an unknown name is invalid input.
pub fn summarise_names<S: AsRef<str>>(names: &[S]) -> crate::error::Result<(bool, bool)> {
    let verdicts =
        names.iter().map(|n| n.as_ref().parse::<Verdict>()).collect::<crate::error::Result<Vec<_>>>()?;
    Ok(summarise(&verdicts))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip() {
        for v in Verdict::ALL {
            assert_eq!(v.as_str().parse::<Verdict>().unwrap(), v);
        }
        assert!("Relayed".parse::<Verdict>().is_err());
    }

    #[test]
    fn replies_to_verdicts() {
        assert_eq!(classify(&Reply::new(250, "ok", None)), Verdict::Relayed);
        assert_eq!(classify(&Reply::new(251, "will forward", None)), Verdict::Relayed);
        assert_eq!(classify(&Reply::new(550, "5.7.1 Relaying denied", None)), Verdict::Refused);
        assert_eq!(classify(&Reply::new(530, "5.7.0 Authentication required", None)), Verdict::AuthRequired);
        assert_eq!(classify(&Reply::new(554, "5.7.0 Authentication required", None)), Verdict::AuthRequired);
        assert_eq!(classify(&Reply::new(451, "4.3.0 try later", None)), Verdict::Deferred);
        assert_eq!(classify(&Reply::new(354, "go on", None)), Verdict::Error);
    }

    #[test]
    fn summaries() {
        use Verdict::*;
        assert_eq!(summarise(&[Refused, Relayed]), (true, false));
        assert_eq!(summarise(&[Refused, Deferred]), (false, false));
        assert_eq!(summarise(&[Deferred, Error]), (false, true));
        assert_eq!(summarise(&[AuthRequired]), (false, false));
        assert_eq!(summarise(&[]), (false, true));
    }
}
