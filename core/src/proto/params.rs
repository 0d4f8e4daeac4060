//! ESMTP parameters of MAIL and RCPT (RFC 5321 §4.1.2 `esmtp-param`), and the typed view of the
//! ones we implement: SIZE (RFC 1870), BODY (RFC 6152), SMTPUTF8 (RFC 6531), RET/ENVID and
//! NOTIFY/ORCPT (DSN, RFC 3461), AUTH= on MAIL (RFC 4954; Office 365 sends `AUTH=<>`).

use super::command::CommandError;

/// The parameters as written, in order: keyword upper-cased, value as sent (xtext not decoded).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Params(pub Vec<(String, Option<String>)>);

impl Params {
    /// The value of `keyword` (case-insensitive); `Some(None)` for a keyword without value.
    pub fn get(&self, keyword: &str) -> Option<Option<&str>> {
        self.0
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(keyword))
            .map(|(_, v)| v.as_deref())
    }
    /// True when there are none.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
    /// Parse `KEY=VALUE KEY2 ...` (the text after the path). Keywords must be `[A-Za-z0-9-]+`,
    /// values printable ASCII (UTF-8 allowed only when `smtputf8`), no `=` in the keyword, no
    /// duplicate keywords → 501/555 errors.
    pub fn parse(s: &str, smtputf8: bool) -> Result<Params, CommandError> {
        todo!()
    }
    /// Append ` KEY=VALUE` for each parameter (client side).
    pub fn write_to(&self, out: &mut Vec<u8>) {
        for (k, v) in &self.0 {
            out.push(b' ');
            out.extend_from_slice(k.as_bytes());
            if let Some(v) = v {
                out.push(b'=');
                out.extend_from_slice(v.as_bytes());
            }
        }
    }
}

/// `BODY=` values.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Body {
    /// `7BIT`
    SevenBit,
    /// `8BITMIME`
    EightBitMime,
}

/// `RET=` values.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Ret {
    /// `FULL`
    Full,
    /// `HDRS`
    Hdrs,
}

/// The MAIL parameters we understand, validated; the rest in `other` (lenient mode only).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct MailParams {
    /// `SIZE=n` announced size.
    pub size: Option<u64>,
    /// `BODY=`
    pub body: Option<Body>,
    /// `SMTPUTF8`
    pub smtputf8: bool,
    /// `RET=`
    pub ret: Option<Ret>,
    /// `ENVID=` (xtext-decoded)
    pub envid: Option<String>,
    /// `AUTH=` value as sent (`<>` included).
    pub auth: Option<String>,
    /// Unknown parameters, passed to the hooks.
    pub other: Vec<(String, Option<String>)>,
}

impl MailParams {
    /// Validate MAIL parameters: SIZE numeric, BODY 7BIT|8BITMIME (BINARYMIME → 555), SMTPUTF8
    /// without value, RET FULL|HDRS, ENVID valid xtext ≤ 100 chars, AUTH any xtext or `<>`.
    /// Unknown keywords: kept in `other`, or 555 when `strict`.
    pub fn from_params(p: &Params, strict: bool) -> Result<MailParams, CommandError> {
        todo!()
    }
}

/// `NOTIFY=` flags.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Notify {
    /// `NEVER`
    pub never: bool,
    /// `SUCCESS`
    pub success: bool,
    /// `FAILURE`
    pub failure: bool,
    /// `DELAY`
    pub delay: bool,
}

/// The RCPT parameters we understand, validated; the rest in `other` (lenient mode only).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct RcptParams {
    /// `NOTIFY=` (NEVER exclusive with the others, else 501).
    pub notify: Option<Notify>,
    /// `ORCPT=addr-type;xtext`, as (addr-type, decoded address).
    pub orcpt: Option<(String, String)>,
    /// Unknown parameters, passed to the hooks.
    pub other: Vec<(String, Option<String>)>,
}

impl RcptParams {
    /// Validate RCPT parameters (see [`MailParams::from_params`]).
    pub fn from_params(p: &Params, strict: bool) -> Result<RcptParams, CommandError> {
        todo!()
    }
}

/// Decode RFC 3461 xtext (`+XX` hex escapes). `None` when malformed.
pub fn xtext_decode(s: &str) -> Option<String> {
    todo!()
}

/// Encode as RFC 3461 xtext (`+`, `=`, controls, space and non-ASCII as `+XX`).
pub fn xtext_encode(s: &str) -> String {
    todo!()
}
