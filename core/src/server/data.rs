//! Message content: DATA (dot-unstuffed by `proto::data::DataReceiver`) and BDAT chunks
//! (RFC 3030, raw octets), then the end of a transaction: size and smuggling verdicts, the
//! `on_message` hook, delivery, and the final reply.
//!
//! Content is streamed: the receiver consumes whatever the socket gives, SIZE is enforced as bytes
//! arrive (past the limit nothing more is stored, the rest is drained and answered 552), and no
//! step waits for the whole message before reading on.

use std::sync::Arc;

use super::budget::{insufficient_storage, Reservation};
use super::hooks::Envelope;
use super::io::Stream;
use super::received::{new_queue_id, write_received, ReceivedInfo};
use super::session::{Next, Session, Stop};
use super::stats::Counters;
use super::Delivery;
use crate::proto::data::{DataLimits, DataReceiver, DataStatus, DataViolation};
use crate::proto::Reply;

/// A message being assembled by BDAT chunks.
#[derive(Debug)]
pub(super) struct BdatState {
    queue_id: String,
    message: Vec<u8>,
    header_len: usize,
    size: u64,
    too_big: bool,
    /// The memory budget could not hold it: drained, answered 452.
    no_memory: bool,
    reservation: Reservation,
}

impl Session {
    /// `DATA`: 354, receive, then finish the transaction.
    pub(super) async fn data(&mut self, io: &mut Stream) -> Result<Option<Next>, Stop> {
        let Some(tx) = self.tx.as_ref() else {
            self.error_reply(Reply::new(503, "Need MAIL command first", Some("5.5.1")));
            return Ok(None);
        };
        if tx.bdat.is_some() {
            self.error_reply(Reply::new(503, "DATA not allowed after BDAT", Some("5.5.1")));
            return Ok(None);
        }
        if tx.rcpt_to.is_empty() {
            let r = if tx.rcpt_attempts > 0 {
                Reply::new(554, "No valid recipients", Some("5.5.1"))
            } else {
                Reply::new(503, "Need RCPT command first", Some("5.5.1"))
            };
            self.error_reply(r);
            return Ok(None);
        }
        self.reply(Reply::new(354, "End data with <CR><LF>.<CR><LF>", None));
        let queue_id = new_queue_id();
        let mut message = Vec::with_capacity(self.initial_capacity());
        self.stamp(&queue_id, &mut message);
        let mut reservation = Reservation::new(&self.shared.budget);
        let mut no_memory = !reservation.cover(message.capacity());
        // Where content goes once the budget is exhausted: drained, never kept.
        let mut sink = Vec::new();
        let o = &self.shared.opts;
        let limits = DataLimits {
            max_size: o.max_message_size,
            max_line: o.max_line_length,
            policy: o.bare_line_policy,
        };
        let mut rx = DataReceiver::new(limits);
        let timeout = o.timeouts.data;
        self.grow_for_data();
        loop {
            if !self.buffered().is_empty() {
                let out = if no_memory { &mut sink } else { &mut message };
                let status = rx.feed(self.buffered(), out);
                sink.clear();
                if !no_memory && !reservation.cover(message.capacity()) {
                    no_memory = true;
                    message = Vec::new();
                    reservation.release();
                }
                match status {
                    DataStatus::NeedMore => {
                        let n = self.buffered().len();
                        self.consume(n);
                    }
                    DataStatus::Done { consumed } => {
                        self.consume(consumed);
                        break;
                    }
                    DataStatus::Abort(v) => {
                        Counters::add(&self.shared.counters.messages_rejected, 1);
                        tracing::warn!(session = %self.info.id, "message refused and session closed: {v:?} in DATA");
                        let text = match v {
                            DataViolation::Nul => "NUL byte in message content refused; closing",
                            _ => "Bare CR or LF in message content refused (SMTP smuggling protection); closing",
                        };
                        self.reply(Reply::new(554, text, Some("5.6.0")));
                        self.flush(io).await?;
                        return Ok(Some(Next::Close));
                    }
                }
            }
            self.flush(io).await?;
            self.fill(io, timeout, super::session::MAX_READ_BUF).await?;
        }
        Counters::add(&self.shared.counters.bytes_received, rx.size());
        let reply = match rx.violation() {
            Some(DataViolation::TooBig) => {
                Some(Reply::new(552, "Message size exceeds fixed maximum message size", Some("5.3.4")))
            }
            Some(DataViolation::LineTooLong) => {
                Some(Reply::new(500, "Message line too long (RFC 5321 section 4.5.3.1.6)", Some("5.5.6")))
            }
            Some(v) => Some(Reply::new(554, &format!("Message refused: {v:?}"), Some("5.6.0"))),
            None if no_memory => {
                tracing::warn!(session = %self.info.id, "message refused: max_buffered_bytes exhausted");
                Some(insufficient_storage())
            }
            None => None,
        };
        if let Some(r) = reply {
            self.tx = None;
            Counters::add(&self.shared.counters.messages_rejected, 1);
            self.error_reply(r);
            return Ok(None);
        }
        self.finish(queue_id, message).await;
        drop(reservation);
        Ok(None)
    }

