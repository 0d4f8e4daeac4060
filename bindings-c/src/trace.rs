//! `pw_analyze_received`: Received-trace analysis (`postwire::trace`) as a blocking call, the
//! `pw_trace_analysis` handle (hops, findings) with its accessors and `_to_json` (the JSON of
//! `postwire analyze --json`); `pw_parse_received`: one `Received:` value through the line
//! grammar, as a `pw_received` handle. Options through `host::mta::trace_options`.

use std::ffi::{c_char, CString};

use postwire::host::{mta, runtime};
use postwire::trace::{analyze_received, parse_received_value, ReceivedLine, TraceAnalysis};
use serde_json::Value;

use crate::error::pw_status;
use crate::ffi::{self, non_null, Res};
use crate::options::{pw_switch, Obj};

/// How `pw_analyze_received` judges a trace (zero fields: the core's defaults).
#[repr(C)]
#[derive(Debug, Clone)]
pub struct pw_trace_options {
    /// Hosts (names or domains) whose lines are trusted: lines below the last of them may have
    /// been written by the sender (`after_trusted`).
    pub trusted_hosts: *const *const c_char,
    /// How many `trusted_hosts`.
    pub trusted_hosts_len: usize,
    /// Look up forward-confirmed reverse DNS of every hop's IP (through `nameservers`).
    pub resolve: pw_switch,
    /// DNS servers (`"ip:port"`) for `resolve`; none: the system's.
    pub nameservers: *const *const c_char,
    /// How many `nameservers`.
    pub nameservers_len: usize,
    /// "Now" for the future-date check, seconds since the epoch; 0: the clock.
    pub now: i64,
}

impl pw_trace_options {
    /// # Safety
    /// The pointer fields are NULL or valid.
    unsafe fn to_host(&self) -> Res<Value> {
        let mut o = Obj::default();
        // SAFETY: per the contract above.
        unsafe {
            o.list("trusted_hosts", self.trusted_hosts, self.trusted_hosts_len)?;
            o.list("nameservers", self.nameservers, self.nameservers_len)?;
        }
        o.switch("resolve", self.resolve)?;
        if self.now != 0 {
            o.set("now", self.now);
        }
        Ok(o.value())
    }
}

fn opt(s: &Option<String>) -> Option<CString> {
    ffi::opt_c_string(s.as_deref())
}

struct HopView {
    from_helo: Option<CString>,
    from_rdns: Option<CString>,
    from_ip: Option<CString>,
    by_host: Option<CString>,
    with_protocol: Option<CString>,
    tls_version: Option<CString>,
    tls_cipher: Option<CString>,
    id: Option<CString>,
    for_addr: Option<CString>,
    date: Option<CString>,
    raw: CString,
    defects: Vec<CString>,
    resolved_rdns: Option<CString>,
}

struct FindingView {
    kind: CString,
    severity: CString,
    detail: CString,
    evidence: Vec<CString>,
}

/// The analysis of a message's `Received:` trace: hops in path order (oldest first), findings,
/// and the overall `suspicious`. Free with `pw_trace_analysis_free`; its strings are borrowed
/// from it.
pub struct pw_trace_analysis {
    analysis: TraceAnalysis,
    hops: Vec<HopView>,
    findings: Vec<FindingView>,
}

