//! The core's `Hooks` and `Authenticator` traits for Python callables.
//!
//! Every call goes to one Python-calling thread per server (the "hook runner") over a channel:
//! tokio workers never wait for the GIL, and the runner takes the GIL once for every batch of
//! calls waiting in the channel instead of once per call. A hook may return `None` (accept),
//! `(code, text)` or a `postwire.Reply` (refuse with it). An `async def` hook returns a coroutine:
//! it is scheduled on the server's own asyncio loop (a daemon thread started on first need) and
//! its result is sent back when done, so a slow coroutine does not hold up other hooks.
//!
//! A hook that raises (or returns something else) makes the core answer `451 4.3.0`; the
//! traceback goes to the `postwire` logger.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc;
use std::sync::{Arc, Mutex};

use postwire::proto::{MailParams, RcptParams};
use postwire::server::{
    AuthFuture, Authenticator, Envelope, HookFuture, HookParams, HookSet, Hooks, SessionInfo,
};
use postwire::Reply;
use pyo3::prelude::*;
use pyo3::sync::GILOnceCell;
use pyo3::types::{PyBytes, PyDict, PyTuple};
use tokio::sync::oneshot;

use crate::values::{PyEnvelope, PyReply, PySession};

/// False once the interpreter is exiting (set by `atexit`): no more calls into Python.
pub static PYTHON_ALIVE: AtomicBool = AtomicBool::new(true);

