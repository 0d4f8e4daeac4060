//! C function pointers as the server's hooks: the C end of the core's hook dispatch
//! (`postwire::host::dispatch`). The core's hook thread hands each batch of requests to
//! [`CHooks::handle`], which calls the C function of each one on that thread and sends its
//! answer back. A hook returns `PW_HOOK_ACCEPT`, or `PW_HOOK_REFUSE` after filling its
//! `pw_reply_out` with `pw_reply_out_set`; anything else (or a refusal without a valid reply)
//! answers `451 4.3.0` and the server keeps serving.
//!
//! What a hook is handed — `pw_session`, `pw_params`, `pw_envelope`, the message bytes — is
//! borrowed for the duration of the call only.

use std::ffi::{c_char, c_void, CString};

use postwire::host::{hook_reply, HookRequest};
use postwire::proto::Reply;
use postwire::server::{Envelope, HookSet, SessionInfo};
use serde_json::{json, Value};

use crate::error::pw_status;
use crate::ffi::{self, non_null};
use crate::values::{addr_json, pw_socket_addr};

/// What a hook answers: `PW_HOOK_ACCEPT` (0) or `PW_HOOK_REFUSE` (with its `pw_reply_out` set).
pub type pw_hook_result = u32;
/// Accept (go on with the session / recipient / message).
pub const PW_HOOK_ACCEPT: pw_hook_result = 0;
/// Refuse with the reply set by `pw_reply_out_set` (none set: `451 4.3.0`).
pub const PW_HOOK_REFUSE: pw_hook_result = 1;

/// `on_connect(user_data, session, reply)`: after accept, before the banner; a refusal is sent
/// instead of the banner and the connection closed.
pub type pw_on_connect_fn = Option<
    unsafe extern "C" fn(
        user_data: *mut c_void,
        session: *const pw_session,
        reply: *mut pw_reply_out,
    ) -> pw_hook_result,
>;

/// `on_mail_from(user_data, session, address, params, reply)`: on MAIL after the syntax checks;
/// `address` is `""` for the null sender.
pub type pw_on_mail_from_fn = Option<
    unsafe extern "C" fn(
        user_data: *mut c_void,
        session: *const pw_session,
        address: *const c_char,
        params: *const pw_params,
        reply: *mut pw_reply_out,
    ) -> pw_hook_result,
>;

/// `on_rcpt_to(user_data, session, address, params, reply)`: on RCPT, after the relay policy
/// accepted the recipient.
pub type pw_on_rcpt_to_fn = pw_on_mail_from_fn;

/// `on_message(user_data, session, envelope, data, data_len, reply)`: after the end of the data,
/// before the reply; `data` is the message with our Received line on top. A refusal is what the
/// client gets after its final dot.
pub type pw_on_message_fn = Option<
    unsafe extern "C" fn(
        user_data: *mut c_void,
        session: *const pw_session,
        envelope: *const pw_envelope,
        data: *const u8,
        data_len: usize,
        reply: *mut pw_reply_out,
    ) -> pw_hook_result,
>;

/// `auth(user_data, user, password)`: true accepts the credentials, false refuses (`535`).
pub type pw_auth_fn = Option<
    unsafe extern "C" fn(user_data: *mut c_void, user: *const c_char, password: *const c_char) -> bool,
>;

/// The session a hook is called for (borrowed for the call).
pub struct pw_session {
    info: SessionInfo,
    id: CString,
    helo: Option<CString>,
    user: Option<CString>,
}

impl pw_session {
    fn new(info: SessionInfo) -> Self {
        pw_session {
            id: ffi::c_string(&info.id),
            helo: info.helo.as_deref().map(ffi::c_string),
            user: info.authenticated_user.as_deref().map(ffi::c_string),
            info,
        }
    }
}

/// The ESMTP parameters of a MAIL or RCPT command (borrowed for the hook call).
pub struct pw_params {
    pairs: Vec<(String, Option<String>)>,
    c: Vec<(CString, Option<CString>)>,
}

impl pw_params {
    fn new(pairs: Vec<(String, Option<String>)>) -> Self {
        let c = pairs.iter().map(|(k, v)| (ffi::c_string(k), v.as_deref().map(ffi::c_string))).collect();
        pw_params { pairs, c }
    }
}

