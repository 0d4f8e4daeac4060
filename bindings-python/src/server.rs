//! `postwire.Server`: every option of the API contract as keyword arguments, Python hooks,
//! `listen`/`start`/`serve_forever`/`stop`, `stats`, context manager.
//!
//! The server runs on the binding's shared runtime; hooks run on the server's hook thread
//! (`hooks.rs`). Blocking calls (`stop`, `serve_forever`) release the GIL.

use std::collections::HashMap;
use std::net::{SocketAddr, ToSocketAddrs};
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use postwire::server::{Delivery, Server, ServerOptions, ServerTimeouts, StaticCredentials};
use pyo3::exceptions::PyKeyboardInterrupt;
use pyo3::prelude::*;
use pyo3::types::{PyDict, PyTuple};
use tokio::task::JoinHandle;

use crate::error::{invalid_input, ResultExt};
use crate::hooks::{PyAuthenticator, PyHooks, Runner};
use crate::runtime;

fn seconds(what: &str, v: f64) -> PyResult<Duration> {
    postwire::option_values::seconds(what, v).py_err()
}

fn timeouts(v: Option<&Bound<'_, PyAny>>) -> PyResult<ServerTimeouts> {
    let Some(v) = v.filter(|v| !v.is_none()) else {
        return Ok(ServerTimeouts::default());
    };
    if let Ok(d) = v.downcast::<PyDict>() {
        let mut t = ServerTimeouts::default();
        for (k, val) in d.iter() {
            let k: String = k.extract()?;
            let s = seconds(&format!("timeouts[{k:?}]"), val.extract()?)?;
            match k.as_str() {
                "command" => t.command = s,
                "data" => t.data = s,
                "tls_handshake" => t.tls_handshake = s,
                "write" => t.write = s,
                _ => {
                    return Err(invalid_input(format!(
                        "unknown timeout {k:?} (expected command, data, tls_handshake, write)"
                    )))
                }
            }
        }
        return Ok(t);
    }
    Ok(ServerTimeouts::uniform(seconds("timeouts", v.extract()?)?))
}

fn callable(name: &str, v: Option<Bound<'_, PyAny>>) -> PyResult<Option<Arc<Py<PyAny>>>> {
    match v.filter(|v| !v.is_none()) {
        None => Ok(None),
        Some(f) if f.is_callable() => Ok(Some(Arc::new(f.unbind()))),
        Some(_) => Err(invalid_input(format!("{name} must be callable"))),
    }
}

/// An SMTP server (see API.md "Server").
#[pyclass(name = "Server", module = "postwire")]
pub struct PyServer {
    inner: Arc<Server>,
    runner: Arc<Runner>,
    task: Mutex<Option<JoinHandle<postwire::Result<()>>>>,
}

impl PyServer {
    fn wait(&self, py: Python<'_>) -> PyResult<()> {
        let task = self.task.lock().unwrap_or_else(|p| p.into_inner()).take();
        if let Some(task) = task {
            let r = runtime::block_on(py, task)?;
            self.runner.shutdown(py);
            match r {
                Ok(r) => r.py_err()?,
                Err(e) => {
                    return Err(pyo3::exceptions::PyRuntimeError::new_err(format!("server task failed: {e}")))
                }
            }
        }
        Ok(())
    }
}

