//! The binding's tokio runtimes: one multi-thread runtime shared by the server, `aio.Client` and
//! `send_mail`, re-created in a child process after `fork()`, and a private current-thread
//! runtime per sync `Client`.
//!
//! Why a pid check: after `fork()` the child has the parent's runtime object but none of its
//! worker threads, so a task spawned there would never run. The first use in a new process
//! builds a fresh runtime and leaks the inherited one (dropping it would wait for threads that
//! do not exist in this process).
//!
//! Why the sync `Client` has its own current-thread runtime: its socket is then driven on the
//! calling thread inside `block_on`, with no hand-off to a worker thread and back for every
//! reply — the round trips of one SMTP session are the whole cost of a send.

use std::future::Future;
use std::sync::{Arc, Mutex};

use pyo3::exceptions::PyRuntimeError;
use pyo3::prelude::*;
use tokio::runtime::Runtime;

static SHARED: Mutex<Option<(u32, Arc<Runtime>)>> = Mutex::new(None);

/// The shared multi-thread runtime of this process (built on first use, again after `fork()`).
pub fn shared() -> PyResult<Arc<Runtime>> {
    let pid = std::process::id();
    let mut g = SHARED.lock().unwrap_or_else(|p| p.into_inner());
    if let Some((p, rt)) = g.as_ref() {
        if *p == pid {
            return Ok(Arc::clone(rt));
        }
    }
    if let Some((_, inherited)) = g.take() {
        // Forked child: the inherited runtime's threads are gone; never drop it.
        std::mem::forget(inherited);
    }
    let rt = tokio::runtime::Builder::new_multi_thread()
        .thread_name("postwire-rt")
        .enable_all()
        .build()
        .map_err(|e| PyRuntimeError::new_err(format!("cannot start the tokio runtime: {e}")))?;
    let rt = Arc::new(rt);
    *g = Some((pid, Arc::clone(&rt)));
    Ok(rt)
}

/// A private current-thread runtime (one per sync `Client`).
pub fn local() -> PyResult<Runtime> {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| PyRuntimeError::new_err(format!("cannot start a tokio runtime: {e}")))
}

/// Run `fut` to completion on the shared runtime with the GIL released.
pub fn block_on<F>(py: Python<'_>, fut: F) -> PyResult<F::Output>
where
    F: Future + Send,
    F::Output: Send,
{
    let rt = shared()?;
    Ok(py.allow_threads(|| rt.block_on(fut)))
}
