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
//! tasks (a server started on this thread); an idle Node process is not woken by it.
//!
//! libuv is called directly: napi gives the loop (`napi_get_uv_event_loop`) but no way to watch
//! a descriptor, and the `uv_*` symbols are the ones Node itself exports to addons (a crate that
//! links a libuv of its own would watch with the wrong loop).

use std::cell::{Cell, RefCell};
use std::ffi::c_void;
use std::panic::{catch_unwind, AssertUnwindSafe};

use napi::{sys, Env};
use postwire::host::ticked::{TickedRuntime, TIMER_TICK};

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
    async_context: sys::napi_async_context,
}

thread_local! {
    static LOOP: RefCell<Option<JsLoop>> = const { RefCell::new(None) };
    /// The environment whose tick is running on this thread, else null.
    static TICKING: Cell<sys::napi_env> = const { Cell::new(std::ptr::null_mut()) };
}

/// True inside a tick of `env`'s runtime, on its JS thread: JS may be called right now.
pub fn ticking(env: sys::napi_env) -> bool {
    !env.is_null() && TICKING.with(Cell::get) == env
}

/// Run `f` in a handle scope of its own (a tick may call many hooks).
pub fn in_handle_scope(env: sys::napi_env, f: impl FnOnce()) {
    let mut scope = std::ptr::null_mut();
    // SAFETY: `env` is ticking on this thread (checked by the caller), so it is live here.
    unsafe { sys::napi_open_handle_scope(env, &mut scope) };
    f();
    unsafe { sys::napi_close_handle_scope(env, scope) };
}

/// An exception left pending in `env` becomes an uncaught exception, as Node makes one that a
/// callback leaves behind.
unsafe fn raise_pending(env: sys::napi_env) {
    let mut pending = false;
    sys::napi_is_exception_pending(env, &mut pending);
    if pending {
        let mut e = std::ptr::null_mut();
        sys::napi_get_and_clear_last_exception(env, &mut e);
        sys::napi_fatal_exception(env, e);
    }
}

/// A handle of this JS thread's runtime, made (with its libuv handles) on first use. `None`
/// where there is none to be had (not Linux); the caller then keeps the shared runtime.
pub fn runtime(env: &Env) -> Option<tokio::runtime::Handle> {
    if let Some(h) = LOOP.with(|l| l.borrow().as_ref().map(|l| l.rt.handle().clone())) {
        timer(true);
        return Some(h);
    }
    let rt = match TickedRuntime::new() {
        Ok(rt) => rt,
        Err(e) => {
            tracing::debug!(error = %e, "sessions stay on the shared runtime");
            return None;
        }
    };
    let handle = rt.handle().clone();
    let raw = env.raw();
    let mut lp: *mut c_void = std::ptr::null_mut();
    let (mut enter_fn, mut enter_ref, mut name, mut async_context) =
        (std::ptr::null_mut(), std::ptr::null_mut(), std::ptr::null_mut(), std::ptr::null_mut());
    // SAFETY: a live env of this thread, inside a napi call (Server.start); each out-pointer is
    // written by napi.
    let ready = unsafe {
        sys::napi_get_uv_event_loop(raw, (&mut lp as *mut *mut c_void).cast()) == sys::Status::napi_ok
            && sys::napi_create_function(
                raw,
                c"postwireTick".as_ptr(),
                -1,
                Some(enter),
                std::ptr::null_mut(),
                &mut enter_fn,
            ) == sys::Status::napi_ok
            && sys::napi_create_reference(raw, enter_fn, 1, &mut enter_ref) == sys::Status::napi_ok
            && sys::napi_create_string_utf8(raw, c"postwire.Server".as_ptr(), -1, &mut name)
                == sys::Status::napi_ok
            && sys::napi_async_init(raw, std::ptr::null_mut(), name, &mut async_context)
                == sys::Status::napi_ok
    };
    if !ready {
        tracing::debug!("cannot enter JS from libuv: sessions stay on the shared runtime");
        return None;
    }
    // SAFETY: each handle is allocated at libuv's own size for its kind, initialised on this
    // thread's loop, unref'd, and freed in `closed` after uv_close.
    unsafe {
        let alloc = |kind| libc::calloc(1, uv_handle_size(kind));
        let (poll, timer, idle) = (alloc(UV_POLL), alloc(UV_TIMER), alloc(UV_IDLE));
        // Timers and idle handles always initialise; a descriptor may be refused.
        uv_timer_init(lp, timer);
        uv_idle_init(lp, idle);
        if uv_poll_init(lp, poll, rt.fd()) != 0 {
            tracing::debug!("libuv refused the runtime's descriptor: sessions stay on the shared runtime");
            uv_close(timer, closed);
            uv_close(idle, closed);
            libc::free(poll);
            return None;
        }
        for h in [poll, timer, idle] {
            uv_unref(h);
        }
        let tick_ms = TIMER_TICK.as_millis() as u64;
        uv_poll_start(poll, UV_READABLE, on_readable);
        uv_timer_start(timer, on_timer, tick_ms, tick_ms);
        LOOP.with(|l| {
            *l.borrow_mut() = Some(JsLoop {
                rt,
                handles: [poll, timer, idle],
                idle_on: Cell::new(false),
                timer_on: Cell::new(true),
                env: raw,
                enter: enter_ref,
                async_context,
            })
        });
    }
    let _ = env.add_env_cleanup_hook((), |()| close());
    Some(handle)
}

