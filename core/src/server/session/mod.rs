//! One SMTP session as a sans-IO state machine: bytes and answers in, bytes and requests out. No
//! socket, no timer, no async — the tokio driver (`server::driver`), the tests and the fuzzer all
//! drive this same code, as quinn's connections are driven over quinn-proto and h11's over its
//! `Connection`.
//!
//! The driver loop is: [`Session::poll`] says what to do next ([`Step`]); the driver does it and
//! reports what came of it with [`Session::handle`] ([`Event`]). Received bytes go into
//! [`Session::input_buffer`] (read into its spare capacity) or [`Session::receive`]; replies
//! collect in [`Session::output`] and are written out when the session would wait — before a
//! read, a TLS handshake or a close, or when a pipelining client has let 16 KiB pile up — so a
//! pipelined MAIL/RCPT…/DATA group costs one write. Timing decisions live here too: the driver
//! sleeps until [`Session::deadline`] and says [`Event::Timeout`].
//!
//! Every protocol decision is made here: HELO first, 503 sequencing, the relay policy, SIZE and
//! recipient limits, DATA and BDAT content through one content policy (`proto::data`), AUTH
//! exchanges, STARTTLS reset and injection defence, error and junk-command limits, the hook
//! failure rule (451), the Received line. Commands are in `commands`, content in `content`, AUTH
//! in `auth`, the log line in `log`.

mod auth;
mod commands;
mod content;
mod log;
#[cfg(test)]
mod tests;

use std::sync::Arc;
use std::time::{Duration, Instant};

use super::budget::{Budget, Reservation};
use super::hooks::{Envelope, HookFuture, HookResult, HookSet, Hooks, SessionInfo};
use super::options::{Delivery, ServerOptions};
use super::relay::RelayPolicy;
use super::stats::{Counters, ServerStats};
use crate::error::Result;
use crate::proto::line::{LineBuffer, NextLine};
use crate::proto::params::{MailParams, RcptParams};
use crate::proto::{DataReceiver, Reply};

/// Largest read buffer: one socket read of message content.
pub const MAX_READ_BUF: usize = 64 * 1024;
/// RFC 4954 §4: an AUTH continuation line may be up to 12288 octets.
const MAX_AUTH_LINE: usize = 12288;
/// Flush the reply buffer when a pipelining client makes it this large without reading.
const MAX_PENDING_OUT: usize = 16 * 1024;

/// Everything a session needs from its server, shared by all sessions of one server.
pub struct Config {
    pub(crate) opts: ServerOptions,
    pub(crate) policy: RelayPolicy,
    pub(crate) hook_set: HookSet,
    pub(crate) tls_available: bool,
    pub(crate) delivers: bool,
    /// Queue mode: MAIL asks the driver whether the spool has room ([`Step::CheckStorage`]).
    pub(crate) checks_storage: bool,
    pub(crate) counters: Counters,
    pub(crate) budget: Arc<Budget>,
}

impl Config {
    /// Validate `opts`; `hook_set` says which hooks to call, `tls_available` whether STARTTLS
    /// can be offered (a certificate is loaded). Sessions ask for delivery ([`Step::Deliver`])
    /// when `opts.delivery` is a Maildir or a queue; with a queue they also ask for free space
    /// at MAIL ([`Step::CheckStorage`]) and DSN is advertised (the queue sends the notices).
    pub fn new(mut opts: ServerOptions, hook_set: HookSet, tls_available: bool) -> Result<Config> {
        opts.validate()?;
        let queue = matches!(opts.delivery, Delivery::Queue(_));
        opts.advertise_dsn |= queue;
        Ok(Config {
            policy: RelayPolicy::new(&opts.local_domains, &opts.relay_networks, opts.relay_authenticated),
            hook_set,
            tls_available,
            delivers: matches!(opts.delivery, Delivery::Maildir(_) | Delivery::Queue(_)),
            checks_storage: queue,
            counters: Counters::default(),
            budget: Budget::new(opts.max_buffered_bytes),
            opts,
        })
    }

