//! The asyncio end of the core's completion queue (`postwire::host::CompletionQueue`): how a
//! Rust future's result reaches the asyncio future that Python awaits.
//!
//! Per asyncio loop (registered the first time a loop awaits postwire): one completion queue,
//! whose descriptor the loop watches with `loop.add_reader`. [`spawn`] creates
//! `fut = loop.create_future()` on the loop thread and runs the Rust future on the shared
//! runtime; its result is queued without the GIL, and the reader callback (on the loop thread)
//! drains the queue and resolves each future — `set_result`, or `set_exception` with the
//! `postwire.errors` class of its kind — skipped when `fut` was cancelled. Why not
//! `pyo3-async-runtimes`: see the completion queue's module doc (one GIL hand-over per result
//! there, 1.8–2.8× aiosmtplib against 5.6× here).
//!
//! Cancellation: cancelling the awaiting task cancels only `fut`; the Rust call runs to its end
//! (or its timeout), keeping the session's command/reply sequence intact, and its result is
//! dropped.
//!
//! Lifetime: bridges live in a `weakref.WeakKeyDictionary` keyed by the loop, so a loop that is
//! collected takes its queue (and descriptors, once no task holds them) with it, and registering
//! a new loop forgets the bridges of closed ones — `asyncio.run()` in a loop does not leak
//! descriptors. After `fork()` the child builds a new queue (the inherited one is the parent's).

use std::cell::RefCell;
use std::future::Future;
use std::sync::Arc;

use postwire::host::CompletionQueue;
use pyo3::exceptions::PyRuntimeError;
use pyo3::prelude::*;
use pyo3::sync::GILOnceCell;
use pyo3::types::PyWeakrefReference;
use pyo3::{intern, IntoPyObjectExt};

use crate::error::ResultExt;

/// A finished call's result, turned into a Python object on the loop thread.
type Outcome = Box<dyn FnOnce(Python<'_>) -> PyResult<PyObject> + Send>;

type Queue = CompletionQueue<(Py<PyAny>, Outcome)>;

/// The loop's reader callback for one queue (`loop.add_reader(fd, bridge)`).
#[pyclass(module = "postwire._postwire", name = "_AioBridge", frozen)]
pub struct Bridge {
    queue: Arc<Queue>,
}

#[pymethods]
impl Bridge {
    /// Resolve every queued future (runs on the loop thread).
    fn __call__(&self, py: Python<'_>) {
        for (fut, outcome) in self.queue.drain() {
            let fut = fut.bind(py);
            if let Err(e) = resolve(py, fut, outcome) {
                e.write_unraisable(py, Some(fut));
            }
        }
    }
}

fn resolve(py: Python<'_>, fut: &Bound<'_, PyAny>, outcome: Outcome) -> PyResult<()> {
    if fut.call_method0(intern!(py, "cancelled"))?.is_truthy()? {
        return Ok(());
    }
    match outcome(py) {
        Ok(v) => fut.call_method1(intern!(py, "set_result"), (v,))?,
        Err(e) => fut.call_method1(intern!(py, "set_exception"), (e.into_value(py),))?,
    };
    Ok(())
}

static REGISTRY: GILOnceCell<Py<PyAny>> = GILOnceCell::new();
static GET_RUNNING_LOOP: GILOnceCell<Py<PyAny>> = GILOnceCell::new();

thread_local! {
    /// The last loop seen on this thread and its queue: the common case skips the registry.
    static LAST: RefCell<Option<(Py<PyWeakrefReference>, Arc<Queue>)>> = const { RefCell::new(None) };
}

/// The running loop of this thread and its queue (registered on first use).
fn queue_for_running_loop(py: Python<'_>) -> PyResult<(Bound<'_, PyAny>, Arc<Queue>)> {
    let lp = GET_RUNNING_LOOP.import(py, "asyncio", "get_running_loop")?.call0()?;
    let pid = std::process::id();
    let cached = LAST.with(|c| {
        c.borrow().as_ref().and_then(|(w, q)| {
            let alive = w.bind(py).upgrade();
            (alive.is_some_and(|l| l.is(&lp)) && q.pid() == pid).then(|| Arc::clone(q))
        })
    });
    if let Some(q) = cached {
        return Ok((lp, q));
    }
    let registry = REGISTRY
        .get_or_try_init(py, || {
            py.import("weakref")?.getattr("WeakKeyDictionary")?.call0().map(Bound::unbind)
        })?
        .bind(py);
    let existing = registry.call_method1(intern!(py, "get"), (&lp,))?;
    let queue = match existing.downcast::<Bridge>() {
        Ok(b) if b.get().queue.pid() == pid => Arc::clone(&b.get().queue),
        found => {
            if let Ok(stale) = found {
                // Forked child: the inherited socket is the parent's too; stop watching it.
                let _ = lp.call_method1("remove_reader", (stale.get().queue.fd(),));
            }
            forget_closed_loops(registry)?;
            let queue = Arc::new(Queue::new().py_err()?);
            let bridge = Bound::new(py, Bridge { queue: Arc::clone(&queue) })?;
            lp.call_method1("add_reader", (queue.fd(), &bridge))?;
            registry.set_item(&lp, &bridge)?;
            queue
        }
    };
    let weak = PyWeakrefReference::new(&lp)?.unbind();
    LAST.with(|c| *c.borrow_mut() = Some((weak, Arc::clone(&queue))));
    Ok((lp, queue))
}

/// Drop the registry's bridges of loops that are closed but not yet collected.
fn forget_closed_loops(registry: &Bound<'_, PyAny>) -> PyResult<()> {
    let py = registry.py();
    let mut closed = Vec::new();
    for lp in registry.call_method0(intern!(py, "keys"))?.try_iter()? {
        let lp = lp?;
        if lp.call_method0(intern!(py, "is_closed"))?.is_truthy()? {
            closed.push(lp);
        }
    }
    closed.into_iter().try_for_each(|lp| registry.del_item(lp))
}

/// Run `fut` on the shared runtime; returns the asyncio future that receives its result (or the
/// `postwire.errors` exception of its error's kind). Call on the thread of a running loop.
pub fn spawn<'py, F, T>(py: Python<'py>, fut: F) -> PyResult<Bound<'py, PyAny>>
where
    F: Future<Output = postwire::Result<T>> + Send + 'static,
    T: for<'a> IntoPyObject<'a> + Send + 'static,
{
    let (lp, queue) = queue_for_running_loop(py)?;
    let pyfut = lp.call_method0(intern!(py, "create_future"))?;
    let handle = pyfut.clone().unbind();
    queue
        .spawn(fut, move |out| {
            let outcome: Outcome = Box::new(move |py| match out {
                Ok(Ok(v)) => v.into_py_any(py),
                Ok(Err(e)) => {
                    Err(crate::error::exception(py, &e).map_or_else(|failed| failed, PyErr::from_value))
                }
                Err(_) => Err(PyRuntimeError::new_err("postwire: internal error (a task panicked)")),
            });
            (handle, outcome)
        })
        .py_err()?;
    Ok(pyfut)
}

/// An asyncio future of the running loop, already holding `value` (no runtime round trip).
pub fn ready<'py>(py: Python<'py>, value: impl IntoPyObject<'py>) -> PyResult<Bound<'py, PyAny>> {
    let lp = GET_RUNNING_LOOP.import(py, "asyncio", "get_running_loop")?.call0()?;
    let fut = lp.call_method0(intern!(py, "create_future"))?;
    fut.call_method1(intern!(py, "set_result"), (value.into_py_any(py)?,))?;
    Ok(fut)
}
