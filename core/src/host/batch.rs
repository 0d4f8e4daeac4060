//! A thread that hands queued items to the host in batches: the hook thread of a server and the
//! log thread are two of them.
//!
//! Why batches: calling into a host is expensive per entry, not per item — Python's GIL, a C
//! program's locks. The thread blocks for the first item, then lets the handler pull whatever
//! else is already waiting (up to `max_batch`) while it holds the host's lock once. Producers
//! (tokio tasks, `tracing` events) never touch the host: they push onto a channel.
//!
//! The thread starts with the first item, and again in a child process after `fork()` (which
//! copies no threads). [`BatchThread::flush`] waits until everything sent before it was handled
//! (a test that asserts on log records calls it); [`BatchThread::close`] lets the thread finish
//! what is queued and end.

use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::mpsc;
use std::sync::{Arc, Mutex};
use std::thread::ThreadId;

enum Msg<T> {
    Item(T),
    /// Acknowledged once every item sent before it was handed out and handled.
    Flush(mpsc::SyncSender<()>),
}

impl<T> Msg<T> {
    /// The item of a message that could not be sent (only items are sent through `send`).
    fn into_item(self) -> T {
        match self {
            Msg::Item(t) => t,
            Msg::Flush(_) => unreachable!("BatchThread::send sends items only"),
        }
    }
}

enum State<T> {
    /// No thread yet in this process.
    Idle,
    Running {
        pid: u32,
        thread: ThreadId,
        tx: mpsc::Sender<Msg<T>>,
    },
    Closed,
}

/// The items of one batch, pulled by the handler one at a time: the first is there already, the
/// others are taken from the queue as the handler asks for them (so items that arrive while the
/// handler runs join the batch). A handler must handle each item before pulling the next one.
pub struct Batch<'a, T> {
    rx: &'a mpsc::Receiver<Msg<T>>,
    first: Option<T>,
    left: usize,
    acks: Vec<mpsc::SyncSender<()>>,
}

impl<T> Iterator for Batch<'_, T> {
    type Item = T;

    fn next(&mut self) -> Option<T> {
        if let Some(t) = self.first.take() {
            return Some(t);
        }
        if self.left == 0 || !self.acks.is_empty() {
            return None;
        }
        match self.rx.try_recv() {
            Ok(Msg::Item(t)) => {
                self.left -= 1;
                Some(t)
            }
            Ok(Msg::Flush(ack)) => {
                // Answered after the handler returns, when every earlier item is handled.
                self.acks.push(ack);
                None
            }
            Err(_) => None,
        }
    }
}

/// What a [`BatchThread`] calls with each batch.
type Handler<T> = Arc<dyn Fn(&mut Batch<'_, T>) + Send + Sync>;

/// A lazily started thread calling `handler` with batches of the items sent to it.
pub struct BatchThread<T: Send + 'static> {
    name: String,
    max_batch: usize,
    handler: Handler<T>,
    state: Mutex<State<T>>,
}

