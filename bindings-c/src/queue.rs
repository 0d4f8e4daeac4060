//! `pw_queue`: the durable queue (`postwire::queue::Queue`) — open a spool, submit (durable on
//! return), run / flush once, or start / stop the background runner on the library's runtime;
//! `pw_queue_list` gives a `pw_queue_entries` snapshot with accessors and `_to_json`.
//!
//! Options go through the host layer (`host::mta::queue_options`, `queue_envelope`): zero
//! fields are left out and take the core's defaults (retry 5 min doubling to 70 min, 5 days).
//! Every `pw_queue_*` function may be called from any thread.

use std::ffi::{c_char, CString};

use postwire::host::{mta, runtime};
use postwire::queue::{Queue, QueueEntry, RunStats};
use serde_json::{json, Map, Value};

use crate::error::pw_status;
use crate::ffi::{self, non_null, Res};
use crate::options::{pw_switch, pw_tls_mode, tls_name, Obj};
use crate::values::pw_reply;

/// How a queue delivers and retries (`pw_queue_open`). Zero fields: the core's defaults.
#[repr(C)]
#[derive(Debug, Clone)]
pub struct pw_queue_options {
    /// DNS servers (`"ip:port"`) for MX routing; none: the system's.
    pub nameservers: *const *const c_char,
    /// How many `nameservers`.
    pub nameservers_len: usize,
    /// Relay everything through this host; NULL: MX routing per recipient domain.
    pub smarthost: *const c_char,
    /// Delivery port (0: 25).
    pub port: u16,
    /// Allow exchangers that resolve to loopback (tests: servers on 127.0.0.2 …).
    pub allow_loopback: pw_switch,
    /// Delays between tries in milliseconds, the last repeating; none: 5 min doubling to 70 min.
    pub retry_ms: *const u64,
    /// How many `retry_ms`.
    pub retry_len: usize,
    /// Give up (bounce) after this many milliseconds in the queue (0: 5 days).
    pub max_age_ms: u64,
    /// Our name in notices (`Reporting-MTA`, `MAILER-DAEMON@`) and EHLO; NULL: this machine's.
    pub hostname: *const c_char,
    /// Entries delivered at the same time.
    pub concurrency: u64,
    /// Entries delivered at the same time to one destination.
    pub per_destination: u64,
    /// TLS towards the receiving servers (default opportunistic).
    pub tls: pw_tls_mode,
    /// One timeout for every SMTP phase, in milliseconds (0: RFC 5321's per phase).
    pub timeout_ms: u64,
    /// Name for EHLO; NULL: `hostname`.
    pub hello_name: *const c_char,
    /// With `auth_password`: log in at the smarthost.
    pub auth_user: *const c_char,
    /// The secret for `auth_user`.
    pub auth_password: *const c_char,
    /// Allow AUTH over an unencrypted connection.
    pub allow_plaintext_auth: pw_switch,
    /// How often the background runner looks for due entries (milliseconds; default 1 s).
    pub poll_interval_ms: u64,
}

impl pw_queue_options {
    /// The options value for `host::mta::queue_options`.
    ///
    /// # Safety
    /// The pointer fields are NULL or valid (arrays of their `_len`).
    unsafe fn to_host(&self) -> Res<Value> {
        let mut o = Obj::default();
        // SAFETY (every block): per the contract above.
        unsafe {
            o.list("nameservers", self.nameservers, self.nameservers_len)?;
            o.text("smarthost", self.smarthost)?;
            o.text("hostname", self.hostname)?;
            o.text("hello_name", self.hello_name)?;
        }
        if self.port != 0 {
            o.set("port", self.port);
        }
        o.switch("allow_loopback", self.allow_loopback)?;
        // SAFETY: per the contract above.
        let retry = unsafe { ffi::items(self.retry_ms, self.retry_len, "retry_ms") }?;
        if !retry.is_empty() {
            o.set("retry", retry.iter().map(|&ms| ms as f64 / 1000.0).collect::<Vec<_>>());
        }
        o.millis("max_age", self.max_age_ms);
        o.number("concurrency", self.concurrency, Value::Null);
        o.number("per_destination", self.per_destination, Value::Null);
        if let Some(t) = tls_name(self.tls)? {
            o.set("tls", t);
        }
        o.millis("timeout", self.timeout_ms);
        // SAFETY: per the contract above.
        let (user, password) = unsafe {
            (ffi::opt_text(self.auth_user, "auth_user")?, ffi::opt_text(self.auth_password, "auth_password")?)
        };
        match (user, password) {
            (None, None) => {}
            (Some(u), Some(p)) => o.set("credentials", json!([u, p])),
            _ => return Err(ffi::invalid("options auth_user and auth_password go together")),
        }
        o.switch("allow_plaintext_auth", self.allow_plaintext_auth)?;
        o.millis("poll_interval", self.poll_interval_ms);
        Ok(o.value())
    }
}

