//! The boundary every entry point goes through: the panic guard, the NULL checks, and the
//! conversions of C arguments (strings, byte buffers, string arrays) and results (out-parameters,
//! handles, library-allocated strings).
//!
//! Each `extern "C"` function body is one closure handed to [`status`] (functions that return a
//! `pw_status`), [`value`] (accessors that return a value: on failure the zero value) or
//! [`void`] (the `_free` functions). They run it under `catch_unwind` — a panic never unwinds
//! into C — and turn a failure into its status and this thread's last error (`error.rs`). An
//! accessor that only reads a handle is written as [`get!`] (a value), [`get_into!`] (into
//! `*out`) or [`put_json!`] (its JSON), which do the same and check the handle (named in the
//! error by its parameter's own name) and `out` themselves. Every other closure starts with
//! [`non_null!`] over **all** its pointer arguments before it reads any of them, so a NULL
//! anywhere is `PW_NULL_PARAMETER` whatever the other arguments point to (the generated NULL test
//! of `tests/c` relies on that), and writes its out-parameters last, only on success.

use std::ffi::{c_char, CStr, CString};
use std::panic::{catch_unwind, AssertUnwindSafe};

use postwire::Error;

use crate::error::{self, pw_status};
use crate::status;

/// Why an entry point failed.
pub enum Fail {
    /// The named pointer argument was NULL.
    Null(&'static str),
    /// The core failed (a failed send's refused recipients are in `Error::rejected`).
    Core(Error),
}

impl From<Error> for Fail {
    fn from(error: Error) -> Self {
        Fail::Core(error)
    }
}

/// What an entry point's body returns.
pub type Res<T> = Result<T, Fail>;

/// An `invalid_input` failure.
pub fn invalid(message: impl Into<String>) -> Fail {
    Error::invalid_input(message).into()
}

/// Return `PW_NULL_PARAMETER` (as a [`Fail::Null`]) when any of the named pointers is NULL.
macro_rules! non_null {
    ($($p:ident),+ $(,)?) => {
        $(
            if $p.is_null() {
                return Err($crate::ffi::Fail::Null(stringify!($p)));
            }
        )+
    };
}
pub(crate) use non_null;

/// Run `body` under the panic guard; failures and panics go to `fail`.
fn guard<T>(body: impl FnOnce() -> Res<T>, fail: impl FnOnce(Option<Fail>) -> T) -> T {
    match catch_unwind(AssertUnwindSafe(body)) {
        Ok(Ok(v)) => v,
        Ok(Err(f)) => fail(Some(f)),
        Err(_) => fail(None),
    }
}

/// The body of a function returning `pw_status`: `PW_OK`, or the failure's status (recorded as
/// this thread's last error).
pub fn status(body: impl FnOnce() -> Res<()>) -> pw_status {
    guard(
        || body().map(|()| status::OK),
        |f| match f {
            Some(f) => error::record(f),
            None => error::record_panic(),
        },
    )
}

/// The body of an accessor returning a value: the value, or [`Zero::zero`] with the failure
/// recorded as this thread's last error.
pub fn value<T: Zero>(body: impl FnOnce() -> Res<T>) -> T {
    guard(body, |f| {
        match f {
            Some(f) => error::record(f),
            None => error::record_panic(),
        };
        T::zero()
    })
}

/// The body of a function that returns nothing (`_free`): a panic is recorded, nothing else is.
pub fn void(body: impl FnOnce()) {
    guard(
        || {
            body();
            Ok(())
        },
        |f| {
            if f.is_none() {
                error::record_panic();
            }
        },
    )
}

/// The value an accessor returns when it fails (NULL, 0, false).
pub trait Zero {
    /// That value.
    fn zero() -> Self;
}

impl<T> Zero for *const T {
    fn zero() -> Self {
        std::ptr::null()
    }
}

macro_rules! zero_is_default {
    ($($t:ty),*) => { $(impl Zero for $t { fn zero() -> Self { <$t>::default() } })* };
}
zero_is_default!(bool, u16, u32, u64, usize);

/// A C string argument (checked non-NULL by the caller) as UTF-8; `what` names it in the error.
///
/// # Safety
/// `p` is a valid NUL-terminated string that outlives `'a`.
pub unsafe fn text<'a>(p: *const c_char, what: &str) -> Res<&'a str> {
    // SAFETY: per the contract above.
    unsafe { CStr::from_ptr(p) }.to_str().map_err(|_| invalid(format!("{what} is not valid UTF-8")))
}

/// An optional C string (a struct field: NULL = not given).
///
/// # Safety
/// `p` is NULL or a valid NUL-terminated string that outlives `'a`.
pub unsafe fn opt_text<'a>(p: *const c_char, what: &str) -> Res<Option<&'a str>> {
    if p.is_null() {
        return Ok(None);
    }
    // SAFETY: non-NULL, per the contract above.
    unsafe { text(p, what) }.map(Some)
}

/// A byte buffer (pointer checked non-NULL by the caller) and its length.
///
/// # Safety
/// `p` points to `len` readable bytes that outlive `'a`.
pub unsafe fn bytes<'a>(p: *const u8, len: usize) -> &'a [u8] {
    // SAFETY: per the contract above.
    unsafe { std::slice::from_raw_parts(p, len) }
}

/// An array of `n` C strings (the array checked non-NULL by the caller, or `n` = 0 for a struct
/// field); a NULL element is `PW_NULL_PARAMETER`.
///
/// # Safety
/// `p` is NULL with `n` = 0, or points to `n` pointers, each NULL or a valid C string.
pub unsafe fn text_list(p: *const *const c_char, n: usize, what: &'static str) -> Res<Vec<String>> {
    if n == 0 {
        return Ok(Vec::new());
    }
    if p.is_null() {
        return Err(Fail::Null(what));
    }
    // SAFETY: per the contract above.
    let items = unsafe { std::slice::from_raw_parts(p, n) };
    items
        .iter()
        .map(|&s| {
            if s.is_null() {
                return Err(Fail::Null(what));
            }
            // SAFETY: non-NULL element of the caller's array.
            unsafe { text(s, what) }.map(str::to_string)
        })
        .collect()
}

/// The arguments of a send (`pw_client_send`, `pw_pool_send`, `pw_send_mail`): the sender, the
/// `rcpt_count` recipients and the message, each checked non-NULL by the caller.
///
/// # Safety
/// `mail_from` is a C string, `rcpt_to` holds `rcpt_count` C strings, `message` has
/// `message_len` readable bytes; all outlive `'a`.
pub unsafe fn mail<'a>(
    mail_from: *const c_char,
    rcpt_to: *const *const c_char,
    rcpt_count: usize,
    message: *const u8,
    message_len: usize,
) -> Res<(&'a str, Vec<String>, &'a [u8])> {
    // SAFETY: per the contract above.
    unsafe {
        Ok((
            text(mail_from, "mail_from")?,
            text_list(rcpt_to, rcpt_count, "rcpt_to")?,
            bytes(message, message_len),
        ))
    }
}

