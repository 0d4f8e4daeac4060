//! `sendMail(mailFrom, rcptTo, message, options?)`: deliver one message without a session object
//! (through a smarthost, or by MX routing where the core routes), by
//! `postwire::client::send_mail`; one `RecipientResult` per recipient. The options are read by
//! the core (`host::options::send_mail_options`). Without `smarthost` the core routes by MX
//! (`nameservers`, `allowLoopback` and `port` apply there).

use napi::bindgen_prelude::{Object, PromiseRaw};
use napi::Env;
use napi_derive::napi;
use postwire::client::send_mail as core_send_mail;
use postwire::host;

use crate::error::{promise, ResultExt};
use crate::options::js_options;
use crate::values::{message_bytes, recipients, MessageArg, RecipientResult, Recipients};

/// Deliver `message` from `mailFrom` to `rcptTo` (one address or a list) through
/// `options.smarthost` (or by MX routing); resolves to one result per recipient (a failed
/// recipient carries its error, not thrown). Rejects only when nothing was attempted (bad
/// arguments).
#[napi(ts_return_type = "Promise<Array<RecipientResult>>", catch_unwind)]
pub fn send_mail<'e>(
    env: &'e Env,
    mail_from: String,
    #[napi(ts_arg_type = "string | string[]")] rcpt_to: Recipients,
    #[napi(ts_arg_type = "Buffer | string")] message: MessageArg,
    #[napi(ts_arg_type = "SendMailOptions")] options: Option<Object<'_>>,
) -> napi::Result<PromiseRaw<'e, Vec<RecipientResult>>> {
    let options = js_options(env, options, &[])?;
    crate::logging::from_option(env, options.logger)?;
    let opts = host::options::send_mail_options(options.json).js(env)?;
    let rcpts = recipients(rcpt_to);
    let msg = message_bytes(message);
    promise(env, async move { core_send_mail(&mail_from, &rcpts, &msg, &opts).await }, |_, results| {
        Ok(results.into_iter().map(RecipientResult::from).collect())
    })
}
