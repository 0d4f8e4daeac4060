//! One SMTP session: the read/write loop, the command state machine and its replies.
//!
//! Parsing is the sans-IO `proto` core; this file owns the socket. Replies are batched in `out`
//! and flushed only before the session would block on a read, which is what makes PIPELINING
//! cheap: a pipelined MAIL/RCPT…/DATA group is answered with one write. DATA/BDAT content lives in
//! `server::data`, AUTH in `server::auth`.

use std::panic::AssertUnwindSafe;
use std::sync::Arc;
use std::time::Duration;

use futures::FutureExt;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::sync::watch;

use super::hooks::{HookFuture, Hooks, SessionInfo};
use super::io::Stream;
use super::stats::Counters;
use super::Shared;
use crate::proto::command::parse_command;
use crate::proto::line::{find_line, LineFind};
use crate::proto::params::{MailParams, RcptParams};
use crate::proto::{Command, ParseOptions, Path, Reply};

/// Initial read buffer; it grows (up to `MAX_READ_BUF`) only while message content streams in.
const INITIAL_READ_BUF: usize = 4 * 1024;
/// Largest read buffer: one socket read of message content.
pub(super) const MAX_READ_BUF: usize = 64 * 1024;
/// RFC 4954 §4: an AUTH continuation line may be up to 12288 octets.
const MAX_AUTH_LINE: usize = 12288;
/// Flush the reply buffer when a pipelining client makes it this large without reading.
const MAX_PENDING_OUT: usize = 16 * 1024;

/// The server's run state, shared with every session through a watch channel.
pub(super) const RUNNING: u8 = 0;
/// `stop()` was called: no new sessions; idle ones are told 421; transactions may finish.
pub(super) const STOPPING: u8 = 1;
/// The grace period is over (or `force_stop()`): every session is told 421 and closed now.
pub(super) const FORCED: u8 = 2;

/// How a session ended, or why the loop must hand the socket back.
pub(super) enum Next {
    Close,
    StartTls,
}

/// Why a session stops early (peer closed, timeout, I/O error): nothing more to say to the peer.
#[derive(Debug)]
#[allow(dead_code)] // the fields are read through Debug in the session log
pub(super) enum Stop {
    Closed,
    Timeout,
    /// The server is being stopped and the grace period is over.
    Forced,
    Io(std::io::Error),
}

/// What reading a line gave.
pub(super) enum LineEvent {
    Line(Vec<u8>),
    TooLong,
    Shutdown,
}

/// One open transaction (after MAIL).
#[derive(Debug, Default)]
pub(super) struct Transaction {
    pub mail_from: String,
    pub mail_params: MailParams,
    pub rcpt_to: Vec<String>,
    pub rcpt_params: Vec<RcptParams>,
    pub rcpt_attempts: usize,
    /// Message being assembled by BDAT chunks (Received line on top).
    pub bdat: Option<super::data::BdatState>,
}

/// The state of one connection.
pub(super) struct Session {
    pub shared: Arc<Shared>,
    pub info: SessionInfo,
    pub rdns: Option<String>,
    buf: Vec<u8>,
    start: usize,
    /// After an over-long line: drop bytes up to the next LF.
    discarding: bool,
    pub out: Vec<u8>,
    pub esmtp: bool,
    pub tx: Option<Transaction>,
    errors: usize,
    shutdown: watch::Receiver<u8>,
}

impl Session {
    pub fn new(shared: Arc<Shared>, info: SessionInfo, shutdown: watch::Receiver<u8>) -> Session {
        Session {
            shared,
            info,
            rdns: None,
            buf: Vec::with_capacity(INITIAL_READ_BUF),
            start: 0,
            discarding: false,
            out: Vec::with_capacity(512),
            esmtp: false,
            tx: None,
            errors: 0,
            shutdown,
        }
    }

