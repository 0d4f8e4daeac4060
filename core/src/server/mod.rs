//! The SMTP server: a tokio listener, one session per connection, the relay policy, Received
//! stamping, Maildir delivery, hooks for the bindings, graceful stop and counters.
//!
//! Each session is a sans-IO state machine ([`session::Session`]: every protocol decision) run
//! by a small tokio driver (`driver`: reads, writes, timers, TLS, awaiting hooks and delivery).
//!
//! ```no_run
//! # async fn demo() -> postwire::Result<()> {
//! use postwire::server::{Server, ServerOptions, Delivery};
//! let server = Server::new(ServerOptions {
//!     hostname: "mx.example.test".into(),
//!     local_domains: vec!["example.test".into()],
//!     delivery: Delivery::Maildir("/tmp/mail".into()),
//!     ..Default::default()
//! })?;
//! let addr = server.listen("127.0.0.1:0".parse().unwrap())?;
//! println!("listening on {addr}");
//! server.serve().await // until server.stop() from elsewhere
//! # }
//! ```

mod admission;
mod budget;
mod driver;
pub mod hooks;
mod io;
pub mod maildir;
pub mod options;
mod rdns;
pub mod received;
pub mod relay;
pub mod session;
mod stats;
mod tls;

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Instant;

use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{watch, Semaphore};

pub use hooks::{
    AuthFuture, Authenticator, Envelope, HookFuture, HookParams, HookResult, HookSet, Hooks, NoHooks,
    SessionInfo, StaticCredentials,
};
pub use maildir::{Maildir, MaildirLayout};
pub use options::{default_hook_workers, Delivery, ServerOptions, ServerTimeouts};
pub use relay::RelayPolicy;
pub use session::StopLevel;
pub use stats::ServerStats;

use crate::error::{Error, Result};
use crate::proto::Reply;

/// What the drivers of one server's sessions share: the state machines' configuration and the
/// I/O side (hooks, TLS, Maildir, resolver).
pub(crate) struct Shared {
    pub config: Arc<session::Config>,
    pub hooks: Arc<dyn Hooks>,
    pub tls: Option<tokio_rustls::TlsAcceptor>,
    pub maildir: Option<Maildir>,
    /// The durable queue of `delivery="queue:PATH"`.
    pub queue: Option<crate::queue::Queue>,
    pub resolver: Option<hickory_resolver::TokioResolver>,
    pub per_ip: Arc<admission::PerIp>,
}

/// An SMTP server. Cheap to share behind an `Arc`; `stop()` may be called from any thread.
pub struct Server {
    shared: Arc<Shared>,
    /// Bound and not yet served; `None` once `serve()` took them.
    listeners: Mutex<Option<Vec<std::net::TcpListener>>>,
    addrs: Mutex<Vec<SocketAddr>>,
    shutdown: watch::Sender<StopLevel>,
    sessions: Arc<Semaphore>,
    /// Set by the first [`Server::start`] (`crate::host::server`), kept for good: the outcome
    /// of serving, `None` inside until `serve()` returned.
    pub(crate) started: Mutex<Option<crate::host::server::Serving>>,
}

impl Server {
    /// A server without hooks.
    pub fn new(opts: ServerOptions) -> Result<Server> {
        Server::with_hooks(opts, Arc::new(NoHooks))
    }

    /// A server calling `hooks`. Validates the options, loads the TLS certificate and opens the
    /// Maildir or the queue's spool now, so a mistake is reported before any client connects.
    /// The queue's runner starts with [`Server::serve`] and stops when it returns.
    pub fn with_hooks(opts: ServerOptions, hooks: Arc<dyn Hooks>) -> Result<Server> {
        opts.validate()?;
        let tls = match (&opts.tls_cert, &opts.tls_key) {
            (Some(c), Some(k)) => Some(tls::load_acceptor(c, k)?),
            _ => None,
        };
        let maildir = match &opts.delivery {
            Delivery::Maildir(p) => Some(Maildir::with_layout(p, opts.maildir_layout.clone())?),
            _ => None,
        };
        let queue = match &opts.delivery {
            Delivery::Queue(p) => Some(crate::queue::Queue::open(p, opts.queue_options()?)?),
            _ => None,
        };
        let resolver = if opts.reverse_dns { rdns::system_resolver() } else { None };
        let sessions = Arc::new(Semaphore::new(opts.max_connections));
        let mut exempt = opts.connection_limit_exceptions.clone();
        exempt.extend(opts.relay_networks.iter().copied());
        let per_ip = admission::PerIp::new(opts.max_connections_per_ip, exempt);
        let config = session::Config::new(opts, hooks.enabled(), tls.is_some())?;
        let shared = Shared { config: Arc::new(config), hooks, tls, maildir, queue, resolver, per_ip };
        Ok(Server {
            shared: Arc::new(shared),
            listeners: Mutex::new(Some(Vec::new())),
            addrs: Mutex::new(Vec::new()),
            shutdown: watch::channel(StopLevel::Running).0,
            sessions,
            started: Mutex::new(None),
        })
    }

