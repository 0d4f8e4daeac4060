//! Log forwarding: the core's `tracing` events handed to the host's logger (Python's `logging`,
//! Node's `logger` option, C's log callback) as [`LogRecord`]s.
//!
//! Cheap where it matters: the level is one atomic, reported to `tracing` as the maximum level,
//! so an event below it costs one comparison in the core and is never built. An event that
//! passes is formatted into a record and queued to one log thread ([`BatchThread`]), which hands
//! the host batches: no host lock (GIL, JS thread) is taken per event on a session's hot path,
//! and a burst of records costs one host call. [`flush`] waits until every record queued so far
//! reached the host (tests, and bindings before they stop a server).

use std::fmt::Write as _;
use std::sync::atomic::{AtomicU8, Ordering};
use std::sync::OnceLock;

use tracing::field::{Field, Visit};
use tracing::level_filters::LevelFilter;
use tracing::{Event, Level, Metadata, Subscriber};
use tracing_subscriber::layer::{Context, Layer};
use tracing_subscriber::prelude::*;

use super::batch::{Batch, BatchThread};

/// Records handed to the host in one batch at most.
pub const LOG_BATCH: usize = 512;

/// One log event, owned.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogRecord {
    /// ERROR, WARN, INFO, DEBUG or TRACE.
    pub level: Level,
    /// The module that logged (`postwire::server::session`).
    pub target: &'static str,
    /// The message.
    pub message: String,
    /// The other fields, in order, as `name = value` text.
    pub fields: Vec<(&'static str, String)>,
}

impl LogRecord {
    /// The message followed by ` name=value` for each field: one line for loggers that take
    /// text only.
    pub fn text(&self) -> String {
        let mut s = self.message.clone();
        for (k, v) in &self.fields {
            let _ = write!(s, " {k}={v}");
        }
        s
    }
}

/// What the host gives [`install`]: called on the log thread with each batch of records.
pub type LogSink = Box<dyn Fn(&mut Batch<'_, LogRecord>) + Send + Sync>;

/// 0 = off, 1 = error … 5 = trace. Warnings by default, like Python's root logger.
static LEVEL: AtomicU8 = AtomicU8::new(2);

static FORWARDER: OnceLock<BatchThread<LogRecord>> = OnceLock::new();

fn rank(l: &Level) -> u8 {
    match *l {
        Level::ERROR => 1,
        Level::WARN => 2,
        Level::INFO => 3,
        Level::DEBUG => 4,
        Level::TRACE => 5,
    }
}

/// Forward the process's `tracing` events to `sink`: installs the global subscriber with the
/// forwarding layer. Returns false (and forwards nothing) when the process already has a global
/// subscriber — an application that set up its own `tracing` keeps it — or when `install` was
/// called before.
pub fn install(sink: LogSink) -> bool {
    if FORWARDER.get().is_some() {
        return false;
    }
    let thread = BatchThread::new("postwire-log", LOG_BATCH, sink);
    if FORWARDER.set(thread).is_err() {
        return false;
    }
    tracing::subscriber::set_global_default(tracing_subscriber::registry().with(ForwardLayer)).is_ok()
}

/// Forward events of `level` and above from now on (`LevelFilter::OFF`: none).
pub fn set_level(level: LevelFilter) {
    let r = match level.into_level() {
        None => 0,
        Some(l) => rank(&l),
    };
    if LEVEL.swap(r, Ordering::Relaxed) != r {
        tracing::callsite::rebuild_interest_cache();
    }
}

/// The level in force.
pub fn level() -> LevelFilter {
    match LEVEL.load(Ordering::Relaxed) {
        0 => LevelFilter::OFF,
        1 => LevelFilter::ERROR,
        2 => LevelFilter::WARN,
        3 => LevelFilter::INFO,
        4 => LevelFilter::DEBUG,
        _ => LevelFilter::TRACE,
    }
}

/// Wait until every record queued so far was handed to the host. A binding releases its host
/// lock around this call (the log thread needs it to deliver).
pub fn flush() {
    if let Some(f) = FORWARDER.get() {
        f.flush();
    }
}

#[derive(Default)]
struct Fields {
    message: String,
    fields: Vec<(&'static str, String)>,
}

impl Visit for Fields {
    fn record_debug(&mut self, field: &Field, value: &dyn std::fmt::Debug) {
        if field.name() == "message" {
            let _ = write!(self.message, "{value:?}");
        } else {
            self.fields.push((field.name(), format!("{value:?}")));
        }
    }
    fn record_str(&mut self, field: &Field, value: &str) {
        if field.name() == "message" {
            self.message.push_str(value);
        } else {
            self.fields.push((field.name(), value.to_string()));
        }
    }
}

/// The `tracing` layer that queues records for the host. [`install`] sets it up as the global
/// subscriber; an application building its own subscriber may add it to that instead.
#[derive(Debug, Default, Clone, Copy)]
pub struct ForwardLayer;

impl<S: Subscriber> Layer<S> for ForwardLayer {
    fn register_callsite(&self, _meta: &'static Metadata<'static>) -> tracing::subscriber::Interest {
        // The level changes at run time: ask `enabled` (one atomic load) per event.
        tracing::subscriber::Interest::sometimes()
    }

    fn enabled(&self, meta: &Metadata<'_>, _ctx: Context<'_, S>) -> bool {
        rank(meta.level()) <= LEVEL.load(Ordering::Relaxed)
    }

    fn max_level_hint(&self) -> Option<LevelFilter> {
        Some(level())
    }

    fn on_event(&self, event: &Event<'_>, _ctx: Context<'_, S>) {
        let Some(forwarder) = FORWARDER.get() else { return };
        let meta = event.metadata();
        let mut f = Fields::default();
        event.record(&mut f);
        let record =
            LogRecord { level: *meta.level(), target: meta.target(), message: f.message, fields: f.fields };
        // Err: the forwarder was closed; the record is dropped.
        let _ = forwarder.send(record);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_appends_fields() {
        let r = LogRecord {
            level: Level::INFO,
            target: "postwire::server",
            message: "message accepted".into(),
            fields: vec![("id", "1A".into()), ("size", "42".into())],
        };
        assert_eq!(r.text(), "message accepted id=1A size=42");
    }

    #[test]
    fn level_round_trips() {
        set_level(LevelFilter::DEBUG);
        assert_eq!(level(), LevelFilter::DEBUG);
        set_level(LevelFilter::OFF);
        assert_eq!(level(), LevelFilter::OFF);
        set_level(LevelFilter::WARN);
        assert_eq!(level(), LevelFilter::WARN);
    }
}
