//! [`Queue`]: the queue as callers use it — `submit` (durable on return), `list`, `run_once` /
//! `flush` (deliver what is due / everything now), `start` / `stop` (a background runner).
//!
//! One attempt of an entry: expire it if it is past the retry policy's maximum age, else
//! deliver its pending recipients ([`crate::delivery::deliver_with`]) holding a slot for each
//! destination domain (at most `per_destination` entries in flight per domain, `concurrency` in
//! all); apply the outcomes; queue the notices the outcomes call for; then either remove the
//! entry (nothing pending, notices queued) or record its new state and next try.
//!
//! Exactly one notice per recipient: a notice gets the id `<entry>-f<attempt>` (or `-s` for
//! success) and is submitted *before* the entry's state records it as sent; after a crash in
//! between, the attempt is redone and the same id is submitted again, which the store ignores.

use std::collections::HashMap;
use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures::stream::{self, StreamExt};
use serde::Serialize;
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

use super::dsn::{build_notice, NoticeKind};
use super::entry::{
    wants_failure, wants_success, NewEntry, NewRecipient, QueueEntry, RcptStatus, StoredReply,
};
use super::schedule::RetryPolicy;
use super::spool::{now_ms, IfKnown, Spool};
use super::store::Store;
use crate::delivery::{deliver_with, DeliveryOptions, Outgoing, RecipientOutcome, Status};
use crate::error::{Error, Result};
use crate::proto::address::parse_mailbox;
use crate::route::MxResolver;

/// How the queue delivers and retries.
#[derive(Debug, Clone)]
pub struct QueueOptions {
    /// Smarthost or MX routing, port, loopback guard, TLS, timeouts.
    pub delivery: DeliveryOptions,
    /// When to retry and when to give up.
    pub retry: RetryPolicy,
    /// This host's name: `Reporting-MTA` and `MAILER-DAEMON@` of the notices, and an MX to drop
    /// when routing (mail never loops back here).
    pub hostname: String,
    /// Entries delivered at the same time.
    pub concurrency: usize,
    /// Entries delivered at the same time to one destination domain.
    pub per_destination: usize,
    /// How often the background runner looks for due entries when nothing woke it.
    pub poll_interval: Duration,
    /// Recipients of these domains go into a local Maildir instead of out by SMTP (the
    /// server's `local_maildir` in queue mode); `None`: everything is relayed.
    pub local: Option<LocalDelivery>,
}

/// Local delivery by the queue runner: recipients whose domain is one of `domains`
/// (case-insensitive) are stored in the shared Maildir at `maildir`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LocalDelivery {
    /// The Maildir (`tmp/`, `new/`, `cur/` are created).
    pub maildir: std::path::PathBuf,
    /// The domains delivered locally.
    pub domains: Vec<String>,
}

impl LocalDelivery {
    /// True when `address` is in one of the local domains.
    pub fn is_local(&self, address: &str) -> bool {
        address.rsplit_once('@').is_some_and(|(_, d)| self.domains.iter().any(|l| l.eq_ignore_ascii_case(d)))
    }
}

impl Default for QueueOptions {
    fn default() -> Self {
        QueueOptions {
            delivery: DeliveryOptions::default(),
            retry: RetryPolicy::default(),
            hostname: crate::hostname::system_hostname().unwrap_or_else(|| "localhost".into()),
            concurrency: 20,
            per_destination: 5,
            poll_interval: Duration::from_secs(1),
            local: None,
        }
    }
}

/// What one run did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct RunStats {
    /// Entries attempted (or expired).
    pub entries: usize,
    /// Recipients delivered.
    pub delivered: usize,
    /// Recipients deferred to a later try.
    pub deferred: usize,
    /// Recipients failed or expired (bounced).
    pub failed: usize,
    /// Notices queued (DSNs and success notices).
    pub notices: usize,
}

