//! `postwire._postwire`: the Python extension module over the postwire core.
//!
//! One file per core module, mirroring the core tree: `server.rs` + `aio_server.rs` + `hooks.rs`
//! wrap `core/src/server/`, `client.rs` + `aio.rs` + `pool.rs` + `compose.rs` + `send_mail.rs`
//! wrap `core/src/client/`, `proto.rs` the protocol core (vector helpers). What every binding needs
//! around the core — the runtime, the hook thread, the completion queue, log forwarding, option
//! defaults — is the core's host layer (`postwire::host`); here are only the Python ends of it:
//! `bridge.rs` (asyncio side of the completion queue), `logging.rs` (records into `logging`),
//! `convert.rs` (Python values ↔ JSON-shaped values), `error.rs` (error → exception) and
//! `values.rs` (the API's values as Python classes). The pure-Python part of the package
//! (`bindings-python/python/postwire/`) holds the exception classes, `postwire.aio`, the command
//! line (`__main__`) and the stub.
//!
//! The binding stays thin: convert arguments, call the core, convert the result or the error.

mod aio;
mod aio_server;
mod bridge;
mod client;
mod compose;
mod convert;
mod error;
mod hooks;
mod logging;
mod pool;
mod proto;
mod send_mail;
mod server;
mod values;

// MTA capabilities (issues 11 and 12): one file per core module, results through `results.rs`.
mod queue;
mod relay_check;
mod results;
mod route;
mod trace;

use std::sync::atomic::{AtomicBool, Ordering};

use pyo3::prelude::*;

/// False once the interpreter is exiting (set by `atexit`): no more calls into Python from the
/// binding's threads (hook thread, log thread).
pub static PYTHON_ALIVE: AtomicBool = AtomicBool::new(true);

/// Called by `atexit`: no more calls into Python from the binding's threads.
#[pyfunction]
fn _shutdown() {
    PYTHON_ALIVE.store(false, Ordering::Relaxed);
}

/// The extension module.
#[pymodule]
fn _postwire(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add("__version__", env!("CARGO_PKG_VERSION"))?;
    m.add_class::<values::PyReply>()?;
    m.add_class::<values::PySendResult>()?;
    m.add_class::<values::PyRejected>()?;
    m.add_class::<values::PyRecipientResult>()?;
    m.add_class::<values::PyEnvelope>()?;
    m.add_class::<values::PySession>()?;
    m.add_class::<server::PyServer>()?;
    m.add_class::<client::PyClient>()?;
    // Named `Client` in `postwire.aio`; here under another attribute so it does not shadow the
    // sync `Client`.
    m.add("AioClient", m.py().get_type::<aio::AioClient>())?;
    m.add_function(wrap_pyfunction!(compose::compose, m)?)?;
    m.add_function(wrap_pyfunction!(send_mail::send_mail, m)?)?;
    m.add_function(wrap_pyfunction!(logging::set_log_level, m)?)?;
    m.add_function(wrap_pyfunction!(proto::parse_reply, m)?)?;
    m.add_function(wrap_pyfunction!(proto::parse_command, m)?)?;
    m.add_function(wrap_pyfunction!(proto::parse_address, m)?)?;
    m.add_function(wrap_pyfunction!(_shutdown, m)?)?;
    // Issue 13 (second Python pass): aio.Server, pools, aio.send_mail, log levels.
    m.add_class::<pool::PyPool>()?;
    m.add("AioPool", m.py().get_type::<pool::AioPool>())?;
    m.add_class::<aio_server::AioServer>()?;
    m.add_function(wrap_pyfunction!(send_mail::aio_send_mail, m)?)?;
    m.add_function(wrap_pyfunction!(logging::refresh_levels, m)?)?;
    add_mta(m)?;
    logging::install(m.py())?;
    Ok(())
}

/// MX routing, the queue, the relay check and the trace analysis (issues 11 and 12); the `aio_`
/// functions and `AioQueue` are `postwire.aio`'s.
fn add_mta(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_class::<queue::PyQueue>()?;
    m.add("AioQueue", m.py().get_type::<queue::AioQueue>())?;
    m.add_function(wrap_pyfunction!(route::resolve_mx, m)?)?;
    m.add_function(wrap_pyfunction!(route::aio_resolve_mx, m)?)?;
    m.add_function(wrap_pyfunction!(relay_check::check_relay, m)?)?;
    m.add_function(wrap_pyfunction!(relay_check::aio_check_relay, m)?)?;
    m.add_function(wrap_pyfunction!(relay_check::relay_probes, m)?)?;
    m.add_function(wrap_pyfunction!(relay_check::relay_verdict, m)?)?;
    m.add_function(wrap_pyfunction!(relay_check::relay_summary, m)?)?;
    m.add_function(wrap_pyfunction!(trace::analyze_received, m)?)?;
    m.add_function(wrap_pyfunction!(trace::aio_analyze_received, m)?)?;
    m.add_function(wrap_pyfunction!(trace::parse_received, m)?)?;
    Ok(())
}
