//! `pw_client`: one SMTP session, blocking calls, on the core's `ClientHandle`. Each client
//! drives its session on a private current-thread runtime (`postwire::host::runtime::local`)
//! inside the calling thread, so a send costs no thread hand-off.
//!
//! Threads: a `pw_client` may be used from any thread. Calls (send, login, noop …) serialize on
//! the connection; getters (capabilities, banner, TLS, closed, transcript) never wait: they read
//! the state the session published at the end of its last call (`ClientHandle`'s snapshot).

use std::ffi::c_char;
use std::sync::Mutex;

use postwire::client::{Client, ClientHandle, SendOptions};
use postwire::host::runtime;
use tokio::runtime::Runtime;

use crate::error::pw_status;
use crate::ffi::{self, non_null, Res};
use crate::options::{pw_client_options, pw_switch, Obj};
use crate::values::{pw_reply, pw_send_result};

/// An open SMTP session. Open with `pw_client_connect`, free with `pw_client_free`.
pub struct pw_client {
    /// The client's own current-thread runtime; one thread drives it at a time.
    rt: Mutex<Runtime>,
    handle: ClientHandle,
}

impl pw_client {
    /// Run one call of the session to its end on the client's runtime.
    fn call<T>(&self, f: impl AsyncFnOnce(&ClientHandle) -> postwire::Result<T>) -> Res<T> {
        let rt = self.rt.lock().unwrap_or_else(|p| p.into_inner());
        Ok(rt.block_on(f(&self.handle))?)
    }
}

/// A reply result into an owned `pw_reply` out-parameter.
///
/// # Safety
/// `out` is valid for writes.
unsafe fn put_reply(out: *mut *mut pw_reply, r: postwire::Reply) {
    // SAFETY: per the contract above.
    unsafe { ffi::put(out, ffi::boxed(pw_reply::new(r))) }
}

/// Open a session: connect, banner, EHLO (HELO fallback), STARTTLS per `opts->tls`, then AUTH
/// when `opts->auth_user` is set. On success `*out` is the session (free it with
/// `pw_client_free`).
///
/// # Safety
/// `opts` is NULL or valid (its strings NULL or valid C strings); `out` is NULL or valid for
/// writes.
#[no_mangle]
pub unsafe extern "C" fn pw_client_connect(
    opts: *const pw_client_options,
    out: *mut *mut pw_client,
) -> pw_status {
    ffi::status(|| {
        non_null!(opts, out);
        // SAFETY: checked non-NULL; the caller's struct.
        let opts = unsafe { &*opts };
        // SAFETY: the struct's strings are NULL or valid.
        let (core, creds) = unsafe { (opts.to_core()?, opts.credentials()?) };
        let rt = runtime::local()?;
        let mut c = rt.block_on(Client::connect(core))?;
        if let Some((user, password)) = creds {
            if let Err(e) = rt.block_on(c.login(&user, &password, None)) {
                let _ = rt.block_on(c.quit());
                return Err(e.into());
            }
        }
        let client = pw_client { rt: Mutex::new(rt), handle: c.into_handle() };
        // SAFETY: checked non-NULL.
        unsafe { ffi::put(out, ffi::boxed(client)) };
        Ok(())
    })
}

/// Whether the server advertised EHLO keyword `keyword` (case-insensitive) and its parameters:
/// `*out_present`, and `*out_params` — a string you free with `pw_string_free` (`""` when the
/// keyword has no parameters), or NULL when it was not advertised.
///
/// # Safety
/// `client` is NULL or live; `keyword` NULL or a C string; the out-pointers NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn pw_client_capability(
    client: *const pw_client,
    keyword: *const c_char,
    out_present: *mut bool,
    out_params: *mut *mut c_char,
) -> pw_status {
    ffi::status(|| {
        non_null!(client, keyword, out_present, out_params);
        // SAFETY: checked non-NULL; live handle and C string.
        let (c, kw) = unsafe { (ffi::handle(client), ffi::text(keyword, "keyword")?) };
        let params = c.handle.capabilities().get(kw).map(str::to_string);
        let s = match &params {
            Some(p) => ffi::owned_bytes(p.as_bytes())?,
            None => std::ptr::null_mut(),
        };
        // SAFETY: checked non-NULL.
        unsafe {
            ffi::put(out_present, params.is_some());
            ffi::put(out_params, s);
        }
        Ok(())
    })
}

