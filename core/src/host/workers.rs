//! A bounded pool of host threads taking queued items in batches: the hook workers of a server
//! whose host calls blocking hooks (Python's plain `def` hooks: a database write, an HTTP call).
//!
//! [`BatchThread`](super::BatchThread) has one thread: a hook that blocks holds up every session.
//! Here up to `max_workers` threads share one queue, and the handler pulls items lazily from it
//! (a [`WorkerBatch`]) — *after* it took the host's lock (the GIL). So:
//!
//! - fast hooks keep the batched path: the worker that holds the host lock drains what is
//!   queued, one lock for many items, as with one thread;
//! - whenever a worker takes an item and more are waiting, one other worker is made ready
//!   ("standby": it waits for the host lock holding no item). When the first one blocks in a hook
//!   and releases the host lock (Python releases the GIL while sleeping or doing I/O), the
//!   standby takes the lock and goes on with the queue. Blocking hooks overlap, up to
//!   `max_workers` at once; with fast hooks at most one standby waits at a time.
//!
//! Threads start on demand (never more than `max_workers`) and again in a child process after
//! `fork()`. [`WorkerPool::flush`] waits until the queue is empty and no worker holds an item;
//! [`WorkerPool::close`] refuses new items and lets the workers finish the queue and end.

use std::cell::Cell;
use std::collections::VecDeque;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::{Arc, Condvar, Mutex, MutexGuard};

thread_local! {
    /// The pool (by address) whose worker this thread is, if any.
    static WORKER_OF: Cell<usize> = const { Cell::new(0) };
}

struct State<T> {
    queue: VecDeque<T>,
    pid: u32,
    /// Threads started in this process (and not ended).
    spawned: usize,
    /// Threads parked, waiting for a wake-up.
    idle: usize,
    /// Wake-ups given to parked threads and not taken yet.
    wakes: usize,
    /// Threads woken (or started) for the queue that did not take an item yet: the standby.
    ready: usize,
    /// Items taken and not finished yet.
    in_hand: usize,
    /// Threads waiting in `flush` (no wake-up call without one).
    flushers: usize,
    closed: bool,
}

/// The handler a [`WorkerPool`] calls.
type Handler<T> = Box<dyn Fn(&mut WorkerBatch<'_, T>) + Send + Sync>;

struct Shared<T: Send + 'static> {
    name: String,
    max_workers: usize,
    max_batch: usize,
    handler: Handler<T>,
    state: Mutex<State<T>>,
    /// Parked workers wait here.
    work: Condvar,
    /// `flush` waits here for the queue to empty.
    done: Condvar,
}

/// A pool of up to `max_workers` threads calling a handler with batches of queued items.
pub struct WorkerPool<T: Send + 'static> {
    shared: Arc<Shared<T>>,
}

/// The items of one handler call, pulled one at a time from the pool's queue. Pull the next
/// item only once the previous one is handled (that is when it counts as finished). The first
/// pull may find nothing: another worker emptied the queue meanwhile.
pub struct WorkerBatch<'a, T: Send + 'static> {
    shared: &'a Arc<Shared<T>>,
    left: usize,
    holding: bool,
    started: bool,
}

impl<T: Send + 'static> Iterator for WorkerBatch<'_, T> {
    type Item = T;

    fn next(&mut self) -> Option<T> {
        let mut st = lock(self.shared);
        self.settle(&mut st);
        if self.left == 0 {
            return None;
        }
        let item = st.queue.pop_front()?;
        self.left -= 1;
        self.holding = true;
        st.in_hand += 1;
        if !st.queue.is_empty() && st.ready == 0 {
            // This item may block: have another worker ready to take the next one.
            wake_one(self.shared, &mut st);
        }
        Some(item)
    }
}

impl<T: Send + 'static> WorkerBatch<'_, T> {
    /// The previous item is finished; the first pull ends this worker's standby.
    fn settle(&mut self, st: &mut State<T>) {
        if !std::mem::replace(&mut self.started, true) {
            st.ready -= 1;
        }
        if std::mem::take(&mut self.holding) {
            st.in_hand -= 1;
            if st.flushers > 0 && st.in_hand == 0 && st.queue.is_empty() {
                self.shared.done.notify_all();
            }
        }
    }
}

fn lock<T: Send + 'static>(shared: &Shared<T>) -> MutexGuard<'_, State<T>> {
    let mut g = shared.state.lock().unwrap_or_else(|p| p.into_inner());
    let pid = std::process::id();
    if g.pid != pid {
        // A forked child: the parent's threads (and the sessions its items belong to) are not
        // here.
        *g = State { pid, ..State::new() };
    }
    g
}

impl<T> State<T> {
    fn new() -> Self {
        State {
            queue: VecDeque::new(),
            pid: std::process::id(),
            spawned: 0,
            idle: 0,
            wakes: 0,
            ready: 0,
            in_hand: 0,
            flushers: 0,
            closed: false,
        }
    }
}

/// Make one more worker ready: wake a parked one, or start one while under `max_workers`.
fn wake_one<T: Send + 'static>(shared: &Arc<Shared<T>>, st: &mut State<T>) {
    if st.idle > st.wakes {
        st.wakes += 1;
        st.ready += 1;
        shared.work.notify_one();
    } else if st.spawned < shared.max_workers {
        let me = Arc::clone(shared);
        let spawned = std::thread::Builder::new().name(shared.name.clone()).spawn(move || work(&me));
        if spawned.is_ok() {
            st.spawned += 1;
            st.ready += 1;
        }
    }
}