/// A struct-field array of `n` items (`T` is a `#[repr(C)]` struct).
///
/// # Safety
/// `p` is NULL with `n` = 0, or points to `n` valid `T`s that outlive `'a`.
pub unsafe fn items<'a, T>(p: *const T, n: usize, what: &'static str) -> Res<&'a [T]> {
    if n == 0 {
        return Ok(&[]);
    }
    if p.is_null() {
        return Err(Fail::Null(what));
    }
    // SAFETY: per the contract above.
    Ok(unsafe { std::slice::from_raw_parts(p, n) })
}

/// Write an out-parameter (checked non-NULL by the caller).
///
/// # Safety
/// `p` is valid for writes of a `T`.
pub unsafe fn put<T>(p: *mut T, v: T) {
    // SAFETY: per the contract above. `write`: the old value (caller's memory) is not dropped.
    unsafe { p.write(v) }
}

/// Move `v` to the heap for C (freed by its `_free` function with [`free`]).
pub fn boxed<T>(v: T) -> *mut T {
    Box::into_raw(Box::new(v))
}

/// Free a handle made by [`boxed`]; NULL does nothing.
///
/// # Safety
/// `p` is NULL or came from [`boxed`] and was not freed yet.
pub unsafe fn free<T>(p: *mut T) {
    if !p.is_null() {
        // SAFETY: per the contract above.
        drop(unsafe { Box::from_raw(p) });
    }
}

/// A handle argument (checked non-NULL by the caller) as a reference.
///
/// # Safety
/// `p` came from [`boxed`] and lives for `'a`.
pub unsafe fn handle<'a, T>(p: *const T) -> &'a T {
    // SAFETY: per the contract above.
    unsafe { &*p }
}