/// One ESMTP parameter, borrowed from its `pw_params`.
#[repr(C)]
pub struct pw_param {
    /// The keyword, upper-case (`"SIZE"`).
    pub keyword: *const c_char,
    /// The value (`"1024"`), NULL for a keyword without one.
    pub value: *const c_char,
}

/// The envelope of a message (borrowed for the `on_message` call).
pub struct pw_envelope {
    envelope: Envelope,
    mail_from: CString,
    rcpt_to: Vec<CString>,
}

impl pw_envelope {
    fn new(envelope: Envelope) -> Self {
        pw_envelope {
            mail_from: ffi::c_string(&envelope.mail_from),
            rcpt_to: envelope.rcpt_to.iter().map(|r| ffi::c_string(r)).collect(),
            envelope,
        }
    }
}

/// Where a hook puts its refusal (`pw_reply_out_set`).
#[derive(Default)]
pub struct pw_reply_out {
    reply: Option<Reply>,
}

/// The hooks and `user_data` of one server, called on the core's hook thread.
pub struct CHooks {
    /// Passed back to every hook, never dereferenced by the library.
    pub user_data: UserData,
    /// Hooks (NULL: not set).
    pub on_connect: pw_on_connect_fn,
    /// See [`pw_on_mail_from_fn`].
    pub on_mail_from: pw_on_mail_from_fn,
    /// See [`pw_on_rcpt_to_fn`].
    pub on_rcpt_to: pw_on_rcpt_to_fn,
    /// See [`pw_on_message_fn`].
    pub on_message: pw_on_message_fn,
    /// See [`pw_auth_fn`].
    pub auth: pw_auth_fn,
}

/// The caller's `user_data`: only handed back to the caller's functions, on the hook thread (the
/// caller promised, by giving it, that its hooks may use it there).
#[derive(Clone, Copy)]
pub struct UserData(pub *mut c_void);
// SAFETY: the library never dereferences it; it is handed back to the C hooks, which the caller
// wrote to be called from the library's hook thread (documented on pw_server_options).
unsafe impl Send for UserData {}
// SAFETY: as above.
unsafe impl Sync for UserData {}

/// What a hook's return value and reply make of the request's answer.
fn answer(result: pw_hook_result, out: pw_reply_out, what: &str) -> Result<Option<Reply>, String> {
    match (result, out.reply) {
        (PW_HOOK_ACCEPT, _) => Ok(None),
        (PW_HOOK_REFUSE, Some(r)) => Ok(Some(r)),
        (PW_HOOK_REFUSE, None) => Err(format!("{what} refused without setting a reply (pw_reply_out_set)")),
        (n, _) => Err(format!("{what} returned {n}, which is not a pw_hook_result")),
    }
}

impl CHooks {
    /// Which hooks are set.
    pub fn set(&self) -> HookSet {
        HookSet {
            connect: self.on_connect.is_some(),
            mail_from: self.on_mail_from.is_some(),
            rcpt_to: self.on_rcpt_to.is_some(),
            message: self.on_message.is_some(),
        }
    }

    /// Call the C hook of `req` and answer it.
    pub fn handle(&self, req: HookRequest) {
        let what = req.name();
        let ud = self.user_data.0;
        let mut out = pw_reply_out::default();
        match req {
            HookRequest::Connect { session, respond } => {
                let Some(f) = self.on_connect else { return respond.fail("on_connect is not set") };
                let s = pw_session::new(session);
                // SAFETY: a C function the caller gave for this hook; every pointer is valid for
                // the call.
                let r = unsafe { f(ud, &s, &mut out) };
                respond.answer(answer(r, out, what));
            }
            HookRequest::MailFrom { session, address, params, respond } => {
                let Some(f) = self.on_mail_from else { return respond.fail("on_mail_from is not set") };
                let (s, a, p) =
                    (pw_session::new(session), ffi::c_string(&address), pw_params::new(params.to_pairs()));
                // SAFETY: as above.
                let r = unsafe { f(ud, &s, a.as_ptr(), &p, &mut out) };
                respond.answer(answer(r, out, what));
            }
            HookRequest::RcptTo { session, address, params, respond } => {
                let Some(f) = self.on_rcpt_to else { return respond.fail("on_rcpt_to is not set") };
                let (s, a, p) =
                    (pw_session::new(session), ffi::c_string(&address), pw_params::new(params.to_pairs()));
                // SAFETY: as above.
                let r = unsafe { f(ud, &s, a.as_ptr(), &p, &mut out) };
                respond.answer(answer(r, out, what));
            }
            HookRequest::Message { session, envelope, data, respond } => {
                let Some(f) = self.on_message else { return respond.fail("on_message is not set") };
                let (s, e) = (pw_session::new(session), pw_envelope::new(envelope));
                // SAFETY: as above; `data` outlives the call.
                let r = unsafe { f(ud, &s, &e, data.as_ptr(), data.len(), &mut out) };
                respond.answer(answer(r, out, what));
            }
            HookRequest::Auth { user, password, respond } => {
                let Some(f) = self.auth else { return respond.fail("auth is not set") };
                let (u, p) = (ffi::c_string(&user), ffi::c_string(&password));
                // SAFETY: as above.
                respond.ok(unsafe { f(ud, u.as_ptr(), p.as_ptr()) });
            }
        }
    }
}