    /// Run the session to its end on `tcp`, upgrading to TLS on STARTTLS.
    pub async fn run(mut self, tcp: tokio::net::TcpStream) {
        let id = self.info.id.clone();
        if self.shared.opts.reverse_dns {
            if let Some(r) = &self.shared.resolver {
                self.rdns = super::rdns::lookup(r, self.info.peer.ip(), Duration::from_secs(5)).await;
            }
        }
        let mut io = Stream::Plain(tcp);
        // on_connect decides whether we greet at all.
        match self.call_hook(self.shared.hook_set.connect, |h| h.on_connect(self.info.clone())).await {
            Ok(None) => {
                let banner = format!("{} ESMTP postwire", self.shared.opts.hostname);
                self.reply(Reply::new(220, &banner, None));
            }
            Ok(Some(r)) if r.is_positive() => self.reply(Reply::new(220, &r.text(), None)),
            Ok(Some(r)) | Err(r) => {
                self.reply(r);
                let _ = self.flush(&mut io).await;
                return;
            }
        }
        loop {
            match self.drive(&mut io).await {
                Ok(Next::Close) => break,
                Ok(Next::StartTls) => {
                    let Some(acceptor) = self.shared.tls.clone() else { break };
                    let Stream::Plain(tcp) = io else { break };
                    let handshake =
                        tokio::time::timeout(self.shared.opts.timeouts.tls_handshake, acceptor.accept(tcp))
                            .await;
                    match handshake {
                        Ok(Ok(tls)) => {
                            io = Stream::Tls(Box::new(tls));
                            self.after_starttls();
                        }
                        Ok(Err(e)) => {
                            tracing::info!(session = %id, "TLS handshake failed: {e}");
                            return;
                        }
                        Err(_) => {
                            tracing::info!(session = %id, "TLS handshake timed out");
                            return;
                        }
                    }
                }
                Err(why @ (Stop::Timeout | Stop::Forced)) => {
                    // RFC 5321 §4.5.3.2: tell the client why before closing (best effort: it may
                    // not be reading either, so the write gets a short bound of its own).
                    tracing::info!(session = %id, "closing: {why:?}");
                    self.out.clear();
                    let r = match why {
                        Stop::Forced => {
                            Reply::new(421, "Server shutting down, try again later", Some("4.3.2"))
                        }
                        _ => Reply::new(421, "Timeout exceeded, closing connection", Some("4.4.2")),
                    };
                    self.reply(r);
                    let _ = tokio::time::timeout(Duration::from_secs(5), async {
                        let _ = io.write_all(&self.out).await;
                        let _ = io.flush().await;
                    })
                    .await;
                    break;
                }
                Err(stop) => {
                    tracing::debug!(session = %id, "session ended: {stop:?}");
                    break;
                }
            }
        }
        let _ = tokio::time::timeout(Duration::from_secs(5), io.shutdown()).await;
    }

    /// RFC 3207 §4.2: after the handshake, forget everything learnt before it.
    fn after_starttls(&mut self) {
        self.info.tls = true;
        self.info.helo = None;
        self.info.authenticated_user = None;
        self.esmtp = false;
        self.tx = None;
    }

