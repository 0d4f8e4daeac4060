//! [`ClientHandle`]: one session shared by clones — what bindings keep, and what Rust code uses
//! when several tasks talk through one session or read it while it works.
//!
//! Calls (`send`, `login`, `noop` …) serialize on the connection: each takes the session's
//! `tokio::sync::Mutex` (FIFO) for the whole exchange, as SMTP allows one conversation at a time.
//! Getters (`banner`, `capabilities`, `is_tls`, `transcript`, `is_closed`, `last_queue_id` …)
//! never take that lock: they copy from the snapshot the session publishes at the end of each
//! call (`shared.rs`), so a getter read during a ten-minute send answers at once, with the state
//! as of the end of the previous call.
//!
//! Calls run in the order they are *made*: an async host (asyncio, Node) spawns each call as a
//! task, and two tasks spawned one after the other may first be polled in either order, so
//! taking the lock in the task is not enough. [`ClientHandle::in_turn`] takes the call's place in
//! line synchronously, when the host makes the call.
//!
//! A call whose future is dropped before it finishes (a cancelled asyncio task, a caller's own
//! timeout) closes the session and says so in the snapshot at once: what the server has seen of
//! that exchange is unknown, so the connection cannot be trusted with the next one.

use std::future::Future;
use std::ops::{Deref, DerefMut};
use std::sync::Arc;

use tokio::sync::{Mutex, MutexGuard};

use crate::error::Result;
use crate::proto::{Capabilities, Reply};

use super::options::ClientOptions;
use super::result::{SendOptions, SendResult, Timings};
use super::session::Client;
use super::shared::{SessionState, Shared};
use super::turns::Line;

/// A cloneable handle on one SMTP session; see the module documentation. Open one with
/// [`ClientHandle::connect`] or [`Client::into_handle`].
#[derive(Clone)]
pub struct ClientHandle {
    session: Arc<Mutex<Client>>,
    shared: Arc<Shared>,
    options: Arc<ClientOptions>,
    /// The order of calls made through [`ClientHandle::in_turn`].
    line: Arc<Line>,
}

impl std::fmt::Debug for ClientHandle {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ClientHandle")
            .field("host", &self.options.host)
            .field("port", &self.options.effective_port())
            .field("closed", &self.is_closed())
            .field("in_flight", &self.in_flight())
            .finish_non_exhaustive()
    }
}

impl Client {
    /// Share this session through a cloneable [`ClientHandle`].
    pub fn into_handle(self) -> ClientHandle {
        let shared = Arc::clone(&self.shared);
        let options = Arc::new(self.opts.clone());
        let mut client = self;
        // `shared` now has a second owner, so this publishes everything the session knows.
        client.publish();
        ClientHandle { session: Arc::new(Mutex::new(client)), shared, options, line: Arc::default() }
    }
}

/// The session, held for one call. Dropped while the call is still running (its future was
/// dropped), it closes the session.
struct Call<'a>(MutexGuard<'a, Client>);

impl Drop for Call<'_> {
    fn drop(&mut self) {
        if self.0.in_call {
            self.0.abandoned();
        }
    }
}

impl Deref for Call<'_> {
    type Target = Client;
    fn deref(&self) -> &Client {
        &self.0
    }
}

impl DerefMut for Call<'_> {
    fn deref_mut(&mut self) -> &mut Client {
        &mut self.0
    }
}

impl ClientHandle {
    /// [`Client::connect`], as a handle.
    pub async fn connect(opts: ClientOptions) -> Result<ClientHandle> {
        Ok(Client::connect(opts).await?.into_handle())
    }

    /// Put a call in line now and return it as a future that first waits for every call put in
    /// line before it (done or dropped), then runs `f(handle)`; dropping the future leaves the
    /// line. Hosts that spawn each call as a
    /// task use this so calls made one after another run in that order.
    pub fn in_turn<T, Fut>(
        &self,
        f: impl FnOnce(ClientHandle) -> Fut,
    ) -> impl Future<Output = T> + Send + 'static
    where
        Fut: Future<Output = T> + Send + 'static,
        T: Send + 'static,
    {
        let ticket = self.line.ticket();
        let call = f(self.clone());
        async move {
            ticket.wait().await;
            let out = call.await;
            drop(ticket);
            out
        }
    }