/// Set the refusal a hook answers with when it returns `PW_HOOK_REFUSE`: `code` 200..599 and
/// `text` (an enhanced code at its start, `"5.1.1 no such user"`, is recognised). Call it only
/// on the `reply` a hook was handed, during that call.
///
/// # Safety
/// `reply` is NULL or the hook's `pw_reply_out`; `text` NULL or a C string.
#[no_mangle]
pub unsafe extern "C" fn pw_reply_out_set(
    reply: *mut pw_reply_out,
    code: u16,
    text: *const c_char,
) -> pw_status {
    ffi::status(|| {
        non_null!(reply, text);
        // SAFETY: checked non-NULL; a C string.
        let t = unsafe { ffi::text(text, "text") }?;
        let r = hook_reply(i64::from(code), t).map_err(postwire::Error::invalid_input)?;
        // SAFETY: checked non-NULL; the hook's exclusive out-parameter for this call.
        unsafe { &mut *reply }.reply = Some(r);
        Ok(())
    })
}

/// The session id (also the prefix of its queue ids in the logs). Borrowed.
///
/// # Safety
/// `session` is NULL or the session a hook was handed, during that call.
#[no_mangle]
pub unsafe extern "C" fn pw_session_id(session: *const pw_session) -> *const c_char {
    // SAFETY: per the contract above.
    unsafe { ffi::get!(session, |s| Ok(s.id.as_ptr())) }
}

/// The HELO/EHLO name, NULL before the client gave one. Borrowed.
///
/// # Safety
/// `session` is NULL or the session a hook was handed, during that call.
#[no_mangle]
pub unsafe extern "C" fn pw_session_helo(session: *const pw_session) -> *const c_char {
    // SAFETY: per the contract above.
    unsafe { ffi::get!(session, |s| Ok(ffi::opt_ptr(&s.helo))) }
}

/// The user authenticated with AUTH, NULL when none. Borrowed.
///
/// # Safety
/// `session` is NULL or the session a hook was handed, during that call.
#[no_mangle]
pub unsafe extern "C" fn pw_session_authenticated_user(session: *const pw_session) -> *const c_char {
    // SAFETY: per the contract above.
    unsafe { ffi::get!(session, |s| Ok(ffi::opt_ptr(&s.user))) }
}

/// True after STARTTLS.
///
/// # Safety
/// `session` is NULL or the session a hook was handed, during that call.
#[no_mangle]
pub unsafe extern "C" fn pw_session_tls(session: *const pw_session) -> bool {
    // SAFETY: per the contract above.
    unsafe { ffi::get!(session, |s| Ok(s.info.tls)) }
}

/// The client's address (`local`: false) or ours it connected to (`local`: true).
///
/// # Safety
/// `session` is NULL or the session a hook was handed, during that call; `out` NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn pw_session_address(
    session: *const pw_session,
    local: bool,
    out: *mut pw_socket_addr,
) -> pw_status {
    // SAFETY: per the contract above.
    unsafe {
        ffi::get_into!(session, out, |h| {
            let info = &h.info;
            let a = if local { info.local } else { info.peer };
            Ok(a.into())
        })
    }
}

/// The session as JSON: `{"id", "peer": {"ip", "port"}, "local", "helo", "tls",
/// "authenticated_user"}`. Free with `pw_string_free`.
///
/// # Safety
/// `session` is NULL or the session a hook was handed, during that call; `out` NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn pw_session_to_json(session: *const pw_session, out: *mut *mut c_char) -> pw_status {
    // SAFETY: per the contract above.
    unsafe {
        ffi::put_json!(session, out, |h| {
            let i = &h.info;
            json!({
                "id": i.id, "peer": addr_json(i.peer), "local": addr_json(i.local), "helo": i.helo,
                "tls": i.tls, "authenticated_user": i.authenticated_user,
            })
        })
    }
}

