//! JS functions as the server's hooks and authenticator: the Node end of the core's hook
//! dispatch (`postwire::host::dispatch`, callback mode).
//!
//! The core hands each hook call (a `HookRequest`: arguments + responder) to one
//! threadsafe function per server, which runs it on the JS thread: the hook is called with
//! JS values, and its result answers the responder — at once for a plain value, when it settles
//! for a Promise. A hook that throws, rejects or returns something that is not an answer fails
//! the request, and the core answers `451 4.3.0` (and logs why); a hook that never settles is
//! cut by the server's `hookTimeout`. The threadsafe function is weak: hooks never keep the
//! process alive (a started server does, see `server.rs`).
//!
//! Answers: `undefined`/`null` accepts; `[code, text]`, `{code, text}` or a `Reply` refuses
//! (the code checked by the core's `hook_reply`); `auth` answers with a truthy or falsy value.

use std::cell::Cell;
use std::rc::Rc;
use std::sync::Arc;
use std::time::Duration;

use napi::bindgen_prelude::{
    Buffer, CallbackContext, ClassInstance, FromNapiValue, Function, FunctionRef, JavaScriptClassExt,
    JsObjectValue, JsValue, JsValuesTupleIntoVec, PromiseRaw, ToNapiValue, Unknown,
};
use napi::threadsafe_function::{ThreadsafeFunction, ThreadsafeFunctionCallMode};
use napi::{Env, Status, ValueType};
use postwire::host::{hook_reply, HookDispatch, HookRequest, Responder};
use postwire::server::HookSet;

use crate::hook_args::HookArgs;
use crate::options::{AddressArgs, AuthArgs, ConnectArgs, MessageArgs};
use crate::values::{params, Reply};

/// A hook kept past the constructor call.
type HookRef<A> = FunctionRef<A, Unknown<'static>>;

/// The hooks given as JS functions (each optional).
#[derive(Default)]
pub struct JsHooks {
    pub connect: Option<HookRef<ConnectArgs>>,
    pub mail_from: Option<HookRef<AddressArgs>>,
    pub rcpt_to: Option<HookRef<AddressArgs>>,
    pub message: Option<HookRef<MessageArgs>>,
    pub auth: Option<HookRef<AuthArgs>>,
}

/// Carries hook requests to the JS thread (weak: never holds the process open).
type HookFn = ThreadsafeFunction<HookRequest, (), (), Status, false, true>;

