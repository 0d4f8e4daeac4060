//! `postwire.Queue` / `postwire.aio.Queue`: `postwire::queue` (the durable store-and-forward
//! queue). Options by keyword, read by `postwire::host::mta::queue_options`; the envelope by
//! `host::mta::queue_envelope`.

use std::path::{Path, PathBuf};

use postwire::host::mta::{queue_envelope, queue_options};
use postwire::host::runtime;
use postwire::queue::{NewEntry, Queue};
use pyo3::prelude::*;
use pyo3::types::{PyDict, PyTuple};

use crate::bridge;
use crate::convert::options_value;
use crate::convert::to_json;
use crate::error::{invalid_input, ResultExt};
use crate::results::{built, Built};

/// Open (creating) the spool with the keyword options; the spool is read without the GIL.
fn open(py: Python<'_>, spool_dir: &Path, options: Option<&Bound<'_, PyDict>>) -> PyResult<Queue> {
    let opts = queue_options(options_value(options, "Queue")?).py_err()?;
    py.allow_threads(|| Queue::open(spool_dir, opts)).py_err()
}

/// `submit`'s arguments: an envelope mapping and/or the keywords `mail_from`, `rcpt_to` (a str
/// or a list; each an address or `{address, notify, orcpt}`), `envid`, `ret`; the message as
/// bytes, bytearray, str or an `email.message.Message`.
fn submission(
    envelope: Option<&Bound<'_, PyAny>>,
    message: Option<&Bound<'_, PyAny>>,
    fields: Option<&Bound<'_, PyDict>>,
) -> PyResult<(NewEntry, Vec<u8>)> {
    let message = message.ok_or_else(|| invalid_input("submit: message is missing"))?;
    let py = message.py();
    let d = PyDict::new(py);
    if let Some(e) = envelope.filter(|e| !e.is_none()) {
        let given = py.get_type::<PyDict>().call1((e,))?;
        d.update(given.downcast::<PyDict>()?.as_mapping())?;
    }
    if let Some(f) = fields {
        d.update(f.as_mapping())?;
    }
    let env = queue_envelope(to_json(d.as_any(), "envelope")?).py_err()?;
    Ok((env, crate::trace::message(message)?))
}

/// The durable queue: `Queue(spool_dir, *, nameservers=None, smarthost=None, port=25,
/// allow_loopback=False, retry=[seconds…], max_age=seconds, …)`. Entries in the spool are
/// picked up again on open.
#[pyclass(name = "Queue", module = "postwire", frozen)]
pub struct PyQueue {
    inner: Queue,
    spool_dir: PathBuf,
}

#[pymethods]
impl PyQueue {
    #[new]
    #[pyo3(signature = (spool_dir, **options))]
    fn new(py: Python<'_>, spool_dir: PathBuf, options: Option<&Bound<'_, PyDict>>) -> PyResult<Self> {
        Ok(PyQueue { inner: open(py, &spool_dir, options)?, spool_dir })
    }

    /// The spool directory.
    #[getter]
    fn spool_dir(&self) -> PathBuf {
        self.spool_dir.clone()
    }

    /// Store a message for delivery; returns its queue id once message and envelope are
    /// synced to disk.
    #[pyo3(signature = (envelope = None, message = None, **fields))]
    fn submit(
        &self,
        py: Python<'_>,
        envelope: Option<&Bound<'_, PyAny>>,
        message: Option<&Bound<'_, PyAny>>,
        fields: Option<&Bound<'_, PyDict>>,
    ) -> PyResult<String> {
        let (env, msg) = submission(envelope, message, fields)?;
        py.allow_threads(|| self.inner.submit_blocking(&env, &msg)).py_err()
    }

    /// Every entry with its per-recipient state, oldest first.
    fn list(&self, py: Python<'_>) -> PyResult<Built> {
        let entries = py.allow_threads(|| self.inner.list()).py_err()?;
        Ok(built("queue_entries", &entries))
    }

    /// Deliver every due entry once; returns `RunStats`.
    fn run(&self, py: Python<'_>) -> PyResult<Built> {
        let stats = py.allow_threads(|| runtime::block_on(self.inner.run_once())).py_err()?.py_err()?;
        Ok(built("run_stats", &stats))
    }

