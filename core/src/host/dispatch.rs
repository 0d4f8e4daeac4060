//! Hook dispatch: the server's [`Hooks`] and [`Authenticator`] for hooks written in a host
//! language. Each call becomes a [`HookRequest`] — owned arguments plus a [`Responder`] — that
//! the host answers on its own thread:
//!
//! - [`HookDispatch::on_thread`]: requests go to one [`BatchThread`] per server, which hands
//!   them to the host in batches (Python takes the GIL once per batch; C calls its function
//!   pointers from that library thread);
//! - [`HookDispatch::on_workers`]: requests go to a bounded pool of host threads
//!   ([`WorkerPool`]) that take them in batches too, but let hooks that block (a plain Python
//!   function writing to a database) overlap instead of holding up every session;
//! - [`HookDispatch::with_callback`]: each request is handed to a callback at once, on the tokio
//!   thread that made it (Node queues it to the JavaScript thread with a ThreadsafeFunction).
//!
//! Whatever the host does, the session gets an answer: a responder dropped unanswered (a host
//! that failed, a queue closed at exit) or answered with a failure makes the server answer
//! `451 4.3.0`, and a hook that does not answer within `hook_timeout` (a server option) does the
//! same — the session never waits on a host forever.

use std::future::Future;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::oneshot;

use super::batch::{Batch, BatchThread};
use super::workers::{WorkerBatch, WorkerPool};
use crate::proto::params::{MailParams, RcptParams};
use crate::proto::Reply;
use crate::server::{AuthFuture, Authenticator, Envelope, HookFuture, HookSet, Hooks, SessionInfo};

/// Requests handed to the host in one batch at most (one host lock for all of them).
pub const HOOK_BATCH: usize = 256;

/// The answer channel of one request. Answer it once; dropping it unanswered is a hook failure
/// (`451 4.3.0`). `Send`: it may be answered from any thread (an asyncio loop, a JS callback).
#[derive(Debug)]
pub struct Responder<T> {
    tx: oneshot::Sender<Result<T, String>>,
}

/// The responder of a hook: `Ok(None)` accepts, `Ok(Some(reply))` refuses with that reply.
pub type HookResponder = Responder<Option<Reply>>;

/// The responder of a credential check: `Ok(true)` accepts the user, `Ok(false)` refuses (535).
pub type AuthResponder = Responder<bool>;

impl<T> Responder<T> {
    /// Answer with the host's result (`Err(text)`: the hook failed; `text` is logged).
    pub fn answer(self, result: Result<T, String>) {
        // Err: the session stopped waiting (hook_timeout, or it closed); nothing to do.
        let _ = self.tx.send(result);
    }

    /// Answer with a value.
    pub fn ok(self, value: T) {
        self.answer(Ok(value));
    }

    /// Answer that the hook failed (the server answers `451 4.3.0` and logs `why`).
    pub fn fail(self, why: impl Into<String>) {
        self.answer(Err(why.into()));
    }

    /// True when nobody waits for the answer any more (the hook timed out, the session ended).
    pub fn is_closed(&self) -> bool {
        self.tx.is_closed()
    }
}

/// One hook call for the host: the hook's arguments, owned, and where to send its answer.
pub enum HookRequest {
    /// `on_connect(session)`.
    Connect {
        /// The new session.
        session: SessionInfo,
        /// Where the answer goes.
        respond: HookResponder,
    },
    /// `on_mail_from(session, address, params)`; `params.to_pairs()` gives the host's map.
    MailFrom {
        /// The session.
        session: SessionInfo,
        /// The reverse-path; `""` is the null sender.
        address: String,
        /// The MAIL parameters, typed.
        params: MailParams,
        /// Where the answer goes.
        respond: HookResponder,
    },
    /// `on_rcpt_to(session, address, params)`.
    RcptTo {
        /// The session.
        session: SessionInfo,
        /// The forward-path.
        address: String,
        /// The RCPT parameters, typed.
        params: RcptParams,
        /// Where the answer goes.
        respond: HookResponder,
    },
    /// `on_message(session, envelope, data)`; `data` has our Received line on top.
    Message {
        /// The session.
        session: SessionInfo,
        /// Sender, recipients and their parameters.
        envelope: Envelope,
        /// The message bytes.
        data: Arc<Vec<u8>>,
        /// Where the answer goes.
        respond: HookResponder,
    },
    /// `auth(user, password) -> bool`.
    Auth {
        /// The user name given in AUTH.
        user: String,
        /// The password given in AUTH.
        password: String,
        /// Where the answer goes.
        respond: AuthResponder,
    },
}

