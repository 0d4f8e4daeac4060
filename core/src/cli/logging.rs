//! The command line's log: `tracing` events to stderr through a non-blocking, batching writer,
//! so that a slow, full or broken log sink never touches mail, and logging costs a session no
//! more than formatting its line.
//!
//! A session appends its formatted line to a shared in-memory queue (a mutex held for one
//! `memcpy`) and goes on; a writer thread takes everything queued every 100 ms and writes it in
//! one go. When the sink is stuck and 4 MiB are queued, further lines are dropped and counted
//! (logged when the server stops) — a session never waits for the log. Write errors are ignored:
//! a closed pipe (`postwire serve … 2>&1 | head`) must not turn a stored message into a dropped
//! connection, nor keep SIGTERM from working; and the subscriber is told not to report its own
//! write errors on stderr (which would panic on that same closed pipe).
//!
//! Why not tracing-appender's `non_blocking` (lossy), the usual choice: its worker thread is
//! woken for every line and writes each line with its own syscall. With one line per message
//! that is a futex wake, a context switch and a `write` per message — measured at several µs
//! of CPU per message on the many-messages-per-session benchmark rows, where the whole message
//! costs 40–50 µs. Batching on a timer makes it one wake-up and one write per 100 ms.

use std::io::{self, Write};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{mpsc, Arc, Mutex};
use std::thread::JoinHandle;
use std::time::Duration;

use tracing_subscriber::filter::LevelFilter;
use tracing_subscriber::fmt::MakeWriter;
use tracing_subscriber::EnvFilter;

/// Lines queued while the sink is slow or stuck; past it, lines are dropped.
const QUEUE_LIMIT: usize = 4 << 20;
/// How often the writer thread writes what is queued.
const INTERVAL: Duration = Duration::from_millis(100);
/// How long stopping waits for the last lines to be written.
const LAST_WRITE: Duration = Duration::from_secs(2);

/// What the sessions and the writer thread share.
#[derive(Debug, Default)]
struct Queue {
    lines: Mutex<Vec<u8>>,
    dropped: AtomicUsize,
    stop: AtomicBool,
}

impl Queue {
    fn push(&self, line: &[u8]) {
        let mut q = self.lines.lock().unwrap_or_else(|p| p.into_inner());
        if q.len() + line.len() > QUEUE_LIMIT {
            self.dropped.fetch_add(1, Ordering::Relaxed);
        } else {
            q.extend_from_slice(line);
        }
    }

    /// Swap the queued lines into `spare` (which must be empty).
    fn take(&self, spare: &mut Vec<u8>) {
        let mut q = self.lines.lock().unwrap_or_else(|p| p.into_inner());
        std::mem::swap(&mut *q, spare);
    }
}

/// The `MakeWriter` the subscriber formats each event into.
#[derive(Debug, Clone)]
struct Queued(Arc<Queue>);

/// One event's writer: the fmt layer writes a whole line, then drops it.
struct LineWriter<'a>(&'a Queue);

impl Write for LineWriter<'_> {
    fn write(&mut self, data: &[u8]) -> io::Result<usize> {
        self.0.push(data);
        Ok(data.len())
    }
    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

impl<'a> MakeWriter<'a> for Queued {
    type Writer = LineWriter<'a>;
    fn make_writer(&'a self) -> Self::Writer {
        LineWriter(&self.0)
    }
}

/// Keeps the writer thread; dropping it writes out what is queued (waiting at most 2 s: a stuck
/// sink must not hold up the exit).
pub struct LogGuard {
    queue: Arc<Queue>,
    thread: Option<JoinHandle<()>>,
    done: mpsc::Receiver<()>,
}

impl LogGuard {
    /// Lines dropped because the log sink could not keep up.
    pub fn dropped_lines(&self) -> usize {
        self.queue.dropped.load(Ordering::Relaxed)
    }
}