type Job = Box<dyn FnOnce(Python<'_>) + Send>;

/// Most calls run under one GIL acquisition before it is released for others.
const BATCH: usize = 256;

/// The Python-calling thread and the asyncio loop of one server.
pub struct Runner {
    tx: Mutex<Option<mpsc::Sender<Job>>>,
    event_loop: Mutex<Option<Py<PyAny>>>,
}

impl Runner {
    /// A runner; its thread starts with the first call.
    pub fn new() -> Arc<Runner> {
        Arc::new(Runner { tx: Mutex::new(None), event_loop: Mutex::new(None) })
    }

    fn submit(self: &Arc<Self>, job: Job) -> Result<(), String> {
        if !PYTHON_ALIVE.load(Ordering::Relaxed) {
            return Err("the Python interpreter is exiting".into());
        }
        let mut g = self.tx.lock().unwrap_or_else(|p| p.into_inner());
        if g.is_none() {
            let (tx, rx) = mpsc::channel::<Job>();
            std::thread::Builder::new()
                .name("postwire-hooks".into())
                .spawn(move || run(rx))
                .map_err(|e| format!("cannot start the hook thread: {e}"))?;
            *g = Some(tx);
        }
        match g.as_ref() {
            Some(tx) => tx.send(job).map_err(|_| "the hook thread has stopped".to_string()),
            None => Err("the hook thread has stopped".into()),
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

    /// Stop the hook thread and the asyncio loop (after the server stopped).
    pub fn shutdown(&self, py: Python<'_>) {
        self.tx.lock().unwrap_or_else(|p| p.into_inner()).take();
        if let Some(lp) = self.event_loop.lock().unwrap_or_else(|p| p.into_inner()).take() {
            let lp = lp.bind(py);
            if let Ok(stop) = lp.getattr("stop") {
                let _ = lp.call_method1("call_soon_threadsafe", (stop,));
            }
        }
    }
}

fn run(rx: mpsc::Receiver<Job>) {
    while let Ok(job) = rx.recv() {
        if !PYTHON_ALIVE.load(Ordering::Relaxed) {
            // Dropping the job drops its reply channel: the session answers 451.
            drop(job);
            continue;
        }
        Python::with_gil(|py| {
            job(py);
            for _ in 0..BATCH {
                match rx.try_recv() {
                    Ok(j) => j(py),
                    Err(_) => break,
                }
            }
        });
    }
}

/// Send an exception's traceback to the `postwire` logger.
pub fn log_exception(py: Python<'_>, what: &str, err: &PyErr) {
    let value = err.value(py);
    if let Some(tb) = err.traceback(py) {
        let _ = value.setattr("__traceback__", tb);
    }
    let logged = (|| -> PyResult<()> {
        let logger = py.import("logging")?.call_method1("getLogger", ("postwire",))?;
        let kwargs = PyDict::new(py);
        kwargs.set_item("exc_info", value)?;
        logger.call_method("error", ("%s raised; answering 451 4.3.0", what), Some(&kwargs))?;
        Ok(())
    })();
    if logged.is_err() {
        err.print(py);
    }
}

/// How a hook's Python result becomes the Rust answer.
type Convert<T> = fn(&Bound<'_, PyAny>) -> Result<T, String>;

fn is_awaitable(v: &Bound<'_, PyAny>) -> bool {
    static ISCOROUTINE: GILOnceCell<Py<PyAny>> = GILOnceCell::new();
    let py = v.py();
    let f = ISCOROUTINE.get_or_try_init(py, || -> PyResult<_> {
        Ok(py.import("asyncio")?.getattr("iscoroutine")?.unbind())
    });
    match f {
        Ok(f) => f.bind(py).call1((v,)).and_then(|r| r.is_truthy()).unwrap_or(false),
        Err(_) => false,
    }
}

/// Sends a finished coroutine's result back to the waiting session.
type SendResult = Box<dyn FnOnce(Python<'_>, PyResult<Bound<'_, PyAny>>) + Send>;

/// Called by asyncio when an `async def` hook's coroutine is done.
#[pyclass]
struct Done {
    what: &'static str,
    convert_and_send: Mutex<Option<SendResult>>,
}

#[pymethods]
impl Done {
    fn __call__(&self, py: Python<'_>, fut: Bound<'_, PyAny>) {
        let r = fut.call_method0("result");
        if let Err(e) = &r {
            log_exception(py, self.what, e);
        }
        if let Some(f) = self.convert_and_send.lock().unwrap_or_else(|p| p.into_inner()).take() {
            f(py, r);
        }
    }
}

/// Call `func(*args)` on the runner; the answer arrives on the returned channel.
fn call<T: Send + 'static>(
    runner: &Arc<Runner>,
    what: &'static str,
    func: Arc<Py<PyAny>>,
    args: impl for<'py> FnOnce(Python<'py>) -> PyResult<Bound<'py, PyTuple>> + Send + 'static,
    convert: Convert<T>,
) -> oneshot::Receiver<Result<T, String>> {
    let (tx, rx) = oneshot::channel();
    let r2 = Arc::clone(runner);
    let job: Job = Box::new(move |py| {
        let ret = args(py).and_then(|a| func.bind(py).call1(a));
        let v = match ret {
            Ok(v) => v,
            Err(e) => {
                log_exception(py, what, &e);
                let _ = tx.send(Err(format!("{what} raised {e}")));
                return;
            }
        };
        if v.is_none() || !is_awaitable(&v) {
            let _ = tx.send(convert(&v));
            return;
        }
        let scheduled = (|| -> PyResult<()> {
            let lp = r2.event_loop(py)?;
            let fut = py.import("asyncio")?.call_method1("run_coroutine_threadsafe", (&v, lp))?;
            let send: SendResult = Box::new(move |_py, r| {
                let _ = tx.send(match r {
                    Ok(v) => convert(&v),
                    Err(e) => Err(format!("{what} raised {e}")),
                });
            });
            let done = Done { what, convert_and_send: Mutex::new(Some(send)) };
            fut.call_method1("add_done_callback", (Py::new(py, done)?,))?;
            Ok(())
        })();
        if let Err(e) = scheduled {
            log_exception(py, what, &e);
            // `tx` moved into the callback; dropping it (when scheduling failed) answers 451.
        }
    });
    if let Err(why) = runner.submit(job) {
        tracing::warn!("{what} not called: {why}");
    }
    rx
}

fn to_reply(v: &Bound<'_, PyAny>) -> Result<Option<Reply>, String> {
    if v.is_none() {
        return Ok(None);
    }
    if let Ok(r) = v.downcast::<PyReply>() {
        return Ok(Some(r.get().inner.clone()));
    }
    if let Ok((code, text)) = v.extract::<(u16, String)>() {
        return Ok(Some(Reply::new(code, &text, None)));
    }
    Err(format!(
        "hook returned {}, expected None, (code, text) or postwire.Reply",
        v.repr().map(|r| r.to_string()).unwrap_or_else(|_| "?".into())
    ))
}

fn to_bool(v: &Bound<'_, PyAny>) -> Result<bool, String> {
    v.is_truthy().map_err(|e| format!("auth callable returned an object without truth value: {e}"))
}

fn hook_future(rx: oneshot::Receiver<Result<Option<Reply>, String>>) -> HookFuture {
    Box::pin(async move { rx.await.unwrap_or_else(|_| Err("hook was not run".into())) })
}

/// The server hooks given as Python callables (each optional).
pub struct PyHooks {
    pub on_connect: Option<Arc<Py<PyAny>>>,
    pub on_mail_from: Option<Arc<Py<PyAny>>>,
    pub on_rcpt_to: Option<Arc<Py<PyAny>>>,
    pub on_message: Option<Arc<Py<PyAny>>>,
    pub runner: Arc<Runner>,
}

fn params_dict<'py>(py: Python<'py>, params: &HookParams) -> PyResult<Bound<'py, PyDict>> {
    let d = PyDict::new(py);
    for (k, v) in params {
        d.set_item(k, v.as_deref())?;
    }
    Ok(d)
}

