//! `postwire.compose(...)`: an RFC 5322 message (bytes) from fields, by `postwire::client::compose`.

use postwire::client::{compose as core_compose, Attachment, ComposeOptions};
use pyo3::prelude::*;
use pyo3::types::{PyBytes, PyMapping, PyString};

use crate::error::{invalid_input, ResultExt};

fn addresses(what: &str, v: Option<&Bound<'_, PyAny>>) -> PyResult<Vec<String>> {
    match v.filter(|v| !v.is_none()) {
        None => Ok(Vec::new()),
        Some(v) => {
            if let Ok(s) = v.downcast::<PyString>() {
                return Ok(vec![s.to_cow()?.into_owned()]);
            }
            v.extract().map_err(|_| invalid_input(format!("{what} must be a str or a list of str")))
        }
    }
}

fn attachment(v: &Bound<'_, PyAny>) -> PyResult<Attachment> {
    let data = |d: &Bound<'_, PyAny>| -> PyResult<Vec<u8>> {
        if let Ok(s) = d.downcast::<PyString>() {
            return Ok(s.to_cow()?.as_bytes().to_vec());
        }
        d.extract::<Vec<u8>>().map_err(|_| invalid_input("attachment data must be bytes"))
    };
    if let Ok(d) = v.downcast::<PyMapping>() {
        let item = |k: &str| -> PyResult<Option<Bound<'_, PyAny>>> {
            if d.contains(k)? {
                d.get_item(k).map(Some)
            } else {
                Ok(None)
            }
        };
        let get = |k: &str| -> PyResult<Bound<'_, PyAny>> {
            item(k)?.ok_or_else(|| invalid_input(format!("attachment dict needs {k:?}")))
        };
        let content_type = match item("content_type")? {
            Some(c) => c.extract()?,
            None => "application/octet-stream".to_string(),
        };
        return Ok(Attachment::new(
            get("filename")?.extract::<String>()?,
            content_type,
            data(&get("data")?)?,
        ));
    }
    let (filename, content_type, d): (String, String, Bound<'_, PyAny>) = v.extract().map_err(|_| {
        invalid_input(
            "an attachment is (filename, content_type, data) or a dict with filename, content_type, data",
        )
    })?;
    Ok(Attachment::new(filename, content_type, data(&d)?))
}

/// Build an RFC 5322 message (Date and Message-ID added; Bcc only for the envelope, never in the
/// headers). `to`, `cc`, `bcc`: a str or a list; `headers`: a dict or a list of pairs;
/// `attachments`: `(filename, content_type, bytes)` tuples or dicts with those keys.
#[pyfunction]
#[pyo3(signature = (from_, to, subject, text, *, html = None, cc = None, bcc = None, headers = None, attachments = None, date = None, message_id = None))]
#[allow(clippy::too_many_arguments)]
pub fn compose<'py>(
    py: Python<'py>,
    from_: String,
    to: &Bound<'py, PyAny>,
    subject: String,
    text: String,
    html: Option<String>,
    cc: Option<&Bound<'py, PyAny>>,
    bcc: Option<&Bound<'py, PyAny>>,
    headers: Option<&Bound<'py, PyAny>>,
    attachments: Option<Vec<Bound<'py, PyAny>>>,
    date: Option<i64>,
    message_id: Option<String>,
) -> PyResult<Bound<'py, PyBytes>> {
    let mut o = ComposeOptions::new(from_, addresses("to", Some(to))?, subject, text);
    o.html = html;
    o.cc = addresses("cc", cc)?;
    o.bcc = addresses("bcc", bcc)?;
    o.headers = match headers.filter(|h| !h.is_none()) {
        None => Vec::new(),
        Some(h) => match h.downcast::<PyMapping>() {
            Ok(d) => d.items()?.iter().map(|kv| kv.extract()).collect::<PyResult<_>>()?,
            Err(_) => h
                .extract()
                .map_err(|_| invalid_input("headers must be a dict or a list of (name, value) pairs"))?,
        },
    };
    o.attachments = attachments.unwrap_or_default().iter().map(attachment).collect::<PyResult<_>>()?;
    o.date = date;
    o.message_id = message_id;
    let bytes = core_compose(&o).py_err()?;
    Ok(PyBytes::new(py, &bytes))
}