/// One hop of a trace, borrowed from its `pw_trace_analysis`. Absent fields are NULL.
#[repr(C)]
pub struct pw_hop {
    /// The name the client gave in HELO/EHLO.
    pub from_helo: *const c_char,
    /// The client's reverse-DNS name as the hop recorded it (NULL for `unknown`).
    pub from_rdns: *const c_char,
    /// The client's IP address as text.
    pub from_ip: *const c_char,
    /// The host that wrote the line.
    pub by_host: *const c_char,
    /// The `with` protocol (`ESMTPS`, `LMTP`, `HTTP`, `mapi` …).
    pub with_protocol: *const c_char,
    /// True when the line says the hop was encrypted.
    pub tls: bool,
    /// TLS version named in the line.
    pub tls_version: *const c_char,
    /// TLS cipher named in the line.
    pub tls_cipher: *const c_char,
    /// The receiving host's queue id.
    pub id: *const c_char,
    /// The recipient of the `for` clause.
    pub for_addr: *const c_char,
    /// The date the hop wrote, RFC 3339.
    pub date: *const c_char,
    /// True when `timestamp` holds the date (seconds since the epoch, UTC).
    pub has_timestamp: bool,
    /// The date as seconds since the epoch.
    pub timestamp: i64,
    /// True when `delay` holds the seconds since the previous dated hop.
    pub has_delay: bool,
    /// Seconds since the previous dated hop (negative: this hop claims to be older).
    pub delay: f64,
    /// The field as it appeared, without `Received:`.
    pub raw: *const c_char,
    /// How many defects the line has (`pw_trace_analysis_hop_defect`).
    pub defect_count: usize,
    /// The resolved reverse-DNS name of `from_ip` (only with `resolve`).
    pub resolved_rdns: *const c_char,
    /// Forward-confirmed reverse DNS (only with `resolve`): 1 confirmed, 0 not, -1 not checked.
    pub fcrdns: i32,
}

/// One finding of a trace, borrowed from its `pw_trace_analysis`.
#[repr(C)]
pub struct pw_finding {
    /// `"chain_break"`, `"helo_mismatch"`, `"after_trusted"`, `"date_order"`, `"future_date"`,
    /// `"huge_delay"`, `"private_ip_in_public_path"`, `"unparsable"`, `"fcrdns_failed"`.
    pub kind: *const c_char,
    /// The hop it is about (index in path order), or -1 for the whole trace.
    pub hop: i64,
    /// `"low"`, `"medium"` or `"high"`.
    pub severity: *const c_char,
    /// One sentence for a person.
    pub detail: *const c_char,
    /// How many evidence strings (`pw_trace_analysis_finding_evidence`).
    pub evidence_count: usize,
}

impl pw_trace_analysis {
    fn new(analysis: TraceAnalysis) -> pw_trace_analysis {
        let hops = analysis
            .hops
            .iter()
            .map(|h| HopView {
                from_helo: opt(&h.from_helo),
                from_rdns: opt(&h.from_rdns),
                from_ip: h.from_ip.map(|ip| ffi::c_string(&ip.to_string())),
                by_host: opt(&h.by_host),
                with_protocol: opt(&h.with_protocol),
                tls_version: opt(&h.tls_version),
                tls_cipher: opt(&h.tls_cipher),
                id: opt(&h.id),
                for_addr: opt(&h.for_addr),
                date: opt(&h.date),
                raw: ffi::c_string(&h.raw),
                defects: h.defects.iter().map(|d| ffi::c_string(d)).collect(),
                resolved_rdns: opt(&h.resolved_rdns),
            })
            .collect();
        let findings = analysis
            .findings
            .iter()
            .map(|f| FindingView {
                kind: ffi::c_string(&f.kind),
                severity: ffi::c_string(f.severity.as_str()),
                detail: ffi::c_string(&f.detail),
                evidence: f.evidence.iter().map(|e| ffi::c_string(e)).collect(),
            })
            .collect();
        pw_trace_analysis { analysis, hops, findings }
    }
}

/// Analyse the `Received:` trace of `message` (`message_len` bytes: the header, or the whole
/// message): every line parsed (defects listed, never a failure), hops bottom-up with delays,
/// findings with evidence. A message with no `Received:` line gives zero hops. Errors only from
/// `resolve` (`PW_DNS`) or a bad option (`PW_INVALID_INPUT`).
///
/// # Safety
/// `message` NULL or `message_len` readable bytes; `opts` NULL or valid; `out` NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn pw_analyze_received(
    message: *const u8,
    message_len: usize,
    opts: *const pw_trace_options,
    out: *mut *mut pw_trace_analysis,
) -> pw_status {
    ffi::status(|| {
        non_null!(message, opts, out);
        // SAFETY: checked non-NULL; per the contract above.
        let (msg, value) = unsafe { (ffi::bytes(message, message_len), (*opts).to_host()?) };
        let o = mta::trace_options(value)?;
        let analysis = runtime::block_on(analyze_received(msg, &o))??;
        // SAFETY: checked non-NULL.
        unsafe { ffi::put(out, ffi::boxed(pw_trace_analysis::new(analysis))) };
        Ok(())
    })
}

