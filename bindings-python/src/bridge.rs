//! The asyncio completion bridge of `postwire.aio`: how a Rust future's result reaches the
//! asyncio future that Python awaits.
//!
//! Why not `pyo3-async-runtimes`' `future_into_py`: there every completion takes the GIL on the
//! tokio thread and calls `loop.call_soon_threadsafe`, i.e. one GIL hand-over and one self-pipe
//! write per awaited call. With ten sessions sending small messages, those context switches were
//! ~15% of all CPU and kept `aio.Client` below its throughput target.
//!
//! How it works, per asyncio loop (registered lazily the first time a loop awaits postwire):
//! - on the loop thread, [`spawn`] creates `fut = loop.create_future()` and spawns the Rust
//!   future on the shared runtime ([`crate::runtime::shared`]; a dedicated current-thread
//!   runtime for aio sessions measured the same, so there is one runtime fewer);
//! - on completion the tokio task never takes the GIL: it pushes `(fut, result)` onto the
//!   bridge's queue and writes one byte to a socketpair only if the queue was empty, so a burst
//!   of completions costs one wake-up;
//! - the loop watches the other end with `loop.add_reader`; the reader callback (on the loop
//!   thread, with the GIL) empties the socket, then takes the whole queue and converts each
//!   result (value, or the `postwire.errors` exception of its kind) into `fut.set_result` /
//!   `fut.set_exception` — skipped when `fut` was cancelled. Reading the socket *before* taking
//!   the queue is what makes the coalescing safe: a push after the take finds the queue empty
//!   and writes a new byte.
//!
//! Cancellation: cancelling the awaiting task cancels only `fut`; the Rust call runs to its end
//! (or its timeout), keeping the session's command/reply sequence intact, and its result is
//! dropped.
//!
//! Lifetime: bridges live in a `weakref.WeakKeyDictionary` keyed by the loop, so a loop that is
//! collected takes its bridge (and the socketpair, once no task holds it) with it, and
//! registering a new loop forgets the bridges of closed ones — `asyncio.run()` in a loop does not
//! leak descriptors. A bridge records its process id: after `fork()` the child builds a new one
//! (the inherited socketpair is shared with the parent).

use std::cell::RefCell;
use std::future::Future;
use std::io::{Read, Write};
use std::os::fd::AsRawFd;
use std::os::unix::net::UnixStream;
use std::panic::AssertUnwindSafe;
use std::sync::{Arc, Mutex};

use futures::FutureExt;
use pyo3::exceptions::PyRuntimeError;
use pyo3::prelude::*;
use pyo3::sync::GILOnceCell;
use pyo3::types::PyWeakrefReference;
use pyo3::{intern, IntoPyObjectExt};

use crate::runtime;

