//! Message content in the session: DATA (dot-unstuffed) and BDAT chunks (counted), both through
//! the one content policy of `proto::data::DataReceiver`, then the end of a transaction: size and
//! smuggling verdicts, the `on_message` hook, delivery and the final reply.
//!
//! Content is streamed: whatever the driver reads is fed on at once; SIZE, the line limit and the
//! memory budget are enforced as bytes arrive, and a message that is doomed (too big, a line too
//! long, no memory left) stops being kept — the rest is drained, then answered.

use std::io::Write;
use std::sync::Arc;
use std::time::Instant;

use super::{Awaiting, HookCall, Phase, Session, Step};
use crate::proto::{DataReceiver, DataStatus, DataViolation, Reply};
use crate::server::budget::Reservation;
use crate::server::hooks::Envelope;
use crate::server::received::{new_queue_id, write_received, ReceivedInfo};
use crate::server::stats::Counters;

/// A message being received (DATA, or the BDAT chunks so far).
#[derive(Debug)]
pub(super) struct Message {
    queue_id: String,
    /// Our Received line, then the content.
    data: Vec<u8>,
    rx: DataReceiver,
    reservation: Reservation,
    /// BDAT: the chunk sizes announced so far.
    announced: u64,
    /// Why the message is already refused (BDAT: answered on the chunk where it happened;
    /// later chunks are drained and answered 503).
    failed: Option<Failure>,
    /// The memory budget could not hold it: drained, answered 452.
    no_memory: bool,
    /// Content octets received on the wire (for `min_data_rate`).
    pub(super) wire_bytes: u64,
    /// When content started (DATA's 354, or the first BDAT chunk).
    pub(super) started: Instant,
}

/// Why a message is refused before its end.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Failure {
    TooBig,
    LineTooLong,
    NoMemory,
}

/// One BDAT chunk being read.
#[derive(Debug)]
pub(super) struct Chunk {
    size: u64,
    remaining: u64,
    last: bool,
    /// Refused before reading (no transaction or recipient): drained, then this reply.
    refused: Option<(u16, &'static str, &'static str)>,
    /// The message had already failed before this chunk.
    failed_before: bool,
}

/// A complete message on its way through `on_message` and delivery.
#[derive(Debug)]
pub(super) struct Finished {
    queue_id: String,
    envelope: Arc<Envelope>,
    data: Arc<Vec<u8>>,
    /// Held until the message is answered.
    _reservation: Reservation,
}

impl Message {
    /// Stop keeping the content: the memory goes back to the budget at once.
    fn forget(&mut self) {
        self.rx.stop_storing();
        self.data = Vec::new();
        self.reservation.release();
    }

    /// After feeding: a doomed message is forgotten; a growing one must stay within the budget.
    fn check(&mut self) {
        if self.failed.is_some() || self.no_memory {
            return;
        }
        if self.rx.violation().is_some() {
            self.forget();
        } else if !self.reservation.cover(self.data.capacity()) {
            self.no_memory = true;
            self.forget();
        }
    }

    /// The first reason this message is refused, if any (a fatal violation is not one: it
    /// closes the session where it is seen).
    fn failure(&self) -> Option<Failure> {
        self.failed.or(match self.rx.violation() {
            Some(DataViolation::TooBig) => Some(Failure::TooBig),
            Some(DataViolation::LineTooLong) => Some(Failure::LineTooLong),
            _ if self.no_memory => Some(Failure::NoMemory),
            _ => None,
        })
    }
}

impl Failure {
    fn reply(self) -> (u16, &'static str, &'static str) {
        match self {
            Failure::TooBig => (552, "5.3.4", "Message size exceeds fixed maximum message size"),
            Failure::LineTooLong => (500, "5.5.6", "Message line too long (RFC 5321 section 4.5.3.1.6)"),
            Failure::NoMemory => (452, "4.3.1", "Insufficient system storage, try again later"),
        }
    }
}

