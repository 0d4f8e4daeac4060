//! `postwire.send_mail(...)`: deliver one message without a session object (through a
//! smarthost, or by MX), by `postwire::client::send_mail`; one `RecipientResult` per recipient.

use postwire::client::{send_mail as core_send_mail, RecipientResult, SendMailOptions};
use postwire::host::{self, runtime};
use pyo3::prelude::*;
use pyo3::types::{PyDict, PyList};

use crate::bridge;
use crate::client::{message_bytes, recipients};
use crate::convert::options_value;
use crate::error::ResultExt;
use crate::values::PyRecipientResult;

/// Deliver `message` from `mail_from` to `rcpt_to` (a str or a list): through `smarthost`
/// when given, else by MX. The keyword options (`smarthost`, `port`, `tls`, `credentials`,
/// `timeout`, `data_timeout`, `timeouts`, `hello_name`, `nameservers`, `allow_loopback`,
/// `ca_file`, `accept_invalid_certs`, `allow_plaintext_auth`) are read, with their defaults, by
/// the core's `host::options::send_mail_options`, as in Node and C.
#[pyfunction]
#[pyo3(signature = (mail_from, rcpt_to, message, **options))]
pub fn send_mail(
    py: Python<'_>,
    mail_from: String,
    rcpt_to: &Bound<'_, PyAny>,
    message: &Bound<'_, PyAny>,
    options: Option<&Bound<'_, PyDict>>,
) -> PyResult<Vec<PyRecipientResult>> {
    let opts = send_mail_options(options)?;
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
#[pyo3(signature = (mail_from, rcpt_to, message, **options))]
pub fn aio_send_mail<'py>(
    py: Python<'py>,
    mail_from: String,
    rcpt_to: &Bound<'py, PyAny>,
    message: &Bound<'py, PyAny>,
    options: Option<&Bound<'py, PyDict>>,
) -> PyResult<Bound<'py, PyAny>> {
    let opts = send_mail_options(options)?;
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

fn send_mail_options(options: Option<&Bound<'_, PyDict>>) -> PyResult<SendMailOptions> {
    host::options::send_mail_options(options_value(options, "send_mail options")?).py_err()
}
