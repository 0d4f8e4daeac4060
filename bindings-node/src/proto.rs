//! Protocol helpers over the sans-IO core (`postwire::proto`), so the Node suite checks the
//! shared `tests/vectors/*.json` against the very parser the Rust and Python suites check.

use napi::bindgen_prelude::Buffer;
use napi::{Either, Env};
use napi_derive::napi;
use postwire::proto::describe::{describe_address, describe_command};
use postwire::proto::{ParseOptions, ReplyLimits};

use crate::error::ResultExt;
use crate::values::Reply;

/// One reply parsed from the start of a buffer.
#[napi(object, object_from_js = false)]
pub struct ParsedReply {
    /// The reply.
    pub reply: Reply,
    /// How many bytes of the input it used.
    pub consumed: u32,
}

/// Parse one reply from `wire`: the reply and the bytes used, or null when more bytes are
/// needed; throws `PW_PROTOCOL` for bytes that are not an acceptable reply.
#[napi(catch_unwind)]
pub fn parse_reply(
    env: Env,
    wire: Buffer,
    max_line: Option<u32>,
    max_lines: Option<u32>,
) -> napi::Result<Option<ParsedReply>> {
    let d = ReplyLimits::default();
    let limits = ReplyLimits {
        max_line: max_line.map_or(d.max_line, |v| v as usize),
        max_lines: max_lines.map_or(d.max_lines, |v| v as usize),
    };
    let parsed = postwire::Reply::parse(&wire, &limits).js(&env)?;
    Ok(parsed.map(|(r, n)| ParsedReply { reply: r.into(), consumed: u32::try_from(n).unwrap_or(u32::MAX) }))
}

/// Parse a command line (without CRLF): an object of the command's fields (names as in
/// `tests/vectors/README.md`), or the `Reply` the server would answer instead.
#[napi(ts_return_type = "Record<string, unknown> | Reply", catch_unwind)]
pub fn parse_command(
    line: Buffer,
    strict: Option<bool>,
    smtputf8: Option<bool>,
) -> Either<serde_json::Value, Reply> {
    let opts = ParseOptions { strict: strict.unwrap_or(false), smtputf8: smtputf8.unwrap_or(false) };
    match describe_command(&line, &opts) {
        Ok(v) => Either::A(v),
        Err(r) => Either::B(r.into()),
    }
}

/// Parse an address (`kind` `"path"`, the default, or `"mailbox"`) into an object of its
/// fields; throws `PW_INVALID_INPUT` when refused.
#[napi(ts_return_type = "Record<string, unknown>", catch_unwind)]
pub fn parse_address(
    env: Env,
    text: String,
    kind: Option<String>,
    strict: Option<bool>,
    smtputf8: Option<bool>,
) -> napi::Result<serde_json::Value> {
    let opts = ParseOptions { strict: strict.unwrap_or(false), smtputf8: smtputf8.unwrap_or(false) };
    describe_address(&text, kind.as_deref().unwrap_or("path"), &opts).js(&env)
}