struct Inner {
    store: Arc<dyn Store>,
    spool: Option<Arc<Spool>>,
    opts: QueueOptions,
    resolver: tokio::sync::OnceCell<MxResolver>,
    seq: AtomicU64,
    destinations: Mutex<HashMap<String, Arc<Semaphore>>>,
    wake: tokio::sync::Notify,
    runner: Mutex<Option<Runner>>,
    /// Runner tasks alive, stopping ones included ([`Queue::stopped`] waits for 0).
    live: tokio::sync::watch::Sender<usize>,
    /// The Maildir of [`QueueOptions::local`], opened once.
    maildir: Option<crate::server::Maildir>,
}

/// The background runner of [`Queue::start`] and its own stop signal (one per runner, so a
/// `start` while an earlier runner is being stopped cannot call that one back to work).
struct Runner {
    task: tokio::task::JoinHandle<()>,
    stop: tokio::sync::watch::Sender<bool>,
}

/// Counts a runner task as alive until it is dropped.
struct Live(Queue);

impl Drop for Live {
    fn drop(&mut self) {
        self.0.inner.live.send_modify(|n| *n -= 1);
    }
}

/// The queue. Cheap to clone (shared state).
#[derive(Clone)]
pub struct Queue {
    inner: Arc<Inner>,
}

impl std::fmt::Debug for Queue {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Queue").field("spool", &self.inner.spool).field("opts", &self.inner.opts).finish()
    }
}

impl Queue {
    /// Open (creating) the spool directory `spool_dir`: every entry there is picked up again.
    /// With [`QueueOptions::local`], its Maildir is created too.
    pub fn open(spool_dir: impl AsRef<Path>, opts: QueueOptions) -> Result<Queue> {
        let maildir = opts.local.as_ref().map(|l| crate::server::Maildir::open(&l.maildir)).transpose()?;
        let spool = Arc::new(Spool::open(spool_dir.as_ref())?);
        let mut q = Queue::with_store(spool.clone(), opts);
        if let Some(inner) = Arc::get_mut(&mut q.inner) {
            inner.spool = Some(spool);
            inner.maildir = maildir;
        }
        Ok(q)
    }

    /// A queue over any [`Store`] (local delivery, if any, needs [`Queue::open`]).
    pub fn with_store(store: Arc<dyn Store>, mut opts: QueueOptions) -> Queue {
        if !opts.hostname.is_empty() && !opts.delivery.resolve.own_hostnames.contains(&opts.hostname) {
            opts.delivery.resolve.own_hostnames.push(opts.hostname.clone());
        }
        Queue {
            inner: Arc::new(Inner {
                store,
                spool: None,
                opts,
                resolver: tokio::sync::OnceCell::new(),
                seq: AtomicU64::new(0),
                destinations: Mutex::new(HashMap::new()),
                wake: tokio::sync::Notify::new(),
                live: tokio::sync::watch::channel(0).0,
                runner: Mutex::new(None),
                maildir: None,
            }),
        }
    }

    /// The spool, when the queue was opened on a directory.
    pub fn spool(&self) -> Option<&Spool> {
        self.inner.spool.as_deref()
    }

    /// The options.
    pub fn options(&self) -> &QueueOptions {
        &self.inner.opts
    }

    /// A new queue id: time, a per-queue sequence number and randomness (unique across
    /// restarts and processes sharing a spool).
    fn new_id(&self) -> String {
        let n = self.inner.seq.fetch_add(1, Ordering::Relaxed);
        format!("{:011X}{:04X}{:06X}", now_ms(), n & 0xFFFF, rand::random::<u32>() & 0xFF_FFFF)
    }

