//! The Node end of the core's completion queue: one channel per JS environment through which
//! every Promise the addon returns is settled.
//!
//! napi's own `spawn_future` gives each Promise a `JsDeferred` with its own threadsafe function
//! (a uv_async handle, a queue and a mutex): about 18 KiB of memory per pending call, so 20,000
//! `pool.send`s queued at once peaked at ~365 MiB. Here, as in the Python binding
//! (`postwire::host::completion`), a call's future runs on the shared runtime and its result is
//! pushed onto the environment's [`Inbox`]; the runtime thread wakes the JS thread — through the
//! ONE threadsafe function of the environment — only when the inbox was empty, so a burst of
//! completions costs one wake-up. On the JS thread the wake takes the whole inbox and settles
//! each Promise with the `napi_deferred` and the `done` conversion kept for it in a JS-thread-only
//! map (neither is `Send`; neither ever leaves the JS thread).
//!
//! Keep-alive is napi's: while a Promise is pending the process stays alive, with none pending
//! the addon holds nothing. The threadsafe function is created weak and is ref'd when the
//! pending count goes 0 → 1 and unref'd at 1 → 0, both on the JS thread.
//!
//! One channel per JS thread (each `worker_threads` worker has its own environment and thread),
//! found through a thread-local pointer. It is freed by an environment cleanup hook, which runs
//! on the JS thread before Node finalizes the threadsafe function: pending Promises are dropped
//! unsettled (their environment is going away), and a runtime thread finishing a call later
//! pushes into an inbox nobody drains and finds the threadsafe function closed — napi's wrapper
//! refuses the call once Node finalized it, so nothing touches a freed environment. A future that
//! panics rejects its Promise (`host::completion::spawn_caught`).

use std::any::Any;
use std::cell::{Cell, RefCell};
use std::collections::HashMap;
use std::future::Future;
use std::ptr;
use std::sync::Arc;

use napi::bindgen_prelude::{Function, PromiseRaw, ToNapiValue};
use napi::threadsafe_function::{ThreadsafeFunction, ThreadsafeFunctionCallMode};
use napi::{sys, Env, Status};
use postwire::host::{spawn_caught, Inbox};

use crate::error::to_napi;

/// A finished call: its id and `std::thread::Result<postwire::Result<T>>`, boxed.
type Finished = (u64, Box<dyn Any + Send>);

/// Wakes the JS thread (weak at creation; ref'd while Promises are pending).
type WakeFn = ThreadsafeFunction<(), (), (), Status, false, true>;

/// What runtime threads share with the JS thread.
struct Shared {
    inbox: Inbox<Finished>,
    wake: WakeFn,
}

/// Settles one Promise from its finished result (JS thread): the resolved value, or the error
/// to reject with.
type Settle = Box<dyn FnOnce(&Env, Box<dyn Any + Send>) -> napi::Result<sys::napi_value>>;

/// A Promise waiting for its result (JS thread only).
struct Pending {
    deferred: sys::napi_deferred,
    settle: Settle,
}

/// The channel of one JS environment (JS thread only).
struct Channel {
    env: sys::napi_env,
    shared: Arc<Shared>,
    pending: RefCell<HashMap<u64, Pending>>,
    next_id: Cell<u64>,
    /// Whether the threadsafe function is ref'd (keeps the event loop alive).
    reffed: Cell<bool>,
}

thread_local! {
    /// This JS thread's channel; freed by [`teardown`] (a pointer, not an owning value: nothing
    /// may drop it after its environment is gone, as thread-local destructors at exit would).
    static CHANNEL: Cell<*const Channel> = const { Cell::new(ptr::null()) };
}

/// The channel of `env`'s thread, created on first use.
fn channel(env: &Env) -> napi::Result<&'static Channel> {
    let current = CHANNEL.with(Cell::get);
    if !current.is_null() {
        // SAFETY: set below from a leaked Box, cleared (before the Box is freed) by `teardown`
        // on this same thread; the channel is only used on this thread, between JS calls.
        let ch = unsafe { &*current };
        if ch.env == env.raw() {
            return Ok(ch);
        }
    }
    let carrier: Function<'_, (), ()> = env.create_function_from_closure("postwireCompletion", |_| Ok(()))?;
    let wake: WakeFn =
        carrier.build_threadsafe_function::<()>().callee_handled::<false>().weak::<true>().build_callback(
            |ctx| {
                drain(&ctx.env);
                // Never an Err out of here: napi would make it a fatal exception.
                Ok(())
            },
        )?;
    let ch = Box::into_raw(Box::new(Channel {
        env: env.raw(),
        shared: Arc::new(Shared { inbox: Inbox::default(), wake }),
        pending: RefCell::new(HashMap::new()),
        next_id: Cell::new(0),
        reffed: Cell::new(false),
    }));
    // SAFETY: a live env on its JS thread; `teardown` receives the pointer just leaked.
    let status = unsafe { sys::napi_add_env_cleanup_hook(env.raw(), Some(teardown), ch.cast()) };
    if status != sys::Status::napi_ok {
        // SAFETY: not published anywhere yet.
        drop(unsafe { Box::from_raw(ch) });
        return Err(napi::Error::new(Status::GenericFailure, "cannot register the completion cleanup hook"));
    }
    // A channel of an environment that went away without its hook running cannot be freed
    // safely (its threadsafe function may be alive or not): it is left as it is.
    CHANNEL.with(|c| c.set(ch));
    // SAFETY: just leaked; freed only by `teardown`.
    Ok(unsafe { &*ch })
}

