//! The session's wire log: `C: …` for what we sent, `S: …` for what the server answered, with
//! AUTH secrets masked. Recording can be switched off (benchmarks), then every call is a no-op.
//!
//! Lines collect here as `pending` while a call runs; at the end of each call the session moves
//! them into the shared log its handles read (`shared.rs`), so recording a line never takes a
//! lock.

use crate::proto::Reply;

/// What stands in for a secret in the transcript.
pub(crate) const MASK: &str = "****";

/// `(user, secret)` credentials as `Debug` should show them: the user, and [`MASK`] for the
/// secret (for the manual `Debug` impls of the option types that carry credentials).
pub(crate) fn masked_credentials(c: &Option<(String, String)>) -> Option<(&str, &'static str)> {
    c.as_ref().map(|(user, _)| (user.as_str(), MASK))
}

/// The `C:`/`S:` lines of one session not yet published.
#[derive(Debug, Clone, Default)]
pub(crate) struct Transcript {
    enabled: bool,
    lines: Vec<String>,
}

impl Transcript {
    pub(crate) fn new(enabled: bool) -> Self {
        Transcript { enabled, lines: Vec::new() }
    }

    /// The lines recorded since the last [`Transcript::drain_into`].
    pub(crate) fn pending(&self) -> &[String] {
        &self.lines
    }

    /// Move the pending lines to the end of `log`.
    pub(crate) fn drain_into(&mut self, log: &mut Vec<String>) {
        log.append(&mut self.lines);
    }

    /// The client wrote `bytes` (one or more CRLF-terminated command lines).
    pub(crate) fn client_bytes(&mut self, bytes: &[u8]) {
        if !self.enabled {
            return;
        }
        for line in bytes.split(|b| *b == b'\n') {
            let line = line.strip_suffix(b"\r").unwrap_or(line);
            if line.is_empty() {
                continue;
            }
            self.lines.push(format!("C: {}", String::from_utf8_lossy(line)));
        }
    }

    /// A client line given as text (masked forms, summaries).
    pub(crate) fn client_text(&mut self, text: &str) {
        if self.enabled {
            self.lines.push(format!("C: {text}"));
        }
    }

    /// The server answered `reply`: one `S:` line per wire line.
    pub(crate) fn server(&mut self, reply: &Reply) {
        if !self.enabled {
            return;
        }
        let n = reply.lines.len().max(1);
        for i in 0..n {
            let sep = if i + 1 < n { '-' } else { ' ' };
            let text = reply.lines.get(i).map(String::as_str).unwrap_or("");
            let line = match (&reply.enhanced, text.is_empty()) {
                (Some(e), false) => format!("S: {}{}{} {}", reply.code, sep, e, text),
                (Some(e), true) => format!("S: {}{}{}", reply.code, sep, e),
                (None, false) => format!("S: {}{}{}", reply.code, sep, text),
                (None, true) => format!("S: {}", reply.code),
            };
            self.lines.push(line);
        }
    }

    /// A note that is neither side's words (`*: …`), e.g. discarded injected bytes.
    pub(crate) fn note(&mut self, text: &str) {
        if self.enabled {
            self.lines.push(format!("*: {text}"));
        }
    }
}
