//! `pw_server`: every server option of the API as `pw_server_options` (converted to the host
//! layer's options value: names, defaults and checks are the core's), C hooks (`hooks.rs`) on
//! the core's hook thread, `listen` / `start` / `stop` / `wait`, counters.
//!
//! The server runs on the core's shared runtime; the core `Server` keeps the handle of its start
//! (started once). Every `pw_server_*` function may be called from any thread; `pw_server_stop`
//! and `pw_server_free` return only once no hook runs or will run, so `user_data` may be freed
//! right after them.

use std::ffi::{c_char, c_void};
use std::net::{SocketAddr, ToSocketAddrs};
use std::sync::Arc;

use postwire::host::{self, HookDispatch};
use postwire::server::{Server, ServerStats};
use serde_json::Value;

use crate::error::pw_status;
use crate::ffi::{self, non_null, Res};
use crate::hooks::{
    pw_auth_fn, pw_on_connect_fn, pw_on_mail_from_fn, pw_on_message_fn, pw_on_rcpt_to_fn, CHooks, UserData,
};
use crate::options::{pw_switch, Obj, PW_SWITCH_DEFAULT, PW_SWITCH_OFF, PW_SWITCH_ON};
use crate::values::pw_socket_addr;

/// A user name and password for the server's built-in AUTH check (`auth_users`).
#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct pw_credential {
    /// The user name.
    pub user: *const c_char,
    /// Its password.
    pub password: *const c_char,
}

/// Server timeouts in milliseconds (0: the core's default, RFC 5321 §4.5.3.2).
#[repr(C)]
#[derive(Debug, Clone, Copy, Default)]
pub struct pw_server_timeouts {
    /// Waiting for the next command line.
    pub command_ms: u64,
    /// Waiting for the next bytes of message data.
    pub data_ms: u64,
    /// The TLS handshake after STARTTLS.
    pub tls_handshake_ms: u64,
    /// Writing a reply to a client that does not read.
    pub write_ms: u64,
}

