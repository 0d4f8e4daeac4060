//! `pw_set_log_callback`: the core's log records (`postwire::host::log`) handed to a C function.
//! The core filters by level (one atomic load per event) and queues; its log thread calls the
//! callback with each record, so the callback runs on that library thread, never on a session's.

use std::ffi::{c_char, c_void};
use std::sync::{OnceLock, RwLock};

use postwire::host::log;
use tracing::level_filters::LevelFilter;
use tracing::Level;

use crate::error::pw_status;
use crate::ffi;
use crate::hooks::UserData;

/// A log level: `PW_LOG_OFF` (0), `PW_LOG_ERROR`, `PW_LOG_WARN`, `PW_LOG_INFO`, `PW_LOG_DEBUG`,
/// `PW_LOG_TRACE`.
pub type pw_log_level = u32;
/// Nothing.
pub const PW_LOG_OFF: pw_log_level = 0;
/// Errors.
pub const PW_LOG_ERROR: pw_log_level = 1;
/// Warnings and above (what is forwarded until told otherwise).
pub const PW_LOG_WARN: pw_log_level = 2;
/// Information (one line per message accepted …) and above.
pub const PW_LOG_INFO: pw_log_level = 3;
/// Debugging and above.
pub const PW_LOG_DEBUG: pw_log_level = 4;
/// Everything.
pub const PW_LOG_TRACE: pw_log_level = 5;

/// `callback(user_data, level, target, message)`: one log record. `target` is the module that
/// logged (`"postwire::server"`), `message` the text with its fields as ` name=value`; both are
/// borrowed for the call.
pub type pw_log_fn = Option<
    unsafe extern "C" fn(
        user_data: *mut c_void,
        level: pw_log_level,
        target: *const c_char,
        message: *const c_char,
    ),
>;

/// The callback in force; read by the log thread for each batch (so replacing it waits for the
/// batch being delivered, and the old one is never called afterwards).
type LogFn = unsafe extern "C" fn(*mut c_void, pw_log_level, *const c_char, *const c_char);
static CALLBACK: RwLock<Option<(LogFn, UserData)>> = RwLock::new(None);

/// Whether the forwarding is installed (false: the process had a `tracing` subscriber already).
static INSTALLED: OnceLock<bool> = OnceLock::new();

fn filter(level: pw_log_level) -> Option<LevelFilter> {
    Some(match level {
        PW_LOG_OFF => LevelFilter::OFF,
        PW_LOG_ERROR => LevelFilter::ERROR,
        PW_LOG_WARN => LevelFilter::WARN,
        PW_LOG_INFO => LevelFilter::INFO,
        PW_LOG_DEBUG => LevelFilter::DEBUG,
        PW_LOG_TRACE => LevelFilter::TRACE,
        _ => return None,
    })
}

fn c_level(l: Level) -> pw_log_level {
    match l {
        Level::ERROR => PW_LOG_ERROR,
        Level::WARN => PW_LOG_WARN,
        Level::INFO => PW_LOG_INFO,
        Level::DEBUG => PW_LOG_DEBUG,
        Level::TRACE => PW_LOG_TRACE,
    }
}

fn install() -> bool {
    *INSTALLED.get_or_init(|| {
        log::install(Box::new(|batch| {
            let g = CALLBACK.read().unwrap_or_else(|p| p.into_inner());
            let Some((f, ud)) = *g else { return batch.for_each(drop) };
            for r in batch {
                let (target, message) = (ffi::c_string(r.target), ffi::c_string(&r.text()));
                // SAFETY: the caller's callback, given for this; both strings live for the call.
                unsafe { f(ud.0, c_level(r.level), target.as_ptr(), message.as_ptr()) };
            }
        }))
    })
}

/// Send the library's log records of `level` and above to `callback`, called on a library
/// thread with `user_data` (may be NULL; never dereferenced by the library). Replaces the
/// previous callback: when this returns, the old one is not called any more. Never call it from
/// the callback. `PW_INVALID_INPUT` when the process already has another `tracing` subscriber
/// (a Rust library that installed its own): nothing can be forwarded then.
///
/// # Safety
/// `callback` is NULL or a function safe to call from another thread with `user_data`.
#[no_mangle]
pub unsafe extern "C" fn pw_set_log_callback(
    level: pw_log_level,
    callback: pw_log_fn,
    user_data: *mut c_void,
) -> pw_status {
    ffi::status(|| {
        // A NULL function pointer is `None` (non_null! is for raw pointers).
        let Some(cb) = callback else { return Err(ffi::Fail::Null("callback")) };
        let f = filter(level).ok_or_else(|| ffi::invalid(format!("{level} is not a pw_log_level")))?;
        *CALLBACK.write().unwrap_or_else(|p| p.into_inner()) = Some((cb, UserData(user_data)));
        if !install() {
            return Err(ffi::invalid("another tracing subscriber is installed in this process"));
        }
        log::set_level(f);
        Ok(())
    })
}

/// Change the level of the records forwarded to the callback (`PW_LOG_OFF`: none).
#[no_mangle]
pub extern "C" fn pw_set_log_level(level: pw_log_level) -> pw_status {
    ffi::status(|| {
        let f = filter(level).ok_or_else(|| ffi::invalid(format!("{level} is not a pw_log_level")))?;
        log::set_level(f);
        Ok(())
    })
}

/// Wait until every record logged so far reached the callback. Never call it from the callback.
#[no_mangle]
pub extern "C" fn pw_log_flush() {
    ffi::void(log::flush)
}
