//! A connection pool over [`Client`] sessions: reuse sessions across sends, with a hard cap on
//! open connections, idle timeout, lifetime limit, a NOOP health check before reusing a session
//! that sat idle, and a bounded retry on a fresh connection when a connection drops before the
//! message went out.
//!
//! nodemailer's pooled transport and lettre's pool are the bar; their known bugs are what this
//! pool is built not to have:
//! - **hang after idle periods**: a session the server closed while it sat idle is found out
//!   (health check, or the first read failing) and replaced; a background reaper closes
//!   sessions idle past `idle_timeout` so none lingers half-dead.
//! - **caps not enforced**: every open connection — busy, idle or being closed — holds one permit
//!   of a `tokio::sync::Semaphore` sized `max_connections` until its socket is closed, and the
//!   per-destination cap is a second semaphore of send slots (a new connection is made only by a
//!   slot holder that found no idle one, so connections per destination never exceed slots).
//!   tokio semaphores are FIFO, so waiters are served in arrival order.
//! - **unbounded requeue**: a failed send is retried at most `max_retries` times, and only when
//!   the failure left the message certainly undelivered (see below); otherwise the error goes to
//!   the caller.
//!
//! When is a retry safe? Only when the connection failed (connect, `protocol`, `io` or `timeout`
//! error with no server reply, or a `421` reply — the server is closing the session, RFC 5321
//! §3.8, e.g. a stale idle-timeout 421 read as the reply to MAIL) *before any message content
//! was written*: while connecting, at MAIL, RCPT, or while waiting for the 354 to DATA. Once
//! content is on the wire the server may have accepted the message even if its reply never
//! arrived, so we never resend. The session says which it was: [`Client::content_sent`]. Every
//! retry counts against `max_retries`.
//!
//! Pooled sessions do not record a transcript (a long-lived session's log would grow without
//! bound): `record_transcript` is forced off.
//!
//! A session is only reused for a send whose [`Destination`] would have opened the same session:
//! the key holds the host (lower-cased), port, TLS mode, CA file, `accept_invalid_certs`,
//! `tls_server_name`, `allow_plaintext_auth`, hello name, PIPELINING/CHUNKING switches, timeouts,
//! reply limits and the AUTH user — and a hash of the AUTH secret, keyed with a random per-pool
//! [`RandomState`] (the secret itself is never kept in the key). So a caller that verifies
//! certificates never gets a session opened without verification, and a caller with a wrong
//! password never gets a session someone else authenticated: it connects and fails `auth` itself.
//! (`record_transcript` is the one option left out: it is always off here.)

use std::collections::hash_map::RandomState;
use std::collections::HashMap;
use std::hash::BuildHasher;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, Weak};
use std::time::{Duration, Instant};

use tokio::sync::{Notify, OwnedSemaphorePermit, Semaphore};

use crate::error::{Error, ErrorKind, Result};

use super::options::{ClientOptions, ClientTimeouts, TlsMode};
use super::result::{SendOptions, SendResult};
use super::session::Client;

/// How long a QUIT may take when the pool closes a session.
const QUIT_TIMEOUT: Duration = Duration::from_secs(2);
/// Upper bound of the NOOP health check (the session's own `other` timeout if shorter).
const HEALTH_CHECK_TIMEOUT: Duration = Duration::from_secs(5);

/// Limits and timers of a [`Pool`]. A binding deserializes it from the host's options
/// (`host::options::pool_options`): fields left out keep the defaults, durations are float
/// seconds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct PoolOptions {
    /// Hard cap on open connections across all destinations (busy, idle or closing).
    pub max_connections: usize,
    /// Cap on open connections (and concurrent sends) to one destination.
    pub max_per_destination: usize,
    /// An idle session older than this is closed (QUIT) instead of reused.
    #[serde(with = "crate::option_values::secs")]
    pub idle_timeout: Duration,
    /// A session older than this is closed after its current send.
    #[serde(with = "crate::option_values::secs")]
    pub max_lifetime: Duration,
    /// How many times a send is retried on a fresh connection after the connection dropped
    /// before any message content was written.
    pub max_retries: u32,
    /// A session idle longer than this is checked with NOOP before it is reused.
    #[serde(with = "crate::option_values::secs")]
    pub health_check_after: Duration,
    /// A session is closed after this many messages (0 = no limit); nodemailer's `maxMessages`.
    pub max_messages_per_connection: u32,
}