    /// Bind `addr` (port 0 = ephemeral) and return the bound address. May be called several
    /// times before `serve` or [`start`](Self::start); after either, or after `stop()`, it is
    /// `invalid_input` (the socket would never be served). Needs no runtime: bindings call it
    /// from any thread.
    pub fn listen(&self, addr: SocketAddr) -> Result<SocketAddr> {
        // Held to the end: a start() meanwhile would take the listeners without this one.
        let started = lock(&self.started);
        if self.is_stopping() {
            return Err(Error::invalid_input(STOPPED));
        }
        if started.is_some() {
            return Err(Error::invalid_input(
                "listen() after start(): a started server serves the addresses it had; call listen() before start()",
            ));
        }
        let mut listeners = lock(&self.listeners);
        let Some(listeners) = listeners.as_mut() else {
            return Err(Error::invalid_input(
                "listen() after serve(): a serving server serves the addresses it had; call listen() before serve()",
            ));
        };
        let l = std::net::TcpListener::bind(addr)
            .map_err(|e| Error::io(format!("cannot listen on {addr}: {e}")))?;
        l.set_nonblocking(true)?;
        let bound = l.local_addr()?;
        listeners.push(l);
        lock(&self.addrs).push(bound);
        Ok(bound)
    }

    /// The addresses bound so far.
    pub fn local_addrs(&self) -> Vec<SocketAddr> {
        lock(&self.addrs).clone()
    }

    /// Serve every bound address until [`Server::stop`]; then wait for the sessions in flight
    /// (idle ones are told `421` at once, transactions are finished). Must run inside a tokio
    /// runtime.
    pub async fn serve(&self) -> Result<()> {
        let listeners = {
            let mut slot = lock(&self.listeners);
            match slot.as_ref().map(Vec::is_empty) {
                None => return Err(Error::invalid_input("serve() was called already")),
                Some(true) => return Err(Error::invalid_input("serve() needs listen() first")),
                Some(false) => slot.take().unwrap_or_default(),
            }
        };
        if let Some(q) = &self.shared.queue {
            q.start();
        }
        let mut tasks = Vec::new();
        for l in listeners {
            let l = TcpListener::from_std(l)?;
            let shared = Arc::clone(&self.shared);
            let sessions = Arc::clone(&self.sessions);
            let shutdown = self.shutdown.subscribe();
            tasks.push(tokio::spawn(accept_loop(l, shared, sessions, shutdown)));
        }
        let mut rx = self.shutdown.subscribe();
        let _ = rx.wait_for(|s| *s >= StopLevel::Stopping).await;
        for t in tasks {
            let _ = t.await;
        }
        // Every session holds one permit: having them all back means every session has ended.
        let all = u32::try_from(self.shared.config.opts.max_connections).unwrap_or(u32::MAX);
        let grace = self.shared.config.opts.shutdown_grace;
        if tokio::time::timeout(grace, self.sessions.acquire_many(all)).await.is_err() {
            tracing::warn!("sessions still open {grace:?} after stop(): closing them with 421");
            self.force_stop();
            let last = std::time::Duration::from_secs(10);
            if tokio::time::timeout(last, self.sessions.acquire_many(all)).await.is_err() {
                tracing::warn!("sessions still open after being forced closed; returning anyway");
            }
        }
        if let Some(q) = &self.shared.queue {
            // The runner finishes the deliveries it has begun, within the same grace; what is
            // cut short stays in the spool and is tried again by the next server.
            if tokio::time::timeout(grace, q.stop()).await.is_err() {
                tracing::warn!(
                    "queue deliveries still running {grace:?} after stop(): left to the next start"
                );
            }
        }
        Ok(())
    }

