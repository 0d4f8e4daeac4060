//! Python callables as the server's hooks and authenticator: the Python end of the core's hook
//! dispatch (`postwire::host::dispatch`).
//!
//! `postwire.Server`: the core runs a bounded pool of hook workers (`hook_workers`) and hands
//! each batches of requests; here each batch takes the GIL once and each request becomes a call.
//! A plain hook that blocks (and releases the GIL: I/O, `time.sleep`) lets another worker go on.
//! `postwire.aio.Server`: the requests reach the caller's event loop through a completion queue
//! (`aio_server.rs`) and the hooks run on that loop.
//!
//! A hook may return `None` (accept), `(code, text)` or a `postwire.Reply` (refuse with it), or
//! an awaitable of one of those (`async def`): with `postwire.Server` it runs on the server's own
//! asyncio loop (a daemon thread started on first need), with `postwire.aio.Server` on the
//! caller's loop, and answers when done, so a slow one does not hold up other hooks. A hook that
//! raises (or returns something else) answers `451 4.3.0`; the traceback goes to the
//! `postwire.server` logger.

use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use postwire::host::{hook_reply, HookDispatch, HookRequest, Responder};
use postwire::server::{HookSet, SessionInfo};
use postwire::Reply;
use pyo3::prelude::*;
use pyo3::sync::GILOnceCell;
use pyo3::types::{PyBool, PyBytes, PyDict, PyTuple};

use crate::convert::pairs;
use crate::values::{PyEnvelope, PyReply, PySession};
use crate::PYTHON_ALIVE;

/// The hooks given as Python callables (each optional), and the asyncio loop awaitable results
/// run on: the caller's (`aio.Server`, `caller_loop`) or a private one started on first need.
pub struct PyHooks {
    pub on_connect: Option<Py<PyAny>>,
    pub on_mail_from: Option<Py<PyAny>>,
    pub on_rcpt_to: Option<Py<PyAny>>,
    pub on_message: Option<Py<PyAny>>,
    pub auth: Option<Py<PyAny>>,
    event_loop: Mutex<Option<Py<PyAny>>>,
    /// `aio.Server`: hooks are called on this loop's thread; awaitables become its tasks.
    pub caller_loop: Mutex<Option<Py<PyAny>>>,
}

