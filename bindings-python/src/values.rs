//! The API's values as Python classes with attributes, `repr` and `to_dict()`: `Reply`,
//! `SendResult` (+ `RejectedRecipient`), `Envelope`, `Session`, `RecipientResult`.
//!
//! They are snapshots (frozen): built once from the core value, read many times.

use postwire::client::{RecipientResult, SendResult};
use postwire::proto::params::{Body, Ret};
use postwire::server::{Envelope, SessionInfo};
use postwire::Reply;
use pyo3::prelude::*;
use pyo3::types::{PyDict, PyList};

fn q(s: &str) -> String {
    // Python-style quoting for reprs.
    format!("'{}'", s.replace('\\', "\\\\").replace('\'', "\\'"))
}

fn opt_q(s: Option<&str>) -> String {
    s.map(q).unwrap_or_else(|| "None".into())
}

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

impl PyReply {
    /// The reply as a dict.
    pub fn dict<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyDict>> {
        let d = PyDict::new(py);
        d.set_item("code", self.inner.code)?;
        d.set_item("enhanced", self.inner.enhanced.as_deref())?;
        d.set_item("lines", &self.inner.lines)?;
        d.set_item("text", self.inner.text())?;
        Ok(d)
    }
}

#[pymethods]
impl PyReply {
    /// `Reply(code, text="", enhanced=None)`; `text` lines are separated by `\n`.
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
    fn enhanced(&self) -> Option<String> {
        self.inner.enhanced.clone()
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
    fn to_dict<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyDict>> {
        self.dict(py)
    }
    fn __repr__(&self) -> String {
        format!(
            "Reply(code={}, enhanced={}, text={})",
            self.inner.code,
            opt_q(self.inner.enhanced.as_deref()),
            q(&self.inner.text())
        )
    }
    fn __str__(&self) -> String {
        self.inner.one_line()
    }
}

/// A recipient refused at RCPT: `rcpt` and the server's `reply`.
#[pyclass(name = "RejectedRecipient", module = "postwire", frozen)]
#[derive(Clone)]
pub struct PyRejected {
    /// The recipient as given.
    #[pyo3(get)]
    pub rcpt: String,
    pub reply: PyReply,
}

#[pymethods]
impl PyRejected {
    /// The reply to its RCPT.
    #[getter]
    fn reply(&self) -> PyReply {
        self.reply.clone()
    }
    /// `{"rcpt", "reply"}`.
    fn to_dict<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyDict>> {
        let d = PyDict::new(py);
        d.set_item("rcpt", &self.rcpt)?;
        d.set_item("reply", self.reply.dict(py)?)?;
        Ok(d)
    }
    fn __repr__(&self) -> String {
        format!("RejectedRecipient(rcpt={}, reply={})", q(&self.rcpt), self.reply.__repr__())
    }
}

/// The outcome of one transaction: `accepted`, `rejected`, the final `reply`, `queue_id`.
#[pyclass(name = "SendResult", module = "postwire", frozen)]
pub struct PySendResult {
    /// Recipients accepted.
    #[pyo3(get)]
    pub accepted: Vec<String>,
    pub rejected: Vec<PyRejected>,
    pub reply: PyReply,
    /// The queue id the server named, when found.
    #[pyo3(get)]
    pub queue_id: Option<String>,
}

impl From<SendResult> for PySendResult {
    fn from(r: SendResult) -> Self {
        PySendResult {
            accepted: r.accepted,
            rejected: r
                .rejected
                .into_iter()
                .map(|x| PyRejected { rcpt: x.rcpt, reply: x.reply.into() })
                .collect(),
            reply: r.reply.into(),
            queue_id: r.queue_id,
        }
    }
}

#[pymethods]
impl PySendResult {
    /// Recipients refused at RCPT (`RejectedRecipient` objects).
    #[getter]
    fn rejected(&self) -> Vec<PyRejected> {
        self.rejected.clone()
    }
    /// The reply after the message.
    #[getter]
    fn reply(&self) -> PyReply {
        self.reply.clone()
    }
    /// `{"accepted", "rejected": [{"rcpt", "reply"}], "reply", "queue_id"}`.
    fn to_dict<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyDict>> {
        let d = PyDict::new(py);
        d.set_item("accepted", &self.accepted)?;
        let rej = PyList::empty(py);
        for r in &self.rejected {
            rej.append(r.to_dict(py)?)?;
        }
        d.set_item("rejected", rej)?;
        d.set_item("reply", self.reply.dict(py)?)?;
        d.set_item("queue_id", self.queue_id.as_deref())?;
        Ok(d)
    }
    fn __repr__(&self) -> String {
        let rej: Vec<String> = self.rejected.iter().map(|r| r.__repr__()).collect();
        let acc: Vec<String> = self.accepted.iter().map(|a| q(a)).collect();
        format!(
            "SendResult(accepted=[{}], rejected=[{}], reply={}, queue_id={})",
            acc.join(", "),
            rej.join(", "),
            self.reply.__repr__(),
            opt_q(self.queue_id.as_deref())
        )
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
    pub reply: Option<PyReply>,
    /// The failure as an exception object (not raised), or None.
    #[pyo3(get)]
    pub error: Option<PyObject>,
    kind: Option<&'static str>,
    message: Option<String>,
}

impl PyRecipientResult {
    /// Convert, building the exception object of a failed recipient.
    pub fn new(py: Python<'_>, r: RecipientResult) -> PyResult<Self> {
        let (error, kind, message) = match r.error {
            Some((k, m)) => {
                let mut e = postwire::Error::new(k, m.clone());
                if let Some(rep) = &r.reply {
                    e = e.with_reply(rep.clone());
                }
                (Some(crate::error::exception(py, &e)?.unbind()), Some(k.as_str()), Some(m))
            }
            None => (None, None, None),
        };
        Ok(PyRecipientResult { rcpt: r.rcpt, ok: r.ok, reply: r.reply.map(Into::into), error, kind, message })
    }
}

#[pymethods]
impl PyRecipientResult {
    /// The reply that decided it, if any.
    #[getter]
    fn reply(&self) -> Option<PyReply> {
        self.reply.clone()
    }
    /// `{"rcpt", "ok", "reply", "error": {"kind", "message"} | None}`.
    fn to_dict<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyDict>> {
        let d = PyDict::new(py);
        d.set_item("rcpt", &self.rcpt)?;
        d.set_item("ok", self.ok)?;
        d.set_item("reply", self.reply.as_ref().map(|r| r.dict(py)).transpose()?)?;
        let err = match (self.kind, &self.message) {
            (Some(k), Some(m)) => {
                let e = PyDict::new(py);
                e.set_item("kind", k)?;
                e.set_item("message", m)?;
                Some(e)
            }
            _ => None,
        };
        d.set_item("error", err)?;
        Ok(d)
    }
    fn __repr__(&self) -> String {
        format!(
            "RecipientResult(rcpt={}, ok={}, reply={}, error={})",
            q(&self.rcpt),
            if self.ok { "True" } else { "False" },
            self.reply.as_ref().map(|r| r.__repr__()).unwrap_or_else(|| "None".into()),
            match (self.kind, &self.message) {
                (Some(k), Some(m)) => format!("{}({})", crate::error::class_name_of(k), q(m)),
                _ => "None".into(),
            }
        )
    }
}

/// The session as hooks see it.
#[pyclass(name = "Session", module = "postwire", frozen)]
pub struct PySession {
    pub inner: SessionInfo,
}

#[pymethods]
impl PySession {
    /// Session id (also in the server's log lines and queue ids).
    #[getter]
    fn id(&self) -> &str {
        &self.inner.id
    }
    /// The client's `(host, port)`.
    #[getter]
    fn peer(&self) -> (String, u16) {
        (self.inner.peer.ip().to_string(), self.inner.peer.port())
    }
    /// The client's IP address.
    #[getter]
    fn peer_ip(&self) -> String {
        self.inner.peer.ip().to_string()
    }
    /// The client's port.
    #[getter]
    fn peer_port(&self) -> u16 {
        self.inner.peer.port()
    }
    /// Our `(host, port)` the client connected to.
    #[getter]
    fn local(&self) -> (String, u16) {
        (self.inner.local.ip().to_string(), self.inner.local.port())
    }
    /// The HELO/EHLO name, once given.
    #[getter]
    fn helo(&self) -> Option<&str> {
        self.inner.helo.as_deref()
    }
    /// True after STARTTLS.
    #[getter]
    fn tls(&self) -> bool {
        self.inner.tls
    }
    /// The user name after AUTH, else None.
    #[getter]
    fn authenticated_user(&self) -> Option<&str> {
        self.inner.authenticated_user.as_deref()
    }
    /// All of the above as a dict.
    fn to_dict<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyDict>> {
        let d = PyDict::new(py);
        d.set_item("id", self.id())?;
        d.set_item("peer", self.peer())?;
        d.set_item("local", self.local())?;
        d.set_item("helo", self.helo())?;
        d.set_item("tls", self.inner.tls)?;
        d.set_item("authenticated_user", self.authenticated_user())?;
        Ok(d)
    }
    fn __repr__(&self) -> String {
        format!(
            "Session(id={}, peer=({}, {}), helo={}, tls={}, authenticated_user={})",
            q(&self.inner.id),
            q(&self.inner.peer.ip().to_string()),
            self.inner.peer.port(),
            opt_q(self.inner.helo.as_deref()),
            if self.inner.tls { "True" } else { "False" },
            opt_q(self.inner.authenticated_user.as_deref())
        )
    }
}

/// The envelope of a transaction: `mail_from` (`""` = `<>`), `rcpt_to`, and the ESMTP
/// parameters (`mail_params` dict keyword → value, `rcpt_params` one dict per recipient).
#[pyclass(name = "Envelope", module = "postwire", frozen)]
pub struct PyEnvelope {
    pub inner: Envelope,
}

fn mail_params<'py>(py: Python<'py>, e: &Envelope) -> PyResult<Bound<'py, PyDict>> {
    let d = PyDict::new(py);
    let p = &e.mail_params;
    if let Some(s) = p.size {
        d.set_item("SIZE", s.to_string())?;
    }
    if let Some(b) = p.body {
        d.set_item("BODY", if b == Body::SevenBit { "7BIT" } else { "8BITMIME" })?;
    }
    if p.smtputf8 {
        d.set_item("SMTPUTF8", py.None())?;
    }
    if let Some(r) = p.ret {
        d.set_item("RET", if r == Ret::Full { "FULL" } else { "HDRS" })?;
    }
    if let Some(v) = &p.envid {
        d.set_item("ENVID", v)?;
    }
    if let Some(v) = &p.auth {
        d.set_item("AUTH", v)?;
    }
    for (k, v) in &p.other {
        d.set_item(k, v.as_deref())?;
    }
    Ok(d)
}

