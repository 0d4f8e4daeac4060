//! The option structs of the C API and their conversion into the host layer's JSON-shaped
//! values (`postwire::host::options`), which apply the core's defaults, units and checks.
//!
//! The rule for every field: **zero means "the core's default"** — a struct set to `{0}` is the
//! API's defaults, and the binding never writes a default down itself (it leaves the field out
//! of the value it hands the core). So switches are `pw_switch` (`PW_SWITCH_DEFAULT` = 0,
//! `PW_SWITCH_ON`, `PW_SWITCH_OFF`) rather than `bool`, and limits where the API has "no limit"
//! take `PW_NO_LIMIT`. Enumerations are `uint32_t` with `#define`d values, so an out-of-range
//! number from C is `PW_INVALID_INPUT`, never undefined behaviour.

use std::ffi::c_char;

use serde_json::{Map, Value};

use crate::ffi::{self, Res};

/// A yes/no option: `PW_SWITCH_DEFAULT` (0, the core's default), `PW_SWITCH_ON`, `PW_SWITCH_OFF`.
pub type pw_switch = u32;
/// The core's default.
pub const PW_SWITCH_DEFAULT: pw_switch = 0;
/// On.
pub const PW_SWITCH_ON: pw_switch = 1;
/// Off.
pub const PW_SWITCH_OFF: pw_switch = 2;

/// A limit set to "none" (the API's `None`): no size limit, unlimited line length, no message
/// cap per pooled connection.
pub const PW_NO_LIMIT: u64 = u64::MAX;

/// How a client uses TLS: `PW_TLS_DEFAULT` (0: opportunistic, the core's default),
/// `PW_TLS_NONE`, `PW_TLS_OPPORTUNISTIC` (STARTTLS when offered), `PW_TLS_STARTTLS` (required),
/// `PW_TLS_IMPLICIT` (TLS from the first byte, port 465 by default).
pub type pw_tls_mode = u32;
/// The core's default (opportunistic).
pub const PW_TLS_DEFAULT: pw_tls_mode = 0;
/// Never TLS.
pub const PW_TLS_NONE: pw_tls_mode = 1;
/// STARTTLS when the server offers it.
pub const PW_TLS_OPPORTUNISTIC: pw_tls_mode = 2;
/// STARTTLS required (`PW_TLS` when it cannot be had).
pub const PW_TLS_STARTTLS: pw_tls_mode = 3;
/// TLS from the first byte.
pub const PW_TLS_IMPLICIT: pw_tls_mode = 4;

/// The API's name of a TLS mode; `None` for `PW_TLS_DEFAULT`.
pub fn tls_name(mode: pw_tls_mode) -> Res<Option<&'static str>> {
    Ok(match mode {
        PW_TLS_DEFAULT => None,
        PW_TLS_NONE => Some("none"),
        PW_TLS_OPPORTUNISTIC => Some("opportunistic"),
        PW_TLS_STARTTLS => Some("starttls"),
        PW_TLS_IMPLICIT => Some("implicit"),
        n => return Err(ffi::invalid(format!("option tls: {n} is not a pw_tls_mode"))),
    })
}

/// Per-phase client timeouts in milliseconds (0: `timeout_ms`, or the core's default).
#[repr(C)]
#[derive(Debug, Clone, Copy, Default)]
pub struct pw_client_timeouts {
    /// TCP connect (and the implicit-TLS handshake).
    pub connect_ms: u64,
    /// The 220 banner.
    pub greeting_ms: u64,
    /// EHLO/HELO.
    pub ehlo_ms: u64,
    /// The MAIL reply.
    pub mail_ms: u64,
    /// Each RCPT reply.
    pub rcpt_ms: u64,
    /// The 354 after DATA.
    pub data_init_ms: u64,
    /// Each write of message data.
    pub data_block_ms: u64,
    /// The reply after the final dot (default 10 minutes: `data_timeout_ms`).
    pub data_end_ms: u64,
    /// Everything else (STARTTLS, AUTH, RSET, VRFY, NOOP, QUIT …).
    pub other_ms: u64,
}