    /// Process commands until the session closes or asks for STARTTLS.
    async fn drive(&mut self, io: &mut Stream) -> Result<Next, Stop> {
        loop {
            let idle = self.tx.is_none();
            let max = self.shared.opts.max_command_line;
            let line = match self.next_line(io, max, idle).await? {
                LineEvent::Line(l) => l,
                LineEvent::TooLong => {
                    self.error_reply(Reply::new(500, "Line too long", Some("5.5.6")));
                    if self.too_many_errors() {
                        return self
                            .close_with(io, Reply::new(421, "Too many errors, closing", Some("4.7.0")))
                            .await;
                    }
                    continue;
                }
                LineEvent::Shutdown => {
                    return self
                        .close_with(
                            io,
                            Reply::new(421, "Server shutting down, try again later", Some("4.3.2")),
                        )
                        .await;
                }
            };
            let opts = ParseOptions {
                strict: self.shared.opts.strict,
                smtputf8: self.tx.as_ref().is_some_and(|t| t.mail_params.smtputf8),
            };
            let cmd = match parse_command(&line, &opts) {
                Ok(c) => c,
                Err(e) if is_bdat(&line) => {
                    // The chunk size is unknown, so where the chunk ends is unknown too: reading
                    // on would execute the chunk's octets as commands (smuggling). Close.
                    self.error_reply(e.reply());
                    return self
                        .close_with(io, Reply::new(421, "Malformed BDAT, closing", Some("4.5.0")))
                        .await;
                }
                Err(e) => {
                    self.error_reply(e.reply());
                    if self.too_many_errors() {
                        return self
                            .close_with(io, Reply::new(421, "Too many errors, closing", Some("4.7.0")))
                            .await;
                    }
                    continue;
                }
            };
            if self.stopping()
                && !matches!(cmd, Command::Rcpt { .. } | Command::Data | Command::Bdat { .. } | Command::Quit)
            {
                // Stopping: only what moves the open transaction to its end is still served, so
                // a client cannot keep the server from stopping with NOOPs.
                return self
                    .close_with(io, Reply::new(421, "Server shutting down, try again later", Some("4.3.2")))
                    .await;
            }
            match self.dispatch(cmd, io).await? {
                Some(next) => return Ok(next),
                None => {
                    if self.too_many_errors() {
                        return self
                            .close_with(io, Reply::new(421, "Too many errors, closing", Some("4.7.0")))
                            .await;
                    }
                }
            }
        }
    }

    /// Answer one command; `Some(next)` ends `drive`.
    async fn dispatch(&mut self, cmd: Command, io: &mut Stream) -> Result<Option<Next>, Stop> {
        match cmd {
            Command::Ehlo { domain } => self.hello(domain, true),
            Command::Helo { domain } => self.hello(domain, false),
            Command::Mail { from, params } => self.mail(from, params).await,
            Command::Rcpt { to, params } => self.rcpt(to, params).await,
            Command::Data => return self.data(io).await,
            Command::Bdat { size, last } => return self.bdat(io, size, last).await,
            Command::Rset => {
                self.tx = None;
                self.reply(Reply::new(250, "Ok", Some("2.0.0")));
            }
            Command::Noop => self.reply(Reply::new(250, "Ok", Some("2.0.0"))),
            Command::Quit => {
                self.reply(Reply::new(221, "Bye", Some("2.0.0")));
                self.flush(io).await?;
                return Ok(Some(Next::Close));
            }
            Command::Help { .. } => self.reply(Reply::new(
                214,
                "Commands: HELO EHLO MAIL RCPT DATA BDAT RSET NOOP QUIT HELP VRFY EXPN STARTTLS AUTH",
                Some("2.0.0"),
            )),
            Command::Vrfy { arg } => self.verify(arg, false).await,
            Command::Expn { arg } => self.verify(arg, true).await,
            Command::StartTls => return self.starttls(io).await,
            Command::Auth { mechanism, initial } => self.auth(io, mechanism, initial).await?,
            Command::Obsolete { .. } => {
                self.error_reply(Reply::new(502, "Command not implemented", Some("5.5.1")))
            }
        }
        Ok(None)
    }

    fn hello(&mut self, domain: String, esmtp: bool) {
        self.tx = None;
        self.esmtp = esmtp;
        self.info.helo = Some(domain);
        let o = &self.shared.opts;
        if !esmtp {
            self.reply(Reply::new(250, &o.hostname, None));
            return;
        }
        let mut lines = vec![format!("{} Hello {}", o.hostname, self.info.helo.as_deref().unwrap_or(""))];
        lines.push("PIPELINING".into());
        lines.push(if o.max_message_size > 0 {
            format!("SIZE {}", o.max_message_size)
        } else {
            "SIZE".into()
        });
        lines.extend(["8BITMIME", "SMTPUTF8", "ENHANCEDSTATUSCODES", "DSN", "CHUNKING"].map(String::from));
        if self.shared.tls.is_some() && !self.info.tls {
            lines.push("STARTTLS".into());
        }
        if o.auth.is_some() && (self.info.tls || o.allow_insecure_auth) {
            lines.push("AUTH PLAIN LOGIN".into());
        }
        lines.push("HELP".into());
        self.reply(Reply { code: 250, enhanced: None, lines });
    }

