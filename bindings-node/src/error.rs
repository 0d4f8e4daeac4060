//! `postwire::Error` → a JS `Error` (every Promise the addon returns is settled through
//! `completion.rs`, rejected with these).
//!
//! The error object (a `TypeError` for `invalid_input`, an `Error` otherwise) carries the
//! message, `.code` (`'PW_' + KIND`, e.g. `PW_TIMEOUT`, from the
//! core's fixed kinds — the API contract's Node spelling), `.kind` (`'timeout'`, the name every
//! runtime shares), `.reply` (the server's `Reply`, or `null`) and `.rejected` (every refused
//! recipient when a send failed because all were refused, else `[]`). The kind is mapped, never
//! the message parsed.

use napi::bindgen_prelude::{JsObjectValue, JsValue, Object, Unknown};
use napi::{Env, JsError, JsTypeError};
use postwire::{Error, ErrorKind};

use crate::values::{RejectedRecipient, Reply};

/// The Promise helper every async method uses (one completion channel per JS environment).
pub use crate::completion::promise;

/// `'PW_' + KIND` upper-cased: `PW_CONNECT` … `PW_IO`.
pub fn code_of(kind: ErrorKind) -> String {
    format!("PW_{}", kind.as_str().to_ascii_uppercase())
}

/// The recipients a failed send had refused: every refusal when all were refused
/// (the core's `Error::rejected`).
fn rejected_of(e: &Error) -> Vec<RejectedRecipient> {
    e.rejected().iter().cloned().map(RejectedRecipient::from).collect()
}

/// The JS `Error` object for `e` (see the module doc).
pub fn js_error<'e>(env: &'e Env, e: &Error) -> napi::Result<Object<'e>> {
    let base = napi::Error::new(code_of(e.kind()), e.message().to_string());
    // A bad argument is a `TypeError` (Node's own convention for invalid arguments), still
    // with the `.code` of its kind; every other kind a plain `Error`.
    let unknown: Unknown<'e> = match e.kind() {
        ErrorKind::InvalidInput => JsTypeError::from(base).into_unknown(*env),
        _ => JsError::from(base).into_unknown(*env),
    };
    let mut obj = unknown.coerce_to_object()?;
    obj.set_named_property("kind", e.kind().as_str())?;
    obj.set_named_property("reply", e.reply().cloned().map(Reply::from))?;
    obj.set_named_property("rejected", rejected_of(e))?;
    Ok(obj)
}

/// `e` as a `napi::Error` that throws (or rejects with) the object of [`js_error`].
pub fn to_napi(env: &Env, e: &Error) -> napi::Error {
    match js_error(env, e) {
        Ok(obj) => napi::Error::from(obj.to_unknown()),
        // Building the object failed (an environment going away): the plain message.
        Err(failed) => failed,
    }
}

/// Extension trait: a core result as a napi result whose error is the JS error of its kind.
pub trait ResultExt<T> {
    /// Map the error with [`to_napi`].
    fn js(self, env: &Env) -> napi::Result<T>;
}

impl<T> ResultExt<T> for postwire::Result<T> {
    fn js(self, env: &Env) -> napi::Result<T> {
        self.map_err(|e| to_napi(env, &e))
    }
}

/// An `invalid_input` error (`PW_INVALID_INPUT`) for a bad argument.
pub fn invalid_input(env: &Env, message: impl Into<String>) -> napi::Error {
    to_napi(env, &Error::invalid_input(message))
}

/// Every error `.code` in the core's fixed order: `errorCodes()[n - 1]` is the code of kind
/// number `n` (`PW_CONNECT` = 1 … `PW_IO` = 10, as C's status values).
#[napi_derive::napi(catch_unwind)]
pub fn error_codes() -> Vec<String> {
    ErrorKind::ALL.iter().map(|k| code_of(*k)).collect()
}