/// Every EHLO capability as a JSON object `{"KEYWORD": "params", …}` (`""` for none). Free with
/// `pw_string_free`.
///
/// # Safety
/// `client` is NULL or live; `out` NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn pw_client_capabilities_to_json(
    client: *const pw_client,
    out: *mut *mut c_char,
) -> pw_status {
    // SAFETY: per the contract above.
    unsafe { ffi::put_json!(client, out, |c| c.handle.capabilities().0) }
}

/// The server's 220 banner, as a reply you own (`pw_reply_free`).
///
/// # Safety
/// `client` is NULL or live; `out` NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn pw_client_banner(client: *const pw_client, out: *mut *mut pw_reply) -> pw_status {
    ffi::status(|| {
        non_null!(client, out);
        // SAFETY: checked non-NULL.
        let banner = unsafe { ffi::handle(client) }.handle.banner();
        // SAFETY: checked non-NULL.
        unsafe { put_reply(out, banner) };
        Ok(())
    })
}

/// True when the session runs over TLS (implicit, or after STARTTLS).
///
/// # Safety
/// `client` is NULL or live.
#[no_mangle]
pub unsafe extern "C" fn pw_client_tls(client: *const pw_client) -> bool {
    // SAFETY: per the contract above.
    unsafe { ffi::get!(client, |c| Ok(c.handle.is_tls())) }
}

/// True once the connection is gone (after `pw_client_quit`, or an error that ended it).
///
/// # Safety
/// `client` is NULL or live.
#[no_mangle]
pub unsafe extern "C" fn pw_client_closed(client: *const pw_client) -> bool {
    // SAFETY: per the contract above.
    unsafe { ffi::get!(client, |c| Ok(c.handle.is_closed())) }
}

/// AUTH as `user` with `password`. `mechanism`: `"PLAIN"`, `"LOGIN"`, `"XOAUTH2"`, or `""` to pick
/// PLAIN or LOGIN as offered. `*out` is the server's final reply (yours: `pw_reply_free`).
///
/// # Safety
/// `client` is NULL or live; the strings NULL or C strings; `out` NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn pw_client_login(
    client: *mut pw_client,
    user: *const c_char,
    password: *const c_char,
    mechanism: *const c_char,
    out: *mut *mut pw_reply,
) -> pw_status {
    ffi::status(|| {
        non_null!(client, user, password, mechanism, out);
        // SAFETY: checked non-NULL; live handle and C strings.
        let (c, user, password, mechanism) = unsafe {
            (
                ffi::handle(client),
                ffi::text(user, "user")?,
                ffi::text(password, "password")?,
                ffi::text(mechanism, "mechanism")?,
            )
        };
        let mechanism = (!mechanism.is_empty()).then_some(mechanism);
        let r = c.call(async |s| s.login(user, password, mechanism).await)?;
        // SAFETY: checked non-NULL.
        unsafe { put_reply(out, r) };
        Ok(())
    })
}

/// One transaction: MAIL FROM `mail_from` (`""`: the null sender), RCPT TO each of the
/// `rcpt_count` recipients, then the message (`message_len` bytes; the library dot-stuffs and
/// turns bare LF into CRLF). A recipient refused at RCPT does not fail the send while another
/// was accepted: see `pw_send_result_rejected`. When the send fails, `pw_last_error_reply()` is
/// the server's reply and `pw_last_error_rejected()` lists every refused recipient.
///
/// # Safety
/// `client` is NULL or live; `mail_from` NULL or a C string; `rcpt_to` NULL or `rcpt_count` C
/// strings; `message` NULL or `message_len` readable bytes; `out` NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn pw_client_send(
    client: *mut pw_client,
    mail_from: *const c_char,
    rcpt_to: *const *const c_char,
    rcpt_count: usize,
    message: *const u8,
    message_len: usize,
    out: *mut *mut pw_send_result,
) -> pw_status {
    ffi::status(|| {
        non_null!(client, mail_from, rcpt_to, message, out);
        // SAFETY: checked non-NULL; per the contract above.
        let (c, (from, rcpts, msg)) = unsafe {
            (ffi::handle(client), ffi::mail(mail_from, rcpt_to, rcpt_count, message, message_len)?)
        };
        // A failure carries the refused recipients itself (`Error::rejected`).
        let result = c.call(async |s| s.send(from, &rcpts, msg).await)?;
        // SAFETY: checked non-NULL.
        unsafe { ffi::put(out, ffi::boxed(pw_send_result::new(result))) };
        Ok(())
    })
}

