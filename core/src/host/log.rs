//! Log forwarding: the core's `tracing` events handed to the host's logger (Python's `logging`,
//! Node's `logger` option, C's log callback) as [`LogRecord`]s.
//!
//! Per logger: each record belongs to one of [`LOGGERS`] (`postwire.server`, `postwire.client`,
//! `postwire.pool`, …: [`logger_name`] of its target), and each of them has its own level, so a
//! host mirrors its logging tree (Python's child loggers) with [`set_logger_level`].
//!
//! Cheap where it matters: the most verbose of those levels is one atomic, reported to `tracing` as the maximum level,
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
    /// The host logger this record goes to (one of [`LOGGERS`]).
    pub fn logger(&self) -> &'static str {
        logger_name(self.target)
    }

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

/// 0 = off, 1 = error … 5 = trace: the most verbose level of any logger. Warnings by default,
/// like Python's root logger.
static LEVEL: AtomicU8 = AtomicU8::new(2);

/// The host's loggers the core's records go to, by the part of the core that logs; the last
/// one (`"postwire"`) takes what no other does.
pub const LOGGERS: [&str; 9] = [
    "postwire.server",
    "postwire.client",
    "postwire.pool",
    "postwire.queue",
    "postwire.delivery",
    "postwire.route",
    "postwire.relay_check",
    "postwire.trace",
    "postwire",
];

/// The level of each of [`LOGGERS`] (same numbers as [`LEVEL`]).
static LEVELS: [AtomicU8; LOGGERS.len()] = [const { AtomicU8::new(2) }; LOGGERS.len()];

/// Index in [`LOGGERS`] of the logger of a `tracing` target (`postwire::server::session` →
/// `postwire.server`, `postwire::client::pool` → `postwire.pool`).
fn logger_index(target: &str) -> usize {
    let rest = target.strip_prefix("postwire::").unwrap_or("");
    let first = rest.split("::").next().unwrap_or("");
    let name = match first {
        "client" if rest.starts_with("client::pool") => "pool",
        other => other,
    };
    LOGGERS[..LOGGERS.len() - 1]
        .iter()
        .position(|l| &l["postwire.".len()..] == name)
        .unwrap_or(LOGGERS.len() - 1)
}

/// The host logger (one of [`LOGGERS`]) a record of `target` goes to.
pub fn logger_name(target: &str) -> &'static str {
    LOGGERS[logger_index(target)]
}

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

fn filter_rank(level: LevelFilter) -> u8 {
    match level.into_level() {
        None => 0,
        Some(l) => rank(&l),
    }
}

/// Forward events of `level` and above from now on, for every logger (`LevelFilter::OFF`: none).
pub fn set_level(level: LevelFilter) {
    let r = filter_rank(level);
    for l in &LEVELS {
        l.store(r, Ordering::Relaxed);
    }
    publish_max();
}

/// Set the level of one of [`LOGGERS`] (an unknown name: `false`, nothing changes). A host
/// calls it when its own logger's level changes; no event is built below the most verbose
/// level of all loggers.
pub fn set_logger_level(name: &str, level: LevelFilter) -> bool {
    let Some(i) = LOGGERS.iter().position(|l| *l == name) else { return false };
    LEVELS[i].store(filter_rank(level), Ordering::Relaxed);
    publish_max();
    true
}

/// The level of one of [`LOGGERS`] (`None`: not one of them).
pub fn logger_level(name: &str) -> Option<LevelFilter> {
    let i = LOGGERS.iter().position(|l| *l == name)?;
    Some(from_rank(LEVELS[i].load(Ordering::Relaxed)))
}

fn publish_max() {
    let max = LEVELS.iter().map(|l| l.load(Ordering::Relaxed)).max().unwrap_or(0);
    if LEVEL.swap(max, Ordering::Relaxed) != max {
        tracing::callsite::rebuild_interest_cache();
    }
}

fn from_rank(r: u8) -> LevelFilter {
    match r {
        0 => LevelFilter::OFF,
        1 => LevelFilter::ERROR,
        2 => LevelFilter::WARN,
        3 => LevelFilter::INFO,
        4 => LevelFilter::DEBUG,
        _ => LevelFilter::TRACE,
    }
}

/// The most verbose level in force (of any logger).
pub fn level() -> LevelFilter {
    from_rank(LEVEL.load(Ordering::Relaxed))
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
        let r = rank(meta.level());
        // Most events stop at the first comparison; the logger's own level is the second.
        r <= LEVEL.load(Ordering::Relaxed) && r <= LEVELS[logger_index(meta.target())].load(Ordering::Relaxed)
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
    fn targets_map_to_loggers_with_their_own_levels() {
        assert_eq!(logger_name("postwire::server::session"), "postwire.server");
        assert_eq!(logger_name("postwire::client::pool"), "postwire.pool");
        assert_eq!(logger_name("postwire::client::transaction"), "postwire.client");
        assert_eq!(logger_name("postwire::queue"), "postwire.queue");
        assert_eq!(logger_name("postwire::hostname"), "postwire");
        assert_eq!(logger_name("tokio::net"), "postwire");
        assert!(!set_logger_level("nope", LevelFilter::DEBUG));
    }

    #[test]
    fn level_round_trips() {
        set_level(LevelFilter::DEBUG);
        assert_eq!(level(), LevelFilter::DEBUG);
        set_level(LevelFilter::OFF);
        assert_eq!(level(), LevelFilter::OFF);
        set_level(LevelFilter::WARN);
        assert_eq!(level(), LevelFilter::WARN);
        assert!(set_logger_level("postwire.pool", LevelFilter::DEBUG));
        assert_eq!(level(), LevelFilter::DEBUG, "the most verbose logger sets the global bound");
        assert_eq!(logger_level("postwire.server"), Some(LevelFilter::WARN));
        set_level(LevelFilter::WARN);
        assert_eq!(level(), LevelFilter::WARN);
    }
}
