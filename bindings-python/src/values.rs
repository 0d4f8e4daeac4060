//! The API's values as Python classes with attributes, `repr` and `to_dict()`: `Reply`,
//! `SendResult` (+ `RejectedRecipient`), `Envelope`, `Session`, `RecipientResult`.
//!
//! They are snapshots (frozen): built once from the core value, read many times.

use postwire::client::{RecipientResult, SendResult};
use postwire::server::{Envelope, SessionInfo};
use postwire::Reply;
use pyo3::prelude::*;
use pyo3::types::{IntoPyDict, PyDict, PyList};

use crate::convert::pairs;

/// `{field: obj.field}` with values that have a `to_dict()` (and lists of them) converted too:
/// every value class's `to_dict`, from its own attributes.
fn dict_of<'py>(obj: &Bound<'py, PyAny>, fields: &[&str]) -> PyResult<Bound<'py, PyDict>> {
    fn plain<'py>(v: Bound<'py, PyAny>) -> PyResult<Bound<'py, PyAny>> {
        if let Ok(l) = v.downcast::<PyList>() {
            return Ok(PyList::new(v.py(), l.iter().map(plain).collect::<PyResult<Vec<_>>>()?)?.into_any());
        }
        if v.hasattr("to_dict")? {
            return v.call_method0("to_dict");
        }
        Ok(v)
    }
    let d = PyDict::new(obj.py());
    for f in fields {
        d.set_item(f, plain(obj.getattr(*f)?)?)?;
    }
    Ok(d)
}

/// `Name(field=repr(obj.field), ...)`: every value class's `repr`, from its own attributes.
fn repr(obj: &Bound<'_, PyAny>, name: &str, fields: &[&str]) -> PyResult<String> {
    let shown = fields
        .iter()
        .map(|f| Ok(format!("{f}={}", obj.getattr(*f)?.repr()?)))
        .collect::<PyResult<Vec<_>>>()?;
    Ok(format!("{name}({})", shown.join(", ")))
}

fn hash_of(v: &impl std::hash::Hash) -> u64 {
    use std::hash::{BuildHasher, BuildHasherDefault};
    BuildHasherDefault::<std::collections::hash_map::DefaultHasher>::default().hash_one(v)
}

/// `Reply(code, text, enhanced)`'s arguments (what a pickled `Reply` is rebuilt from).
type ReplyArgs = (u16, String, Option<String>);

/// An SMTP reply: `code`, `enhanced` (`"2.1.5"` or None), `lines`, `text` (lines joined by `\n`).
#[pyclass(name = "Reply", module = "postwire", frozen, eq)]
#[derive(Clone, PartialEq)]
pub struct PyReply {
    pub inner: Reply,
}

impl From<Reply> for PyReply {
    fn from(inner: Reply) -> Self {
        PyReply { inner }
    }
}

#[pymethods]
impl PyReply {
    /// `Reply(code, text="", enhanced=None)`; `text` lines are separated by `\n`; an enhanced
    /// code at the start of `text` (`"5.7.1 …"`) is recognised.
    #[new]
    #[pyo3(signature = (code, text = "", enhanced = None))]
    fn new(code: u16, text: &str, enhanced: Option<&str>) -> PyResult<Self> {
        if !(200..600).contains(&code) {
            return Err(crate::error::invalid_input(format!("reply code {code} is not between 200 and 599")));
        }
        Ok(PyReply { inner: Reply::new(code, text, enhanced) })
    }
    /// The three-digit code.
    #[getter]
    fn code(&self) -> u16 {
        self.inner.code
    }
    /// The enhanced status code (RFC 3463), e.g. `"5.1.1"`, or None.
    #[getter]
    fn enhanced(&self) -> Option<&str> {
        self.inner.enhanced.as_deref()
    }
    /// The text lines.
    #[getter]
    fn lines(&self) -> Vec<String> {
        self.inner.lines.clone()
    }
    /// The lines joined by `\n`.
    #[getter]
    fn text(&self) -> String {
        self.inner.text()
    }
    /// 2xx.
    #[getter]
    fn is_positive(&self) -> bool {
        self.inner.is_positive()
    }
    /// 4xx.
    #[getter]
    fn is_transient(&self) -> bool {
        self.inner.is_transient()
    }
    /// 5xx.
    #[getter]
    fn is_permanent(&self) -> bool {
        self.inner.is_permanent()
    }
    /// `{"code", "enhanced", "lines", "text"}`.
    fn to_dict<'py>(slf: &Bound<'py, Self>) -> PyResult<Bound<'py, PyDict>> {
        dict_of(slf, &["code", "enhanced", "lines", "text"])
    }
    fn __repr__(slf: &Bound<'_, Self>) -> PyResult<String> {
        repr(slf, "Reply", &["code", "enhanced", "text"])
    }
    fn __str__(&self) -> String {
        self.inner.one_line()
    }
    /// Equal replies hash equal: usable as dict keys and in sets.
    fn __hash__(&self) -> u64 {
        hash_of(&(&self.inner.code, &self.inner.enhanced, &self.inner.lines))
    }
    /// Pickles as `Reply(code, text, enhanced)` (errors carrying it cross process pools).
    fn __reduce__<'py>(slf: &Bound<'py, Self>) -> PyResult<(Bound<'py, PyAny>, ReplyArgs)> {
        let r = &slf.get().inner;
        Ok((slf.get_type().into_any(), (r.code, r.text(), r.enhanced.clone())))
    }
}

