//! `postwire.send_mail(...)`: deliver one message without a session object (through a
//! smarthost for now), by `postwire::client::send_mail`; one `RecipientResult` per recipient.

use std::path::PathBuf;

use postwire::client::{
    send_mail as core_send_mail, ClientTimeouts, RecipientResult, SendMailOptions, TlsMode,
};
use postwire::host::runtime;
use postwire::option_values::seconds;
use pyo3::prelude::*;
use pyo3::types::PyList;

use crate::bridge;
use crate::client::{message_bytes, recipients};
use crate::error::ResultExt;
use crate::values::PyRecipientResult;

/// Deliver `message` from `mail_from` to `rcpt_to` (a str or a list). `smarthost` relays
/// everything through one server; `credentials=(user, password)` authenticates there.
#[pyfunction]
#[pyo3(signature = (
    mail_from, rcpt_to, message, *, smarthost = None, port = 25, tls = "opportunistic",
    credentials = None, timeout = 30.0, hello_name = None, nameservers = None,
    allow_loopback = false, ca_file = None, accept_invalid_certs = false, allow_plaintext_auth = false
))]
#[allow(clippy::too_many_arguments)]
pub fn send_mail(
    py: Python<'_>,
    mail_from: String,
    rcpt_to: &Bound<'_, PyAny>,
    message: &Bound<'_, PyAny>,
    smarthost: Option<String>,
    port: u16,
    tls: &str,
    credentials: Option<(String, String)>,
    timeout: f64,
    hello_name: Option<String>,
    nameservers: Option<Vec<String>>,
    allow_loopback: bool,
    ca_file: Option<PathBuf>,
    accept_invalid_certs: bool,
    allow_plaintext_auth: bool,
) -> PyResult<Vec<PyRecipientResult>> {
    let opts = options(
        smarthost,
        port,
        tls,
        credentials,
        timeout,
        hello_name,
        nameservers,
        allow_loopback,
        ca_file,
        accept_invalid_certs,
        allow_plaintext_auth,
    )?;
    let rcpts = recipients(rcpt_to)?;
    let msg = message_bytes(message)?;
    let msg: &[u8] = &msg;
    let results = py
        .allow_threads(|| runtime::block_on(core_send_mail(&mail_from, &rcpts, msg, &opts)))
        .py_err()?
        .py_err()?;
    results.into_iter().map(|r| PyRecipientResult::new(py, r)).collect()
}

/// `postwire.aio.send_mail`: `send_mail` as an awaitable (aiosmtplib's `send` habit).
#[pyfunction]
#[pyo3(signature = (
    mail_from, rcpt_to, message, *, smarthost = None, port = 25, tls = "opportunistic",
    credentials = None, timeout = 30.0, hello_name = None, nameservers = None,
    allow_loopback = false, ca_file = None, accept_invalid_certs = false, allow_plaintext_auth = false
))]
#[allow(clippy::too_many_arguments)]
pub fn aio_send_mail<'py>(
    py: Python<'py>,
    mail_from: String,
    rcpt_to: &Bound<'py, PyAny>,
    message: &Bound<'py, PyAny>,
    smarthost: Option<String>,
    port: u16,
    tls: &str,
    credentials: Option<(String, String)>,
    timeout: f64,
    hello_name: Option<String>,
    nameservers: Option<Vec<String>>,
    allow_loopback: bool,
    ca_file: Option<PathBuf>,
    accept_invalid_certs: bool,
    allow_plaintext_auth: bool,
) -> PyResult<Bound<'py, PyAny>> {
    let opts = options(
        smarthost,
        port,
        tls,
        credentials,
        timeout,
        hello_name,
        nameservers,
        allow_loopback,
        ca_file,
        accept_invalid_certs,
        allow_plaintext_auth,
    )?;
    let rcpts = recipients(rcpt_to)?;
    let msg = message_bytes(message)?.into_owned();
    bridge::spawn(py, async move {
        let results = core_send_mail(&mail_from, &rcpts, &msg, &opts).await?;
        Ok(RecipientResults(results))
    })
}

/// The results of `aio.send_mail`, made Python objects on the loop thread.
struct RecipientResults(Vec<RecipientResult>);

impl<'py> IntoPyObject<'py> for RecipientResults {
    type Target = PyList;
    type Output = Bound<'py, PyList>;
    type Error = PyErr;

    fn into_pyobject(self, py: Python<'py>) -> PyResult<Bound<'py, PyList>> {
        let items =
            self.0.into_iter().map(|r| PyRecipientResult::new(py, r)).collect::<PyResult<Vec<_>>>()?;
        PyList::new(py, items)
    }
}

#[allow(clippy::too_many_arguments)]
fn options(
    smarthost: Option<String>,
    port: u16,
    tls: &str,
    credentials: Option<(String, String)>,
    timeout: f64,
    hello_name: Option<String>,
    nameservers: Option<Vec<String>>,
    allow_loopback: bool,
    ca_file: Option<PathBuf>,
    accept_invalid_certs: bool,
    allow_plaintext_auth: bool,
) -> PyResult<SendMailOptions> {
    let timeout = seconds("timeout", timeout).py_err()?;
    Ok(SendMailOptions {
        smarthost,
        port,
        tls: tls.parse::<TlsMode>().py_err()?,
        credentials,
        // `timeout` bounds each reply but the one after the message (API: data_timeout).
        timeouts: ClientTimeouts::from_timeout(timeout),
        hello_name,
        nameservers,
        allow_loopback,
        ca_file,
        accept_invalid_certs,
        allow_plaintext_auth,
    })
}
