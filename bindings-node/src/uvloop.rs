//! The JS thread's libuv loop stepping the core's `TickedRuntime`, so a `Server`'s sessions run
//! on the JS thread beside its hooks (the core's `host::ticked` says why and how).
//!
//! One runtime per JS thread, made at the first `start()` there. libuv watches its epoll
//! descriptor (a `uv_poll_t`), ticks it every `TIMER_TICK` for its timers (a `uv_timer_t`), and
//! again on the next turn of the loop while a tick says work is left (a `uv_idle_t`, which also
//! keeps that turn from blocking). All three are unref'd: a started server keeps the process
//! alive through its own pending Promise (`server.rs`), not through these. When the environment
//! ends (a worker thread exits), the handles are closed and the runtime is dropped with the
//! sessions still on it.
//!
//! A tick runs inside `napi_make_callback` of a native function (`enter`): Node enters the JS
//! context and an async callback scope for it, as for any I/O callback, so hooks are called
//! right there (`hooks.rs` asks [`ticking`]) and their Promise continuations run when the scope
//! closes: no threadsafe-function round trip per hook. The timer runs only while the runtime has
//! tasks: a started server, even idle, wakes its thread every `TIMER_TICK` (tokio does not say
//! when its next timer is due); with every server stopped, nothing does.
//!
//! libuv is called directly: napi gives the loop (`napi_get_uv_event_loop`) but no way to watch
//! a descriptor, and the `uv_*` symbols are the ones Node itself exports to addons (a crate that
//! links a libuv of its own would watch with the wrong loop).

use std::cell::Cell;
use std::ffi::c_void;
use std::panic::{catch_unwind, AssertUnwindSafe};

use napi::{sys, Env};
use postwire::host::ticked::{TickOutcome, TickedRuntime, TIMER_TICK};

/// `uv_handle_type` values (uv.h): stable across libuv 1.x.
const UV_IDLE: i32 = 6;
const UV_POLL: i32 = 8;
const UV_TIMER: i32 = 13;
/// `uv_poll_event::UV_READABLE`.
const UV_READABLE: i32 = 1;

type Handle = *mut c_void;

extern "C" {
    fn uv_handle_size(kind: i32) -> usize;
    fn uv_poll_init(lp: *mut c_void, h: Handle, fd: i32) -> i32;
    fn uv_poll_start(h: Handle, events: i32, cb: extern "C" fn(Handle, i32, i32)) -> i32;
    fn uv_timer_init(lp: *mut c_void, h: Handle) -> i32;
    fn uv_timer_start(h: Handle, cb: extern "C" fn(Handle), timeout: u64, repeat: u64) -> i32;
    fn uv_timer_stop(h: Handle) -> i32;
    fn uv_idle_init(lp: *mut c_void, h: Handle) -> i32;
    fn uv_idle_start(h: Handle, cb: extern "C" fn(Handle)) -> i32;
    fn uv_idle_stop(h: Handle) -> i32;
    fn uv_unref(h: Handle);
    fn uv_close(h: Handle, cb: extern "C" fn(Handle));
}

/// The runtime of this JS thread, the libuv handles that step it, and what `step` needs to
/// enter JS (the environment, a reference to `enter`, an async context for its callback scope).
struct JsLoop {
    rt: TickedRuntime,
    handles: [Handle; 3],
    idle_on: Cell<bool>,
    timer_on: Cell<bool>,
    env: sys::napi_env,
    enter: sys::napi_ref,
    /// The async context of the ticks' callback scope.
    async_context: AsyncContext,
    /// Handles not closed yet, once the environment ends; the last close frees this.
    open: Cell<u8>,
    /// The environment's async cleanup hook, removed when the last handle is closed.
    cleanup: Cell<sys::napi_async_cleanup_hook_handle>,
}

thread_local! {
    /// This thread's loop, leaked on purpose: a thread-local with a destructor would drop the
    /// runtime at `exit()` — from inside a tick when a hook calls `process.exit()`, where tokio
    /// panics and the process aborts. It is freed when the environment ends (`cleanup`).
    static LOOP: Cell<Option<&'static JsLoop>> = const { Cell::new(None) };
    /// No runtime can be had on this thread (found once; not tried again).
    static UNAVAILABLE: Cell<bool> = const { Cell::new(false) };
    /// The environment whose tick is running on this thread, else null.
    static TICKING: Cell<sys::napi_env> = const { Cell::new(std::ptr::null_mut()) };
}

