//! The API's values for C: `pw_reply`, `pw_send_result` (with `pw_rejected` and `pw_timings`)
//! and `pw_socket_addr` — opaque handles with accessors, plain structs where the value is flat,
//! and `pw_*_to_json` beside the accessors.
//!
//! A handle keeps its strings as C strings made once when it is built, so accessors hand out
//! borrowed `const char *` (valid while the handle lives) without allocating.

use std::ffi::{c_char, CString};
use std::net::SocketAddr;
use std::time::Duration;

use postwire::client::{RejectedRecipient, SendResult, Timings};
use postwire::Reply;
use serde_json::{json, Value};

use crate::error::pw_status;
use crate::ffi;

/// An SMTP reply: code, enhanced status code, text lines. Made by the library (results, errors,
/// `pw_reply_new`, `pw_reply_parse`); free the ones you own with `pw_reply_free`.
pub struct pw_reply {
    reply: Reply,
    text: CString,
    enhanced: Option<CString>,
    lines: Vec<CString>,
}

impl pw_reply {
    /// The C view of `reply`.
    pub fn new(reply: Reply) -> pw_reply {
        pw_reply {
            text: ffi::c_string(&reply.text()),
            enhanced: reply.enhanced.as_deref().map(ffi::c_string),
            lines: reply.lines.iter().map(|l| ffi::c_string(l)).collect(),
            reply,
        }
    }

    /// The core's reply.
    pub fn reply(&self) -> &Reply {
        &self.reply
    }

    /// `{"code", "enhanced", "lines", "text"}`.
    pub fn json(&self) -> Value {
        json!({
            "code": self.reply.code,
            "enhanced": self.reply.enhanced,
            "lines": self.reply.lines,
            "text": self.reply.text(),
        })
    }
}

/// The reply code (`250`); 0 when `reply` is NULL.
///
/// # Safety
/// `reply` is NULL or a live `pw_reply`.
#[no_mangle]
pub unsafe extern "C" fn pw_reply_code(reply: *const pw_reply) -> u16 {
    // SAFETY: per the contract above.
    unsafe { ffi::get!(reply, |r| Ok(r.reply.code)) }
}

/// The enhanced status code (`"2.1.5"`), NULL when the reply has none. Borrowed from `reply`.
///
/// # Safety
/// `reply` is NULL or a live `pw_reply`.
#[no_mangle]
pub unsafe extern "C" fn pw_reply_enhanced(reply: *const pw_reply) -> *const c_char {
    // SAFETY: per the contract above.
    unsafe { ffi::get!(reply, |r| Ok(ffi::opt_ptr(&r.enhanced))) }
}

/// The text: the lines joined by `"\n"`, without codes. Borrowed from `reply`.
///
/// # Safety
/// `reply` is NULL or a live `pw_reply`.
#[no_mangle]
pub unsafe extern "C" fn pw_reply_text(reply: *const pw_reply) -> *const c_char {
    // SAFETY: per the contract above.
    unsafe { ffi::get!(reply, |r| Ok(r.text.as_ptr())) }
}

/// How many text lines the reply has.
///
/// # Safety
/// `reply` is NULL or a live `pw_reply`.
#[no_mangle]
pub unsafe extern "C" fn pw_reply_line_count(reply: *const pw_reply) -> usize {
    // SAFETY: per the contract above.
    unsafe { ffi::get!(reply, |r| Ok(r.lines.len())) }
}

/// Line `index` of the text (without code), borrowed from `reply`; NULL past the end
/// (`PW_INVALID_INPUT`).
///
/// # Safety
/// `reply` is NULL or a live `pw_reply`.
#[no_mangle]
pub unsafe extern "C" fn pw_reply_line(reply: *const pw_reply, index: usize) -> *const c_char {
    // SAFETY: per the contract above.
    unsafe { ffi::get!(reply, |r| Ok(ffi::at(&r.lines, index, "reply line")?.as_ptr())) }
}

/// The reply as JSON: `{"code", "enhanced", "lines", "text"}`. Free with `pw_string_free`.
///
/// # Safety
/// `reply` is NULL or a live `pw_reply`; `out` is NULL or valid for writes.
#[no_mangle]
pub unsafe extern "C" fn pw_reply_to_json(reply: *const pw_reply, out: *mut *mut c_char) -> pw_status {
    // SAFETY: per the contract above.
    unsafe { ffi::put_json!(reply, out, |r| r.json()) }
}

