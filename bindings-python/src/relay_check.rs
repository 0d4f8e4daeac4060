//! `postwire.check_relay` / `postwire.aio.check_relay`: `postwire::relay_check` (the open-relay
//! probe matrix). Options by keyword, read by `postwire::host::mta::relay_check_options`.

use postwire::host::mta::relay_check_options;
use postwire::host::runtime;
use postwire::relay_check::{check_relay as core_check_relay, RelayCheckOptions};
use pyo3::prelude::*;
use pyo3::types::PyDict;

use crate::bridge;
use crate::error::ResultExt;
use crate::results::{built, options_value, Built};

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
