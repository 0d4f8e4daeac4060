//! Test helpers over the sans-IO protocol core (`postwire::proto`), so the Python suite checks the
//! shared `tests/vectors/*.json` against the very parser the Rust suite checks.

use postwire::proto::describe::{describe_address, describe_command};
use postwire::proto::{ParseOptions, Reply, ReplyLimits};
use pyo3::prelude::*;

use crate::convert::to_py;
use crate::error::ResultExt;
use crate::values::PyReply;

/// Parse one reply from `wire`: `(Reply, bytes consumed)`, or None when more bytes are needed;
/// raises `ProtocolError` for bytes that are not an acceptable reply.
#[pyfunction]
#[pyo3(signature = (wire, max_line = 4096, max_lines = 128))]
pub fn parse_reply(wire: &[u8], max_line: usize, max_lines: usize) -> PyResult<Option<(PyReply, usize)>> {
    let limits = ReplyLimits { max_line, max_lines };
    Ok(Reply::parse(wire, &limits).py_err()?.map(|(r, n)| (r.into(), n)))
}

/// Parse a command line (without CRLF): a dict of the command's fields (names as in
/// `tests/vectors/README.md`), or the `Reply` the server would answer instead.
#[pyfunction]
#[pyo3(signature = (line, strict = false, smtputf8 = false))]
pub fn parse_command<'py>(
    py: Python<'py>,
    line: &[u8],
    strict: bool,
    smtputf8: bool,
) -> PyResult<Bound<'py, PyAny>> {
    match describe_command(line, &ParseOptions { strict, smtputf8 }) {
        Ok(v) => to_py(py, &v),
        Err(r) => Ok(Bound::new(py, PyReply::from(r))?.into_any()),
    }
}

/// Parse an address (`kind` = `"path"` or `"mailbox"`) into a dict of its fields; raises
/// `InvalidInputError` when refused.
#[pyfunction]
#[pyo3(signature = (text, kind = "path", strict = false, smtputf8 = false))]
pub fn parse_address<'py>(
    py: Python<'py>,
    text: &str,
    kind: &str,
    strict: bool,
    smtputf8: bool,
) -> PyResult<Bound<'py, PyAny>> {
    let v = describe_address(text, kind, &ParseOptions { strict, smtputf8 }).py_err()?;
    to_py(py, &v)
}