    /// Wait (in line) for the session.
    async fn call(&self) -> Call<'_> {
        Call(self.session.lock().await)
    }

    // ---- calls: serialized on the connection ----------------------------------------------

    /// [`Client::login`].
    pub async fn login(&self, user: &str, secret: &str, mechanism: Option<&str>) -> Result<Reply> {
        self.call().await.login(user, secret, mechanism).await
    }

    /// [`Client::send`].
    pub async fn send(&self, mail_from: &str, rcpt_to: &[String], message: &[u8]) -> Result<SendResult> {
        self.call().await.send(mail_from, rcpt_to, message).await
    }

    /// [`Client::send_with`].
    pub async fn send_with(&self, envelope: &SendOptions, message: &[u8]) -> Result<SendResult> {
        self.call().await.send_with(envelope, message).await
    }

    /// [`Client::verify`].
    pub async fn verify(&self, addr: &str) -> Result<Reply> {
        self.call().await.verify(addr).await
    }

    /// [`Client::expand`].
    pub async fn expand(&self, name: &str) -> Result<Reply> {
        self.call().await.expand(name).await
    }

    /// [`Client::help`].
    pub async fn help(&self, topic: Option<&str>) -> Result<Reply> {
        self.call().await.help(topic).await
    }

    /// [`Client::noop`].
    pub async fn noop(&self) -> Result<Reply> {
        self.call().await.noop().await
    }

    /// [`Client::reset`].
    pub async fn reset(&self) -> Result<Reply> {
        self.call().await.reset().await
    }

    /// [`Client::quit`].
    pub async fn quit(&self) -> Result<Reply> {
        self.call().await.quit().await
    }

    /// [`Client::content_sent`] of the last send (waits for a call in flight: it is about that
    /// call's outcome).
    pub async fn content_sent(&self) -> bool {
        self.session.lock().await.content_sent()
    }

    // ---- getters: never wait --------------------------------------------------------------

    /// Everything the getters below return, copied under one short lock.
    pub fn state(&self) -> SessionState {
        self.shared.state()
    }

    /// The 220 banner.
    pub fn banner(&self) -> Reply {
        self.shared.lock().state.banner.clone()
    }

    /// The server's EHLO capabilities.
    pub fn capabilities(&self) -> Capabilities {
        self.shared.lock().state.capabilities.clone()
    }

    /// True when the session runs over TLS.
    pub fn is_tls(&self) -> bool {
        self.shared.lock().state.tls
    }

    /// True when the server answered EHLO (false after a HELO fallback).
    pub fn is_esmtp(&self) -> bool {
        self.shared.lock().state.esmtp
    }

    /// The name sent in EHLO/HELO.
    pub fn hello_name(&self) -> String {
        self.shared.lock().state.hello_name.clone()
    }

    /// The user of a successful login.
    pub fn authenticated_user(&self) -> Option<String> {
        self.shared.lock().state.authenticated_user.clone()
    }

    /// True once the connection is gone.
    pub fn is_closed(&self) -> bool {
        self.shared.lock().state.closed
    }

    /// The queue id the server named for the last successful send.
    pub fn last_queue_id(&self) -> Option<String> {
        self.shared.lock().state.last_queue_id.clone()
    }

    /// Session phases: connect, banner, TLS, EHLO, AUTH.
    pub fn timings(&self) -> Timings {
        self.shared.lock().state.timings
    }

    /// The wire log up to the end of the last call (see [`Client::transcript`]).
    pub fn transcript(&self) -> Vec<String> {
        self.shared.transcript()
    }

    /// The options the session was opened with.
    pub fn options(&self) -> &ClientOptions {
        &self.options
    }

    /// True while a call holds the session.
    pub fn in_flight(&self) -> bool {
        self.session.try_lock().is_err()
    }
}
