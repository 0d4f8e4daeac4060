//! AUTH PLAIN and LOGIN in the session (RFC 4954, RFC 4616), offered only over TLS unless
//! `allow_insecure_auth` says otherwise. The exchange (334 challenges, continuation lines, `*`
//! to cancel) is decided here; the credential check is a [`Step::Authenticate`] the driver hands
//! to the server's authenticator.

use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine;

use super::{Awaiting, Phase, Session, Step, MAX_AUTH_LINE};
use crate::proto::Reply;

/// Which continuation line is awaited.
#[derive(Debug)]
pub(super) enum Stage {
    /// PLAIN's response after an empty challenge.
    Plain,
    /// LOGIN's user name.
    LoginUser,
    /// LOGIN's password, for this user.
    LoginPassword(Vec<u8>),
}

/// Refusal of a malformed exchange: (code, enhanced, text).
type Refusal = (u16, &'static str, &'static str);

impl Session {
    /// `AUTH mechanism [initial-response]`.
    pub(super) fn auth(&mut self, mechanism: String, initial: Option<String>) -> Option<Step> {
        let o = &self.config.opts;
        let refusal = if o.auth.is_none() {
            Some((502, "5.5.1", "AUTH not available"))
        } else if self.info.helo.is_none() || !self.esmtp {
            Some((503, "5.5.1", "Send EHLO first"))
        } else if self.info.authenticated_user.is_some() {
            Some((503, "5.5.1", "Already authenticated"))
        } else if self.tx.is_some() {
            Some((503, "5.5.1", "AUTH not allowed during a mail transaction"))
        } else if self.tls.is_none() && !o.allow_insecure_auth {
            Some((538, "5.7.11", "Encryption required for requested authentication mechanism"))
        } else {
            None
        };
        if let Some((code, enhanced, text)) = refusal {
            self.refuse(code, enhanced, text);
            return None;
        }
        match (mechanism.as_str(), initial) {
            ("PLAIN", Some(response)) => self.plain(response.as_bytes()),
            ("PLAIN", None) => self.challenge("", Stage::Plain),
            ("LOGIN", Some(user)) => self.login_user(user.as_bytes()),
            ("LOGIN", None) => self.challenge("VXNlcm5hbWU6", Stage::LoginUser),
            _ => {
                self.refuse(504, "5.5.4", "Unrecognized authentication type");
                None
            }
        }
    }

    fn challenge(&mut self, text: &str, stage: Stage) -> Option<Step> {
        self.reply(&Reply::new(334, text, None));
        self.phase = Phase::Auth(stage);
        None
    }

    /// One client response to a 334 challenge; `*` cancels (RFC 4954 §4).
    pub(super) fn next_auth_line(&mut self) -> Option<Step> {
        let (len, consumed) = match self.line(MAX_AUTH_LINE) {
            Ok(Some(l)) => l,
            Ok(None) => return self.auth_failed((500, "5.5.6", "Authentication response too long")),
            Err(()) => return Some(Step::Read),
        };
        let Phase::Auth(stage) = std::mem::replace(&mut self.phase, Phase::Commands) else { return None };
        let line = self.input.buffered()[..len].trim_ascii().to_vec();
        self.input.consume(consumed);
        if line == b"*" {
            return self.auth_failed((501, "5.0.0", "Authentication cancelled"));
        }
        match stage {
            Stage::Plain => self.plain(&line),
            Stage::LoginUser => self.login_user(&line),
            Stage::LoginPassword(user) => match decode(&line) {
                Ok(password) => self.check(&user, &password),
                Err(r) => self.auth_failed(r),
            },
        }
    }

    /// RFC 4616: `[authzid] NUL authcid NUL passwd`.
    fn plain(&mut self, response: &[u8]) -> Option<Step> {
        let raw = match decode(response) {
            Ok(b) => b,
            Err(r) => return self.auth_failed(r),
        };
        let mut parts = raw.split(|&b| b == 0);
        let (Some(authz), Some(user), Some(pass), None) =
            (parts.next(), parts.next(), parts.next(), parts.next())
        else {
            return self.auth_failed((501, "5.5.2", "Malformed PLAIN response"));
        };
        if !authz.is_empty() && authz != user {
            return self.auth_failed((535, "5.7.8", "Authorization identity not allowed"));
        }
        self.check(user, pass)
    }

    fn login_user(&mut self, response: &[u8]) -> Option<Step> {
        match decode(response) {
            Ok(user) => self.challenge("UGFzc3dvcmQ6", Stage::LoginPassword(user)),
            Err(r) => self.auth_failed(r),
        }
    }

    /// Hand the credentials to the authenticator.
    fn check(&mut self, user: &[u8], password: &[u8]) -> Option<Step> {
        match (std::str::from_utf8(user), std::str::from_utf8(password)) {
            (Ok(u), Ok(p)) if !u.is_empty() => {
                self.phase = Phase::Waiting(Awaiting::Auth { user: u.to_string() });
                Some(Step::Authenticate { user: u.to_string(), password: p.to_string() })
            }
            _ => self.auth_failed((501, "5.5.2", "Malformed credentials")),
        }
    }

    fn auth_failed(&mut self, (code, enhanced, text): Refusal) -> Option<Step> {
        self.phase = Phase::Commands;
        self.refuse(code, enhanced, text);
        None
    }

    /// The authenticator's answer.
    pub(super) fn authenticated(&mut self, user: String, r: Result<bool, String>) {
        match r {
            Ok(true) => {
                tracing::info!(session = %self.info.id, user = %user, "authenticated");
                self.info.authenticated_user = Some(user);
                self.say(235, "2.7.0", "Authentication successful");
            }
            Ok(false) => {
                tracing::info!(session = %self.info.id, user = %user, "authentication failed");
                self.refuse(535, "5.7.8", "Authentication credentials invalid");
            }
            Err(e) => {
                tracing::warn!(session = %self.info.id, "authenticator failed: {e}");
                self.say(454, "4.7.0", "Temporary authentication failure");
            }
        }
    }
}

fn decode(s: &[u8]) -> Result<Vec<u8>, Refusal> {
    if s == b"=" {
        return Ok(Vec::new());
    }
    B64.decode(s.trim_ascii()).map_err(|_| (501, "5.5.2", "Cannot decode response"))
}