/// True when a finding of medium or high severity points at forgery or tampering.
///
/// # Safety
/// `analysis` NULL or live.
#[no_mangle]
pub unsafe extern "C" fn pw_trace_analysis_suspicious(analysis: *const pw_trace_analysis) -> bool {
    // SAFETY: per the contract above.
    unsafe { ffi::get!(analysis, |a| Ok(a.analysis.suspicious)) }
}

/// How many hops.
///
/// # Safety
/// `analysis` NULL or live.
#[no_mangle]
pub unsafe extern "C" fn pw_trace_analysis_hop_count(analysis: *const pw_trace_analysis) -> usize {
    // SAFETY: per the contract above.
    unsafe { ffi::get!(analysis, |a| Ok(a.hops.len())) }
}

/// Hop `index` (0 = oldest), borrowed. `PW_INVALID_INPUT` past the end.
///
/// # Safety
/// `analysis` NULL or live; `out` NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn pw_trace_analysis_hop(
    analysis: *const pw_trace_analysis,
    index: usize,
    out: *mut pw_hop,
) -> pw_status {
    // SAFETY: per the contract above.
    unsafe {
        ffi::get_into!(analysis, out, |a| {
            let v = ffi::at(&a.hops, index, "hop")?;
            let h = &a.analysis.hops[index];
            Ok(pw_hop {
                from_helo: ffi::opt_ptr(&v.from_helo),
                from_rdns: ffi::opt_ptr(&v.from_rdns),
                from_ip: ffi::opt_ptr(&v.from_ip),
                by_host: ffi::opt_ptr(&v.by_host),
                with_protocol: ffi::opt_ptr(&v.with_protocol),
                tls: h.tls,
                tls_version: ffi::opt_ptr(&v.tls_version),
                tls_cipher: ffi::opt_ptr(&v.tls_cipher),
                id: ffi::opt_ptr(&v.id),
                for_addr: ffi::opt_ptr(&v.for_addr),
                date: ffi::opt_ptr(&v.date),
                has_timestamp: h.timestamp.is_some(),
                timestamp: h.timestamp.unwrap_or(0),
                has_delay: h.delay.is_some(),
                delay: h.delay.unwrap_or(0.0),
                raw: v.raw.as_ptr(),
                defect_count: v.defects.len(),
                resolved_rdns: ffi::opt_ptr(&v.resolved_rdns),
                fcrdns: h.fcrdns.map_or(-1, i32::from),
            })
        })
    }
}

/// Defect `defect` of hop `hop` (`"no_semicolon"`, `"bad_date"` …), borrowed; NULL past the end.
///
/// # Safety
/// `analysis` NULL or live.
#[no_mangle]
pub unsafe extern "C" fn pw_trace_analysis_hop_defect(
    analysis: *const pw_trace_analysis,
    hop: usize,
    defect: usize,
) -> *const c_char {
    // SAFETY: per the contract above.
    unsafe {
        ffi::get!(analysis, |a| {
            let h = ffi::at(&a.hops, hop, "hop")?;
            Ok(ffi::at(&h.defects, defect, "defect")?.as_ptr())
        })
    }
}

/// How many findings.
///
/// # Safety
/// `analysis` NULL or live.
#[no_mangle]
pub unsafe extern "C" fn pw_trace_analysis_finding_count(analysis: *const pw_trace_analysis) -> usize {
    // SAFETY: per the contract above.
    unsafe { ffi::get!(analysis, |a| Ok(a.findings.len())) }
}