/// One recipient of `pw_queue_submit_envelope`, with its RFC 3461 parameters as on the wire.
#[repr(C)]
#[derive(Debug, Clone)]
pub struct pw_queue_recipient {
    /// The address. Required.
    pub address: *const c_char,
    /// `NOTIFY=` (`"SUCCESS,FAILURE"`, `"NEVER"` …); NULL: the default (failure notices).
    pub notify: *const c_char,
    /// `ORCPT=` (`"rfc822;a@b.test"`); NULL: none.
    pub orcpt: *const c_char,
}

/// The envelope of `pw_queue_submit_envelope`.
#[repr(C)]
#[derive(Debug, Clone)]
pub struct pw_queue_envelope {
    /// The sender; `""`: the null sender `<>` (never bounced to). Required.
    pub mail_from: *const c_char,
    /// The recipients (at least one).
    pub rcpt_to: *const pw_queue_recipient,
    /// How many `rcpt_to`.
    pub rcpt_count: usize,
    /// `ENVID=`; NULL: none.
    pub envid: *const c_char,
    /// `RET=` (`"FULL"` or `"HDRS"`); NULL: none.
    pub ret: *const c_char,
}

impl pw_queue_envelope {
    /// The envelope value for `host::mta::queue_envelope`.
    ///
    /// # Safety
    /// The pointer fields are NULL or valid.
    unsafe fn to_host(&self) -> Res<Value> {
        // SAFETY (every block): per the contract above.
        let from =
            unsafe { ffi::opt_text(self.mail_from, "mail_from") }?.ok_or(ffi::Fail::Null("mail_from"))?;
        let rcpts = unsafe { ffi::items(self.rcpt_to, self.rcpt_count, "rcpt_to") }?;
        let mut list = Vec::with_capacity(rcpts.len());
        for r in rcpts {
            let mut o = Obj::default();
            let address =
                unsafe { ffi::opt_text(r.address, "rcpt_to address") }?.ok_or(ffi::Fail::Null("address"))?;
            o.set("address", address);
            unsafe {
                o.text("notify", r.notify)?;
                o.text("orcpt", r.orcpt)?;
            }
            list.push(o.value());
        }
        let mut o = Obj(Map::new());
        o.set("mail_from", from);
        o.set("rcpt_to", list);
        unsafe {
            o.text("envid", self.envid)?;
            o.text("ret", self.ret)?;
        }
        Ok(o.value())
    }
}

/// A queue on a spool directory. Open with `pw_queue_open`, free with `pw_queue_free`.
pub struct pw_queue {
    queue: Queue,
}

/// What one run did.
#[repr(C)]
#[derive(Debug, Clone, Copy, Default)]
pub struct pw_queue_run_stats {
    /// Entries attempted (or expired).
    pub entries: u64,
    /// Recipients delivered.
    pub delivered: u64,
    /// Recipients deferred to a later try.
    pub deferred: u64,
    /// Recipients failed or expired (bounced).
    pub failed: u64,
    /// Notices queued (DSNs and success notices).
    pub notices: u64,
}

impl From<RunStats> for pw_queue_run_stats {
    fn from(s: RunStats) -> Self {
        let n = |v: usize| v as u64;
        pw_queue_run_stats {
            entries: n(s.entries),
            delivered: n(s.delivered),
            deferred: n(s.deferred),
            failed: n(s.failed),
            notices: n(s.notices),
        }
    }
}

