//! `pw_resolve_mx`: MX routing (`postwire::route`) as a blocking call, the `pw_route` handle
//! with its accessors, and `pw_route_to_json` (the JSON of `postwire mx --json`).
//!
//! Options go through the host layer (`host::mta::resolve_options`): zero fields are left out
//! and take the core's defaults.

use std::ffi::{c_char, CString};

use postwire::host::{mta, runtime};
use postwire::route::{MxResolver, Route};

use crate::error::pw_status;
use crate::ffi::{self, non_null, Res};
use crate::options::{pw_switch, Obj, PW_SWITCH_DEFAULT, PW_SWITCH_OFF, PW_SWITCH_ON};

/// How `pw_resolve_mx_with` resolves (zero fields: the core's defaults).
#[repr(C)]
#[derive(Debug, Clone)]
pub struct pw_resolve_options {
    /// DNS servers as `"ip:port"` (tests point them at a local server); none: the system's.
    pub nameservers: *const *const c_char,
    /// How many `nameservers`.
    pub nameservers_len: usize,
    /// `PW_SWITCH_ON`: shuffle equal preferences with `seed` (the same order every time).
    pub seeded: pw_switch,
    /// The seed when `seeded` is on.
    pub seed: u64,
    /// Our own host names: an MX naming one is dropped with every worse preference.
    pub own_hostnames: *const *const c_char,
    /// How many `own_hostnames`.
    pub own_hostnames_len: usize,
    /// Longest CNAME chain followed (default 8).
    pub max_cname_chain: u64,
    /// Most exchangers kept.
    pub max_hosts: u64,
    /// Each DNS query's timeout in milliseconds.
    pub query_timeout_ms: u64,
}

impl pw_resolve_options {
    /// The options value for `host::mta::resolve_options`.
    ///
    /// # Safety
    /// The pointer fields are NULL or valid arrays of their `_len`.
    unsafe fn to_host(&self) -> Res<serde_json::Value> {
        let mut o = Obj::default();
        // SAFETY: per the contract above.
        unsafe {
            o.list("nameservers", self.nameservers, self.nameservers_len)?;
            o.list("own_hostnames", self.own_hostnames, self.own_hostnames_len)?;
        }
        match self.seeded {
            PW_SWITCH_DEFAULT | PW_SWITCH_OFF => {}
            PW_SWITCH_ON => o.set("seed", self.seed),
            n => return Err(ffi::invalid(format!("option seeded: {n} is not a pw_switch"))),
        }
        o.number("max_cname_chain", self.max_cname_chain, serde_json::Value::Null);
        o.number("max_hosts", self.max_hosts, serde_json::Value::Null);
        o.millis("query_timeout", self.query_timeout_ms);
        Ok(o.value())
    }
}

struct Host {
    exchange: CString,
    cname: Option<CString>,
    addresses: Vec<CString>,
}

/// The route to a domain: its CNAME chain, its exchangers in the order to try them (each with
/// its addresses), implicit and null MX flags, and the explanation (every query, answer and
/// skipped candidate). Free with `pw_route_free`; its strings are borrowed from it.
pub struct pw_route {
    route: Route,
    domain: CString,
    canonical: CString,
    cnames: Vec<CString>,
    hosts: Vec<Host>,
    explanation: Vec<CString>,
}

impl pw_route {
    fn new(route: Route) -> pw_route {
        pw_route {
            domain: ffi::c_string(&route.domain),
            canonical: ffi::c_string(&route.canonical),
            cnames: route.cname_chain.iter().map(|c| ffi::c_string(c)).collect(),
            hosts: route
                .hosts
                .iter()
                .map(|h| Host {
                    exchange: ffi::c_string(&h.exchange),
                    cname: ffi::opt_c_string(h.cname.as_deref()),
                    addresses: h.addresses.iter().map(|a| ffi::c_string(&a.to_string())).collect(),
                })
                .collect(),
            explanation: route.explanation.iter().map(|s| ffi::c_string(&s.to_string())).collect(),
            route,
        }
    }
}

/// One exchanger of a route, borrowed from its `pw_route`.
#[repr(C)]
pub struct pw_mx_host {
    /// MX preference (0 for an implicit MX).
    pub preference: u16,
    /// The exchanger's name.
    pub exchange: *const c_char,
    /// The name the exchanger's CNAME points to (RFC 5321 §5.1 says it should not be one:
    /// tolerated and flagged); NULL when it is no CNAME.
    pub cname: *const c_char,
    /// How many addresses (`pw_route_host_address`), A and AAAA.
    pub address_count: usize,
}