    /// The options in force.
    pub fn options(&self) -> &ServerOptions {
        &self.opts
    }

    /// The counters of every session of this configuration.
    pub fn stats(&self) -> ServerStats {
        self.counters.snapshot()
    }
}

/// How far the server's stop has gone.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum StopLevel {
    /// Serving.
    Running,
    /// `stop()`: idle sessions are told 421; open transactions may finish (only RCPT, DATA, BDAT
    /// and QUIT are still served).
    Stopping,
    /// The grace period is over (or `force_stop()`): 421 and close now.
    Forced,
}

/// The negotiated TLS session, for the log line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TlsInfo {
    /// `TLSv1.3`, `TLSv1.2`.
    pub protocol: String,
    /// The cipher suite, e.g. `TLS13_AES_256_GCM_SHA384`.
    pub cipher: String,
}

/// What the driver reports to the session.
#[derive(Debug)]
pub enum Event {
    /// This many bytes were appended to [`Session::input_buffer`].
    Received(usize),
    /// The peer closed its side (or the connection broke): the session ends without a reply.
    Eof,
    /// The answer to [`Step::CallHook`]. A hook that panicked, failed or whose answer was
    /// dropped is `Err(why)`: the session answers `451 4.3.0` and goes on.
    HookAnswered(HookResult),
    /// The answer to [`Step::Authenticate`]: `Ok(true)` accepts, `Ok(false)` refuses (535),
    /// `Err` is a failure of the checker (454).
    Authenticated(std::result::Result<bool, String>),
    /// The answer to [`Step::Deliver`].
    Delivered(std::result::Result<(), String>),
    /// The answer to [`Step::CheckStorage`]: `true` when there is room for a message of the
    /// size limit (with margin); `false` (or a failed check) answers MAIL `452 4.3.1`.
    Storage(bool),
    /// The TLS handshake after [`Step::StartTls`] succeeded.
    TlsEstablished(TlsInfo),
    /// The TLS handshake failed: the connection is unusable, the session ends.
    TlsFailed(String),
    /// [`Session::deadline`] has passed.
    Timeout,
    /// The server is stopping.
    Stop(StopLevel),
}

/// What the session wants done next.
// `CallHook` is the large variant (owned hook arguments); boxing it would cost an allocation per
// hook call to save a few hundred bytes of move per poll.
#[allow(clippy::large_enum_variant)]
#[derive(Debug)]
pub enum Step {
    /// Write [`Session::output`] if any, then read into [`Session::input_buffer`] until
    /// [`Session::deadline`]; report [`Event::Received`], [`Event::Eof`] or [`Event::Timeout`].
    Read,
    /// Write [`Session::output`] now (a pipelining client let replies pile up), then poll again.
    Flush,
    /// Call this hook and report [`Event::HookAnswered`].
    CallHook(HookCall),
    /// Check these credentials with the server's authenticator; report [`Event::Authenticated`].
    Authenticate {
        /// The user name (authentication identity).
        user: String,
        /// The password.
        password: String,
    },
    /// Write [`Session::output`] (it ends with `220`), then do the TLS handshake; report
    /// [`Event::TlsEstablished`] or [`Event::TlsFailed`].
    StartTls,
    /// Store this message; report [`Event::Delivered`].
    Deliver(DeliveryRequest),
    /// Is there room to store a message of this many bytes (the size limit), with the
    /// server's margin (queue mode, at MAIL)? Report [`Event::Storage`].
    CheckStorage(u64),
    /// Write [`Session::output`] if any, then close the connection. The session is over.
    Close,
}

