//! The sans-IO protocol core for C (`postwire::proto`): build and parse replies, and parse
//! command lines and addresses into the fields of `tests/vectors/README.md` — what the C suite
//! checks the shared vectors with, through the very parser the Rust suite checks.

use std::ffi::c_char;

use postwire::proto::describe::{describe_address, describe_command};
use postwire::proto::{ParseOptions, Reply, ReplyLimits};

use crate::error::pw_status;
use crate::ffi::{self, non_null, Fail};
use crate::values::pw_reply;

/// A reply `code` with `text` (lines separated by `"\n"`) and `enhanced` (`"2.1.5"`; `""`: none —
/// an enhanced code at the start of `text` is recognised). Yours: `pw_reply_free`.
///
/// # Safety
/// `text` and `enhanced` NULL or C strings; `out` NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn pw_reply_new(
    code: u16,
    text: *const c_char,
    enhanced: *const c_char,
    out: *mut *mut pw_reply,
) -> pw_status {
    ffi::status(|| {
        non_null!(text, enhanced, out);
        // SAFETY: checked non-NULL C strings.
        let (t, e) = unsafe { (ffi::text(text, "text")?, ffi::text(enhanced, "enhanced")?) };
        let r = Reply::new(code, t, (!e.is_empty()).then_some(e));
        // SAFETY: checked non-NULL.
        unsafe { ffi::put(out, ffi::boxed(pw_reply::new(r))) };
        Ok(())
    })
}

/// The reply as it goes on the wire (`"250-…\r\n250 …\r\n"`): `*out` (free with
/// `pw_string_free`) of `*out_len` bytes.
///
/// # Safety
/// `reply` NULL or live; the out-pointers NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn pw_reply_to_wire(
    reply: *const pw_reply,
    out: *mut *mut c_char,
    out_len: *mut usize,
) -> pw_status {
    ffi::status(|| {
        non_null!(reply, out, out_len);
        // SAFETY: checked non-NULL.
        let wire = unsafe { ffi::handle(reply) }.reply().to_wire();
        let s = ffi::owned_bytes(&wire)?;
        // SAFETY: checked non-NULL.
        unsafe {
            ffi::put(out, s);
            ffi::put(out_len, wire.len());
        }
        Ok(())
    })
}

/// Parse one reply from the `len` bytes of `wire` (limits 0: the defaults, 4096 bytes per line
/// and 128 lines): `*out` (yours) and the bytes it used in `*out_consumed`; `*out` NULL and
/// `*out_consumed` 0 when more bytes are needed. `PW_PROTOCOL` for bytes that are no acceptable
/// reply.
///
/// # Safety
/// `wire` NULL or `len` readable bytes; the out-pointers NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn pw_reply_parse(
    wire: *const u8,
    len: usize,
    max_line: usize,
    max_lines: usize,
    out: *mut *mut pw_reply,
    out_consumed: *mut usize,
) -> pw_status {
    ffi::status(|| {
        non_null!(wire, out, out_consumed);
        let d = ReplyLimits::default();
        let limits = ReplyLimits {
            max_line: if max_line == 0 { d.max_line } else { max_line },
            max_lines: if max_lines == 0 { d.max_lines } else { max_lines },
        };
        // SAFETY: checked non-NULL; `len` readable bytes.
        let parsed = Reply::parse(unsafe { ffi::bytes(wire, len) }, &limits)?;
        let (r, n) = match parsed {
            Some((r, n)) => (ffi::boxed(pw_reply::new(r)), n),
            None => (std::ptr::null_mut(), 0),
        };
        // SAFETY: checked non-NULL.
        unsafe {
            ffi::put(out, r);
            ffi::put(out_consumed, n);
        }
        Ok(())
    })
}

/// Parse a command line (`len` bytes, without CRLF) as the server does: its fields as a JSON
/// object (names as in `tests/vectors/README.md`; free with `pw_string_free`). A line the server
/// refuses is `PW_INVALID_INPUT`, with the reply it would answer as `pw_last_error_reply()`.
///
/// # Safety
/// `line` NULL or `len` readable bytes; `out` NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn pw_parse_command(
    line: *const u8,
    len: usize,
    strict: bool,
    smtputf8: bool,
    out: *mut *mut c_char,
) -> pw_status {
    ffi::status(|| {
        non_null!(line, out);
        // SAFETY: checked non-NULL; `len` readable bytes.
        let bytes = unsafe { ffi::bytes(line, len) };
        let v = describe_command(bytes, &ParseOptions { strict, smtputf8 }).map_err(|r| {
            Fail::from(postwire::Error::invalid_input(format!("refused: {}", r.one_line())).with_reply(r))
        })?;
        let s = ffi::owned_json(&v)?;
        // SAFETY: checked non-NULL.
        unsafe { ffi::put(out, s) };
        Ok(())
    })
}

/// Parse an address as `kind` says (`"path"`: `<…>` at the start of `input`; `"mailbox"`: a bare
/// `local@domain`): its fields as a JSON object (free with `pw_string_free`). `PW_INVALID_INPUT`
/// when refused.
///
/// # Safety
/// `input` and `kind` NULL or C strings; `out` NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn pw_parse_address(
    input: *const c_char,
    kind: *const c_char,
    strict: bool,
    smtputf8: bool,
    out: *mut *mut c_char,
) -> pw_status {
    ffi::status(|| {
        non_null!(input, kind, out);
        // SAFETY: checked non-NULL C strings.
        let (i, k) = unsafe { (ffi::text(input, "input")?, ffi::text(kind, "kind")?) };
        let v = describe_address(i, k, &ParseOptions { strict, smtputf8 })?;
        let s = ffi::owned_json(&v)?;
        // SAFETY: checked non-NULL.
        unsafe { ffi::put(out, s) };
        Ok(())
    })
}