fn work<T: Send + 'static>(shared: &Arc<Shared<T>>) {
    WORKER_OF.with(|w| w.set(Arc::as_ptr(shared) as *const () as usize));
    let pid = std::process::id();
    loop {
        // Counted as ready (by whoever woke or started us): take the queue.
        let mut batch = WorkerBatch { shared, left: shared.max_batch, holding: false, started: false };
        if catch_unwind(AssertUnwindSafe(|| (shared.handler)(&mut batch))).is_err() {
            eprintln!("postwire: a host handler panicked; the item it held was dropped");
        }
        let mut st = lock(shared);
        if st.pid != pid {
            return;
        }
        batch.settle(&mut st);
        if !st.queue.is_empty() && st.ready == 0 {
            st.ready += 1;
            continue;
        }
        // Park until woken for the queue, or closed.
        st.idle += 1;
        while st.wakes == 0 && !st.closed {
            st = shared.work.wait(st).unwrap_or_else(|p| p.into_inner());
        }
        st.idle -= 1;
        if st.wakes > 0 {
            st.wakes -= 1;
        } else if st.queue.is_empty() {
            // Closed and nothing left.
            st.spawned -= 1;
            shared.done.notify_all();
            return;
        } else {
            st.ready += 1;
        }
    }
}

impl<T: Send + 'static> WorkerPool<T> {
    /// A pool of at most `max_workers` threads named `name` (started as needed) calling
    /// `handler` with at most `max_batch` items at a time. A panic in the handler is caught; the
    /// item it held is dropped (a dropped hook request answers `451`).
    pub fn new(
        name: impl Into<String>,
        max_workers: usize,
        max_batch: usize,
        handler: impl Fn(&mut WorkerBatch<'_, T>) + Send + Sync + 'static,
    ) -> Self {
        WorkerPool {
            shared: Arc::new(Shared {
                name: name.into(),
                max_workers: max_workers.max(1),
                max_batch: max_batch.max(1),
                handler: Box::new(handler),
                state: Mutex::new(State::new()),
                work: Condvar::new(),
                done: Condvar::new(),
            }),
        }
    }

    /// Queue `item`; gives it back when the pool is closed.
    pub fn send(&self, item: T) -> Result<(), T> {
        let mut st = lock(&self.shared);
        if st.closed {
            return Err(item);
        }
        st.queue.push_back(item);
        if st.ready == 0 {
            wake_one(&self.shared, &mut st);
        }
        Ok(())
    }

    /// True on one of this pool's worker threads.
    pub fn is_worker(&self) -> bool {
        WORKER_OF.with(|w| w.get()) == Arc::as_ptr(&self.shared) as *const () as usize
    }

    /// Wait until the queue is empty and no worker holds an item. Returns at once on a worker
    /// thread (it would wait for itself) or when the pool has no thread.
    pub fn flush(&self) {
        if self.is_worker() {
            return;
        }
        let mut st = lock(&self.shared);
        st.flushers += 1;
        while (!st.queue.is_empty() || st.in_hand > 0) && st.spawned > 0 {
            st = self.shared.done.wait(st).unwrap_or_else(|p| p.into_inner());
        }
        st.flushers -= 1;
    }

    /// Refuse new items; the workers handle what is queued, then end.
    pub fn close(&self) {
        let mut st = lock(&self.shared);
        st.closed = true;
        self.shared.work.notify_all();
    }
}

impl<T: Send + 'static> Drop for WorkerPool<T> {
    fn drop(&mut self) {
        self.close();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::time::Duration;

    #[test]
    fn blocking_items_overlap_up_to_max_workers() {
        let running = Arc::new(AtomicUsize::new(0));
        let most = Arc::new(AtomicUsize::new(0));
        let (r, m) = (Arc::clone(&running), Arc::clone(&most));
        let gate = Arc::new((Mutex::new(false), Condvar::new()));
        let g = Arc::clone(&gate);
        let pool = WorkerPool::new("test-workers", 4, 16, move |batch: &mut WorkerBatch<'_, u32>| {
            for _ in batch {
                let now = r.fetch_add(1, Ordering::SeqCst) + 1;
                m.fetch_max(now, Ordering::SeqCst);
                // Block until four run at once (bounded), as a hook waiting on I/O.
                let (lk, cv) = &*g;
                let mut open = lk.lock().unwrap();
                if now == 4 {
                    *open = true;
                    cv.notify_all();
                }
                while !*open {
                    let (o, t) = cv.wait_timeout(open, Duration::from_secs(10)).unwrap();
                    open = o;
                    if t.timed_out() {
                        break;
                    }
                }
                drop(open);
                r.fetch_sub(1, Ordering::SeqCst);
            }
        });
        for i in 0..10 {
            pool.send(i).unwrap();
        }
        pool.flush();
        assert_eq!(most.load(Ordering::SeqCst), 4, "never more than max_workers, and they overlapped");
        pool.close();
        assert_eq!(pool.send(1), Err(1));
    }

    #[test]
    fn fast_items_are_all_handled_in_batches() {
        let seen = Arc::new(Mutex::new(Vec::new()));
        let calls = Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let (s, c) = (Arc::clone(&seen), Arc::clone(&calls));
        // Each call takes a millisecond, so the items sent meanwhile queue up and must come out
        // several (up to 8) to a call.
        let pool = WorkerPool::new("test-fast", 3, 8, move |batch: &mut WorkerBatch<'_, u32>| {
            c.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
            std::thread::sleep(std::time::Duration::from_millis(1));
            for i in batch {
                s.lock().unwrap().push(i);
            }
        });
        for i in 0..1000 {
            pool.send(i).unwrap();
        }
        pool.flush();
        let mut got = seen.lock().unwrap().clone();
        got.sort();
        assert_eq!(got, (0..1000).collect::<Vec<_>>());
        let n = calls.load(std::sync::atomic::Ordering::SeqCst);
        assert!(n <= 500, "1000 items in {n} handler calls: not batched");
        assert!(!pool.is_worker());
    }
}
