//! The client session: connect, banner, EHLO (HELO fallback), STARTTLS / implicit TLS, the simple
//! commands (VRFY, EXPN, HELP, NOOP, RSET, QUIT) and the plumbing every command shares — write,
//! read one reply, record the transcript, and mark the session closed when the connection can no
//! longer be trusted (timeout, I/O error, protocol violation).
//!
//! AUTH lives in `auth.rs`, the mail transaction in `transaction.rs`.
//!
//! Every public call is bracketed by `begin_call`/`end_call`: the end publishes what a
//! [`super::ClientHandle`]'s getters read (`shared.rs`) — once per call, never per reply — and a
//! call whose future was dropped half-way leaves the session closed, since what the server has
//! seen of it is unknown.

use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::error::{Error, ErrorKind, Result};
use crate::proto::{Capabilities, Command, Reply};

use super::conn::Conn;
use super::options::{ClientOptions, TlsMode};
use super::result::Timings;
use super::shared::Shared;
use super::tls;
use super::transcript::Transcript;
use super::validate;

/// An open SMTP session. Create with [`Client::connect`]; every method leaves the session usable
/// after a refused command (the server's reply is returned or attached to the error) and marks
/// it closed ([`Client::is_closed`]) when the connection itself failed.
pub struct Client {
    pub(super) conn: Conn,
    pub(super) opts: ClientOptions,
    pub(super) hello_name: String,
    pub(super) banner: Reply,
    pub(super) caps: Capabilities,
    pub(super) esmtp: bool,
    pub(super) closed: bool,
    pub(super) transcript: Transcript,
    pub(super) timings: Timings,
    pub(super) wbuf: Vec<u8>,
    pub(super) authenticated: Option<String>,
    pub(super) started: Instant,
    /// Whether the last `send` wrote any message content (see [`Client::content_sent`]).
    pub(super) content_sent: bool,
    /// The queue id the server named for the last successful `send`.
    pub(super) last_queue_id: Option<String>,
    /// Recipients refused at RCPT in the last `send` (see [`Client::last_refused`]).
    pub(super) last_refused: Vec<super::result::RejectedRecipient>,
    /// What handles read; see [`Client::publish`].
    pub(super) shared: Arc<Shared>,
    /// Session-level state (banner, capabilities, TLS, AUTH, timings) changed since the last
    /// publish.
    pub(super) dirty: bool,
    /// A public call is running (still true at the next call: the last one was abandoned).
    pub(super) in_call: bool,
}

impl std::fmt::Debug for Client {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Client")
            .field("host", &self.opts.host)
            .field("port", &self.opts.effective_port())
            .field("tls", &self.conn.is_tls())
            .field("closed", &self.closed)
            .finish_non_exhaustive()
    }
}

/// The EHLO name when none is given (RFC 5321 §4.1.4): this machine's fully qualified name, else
/// the address literal of our end of the connection — never a bare short host name, which
/// servers checking HELO (Postfix's `reject_non_fqdn_helo_hostname`) refuse.
fn default_hello_name(local: std::net::SocketAddr) -> String {
    crate::hostname::fqdn()
        .filter(|name| validate::token("host name", name).is_ok())
        .unwrap_or_else(|| crate::hostname::address_literal(local))
}

/// How long the best-effort QUIT after a refused banner may take.
const POLITE_QUIT: Duration = Duration::from_secs(2);

