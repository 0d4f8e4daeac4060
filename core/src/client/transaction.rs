//! One mail transaction: MAIL, RCPT…, DATA or BDAT, with per-recipient results.
//!
//! Everything the caller gave is checked before the first byte is written (addresses through
//! `proto::address::parse_mailbox`, CR/LF/NUL anywhere → `invalid_input`), and so is everything
//! the server announced it cannot take — these are `rejected` errors without a reply, because a
//! server would refuse them permanently anyway:
//! - a message larger than the advertised SIZE;
//! - 8-bit bytes in the message when the server lacks 8BITMIME;
//! - a non-ASCII address when the server lacks SMTPUTF8.
//!
//! With PIPELINING, MAIL, every RCPT and DATA go out in one write and the replies are read in
//! order; the message goes in a second write. Large messages (> 64 KiB) go as BDAT chunks of
//! 1 MiB when the server offers CHUNKING; with PIPELINING too, up to [`BDAT_WINDOW`] chunks are
//! on the wire before their replies are read (RFC 3030 §4.2), so a chunk never waits a round trip
//! for the previous one's `250`. A refused chunk stops the sending (RFC 3030 §2: no more chunks
//! after a failure), the replies of the chunks already sent are read so the session stays in step,
//! and the first refusal is the send's error. After any failure the session sends RSET, so it
//! stays usable for the next transaction.
//!
//! Outcome rules: a recipient refused at RCPT does not fail the send while one is accepted;
//! all refused → the error carries every refusal ([`Error::rejected`]) and is `transient` when any
//! refusal was 4xx (a later try may reach that recipient; its reply is the error's), else
//! `rejected` with the last reply; a refused MAIL, DATA, chunk or final reply → `transient` for
//! 4xx, `rejected` for 5xx, carrying the recipients refused before it.

use std::time::Instant;

use crate::error::{Error, ErrorKind, Result};
use crate::proto::address::{Mailbox, Path};
use crate::proto::data::{encode_data, normalize_crlf};
use crate::proto::params::{xtext_encode, Params};
use crate::proto::{Command, Reply};

use super::result::{parse_queue_id, RejectedRecipient, SendOptions, SendResult, Timings};
use super::session::Client;
use super::validate::{self, Addr};

/// Messages above this many bytes use BDAT when the server offers CHUNKING.
pub const CHUNKING_THRESHOLD: usize = 64 * 1024;
/// BDAT chunk size.
pub const BDAT_CHUNK: usize = 1024 * 1024;
/// Message data is written in pieces of this size, each under the data-block timeout.
const WRITE_PIECE: usize = 1024 * 1024;
/// With PIPELINING: BDAT chunks written whose replies are not read yet, at most. Enough to keep
/// the connection busy while the server answers; few enough that little is sent in vain after a
/// refusal, and the unread replies (a line each) never fill a socket buffer.
pub const BDAT_WINDOW: usize = 4;

/// Size of the message as stored: bare CR / bare LF as CRLF, NUL bytes dropped, a final CRLF
/// added (an empty message is one empty line) — exactly what `encode_data` puts on the wire
/// before dot-stuffing, and what `SIZE=` announces (RFC 1870 does not count dot-stuffing).
fn normalized_len(m: &[u8]) -> u64 {
    let mut n: u64 = 0;
    let mut i = 0;
    let mut line_open = false;
    while i < m.len() {
        match m[i] {
            b'\r' => {
                n += 2;
                line_open = false;
                if m.get(i + 1) == Some(&b'\n') {
                    i += 1;
                }
            }
            b'\n' => {
                n += 2;
                line_open = false;
            }
            0 => {}
            _ => {
                n += 1;
                line_open = true;
            }
        }
        i += 1;
    }
    if line_open || n == 0 {
        n += 2;
    }
    n
}

/// The BDAT payload: the same bytes `encode_data` sends before stuffing (CRLF line ends, no NUL,
/// final CRLF), so a message is stored identically whichever way it travels.
fn bdat_body(message: &[u8]) -> Vec<u8> {
    let mut body = normalize_crlf(message);
    if body.contains(&0) {
        // After normalising, as the encoder does: `\r\0\n` is two line breaks, not one.
        body.retain(|b| *b != 0);
    }
    if !body.ends_with(b"\r\n") {
        body.extend_from_slice(b"\r\n");
    }
    body
}