impl Session {
    /// Start a message: queue id, our Received line on top, a share of the memory budget.
    fn start_message(&mut self, bdat: bool) -> Message {
        let queue_id = new_queue_id();
        let announced = self.tx.as_ref().and_then(|t| t.mail_params.size).unwrap_or(0);
        // Never more than 64 KiB before the bytes have arrived (an announcement costs the client
        // nothing); the buffer grows as they do.
        let mut data = Vec::with_capacity((announced.min(64 * 1024) as usize).max(4096) + 512);
        let tx = self.tx.as_ref();
        write_received(
            &ReceivedInfo {
                helo: self.info.helo.as_deref().unwrap_or("unknown"),
                rdns: self.rdns.as_deref(),
                ip: self.info.peer.ip(),
                by: &self.config.opts.hostname,
                with: self.protocol(),
                id: &queue_id,
                for_rcpt: tx.filter(|t| t.rcpt_to.len() == 1).map(|t| t.rcpt_to[0].as_str()),
            },
            &mut data,
        );
        let mut reservation = self.reservation();
        let no_memory = !reservation.cover(data.capacity());
        let mut msg = Message {
            queue_id,
            data,
            rx: self.new_receiver(bdat),
            reservation,
            announced: 0,
            failed: None,
            no_memory,
            wire_bytes: 0,
            started: self.now,
        };
        if no_memory {
            msg.forget();
        }
        self.input.grow(super::MAX_READ_BUF);
        msg
    }

    /// `DATA`: 354, then content.
    pub(super) fn data(&mut self) {
        let Some(tx) = self.tx.as_ref() else {
            return self.refuse(503, "5.5.1", "Need MAIL command first");
        };
        if tx.message.is_some() {
            return self.refuse(503, "5.5.1", "DATA not allowed after BDAT");
        }
        if tx.rcpt_to.is_empty() {
            return if tx.rcpt_attempts > 0 {
                self.refuse(554, "5.5.1", "No valid recipients")
            } else {
                self.refuse(503, "5.5.1", "Need RCPT command first")
            };
        }
        self.say(354, "", "End data with <CR><LF>.<CR><LF>");
        let msg = self.start_message(false);
        if let Some(tx) = self.tx.as_mut() {
            tx.message = Some(msg);
        }
        self.phase = Phase::Data;
    }

    /// Feed what is buffered to the DATA receiver.
    pub(super) fn receive_data(&mut self) -> Option<Step> {
        let input = self.input.buffered();
        if input.is_empty() {
            return Some(Step::Read);
        }
        let Some(msg) = self.tx.as_mut().and_then(|t| t.message.as_mut()) else {
            self.phase = super::Phase::Commands;
            return None;
        };
        let status = msg.rx.feed(input, &mut msg.data);
        msg.check();
        match status {
            DataStatus::NeedMore => {
                msg.wire_bytes += input.len() as u64;
                let n = input.len();
                self.input.consume(n);
                None
            }
            DataStatus::Done { consumed } => {
                msg.wire_bytes += consumed as u64;
                self.input.consume(consumed);
                self.phase = Phase::Commands;
                self.data_done()
            }
            DataStatus::Abort(v) => self.smuggling(v, "DATA"),
        }
    }

    /// A bare CR/LF or NUL under the reject policy: refuse and close — in DATA the end of the
    /// message can no longer be known, so nothing after it may be read as commands.
    fn smuggling(&mut self, v: DataViolation, verb: &str) -> Option<Step> {
        Counters::add(&self.config.counters.messages_rejected, 1);
        tracing::warn!(session = %self.info.id, "message refused and session closed: {v:?} in {verb}");
        self.tx = None;
        let text = match v {
            DataViolation::Nul => "NUL byte in message content refused; closing",
            _ => "Bare CR or LF in message content refused (SMTP smuggling protection); closing",
        };
        self.close_with(554, "5.6.0", text)
    }