    /// Begin a graceful stop: stop accepting; idle sessions get `421`, open transactions may
    /// finish (only RCPT, DATA, BDAT and QUIT are still served) until `shutdown_grace` has passed,
    /// then every session is told `421` and closed.
    pub fn stop(&self) {
        self.shutdown.send_if_modified(|s| {
            let was = *s;
            *s = (*s).max(StopLevel::Stopping);
            *s != was
        });
    }

    /// Stop now: every session, even one in the middle of a message, is told `421` and closed.
    pub fn force_stop(&self) {
        self.shutdown.send_replace(StopLevel::Forced);
    }

    /// True once `stop()` was called.
    pub fn is_stopping(&self) -> bool {
        *self.shutdown.borrow() >= StopLevel::Stopping
    }

    /// The counters now.
    pub fn stats(&self) -> ServerStats {
        self.shared.config.stats()
    }

    /// The options in force.
    pub fn options(&self) -> &ServerOptions {
        &self.shared.config.opts
    }

    /// The durable queue of `delivery="queue:PATH"` (its entries, a flush, test hooks).
    pub fn queue(&self) -> Option<&crate::queue::Queue> {
        self.shared.queue.as_ref()
    }
}

/// Why a stopped server refuses `start()` and `listen()` (in every binding).
pub(crate) const STOPPED: &str = "this server was stopped; build a new Server to serve again";

pub(crate) fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

async fn accept_loop(
    l: TcpListener,
    shared: Arc<Shared>,
    sessions: Arc<Semaphore>,
    mut shutdown: watch::Receiver<StopLevel>,
) {
    static SESSION_SEQ: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(1);
    let counters = &shared.config.counters;
    let mut accept_errors = admission::AcceptErrors::default();
    let bound = l.local_addr().ok().filter(|a| !a.ip().is_unspecified());
    loop {
        let accepted = tokio::select! {
            r = l.accept() => r,
            _ = shutdown.wait_for(|s| *s >= StopLevel::Stopping) => return,
        };
        let (tcp, peer) = match accepted {
            Ok(x) => x,
            Err(e) => {
                // EMFILE and friends: back off instead of spinning, and say so at most once a
                // second.
                if let Some(unlogged) = accept_errors.note(Instant::now()) {
                    tracing::warn!("accept failed: {e} ({unlogged} more failures since the last warning)");
                }
                tokio::time::sleep(std::time::Duration::from_millis(20)).await;
                continue;
            }
        };
        let _ = tcp.set_nodelay(true);
        stats::Counters::add(&counters.connections, 1);
        let Ok(permit) = Arc::clone(&sessions).try_acquire_owned() else {
            stats::Counters::add(&counters.refused_connections, 1);
            tokio::spawn(refuse(
                tcp,
                Reply::new(421, "Too many connections, try again later", Some("4.3.2")),
            ));
            continue;
        };
        let Ok(slot) = shared.per_ip.admit(peer.ip()) else {
            stats::Counters::add(&counters.refused_connections, 1);
            tracing::info!(client = %peer, "refused: max_connections_per_ip reached");
            let r = Reply::new(421, "Too many connections from your address, try again later", Some("4.7.0"));
            tokio::spawn(refuse(tcp, r));
            continue;
        };
        // A listener bound to one address accepts on that address: no getsockname per
        // session then; a wildcard one asks the socket which of the host's addresses it was.
        let local = match bound {
            Some(addr) => addr,
            None => tcp.local_addr().unwrap_or(peer),
        };
        let id = format!("{:X}", SESSION_SEQ.fetch_add(1, std::sync::atomic::Ordering::Relaxed));
        let info = SessionInfo { id, peer, local, helo: None, tls: false, authenticated_user: None };
        let shared = Arc::clone(&shared);
        let rx = shutdown.clone();
        tokio::spawn(async move {
            let counters = &shared.config.counters;
            stats::Counters::add(&counters.active, 1);
            driver::run(Arc::clone(&shared), info, tcp, rx).await;
            counters.active.fetch_sub(1, std::sync::atomic::Ordering::Relaxed);
            drop(slot);
            drop(permit);
        });
    }
}

/// Turned away (server full, or this client holds its share): say so and hang up.
async fn refuse(mut tcp: TcpStream, r: Reply) {
    use tokio::io::AsyncWriteExt;
    let _ = tokio::time::timeout(std::time::Duration::from_secs(5), async {
        let _ = tcp.write_all(&r.to_wire()).await;
        let _ = tcp.shutdown().await;
    })
    .await;
}
