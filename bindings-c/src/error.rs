//! `pw_status` and this thread's last error: core error → status (the kind's number) plus the
//! message, the server's reply and the refused recipients, kept per thread the way `errno` is.
//!
//! Only failures write the last error; successful calls leave it alone, so it still describes
//! the last failure after cleanup calls (`_free`). The `pw_last_error_*` functions themselves
//! never record a failure: reading the last error (even with a bad index) never replaces it.

use std::cell::RefCell;
use std::ffi::{c_char, CString};
use std::sync::OnceLock;

use serde_json::json;

use crate::ffi::{self, non_null, Fail, Res};
use crate::status;
use crate::values::{pw_rejected, pw_reply, Rejected};

/// What a fallible call returns: `PW_OK` (0), one status per error kind of the core with the
/// kind's number (`PW_CONNECT` = 1 … `PW_IO` = 10), `PW_PANIC`, `PW_NULL_PARAMETER`. The
/// constants are written into the header by the generator, from the core's `ErrorKind`.
pub type pw_status = u32;

struct LastError {
    status: pw_status,
    message: CString,
    reply: Option<Box<pw_reply>>,
    rejected: Vec<Rejected>,
    /// For `pw_last_error_to_json`.
    kind: &'static str,
}

thread_local! {
    static LAST: RefCell<Option<LastError>> = const { RefCell::new(None) };
}

/// Record `fail` as this thread's last error; its status.
pub fn record(fail: Fail) -> pw_status {
    let last = match fail {
        Fail::Null(what) => LastError {
            status: status::NULL_PARAMETER,
            message: ffi::c_string(&format!("argument `{what}` is NULL")),
            reply: None,
            rejected: Vec::new(),
            kind: "null_parameter",
        },
        Fail::Core(error) => LastError {
            status: status::of_kind(error.kind()),
            message: ffi::c_string(&error.to_string()),
            reply: error.reply().map(|r| Box::new(pw_reply::new(r.clone()))),
            rejected: error.rejected().iter().cloned().map(Rejected::new).collect(),
            kind: error.kind().as_str(),
        },
    };
    let s = last.status;
    LAST.with(|l| *l.borrow_mut() = Some(last));
    s
}

/// Record a caught panic; `PW_PANIC`.
pub fn record_panic() -> pw_status {
    let last = LastError {
        status: status::PANIC,
        message: ffi::c_string("panic inside postwire (a bug: please report it)"),
        reply: None,
        rejected: Vec::new(),
        kind: "panic",
    };
    LAST.with(|l| *l.borrow_mut() = Some(last));
    status::PANIC
}

/// Run `f` with this thread's last error, under the panic guard, recording nothing.
fn read<T>(f: impl FnOnce(Option<&LastError>) -> T, zero: T) -> T {
    std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| LAST.with(|l| f(l.borrow().as_ref()))))
        .unwrap_or(zero)
}

/// The message of this thread's last failed call (`"connect: Connection refused …"`), `""` when
/// none failed. Valid until the next failing call on this thread; never NULL.
#[no_mangle]
pub extern "C" fn pw_last_error_message() -> *const c_char {
    read(|l| l.map_or(c"".as_ptr(), |l| l.message.as_ptr()), c"".as_ptr())
}

/// The status of this thread's last failed call; `PW_OK` when none failed (or after
/// `pw_last_error_clear`).
#[no_mangle]
pub extern "C" fn pw_last_error_status() -> pw_status {
    read(|l| l.map_or(status::OK, |l| l.status), status::OK)
}

/// The reply of the server that caused this thread's last failure, NULL when no server answered.
/// Borrowed: valid until the next failing call on this thread; do not free it.
#[no_mangle]
pub extern "C" fn pw_last_error_reply() -> *const pw_reply {
    read(
        |l| l.and_then(|l| l.reply.as_deref()).map_or(std::ptr::null(), |r| r as *const pw_reply),
        std::ptr::null(),
    )
}