/// A hook call with its owned arguments (built only for hooks that are set).
#[derive(Debug)]
pub enum HookCall {
    /// `on_connect(session)`
    Connect(SessionInfo),
    /// `on_mail_from(session, address, params)`
    MailFrom(SessionInfo, String, MailParams),
    /// `on_rcpt_to(session, address, params)` (RCPT, or VRFY/EXPN with empty params)
    RcptTo(SessionInfo, String, RcptParams),
    /// `on_message(session, envelope, data)`
    Message(SessionInfo, Envelope, Arc<Vec<u8>>),
}

impl HookCall {
    /// Call the matching method of `hooks`.
    pub fn call(self, hooks: &dyn Hooks) -> Option<HookFuture> {
        match self {
            HookCall::Connect(s) => hooks.on_connect(s),
            HookCall::MailFrom(s, a, p) => hooks.on_mail_from(s, a, p),
            HookCall::RcptTo(s, a, p) => hooks.on_rcpt_to(s, a, p),
            HookCall::Message(s, e, d) => hooks.on_message(s, e, d),
        }
    }
}

/// A message to store (Maildir delivery), after `on_message` accepted it.
#[derive(Debug, Clone)]
pub struct DeliveryRequest {
    /// The queue id the 250 reply will name.
    pub queue_id: String,
    /// Sender and recipients.
    pub envelope: Arc<Envelope>,
    /// The message, our Received line on top.
    pub data: Arc<Vec<u8>>,
}

/// Where the session stands.
#[derive(Debug)]
enum Phase {
    /// Nothing sent yet: the banner (or `on_connect`) comes first.
    Greeting,
    /// Reading command lines.
    Commands,
    /// Reading an AUTH continuation line.
    Auth(auth::Stage),
    /// Receiving DATA content (the message is in the transaction).
    Data,
    /// Receiving the octets of one BDAT chunk.
    Chunk(content::Chunk),
    /// A step was handed out; its answer is awaited.
    Waiting(Awaiting),
    /// Say [`Step::Close`] next.
    Closing,
    /// Over.
    Closed,
}

/// What an awaited answer continues.
#[derive(Debug)]
enum Awaiting {
    Connect,
    MailFrom { address: String, params: MailParams },
    Storage { address: String, params: MailParams },
    RcptTo { address: String, params: RcptParams },
    Vrfy { address: String },
    Message(content::Finished),
    Delivery(content::Finished, Option<Reply>),
    Auth { user: String },
    Tls,
}

/// One open transaction (after MAIL).
#[derive(Debug, Default)]
struct Transaction {
    mail_from: String,
    mail_params: MailParams,
    rcpt_to: Vec<String>,
    rcpt_params: Vec<RcptParams>,
    rcpt_attempts: usize,
    /// RCPTs answered 452 for being past `max_recipients`.
    over_limit: usize,
    /// The message of DATA, or of the BDAT chunks so far.
    message: Option<content::Message>,
}

/// The state of one connection.
pub struct Session {
    config: Arc<Config>,
    info: SessionInfo,
    rdns: Option<String>,
    tls: Option<TlsInfo>,
    input: LineBuffer,
    out: Vec<u8>,
    phase: Phase,
    /// A step decided while handling an event (delivery after `on_message`), handed out by the
    /// next `poll`.
    pending: Option<Step>,
    esmtp: bool,
    tx: Option<Transaction>,
    errors: usize,
    junk: usize,
    stop: StopLevel,
    /// Since when the current command line is awaited (its deadline is `timeouts.command` later:
    /// a client dripping one byte at a time gets one timeout per line, not per byte).
    line_since: Option<Instant>,
    last_read: Instant,
    now: Instant,
}

impl Session {
    /// A new session for the client described by `info` (`rdns`: its reverse-DNS name, for the
    /// Received line), at `now`.
    pub fn new(config: Arc<Config>, info: SessionInfo, rdns: Option<String>, now: Instant) -> Session {
        Session {
            config,
            info,
            rdns,
            tls: None,
            input: LineBuffer::new(),
            out: Vec::with_capacity(512),
            phase: Phase::Greeting,
            pending: None,
            esmtp: false,
            tx: None,
            errors: 0,
            junk: 0,
            stop: StopLevel::Running,
            line_since: None,
            last_read: now,
            now,
        }
    }

