//! `postwire.aio.Client`: the `Client` API as awaitables (asyncio), on the core's shared
//! runtime; results come back through the completion queue's asyncio end (`bridge.rs`).
//!
//! It keeps the core's `ClientHandle`: calls queue on the session in order, and the properties
//! (`banner`, `capabilities`, `transcript`, `closed` …) read the session's last published state,
//! so they answer at once while a call is in flight.

use postwire::client::ClientHandle;
use pyo3::prelude::*;
use pyo3::types::{PyDict, PyTuple, PyType};

use crate::bridge;
use crate::client::{capabilities, client_options, message_envelope, send_args, send_options};
use crate::values::{PyReply, PySendResult};

/// An asyncio SMTP session. Open with `await aio.Client.connect(...)`.
#[pyclass(name = "Client", module = "postwire.aio", frozen)]
pub struct AioClient {
    inner: ClientHandle,
}

impl AioClient {
    /// Run `f` with the session (calls queue in order); its result is awaitable.
    fn call<'py, T, Fut>(
        &self,
        py: Python<'py>,
        f: impl FnOnce(ClientHandle) -> Fut + Send + 'static,
    ) -> PyResult<Bound<'py, PyAny>>
    where
        T: for<'a> IntoPyObject<'a> + Send + 'static,
        Fut: std::future::Future<Output = postwire::Result<T>> + Send + 'static,
    {
        // In line now, while the caller makes the call: the task may start after a later one's.
        bridge::spawn(py, self.inner.in_turn(f))
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
        let opts = client_options(host, port, options)?;
        bridge::spawn(py, async move { Ok(AioClient { inner: ClientHandle::connect(opts).await? }) })
    }

    /// The server's EHLO capabilities: keyword → parameters; lookups ignore case.
    #[getter]
    fn capabilities<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        capabilities(py, &self.inner.capabilities())
    }
    /// True when the server offers the EHLO keyword `name` (any case).
    fn has_extn(&self, name: &str) -> bool {
        self.inner.capabilities().has(name)
    }
    /// The server's 220 banner.
    #[getter]
    fn banner(&self) -> PyReply {
        self.inner.banner().into()
    }
    /// True once the session is encrypted.
    #[getter]
    fn tls(&self) -> bool {
        self.inner.is_tls()
    }
    /// The name we sent in EHLO/HELO.
    #[getter]
    fn hello_name(&self) -> String {
        self.inner.hello_name()
    }
    /// The user after a successful `login`, else None.
    #[getter]
    fn authenticated_user(&self) -> Option<String> {
        self.inner.authenticated_user()
    }
    /// The wire log (`"C: …"` / `"S: …"`), AUTH secrets masked, up to the end of the last call.
    #[getter]
    fn transcript(&self) -> Vec<String> {
        self.inner.transcript()
    }
    /// True after `quit()` or when the server hung up.
    #[getter]
    fn closed(&self) -> bool {
        self.inner.is_closed()
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
        self.call(py, move |c| async move {
            c.login(&user, &password, mechanism.as_deref()).await.map(PyReply::from)
        })
    }

    /// One transaction; awaitable of `SendResult`. Options as `postwire.Client.send`.
    #[pyo3(signature = (mail_from, rcpt_to, message, *, dsn = None, mail_options = None, rcpt_options = None))]
    #[allow(clippy::too_many_arguments)]
    fn send<'py>(
        &self,
        py: Python<'py>,
        mail_from: String,
        rcpt_to: &Bound<'py, PyAny>,
        message: &Bound<'py, PyAny>,
        dsn: Option<&Bound<'py, PyAny>>,
        mail_options: Option<&Bound<'py, PyAny>>,
        rcpt_options: Option<&Bound<'py, PyAny>>,
    ) -> PyResult<Bound<'py, PyAny>> {
        let (env, msg) = send_args(&mail_from, rcpt_to, message, dsn, mail_options, rcpt_options)?;
        let msg = msg.into_owned();
        self.call(py, move |c| async move { c.send_with(&env, &msg).await.map(PySendResult::from) })
    }

    /// `postwire.Client.send_message` as an awaitable.
    #[pyo3(signature = (msg, from_addr = None, to_addrs = None, *, dsn = None, mail_options = None, rcpt_options = None))]
    #[allow(clippy::too_many_arguments)]
    fn send_message<'py>(
        &self,
        py: Python<'py>,
        msg: &Bound<'py, PyAny>,
        from_addr: Option<&Bound<'py, PyAny>>,
        to_addrs: Option<&Bound<'py, PyAny>>,
        dsn: Option<&Bound<'py, PyAny>>,
        mail_options: Option<&Bound<'py, PyAny>>,
        rcpt_options: Option<&Bound<'py, PyAny>>,
    ) -> PyResult<Bound<'py, PyAny>> {
        let (from, rcpts, data) = message_envelope(msg, from_addr, to_addrs)?;
        let env = send_options(&from, rcpts, dsn, mail_options, rcpt_options)?;
        self.call(py, move |c| async move { c.send_with(&env, &data).await.map(PySendResult::from) })
    }

    /// VRFY; awaitable of `Reply`.
    fn verify<'py>(&self, py: Python<'py>, address: String) -> PyResult<Bound<'py, PyAny>> {
        self.call(py, move |c| async move { c.verify(&address).await.map(PyReply::from) })
    }
    /// EXPN; awaitable of `Reply`.
    fn expand<'py>(&self, py: Python<'py>, name: String) -> PyResult<Bound<'py, PyAny>> {
        self.call(py, move |c| async move { c.expand(&name).await.map(PyReply::from) })
    }
    /// HELP; awaitable of `Reply`.
    #[pyo3(signature = (topic = None))]
    fn help<'py>(&self, py: Python<'py>, topic: Option<String>) -> PyResult<Bound<'py, PyAny>> {
        self.call(py, move |c| async move { c.help(topic.as_deref()).await.map(PyReply::from) })
    }
    /// NOOP; awaitable of `Reply`.
    fn noop<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        self.call(py, move |c| async move { c.noop().await.map(PyReply::from) })
    }
    /// RSET; awaitable of `Reply`.
    fn reset<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        self.call(py, move |c| async move { c.reset().await.map(PyReply::from) })
    }
    /// QUIT; awaitable of `Reply`.
    fn quit<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        self.call(py, move |c| async move { c.quit().await.map(PyReply::from) })
    }

    fn __aenter__<'py>(slf: Py<Self>, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        bridge::ready(py, slf)
    }

    /// Closes the session (QUIT; errors while closing are ignored).
    #[pyo3(signature = (*_args))]
    fn __aexit__<'py>(&self, py: Python<'py>, _args: &Bound<'py, PyTuple>) -> PyResult<Bound<'py, PyAny>> {
        self.call(py, |c| async move {
            if !c.is_closed() {
                let _ = c.quit().await;
            }
            Ok(false)
        })
    }

    fn __repr__(&self) -> String {
        let o = self.inner.options();
        let closed = if self.inner.is_closed() { " closed" } else { "" };
        format!("<postwire.aio.Client {}:{}{closed}>", o.host, o.effective_port())
    }
}