fn path_of(a: &Addr) -> Path {
    match a {
        Addr::Null => Path::default(),
        Addr::Postmaster => Path { mailbox: None, source_route: Vec::new(), postmaster: true },
        Addr::Mailbox(m) => Path { mailbox: Some(m.clone()), source_route: Vec::new(), postmaster: false },
    }
}

fn mailbox_of(a: &Addr) -> Option<&Mailbox> {
    match a {
        Addr::Mailbox(m) => Some(m),
        _ => None,
    }
}

/// The error for "every recipient was refused": every refusal attached; `transient` when any was
/// 4xx (with the last 4xx reply), else `rejected` (with the last reply).
fn all_refused(rejected: Vec<RejectedRecipient>) -> Error {
    let transient = rejected.iter().rev().find(|r| r.reply.is_transient());
    let (kind, reply) = match transient {
        Some(r) => (ErrorKind::Transient, Some(r.reply.clone())),
        None => (ErrorKind::Rejected, rejected.last().map(|r| r.reply.clone())),
    };
    let mut e = Error::new(
        kind,
        format!(
            "all {} recipient(s) refused{}",
            rejected.len(),
            reply.as_ref().map(|r| format!(", e.g. {}", r.one_line())).unwrap_or_default()
        ),
    );
    if let Some(r) = reply {
        e = e.with_reply(r);
    }
    e.with_rejected(rejected)
}

/// The error for a refused DATA, chunk or final reply, with the recipients refused before it.
fn refused(reply: Reply, rejected: &[RejectedRecipient]) -> Error {
    Error::from_reply(reply).with_rejected(rejected.to_vec())
}

/// What the checks decided, ready to write.
struct Plan {
    mail: Command,
    rcpts: Vec<Command>,
    chunking: bool,
    pipelining: bool,
}

/// Append the caller's parameters to ours: keywords and values checked (no space, no control
/// character, no `=` in a keyword), a keyword we send ourselves skipped.
fn extra_params(ours: &mut Vec<(String, Option<String>)>, extra: &[(String, Option<String>)]) -> Result<()> {
    for (k, v) in extra {
        validate::token("ESMTP parameter keyword", k)?;
        if k.contains('=') {
            return Err(Error::invalid_input(format!("ESMTP parameter keyword {k:?} contains '='")));
        }
        if let Some(v) = v {
            validate::token(&format!("ESMTP parameter {k}"), v)?;
        }
        if !ours.iter().any(|(o, _)| o.eq_ignore_ascii_case(k)) {
            ours.push((k.to_ascii_uppercase(), v.clone()));
        }
    }
    Ok(())
}

impl Client {
    /// Send `message` from `mail_from` (`""` = null sender) to every address in `rcpt_to`.
    /// See the module documentation for the rules; the result lists accepted and refused
    /// recipients, the final reply and the queue id when the server named one.
    pub async fn send(&mut self, mail_from: &str, rcpt_to: &[String], message: &[u8]) -> Result<SendResult> {
        let env = SendOptions::new(mail_from, rcpt_to.to_vec());
        self.send_with(&env, message).await
    }

    /// True when the last `send` wrote message content (after 354, or a BDAT chunk). After a
    /// failed send without a server reply, the message may have been delivered only when this
    /// is true: a send that failed with this false is safe to retry elsewhere (the pool does).
    pub fn content_sent(&self) -> bool {
        self.content_sent
    }

    /// The recipients refused at RCPT (with their replies) in the last `send`, whatever its
    /// outcome: what a failed send's [`Error::rejected`] carries, and `SendResult::rejected` of
    /// a successful one — kept for callers that look after the fact.
    pub fn last_refused(&self) -> &[RejectedRecipient] {
        &self.last_refused
    }

    /// [`Client::send`] with DSN options (sent only when the server offers DSN).
    pub async fn send_with(&mut self, envelope: &SendOptions, message: &[u8]) -> Result<SendResult> {
        let plan = self.plan(envelope, message)?;
        // Begin first: a previous call abandoned half-way closes the session here.
        self.begin_call();
        let r = match self.ensure_open() {
            Ok(()) => self.run(envelope, &plan, message).await,
            Err(e) => Err(e),
        };
        self.last_queue_id = r.as_ref().ok().and_then(|r| r.queue_id.clone());
        self.end_call();
        r
    }