impl<T: Send + 'static> BatchThread<T> {
    /// A thread named `name` (started with the first item) that calls `handler` with at most
    /// `max_batch` items at a time. A panic in the handler is caught; the items of that batch not
    /// handled yet are dropped (a dropped hook request answers `451`).
    pub fn new(
        name: impl Into<String>,
        max_batch: usize,
        handler: impl Fn(&mut Batch<'_, T>) + Send + Sync + 'static,
    ) -> Self {
        BatchThread {
            name: name.into(),
            max_batch: max_batch.max(1),
            handler: Arc::new(handler),
            state: Mutex::new(State::Idle),
        }
    }

    /// Queue `item`; gives it back when the thread is closed or cannot be started.
    pub fn send(&self, item: T) -> Result<(), T> {
        let pid = std::process::id();
        let mut g = self.state.lock().unwrap_or_else(|p| p.into_inner());
        match &*g {
            State::Running { pid: p, tx, .. } if *p == pid => {
                return tx.send(Msg::Item(item)).map_err(|e| e.0.into_item());
            }
            State::Closed => return Err(item),
            // Idle, or a forked child whose thread stayed in the parent.
            _ => {}
        }
        let (tx, rx) = mpsc::channel::<Msg<T>>();
        let handler = Arc::clone(&self.handler);
        let max = self.max_batch;
        let spawned =
            std::thread::Builder::new().name(self.name.clone()).spawn(move || run(&rx, max, &*handler));
        let Ok(joined) = spawned else {
            return Err(item);
        };
        let thread = joined.thread().id();
        let sent = tx.send(Msg::Item(item));
        *g = State::Running { pid, thread, tx };
        sent.map_err(|e| e.0.into_item())
    }

    /// Wait until every item sent before this call has been handled. Returns at once when there
    /// is no thread, or when called from the batch thread itself (it would wait for itself).
    pub fn flush(&self) {
        let (ack_tx, ack_rx) = mpsc::sync_channel(1);
        {
            let g = self.state.lock().unwrap_or_else(|p| p.into_inner());
            let State::Running { pid, thread, tx } = &*g else { return };
            if *pid != std::process::id() || *thread == std::thread::current().id() {
                return;
            }
            if tx.send(Msg::Flush(ack_tx)).is_err() {
                return;
            }
        }
        // Err: the thread ended (closed, or the handler's process is exiting).
        let _ = ack_rx.recv();
    }

    /// True when called on this batch thread.
    pub fn is_own_thread(&self) -> bool {
        let g = self.state.lock().unwrap_or_else(|p| p.into_inner());
        matches!(&*g, State::Running { pid, thread, .. }
            if *pid == std::process::id() && *thread == std::thread::current().id())
    }

    /// Refuse new items; the thread handles what is queued, then ends.
    pub fn close(&self) {
        *self.state.lock().unwrap_or_else(|p| p.into_inner()) = State::Closed;
    }
}

fn run<T>(rx: &mpsc::Receiver<Msg<T>>, max: usize, handler: &(dyn Fn(&mut Batch<'_, T>) + Send + Sync)) {
    while let Ok(msg) = rx.recv() {
        let first = match msg {
            Msg::Item(t) => t,
            Msg::Flush(ack) => {
                let _ = ack.send(());
                continue;
            }
        };
        let mut batch = Batch { rx, first: Some(first), left: max - 1, acks: Vec::new() };
        if catch_unwind(AssertUnwindSafe(|| handler(&mut batch))).is_err() {
            eprintln!("postwire: a host handler panicked; its batch was dropped");
        }
        for ack in batch.acks.drain(..) {
            let _ = ack.send(());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};

    #[test]
    fn items_arrive_in_order_in_bounded_batches_and_flush_waits_for_them() {
        let seen = Arc::new(Mutex::new(Vec::new()));
        let batches = Arc::new(AtomicUsize::new(0));
        let (s, b) = (Arc::clone(&seen), Arc::clone(&batches));
        let t = BatchThread::new("test-batch", 4, move |batch: &mut Batch<'_, u32>| {
            b.fetch_add(1, Ordering::Relaxed);
            let mut n = 0;
            for i in batch {
                n += 1;
                s.lock().unwrap().push(i);
            }
            assert!(n <= 4, "batch of {n}");
        });
        for i in 0..100 {
            t.send(i).unwrap();
        }
        t.flush();
        assert_eq!(*seen.lock().unwrap(), (0..100).collect::<Vec<_>>());
        assert!(batches.load(Ordering::Relaxed) >= 25);
        t.close();
        assert_eq!(t.send(7), Err(7));
    }

    #[test]
    fn a_panicking_handler_does_not_stop_the_thread() {
        let seen = Arc::new(Mutex::new(Vec::new()));
        let s = Arc::clone(&seen);
        let t = BatchThread::new("test-panic", 1, move |batch: &mut Batch<'_, u32>| {
            for i in batch {
                if i == 1 {
                    panic!("handler bug");
                }
                s.lock().unwrap().push(i);
            }
        });
        for i in 0..3 {
            t.send(i).unwrap();
        }
        t.flush();
        assert_eq!(*seen.lock().unwrap(), vec![0, 2]);
    }
}