impl Default for PoolOptions {
    /// 10 connections, 5 per destination, 60 s idle, 10 min lifetime, 2 retries, health check
    /// after 10 s idle, 1000 messages per connection.
    fn default() -> Self {
        PoolOptions {
            max_connections: 10,
            max_per_destination: 5,
            idle_timeout: Duration::from_secs(60),
            max_lifetime: Duration::from_secs(600),
            max_retries: 2,
            health_check_after: Duration::from_secs(10),
            max_messages_per_connection: 1000,
        }
    }
}

/// Where a pooled send goes: the session options and optional AUTH credentials. `Debug` shows
/// the secret as `****`.
#[derive(Clone)]
pub struct Destination {
    /// How to open a session (host, port, TLS, timeouts, …).
    pub options: ClientOptions,
    /// `(user, secret)` for AUTH after connecting; `None` = no AUTH.
    pub credentials: Option<(String, String)>,
}

impl std::fmt::Debug for Destination {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let Destination { options, credentials } = self;
        f.debug_struct("Destination")
            .field("options", options)
            .field("credentials", &super::transcript::masked_credentials(credentials))
            .finish()
    }
}

impl Destination {
    /// A destination without AUTH.
    pub fn new(options: ClientOptions) -> Self {
        Destination { options, credentials: None }
    }

    /// The same destination, authenticating as `user` with `secret`.
    pub fn with_credentials(mut self, user: impl Into<String>, secret: impl Into<String>) -> Self {
        self.credentials = Some((user.into(), secret.into()));
        self
    }
}

/// Counters of a [`Pool`].
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize)]
pub struct PoolStats {
    /// Connections open now (busy, idle or closing).
    pub open: usize,
    /// Connections idle now.
    pub idle: usize,
    /// Connections opened since the pool was made.
    pub created: u64,
    /// Sends that reused an idle connection.
    pub reused: u64,
    /// Sends retried on a fresh connection after a dropped connection.
    pub retried: u64,
}

/// Which sessions a send may reuse: every option that shapes the session or its security, and
/// the AUTH identity (see the module documentation).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
struct Key {
    host: String,
    port: u16,
    tls: TlsMode,
    ca_file: Option<PathBuf>,
    accept_invalid_certs: bool,
    tls_server_name: Option<String>,
    allow_plaintext_auth: bool,
    hello_name: Option<String>,
    pipelining: bool,
    chunking: bool,
    timeouts: ClientTimeouts,
    /// `ReplyLimits` (max_line, max_lines).
    reply_limits: (usize, usize),
    user: Option<String>,
    /// Keyed hash of (user, secret); never the secret itself.
    secret_hash: Option<u64>,
}

impl Key {
    fn of(d: &Destination, hasher: &RandomState) -> Key {
        let o = &d.options;
        Key {
            host: o.host.to_ascii_lowercase(),
            port: o.effective_port(),
            tls: o.tls,
            ca_file: o.ca_file.clone(),
            accept_invalid_certs: o.accept_invalid_certs,
            tls_server_name: o.tls_server_name.clone(),
            allow_plaintext_auth: o.allow_plaintext_auth,
            hello_name: o.hello_name.clone(),
            pipelining: o.pipelining,
            chunking: o.chunking,
            timeouts: o.timeouts,
            reply_limits: (o.reply_limits.max_line, o.reply_limits.max_lines),
            user: d.credentials.as_ref().map(|(u, _)| u.clone()),
            secret_hash: d.credentials.as_ref().map(|(u, s)| hasher.hash_one((u, s))),
        }
    }
}

/// One open session with the global permit it holds until it is dropped.
struct Conn {
    client: Client,
    permit: Option<OwnedSemaphorePermit>,
    created: Instant,
    last_used: Instant,
    messages: u32,
    open: Arc<AtomicUsize>,
}

impl Drop for Conn {
    fn drop(&mut self) {
        self.open.fetch_sub(1, Ordering::SeqCst);
    }
}

struct Dest {
    slots: Arc<Semaphore>,
    /// Most recently used last: reuse takes from the end, so cold sessions age out.
    idle: Vec<Conn>,
    /// Senders of this destination waiting for a connection permit (raised under the lock).
    waiting: Arc<AtomicUsize>,
    /// Signalled when a session of this destination comes back while some of them wait.
    returned: Arc<Notify>,
}

