//! `postwire.aio.Server`'s extension half (`_AioServer`; the `async` methods are in
//! `postwire/aio.py`): the server's hook requests reach the caller's running event loop through
//! a completion queue (`postwire::host::CompletionQueue`) whose descriptor the loop watches, and
//! the hooks run on that loop (`hooks.rs`), so they can use the application's queues, pools and
//! clients. Stopping is awaited: the wait for the sessions runs on the core's runtime.

use std::sync::Arc;

use postwire::host::{CompletionQueue, HookDispatch, HookRequest};
use pyo3::prelude::*;
use pyo3::types::PyDict;

use crate::bridge;
use crate::error::ResultExt;
use crate::hooks::PyHooks;
use crate::server::ServerParts;

type Requests = CompletionQueue<HookRequest>;

/// The loop's reader callback: hands every queued hook request to its hook (loop thread).
#[pyclass(module = "postwire._postwire", name = "_HookDrain", frozen)]
struct HookDrain {
    queue: Arc<Requests>,
    hooks: Arc<PyHooks>,
}

#[pymethods]
impl HookDrain {
    fn __call__(&self, py: Python<'_>) {
        for req in self.queue.drain() {
            self.hooks.handle(py, req);
        }
    }
}

/// The server behind `postwire.aio.Server`.
#[pyclass(module = "postwire._postwire", name = "_AioServer")]
pub struct AioServer {
    core: ServerParts,
    queue: Arc<Requests>,
}

#[pymethods]
impl AioServer {
    #[new]
    #[pyo3(signature = (**options))]
    fn new(py: Python<'_>, options: Option<&Bound<'_, PyDict>>) -> PyResult<Self> {
        let queue = Arc::new(Requests::new().py_err()?);
        let q = Arc::clone(&queue);
        let core = ServerParts::build(py, options, move |hooks, opts| {
            // On a runtime thread: queue the request and wake the loop (no GIL).
            HookDispatch::with_callback(hooks.set(), opts.hook_timeout, move |req| q.push(req))
        })?;
        Ok(AioServer { core, queue })
    }

    #[pyo3(signature = (host = "127.0.0.1", port = 0))]
    fn listen(&self, host: &str, port: u16) -> PyResult<(String, u16)> {
        self.core.listen(host, port)
    }

    #[getter]
    fn addresses(&self) -> Vec<(String, u16)> {
        self.core.addresses()
    }

    /// Watch the request queue on `event_loop` (the running loop) and start serving.
    /// Started once, as `Server.start()`: a later call while it serves does nothing, one after
    /// the stop raises `InvalidInputError`. No lock is held across a
    /// call into Python (`add_reader` may run Python code that uses this server).
    fn _start(&self, py: Python<'_>, event_loop: Bound<'_, PyAny>) -> PyResult<()> {
        if !self.core.server.startable().py_err()? {
            return Ok(());
        }
        let hooks = &self.core.hooks;
        *hooks.caller_loop.lock().unwrap_or_else(|p| p.into_inner()) = Some(event_loop.clone().unbind());
        let drain = Bound::new(py, HookDrain { queue: Arc::clone(&self.queue), hooks: Arc::clone(hooks) })?;
        event_loop.call_method1("add_reader", (self.queue.fd(), drain))?;
        if let Err(e) = self.core.server.start() {
            let _ = event_loop.call_method1("remove_reader", (self.queue.fd(),));
            return Err(e).py_err();
        }
        Ok(())
    }

    /// Begin a graceful stop; an awaitable that is done when every session ended.
    fn _stop<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        self.core.server.stop();
        let handle = self.core.server.handle();
        bridge::spawn(py, async move {
            match handle {
                Some(h) => h.stopped().await,
                None => Ok(()),
            }
        })
    }

    /// After the stop: no more hook calls; stop watching the queue.
    fn _close(&self, py: Python<'_>) -> PyResult<()> {
        self.core.dispatch.close();
        let lp = self.core.hooks.caller_loop.lock().unwrap_or_else(|p| p.into_inner()).take();
        if let Some(lp) = lp {
            let lp = lp.bind(py);
            if !lp.call_method0("is_closed")?.is_truthy()? {
                lp.call_method1("remove_reader", (self.queue.fd(),))?;
            }
        }
        // Requests still queued are answered 451 as they are dropped.
        drop(self.queue.drain());
        py.allow_threads(postwire::host::log::flush);
        Ok(())
    }

    #[getter]
    fn running(&self) -> bool {
        self.core.running()
    }

    #[getter]
    fn stats<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        self.core.stats(py)
    }

    #[getter]
    fn hostname(&self) -> String {
        self.core.hostname()
    }
}

impl Drop for AioServer {
    fn drop(&mut self) {
        self.core.server.stop();
        self.core.dispatch.close();
    }
}