/// A transaction's options (`pw_client_send_with`): the DSN parameters of RFC 3461, sent only
/// when the server offers DSN. Zero fields: none.
#[repr(C)]
#[derive(Debug, Clone)]
pub struct pw_send_options {
    /// `RET=`: `"full"` or `"hdrs"`; NULL: none.
    pub dsn_ret: *const c_char,
    /// `ENVID=` (xtext-encoded by the library); NULL: none.
    pub dsn_envid: *const c_char,
    /// `NOTIFY=` on every RCPT: `"NEVER"` or a list of `SUCCESS`, `FAILURE`, `DELAY`; NULL: none.
    pub dsn_notify: *const c_char,
    /// `PW_SWITCH_ON`: `ORCPT=rfc822;<recipient>` on every RCPT.
    pub dsn_orcpt: pw_switch,
}

impl Default for pw_send_options {
    /// No options (what a zeroed struct means).
    fn default() -> Self {
        pw_send_options {
            dsn_ret: std::ptr::null(),
            dsn_envid: std::ptr::null(),
            dsn_notify: std::ptr::null(),
            dsn_orcpt: crate::options::PW_SWITCH_DEFAULT,
        }
    }
}

impl pw_send_options {
    /// The options value for `host::options::send_options` (`{"dsn": {…}}`, or `{}`).
    ///
    /// # Safety
    /// The pointer fields are NULL or C strings.
    pub(crate) unsafe fn to_host(&self) -> Res<serde_json::Value> {
        let mut dsn = Obj::default();
        // SAFETY: per the contract above.
        unsafe {
            dsn.text("ret", self.dsn_ret)?;
            dsn.text("envid", self.dsn_envid)?;
            dsn.text("notify", self.dsn_notify)?;
        }
        dsn.switch("orcpt", self.dsn_orcpt)?;
        let mut o = Obj::default();
        if !dsn.0.is_empty() {
            o.set("dsn", dsn.value());
        }
        Ok(o.value())
    }
}

/// The envelope (`mail_from`, the `rcpt_count` recipients of `rcpt_to`, the options `opts`) and
/// the message of `pw_client_send_with` and `pw_pool_send_with`.
///
/// # Safety
/// Every pointer checked non-NULL; the rest as `ffi::mail` and `pw_send_options::to_host`.
pub(crate) unsafe fn send_args<'a>(
    mail_from: *const c_char,
    rcpt_to: *const *const c_char,
    rcpt_count: usize,
    message: *const u8,
    message_len: usize,
    opts: *const pw_send_options,
) -> Res<(SendOptions, &'a [u8])> {
    // SAFETY: per the contract above.
    let ((from, rcpts, msg), value) =
        unsafe { (ffi::mail(mail_from, rcpt_to, rcpt_count, message, message_len)?, (*opts).to_host()?) };
    Ok((postwire::host::options::send_options(from, rcpts, value)?, msg))
}

/// `pw_client_send` with a transaction's options (`opts`: DSN parameters).
///
/// # Safety
/// As `pw_client_send`; `opts` NULL or valid.
#[no_mangle]
pub unsafe extern "C" fn pw_client_send_with(
    client: *mut pw_client,
    mail_from: *const c_char,
    rcpt_to: *const *const c_char,
    rcpt_count: usize,
    message: *const u8,
    message_len: usize,
    opts: *const pw_send_options,
    out: *mut *mut pw_send_result,
) -> pw_status {
    ffi::status(|| {
        non_null!(client, mail_from, rcpt_to, message, opts, out);
        // SAFETY: checked non-NULL; per the contract above.
        let (c, (envelope, msg)) = unsafe {
            (ffi::handle(client), send_args(mail_from, rcpt_to, rcpt_count, message, message_len, opts)?)
        };
        let result = c.call(async |s| s.send_with(&envelope, msg).await)?;
        // SAFETY: checked non-NULL.
        unsafe { ffi::put(out, ffi::boxed(pw_send_result::new(result))) };
        Ok(())
    })
}

/// The five simple commands: a command and, where it has one, its argument.
#[derive(Clone, Copy)]
enum Simple {
    Verify,
    Expand,
    Help,
    Noop,
    Reset,
}

