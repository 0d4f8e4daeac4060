//! ESMTP parameters of MAIL and RCPT (RFC 5321 §4.1.2 `esmtp-param`), and the typed view of the
//! ones we implement: SIZE (RFC 1870), BODY (RFC 6152), SMTPUTF8 (RFC 6531), RET/ENVID and
//! NOTIFY/ORCPT (DSN, RFC 3461), AUTH= on MAIL (RFC 4954; Office 365 sends `AUTH=<>`).
//!
//! Reply codes, as Postfix does it: a parameter that is malformed (bad keyword, duplicate, empty
//! value, `SIZE=abc`, `NOTIFY=NEVER,SUCCESS`) is a syntax error, `501 5.5.4`; a well-formed
//! parameter we do not implement (an unknown keyword in strict mode, `BODY=BINARYMIME`) is
//! `555 5.5.4` (RFC 5321 §4.1.1.11).

use super::error::CommandError;

/// The parameters as written, in order: keyword upper-cased, value as sent (xtext not decoded).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Params(pub Vec<(String, Option<String>)>);

impl Params {
    /// The value of `keyword` (case-insensitive); `Some(None)` for a keyword without value.
    pub fn get(&self, keyword: &str) -> Option<Option<&str>> {
        self.0.iter().find(|(k, _)| k.eq_ignore_ascii_case(keyword)).map(|(_, v)| v.as_deref())
    }
    /// True when there are none.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
    /// Parse `KEY=VALUE KEY2 ...` (the text after the path). Keywords must be `[A-Za-z0-9-]+`,
    /// values printable ASCII (UTF-8 allowed only when `smtputf8`), no `=` in the keyword, no
    /// duplicate keywords → 501/555 errors.
    pub fn parse(s: &str, smtputf8: bool) -> Result<Params, CommandError> {
        let mut out: Vec<(String, Option<String>)> = Vec::new();
        for token in s.split(' ').filter(|t| !t.is_empty()) {
            let (key, value) = match token.split_once('=') {
                Some((k, v)) => (k, Some(v)),
                None => (token, None),
            };
            if key.is_empty()
                || !key.as_bytes()[0].is_ascii_alphanumeric()
                || !key.bytes().all(|c| c.is_ascii_alphanumeric() || c == b'-')
            {
                return Err(syntax(format!("Bad parameter keyword: {}", shown(key))));
            }
            if let Some(v) = value {
                // esmtp-value = 1*(%d33-60 / %d62-126), plus UTF-8 under SMTPUTF8 (RFC 6531).
                let ok = !v.is_empty()
                    && v.chars().all(|c| {
                        (c.is_ascii_graphic() && c != '=') || (smtputf8 && !c.is_ascii() && !c.is_control())
                    });
                if !ok {
                    return Err(syntax(format!("Bad value for parameter {}", shown(key))));
                }
            }
            let key = key.to_ascii_uppercase();
            if out.iter().any(|(k, _)| *k == key) {
                return Err(syntax(format!("Duplicate parameter {key}")));
            }
            out.push((key, value.map(str::to_string)));
        }
        Ok(Params(out))
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

impl Ret {
    /// The one reading of a `RET=` value, wherever it comes from (MAIL on the wire, the queue's
    /// envelope, a host's `dsn` option): `FULL` or `HDRS`, case-insensitive, nothing else (RFC
    /// 3461 §4.3).
    pub fn parse(s: &str) -> Result<Ret, DsnValueError> {
        if s.eq_ignore_ascii_case("FULL") {
            Ok(Ret::Full)
        } else if s.eq_ignore_ascii_case("HDRS") {
            Ok(Ret::Hdrs)
        } else {
            Err(DsnValueError::UnknownRet(s.to_string()))
        }
    }
    /// The value as sent on the wire: `FULL` or `HDRS`.
    pub fn as_str(self) -> &'static str {
        match self {
            Ret::Full => "FULL",
            Ret::Hdrs => "HDRS",
        }
    }
}

impl std::fmt::Display for Ret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl std::str::FromStr for Ret {
    type Err = DsnValueError;
    fn from_str(s: &str) -> Result<Ret, DsnValueError> {
        Ret::parse(s)
    }
}

/// Why a `NOTIFY=` or `RET=` value is not one RFC 3461 allows. The protocol answers 501 with its
/// own fixed texts; the queue and the host options give `invalid_input` with this one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DsnValueError {
    /// `NOTIFY=` with an empty item: `""`, `SUCCESS,,FAILURE`, a trailing comma.
    EmptyNotify,
    /// A `NOTIFY=` item other than NEVER, SUCCESS, FAILURE, DELAY (spaces included: the
    /// grammar has none).
    UnknownNotify(String),
    /// `NEVER` together with another flag.
    NeverWithOthers,
    /// A `RET=` value other than FULL or HDRS.
    UnknownRet(String),
}