/// Free a reply you own (from `pw_reply_new`, `pw_reply_parse` or a client call). NULL does
/// nothing. Never free the borrowed replies of results and errors.
///
/// # Safety
/// `reply` is NULL or an owned `pw_reply` not freed yet.
#[no_mangle]
pub unsafe extern "C" fn pw_reply_free(reply: *mut pw_reply) {
    // SAFETY: per the contract above.
    ffi::void(|| unsafe { ffi::free(reply) })
}

/// A recipient the server refused at RCPT, borrowed from the result or error it came from.
#[repr(C)]
pub struct pw_rejected {
    /// The recipient as the caller gave it.
    pub rcpt: *const c_char,
    /// The server's reply to its RCPT.
    pub reply: *const pw_reply,
}

/// A refused recipient, owned (inside a send result or the last error).
pub struct Rejected {
    rcpt: CString,
    reply: Box<pw_reply>,
}

impl Rejected {
    /// From the core's value.
    pub fn new(r: RejectedRecipient) -> Rejected {
        Rejected { rcpt: ffi::c_string(&r.rcpt), reply: Box::new(pw_reply::new(r.reply)) }
    }

    /// The borrowed view handed to C.
    pub fn view(&self) -> pw_rejected {
        pw_rejected { rcpt: self.rcpt.as_ptr(), reply: &*self.reply }
    }

    /// `{"rcpt", "reply"}`.
    pub fn json(&self) -> Value {
        json!({ "rcpt": self.rcpt.to_string_lossy(), "reply": self.reply.json() })
    }
}

/// Milliseconds per phase of a send; -1 for a phase that did not run.
#[repr(C)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct pw_timings {
    /// TCP connect.
    pub connect_ms: i64,
    /// Waiting for the banner.
    pub banner_ms: i64,
    /// TLS handshake.
    pub tls_ms: i64,
    /// EHLO/HELO.
    pub ehlo_ms: i64,
    /// AUTH.
    pub auth_ms: i64,
    /// MAIL.
    pub mail_ms: i64,
    /// Every RCPT.
    pub rcpt_ms: i64,
    /// DATA or BDAT up to the final reply.
    pub data_ms: i64,
    /// The whole transaction.
    pub total_ms: i64,
}