    /// Check an envelope before anything is written: `invalid_input` for no recipients or a
    /// malformed address.
    fn validate(env: &NewEntry) -> Result<()> {
        if env.recipients.is_empty() {
            return Err(Error::invalid_input("a queued message needs at least one recipient"));
        }
        if !env.mail_from.is_empty() {
            parse_mailbox(&env.mail_from)
                .map_err(|e| Error::invalid_input(format!("bad sender {:?}: {e}", env.mail_from)))?;
        }
        for r in &env.recipients {
            parse_mailbox(&r.address)
                .map_err(|e| Error::invalid_input(format!("bad recipient {:?}: {e}", r.address)))?;
        }
        env.check_dsn_values()
    }

    /// Store `message` for delivery; returns its queue id once message and envelope are synced
    /// to disk. Errors: `invalid_input`, `io` (nothing kept).
    pub fn submit_blocking(&self, env: &NewEntry, message: &[u8]) -> Result<String> {
        let id = self.new_id();
        self.submit_as_blocking(&id, env, message)?;
        Ok(id)
    }

    /// [`Queue::submit_blocking`] under a given queue id (the server's, which its 250 reply
    /// and Received line name). `invalid_input` when the id is malformed or already queued.
    pub fn submit_as_blocking(&self, id: &str, env: &NewEntry, message: &[u8]) -> Result<()> {
        if let Some(spool) = &self.inner.spool {
            return futures::executor::block_on(self.submit_to_spool(spool, id, env, message));
        }
        Queue::validate(env)?;
        if self.inner.store.contains(id) {
            return Err(Error::invalid_input(format!("queue id {id} is already in use")));
        }
        self.inner.store.submit(id, env, message)?;
        self.inner.wake.notify_one();
        Ok(())
    }

    /// [`Queue::submit_as_blocking`] awaited: on a spool the task waits for the group commit
    /// itself (no blocking thread); another store is called on a blocking thread.
    pub async fn submit_as(&self, id: &str, env: &NewEntry, message: &[u8]) -> Result<()> {
        let Some(spool) = &self.inner.spool else {
            let (q, id, env, message) = (self.clone(), id.to_string(), env.clone(), message.to_vec());
            return tokio::task::spawn_blocking(move || q.submit_as_blocking(&id, &env, &message))
                .await
                .map_err(|e| Error::io(format!("submit task failed: {e}")))?;
        };
        self.submit_to_spool(spool, id, env, message).await
    }

    /// A submit to the queue's own spool: the id is looked up once, by the spool, and the
    /// entry it indexes is not copied.
    async fn submit_to_spool(&self, spool: &Spool, id: &str, env: &NewEntry, message: &[u8]) -> Result<()> {
        Queue::validate(env)?;
        spool.add(id, env, message, IfKnown::Refuse).await?;
        self.inner.wake.notify_one();
        Ok(())
    }

    /// [`Queue::submit_blocking`] awaited (see [`Queue::submit_as`]).
    pub async fn submit(&self, env: &NewEntry, message: &[u8]) -> Result<String> {
        let id = self.new_id();
        self.submit_as(&id, env, message).await?;
        Ok(id)
    }

    /// [`Queue::list`] awaited: on this task for a quick store, else on a blocking thread.
    pub async fn list_async(&self) -> Result<Vec<QueueEntry>> {
        self.store_call(|s| s.list()).await
    }

    /// Every entry with its per-recipient state, oldest first.
    pub fn list(&self) -> Result<Vec<QueueEntry>> {
        self.inner.store.list()
    }

    /// Deliver every entry that is due now, once. Returns when all of them were attempted.
    pub async fn run_once(&self) -> Result<RunStats> {
        self.run(false, &|_, _| {}).await
    }

    /// Deliver every entry now, due or not (`postwire queue flush`).
    pub async fn flush(&self) -> Result<RunStats> {
        self.run(true, &|_, _| {}).await
    }