/// The text names no field: the caller says which (`dsn notify: …`, `recipient …: NOTIFY …`).
impl std::fmt::Display for DsnValueError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            DsnValueError::EmptyNotify => f.write_str("empty flag (NEVER, SUCCESS, FAILURE, DELAY)"),
            DsnValueError::UnknownNotify(item) => {
                write!(f, "unknown flag {:?} (NEVER, SUCCESS, FAILURE, DELAY)", shown(item))
            }
            DsnValueError::NeverWithOthers => f.write_str("NEVER excludes the other flags"),
            DsnValueError::UnknownRet(v) => write!(f, "must be \"FULL\" or \"HDRS\", got {:?}", shown(v)),
        }
    }
}

impl std::error::Error for DsnValueError {}

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
        let mut m = MailParams::default();
        for (k, v) in &p.0 {
            let v = v.as_deref();
            match k.as_str() {
                "SIZE" => {
                    let v = v.filter(|v| !v.is_empty() && v.bytes().all(|c| c.is_ascii_digit()));
                    let v = v.ok_or_else(|| syntax("Bad message size syntax".into()))?;
                    // An absurd size is still a size: it is refused by the limit check (552).
                    m.size = Some(v.parse().unwrap_or(u64::MAX));
                }
                "BODY" => {
                    m.body = Some(match v {
                        Some(v) if v.eq_ignore_ascii_case("7BIT") => Body::SevenBit,
                        Some(v) if v.eq_ignore_ascii_case("8BITMIME") => Body::EightBitMime,
                        Some(v) if v.eq_ignore_ascii_case("BINARYMIME") => {
                            return Err(unsupported("BODY=BINARYMIME is not supported".into()))
                        }
                        _ => return Err(syntax("Bad BODY parameter".into())),
                    })
                }
                "SMTPUTF8" => {
                    if v.is_some() {
                        return Err(syntax("SMTPUTF8 takes no value".into()));
                    }
                    m.smtputf8 = true;
                }
                "RET" => {
                    let ret = v.and_then(|v| Ret::parse(v).ok());
                    m.ret = Some(ret.ok_or_else(|| syntax("Bad RET parameter".into()))?);
                }
                "ENVID" => {
                    let d = v
                        .filter(|v| v.len() <= 100)
                        .and_then(xtext_decode)
                        .filter(|d| no_controls(d))
                        .ok_or_else(|| syntax("Bad ENVID parameter".into()))?;
                    m.envid = Some(d);
                }
                "AUTH" => {
                    let v = v
                        .filter(|v| *v == "<>" || xtext_decode(v).is_some())
                        .ok_or_else(|| syntax("Bad AUTH parameter".into()))?;
                    m.auth = Some(v.to_string());
                }
                _ => unknown(&mut m.other, k, v, strict)?,
            }
        }
        Ok(m)
    }
}

impl MailParams {
    /// The parameters as keyword → value pairs, the way hooks in every runtime receive them
    /// (`params` of `on_mail_from`): keywords upper-case, values decoded (ENVID without xtext),
    /// the ones we implement first, then the others as sent.
    pub fn to_pairs(&self) -> Vec<(String, Option<String>)> {
        let mut out = Vec::with_capacity(4 + self.other.len());
        let mut put = |k: &str, v: Option<String>| out.push((k.to_string(), v));
        if let Some(n) = self.size {
            put("SIZE", Some(n.to_string()));
        }
        if let Some(b) = self.body {
            put(
                "BODY",
                Some(
                    match b {
                        Body::SevenBit => "7BIT",
                        Body::EightBitMime => "8BITMIME",
                    }
                    .into(),
                ),
            );
        }
        if self.smtputf8 {
            put("SMTPUTF8", None);
        }
        if let Some(r) = self.ret {
            put("RET", Some(r.as_str().into()));
        }
        if let Some(e) = &self.envid {
            put("ENVID", Some(e.clone()));
        }
        if let Some(a) = &self.auth {
            put("AUTH", Some(a.clone()));
        }
        out.extend(self.other.iter().cloned());
        out
    }
}