/// Everything a server is made with (`pw_server_new`): the API's options and the hooks. Zero
/// fields take the core's defaults (see the README's C section).
///
/// Hooks are called on one library thread per server (never two at once for one server), with
/// `user_data` as their first argument: whatever they touch must be safe to use from that thread.
/// A hook blocks the sessions waiting for it; one that does not return within
/// `hook_timeout_ms` is answered `451 4.3.0` for it. With `hooks_inline`, hooks are instead
/// called right where the session needs them, on the server's own threads (several at once),
/// with no hand-off: for hooks that return at once and never block.
#[repr(C)]
#[derive(Debug, Clone)]
pub struct pw_server_options {
    /// Our name: banner, EHLO, the Received line's `by`. NULL: this machine's name.
    pub hostname: *const c_char,
    /// Domains accepted for local delivery.
    pub local_domains: *const *const c_char,
    /// How many `local_domains`.
    pub local_domains_len: usize,
    /// CIDRs (or single addresses) allowed to relay; none: nobody.
    pub relay_networks: *const *const c_char,
    /// How many `relay_networks`.
    pub relay_networks_len: usize,
    /// Authenticated users may relay.
    pub relay_authenticated: pw_switch,
    /// SIZE: largest message in bytes (552 above it); `PW_NO_LIMIT`: none.
    pub max_message_size: u64,
    /// Most recipients per transaction (452 past it).
    pub max_recipients: u64,
    /// Most simultaneous sessions (421 past it).
    pub max_connections: u64,
    /// Timeouts per phase.
    pub timeouts: pw_server_timeouts,
    /// PEM certificate chain; with `tls_key`, STARTTLS is offered.
    pub tls_cert: *const c_char,
    /// PEM private key.
    pub tls_key: *const c_char,
    /// Users and passwords for AUTH (PLAIN, LOGIN), checked by the library; or use `auth`.
    pub auth_users: *const pw_credential,
    /// How many `auth_users`.
    pub auth_users_len: usize,
    /// Offer AUTH without TLS.
    pub allow_insecure_auth: pw_switch,
    /// Answer VRFY (otherwise 252).
    pub allow_vrfy: pw_switch,
    /// Answer EXPN (otherwise 502).
    pub allow_expn: pw_switch,
    /// `"maildir:PATH"`, `"discard"`, or NULL (hooks only).
    pub delivery: *const c_char,
    /// Conformance mode: no leniency for real-world quirks.
    pub strict: pw_switch,
    /// Longest command line, CRLF included (at least 512).
    pub max_command_line: u64,
    /// Longest line in the message, CRLF included (at least 1000); `PW_NO_LIMIT`: none.
    pub max_line_length: u64,
    /// Bare CR/LF in the message: `"reject"` or `"normalize"`; NULL: the default.
    pub bare_line_policy: *const c_char,
    /// Look up the client's name for the Received line.
    pub reverse_dns: pw_switch,
    /// Close a session after this many refused commands.
    pub max_errors: u64,
    /// After `pw_server_stop`, how long transactions in flight may take before `421`.
    pub shutdown_grace_ms: u64,
    /// Message bytes all sessions may hold in memory together (`452 4.3.1` past it).
    pub max_buffered_bytes: u64,
    /// How long a hook may take before the server answers `451 4.3.0` in its place.
    pub hook_timeout_ms: u64,
    /// Most simultaneous sessions from one client address (an IPv6 client by its /64);
    /// `421 4.7.0` past it. `PW_NO_LIMIT`: no per-address limit.
    pub max_connections_per_ip: u64,
    /// CIDRs the per-address limit does not apply to (besides `relay_networks`); none: the
    /// core's default (loopback).
    pub connection_limit_exceptions: *const *const c_char,
    /// How many `connection_limit_exceptions`.
    pub connection_limit_exceptions_len: usize,
    /// Least average rate (bytes per second) at which message content must arrive
    /// (`421 4.4.2` past it). `PW_NO_LIMIT`: only the per-read timeout.
    pub min_data_rate: u64,
    /// Commands that move no transaction forward (NOOP, RSET, VRFY, EXPN, HELP) allowed between
    /// two messages (`421 4.7.0` past it). `PW_NO_LIMIT`: unlimited.
    pub max_junk_commands: u64,
    /// Advertise DSN (RFC 3461) and accept its parameters (off by default: only a queue can
    /// send the notices DSN promises).
    pub advertise_dsn: pw_switch,
    /// With Maildir delivery: `"shared"` (one Maildir, the default), `"per-recipient"` or a
    /// template such as `"{domain}/{user}/Maildir"`; NULL: the default.
    pub maildir_layout: *const c_char,
    /// Relay mode (`delivery = "queue:DIR"`): relay everything through this host (`HOST` or
    /// `HOST:PORT`) instead of routing by MX; NULL: MX routing.
    pub queue_smarthost: *const c_char,
    /// Relay mode: the SMTP port of the exchangers (and of a smarthost named without one);
    /// 0: 25.
    pub queue_port: u16,
    /// Relay mode: DNS servers for MX routing as `"ip:port"`; none: the system's.
    pub nameservers: *const *const c_char,
    /// How many `nameservers`.
    pub nameservers_len: usize,
    /// Relay mode: deliver to exchangers on loopback addresses (tests). Off by default.
    pub allow_loopback: pw_switch,
    /// Relay mode: recipients of `local_domains` or `hostname` go into this Maildir instead of
    /// being relayed; NULL: none are local.
    pub local_maildir: *const c_char,
    /// Relay mode: milliseconds between retries, the last repeating (`queue_retry_len` values);
    /// none: 5 min doubling to 70 min, as Postfix.
    pub queue_retry_ms: *const u64,
    /// How many `queue_retry_ms`.
    pub queue_retry_len: usize,
    /// Relay mode: after this long a message still deferred is bounced (0: 5 days).
    pub queue_max_age_ms: u64,
    /// `PW_SWITCH_ON`: call the hooks on the server's own threads, where the session needs them
    /// (several may run at once; no `hook_timeout_ms`), saving the hand-off to the hook thread —
    /// only for hooks that return at once and never block (a blocking one stalls every session
    /// on that thread). Default: the hook thread.
    pub hooks_inline: pw_switch,
    /// Handed to every hook as its first argument; never dereferenced by the library.
    pub user_data: *mut c_void,
    /// Hook: after accept, before the banner (NULL: none).
    pub on_connect: pw_on_connect_fn,
    /// Hook: on MAIL (NULL: none).
    pub on_mail_from: pw_on_mail_from_fn,
    /// Hook: on RCPT (NULL: none).
    pub on_rcpt_to: pw_on_rcpt_to_fn,
    /// Hook: after the message, before the reply (NULL: none).
    pub on_message: pw_on_message_fn,
    /// Credential check for AUTH instead of `auth_users` (NULL: none).
    pub auth: pw_auth_fn,
}