#[pymethods]
impl PyServer {
    /// Every option of API.md's `Server(...)`, keyword-only; see the `.pyi` stub for types.
    #[new]
    #[pyo3(signature = (
        *, hostname = None, local_domains = Vec::new(), relay_networks = Vec::new(),
        relay_authenticated = true, max_message_size = Some(25 * 1024 * 1024), max_recipients = 100,
        max_connections = 1000, timeouts = None, tls_cert = None, tls_key = None, auth = None,
        allow_vrfy = false, allow_expn = false, delivery = None,
        on_connect = None, on_mail_from = None, on_rcpt_to = None, on_message = None,
        strict = false, allow_insecure_auth = false, reverse_dns = false, max_errors = 20,
        shutdown_grace = 30.0, max_buffered_bytes = 512 * 1024 * 1024
    ))]
    #[allow(clippy::too_many_arguments)]
    fn new(
        hostname: Option<String>,
        local_domains: Vec<String>,
        relay_networks: Vec<String>,
        relay_authenticated: bool,
        max_message_size: Option<u64>,
        max_recipients: usize,
        max_connections: usize,
        timeouts: Option<Bound<'_, PyAny>>,
        tls_cert: Option<PathBuf>,
        tls_key: Option<PathBuf>,
        auth: Option<Bound<'_, PyAny>>,
        allow_vrfy: bool,
        allow_expn: bool,
        delivery: Option<String>,
        on_connect: Option<Bound<'_, PyAny>>,
        on_mail_from: Option<Bound<'_, PyAny>>,
        on_rcpt_to: Option<Bound<'_, PyAny>>,
        on_message: Option<Bound<'_, PyAny>>,
        strict: bool,
        allow_insecure_auth: bool,
        reverse_dns: bool,
        max_errors: usize,
        shutdown_grace: f64,
        max_buffered_bytes: u64,
    ) -> PyResult<Self> {
        let runner = Runner::new();
        let mut opts = ServerOptions::default();
        if let Some(h) = hostname {
            opts.hostname = h;
        }
        opts.local_domains = local_domains;
        opts.relay_networks = relay_networks
            .iter()
            .map(|n| postwire::option_values::network(n).py_err())
            .collect::<PyResult<_>>()?;
        opts.relay_authenticated = relay_authenticated;
        opts.max_message_size = max_message_size.unwrap_or(0);
        opts.max_recipients = max_recipients;
        opts.max_connections = max_connections;
        opts.timeouts = self::timeouts(timeouts.as_ref())?;
        opts.tls_cert = tls_cert;
        opts.tls_key = tls_key;
        opts.auth = match auth.filter(|a| !a.is_none()) {
            None => None,
            Some(a) if a.is_instance_of::<PyDict>() => {
                let table: HashMap<String, String> = a.extract()?;
                Some(Arc::new(StaticCredentials(table)))
            }
            Some(a) if a.is_callable() => {
                Some(Arc::new(PyAuthenticator { func: Arc::new(a.unbind()), runner: Arc::clone(&runner) }))
            }
            Some(_) => {
                return Err(invalid_input(
                    "auth must be a callable(user, password) -> bool or a {user: password} dict",
                ))
            }
        };
        opts.allow_vrfy = allow_vrfy;
        opts.allow_expn = allow_expn;
        opts.delivery = match delivery {
            Some(d) => Delivery::parse(&d).py_err()?,
            None => Delivery::None,
        };
        opts.strict = strict;
        opts.allow_insecure_auth = allow_insecure_auth;
        opts.reverse_dns = reverse_dns;
        opts.max_errors = max_errors;
        opts.shutdown_grace = seconds("shutdown_grace", shutdown_grace)?;
        opts.max_buffered_bytes = max_buffered_bytes;
        let hooks = PyHooks {
            on_connect: callable("on_connect", on_connect)?,
            on_mail_from: callable("on_mail_from", on_mail_from)?,
            on_rcpt_to: callable("on_rcpt_to", on_rcpt_to)?,
            on_message: callable("on_message", on_message)?,
            runner: Arc::clone(&runner),
        };
        let inner = Server::with_hooks(opts, Arc::new(hooks)).py_err()?;
        Ok(PyServer { inner: Arc::new(inner), runner, task: Mutex::new(None) })
    }

    /// Bind `host:port` (port 0 = ephemeral) and return the bound `(host, port)`. May be called
    /// several times before `start()`.
    #[pyo3(signature = (host = "127.0.0.1", port = 0))]
    fn listen(&self, host: &str, port: u16) -> PyResult<(String, u16)> {
        let addr: SocketAddr = match host.parse::<std::net::IpAddr>() {
            Ok(ip) => SocketAddr::new(ip, port),
            Err(_) => (host, port)
                .to_socket_addrs()
                .ok()
                .and_then(|mut a| a.next())
                .ok_or_else(|| invalid_input(format!("cannot resolve listen host {host:?}")))?,
        };
        let bound = self.inner.listen(addr).py_err()?;
        Ok((bound.ip().to_string(), bound.port()))
    }

    /// The addresses bound so far, as `(host, port)` tuples.
    #[getter]
    fn addresses(&self) -> Vec<(String, u16)> {
        self.inner.local_addrs().iter().map(|a| (a.ip().to_string(), a.port())).collect()
    }

    /// Serve in the background (on the binding's runtime) until `stop()`.
    fn start(&self, py: Python<'_>) -> PyResult<()> {
        crate::logging::refresh(py);
        let mut g = self.task.lock().unwrap_or_else(|p| p.into_inner());
        if g.is_some() {
            return Ok(());
        }
        if self.inner.is_stopping() {
            return Err(invalid_input("this server was stopped; create a new one"));
        }
        if self.inner.local_addrs().is_empty() {
            return Err(invalid_input("call listen(host, port) before start()"));
        }
        let server = Arc::clone(&self.inner);
        let rt = runtime::shared()?;
        *g = Some(rt.spawn(async move { server.serve().await }));
        Ok(())
    }

    /// Serve until Ctrl-C (then stop gracefully and return) or `stop()` from another thread.
    fn serve_forever(&self, py: Python<'_>) -> PyResult<()> {
        self.start(py)?;
        loop {
            let finished = {
                let g = self.task.lock().unwrap_or_else(|p| p.into_inner());
                match g.as_ref() {
                    Some(t) => t.is_finished(),
                    None => true,
                }
            };
            if finished {
                return self.wait(py);
            }
            // Sleep in Python: it releases the GIL and runs the signal handlers (Ctrl-C raises
            // KeyboardInterrupt here) exactly as a pure-Python serve loop would.
            let slept = py.import("time").and_then(|t| t.call_method1("sleep", (0.1,))).map(|_| ());
            crate::logging::refresh(py);
            if let Err(e) = slept.and_then(|_| py.check_signals()) {
                self.inner.stop();
                self.wait(py)?;
                if e.is_instance_of::<PyKeyboardInterrupt>(py) {
                    return Ok(());
                }
                return Err(e);
            }
        }
    }

    /// Graceful stop: stop accepting, answer idle sessions 421, let open transactions finish,
    /// wait for every session to end. Idempotent.
    fn stop(&self, py: Python<'_>) -> PyResult<()> {
        self.inner.stop();
        self.wait(py)?;
        self.runner.shutdown(py);
        Ok(())
    }

    /// True between `start()` and the end of `stop()`.
    #[getter]
    fn running(&self) -> bool {
        self.task.lock().unwrap_or_else(|p| p.into_inner()).as_ref().is_some_and(|t| !t.is_finished())
    }

    /// Counters: connections, active_connections, refused_connections, messages_accepted,
    /// messages_rejected, recipients_accepted, recipients_rejected, bytes_received.
    #[getter]
    fn stats<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyDict>> {
        let s = self.inner.stats();
        let d = PyDict::new(py);
        d.set_item("connections", s.connections)?;
        d.set_item("active_connections", s.active_connections)?;
        d.set_item("refused_connections", s.refused_connections)?;
        d.set_item("messages_accepted", s.messages_accepted)?;
        d.set_item("messages_rejected", s.messages_rejected)?;
        d.set_item("recipients_accepted", s.recipients_accepted)?;
        d.set_item("recipients_rejected", s.recipients_rejected)?;
        d.set_item("bytes_received", s.bytes_received)?;
        Ok(d)
    }

    /// The host name in force.
    #[getter]
    fn hostname(&self) -> String {
        self.inner.options().hostname.clone()
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
        let addrs: Vec<String> = self.inner.local_addrs().iter().map(|a| a.to_string()).collect();
        format!(
            "<postwire.Server {} on [{}]{}>",
            self.inner.options().hostname,
            addrs.join(", "),
            if self.running() { " running" } else { "" }
        )
    }
}

impl Drop for PyServer {
    fn drop(&mut self) {
        // A server dropped without stop(): stop accepting; its task ends on its own.
        self.inner.stop();
    }
}