    async fn mail(&mut self, from: Path, params: crate::proto::Params) {
        if self.info.helo.is_none() {
            return self.error_reply(Reply::new(503, "Send HELO/EHLO first", Some("5.5.1")));
        }
        if self.tx.is_some() {
            return self.error_reply(Reply::new(503, "Nested MAIL command", Some("5.5.1")));
        }
        if self.shared.opts.strict && !self.esmtp && !params.is_empty() {
            return self.error_reply(Reply::new(555, "MAIL parameters need EHLO", Some("5.5.4")));
        }
        let mail_params = match MailParams::from_params(&params, self.shared.opts.strict) {
            Ok(p) => p,
            Err(e) => return self.error_reply(e.reply()),
        };
        let max = self.shared.opts.max_message_size;
        if max > 0 && mail_params.size.is_some_and(|s| s > max) {
            return self.error_reply(Reply::new(
                552,
                "Message size exceeds fixed maximum message size",
                Some("5.3.4"),
            ));
        }
        if from.postmaster {
            return self.error_reply(Reply::new(501, "Bad sender address syntax", Some("5.1.7")));
        }
        let address = from.to_string();
        let hooked = self.shared.hook_set.mail_from;
        match self
            .call_hook(hooked, |h| h.on_mail_from(self.info.clone(), address.clone(), mail_params.clone()))
            .await
        {
            Ok(None) => {}
            Ok(Some(r)) if r.is_positive() => {
                self.tx = Some(Transaction { mail_from: address, mail_params, ..Default::default() });
                return self.reply(r);
            }
            Ok(Some(r)) | Err(r) => return self.error_reply(r),
        }
        self.tx = Some(Transaction { mail_from: address, mail_params, ..Default::default() });
        self.reply(Reply::new(250, "Ok", Some("2.1.0")));
    }

    async fn rcpt(&mut self, to: Path, params: crate::proto::Params) {
        let Some(tx) = self.tx.as_mut() else {
            return self.error_reply(Reply::new(503, "Need MAIL command first", Some("5.5.1")));
        };
        tx.rcpt_attempts += 1;
        if tx.bdat.is_some() {
            return self.error_reply(Reply::new(503, "RCPT not allowed after BDAT", Some("5.5.1")));
        }
        if tx.rcpt_to.len() >= self.shared.opts.max_recipients {
            Counters::add(&self.shared.counters.recipients_rejected, 1);
            return self.reply(Reply::new(452, "Too many recipients", Some("4.5.3")));
        }
        let rcpt_params = match RcptParams::from_params(&params, self.shared.opts.strict) {
            Ok(p) => p,
            Err(e) => return self.error_reply(e.reply()),
        };
        let authenticated = self.info.authenticated_user.is_some();
        if let Err(r) = self.shared.policy.check(&to, self.info.peer.ip(), authenticated) {
            Counters::add(&self.shared.counters.recipients_rejected, 1);
            tracing::info!(session = %self.info.id, rcpt = %to, "recipient refused: {}", r.one_line());
            return self.error_reply(r);
        }
        let address = to.to_string();
        let hooked = self.shared.hook_set.rcpt_to;
        let accepted = match self
            .call_hook(hooked, |h| h.on_rcpt_to(self.info.clone(), address.clone(), rcpt_params.clone()))
            .await
        {
            Ok(None) => Reply::new(250, "Ok", Some("2.1.5")),
            Ok(Some(r)) if r.is_positive() => r,
            Ok(Some(r)) | Err(r) => {
                Counters::add(&self.shared.counters.recipients_rejected, 1);
                return self.error_reply(r);
            }
        };
        if let Some(tx) = self.tx.as_mut() {
            tx.rcpt_to.push(address);
            tx.rcpt_params.push(rcpt_params);
        }
        Counters::add(&self.shared.counters.recipients_accepted, 1);
        self.reply(accepted);
    }

