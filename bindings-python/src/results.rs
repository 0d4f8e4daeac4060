//! The MTA capabilities' results (`Route`, `QueueEntry`, `RunStats`, `RelayReport`,
//! `TraceAnalysis`, `ReceivedLine`) into their Python classes, and keyword options into the
//! JSON-shaped value the core's host layer reads (`postwire::host::mta`; the keywords go through
//! `convert::options_value`).
//!
//! A result leaves the core as its JSON shape (`host::mta::to_value`, what `--json` prints) and
//! becomes an object of `postwire/_mta.py` (frozen dataclasses: attributes, repr, `==`, pickling,
//! `to_dict()`), built on the thread that holds the GIL — for `aio` calls, the loop thread.

use postwire::host::mta::to_value;
use pyo3::prelude::*;
use pyo3::sync::GILOnceCell;
use serde::Serialize;
use serde_json::Value;

use crate::convert::to_py;

static FROM_CORE: GILOnceCell<Py<PyAny>> = GILOnceCell::new();

/// A core result on its way to Python: becomes `postwire._mta._from_core(kind, value)`.
pub struct Built {
    kind: &'static str,
    value: Value,
}

/// `result` as the Python object of `kind` (`"route"`, `"queue_entries"`, `"run_stats"`,
/// `"relay_report"`, `"trace_analysis"`, `"received_line"`).
pub fn built<T: Serialize>(kind: &'static str, result: &T) -> Built {
    Built { kind, value: to_value(result) }
}

impl<'py> IntoPyObject<'py> for Built {
    type Target = PyAny;
    type Output = Bound<'py, PyAny>;
    type Error = PyErr;

    fn into_pyobject(self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        let make = FROM_CORE.import(py, "postwire._mta", "_from_core")?;
        make.call1((self.kind, to_py(py, &self.value)?))
    }
}
