//! `pw_pool`: pooled sessions per destination (`postwire::client::Pool`), blocking calls on the
//! core's shared runtime (the pool's reaper runs there between calls). Every `pw_pool_*`
//! function may be called from several threads at once: that is what a pool is for.

use std::ffi::c_char;

use postwire::client::{Destination, Pool, PoolOptions};
use postwire::host::runtime;

use crate::client::{self, pw_send_options};
use crate::error::pw_status;
use crate::ffi::{self, non_null, Res};
use crate::options::{pw_client_options, Obj};
use crate::values::pw_send_result;
use serde_json::Value;

/// Limits of a pool (0: the core's default).
#[repr(C)]
#[derive(Debug, Clone, Copy, Default)]
pub struct pw_pool_options {
    /// Most open connections across all destinations.
    pub max_connections: u64,
    /// Most open connections (and concurrent sends) per destination.
    pub max_per_destination: u64,
    /// An idle session older than this is closed instead of reused.
    pub idle_timeout_ms: u64,
    /// A session older than this is closed after its current send.
    pub max_lifetime_ms: u64,
    /// Retries on a fresh connection when one dropped before any content was sent.
    pub max_retries: u64,
    /// A session idle longer than this is checked with NOOP before reuse.
    pub health_check_after_ms: u64,
    /// Messages per connection before it is closed; `PW_NO_LIMIT`: no limit.
    pub max_messages_per_connection: u64,
}

impl pw_pool_options {
    /// The core's options through the host layer (`host::options::pool_options`): fields left
    /// at 0 are left out and take `PoolOptions::default()`, the checks are the core's.
    fn to_core(self) -> Res<PoolOptions> {
        let mut o = Obj::default();
        o.number("max_connections", self.max_connections, Value::Null);
        o.number("max_per_destination", self.max_per_destination, Value::Null);
        o.millis("idle_timeout", self.idle_timeout_ms);
        o.millis("max_lifetime", self.max_lifetime_ms);
        o.number("max_retries", self.max_retries, Value::Null);
        o.millis("health_check_after", self.health_check_after_ms);
        o.number("max_messages_per_connection", self.max_messages_per_connection, 0.into());
        Ok(postwire::host::options::pool_options(o.value())?)
    }
}

/// A pool of SMTP sessions. Make with `pw_pool_new`, free with `pw_pool_free`.
pub struct pw_pool {
    pool: Pool,
}

/// Make a pool.
///
/// # Safety
/// `opts` is NULL or valid; `out` NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn pw_pool_new(opts: *const pw_pool_options, out: *mut *mut pw_pool) -> pw_status {
    ffi::status(|| {
        non_null!(opts, out);
        // SAFETY: checked non-NULL; the caller's struct.
        let pool = Pool::new(unsafe { *opts }.to_core()?);
        // SAFETY: checked non-NULL.
        unsafe { ffi::put(out, ffi::boxed(pw_pool { pool })) };
        Ok(())
    })
}

/// Send one message through a pooled session to `dest` (its AUTH too: `auth_user`), with the
/// rules and result of `pw_client_send`. Waits while the caps are reached.
///
/// # Safety
/// `pool` is NULL or live; `dest` NULL or valid; the rest as `pw_client_send`.
#[no_mangle]
pub unsafe extern "C" fn pw_pool_send(
    pool: *const pw_pool,
    dest: *const pw_client_options,
    mail_from: *const c_char,
    rcpt_to: *const *const c_char,
    rcpt_count: usize,
    message: *const u8,
    message_len: usize,
    out: *mut *mut pw_send_result,
) -> pw_status {
    let none = pw_send_options::default();
    // SAFETY: the caller's contract is `pw_pool_send_with`'s, with options that are all zero.
    unsafe { pw_pool_send_with(pool, dest, mail_from, rcpt_to, rcpt_count, message, message_len, &none, out) }
}

/// `pw_pool_send` with a transaction's options (`opts`: DSN parameters), as
/// `pw_client_send_with`.
///
/// # Safety
/// As `pw_pool_send`; `opts` NULL or valid.
#[no_mangle]
#[allow(clippy::too_many_arguments)]
pub unsafe extern "C" fn pw_pool_send_with(
    pool: *const pw_pool,
    dest: *const pw_client_options,
    mail_from: *const c_char,
    rcpt_to: *const *const c_char,
    rcpt_count: usize,
    message: *const u8,
    message_len: usize,
    opts: *const pw_send_options,
    out: *mut *mut pw_send_result,
) -> pw_status {
    ffi::status(|| {
        non_null!(pool, dest, mail_from, rcpt_to, message, opts, out);
        // SAFETY: checked non-NULL; the struct's strings are NULL or valid (the header's rule).
        // The destination is read first: a bad one is reported before a bad send option, as by
        // `pw_pool_send` and the other bindings.
        let (p, dest) = unsafe { (ffi::handle(pool), &*dest) };
        let d =
            Destination { options: unsafe { dest.to_core() }?, credentials: unsafe { dest.credentials() }? };
        // SAFETY: checked non-NULL; per the contract above.
        let (envelope, msg) =
            unsafe { client::send_args(mail_from, rcpt_to, rcpt_count, message, message_len, opts)? };
        let r = runtime::block_on(p.pool.send_with(&d, &envelope, msg))??;
        // SAFETY: checked non-NULL.
        unsafe { ffi::put(out, ffi::boxed(pw_send_result::new(r))) };
        Ok(())
    })
}

/// The pool's counters.
#[repr(C)]
#[derive(Debug, Clone, Copy, Default)]
pub struct pw_pool_stats {
    /// Connections open now (busy, idle or closing).
    pub open: u64,
    /// Connections idle now.
    pub idle: u64,
    /// Connections opened since the pool was made.
    pub created: u64,
    /// Sends that reused an idle connection.
    pub reused: u64,
    /// Sends retried on a fresh connection.
    pub retried: u64,
}

/// The counters now.
///
/// # Safety
/// `pool` is NULL or live; `out` NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn pw_pool_get_stats(pool: *const pw_pool, out: *mut pw_pool_stats) -> pw_status {
    // SAFETY: per the contract above.
    unsafe {
        ffi::get_into!(pool, out, |h| {
            let s = h.pool.stats();
            Ok(pw_pool_stats {
                open: s.open as u64,
                idle: s.idle as u64,
                created: s.created,
                reused: s.reused,
                retried: s.retried,
            })
        })
    }
}

/// QUIT every idle session and refuse further sends (`PW_INVALID_INPUT`).
///
/// # Safety
/// `pool` is NULL or live.
#[no_mangle]
pub unsafe extern "C" fn pw_pool_close(pool: *const pw_pool) -> pw_status {
    ffi::status(|| {
        non_null!(pool);
        // SAFETY: checked non-NULL.
        let p = unsafe { ffi::handle(pool) };
        runtime::block_on(p.pool.close())?;
        Ok(())
    })
}

/// Close the pool (as `pw_pool_close`) and free it. NULL does nothing.
///
/// # Safety
/// `pool` is NULL or a `pw_pool` not freed yet, with no call running on it.
#[no_mangle]
pub unsafe extern "C" fn pw_pool_free(pool: *mut pw_pool) {
    ffi::void(|| {
        if !pool.is_null() {
            // SAFETY: non-NULL and live.
            let p = unsafe { ffi::handle(pool) };
            let _: Res<()> = runtime::block_on(p.pool.close()).map_err(Into::into);
        }
        // SAFETY: per the contract above.
        unsafe { ffi::free(pool) }
    })
}