/// How many ESMTP parameters the command had.
///
/// # Safety
/// `params` is NULL or the parameters a hook was handed, during that call.
#[no_mangle]
pub unsafe extern "C" fn pw_params_count(params: *const pw_params) -> usize {
    // SAFETY: per the contract above.
    unsafe { ffi::get!(params, |p| Ok(p.c.len())) }
}

/// Parameter `index` (keyword, value), borrowed. `PW_INVALID_INPUT` past the end.
///
/// # Safety
/// `params` is NULL or the parameters a hook was handed, during that call; `out` NULL or
/// writable.
#[no_mangle]
pub unsafe extern "C" fn pw_params_get(
    params: *const pw_params,
    index: usize,
    out: *mut pw_param,
) -> pw_status {
    // SAFETY: per the contract above.
    unsafe {
        ffi::get_into!(params, out, |p| {
            let (k, v) = ffi::at(&p.c, index, "parameter")?;
            Ok(pw_param { keyword: k.as_ptr(), value: ffi::opt_ptr(v) })
        })
    }
}

/// The parameters as a JSON object `{"KEYWORD": "value" or null}`. Free with `pw_string_free`.
///
/// # Safety
/// `params` is NULL or the parameters a hook was handed, during that call; `out` NULL or
/// writable.
#[no_mangle]
pub unsafe extern "C" fn pw_params_to_json(params: *const pw_params, out: *mut *mut c_char) -> pw_status {
    // SAFETY: per the contract above.
    unsafe {
        ffi::put_json!(params, out, |p| {
            p.pairs.iter().map(|(k, v)| (k.clone(), json!(v))).collect::<serde_json::Map<String, Value>>()
        })
    }
}

/// The envelope sender (`""`: the null sender). Borrowed.
///
/// # Safety
/// `envelope` is NULL or the envelope a hook was handed, during that call.
#[no_mangle]
pub unsafe extern "C" fn pw_envelope_mail_from(envelope: *const pw_envelope) -> *const c_char {
    // SAFETY: per the contract above.
    unsafe { ffi::get!(envelope, |e| Ok(e.mail_from.as_ptr())) }
}

/// How many recipients were accepted.
///
/// # Safety
/// `envelope` is NULL or the envelope a hook was handed, during that call.
#[no_mangle]
pub unsafe extern "C" fn pw_envelope_rcpt_count(envelope: *const pw_envelope) -> usize {
    // SAFETY: per the contract above.
    unsafe { ffi::get!(envelope, |e| Ok(e.rcpt_to.len())) }
}

/// Recipient `index`, borrowed; NULL past the end.
///
/// # Safety
/// `envelope` is NULL or the envelope a hook was handed, during that call.
#[no_mangle]
pub unsafe extern "C" fn pw_envelope_rcpt(envelope: *const pw_envelope, index: usize) -> *const c_char {
    // SAFETY: per the contract above.
    unsafe { ffi::get!(envelope, |e| Ok(ffi::at(&e.rcpt_to, index, "recipient")?.as_ptr())) }
}

/// The envelope as JSON: `{"mail_from", "rcpt_to", "mail_params", "rcpt_params"}` (parameters as
/// `{"KEYWORD": "value" or null}` objects, one per recipient). Free with `pw_string_free`.
///
/// # Safety
/// `envelope` is NULL or the envelope a hook was handed, during that call; `out` NULL or
/// writable.
#[no_mangle]
pub unsafe extern "C" fn pw_envelope_to_json(
    envelope: *const pw_envelope,
    out: *mut *mut c_char,
) -> pw_status {
    // SAFETY: per the contract above.
    unsafe {
        ffi::put_json!(envelope, out, |h| {
            let e = &h.envelope;
            let obj = |pairs: Vec<(String, Option<String>)>| -> serde_json::Map<String, Value> {
                pairs.into_iter().map(|(k, v)| (k, json!(v))).collect()
            };
            json!({
                "mail_from": e.mail_from,
                "rcpt_to": e.rcpt_to,
                "mail_params": obj(e.mail_params.to_pairs()),
                "rcpt_params": e.rcpt_params.iter().map(|p| obj(p.to_pairs())).collect::<Vec<_>>(),
            })
        })
    }
}