fn syntax(message: String) -> CommandError {
    CommandError::Syntax { code: 501, enhanced: "5.5.4", message }
}

fn unsupported(message: String) -> CommandError {
    CommandError::Syntax { code: 555, enhanced: "5.5.4", message }
}

/// A keyword for an error message: at most 32 characters.
fn shown(s: &str) -> String {
    s.chars().take(32).collect()
}

fn unknown(
    other: &mut Vec<(String, Option<String>)>,
    k: &str,
    v: Option<&str>,
    strict: bool,
) -> Result<(), CommandError> {
    if strict {
        return Err(unsupported(format!("Unsupported parameter {}", shown(k))));
    }
    other.push((k.to_string(), v.map(str::to_string)));
    Ok(())
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

impl Notify {
    /// The one reading of a `NOTIFY=` value, wherever it comes from (RCPT on the wire, the
    /// queue's envelope, a host's `dsn` option): `NEVER`, or one or more of `SUCCESS`,
    /// `FAILURE`, `DELAY` joined by commas; case-insensitive; no spaces, no empty item; `NEVER`
    /// alone (RFC 3461 §4.1). A flag given twice counts once.
    pub fn parse(s: &str) -> Result<Notify, DsnValueError> {
        let mut n = Notify::default();
        for item in s.split(',') {
            let flag = if item.is_empty() {
                return Err(DsnValueError::EmptyNotify);
            } else if item.eq_ignore_ascii_case("NEVER") {
                &mut n.never
            } else if item.eq_ignore_ascii_case("SUCCESS") {
                &mut n.success
            } else if item.eq_ignore_ascii_case("FAILURE") {
                &mut n.failure
            } else if item.eq_ignore_ascii_case("DELAY") {
                &mut n.delay
            } else {
                return Err(DsnValueError::UnknownNotify(item.to_string()));
            };
            *flag = true;
        }
        if n.never && (n.success || n.failure || n.delay) {
            return Err(DsnValueError::NeverWithOthers);
        }
        Ok(n)
    }
    /// The `NOTIFY=` value as sent on the wire: `NEVER`, or the set flags joined by commas
    /// (`SUCCESS,FAILURE`); `None` when no flag is set. `NEVER` wins over the others.
    pub fn to_param_value(&self) -> Option<String> {
        if self.never {
            return Some("NEVER".to_string());
        }
        let flags = [(self.success, "SUCCESS"), (self.failure, "FAILURE"), (self.delay, "DELAY")];
        let set: Vec<&str> = flags.iter().filter(|(on, _)| *on).map(|(_, name)| *name).collect();
        (!set.is_empty()).then(|| set.join(","))
    }
}

impl std::str::FromStr for Notify {
    type Err = DsnValueError;
    fn from_str(s: &str) -> Result<Notify, DsnValueError> {
        Notify::parse(s)
    }
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
        let mut r = RcptParams::default();
        for (k, v) in &p.0 {
            let v = v.as_deref();
            match k.as_str() {
                "NOTIFY" => {
                    let v = v.ok_or_else(|| syntax("Bad NOTIFY parameter".into()))?;
                    r.notify = Some(Notify::parse(v).map_err(|e| match e {
                        DsnValueError::NeverWithOthers => syntax("NOTIFY=NEVER excludes other values".into()),
                        _ => syntax("Bad NOTIFY parameter".into()),
                    })?);
                }
                "ORCPT" => {
                    let (ty, addr) = v
                        .and_then(|v| v.split_once(';'))
                        .ok_or_else(|| syntax("Bad ORCPT parameter".into()))?;
                    let ty_ok = !ty.is_empty() && ty.bytes().all(|c| c.is_ascii_alphanumeric() || c == b'-');
                    let addr = xtext_decode(addr)
                        .filter(|a| ty_ok && !a.is_empty() && a.len() <= 500 && no_controls(a));
                    let addr = addr.ok_or_else(|| syntax("Bad ORCPT parameter".into()))?;
                    r.orcpt = Some((ty.to_string(), addr));
                }
                _ => unknown(&mut r.other, k, v, strict)?,
            }
        }
        Ok(r)
    }
}

