//! `pw_compose`: an RFC 5322 message from fields (`postwire::client::compose`).

use std::ffi::c_char;

use postwire::client::{compose, Attachment, ComposeOptions};

use crate::error::pw_status;
use crate::ffi::{self, non_null, Res};

/// An extra header of a composed message.
#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct pw_header {
    /// The header name (`"Reply-To"`).
    pub name: *const c_char,
    /// Its value.
    pub value: *const c_char,
}

/// A file attached to a composed message.
#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct pw_attachment {
    /// The file name shown to the reader.
    pub filename: *const c_char,
    /// The MIME type; NULL: `application/octet-stream`.
    pub content_type: *const c_char,
    /// The content.
    pub data: *const u8,
    /// Its length.
    pub data_len: usize,
}

/// The fields of a message to compose. Addresses are `a@b` or `Name <a@b>`.
#[repr(C)]
#[derive(Debug, Clone)]
pub struct pw_compose_options {
    /// The author (`From`). Required.
    pub from: *const c_char,
    /// `To` recipients.
    pub to: *const *const c_char,
    /// How many `to`.
    pub to_len: usize,
    /// The subject. Required (may be `""`).
    pub subject: *const c_char,
    /// The plain-text body. Required (may be `""`).
    pub text: *const c_char,
    /// An HTML alternative; NULL: none.
    pub html: *const c_char,
    /// `Cc` recipients.
    pub cc: *const *const c_char,
    /// How many `cc`.
    pub cc_len: usize,
    /// Blind recipients: for your envelope only, never written into the message.
    pub bcc: *const *const c_char,
    /// How many `bcc`.
    pub bcc_len: usize,
    /// Extra headers, in order.
    pub headers: *const pw_header,
    /// How many `headers`.
    pub headers_len: usize,
    /// Attachments.
    pub attachments: *const pw_attachment,
    /// How many `attachments`.
    pub attachments_len: usize,
    /// Use `date` (Unix seconds) for the `Date` header; false: now.
    pub has_date: bool,
    /// The `Date` when `has_date`.
    pub date: i64,
    /// The `Message-ID`; NULL: generated.
    pub message_id: *const c_char,
}

impl pw_compose_options {
    /// The core's options.
    ///
    /// # Safety
    /// The pointer fields are NULL or valid (arrays of their `_len`).
    unsafe fn to_core(&self) -> Res<ComposeOptions> {
        // SAFETY (every block): the pointer fields are NULL or valid.
        let req = |p: *const c_char, what: &'static str| -> Res<String> {
            unsafe { ffi::opt_text(p, what) }?.map(str::to_string).ok_or(ffi::Fail::Null(what))
        };
        let mut o = ComposeOptions::new(
            req(self.from, "from")?,
            unsafe { ffi::text_list(self.to, self.to_len, "to") }?,
            req(self.subject, "subject")?,
            req(self.text, "text")?,
        );
        o.html = unsafe { ffi::opt_text(self.html, "html") }?.map(str::to_string);
        o.cc = unsafe { ffi::text_list(self.cc, self.cc_len, "cc") }?;
        o.bcc = unsafe { ffi::text_list(self.bcc, self.bcc_len, "bcc") }?;
        for h in unsafe { ffi::items(self.headers, self.headers_len, "headers") }? {
            o.headers.push((req(h.name, "headers name")?, req(h.value, "headers value")?));
        }
        for a in unsafe { ffi::items(self.attachments, self.attachments_len, "attachments") }? {
            let data = if a.data_len == 0 {
                Vec::new()
            } else if a.data.is_null() {
                return Err(ffi::Fail::Null("attachments data"));
            } else {
                unsafe { ffi::bytes(a.data, a.data_len) }.to_vec()
            };
            let ct = unsafe { ffi::opt_text(a.content_type, "attachments content_type") }?
                .unwrap_or("application/octet-stream");
            o.attachments.push(Attachment::new(req(a.filename, "attachments filename")?, ct, data));
        }
        o.date = self.has_date.then_some(self.date);
        o.message_id = unsafe { ffi::opt_text(self.message_id, "message_id") }?.map(str::to_string);
        Ok(o)
    }
}

/// Build the message (Date and Message-ID added unless given; Bcc never written; CRLF line
/// ends): `*out_message` (free with `pw_string_free`; NUL-terminated) of `*out_len` bytes.
///
/// # Safety
/// `opts` is NULL or valid; the out-pointers NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn pw_compose(
    opts: *const pw_compose_options,
    out_message: *mut *mut c_char,
    out_len: *mut usize,
) -> pw_status {
    ffi::status(|| {
        non_null!(opts, out_message, out_len);
        // SAFETY: checked non-NULL; its pointers NULL or valid.
        let o = unsafe { (*opts).to_core() }?;
        let bytes = compose(&o)?;
        let s = ffi::owned_bytes(&bytes)?;
        // SAFETY: checked non-NULL.
        unsafe {
            ffi::put(out_message, s);
            ffi::put(out_len, bytes.len());
        }
        Ok(())
    })
}