/// Enter JS (`enter` through `napi_make_callback`) to step the runtime.
fn step() {
    let Some((env, enter_ref, async_context)) =
        LOOP.with(|l| l.borrow().as_ref().map(|l| (l.env, l.enter, l.async_context)))
    else {
        return;
    };
    // SAFETY: the env is live until `close` (its cleanup hook) takes the loop away; this is its
    // thread, at the top of a libuv callback.
    unsafe {
        let mut scope = std::ptr::null_mut();
        sys::napi_open_handle_scope(env, &mut scope);
        let (mut f, mut global, mut result) =
            (std::ptr::null_mut(), std::ptr::null_mut(), std::ptr::null_mut());
        sys::napi_get_reference_value(env, enter_ref, &mut f);
        sys::napi_get_global(env, &mut global);
        let status = sys::napi_make_callback(env, async_context, global, f, 0, std::ptr::null(), &mut result);
        if status == sys::Status::napi_pending_exception {
            raise_pending(env);
        }
        sys::napi_close_handle_scope(env, scope);
    }
}

/// The native function `step` calls: one tick, with JS callable; keeps the idle handle on while
/// the tick says work is left.
unsafe extern "C" fn enter(env: sys::napi_env, _info: sys::napi_callback_info) -> sys::napi_value {
    let r = catch_unwind(AssertUnwindSafe(|| {
        LOOP.with(|l| {
            let l = l.borrow();
            let Some(l) = l.as_ref() else { return };
            TICKING.with(|t| t.set(env));
            let more = l.rt.tick();
            TICKING.with(|t| t.set(std::ptr::null_mut()));
            // Nothing left on the runtime (every server on this thread stopped): no timer ticks
            // until the next start.
            if l.timer_on.get() && l.rt.handle().metrics().num_alive_tasks() == 0 {
                l.timer_on.set(false);
                // SAFETY: the timer handle lives as long as `l`.
                unsafe { uv_timer_stop(l.handles[1]) };
            }
            if more != l.idle_on.get() {
                l.idle_on.set(more);
                // SAFETY: the idle handle lives as long as `l`.
                unsafe {
                    if more {
                        uv_idle_start(l.handles[2], on_idle);
                    } else {
                        uv_idle_stop(l.handles[2]);
                    }
                }
            }
        })
    }));
    if r.is_err() {
        TICKING.with(|t| t.set(std::ptr::null_mut()));
        tracing::error!("a tick of the JS thread's runtime panicked");
    }
    std::ptr::null_mut()
}

/// Turn the timer tick on (a server starts) or off.
fn timer(on: bool) {
    LOOP.with(|l| {
        let l = l.borrow();
        let Some(l) = l.as_ref() else { return };
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
    })
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

extern "C" fn closed(h: Handle) {
    // SAFETY: allocated with calloc in `runtime`, closed once.
    unsafe { libc::free(h) };
}

/// The environment ends: close the handles, drop the runtime (and the sessions on it).
fn close() {
    // Busy: the environment ends from inside a tick (a hook's `process.exit()` in a worker).
    // The runtime cannot be dropped inside its own `block_on`; it is left to the thread's end.
    let Some(l) = LOOP.with(|l| l.try_borrow_mut().ok().and_then(|mut l| l.take())) else { return };
    for h in l.handles {
        // SAFETY: live handles of this thread's loop, closed once.
        unsafe { uv_close(h, closed) };
    }
    // SAFETY: the env is still live in its cleanup hooks.
    unsafe {
        sys::napi_delete_reference(l.env, l.enter);
        sys::napi_async_destroy(l.env, l.async_context);
    }
    drop(l.rt);
}