/// True inside a tick of `env`'s runtime, on its JS thread: JS may be called right now.
pub fn ticking(env: sys::napi_env) -> bool {
    !env.is_null() && TICKING.get() == env
}

/// Run `f` in a handle scope of its own (a tick may call many hooks) and in the callback scope
/// of `context` (the server's: its hooks see the async context — an AsyncLocalStorage store —
/// of the `new Server(...)` call, as through the threadsafe function); both are closed also when
/// `f` panics (the core catches the panic and answers 451). Nested in the tick's own scope, the
/// callback scope runs no microtasks when it closes.
pub fn in_scope(env: sys::napi_env, context: &AsyncContext, f: impl FnOnce()) {
    struct Scopes(sys::napi_env, sys::napi_handle_scope, sys::napi_callback_scope);
    impl Drop for Scopes {
        fn drop(&mut self) {
            // SAFETY: opened below on this env and thread; closed once, inner first.
            unsafe {
                if !self.2.is_null() {
                    sys::napi_close_callback_scope(self.0, self.2);
                }
                sys::napi_close_handle_scope(self.0, self.1);
            }
        }
    }
    let (mut handles, mut resource, mut callback) =
        (std::ptr::null_mut(), std::ptr::null_mut(), std::ptr::null_mut());
    // SAFETY: `env` is ticking on this thread (checked by the caller), so it is live here, and
    // `context` was made in it.
    unsafe {
        sys::napi_open_handle_scope(env, &mut handles);
        if sys::napi_get_reference_value(env, context.resource, &mut resource) == sys::Status::napi_ok {
            sys::napi_open_callback_scope(env, resource, context.context, &mut callback);
        }
    }
    let _scopes = Scopes(env, handles, callback);
    f();
}

/// An async context of its own (a JS-thread server's hooks, the ticks): `napi_async_init` with
/// a resource object made where it was created. Released on its JS thread; it is only made for
/// what lives and ends there (a drop on another thread would leave it, a few bytes).
pub struct AsyncContext {
    env: sys::napi_env,
    thread: std::thread::ThreadId,
    resource: sys::napi_ref,
    context: sys::napi_async_context,
}

// SAFETY: the raw pointers are only dereferenced on `thread` (checked in `Drop`, and `in_scope`
// runs only while that env ticks on its own thread).
unsafe impl Send for AsyncContext {}
unsafe impl Sync for AsyncContext {}

impl AsyncContext {
    /// Make one in `env` (inside a napi call).
    pub fn new(env: &Env, name: &std::ffi::CStr) -> napi::Result<Self> {
        let raw = env.raw();
        let (mut object, mut resource, mut label, mut context) =
            (std::ptr::null_mut(), std::ptr::null_mut(), std::ptr::null_mut(), std::ptr::null_mut());
        // SAFETY: a live env inside a napi call; out-pointers written by napi.
        unsafe {
            napi::check_status!(sys::napi_create_object(raw, &mut object))?;
            napi::check_status!(sys::napi_create_reference(raw, object, 1, &mut resource))?;
            napi::check_status!(sys::napi_create_string_utf8(raw, name.as_ptr(), -1, &mut label))?;
            if let Err(e) = napi::check_status!(sys::napi_async_init(raw, object, label, &mut context)) {
                sys::napi_delete_reference(raw, resource);
                return Err(e);
            }
        }
        Ok(AsyncContext { env: raw, thread: std::thread::current().id(), resource, context })
    }
}

impl Drop for AsyncContext {
    fn drop(&mut self) {
        if std::thread::current().id() != self.thread {
            return;
        }
        // SAFETY: on the env's own thread; a server's last reference goes at the latest while
        // the environment is torn down (its finalizers, or the runtime dropped in `closed`),
        // while napi still takes calls.
        unsafe {
            sys::napi_async_destroy(self.env, self.context);
            sys::napi_delete_reference(self.env, self.resource);
        }
    }
}

/// An exception left pending in `env` becomes an uncaught exception, as Node makes one that a
/// callback leaves behind.
unsafe fn raise_pending(env: sys::napi_env) {
    if let Some(e) = crate::completion::take_exception(env) {
        sys::napi_fatal_exception(env, e);
    }
}