/// How a hook's Python result becomes the answer.
type Convert<T> = fn(&Bound<'_, PyAny>) -> Result<T, String>;

/// Sends a finished coroutine's result to its responder.
type Finish = Box<dyn FnOnce(PyResult<Bound<'_, PyAny>>) + Send>;

impl PyHooks {
    /// Take the hooks and a callable `auth` out of the keyword arguments (a `{user: password}`
    /// `auth` stays there: it is an option value for the core).
    pub fn take(kwargs: &Bound<'_, PyDict>) -> PyResult<PyHooks> {
        let take = |name: &str| -> PyResult<Option<Py<PyAny>>> {
            let Some(v) = kwargs.get_item(name)?.filter(|v| !v.is_none()) else {
                kwargs.del_item(name).ok();
                return Ok(None);
            };
            if !v.is_callable() {
                return Err(crate::error::invalid_input(format!("{name} must be callable")));
            }
            kwargs.del_item(name)?;
            Ok(Some(v.unbind()))
        };
        let auth_callable = kwargs.get_item("auth")?.is_some_and(|a| a.is_callable());
        Ok(PyHooks {
            on_connect: take("on_connect")?,
            on_mail_from: take("on_mail_from")?,
            on_rcpt_to: take("on_rcpt_to")?,
            on_message: take("on_message")?,
            auth: if auth_callable { take("auth")? } else { None },
            event_loop: Mutex::new(None),
            caller_loop: Mutex::new(None),
        })
    }

    /// Which hooks are set.
    pub fn set(&self) -> HookSet {
        HookSet {
            connect: self.on_connect.is_some(),
            mail_from: self.on_mail_from.is_some(),
            rcpt_to: self.on_rcpt_to.is_some(),
            message: self.on_message.is_some(),
        }
    }

    /// The core's dispatch calling these hooks on a bounded pool of hook workers.
    pub fn dispatch(self: &Arc<Self>, hook_timeout: Duration, workers: usize) -> HookDispatch {
        let hooks = Arc::clone(self);
        HookDispatch::on_workers("postwire-hooks", self.set(), hook_timeout, workers, move |batch| {
            if !PYTHON_ALIVE.load(Ordering::Relaxed) {
                // Dropping the requests answers them 451.
                batch.for_each(drop);
                return;
            }
            // The GIL first, then the requests: a worker waiting for the GIL holds none of them.
            Python::with_gil(|py| batch.for_each(|req| hooks.handle(py, req)));
        })
    }

    /// Call the hook of `req` and answer it (now, or when its awaitable is done).
    pub fn handle(&self, py: Python<'_>, req: HookRequest) {
        let what = req.name();
        let session = |s: SessionInfo| Ok(Py::new(py, PySession::from(s))?.into_any());
        let text = |t: String| Ok(t.into_pyobject(py)?.into_any().unbind());
        let params = |p: &[(String, Option<String>)]| Ok(pairs(py, p)?.into_any().unbind());
        match req {
            HookRequest::Connect { session: s, respond } => {
                self.call(py, &self.on_connect, what, respond, to_reply, [session(s)])
            }
            HookRequest::MailFrom { session: s, address, params: p, respond } => {
                let args = [session(s), text(address), params(&p.to_pairs())];
                self.call(py, &self.on_mail_from, what, respond, to_reply, args)
            }
            HookRequest::RcptTo { session: s, address, params: p, respond } => {
                let args = [session(s), text(address), params(&p.to_pairs())];
                self.call(py, &self.on_rcpt_to, what, respond, to_reply, args)
            }
            HookRequest::Message { session: s, envelope, data, respond } => {
                let env = Py::new(py, PyEnvelope { inner: envelope }).map(Py::into_any);
                let args = [session(s), env, Ok(PyBytes::new(py, &data).into_any().unbind())];
                self.call(py, &self.on_message, what, respond, to_reply, args)
            }
            HookRequest::Auth { user, password, respond } => {
                self.call(py, &self.auth, what, respond, to_bool, [text(user), text(password)])
            }
        }
    }

    /// Call `func(*args)`; answer with its converted result, or schedule its coroutine.
    fn call<T: Send + 'static, const N: usize>(
        &self,
        py: Python<'_>,
        func: &Option<Py<PyAny>>,
        what: &'static str,
        respond: Responder<T>,
        convert: Convert<T>,
        args: [PyResult<Py<PyAny>>; N],
    ) {
        let Some(func) = func else { return respond.fail(format!("{what} is not set")) };
        let called = args
            .into_iter()
            .collect::<PyResult<Vec<_>>>()
            .and_then(|a| func.bind(py).call1(PyTuple::new(py, a)?));
        let v = match called {
            Ok(v) => v,
            Err(e) => {
                log_exception(py, what, &e);
                return respond.fail(format!("{what} raised {e}"));
            }
        };
        if !is_awaitable(&v) {
            return respond.answer(convert(&v));
        }
        let finish: Finish = Box::new(move |r| {
            respond.answer(r.map_err(|e| format!("{what} raised {e}")).and_then(|v| convert(&v)))
        });
        let caller_loop =
            self.caller_loop.lock().unwrap_or_else(|p| p.into_inner()).as_ref().map(|l| l.clone_ref(py));
        let scheduled = (|| -> PyResult<()> {
            let fut = match caller_loop {
                // On the loop's own thread: its first step now, the rest a task of that loop.
                Some(lp) => {
                    static START: GILOnceCell<Py<PyAny>> = GILOnceCell::new();
                    let start = START.import(py, "postwire._hooks", "start")?;
                    let (finished, out): (bool, Bound<'_, PyAny>) = start.call1((&v, lp))?.extract()?;
                    if finished {
                        finish(Ok(out));
                        return Ok(());
                    }
                    out
                }
                None => {
                    let coro = if is_coroutine(&v) { v.clone() } else { await_it(&v)? };
                    let asyncio = py.import("asyncio")?;
                    asyncio.call_method1("run_coroutine_threadsafe", (coro, self.event_loop(py)?))?
                }
            };
            fut.call_method1(
                "add_done_callback",
                (Py::new(py, Done { what, finish: Mutex::new(Some(finish)) })?,),
            )?;
            Ok(())
        })();
        if let Err(e) = scheduled {
            // The responder went into the callback; dropping it (scheduling failed) answers 451.
            log_exception(py, what, &e);
        }
    }

    /// The server's asyncio loop for `async def` hooks, started on first need.
    fn event_loop<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        let mut g = self.event_loop.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(l) = g.as_ref() {
            return Ok(l.bind(py).clone());
        }
        let lp = py.import("asyncio")?.call_method0("new_event_loop")?;
        let kwargs = PyDict::new(py);
        kwargs.set_item("target", lp.getattr("run_forever")?)?;
        kwargs.set_item("daemon", true)?;
        kwargs.set_item("name", "postwire-hooks-loop")?;
        py.import("threading")?.getattr("Thread")?.call((), Some(&kwargs))?.call_method0("start")?;
        *g = Some(lp.clone().unbind());
        Ok(lp)
    }

    /// True when called from a task or callback of the private loop of awaitable hooks.
    pub fn on_own_loop(&self, py: Python<'_>) -> bool {
        let g = self.event_loop.lock().unwrap_or_else(|p| p.into_inner());
        let Some(lp) = g.as_ref() else { return false };
        let running = py.import("asyncio").and_then(|a| a.call_method0("_get_running_loop"));
        running.is_ok_and(|r| r.is(lp.bind(py)))
    }

    /// Stop the asyncio loop of `async def` hooks (after the server stopped).
    pub fn shutdown(&self, py: Python<'_>) {
        if let Some(lp) = self.event_loop.lock().unwrap_or_else(|p| p.into_inner()).take() {
            let lp = lp.bind(py);
            if let Ok(stop) = lp.getattr("stop") {
                let _ = lp.call_method1("call_soon_threadsafe", (stop,));
            }
        }
    }
}

/// Called by asyncio when an `async def` hook's coroutine is done.
#[pyclass]
struct Done {
    what: &'static str,
    finish: Mutex<Option<Finish>>,
}

#[pymethods]
impl Done {
    fn __call__(&self, py: Python<'_>, fut: Bound<'_, PyAny>) {
        let r = fut.call_method0("result");
        if let Err(e) = &r {
            log_exception(py, self.what, e);
        }
        if let Some(f) = self.finish.lock().unwrap_or_else(|p| p.into_inner()).take() {
            f(r);
        }
    }
}

fn is_coroutine(v: &Bound<'_, PyAny>) -> bool {
    static ISCOROUTINE: GILOnceCell<Py<PyAny>> = GILOnceCell::new();
    let f = ISCOROUTINE.import(v.py(), "asyncio", "iscoroutine");
    !v.is_none() && f.and_then(|f| f.call1((v,))).and_then(|r| r.is_truthy()).unwrap_or(false)
}

/// Any awaitable (a coroutine, a future, an object with `__await__`); the common answers
/// (`None`, a tuple, a `Reply`, a bool) are ruled out without a lookup.
fn is_awaitable(v: &Bound<'_, PyAny>) -> bool {
    if v.is_none()
        || v.is_instance_of::<PyTuple>()
        || v.is_instance_of::<PyReply>()
        || v.is_instance_of::<PyBool>()
    {
        return false;
    }
    v.hasattr(pyo3::intern!(v.py(), "__await__")).unwrap_or(false)
}

/// A coroutine awaiting `v` (`run_coroutine_threadsafe` takes coroutines only).
fn await_it<'py>(v: &Bound<'py, PyAny>) -> PyResult<Bound<'py, PyAny>> {
    static AWAIT: GILOnceCell<Py<PyAny>> = GILOnceCell::new();
    AWAIT.import(v.py(), "postwire._hooks", "await_it")?.call1((v,))
}

