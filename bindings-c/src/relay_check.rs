//! `pw_check_relay`: the open-relay checker (`postwire::relay_check`) as a blocking call, the
//! `pw_relay_report` handle with its accessors, and `pw_relay_report_to_json` (the JSON of
//! `postwire relay-check --json`). Options through `host::mta::relay_check_options`.

use std::ffi::{c_char, CString};

use postwire::host::{mta, runtime};
use postwire::relay_check::{check_relay, RelayReport};
use serde_json::Value;

use crate::error::pw_status;
use crate::ffi::{self, non_null, Res};
use crate::options::{pw_switch, pw_tls_mode, tls_name, Obj};
use crate::values::pw_reply;

/// How `pw_check_relay` probes (zero fields: the core's defaults).
#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct pw_relay_check_options {
    /// Our EHLO name; NULL: this machine's.
    pub helo: *const c_char,
    /// The foreign domain of the probes (default `relay-probe.invalid`).
    pub probe_domain: *const c_char,
    /// Each wait for a reply, in milliseconds (0: 30 s).
    pub timeout_ms: u64,
    /// The probes to run, by name; none: all of them.
    pub tests: *const *const c_char,
    /// How many `tests`.
    pub tests_len: usize,
    /// Local part of the probe senders (default `antispam`).
    pub from_user: *const c_char,
    /// Local part of the probe recipients (default `relaytest`).
    pub to_user: *const c_char,
    /// The server's IP address for the `[ip]` tricks; NULL: the connected address.
    pub server_ip: *const c_char,
    /// A domain the server receives for (the "spoofed internal sender" probes); NULL: the
    /// server's name.
    pub internal_domain: *const c_char,
    /// Send DATA with a cookie body after an accepted RCPT (off by default).
    pub send_data: pw_switch,
    /// Refusals on one connection before a fresh one is opened.
    pub errors_per_connection: u64,
    /// TLS towards the server (default opportunistic).
    pub tls: pw_tls_mode,
}

impl pw_relay_check_options {
    /// # Safety
    /// The pointer fields are NULL or valid.
    unsafe fn to_host(&self) -> Res<Value> {
        let mut o = Obj::default();
        // SAFETY: per the contract above.
        unsafe {
            o.text("helo", self.helo)?;
            o.text("probe_domain", self.probe_domain)?;
            o.list("tests", self.tests, self.tests_len)?;
            o.text("from_user", self.from_user)?;
            o.text("to_user", self.to_user)?;
            o.text("server_ip", self.server_ip)?;
            o.text("internal_domain", self.internal_domain)?;
        }
        o.millis("timeout", self.timeout_ms);
        o.switch("send_data", self.send_data)?;
        o.number("errors_per_connection", self.errors_per_connection, Value::Null);
        if let Some(t) = tls_name(self.tls)? {
            o.set("tls", t);
        }
        Ok(o.value())
    }
}

struct Test {
    name: CString,
    mail_from: CString,
    rcpt_to: CString,
    verdict: CString,
    reply: Option<Box<pw_reply>>,
    transcript: CString,
    error: Option<CString>,
}

/// The outcome of a relay check: overall verdict, evidence, and each probe with its verdict,
/// reply and transcript. Free with `pw_relay_report_free`; its strings are borrowed from it.
pub struct pw_relay_report {
    report: RelayReport,
    tests: Vec<Test>,
    evidence: Vec<CString>,
}

/// One probe of a relay check, borrowed from its `pw_relay_report`.
#[repr(C)]
pub struct pw_relay_test {
    /// The probe's name (`"nmap_null_sender"` …).
    pub name: *const c_char,
    /// MAIL FROM as sent (`"<>"`, `"<antispam@relay-probe.invalid>"` …).
    pub mail_from: *const c_char,
    /// RCPT TO as sent.
    pub rcpt_to: *const c_char,
    /// `"relayed"`, `"refused"`, `"deferred"`, `"auth_required"` or `"error"`.
    pub verdict: *const c_char,
    /// The reply that decided it; NULL when none (a connection error).
    pub reply: *const pw_reply,
    /// The swaks-style transcript (`"-> MAIL FROM:…"`, `"<- 250 …"`), lines joined by `"\n"`.
    pub transcript: *const c_char,
    /// What went wrong for an `"error"` verdict; NULL otherwise.
    pub error: *const c_char,
    /// True for a control probe (a recipient the server must accept: not relay evidence).
    pub control: bool,
}