    /// Every check that does not need the network.
    fn plan(&self, env: &SendOptions, message: &[u8]) -> Result<Plan> {
        let from = validate::address("sender", &env.mail_from, true, false)?;
        if env.rcpt_to.is_empty() {
            return Err(Error::invalid_input("no recipients"));
        }
        let rcpts = env
            .rcpt_to
            .iter()
            .map(|r| validate::address("recipient", r, false, true))
            .collect::<Result<Vec<_>>>()?;
        let dsn = env.dsn.as_ref();
        if let Some(envid) = dsn.and_then(|d| d.envid.as_deref()) {
            validate::no_line_breaks("ENVID", envid)?;
        }

        let caps = &self.caps;
        let utf8 = mailbox_of(&from).is_some_and(Mailbox::is_utf8)
            || rcpts.iter().filter_map(mailbox_of).any(Mailbox::is_utf8);
        if utf8 && !caps.has("SMTPUTF8") {
            return Err(Error::new(
                ErrorKind::Rejected,
                "an address is not ASCII and the server does not offer SMTPUTF8",
            ));
        }
        let eight_bit = !message.is_ascii();
        if eight_bit && !caps.has("8BITMIME") {
            return Err(Error::new(
                ErrorKind::Rejected,
                "the message has 8-bit bytes and the server does not offer 8BITMIME",
            ));
        }
        let size = normalized_len(message);
        if let Some(max) = caps.size() {
            if size > max {
                return Err(Error::new(
                    ErrorKind::Rejected,
                    format!("the message is {size} bytes, over the server's SIZE limit of {max}"),
                ));
            }
        }

        let mut mp = Vec::new();
        if caps.has("SIZE") {
            mp.push(("SIZE".to_string(), Some(size.to_string())));
        }
        if eight_bit {
            mp.push(("BODY".to_string(), Some("8BITMIME".to_string())));
        }
        if utf8 {
            mp.push(("SMTPUTF8".to_string(), None));
        }
        let dsn = dsn.filter(|_| caps.has("DSN"));
        if let Some(d) = dsn {
            if let Some(ret) = d.ret {
                mp.push(("RET".to_string(), Some(ret.to_string())));
            }
            if let Some(envid) = &d.envid {
                mp.push(("ENVID".to_string(), Some(xtext_encode(envid))));
            }
        }
        extra_params(&mut mp, &env.mail_params)?;
        let mail = Command::Mail { from: path_of(&from), params: Params(mp) };

        let notify = dsn.and_then(|d| d.notify).and_then(|n| n.to_param_value());
        let orcpt = dsn.is_some_and(|d| d.orcpt);
        let rcpts = rcpts
            .iter()
            .map(|a| {
                let mut rp = Vec::new();
                if let Some(n) = &notify {
                    rp.push(("NOTIFY".to_string(), Some(n.clone())));
                }
                if orcpt {
                    if let Some(m) = mailbox_of(a) {
                        rp.push((
                            "ORCPT".to_string(),
                            Some(format!("rfc822;{}", xtext_encode(&m.to_string()))),
                        ));
                    }
                }
                extra_params(&mut rp, &env.rcpt_params)?;
                Ok(Command::Rcpt { to: path_of(a), params: Params(rp) })
            })
            .collect::<Result<Vec<_>>>()?;

        Ok(Plan {
            mail,
            rcpts,
            chunking: self.opts.chunking && caps.has("CHUNKING") && size > CHUNKING_THRESHOLD as u64,
            pipelining: self.opts.pipelining && caps.has("PIPELINING"),
        })
    }

    /// Fail the transaction: RSET so the session stays usable, then return `e`.
    async fn abort(&mut self, e: Error) -> Result<SendResult> {
        self.rset_quietly().await;
        Err(e)
    }

