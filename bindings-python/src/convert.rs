//! Python values ↔ the JSON-shaped values the core's host layer takes and gives
//! (`serde_json::Value`): options go in this way (`postwire::host::options` applies the names,
//! defaults and checks), counters and parsed vectors come out this way. A generic walk that
//! knows nothing of any option.

use pyo3::exceptions::PyTypeError;
use pyo3::prelude::*;
use pyo3::types::{PyBool, PyDict, PyFloat, PyInt, PyList, PyMapping, PyString, PyTuple};
use serde_json::{Map, Number, Value};

/// A Python value as JSON: None, bool, int, float, str, `os.PathLike` (as its path), list,
/// tuple and any mapping (str keys; a `dict`, a `MappingProxyType`, a `collections.abc.Mapping`). Anything else is a `TypeError` naming `what`.
pub fn to_json(v: &Bound<'_, PyAny>, what: &str) -> PyResult<Value> {
    if v.is_none() {
        Ok(Value::Null)
    } else if v.is_instance_of::<PyBool>() {
        Ok(Value::Bool(v.extract()?))
    } else if v.is_instance_of::<PyInt>() {
        match v.extract::<i64>() {
            Ok(i) => Ok(Value::from(i)),
            Err(_) => Ok(Value::from(v.extract::<u64>()?)),
        }
    } else if let Ok(f) = v.downcast::<PyFloat>() {
        // NaN/inf are not JSON numbers: they reach the core as a string, which it refuses.
        Ok(Number::from_f64(f.value()).map(Value::Number).unwrap_or_else(|| Value::String(f.to_string())))
    } else if let Ok(s) = v.downcast::<PyString>() {
        Ok(Value::String(s.to_cow()?.into_owned()))
    } else if let Ok(d) = v.downcast::<PyDict>() {
        let mut m = Map::new();
        for (k, val) in d.iter() {
            let key: String =
                k.extract().map_err(|_| PyTypeError::new_err(format!("{what}: keys must be str")))?;
            let sub = to_json(&val, &format!("{what}[{key:?}]"))?;
            m.insert(key, sub);
        }
        Ok(Value::Object(m))
    } else if let Ok(m) = v.downcast::<PyMapping>() {
        to_json(&PyDict::from_sequence(&m.items()?.into_any())?.into_any(), what)
    } else if v.is_instance_of::<PyList>() || v.is_instance_of::<PyTuple>() {
        let items = v.try_iter()?.map(|x| to_json(&x?, what)).collect::<PyResult<_>>()?;
        Ok(Value::Array(items))
    } else if v.hasattr("__fspath__")? {
        Ok(Value::String(v.py().import("os")?.call_method1("fspath", (v,))?.extract()?))
    } else {
        Err(PyTypeError::new_err(format!("{what}: unsupported value {}", v.repr()?)))
    }
}

/// `**options` as a JSON object (`null` when none were given: the core's defaults); the host
/// layer names the unknown ones.
pub fn options_value(options: Option<&Bound<'_, PyDict>>, what: &str) -> PyResult<Value> {
    options.map_or(Ok(Value::Null), |d| to_json(d.as_any(), what))
}

/// A JSON value as the Python value `json.loads` would give.
pub fn to_py<'py>(py: Python<'py>, v: &Value) -> PyResult<Bound<'py, PyAny>> {
    py.import("json")?.call_method1("loads", (v.to_string(),))
}

/// Any serialisable core value as a Python value.
pub fn serde_to_py<'py>(py: Python<'py>, v: &impl serde::Serialize) -> PyResult<Bound<'py, PyAny>> {
    let json = serde_json::to_value(v).map_err(|e| PyTypeError::new_err(format!("cannot convert: {e}")))?;
    to_py(py, &json)
}

/// Keyword → value pairs (ESMTP parameters) as a dict.
pub fn pairs<'py>(py: Python<'py>, pairs: &[(String, Option<String>)]) -> PyResult<Bound<'py, PyDict>> {
    let d = PyDict::new(py);
    for (k, v) in pairs {
        d.set_item(k, v.as_deref())?;
    }
    Ok(d)
}