    /// `BDAT size [LAST]`: read exactly `size` octets; the last chunk finishes the transaction.
    pub(super) async fn bdat(
        &mut self,
        io: &mut Stream,
        size: u64,
        last: bool,
    ) -> Result<Option<Next>, Stop> {
        // Whatever we answer, the chunk's octets must be read off the wire first: executing them
        // as commands would be a smuggling hole.
        let usable = self.tx.as_ref().is_some_and(|t| !t.rcpt_to.is_empty());
        if !usable {
            self.drain(io, size).await?;
            let r = match &self.tx {
                None => Reply::new(503, "Need MAIL command first", Some("5.5.1")),
                Some(t) if t.rcpt_attempts > 0 => Reply::new(554, "No valid recipients", Some("5.5.1")),
                Some(_) => Reply::new(503, "Need RCPT command first", Some("5.5.1")),
            };
            self.error_reply(r);
            return Ok(None);
        }
        if self.tx.as_ref().is_some_and(|t| t.bdat.is_none()) {
            let queue_id = new_queue_id();
            let mut message = Vec::with_capacity(self.initial_capacity());
            self.stamp(&queue_id, &mut message);
            let header_len = message.len();
            let mut reservation = Reservation::new(&self.shared.budget);
            let no_memory = !reservation.cover(message.capacity());
            if let Some(tx) = self.tx.as_mut() {
                tx.bdat = Some(BdatState {
                    queue_id,
                    message,
                    header_len,
                    size: 0,
                    too_big: false,
                    no_memory,
                    reservation,
                });
            }
        }
        let max = self.shared.opts.max_message_size;
        let Some(mut state) = self.tx.as_mut().and_then(|t| t.bdat.take()) else {
            return Ok(None);
        };
        let already_failed = state.too_big || state.no_memory;
        state.size = state.size.saturating_add(size);
        if max > 0 && state.size > max {
            state.too_big = true;
        }
        let wanted = usize::try_from(state.size).unwrap_or(usize::MAX).saturating_add(state.header_len);
        if !state.too_big && !state.no_memory && !state.reservation.cover(wanted) {
            state.no_memory = true;
        }
        if state.too_big || state.no_memory {
            self.drain(io, size).await?;
            state.message = Vec::new();
            state.reservation.release();
        } else {
            self.read_exact_into(io, size, &mut state.message).await?;
        }
        Counters::add(&self.shared.counters.bytes_received, size);
        if state.too_big || state.no_memory {
            // Answer the chunk that crossed the limit with 552 (or 452 when memory ran out),
            // later chunks with 503; the transaction is over either way.
            let too_big = state.too_big;
            if last {
                self.tx = None;
            } else if let Some(tx) = self.tx.as_mut() {
                tx.bdat = Some(state);
            }
            if already_failed {
                self.error_reply(Reply::new(503, "BDAT after an earlier failure; send RSET", Some("5.5.1")));
            } else if too_big {
                Counters::add(&self.shared.counters.messages_rejected, 1);
                self.error_reply(Reply::new(
                    552,
                    "Message size exceeds fixed maximum message size",
                    Some("5.3.4"),
                ));
            } else {
                Counters::add(&self.shared.counters.messages_rejected, 1);
                self.reply(insufficient_storage());
            }
            return Ok(None);
        }
        if !last {
            let text = format!("{size} octets received");
            if let Some(tx) = self.tx.as_mut() {
                tx.bdat = Some(state);
            }
            self.reply(Reply::new(250, &text, Some("2.0.0")));
            return Ok(None);
        }
        self.finish(state.queue_id, state.message).await;
        Ok(None)
    }