/// Open (creating) the queue on spool directory `spool`: every entry already there is picked
/// up again. Errors: `PW_IO` (the directory), `PW_INVALID_INPUT` (an option).
///
/// # Safety
/// `spool` is NULL or a C string; `opts` NULL or valid; `out` NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn pw_queue_open(
    spool: *const c_char,
    opts: *const pw_queue_options,
    out: *mut *mut pw_queue,
) -> pw_status {
    ffi::status(|| {
        non_null!(spool, opts, out);
        // SAFETY: checked non-NULL; the caller's string and struct.
        let (spool, value) = unsafe { (ffi::text(spool, "spool")?, (*opts).to_host()?) };
        let o = mta::queue_options(value)?;
        let queue = Queue::open(spool, o)?;
        // SAFETY: checked non-NULL.
        unsafe { ffi::put(out, ffi::boxed(pw_queue { queue })) };
        Ok(())
    })
}

/// Store `message` for delivery from `mail_from` (`""`: `<>`) to the `rcpt_count` recipients;
/// `*out_id` is its queue id (free with `pw_string_free`), written only once the message and
/// its envelope are synced to disk. Errors: `PW_INVALID_INPUT`, `PW_IO` (nothing kept).
///
/// # Safety
/// As `pw_client_send`; `queue` NULL or live; `out_id` NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn pw_queue_submit(
    queue: *const pw_queue,
    mail_from: *const c_char,
    rcpt_to: *const *const c_char,
    rcpt_count: usize,
    message: *const u8,
    message_len: usize,
    out_id: *mut *mut c_char,
) -> pw_status {
    ffi::status(|| {
        non_null!(queue, mail_from, rcpt_to, message, out_id);
        // SAFETY: checked non-NULL; per the contract above.
        let (q, (from, rcpts, msg)) =
            unsafe { (ffi::handle(queue), ffi::mail(mail_from, rcpt_to, rcpt_count, message, message_len)?) };
        let env = mta::queue_envelope(json!({ "mail_from": from, "rcpt_to": rcpts }))?;
        // SAFETY: checked non-NULL.
        unsafe { submit(q, &env, msg, out_id) }
    })
}

/// `pw_queue_submit` with the RFC 3461 parameters: per-recipient `NOTIFY` and `ORCPT`,
/// `ENVID` and `RET`, carried into the notices.
///
/// # Safety
/// `queue` NULL or live; `envelope` NULL or valid; `message` NULL or `message_len` bytes;
/// `out_id` NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn pw_queue_submit_envelope(
    queue: *const pw_queue,
    envelope: *const pw_queue_envelope,
    message: *const u8,
    message_len: usize,
    out_id: *mut *mut c_char,
) -> pw_status {
    ffi::status(|| {
        non_null!(queue, envelope, message, out_id);
        // SAFETY: checked non-NULL; per the contract above.
        let (q, value, msg) =
            unsafe { (ffi::handle(queue), (*envelope).to_host()?, ffi::bytes(message, message_len)) };
        let env = mta::queue_envelope(value)?;
        // SAFETY: checked non-NULL.
        unsafe { submit(q, &env, msg, out_id) }
    })
}

/// # Safety
/// `out_id` is valid for writes.
unsafe fn submit(
    q: &pw_queue,
    env: &postwire::queue::NewEntry,
    msg: &[u8],
    out_id: *mut *mut c_char,
) -> Res<()> {
    let id = q.queue.submit_blocking(env, msg)?;
    let s = ffi::owned_bytes(id.as_bytes())?;
    // SAFETY: per the contract above.
    unsafe { ffi::put(out_id, s) };
    Ok(())
}

/// Deliver every entry that is due now, once; returns when each was attempted. `out`: what it
/// did.
///
/// # Safety
/// `queue` NULL or live; `out` NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn pw_queue_run(queue: *const pw_queue, out: *mut pw_queue_run_stats) -> pw_status {
    ffi::status(|| {
        non_null!(queue, out);
        // SAFETY: checked non-NULL.
        let q = unsafe { ffi::handle(queue) }.queue.clone();
        let stats = runtime::block_on(async move { q.run_once().await })??;
        // SAFETY: checked non-NULL.
        unsafe { ffi::put(out, stats.into()) };
        Ok(())
    })
}

