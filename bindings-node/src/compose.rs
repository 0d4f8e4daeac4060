//! `compose(from, to, subject, text, options?)`: an RFC 5322 message as a Buffer, by
//! `postwire::client::compose` (which owns every rule: headers, MIME, Bcc never written).

use std::collections::HashMap;

use napi::bindgen_prelude::{Buffer, FromNapiValue, JsValue, Object};
use napi::{Either, Env};
use napi_derive::napi;
use postwire::client::{
    compose as core_compose, Attachment as CoreAttachment, ComposeOptions as CoreOptions,
};

use crate::error::ResultExt;
use crate::values::{message_bytes, recipients, MessageArg, Recipients};

/// Extra headers as given: `[name, value]` pairs, or an object.
type Headers = Either<Vec<Vec<String>>, HashMap<String, String>>;

/// A file attached to a composed message.
#[napi(object, object_to_js = false)]
pub struct Attachment {
    /// The file name shown to the reader.
    pub filename: String,
    /// The MIME type (default `application/octet-stream`).
    pub content_type: Option<String>,
    /// The content.
    #[napi(ts_type = "Buffer | string")]
    pub data: MessageArg,
}

/// The optional fields of `compose`.
#[napi(object, object_to_js = false)]
#[derive(Default)]
pub struct ComposeOptions {
    /// An HTML alternative to the text.
    pub html: Option<String>,
    /// `Cc` recipients.
    #[napi(ts_type = "string | string[]")]
    pub cc: Option<Recipients>,
    /// Blind recipients: for the envelope only, never written into the message.
    #[napi(ts_type = "string | string[]")]
    pub bcc: Option<Recipients>,
    /// Extra headers: an object or a list of `[name, value]` pairs (in order).
    #[napi(ts_type = "Record<string, string> | Array<[string, string]>")]
    pub headers: Option<Headers>,
    /// Attachments.
    pub attachments: Option<Vec<Attachment>>,
    /// The `Date` as Unix seconds (default: now).
    pub date: Option<i64>,
    /// The `Message-ID` (default: generated from the sender's domain).
    pub message_id: Option<String>,
}

/// The fields of [`ComposeOptions`], as JS names them.
const OPTIONS: [&str; 7] = ["html", "cc", "bcc", "headers", "attachments", "date", "messageId"];

/// Build an RFC 5322 message (Date and Message-ID added; Bcc only for the envelope, never in the
/// headers). `to`: one address or a list.
#[napi(catch_unwind)]
pub fn compose(
    env: Env,
    from: String,
    #[napi(ts_arg_type = "string | string[]")] to: Recipients,
    subject: String,
    text: String,
    #[napi(ts_arg_type = "ComposeOptions")] options: Option<Object<'_>>,
) -> napi::Result<Buffer> {
    let o = match options {
        None => ComposeOptions::default(),
        Some(obj) => {
            // A misspelt option (`attachements`) must not vanish: the names are `ComposeOptions`'.
            if let Some(k) = Object::keys(&obj)?.into_iter().find(|k| !OPTIONS.contains(&k.as_str())) {
                return Err(crate::error::invalid_input(&env, format!("compose: unknown option {k:?}")));
            }
            unsafe { ComposeOptions::from_napi_value(env.raw(), obj.raw())? }
        }
    };
    let mut c = CoreOptions::new(from, recipients(to), subject, text);
    c.html = o.html;
    c.cc = o.cc.map(recipients).unwrap_or_default();
    c.bcc = o.bcc.map(recipients).unwrap_or_default();
    c.headers = match o.headers {
        None => Vec::new(),
        Some(Either::B(map)) => map.into_iter().collect(),
        Some(Either::A(pairs)) => pairs
            .into_iter()
            .map(|p| match <[String; 2]>::try_from(p) {
                Ok([k, v]) => Ok((k, v)),
                Err(_) => Err(crate::error::invalid_input(&env, "headers must be [name, value] pairs")),
            })
            .collect::<napi::Result<_>>()?,
    };
    c.attachments = o
        .attachments
        .unwrap_or_default()
        .into_iter()
        .map(|a| {
            let ct = a.content_type.unwrap_or_else(|| "application/octet-stream".into());
            CoreAttachment::new(a.filename, ct, message_bytes(a.data))
        })
        .collect();
    c.date = o.date;
    c.message_id = o.message_id;
    Ok(core_compose(&c).js(&env)?.into())
}