impl HookRequest {
    /// The API's name of the hook: `"on_connect"`, `"on_mail_from"`, `"on_rcpt_to"`,
    /// `"on_message"` or `"auth"`.
    pub fn name(&self) -> &'static str {
        match self {
            HookRequest::Connect { .. } => "on_connect",
            HookRequest::MailFrom { .. } => "on_mail_from",
            HookRequest::RcptTo { .. } => "on_rcpt_to",
            HookRequest::Message { .. } => "on_message",
            HookRequest::Auth { .. } => "auth",
        }
    }

    /// Answer that the hook failed, whatever its kind (`451 4.3.0`, or `454` for AUTH).
    pub fn fail(self, why: impl Into<String>) {
        match self {
            HookRequest::Connect { respond, .. }
            | HookRequest::MailFrom { respond, .. }
            | HookRequest::RcptTo { respond, .. }
            | HookRequest::Message { respond, .. } => respond.fail(why),
            HookRequest::Auth { respond, .. } => respond.fail(why),
        }
    }
}

impl std::fmt::Debug for HookRequest {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Never the password, nor the message bytes.
        match self {
            HookRequest::Auth { user, .. } => write!(f, "auth({user:?}, ****)"),
            other => write!(f, "{}(..)", other.name()),
        }
    }
}

/// A host's refusal `(code, text)` as a [`Reply`]: the code must be 200..=599 (anything else is a
/// hook failure, `Err`), an enhanced code at the start of `text` is recognised (`"5.7.1 …"`).
/// One rule for Python's `(code, text)`, Node's `[code, text]` and C's `pw_reply_out`.
pub fn hook_reply(code: i64, text: &str) -> Result<Reply, String> {
    match u16::try_from(code) {
        Ok(c) if (200..600).contains(&c) => Ok(Reply::new(c, text, None)),
        _ => Err(format!("hook answered code {code}, which is not an SMTP reply code (200..599)")),
    }
}

enum Sink {
    Thread(BatchThread<HookRequest>),
    Workers(WorkerPool<HookRequest>),
    Callback { call: Box<dyn Fn(HookRequest) + Send + Sync>, closed: AtomicBool },
}

/// The server's hooks and authenticator, answered by a host (see the module doc). Give it to
/// [`crate::server::Server::with_hooks`], and to `ServerOptions::auth` when the host checks
/// credentials.
pub struct HookDispatch {
    enabled: HookSet,
    timeout: Duration,
    sink: Sink,
}

