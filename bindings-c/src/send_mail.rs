//! `pw_send_mail`: deliver one message without a session object (`postwire::client::send_mail`),
//! one `pw_recipient_result` per recipient.

use std::ffi::{c_char, CString};

use postwire::client::{send_mail, RecipientResult, SendMailOptions};
use postwire::host::runtime;
use serde_json::{json, Value};

use crate::error::pw_status;
use crate::ffi::{self, non_null, Res};
use crate::options::{pw_client_options, pw_switch, Obj};
use crate::status;
use crate::values::pw_reply;

/// How `pw_send_mail` delivers: the session options of `pw_client_options` (`host`: a smarthost
/// that relays everything, with `auth_user` to log in there; NULL: MX routing per recipient
/// domain, on port `port` or 25), plus the routing options.
#[repr(C)]
#[derive(Debug, Clone)]
pub struct pw_send_mail_options {
    /// Where and how to connect (`host`: the smarthost, NULL for MX routing).
    pub session: pw_client_options,
    /// DNS servers (`"ip:port"`) for MX routing.
    pub nameservers: *const *const c_char,
    /// How many `nameservers`.
    pub nameservers_len: usize,
    /// Allow MX hosts that resolve to loopback (tests).
    pub allow_loopback: pw_switch,
}

impl pw_send_mail_options {
    /// The core's options through the host layer (`host::options::send_mail_options`: its
    /// defaults and checks; zero fields left out).
    ///
    /// # Safety
    /// The pointer fields are NULL or valid.
    unsafe fn to_core(&self) -> Res<SendMailOptions> {
        // SAFETY (every block): the pointer fields are NULL or valid.
        let (smarthost, port, session) = unsafe { self.session.to_host() }?;
        let Value::Object(map) = session else { return Err(ffi::invalid("send_mail options")) };
        let mut o = Obj(map);
        if let Some(h) = smarthost {
            o.set("smarthost", h);
        }
        if let Some(p) = port {
            o.set("port", p);
        }
        if let Some((user, password)) = unsafe { self.session.credentials() }? {
            o.set("credentials", json!([user, password]));
        }
        unsafe { o.list("nameservers", self.nameservers, self.nameservers_len) }?;
        o.switch("allow_loopback", self.allow_loopback)?;
        Ok(postwire::host::options::send_mail_options(o.value())?)
    }
}

/// What happened to one recipient, borrowed from its `pw_recipient_results`.
#[repr(C)]
pub struct pw_recipient_result {
    /// The recipient as given.
    pub rcpt: *const c_char,
    /// True when the server accepted the message for it.
    pub ok: bool,
    /// The reply that decided it; NULL when no server answered.
    pub reply: *const pw_reply,
    /// `PW_OK` when `ok`, else the status of the error.
    pub error: pw_status,
    /// The error's message; NULL when `ok`.
    pub error_message: *const c_char,
}

struct Item {
    rcpt: CString,
    ok: bool,
    reply: Option<pw_reply>,
    error: pw_status,
    message: Option<CString>,
}

/// One result per recipient of `pw_send_mail`. Free with `pw_recipient_results_free`.
pub struct pw_recipient_results {
    results: Vec<RecipientResult>,
    items: Vec<Item>,
}

/// Deliver `message` from `mail_from` to the `rcpt_count` recipients, through the smarthost of
/// `opts` or by MX routing. `PW_OK` when it was attempted — each recipient's outcome is in
/// `*out` — an error only when nothing was attempted (bad address, bad option).
///
/// # Safety
/// As `pw_client_send`; `opts` NULL or valid; `out` NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn pw_send_mail(
    mail_from: *const c_char,
    rcpt_to: *const *const c_char,
    rcpt_count: usize,
    message: *const u8,
    message_len: usize,
    opts: *const pw_send_mail_options,
    out: *mut *mut pw_recipient_results,
) -> pw_status {
    ffi::status(|| {
        non_null!(mail_from, rcpt_to, message, opts, out);
        // SAFETY: checked non-NULL; per the contract above.
        let ((from, rcpts, msg), o) =
            unsafe { (ffi::mail(mail_from, rcpt_to, rcpt_count, message, message_len)?, (*opts).to_core()?) };
        let results = runtime::block_on(send_mail(from, &rcpts, msg, &o))??;
        let items = results
            .iter()
            .map(|r| Item {
                rcpt: ffi::c_string(&r.rcpt),
                ok: r.ok,
                reply: r.reply.clone().map(pw_reply::new),
                error: r.error.as_ref().map_or(status::OK, |(k, _)| status::of_kind(*k)),
                message: r.error.as_ref().map(|(_, m)| ffi::c_string(m)),
            })
            .collect();
        // SAFETY: checked non-NULL.
        unsafe { ffi::put(out, ffi::boxed(pw_recipient_results { results, items })) };
        Ok(())
    })
}

/// How many recipients (as many as were given).
///
/// # Safety
/// `results` is NULL or live.
#[no_mangle]
pub unsafe extern "C" fn pw_recipient_results_count(results: *const pw_recipient_results) -> usize {
    // SAFETY: per the contract above.
    unsafe { ffi::get!(results, |r| Ok(r.items.len())) }
}

/// Recipient `index`'s outcome, borrowed. `PW_INVALID_INPUT` past the end.
///
/// # Safety
/// `results` is NULL or live; `out` NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn pw_recipient_results_get(
    results: *const pw_recipient_results,
    index: usize,
    out: *mut pw_recipient_result,
) -> pw_status {
    // SAFETY: per the contract above.
    unsafe {
        ffi::get_into!(results, out, |r| {
            let i = ffi::at(&r.items, index, "recipient")?;
            Ok(pw_recipient_result {
                rcpt: i.rcpt.as_ptr(),
                ok: i.ok,
                reply: i.reply.as_ref().map_or(std::ptr::null(), |r| r as *const pw_reply),
                error: i.error,
                error_message: i.message.as_ref().map_or(std::ptr::null(), |m| m.as_ptr()),
            })
        })
    }
}

/// The results as JSON: `[{"rcpt", "ok", "reply", "error": {"kind", "message"} or null}]`. Free
/// with `pw_string_free`.
///
/// # Safety
/// `results` is NULL or live; `out` NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn pw_recipient_results_to_json(
    results: *const pw_recipient_results,
    out: *mut *mut c_char,
) -> pw_status {
    // SAFETY: per the contract above.
    unsafe { ffi::put_json!(results, out, |r| json!(r.results)) }
}

/// Free the results. NULL does nothing.
///
/// # Safety
/// `results` is NULL or not freed yet.
#[no_mangle]
pub unsafe extern "C" fn pw_recipient_results_free(results: *mut pw_recipient_results) {
    // SAFETY: per the contract above.
    ffi::void(|| unsafe { ffi::free(results) })
}