    /// The session as hooks see it.
    pub fn info(&self) -> &SessionInfo {
        &self.info
    }

    /// Replies not yet written.
    pub fn output(&self) -> &[u8] {
        &self.out
    }

    /// The driver wrote all of [`Session::output`].
    pub fn output_written(&mut self) {
        self.out.clear();
    }

    /// Take the replies not yet written (tests, hosts with their own write buffers).
    pub fn take_output(&mut self) -> Vec<u8> {
        std::mem::take(&mut self.out)
    }

    /// The buffer to read into: append at its end, into its spare capacity (`read_buf`), then
    /// report [`Event::Received`]. Its capacity is bounded by what the session is reading.
    pub fn input_buffer(&mut self) -> &mut Vec<u8> {
        let cap = match self.phase {
            Phase::Data | Phase::Chunk(_) => MAX_READ_BUF,
            _ => self.config.opts.max_command_line.max(MAX_AUTH_LINE),
        };
        self.input.read_buf(cap)
    }

    /// Copy received bytes in and report them (tests, fuzzing, hosts with their own buffers).
    pub fn receive(&mut self, bytes: &[u8], now: Instant) {
        self.input.extend(bytes);
        self.handle(Event::Received(bytes.len()), now);
    }

    /// True once the session is over (after [`Step::Close`]).
    pub fn is_closed(&self) -> bool {
        matches!(self.phase, Phase::Closed)
    }

    /// Until when the driver may wait for input before reporting [`Event::Timeout`]; `None`
    /// while nothing is being read (a hook, a delivery or a handshake is awaited).
    pub fn deadline(&self) -> Option<Instant> {
        let t = &self.config.opts.timeouts;
        // checked: a timeout too large to add is no deadline at all.
        let wait = match self.phase {
            Phase::Commands | Phase::Auth(_) => self.line_since.and_then(|s| s.checked_add(t.command)),
            Phase::Data | Phase::Chunk(_) => self.last_read.checked_add(t.data),
            _ => return None,
        };
        match (wait, self.message_deadline()) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }

    /// With `min_data_rate`: when the message in progress must be complete by, given the bytes
    /// received so far (Postfix's `smtpd_min_data_rate`).
    fn message_deadline(&self) -> Option<Instant> {
        let rate = self.config.opts.min_data_rate;
        let msg = self.tx.as_ref()?.message.as_ref()?;
        if rate == 0 {
            return None;
        }
        let allowance = Duration::from_secs_f64(msg.wire_bytes as f64 / rate as f64);
        msg.started.checked_add(self.config.opts.timeouts.data)?.checked_add(allowance)
    }

    /// Report what happened.
    pub fn handle(&mut self, event: Event, now: Instant) {
        self.now = now;
        if matches!(self.phase, Phase::Closed | Phase::Closing) {
            return;
        }
        match event {
            Event::Received(_) => self.last_read = now,
            Event::Eof => self.phase = Phase::Closed,
            Event::Timeout => {
                let slow = self.message_deadline().is_some_and(|d| now >= d);
                tracing::info!(session = %self.info.id, "closing: {}", if slow { "data rate too low" } else { "timeout" });
                self.out.clear();
                let text = if slow {
                    "Data rate too low, closing connection"
                } else {
                    "Timeout exceeded, closing connection"
                };
                self.close_with(421, "4.4.2", text);
            }
            Event::Stop(level) => {
                self.stop = self.stop.max(level);
                if level == StopLevel::Forced {
                    self.out.clear();
                    self.close_with(421, "4.3.2", "Server shutting down, try again later");
                }
            }
            answer => match std::mem::replace(&mut self.phase, Phase::Commands) {
                Phase::Waiting(w) => self.answered(w, answer),
                other => {
                    // An answer nobody asked for: a driver bug, not the peer's doing.
                    tracing::warn!(session = %self.info.id, "unexpected {answer:?} in {other:?}");
                    self.phase = other;
                }
            },
        }
    }

