//! `postwire.Client`: one SMTP session, synchronous. Each blocking call releases the GIL and
//! drives the session on the client's own current-thread runtime (`host::runtime::local`).
//!
//! Also the argument conversions shared with `aio.rs` (options, recipients, message bytes).

use std::borrow::Cow;
use std::collections::BTreeMap;
use std::sync::Mutex;

use postwire::client::{Capabilities, Client, ClientOptions, SendOptions};
use postwire::host;
use pyo3::prelude::*;
use pyo3::sync::GILOnceCell;
use pyo3::types::{PyByteArray, PyBytes, PyDict, PyString, PyTuple, PyType};

use crate::convert::options_value;
use crate::error::{invalid_input, ResultExt};
use crate::values::{PyReply, PySendResult};

/// `connect(host, port, **options)` → core options (names, defaults, checks: the core's).
pub fn client_options(
    host: &str,
    port: Option<u16>,
    options: Option<&Bound<'_, PyDict>>,
) -> PyResult<ClientOptions> {
    host::options::client_options(host, port, options_value(options, "Client options")?).py_err()
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

/// The server's EHLO keywords → parameters (`""` when none), as a `postwire.Capabilities`
/// (a dict whose lookups ignore case, as EHLO keywords do).
pub fn capabilities<'py>(py: Python<'py>, caps: &Capabilities) -> PyResult<Bound<'py, PyAny>> {
    static CLASS: GILOnceCell<Py<PyType>> = GILOnceCell::new();
    let map: &BTreeMap<String, String> = &caps.0;
    CLASS.import(py, "postwire._values", "Capabilities")?.call1((map.clone(),))
}

/// `send(..., dsn=, mail_options=, rcpt_options=)` → the core's `SendOptions` (names, checks:
/// `host::options::send_options`).
pub fn send_options(
    mail_from: &str,
    rcpts: Vec<String>,
    dsn: Option<&Bound<'_, PyAny>>,
    mail_options: Option<&Bound<'_, PyAny>>,
    rcpt_options: Option<&Bound<'_, PyAny>>,
) -> PyResult<SendOptions> {
    let mut map = serde_json::Map::new();
    for (k, v) in [("dsn", dsn), ("mail_options", mail_options), ("rcpt_options", rcpt_options)] {
        if let Some(v) = v {
            map.insert(k.to_string(), crate::convert::to_json(v, k)?);
        }
    }
    host::options::send_options(mail_from, rcpts, serde_json::Value::Object(map)).py_err()
}

/// `send(mail_from, rcpt_to, message, dsn=, mail_options=, rcpt_options=)` of `Client`,
/// `aio.Client`, `Pool` and `aio.Pool` → the envelope (`send_options`) and the message bytes.
pub fn send_args<'m>(
    mail_from: &str,
    rcpt_to: &Bound<'_, PyAny>,
    message: &'m Bound<'_, PyAny>,
    dsn: Option<&Bound<'_, PyAny>>,
    mail_options: Option<&Bound<'_, PyAny>>,
    rcpt_options: Option<&Bound<'_, PyAny>>,
) -> PyResult<(SendOptions, Cow<'m, [u8]>)> {
    let env = send_options(mail_from, recipients(rcpt_to)?, dsn, mail_options, rcpt_options)?;
    Ok((env, message_bytes(message)?))
}

/// `send_message(msg, from_addr, to_addrs)`: the envelope and the bytes to send, worked out of an
/// `email.message.Message` as `smtplib.SMTP.send_message` does (`postwire._message`).
pub fn message_envelope(
    msg: &Bound<'_, PyAny>,
    from_addr: Option<&Bound<'_, PyAny>>,
    to_addrs: Option<&Bound<'_, PyAny>>,
) -> PyResult<(String, Vec<String>, Vec<u8>)> {
    static PREPARE: GILOnceCell<Py<PyAny>> = GILOnceCell::new();
    let py = msg.py();
    let (from, to, data): (String, Bound<'_, PyAny>, Vec<u8>) =
        PREPARE.import(py, "postwire._message", "prepare")?.call1((msg, from_addr, to_addrs))?.extract()?;
    Ok((from, recipients(&to)?, data))
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
        let opts = client_options(host, port, options)?;
        let rt = host::runtime::local().py_err()?;
        let c = py.allow_threads(|| rt.block_on(Client::connect(opts))).py_err()?;
        Ok(PyClient { rt, inner: Mutex::new(c) })
    }

    /// The server's EHLO capabilities: keyword → parameters (`""` when none); lookups ignore
    /// case.
    #[getter]
    fn capabilities<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        let caps = self.with(|c| c.capabilities().clone());
        capabilities(py, &caps)
    }
    /// True when the server offers the EHLO keyword `name` (any case), as smtplib's `has_extn`.
    fn has_extn(&self, name: &str) -> bool {
        self.with(|c| c.capabilities().has(name))
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
    /// `dsn` (`ret`, `envid`, `notify`, `orcpt`), `mail_options` / `rcpt_options` (smtplib's
    /// `["KEYWORD=value", …]`) add ESMTP parameters.
    #[pyo3(signature = (mail_from, rcpt_to, message, *, dsn = None, mail_options = None, rcpt_options = None))]
    #[allow(clippy::too_many_arguments)]
    fn send(
        &self,
        py: Python<'_>,
        mail_from: &str,
        rcpt_to: &Bound<'_, PyAny>,
        message: &Bound<'_, PyAny>,
        dsn: Option<&Bound<'_, PyAny>>,
        mail_options: Option<&Bound<'_, PyAny>>,
        rcpt_options: Option<&Bound<'_, PyAny>>,
    ) -> PyResult<PySendResult> {
        let (env, msg) = send_args(mail_from, rcpt_to, message, dsn, mail_options, rcpt_options)?;
        let msg: &[u8] = &msg;
        self.run(py, |c, rt| rt.block_on(c.send_with(&env, msg))).map(Into::into)
    }

    /// Send an `email.message.Message` as `smtplib.SMTP.send_message` does: the envelope from
    /// `Sender`/`From` and `To`/`Cc`/`Bcc` (the `Resent-*` block when there is one) unless given,
    /// `Bcc` left out of what is sent.
    #[pyo3(signature = (msg, from_addr = None, to_addrs = None, *, dsn = None, mail_options = None, rcpt_options = None))]
    #[allow(clippy::too_many_arguments)]
    fn send_message(
        &self,
        py: Python<'_>,
        msg: &Bound<'_, PyAny>,
        from_addr: Option<&Bound<'_, PyAny>>,
        to_addrs: Option<&Bound<'_, PyAny>>,
        dsn: Option<&Bound<'_, PyAny>>,
        mail_options: Option<&Bound<'_, PyAny>>,
        rcpt_options: Option<&Bound<'_, PyAny>>,
    ) -> PyResult<PySendResult> {
        let (from, rcpts, data) = message_envelope(msg, from_addr, to_addrs)?;
        let env = send_options(&from, rcpts, dsn, mail_options, rcpt_options)?;
        self.run(py, |c, rt| rt.block_on(c.send_with(&env, &data))).map(Into::into)
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
