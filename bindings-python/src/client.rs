//! `postwire.Client`: one SMTP session, synchronous. Each blocking call releases the GIL and
//! drives the session on the client's own current-thread runtime (see `runtime.rs`).
//!
//! Also the argument conversions shared with `aio.rs` (options, recipients, message bytes).

use std::borrow::Cow;
use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Mutex;

use postwire::client::{Client, ClientOptions, ClientTimeouts, TlsMode};
use postwire::Reply;
use pyo3::prelude::*;
use pyo3::types::{PyByteArray, PyBytes, PyString, PyTuple, PyType};

use crate::error::{invalid_input, ResultExt};
use crate::runtime;
use crate::values::{PyReply, PySendResult};

/// `Client.connect` keyword arguments → core options.
#[allow(clippy::too_many_arguments)]
pub fn client_options(
    host: String,
    port: u16,
    tls: &str,
    hello_name: Option<String>,
    timeout: f64,
    ca_file: Option<PathBuf>,
    accept_invalid_certs: bool,
    allow_plaintext_auth: bool,
    pipelining: bool,
    chunking: bool,
    tls_server_name: Option<String>,
    record_transcript: bool,
) -> PyResult<ClientOptions> {
    let timeout = postwire::option_values::seconds("timeout", timeout).py_err()?;
    let mut o = ClientOptions::new(host, port);
    o.tls = tls.parse::<TlsMode>().py_err()?;
    o.hello_name = hello_name;
    o.timeouts = ClientTimeouts::uniform(timeout);
    o.ca_file = ca_file;
    o.accept_invalid_certs = accept_invalid_certs;
    o.allow_plaintext_auth = allow_plaintext_auth;
    o.pipelining = pipelining;
    o.chunking = chunking;
    o.tls_server_name = tls_server_name;
    o.record_transcript = record_transcript;
    Ok(o)
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
    fn run<T: Send>(
        &self,
        py: Python<'_>,
        f: impl FnOnce(&mut Client, &tokio::runtime::Runtime) -> postwire::Result<T> + Send,
    ) -> PyResult<T> {
        py.allow_threads(|| {
            let mut c = self.inner.lock().unwrap_or_else(|p| p.into_inner());
            f(&mut c, &self.rt)
        })
        .py_err()
    }

    fn with<T>(&self, f: impl FnOnce(&Client) -> T) -> T {
        f(&self.inner.lock().unwrap_or_else(|p| p.into_inner()))
    }
}

fn reply(r: Reply) -> PyReply {
    r.into()
}

#[pymethods]
impl PyClient {
    /// Open a session: connect, read the banner, EHLO (HELO fallback), STARTTLS per `tls`
    /// (`"none"`, `"opportunistic"`, `"starttls"`, `"implicit"`).
    #[classmethod]
    #[pyo3(signature = (
        host, port = 25, *, tls = "opportunistic", hello_name = None, timeout = 30.0, ca_file = None,
        accept_invalid_certs = false, allow_plaintext_auth = false, pipelining = true,
        chunking = true, tls_server_name = None, record_transcript = true
    ))]
    #[allow(clippy::too_many_arguments)]
    fn connect(
        _cls: &Bound<'_, PyType>,
        py: Python<'_>,
        host: String,
        port: u16,
        tls: &str,
        hello_name: Option<String>,
        timeout: f64,
        ca_file: Option<PathBuf>,
        accept_invalid_certs: bool,
        allow_plaintext_auth: bool,
        pipelining: bool,
        chunking: bool,
        tls_server_name: Option<String>,
        record_transcript: bool,
    ) -> PyResult<Self> {
        crate::logging::refresh(py);
        let opts = client_options(
            host,
            port,
            tls,
            hello_name,
            timeout,
            ca_file,
            accept_invalid_certs,
            allow_plaintext_auth,
            pipelining,
            chunking,
            tls_server_name,
            record_transcript,
        )?;
        let rt = runtime::local()?;
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
        user: String,
        password: String,
        mechanism: Option<String>,
    ) -> PyResult<PyReply> {
        self.run(py, |c, rt| rt.block_on(c.login(&user, &password, mechanism.as_deref()))).map(reply)
    }

    /// One transaction: MAIL, RCPT per recipient, DATA/BDAT. `message` is bytes or str.
    fn send(
        &self,
        py: Python<'_>,
        mail_from: String,
        rcpt_to: &Bound<'_, PyAny>,
        message: &Bound<'_, PyAny>,
    ) -> PyResult<PySendResult> {
        let rcpts = recipients(rcpt_to)?;
        let msg = message_bytes(message)?;
        let msg: &[u8] = &msg;
        self.run(py, |c, rt| rt.block_on(c.send(&mail_from, &rcpts, msg))).map(Into::into)
    }

    /// VRFY.
    fn verify(&self, py: Python<'_>, address: String) -> PyResult<PyReply> {
        self.run(py, |c, rt| rt.block_on(c.verify(&address))).map(reply)
    }
    /// EXPN.
    fn expand(&self, py: Python<'_>, name: String) -> PyResult<PyReply> {
        self.run(py, |c, rt| rt.block_on(c.expand(&name))).map(reply)
    }
    /// HELP.
    #[pyo3(signature = (topic = None))]
    fn help(&self, py: Python<'_>, topic: Option<String>) -> PyResult<PyReply> {
        self.run(py, |c, rt| rt.block_on(c.help(topic.as_deref()))).map(reply)
    }
    /// NOOP.
    fn noop(&self, py: Python<'_>) -> PyResult<PyReply> {
        self.run(py, |c, rt| rt.block_on(c.noop())).map(reply)
    }
    /// RSET.
    fn reset(&self, py: Python<'_>) -> PyResult<PyReply> {
        self.run(py, |c, rt| rt.block_on(c.reset())).map(reply)
    }
    /// QUIT and close the connection.
    fn quit(&self, py: Python<'_>) -> PyResult<PyReply> {
        self.run(py, |c, rt| rt.block_on(c.quit())).map(reply)
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
            format!(
                "<postwire.Client {}:{}{}{}>",
                o.host,
                o.effective_port(),
                if c.is_tls() { " tls" } else { "" },
                if c.is_closed() { " closed" } else { "" }
            )
        })
    }
}