impl RcptParams {
    /// The parameters as keyword → value pairs (`params` of `on_rcpt_to`): `NOTIFY` as on the
    /// wire, `ORCPT` as `type;address` with the address decoded, then the others as sent.
    pub fn to_pairs(&self) -> Vec<(String, Option<String>)> {
        let mut out = Vec::with_capacity(2 + self.other.len());
        if let Some(v) = self.notify.as_ref().and_then(Notify::to_param_value) {
            out.push(("NOTIFY".to_string(), Some(v)));
        }
        if let Some((ty, addr)) = &self.orcpt {
            out.push(("ORCPT".to_string(), Some(format!("{ty};{addr}"))));
        }
        out.extend(self.other.iter().cloned());
        out
    }
}

/// RFC 3461 §4.2/§4.4: decoded ENVID and ORCPT values are printable text. A `+0D+0A` decoded
/// into them would let a client inject header lines into hooks' and DSNs' output.
fn no_controls(s: &str) -> bool {
    !s.chars().any(char::is_control)
}

/// Decode RFC 3461 xtext (`+XX` hex escapes). `None` when malformed.
pub fn xtext_decode(s: &str) -> Option<String> {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        match b[i] {
            b'+' => {
                let hex = b.get(i + 1..i + 3)?;
                let v = std::str::from_utf8(hex).ok().and_then(|h| u8::from_str_radix(h, 16).ok())?;
                if !hex.iter().all(u8::is_ascii_hexdigit) {
                    return None;
                }
                out.push(v);
                i += 3;
            }
            c @ 33..=126 if c != b'=' => {
                out.push(c);
                i += 1;
            }
            _ => return None,
        }
    }
    String::from_utf8(out).ok()
}