impl PyHooks {
    fn address_hook(
        &self,
        f: &Option<Arc<Py<PyAny>>>,
        what: &'static str,
        s: SessionInfo,
        a: String,
        p: HookParams,
    ) -> Option<HookFuture> {
        let f = Arc::clone(f.as_ref()?);
        let rx = call(
            &self.runner,
            what,
            f,
            move |py| {
                let session = Py::new(py, PySession { inner: s })?;
                let params = params_dict(py, &p)?;
                PyTuple::new(
                    py,
                    [session.into_any().into_bound(py), a.into_pyobject(py)?.into_any(), params.into_any()],
                )
            },
            to_reply,
        );
        Some(hook_future(rx))
    }
}

impl Hooks for PyHooks {
    fn enabled(&self) -> HookSet {
        HookSet {
            connect: self.on_connect.is_some(),
            mail_from: self.on_mail_from.is_some(),
            rcpt_to: self.on_rcpt_to.is_some(),
            message: self.on_message.is_some(),
        }
    }

    fn on_connect(&self, session: SessionInfo) -> Option<HookFuture> {
        let f = Arc::clone(self.on_connect.as_ref()?);
        let rx = call(
            &self.runner,
            "on_connect",
            f,
            move |py| PyTuple::new(py, [Py::new(py, PySession { inner: session })?]),
            to_reply,
        );
        Some(hook_future(rx))
    }

    fn on_mail_from(&self, session: SessionInfo, address: String, params: MailParams) -> Option<HookFuture> {
        self.address_hook(&self.on_mail_from, "on_mail_from", session, address, params.to_pairs())
    }

    fn on_rcpt_to(&self, session: SessionInfo, address: String, params: RcptParams) -> Option<HookFuture> {
        self.address_hook(&self.on_rcpt_to, "on_rcpt_to", session, address, params.to_pairs())
    }

    fn on_message(&self, session: SessionInfo, envelope: Envelope, data: Arc<Vec<u8>>) -> Option<HookFuture> {
        let f = Arc::clone(self.on_message.as_ref()?);
        let rx = call(
            &self.runner,
            "on_message",
            f,
            move |py| {
                let session = Py::new(py, PySession { inner: session })?.into_any();
                let env = Py::new(py, PyEnvelope { inner: envelope })?.into_any();
                let bytes = PyBytes::new(py, &data).into_any().unbind();
                PyTuple::new(py, [session, env, bytes])
            },
            to_reply,
        );
        Some(hook_future(rx))
    }
}

/// `auth=callable(user, password) -> bool` (or an `async def` returning bool).
pub struct PyAuthenticator {
    pub func: Arc<Py<PyAny>>,
    pub runner: Arc<Runner>,
}

impl Authenticator for PyAuthenticator {
    fn authenticate(&self, user: String, password: String) -> AuthFuture {
        let rx = call(
            &self.runner,
            "auth",
            Arc::clone(&self.func),
            move |py| PyTuple::new(py, [user, password]),
            to_bool,
        );
        Box::pin(async move { rx.await.unwrap_or_else(|_| Err("auth callable was not run".into())) })
    }
}