fn ms(d: Option<Duration>) -> i64 {
    d.map_or(-1, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
}

impl From<&Timings> for pw_timings {
    fn from(t: &Timings) -> Self {
        pw_timings {
            connect_ms: ms(t.connect),
            banner_ms: ms(t.banner),
            tls_ms: ms(t.tls),
            ehlo_ms: ms(t.ehlo),
            auth_ms: ms(t.auth),
            mail_ms: ms(t.mail),
            rcpt_ms: ms(t.rcpt),
            data_ms: ms(t.data),
            total_ms: ms(t.total),
        }
    }
}

/// The outcome of an accepted transaction (`pw_client_send`, `pw_pool_send`): accepted and
/// refused recipients, the final reply, the queue id, timings. Free with `pw_send_result_free`.
pub struct pw_send_result {
    result: SendResult,
    accepted: Vec<CString>,
    rejected: Vec<Rejected>,
    reply: pw_reply,
    queue_id: Option<CString>,
}

impl pw_send_result {
    /// The C view of `result`.
    pub fn new(result: SendResult) -> pw_send_result {
        pw_send_result {
            accepted: result.accepted.iter().map(|a| ffi::c_string(a)).collect(),
            rejected: result.rejected.iter().cloned().map(Rejected::new).collect(),
            reply: pw_reply::new(result.reply.clone()),
            queue_id: result.queue_id.as_deref().map(ffi::c_string),
            result,
        }
    }
}

/// How many recipients the server accepted.
///
/// # Safety
/// `result` is NULL or a live `pw_send_result`.
#[no_mangle]
pub unsafe extern "C" fn pw_send_result_accepted_count(result: *const pw_send_result) -> usize {
    // SAFETY: per the contract above.
    unsafe { ffi::get!(result, |r| Ok(r.accepted.len())) }
}

/// Accepted recipient `index` (as given), borrowed from `result`; NULL past the end.
///
/// # Safety
/// `result` is NULL or a live `pw_send_result`.
#[no_mangle]
pub unsafe extern "C" fn pw_send_result_accepted(
    result: *const pw_send_result,
    index: usize,
) -> *const c_char {
    // SAFETY: per the contract above.
    unsafe { ffi::get!(result, |r| Ok(ffi::at(&r.accepted, index, "accepted")?.as_ptr())) }
}

/// How many recipients the server refused at RCPT (the send still succeeded: at least one was
/// accepted).
///
/// # Safety
/// `result` is NULL or a live `pw_send_result`.
#[no_mangle]
pub unsafe extern "C" fn pw_send_result_rejected_count(result: *const pw_send_result) -> usize {
    // SAFETY: per the contract above.
    unsafe { ffi::get!(result, |r| Ok(r.rejected.len())) }
}

/// Refused recipient `index`, borrowed from `result`. `PW_INVALID_INPUT` past the end.
///
/// # Safety
/// `result` is NULL or a live `pw_send_result`; `out` is NULL or valid for writes.
#[no_mangle]
pub unsafe extern "C" fn pw_send_result_rejected(
    result: *const pw_send_result,
    index: usize,
    out: *mut pw_rejected,
) -> pw_status {
    // SAFETY: per the contract above.
    unsafe { ffi::get_into!(result, out, |r| { Ok(ffi::at(&r.rejected, index, "rejected")?.view()) }) }
}

/// The reply after the message (final dot or last BDAT), borrowed from `result`.
///
/// # Safety
/// `result` is NULL or a live `pw_send_result`.
#[no_mangle]
pub unsafe extern "C" fn pw_send_result_reply(result: *const pw_send_result) -> *const pw_reply {
    // SAFETY: per the contract above.
    unsafe { ffi::get!(result, |r| Ok(&r.reply as *const pw_reply)) }
}

/// The queue id the server named in its final reply, NULL when none was found. Borrowed.
///
/// # Safety
/// `result` is NULL or a live `pw_send_result`.
#[no_mangle]
pub unsafe extern "C" fn pw_send_result_queue_id(result: *const pw_send_result) -> *const c_char {
    // SAFETY: per the contract above.
    unsafe { ffi::get!(result, |r| Ok(ffi::opt_ptr(&r.queue_id))) }
}

/// The transaction's timings in milliseconds (-1: the phase did not run).
///
/// # Safety
/// `result` is NULL or a live `pw_send_result`; `out` is NULL or valid for writes.
#[no_mangle]
pub unsafe extern "C" fn pw_send_result_timings(
    result: *const pw_send_result,
    out: *mut pw_timings,
) -> pw_status {
    // SAFETY: per the contract above.
    unsafe { ffi::get_into!(result, out, |h| Ok(pw_timings::from(&h.result.timings))) }
}

/// The result as JSON: `{"accepted", "rejected": [{"rcpt", "reply"}], "reply", "queue_id",
/// "timings"}` (timings in milliseconds, `null` for a phase that did not run). Free with
/// `pw_string_free`.
///
/// # Safety
/// `result` is NULL or a live `pw_send_result`; `out` is NULL or valid for writes.
#[no_mangle]
pub unsafe extern "C" fn pw_send_result_to_json(
    result: *const pw_send_result,
    out: *mut *mut c_char,
) -> pw_status {
    // SAFETY: per the contract above.
    unsafe { ffi::put_json!(result, out, |h| json!(h.result)) }
}

/// Free a send result. NULL does nothing.
///
/// # Safety
/// `result` is NULL or a `pw_send_result` not freed yet.
#[no_mangle]
pub unsafe extern "C" fn pw_send_result_free(result: *mut pw_send_result) {
    // SAFETY: per the contract above.
    ffi::void(|| unsafe { ffi::free(result) })
}

/// An IP address and port (`listen`'s bound address, a session's peer).
#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct pw_socket_addr {
    /// The IP address as text (`"127.0.0.1"`, `"::1"`), NUL-terminated.
    pub ip: [c_char; 64],
    /// The port.
    pub port: u16,
}

impl From<SocketAddr> for pw_socket_addr {
    fn from(a: SocketAddr) -> Self {
        let mut ip = [0 as c_char; 64];
        // An IP address as text is at most 45 bytes: it always fits with its NUL.
        for (d, s) in ip.iter_mut().zip(a.ip().to_string().bytes().take(63)) {
            *d = s as c_char;
        }
        pw_socket_addr { ip, port: a.port() }
    }
}

/// `{"ip", "port"}`.
pub fn addr_json(a: SocketAddr) -> Value {
    json!({ "ip": a.ip().to_string(), "port": a.port() })
}