/// Deliver every entry now, due or not (`postwire queue flush`).
///
/// # Safety
/// `queue` NULL or live; `out` NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn pw_queue_flush(queue: *const pw_queue, out: *mut pw_queue_run_stats) -> pw_status {
    ffi::status(|| {
        non_null!(queue, out);
        // SAFETY: checked non-NULL.
        let q = unsafe { ffi::handle(queue) }.queue.clone();
        let stats = runtime::block_on(async move { q.flush().await })??;
        // SAFETY: checked non-NULL.
        unsafe { ffi::put(out, stats.into()) };
        Ok(())
    })
}

/// Start the background runner on the library's threads: it delivers due entries, wakes on
/// every submit and looks again every `poll_interval_ms`. Returns at once; idempotent.
///
/// # Safety
/// `queue` NULL or live.
#[no_mangle]
pub unsafe extern "C" fn pw_queue_start(queue: *const pw_queue) -> pw_status {
    ffi::status(|| {
        non_null!(queue);
        // SAFETY: checked non-NULL.
        let q = unsafe { ffi::handle(queue) };
        runtime::start_queue(&q.queue)?;
        Ok(())
    })
}

/// Stop the background runner after its current run; returns when it stopped. Idempotent.
///
/// # Safety
/// `queue` NULL or live.
#[no_mangle]
pub unsafe extern "C" fn pw_queue_stop(queue: *const pw_queue) -> pw_status {
    ffi::status(|| {
        non_null!(queue);
        // SAFETY: checked non-NULL.
        let q = unsafe { ffi::handle(queue) }.queue.clone();
        runtime::block_on(q.stop())?;
        Ok(())
    })
}

struct Rcpt {
    rcpt: CString,
    notify: Option<CString>,
    orcpt: Option<CString>,
    status: CString,
    last_reply: Option<Box<pw_reply>>,
    last_detail: Option<CString>,
    remote_host: Option<CString>,
}

struct Entry {
    id: CString,
    mail_from: CString,
    envid: Option<CString>,
    ret: Option<CString>,
    rcpts: Vec<Rcpt>,
}

/// A snapshot of the queue's entries (`pw_queue_list`), oldest first. Free with
/// `pw_queue_entries_free`; its strings and replies are borrowed from it.
pub struct pw_queue_entries {
    entries: Vec<QueueEntry>,
    views: Vec<Entry>,
}

/// One queued message, borrowed from its `pw_queue_entries`.
#[repr(C)]
pub struct pw_queue_entry {
    /// Queue id.
    pub id: *const c_char,
    /// The sender (`""`: `<>`).
    pub mail_from: *const c_char,
    /// `ENVID=`, NULL when none.
    pub envid: *const c_char,
    /// `RET=`, NULL when none.
    pub ret: *const c_char,
    /// Message size in bytes.
    pub size: u64,
    /// When it was submitted (Unix time, milliseconds).
    pub created_ms: u64,
    /// When it is tried next (Unix time, milliseconds).
    pub next_try_ms: u64,
    /// Attempts made.
    pub attempts: u32,
    /// How many recipients (`pw_queue_entries_recipient`).
    pub recipient_count: usize,
}

/// One recipient of a queued message, borrowed from its `pw_queue_entries`.
#[repr(C)]
pub struct pw_queue_recipient_state {
    /// The address.
    pub rcpt: *const c_char,
    /// `NOTIFY=` as given, NULL when none.
    pub notify: *const c_char,
    /// `ORCPT=` as given, NULL when none.
    pub orcpt: *const c_char,
    /// `"pending"`, `"delivered"`, `"failed"` or `"expired"`.
    pub status: *const c_char,
    /// Attempts made for it.
    pub attempts: u32,
    /// The last reply that decided something for it; NULL when none yet.
    pub last_reply: *const pw_reply,
    /// The last attempt's detail (error message, host); NULL when none.
    pub last_detail: *const c_char,
    /// The exchanger that answered last; NULL when none.
    pub remote_host: *const c_char,
    /// True once its notice (DSN or success notice) was queued, or none was needed.
    pub notified: bool,
    /// True when the receiving server took over DSN duty for it.
    pub remote_dsn: bool,
}

