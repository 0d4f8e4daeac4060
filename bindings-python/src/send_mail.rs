//! `postwire.send_mail(...)`: deliver one message without a session object (through a
//! smarthost for now), by `postwire::client::send_mail`; one `RecipientResult` per recipient.

use std::path::PathBuf;

use postwire::client::{send_mail as core_send_mail, ClientTimeouts, SendMailOptions, TlsMode};
use postwire::host::runtime;
use postwire::option_values::seconds;
use pyo3::prelude::*;

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
    let timeout = seconds("timeout", timeout).py_err()?;
    let rcpts = recipients(rcpt_to)?;
    let msg = message_bytes(message)?;
    let msg: &[u8] = &msg;
    let opts = SendMailOptions {
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
    };
    let results = py
        .allow_threads(|| runtime::block_on(core_send_mail(&mail_from, &rcpts, msg, &opts)))
        .py_err()?
        .py_err()?;
    results.into_iter().map(|r| PyRecipientResult::new(py, r)).collect()
}
