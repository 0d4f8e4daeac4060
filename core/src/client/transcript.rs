//! The session's wire log: `C: …` for what we sent, `S: …` for what the server answered, with
//! AUTH secrets masked. Recording can be switched off (benchmarks), then every call is a no-op.

use crate::proto::Reply;

/// What stands in for a secret in the transcript.
pub(crate) const MASK: &str = "****";

/// The `C:`/`S:` lines of one session.
#[derive(Debug, Clone, Default)]
pub(crate) struct Transcript {
    enabled: bool,
    lines: Vec<String>,
}

impl Transcript {
    pub(crate) fn new(enabled: bool) -> Self {
        Transcript { enabled, lines: Vec::new() }
    }

    pub(crate) fn lines(&self) -> &[String] {
        &self.lines
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