impl pw_queue_entries {
    fn new(entries: Vec<QueueEntry>) -> pw_queue_entries {
        let views = entries
            .iter()
            .map(|e| Entry {
                id: ffi::c_string(&e.id),
                mail_from: ffi::c_string(&e.mail_from),
                envid: ffi::opt_c_string(e.envid.as_deref()),
                ret: ffi::opt_c_string(e.ret.as_deref()),
                rcpts: e
                    .recipients
                    .iter()
                    .map(|r| Rcpt {
                        rcpt: ffi::c_string(&r.rcpt),
                        notify: ffi::opt_c_string(r.notify.as_deref()),
                        orcpt: ffi::opt_c_string(r.orcpt.as_deref()),
                        status: ffi::enum_name(&r.status),
                        last_reply: r.last_reply.as_ref().map(|s| Box::new(pw_reply::new(s.to_reply()))),
                        last_detail: ffi::opt_c_string(r.last_detail.as_deref()),
                        remote_host: ffi::opt_c_string(r.remote_host.as_deref()),
                    })
                    .collect(),
            })
            .collect();
        pw_queue_entries { entries, views }
    }
}

/// Every entry of the queue with its per-recipient state, as a snapshot you own
/// (`pw_queue_entries_free`).
///
/// # Safety
/// `queue` NULL or live; `out` NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn pw_queue_list(queue: *const pw_queue, out: *mut *mut pw_queue_entries) -> pw_status {
    ffi::status(|| {
        non_null!(queue, out);
        // SAFETY: checked non-NULL.
        let entries = unsafe { ffi::handle(queue) }.queue.list()?;
        // SAFETY: checked non-NULL.
        unsafe { ffi::put(out, ffi::boxed(pw_queue_entries::new(entries))) };
        Ok(())
    })
}

/// How many entries.
///
/// # Safety
/// `entries` NULL or live.
#[no_mangle]
pub unsafe extern "C" fn pw_queue_entries_count(entries: *const pw_queue_entries) -> usize {
    // SAFETY: per the contract above.
    unsafe { ffi::get!(entries, |e| Ok(e.views.len())) }
}

/// Entry `index`, borrowed. `PW_INVALID_INPUT` past the end.
///
/// # Safety
/// `entries` NULL or live; `out` NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn pw_queue_entries_get(
    entries: *const pw_queue_entries,
    index: usize,
    out: *mut pw_queue_entry,
) -> pw_status {
    // SAFETY: per the contract above.
    unsafe {
        ffi::get_into!(entries, out, |es| {
            let v = ffi::at(&es.views, index, "entry")?;
            let e = &es.entries[index];
            Ok(pw_queue_entry {
                id: v.id.as_ptr(),
                mail_from: v.mail_from.as_ptr(),
                envid: ffi::opt_ptr(&v.envid),
                ret: ffi::opt_ptr(&v.ret),
                size: e.size,
                created_ms: e.created_ms,
                next_try_ms: e.next_try_ms,
                attempts: e.attempts,
                recipient_count: v.rcpts.len(),
            })
        })
    }
}

/// Recipient `rcpt` of entry `entry`, borrowed. `PW_INVALID_INPUT` past either end.
///
/// # Safety
/// `entries` NULL or live; `out` NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn pw_queue_entries_recipient(
    entries: *const pw_queue_entries,
    entry: usize,
    rcpt: usize,
    out: *mut pw_queue_recipient_state,
) -> pw_status {
    // SAFETY: per the contract above.
    unsafe {
        ffi::get_into!(entries, out, |es| {
            let r = ffi::at(&ffi::at(&es.views, entry, "entry")?.rcpts, rcpt, "recipient")?;
            let core = &es.entries[entry].recipients[rcpt];
            Ok(pw_queue_recipient_state {
                rcpt: r.rcpt.as_ptr(),
                notify: ffi::opt_ptr(&r.notify),
                orcpt: ffi::opt_ptr(&r.orcpt),
                status: r.status.as_ptr(),
                attempts: core.attempts,
                last_reply: r.last_reply.as_deref().map_or(std::ptr::null(), |p| p as *const pw_reply),
                last_detail: ffi::opt_ptr(&r.last_detail),
                remote_host: ffi::opt_ptr(&r.remote_host),
                notified: core.notified,
                remote_dsn: core.remote_dsn,
            })
        })
    }
}

