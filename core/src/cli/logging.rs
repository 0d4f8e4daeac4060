//! The command line's log: `tracing` events to stderr through a non-blocking writer, so that a
//! slow, full or broken log sink never touches mail.
//!
//! Sessions only format a line and hand it to a channel (tracing-appender's `non_blocking`, in
//! lossy mode: when the channel is full the line is dropped and counted, never waited for); one
//! worker thread writes the lines, batching what piled up into one write. Write errors are
//! ignored (a closed pipe — `postwire serve … 2>&1 | head` — must not turn a stored message into
//! a dropped connection, nor stop SIGTERM from working), and the subscriber is told not to
//! report its own write errors on stderr (which would panic on that same closed pipe).

use std::io::{self, Write};

use tracing_appender::non_blocking::{ErrorCounter, NonBlockingBuilder, WorkerGuard};
use tracing_subscriber::EnvFilter;

/// Keeps the log worker alive; dropping it writes out what is queued (bounded by the worker's
/// own shutdown timeout).
pub struct LogGuard {
    guard: Option<WorkerGuard>,
    dropped: ErrorCounter,
}

impl LogGuard {
    /// Lines dropped because the log sink could not keep up.
    pub fn dropped_lines(&self) -> usize {
        self.dropped.dropped_lines()
    }
}

impl Drop for LogGuard {
    fn drop(&mut self) {
        // The worker guard reports a shutdown timeout with println!, which panics on a closed
        // stdout: never let the log take the exit code.
        let guard = self.guard.take();
        let _ = std::panic::catch_unwind(std::panic::AssertUnwindSafe(move || drop(guard)));
    }
}

/// Log to stderr with `tracing` (`--json-log`: JSON lines; `--quiet`: warnings and errors
/// only); `RUST_LOG` overrides the level. `None` when a global subscriber is already set (a
/// host such as Python installed its own).
pub fn init(json: bool, quiet: bool) -> Option<LogGuard> {
    let default = if quiet { "warn" } else { "info" };
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(default));
    use std::io::IsTerminal;
    let ansi = io::stderr().is_terminal();
    let (writer, guard) = NonBlockingBuilder::default().lossy(true).finish(Sink::new(io::stderr()));
    let dropped = writer.error_counter();
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_ansi(ansi)
        .with_writer(writer)
        .log_internal_errors(false);
    let installed = if json { builder.json().try_init() } else { builder.try_init() };
    installed.ok().map(|()| LogGuard { guard: Some(guard), dropped })
}

/// The worker's writer: lines collect in a buffer that is written out when the worker has
/// drained its channel (its `flush`) or when 64 KiB piled up; errors are swallowed and the
/// buffer emptied either way, so a dead sink costs nothing and holds nothing.
struct Sink<W: Write> {
    inner: W,
    buf: Vec<u8>,
}

const SINK_BUF: usize = 64 * 1024;

impl<W: Write> Sink<W> {
    fn new(inner: W) -> Self {
        Sink { inner, buf: Vec::with_capacity(SINK_BUF) }
    }
}

impl<W: Write> Write for Sink<W> {
    fn write(&mut self, data: &[u8]) -> io::Result<usize> {
        self.buf.extend_from_slice(data);
        if self.buf.len() >= SINK_BUF {
            self.flush()?;
        }
        Ok(data.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        let _ = self.inner.write_all(&self.buf);
        let _ = self.inner.flush();
        self.buf.clear();
        Ok(())
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
    fn a_broken_sink_is_ignored_and_holds_nothing() {
        let mut s = Sink::new(Broken(0));
        for _ in 0..10_000 {
            s.write_all(b"a log line that nobody will read\n").expect("never an error");
        }
        s.flush().expect("never an error");
        assert!(s.buf.is_empty());
        assert!(s.inner.0 > 0, "it did try");
    }
}