fn rcpt_params<'py>(py: Python<'py>, e: &Envelope) -> PyResult<Bound<'py, PyList>> {
    let out = PyList::empty(py);
    for p in &e.rcpt_params {
        let d = PyDict::new(py);
        if let Some(v) = p.notify.and_then(|n| n.to_param_value()) {
            d.set_item("NOTIFY", v)?;
        }
        if let Some((t, a)) = &p.orcpt {
            d.set_item("ORCPT", format!("{t};{a}"))?;
        }
        for (k, v) in &p.other {
            d.set_item(k, v.as_deref())?;
        }
        out.append(d)?;
    }
    Ok(out)
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
        mail_params(py, &self.inner)
    }
    /// RCPT parameters, one dict per accepted recipient.
    #[getter]
    fn rcpt_params<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyList>> {
        rcpt_params(py, &self.inner)
    }
    /// `{"mail_from", "rcpt_to", "mail_params", "rcpt_params"}`.
    fn to_dict<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyDict>> {
        let d = PyDict::new(py);
        d.set_item("mail_from", &self.inner.mail_from)?;
        d.set_item("rcpt_to", &self.inner.rcpt_to)?;
        d.set_item("mail_params", mail_params(py, &self.inner)?)?;
        d.set_item("rcpt_params", rcpt_params(py, &self.inner)?)?;
        Ok(d)
    }
    fn __repr__(&self) -> String {
        let r: Vec<String> = self.inner.rcpt_to.iter().map(|a| q(a)).collect();
        format!("Envelope(mail_from={}, rcpt_to=[{}])", q(&self.inner.mail_from), r.join(", "))
    }
}