/// Probe `host:port` (port 0: 25) with the relay tricks of nmap's smtp-open-relay script and
/// more; each probe ends with RSET, the session with QUIT. `PW_OK` when the check ran — the
/// verdicts are in `*out` — an error (`PW_CONNECT`, `PW_TIMEOUT` …) only when it could not.
///
/// # Safety
/// `host` NULL or a C string; `opts` NULL or valid; `out` NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn pw_check_relay(
    host: *const c_char,
    port: u16,
    opts: *const pw_relay_check_options,
    out: *mut *mut pw_relay_report,
) -> pw_status {
    ffi::status(|| {
        non_null!(host, opts, out);
        // SAFETY: checked non-NULL; the caller's string and struct.
        let (host, value) = unsafe { (ffi::text(host, "host")?, (*opts).to_host()?) };
        let o = mta::relay_check_options(host, (port != 0).then_some(port), value)?;
        let report = runtime::block_on(async move { check_relay(&o).await })??;
        let tests = report
            .results
            .iter()
            .map(|t| Test {
                name: ffi::c_string(&t.name),
                mail_from: ffi::c_string(&t.mail_from),
                rcpt_to: ffi::c_string(&t.rcpt_to),
                verdict: ffi::enum_name(&t.verdict),
                reply: t.reply.clone().map(|r| Box::new(pw_reply::new(r))),
                transcript: ffi::c_string(&t.transcript.join("\n")),
                error: ffi::opt_c_string(t.error.as_deref()),
            })
            .collect();
        let evidence = report.evidence.iter().map(|e| ffi::c_string(e)).collect();
        // SAFETY: checked non-NULL.
        unsafe { ffi::put(out, ffi::boxed(pw_relay_report { report, tests, evidence })) };
        Ok(())
    })
}

/// True when any relay probe was relayed: the server is an open relay.
///
/// # Safety
/// `report` NULL or live.
#[no_mangle]
pub unsafe extern "C" fn pw_relay_report_open(report: *const pw_relay_report) -> bool {
    ffi::value(|| {
        non_null!(report);
        // SAFETY: checked non-NULL.
        Ok(unsafe { ffi::handle(report) }.report.open)
    })
}

/// True when not open and no probe was refused outright (only 4xx answers and errors).
///
/// # Safety
/// `report` NULL or live.
#[no_mangle]
pub unsafe extern "C" fn pw_relay_report_inconclusive(report: *const pw_relay_report) -> bool {
    ffi::value(|| {
        non_null!(report);
        // SAFETY: checked non-NULL.
        Ok(unsafe { ffi::handle(report) }.report.inconclusive)
    })
}

/// How many probes relayed (the evidence for "open").
///
/// # Safety
/// `report` NULL or live.
#[no_mangle]
pub unsafe extern "C" fn pw_relay_report_evidence_count(report: *const pw_relay_report) -> usize {
    ffi::value(|| {
        non_null!(report);
        // SAFETY: checked non-NULL.
        Ok(unsafe { ffi::handle(report) }.evidence.len())
    })
}

/// The name of relayed probe `index`, borrowed; NULL past the end.
///
/// # Safety
/// `report` NULL or live.
#[no_mangle]
pub unsafe extern "C" fn pw_relay_report_evidence(report: *const pw_relay_report, index: usize) -> *const c_char {
    ffi::value(|| {
        non_null!(report);
        // SAFETY: checked non-NULL.
        Ok(ffi::at(&unsafe { ffi::handle(report) }.evidence, index, "evidence")?.as_ptr())
    })
}

/// How many probes ran.
///
/// # Safety
/// `report` NULL or live.
#[no_mangle]
pub unsafe extern "C" fn pw_relay_report_result_count(report: *const pw_relay_report) -> usize {
    ffi::value(|| {
        non_null!(report);
        // SAFETY: checked non-NULL.
        Ok(unsafe { ffi::handle(report) }.tests.len())
    })
}

/// Probe `index`, borrowed. `PW_INVALID_INPUT` past the end.
///
/// # Safety
/// `report` NULL or live; `out` NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn pw_relay_report_result(
    report: *const pw_relay_report,
    index: usize,
    out: *mut pw_relay_test,
) -> pw_status {
    ffi::status(|| {
        non_null!(report, out);
        // SAFETY: checked non-NULL.
        let r = unsafe { ffi::handle(report) };
        let t = ffi::at(&r.tests, index, "result")?;
        let v = pw_relay_test {
            name: t.name.as_ptr(),
            mail_from: t.mail_from.as_ptr(),
            rcpt_to: t.rcpt_to.as_ptr(),
            verdict: t.verdict.as_ptr(),
            reply: t.reply.as_deref().map_or(std::ptr::null(), |p| p as *const pw_reply),
            transcript: t.transcript.as_ptr(),
            error: ffi::opt_ptr(&t.error),
            control: r.report.results[index].control,
        };
        // SAFETY: checked non-NULL.
        unsafe { ffi::put(out, v) };
        Ok(())
    })
}

/// The report as JSON (`postwire relay-check --json`): `{"open", "inconclusive", "evidence",
/// "results": [{"name", "mail_from", "rcpt_to", "verdict", "reply", "tricks", "control",
/// "error", "transcript"}], "server_name", "connections"}`. Free with `pw_string_free`.
///
/// # Safety
/// `report` NULL or live; `out` NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn pw_relay_report_to_json(report: *const pw_relay_report, out: *mut *mut c_char) -> pw_status {
    ffi::status(|| {
        non_null!(report, out);
        // SAFETY: checked non-NULL.
        let s = ffi::owned_json(&mta::to_value(&unsafe { ffi::handle(report) }.report))?;
        // SAFETY: checked non-NULL.
        unsafe { ffi::put(out, s) };
        Ok(())
    })
}

/// Free a report. NULL does nothing.
///
/// # Safety
/// `report` is NULL or not freed yet.
#[no_mangle]
pub unsafe extern "C" fn pw_relay_report_free(report: *mut pw_relay_report) {
    // SAFETY: per the contract above.
    ffi::void(|| unsafe { ffi::free(report) })
}
