//! `postwire.Server`: every option of the API contract as keyword arguments (names, defaults and
//! checks are the core's: `postwire::host::options`), Python hooks (`hooks.rs`), `listen` /
//! `start` / `serve_forever` / `stop`, `stats`, context manager.
//!
//! The server runs on the core's shared runtime; the core `Server` keeps its handle. Blocking
//! calls (`stop`, `serve_forever`) release the GIL.

use std::net::{SocketAddr, ToSocketAddrs};
use std::sync::Arc;

use postwire::host::{self, HookDispatch};
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
    core: ServerParts,
}

/// What `Server` and `aio.Server` (`aio_server.rs`) both are: the core server (which keeps the
/// handle of its start), the Python hooks, the dispatch that runs them; and the calls both answer
/// alike (`listen`, `addresses`, `running`, `stats`, `hostname`).
pub struct ServerParts {
    /// The core server.
    pub server: Arc<Server>,
    /// The Python hooks given as options.
    pub hooks: Arc<PyHooks>,
    /// How the server's hook calls reach the hooks.
    pub dispatch: Arc<HookDispatch>,
}

impl ServerParts {
    /// The parts from `Server(**options)`, with the dispatch `make_dispatch` builds for the hooks
    /// (`Server`: hook workers; `aio.Server`: the caller's loop). Names, defaults and checks of
    /// the options are the core's.
    pub fn build(
        py: Python<'_>,
        options: Option<&Bound<'_, PyDict>>,
        make_dispatch: impl FnOnce(&Arc<PyHooks>, &ServerOptions) -> HookDispatch,
    ) -> PyResult<Self> {
        let kwargs = match options {
            Some(o) => o.copy()?,
            None => PyDict::new(py),
        };
        let hooks = Arc::new(PyHooks::take(&kwargs)?);
        let mut opts =
            host::options::server_options(convert::to_json(&kwargs, "Server options")?).py_err()?;
        let dispatch = Arc::new(make_dispatch(&hooks, &opts));
        if hooks.auth.is_some() {
            opts.auth = Some(dispatch.clone());
        }
        let server = Arc::new(Server::with_hooks(opts, dispatch.clone()).py_err()?);
        Ok(ServerParts { server, hooks, dispatch })
    }

    /// `listen(host, port)`.
    pub fn listen(&self, host: &str, port: u16) -> PyResult<(String, u16)> {
        let addr = (host, port)
            .to_socket_addrs()
            .ok()
            .and_then(|mut a| a.next())
            .ok_or_else(|| invalid_input(format!("cannot resolve listen host {host:?}")))?;
        self.server.listen(addr).py_err().map(pair)
    }

    /// The addresses bound so far.
    pub fn addresses(&self) -> Vec<(String, u16)> {
        self.server.local_addrs().into_iter().map(pair).collect()
    }

    /// True between the start and the end of the stop.
    pub fn running(&self) -> bool {
        self.server.running()
    }

    /// The server's counters as a dict.
    pub fn stats<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        convert::serde_to_py(py, &self.server.stats())
    }

    /// The host name in force.
    pub fn hostname(&self) -> String {
        self.server.options().hostname.clone()
    }
}

fn pair(a: SocketAddr) -> (String, u16) {
    (a.ip().to_string(), a.port())
}

#[pymethods]
impl PyServer {
    /// Every option of API.md's `Server(...)`, keyword-only; see the `.pyi` stub for types.
    #[new]
    #[pyo3(signature = (**options))]
    fn new(py: Python<'_>, options: Option<&Bound<'_, PyDict>>) -> PyResult<Self> {
        let core = ServerParts::build(py, options, |hooks, opts| {
            hooks.dispatch(opts.hook_timeout, opts.hook_workers)
        })?;
        Ok(PyServer { core })
    }

    /// Bind `host:port` (port 0 = ephemeral) and return the bound `(host, port)`. May be called
    /// several times before `start()`.
    #[pyo3(signature = (host = "127.0.0.1", port = 0))]
    fn listen(&self, host: &str, port: u16) -> PyResult<(String, u16)> {
        self.core.listen(host, port)
    }

    /// The addresses bound so far, as `(host, port)` tuples.
    #[getter]
    fn addresses(&self) -> Vec<(String, u16)> {
        self.core.addresses()
    }

    /// Serve in the background until `stop()`. A server is started once: a later call while it
    /// serves does nothing; after `stop()` it raises `InvalidInputError` (a stopped server never
    /// serves again: build a new one).
    fn start(&self) -> PyResult<()> {
        self.core.server.start().py_err()?;
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
        let ServerParts { server, hooks, dispatch, .. } = &self.core;
        if host::server::check_may_wait(dispatch).is_err() || hooks.on_own_loop(py) {
            // stop() waits for every session, and this hook's session waits for this hook.
            return Err(PyRuntimeError::new_err(
                "Server.stop() called from one of the server's own hooks would wait for that hook \
                 forever: call it from another thread (e.g. threading.Thread(target=server.stop).start())",
            ));
        }
        server.stop();
        let served = match server.handle() {
            Some(h) => py.allow_threads(|| h.wait()),
            None => Ok(()),
        };
        dispatch.close();
        hooks.shutdown(py);
        // Records of this server's last sessions reach `logging` before stop() returns.
        py.allow_threads(host::log::flush);
        served.py_err()
    }

    /// True between `start()` and the end of `stop()`.
    #[getter]
    fn running(&self) -> bool {
        self.core.running()
    }

    /// Counters: connections, active_connections, refused_connections, messages_accepted,
    /// messages_rejected, recipients_accepted, recipients_rejected, bytes_received.
    #[getter]
    fn stats<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        self.core.stats(py)
    }

    /// The host name in force.
    #[getter]
    fn hostname(&self) -> String {
        self.core.hostname()
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
        let addrs: Vec<String> = self.core.server.local_addrs().iter().map(|a| a.to_string()).collect();
        let running = if self.running() { " running" } else { "" };
        format!("<postwire.Server {} on [{}]{running}>", self.core.hostname(), addrs.join(", "))
    }
}

impl Drop for PyServer {
    fn drop(&mut self) {
        // A server dropped without stop(): stop accepting; its task ends on its own.
        self.core.server.stop();
    }
}