    /// Deliver every entry now, due or not; returns `RunStats`.
    fn flush(&self, py: Python<'_>) -> PyResult<Built> {
        let stats = py.allow_threads(|| runtime::block_on(self.inner.flush())).py_err()?.py_err()?;
        Ok(built("run_stats", &stats))
    }

    /// Start the background runner (delivers due entries, wakes on every submit).
    fn start(&self) -> PyResult<()> {
        runtime::start_queue(&self.inner).py_err()
    }

    /// Stop the background runner after its current run.
    fn stop(&self, py: Python<'_>) -> PyResult<()> {
        py.allow_threads(|| runtime::block_on(self.inner.stop())).py_err()
    }

    fn __enter__(slf: Py<Self>) -> Py<Self> {
        slf
    }

    /// Stops the background runner.
    #[pyo3(signature = (*_args))]
    fn __exit__(&self, py: Python<'_>, _args: &Bound<'_, PyTuple>) -> PyResult<()> {
        self.stop(py)
    }

    fn __repr__(&self) -> String {
        format!("<postwire.Queue {}>", self.spool_dir.display())
    }
}

/// `postwire.aio.Queue`: the same queue with awaitable `submit`, `list`, `run`, `flush`,
/// `stop`.
#[pyclass(name = "Queue", module = "postwire.aio", frozen)]
pub struct AioQueue {
    inner: Queue,
    spool_dir: PathBuf,
}

#[pymethods]
impl AioQueue {
    #[new]
    #[pyo3(signature = (spool_dir, **options))]
    fn new(py: Python<'_>, spool_dir: PathBuf, options: Option<&Bound<'_, PyDict>>) -> PyResult<Self> {
        Ok(AioQueue { inner: open(py, &spool_dir, options)?, spool_dir })
    }

    /// The spool directory.
    #[getter]
    fn spool_dir(&self) -> PathBuf {
        self.spool_dir.clone()
    }

    /// Awaitable of the queue id (durable when it resolves).
    #[pyo3(signature = (envelope = None, message = None, **fields))]
    fn submit<'py>(
        &self,
        py: Python<'py>,
        envelope: Option<&Bound<'py, PyAny>>,
        message: Option<&Bound<'py, PyAny>>,
        fields: Option<&Bound<'py, PyDict>>,
    ) -> PyResult<Bound<'py, PyAny>> {
        let (env, msg) = submission(envelope, message, fields)?;
        let q = self.inner.clone();
        bridge::spawn(py, async move { q.submit(&env, &msg).await })
    }

    /// Awaitable of the entries.
    fn list<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        let q = self.inner.clone();
        bridge::spawn(py, async move { Ok(built("queue_entries", &q.list_async().await?)) })
    }

    /// Awaitable of `RunStats`: every due entry once.
    fn run<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        let q = self.inner.clone();
        bridge::spawn(py, async move { Ok(built("run_stats", &q.run_once().await?)) })
    }

    /// Awaitable of `RunStats`: every entry now.
    fn flush<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        let q = self.inner.clone();
        bridge::spawn(py, async move { Ok(built("run_stats", &q.flush().await?)) })
    }

    /// Start the background runner.
    fn start(&self) -> PyResult<()> {
        runtime::start_queue(&self.inner).py_err()
    }

    /// Awaitable: the background runner stopped (the stop takes effect at the call).
    fn stop<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        let stopped = self.inner.stop();
        bridge::spawn(py, async move {
            stopped.await;
            Ok(())
        })
    }

    fn __aenter__<'py>(slf: Py<Self>, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        bridge::ready(py, slf)
    }

    /// Stops the background runner.
    #[pyo3(signature = (*_args))]
    fn __aexit__<'py>(&self, py: Python<'py>, _args: &Bound<'py, PyTuple>) -> PyResult<Bound<'py, PyAny>> {
        let stopped = self.inner.stop();
        bridge::spawn(py, async move {
            stopped.await;
            Ok(false)
        })
    }

    fn __repr__(&self) -> String {
        format!("<postwire.aio.Queue {}>", self.spool_dir.display())
    }
}