/// How a hook's JS result becomes the answer.
type Convert<T> = fn(&Env, Unknown<'_>) -> Result<T, String>;

impl JsHooks {
    /// True when at least one hook or a callable `auth` was given.
    pub fn any(&self) -> bool {
        self.set() != HookSet::NONE || self.auth.is_some()
    }

    fn set(&self) -> HookSet {
        HookSet {
            connect: self.connect.is_some(),
            mail_from: self.mail_from.is_some(),
            rcpt_to: self.rcpt_to.is_some(),
            message: self.message.is_some(),
        }
    }

    /// The core's dispatch calling these hooks on the JS thread of `env`: at once when the
    /// request is made inside a tick of that thread's runtime (`uvloop.rs`: the sessions of a
    /// server with `on_js_thread` run on the JS thread), else through a threadsafe function.
    pub fn dispatch(
        self,
        env: &Env,
        hook_timeout: Duration,
        on_js_thread: bool,
    ) -> napi::Result<HookDispatch> {
        let set = self.set();
        // Only a JS-thread server's hooks are called in a tick (a `'runtime'` server's requests
        // come from runtime threads, which never tick).
        let context = if on_js_thread {
            Some(crate::uvloop::AsyncContext::new(env, c"postwire.Server")?)
        } else {
            None
        };
        let hooks = Arc::new(Handler { args: HookArgs::new(env)?, hooks: self, context });
        let queued = Arc::clone(&hooks);
        let carrier: Function<'_, (), ()> = env.create_function_from_closure("postwireHooks", |_| Ok(()))?;
        let tsfn: HookFn = carrier
            .build_threadsafe_function::<HookRequest>()
            .callee_handled::<false>()
            .weak::<true>()
            .build_callback(move |ctx| {
                queued.handle(&ctx.env, ctx.value);
                // Never an Err out of here: napi would make it a fatal exception.
                Ok(())
            })?;
        // The env as a number: the callback must be Send, and only this thread dereferences it.
        let raw_env = env.raw() as usize;
        Ok(HookDispatch::with_callback(set, hook_timeout, move |req| {
            let raw = raw_env as napi::sys::napi_env;
            if let (true, Some(context)) = (crate::uvloop::ticking(raw), &hooks.context) {
                let env = Env::from_raw(raw);
                crate::uvloop::in_scope(raw, context, || hooks.handle(&env, req));
                return;
            }
            // Not queued (the environment is closing): the request is dropped here, which
            // answers the session 451.
            let _ = tsfn.call(req, ThreadsafeFunctionCallMode::NonBlocking);
        }))
    }
}

/// The hooks, what builds their arguments, and the async context they run in when called in a
/// tick (JS-thread servers; the threadsafe function has its own, made at the same moment).
struct Handler {
    hooks: JsHooks,
    args: HookArgs,
    context: Option<crate::uvloop::AsyncContext>,
}

impl Handler {
    /// Run one request on the JS thread.
    fn handle(&self, env: &Env, req: HookRequest) {
        self.call(env, req);
        clear_pending(env);
    }

    fn call(&self, env: &Env, req: HookRequest) {
        let (h, a) = (&self.hooks, &self.args);
        match req {
            HookRequest::Connect { session, respond } => {
                run(env, "onConnect", &h.connect, respond, to_reply, || {
                    Ok(vec![a.session(env, session)?.raw()])
                })
            }
            HookRequest::MailFrom { session, address, params: p, respond } => {
                run(env, "onMailFrom", &h.mail_from, respond, to_reply, || {
                    Ok(vec![
                        a.session(env, session)?.raw(),
                        js(env, address)?,
                        js(env, params(p.to_pairs()))?,
                    ])
                })
            }
            HookRequest::RcptTo { session, address, params: p, respond } => {
                run(env, "onRcptTo", &h.rcpt_to, respond, to_reply, || {
                    Ok(vec![
                        a.session(env, session)?.raw(),
                        js(env, address)?,
                        js(env, params(p.to_pairs()))?,
                    ])
                })
            }
            HookRequest::Message { session, envelope, data, respond } => {
                run(env, "onMessage", &h.message, respond, to_reply, || {
                    Ok(vec![
                        a.session(env, session)?.raw(),
                        a.envelope(env, envelope)?.raw(),
                        message(env, data)?,
                    ])
                })
            }
            HookRequest::Auth { user, password, respond } => {
                run(env, "auth", &h.auth, respond, to_bool, || Ok(vec![js(env, user)?, js(env, password)?]))
            }
        }
    }
}

/// An exception left pending while a hook's answer was read (a `code` getter that throws) goes
/// to the log: the session was answered `451` for that answer already, and an exception left
/// pending would surface as an uncaught one, far from its cause.
fn clear_pending(env: &Env) {
    // SAFETY: a live env on its JS thread.
    if let Some(e) = unsafe { crate::completion::take_exception(env.raw()) } {
        // SAFETY: a live value of this env, just taken.
        let e = unsafe { Unknown::from_raw_unchecked(env.raw(), e) };
        tracing::warn!(error = %describe(e), "a hook's answer threw while it was read");
    }
}

/// Messages up to this size reach `onMessage` in a Buffer of their own (a copy); larger ones in
/// a Buffer over the core's bytes (no copy, but a finalizer and a weak handle each, which cost
/// more than copying a few KiB: the external Buffer was 3.4 % of the server's CPU with 1 KiB
/// messages, `perf record --call-graph dwarf` on bench/node_sink.js).
const COPY_UP_TO: usize = 64 * 1024;

/// The message as a Buffer (see [`COPY_UP_TO`]).
fn message(env: &Env, bytes: Arc<Vec<u8>>) -> napi::Result<napi::sys::napi_value> {
    if bytes.len() > COPY_UP_TO {
        // The core keeps no other reference in the common case: no copy then.
        let owned = Arc::try_unwrap(bytes).unwrap_or_else(|shared| shared.as_ref().clone());
        return js(env, Buffer::from(owned));
    }
    let (mut data, mut out) = (std::ptr::null_mut(), std::ptr::null_mut());
    // SAFETY: a live env on its JS thread; napi copies `bytes` before this returns.
    unsafe {
        napi::check_status!(napi::sys::napi_create_buffer_copy(
            env.raw(),
            bytes.len(),
            bytes.as_ptr().cast(),
            &mut data,
            &mut out
        ))?;
    }
    Ok(out)
}

/// A Rust value as a JS one.
fn js<T: ToNapiValue>(env: &Env, v: T) -> napi::Result<napi::sys::napi_value> {
    // SAFETY: a live env on its JS thread.
    unsafe { T::to_napi_value(env.raw(), v) }
}

/// Call `hook(...args())` and answer `respond` with its (eventual) converted result.
fn run<A: JsValuesTupleIntoVec, T: 'static>(
    env: &Env,
    name: &'static str,
    hook: &Option<HookRef<A>>,
    respond: Responder<T>,
    convert: Convert<T>,
    args: impl FnOnce() -> napi::Result<Vec<napi::sys::napi_value>>,
) {
    let Some(hook) = hook else { return respond.fail(format!("{name} is not set")) };
    if respond.is_closed() {
        // The session stopped waiting (hook_timeout, or it closed) while the call was queued.
        return;
    }
    match args().and_then(|args| call(env, hook, &args)) {
        Err(e) => respond.fail(format!("{name} threw: {}", e.reason)),
        Ok(value) => settle(env, name, value, respond, convert),
    }
}