struct Inner {
    opts: PoolOptions,
    global: Arc<Semaphore>,
    global_waiters: AtomicUsize,
    dests: Mutex<HashMap<Key, Dest>>,
    open: Arc<AtomicUsize>,
    created: AtomicU64,
    reused: AtomicU64,
    retried: AtomicU64,
    closed: AtomicBool,
    reaper_started: AtomicBool,
    /// Keys the secret hash in [`Key`]: random per pool, so the hash says nothing outside it.
    secret_hasher: RandomState,
}

/// A pool of SMTP sessions shared by clones (an `Arc` inside). See the module documentation.
#[derive(Clone)]
pub struct Pool {
    inner: Arc<Inner>,
}

impl std::fmt::Debug for Pool {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Pool").field("opts", &self.inner.opts).field("stats", &self.stats()).finish()
    }
}

/// A sender counted as waiting for a connection permit (in all, and for its destination) until
/// it is dropped — also when the waiting future is. Both counts go down together under the
/// pool's lock, where `checkin` reads them: apart, a `checkin` in between could take a waiter
/// of its own destination for one of another (and close a session it should hand over), or the
/// reverse (and leave a session idle while another destination waits for its permit).
struct Waiting<'a> {
    pool: &'a Pool,
    destination: Arc<AtomicUsize>,
}

impl Drop for Waiting<'_> {
    fn drop(&mut self) {
        let _counted_under = self.pool.lock();
        self.pool.inner.global_waiters.fetch_sub(1, Ordering::SeqCst);
        self.destination.fetch_sub(1, Ordering::SeqCst);
    }
}

/// True when `e` is a connection failure (no server reply) or a `421` (the server closes the
/// session) that happened before any message content was written (`content_sent` false), so the
/// message is certainly not delivered and a fresh connection may do better.
fn failed_before_content(e: &Error, content_sent: bool) -> bool {
    if content_sent {
        return false;
    }
    match e.reply() {
        Some(r) => r.code == 421,
        None => {
            matches!(e.kind(), ErrorKind::Protocol | ErrorKind::Io | ErrorKind::Timeout | ErrorKind::Connect)
        }
    }
}

/// True when a failure to open a session may go away on a fresh attempt.
fn connect_retryable(e: &Error) -> bool {
    e.reply().is_none()
        && matches!(e.kind(), ErrorKind::Protocol | ErrorKind::Io | ErrorKind::Timeout | ErrorKind::Connect)
}

impl Pool {
    /// A new, empty pool. Zero caps are raised to 1; caps above `Semaphore::MAX_PERMITS`
    /// (`usize::MAX >> 3`, unreachable in practice — "no limit" from a binding) are lowered to
    /// it, since the caps are tokio semaphores. [`Pool::options`] shows the caps in force.
    pub fn new(opts: PoolOptions) -> Pool {
        let mut opts = opts;
        opts.max_connections = opts.max_connections.clamp(1, Semaphore::MAX_PERMITS);
        opts.max_per_destination = opts.max_per_destination.clamp(1, Semaphore::MAX_PERMITS);
        Pool {
            inner: Arc::new(Inner {
                opts,
                global: Arc::new(Semaphore::new(opts.max_connections)),
                global_waiters: AtomicUsize::new(0),
                dests: Mutex::new(HashMap::new()),
                open: Arc::new(AtomicUsize::new(0)),
                created: AtomicU64::new(0),
                reused: AtomicU64::new(0),
                retried: AtomicU64::new(0),
                closed: AtomicBool::new(false),
                reaper_started: AtomicBool::new(false),
                secret_hasher: RandomState::new(),
            }),
        }
    }

    /// The options the pool runs with.
    pub fn options(&self) -> &PoolOptions {
        &self.inner.opts
    }