/// `get!(handle, read)`: [`get_named`] with the handle parameter's own name for the error.
macro_rules! get {
    ($h:ident, $read:expr $(,)?) => {
        $crate::ffi::get_named($h, stringify!($h), $read)
    };
}
pub(crate) use get;

/// `get_into!(handle, out, read)`: [`get_into_named`] with the handle parameter's own name.
macro_rules! get_into {
    ($h:ident, $out:expr, $read:expr $(,)?) => {
        $crate::ffi::get_into_named($h, stringify!($h), $out, $read)
    };
}
pub(crate) use get_into;

/// `put_json!(handle, out, json)`: [`put_json_named`] with the handle parameter's own name.
macro_rules! put_json {
    ($h:ident, $out:expr, $json:expr $(,)?) => {
        $crate::ffi::put_json_named($h, stringify!($h), $out, $json)
    };
}
pub(crate) use put_json;

/// The body of an accessor that reads one thing of a handle: `read` of the live handle `h` (named
/// `what` in the error when NULL), as [`value`] returns it. Called through [`get!`].
///
/// # Safety
/// `h` is NULL or a live handle (made by [`boxed`], or one lent to a hook for its call).
pub unsafe fn get_named<H, T: Zero>(h: *const H, what: &'static str, read: impl FnOnce(&H) -> Res<T>) -> T {
    value(|| {
        if h.is_null() {
            return Err(Fail::Null(what));
        }
        // SAFETY: checked non-NULL; live per the contract above.
        read(unsafe { handle(h) })
    })
}

/// Text from the core as a C string: a NUL inside (impossible in SMTP text the core accepted, but
/// C strings cannot hold one) becomes U+FFFD rather than cutting the string short.
pub fn c_string(s: &str) -> CString {
    CString::new(s).unwrap_or_else(|_| {
        let clean = s.replace('\0', "\u{FFFD}");
        CString::new(clean).unwrap_or_default()
    })
}

/// Optional text from the core as a C string (kept by a handle; see [`opt_ptr`]).
pub fn opt_c_string(s: Option<&str>) -> Option<CString> {
    s.map(c_string)
}

/// A handle's optional C string as a borrowed pointer: NULL for `None`.
pub fn opt_ptr(s: &Option<CString>) -> *const c_char {
    s.as_ref().map_or(std::ptr::null(), |s| s.as_ptr())
}

/// The name a core enum has in the API (its serialized form: `"relayed"`, `"pending"` …).
pub fn enum_name<T: serde::Serialize>(v: &T) -> CString {
    c_string(serde_json::to_value(v).ok().as_ref().and_then(serde_json::Value::as_str).unwrap_or(""))
}

/// Item `index` of a handle's list; `PW_INVALID_INPUT` naming `what` past the end.
pub fn at<'a, T>(items: &'a [T], index: usize, what: &str) -> Res<&'a T> {
    items
        .get(index)
        .ok_or_else(|| invalid(format!("{what} index {index} out of range ({} items)", items.len())))
}

/// A string the caller owns and frees with `pw_string_free`: `bytes` and a terminating NUL in
/// memory from `malloc` (so arbitrary bytes, NULs included, keep their length).
pub fn owned_bytes(bytes: &[u8]) -> Res<*mut c_char> {
    // SAFETY: malloc of len + 1 bytes; checked for NULL before use.
    let p = unsafe { libc::malloc(bytes.len() + 1) }.cast::<u8>();
    if p.is_null() {
        return Err(Error::io("out of memory").into());
    }
    // SAFETY: `p` has room for len + 1 bytes; the regions do not overlap.
    unsafe {
        std::ptr::copy_nonoverlapping(bytes.as_ptr(), p, bytes.len());
        p.add(bytes.len()).write(0);
    }
    Ok(p.cast())
}

/// `value` as a JSON string the caller owns.
pub fn owned_json(value: &impl serde::Serialize) -> Res<*mut c_char> {
    let s = serde_json::to_string(value).map_err(|e| Error::io(format!("cannot write JSON: {e}")))?;
    owned_bytes(s.as_bytes())
}

