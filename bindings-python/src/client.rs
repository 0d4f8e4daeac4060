//! `postwire.Client`: one SMTP session, synchronous. Each blocking call releases the GIL and
//! drives the session on the client's own current-thread runtime (`host::runtime::local`).
//!
//! Also the argument conversions shared with `aio.rs` (options, recipients, message bytes).

use std::borrow::Cow;
use std::collections::BTreeMap;
use std::sync::Mutex;

use postwire::client::{Client, ClientOptions};
use postwire::host;
use pyo3::prelude::*;
use pyo3::types::{PyByteArray, PyBytes, PyDict, PyString, PyTuple, PyType};

use crate::error::{invalid_input, ResultExt};
use crate::values::{PyReply, PySendResult};

/// `connect(host, port, **options)` → core options (names, defaults, checks: the core's).
pub fn client_options(
    host: &str,
    port: Option<u16>,
    options: Option<&Bound<'_, PyDict>>,
) -> PyResult<ClientOptions> {
    let value = match options {
        Some(o) => crate::convert::to_json(o, "Client options")?,
        None => serde_json::Value::Null,
    };
    host::options::client_options(host, port, value).py_err()
}

/// One address or a list of them.
pub fn recipients(v: &Bound<'_, PyAny>) -> PyResult<Vec<String>> {
    if let Ok(s) = v.downcast::<PyString>() {
        return Ok(vec![s.to_cow()?.into_owned()]);
    }
    v.extract::<Vec<String>>().map_err(|_| invalid_input("rcpt_to must be a str or a list of str"))
}

/// The message: bytes (borrowed, no copy), bytearray, or str (encoded UTF-8).
pub fn message_bytes<'a>(v: &'a Bound<'_, PyAny>) -> PyResult<Cow<'a, [u8]>> {
    if let Ok(b) = v.downcast::<PyBytes>() {
        return Ok(Cow::Borrowed(b.as_bytes()));
    }
    if let Ok(s) = v.downcast::<PyString>() {
        return Ok(Cow::Owned(s.to_cow()?.as_bytes().to_vec()));
    }
    if let Ok(b) = v.downcast::<PyByteArray>() {
        return Ok(Cow::Owned(b.to_vec()));
    }
    Err(invalid_input("message must be bytes or str"))
}

/// The server's EHLO keywords → parameters (`""` when none).
pub fn capabilities(c: &Client) -> BTreeMap<String, String> {
    c.capabilities().0.clone()
}

/// A synchronous SMTP session. Open with `Client.connect(...)`.
#[pyclass(name = "Client", module = "postwire")]
pub struct PyClient {
    rt: tokio::runtime::Runtime,
    inner: Mutex<Client>,
}

impl PyClient {
    /// Run `f` with the GIL released; `f` drives the session with `block_on` of its runtime.
    fn run<T: Send>(
        &self,
        py: Python<'_>,
        f: impl FnOnce(&mut Client, &tokio::runtime::Runtime) -> postwire::Result<T> + Send,
    ) -> PyResult<T> {
        py.allow_threads(|| f(&mut self.inner.lock().unwrap_or_else(|p| p.into_inner()), &self.rt)).py_err()
    }

    fn with<T>(&self, f: impl FnOnce(&Client) -> T) -> T {
        f(&self.inner.lock().unwrap_or_else(|p| p.into_inner()))
    }
}

#[pymethods]
impl PyClient {
    /// Open a session: connect, read the banner, EHLO (HELO fallback), STARTTLS per `tls`
    /// (`"none"`, `"opportunistic"`, `"starttls"`, `"implicit"`). Port None: 25, or 465 with
    /// `tls="implicit"`. Options: see the stub.
    #[classmethod]
    #[pyo3(signature = (host, port = None, **options))]
    fn connect(
        _cls: &Bound<'_, PyType>,
        py: Python<'_>,
        host: &str,
        port: Option<u16>,
        options: Option<&Bound<'_, PyDict>>,
    ) -> PyResult<Self> {
        crate::logging::refresh(py);
        let opts = client_options(host, port, options)?;
        let rt = host::runtime::local().py_err()?;
        let c = py.allow_threads(|| rt.block_on(Client::connect(opts))).py_err()?;
        Ok(PyClient { rt, inner: Mutex::new(c) })
    }