    /// Current counters.
    pub fn stats(&self) -> PoolStats {
        let idle = self.lock().values().map(|d| d.idle.len()).sum();
        PoolStats {
            open: self.inner.open.load(Ordering::SeqCst),
            idle,
            created: self.inner.created.load(Ordering::SeqCst),
            reused: self.inner.reused.load(Ordering::SeqCst),
            retried: self.inner.retried.load(Ordering::SeqCst),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<Key, Dest>> {
        // A panic while holding the lock leaves only plain data behind; keep going.
        self.inner.dests.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Send one message through a pooled session to `dest` (same rules and result as
    /// [`Client::send`]). Waits (FIFO) while the caps are reached. Retries on a fresh connection
    /// at most `max_retries` times when the connection dropped before any content was written.
    ///
    /// Errors: those of [`Client::connect`], [`Client::login`] and [`Client::send`];
    /// `invalid_input` after [`Pool::close`].
    pub async fn send(
        &self,
        dest: &Destination,
        mail_from: &str,
        rcpt_to: &[String],
        message: &[u8],
    ) -> Result<SendResult> {
        self.send_with(dest, &SendOptions::new(mail_from, rcpt_to.to_vec()), message).await
    }

    /// [`Pool::send`] with the envelope's ESMTP parameters (DSN, `mail_params`, `rcpt_params`),
    /// as [`Client::send_with`].
    pub async fn send_with(
        &self,
        dest: &Destination,
        envelope: &SendOptions,
        message: &[u8],
    ) -> Result<SendResult> {
        self.check_open()?;
        self.start_reaper();
        let key = Key::of(dest, &self.inner.secret_hasher);
        let slots = {
            let mut d = self.lock();
            d.entry(key.clone())
                .or_insert_with(|| Dest {
                    slots: Arc::new(Semaphore::new(self.inner.opts.max_per_destination)),
                    idle: Vec::new(),
                    waiting: Arc::new(AtomicUsize::new(0)),
                    returned: Arc::new(Notify::new()),
                })
                .slots
                .clone()
        };
        let _slot = slots
            .acquire_owned()
            .await
            .map_err(|_| Error::protocol("the pool's destination slots were closed"))?;
        self.check_open()?;

        let mut attempt: u32 = 0;
        let mut fresh_only = false;
        let mut permit: Option<OwnedSemaphorePermit> = None;
        loop {
            let idle = if fresh_only { None } else { self.checkout_idle(&key).await };
            let mut conn = match idle {
                Some(c) => c,
                // Boxed, as is the send below: a send waiting for its slot is then a small future
                // (the connect and transaction states are only allocated once it runs), which
                // matters when thousands are queued at once.
                None => match Box::pin(self.connect_new(&key, dest, permit.take())).await {
                    Ok(Some(c)) => c,
                    // A session of this destination came back while we waited: take it, even
                    // on a retry (it just carried a send; `checkout_idle` checks it). Looking
                    // only for a fresh connection here would find the pool full again at once
                    // and spin without ever waiting.
                    Ok(None) => {
                        fresh_only = false;
                        continue;
                    }
                    Err(e) => {
                        if connect_retryable(&e) && attempt < self.inner.opts.max_retries && !self.is_closed()
                        {
                            attempt += 1;
                            self.inner.retried.fetch_add(1, Ordering::SeqCst);
                            fresh_only = true;
                            continue;
                        }
                        return Err(e);
                    }
                },
            };
            match Box::pin(conn.client.send_with(envelope, message)).await {
                Ok(r) => {
                    conn.messages = conn.messages.saturating_add(1);
                    self.checkin(&key, conn);
                    return Ok(r);
                }
                Err(e) => {
                    let retry = conn.client.is_closed()
                        && failed_before_content(&e, conn.client.content_sent())
                        && attempt < self.inner.opts.max_retries
                        && !self.is_closed();
                    if retry {
                        // Keep our place under the global cap for the fresh connection.
                        permit = conn.permit.take();
                        drop(conn);
                        attempt += 1;
                        self.inner.retried.fetch_add(1, Ordering::SeqCst);
                        fresh_only = true;
                        continue;
                    }
                    self.checkin(&key, conn);
                    return Err(e);
                }
            }
        }
    }

    /// QUIT every idle session and refuse further sends; sends in flight finish and their
    /// sessions are closed afterwards.
    pub async fn close(&self) {
        self.inner.closed.store(true, Ordering::SeqCst);
        let conns: Vec<Conn> = {
            let mut d = self.lock();
            d.values_mut().flat_map(|dest| dest.idle.drain(..)).collect()
        };
        futures::future::join_all(conns.into_iter().map(quit_conn)).await;
    }

    /// True after [`Pool::close`].
    pub fn is_closed(&self) -> bool {
        self.inner.closed.load(Ordering::SeqCst)
    }

    fn check_open(&self) -> Result<()> {
        if self.is_closed() {
            return Err(Error::invalid_input("the pool is closed"));
        }
        Ok(())
    }

    /// Take an idle session for `key` that is still fit: not expired (else closed), and answered
    /// NOOP when it sat idle longer than `health_check_after` (else dropped). Bounded by the
    /// number of idle sessions, each looked at once.
    async fn checkout_idle(&self, key: &Key) -> Option<Conn> {
        let o = self.inner.opts;
        loop {
            let conn = self.lock().get_mut(key).and_then(|d| d.idle.pop())?;
            let now = Instant::now();
            if conn.client.is_closed() {
                continue;
            }
            if now - conn.last_used >= o.idle_timeout || now - conn.created >= o.max_lifetime {
                tokio::spawn(quit_conn(conn));
                continue;
            }
            let mut conn = conn;
            if now - conn.last_used >= o.health_check_after {
                let t = HEALTH_CHECK_TIMEOUT.min(conn.client.options().timeouts.other);
                let ok = matches!(
                    tokio::time::timeout(t, conn.client.noop()).await,
                    Ok(Ok(ref r)) if r.is_positive()
                );
                if !ok {
                    continue;
                }
            }
            self.inner.reused.fetch_add(1, Ordering::SeqCst);
            return Some(conn);
        }
    }

    /// Open a new session under the global cap: use `permit` if the caller kept one, else take
    /// a free one, else evict the least recently used idle session of any destination, else
    /// wait in line for one. `None`: while it waited, a session of this destination came back
    /// idle — reusing it beats opening another.
    async fn connect_new(
        &self,
        key: &Key,
        dest: &Destination,
        permit: Option<OwnedSemaphorePermit>,
    ) -> Result<Option<Conn>> {
        let permit = match permit {
            Some(p) => p,
            None => match self.global_permit(key).await? {
                Some(p) => p,
                None => return Ok(None),
            },
        };
        let mut opts = dest.options.clone();
        opts.record_transcript = false;
        let mut client = Client::connect(opts).await?;
        if let Some((user, secret)) = &dest.credentials {
            if let Err(e) = client.login(user, secret, None).await {
                let _ = tokio::time::timeout(QUIT_TIMEOUT, client.quit()).await;
                return Err(e);
            }
        }
        self.inner.open.fetch_add(1, Ordering::SeqCst);
        self.inner.created.fetch_add(1, Ordering::SeqCst);
        let now = Instant::now();
        Ok(Some(Conn {
            client,
            permit: Some(permit),
            created: now,
            last_used: now,
            messages: 0,
            open: self.inner.open.clone(),
        }))
    }

    /// A connection permit, or `None` when a session of `key` came back idle meanwhile.
    async fn global_permit(&self, key: &Key) -> Result<Option<OwnedSemaphorePermit>> {
        if let Ok(p) = self.inner.global.clone().try_acquire_owned() {
            return Ok(Some(p));
        }
        // Full: close the least recently used idle session of another destination; its permit
        // is released when its socket is closed, and goes to the first waiter in line. We count
        // ourselves as waiters (in all, and for our destination) under the same lock `checkin`
        // reads the counts under, so a session coming back concurrently is either found here,
        // handed to us (same destination) or closed there — never left idle while we wait.
        let (victim, waiting, returned) = {
            let mut d = self.lock();
            let Some(own) = d.get(key) else {
                return Err(Error::protocol("the pool lost a destination it was sending to"));
            };
            if !own.idle.is_empty() {
                return Ok(None);
            }
            let (waiting, returned) = (own.waiting.clone(), own.returned.clone());
            self.inner.global_waiters.fetch_add(1, Ordering::SeqCst);
            waiting.fetch_add(1, Ordering::SeqCst);
            let mut best: Option<(Key, usize, Instant)> = None;
            for (k, dest) in d.iter() {
                for (i, c) in dest.idle.iter().enumerate() {
                    if best.as_ref().is_none_or(|b| c.last_used < b.2) {
                        best = Some((k.clone(), i, c.last_used));
                    }
                }
            }
            let victim = best.and_then(|(k, i, _)| d.get_mut(&k).map(|dest| dest.idle.remove(i)));
            (victim, waiting, returned)
        };
        let _waiting = Waiting { pool: self, destination: waiting };
        if let Some(v) = victim {
            tokio::spawn(quit_conn(v));
        }
        // `notify_one` keeps a wake-up for a waiter that is not polled yet: none is lost between
        // the lock above and this point.
        tokio::select! {
            p = self.inner.global.clone().acquire_owned() => {
                p.map(Some).map_err(|_| Error::protocol("the pool's connection permits were closed"))
            }
            () = returned.notified() => Ok(None),
        }
    }

    /// Return a session after a send: keep it idle, or close it when it is broken, too old,
    /// used up, the pool is closing, or a sender of another destination waits for a connection
    /// permit. When only senders of this destination wait, it is kept and one of them is woken
    /// to reuse it.
    fn checkin(&self, key: &Key, mut conn: Conn) {
        if conn.client.is_closed() {
            return;
        }
        let o = self.inner.opts;
        let now = Instant::now();
        let used_up = o.max_messages_per_connection > 0 && conn.messages >= o.max_messages_per_connection;
        if self.is_closed() || used_up || now - conn.created >= o.max_lifetime {
            tokio::spawn(quit_conn(conn));
            return;
        }
        conn.last_used = now;
        let mut d = self.lock();
        // Read under the lock: see `global_permit`.
        let all = self.inner.global_waiters.load(Ordering::SeqCst);
        match d.get_mut(key) {
            Some(dest) if all == 0 => dest.idle.push(conn),
            Some(dest) if all == dest.waiting.load(Ordering::SeqCst) => {
                dest.idle.push(conn);
                dest.returned.notify_one();
            }
            _ => {
                drop(d);
                tokio::spawn(quit_conn(conn));
            }
        }
    }

    /// Start the background task that closes sessions idle past `idle_timeout` or older than
    /// `max_lifetime`. It holds only a weak reference and ends with the pool.
    fn start_reaper(&self) {
        if self.inner.reaper_started.swap(true, Ordering::SeqCst) {
            return;
        }
        let o = self.inner.opts;
        let period =
            (o.idle_timeout.min(o.max_lifetime) / 4).clamp(Duration::from_millis(20), Duration::from_secs(1));
        let weak: Weak<Inner> = Arc::downgrade(&self.inner);
        tokio::spawn(async move {
            loop {
                tokio::time::sleep(period).await;
                let Some(inner) = weak.upgrade() else { break };
                if inner.closed.load(Ordering::SeqCst) {
                    break;
                }
                let pool = Pool { inner };
                let now = Instant::now();
                let expired: Vec<Conn> = {
                    let mut d = pool.lock();
                    let mut out = Vec::new();
                    for dest in d.values_mut() {
                        let mut i = 0;
                        while i < dest.idle.len() {
                            let c = &dest.idle[i];
                            if c.client.is_closed()
                                || now - c.last_used >= o.idle_timeout
                                || now - c.created >= o.max_lifetime
                            {
                                out.push(dest.idle.swap_remove(i));
                            } else {
                                i += 1;
                            }
                        }
                    }
                    out
                };
                drop(pool);
                for c in expired {
                    tokio::spawn(quit_conn(c));
                }
            }
        });
    }
}

/// QUIT (bounded) and drop: the socket closes and the permit returns to the pool.
async fn quit_conn(mut conn: Conn) {
    if !conn.client.is_closed() {
        let _ = tokio::time::timeout(QUIT_TIMEOUT, conn.client.quit()).await;
    }
    drop(conn);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn destination_debug_hides_the_secret() {
        let d = Destination::new(ClientOptions::new("mx.example", 25)).with_credentials("alice", "s3cr3t-pw");
        let shown = format!("{d:?}");
        assert!(!shown.contains("s3cr3t-pw"), "{shown}");
        assert!(shown.contains("\"alice\"") && shown.contains("****"), "{shown}");
        assert!(shown.contains("mx.example"), "{shown}");
    }

    #[test]
    fn huge_caps_are_clamped_not_a_panic() {
        let p = Pool::new(PoolOptions {
            max_connections: usize::MAX,
            max_per_destination: usize::MAX,
            ..Default::default()
        });
        assert_eq!(p.options().max_connections, Semaphore::MAX_PERMITS);
        assert_eq!(p.options().max_per_destination, Semaphore::MAX_PERMITS);
        let p = Pool::new(PoolOptions { max_connections: 0, max_per_destination: 0, ..Default::default() });
        assert_eq!((p.options().max_connections, p.options().max_per_destination), (1, 1));
    }

    #[test]
    fn retry_only_before_content() {
        let p = |m: &str| Error::protocol(m.to_string());
        assert!(failed_before_content(&p("connection closed by the server"), false));
        assert!(failed_before_content(&Error::timeout("no complete reply within 1s"), false));
        assert!(!failed_before_content(&p("connection closed by the server"), true), "content was written");
        assert!(!failed_before_content(&Error::invalid_input("bad"), false));
        let r = crate::proto::Reply { code: 450, enhanced: None, lines: vec!["busy".into()] };
        assert!(!failed_before_content(&Error::from_reply(r), false), "the server answered");
        let r = crate::proto::Reply { code: 421, enhanced: None, lines: vec!["idle timeout".into()] };
        assert!(failed_before_content(&Error::from_reply(r.clone()), false), "421: the server closes");
        assert!(!failed_before_content(&Error::from_reply(r), true), "421 after content was written");
    }
}