/// Environment cleanup hook (JS thread, the environment being torn down): forget the channel
/// and free it. Pending Promises are dropped unsettled.
unsafe extern "C" fn teardown(arg: *mut std::ffi::c_void) {
    let ch = arg.cast::<Channel>().cast_const();
    CHANNEL.with(|c| {
        if c.get() == ch {
            c.set(ptr::null());
        }
    });
    // SAFETY: the pointer leaked by `channel`, handed to this hook once.
    let ch = unsafe { Box::from_raw(ch.cast_mut()) };
    // Dropping the settle closures and their captures here, while the environment still exists.
    let _ = std::panic::catch_unwind(std::panic::AssertUnwindSafe(move || drop(ch)));
}

impl Channel {
    /// Ref (`true`) or unref the threadsafe function (JS thread).
    fn keep_alive(&self, on: bool) {
        if self.reffed.get() == on {
            return;
        }
        let wake = &self.shared.wake;
        let status = wake.handle.with_read_aborted(|aborted| {
            if aborted {
                return sys::Status::napi_closing;
            }
            // SAFETY: our env, on its JS thread; the threadsafe function is not finalized
            // (checked under napi's lock).
            unsafe {
                if on {
                    sys::napi_ref_threadsafe_function(self.env, wake.raw())
                } else {
                    sys::napi_unref_threadsafe_function(self.env, wake.raw())
                }
            }
        });
        if status == sys::Status::napi_ok {
            self.reffed.set(on);
        }
    }
}

/// Take everything the runtime finished and settle those Promises (the threadsafe function's
/// callback, JS thread).
fn drain(env: &Env) {
    let current = CHANNEL.with(Cell::get);
    if current.is_null() {
        return;
    }
    // SAFETY: see `channel`.
    let ch = unsafe { &*current };
    for (id, out) in ch.shared.inbox.take() {
        let Some(p) = ch.pending.borrow_mut().remove(&id) else { continue };
        settle(env, p, out);
    }
    let idle = {
        let mut pending = ch.pending.borrow_mut();
        if pending.is_empty() && pending.capacity() > 1024 {
            // A burst of 20,000 calls leaves no table that size behind (a small one stays: calls
            // awaited one at a time would free and allocate it for each call).
            pending.shrink_to_fit();
        }
        pending.is_empty()
    };
    if idle {
        ch.keep_alive(false);
    }
}

/// Resolve or reject one Promise, in a handle scope of its own (a drain may settle thousands).
fn settle(env: &Env, p: Pending, out: Box<dyn Any + Send>) {
    let raw = env.raw();
    let mut scope = ptr::null_mut();
    // SAFETY: a live env on its JS thread (inside the threadsafe function's callback).
    let opened = unsafe { sys::napi_open_handle_scope(raw, &mut scope) } == sys::Status::napi_ok;
    let settled = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| (p.settle)(env, out)))
        .unwrap_or_else(|_| {
            Err(napi::Error::from_reason("postwire: internal error (settling a Promise panicked)"))
        });
    // SAFETY: `p.deferred` came from `napi_create_promise` in this env and is settled once here
    // (the entry was removed from the map); the rejection value is built as napi's own
    // deferreds build theirs (the error's retained JS value, else a new Error).
    unsafe {
        // Building the value may have left a JS exception pending (a setter that threw): every
        // napi call would then fail, resolve too, and the exception would surface as fatal from
        // the threadsafe function. The Promise is rejected with it instead.
        let status = match take_exception(raw) {
            Some(exception) => sys::napi_reject_deferred(raw, p.deferred, exception),
            None => match settled {
                Ok(value) => sys::napi_resolve_deferred(raw, p.deferred, value),
                Err(e) => match ToNapiValue::to_napi_value(raw, e) {
                    Ok(reason) => sys::napi_reject_deferred(raw, p.deferred, reason),
                    Err(_) => sys::Status::napi_generic_failure,
                },
            },
        };
        if status != sys::Status::napi_ok {
            // Never leave a Promise pending: reject with what is pending now, else a new Error.
            let reason =
                take_exception(raw).unwrap_or_else(|| new_error(raw, c"postwire: settling a Promise failed"));
            sys::napi_reject_deferred(raw, p.deferred, reason);
        }
        if opened {
            sys::napi_close_handle_scope(raw, scope);
        }
    }
}

