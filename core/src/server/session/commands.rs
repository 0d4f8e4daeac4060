//! The command phase of the session: one line, one command, one reply (or a step handed to the
//! driver). HELO first, 503 sequencing, relay policy, SIZE/recipient limits, DSN parameters,
//! the error and junk-command limits, VRFY/EXPN, HELP and STARTTLS.

use std::io::Write;

use super::{Awaiting, HookCall, Phase, Session, Step, StopLevel, Transaction};
use crate::proto::command::{parse_command_typed, TypedParams};
use crate::proto::params::{MailParams, RcptParams};
use crate::proto::{Command, CommandError, ParseOptions, Path, Reply};
use crate::server::stats::Counters;

impl Session {
    /// Take the next command line and act on it.
    pub(super) fn next_command(&mut self) -> Option<Step> {
        let o = &self.config.opts;
        if self.errors >= o.max_errors {
            return self.close_with(421, "4.7.0", "Too many errors, closing");
        }
        let (len, consumed) = match self.line(o.max_command_line) {
            Ok(Some(l)) => l,
            Ok(None) => {
                self.refuse(500, "5.5.6", "Line too long");
                return None;
            }
            Err(()) => {
                if self.tx.is_none() && self.stop >= StopLevel::Stopping {
                    return self.close_with(421, "4.3.2", "Server shutting down, try again later");
                }
                return Some(Step::Read);
            }
        };
        let opts = ParseOptions {
            strict: self.config.opts.strict,
            smtputf8: self.tx.as_ref().is_some_and(|t| t.mail_params.smtputf8),
        };
        let line = &self.input.buffered()[..len];
        let parsed = parse_command_typed(line, &opts);
        let bdat = is_bdat(line);
        self.input.consume(consumed);
        match parsed {
            Ok((cmd, typed)) => self.command(cmd, typed),
            Err(e) => self.syntax_error(e, bdat),
        }
    }

    fn syntax_error(&mut self, e: CommandError, bdat: bool) -> Option<Step> {
        self.refuse_reply(&e.reply());
        if bdat {
            // The chunk size is unknown, so where the chunk ends is unknown too: reading on
            // would execute the chunk's octets as commands (smuggling). Close.
            return self.close_with(421, "4.5.0", "Malformed BDAT, closing");
        }
        None
    }

    fn command(&mut self, cmd: Command, typed: TypedParams) -> Option<Step> {
        if self.stop >= StopLevel::Stopping
            && !matches!(cmd, Command::Rcpt { .. } | Command::Data | Command::Bdat { .. } | Command::Quit)
        {
            // Stopping: only what moves the open transaction to its end is still served, so a
            // client cannot keep the server from stopping with NOOPs.
            return self.close_with(421, "4.3.2", "Server shutting down, try again later");
        }
        if matches!(
            cmd,
            Command::Noop
                | Command::Rset
                | Command::Vrfy { .. }
                | Command::Expn { .. }
                | Command::Help { .. }
        ) {
            let limit = self.config.opts.max_junk_commands;
            if limit > 0 && self.junk >= limit {
                return self.close_with(421, "4.7.0", "Too many commands without a message, closing");
            }
            self.junk += 1;
        }
        match (cmd, typed) {
            (Command::Ehlo { domain }, _) => self.hello(domain, true),
            (Command::Helo { domain }, _) => self.hello(domain, false),
            (Command::Mail { from, .. }, TypedParams::Mail(params)) => return self.mail(from, params),
            (Command::Rcpt { to, .. }, TypedParams::Rcpt(params)) => return self.rcpt(to, params),
            (Command::Data, _) => self.data(),
            (Command::Bdat { size, last }, _) => self.bdat(size, last),
            (Command::Rset, _) => {
                self.tx = None;
                self.say(250, "2.0.0", "Ok");
            }
            (Command::Noop, _) => self.say(250, "2.0.0", "Ok"),
            (Command::Quit, _) => {
                self.say(221, "2.0.0", "Bye");
                self.phase = Phase::Closing;
            }
            (Command::Help { .. }, _) => self.help(),
            (Command::Vrfy { arg }, _) => return self.verify(arg, false),
            (Command::Expn { arg }, _) => return self.verify(arg, true),
            (Command::StartTls, _) => return self.starttls(),
            (Command::Auth { mechanism, initial }, _) => return self.auth(mechanism, initial),
            (Command::Obsolete { .. }, _) => self.refuse(502, "5.5.1", "Command not implemented"),
            // The parser types MAIL/RCPT parameters with the command; nothing else arrives.
            (Command::Mail { .. } | Command::Rcpt { .. }, _) => self.refuse(451, "4.3.0", "Internal error"),
        }
        None
    }

