//! `postwire.aio.Client`: the `Client` API as awaitables (asyncio), on the core's shared
//! runtime; results come back through the completion queue's asyncio end (`bridge.rs`).

use std::collections::BTreeMap;
use std::sync::Arc;

use postwire::client::Client;
use pyo3::exceptions::PyRuntimeError;
use pyo3::prelude::*;
use pyo3::types::{PyDict, PyTuple, PyType};
use tokio::sync::{Mutex, OwnedMutexGuard};

use crate::bridge;
use crate::client::{capabilities, client_options, message_bytes, recipients};
use crate::values::{PyReply, PySendResult};

/// An asyncio SMTP session. Open with `await aio.Client.connect(...)`.
#[pyclass(name = "Client", module = "postwire.aio")]
pub struct AioClient {
    inner: Arc<Mutex<Client>>,
}

impl AioClient {
    fn with<T>(&self, f: impl FnOnce(&Client) -> T) -> PyResult<T> {
        match self.inner.try_lock() {
            Ok(c) => Ok(f(&c)),
            Err(_) => Err(PyRuntimeError::new_err("a call on this client is in flight")),
        }
    }

    /// Run `f` with the session once calls before it are done; its result is awaitable.
    fn call<'py, T, Fut>(
        &self,
        py: Python<'py>,
        f: impl FnOnce(OwnedMutexGuard<Client>) -> Fut + Send + 'static,
    ) -> PyResult<Bound<'py, PyAny>>
    where
        T: for<'a> IntoPyObject<'a> + Send + 'static,
        Fut: std::future::Future<Output = postwire::Result<T>> + Send + 'static,
    {
        let inner = Arc::clone(&self.inner);
        bridge::spawn(py, async move { f(inner.lock_owned().await).await })
    }
}

#[pymethods]
impl AioClient {
    /// Open a session (same arguments as `postwire.Client.connect`); returns an awaitable.
    #[classmethod]
    #[pyo3(signature = (host, port = None, **options))]
    fn connect<'py>(
        _cls: &Bound<'py, PyType>,
        py: Python<'py>,
        host: &str,
        port: Option<u16>,
        options: Option<&Bound<'py, PyDict>>,
    ) -> PyResult<Bound<'py, PyAny>> {
        crate::logging::refresh(py);
        let opts = client_options(host, port, options)?;
        bridge::spawn(py, async move {
            let c = Client::connect(opts).await?;
            Ok(AioClient { inner: Arc::new(Mutex::new(c)) })
        })
    }

    /// The server's EHLO capabilities: keyword → parameters.
    #[getter]
    fn capabilities(&self) -> PyResult<BTreeMap<String, String>> {
        self.with(capabilities)
    }
    /// The server's 220 banner.
    #[getter]
    fn banner(&self) -> PyResult<PyReply> {
        self.with(|c| c.banner().clone().into())
    }
    /// True once the session is encrypted.
    #[getter]
    fn tls(&self) -> PyResult<bool> {
        self.with(|c| c.is_tls())
    }
    /// The user after a successful `login`, else None.
    #[getter]
    fn authenticated_user(&self) -> PyResult<Option<String>> {
        self.with(|c| c.authenticated_user().map(str::to_string))
    }
    /// The wire log (`"C: …"` / `"S: …"`), AUTH secrets masked.
    #[getter]
    fn transcript(&self) -> PyResult<Vec<String>> {
        self.with(|c| c.transcript().to_vec())
    }
    /// True after `quit()` or when the server hung up.
    #[getter]
    fn closed(&self) -> PyResult<bool> {
        self.with(|c| c.is_closed())
    }

    /// AUTH; awaitable of `Reply`.
    #[pyo3(signature = (user, password, mechanism = None))]
    fn login<'py>(
        &self,
        py: Python<'py>,
        user: String,
        password: String,
        mechanism: Option<String>,
    ) -> PyResult<Bound<'py, PyAny>> {
        self.call(py, move |mut c| async move {
            c.login(&user, &password, mechanism.as_deref()).await.map(PyReply::from)
        })
    }

    /// One transaction; awaitable of `SendResult`.
    fn send<'py>(
        &self,
        py: Python<'py>,
        mail_from: String,
        rcpt_to: &Bound<'py, PyAny>,
        message: &Bound<'py, PyAny>,
    ) -> PyResult<Bound<'py, PyAny>> {
        let rcpts = recipients(rcpt_to)?;
        let msg = message_bytes(message)?.into_owned();
        self.call(
            py,
            move |mut c| async move { c.send(&mail_from, &rcpts, &msg).await.map(PySendResult::from) },
        )
    }

    /// VRFY; awaitable of `Reply`.
    fn verify<'py>(&self, py: Python<'py>, address: String) -> PyResult<Bound<'py, PyAny>> {
        self.call(py, move |mut c| async move { c.verify(&address).await.map(PyReply::from) })
    }
    /// EXPN; awaitable of `Reply`.
    fn expand<'py>(&self, py: Python<'py>, name: String) -> PyResult<Bound<'py, PyAny>> {
        self.call(py, move |mut c| async move { c.expand(&name).await.map(PyReply::from) })
    }
    /// HELP; awaitable of `Reply`.
    #[pyo3(signature = (topic = None))]
    fn help<'py>(&self, py: Python<'py>, topic: Option<String>) -> PyResult<Bound<'py, PyAny>> {
        self.call(py, move |mut c| async move { c.help(topic.as_deref()).await.map(PyReply::from) })
    }
    /// NOOP; awaitable of `Reply`.
    fn noop<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        self.call(py, move |mut c| async move { c.noop().await.map(PyReply::from) })
    }
    /// RSET; awaitable of `Reply`.
    fn reset<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        self.call(py, move |mut c| async move { c.reset().await.map(PyReply::from) })
    }
    /// QUIT; awaitable of `Reply`.
    fn quit<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        self.call(py, move |mut c| async move { c.quit().await.map(PyReply::from) })
    }

    fn __aenter__<'py>(slf: Py<Self>, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        bridge::ready(py, slf)
    }

    /// Closes the session (QUIT; errors while closing are ignored).
    #[pyo3(signature = (*_args))]
    fn __aexit__<'py>(&self, py: Python<'py>, _args: &Bound<'py, PyTuple>) -> PyResult<Bound<'py, PyAny>> {
        self.call(py, |mut c| async move {
            if !c.is_closed() {
                let _ = c.quit().await;
            }
            Ok(false)
        })
    }

    fn __repr__(&self) -> String {
        match self.inner.try_lock() {
            Ok(c) => format!(
                "<postwire.aio.Client {}:{}{}>",
                c.options().host,
                c.options().effective_port(),
                if c.is_closed() { " closed" } else { "" }
            ),
            Err(_) => "<postwire.aio.Client (busy)>".into(),
        }
    }
}
