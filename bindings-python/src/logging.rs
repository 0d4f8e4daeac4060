//! The core's log records (`postwire::host::log`) → Python's `logging.getLogger("postwire")`.
//!
//! The core filters (one atomic load per event) and queues; its log thread hands this sink
//! batches, each logged under one GIL acquisition. The level is the Python logger's effective
//! level, re-read at import, by `postwire.set_log_level`, and whenever the binding already holds
//! the GIL at a natural point (`Server.start`, every 100 ms of `serve_forever`,
//! `Client.connect`), so `logging.basicConfig(level=DEBUG)` takes effect at the next of those.

use std::sync::atomic::Ordering;

use postwire::host::log;
use pyo3::prelude::*;
use pyo3::sync::GILOnceCell;
use tracing::level_filters::LevelFilter;
use tracing::Level;

use crate::PYTHON_ALIVE;

static LOGGER: GILOnceCell<Py<PyAny>> = GILOnceCell::new();

/// `logging.getLogger("postwire")`.
pub fn logger(py: Python<'_>) -> PyResult<&Bound<'_, PyAny>> {
    LOGGER
        .get_or_try_init(py, || {
            Ok::<_, PyErr>(py.import("logging")?.call_method1("getLogger", ("postwire",))?.unbind())
        })
        .map(|l| l.bind(py))
}

fn python_level(l: Level) -> i32 {
    match l {
        Level::ERROR => 40,
        Level::WARN => 30,
        Level::INFO => 20,
        Level::DEBUG => 10,
        Level::TRACE => 5,
    }
}

/// Re-read the `postwire` logger's effective level.
pub fn refresh(py: Python<'_>) {
    let level = logger(py).and_then(|l| l.call_method0("getEffectiveLevel")).and_then(|v| v.extract::<i32>());
    if let Ok(level) = level {
        log::set_level(match level {
            i32::MIN..=5 => LevelFilter::TRACE,
            6..=10 => LevelFilter::DEBUG,
            11..=20 => LevelFilter::INFO,
            21..=30 => LevelFilter::WARN,
            31..=40 => LevelFilter::ERROR,
            _ => LevelFilter::OFF,
        });
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

/// Forward the core's records to `logging` (once per process; nothing is forwarded when the
/// host application installed a global `tracing` subscriber of its own first).
pub fn install(py: Python<'_>) {
    log::install(Box::new(|batch| {
        if !PYTHON_ALIVE.load(Ordering::Relaxed) {
            batch.for_each(drop);
            return;
        }
        Python::with_gil(|py| {
            let Ok(l) = logger(py) else { return batch.for_each(drop) };
            for r in batch {
                let _ = l.call_method1("log", (python_level(r.level), "%s", r.text()));
            }
        });
    }));
    refresh(py);
}