    /// The final dot of DATA was read.
    fn data_done(&mut self) -> Option<Step> {
        let msg = self.tx.as_mut()?.message.take()?;
        Counters::add(&self.config.counters.bytes_received, msg.rx.size());
        if let Some(f) = msg.failure() {
            return self.refuse_message(f);
        }
        self.message_complete(msg)
    }

    fn refuse_message(&mut self, f: Failure) -> Option<Step> {
        self.tx = None;
        Counters::add(&self.config.counters.messages_rejected, 1);
        if f == Failure::NoMemory {
            tracing::warn!(session = %self.info.id, "message refused: max_buffered_bytes exhausted");
        }
        let (code, enhanced, text) = f.reply();
        self.refuse(code, enhanced, text);
        None
    }

    /// `BDAT size [LAST]`: read exactly `size` octets, whatever the answer will be — executing
    /// them as commands would be a smuggling hole.
    pub(super) fn bdat(&mut self, size: u64, last: bool) {
        let refused = match &self.tx {
            None => Some((503, "5.5.1", "Need MAIL command first")),
            Some(t) if t.rcpt_to.is_empty() && t.rcpt_attempts > 0 => {
                Some((554, "5.5.1", "No valid recipients"))
            }
            Some(t) if t.rcpt_to.is_empty() => Some((503, "5.5.1", "Need RCPT command first")),
            Some(_) => None,
        };
        let mut failed_before = false;
        if refused.is_none() {
            let first = self.tx.as_ref().is_some_and(|t| t.message.is_none());
            if first {
                let msg = self.start_message(true);
                if let Some(tx) = self.tx.as_mut() {
                    tx.message = Some(msg);
                }
            }
            let max = self.config.opts.max_message_size;
            if let Some(msg) = self.tx.as_mut().and_then(|t| t.message.as_mut()) {
                failed_before = !first && msg.failure().is_some();
                msg.announced = msg.announced.saturating_add(size);
                if !failed_before {
                    let wanted =
                        usize::try_from(msg.announced).unwrap_or(usize::MAX).saturating_add(msg.data.len());
                    if max > 0 && msg.announced > max {
                        msg.failed = Some(Failure::TooBig);
                        msg.forget();
                    } else if !msg.reservation.cover(wanted) {
                        msg.no_memory = true;
                        msg.forget();
                    }
                }
            }
        }
        self.input.grow(super::MAX_READ_BUF);
        self.phase = Phase::Chunk(Chunk { size, remaining: size, last, refused, failed_before });
    }

    /// Take the chunk's octets off the input, checking and keeping them when the message is
    /// still good.
    pub(super) fn receive_chunk(&mut self) -> Option<Step> {
        let Phase::Chunk(chunk) = &mut self.phase else { return None };
        if chunk.remaining == 0 {
            return self.chunk_done();
        }
        let input = self.input.buffered();
        if input.is_empty() {
            return Some(Step::Read);
        }
        let take = (input.len() as u64).min(chunk.remaining) as usize;
        chunk.remaining -= take as u64;
        let keep = chunk.refused.is_none();
        Counters::add(&self.config.counters.bytes_received, take as u64);
        if let Some(msg) = self.tx.as_mut().and_then(|t| t.message.as_mut()).filter(|_| keep) {
            msg.wire_bytes += take as u64;
            if msg.failure().is_none() {
                if let DataStatus::Abort(v) = msg.rx.feed(&input[..take], &mut msg.data) {
                    return self.smuggling(v, "BDAT");
                }
                msg.check();
            }
        }
        self.input.consume(take);
        None
    }

