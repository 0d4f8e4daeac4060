//! The core's `tracing` events → Python's `logging.getLogger("postwire")`.
//!
//! Cheap when the logger is quiet: the Python logger's effective level is cached in an atomic
//! and reported to `tracing` as the maximum level, so a disabled event costs one comparison in
//! the core. The cache is refreshed at import, by `postwire.set_log_level`, and whenever the
//! binding already holds the GIL at a natural point (`Server.start`, every 100 ms of
//! `serve_forever`, `Client.connect`), so `logging.basicConfig(level=DEBUG)` takes effect at
//! the next of those.

use std::fmt::Write as _;
use std::sync::atomic::{AtomicU8, Ordering};

use pyo3::prelude::*;
use pyo3::sync::GILOnceCell;
use tracing::field::{Field, Visit};
use tracing::level_filters::LevelFilter;
use tracing::{Event, Level, Metadata, Subscriber};
use tracing_subscriber::layer::{Context, Layer};
use tracing_subscriber::prelude::*;

use crate::hooks::PYTHON_ALIVE;

/// 0 = off, 1 = error, 2 = warn, 3 = info, 4 = debug, 5 = trace.
static LEVEL: AtomicU8 = AtomicU8::new(2);

static LOGGER: GILOnceCell<Py<PyAny>> = GILOnceCell::new();

fn rank(l: &Level) -> u8 {
    match *l {
        Level::ERROR => 1,
        Level::WARN => 2,
        Level::INFO => 3,
        Level::DEBUG => 4,
        Level::TRACE => 5,
    }
}

fn python_level(l: &Level) -> i32 {
    match *l {
        Level::ERROR => 40,
        Level::WARN => 30,
        Level::INFO => 20,
        Level::DEBUG => 10,
        Level::TRACE => 5,
    }
}

fn rank_of_python(level: i32) -> u8 {
    match level {
        i32::MIN..=5 => 5,
        6..=10 => 4,
        11..=20 => 3,
        21..=30 => 2,
        31..=40 => 1,
        _ => 0,
    }
}

fn logger(py: Python<'_>) -> PyResult<&Bound<'_, PyAny>> {
    LOGGER
        .get_or_try_init(py, || -> PyResult<_> {
            Ok(py.import("logging")?.call_method1("getLogger", ("postwire",))?.unbind())
        })
        .map(|l| l.bind(py))
}

fn set_rank(r: u8) {
    if LEVEL.swap(r, Ordering::Relaxed) != r {
        tracing::callsite::rebuild_interest_cache();
    }
}

/// Re-read the `postwire` logger's effective level.
pub fn refresh(py: Python<'_>) {
    if let Ok(level) =
        logger(py).and_then(|l| l.call_method0("getEffectiveLevel")).and_then(|v| v.extract::<i32>())
    {
        set_rank(rank_of_python(level));
    }
}

/// `postwire.set_log_level(level)`: set the `postwire` logger's level (an int or a name such as
/// `"DEBUG"`) and start forwarding events of that level at once.
#[pyfunction]
pub fn set_log_level(py: Python<'_>, level: Bound<'_, PyAny>) -> PyResult<()> {
    logger(py)?.call_method1("setLevel", (level,))?;
    refresh(py);
    Ok(())
}

struct Fields {
    message: String,
    rest: String,
}

impl Visit for Fields {
    fn record_debug(&mut self, field: &Field, value: &dyn std::fmt::Debug) {
        if field.name() == "message" {
            let _ = write!(self.message, "{value:?}");
        } else {
            let _ = write!(self.rest, " {}={:?}", field.name(), value);
        }
    }
    fn record_str(&mut self, field: &Field, value: &str) {
        if field.name() == "message" {
            self.message.push_str(value);
        } else {
            let _ = write!(self.rest, " {}={}", field.name(), value);
        }
    }
}

struct PyLogLayer;

impl<S: Subscriber> Layer<S> for PyLogLayer {
    fn register_callsite(&self, _meta: &'static Metadata<'static>) -> tracing::subscriber::Interest {
        tracing::subscriber::Interest::sometimes()
    }

    fn enabled(&self, meta: &Metadata<'_>, _ctx: Context<'_, S>) -> bool {
        rank(meta.level()) <= LEVEL.load(Ordering::Relaxed)
    }

    fn max_level_hint(&self) -> Option<LevelFilter> {
        Some(match LEVEL.load(Ordering::Relaxed) {
            0 => LevelFilter::OFF,
            1 => LevelFilter::ERROR,
            2 => LevelFilter::WARN,
            3 => LevelFilter::INFO,
            4 => LevelFilter::DEBUG,
            _ => LevelFilter::TRACE,
        })
    }

    fn on_event(&self, event: &Event<'_>, _ctx: Context<'_, S>) {
        if !PYTHON_ALIVE.load(Ordering::Relaxed) {
            return;
        }
        let meta = event.metadata();
        let mut f = Fields { message: String::new(), rest: String::new() };
        event.record(&mut f);
        let text = format!("{}{}", f.message, f.rest);
        let level = python_level(meta.level());
        Python::with_gil(|py| {
            if let Ok(l) = logger(py) {
                let _ = l.call_method1("log", (level, "%s", text));
            }
        });
    }
}

/// Install the forwarding subscriber (once per process; a no-op when the host application has
/// already installed a global `tracing` subscriber).
pub fn install(py: Python<'_>) {
    let _ = tracing::subscriber::set_global_default(tracing_subscriber::registry().with(PyLogLayer));
    refresh(py);
}