/// How many recipients the server refused in the failed send of this thread's last error (every
/// refusal when every recipient was refused); 0 for any other failure.
#[no_mangle]
pub extern "C" fn pw_last_error_rejected_count() -> usize {
    read(|l| l.map_or(0, |l| l.rejected.len()), 0)
}

/// Refused recipient `index` of this thread's last error, borrowed (valid until the next failing
/// call on this thread). `PW_INVALID_INPUT` past the end; neither that nor `PW_NULL_PARAMETER`
/// here replaces the last error.
///
/// # Safety
/// `out` is NULL or valid for writes.
#[no_mangle]
pub unsafe extern "C" fn pw_last_error_rejected(index: usize, out: *mut pw_rejected) -> pw_status {
    let body = || -> Res<pw_rejected> {
        non_null!(out);
        read(|l| l.and_then(|l| l.rejected.get(index)).map(Rejected::view), None)
            .ok_or_else(|| ffi::invalid("no refused recipient at that index"))
    };
    match std::panic::catch_unwind(std::panic::AssertUnwindSafe(body)) {
        Ok(Ok(v)) => {
            // SAFETY: checked non-NULL above.
            unsafe { ffi::put(out, v) };
            status::OK
        }
        Ok(Err(Fail::Null(_))) => status::NULL_PARAMETER,
        Ok(Err(Fail::Core(error))) => status::of_kind(error.kind()),
        Err(_) => status::PANIC,
    }
}

/// This thread's last error as JSON: `{"status", "kind", "message", "reply", "rejected"}`
/// (`null` when no call failed). Free the string with `pw_string_free`. Does not replace the last
/// error, even when it fails.
///
/// # Safety
/// `out` is NULL or valid for writes.
#[no_mangle]
pub unsafe extern "C" fn pw_last_error_to_json(out: *mut *mut c_char) -> pw_status {
    if out.is_null() {
        return status::NULL_PARAMETER;
    }
    let value = read(
        |l| {
            l.map(|l| {
                json!({
                    "status": l.status,
                    "kind": l.kind,
                    "message": l.message.to_string_lossy(),
                    "reply": l.reply.as_ref().map(|r| r.json()),
                    "rejected": l.rejected.iter().map(Rejected::json).collect::<Vec<_>>(),
                })
            })
            .unwrap_or(serde_json::Value::Null)
        },
        serde_json::Value::Null,
    );
    match ffi::owned_json(&value) {
        Ok(s) => {
            // SAFETY: checked non-NULL above.
            unsafe { ffi::put(out, s) };
            status::OK
        }
        Err(_) => status::of_kind(postwire::ErrorKind::Io),
    }
}

/// Forget this thread's last error (`pw_last_error_status()` is `PW_OK` afterwards).
#[no_mangle]
pub extern "C" fn pw_last_error_clear() {
    let _ = std::panic::catch_unwind(|| LAST.with(|l| *l.borrow_mut() = None));
}

/// The API's name of a status: `"ok"`, `"connect"` … `"io"`, `"panic"`, `"null_parameter"`;
/// NULL for a number that is no status. Static: never freed.
#[no_mangle]
pub extern "C" fn pw_status_name(status: pw_status) -> *const c_char {
    static NAMES: OnceLock<Vec<(pw_status, CString)>> = OnceLock::new();
    let names =
        NAMES.get_or_init(|| status::all().into_iter().map(|(_, n, s)| (n, ffi::c_string(s))).collect());
    names.iter().find(|(n, _)| *n == status).map_or(std::ptr::null(), |(_, s)| s.as_ptr())
}

/// The library's version (`"0.1.0"`). Static: never freed.
#[no_mangle]
pub extern "C" fn pw_version() -> *const c_char {
    const V: &std::ffi::CStr =
        match std::ffi::CStr::from_bytes_with_nul(concat!(env!("CARGO_PKG_VERSION"), "\0").as_bytes()) {
            Ok(v) => v,
            Err(_) => c"unknown",
        };
    V.as_ptr()
}