/// A recipient refused at RCPT: `rcpt` and the server's `reply`.
#[pyclass(name = "RejectedRecipient", module = "postwire", frozen, eq)]
#[derive(Clone, PartialEq)]
pub struct PyRejected {
    /// The recipient as given.
    #[pyo3(get)]
    pub rcpt: String,
    /// The reply to its RCPT.
    #[pyo3(get)]
    pub reply: PyReply,
}

#[pymethods]
impl PyRejected {
    /// `RejectedRecipient(rcpt, reply)`.
    #[new]
    fn new(rcpt: String, reply: PyReply) -> Self {
        PyRejected { rcpt, reply }
    }
    fn __hash__(&self) -> u64 {
        hash_of(&(&self.rcpt, &self.reply.inner.code, &self.reply.inner.enhanced, &self.reply.inner.lines))
    }
    /// Pickles as `RejectedRecipient(rcpt, reply)`.
    fn __reduce__<'py>(slf: &Bound<'py, Self>) -> (Bound<'py, PyAny>, (String, PyReply)) {
        let r = slf.get();
        (slf.get_type().into_any(), (r.rcpt.clone(), r.reply.clone()))
    }
    /// `{"rcpt", "reply"}`.
    fn to_dict<'py>(slf: &Bound<'py, Self>) -> PyResult<Bound<'py, PyDict>> {
        dict_of(slf, &["rcpt", "reply"])
    }
    fn __repr__(slf: &Bound<'_, Self>) -> PyResult<String> {
        repr(slf, "RejectedRecipient", &["rcpt", "reply"])
    }
}

/// The outcome of one transaction: `accepted`, `rejected`, the final `reply`, `queue_id`,
/// `timings`.
#[pyclass(name = "SendResult", module = "postwire", frozen)]
pub struct PySendResult {
    inner: SendResult,
}

impl From<SendResult> for PySendResult {
    fn from(inner: SendResult) -> Self {
        PySendResult { inner }
    }
}

#[pymethods]
impl PySendResult {
    /// Recipients accepted.
    #[getter]
    fn accepted(&self) -> Vec<String> {
        self.inner.accepted.clone()
    }
    /// Recipients refused at RCPT (`RejectedRecipient` objects).
    #[getter]
    fn rejected(&self) -> Vec<PyRejected> {
        let r = &self.inner.rejected;
        r.iter().map(|x| PyRejected { rcpt: x.rcpt.clone(), reply: x.reply.clone().into() }).collect()
    }
    /// The reply after the message.
    #[getter]
    fn reply(&self) -> PyReply {
        self.inner.reply.clone().into()
    }
    /// The queue id the server named, when found.
    #[getter]
    fn queue_id(&self) -> Option<&str> {
        self.inner.queue_id.as_deref()
    }
    /// Seconds per phase (`connect`, `banner`, `tls`, `ehlo`, `auth`, `mail`, `rcpt`, `data`,
    /// `total`); None for a phase that did not run.
    #[getter]
    fn timings<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyDict>> {
        let d = PyDict::new(py);
        for (phase, secs) in self.inner.timings.seconds() {
            d.set_item(phase, secs)?;
        }
        Ok(d)
    }
    /// `{"accepted", "rejected": [{"rcpt", "reply"}], "reply", "queue_id", "timings"}`.
    fn to_dict<'py>(slf: &Bound<'py, Self>) -> PyResult<Bound<'py, PyDict>> {
        dict_of(slf, &["accepted", "rejected", "reply", "queue_id", "timings"])
    }
    fn __repr__(slf: &Bound<'_, Self>) -> PyResult<String> {
        repr(slf, "SendResult", &["accepted", "rejected", "reply", "queue_id"])
    }
}