/// How to open a client session (`pw_client_connect`), or where a pooled send goes
/// (`pw_pool_send`). Zero fields take the core's defaults; `host` is required.
#[repr(C)]
#[derive(Debug, Clone)]
pub struct pw_client_options {
    /// Server host name or IP address. Required.
    pub host: *const c_char,
    /// Server port; 0: 25, or 465 with `PW_TLS_IMPLICIT`.
    pub port: u16,
    /// TLS mode (`pw_tls_mode`).
    pub tls: pw_tls_mode,
    /// Name for EHLO/HELO; NULL: this machine's name.
    pub hello_name: *const c_char,
    /// Each wait for a reply except the one after the message; 0: 30 s.
    pub timeout_ms: u64,
    /// The wait for the reply after the message; 0: 10 minutes (RFC 5321 §4.5.3.2).
    pub data_timeout_ms: u64,
    /// Single phases; each 0 keeps what `timeout_ms` / `data_timeout_ms` give.
    pub timeouts: pw_client_timeouts,
    /// PEM file of CA certificates trusted besides the built-in roots; NULL: none.
    pub ca_file: *const c_char,
    /// Name to check the server certificate against, when not `host`; NULL: `host`.
    pub tls_server_name: *const c_char,
    /// Skip certificate verification (tests only).
    pub accept_invalid_certs: pw_switch,
    /// Allow AUTH over an unencrypted connection.
    pub allow_plaintext_auth: pw_switch,
    /// Use PIPELINING when offered.
    pub pipelining: pw_switch,
    /// Use CHUNKING (BDAT) for large messages when offered.
    pub chunking: pw_switch,
    /// Record the `C:`/`S:` transcript (`pw_client_transcript`).
    pub record_transcript: pw_switch,
    /// With `auth_password`: log in after connecting (`pw_client_connect` does, and the pool
    /// does for every session it opens). NULL: no AUTH.
    pub auth_user: *const c_char,
    /// The secret for `auth_user`.
    pub auth_password: *const c_char,
}

/// Builds the JSON-shaped options object, leaving zero fields out.
#[derive(Default)]
pub struct Obj(pub Map<String, Value>);

impl Obj {
    /// `name` = `v`.
    pub fn set(&mut self, name: &str, v: impl Into<Value>) {
        self.0.insert(name.to_string(), v.into());
    }

    /// A C string field (NULL: left out).
    ///
    /// # Safety
    /// `p` is NULL or a valid C string.
    pub unsafe fn text(&mut self, name: &str, p: *const c_char) -> Res<()> {
        // SAFETY: per the contract above.
        if let Some(s) = unsafe { ffi::opt_text(p, name) }? {
            self.set(name, s);
        }
        Ok(())
    }

    /// A string-array field (`n` = 0: left out).
    ///
    /// # Safety
    /// `p` is NULL with `n` = 0, or `n` valid C strings.
    pub unsafe fn list(&mut self, name: &'static str, p: *const *const c_char, n: usize) -> Res<()> {
        if n > 0 {
            // SAFETY: per the contract above.
            self.set(name, unsafe { ffi::text_list(p, n, name) }?);
        }
        Ok(())
    }

    /// A `pw_switch` field.
    pub fn switch(&mut self, name: &str, v: pw_switch) -> Res<()> {
        match v {
            PW_SWITCH_DEFAULT => {}
            PW_SWITCH_ON => self.set(name, true),
            PW_SWITCH_OFF => self.set(name, false),
            n => return Err(ffi::invalid(format!("option {name}: {n} is not a pw_switch"))),
        }
        Ok(())
    }

    /// A count or size (0: left out); `PW_NO_LIMIT` becomes `none` (the core's value for "no
    /// limit": `null` or 0 depending on the option).
    pub fn number(&mut self, name: &str, v: u64, none: Value) {
        match v {
            0 => {}
            PW_NO_LIMIT => self.set(name, none),
            n => self.set(name, n),
        }
    }

    /// A duration in milliseconds (0: left out), as the float seconds the core reads.
    pub fn millis(&mut self, name: &str, ms: u64) {
        if ms > 0 {
            self.set(name, ms as f64 / 1000.0);
        }
    }

    /// The object.
    pub fn value(self) -> Value {
        Value::Object(self.0)
    }
}

