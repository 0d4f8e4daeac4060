//! The core's log records (`postwire::host::log`) → Python's `logging`, one child logger per part
//! of the core (`postwire.server`, `postwire.client`, `postwire.pool`, …: `log::LOGGERS`).
//!
//! The core filters (one atomic load per event, then the logger's own level) and queues; its log
//! thread hands this sink batches, each logged under one GIL acquisition. Each record carries the
//! core's structured fields as attributes (`record.session`, `record.rcpt`, …; all of them in
//! `record.postwire_fields`), the message text alone in `record.msg`.
//!
//! Levels: the core keeps one level per logger, the Python loggers' effective levels. They are
//! pushed to the core whenever a level changes anywhere in `logging` (`Logger.setLevel`,
//! `basicConfig`, `logging.disable` all clear the logging manager's cache, which
//! `postwire._logging` watches), so no refresh call is needed and an event that no logger wants
//! never takes the GIL.

use std::sync::atomic::Ordering;

use postwire::host::log::{self, LOGGERS};
use pyo3::prelude::*;
use pyo3::sync::GILOnceCell;
use pyo3::types::PyDict;
use tracing::level_filters::LevelFilter;
use tracing::Level;

use crate::PYTHON_ALIVE;

/// The Python loggers of `log::LOGGERS`, in that order.
static LOGGERS_PY: GILOnceCell<Vec<Py<PyAny>>> = GILOnceCell::new();

fn loggers(py: Python<'_>) -> PyResult<&Vec<Py<PyAny>>> {
    LOGGERS_PY.get_or_try_init(py, || {
        let logging = py.import("logging")?;
        LOGGERS.iter().map(|n| Ok(logging.call_method1("getLogger", (*n,))?.unbind())).collect()
    })
}

/// `logging.getLogger(name)` for one of the core's logger names (the `postwire` logger for
/// any other name).
pub fn logger<'py>(py: Python<'py>, name: &str) -> PyResult<&'py Bound<'py, PyAny>> {
    let i = LOGGERS.iter().position(|l| *l == name).unwrap_or(LOGGERS.len() - 1);
    Ok(loggers(py)?[i].bind(py))
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

fn filter_of(level: i32) -> LevelFilter {
    match level {
        i32::MIN..=5 => LevelFilter::TRACE,
        6..=10 => LevelFilter::DEBUG,
        11..=20 => LevelFilter::INFO,
        21..=30 => LevelFilter::WARN,
        31..=40 => LevelFilter::ERROR,
        _ => LevelFilter::OFF,
    }
}

/// Push every logger's effective level (and `logging.disable`) to the core. An exception raised
/// meanwhile is passed on, never swallowed: on the main thread it may be the KeyboardInterrupt of
/// a Ctrl-C or SIGTERM whose handler ran inside these calls (losing it left `serve_forever`
/// serving after SIGTERM).
#[pyfunction]
pub fn refresh_levels(py: Python<'_>) -> PyResult<()> {
    let all = loggers(py)?;
    let disabled: i32 =
        py.import("logging")?.getattr("root")?.getattr("manager")?.getattr("disable")?.extract()?;
    for (name, l) in LOGGERS.iter().zip(all) {
        let level: i32 = l.bind(py).call_method0("getEffectiveLevel")?.extract()?;
        let level = if disabled > 0 { level.max(disabled + 1) } else { level };
        log::set_logger_level(name, filter_of(level));
    }
    Ok(())
}

/// `postwire.set_log_level(level)`: set the `postwire` logger's level (an int or a name such as
/// `"DEBUG"`); children without a level of their own follow it.
#[pyfunction]
pub fn set_log_level(py: Python<'_>, level: Bound<'_, PyAny>) -> PyResult<()> {
    logger(py, "postwire")?.call_method1("setLevel", (level,))?;
    refresh_levels(py)
}

/// One record into `logging` through its logger's `handle` (its handlers and filters run);
/// fields become attributes, unless the name is a `LogRecord` attribute already.
fn emit(py: Python<'_>, r: &log::LogRecord) -> PyResult<()> {
    let l = logger(py, r.logger())?;
    let level = python_level(r.level);
    if !l.call_method1(pyo3::intern!(py, "isEnabledFor"), (level,))?.is_truthy()? {
        return Ok(());
    }
    let rec = l.call_method1(
        pyo3::intern!(py, "makeRecord"),
        (l.getattr(pyo3::intern!(py, "name"))?, level, r.target, 0, &r.message, (), py.None()),
    )?;
    let fields = PyDict::new(py);
    for (k, v) in &r.fields {
        fields.set_item(*k, v)?;
        if !rec.hasattr(*k)? {
            rec.setattr(*k, v)?;
        }
    }
    rec.setattr(pyo3::intern!(py, "postwire_fields"), fields)?;
    l.call_method1(pyo3::intern!(py, "handle"), (rec,))?;
    Ok(())
}

/// Forward the core's records to `logging` (once per process; nothing is forwarded when the
/// host application installed a global `tracing` subscriber of its own first), and watch
/// `logging` for level changes.
pub fn install(py: Python<'_>) -> PyResult<()> {
    log::install(Box::new(|batch| {
        if !PYTHON_ALIVE.load(Ordering::Relaxed) {
            batch.for_each(drop);
            return;
        }
        Python::with_gil(|py| {
            for r in batch {
                let _ = emit(py, &r);
            }
        });
    }));
    refresh_levels(py)
}