    /// VRFY and EXPN: off by default (252 / 502); when on, answered the way RCPT would be.
    async fn verify(&mut self, arg: String, expn: bool) {
        let o = &self.shared.opts;
        if expn && !o.allow_expn {
            return self.error_reply(Reply::new(502, "EXPN not available", Some("5.5.1")));
        }
        if !expn && !o.allow_vrfy {
            return self.reply(Reply::new(
                252,
                "Cannot VRFY user, but will accept message and attempt delivery",
                Some("2.5.2"),
            ));
        }
        let text = arg.trim();
        let bracketed = if text.starts_with('<') { text.to_string() } else { format!("<{text}>") };
        let opts = ParseOptions { strict: false, smtputf8: true };
        let path = match crate::proto::address::parse_path(&bracketed, &opts) {
            Ok((p, rest)) if rest.trim().is_empty() && !p.is_null() => p,
            _ => return self.error_reply(Reply::new(501, "Bad address syntax", Some("5.1.3"))),
        };
        if let Err(r) =
            self.shared.policy.check(&path, self.info.peer.ip(), self.info.authenticated_user.is_some())
        {
            return self.error_reply(r);
        }
        let address = path.to_string();
        let hooked = self.shared.hook_set.rcpt_to;
        match self
            .call_hook(hooked, |h| h.on_rcpt_to(self.info.clone(), address.clone(), Default::default()))
            .await
        {
            Ok(None) => self.reply(Reply::new(250, &format!("<{address}>"), Some("2.1.5"))),
            Ok(Some(r)) if r.is_positive() => self.reply(r),
            Ok(Some(r)) | Err(r) => self.error_reply(r),
        }
    }

    async fn starttls(&mut self, io: &mut Stream) -> Result<Option<Next>, Stop> {
        if self.shared.tls.is_none() {
            self.error_reply(Reply::new(502, "STARTTLS not available", Some("5.5.1")));
            return Ok(None);
        }
        if self.info.tls {
            self.error_reply(Reply::new(503, "Already using TLS", Some("5.5.1")));
            return Ok(None);
        }
        if self.tx.is_some() {
            self.error_reply(Reply::new(
                503,
                "STARTTLS not allowed during a mail transaction",
                Some("5.5.1"),
            ));
            return Ok(None);
        }
        self.reply(Reply::new(220, "Ready to start TLS", Some("2.0.0")));
        self.flush(io).await?;
        // STARTTLS injection defence: anything the client pipelined after STARTTLS arrived in
        // plaintext and must never be executed as if it came over TLS.
        self.start = 0;
        self.buf.clear();
        self.discarding = false;
        Ok(Some(Next::StartTls))
    }