impl Client {
    /// Open a session: TCP connect, implicit TLS if asked, banner, EHLO (HELO when EHLO is
    /// refused with 500/502), then STARTTLS per `opts.tls` and EHLO again over TLS.
    ///
    /// Errors: `invalid_input` for a bad hello name (before connecting), `dns` for a host name
    /// that does not resolve, `connect`, `timeout`, `tls` (handshake failure, in words; STARTTLS
    /// not offered or refused in `StartTls` mode), `transient`/`rejected` for a 4xx/5xx banner or
    /// EHLO (reply attached), `protocol`.
    pub async fn connect(opts: ClientOptions) -> Result<Client> {
        if opts.host.is_empty() {
            return Err(Error::invalid_input("server host is empty"));
        }
        validate::token("server host", &opts.host)?;
        if let Some(h) = &opts.hello_name {
            validate::token("EHLO name", h)?;
        }
        // Build the TLS configuration and check the name before connecting: a bad CA file is a
        // local error, not the server's.
        let tls_setup = match opts.tls {
            TlsMode::None => None,
            _ => {
                let name = opts.tls_server_name.as_deref().unwrap_or(&opts.host);
                Some((
                    tls::client_config(opts.ca_file.as_deref(), opts.accept_invalid_certs)?,
                    tls::server_name(name)?,
                ))
            }
        };

        let started = Instant::now();
        let port = opts.effective_port();
        let conn = Conn::connect(&opts.host, port, opts.timeouts.connect, opts.reply_limits).await?;
        let timings = Timings { connect: Some(started.elapsed()), ..Timings::default() };
        let hello_name = match &opts.hello_name {
            Some(h) => h.clone(),
            None => default_hello_name(conn.local_addr()),
        };
        let mut client = Client {
            conn,
            transcript: Transcript::new(opts.record_transcript),
            hello_name,
            banner: Reply { code: 0, enhanced: None, lines: Vec::new() },
            caps: Capabilities::default(),
            esmtp: false,
            closed: false,
            timings,
            wbuf: Vec::with_capacity(4096),
            authenticated: None,
            started,
            content_sent: false,
            last_queue_id: None,
            last_refused: Vec::new(),
            shared: Arc::new(Shared::default()),
            dirty: true,
            in_call: false,
            opts,
        };

        if client.opts.tls == TlsMode::Implicit {
            let t = Instant::now();
            if let Some((config, name)) = tls_setup.clone() {
                client
                    .conn
                    .upgrade(config, name, client.opts.timeouts.tls)
                    .await
                    .map_err(|e| client.fail(e))?;
            }
            client.timings.tls = Some(t.elapsed());
        }

        let t = Instant::now();
        let banner = client.read(client.opts.timeouts.banner, "banner").await?;
        client.timings.banner = Some(t.elapsed());
        if banner.code != 220 {
            let err = if banner.is_transient() || banner.is_permanent() {
                Error::from_reply(banner.clone())
            } else {
                Error::protocol(format!("banner is not 220: {}", banner.one_line()))
                    .with_reply(banner.clone())
            };
            client.banner = banner;
            client.quit_quietly().await;
            return Err(err);
        }
        client.banner = banner;

        let t = Instant::now();
        client.hello().await?;
        client.timings.ehlo = Some(t.elapsed());

        let want_starttls = matches!(client.opts.tls, TlsMode::Opportunistic | TlsMode::StartTls);
        if want_starttls && !client.conn.is_tls() {
            if client.caps.has("STARTTLS") {
                if let Some((config, name)) = tls_setup {
                    client.starttls(config, name).await?;
                }
            } else if client.opts.tls == TlsMode::StartTls {
                client.quit_quietly().await;
                return Err(Error::tls("STARTTLS required but the server does not offer it"));
            }
        }
        client.timings.total = Some(client.started.elapsed());
        Ok(client)
    }

    /// STARTTLS, the handshake, and EHLO again. Anything the server sent after its 220 is
    /// dropped unread; pre-TLS capabilities are forgotten.
    async fn starttls(
        &mut self,
        config: std::sync::Arc<rustls::ClientConfig>,
        name: rustls::pki_types::ServerName<'static>,
    ) -> Result<()> {
        let t = Instant::now();
        let reply = self.command(&Command::StartTls, self.opts.timeouts.tls, "STARTTLS").await?;
        if reply.code != 220 {
            if self.opts.tls == TlsMode::StartTls {
                self.quit_quietly().await;
                return Err(Error::tls(format!("STARTTLS refused: {}", reply.one_line())).with_reply(reply));
            }
            // Opportunistic: carry on in plain text, as Postfix does.
            self.transcript.note("STARTTLS refused; continuing without TLS");
            return Ok(());
        }
        let dropped =
            self.conn.upgrade(config, name, self.opts.timeouts.tls).await.map_err(|e| self.fail(e))?;
        if dropped > 0 {
            self.transcript
                .note(&format!("discarded {dropped} bytes the server sent after its STARTTLS 220"));
        }
        self.timings.tls = Some(t.elapsed());
        self.caps = Capabilities::default();
        self.esmtp = false;
        let t = Instant::now();
        self.hello().await?;
        if let Some(e) = self.timings.ehlo.as_mut() {
            *e += t.elapsed();
        }
        Ok(())
    }

    /// EHLO, or HELO when EHLO is refused as unknown (500/502/504/550 from very old servers).
    async fn hello(&mut self) -> Result<()> {
        let name = self.hello_name.clone();
        let t = self.opts.timeouts.ehlo;
        let reply = self.command(&Command::Ehlo { domain: name.clone() }, t, "EHLO").await?;
        if reply.code == 250 {
            self.caps = Capabilities::from_ehlo(&reply);
            self.esmtp = true;
            return Ok(());
        }
        if matches!(reply.code, 500 | 502) {
            let helo = self.command(&Command::Helo { domain: name }, t, "HELO").await?;
            if helo.code == 250 {
                self.caps = Capabilities::default();
                self.esmtp = false;
                return Ok(());
            }
            return Err(Error::from_reply(helo));
        }
        Err(Error::from_reply(reply))
    }