/// `hook(...args)` with `this` undefined; a thrown exception becomes the error (and is no longer
/// pending), as in napi-rs's `Function::call`.
fn call<'e, A: JsValuesTupleIntoVec>(
    env: &'e Env,
    hook: &HookRef<A>,
    args: &[napi::sys::napi_value],
) -> napi::Result<Unknown<'e>> {
    let f = hook.borrow_back(env)?;
    let (raw, mut this, mut out) = (env.raw(), std::ptr::null_mut(), std::ptr::null_mut());
    // SAFETY: live values of this env, on its thread.
    unsafe {
        napi::check_status!(napi::sys::napi_get_undefined(raw, &mut this))?;
        napi::check_pending_exception!(
            raw,
            napi::sys::napi_call_function(raw, this, f.raw(), args.len(), args.as_ptr(), &mut out)
        )?;
        Ok(Unknown::from_raw_unchecked(raw, out))
    }
}

/// Answer with `value`, or with what it settles to when it is a Promise.
fn settle<T: 'static>(
    env: &Env,
    name: &'static str,
    value: Unknown<'_>,
    respond: Responder<T>,
    convert: Convert<T>,
) {
    if !value.is_promise().unwrap_or(false) {
        return respond.answer(convert(env, value));
    }
    // SAFETY: `value` is a live promise of this environment (checked just above).
    let promise = match unsafe { PromiseRaw::<Unknown<'_>>::from_napi_value(env.raw(), value.raw()) } {
        Ok(p) => p,
        Err(e) => return respond.fail(format!("{name} returned a promise that cannot be awaited: {e}")),
    };
    // Whichever of then/catch runs first answers; the responder is used once.
    let on_ok = Rc::new(Cell::new(Some(respond)));
    let on_err = Rc::clone(&on_ok);
    let attached = promise
        .then(move |ctx: CallbackContext<Unknown<'_>>| {
            if let Some(r) = on_ok.take() {
                r.answer(convert(&ctx.env, ctx.value));
            }
            Ok(())
        })
        .and_then(|p| {
            p.catch(move |ctx: CallbackContext<Unknown<'_>>| {
                if let Some(r) = on_err.take() {
                    r.fail(format!("{name} rejected: {}", describe(ctx.value)));
                }
                Ok(())
            })
        });
    // Err: the callbacks were not attached; dropping them (with the responder) answers 451.
    drop(attached);
}

/// A thrown or rejected value as text for the log: an Error's message, else its string form.
fn describe(v: Unknown<'_>) -> String {
    let message = v
        .coerce_to_object()
        .ok()
        .filter(|_| v.get_type().ok() == Some(ValueType::Object))
        .and_then(|o| o.get_named_property::<Option<String>>("message").ok().flatten());
    message
        .or_else(|| v.coerce_to_string().ok().and_then(|s| s.into_utf8().ok()?.into_owned().ok()))
        .unwrap_or_else(|| "a value that is not text".into())
}

/// A hook's answer: `undefined`/`null` accepts; `[code, text]`, `{code, text}` or a `Reply`
/// refuses.
fn to_reply(env: &Env, v: Unknown<'_>) -> Result<Option<postwire::Reply>, String> {
    let kind = v.get_type().map_err(|e| e.to_string())?;
    if matches!(kind, ValueType::Undefined | ValueType::Null) {
        return Ok(None);
    }
    let expected = || {
        format!("hook returned {}, expected nothing, [code, text], {{code, text}} or a Reply", describe(v))
    };
    if kind != ValueType::Object {
        return Err(expected());
    }
    if Reply::instance_of(env, &v).unwrap_or(false) {
        // SAFETY: `v` is a live `Reply` instance of this environment (checked just above).
        let r = unsafe { ClassInstance::<Reply>::from_napi_value(env.raw(), v.raw()) }
            .map_err(|e| e.to_string())?;
        return Ok(Some(r.inner.clone()));
    }
    let obj = v.coerce_to_object().map_err(|e| e.to_string())?;
    let (code, text): (Option<f64>, Option<String>) = if v.is_array().unwrap_or(false) {
        (obj.get_element(0).ok(), obj.get_element(1).ok())
    } else {
        (obj.get_named_property("code").ok(), obj.get_named_property("text").ok())
    };
    let code = code.filter(|c| c.fract() == 0.0).ok_or_else(expected)?;
    hook_reply(code as i64, text.as_deref().unwrap_or("")).map(Some)
}

/// `auth`'s answer: JS truthiness.
fn to_bool(_env: &Env, v: Unknown<'_>) -> Result<bool, String> {
    v.coerce_to_bool().map_err(|e| format!("auth answered {e}"))
}