/// The body of an accessor that reads a handle into an out-parameter: `read` of the live handle
/// `h` (named `what` in the error when NULL), written into `*out` on success, as [`status`].
/// Called through [`get_into!`].
///
/// # Safety
/// `h` is NULL or a live handle (made by [`boxed`], or one lent to a hook for its call); `out` is NULL or writable.
pub unsafe fn get_into_named<H, T>(
    h: *const H,
    what: &'static str,
    out: *mut T,
    read: impl FnOnce(&H) -> Res<T>,
) -> pw_status {
    status(|| {
        if h.is_null() {
            return Err(Fail::Null(what));
        }
        non_null!(out);
        // SAFETY: checked non-NULL; live per the contract above.
        let v = read(unsafe { handle(h) })?;
        // SAFETY: checked non-NULL.
        unsafe { put(out, v) };
        Ok(())
    })
}

/// The body of a `_to_json` function: `json` of the live handle `h` as a string the caller owns
/// ([`owned_json`]) in `*out`, as [`get_into_named`]. Called through [`put_json!`].
///
/// # Safety
/// As [`get_into_named`].
pub unsafe fn put_json_named<H, J: serde::Serialize>(
    h: *const H,
    what: &'static str,
    out: *mut *mut c_char,
    json: impl FnOnce(&H) -> J,
) -> pw_status {
    // SAFETY: per the contract above.
    unsafe { get_into_named(h, what, out, |x| owned_json(&json(x))) }
}

/// Free a string the library returned (`char *` results and `char **` out-parameters: JSON,
/// transcripts, composed messages, capability parameters). NULL does nothing.
///
/// # Safety
/// `s` is NULL or a string returned by this library, not freed yet.
#[no_mangle]
pub unsafe extern "C" fn pw_string_free(s: *mut c_char) {
    // SAFETY: strings returned by the library come from malloc (`owned_bytes`).
    void(|| unsafe { libc::free(s.cast()) })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::{pw_last_error_message, pw_last_error_status};

    fn last_message() -> String {
        // SAFETY: the library's own NUL-terminated string.
        unsafe { CStr::from_ptr(pw_last_error_message()) }.to_string_lossy().into_owned()
    }

    #[test]
    fn a_panic_is_caught_and_recorded() {
        let st = status(|| panic!("bug"));
        assert_eq!(st, status::PANIC);
        assert_eq!(pw_last_error_status(), status::PANIC);
        let v: usize = value(|| panic!("bug"));
        assert_eq!(v, 0);
        void(|| panic!("bug in a free"));
        assert_eq!(pw_last_error_status(), status::PANIC);
    }

    #[test]
    fn null_and_core_failures_have_their_status_and_message() {
        let p: *const u8 = std::ptr::null();
        let q = &1u8 as *const u8;
        assert_eq!(
            status(|| {
                non_null!(q, p);
                Ok(())
            }),
            status::NULL_PARAMETER
        );
        assert!(last_message().contains("`p`"), "{}", last_message());
        let st = status(|| Err(Error::new(postwire::ErrorKind::Dns, "no such host").into()));
        assert_eq!(st, 8);
        assert_eq!(last_message(), "dns: no such host");
        // A success leaves the last error alone.
        assert_eq!(status(|| Ok(())), status::OK);
        assert_eq!(pw_last_error_status(), 8);
    }

    #[test]
    fn owned_bytes_keep_nuls_and_terminate() {
        let p = owned_bytes(b"a\0b").unwrap_or(std::ptr::null_mut());
        assert!(!p.is_null());
        // SAFETY: 3 bytes + NUL from owned_bytes.
        let b = unsafe { std::slice::from_raw_parts(p.cast::<u8>(), 4) };
        assert_eq!(b, b"a\0b\0");
        // SAFETY: from owned_bytes, freed once.
        unsafe { pw_string_free(p) };
        assert_eq!(c_string("x\0y").as_bytes(), "x\u{FFFD}y".as_bytes());
    }

    #[test]
    fn statuses_are_the_core_kinds_plus_two() {
        let all = status::all();
        assert_eq!(all.len(), postwire::ErrorKind::ALL.len() + 3);
        for k in postwire::ErrorKind::ALL {
            let name = format!("PW_{}", k.as_str().to_ascii_uppercase());
            assert!(all.iter().any(|(n, v, _)| *n == name && *v == k.number()), "{name}");
        }
        let mut numbers: Vec<u32> = all.iter().map(|(_, v, _)| *v).collect();
        numbers.dedup();
        assert_eq!(numbers.len(), all.len(), "every status has its own number");
    }
}
