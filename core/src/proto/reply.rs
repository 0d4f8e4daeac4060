//! SMTP replies: the `Reply` value of the API contract, its wire form (multi-line, enhanced status
//! codes), and the client-side parser that reads one reply out of a byte buffer under limits.

use serde::{Deserialize, Serialize};

use crate::error::Error;

/// A server reply: `code`, optional enhanced status code (`"5.7.1"`), and its text lines (the
/// enhanced code is not repeated in `lines`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Reply {
    /// The three-digit reply code.
    pub code: u16,
    /// The RFC 3463 enhanced status code, e.g. `"2.1.5"`, when the reply carried one.
    pub enhanced: Option<String>,
    /// The text lines, without code, separator or enhanced code.
    pub lines: Vec<String>,
}

/// Bounds for parsing replies from an untrusted server.
#[derive(Debug, Clone, Copy)]
pub struct ReplyLimits {
    /// Longest accepted reply line in bytes including CRLF (RFC 5321 says 512; we allow more).
    pub max_line: usize,
    /// Most lines in one multi-line reply.
    pub max_lines: usize,
}

impl Default for ReplyLimits {
    fn default() -> Self {
        ReplyLimits { max_line: 4096, max_lines: 128 }
    }
}

impl Reply {
    /// A reply with `text` split on `\n` into lines. `enhanced` is e.g. `Some("5.7.1")`.
    pub fn new(code: u16, enhanced: Option<&str>, text: &str) -> Reply {
        todo!()
    }

    /// The lines joined by `\n` (the API's `text`).
    pub fn text(&self) -> String {
        todo!()
    }

    /// `"550 5.7.1 Relaying denied"`: code, enhanced code, lines joined by a space; for logs and
    /// error messages.
    pub fn one_line(&self) -> String {
        todo!()
    }

    /// 2xx.
    pub fn is_positive(&self) -> bool {
        (200..300).contains(&self.code)
    }
    /// 3xx.
    pub fn is_intermediate(&self) -> bool {
        (300..400).contains(&self.code)
    }
    /// 4xx.
    pub fn is_transient(&self) -> bool {
        (400..500).contains(&self.code)
    }
    /// 5xx.
    pub fn is_permanent(&self) -> bool {
        (500..600).contains(&self.code)
    }

    /// Append the wire form: `250-line\r\n … 250 last\r\n`, each line prefixed with the
    /// enhanced code when there is one. An empty reply is one line with no text.
    pub fn write_to(&self, out: &mut Vec<u8>) {
        todo!()
    }

    /// The wire form as a new buffer.
    pub fn to_wire(&self) -> Vec<u8> {
        let mut v = Vec::new();
        self.write_to(&mut v);
        v
    }

    /// Parse one complete reply from the front of `buf`.
    ///
    /// Returns `Ok(None)` when more bytes are needed, `Ok(Some((reply, consumed)))` when a whole
    /// reply is there, and a protocol error when the bytes are not SMTP (no 3-digit code, mixed
    /// codes across continuation lines, a line over `max_line` even before its CRLF arrived, more
    /// than `max_lines` lines). Bare LF line endings are accepted (liberal in what we read). The
    /// enhanced code is recognised when every line begins with the same `C.S.D ` whose class
    /// digit equals the reply's first digit.
    pub fn parse(buf: &[u8], limits: &ReplyLimits) -> Result<Option<(Reply, usize)>, Error> {
        todo!()
    }
}