impl pw_server_options {
    /// The options value for `host::options::server_options`.
    ///
    /// # Safety
    /// The pointer fields are NULL or valid (arrays of their `_len`).
    unsafe fn to_host(&self) -> Res<Value> {
        let mut o = Obj::default();
        // SAFETY (every block below): the pointer fields are NULL or valid, per the contract.
        unsafe {
            o.text("hostname", self.hostname)?;
            o.list("local_domains", self.local_domains, self.local_domains_len)?;
            o.list("relay_networks", self.relay_networks, self.relay_networks_len)?;
        }
        o.switch("relay_authenticated", self.relay_authenticated)?;
        o.number("max_message_size", self.max_message_size, Value::Null);
        o.number("max_recipients", self.max_recipients, Value::Null);
        o.number("max_connections", self.max_connections, Value::Null);
        let t = &self.timeouts;
        let mut phases = Obj::default();
        for (name, ms) in [
            ("command", t.command_ms),
            ("data", t.data_ms),
            ("tls_handshake", t.tls_handshake_ms),
            ("write", t.write_ms),
        ] {
            phases.millis(name, ms);
        }
        if !phases.0.is_empty() {
            o.set("timeouts", phases.value());
        }
        unsafe {
            o.text("tls_cert", self.tls_cert)?;
            o.text("tls_key", self.tls_key)?;
        }
        // SAFETY: as above.
        let users = unsafe { ffi::items(self.auth_users, self.auth_users_len, "auth_users") }?;
        if !users.is_empty() {
            if self.auth.is_some() {
                return Err(ffi::invalid("options auth_users and auth: give one or the other"));
            }
            let mut map = serde_json::Map::new();
            for c in users {
                // SAFETY: the caller's strings (NULL is refused by `text` callers below).
                let (u, p) = unsafe {
                    (
                        ffi::opt_text(c.user, "auth_users user")?,
                        ffi::opt_text(c.password, "auth_users password")?,
                    )
                };
                let (Some(u), Some(p)) = (u, p) else { return Err(ffi::Fail::Null("auth_users")) };
                map.insert(u.to_string(), p.into());
            }
            o.set("auth", Value::Object(map));
        }
        o.switch("allow_insecure_auth", self.allow_insecure_auth)?;
        o.switch("allow_vrfy", self.allow_vrfy)?;
        o.switch("allow_expn", self.allow_expn)?;
        unsafe { o.text("delivery", self.delivery) }?;
        o.switch("strict", self.strict)?;
        o.number("max_command_line", self.max_command_line, Value::Null);
        o.number("max_line_length", self.max_line_length, 0.into());
        unsafe { o.text("bare_line_policy", self.bare_line_policy) }?;
        o.switch("reverse_dns", self.reverse_dns)?;
        o.number("max_errors", self.max_errors, Value::Null);
        o.millis("shutdown_grace", self.shutdown_grace_ms);
        o.number("max_buffered_bytes", self.max_buffered_bytes, Value::Null);
        o.millis("hook_timeout", self.hook_timeout_ms);
        o.number("max_connections_per_ip", self.max_connections_per_ip, 0.into());
        // SAFETY: as above.
        unsafe {
            o.list(
                "connection_limit_exceptions",
                self.connection_limit_exceptions,
                self.connection_limit_exceptions_len,
            )?;
        }
        o.number("min_data_rate", self.min_data_rate, 0.into());
        o.number("max_junk_commands", self.max_junk_commands, 0.into());
        o.switch("advertise_dsn", self.advertise_dsn)?;
        unsafe { o.text("maildir_layout", self.maildir_layout) }?;
        // SAFETY: as above.
        unsafe {
            o.text("queue_smarthost", self.queue_smarthost)?;
            o.list("nameservers", self.nameservers, self.nameservers_len)?;
            o.text("local_maildir", self.local_maildir)?;
        }
        if self.queue_port != 0 {
            o.set("queue_port", self.queue_port);
        }
        o.switch("allow_loopback", self.allow_loopback)?;
        if self.queue_retry_len > 0 {
            if self.queue_retry_ms.is_null() {
                return Err(ffi::Fail::Null("queue_retry_ms"));
            }
            // SAFETY: non-NULL, `queue_retry_len` values per the contract.
            let ms = unsafe { std::slice::from_raw_parts(self.queue_retry_ms, self.queue_retry_len) };
            o.set("queue_retry", ms.iter().map(|&m| m as f64 / 1000.0).collect::<Vec<f64>>());
        }
        o.millis("queue_max_age", self.queue_max_age_ms);
        Ok(o.value())
    }