    /// What to do next. Call again after each step is done and reported.
    pub fn poll(&mut self, now: Instant) -> Step {
        self.now = now;
        if let Some(step) = self.pending.take() {
            return step;
        }
        loop {
            let step = match &self.phase {
                Phase::Closing => {
                    self.phase = Phase::Closed;
                    return Step::Close;
                }
                Phase::Closed => return Step::Close,
                Phase::Waiting(_) => {
                    // Polled before the awaited answer: a driver bug. Close rather than guess.
                    tracing::warn!(session = %self.info.id, "polled while waiting for an answer");
                    self.phase = Phase::Closed;
                    return Step::Close;
                }
                _ if self.out.len() > MAX_PENDING_OUT => return Step::Flush,
                Phase::Greeting => self.greet(),
                Phase::Commands => self.next_command(),
                Phase::Auth(_) => self.next_auth_line(),
                Phase::Data => self.receive_data(),
                Phase::Chunk(_) => self.receive_chunk(),
            };
            if let Some(step) = step {
                return step;
            }
        }
    }

    /// The banner, or `on_connect` first.
    fn greet(&mut self) -> Option<Step> {
        if self.config.hook_set.connect {
            self.phase = Phase::Waiting(Awaiting::Connect);
            return Some(Step::CallHook(HookCall::Connect(self.info.clone())));
        }
        self.banner(None);
        None
    }

    fn banner(&mut self, text: Option<String>) {
        use std::io::Write;
        match text {
            Some(t) => self.reply(&Reply::new(220, &t, None)),
            None => {
                let _ = write!(self.out, "220 {} ESMTP postwire\r\n", self.config.opts.hostname);
            }
        }
        self.phase = Phase::Commands;
    }

    /// Continue what an answer was awaited for.
    fn answered(&mut self, waiting: Awaiting, answer: Event) {
        match (waiting, answer) {
            (Awaiting::Tls, Event::TlsEstablished(tls)) => self.tls_established(tls),
            (Awaiting::Tls, Event::TlsFailed(why)) => {
                tracing::info!(session = %self.info.id, "TLS handshake failed: {why}");
                self.phase = Phase::Closed;
            }
            (Awaiting::Auth { user }, Event::Authenticated(r)) => self.authenticated(user, r),
            (Awaiting::Delivery(done, reply), Event::Delivered(r)) => self.delivered(done, reply, r),
            (Awaiting::Storage { address, params }, Event::Storage(room)) => {
                self.storage_answered(address, params, room)
            }
            (w, Event::HookAnswered(r))
                if !matches!(
                    w,
                    Awaiting::Tls | Awaiting::Auth { .. } | Awaiting::Delivery(..) | Awaiting::Storage { .. }
                ) =>
            {
                let verdict = self.hook_verdict(r);
                match w {
                    Awaiting::Connect => match verdict {
                        Ok(None) => self.banner(None),
                        Ok(Some(r)) if r.is_positive() => self.banner(Some(r.text())),
                        Ok(Some(r)) | Err(r) => {
                            self.reply(&r);
                            self.phase = Phase::Closing;
                        }
                    },
                    Awaiting::MailFrom { address, params } => self.mail_answered(address, params, verdict),
                    Awaiting::RcptTo { address, params } => self.rcpt_answered(address, params, verdict),
                    Awaiting::Vrfy { address } => self.vrfy_answered(address, verdict),
                    Awaiting::Message(done) => self.message_answered(done, verdict),
                    Awaiting::Tls
                    | Awaiting::Auth { .. }
                    | Awaiting::Delivery(..)
                    | Awaiting::Storage { .. } => {}
                }
            }
            (w, answer) => {
                tracing::warn!(session = %self.info.id, "unexpected {answer:?} while waiting for {w:?}");
                self.phase = Phase::Closed;
            }
        }
    }