    // ---- plumbing -------------------------------------------------------------------------

    /// Record that the connection is unusable and pass the error on.
    pub(super) fn fail(&mut self, e: Error) -> Error {
        self.closed = true;
        e
    }

    pub(super) fn ensure_open(&self) -> Result<()> {
        if self.closed {
            return Err(Error::new(ErrorKind::Protocol, "the session is closed"));
        }
        Ok(())
    }

    /// Write `self.wbuf` (already recorded in the transcript by the caller).
    pub(super) async fn flush_wbuf(&mut self, t: Duration, what: &str) -> Result<()> {
        match self.conn.write_all(&self.wbuf, t, what).await {
            Ok(()) => Ok(()),
            Err(e) => Err(self.fail(e)),
        }
    }

    /// Read one reply and record it. A `421` closes the session: RFC 5321 §3.8 says the server
    /// closes the connection after it (idle timeout, shutdown), so nothing more may be sent on it
    /// — not even RSET — and a pool must not keep it.
    pub(super) async fn read(&mut self, t: Duration, what: &str) -> Result<Reply> {
        match self.conn.read_reply(t, what).await {
            Ok(r) => {
                self.transcript.server(&r);
                if r.code == 421 {
                    self.closed = true;
                }
                Ok(r)
            }
            Err(e) => Err(self.fail(e)),
        }
    }

    /// Send one command (its inputs already validated) and read its reply.
    pub(super) async fn command(&mut self, cmd: &Command, t: Duration, what: &str) -> Result<Reply> {
        self.ensure_open()?;
        self.wbuf.clear();
        cmd.write_to(&mut self.wbuf);
        self.transcript.client_bytes(&self.wbuf);
        self.flush_wbuf(t, what).await?;
        self.read(t, what).await
    }

    /// Send a line that the transcript shows as `shown` (AUTH secrets), and read the reply within
    /// the AUTH timeout.
    pub(super) async fn masked_line(&mut self, line: &str, shown: &str, what: &str) -> Result<Reply> {
        self.line_as(line, shown, self.opts.timeouts.auth, what).await
    }

    /// Send `line` (CRLF added; its inputs already checked), shown in the transcript as `shown`,
    /// and read the reply within `t`.
    pub(super) async fn line_as(
        &mut self,
        line: &str,
        shown: &str,
        t: Duration,
        what: &str,
    ) -> Result<Reply> {
        self.ensure_open()?;
        self.wbuf.clear();
        self.wbuf.extend_from_slice(line.as_bytes());
        self.wbuf.extend_from_slice(b"\r\n");
        self.transcript.client_text(shown);
        self.flush_wbuf(t, what).await?;
        self.read(t, what).await
    }

    /// RSET after a failed transaction; a failure here only closes the session.
    pub(super) async fn rset_quietly(&mut self) {
        if !self.closed {
            let _ = self.command(&Command::Rset, self.opts.timeouts.other, "RSET").await;
        }
    }

    /// QUIT without caring for the answer (refused banner, refused STARTTLS), then close.
    async fn quit_quietly(&mut self) {
        if !self.closed {
            let t = self.opts.timeouts.other.min(POLITE_QUIT);
            let _ = self.command(&Command::Quit, t, "QUIT").await;
            self.conn.shutdown(t).await;
        }
        self.closed = true;
    }

    // ---- accessors ------------------------------------------------------------------------

    /// The server's EHLO capabilities (empty after a HELO fallback); after STARTTLS only the
    /// ones advertised over TLS.
    pub fn capabilities(&self) -> &Capabilities {
        &self.caps
    }

    /// The 220 banner.
    pub fn banner(&self) -> &Reply {
        &self.banner
    }

    /// True when the session runs over TLS (implicit or after STARTTLS).
    pub fn is_tls(&self) -> bool {
        self.conn.is_tls()
    }

    /// True when the server answered EHLO (false after a HELO fallback).
    pub fn is_esmtp(&self) -> bool {
        self.esmtp
    }

    /// The name sent in EHLO/HELO.
    pub fn hello_name(&self) -> &str {
        &self.hello_name
    }

    /// The user of a successful [`Client::login`].
    pub fn authenticated_user(&self) -> Option<&str> {
        self.authenticated.as_deref()
    }

    /// The options the session was opened with.
    pub fn options(&self) -> &ClientOptions {
        &self.opts
    }

    /// The wire log: `"C: EHLO x"`, `"S: 250-…"`, AUTH secrets as `****`, message data as one
    /// summary line; `*: …` lines are the client's notes. Empty when `record_transcript` is off.
    pub fn transcript(&self) -> Vec<String> {
        let mut lines = self.shared.transcript();
        lines.extend(self.transcript.pending().iter().cloned());
        lines
    }

