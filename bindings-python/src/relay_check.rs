//! `postwire.check_relay` / `postwire.aio.check_relay`: `postwire::relay_check` (the open-relay
//! probe matrix). Options by keyword, read by `postwire::host::mta::relay_check_options`. The
//! matrix, the verdict of a reply and the summary of verdicts are offered on their own
//! (`relay_probes`, `relay_verdict`, `relay_summary`), as in Node and C, for the shared vectors.

use postwire::host::mta::{probe_context, relay_check_options};
use postwire::host::runtime;
use postwire::relay_check::{
    check_relay as core_check_relay, classify, probes, summarise_names, RelayCheckOptions,
};
use pyo3::prelude::*;
use pyo3::types::PyDict;

use crate::bridge;
use crate::convert::options_value;
use crate::error::ResultExt;
use crate::results::{built, Built};
use crate::values::PyReply;

fn options(host: &str, port: u16, options: Option<&Bound<'_, PyDict>>) -> PyResult<RelayCheckOptions> {
    relay_check_options(host, Some(port), options_value(options, "check_relay")?).py_err()
}

async fn check(opts: RelayCheckOptions) -> postwire::Result<Built> {
    Ok(built("relay_report", &core_check_relay(&opts).await?))
}

/// Probe `host:port` for open relaying: options `helo`, `probe_domain`, `timeout`, `tests`
/// (`"all"`, a name or a list), `from_user`, `to_user`, `server_ip`, `internal_domain`,
/// `send_data`, `errors_per_connection`, `tls`. Errors: `ConnectError` and the like when the
/// server cannot be reached at all, `InvalidInputError`.
#[pyfunction]
#[pyo3(signature = (host, port = 25, **options))]
pub fn check_relay(
    py: Python<'_>,
    host: &str,
    port: u16,
    options: Option<&Bound<'_, PyDict>>,
) -> PyResult<Built> {
    let opts = self::options(host, port, options)?;
    py.allow_threads(|| runtime::block_on(check(opts))).py_err()?.py_err()
}

/// `check_relay` as an awaitable (`postwire.aio.check_relay`).
#[pyfunction]
#[pyo3(signature = (host, port = 25, **options))]
pub fn aio_check_relay<'py>(
    py: Python<'py>,
    host: &str,
    port: u16,
    options: Option<&Bound<'py, PyDict>>,
) -> PyResult<Bound<'py, PyAny>> {
    let opts = self::options(host, port, options)?;
    bridge::spawn(py, check(opts))
}

/// The probe matrix `check_relay` runs against a server at `ip`, in order (what the shared
/// `relay_probes.json` pins for every runtime): a list of `RelayProbe`. Context by keyword:
/// `banner_name`, `ehlo_name`, `domain`, `from_user`, `to_user`, `internal_domain`; what is left
/// out takes the checker's defaults (`postwire::host::mta::probe_context`).
#[pyfunction]
#[pyo3(signature = (ip, **context))]
pub fn relay_probes(ip: &str, context: Option<&Bound<'_, PyDict>>) -> PyResult<Built> {
    let mut value = options_value(context, "relay_probes")?;
    if value.is_null() {
        value = serde_json::Value::Object(Default::default());
    }
    if let Some(m) = value.as_object_mut() {
        m.insert("ip".into(), ip.into());
    }
    let ctx = probe_context(value).py_err()?;
    Ok(built("relay_probes", &probes(&ctx)))
}

/// The verdict a probe gets for `reply` (to its RCPT): `"relayed"`, `"refused"`, `"deferred"`,
/// `"auth_required"` or `"error"`.
#[pyfunction]
pub fn relay_verdict(reply: PyRef<'_, PyReply>) -> &'static str {
    classify(&reply.inner).as_str()
}

/// `{"open": bool, "inconclusive": bool}` of a report whose probes got `verdicts` (as
/// `RelayReport` sums up); an unknown verdict name is `InvalidInputError`.
#[pyfunction]
pub fn relay_summary(py: Python<'_>, verdicts: Vec<String>) -> PyResult<Bound<'_, PyDict>> {
    let (open, inconclusive) = summarise_names(&verdicts).py_err()?;
    let d = PyDict::new(py);
    d.set_item("open", open)?;
    d.set_item("inconclusive", inconclusive)?;
    Ok(d)
}
