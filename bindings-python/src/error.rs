//! `postwire::Error` → the Python exception of its kind.
//!
//! The exception classes are pure Python (`postwire/errors.py`, so they can subclass the builtin
//! `TimeoutError` and `ValueError`); this file only picks the class by [`ErrorKind`] and sets
//! `.kind` and `.reply`. Binding methods read: convert arguments, call core, `.py_err()?`.

use postwire::{Error, ErrorKind};
use pyo3::prelude::*;

use crate::values::PyReply;

/// The class name in `postwire.errors` for each kind.
pub fn class_name(kind: ErrorKind) -> &'static str {
    match kind {
        ErrorKind::Connect => "ConnectError",
        ErrorKind::Timeout => "TimeoutError",
        ErrorKind::Tls => "TlsError",
        ErrorKind::Auth => "AuthError",
        ErrorKind::Protocol => "ProtocolError",
        ErrorKind::Rejected => "RejectedError",
        ErrorKind::Transient => "TransientError",
        ErrorKind::Dns => "DnsError",
        ErrorKind::InvalidInput => "InvalidInputError",
        ErrorKind::Io => "IoError",
    }
}

/// The class name for a kind given as its snake_case name.
pub fn class_name_of(kind: &str) -> &'static str {
    [
        ErrorKind::Connect,
        ErrorKind::Timeout,
        ErrorKind::Tls,
        ErrorKind::Auth,
        ErrorKind::Protocol,
        ErrorKind::Rejected,
        ErrorKind::Transient,
        ErrorKind::Dns,
        ErrorKind::InvalidInput,
        ErrorKind::Io,
    ]
    .into_iter()
    .find(|k| k.as_str() == kind)
    .map(class_name)
    .unwrap_or("Error")
}

/// Build the Python exception object for `e` (an instance of the `postwire.errors` class).
pub fn exception<'py>(py: Python<'py>, e: &Error) -> PyResult<Bound<'py, PyAny>> {
    let cls = py.import("postwire.errors")?.getattr(class_name(e.kind()))?;
    let reply = e.reply().map(|r| PyReply::from(r.clone()));
    let kwargs = pyo3::types::PyDict::new(py);
    kwargs.set_item("kind", e.kind().as_str())?;
    kwargs.set_item("reply", reply)?;
    cls.call((e.message(),), Some(&kwargs))
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