    /// STARTTLS and AUTH are offered now.
    fn offers(&self) -> (bool, bool) {
        let o = &self.config.opts;
        let starttls = self.config.tls_available && self.tls.is_none();
        let auth = o.auth.is_some() && (self.tls.is_some() || o.allow_insecure_auth);
        (starttls, auth)
    }

    fn hello(&mut self, domain: String, esmtp: bool) {
        self.tx = None;
        self.esmtp = esmtp;
        let o = &self.config.opts;
        if !esmtp {
            let _ = write!(self.out, "250 {}\r\n", o.hostname);
            self.info.helo = Some(domain);
            return;
        }
        let _ = write!(self.out, "250-{} Hello {domain}\r\n250-PIPELINING\r\n", o.hostname);
        self.info.helo = Some(domain);
        match o.max_message_size {
            0 => self.out.extend_from_slice(b"250-SIZE\r\n"),
            n => {
                let _ = write!(self.out, "250-SIZE {n}\r\n");
            }
        }
        self.out.extend_from_slice(b"250-8BITMIME\r\n250-SMTPUTF8\r\n250-ENHANCEDSTATUSCODES\r\n");
        if o.advertise_dsn {
            self.out.extend_from_slice(b"250-DSN\r\n");
        }
        self.out.extend_from_slice(b"250-CHUNKING\r\n");
        let (starttls, auth) = self.offers();
        if starttls {
            self.out.extend_from_slice(b"250-STARTTLS\r\n");
        }
        if auth {
            self.out.extend_from_slice(b"250-AUTH PLAIN LOGIN\r\n");
        }
        self.out.extend_from_slice(b"250 HELP\r\n");
    }

    /// HELP lists what this session can use now: STARTTLS and AUTH only when offered.
    fn help(&mut self) {
        let (starttls, auth) = self.offers();
        let _ = write!(
            self.out,
            "214 2.0.0 Commands: HELO EHLO MAIL RCPT DATA BDAT RSET NOOP QUIT HELP VRFY EXPN{}{}\r\n",
            if starttls { " STARTTLS" } else { "" },
            if auth { " AUTH" } else { "" }
        );
    }

    fn mail(&mut self, from: Path, params: MailParams) -> Option<Step> {
        let o = &self.config.opts;
        if self.info.helo.is_none() {
            self.refuse(503, "5.5.1", "Send HELO/EHLO first");
            return None;
        }
        if self.tx.is_some() {
            self.refuse(503, "5.5.1", "Nested MAIL command");
            return None;
        }
        if o.strict && !self.esmtp && params != MailParams::default() {
            self.refuse(555, "5.5.4", "MAIL parameters need EHLO");
            return None;
        }
        if !o.advertise_dsn && (params.ret.is_some() || params.envid.is_some()) {
            // RFC 3461 §4: DSN parameters only when DSN is offered; accepting them silently
            // would promise notices nobody sends.
            self.refuse(555, "5.5.4", "DSN is not offered: RET and ENVID are not supported");
            return None;
        }
        let max = o.max_message_size;
        if max > 0 && params.size.is_some_and(|s| s > max) {
            self.refuse(552, "5.3.4", "Message size exceeds fixed maximum message size");
            return None;
        }
        let address = from.to_string();
        if self.config.checks_storage {
            // 0 = no limit: room for a message of the default limit (25 MiB) is asked for.
            let limit = if max > 0 { max } else { 25 * 1024 * 1024 };
            self.phase = Phase::Waiting(Awaiting::Storage { address, params });
            return Some(Step::CheckStorage(limit));
        }
        self.mail_checked(address, params)
    }