/// Resolve where mail for `domain` goes (RFC 5321 §5.1): the CNAME chain, MX records by
/// preference (equal preferences shuffled), their A/AAAA addresses, an implicit MX when there
/// is none, null MX (RFC 7505) flagged. `nameservers`: `n` servers as `"ip:port"` (`n` = 0: the
/// system's; `nameservers` may then be any pointer but NULL). Errors: `PW_DNS` (NXDOMAIN: a
/// permanent reply in `pw_last_error_reply()`; SERVFAIL or timeout: a transient one; CNAME
/// loop; MX loops back to ourselves), `PW_INVALID_INPUT`.
///
/// # Safety
/// `domain` is NULL or a C string; `nameservers` NULL or `n` C strings; `out` NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn pw_resolve_mx(
    domain: *const c_char,
    nameservers: *const *const c_char,
    n: usize,
    out: *mut *mut pw_route,
) -> pw_status {
    ffi::status(|| {
        non_null!(domain, nameservers, out);
        let opts = pw_resolve_options {
            nameservers,
            nameservers_len: n,
            seeded: 0,
            seed: 0,
            own_hostnames: std::ptr::null(),
            own_hostnames_len: 0,
            max_cname_chain: 0,
            max_hosts: 0,
            query_timeout_ms: 0,
        };
        // SAFETY: per the contract above.
        unsafe { resolve(domain, &opts, out) }
    })
}

/// `pw_resolve_mx` with every option of the core (`pw_resolve_options`; zero fields: defaults).
///
/// # Safety
/// `domain` is NULL or a C string; `opts` NULL or valid; `out` NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn pw_resolve_mx_with(
    domain: *const c_char,
    opts: *const pw_resolve_options,
    out: *mut *mut pw_route,
) -> pw_status {
    ffi::status(|| {
        non_null!(domain, opts, out);
        // SAFETY: per the contract above.
        unsafe { resolve(domain, &*opts, out) }
    })
}

/// # Safety
/// Non-NULL arguments, valid per the callers' contracts.
unsafe fn resolve(domain: *const c_char, opts: &pw_resolve_options, out: *mut *mut pw_route) -> Res<()> {
    // SAFETY: per the contract above.
    let (domain, value) = unsafe { (ffi::text(domain, "domain")?, opts.to_host()?) };
    let o = mta::resolve_options(value)?;
    let route = runtime::block_on(async move { MxResolver::new(o)?.resolve(domain).await })??;
    // SAFETY: checked non-NULL by the caller.
    unsafe { ffi::put(out, ffi::boxed(pw_route::new(route))) };
    Ok(())
}

/// The domain asked for. Borrowed from `route`.
///
/// # Safety
/// `route` is NULL or live.
#[no_mangle]
pub unsafe extern "C" fn pw_route_domain(route: *const pw_route) -> *const c_char {
    // SAFETY: per the contract above.
    unsafe { ffi::get!(route, |r| Ok(r.domain.as_ptr())) }
}

/// The canonical name at the end of the CNAME chain (the domain itself without one). Borrowed.
///
/// # Safety
/// `route` is NULL or live.
#[no_mangle]
pub unsafe extern "C" fn pw_route_canonical(route: *const pw_route) -> *const c_char {
    // SAFETY: per the contract above.
    unsafe { ffi::get!(route, |r| Ok(r.canonical.as_ptr())) }
}

/// How many names the CNAME chain has (the targets followed, in order).
///
/// # Safety
/// `route` is NULL or live.
#[no_mangle]
pub unsafe extern "C" fn pw_route_cname_count(route: *const pw_route) -> usize {
    // SAFETY: per the contract above.
    unsafe { ffi::get!(route, |r| Ok(r.cnames.len())) }
}

/// CNAME target `index` of the chain, borrowed; NULL past the end.
///
/// # Safety
/// `route` is NULL or live.
#[no_mangle]
pub unsafe extern "C" fn pw_route_cname(route: *const pw_route, index: usize) -> *const c_char {
    // SAFETY: per the contract above.
    unsafe { ffi::get!(route, |r| Ok(ffi::at(&r.cnames, index, "cname")?.as_ptr())) }
}