impl pw_client_options {
    /// The host and the options object for `host::options::client_options`.
    ///
    /// # Safety
    /// The pointer fields are NULL or valid C strings.
    pub unsafe fn to_host(&self) -> Res<(Option<String>, Option<u16>, Value)> {
        // SAFETY (every block below): the pointer fields are NULL or valid C strings.
        let host = unsafe { ffi::opt_text(self.host, "host") }?.map(str::to_string);
        let mut o = Obj::default();
        if let Some(t) = tls_name(self.tls)? {
            o.set("tls", t);
        }
        unsafe { o.text("hello_name", self.hello_name) }?;
        o.millis("timeout", self.timeout_ms);
        o.millis("data_timeout", self.data_timeout_ms);
        let t = &self.timeouts;
        let mut phases = Obj::default();
        for (name, ms) in [
            ("connect", t.connect_ms),
            ("greeting", t.greeting_ms),
            ("ehlo", t.ehlo_ms),
            ("mail", t.mail_ms),
            ("rcpt", t.rcpt_ms),
            ("data_init", t.data_init_ms),
            ("data_block", t.data_block_ms),
            ("data_end", t.data_end_ms),
            ("other", t.other_ms),
        ] {
            phases.millis(name, ms);
        }
        if !phases.0.is_empty() {
            o.set("timeouts", phases.value());
        }
        unsafe { o.text("ca_file", self.ca_file) }?;
        unsafe { o.text("tls_server_name", self.tls_server_name) }?;
        o.switch("accept_invalid_certs", self.accept_invalid_certs)?;
        o.switch("allow_plaintext_auth", self.allow_plaintext_auth)?;
        o.switch("pipelining", self.pipelining)?;
        o.switch("chunking", self.chunking)?;
        o.switch("record_transcript", self.record_transcript)?;
        let port = (self.port != 0).then_some(self.port);
        Ok((host, port, o.value()))
    }

    /// The core's `ClientOptions`.
    ///
    /// # Safety
    /// As [`Self::to_host`].
    pub unsafe fn to_core(&self) -> Res<postwire::client::ClientOptions> {
        // SAFETY: per the contract above.
        let (host, port, v) = unsafe { self.to_host() }?;
        let host = host.ok_or_else(|| ffi::invalid("option host is required"))?;
        Ok(postwire::host::options::client_options(&host, port, v)?)
    }

    /// `(user, password)` when `auth_user` is set.
    ///
    /// # Safety
    /// As [`Self::to_host`].
    pub unsafe fn credentials(&self) -> Res<Option<(String, String)>> {
        // SAFETY: per the contract above.
        let user = unsafe { ffi::opt_text(self.auth_user, "auth_user") }?;
        let password = unsafe { ffi::opt_text(self.auth_password, "auth_password") }?;
        match (user, password) {
            (None, None) => Ok(None),
            (Some(u), Some(p)) => Ok(Some((u.to_string(), p.to_string()))),
            _ => Err(ffi::invalid("options auth_user and auth_password go together")),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    fn opts() -> pw_client_options {
        pw_client_options {
            host: c"mx.example.test".as_ptr(),
            port: 0,
            tls: PW_TLS_DEFAULT,
            hello_name: std::ptr::null(),
            timeout_ms: 0,
            data_timeout_ms: 0,
            timeouts: pw_client_timeouts::default(),
            ca_file: std::ptr::null(),
            tls_server_name: std::ptr::null(),
            accept_invalid_certs: PW_SWITCH_DEFAULT,
            allow_plaintext_auth: PW_SWITCH_DEFAULT,
            pipelining: PW_SWITCH_DEFAULT,
            chunking: PW_SWITCH_DEFAULT,
            record_transcript: PW_SWITCH_DEFAULT,
            auth_user: std::ptr::null(),
            auth_password: std::ptr::null(),
        }
    }

    fn core(o: &pw_client_options) -> postwire::client::ClientOptions {
        // SAFETY: static strings or NULL.
        match unsafe { o.to_core() } {
            Ok(c) => c,
            Err(_) => panic!("conversion failed"),
        }
    }

    #[test]
    fn zero_fields_are_the_cores_defaults() {
        let c = core(&opts());
        let d = postwire::host::options::client_options("mx.example.test", None, Value::Null).ok();
        let d = d.as_ref().map(|d| (d.port, d.tls, d.pipelining, d.chunking, d.timeouts));
        assert_eq!(Some((c.port, c.tls, c.pipelining, c.chunking, c.timeouts)), d);
    }

    #[test]
    fn set_fields_convert() {
        let mut o = opts();
        o.tls = PW_TLS_IMPLICIT;
        o.timeout_ms = 1500;
        o.timeouts.connect_ms = 250;
        o.pipelining = PW_SWITCH_OFF;
        let c = core(&o);
        assert_eq!(c.effective_port(), 465, "implicit TLS takes port 465 from the core");
        assert_eq!(
            (c.timeouts.connect, c.timeouts.mail),
            (Duration::from_millis(250), Duration::from_millis(1500))
        );
        assert!(!c.pipelining);
        for bad in [
            {
                let mut b = opts();
                b.tls = 9;
                b
            },
            {
                let mut b = opts();
                b.chunking = 3;
                b
            },
        ] {
            // SAFETY: static strings or NULL.
            assert!(unsafe { bad.to_core() }.is_err());
        }
    }
}