/// Finding `index`, borrowed. `PW_INVALID_INPUT` past the end.
///
/// # Safety
/// `analysis` NULL or live; `out` NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn pw_trace_analysis_finding(
    analysis: *const pw_trace_analysis,
    index: usize,
    out: *mut pw_finding,
) -> pw_status {
    // SAFETY: per the contract above.
    unsafe {
        ffi::get_into!(analysis, out, |a| {
            let v = ffi::at(&a.findings, index, "finding")?;
            Ok(pw_finding {
                kind: v.kind.as_ptr(),
                hop: a.analysis.findings[index].hop.map_or(-1, |h| i64::try_from(h).unwrap_or(i64::MAX)),
                severity: v.severity.as_ptr(),
                detail: v.detail.as_ptr(),
                evidence_count: v.evidence.len(),
            })
        })
    }
}

/// Evidence string `evidence` (`"name=value"`) of finding `finding`, borrowed; NULL past the end.
///
/// # Safety
/// `analysis` NULL or live.
#[no_mangle]
pub unsafe extern "C" fn pw_trace_analysis_finding_evidence(
    analysis: *const pw_trace_analysis,
    finding: usize,
    evidence: usize,
) -> *const c_char {
    // SAFETY: per the contract above.
    unsafe {
        ffi::get!(analysis, |a| {
            let f = ffi::at(&a.findings, finding, "finding")?;
            Ok(ffi::at(&f.evidence, evidence, "evidence")?.as_ptr())
        })
    }
}

/// The analysis as JSON (`postwire analyze --json`): `{"hops": [{"from_helo", "from_rdns",
/// "from_ip", "by_host", "with_protocol", "tls", "id", "for_addr", "date", "delay", "raw",
/// "defects", …}], "findings": [{"kind", "hop", "severity", "detail", "evidence"}],
/// "suspicious"}`. Free with `pw_string_free`.
///
/// # Safety
/// `analysis` NULL or live; `out` NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn pw_trace_analysis_to_json(
    analysis: *const pw_trace_analysis,
    out: *mut *mut c_char,
) -> pw_status {
    // SAFETY: per the contract above.
    unsafe { ffi::put_json!(analysis, out, |a| mta::to_value(&a.analysis)) }
}

/// Free an analysis. NULL does nothing.
///
/// # Safety
/// `analysis` is NULL or not freed yet.
#[no_mangle]
pub unsafe extern "C" fn pw_trace_analysis_free(analysis: *mut pw_trace_analysis) {
    // SAFETY: per the contract above.
    ffi::void(|| unsafe { ffi::free(analysis) })
}

/// One `Received:` value as the line grammar reads it. Free with `pw_received_free`.
pub struct pw_received {
    line: ReceivedLine,
    fields: Vec<Option<CString>>,
    defects: Vec<CString>,
}

/// The fields of a parsed `Received:` value, borrowed from its `pw_received`. Absent: NULL.
#[repr(C)]
pub struct pw_received_fields {
    /// The word after `from`.
    pub from: *const c_char,
    /// The connecting IP address as text.
    pub from_ip: *const c_char,
    /// The reverse-DNS name in the `from` comment.
    pub from_iprev: *const c_char,
    /// The host after `by`.
    pub by: *const c_char,
    /// The address after `for`.
    pub for_: *const c_char,
    /// The registered `with` protocol (`ESMTPS`, `LMTP` …).
    pub with: *const c_char,
    /// The first word after `with` when it is no registered protocol (`mapi`).
    pub with_word: *const c_char,
    /// TLS version named in the line (`TLSv1.3`).
    pub tls_version: *const c_char,
    /// TLS cipher named in the line.
    pub tls_cipher: *const c_char,
    /// The `id` clause.
    pub id: *const c_char,
    /// An ident (RFC 1413) user.
    pub ident: *const c_char,
    /// The name of an explicit `HELO`/`EHLO`/`helo=` comment.
    pub helo: *const c_char,
    /// `HELO`, `EHLO` or `LHLO` when the line says which.
    pub helo_cmd: *const c_char,
    /// The `via` clause.
    pub via: *const c_char,
    /// The date, RFC 3339.
    pub date: *const c_char,
    /// True when `timestamp` holds the date.
    pub has_timestamp: bool,
    /// The date as seconds since the epoch (UTC).
    pub timestamp: i64,
    /// How many defects (`pw_received_defect`).
    pub defect_count: usize,
}