/// True when the domain has no MX and its own address is the exchanger (implicit MX).
///
/// # Safety
/// `route` is NULL or live.
#[no_mangle]
pub unsafe extern "C" fn pw_route_implicit(route: *const pw_route) -> bool {
    // SAFETY: per the contract above.
    unsafe { ffi::get!(route, |r| Ok(r.route.implicit)) }
}

/// True when the domain publishes a null MX (RFC 7505: it accepts no mail; no hosts).
///
/// # Safety
/// `route` is NULL or live.
#[no_mangle]
pub unsafe extern "C" fn pw_route_null_mx(route: *const pw_route) -> bool {
    // SAFETY: per the contract above.
    unsafe { ffi::get!(route, |r| Ok(r.route.null_mx)) }
}

/// How many exchangers, in the order to try them.
///
/// # Safety
/// `route` is NULL or live.
#[no_mangle]
pub unsafe extern "C" fn pw_route_host_count(route: *const pw_route) -> usize {
    // SAFETY: per the contract above.
    unsafe { ffi::get!(route, |r| Ok(r.hosts.len())) }
}

/// Exchanger `index`, borrowed from `route`. `PW_INVALID_INPUT` past the end.
///
/// # Safety
/// `route` is NULL or live; `out` NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn pw_route_host(
    route: *const pw_route,
    index: usize,
    out: *mut pw_mx_host,
) -> pw_status {
    // SAFETY: per the contract above.
    unsafe {
        ffi::get_into!(route, out, |r| {
            let (h, core) = (ffi::at(&r.hosts, index, "host")?, &r.route.hosts[index]);
            Ok(pw_mx_host {
                preference: core.preference,
                exchange: h.exchange.as_ptr(),
                cname: ffi::opt_ptr(&h.cname),
                address_count: h.addresses.len(),
            })
        })
    }
}

/// Address `address` (`"127.0.0.2"`, `"::1"`) of exchanger `host`, borrowed; NULL past the end.
///
/// # Safety
/// `route` is NULL or live.
#[no_mangle]
pub unsafe extern "C" fn pw_route_host_address(
    route: *const pw_route,
    host: usize,
    address: usize,
) -> *const c_char {
    // SAFETY: per the contract above.
    unsafe {
        ffi::get!(route, |r| {
            let h = ffi::at(&r.hosts, host, "host")?;
            Ok(ffi::at(&h.addresses, address, "address")?.as_ptr())
        })
    }
}

/// How many lines the explanation has.
///
/// # Safety
/// `route` is NULL or live.
#[no_mangle]
pub unsafe extern "C" fn pw_route_explanation_count(route: *const pw_route) -> usize {
    // SAFETY: per the contract above.
    unsafe { ffi::get!(route, |r| Ok(r.explanation.len())) }
}

/// Explanation line `index` (`"query  MX shmail.abc.test"`, `"answer …"`, `"skip   …"`),
/// borrowed; NULL past the end.
///
/// # Safety
/// `route` is NULL or live.
#[no_mangle]
pub unsafe extern "C" fn pw_route_explanation(route: *const pw_route, index: usize) -> *const c_char {
    // SAFETY: per the contract above.
    unsafe { ffi::get!(route, |r| Ok(ffi::at(&r.explanation, index, "explanation")?.as_ptr())) }
}

/// The route as JSON (`postwire mx --json`): `{"domain", "canonical", "cname_chain", "hosts":
/// [{"preference", "exchange", "addresses", "cname"}], "implicit", "null_mx", "explanation"}`.
/// Free with `pw_string_free`.
///
/// # Safety
/// `route` is NULL or live; `out` NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn pw_route_to_json(route: *const pw_route, out: *mut *mut c_char) -> pw_status {
    // SAFETY: per the contract above.
    unsafe { ffi::put_json!(route, out, |r| mta::to_value(&r.route)) }
}

/// Free a route. NULL does nothing.
///
/// # Safety
/// `route` is NULL or a `pw_route` not freed yet.
#[no_mangle]
pub unsafe extern "C" fn pw_route_free(route: *mut pw_route) {
    // SAFETY: per the contract above.
    ffi::void(|| unsafe { ffi::free(route) })
}
