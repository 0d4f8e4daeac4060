//! The server's extension points: the hook trait the bindings implement for Python, Node and C
//! callables, the authenticator, and the owned values handed to them.
//!
//! Hooks take owned values and return boxed `Send` futures so a binding can forward a call to
//! another thread (Python's GIL, Node's event loop, a C callback) and be awaited without
//! borrowing the session. A hook that is not set returns `None` and costs nothing.

use std::collections::HashMap;
use std::future::Future;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;

use crate::proto::params::{MailParams, RcptParams};
use crate::proto::Reply;

/// What a hook decides: `Ok(None)` accepts, `Ok(Some(reply))` refuses with that reply, `Err(text)`
/// is a hook failure (exception, rejected Promise, panic): the server answers `451 4.3.0`, logs
/// `text`, and keeps serving.
pub type HookResult = Result<Option<Reply>, String>;

/// A hook's pending answer.
pub type HookFuture = Pin<Box<dyn Future<Output = HookResult> + Send + 'static>>;

/// The session as hooks see it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SessionInfo {
    /// Session id (also the prefix of its queue ids in logs).
    pub id: String,
    /// The client's address.
    pub peer: SocketAddr,
    /// Our address the client connected to.
    pub local: SocketAddr,
    /// The HELO/EHLO name, once given.
    pub helo: Option<String>,
    /// True after STARTTLS.
    pub tls: bool,
    /// The authenticated user, after AUTH.
    pub authenticated_user: Option<String>,
}

/// The envelope of one transaction (API `Envelope`), with the ESMTP parameters carried along.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Envelope {
    /// Envelope sender; `""` is the null sender `<>`.
    pub mail_from: String,
    /// Accepted recipients, in order.
    pub rcpt_to: Vec<String>,
    /// MAIL parameters (SIZE, BODY, SMTPUTF8, RET, ENVID, AUTH, others).
    pub mail_params: MailParams,
    /// RCPT parameters, one per accepted recipient (NOTIFY, ORCPT, others).
    pub rcpt_params: Vec<RcptParams>,
}

/// ESMTP parameters as keyword (upper-case) → value pairs: what [`MailParams::to_pairs`] and
/// [`RcptParams::to_pairs`] give a binding to build its host's `params` map from.
pub type HookParams = Vec<(String, Option<String>)>;

/// Which hooks an implementation has; the server does not even build the arguments of the
/// others (session snapshot, envelope copy) on its hot path.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HookSet {
    /// `on_connect` is set.
    pub connect: bool,
    /// `on_mail_from` is set.
    pub mail_from: bool,
    /// `on_rcpt_to` is set.
    pub rcpt_to: bool,
    /// `on_message` is set.
    pub message: bool,
}

impl HookSet {
    /// Every hook.
    pub const ALL: HookSet = HookSet { connect: true, mail_from: true, rcpt_to: true, message: true };
    /// No hook.
    pub const NONE: HookSet = HookSet { connect: false, mail_from: false, rcpt_to: false, message: false };
}

/// The server's hooks. Every method is optional: the default returns `None` (accept, no call).
pub trait Hooks: Send + Sync + 'static {
    /// Which hooks are set. The default says all: a hook left out of the set is never called.
    fn enabled(&self) -> HookSet {
        HookSet::ALL
    }
    /// After accept, before the banner. A refusal is sent instead of the banner, then the
    /// connection is closed.
    fn on_connect(&self, _session: SessionInfo) -> Option<HookFuture> {
        None
    }
    /// On MAIL, after syntax checks. `address` is `""` for `<>`; `params` typed once by the
    /// parser (`to_pairs()` for a host's map).
    fn on_mail_from(
        &self,
        _session: SessionInfo,
        _address: String,
        _params: MailParams,
    ) -> Option<HookFuture> {
        None
    }
    /// On RCPT, after the relay policy accepted the recipient (VRFY/EXPN when enabled ask it too,
    /// with empty parameters).
    fn on_rcpt_to(&self, _session: SessionInfo, _address: String, _params: RcptParams) -> Option<HookFuture> {
        None
    }
    /// After end of data, before the reply; `data` has our Received line on top.
    fn on_message(
        &self,
        _session: SessionInfo,
        _envelope: Envelope,
        _data: Arc<Vec<u8>>,
    ) -> Option<HookFuture> {
        None
    }
}

/// No hooks at all.
#[derive(Debug, Default, Clone, Copy)]
pub struct NoHooks;
impl Hooks for NoHooks {
    fn enabled(&self) -> HookSet {
        HookSet::NONE
    }
}

/// A pending credential check: `Ok(true)` accepts, `Ok(false)` refuses (535), `Err` is a failure
/// of the checker (454 4.7.0).
pub type AuthFuture = Pin<Box<dyn Future<Output = Result<bool, String>> + Send + 'static>>;

/// Checks AUTH credentials (the API's `auth=` option: a callable or a user → password map).
pub trait Authenticator: Send + Sync + 'static {
    /// Check `user` / `password` (from PLAIN or LOGIN).
    fn authenticate(&self, user: String, password: String) -> AuthFuture;
}

/// A fixed user → password table.
#[derive(Debug, Clone, Default)]
pub struct StaticCredentials(pub HashMap<String, String>);

impl Authenticator for StaticCredentials {
    fn authenticate(&self, user: String, password: String) -> AuthFuture {
        Box::pin(std::future::ready(Ok(self.check(&user, &password))))
    }
}

impl StaticCredentials {
    /// True when `password` is `user`'s. Takes the same path whether or not the user exists and
    /// whatever the password: an unknown user is compared against a dummy secret, and both sides
    /// are hashed first so the comparison (`subtle`, which the optimiser cannot shortcut) always
    /// runs over 32 bytes and the time taken tells neither which users exist nor a password's
    /// length.
    pub fn check(&self, user: &str, password: &str) -> bool {
        use subtle::ConstantTimeEq;
        const DUMMY: &str = "\u{0}postwire: no such user\u{0}";
        let (stored, known) = match self.0.get(user) {
            Some(p) => (p.as_str(), subtle::Choice::from(1)),
            None => (DUMMY, subtle::Choice::from(0)),
        };
        let same = digest(stored.as_bytes()).ct_eq(&digest(password.as_bytes()));
        bool::from(same & known)
    }
}

/// A fixed-size digest for the constant-time comparison (SHA-256 from ring, which rustls already
/// brings).
fn digest(b: &[u8]) -> [u8; 32] {
    let d = ring::digest::digest(&ring::digest::SHA256, b);
    let mut out = [0u8; 32];
    out.copy_from_slice(d.as_ref());
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn static_credentials_check_user_and_password() {
        let c = StaticCredentials(HashMap::from([("alice".to_string(), "s3cret".to_string())]));
        assert!(c.check("alice", "s3cret"));
        assert!(!c.check("alice", "s3cre"));
        assert!(!c.check("alice", "s3cret "));
        assert!(!c.check("bob", "s3cret"));
        assert!(!c.check("bob", "\u{0}postwire: no such user\u{0}"), "the dummy secret opens nothing");
        assert!(!c.check("alice", ""));
    }
}