/// Parse one `Received:` value (`value_len` bytes, without `Received:`; folded lines allowed).
/// Never fails on odd input: what is odd is listed as defects.
///
/// # Safety
/// `value` NULL or `value_len` readable bytes; `out` NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn pw_parse_received(
    value: *const u8,
    value_len: usize,
    out: *mut *mut pw_received,
) -> pw_status {
    ffi::status(|| {
        non_null!(value, out);
        // SAFETY: checked non-NULL; per the contract above.
        let line = parse_received_value(unsafe { ffi::bytes(value, value_len) });
        let ip = line.from_ip.map(|ip| ip.to_string());
        let fields = [
            &line.from,
            &ip,
            &line.from_iprev,
            &line.by,
            &line.for_,
            &line.with,
            &line.with_word,
            &line.tls_version,
            &line.tls_cipher,
            &line.id,
            &line.ident,
            &line.helo,
            &line.helo_cmd,
            &line.via,
            &line.date,
        ]
        .into_iter()
        .map(opt)
        .collect();
        let defects = line.defects.iter().map(|d| ffi::c_string(d)).collect();
        // SAFETY: checked non-NULL.
        unsafe { ffi::put(out, ffi::boxed(pw_received { line, fields, defects })) };
        Ok(())
    })
}

/// The parsed fields, borrowed from `received`.
///
/// # Safety
/// `received` NULL or live; `out` NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn pw_received_get(
    received: *const pw_received,
    out: *mut pw_received_fields,
) -> pw_status {
    // SAFETY: per the contract above.
    unsafe {
        ffi::get_into!(received, out, |r| {
            let p: Vec<*const c_char> = r.fields.iter().map(ffi::opt_ptr).collect();
            Ok(pw_received_fields {
                from: p[0],
                from_ip: p[1],
                from_iprev: p[2],
                by: p[3],
                for_: p[4],
                with: p[5],
                with_word: p[6],
                tls_version: p[7],
                tls_cipher: p[8],
                id: p[9],
                ident: p[10],
                helo: p[11],
                helo_cmd: p[12],
                via: p[13],
                date: p[14],
                has_timestamp: r.line.timestamp.is_some(),
                timestamp: r.line.timestamp.unwrap_or(0),
                defect_count: r.defects.len(),
            })
        })
    }
}

/// Defect `index` of the line (`"no_semicolon"`, `"bad_date"` …), borrowed; NULL past the end.
///
/// # Safety
/// `received` NULL or live.
#[no_mangle]
pub unsafe extern "C" fn pw_received_defect(received: *const pw_received, index: usize) -> *const c_char {
    // SAFETY: per the contract above.
    unsafe { ffi::get!(received, |r| Ok(ffi::at(&r.defects, index, "defect")?.as_ptr())) }
}

/// The parsed line as JSON: `{"from", "from_ip", "from_iprev", "by", "for_", "with",
/// "with_word", "tls_version", "tls_cipher", "id", "ident", "helo", "helo_cmd", "via", "date",
/// "timestamp", "defects"}`. Free with `pw_string_free`.
///
/// # Safety
/// `received` NULL or live; `out` NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn pw_received_to_json(
    received: *const pw_received,
    out: *mut *mut c_char,
) -> pw_status {
    // SAFETY: per the contract above.
    unsafe { ffi::put_json!(received, out, |r| mta::to_value(&r.line)) }
}

/// Free a parsed line. NULL does nothing.
///
/// # Safety
/// `received` is NULL or not freed yet.
#[no_mangle]
pub unsafe extern "C" fn pw_received_free(received: *mut pw_received) {
    // SAFETY: per the contract above.
    ffi::void(|| unsafe { ffi::free(received) })
}
