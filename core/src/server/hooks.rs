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

/// ESMTP parameters as handed to `on_mail_from`/`on_rcpt_to`: keyword (upper-case) → value.
pub type HookParams = Vec<(String, Option<String>)>;

/// The server's hooks. Every method is optional: the default returns `None` (accept, no call).
pub trait Hooks: Send + Sync + 'static {
    /// After accept, before the banner. A refusal is sent instead of the banner, then the
    /// connection is closed.
    fn on_connect(&self, _session: SessionInfo) -> Option<HookFuture> {
        None
    }
    /// On MAIL, after syntax checks. `address` is `""` for `<>`.
    fn on_mail_from(
        &self,
        _session: SessionInfo,
        _address: String,
        _params: HookParams,
    ) -> Option<HookFuture> {
        None
    }
    /// On RCPT, after the relay policy accepted the recipient.
    fn on_rcpt_to(&self, _session: SessionInfo, _address: String, _params: HookParams) -> Option<HookFuture> {
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
impl Hooks for NoHooks {}

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
        // Compare without an early exit on the first differing byte, so the time taken does not
        // tell an attacker how much of the password was right.
        let ok = self.0.get(&user).is_some_and(|p| constant_time_eq(p.as_bytes(), password.as_bytes()));
        Box::pin(std::future::ready(Ok(ok)))
    }
}

fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    if a.len() != b.len() {
        return false;
    }
    a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}