    /// The driver said whether the spool has room (queue mode).
    pub(super) fn storage_answered(&mut self, address: String, params: MailParams, room: bool) {
        if !room {
            tracing::warn!(session = %self.info.id, "MAIL refused: the queue's disk is nearly full");
            return self.say(452, "4.3.1", "Insufficient system storage, try again later");
        }
        if let Some(step) = self.mail_checked(address, params) {
            self.pending = Some(step);
        }
    }

    /// MAIL after its own checks (and the storage check): `on_mail_from`, or accept.
    fn mail_checked(&mut self, address: String, params: MailParams) -> Option<Step> {
        if self.config.hook_set.mail_from {
            let call = HookCall::MailFrom(self.info.clone(), address.clone(), params.clone());
            self.phase = Phase::Waiting(Awaiting::MailFrom { address, params });
            return Some(Step::CallHook(call));
        }
        self.mail_answered(address, params, Ok(None));
        None
    }

    pub(super) fn mail_answered(
        &mut self,
        address: String,
        params: MailParams,
        verdict: Result<Option<Reply>, Reply>,
    ) {
        match verdict {
            Ok(None) => self.say(250, "2.1.0", "Ok"),
            Ok(Some(r)) if r.is_positive() => self.reply(&r),
            Ok(Some(r)) | Err(r) => return self.refuse_reply(&r),
        }
        self.tx = Some(Transaction { mail_from: address, mail_params: params, ..Default::default() });
    }

    fn rcpt(&mut self, to: Path, params: RcptParams) -> Option<Step> {
        let o = &self.config.opts;
        let counters = &self.config.counters;
        let Some(tx) = self.tx.as_mut() else {
            self.refuse(503, "5.5.1", "Need MAIL command first");
            return None;
        };
        tx.rcpt_attempts += 1;
        if tx.message.is_some() {
            self.refuse(503, "5.5.1", "RCPT not allowed after BDAT");
            return None;
        }
        if tx.rcpt_to.len() >= o.max_recipients {
            Counters::add(&counters.recipients_rejected, 1);
            // Past the limit a client should try the rest later (RFC 5321 §4.5.3.1.10); one
            // that keeps going past as many again is counted as erring (Postfix's
            // smtpd_recipient_overshoot_limit), so 452s cannot be had forever.
            tx.over_limit += 1;
            if tx.over_limit > o.max_recipients {
                self.errors += 1;
            }
            self.say(452, "4.5.3", "Too many recipients");
            return None;
        }
        if !o.advertise_dsn && (params.notify.is_some() || params.orcpt.is_some()) {
            self.refuse(555, "5.5.4", "DSN is not offered: NOTIFY and ORCPT are not supported");
            return None;
        }
        let authenticated = self.info.authenticated_user.is_some();
        if let Err(r) = self.config.policy.check(&to, self.info.peer.ip(), authenticated) {
            Counters::add(&counters.recipients_rejected, 1);
            tracing::info!(session = %self.info.id, rcpt = %to, "recipient refused: {}", r.one_line());
            self.refuse_reply(&r);
            return None;
        }
        let address = to.to_string();
        if self.config.hook_set.rcpt_to {
            let call = HookCall::RcptTo(self.info.clone(), address.clone(), params.clone());
            self.phase = Phase::Waiting(Awaiting::RcptTo { address, params });
            return Some(Step::CallHook(call));
        }
        self.rcpt_answered(address, params, Ok(None));
        None
    }

