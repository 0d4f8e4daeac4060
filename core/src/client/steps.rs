//! Single protocol steps on an open session — `MAIL FROM:`, `RCPT TO:` and `DATA` sent exactly as
//! the caller wrote them — for the open-relay checker and for tests that need a server's answer
//! to one command rather than a whole transaction (`send` does the real work; `reset` is in
//! `session.rs`).
//!
//! The arguments are deliberately not parsed: the relay probes' address tricks (`"a@b"@[ip]`,
//! `b!a`, `@host:a@b`, a bare address without angle brackets) are not valid RFC 5321 paths and
//! the whole point is to see what the server says to them. CR, LF and NUL are still refused
//! (`invalid_input`): they would inject commands.

use crate::error::Result;
use crate::proto::data::encode_data;
use crate::proto::Reply;

use super::session::Client;
use super::validate;

impl Client {
    /// Send `MAIL FROM:` followed by `arg` as given (`"<a@example.org>"`, `"<>"`, `"<nobody>"`,
    /// parameters included) and return the reply, whatever its code.
    pub async fn mail_from_raw(&mut self, arg: &str) -> Result<Reply> {
        validate::no_line_breaks("MAIL FROM argument", arg)?;
        let line = format!("MAIL FROM:{arg}");
        self.masked_line(&line, &line, "MAIL").await
    }

    /// Send `RCPT TO:` followed by `arg` as given and return the reply, whatever its code.
    pub async fn rcpt_to_raw(&mut self, arg: &str) -> Result<Reply> {
        validate::no_line_breaks("RCPT TO argument", arg)?;
        let line = format!("RCPT TO:{arg}");
        self.masked_line(&line, &line, "RCPT").await
    }

    /// `DATA`, then — only after a 354 — `message` (dot-stuffed, CRLF-normalised) and the final
    /// dot. Returns the reply to DATA when it is not 354, else the reply after the dot.
    pub async fn data_raw(&mut self, message: &[u8]) -> Result<Reply> {
        let t = self.opts.timeouts.data_init;
        let go = self.masked_line("DATA", "DATA", "DATA").await?;
        if go.code != 354 {
            return Ok(go);
        }
        self.wbuf.clear();
        encode_data(message, &mut self.wbuf);
        self.transcript.client_text(&format!("<{} bytes of message data>", self.wbuf.len()));
        self.content_sent = true;
        self.flush_wbuf(self.opts.timeouts.data_block.max(t), "DATA").await?;
        self.read(self.opts.timeouts.data_end, "end of data").await
    }
}