fn to_reply(v: &Bound<'_, PyAny>) -> Result<Option<Reply>, String> {
    if v.is_none() {
        return Ok(None);
    }
    if let Ok(r) = v.downcast::<PyReply>() {
        return Ok(Some(r.get().inner.clone()));
    }
    if let Ok((code, text)) = v.extract::<(i64, String)>() {
        return hook_reply(code, &text).map(Some);
    }
    let shown = v.repr().map(|r| r.to_string()).unwrap_or_else(|_| "?".into());
    Err(format!("hook returned {shown}, expected None, (code, text) or postwire.Reply"))
}

fn to_bool(v: &Bound<'_, PyAny>) -> Result<bool, String> {
    v.is_truthy().map_err(|e| format!("auth callable returned an object without truth value: {e}"))
}

/// Send an exception's traceback to the `postwire` logger.
pub fn log_exception(py: Python<'_>, what: &str, err: &PyErr) {
    let value = err.value(py);
    if let Some(tb) = err.traceback(py) {
        let _ = value.setattr("__traceback__", tb);
    }
    let logged = (|| -> PyResult<()> {
        let logger = crate::logging::logger(py, "postwire.server")?;
        let kwargs = PyDict::new(py);
        kwargs.set_item("exc_info", value)?;
        logger.call_method("error", ("%s raised; answering 451 4.3.0", what), Some(&kwargs))?;
        Ok(())
    })();
    if logged.is_err() {
        err.print(py);
    }
}