/// One recipient's outcome from `send_mail`: `rcpt`, `ok`, `reply`, `error` (an exception
/// instance of the right `postwire.Error` subclass, or None).
#[pyclass(name = "RecipientResult", module = "postwire", frozen)]
pub struct PyRecipientResult {
    /// The recipient as given.
    #[pyo3(get)]
    pub rcpt: String,
    /// Accepted for this recipient.
    #[pyo3(get)]
    pub ok: bool,
    /// The reply that decided it, if any.
    #[pyo3(get)]
    pub reply: Option<PyReply>,
    /// The failure as an exception object (not raised), or None.
    #[pyo3(get)]
    pub error: Option<PyObject>,
    failure: Option<(&'static str, String)>,
}

impl PyRecipientResult {
    /// Convert, building the exception object of a failed recipient.
    pub fn new(py: Python<'_>, r: RecipientResult) -> PyResult<Self> {
        let failure = r.error.as_ref().map(|(k, m)| (k.as_str(), m.clone()));
        let error = match &r.error {
            Some((k, m)) => {
                let mut e = postwire::Error::new(*k, m.clone());
                if let Some(rep) = &r.reply {
                    e = e.with_reply(rep.clone());
                }
                Some(crate::error::exception(py, &e)?.unbind())
            }
            None => None,
        };
        Ok(PyRecipientResult { rcpt: r.rcpt, ok: r.ok, reply: r.reply.map(Into::into), error, failure })
    }
}

#[pymethods]
impl PyRecipientResult {
    /// `{"rcpt", "ok", "reply", "error": {"kind", "message"} | None}`.
    fn to_dict<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyDict>> {
        let d = PyDict::new(py);
        d.set_item("rcpt", &self.rcpt)?;
        d.set_item("ok", self.ok)?;
        d.set_item(
            "reply",
            self.reply
                .as_ref()
                .map(|r| dict_of(Bound::new(py, r.clone())?.as_any(), &["code", "enhanced", "lines", "text"]))
                .transpose()?,
        )?;
        let err = self.failure.as_ref().map(|(k, m)| [("kind", k.to_string()), ("message", m.clone())]);
        d.set_item("error", err.map(|e| e.into_py_dict(py)).transpose()?)?;
        Ok(d)
    }
    fn __repr__(slf: &Bound<'_, Self>) -> PyResult<String> {
        repr(slf, "RecipientResult", &["rcpt", "ok", "reply", "error"])
    }
}

/// The session as hooks see it.
#[pyclass(name = "Session", module = "postwire", frozen)]
pub struct PySession {
    /// Session id (also in the server's log lines and queue ids).
    #[pyo3(get)]
    id: String,
    /// The client's `(host, port)`.
    #[pyo3(get)]
    peer: (String, u16),
    /// Our `(host, port)` the client connected to.
    #[pyo3(get)]
    local: (String, u16),
    /// The HELO/EHLO name, once given.
    #[pyo3(get)]
    helo: Option<String>,
    /// True after STARTTLS.
    #[pyo3(get)]
    tls: bool,
    /// The user name after AUTH, else None.
    #[pyo3(get)]
    authenticated_user: Option<String>,
}

impl From<SessionInfo> for PySession {
    fn from(s: SessionInfo) -> Self {
        let pair = |a: std::net::SocketAddr| (a.ip().to_string(), a.port());
        let (peer, local) = (pair(s.peer), pair(s.local));
        PySession {
            id: s.id,
            peer,
            local,
            helo: s.helo,
            tls: s.tls,
            authenticated_user: s.authenticated_user,
        }
    }
}

#[pymethods]
impl PySession {
    /// The client's IP address.
    #[getter]
    fn peer_ip(&self) -> &str {
        &self.peer.0
    }
    /// The client's port.
    #[getter]
    fn peer_port(&self) -> u16 {
        self.peer.1
    }
    /// All of the above as a dict.
    fn to_dict<'py>(slf: &Bound<'py, Self>) -> PyResult<Bound<'py, PyDict>> {
        dict_of(slf, &["id", "peer", "local", "helo", "tls", "authenticated_user"])
    }
    fn __repr__(slf: &Bound<'_, Self>) -> PyResult<String> {
        repr(slf, "Session", &["id", "peer", "helo", "tls", "authenticated_user"])
    }
}

/// The envelope of a transaction: `mail_from` (`""` = `<>`), `rcpt_to`, and the ESMTP
/// parameters (`mail_params` dict keyword → value, `rcpt_params` one dict per recipient).
#[pyclass(name = "Envelope", module = "postwire", frozen)]
pub struct PyEnvelope {
    pub inner: Envelope,
}

#[pymethods]
impl PyEnvelope {
    /// The envelope sender; `""` is the null sender `<>`.
    #[getter]
    fn mail_from(&self) -> &str {
        &self.inner.mail_from
    }
    /// The accepted recipients, in order.
    #[getter]
    fn rcpt_to(&self) -> Vec<String> {
        self.inner.rcpt_to.clone()
    }
    /// MAIL parameters: keyword → value (None for a keyword without value).
    #[getter]
    fn mail_params<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyDict>> {
        pairs(py, &self.inner.mail_params.to_pairs())
    }
    /// RCPT parameters, one dict per accepted recipient.
    #[getter]
    fn rcpt_params<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyList>> {
        let dicts = self.inner.rcpt_params.iter().map(|p| pairs(py, &p.to_pairs()));
        PyList::new(py, dicts.collect::<PyResult<Vec<_>>>()?)
    }
    /// `{"mail_from", "rcpt_to", "mail_params", "rcpt_params"}`.
    fn to_dict<'py>(slf: &Bound<'py, Self>) -> PyResult<Bound<'py, PyDict>> {
        dict_of(slf, &["mail_from", "rcpt_to", "mail_params", "rcpt_params"])
    }
    fn __repr__(slf: &Bound<'_, Self>) -> PyResult<String> {
        repr(slf, "Envelope", &["mail_from", "rcpt_to"])
    }
}