/// The JS exception pending in `raw`, cleared; `None` when there is none. (Also for hooks and
/// ticks: `hooks.rs`, `uvloop.rs`.)
///
/// # Safety
/// `raw` is a live env and this is its JS thread.
pub(crate) unsafe fn take_exception(raw: sys::napi_env) -> Option<sys::napi_value> {
    let mut pending = false;
    // SAFETY: the caller's.
    unsafe {
        if sys::napi_is_exception_pending(raw, &mut pending) != sys::Status::napi_ok || !pending {
            return None;
        }
        let mut exception = ptr::null_mut();
        (sys::napi_get_and_clear_last_exception(raw, &mut exception) == sys::Status::napi_ok
            && !exception.is_null())
        .then_some(exception)
    }
}

/// A new JS `Error` with `message` (a null value if even that fails).
///
/// # Safety
/// `raw` is a live env, this is its JS thread, and no exception is pending.
unsafe fn new_error(raw: sys::napi_env, message: &std::ffi::CStr) -> sys::napi_value {
    let mut msg = ptr::null_mut();
    let mut err = ptr::null_mut();
    // SAFETY: the caller's.
    unsafe {
        sys::napi_create_string_utf8(raw, message.as_ptr(), -1, &mut msg);
        sys::napi_create_error(raw, ptr::null_mut(), msg, &mut err);
    }
    err
}

/// Run `fut` on the core's runtime and return its Promise: resolved with `done(env, value)` on
/// the JS thread, or rejected with the JS error of the core error (see the module doc).
pub fn promise<'e, T, V, F, D>(env: &'e Env, fut: F, done: D) -> napi::Result<PromiseRaw<'e, V>>
where
    T: Send + 'static,
    F: Future<Output = postwire::Result<T>> + Send + 'static,
    V: ToNapiValue,
    D: FnOnce(&Env, T) -> napi::Result<V> + 'static,
{
    let ch = channel(env)?;
    let raw = env.raw();
    let mut deferred = ptr::null_mut();
    let mut promise = ptr::null_mut();
    // SAFETY: a live env on its JS thread; both out-pointers are written on success.
    napi::check_status!(unsafe { sys::napi_create_promise(raw, &mut deferred, &mut promise) })?;
    let on_done: Settle = Box::new(move |env, out| {
        let out = out
            .downcast::<std::thread::Result<postwire::Result<T>>>()
            .map_err(|_| napi::Error::from_reason("postwire: internal error (a result of the wrong type)"))?;
        match *out {
            Ok(Ok(v)) => {
                let v = done(env, v)?;
                // SAFETY: a live env on its JS thread.
                unsafe { V::to_napi_value(env.raw(), v) }
            }
            Ok(Err(e)) => Err(to_napi(env, &e)),
            Err(payload) => {
                let why = payload
                    .downcast_ref::<&str>()
                    .map(|s| s.to_string())
                    .or_else(|| payload.downcast_ref::<String>().cloned())
                    .unwrap_or_default();
                Err(napi::Error::from_reason(format!("postwire: internal error (a task panicked: {why})")))
            }
        }
    });
    let id = ch.next_id.get();
    ch.next_id.set(id.wrapping_add(1));
    ch.pending.borrow_mut().insert(id, Pending { deferred, settle: on_done });
    let shared = Arc::clone(&ch.shared);
    let spawned = spawn_caught(fut, move |out| {
        if shared.inbox.push((id, Box::new(out))) {
            // Closing (the environment is being torn down): nobody is left to settle it.
            let _ = shared.wake.call((), ThreadsafeFunctionCallMode::NonBlocking);
        }
    });
    match spawned {
        Ok(()) => ch.keep_alive(true),
        Err(e) => {
            // No runtime: the Promise is rejected with that error.
            if let Some(p) = ch.pending.borrow_mut().remove(&id) {
                let failed: std::thread::Result<postwire::Result<T>> = Ok(Err(e));
                settle(env, p, Box::new(failed));
            }
        }
    }
    Ok(PromiseRaw::new(raw, promise))
}