impl Drop for LogGuard {
    fn drop(&mut self) {
        self.queue.stop.store(true, Ordering::Release);
        if let Some(t) = self.thread.take() {
            t.thread().unpark();
            if self.done.recv_timeout(LAST_WRITE).is_ok() {
                let _ = t.join();
            }
        }
    }
}

/// Log to stderr with `tracing` (`--json-log`: JSON lines; `--quiet`: warnings and errors
/// only); `RUST_LOG` overrides the level. `None` when a global subscriber is already set (a
/// host such as Python installed its own).
pub fn init(json: bool, quiet: bool) -> Option<LogGuard> {
    use std::io::IsTerminal;
    let ansi = io::stderr().is_terminal();
    let queue = Arc::new(Queue::default());
    let builder = tracing_subscriber::fmt()
        .with_ansi(ansi)
        .with_writer(Queued(Arc::clone(&queue)))
        .log_internal_errors(false);
    // RUST_LOG's directives need an EnvFilter; without them a plain level filter does, and costs
    // less per event on the hot path (measured with bench/server_bench.sh's postwire-log rows).
    let installed = match EnvFilter::try_from_default_env() {
        Ok(filter) => {
            let b = builder.with_env_filter(filter);
            if json {
                b.json().try_init()
            } else {
                b.try_init()
            }
        }
        Err(_) => {
            let level = if quiet { LevelFilter::WARN } else { LevelFilter::INFO };
            let b = builder.with_max_level(level);
            if json {
                b.json().try_init()
            } else {
                b.try_init()
            }
        }
    };
    installed.ok()?;
    let (done_tx, done) = mpsc::channel();
    let q = Arc::clone(&queue);
    let thread = std::thread::Builder::new()
        .name("postwire-log".into())
        .spawn(move || {
            write_loop(&q, &mut io::stderr());
            let _ = done_tx.send(());
        })
        .ok();
    Some(LogGuard { queue, thread, done })
}

/// Every `INTERVAL` (or when told to stop), write out what is queued; errors are ignored.
fn write_loop(queue: &Queue, sink: &mut impl Write) {
    let mut batch = Vec::new();
    loop {
        let stopping = queue.stop.load(Ordering::Acquire);
        queue.take(&mut batch);
        if !batch.is_empty() {
            let _ = sink.write_all(&batch);
            let _ = sink.flush();
            batch.clear();
        }
        if stopping {
            return;
        }
        std::thread::park_timeout(INTERVAL);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A sink that always fails, as a closed pipe does.
    struct Broken(usize);
    impl Write for Broken {
        fn write(&mut self, _: &[u8]) -> io::Result<usize> {
            self.0 += 1;
            Err(io::Error::from(io::ErrorKind::BrokenPipe))
        }
        fn flush(&mut self) -> io::Result<()> {
            Err(io::Error::from(io::ErrorKind::BrokenPipe))
        }
    }

    #[test]
    fn lines_are_batched_errors_ignored_and_a_stuck_sink_drops_and_counts() {
        let w = Queued(Arc::new(Queue::default()));
        for _ in 0..3 {
            w.make_writer().write_all(b"one line\n").unwrap();
        }
        let mut out = Vec::new();
        w.0.stop.store(true, Ordering::Release);
        write_loop(&w.0, &mut out);
        assert_eq!(out, b"one line\none line\none line\n", "all written at once");
        // A broken sink: nothing fails, nothing is kept.
        w.0.push(b"lost\n");
        let mut broken = Broken(0);
        write_loop(&w.0, &mut broken);
        assert_eq!(broken.0, 1);
        assert!(w.0.lines.lock().unwrap().is_empty());
        // A stuck sink: the queue is bounded, the rest is counted.
        let line = vec![b'x'; 1024];
        for _ in 0..(QUEUE_LIMIT / 1024 + 10) {
            w.make_writer().write_all(&line).unwrap();
        }
        assert_eq!(w.0.dropped.load(Ordering::Relaxed), 10);
        assert!(w.0.lines.lock().unwrap().len() <= QUEUE_LIMIT);
    }
}