/// Encode as RFC 3461 xtext (`+`, `=`, controls, space and non-ASCII as `+XX`).
pub fn xtext_encode(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for &c in s.as_bytes() {
        if (33..=126).contains(&c) && c != b'+' && c != b'=' {
            out.push(c as char);
        } else {
            out.push_str(&format!("+{c:02X}"));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn notify_wire_value() {
        let n = |never, success, failure, delay| Notify { never, success, failure, delay }.to_param_value();
        assert_eq!(n(false, false, false, false), None);
        assert_eq!(n(true, false, false, false).as_deref(), Some("NEVER"));
        assert_eq!(n(false, true, true, false).as_deref(), Some("SUCCESS,FAILURE"));
        assert_eq!(n(false, false, false, true).as_deref(), Some("DELAY"));
        // Round trip through the parser.
        let p = Params::parse("NOTIFY=SUCCESS,DELAY", false).unwrap();
        let r = RcptParams::from_params(&p, false).unwrap();
        assert_eq!(r.notify.and_then(|n| n.to_param_value()).as_deref(), Some("SUCCESS,DELAY"));
    }

    #[test]
    fn notify_parse_is_rfc_3461_s4_1() {
        let flags = |never, success, failure, delay| Ok(Notify { never, success, failure, delay });
        assert_eq!(Notify::parse("NEVER"), flags(true, false, false, false));
        assert_eq!(Notify::parse("never"), flags(true, false, false, false));
        assert_eq!(Notify::parse("Success,fAILURE,Delay"), flags(false, true, true, true));
        assert_eq!(Notify::parse("DELAY,SUCCESS,DELAY"), flags(false, true, false, true));
        assert_eq!("failure".parse::<Notify>(), flags(false, false, true, false));
        for (bad, why) in [
            ("", DsnValueError::EmptyNotify),
            ("SUCCESS,,FAILURE", DsnValueError::EmptyNotify),
            ("SUCCESS,", DsnValueError::EmptyNotify),
            (",NEVER", DsnValueError::EmptyNotify),
            ("NEVER,SUCCESS", DsnValueError::NeverWithOthers),
            ("delay,never", DsnValueError::NeverWithOthers),
            ("SOMETIMES", DsnValueError::UnknownNotify("SOMETIMES".into())),
            ("SUCCESS, FAILURE", DsnValueError::UnknownNotify(" FAILURE".into())),
            (" NEVER", DsnValueError::UnknownNotify(" NEVER".into())),
            ("SUCCESS;FAILURE", DsnValueError::UnknownNotify("SUCCESS;FAILURE".into())),
        ] {
            assert_eq!(Notify::parse(bad), Err(why), "{bad:?}");
        }
        // What is parsed goes back on the wire canonical: upper case, NEVER or the flags in
        // SUCCESS, FAILURE, DELAY order.
        for (given, wire) in [("never", "NEVER"), ("delay,failure,success", "SUCCESS,FAILURE,DELAY")] {
            assert_eq!(Notify::parse(given).unwrap().to_param_value().as_deref(), Some(wire));
        }
        assert!(Notify::parse("SUCCESS, y").unwrap_err().to_string().contains("\" y\""));
    }

    #[test]
    fn ret_parse_is_rfc_3461_s4_3() {
        assert_eq!(Ret::parse("FULL"), Ok(Ret::Full));
        assert_eq!(Ret::parse("hdrs"), Ok(Ret::Hdrs));
        assert_eq!("Hdrs".parse::<Ret>(), Ok(Ret::Hdrs));
        for bad in ["", "ALL", " FULL", "HDRS ", "FULL,HDRS", "HEADERS"] {
            assert_eq!(Ret::parse(bad), Err(DsnValueError::UnknownRet(bad.into())), "{bad:?}");
        }
        assert_eq!((Ret::Full.to_string(), Ret::Hdrs.as_str()), ("FULL".to_string(), "HDRS"));
        assert_eq!(Ret::parse("most").unwrap_err().to_string(), "must be \"FULL\" or \"HDRS\", got \"most\"");
    }

    use proptest::prelude::*;

    fn code(e: CommandError) -> u16 {
        e.reply().code
    }

    #[test]
    fn parse_params() {
        let p = Params::parse(" size=10  BODY=8bitmime SMTPUTF8", false).unwrap();
        assert_eq!(
            p.0,
            vec![
                ("SIZE".into(), Some("10".into())),
                ("BODY".into(), Some("8bitmime".into())),
                ("SMTPUTF8".into(), None)
            ]
        );
        assert_eq!(p.get("Body"), Some(Some("8bitmime")));
        assert_eq!(p.get("smtputf8"), Some(None));
        assert_eq!(p.get("RET"), None);
        assert!(Params::parse("", false).unwrap().is_empty());
        let mut out = Vec::new();
        p.write_to(&mut out);
        assert_eq!(out, b" SIZE=10 BODY=8bitmime SMTPUTF8");
        assert_eq!(Params::parse("AUTH=<>", false).unwrap().get("auth"), Some(Some("<>")));
    }

    #[test]
    fn parse_errors() {
        for bad in ["SIZE=1 SIZE=2", "SIZE=1 size=2", "=1", "-X=1", "K_Y", "K=", "K=a=b", "K=\u{7f}", "K=é"]
        {
            assert_eq!(code(Params::parse(bad, false).unwrap_err()), 501, "{bad}");
        }
        assert!(Params::parse("K=é", true).is_ok());
    }

    #[test]
    fn typed_params_back_to_pairs_for_hooks() {
        let p = Params::parse("size=100 BODY=8bitmime ENVID=a+2Bb X-CUSTOM=yes SMTPUTF8", false).unwrap();
        let pairs = MailParams::from_params(&p, false).unwrap().to_pairs();
        let want =
            [("SIZE", Some("100")), ("BODY", Some("8BITMIME")), ("SMTPUTF8", None), ("ENVID", Some("a+b"))];
        let mut want: Vec<(String, Option<String>)> =
            want.iter().map(|(k, v)| (k.to_string(), v.map(str::to_string))).collect();
        want.push(("X-CUSTOM".into(), Some("yes".into())));
        assert_eq!(pairs, want);
        let p = Params::parse("NOTIFY=failure,success ORCPT=rfc822;bob+40example.test", false).unwrap();
        let pairs = RcptParams::from_params(&p, false).unwrap().to_pairs();
        assert_eq!(
            pairs,
            [
                ("NOTIFY".to_string(), Some("SUCCESS,FAILURE".to_string())),
                ("ORCPT".to_string(), Some("rfc822;bob@example.test".to_string()))
            ]
        );
    }

    #[test]
    fn mail_params() {
        let p = Params::parse("SIZE=0 BODY=7BIT RET=full ENVID=a+2Bb AUTH=joe+40x", false).unwrap();
        let m = MailParams::from_params(&p, true).unwrap();
        assert_eq!(m.size, Some(0));
        assert_eq!(m.body, Some(Body::SevenBit));
        assert_eq!(m.ret, Some(Ret::Full));
        assert_eq!(m.envid.as_deref(), Some("a+b"));
        assert_eq!(m.auth.as_deref(), Some("joe+40x"));
        assert!(!m.smtputf8);
        let p = Params::parse("NOTIFY=NEVER", false).unwrap();
        assert_eq!(code(MailParams::from_params(&p, true).unwrap_err()), 555);
        assert_eq!(
            MailParams::from_params(&p, false).unwrap().other,
            vec![("NOTIFY".into(), Some("NEVER".into()))]
        );
        let p = Params::parse("BODY=BINARYMIME", false).unwrap();
        assert_eq!(code(MailParams::from_params(&p, false).unwrap_err()), 555);
    }

    #[test]
    fn dsn_values_on_the_wire_keep_their_501_texts() {
        let text = |e: CommandError| (e.reply().code, e.reply().text());
        for (line, want) in [
            ("NOTIFY=NEVER,SUCCESS", "NOTIFY=NEVER excludes other values"),
            ("NOTIFY=sometimes", "Bad NOTIFY parameter"),
            ("NOTIFY=SUCCESS,", "Bad NOTIFY parameter"),
            ("NOTIFY", "Bad NOTIFY parameter"),
        ] {
            let p = Params::parse(line, false).unwrap();
            assert_eq!(text(RcptParams::from_params(&p, true).unwrap_err()), (501, want.into()), "{line}");
        }
        for line in ["RET=ALL", "RET", "RET=hdrs,full"] {
            let p = Params::parse(line, false).unwrap();
            let e = MailParams::from_params(&p, true).unwrap_err();
            assert_eq!(text(e), (501, "Bad RET parameter".into()), "{line}");
        }
        let p = Params::parse("NOTIFY=Success,delay", false).unwrap();
        let n = RcptParams::from_params(&p, true).unwrap().notify.unwrap();
        assert_eq!(n.to_param_value().as_deref(), Some("SUCCESS,DELAY"));
    }

    #[test]
    fn rcpt_params() {
        let p = Params::parse("NOTIFY=never ORCPT=rfc822;bob+40example.org", false).unwrap();
        let r = RcptParams::from_params(&p, true).unwrap();
        assert_eq!(r.notify, Some(Notify { never: true, ..Notify::default() }));
        assert_eq!(r.orcpt, Some(("rfc822".into(), "bob@example.org".into())));
        let p = Params::parse("NOTIFY=DELAY", false).unwrap();
        assert!(RcptParams::from_params(&p, true).unwrap().notify.unwrap().delay);
        for bad in
            ["NOTIFY=NEVER,SUCCESS", "NOTIFY=SUCCESS,,FAILURE", "NOTIFY", "ORCPT=rfc822;a+4", "ORCPT=rfc 822"]
        {
            let p = Params::parse(bad, false).unwrap_or_default();
            if p.is_empty() {
                continue;
            }
            assert_eq!(code(RcptParams::from_params(&p, true).unwrap_err()), 501, "{bad}");
        }
        let p = Params::parse("SIZE=10", false).unwrap();
        assert_eq!(code(RcptParams::from_params(&p, true).unwrap_err()), 555);
    }

    #[test]
    fn xtext() {
        assert_eq!(xtext_decode("a+2Bb+3D"), Some("a+b=".into()));
        // Controls decode as xtext but are refused where the value is used.
        let p = Params::parse("ENVID=abc+0D+0ABcc:+20evil@x.example", false).unwrap();
        assert!(MailParams::from_params(&p, false).is_err());
        let p = Params::parse("ORCPT=rfc822;a@b+0D+0AX-Injected:+201", false).unwrap();
        assert!(RcptParams::from_params(&p, false).is_err());
        assert_eq!(xtext_decode("a+2bb"), Some("a+b".into()));
        for bad in ["a+", "a+2", "a+zz", "a b", "a=b", "+FF"] {
            assert_eq!(xtext_decode(bad), None, "{bad}");
        }
        assert_eq!(xtext_encode("a+b=c d\u{e9}"), "a+2Bb+3Dc+20d+C3+A9");
    }

    proptest! {
        #[test]
        fn xtext_round_trips(s in "\\PC{0,30}") {
            let e = xtext_encode(&s);
            prop_assert!(e.bytes().all(|c| (33..=126).contains(&c) && c != b'='));
            prop_assert_eq!(xtext_decode(&e), Some(s));
        }
    }
}