    /// End of a transaction with a complete message: hook, delivery, reply.
    async fn finish(&mut self, queue_id: String, message: Vec<u8>) {
        let Some(tx) = self.tx.take() else { return };
        let envelope = Envelope {
            mail_from: tx.mail_from,
            rcpt_to: tx.rcpt_to,
            mail_params: tx.mail_params,
            rcpt_params: tx.rcpt_params,
        };
        let data = Arc::new(message);
        let hooked = self.shared.hook_set.message;
        let accepted = match self
            .call_hook(hooked, |h| h.on_message(self.info.clone(), envelope.clone(), Arc::clone(&data)))
            .await
        {
            Ok(None) => None,
            Ok(Some(r)) if r.is_positive() => Some(r),
            Ok(Some(r)) | Err(r) => {
                Counters::add(&self.shared.counters.messages_rejected, 1);
                tracing::info!(session = %self.info.id, id = %queue_id, "message refused by hook: {}", r.one_line());
                return self.error_reply(r);
            }
        };
        if let Delivery::Maildir(_) = &self.shared.opts.delivery {
            if let Some(md) = self.shared.maildir.clone() {
                let (qid, host) = (queue_id.clone(), self.shared.opts.hostname.clone());
                let (from, rcpts, d) =
                    (envelope.mail_from.clone(), envelope.rcpt_to.clone(), Arc::clone(&data));
                let stored =
                    tokio::task::spawn_blocking(move || md.deliver(&qid, &host, &from, &rcpts, &d)).await;
                let failure = match stored {
                    Ok(Ok(_)) => None,
                    Ok(Err(e)) => Some(e.to_string()),
                    Err(e) => Some(format!("delivery task failed: {e}")),
                };
                if let Some(why) = failure {
                    tracing::error!(session = %self.info.id, id = %queue_id, "{why}");
                    Counters::add(&self.shared.counters.messages_rejected, 1);
                    return self.reply(Reply::new(
                        451,
                        "Local error in processing; message not stored, try again later",
                        Some("4.3.0"),
                    ));
                }
            }
        }
        Counters::add(&self.shared.counters.messages_accepted, 1);
        tracing::info!(
            session = %self.info.id, id = %queue_id, from = %envelope.mail_from,
            rcpts = envelope.rcpt_to.len(), size = data.len(), "message accepted"
        );
        let reply =
            accepted.unwrap_or_else(|| Reply::new(250, &format!("Ok: queued as {queue_id}"), Some("2.0.0")));
        self.reply(reply);
    }

    /// Put our Received line at the top of a new message.
    fn stamp(&self, queue_id: &str, out: &mut Vec<u8>) {
        let tx = self.tx.as_ref();
        let single = tx.filter(|t| t.rcpt_to.len() == 1).map(|t| t.rcpt_to[0].as_str());
        let helo = self.info.helo.as_deref().unwrap_or("unknown");
        write_received(
            &ReceivedInfo {
                helo,
                rdns: self.rdns.as_deref(),
                ip: self.info.peer.ip(),
                by: &self.shared.opts.hostname,
                with: self.protocol(),
                id: queue_id,
                for_rcpt: single,
            },
            out,
        );
    }

    /// A starting capacity: the announced SIZE, but never more than 64 KiB before the bytes
    /// have arrived (an announcement costs the client nothing); the buffer grows as they do.
    fn initial_capacity(&self) -> usize {
        let announced = self.tx.as_ref().and_then(|t| t.mail_params.size).unwrap_or(0);
        (announced.min(64 * 1024) as usize).max(4096) + 512
    }

    /// Read exactly `n` octets (buffered first) into `out`.
    async fn read_exact_into(&mut self, io: &mut Stream, n: u64, out: &mut Vec<u8>) -> Result<(), Stop> {
        self.take_octets(io, n, Some(out)).await
    }

    /// Read and discard exactly `n` octets.
    async fn drain(&mut self, io: &mut Stream, n: u64) -> Result<(), Stop> {
        self.take_octets(io, n, None).await
    }

    /// Consume exactly `n` octets off the wire, appending them to `out` when given.
    async fn take_octets(
        &mut self,
        io: &mut Stream,
        mut n: u64,
        mut out: Option<&mut Vec<u8>>,
    ) -> Result<(), Stop> {
        self.grow_for_data();
        let timeout = self.shared.opts.timeouts.data;
        while n > 0 {
            if self.buffered().is_empty() {
                self.flush(io).await?;
                self.fill(io, timeout, super::session::MAX_READ_BUF).await?;
            }
            let take = (self.buffered().len() as u64).min(n) as usize;
            if let Some(out) = out.as_deref_mut() {
                out.extend_from_slice(&self.buffered()[..take]);
            }
            self.consume(take);
            n -= take as u64;
        }
        Ok(())
    }
}