impl HookDispatch {
    /// Requests go to a thread named `name`, started with the first one, which calls `handler`
    /// with batches of them. `enabled` says which hooks the host has (the others cost nothing);
    /// `hook_timeout` bounds each wait for an answer.
    pub fn on_thread(
        name: &str,
        enabled: HookSet,
        hook_timeout: Duration,
        handler: impl Fn(&mut Batch<'_, HookRequest>) + Send + Sync + 'static,
    ) -> Self {
        let sink = Sink::Thread(BatchThread::new(name, HOOK_BATCH, handler));
        HookDispatch { enabled, timeout: hook_timeout, sink }
    }

    /// Requests go to a pool of at most `workers` threads named `name` (started as needed;
    /// `ServerOptions::hook_workers`), each calling `handler` with batches it pulls from one
    /// queue. The handler takes the host's lock *before* pulling the first request (the batch
    /// may then be empty); see [`WorkerPool`] for how blocking hooks overlap while fast ones
    /// keep one lock per batch.
    pub fn on_workers(
        name: &str,
        enabled: HookSet,
        hook_timeout: Duration,
        workers: usize,
        handler: impl Fn(&mut WorkerBatch<'_, HookRequest>) + Send + Sync + 'static,
    ) -> Self {
        let sink = Sink::Workers(WorkerPool::new(name, workers, HOOK_BATCH, handler));
        HookDispatch { enabled, timeout: hook_timeout, sink }
    }

    /// True on a thread of this dispatch's host side (its hook thread or one of its workers): a
    /// host refuses there what would wait for its own hooks (a blocking `stop()` from a hook).
    pub fn is_host_thread(&self) -> bool {
        match &self.sink {
            Sink::Thread(t) => t.is_own_thread(),
            Sink::Workers(w) => w.is_worker(),
            Sink::Callback { .. } => false,
        }
    }

    /// Each request is handed to `call` at once, on the runtime thread that made it; `call` must
    /// not block (it queues the request to the host's own thread or loop).
    pub fn with_callback(
        enabled: HookSet,
        hook_timeout: Duration,
        call: impl Fn(HookRequest) + Send + Sync + 'static,
    ) -> Self {
        let sink = Sink::Callback { call: Box::new(call), closed: AtomicBool::new(false) };
        HookDispatch { enabled, timeout: hook_timeout, sink }
    }

    /// No more requests to the host (it is going away): from now on every hook call fails at
    /// once (`451`). Requests already queued are still handed over.
    pub fn close(&self) {
        match &self.sink {
            Sink::Thread(t) => t.close(),
            Sink::Workers(w) => w.close(),
            Sink::Callback { closed, .. } => closed.store(true, Ordering::Relaxed),
        }
    }

    /// Wait until every request queued so far was handed to the host and handled (thread mode;
    /// at once in callback mode, where nothing is queued here). A host whose hooks hold pointers
    /// it is about to free (C's `user_data`) calls it once the server stopped serving (no session
    /// is left to make a request), then [`close`]s: from then on no hook of this dispatch runs.
    /// Returns at once when called from the hook thread itself, or after [`close`].
    ///
    /// Why it is needed: a session that gave up on a hook (`hook_timeout`) ends, but its request
    /// may still wait in the queue, and the host would be called with it later.
    ///
    /// [`close`]: Self::close
    pub fn flush(&self) {
        match &self.sink {
            Sink::Thread(t) => t.flush(),
            Sink::Workers(w) => w.flush(),
            Sink::Callback { .. } => {}
        }
    }

    fn submit<T: Send + 'static>(
        &self,
        make: impl FnOnce(Responder<T>) -> HookRequest,
    ) -> impl Future<Output = Result<T, String>> + Send + 'static {
        let (tx, rx) = oneshot::channel();
        let request = make(Responder { tx });
        let name = request.name();
        match &self.sink {
            // Err: closed; dropping the request answers the session below.
            Sink::Thread(t) => drop(t.send(request)),
            Sink::Workers(w) => drop(w.send(request)),
            Sink::Callback { call, closed } => {
                if !closed.load(Ordering::Relaxed) {
                    // A panicking callback drops the request: the same 451 as any failure.
                    let _ = catch_unwind(AssertUnwindSafe(|| call(request)));
                }
            }
        }
        let timeout = self.timeout;
        async move {
            match tokio::time::timeout(timeout, rx).await {
                Ok(Ok(answer)) => answer,
                Ok(Err(_)) => Err(format!("{name} was not answered (the host dropped the call)")),
                Err(_) => Err(format!("{name} did not answer within {timeout:?} (hook_timeout)")),
            }
        }
    }
}

impl Hooks for HookDispatch {
    fn enabled(&self) -> HookSet {
        self.enabled
    }

    fn on_connect(&self, session: SessionInfo) -> Option<HookFuture> {
        self.enabled.connect.then(|| -> HookFuture {
            Box::pin(self.submit(|respond| HookRequest::Connect { session, respond }))
        })
    }

    fn on_mail_from(&self, session: SessionInfo, address: String, params: MailParams) -> Option<HookFuture> {
        self.enabled.mail_from.then(|| -> HookFuture {
            Box::pin(self.submit(|respond| HookRequest::MailFrom { session, address, params, respond }))
        })
    }

    fn on_rcpt_to(&self, session: SessionInfo, address: String, params: RcptParams) -> Option<HookFuture> {
        self.enabled.rcpt_to.then(|| -> HookFuture {
            Box::pin(self.submit(|respond| HookRequest::RcptTo { session, address, params, respond }))
        })
    }

    fn on_message(&self, session: SessionInfo, envelope: Envelope, data: Arc<Vec<u8>>) -> Option<HookFuture> {
        self.enabled.message.then(|| -> HookFuture {
            Box::pin(self.submit(|respond| HookRequest::Message { session, envelope, data, respond }))
        })
    }
}