/// A finished call's result, turned into a Python object on the loop thread.
type Outcome = Box<dyn FnOnce(Python<'_>) -> PyResult<PyObject> + Send>;

/// What the tokio tasks and the loop's reader callback share.
struct Shared {
    pid: u32,
    queue: Mutex<Vec<(Py<PyAny>, Outcome)>>,
    /// Read by the loop (non-blocking).
    rx: UnixStream,
    /// Written by tokio tasks (non-blocking: a full buffer already means "wake up").
    tx: UnixStream,
}

impl Shared {
    fn new() -> PyResult<Self> {
        let (rx, tx) = UnixStream::pair()
            .map_err(|e| PyRuntimeError::new_err(format!("cannot create the asyncio wake-up socket: {e}")))?;
        for s in [&rx, &tx] {
            s.set_nonblocking(true).map_err(|e| {
                PyRuntimeError::new_err(format!("cannot configure the asyncio wake-up socket: {e}"))
            })?;
        }
        Ok(Shared { pid: std::process::id(), queue: Mutex::new(Vec::new()), rx, tx })
    }

    /// Called on a tokio thread: queue the result, wake the loop if it was not already woken.
    fn complete(&self, fut: Py<PyAny>, outcome: Outcome) {
        let was_empty = {
            let mut q = self.queue.lock().unwrap_or_else(|p| p.into_inner());
            let e = q.is_empty();
            q.push((fut, outcome));
            e
        };
        if was_empty {
            // WouldBlock: the buffer is full of unread wake-ups, the loop will drain anyway.
            let _ = (&self.tx).write(&[1]);
        }
    }
}

/// The loop's reader callback for one bridge (`loop.add_reader(fd, bridge)`).
#[pyclass(module = "postwire._postwire", name = "_AioBridge", frozen)]
pub struct Bridge {
    shared: Arc<Shared>,
}

#[pymethods]
impl Bridge {
    /// Resolve every queued future (runs on the loop thread).
    fn __call__(&self, py: Python<'_>) {
        let mut buf = [0u8; 256];
        while let Ok(n) = (&self.shared.rx).read(&mut buf) {
            if n < buf.len() {
                break;
            }
        }
        let done = std::mem::take(&mut *self.shared.queue.lock().unwrap_or_else(|p| p.into_inner()));
        for (fut, outcome) in done {
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
    /// The last loop seen on this thread and its bridge: the common case skips the registry.
    static LAST: RefCell<Option<(Py<PyWeakrefReference>, Arc<Shared>)>> = const { RefCell::new(None) };
}

/// The running loop of this thread and its bridge (registered on first use).
fn bridge_for_running_loop(py: Python<'_>) -> PyResult<(Bound<'_, PyAny>, Arc<Shared>)> {
    let lp = GET_RUNNING_LOOP.import(py, "asyncio", "get_running_loop")?.call0()?;
    let pid = std::process::id();
    let cached = LAST.with(|c| {
        c.borrow().as_ref().and_then(|(w, s)| {
            let alive = w.bind(py).upgrade();
            (alive.is_some_and(|l| l.is(&lp)) && s.pid == pid).then(|| Arc::clone(s))
        })
    });
    if let Some(s) = cached {
        return Ok((lp, s));
    }
    let registry = REGISTRY
        .get_or_try_init(py, || {
            py.import("weakref")?.getattr("WeakKeyDictionary")?.call0().map(Bound::unbind)
        })?
        .bind(py);
    let existing = registry.call_method1(intern!(py, "get"), (&lp,))?;
    let shared = match existing.downcast::<Bridge>() {
        Ok(b) if b.get().shared.pid == pid => Arc::clone(&b.get().shared),
        found => {
            if let Ok(stale) = found {
                // Forked child: the inherited socket is the parent's too; stop watching it.
                let _ = lp.call_method1("remove_reader", (stale.get().shared.rx.as_raw_fd(),));
            }
            forget_closed_loops(registry)?;
            let shared = Arc::new(Shared::new()?);
            let bridge = Bound::new(py, Bridge { shared: Arc::clone(&shared) })?;
            lp.call_method1("add_reader", (shared.rx.as_raw_fd(), &bridge))?;
            registry.set_item(&lp, &bridge)?;
            shared
        }
    };
    let weak = PyWeakrefReference::new(&lp)?.unbind();
    LAST.with(|c| *c.borrow_mut() = Some((weak, Arc::clone(&shared))));
    Ok((lp, shared))
}

/// Drop the registry's bridges of loops that are closed but not yet collected.
fn forget_closed_loops(registry: &Bound<'_, PyAny>) -> PyResult<()> {
    let py = registry.py();
    let loops = registry.call_method0(intern!(py, "keys"))?;
    let mut closed = Vec::new();
    for lp in loops.try_iter()? {
        let lp = lp?;
        if lp.call_method0(intern!(py, "is_closed"))?.is_truthy()? {
            closed.push(lp);
        }
    }
    for lp in closed {
        registry.del_item(lp)?;
    }
    Ok(())
}

/// Run `fut` on the shared runtime; returns the asyncio future that receives its result (or the
/// `postwire.errors` exception of its error's kind). Call on the thread of a running loop.
pub fn spawn<'py, F, T>(py: Python<'py>, fut: F) -> PyResult<Bound<'py, PyAny>>
where
    F: Future<Output = postwire::Result<T>> + Send + 'static,
    T: for<'a> IntoPyObject<'a> + Send + 'static,
{
    let (lp, shared) = bridge_for_running_loop(py)?;
    let pyfut = lp.call_method0(intern!(py, "create_future"))?;
    let handle = pyfut.clone().unbind();
    runtime::shared()?.spawn(async move {
        let out = AssertUnwindSafe(fut).catch_unwind().await;
        let outcome: Outcome = Box::new(move |py| match out {
            Ok(Ok(v)) => v.into_py_any(py),
            Ok(Err(e)) => match crate::error::exception(py, &e) {
                Ok(exc) => Err(PyErr::from_value(exc)),
                Err(failed) => Err(failed),
            },
            Err(_) => Err(PyRuntimeError::new_err("postwire: internal error (a task panicked)")),
        });
        shared.complete(handle, outcome);
    });
    Ok(pyfut)
}

/// An asyncio future of the running loop, already holding `value` (no runtime round trip).
pub fn ready<'py>(py: Python<'py>, value: impl IntoPyObject<'py>) -> PyResult<Bound<'py, PyAny>> {
    let lp = GET_RUNNING_LOOP.import(py, "asyncio", "get_running_loop")?.call0()?;
    let fut = lp.call_method0(intern!(py, "create_future"))?;
    fut.call_method1(intern!(py, "set_result"), (value.into_py_any(py)?,))?;
    Ok(fut)
}
