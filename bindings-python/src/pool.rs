//! `postwire.Pool` and `postwire.aio.Pool`: the core's session pool (`postwire::client::Pool`).
//! Options and destinations are read by the core's host layer (`host::options::pool_options`,
//! `host::options::destination`: names, defaults, checks); here only the calls.

use postwire::client::{Destination, Pool};
use postwire::host::{self, runtime};
use pyo3::prelude::*;
use pyo3::types::{PyDict, PyTuple};

use crate::bridge;
use crate::client::send_args;
use crate::convert::{options_value, serde_to_py, to_json};
use crate::error::ResultExt;
use crate::values::PySendResult;

fn new_pool(options: Option<&Bound<'_, PyDict>>) -> PyResult<Pool> {
    Ok(Pool::new(host::options::pool_options(options_value(options, "Pool options")?).py_err()?))
}

fn destination(v: &Bound<'_, PyAny>) -> PyResult<Destination> {
    host::options::destination(to_json(v, "destination")?).py_err()
}

/// Sessions kept open per destination and reused (see API.md "Pool").
#[pyclass(name = "Pool", module = "postwire", frozen)]
pub struct PyPool {
    inner: Pool,
}

#[pymethods]
impl PyPool {
    /// `Pool(*, max_connections=10, max_per_destination=…, idle_timeout=…, max_lifetime=…,
    /// max_retries=…, health_check_after=…, max_messages_per_connection=…)`.
    #[new]
    #[pyo3(signature = (**options))]
    fn new(options: Option<&Bound<'_, PyDict>>) -> PyResult<Self> {
        Ok(PyPool { inner: new_pool(options)? })
    }

    /// Send through a pooled session to `destination` (`{"host": …, "port": …, "tls": …,
    /// "credentials": (user, password), …}`: every `Client.connect` option); `dsn`,
    /// `mail_options`, `rcpt_options` as `Client.send`.
    #[pyo3(signature = (destination, mail_from, rcpt_to, message, *, dsn = None, mail_options = None, rcpt_options = None))]
    #[allow(clippy::too_many_arguments)]
    fn send(
        &self,
        py: Python<'_>,
        destination: &Bound<'_, PyAny>,
        mail_from: &str,
        rcpt_to: &Bound<'_, PyAny>,
        message: &Bound<'_, PyAny>,
        dsn: Option<&Bound<'_, PyAny>>,
        mail_options: Option<&Bound<'_, PyAny>>,
        rcpt_options: Option<&Bound<'_, PyAny>>,
    ) -> PyResult<PySendResult> {
        let dest = self::destination(destination)?;
        let (env, msg) = send_args(mail_from, rcpt_to, message, dsn, mail_options, rcpt_options)?;
        let msg: &[u8] = &msg;
        let pool = &self.inner;
        py.allow_threads(|| runtime::block_on(pool.send_with(&dest, &env, msg)))
            .py_err()?
            .py_err()
            .map(Into::into)
    }

    /// `open`, `idle`, `created`, `reused`, `retried`.
    #[getter]
    fn stats<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        serde_to_py(py, &self.inner.stats())
    }

    /// True after `close()`.
    #[getter]
    fn closed(&self) -> bool {
        self.inner.is_closed()
    }

    /// QUIT every idle session; later sends fail (`InvalidInputError`).
    fn close(&self, py: Python<'_>) -> PyResult<()> {
        let pool = &self.inner;
        py.allow_threads(|| runtime::block_on(pool.close())).py_err()
    }

    fn __enter__(slf: Py<Self>) -> Py<Self> {
        slf
    }

    #[pyo3(signature = (*_args))]
    fn __exit__(&self, py: Python<'_>, _args: &Bound<'_, PyTuple>) -> PyResult<bool> {
        self.close(py)?;
        Ok(false)
    }
}

/// `postwire.aio.Pool`: the same pool, its calls as awaitables.
#[pyclass(name = "Pool", module = "postwire.aio", frozen)]
pub struct AioPool {
    inner: Pool,
}

#[pymethods]
impl AioPool {
    #[new]
    #[pyo3(signature = (**options))]
    fn new(options: Option<&Bound<'_, PyDict>>) -> PyResult<Self> {
        Ok(AioPool { inner: new_pool(options)? })
    }

    /// Awaitable of `SendResult`; see `postwire.Pool.send`.
    #[pyo3(signature = (destination, mail_from, rcpt_to, message, *, dsn = None, mail_options = None, rcpt_options = None))]
    #[allow(clippy::too_many_arguments)]
    fn send<'py>(
        &self,
        py: Python<'py>,
        destination: &Bound<'py, PyAny>,
        mail_from: &str,
        rcpt_to: &Bound<'py, PyAny>,
        message: &Bound<'py, PyAny>,
        dsn: Option<&Bound<'py, PyAny>>,
        mail_options: Option<&Bound<'py, PyAny>>,
        rcpt_options: Option<&Bound<'py, PyAny>>,
    ) -> PyResult<Bound<'py, PyAny>> {
        let dest = self::destination(destination)?;
        let (env, msg) = send_args(mail_from, rcpt_to, message, dsn, mail_options, rcpt_options)?;
        let msg = msg.into_owned();
        let pool = self.inner.clone();
        bridge::spawn(py, async move { pool.send_with(&dest, &env, &msg).await.map(PySendResult::from) })
    }

    #[getter]
    fn stats<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        serde_to_py(py, &self.inner.stats())
    }

    #[getter]
    fn closed(&self) -> bool {
        self.inner.is_closed()
    }

    /// Awaitable: QUIT every idle session.
    fn close<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        let pool = self.inner.clone();
        bridge::spawn(py, async move {
            pool.close().await;
            Ok(())
        })
    }

    fn __aenter__<'py>(slf: Py<Self>, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        bridge::ready(py, slf)
    }

    #[pyo3(signature = (*_args))]
    fn __aexit__<'py>(&self, py: Python<'py>, _args: &Bound<'py, PyTuple>) -> PyResult<Bound<'py, PyAny>> {
        let pool = self.inner.clone();
        bridge::spawn(py, async move {
            pool.close().await;
            Ok(false)
        })
    }
}