    /// The hook failure rule: a hook that failed (raised, rejected, panicked, was dropped) or
    /// answered a code outside 200..599 answers `451 4.3.0`, and the server keeps serving.
    fn hook_verdict(&self, r: HookResult) -> std::result::Result<Option<Reply>, Reply> {
        let why = match r {
            Ok(None) => return Ok(None),
            Ok(Some(r)) if (200..600).contains(&r.code) => return Ok(Some(r)),
            Ok(Some(r)) => format!("hook returned invalid reply code {}", r.code),
            Err(text) => text,
        };
        tracing::warn!(session = %self.info.id, "hook failed: {why}");
        Err(Reply::new(451, "Temporary server error, try again later", Some("4.3.0")))
    }

    // ---- replies -------------------------------------------------------------------------

    /// Queue a one-line reply without building a `Reply` (the hot path: 250, 354 …).
    fn say(&mut self, code: u16, enhanced: &str, text: &str) {
        let c = [b'0' + (code / 100 % 10) as u8, b'0' + (code / 10 % 10) as u8, b'0' + (code % 10) as u8];
        self.out.extend_from_slice(&c);
        self.out.push(b' ');
        if !enhanced.is_empty() {
            self.out.extend_from_slice(enhanced.as_bytes());
            self.out.push(b' ');
        }
        self.out.extend_from_slice(text.as_bytes());
        self.out.extend_from_slice(b"\r\n");
    }

    /// Queue a refusal, counting 5xx toward `max_errors`.
    fn refuse(&mut self, code: u16, enhanced: &str, text: &str) {
        if code >= 500 {
            self.errors += 1;
        }
        self.say(code, enhanced, text);
    }

    /// Queue a reply.
    fn reply(&mut self, r: &Reply) {
        r.write_to(&mut self.out);
    }

    /// Queue a refusal given as a `Reply`, counting 5xx toward `max_errors`.
    fn refuse_reply(&mut self, r: &Reply) {
        if r.is_permanent() {
            self.errors += 1;
        }
        self.reply(r);
    }

    /// Say this, then close.
    fn close_with(&mut self, code: u16, enhanced: &str, text: &str) -> Option<Step> {
        self.say(code, enhanced, text);
        self.phase = Phase::Closing;
        self.pending = None;
        None
    }

    /// The RFC 3848 `with` keyword for the Received line.
    fn protocol(&self) -> &'static str {
        match (self.esmtp, self.tls.is_some(), self.info.authenticated_user.is_some()) {
            (false, _, _) => "SMTP",
            (true, false, false) => "ESMTP",
            (true, true, false) => "ESMTPS",
            (true, false, true) => "ESMTPA",
            (true, true, true) => "ESMTPSA",
        }
    }

    /// A new message's reservation of the memory budget.
    fn reservation(&self) -> Reservation {
        Reservation::new(&self.config.budget)
    }

    /// The next line of at most `max` octets as (length, consumed); `Ok(None)` for a line too
    /// long, `Err(())` when there is none yet (read more).
    fn line(&mut self, max: usize) -> std::result::Result<Option<(usize, usize)>, ()> {
        match self.input.next_line(max, !self.config.opts.strict) {
            NextLine::Line { len, consumed } => {
                self.line_since = None;
                Ok(Some((len, consumed)))
            }
            NextLine::TooLong => Ok(None),
            NextLine::NeedMore => {
                self.line_since.get_or_insert(self.now);
                Err(())
            }
        }
    }

    fn new_receiver(&self, bdat: bool) -> DataReceiver {
        let o = &self.config.opts;
        let limits = crate::proto::DataLimits {
            max_size: o.max_message_size,
            max_line: o.max_line_length,
            policy: o.bare_line_policy,
        };
        if bdat {
            DataReceiver::bdat(limits)
        } else {
            DataReceiver::new(limits)
        }
    }
}