    /// [`Queue::run_once`] (or, with `all`, [`Queue::flush`]) calling `progress(done, total)`
    /// after each entry.
    pub async fn run(&self, all: bool, progress: &(dyn Fn(usize, usize) + Sync)) -> Result<RunStats> {
        let resolver = self
            .inner
            .resolver
            .get_or_try_init(|| async { MxResolver::new(self.inner.opts.delivery.resolve.clone()) })
            .await?;
        // Lease only once nothing else can fail: a leased entry must end recorded or released.
        let now = if all { u64::MAX } else { now_ms() };
        let due = self.store_call(move |s| s.lease_due(now, usize::MAX)).await?;
        let total = due.len();
        let done = AtomicU64::new(0);
        let stats = Mutex::new(RunStats::default());
        stream::iter(due)
            .for_each_concurrent(self.inner.opts.concurrency.max(1), |entry| {
                let (done, stats) = (&done, &stats);
                async move {
                    let s = self.attempt(resolver, entry).await;
                    let mut st = stats.lock().unwrap_or_else(|p| p.into_inner());
                    st.entries += 1;
                    st.delivered += s.delivered;
                    st.deferred += s.deferred;
                    st.failed += s.failed;
                    st.notices += s.notices;
                    drop(st);
                    progress(done.fetch_add(1, Ordering::Relaxed) as usize + 1, total);
                }
            })
            .await;
        Ok(stats.into_inner().unwrap_or_else(|p| p.into_inner()))
    }

    /// Start the background runner (on the current tokio runtime): it delivers due entries,
    /// wakes on every submit, and looks again every `poll_interval`.
    pub fn start(&self) {
        let mut slot = self.inner.runner.lock().unwrap_or_else(|p| p.into_inner());
        if slot.as_ref().is_some_and(|r| !r.task.is_finished()) {
            return;
        }
        let (stop_tx, mut stop) = tokio::sync::watch::channel(false);
        let q = self.clone();
        self.inner.live.send_modify(|n| *n += 1);
        let task = tokio::spawn(async move {
            // Counted down however the task ends (a panic in a run included).
            let _live = Live(q.clone());
            loop {
                if *stop.borrow() {
                    break;
                }
                if let Err(e) = q.run_once().await {
                    tracing::error!(error = %e, "queue run failed");
                }
                tokio::select! {
                    _ = q.inner.wake.notified() => {}
                    _ = tokio::time::sleep(q.inner.opts.poll_interval) => {}
                    changed = stop.changed() => {
                        if changed.is_err() {
                            break;
                        }
                    }
                }
            }
        });
        *slot = Some(Runner { task, stop: stop_tx });
    }

    /// True while the background runner of [`Queue::start`] runs: from `start` until
    /// [`Queue::stop`] is called (or the runner ended).
    pub fn running(&self) -> bool {
        let runner = self.inner.runner.lock().unwrap_or_else(|p| p.into_inner());
        runner.as_ref().is_some_and(|r| !r.task.is_finished())
    }

    /// Resolves once no runner task is left (after [`Queue::stop`], when the runner finished its
    /// current run; at once when none was started). A host keeps its process alive on it.
    pub async fn stopped(&self) {
        let mut live = self.inner.live.subscribe();
        let _ = live.wait_for(|n| *n == 0).await;
    }

    /// True while a runner task is alive, one being stopped included (unlike
    /// [`Queue::running`], which turns false when [`Queue::stop`] is called).
    pub fn runner_alive(&self) -> bool {
        *self.inner.live.borrow() > 0
    }