    pub(super) fn rcpt_answered(
        &mut self,
        address: String,
        params: RcptParams,
        verdict: Result<Option<Reply>, Reply>,
    ) {
        match verdict {
            Ok(None) => self.say(250, "2.1.5", "Ok"),
            Ok(Some(r)) if r.is_positive() => self.reply(&r),
            Ok(Some(r)) | Err(r) => {
                Counters::add(&self.config.counters.recipients_rejected, 1);
                return self.refuse_reply(&r);
            }
        }
        Counters::add(&self.config.counters.recipients_accepted, 1);
        if let Some(tx) = self.tx.as_mut() {
            tx.rcpt_to.push(address);
            tx.rcpt_params.push(params);
        }
    }

    /// VRFY and EXPN: off by default (252 / 502); when on, answered the way RCPT would be.
    fn verify(&mut self, arg: String, expn: bool) -> Option<Step> {
        let o = &self.config.opts;
        if expn && !o.allow_expn {
            self.refuse(502, "5.5.1", "EXPN not available");
            return None;
        }
        if !expn && !o.allow_vrfy {
            self.say(252, "2.5.2", "Cannot VRFY user, but will accept message and attempt delivery");
            return None;
        }
        let text = arg.trim();
        let bracketed = if text.starts_with('<') { text.to_string() } else { format!("<{text}>") };
        let opts = ParseOptions { strict: false, smtputf8: true };
        let path = match crate::proto::address::parse_path(&bracketed, &opts) {
            Ok((p, rest)) if rest.trim().is_empty() && !p.is_null() => p,
            _ => {
                self.refuse(501, "5.1.3", "Bad address syntax");
                return None;
            }
        };
        let authenticated = self.info.authenticated_user.is_some();
        if let Err(r) = self.config.policy.check(&path, self.info.peer.ip(), authenticated) {
            self.refuse_reply(&r);
            return None;
        }
        let address = path.to_string();
        if self.config.hook_set.rcpt_to {
            let call = HookCall::RcptTo(self.info.clone(), address.clone(), RcptParams::default());
            self.phase = Phase::Waiting(Awaiting::Vrfy { address });
            return Some(Step::CallHook(call));
        }
        self.vrfy_answered(address, Ok(None));
        None
    }

    pub(super) fn vrfy_answered(&mut self, address: String, verdict: Result<Option<Reply>, Reply>) {
        match verdict {
            Ok(None) => {
                let _ = write!(self.out, "250 2.1.5 <{address}>\r\n");
            }
            Ok(Some(r)) if r.is_positive() => self.reply(&r),
            Ok(Some(r)) | Err(r) => self.refuse_reply(&r),
        }
    }

    fn starttls(&mut self) -> Option<Step> {
        if !self.config.tls_available {
            self.refuse(502, "5.5.1", "STARTTLS not available");
            return None;
        }
        if self.tls.is_some() {
            self.refuse(503, "5.5.1", "Already using TLS");
            return None;
        }
        if self.tx.is_some() {
            self.refuse(503, "5.5.1", "STARTTLS not allowed during a mail transaction");
            return None;
        }
        self.say(220, "2.0.0", "Ready to start TLS");
        // STARTTLS injection defence: anything the client pipelined after STARTTLS arrived in
        // plaintext and must never be executed as if it came over TLS.
        self.input.clear();
        self.phase = Phase::Waiting(Awaiting::Tls);
        Some(Step::StartTls)
    }

    /// RFC 3207 §4.2: after the handshake, forget everything learnt before it.
    pub(super) fn tls_established(&mut self, tls: super::TlsInfo) {
        self.tls = Some(tls);
        self.info.tls = true;
        self.info.helo = None;
        self.info.authenticated_user = None;
        self.esmtp = false;
        self.tx = None;
        self.phase = Phase::Commands;
    }
}

/// True for a line whose verb is BDAT (case-insensitive), whatever follows.
fn is_bdat(line: &[u8]) -> bool {
    line.len() >= 4 && line[..4].eq_ignore_ascii_case(b"BDAT") && line.get(4).is_none_or(|&b| b == b' ')
}
