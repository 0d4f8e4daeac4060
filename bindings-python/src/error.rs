//! `postwire::Error` → the Python exception of its kind.
//!
//! The exception classes are pure Python (`postwire/errors.py`, so they can subclass the builtin
//! `TimeoutError` and `ValueError`) and pick their class by the core's kind name; this file only
//! hands over kind, message, reply and the refused recipients. Binding methods read: convert arguments, call core,
//! `.py_err()?`.

use postwire::Error;
use pyo3::prelude::*;
use pyo3::sync::GILOnceCell;

use crate::values::{PyRejected, PyReply};

static FROM_CORE: GILOnceCell<Py<PyAny>> = GILOnceCell::new();

/// Build the Python exception object for `e` (`postwire.errors._from_core`).
pub fn exception<'py>(py: Python<'py>, e: &Error) -> PyResult<Bound<'py, PyAny>> {
    let make = FROM_CORE.import(py, "postwire.errors", "_from_core")?;
    let reply = e.reply().map(|r| PyReply::from(r.clone()));
    let rejected: Vec<PyRejected> = e
        .rejected()
        .iter()
        .map(|x| PyRejected { rcpt: x.rcpt.clone(), reply: x.reply.clone().into() })
        .collect();
    make.call1((e.kind().as_str(), e.message(), reply, rejected))
}

/// Extension trait: a core error as a `PyErr`.
pub trait ErrorExt {
    /// The Python exception of this error's kind (`postwire.RejectedError`, …).
    fn into_py_err(self) -> PyErr;
}

impl ErrorExt for Error {
    fn into_py_err(self) -> PyErr {
        Python::with_gil(|py| match exception(py, &self) {
            Ok(exc) => PyErr::from_value(exc),
            Err(failed) => failed,
        })
    }
}

/// Extension trait: `postwire::Result<T>` → `PyResult<T>`.
pub trait ResultExt<T> {
    /// Map the error with [`ErrorExt::into_py_err`].
    fn py_err(self) -> PyResult<T>;
}

impl<T> ResultExt<T> for Result<T, Error> {
    fn py_err(self) -> PyResult<T> {
        self.map_err(ErrorExt::into_py_err)
    }
}

/// An `invalid_input` error as a Python exception (`InvalidInputError`, also a `ValueError`).
pub fn invalid_input(message: impl Into<String>) -> PyErr {
    Error::invalid_input(message).into_py_err()
}
