//! `postwire.analyze_received` / `postwire.aio.analyze_received` / `postwire.parse_received`:
//! `postwire::trace` (the `Received:`-trace analysis). Options by keyword, read by
//! `postwire::host::mta::trace_options`.

use postwire::host::mta::trace_options;
use postwire::host::runtime;
use postwire::trace::{analyze_received as core_analyze, parse_received_value, TraceOptions};
use pyo3::prelude::*;
use pyo3::sync::GILOnceCell;
use pyo3::types::{PyBytes, PyDict};

use crate::bridge;
use crate::client::message_bytes;
use crate::convert::options_value;
use crate::error::ResultExt;
use crate::results::{built, Built};

/// The message as bytes: bytes, bytearray, str, or an `email.message.Message` (as
/// `send_message` sends one: CRLF, no `Bcc`); also what `Queue.submit` takes.
pub fn message(v: &Bound<'_, PyAny>) -> PyResult<Vec<u8>> {
    static MESSAGE: GILOnceCell<Py<PyAny>> = GILOnceCell::new();
    static TO_BYTES: GILOnceCell<Py<PyAny>> = GILOnceCell::new();
    let py = v.py();
    if v.is_instance(MESSAGE.import(py, "email.message", "Message")?)? {
        let b = TO_BYTES.import(py, "postwire._message", "to_bytes")?.call1((v,))?;
        return Ok(b.downcast_into::<PyBytes>()?.as_bytes().to_vec());
    }
    Ok(message_bytes(v)?.into_owned())
}

fn options(options: Option<&Bound<'_, PyDict>>) -> PyResult<TraceOptions> {
    trace_options(options_value(options, "analyze_received")?).py_err()
}

async fn analyze(msg: Vec<u8>, opts: TraceOptions) -> postwire::Result<Built> {
    Ok(built("trace_analysis", &core_analyze(&msg, &opts).await?))
}

/// The `Received:` trace of `message`: options `trusted_hosts`, `resolve`, `nameservers`,
/// `now`. A message without `Received:` lines gives zero hops.
#[pyfunction]
#[pyo3(signature = (message, **options))]
pub fn analyze_received(
    py: Python<'_>,
    message: &Bound<'_, PyAny>,
    options: Option<&Bound<'_, PyDict>>,
) -> PyResult<Built> {
    let (msg, opts) = (self::message(message)?, self::options(options)?);
    py.allow_threads(|| runtime::block_on(analyze(msg, opts))).py_err()?.py_err()
}

/// `analyze_received` as an awaitable (`postwire.aio.analyze_received`).
#[pyfunction]
#[pyo3(signature = (message, **options))]
pub fn aio_analyze_received<'py>(
    py: Python<'py>,
    message: &Bound<'py, PyAny>,
    options: Option<&Bound<'py, PyDict>>,
) -> PyResult<Bound<'py, PyAny>> {
    let (msg, opts) = (self::message(message)?, self::options(options)?);
    bridge::spawn(py, analyze(msg, opts))
}

/// One `Received:` field value (without the `Received:` name) → `ReceivedLine`, with its
/// defects instead of an error.
#[pyfunction]
pub fn parse_received(value: &Bound<'_, PyAny>) -> PyResult<Built> {
    Ok(built("received_line", &parse_received_value(&message_bytes(value)?)))
}