    /// Stop the background runner after its current run: the stop takes effect when this is
    /// called ([`Queue::running`] is false from then on, and a [`Queue::start`] starts a new
    /// runner); the future returned resolves when the runner ended.
    pub fn stop(&self) -> impl std::future::Future<Output = ()> + Send + 'static {
        let runner = self.inner.runner.lock().unwrap_or_else(|p| p.into_inner()).take();
        if let Some(r) = &runner {
            r.stop.send_replace(true);
        }
        async move {
            if let Some(r) = runner {
                let _ = r.task.await;
            }
        }
    }

    /// A slot for each destination of `rcpts`, taken in name order so two entries never wait
    /// on each other.
    async fn permits(&self, entry: &QueueEntry) -> Vec<OwnedSemaphorePermit> {
        let mut dests: Vec<String> = if self.inner.opts.delivery.smarthost.is_some() {
            vec![String::new()]
        } else {
            entry
                .recipients
                .iter()
                .filter(|r| r.status == RcptStatus::Pending)
                .filter_map(|r| r.rcpt.rsplit_once('@').map(|(_, d)| d.to_ascii_lowercase()))
                .collect()
        };
        dests.sort();
        dests.dedup();
        let mut out = Vec::with_capacity(dests.len());
        for d in dests {
            let sem = {
                let mut map = self.inner.destinations.lock().unwrap_or_else(|p| p.into_inner());
                Arc::clone(
                    map.entry(d)
                        .or_insert_with(|| Arc::new(Semaphore::new(self.inner.opts.per_destination.max(1)))),
                )
            };
            if let Ok(p) = sem.acquire_owned().await {
                out.push(p);
            }
        }
        out
    }

    /// A store call other than `submit`: on this task when the store is [`Store::quick`], else
    /// on a blocking thread.
    async fn store_call<T: Send + 'static>(
        &self,
        f: impl FnOnce(&dyn Store) -> Result<T> + Send + 'static,
    ) -> Result<T> {
        let store = Arc::clone(&self.inner.store);
        if store.quick() {
            return f(&*store);
        }
        tokio::task::spawn_blocking(move || f(&*store))
            .await
            .map_err(|e| Error::io(format!("queue store task failed: {e}")))?
    }

    /// One attempt of one leased entry; always ends by recording, removing or releasing it.
    async fn attempt(&self, resolver: &MxResolver, mut entry: QueueEntry) -> RunStats {
        let mut stats = RunStats::default();
        let opts = &self.inner.opts;
        let store = Arc::clone(&self.inner.store);
        let now = now_ms();
        if opts.retry.expired(entry.created_ms, now) {
            for r in entry.recipients.iter_mut().filter(|r| r.status == RcptStatus::Pending) {
                r.status = RcptStatus::Expired;
            }
        } else if !entry.pending().is_empty() {
            let id = entry.id.clone();
            let message = match self.store_call(move |s| s.message(&id)).await {
                Ok(m) => m,
                Err(e) => {
                    tracing::error!(id = %entry.id, why = %e, "cannot read the queued message; left for later");
                    store.release(&entry.id);
                    return stats;
                }
            };
            let permits = self.permits(&entry).await;
            let out = Outgoing {
                mail_from: entry.mail_from.clone(),
                envid: entry.envid.clone(),
                ret: entry.ret(),
                recipients: entry.pending(),
            };
            let (local, remote): (Vec<_>, Vec<_>) = out
                .recipients
                .iter()
                .cloned()
                .partition(|r| opts.local.as_ref().is_some_and(|l| l.is_local(&r.address)));
            let mut outcomes = Vec::with_capacity(out.recipients.len());
            if !local.is_empty() {
                outcomes.extend(self.deliver_locally(&entry, local, &message).await);
            }
            if !remote.is_empty() {
                let out = Outgoing { recipients: remote, ..out };
                outcomes.extend(deliver_with(resolver, &out, &message, &opts.delivery).await);
            }
            drop(permits);
            entry.attempts += 1;
            for o in outcomes {
                let Some(r) =
                    entry.recipients.iter_mut().find(|r| r.rcpt == o.rcpt && r.status == RcptStatus::Pending)
                else {
                    continue;
                };
                r.attempts += 1;
                r.last_reply = o.reply.as_ref().map(StoredReply::from);
                r.last_detail = Some(o.detail.clone());
                r.remote_host = o.host.clone();
                r.remote_dsn = o.remote_dsn;
                r.status = match o.status {
                    Status::Delivered => RcptStatus::Delivered,
                    Status::Failed => RcptStatus::Failed,
                    Status::Deferred => RcptStatus::Pending,
                };
            }
            let after = now_ms();
            if entry.recipients.iter().any(|r| r.status == RcptStatus::Pending) {
                if opts.retry.expired(entry.created_ms, after) {
                    for r in entry.recipients.iter_mut().filter(|r| r.status == RcptStatus::Pending) {
                        r.status = RcptStatus::Expired;
                    }
                } else {
                    entry.next_try_ms = after + opts.retry.delay_after(entry.attempts).as_millis() as u64;
                }
            }
            for r in &entry.recipients {
                match r.status {
                    RcptStatus::Delivered if !r.notified => stats.delivered += 1,
                    RcptStatus::Pending => stats.deferred += 1,
                    _ => {}
                }
            }
        }
        stats.failed += entry
            .recipients
            .iter()
            .filter(|r| matches!(r.status, RcptStatus::Failed | RcptStatus::Expired) && !r.notified)
            .count();
        stats.notices += self.queue_notices(&mut entry).await;

        let done = entry.is_done();
        let res =
            self.store_call(move |s| if done { s.remove(&entry.id) } else { s.record_attempt(&entry) }).await;
        if let Err(e) = res {
            tracing::error!(error = %e, "cannot record a queue attempt");
        }
        stats
    }

    /// Store the message for the local recipients in the Maildir of [`QueueOptions::local`]:
    /// delivered, or deferred (retried on the schedule) when the Maildir cannot be written.
    async fn deliver_locally(
        &self,
        entry: &QueueEntry,
        rcpts: Vec<crate::delivery::Recipient>,
        message: &[u8],
    ) -> Vec<RecipientOutcome> {
        let addrs: Vec<String> = rcpts.iter().map(|r| r.address.clone()).collect();
        let r = match self.inner.maildir.clone() {
            None => Err("local delivery needs a queue opened on a spool directory".to_string()),
            Some(md) => {
                let (id, host, from, to, msg) = (
                    entry.id.clone(),
                    self.inner.opts.hostname.clone(),
                    entry.mail_from.clone(),
                    addrs.clone(),
                    message.to_vec(),
                );
                match tokio::task::spawn_blocking(move || md.deliver_message(&id, &host, &from, &to, &msg))
                    .await
                {
                    Ok(Ok(_)) => Ok(()),
                    Ok(Err(e)) => Err(e.to_string()),
                    Err(e) => Err(e.to_string()),
                }
            }
        };
        if let Err(why) = &r {
            tracing::error!(id = %entry.id, why, "local delivery failed; retried later");
        }
        addrs
            .into_iter()
            .map(|rcpt| RecipientOutcome {
                rcpt,
                status: if r.is_ok() { Status::Delivered } else { Status::Deferred },
                reply: None,
                kind: r.as_ref().err().map(|_| crate::error::ErrorKind::Io),
                detail: match &r {
                    Ok(()) => "delivered to the local Maildir".to_string(),
                    Err(why) => format!("local delivery failed: {why}"),
                },
                host: None,
                remote_dsn: false,
            })
            .collect()
    }

    /// Queue the notices `entry`'s final recipients call for and mark them notified; returns
    /// how many were queued. A notice that cannot be queued leaves its recipients unmarked, so
    /// the next run tries again.
    async fn queue_notices(&self, entry: &mut QueueEntry) -> usize {
        let opts = &self.inner.opts;
        let final_unnotified =
            |r: &&mut super::entry::RecipientState| r.status != RcptStatus::Pending && !r.notified;
        if entry.mail_from.is_empty() {
            // Never a notice to <>: those recipients are settled as they are.
            entry.recipients.iter_mut().filter(final_unnotified).for_each(|r| r.notified = true);
            return 0;
        }
        let failed: Vec<usize> = (0..entry.recipients.len())
            .filter(|&i| {
                let r = &entry.recipients[i];
                !r.notified
                    && matches!(r.status, RcptStatus::Failed | RcptStatus::Expired)
                    && wants_failure(r.notify.as_deref())
            })
            .collect();
        let is_local = |i: usize| opts.local.as_ref().is_some_and(|l| l.is_local(&entry.recipients[i].rcpt));
        let (delivered, relayed): (Vec<usize>, Vec<usize>) = (0..entry.recipients.len())
            .filter(|&i| {
                let r = &entry.recipients[i];
                !r.notified
                    && r.status == RcptStatus::Delivered
                    && !r.remote_dsn
                    && wants_success(r.notify.as_deref())
            })
            .partition(|&i| is_local(i));
        let mut queued = 0;
        let message = if failed.is_empty() && relayed.is_empty() && delivered.is_empty() {
            Vec::new()
        } else {
            let id = entry.id.clone();
            match self.store_call(move |s| s.message(&id)).await {
                Ok(m) => m,
                _ => {
                    tracing::error!(id = %entry.id, "cannot read the message for its notice; retried next run");
                    return 0;
                }
            }
        };
        let kinds = [
            (failed, NoticeKind::Failure, "f"),
            (relayed, NoticeKind::Relayed, "s"),
            (delivered, NoticeKind::Delivered, "d"),
        ];
        for (which, kind, tag) in kinds {
            if which.is_empty() {
                continue;
            }
            let rcpts: Vec<&super::entry::RecipientState> =
                which.iter().map(|&i| &entry.recipients[i]).collect();
            let now = now_ms();
            let body = match build_notice(entry, &rcpts, kind, &opts.hostname, &message, now) {
                Ok(b) => b,
                Err(e) => {
                    tracing::error!(error = %e, "cannot build a notice");
                    continue;
                }
            };
            let notice_id = format!("{}-{tag}{}", entry.id, entry.attempts);
            let env = NewEntry {
                mail_from: String::new(),
                recipients: vec![NewRecipient { address: entry.mail_from.clone(), ..Default::default() }],
                envid: None,
                ret: None,
            };
            // The same id again after a crash is the same notice: the store keeps the first.
            let r = match &self.inner.spool {
                Some(spool) => spool.add(&notice_id, &env, &body, IfKnown::Keep).await.map(drop),
                None => {
                    let store = Arc::clone(&self.inner.store);
                    tokio::task::spawn_blocking(move || store.submit(&notice_id, &env, &body).map(drop))
                        .await
                        .unwrap_or_else(|e| Err(Error::io(format!("submit task failed: {e}"))))
                }
            };
            match r {
                Ok(()) => {
                    queued += 1;
                    for &i in &which {
                        entry.recipients[i].notified = true;
                    }
                    self.inner.wake.notify_one();
                }
                _ => tracing::error!(id = %entry.id, "cannot queue a notice; retried next run"),
            }
        }
        // Final recipients that asked for no notice are settled too.
        entry.recipients.iter_mut().filter(final_unnotified).for_each(|r| {
            let wants = match r.status {
                RcptStatus::Delivered => wants_success(r.notify.as_deref()) && !r.remote_dsn,
                _ => wants_failure(r.notify.as_deref()),
            };
            if !wants {
                r.notified = true;
            }
        });
        queued
    }

    /// True when the spool's filesystem has room for a message of `max_message_size` bytes with
    /// the margin the server keeps (1.5 ×); a queue over another store always has room.
    pub fn has_room_for(&self, max_message_size: u64) -> Result<bool> {
        match &self.inner.spool {
            Some(s) => Ok(s.free_bytes()? >= max_message_size.saturating_add(max_message_size / 2)),
            None => Ok(true),
        }
    }

    /// Make the next `n` syncs of the spool fail, as a failing disk would (tests of the
    /// "fsync failed → 451, nothing kept" path).
    #[doc(hidden)]
    pub fn fail_next_syncs(&self, n: u32) {
        if let Some(s) = &self.inner.spool {
            s.fail_next_syncs(n);
        }
    }
}