    fn hooks(&self) -> CHooks {
        CHooks {
            user_data: UserData(self.user_data),
            on_connect: self.on_connect,
            on_mail_from: self.on_mail_from,
            on_rcpt_to: self.on_rcpt_to,
            on_message: self.on_message,
            auth: self.auth,
        }
    }
}

/// An SMTP server. Make with `pw_server_new`, bind with `pw_server_listen`, serve with
/// `pw_server_start`, end with `pw_server_stop` and `pw_server_free`.
pub struct pw_server {
    server: Arc<Server>,
    dispatch: Arc<HookDispatch>,
}

impl pw_server {
    /// Graceful stop, wait for the sessions, then for the hook thread: afterwards no hook runs.
    /// From one of the server's own hooks it is `invalid_input` and stops nothing.
    fn stop(&self) -> postwire::Result<()> {
        host::server::check_may_wait(&self.dispatch)?;
        self.server.stop();
        let served = self.server.handle().map_or(Ok(()), |h| h.wait());
        self.dispatch.flush();
        self.dispatch.close();
        served
    }
}

/// Make a server from `opts` (checked now: a bad option, certificate or Maildir fails here).
///
/// # Safety
/// `opts` is NULL or valid (its pointers NULL or valid); `out` NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn pw_server_new(
    opts: *const pw_server_options,
    out: *mut *mut pw_server,
) -> pw_status {
    ffi::status(|| {
        non_null!(opts, out);
        // SAFETY: checked non-NULL; the caller's struct.
        let opts = unsafe { &*opts };
        // SAFETY: its pointers are NULL or valid.
        let mut core = host::options::server_options(unsafe { opts.to_host() }?)?;
        let hooks = opts.hooks();
        let has_auth = hooks.auth.is_some();
        let set = hooks.set();
        let dispatch = Arc::new(match opts.hooks_inline {
            PW_SWITCH_DEFAULT | PW_SWITCH_OFF => {
                HookDispatch::on_thread("postwire-hooks", set, core.hook_timeout, move |batch| {
                    batch.for_each(|req| hooks.handle(req))
                })
            }
            // Measured (bench/c_bench.sh): the hand-off to the hook thread and back costs up to
            // a third of the rate with one message per session on 2 cores.
            PW_SWITCH_ON => HookDispatch::with_callback(set, core.hook_timeout, move |req| hooks.handle(req)),
            n => return Err(ffi::invalid(format!("option hooks_inline: {n} is not a pw_switch"))),
        });
        if has_auth {
            core.auth = Some(dispatch.clone());
        }
        let server = Arc::new(Server::with_hooks(core, dispatch.clone())?);
        let s = pw_server { server, dispatch };
        // SAFETY: checked non-NULL.
        unsafe { ffi::put(out, ffi::boxed(s)) };
        Ok(())
    })
}

/// Bind `host:port` (port 0: any free port) before `pw_server_start`; `*out` is the bound
/// address. May be called several times; after `pw_server_start` or `pw_server_stop` it is
/// `PW_INVALID_INPUT`.
///
/// # Safety
/// `server` is NULL or live; `host` NULL or a C string; `out` NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn pw_server_listen(
    server: *mut pw_server,
    host: *const c_char,
    port: u16,
    out: *mut pw_socket_addr,
) -> pw_status {
    ffi::status(|| {
        non_null!(server, host, out);
        // SAFETY: checked non-NULL.
        let (s, host) = unsafe { (ffi::handle(server), ffi::text(host, "host")?) };
        let addr: SocketAddr = (host, port)
            .to_socket_addrs()
            .ok()
            .and_then(|mut a| a.next())
            .ok_or_else(|| ffi::invalid(format!("cannot resolve listen host {host:?}")))?;
        let bound = s.server.listen(addr)?;
        // SAFETY: checked non-NULL.
        unsafe { ffi::put(out, bound.into()) };
        Ok(())
    })
}

