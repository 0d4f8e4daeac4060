//! `postwire.resolve_mx` / `postwire.aio.resolve_mx`: `postwire::route` (MX routing with its
//! explanation). Options by keyword, read by `postwire::host::mta::resolve_options`.

use postwire::host::mta::resolve_options;
use postwire::host::runtime;
use postwire::route::{MxResolver, ResolveOptions};
use pyo3::prelude::*;
use pyo3::types::PyDict;

use crate::bridge;
use crate::convert::options_value;
use crate::error::ResultExt;
use crate::results::{built, Built};

fn options(options: Option<&Bound<'_, PyDict>>) -> PyResult<ResolveOptions> {
    resolve_options(options_value(options, "resolve_mx")?).py_err()
}

async fn resolve(domain: String, opts: ResolveOptions) -> postwire::Result<Built> {
    let route = MxResolver::new(opts)?.resolve(&domain).await?;
    Ok(built("route", &route))
}

/// The route of `domain` (RFC 5321 §5.1): options `nameservers` (`["ip:port"]`), `seed`,
/// `own_hostnames`, `max_cname_chain`, `max_hosts`, `query_timeout`. Errors: `DnsError`
/// (its reply says permanent or transient), `InvalidInputError`.
#[pyfunction]
#[pyo3(signature = (domain, **options))]
pub fn resolve_mx(py: Python<'_>, domain: String, options: Option<&Bound<'_, PyDict>>) -> PyResult<Built> {
    let opts = self::options(options)?;
    py.allow_threads(|| runtime::block_on(resolve(domain, opts))).py_err()?.py_err()
}

/// `resolve_mx` as an awaitable (`postwire.aio.resolve_mx`).
#[pyfunction]
#[pyo3(signature = (domain, **options))]
pub fn aio_resolve_mx<'py>(
    py: Python<'py>,
    domain: String,
    options: Option<&Bound<'py, PyDict>>,
) -> PyResult<Bound<'py, PyAny>> {
    let opts = self::options(options)?;
    bridge::spawn(py, resolve(domain, opts))
}