/// A handle of this JS thread's runtime, made (with its libuv handles) on first use. `None`
/// where there is none to be had (not Linux); the caller then keeps the shared runtime.
pub fn runtime(env: &Env) -> Option<tokio::runtime::Handle> {
    if let Some(l) = LOOP.get() {
        timer(l, true);
        return Some(l.rt.handle().clone());
    }
    if UNAVAILABLE.get() {
        return None;
    }
    let made = make(env);
    if let Err(why) = &made {
        UNAVAILABLE.set(true);
        tracing::warn!(why = %why, "a server's sessions cannot run on this JS thread: they run on postwire's runtime");
    }
    made.ok()
}

/// Build the runtime, the native `enter` function and the libuv handles.
fn make(env: &Env) -> Result<tokio::runtime::Handle, String> {
    let rt = TickedRuntime::new().map_err(|e| e.to_string())?;
    let handle = rt.handle().clone();
    let raw = env.raw();
    let async_context = AsyncContext::new(env, c"postwire.Server").map_err(|e| e.to_string())?;
    let mut lp: *mut c_void = std::ptr::null_mut();
    let (mut enter_fn, mut enter_ref) = (std::ptr::null_mut(), std::ptr::null_mut());
    // SAFETY: a live env of this thread, inside a napi call (Server.start); each out-pointer is
    // written by napi, and what was made is released on failure.
    unsafe {
        let ok = |s| s == sys::Status::napi_ok;
        let ready = ok(sys::napi_get_uv_event_loop(raw, (&mut lp as *mut *mut c_void).cast()))
            && ok(sys::napi_create_function(
                raw,
                c"postwireTick".as_ptr(),
                -1,
                Some(enter),
                std::ptr::null_mut(),
                &mut enter_fn,
            ))
            && ok(sys::napi_create_reference(raw, enter_fn, 1, &mut enter_ref));
        if !ready {
            return Err("cannot make the function libuv enters JS with".into());
        }
    }
    // SAFETY: each handle is allocated at libuv's own size for its kind, initialised on this
    // thread's loop and unref'd; its `data` points at the leaked `JsLoop`, which frees them
    // after uv_close (`cleanup`, `closed`).
    unsafe {
        let alloc = |kind| libc::calloc(1, uv_handle_size(kind));
        let (poll, timer_h, idle) = (alloc(UV_POLL), alloc(UV_TIMER), alloc(UV_IDLE));
        // Timers and idle handles always initialise; a descriptor may be refused.
        uv_timer_init(lp, timer_h);
        uv_idle_init(lp, idle);
        if uv_poll_init(lp, poll, rt.fd()) != 0 {
            uv_close(timer_h, free_handle);
            uv_close(idle, free_handle);
            libc::free(poll);
            sys::napi_delete_reference(raw, enter_ref);
            return Err("libuv refused the runtime's descriptor".into());
        }
        let l: &'static JsLoop = Box::leak(Box::new(JsLoop {
            rt,
            handles: [poll, timer_h, idle],
            idle_on: Cell::new(false),
            timer_on: Cell::new(false),
            env: raw,
            enter: enter_ref,
            async_context,
            open: Cell::new(3),
            cleanup: Cell::new(std::ptr::null_mut()),
        }));
        for h in l.handles {
            // `data` is the first field of every uv handle.
            *(h as *mut *const JsLoop) = l;
            uv_unref(h);
        }
        uv_poll_start(poll, UV_READABLE, on_readable);
        let mut hook = std::ptr::null_mut();
        if sys::napi_add_async_cleanup_hook(raw, Some(cleanup), std::ptr::null_mut(), &mut hook)
            != sys::Status::napi_ok
        {
            // Nothing would close the handles at the environment's end (a worker's loop then
            // aborts on them): give them back now; `closed` frees the loop after the last.
            LOOP.set(Some(l));
            cleanup(std::ptr::null_mut(), std::ptr::null_mut());
            return Err("cannot register the cleanup of the JS thread's runtime".into());
        }
        l.cleanup.set(hook);
        LOOP.set(Some(l));
        timer(l, true);
    }
    Ok(handle)
}