    /// All octets of a chunk were read: answer it.
    fn chunk_done(&mut self) -> Option<Step> {
        let Phase::Chunk(chunk) = std::mem::replace(&mut self.phase, Phase::Commands) else { return None };
        if let Some((code, enhanced, text)) = chunk.refused {
            self.refuse(code, enhanced, text);
            return None;
        }
        let failure = self.tx.as_ref().and_then(|t| t.message.as_ref()).and_then(Message::failure);
        if let Some(f) = failure {
            // Answer the chunk where the message failed with why (552, 500 or 452), later chunks
            // with 503; the transaction is over either way.
            if chunk.last {
                self.tx = None;
            }
            if chunk.failed_before {
                self.refuse(503, "5.5.1", "BDAT after an earlier failure; send RSET");
            } else {
                Counters::add(&self.config.counters.messages_rejected, 1);
                let (code, enhanced, text) = f.reply();
                self.refuse(code, enhanced, text);
            }
            return None;
        }
        if !chunk.last {
            let _ = write!(self.out, "250 2.0.0 {} octets received\r\n", chunk.size);
            return None;
        }
        let mut msg = self.tx.as_mut()?.message.take()?;
        if let Some(v) = msg.rx.finish(&mut msg.data) {
            return self.smuggling(v, "BDAT");
        }
        self.message_complete(msg)
    }

    /// A complete, acceptable message: `on_message`, then delivery, then the reply.
    fn message_complete(&mut self, msg: Message) -> Option<Step> {
        let tx = self.tx.take()?;
        let done = Finished {
            queue_id: msg.queue_id,
            envelope: Arc::new(Envelope {
                mail_from: tx.mail_from,
                rcpt_to: tx.rcpt_to,
                mail_params: tx.mail_params,
                rcpt_params: tx.rcpt_params,
            }),
            data: Arc::new(msg.data),
            _reservation: msg.reservation,
        };
        if self.config.hook_set.message {
            let call = HookCall::Message(self.info.clone(), (*done.envelope).clone(), Arc::clone(&done.data));
            self.phase = Phase::Waiting(Awaiting::Message(done));
            return Some(Step::CallHook(call));
        }
        self.message_answered(done, Ok(None));
        self.pending.take()
    }

    /// `on_message` answered (or is not set).
    pub(super) fn message_answered(&mut self, done: Finished, verdict: Result<Option<Reply>, Reply>) {
        let accepted = match verdict {
            Ok(None) => None,
            Ok(Some(r)) if r.is_positive() => Some(r),
            Ok(Some(r)) | Err(r) => {
                Counters::add(&self.config.counters.messages_rejected, 1);
                self.log_message(&done.queue_id, &done.envelope, done.data.len(), Some(&r.one_line()));
                return self.refuse_reply(&r);
            }
        };
        if self.config.delivers {
            self.pending = Some(Step::Deliver(done.request()));
            self.phase = Phase::Waiting(Awaiting::Delivery(done, accepted));
            return;
        }
        self.accepted(done, accepted);
    }

    /// The delivery step's answer.
    pub(super) fn delivered(&mut self, done: Finished, accepted: Option<Reply>, r: Result<(), String>) {
        if let Err(why) = r {
            tracing::error!(session = %self.info.id, id = %done.queue_id, "{why}");
            Counters::add(&self.config.counters.messages_rejected, 1);
            return self.say(451, "4.3.0", "Local error in processing; message not stored, try again later");
        }
        self.accepted(done, accepted);
    }

    fn accepted(&mut self, done: Finished, reply: Option<Reply>) {
        Counters::add(&self.config.counters.messages_accepted, 1);
        self.junk = 0;
        self.log_message(&done.queue_id, &done.envelope, done.data.len(), None);
        match reply {
            Some(r) => self.reply(&r),
            None => {
                let _ = write!(self.out, "250 2.0.0 Ok: queued as {}\r\n", done.queue_id);
            }
        }
    }
}

impl Finished {
    /// What the driver needs to store it.
    pub(super) fn request(&self) -> super::DeliveryRequest {
        super::DeliveryRequest {
            queue_id: self.queue_id.clone(),
            envelope: Arc::clone(&self.envelope),
            data: Arc::clone(&self.data),
        }
    }
}