    async fn run(&mut self, env: &SendOptions, plan: &Plan, message: &[u8]) -> Result<SendResult> {
        self.content_sent = false;
        self.last_refused.clear();
        let to = self.opts.timeouts;
        let t0 = Instant::now();
        let mut timings = Timings::default();
        let mut accepted = Vec::new();
        let mut rejected = Vec::new();

        // --- envelope -----------------------------------------------------------------------
        let mut data_reply = None;
        if plan.pipelining {
            self.wbuf.clear();
            plan.mail.write_to(&mut self.wbuf);
            for r in &plan.rcpts {
                r.write_to(&mut self.wbuf);
            }
            if !plan.chunking {
                Command::Data.write_to(&mut self.wbuf);
            }
            self.transcript.client_bytes(&self.wbuf);
            self.flush_wbuf(to.mail, "MAIL").await?;
            let mail = self.read(to.mail, "MAIL").await?;
            timings.mail = Some(t0.elapsed());
            // After a 421 the server is closing: its reply is the error, read nothing more.
            if self.closed {
                return Err(Error::from_reply(mail));
            }
            let mut rcpt_replies = Vec::with_capacity(plan.rcpts.len());
            for _ in &plan.rcpts {
                let reply = self.read(to.rcpt, "RCPT").await?;
                if self.closed {
                    return Err(Error::from_reply(reply));
                }
                rcpt_replies.push(reply);
            }
            timings.rcpt = Some(t0.elapsed() - timings.mail.unwrap_or_default());
            if !plan.chunking {
                let reply = self.read(to.data_start, "DATA").await?;
                if self.closed {
                    return Err(Error::from_reply(reply));
                }
                data_reply = Some(reply);
            }
            if !mail.is_positive() {
                if data_reply.as_ref().is_some_and(|r| r.code == 354) {
                    self.end_unwanted_data().await?;
                }
                return self.abort(Error::from_reply(mail)).await;
            }
            for (rcpt, reply) in env.rcpt_to.iter().zip(rcpt_replies) {
                if reply.is_positive() {
                    accepted.push(rcpt.clone());
                } else {
                    rejected.push(RejectedRecipient { rcpt: rcpt.clone(), reply });
                }
            }
        } else {
            let mail = self.command(&plan.mail, to.mail, "MAIL").await?;
            timings.mail = Some(t0.elapsed());
            if !mail.is_positive() {
                return self.abort(Error::from_reply(mail)).await;
            }
            for (rcpt, cmd) in env.rcpt_to.iter().zip(&plan.rcpts) {
                let reply = self.command(cmd, to.rcpt, "RCPT").await?;
                if self.closed {
                    return Err(Error::from_reply(reply));
                }
                if reply.is_positive() {
                    accepted.push(rcpt.clone());
                } else {
                    rejected.push(RejectedRecipient { rcpt: rcpt.clone(), reply });
                }
            }
            timings.rcpt = Some(t0.elapsed() - timings.mail.unwrap_or_default());
        }
        self.last_refused.clone_from(&rejected);
        if accepted.is_empty() {
            if data_reply.as_ref().is_some_and(|r| r.code == 354) {
                self.end_unwanted_data().await?;
            }
            return self.abort(all_refused(rejected)).await;
        }

        // --- content ------------------------------------------------------------------------
        let t_data = Instant::now();
        let final_reply = if plan.chunking {
            self.send_bdat(message, plan.pipelining).await?
        } else {
            let data_reply = match data_reply {
                Some(r) => r,
                None => self.command(&Command::Data, to.data_start, "DATA").await?,
            };
            if data_reply.code != 354 {
                return self.abort(refused(data_reply, &rejected)).await;
            }
            self.wbuf.clear();
            encode_data(message, &mut self.wbuf);
            self.content_sent = true;
            let n = self.wbuf.len();
            self.transcript.client_text(&format!("<message: {n} bytes on the wire, dot-stuffed>"));
            self.transcript.client_text(".");
            let mut off = 0;
            while off < n {
                let end = (off + WRITE_PIECE).min(n);
                let r = self.conn.write_all(&self.wbuf[off..end], to.data_block, "message data").await;
                if let Err(e) = r {
                    return Err(self.fail(e));
                }
                off = end;
            }
            self.read(to.data_end, "end of data").await?
        };
        timings.data = Some(t_data.elapsed());
        timings.total = Some(t0.elapsed());
        if !final_reply.is_positive() {
            return self.abort(refused(final_reply, &rejected)).await;
        }
        if self.wbuf.capacity() > 4 * WRITE_PIECE {
            self.wbuf = Vec::with_capacity(4096);
        }
        Ok(SendResult {
            accepted,
            rejected,
            queue_id: parse_queue_id(&final_reply),
            reply: final_reply,
            timings,
        })
    }