/// One simple command, its reply into `out`.
///
/// # Safety
/// As the `extern` functions below.
unsafe fn simple(
    client: *mut pw_client,
    cmd: Simple,
    arg: *const c_char,
    out: *mut *mut pw_reply,
) -> pw_status {
    ffi::status(|| {
        non_null!(client, arg, out);
        // SAFETY: checked non-NULL; live handle and C string.
        let (c, arg) = unsafe { (ffi::handle(client), ffi::text(arg, "argument")?) };
        let r = c.call(async |s| match cmd {
            Simple::Verify => s.verify(arg).await,
            Simple::Expand => s.expand(arg).await,
            Simple::Help => s.help((!arg.is_empty()).then_some(arg)).await,
            Simple::Noop => s.noop().await,
            Simple::Reset => s.reset().await,
        })?;
        // SAFETY: checked non-NULL.
        unsafe { put_reply(out, r) };
        Ok(())
    })
}

/// VRFY `address`; any well-formed reply (252 and 502 included) is `PW_OK` with the reply in
/// `*out` (yours: `pw_reply_free`).
///
/// # Safety
/// `client` is NULL or live; `address` NULL or a C string; `out` NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn pw_client_verify(
    client: *mut pw_client,
    address: *const c_char,
    out: *mut *mut pw_reply,
) -> pw_status {
    // SAFETY: per the contract above.
    unsafe { simple(client, Simple::Verify, address, out) }
}

/// EXPN `name`; as `pw_client_verify`.
///
/// # Safety
/// `client` is NULL or live; `name` NULL or a C string; `out` NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn pw_client_expand(
    client: *mut pw_client,
    name: *const c_char,
    out: *mut *mut pw_reply,
) -> pw_status {
    // SAFETY: per the contract above.
    unsafe { simple(client, Simple::Expand, name, out) }
}

/// HELP `topic` (`""`: HELP without a topic); as `pw_client_verify`.
///
/// # Safety
/// `client` is NULL or live; `topic` NULL or a C string; `out` NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn pw_client_help(
    client: *mut pw_client,
    topic: *const c_char,
    out: *mut *mut pw_reply,
) -> pw_status {
    // SAFETY: per the contract above.
    unsafe { simple(client, Simple::Help, topic, out) }
}

/// NOOP; the reply in `*out` (yours: `pw_reply_free`).
///
/// # Safety
/// `client` is NULL or live; `out` NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn pw_client_noop(client: *mut pw_client, out: *mut *mut pw_reply) -> pw_status {
    // SAFETY: per the contract above; the argument is a static empty string.
    unsafe { simple(client, Simple::Noop, c"".as_ptr(), out) }
}

/// RSET; the reply in `*out` (yours: `pw_reply_free`).
///
/// # Safety
/// `client` is NULL or live; `out` NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn pw_client_reset(client: *mut pw_client, out: *mut *mut pw_reply) -> pw_status {
    // SAFETY: per the contract above; the argument is a static empty string.
    unsafe { simple(client, Simple::Reset, c"".as_ptr(), out) }
}

/// QUIT and close the connection; the session is closed afterwards whatever happened. Still
/// free it with `pw_client_free`.
///
/// # Safety
/// `client` is NULL or live.
#[no_mangle]
pub unsafe extern "C" fn pw_client_quit(client: *mut pw_client) -> pw_status {
    ffi::status(|| {
        non_null!(client);
        // SAFETY: checked non-NULL.
        unsafe { ffi::handle(client) }.call(async |s| s.quit().await)?;
        Ok(())
    })
}

/// The wire log so far: `"C: …"` / `"S: …"` lines joined by `"\n"` (AUTH secrets masked; `*: `
/// lines are the library's notes). Free with `pw_string_free`.
///
/// # Safety
/// `client` is NULL or live; `out` NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn pw_client_transcript(client: *const pw_client, out: *mut *mut c_char) -> pw_status {
    // SAFETY: per the contract above.
    unsafe {
        ffi::get_into!(client, out, |h| {
            let text = h.handle.transcript().join("\n");
            ffi::owned_bytes(text.as_bytes())
        })
    }
}

/// Free a session (closing its connection without QUIT if still open). NULL does nothing.
///
/// # Safety
/// `client` is NULL or a `pw_client` not freed yet, with no call running on it.
#[no_mangle]
pub unsafe extern "C" fn pw_client_free(client: *mut pw_client) {
    // SAFETY: per the contract above.
    ffi::void(|| unsafe { ffi::free(client) })
}
