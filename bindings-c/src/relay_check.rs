//! `pw_check_relay`: the open-relay checker (`postwire::relay_check`) as a blocking call, the
//! `pw_relay_report` handle with its accessors, and `pw_relay_report_to_json` (the JSON of
//! `postwire relay-check --json`). Options through `host::mta::relay_check_options`. The probe
//! matrix, reply classification and summary are offered on their own for the shared vectors.

use std::ffi::{c_char, CString};
use std::sync::OnceLock;

use postwire::host::{mta, runtime};
use postwire::relay_check::{check_relay, classify, probes, summarise_names, RelayReport, Verdict};
use serde_json::Value;

use crate::error::pw_status;
use crate::ffi::{self, non_null, Res};
use crate::options::{pw_switch, pw_tls_mode, tls_name, Obj};
use crate::values::pw_reply;

/// How `pw_check_relay` probes (zero fields: the core's defaults).
#[repr(C)]
#[derive(Debug, Clone)]
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
    // SAFETY: per the contract above.
    unsafe { ffi::get!(report, |r| Ok(r.report.open)) }
}

/// True when not open and no probe was refused outright (only 4xx answers and errors).
///
/// # Safety
/// `report` NULL or live.
#[no_mangle]
pub unsafe extern "C" fn pw_relay_report_inconclusive(report: *const pw_relay_report) -> bool {
    // SAFETY: per the contract above.
    unsafe { ffi::get!(report, |r| Ok(r.report.inconclusive)) }
}

/// How many probes relayed (the evidence for "open").
///
/// # Safety
/// `report` NULL or live.
#[no_mangle]
pub unsafe extern "C" fn pw_relay_report_evidence_count(report: *const pw_relay_report) -> usize {
    // SAFETY: per the contract above.
    unsafe { ffi::get!(report, |r| Ok(r.evidence.len())) }
}

/// The name of relayed probe `index`, borrowed; NULL past the end.
///
/// # Safety
/// `report` NULL or live.
#[no_mangle]
pub unsafe extern "C" fn pw_relay_report_evidence(
    report: *const pw_relay_report,
    index: usize,
) -> *const c_char {
    // SAFETY: per the contract above.
    unsafe { ffi::get!(report, |r| Ok(ffi::at(&r.evidence, index, "evidence")?.as_ptr())) }
}

/// How many probes ran.
///
/// # Safety
/// `report` NULL or live.
#[no_mangle]
pub unsafe extern "C" fn pw_relay_report_result_count(report: *const pw_relay_report) -> usize {
    // SAFETY: per the contract above.
    unsafe { ffi::get!(report, |r| Ok(r.tests.len())) }
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
    // SAFETY: per the contract above.
    unsafe {
        ffi::get_into!(report, out, |r| {
            let t = ffi::at(&r.tests, index, "result")?;
            Ok(pw_relay_test {
                name: t.name.as_ptr(),
                mail_from: t.mail_from.as_ptr(),
                rcpt_to: t.rcpt_to.as_ptr(),
                verdict: t.verdict.as_ptr(),
                reply: t.reply.as_deref().map_or(std::ptr::null(), |p| p as *const pw_reply),
                transcript: t.transcript.as_ptr(),
                error: ffi::opt_ptr(&t.error),
                control: r.report.results[index].control,
            })
        })
    }
}