    /// The server's EHLO capabilities: keyword → parameters (`""` when none).
    #[getter]
    fn capabilities(&self) -> BTreeMap<String, String> {
        self.with(capabilities)
    }
    /// The server's 220 banner.
    #[getter]
    fn banner(&self) -> PyReply {
        self.with(|c| c.banner().clone().into())
    }
    /// True once the session is encrypted.
    #[getter]
    fn tls(&self) -> bool {
        self.with(|c| c.is_tls())
    }
    /// The name we sent in EHLO/HELO.
    #[getter]
    fn hello_name(&self) -> String {
        self.with(|c| c.hello_name().to_string())
    }
    /// The user after a successful `login`, else None.
    #[getter]
    fn authenticated_user(&self) -> Option<String> {
        self.with(|c| c.authenticated_user().map(str::to_string))
    }
    /// The wire log: `"C: …"` / `"S: …"` lines, AUTH secrets masked.
    #[getter]
    fn transcript(&self) -> Vec<String> {
        self.with(|c| c.transcript().to_vec())
    }
    /// True after `quit()` or when the server hung up.
    #[getter]
    fn closed(&self) -> bool {
        self.with(|c| c.is_closed())
    }

    /// AUTH (PLAIN, LOGIN or XOAUTH2; `mechanism=None` picks PLAIN or LOGIN as offered).
    #[pyo3(signature = (user, password, mechanism = None))]
    fn login(
        &self,
        py: Python<'_>,
        user: &str,
        password: &str,
        mechanism: Option<&str>,
    ) -> PyResult<PyReply> {
        self.run(py, |c, rt| rt.block_on(c.login(user, password, mechanism))).map(Into::into)
    }

    /// One transaction: MAIL, RCPT per recipient, DATA/BDAT. `message` is bytes or str.
    fn send(
        &self,
        py: Python<'_>,
        mail_from: &str,
        rcpt_to: &Bound<'_, PyAny>,
        message: &Bound<'_, PyAny>,
    ) -> PyResult<PySendResult> {
        let rcpts = recipients(rcpt_to)?;
        let msg = message_bytes(message)?;
        let msg: &[u8] = &msg;
        self.run(py, |c, rt| rt.block_on(c.send(mail_from, &rcpts, msg))).map(Into::into)
    }

    /// VRFY.
    fn verify(&self, py: Python<'_>, address: &str) -> PyResult<PyReply> {
        self.run(py, |c, rt| rt.block_on(c.verify(address))).map(Into::into)
    }
    /// EXPN.
    fn expand(&self, py: Python<'_>, name: &str) -> PyResult<PyReply> {
        self.run(py, |c, rt| rt.block_on(c.expand(name))).map(Into::into)
    }
    /// HELP.
    #[pyo3(signature = (topic = None))]
    fn help(&self, py: Python<'_>, topic: Option<&str>) -> PyResult<PyReply> {
        self.run(py, |c, rt| rt.block_on(c.help(topic))).map(Into::into)
    }
    /// NOOP.
    fn noop(&self, py: Python<'_>) -> PyResult<PyReply> {
        self.run(py, |c, rt| rt.block_on(c.noop())).map(Into::into)
    }
    /// RSET.
    fn reset(&self, py: Python<'_>) -> PyResult<PyReply> {
        self.run(py, |c, rt| rt.block_on(c.reset())).map(Into::into)
    }
    /// QUIT and close the connection.
    fn quit(&self, py: Python<'_>) -> PyResult<PyReply> {
        self.run(py, |c, rt| rt.block_on(c.quit())).map(Into::into)
    }

    fn __enter__(slf: Py<Self>) -> Py<Self> {
        slf
    }

    /// Closes the session (QUIT; errors while closing are ignored).
    #[pyo3(signature = (*_args))]
    fn __exit__(&self, py: Python<'_>, _args: &Bound<'_, PyTuple>) -> bool {
        if !self.closed() {
            let _ = self.quit(py);
        }
        false
    }

    fn __repr__(&self) -> String {
        self.with(|c| {
            let o = c.options();
            let tls = if c.is_tls() { " tls" } else { "" };
            let closed = if c.is_closed() { " closed" } else { "" };
            format!("<postwire.Client {}:{}{tls}{closed}>", o.host, o.effective_port())
        })
    }
}