    /// The RFC 3848 `with` keyword for the Received line.
    pub fn protocol(&self) -> &'static str {
        match (self.esmtp, self.info.tls, self.info.authenticated_user.is_some()) {
            (false, _, _) => "SMTP",
            (true, false, false) => "ESMTP",
            (true, true, false) => "ESMTPS",
            (true, false, true) => "ESMTPA",
            (true, true, true) => "ESMTPSA",
        }
    }

    // ---- replies -------------------------------------------------------------------------

    /// Queue a reply.
    pub fn reply(&mut self, r: Reply) {
        r.write_to(&mut self.out);
    }

    /// Queue a refusal, counting 5xx toward the error limit.
    pub fn error_reply(&mut self, r: Reply) {
        if r.is_permanent() {
            self.errors += 1;
        }
        self.reply(r);
    }

    /// True once the server is stopping.
    fn stopping(&self) -> bool {
        *self.shutdown.borrow() >= STOPPING
    }

    fn too_many_errors(&self) -> bool {
        self.errors >= self.shared.opts.max_errors
    }

    async fn close_with(&mut self, io: &mut Stream, r: Reply) -> Result<Next, Stop> {
        self.reply(r);
        self.flush(io).await?;
        Ok(Next::Close)
    }

    /// Write out every queued reply.
    pub async fn flush(&mut self, io: &mut Stream) -> Result<(), Stop> {
        if self.out.is_empty() {
            return Ok(());
        }
        let write = async {
            io.write_all(&self.out).await?;
            io.flush().await
        };
        match tokio::time::timeout(self.shared.opts.timeouts.write, write).await {
            Ok(Ok(())) => {
                self.out.clear();
                Ok(())
            }
            Ok(Err(e)) => Err(Stop::Io(e)),
            Err(_) => Err(Stop::Timeout),
        }
    }

    // ---- hooks ---------------------------------------------------------------------------

    /// Call a hook (when `enabled`: the arguments are built only then); a panic, an error or an
    /// out-of-range reply code becomes `451 4.3.0`.
    pub async fn call_hook<F>(&self, enabled: bool, call: F) -> Result<Option<Reply>, Reply>
    where
        F: FnOnce(&dyn Hooks) -> Option<HookFuture>,
    {
        if !enabled {
            return Ok(None);
        }
        let hooks: &dyn Hooks = &*self.shared.hooks;
        let fut = match std::panic::catch_unwind(AssertUnwindSafe(|| call(hooks))) {
            Ok(Some(f)) => f,
            Ok(None) => return Ok(None),
            Err(_) => return Err(self.hook_failed("hook panicked")),
        };
        let mut force = self.shutdown.clone();
        let outcome = tokio::select! {
            r = AssertUnwindSafe(fut).catch_unwind() => r,
            _ = force.wait_for(|s| *s >= FORCED) => Ok(Err("server stopped while the hook ran".to_string())),
        };
        match outcome {
            Ok(Ok(None)) => Ok(None),
            Ok(Ok(Some(r))) if (200..600).contains(&r.code) => Ok(Some(r)),
            Ok(Ok(Some(r))) => Err(self.hook_failed(&format!("hook returned invalid reply code {}", r.code))),
            Ok(Err(text)) => Err(self.hook_failed(&text)),
            Err(_) => Err(self.hook_failed("hook panicked")),
        }
    }

    fn hook_failed(&self, why: &str) -> Reply {
        tracing::warn!(session = %self.info.id, "hook failed: {why}");
        Reply::new(451, "Temporary server error, try again later", Some("4.3.0"))
    }

    // ---- reading -------------------------------------------------------------------------

    /// The next line (without its ending), flushing queued replies before blocking. While `idle`
    /// (no transaction open), a graceful stop ends the wait.
    pub async fn next_line(&mut self, io: &mut Stream, max: usize, idle: bool) -> Result<LineEvent, Stop> {
        let allow_bare_lf = !self.shared.opts.strict;
        // The timeout covers the whole line, not each read: a client dripping one byte at a time
        // cannot hold a session (and a connection slot) longer than one timeout per command.
        let deadline = tokio::time::Instant::now() + self.shared.opts.timeouts.command;
        loop {
            if self.discarding {
                match self.buf[self.start..].iter().position(|&b| b == b'\n') {
                    Some(i) => {
                        self.start += i + 1;
                        self.discarding = false;
                    }
                    None => {
                        self.start = self.buf.len();
                    }
                }
            }
            if !self.discarding {
                match find_line(&self.buf[self.start..], max, allow_bare_lf) {
                    LineFind::Line { len, consumed } => {
                        let line = self.buf[self.start..self.start + len].to_vec();
                        self.start += consumed;
                        if self.out.len() > MAX_PENDING_OUT {
                            self.flush(io).await?;
                        }
                        return Ok(LineEvent::Line(line));
                    }
                    LineFind::TooLong => {
                        self.discarding = true;
                        return Ok(LineEvent::TooLong);
                    }
                    LineFind::NeedMore if self.buf.len() - self.start >= max => {
                        // A full buffer without a line ending is an over-long line too.
                        self.discarding = true;
                        return Ok(LineEvent::TooLong);
                    }
                    LineFind::NeedMore => {}
                }
            }
            if idle && self.stopping() {
                return Ok(LineEvent::Shutdown);
            }
            self.flush(io).await?;
            let timeout = deadline.saturating_duration_since(tokio::time::Instant::now());
            if timeout.is_zero() {
                return Err(Stop::Timeout);
            }
            if idle {
                let mut shutdown = self.shutdown.clone();
                tokio::select! {
                    r = self.fill(io, timeout, max.max(MAX_AUTH_LINE)) => r?,
                    _ = shutdown.wait_for(|s| *s >= STOPPING) => return Ok(LineEvent::Shutdown),
                }
            } else {
                self.fill(io, timeout, max.max(MAX_AUTH_LINE)).await?;
            }
        }
    }

    /// An AUTH continuation line (up to 12288 octets).
    pub async fn auth_line(&mut self, io: &mut Stream) -> Result<Option<Vec<u8>>, Stop> {
        match self.next_line(io, MAX_AUTH_LINE, false).await? {
            LineEvent::Line(l) => Ok(Some(l)),
            _ => Ok(None),
        }
    }

    /// Buffered input not yet consumed.
    pub fn buffered(&self) -> &[u8] {
        &self.buf[self.start..]
    }

    /// Mark `n` buffered bytes consumed.
    pub fn consume(&mut self, n: usize) {
        self.start += n;
        debug_assert!(self.start <= self.buf.len());
    }

    /// Read more bytes into the buffer (at most `cap` buffered in all). EOF is `Stop::Closed`.
    ///
    /// The buffer's length is the end of the valid bytes; reads go into its spare capacity
    /// (`read_buf`), so no byte is zero-filled before the socket overwrites it.
    pub async fn fill(&mut self, io: &mut Stream, timeout: Duration, cap: usize) -> Result<(), Stop> {
        if self.start == self.buf.len() {
            self.buf.clear();
            self.start = 0;
        } else if self.start > 0 && self.buf.len() == self.buf.capacity() {
            self.buf.drain(..self.start);
            self.start = 0;
        }
        if self.buf.len() == self.buf.capacity() {
            let want = (self.buf.capacity() * 2).min(cap.max(INITIAL_READ_BUF));
            if want <= self.buf.capacity() {
                // Full at the cap: the caller's line/limit logic decides; reading more is not
                // allowed.
                return Ok(());
            }
            self.buf.reserve_exact(want - self.buf.len());
        }
        let mut force = self.shutdown.clone();
        let read = tokio::time::timeout(timeout, io.read_buf(&mut self.buf));
        tokio::select! {
            r = read => match r {
                Ok(Ok(0)) => Err(Stop::Closed),
                Ok(Ok(_)) => Ok(()),
                Ok(Err(e)) => Err(Stop::Io(e)),
                Err(_) => Err(Stop::Timeout),
            },
            _ = force.wait_for(|s| *s >= FORCED) => Err(Stop::Forced),
        }
    }

    /// Let the read buffer grow to one full socket read while message content streams in. It
    /// stays that size for the rest of the session: shrinking and regrowing it per message costs
    /// more than the memory.
    pub fn grow_for_data(&mut self) {
        if self.buf.capacity() < MAX_READ_BUF {
            self.buf.reserve_exact(MAX_READ_BUF - self.buf.len());
        }
    }
}

/// True for a line whose verb is BDAT (case-insensitive), whatever follows.
fn is_bdat(line: &[u8]) -> bool {
    line.len() >= 4 && line[..4].eq_ignore_ascii_case(b"BDAT") && line.get(4).is_none_or(|&b| b == b' ')
}