impl Authenticator for HookDispatch {
    fn authenticate(&self, user: String, password: String) -> AuthFuture {
        Box::pin(self.submit(|respond| HookRequest::Auth { user, password, respond }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn session() -> SessionInfo {
        let a = "127.0.0.1:2525".parse().unwrap();
        SessionInfo { id: "1".into(), peer: a, local: a, helo: None, tls: false, authenticated_user: None }
    }

    fn rt() -> tokio::runtime::Runtime {
        tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap()
    }

    #[test]
    fn thread_answers_dropped_requests_and_timeouts() {
        let d = HookDispatch::on_thread("test-hooks", HookSet::ALL, Duration::from_millis(200), |batch| {
            for req in batch {
                match req {
                    HookRequest::Connect { respond, .. } => respond.ok(None),
                    HookRequest::MailFrom { address, respond, .. } if address == "never@x" => {
                        // Never answered and never dropped: the hook timeout must end the wait.
                        std::mem::forget(respond);
                    }
                    HookRequest::MailFrom { respond, .. } => drop(respond),
                    HookRequest::RcptTo { address, respond, .. } => {
                        respond.answer(hook_reply(550, &format!("5.1.1 no {address}")).map(Some))
                    }
                    HookRequest::Auth { password, respond, .. } => respond.ok(password == "pw"),
                    other => other.fail("unexpected"),
                }
            }
        });
        let rt = rt();
        assert_eq!(rt.block_on(d.on_connect(session()).unwrap()), Ok(None));
        let dropped = rt.block_on(d.on_mail_from(session(), "a@x".into(), MailParams::default()).unwrap());
        assert!(dropped.unwrap_err().contains("not answered"));
        let slow = rt.block_on(d.on_mail_from(session(), "never@x".into(), MailParams::default()).unwrap());
        assert!(slow.unwrap_err().contains("hook_timeout"));
        let refused = rt.block_on(d.on_rcpt_to(session(), "b@x".into(), RcptParams::default()).unwrap());
        let reply = refused.unwrap().unwrap();
        assert_eq!((reply.code, reply.enhanced.as_deref()), (550, Some("5.1.1")));
        assert_eq!(rt.block_on(d.authenticate("u".into(), "pw".into())), Ok(true));
        assert_eq!(rt.block_on(d.authenticate("u".into(), "no".into())), Ok(false));
        d.close();
        assert!(rt.block_on(d.on_connect(session()).unwrap()).is_err(), "closed: fails at once");
    }

    #[test]
    fn flush_waits_for_queued_requests_to_be_handled() {
        use std::sync::atomic::AtomicUsize;
        let handled = Arc::new(AtomicUsize::new(0));
        let h = Arc::clone(&handled);
        let d = HookDispatch::on_thread("test-flush", HookSet::ALL, Duration::from_secs(5), move |batch| {
            for req in batch {
                // A slow host: the requests pile up behind this one.
                std::thread::sleep(Duration::from_millis(20));
                h.fetch_add(1, Ordering::SeqCst);
                req.fail("test");
            }
        });
        // Queue requests without waiting for their answers (the futures are dropped at once,
        // as a session that timed out drops its wait); the host still gets every request.
        for _ in 0..5 {
            drop(d.on_connect(session()));
        }
        d.flush();
        d.close();
        assert_eq!(handled.load(Ordering::SeqCst), 5, "flush returned before the host saw every request");
    }

    #[test]
    fn callback_mode_and_disabled_hooks() {
        let set = HookSet { connect: false, ..HookSet::ALL };
        let d = HookDispatch::with_callback(set, Duration::from_secs(5), |req| match req {
            HookRequest::Message { data, respond, .. } => {
                respond.ok((data.len() > 3).then(|| Reply::new(554, "too long", None)))
            }
            other => panic!("callback bug for {other:?}"),
        });
        assert!(d.on_connect(session()).is_none(), "a hook the host lacks is not called");
        let rt = rt();
        let env = Envelope::default();
        let small = rt.block_on(d.on_message(session(), env.clone(), Arc::new(b"ok".to_vec())).unwrap());
        assert_eq!(small, Ok(None));
        let big = rt.block_on(d.on_message(session(), env, Arc::new(b"long".to_vec())).unwrap());
        assert_eq!(big.unwrap().unwrap().code, 554);
        let panicked = rt.block_on(d.on_rcpt_to(session(), "b@x".into(), RcptParams::default()).unwrap());
        assert!(panicked.is_err(), "a panicking callback is a failure, not a hang");
    }

    #[test]
    fn hook_reply_checks_the_code() {
        assert_eq!(hook_reply(550, "5.7.1 relay denied").unwrap().enhanced.as_deref(), Some("5.7.1"));
        for bad in [0, 199, 600, -1, 70000] {
            assert!(hook_reply(bad, "x").is_err(), "{bad}");
        }
    }
}