/// Enter JS (`enter` through `napi_make_callback`) to step the runtime.
fn step() {
    let Some(l) = LOOP.get() else { return };
    let env = l.env;
    // SAFETY: the env is live until its cleanup hook takes the loop away; this is its thread,
    // at the top of a libuv callback.
    unsafe {
        let mut scope = std::ptr::null_mut();
        sys::napi_open_handle_scope(env, &mut scope);
        let (mut f, mut global, mut result) =
            (std::ptr::null_mut(), std::ptr::null_mut(), std::ptr::null_mut());
        sys::napi_get_reference_value(env, l.enter, &mut f);
        sys::napi_get_global(env, &mut global);
        let status = sys::napi_make_callback(
            env,
            l.async_context.context,
            global,
            f,
            0,
            std::ptr::null(),
            &mut result,
        );
        if status == sys::Status::napi_pending_exception {
            raise_pending(env);
        }
        sys::napi_close_handle_scope(env, scope);
    }
}

/// The native function `step` calls: one tick, with JS callable; keeps the idle handle on while
/// a tick stops at a bound with work left, and stops the timer once nothing is left.
unsafe extern "C" fn enter(env: sys::napi_env, _info: sys::napi_callback_info) -> sys::napi_value {
    let Some(l) = LOOP.get() else { return std::ptr::null_mut() };
    TICKING.set(env);
    let outcome = catch_unwind(AssertUnwindSafe(|| l.rt.tick()));
    TICKING.set(std::ptr::null_mut());
    let outcome = outcome.unwrap_or_else(|_| {
        tracing::error!("a tick of the JS thread's runtime panicked");
        TickOutcome::Wait
    });
    // Nothing left on the runtime (every server on this thread stopped): no timer ticks until
    // the next start.
    if outcome == TickOutcome::Idle {
        timer(l, false);
    }
    let again = outcome == TickOutcome::Again;
    if again != l.idle_on.replace(again) {
        // SAFETY: the idle handle lives as long as `l`.
        unsafe {
            if again {
                uv_idle_start(l.handles[2], on_idle);
            } else {
                uv_idle_stop(l.handles[2]);
            }
        }
    }
    std::ptr::null_mut()
}

/// Turn the timer tick on (a server starts) or off.
fn timer(l: &JsLoop, on: bool) {
    if l.timer_on.replace(on) == on {
        return;
    }
    let tick_ms = TIMER_TICK.as_millis() as u64;
    // SAFETY: the timer handle lives as long as `l`.
    unsafe {
        if on {
            uv_timer_start(l.handles[1], on_timer, tick_ms, tick_ms);
        } else {
            uv_timer_stop(l.handles[1]);
        }
    }
}

extern "C" fn on_readable(_h: Handle, _status: i32, _events: i32) {
    step();
}

extern "C" fn on_timer(_h: Handle) {
    step();
}

extern "C" fn on_idle(_h: Handle) {
    step();
}

/// A handle closed before it served (`make` failed).
extern "C" fn free_handle(h: Handle) {
    // SAFETY: allocated with calloc in `make`, closed once.
    unsafe { libc::free(h) };
}

/// The environment ends (its async cleanup hook): the loop is taken away, and the handles are
/// closed; the last one's close frees the loop and the runtime with the sessions still on it.
unsafe extern "C" fn cleanup(_hook: sys::napi_async_cleanup_hook_handle, _data: *mut c_void) {
    let Some(l) = LOOP.take() else { return };
    // (Its async context goes with the loop, in `closed`.)
    sys::napi_delete_reference(l.env, l.enter);
    for h in l.handles {
        uv_close(h, closed);
    }
}

extern "C" fn closed(h: Handle) {
    // SAFETY: `data` was set to the leaked loop in `make`; each handle is closed once, and the
    // loop is freed after the last of its three.
    unsafe {
        let l = *(h as *mut *const JsLoop);
        libc::free(h);
        let left = (*l).open.get() - 1;
        (*l).open.set(left);
        if left == 0 {
            let hook = (*l).cleanup.get();
            // Dropping the runtime drops every task still on it: a panic there must not cross
            // into libuv.
            let owned = Box::from_raw(l as *mut JsLoop);
            if catch_unwind(AssertUnwindSafe(move || drop(owned))).is_err() {
                tracing::error!("dropping the JS thread's runtime panicked");
            }
            if !hook.is_null() {
                sys::napi_remove_async_cleanup_hook(hook);
            }
        }
    }
}