/// The entries as JSON (`postwire queue list --json`): `[{"id", "mail_from", "envid", "ret",
/// "size", "created_ms", "next_try_ms", "attempts", "recipients": [{"rcpt", "status",
/// "attempts", "last_reply", …}]}]`. Free with `pw_string_free`.
///
/// # Safety
/// `entries` NULL or live; `out` NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn pw_queue_entries_to_json(
    entries: *const pw_queue_entries,
    out: *mut *mut c_char,
) -> pw_status {
    // SAFETY: per the contract above.
    unsafe { ffi::put_json!(entries, out, |e| mta::to_value(&e.entries)) }
}

/// Free a list. NULL does nothing.
///
/// # Safety
/// `entries` is NULL or not freed yet.
#[no_mangle]
pub unsafe extern "C" fn pw_queue_entries_free(entries: *mut pw_queue_entries) {
    // SAFETY: per the contract above.
    ffi::void(|| unsafe { ffi::free(entries) })
}

/// Stop the background runner (as `pw_queue_stop`) and free the queue; what is spooled stays
/// for the next `pw_queue_open`. NULL does nothing.
///
/// # Safety
/// `queue` is NULL or a `pw_queue` not freed yet, with no call running on it.
#[no_mangle]
pub unsafe extern "C" fn pw_queue_free(queue: *mut pw_queue) {
    ffi::void(|| {
        if queue.is_null() {
            return;
        }
        // SAFETY: per the contract above.
        let q = unsafe { ffi::handle(queue) }.queue.clone();
        let _ = runtime::block_on(q.stop());
        // SAFETY: per the contract above.
        unsafe { ffi::free(queue) }
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use postwire::queue::RetryPolicy;
    use std::time::Duration;

    fn zero() -> pw_queue_options {
        // SAFETY: every field of the struct is an integer or a pointer: all-zero is valid.
        unsafe { std::mem::zeroed() }
    }

    fn core(o: &pw_queue_options) -> Result<postwire::queue::QueueOptions, String> {
        // SAFETY: static strings, arrays of their length, or NULL.
        let v = unsafe { o.to_host() }.map_err(|_| "to_host failed".to_string())?;
        mta::queue_options(v).map_err(|e| e.to_string())
    }

    #[test]
    fn a_zeroed_struct_is_the_cores_defaults() {
        let q = core(&zero()).expect("defaults");
        assert_eq!(q.retry, RetryPolicy::default());
        assert_eq!((q.delivery.port, q.delivery.smarthost.as_deref()), (25, None));
        assert!(!q.delivery.allow_loopback);
    }

    #[test]
    fn fields_convert_and_bad_ones_are_refused() {
        let retry = [500u64, 2000];
        let ns = [c"127.0.0.1:5353".as_ptr()];
        let mut o = zero();
        o.retry_ms = retry.as_ptr();
        o.retry_len = 2;
        o.max_age_ms = 60_000;
        o.nameservers = ns.as_ptr();
        o.nameservers_len = 1;
        o.port = 2525;
        o.allow_loopback = crate::options::PW_SWITCH_ON;
        o.smarthost = c"127.0.0.2".as_ptr();
        let q = core(&o).expect("options");
        assert_eq!(q.retry.delays, [Duration::from_millis(500), Duration::from_secs(2)]);
        assert_eq!(q.retry.max_age, Duration::from_secs(60));
        assert_eq!(q.delivery.resolve.nameservers, Some(vec!["127.0.0.1:5353".to_string()]));
        assert_eq!((q.delivery.port, q.delivery.smarthost.as_deref()), (2525, Some("127.0.0.2")));
        assert!(q.delivery.allow_loopback);
        o.auth_user = c"u".as_ptr();
        assert!(core(&o).is_err(), "auth_user without auth_password");
        o.auth_user = std::ptr::null();
        o.tls = 77;
        assert!(core(&o).is_err(), "an unknown pw_tls_mode");
    }
}