    /// The queue id the server named in its reply to the last successful `send`, if any.
    pub fn last_queue_id(&self) -> Option<&str> {
        self.last_queue_id.as_deref()
    }

    /// Session phases: connect, banner, TLS, EHLO, AUTH (transaction phases are in each
    /// [`super::SendResult`]).
    pub fn timings(&self) -> &Timings {
        &self.timings
    }

    /// True once the connection is gone (QUIT, or an error that left it unusable).
    pub fn is_closed(&self) -> bool {
        self.closed
    }

    // ---- simple commands ------------------------------------------------------------------

    /// VRFY `addr`. Any well-formed reply is returned as `Ok` (252 and 502 included, like
    /// smtplib); CR/LF/NUL in `addr` is `invalid_input`.
    pub async fn verify(&mut self, addr: &str) -> Result<Reply> {
        validate::no_line_breaks("VRFY argument", addr)?;
        self.simple(Command::Vrfy { arg: addr.to_string() }, "VRFY").await
    }

    /// EXPN `name`; any well-formed reply is `Ok`.
    pub async fn expand(&mut self, name: &str) -> Result<Reply> {
        validate::no_line_breaks("EXPN argument", name)?;
        self.simple(Command::Expn { arg: name.to_string() }, "EXPN").await
    }

    /// HELP, with an optional `topic`; any well-formed reply is `Ok`.
    pub async fn help(&mut self, topic: Option<&str>) -> Result<Reply> {
        if let Some(t) = topic {
            validate::no_line_breaks("HELP topic", t)?;
        }
        self.simple(Command::Help { topic: topic.map(str::to_string) }, "HELP").await
    }

    /// NOOP; any well-formed reply is `Ok`.
    pub async fn noop(&mut self) -> Result<Reply> {
        self.simple(Command::Noop, "NOOP").await
    }

    /// RSET; any well-formed reply is `Ok`.
    pub async fn reset(&mut self) -> Result<Reply> {
        self.simple(Command::Rset, "RSET").await
    }

    /// QUIT and close the connection. The session is closed afterwards whatever happened.
    pub async fn quit(&mut self) -> Result<Reply> {
        self.begin_call();
        let r = self.command(&Command::Quit, self.opts.timeouts.other, "QUIT").await;
        if !self.closed {
            self.conn.shutdown(self.opts.timeouts.other.min(POLITE_QUIT)).await;
        }
        self.closed = true;
        self.end_call();
        r
    }

    /// One command of the `other` timeout class as a public call.
    async fn simple(&mut self, cmd: Command, what: &str) -> Result<Reply> {
        self.begin_call();
        let r = self.command(&cmd, self.opts.timeouts.other, what).await;
        self.end_call();
        r
    }

    // ---- calls and what handles see -------------------------------------------------------

    /// Start a public call. If the previous one never reached its end (its future was dropped,
    /// e.g. by a caller's timeout), the session is closed: the server may be anywhere in it.
    pub(super) fn begin_call(&mut self) {
        if self.in_call {
            self.abandoned();
        }
        self.in_call = true;
    }

    /// End a public call: publish for the handles.
    pub(super) fn end_call(&mut self) {
        self.in_call = false;
        self.publish();
    }

    /// The call in flight was abandoned: close the connection now (without QUIT: we cannot wait
    /// here) and let the handles see it.
    pub(super) fn abandoned(&mut self) {
        if !self.closed {
            self.transcript.note("a call was abandoned before it finished: session closed");
        }
        self.closed = true;
        self.in_call = false;
        self.conn.close_now();
        self.publish();
    }

    /// Copy what changed into the state the handles read, and move the new transcript lines
    /// there. One uncontended lock per call; none at all while no handle exists (a bare `Client`
    /// — the benchmark's and the pool's — is the only owner of `shared`).
    pub(super) fn publish(&mut self) {
        if Arc::strong_count(&self.shared) == 1 {
            return;
        }
        let mut p = self.shared.lock();
        p.state.closed = self.closed;
        p.state.last_queue_id.clone_from(&self.last_queue_id);
        if self.dirty {
            p.state.banner.clone_from(&self.banner);
            p.state.capabilities.clone_from(&self.caps);
            p.state.esmtp = self.esmtp;
            p.state.tls = self.conn.is_tls();
            p.state.hello_name.clone_from(&self.hello_name);
            p.state.authenticated_user.clone_from(&self.authenticated);
            p.state.timings = self.timings;
            self.dirty = false;
        }
        self.transcript.drain_into(&mut p.transcript);
    }
}
