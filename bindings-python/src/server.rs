//! `postwire.Server`: every option of the API contract as keyword arguments (names, defaults and
//! checks are the core's: `postwire::host::options`), Python hooks (`hooks.rs`), `listen` /
//! `start` / `serve_forever` / `stop`, `stats`, context manager.
//!
//! The server runs on the core's shared runtime through its `ServerHandle`; blocking calls
//! (`stop`, `serve_forever`) release the GIL.

use std::net::{SocketAddr, ToSocketAddrs};
use std::sync::{Arc, Mutex};

use postwire::host::{self, HookDispatch, ServerHandle};
use postwire::server::{Server, ServerOptions};
use pyo3::exceptions::{PyKeyboardInterrupt, PyRuntimeError};
use pyo3::prelude::*;
use pyo3::types::{PyDict, PyTuple};

use crate::convert;
use crate::error::{invalid_input, ResultExt};
use crate::hooks::PyHooks;

/// An SMTP server (see API.md "Server").
#[pyclass(name = "Server", module = "postwire")]
pub struct PyServer {
    server: Arc<Server>,
    hooks: Arc<PyHooks>,
    dispatch: Arc<HookDispatch>,
    handle: Mutex<Option<ServerHandle>>,
}

/// The parts of a server from `Server(**options)`: the core server, the Python hooks and the
/// dispatch `make_dispatch` builds for them (`Server`: hook workers; `aio.Server`: the caller's
/// loop). Names, defaults and checks of the options are the core's.
pub fn build(
    py: Python<'_>,
    options: Option<&Bound<'_, PyDict>>,
    make_dispatch: impl FnOnce(&Arc<PyHooks>, &ServerOptions) -> HookDispatch,
) -> PyResult<(Arc<Server>, Arc<PyHooks>, Arc<HookDispatch>)> {
    let kwargs = match options {
        Some(o) => o.copy()?,
        None => PyDict::new(py),
    };
    let hooks = Arc::new(PyHooks::take(&kwargs)?);
    let mut opts = host::options::server_options(convert::to_json(&kwargs, "Server options")?).py_err()?;
    let dispatch = Arc::new(make_dispatch(&hooks, &opts));
    if hooks.auth.is_some() {
        opts.auth = Some(dispatch.clone());
    }
    let server = Arc::new(Server::with_hooks(opts, dispatch.clone()).py_err()?);
    Ok((server, hooks, dispatch))
}

/// `listen(host, port)` of both servers.
pub fn listen(server: &Server, host: &str, port: u16) -> PyResult<(String, u16)> {
    let addr = (host, port)
        .to_socket_addrs()
        .ok()
        .and_then(|mut a| a.next())
        .ok_or_else(|| invalid_input(format!("cannot resolve listen host {host:?}")))?;
    server.listen(addr).py_err().map(pair)
}

pub fn pair(a: SocketAddr) -> (String, u16) {
    (a.ip().to_string(), a.port())
}

impl PyServer {
    fn handle(&self) -> Option<ServerHandle> {
        self.handle.lock().unwrap_or_else(|p| p.into_inner()).clone()
    }
}

#[pymethods]
impl PyServer {
    /// Every option of API.md's `Server(...)`, keyword-only; see the `.pyi` stub for types.
    #[new]
    #[pyo3(signature = (**options))]
    fn new(py: Python<'_>, options: Option<&Bound<'_, PyDict>>) -> PyResult<Self> {
        let (server, hooks, dispatch) =
            build(py, options, |hooks, opts| hooks.dispatch(opts.hook_timeout, opts.hook_workers))?;
        Ok(PyServer { server, hooks, dispatch, handle: Mutex::new(None) })
    }

    /// Bind `host:port` (port 0 = ephemeral) and return the bound `(host, port)`. May be called
    /// several times before `start()`.
    #[pyo3(signature = (host = "127.0.0.1", port = 0))]
    fn listen(&self, host: &str, port: u16) -> PyResult<(String, u16)> {
        listen(&self.server, host, port)
    }

    /// The addresses bound so far, as `(host, port)` tuples.
    #[getter]
    fn addresses(&self) -> Vec<(String, u16)> {
        self.server.local_addrs().into_iter().map(pair).collect()
    }

    /// Serve in the background until `stop()`.
    fn start(&self) -> PyResult<()> {
        let mut g = self.handle.lock().unwrap_or_else(|p| p.into_inner());
        if g.is_none() {
            *g = Some(self.server.start().py_err()?);
        }
        Ok(())
    }

    /// Serve until Ctrl-C (then stop gracefully and return) or `stop()` from another thread.
    fn serve_forever(&self, py: Python<'_>) -> PyResult<()> {
        self.start()?;
        while self.running() {
            // Sleep in Python: it releases the GIL and runs the signal handlers (Ctrl-C raises
            // KeyboardInterrupt here) exactly as a pure-Python serve loop would. (No re-read of
            // the logging levels here: `logging` pushes every change itself.)
            let slept = py.import("time").and_then(|t| t.call_method1("sleep", (0.1,))).map(|_| ());
            if let Err(e) = slept.and_then(|_| py.check_signals()) {
                self.stop(py)?;
                return if e.is_instance_of::<PyKeyboardInterrupt>(py) { Ok(()) } else { Err(e) };
            }
        }
        self.stop(py)
    }

    /// Graceful stop: stop accepting, answer idle sessions 421, let open transactions finish
    /// (for up to `shutdown_grace`), wait for every session to end. Idempotent.
    fn stop(&self, py: Python<'_>) -> PyResult<()> {
        if host::server::check_may_wait(&self.dispatch).is_err() || self.hooks.on_own_loop(py) {
            // stop() waits for every session, and this hook's session waits for this hook.
            return Err(PyRuntimeError::new_err(
                "Server.stop() called from one of the server's own hooks would wait for that hook \
                 forever: call it from another thread (e.g. threading.Thread(target=server.stop).start())",
            ));
        }
        self.server.stop();
        let served = match self.handle() {
            Some(h) => py.allow_threads(|| h.wait()),
            None => Ok(()),
        };
        self.dispatch.close();
        self.hooks.shutdown(py);
        // Records of this server's last sessions reach `logging` before stop() returns.
        py.allow_threads(host::log::flush);
        served.py_err()
    }

    /// True between `start()` and the end of `stop()`.
    #[getter]
    fn running(&self) -> bool {
        self.handle().is_some_and(|h| h.running())
    }

    /// Counters: connections, active_connections, refused_connections, messages_accepted,
    /// messages_rejected, recipients_accepted, recipients_rejected, bytes_received.
    #[getter]
    fn stats<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        convert::serde_to_py(py, &self.server.stats())
    }

    /// The host name in force.
    #[getter]
    fn hostname(&self) -> String {
        self.server.options().hostname.clone()
    }

    fn __enter__(slf: Py<Self>) -> Py<Self> {
        slf
    }

    #[pyo3(signature = (*_args))]
    fn __exit__(&self, py: Python<'_>, _args: &Bound<'_, PyTuple>) -> PyResult<bool> {
        self.stop(py)?;
        Ok(false)
    }

    fn __repr__(&self) -> String {
        let addrs: Vec<String> = self.server.local_addrs().iter().map(|a| a.to_string()).collect();
        let running = if self.running() { " running" } else { "" };
        format!("<postwire.Server {} on [{}]{running}>", self.server.options().hostname, addrs.join(", "))
    }
}

impl Drop for PyServer {
    fn drop(&mut self) {
        // A server dropped without stop(): stop accepting; its task ends on its own.
        self.server.stop();
    }
}