    /// A server answered 354 to a pipelined DATA although nothing was accepted: send an empty
    /// message's terminator so that nothing is delivered, and read its reply.
    async fn end_unwanted_data(&mut self) -> Result<()> {
        self.wbuf.clear();
        self.wbuf.extend_from_slice(b".\r\n");
        self.transcript.client_text(".");
        self.flush_wbuf(self.opts.timeouts.data_block, "DATA").await?;
        self.read(self.opts.timeouts.data_end, "end of data").await?;
        Ok(())
    }

    /// The message as BDAT chunks; returns the reply to the last one, or the first refusal.
    /// `pipelined`: up to [`BDAT_WINDOW`] chunks in flight; else one at a time.
    async fn send_bdat(&mut self, message: &[u8], pipelined: bool) -> Result<Reply> {
        let body = bdat_body(message);
        let to = self.opts.timeouts;
        let chunks: Vec<&[u8]> = body.chunks(BDAT_CHUNK).collect();
        if chunks.is_empty() {
            self.content_sent = true;
            return self.command(&Command::Bdat { size: 0, last: true }, to.data_end, "BDAT").await;
        }
        let window = if pipelined { BDAT_WINDOW } else { 1 };
        let n = chunks.len();
        let (mut sent, mut answered) = (0, 0);
        let mut refusal: Option<Reply> = None;
        // Bounded: each turn reads one of the `n` replies.
        while answered < sent || (refusal.is_none() && sent < n) {
            while refusal.is_none() && sent < n && sent - answered < window {
                let chunk = chunks[sent];
                let last = sent + 1 == n;
                self.wbuf.clear();
                Command::Bdat { size: chunk.len() as u64, last }.write_to(&mut self.wbuf);
                self.transcript.client_bytes(&self.wbuf);
                self.transcript.client_text(&format!("<message chunk: {} bytes>", chunk.len()));
                self.wbuf.extend_from_slice(chunk);
                self.content_sent = true;
                self.flush_wbuf(to.data_block, "BDAT").await?;
                sent += 1;
            }
            let last = answered + 1 == n;
            let reply = self.read(if last { to.data_end } else { to.data_block }, "BDAT").await?;
            answered += 1;
            if self.closed {
                // 421: the server is closing; nothing more will come.
                return Ok(reply);
            }
            if refusal.is_some() {
                continue; // a chunk already in flight: its reply says nothing new
            }
            if last || !reply.is_positive() {
                if last {
                    return Ok(reply);
                }
                refusal = Some(reply);
            }
        }
        refusal.ok_or_else(|| Error::protocol("BDAT: the last chunk got no reply"))
    }
}

#[cfg(test)]
mod tests {
    use super::{bdat_body, normalized_len};
    use crate::proto::data::encode_data;
    use proptest::prelude::*;

    proptest! {
        /// SIZE= and BDAT carry exactly what DATA would store.
        #[test]
        fn size_and_bdat_match_the_data_encoder(m in proptest::collection::vec(
            prop_oneof![Just(b'\r'), Just(b'\n'), Just(b'.'), Just(0u8), any::<u8>()], 0..300)) {
            let mut wire = Vec::new();
            encode_data(&m, &mut wire);
            let body = &wire[..wire.len() - 3];
            let mut unstuffed = Vec::new();
            for line in body.split_inclusive(|b| *b == b'\n') {
                unstuffed.extend_from_slice(line.strip_prefix(b".").unwrap_or(line));
            }
            prop_assert_eq!(normalized_len(&m), unstuffed.len() as u64);
            prop_assert_eq!(bdat_body(&m), unstuffed);
        }
    }

    #[test]
    fn normalized_length_counts_crlf() {
        assert_eq!(normalized_len(b""), 2);
        assert_eq!(normalized_len(b"\0"), 2);
        assert_eq!(normalized_len(b"a\0\r\n"), 3);
        assert_eq!(normalized_len(b"a"), 3);
        assert_eq!(normalized_len(b"a\r\n"), 3);
        assert_eq!(normalized_len(b"a\n"), 3);
        assert_eq!(normalized_len(b"a\rb"), 6);
        assert_eq!(normalized_len(b"a\r"), 3);
        assert_eq!(normalized_len(b"a\n\nb\r\n"), 8);
    }
}