/// The report as JSON (`postwire relay-check --json`): `{"open", "inconclusive", "evidence",
/// "results": [{"name", "mail_from", "rcpt_to", "verdict", "reply", "tricks", "control",
/// "error", "transcript"}], "server_name", "connections"}`. Free with `pw_string_free`.
///
/// # Safety
/// `report` NULL or live; `out` NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn pw_relay_report_to_json(
    report: *const pw_relay_report,
    out: *mut *mut c_char,
) -> pw_status {
    // SAFETY: per the contract above.
    unsafe { ffi::put_json!(report, out, |r| mta::to_value(&r.report)) }
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

/// The server context the probe matrix is built for (`pw_relay_probes_to_json`): what
/// `pw_check_relay` learns from the banner, EHLO and the connection. NULL fields: absent
/// (`banner_name`, `ehlo_name`, `internal_domain`) or the checker's defaults (`domain`,
/// `from_user`, `to_user`); `ip` is required.
#[repr(C)]
#[derive(Debug, Clone)]
pub struct pw_relay_probe_context {
    /// The name in the server's banner.
    pub banner_name: *const c_char,
    /// The name in the server's EHLO reply.
    pub ehlo_name: *const c_char,
    /// The server's IP address (`"192.0.2.25"`, `"2001:db8::25"`).
    pub ip: *const c_char,
    /// The foreign probe domain (default `relay-probe.invalid`).
    pub domain: *const c_char,
    /// Local part of the probe senders (default `antispam`).
    pub from_user: *const c_char,
    /// Local part of the probe recipients (default `relaytest`).
    pub to_user: *const c_char,
    /// A domain the server receives for.
    pub internal_domain: *const c_char,
}

/// The probe matrix `pw_check_relay` runs against a server with context `ctx`, in order, as
/// JSON: `[{"name", "mail_from", "rcpt_to", "tricks", "control"}]` (what
/// `tests/vectors/relay_probes.json` holds). Free with `pw_string_free`.
///
/// # Safety
/// `ctx` NULL or valid (its strings NULL or C strings); `out` NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn pw_relay_probes_to_json(
    ctx: *const pw_relay_probe_context,
    out: *mut *mut c_char,
) -> pw_status {
    ffi::status(|| {
        non_null!(ctx, out);
        // SAFETY: checked non-NULL; the caller's struct.
        let c = unsafe { &*ctx };
        // SAFETY (every block): the struct's strings are NULL or C strings.
        let text = |p, what| unsafe { ffi::opt_text(p, what) }.map(|s| s.map(str::to_string));
        let mut context = serde_json::Map::new();
        for (name, p) in [
            ("ip", c.ip),
            ("banner_name", c.banner_name),
            ("ehlo_name", c.ehlo_name),
            ("domain", c.domain),
            ("from_user", c.from_user),
            ("to_user", c.to_user),
            ("internal_domain", c.internal_domain),
        ] {
            if let Some(v) = text(p, name)? {
                context.insert(name.into(), Value::String(v));
            }
        }
        if !context.contains_key("ip") {
            return Err(ffi::Fail::Null("ip"));
        }
        // The core fills what is left out with the checker's defaults, as for every runtime.
        let ctx = mta::probe_context(Value::Object(context))?;
        let list = mta::to_value(&probes(&ctx));
        let s = ffi::owned_json(&list)?;
        // SAFETY: checked non-NULL.
        unsafe { ffi::put(out, s) };
        Ok(())
    })
}

/// Every verdict with its static C name.
fn verdict_names() -> &'static [(Verdict, CString)] {
    static NAMES: OnceLock<Vec<(Verdict, CString)>> = OnceLock::new();
    NAMES.get_or_init(|| Verdict::ALL.into_iter().map(|v| (v, ffi::c_string(v.as_str()))).collect())
}

/// The verdict a RCPT reply gives a probe: `*out` is `"relayed"`, `"refused"`, `"deferred"`,
/// `"auth_required"` or `"error"` (static: never freed).
///
/// # Safety
/// `reply` NULL or live; `out` NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn pw_relay_classify(reply: *const pw_reply, out: *mut *const c_char) -> pw_status {
    // SAFETY: per the contract above.
    unsafe {
        ffi::get_into!(reply, out, |h| {
            let v = classify(h.reply());
            Ok(verdict_names().iter().find(|(k, _)| *k == v).map_or(c"error".as_ptr(), |(_, n)| n.as_ptr()))
        })
    }
}

/// The overall verdict of `n` probe verdicts (names as `pw_relay_classify` gives them): open
/// when any relayed, inconclusive when not open and none refused outright.
///
/// # Safety
/// `verdicts` NULL or `n` C strings; the out-pointers NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn pw_relay_summarise(
    verdicts: *const *const c_char,
    n: usize,
    out_open: *mut bool,
    out_inconclusive: *mut bool,
) -> pw_status {
    ffi::status(|| {
        non_null!(verdicts, out_open, out_inconclusive);
        // SAFETY: per the contract above.
        let names = unsafe { ffi::text_list(verdicts, n, "verdicts") }?;
        let (open, inconclusive) = summarise_names(&names)?;
        // SAFETY: checked non-NULL.
        unsafe {
            ffi::put(out_open, open);
            ffi::put(out_inconclusive, inconclusive);
        }
        Ok(())
    })
}