/// Serve every bound address in the background (on the library's threads) until
/// `pw_server_stop`. Returns at once. A server is started once: a later call while it serves
/// starts nothing and succeeds; one after `pw_server_stop` is `PW_INVALID_INPUT` (a stopped
/// server never serves again: make a new one).
///
/// # Safety
/// `server` is NULL or live.
#[no_mangle]
pub unsafe extern "C" fn pw_server_start(server: *mut pw_server) -> pw_status {
    ffi::status(|| {
        non_null!(server);
        // SAFETY: checked non-NULL.
        unsafe { ffi::handle(server) }.server.start()?;
        Ok(())
    })
}

/// Graceful stop: no new sessions, idle ones are told `421`, transactions in flight may finish
/// for up to `shutdown_grace_ms`; returns when every session ended and no hook runs any more.
/// Idempotent. Never call it from a hook (it would wait for itself).
///
/// # Safety
/// `server` is NULL or live.
#[no_mangle]
pub unsafe extern "C" fn pw_server_stop(server: *mut pw_server) -> pw_status {
    ffi::status(|| {
        non_null!(server);
        // SAFETY: checked non-NULL.
        Ok(unsafe { ffi::handle(server) }.stop()?)
    })
}

/// Close every session now, even mid-message (`421`), then stop as `pw_server_stop`.
///
/// # Safety
/// `server` is NULL or live.
#[no_mangle]
pub unsafe extern "C" fn pw_server_force_stop(server: *mut pw_server) -> pw_status {
    ffi::status(|| {
        non_null!(server);
        // SAFETY: checked non-NULL.
        let s = unsafe { ffi::handle(server) };
        s.server.force_stop();
        Ok(s.stop()?)
    })
}

/// Block until the server stopped serving (after `pw_server_stop` from another thread); the
/// outcome of serving. Returns at once when it was never started.
///
/// # Safety
/// `server` is NULL or live.
#[no_mangle]
pub unsafe extern "C" fn pw_server_wait(server: *const pw_server) -> pw_status {
    ffi::status(|| {
        non_null!(server);
        // SAFETY: checked non-NULL.
        let s = unsafe { ffi::handle(server) };
        host::server::check_may_wait(&s.dispatch)?;
        match s.server.handle() {
            Some(h) => Ok(h.wait()?),
            None => Ok(()),
        }
    })
}

/// True between `pw_server_start` and the end of serving.
///
/// # Safety
/// `server` is NULL or live.
#[no_mangle]
pub unsafe extern "C" fn pw_server_running(server: *const pw_server) -> bool {
    // SAFETY: per the contract above.
    unsafe { ffi::get!(server, |s| Ok(s.server.running())) }
}

/// The server's counters.
#[repr(C)]
#[derive(Debug, Clone, Copy, Default)]
pub struct pw_server_stats {
    /// Sessions accepted since start.
    pub connections: u64,
    /// Sessions open now.
    pub active_connections: u64,
    /// Connections turned away with 421 (server full).
    pub refused_connections: u64,
    /// Messages answered 250 after their data.
    pub messages_accepted: u64,
    /// Messages refused after their data.
    pub messages_rejected: u64,
    /// RCPT accepted.
    pub recipients_accepted: u64,
    /// RCPT refused.
    pub recipients_rejected: u64,
    /// Message bytes received.
    pub bytes_received: u64,
}

impl From<ServerStats> for pw_server_stats {
    fn from(s: ServerStats) -> Self {
        pw_server_stats {
            connections: s.connections,
            active_connections: s.active_connections,
            refused_connections: s.refused_connections,
            messages_accepted: s.messages_accepted,
            messages_rejected: s.messages_rejected,
            recipients_accepted: s.recipients_accepted,
            recipients_rejected: s.recipients_rejected,
            bytes_received: s.bytes_received,
        }
    }
}

/// The counters now.
///
/// # Safety
/// `server` is NULL or live; `out` NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn pw_server_get_stats(
    server: *const pw_server,
    out: *mut pw_server_stats,
) -> pw_status {
    // SAFETY: per the contract above.
    unsafe { ffi::get_into!(server, out, |h| Ok(h.server.stats().into())) }
}

/// Stop the server (as `pw_server_stop`, if it runs) and free it. NULL does nothing.
///
/// # Safety
/// `server` is NULL or a `pw_server` not freed yet; no other thread uses it any more.
#[no_mangle]
pub unsafe extern "C" fn pw_server_free(server: *mut pw_server) {
    ffi::void(|| {
        if !server.is_null() {
            // SAFETY: non-NULL and live.
            let _ = unsafe { ffi::handle(server) }.stop();
        }
        // SAFETY: per the contract above.
        unsafe { ffi::free(server) }
    })
}
