//! RFC 5321 paths and mailboxes: dot-string and quoted local parts, domain names, IPv4/IPv6 and
//! general address literals, source routes (parsed, kept for the record, ignored for routing),
//! the null path `<>` and the special `<Postmaster>`.

use std::fmt;
use std::net::{Ipv4Addr, Ipv6Addr};

use super::options::ParseOptions;

/// The domain part of a mailbox.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Domain {
    /// A domain name as written (case preserved; compare with [`Domain::eq_ignore_case`]). May be
    /// UTF-8 when SMTPUTF8 is in use.
    Name(String),
    /// `[192.0.2.1]`
    Ipv4(Ipv4Addr),
    /// `[IPv6:2001:db8::1]`
    Ipv6(Ipv6Addr),
    /// `[tag:content]`, a general address literal.
    General { tag: String, content: String },
}

impl Domain {
    /// Case-insensitive equality of names; literals compare by address.
    pub fn eq_ignore_case(&self, other: &Domain) -> bool {
        match (self, other) {
            (Domain::Name(a), Domain::Name(b)) => {
                a.eq_ignore_ascii_case(b) || (!a.is_ascii() && a.to_lowercase() == b.to_lowercase())
            }
            (Domain::General { tag: t1, content: c1 }, Domain::General { tag: t2, content: c2 }) => {
                t1.eq_ignore_ascii_case(t2) && c1 == c2
            }
            (a, b) => a == b,
        }
    }
    /// The name lower-cased, or the literal in brackets (`"[192.0.2.1]"`).
    pub fn to_lowercase_string(&self) -> String {
        match self {
            Domain::Name(n) => n.to_lowercase(),
            other => other.to_string(),
        }
    }
    /// True for `[..]` literals.
    pub fn is_literal(&self) -> bool {
        !matches!(self, Domain::Name(_))
    }
}

impl fmt::Display for Domain {
    /// `example.com`, `[192.0.2.1]`, `[IPv6:2001:db8::1]`, `[tag:content]`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Domain::Name(n) => f.write_str(n),
            Domain::Ipv4(a) => write!(f, "[{a}]"),
            Domain::Ipv6(a) => write!(f, "[IPv6:{a}]"),
            Domain::General { tag, content } => write!(f, "[{tag}:{content}]"),
        }
    }
}

/// `local-part@domain`. `local_part` holds the *unquoted* content (`"a b"@x` → `a b`).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Mailbox {
    /// The local part, unquoted (quoted-pairs resolved).
    pub local_part: String,
    /// The domain.
    pub domain: Domain,
}

impl Mailbox {
    /// True when the local part carries sender-specified routing (`%`, `!`, `@`): the
    /// percent hack, bang paths and quoted `@` that open-relay probes use.
    pub fn has_routing_chars(&self) -> bool {
        self.local_part.contains(['%', '!', '@'])
    }
    /// True when local part or domain has non-ASCII characters (needs SMTPUTF8).
    pub fn is_utf8(&self) -> bool {
        !self.local_part.is_ascii() || matches!(&self.domain, Domain::Name(n) if !n.is_ascii())
    }
}

impl fmt::Display for Mailbox {
    /// The address in RFC 5321 form: the local part quoted when it is not a dot-string.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if is_dot_string(&self.local_part) {
            f.write_str(&self.local_part)?;
        } else {
            f.write_str("\"")?;
            for c in self.local_part.chars() {
                if c == '"' || c == '\\' {
                    f.write_str("\\")?;
                }
                write!(f, "{c}")?;
            }
            f.write_str("\"")?;
        }
        write!(f, "@{}", self.domain)
    }
}

/// A reverse- or forward-path.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Path {
    /// The mailbox; `None` for the null path `<>` (and for `<Postmaster>`, see `postmaster`).
    pub mailbox: Option<Mailbox>,
    /// `@a,@b:` source-route hops, as written without the `@`; ignored for routing (RFC 5321 §3.3).
    pub source_route: Vec<String>,
    /// True for the domain-less `<Postmaster>` (case-insensitive), valid only in RCPT.
    pub postmaster: bool,
}

impl Path {
    /// True for `<>`.
    pub fn is_null(&self) -> bool {
        self.mailbox.is_none() && !self.postmaster
    }
}

impl fmt::Display for Path {
    /// The path *without* angle brackets and without source route: `a@b`, `""` for null,
    /// `postmaster` for `<Postmaster>`. This is what the API's `Envelope` carries.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.mailbox {
            Some(m) => write!(f, "{m}"),
            None if self.postmaster => f.write_str("postmaster"),
            None => Ok(()),
        }
    }
}

/// Why an address did not parse. The text is what a 501/553 reply says after the code.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct AddressError(pub String);

/// Parse a path at the start of `s` (after `FROM:`/`TO:`), returning it and the rest of the
/// string (the ESMTP parameters, leading spaces not yet stripped).
///
/// Strict mode requires `<...>`; lenient mode also takes a bare `a@b` and tolerates a space
/// between `FROM:` and `<` (the caller strips it). `opts.smtputf8` allows UTF-8 in local part and
/// domain. Rejects CR, LF, NUL and other controls, unbalanced quotes/brackets, empty labels,
/// `a@b@c` (unquoted), over-long parts (local 64, domain 255, path 256 octets), invalid literals.
pub fn parse_path<'a>(s: &'a str, opts: &ParseOptions) -> Result<(Path, &'a str), AddressError> {
    let utf8 = opts.smtputf8;
    let b = s.as_bytes();
    if b.first() != Some(&b'<') {
        if opts.strict {
            return Err(err("the address must be enclosed in <>"));
        }
        // Lenient: a bare address up to the next space.
        let end = b.iter().position(|&c| c == b' ').unwrap_or(b.len());
        let token = &s[..end];
        if token.is_empty() {
            return Err(err("missing address"));
        }
        if token.eq_ignore_ascii_case("postmaster") {
            return Ok((Path { mailbox: None, source_route: Vec::new(), postmaster: true }, &s[end..]));
        }
        if token == "<>" {
            return Ok((Path::default(), &s[end..]));
        }
        let (mailbox, used) = parse_mailbox_at(token, 0, utf8, false)?;
        if used != token.len() {
            return Err(trailing_error(token.as_bytes()[used]));
        }
        return Ok((Path { mailbox: Some(mailbox), source_route: Vec::new(), postmaster: false }, &s[end..]));
    }
    let close = |pos: usize| -> Result<usize, AddressError> {
        match b.get(pos) {
            Some(b'>') if pos + 1 > MAX_PATH => Err(err("the path is longer than 256 octets")),
            Some(b'>') => Ok(pos + 1),
            Some(&c) => Err(trailing_error(c)),
            None => Err(err("missing closing >")),
        }
    };
    if b.get(1) == Some(&b'>') {
        return Ok((Path::default(), &s[2..]));
    }
    if b.len() >= 12 && b[1..11].eq_ignore_ascii_case(b"postmaster") && b[11] == b'>' {
        return Ok((Path { mailbox: None, source_route: Vec::new(), postmaster: true }, &s[12..]));
    }
    let mut pos = 1;
    let mut source_route = Vec::new();
    if b.get(pos) == Some(&b'@') {
        // A-d-l: "@" Domain *( "," "@" Domain ) ":"
        loop {
            pos += 1;
            let end = scan_domain_name(b, pos, utf8, true)?;
            source_route.push(s[pos..end].to_string());
            pos = end;
            match b.get(pos) {
                Some(b',') if b.get(pos + 1) == Some(&b'@') => pos += 1,
                Some(b':') => {
                    pos += 1;
                    break;
                }
                _ => return Err(err("bad source route")),
            }
        }
    }
    let (mailbox, end) = parse_mailbox_at(s, pos, utf8, true)?;
    let end = close(end)?;
    Ok((Path { mailbox: Some(mailbox), source_route, postmaster: false }, &s[end..]))
}

/// Longest path, punctuation included (RFC 5321 §4.5.3.1.3).
const MAX_PATH: usize = 256;
/// Longest local part (RFC 5321 §4.5.3.1.1).
const MAX_LOCAL: usize = 64;
/// Longest domain (RFC 5321 §4.5.3.1.2).
const MAX_DOMAIN: usize = 255;

fn err(msg: &str) -> AddressError {
    AddressError(msg.to_string())
}

fn trailing_error(c: u8) -> AddressError {
    match c {
        b'@' => err("more than one @ (quote the local part)"),
        b'\r' | b'\n' => err("line break in address"),
        0 => err("NUL in address"),
        c if c < 0x20 || c == 0x7f => err("control character in address"),
        _ => err("unexpected character after the address"),
    }
}

/// RFC 5321 `atext` (plus any non-ASCII character when `utf8`).
fn is_atext(c: char, utf8: bool) -> bool {
    c.is_ascii_alphanumeric()
        || "!#$%&'*+-/=?^_`{|}~".contains(c)
        || (utf8 && !c.is_ascii() && !c.is_control())
}

/// True when `s` can be written without quotes: `atom *("." atom)`.
fn is_dot_string(s: &str) -> bool {
    !s.is_empty() && s.split('.').all(|a| !a.is_empty() && a.chars().all(|c| is_atext(c, true)))
}

/// Parse `local@domain` starting at byte `pos` of `s`; returns the mailbox and the byte index
/// after it. Stops at the first byte that cannot continue the domain.
fn parse_mailbox_at(
    s: &str,
    pos: usize,
    utf8: bool,
    bracketed: bool,
) -> Result<(Mailbox, usize), AddressError> {
    let b = s.as_bytes();
    let start = pos;
    let mut pos = pos;
    let mut local = String::new();
    if b.get(pos) == Some(&b'"') {
        pos += 1;
        loop {
            let Some(c) = s[pos..].chars().next() else {
                return Err(err("unterminated quoted local part"));
            };
            match c {
                '"' => {
                    pos += 1;
                    break;
                }
                '\\' => {
                    let Some(q) = s[pos + 1..].chars().next() else {
                        return Err(err("unterminated quoted local part"));
                    };
                    let allowed = (' '..='~').contains(&q) || (utf8 && !q.is_ascii() && !q.is_control());
                    if !allowed {
                        return Err(err("bad quoted character in local part"));
                    }
                    local.push(q);
                    pos += 1 + q.len_utf8();
                }
                ' '..='~' => {
                    local.push(c);
                    pos += 1;
                }
                c if !c.is_ascii() && !c.is_control() => {
                    if !utf8 {
                        return Err(err("non-ASCII address without SMTPUTF8"));
                    }
                    local.push(c);
                    pos += c.len_utf8();
                }
                '\r' | '\n' => return Err(err("line break in address")),
                '\0' => return Err(err("NUL in address")),
                _ => return Err(err("control character in address")),
            }
        }
    } else {
        let mut atom_start = pos;
        while let Some(c) = s[pos..].chars().next() {
            if is_atext(c, utf8) {
                pos += c.len_utf8();
            } else if c == '.' {
                if pos == atom_start {
                    return Err(err("empty atom in local part (use quotes)"));
                }
                pos += 1;
                atom_start = pos;
            } else if !c.is_ascii() && !utf8 {
                return Err(err("non-ASCII address without SMTPUTF8"));
            } else {
                break;
            }
        }
        if pos == start {
            return Err(match b.get(pos) {
                None | Some(b'>') => err("empty address"),
                Some(b'@') => err("empty local part"),
                Some(&c) => trailing_error(c),
            });
        }
        if pos == atom_start {
            return Err(err("local part ends with a dot (use quotes)"));
        }
        local.push_str(&s[start..pos]);
    }
    if pos - start > MAX_LOCAL {
        return Err(err("local part longer than 64 octets"));
    }
    match b.get(pos) {
        Some(b'@') => pos += 1,
        Some(&c) => return Err(trailing_error(c)),
        None => return Err(err("missing @domain")),
    }
    let (domain, end) = parse_domain_at(s, pos, utf8, bracketed)?;
    Ok((Mailbox { local_part: local, domain }, end))
}

/// Parse a domain name or address literal at `pos`.
fn parse_domain_at(
    s: &str,
    pos: usize,
    utf8: bool,
    _bracketed: bool,
) -> Result<(Domain, usize), AddressError> {
    let b = s.as_bytes();
    if b.get(pos) == Some(&b'[') {
        let close =
            b[pos..].iter().position(|&c| c == b']').ok_or_else(|| err("unterminated address literal"))?;
        let inner = &s[pos + 1..pos + close];
        let end = pos + close + 1;
        if end - pos > MAX_DOMAIN {
            return Err(err("domain longer than 255 octets"));
        }
        return Ok((parse_literal(inner)?, end));
    }
    let end = scan_domain_name(b, pos, utf8, false)?;
    Ok((Domain::Name(s[pos..end].to_string()), end))
}

/// Scan `sub-domain *("." sub-domain)` from `pos`, returning its end. Labels are letters, digits
/// and inner hyphens (underscore tolerated, as real hosts use it; non-ASCII when `utf8`).
fn scan_domain_name(b: &[u8], pos: usize, utf8: bool, _route: bool) -> Result<usize, AddressError> {
    let mut i = pos;
    loop {
        let label_start = i;
        while i < b.len() && (b[i].is_ascii_alphanumeric() || b[i] == b'-' || b[i] == b'_' || (b[i] >= 0x80))
        {
            if b[i] >= 0x80 && !utf8 {
                return Err(err("non-ASCII address without SMTPUTF8"));
            }
            i += 1;
        }
        let label = &b[label_start..i];
        if label.is_empty() {
            return Err(match b.get(i) {
                None if i == pos => err("missing domain"),
                Some(b'.') | None => err("empty label in domain"),
                Some(&c) if i == pos => trailing_error(c),
                Some(_) => err("empty label in domain"),
            });
        }
        if label[0] == b'-' || label[label.len() - 1] == b'-' {
            return Err(err("domain label starts or ends with a hyphen"));
        }
        if label.len() > 63 {
            return Err(err("domain label longer than 63 octets"));
        }
        if b.get(i) == Some(&b'.') {
            i += 1;
        } else {
            break;
        }
    }
    if i - pos > MAX_DOMAIN {
        return Err(err("domain longer than 255 octets"));
    }
    Ok(i)
}

/// The inside of `[...]`: IPv4, `IPv6:...`, or `tag:content`.
fn parse_literal(inner: &str) -> Result<Domain, AddressError> {
    if let Some(colon) = inner.find(':') {
        let (tag, content) = (&inner[..colon], &inner[colon + 1..]);
        if tag.eq_ignore_ascii_case("IPv6") {
            return content
                .parse::<Ipv6Addr>()
                .map(Domain::Ipv6)
                .map_err(|_| err("bad IPv6 address literal"));
        }
        let tag_ok = !tag.is_empty()
            && tag.bytes().all(|c| c.is_ascii_alphanumeric() || c == b'-')
            && !tag.ends_with('-')
            && tag.as_bytes()[0].is_ascii_alphanumeric();
        // dcontent = %d33-90 / %d94-126
        let content_ok =
            !content.is_empty() && content.bytes().all(|c| (33..=90).contains(&c) || (94..=126).contains(&c));
        if !tag_ok || !content_ok {
            return Err(err("bad general address literal"));
        }
        return Ok(Domain::General { tag: tag.to_string(), content: content.to_string() });
    }
    inner.parse::<Ipv4Addr>().map(Domain::Ipv4).map_err(|_| err("bad IPv4 address literal"))
}

/// Parse a bare mailbox `local@domain` (no brackets, nothing after it), as a client validates a
/// caller's address before a byte is written. UTF-8 allowed (the client decides on SMTPUTF8).
pub fn parse_mailbox(s: &str) -> Result<Mailbox, AddressError> {
    let (mailbox, end) = parse_mailbox_at(s, 0, true, false)?;
    if end != s.len() {
        return Err(trailing_error(s.as_bytes()[end]));
    }
    if end > MAX_PATH - 2 {
        return Err(err("the address is longer than 254 octets"));
    }
    Ok(mailbox)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    const LENIENT: ParseOptions = ParseOptions { strict: false, smtputf8: false };
    const STRICT: ParseOptions = ParseOptions { strict: true, smtputf8: false };
    const UTF8: ParseOptions = ParseOptions { strict: true, smtputf8: true };

    fn path(s: &str, o: &ParseOptions) -> Result<Path, AddressError> {
        let (p, rest) = parse_path(s, o)?;
        if !rest.is_empty() {
            return Err(AddressError(format!("left {rest:?}")));
        }
        Ok(p)
    }

    #[test]
    fn rest_is_returned() {
        let (p, rest) = parse_path("<a@b> SIZE=1", &STRICT).unwrap();
        assert_eq!(p.to_string(), "a@b");
        assert_eq!(rest, " SIZE=1");
        let (p, rest) = parse_path("a@b SIZE=1", &LENIENT).unwrap();
        assert_eq!((p.to_string(), rest), ("a@b".to_string(), " SIZE=1"));
        let (p, rest) = parse_path("<>", &STRICT).unwrap();
        assert!(p.is_null() && rest.is_empty());
        assert_eq!(p.to_string(), "");
    }

    #[test]
    fn postmaster() {
        for s in ["<Postmaster>", "<POSTMASTER>", "<postmaster>"] {
            let p = path(s, &STRICT).unwrap();
            assert!(p.postmaster && !p.is_null());
            assert_eq!(p.to_string(), "postmaster");
        }
        assert!(path("postmaster", &LENIENT).unwrap().postmaster);
        // With a domain it is an ordinary mailbox.
        let p = path("<Postmaster@x.example>", &STRICT).unwrap();
        assert!(!p.postmaster);
        assert_eq!(p.mailbox.unwrap().local_part, "Postmaster");
    }

    #[test]
    fn strict_needs_brackets() {
        assert!(path("a@b", &STRICT).is_err());
        assert!(path("a@b", &LENIENT).is_ok());
        assert!(path("", &LENIENT).is_err());
        assert!(path("<", &LENIENT).is_err());
        assert!(path("<a@b", &LENIENT).is_err());
    }

    #[test]
    fn lengths() {
        let l64 = "a".repeat(64);
        assert!(path(&format!("<{l64}@b>"), &STRICT).is_ok());
        assert!(path(&format!("<a{l64}@b>"), &STRICT).is_err());
        // Quoted local part counts as written.
        assert!(path(&format!("<\"{}\"@b>", "a".repeat(62)), &STRICT).is_ok());
        assert!(path(&format!("<\"{}\"@b>", "a".repeat(63)), &STRICT).is_err());
        let label = "a".repeat(63);
        assert!(path(&format!("<a@{label}.b>"), &STRICT).is_ok());
        assert!(path(&format!("<a@a{label}.b>"), &STRICT).is_err());
        let d255 = format!("{label}.{label}.{label}.{}", "b".repeat(63));
        assert_eq!(d255.len(), 255);
        assert!(parse_mailbox(&format!("a@{d255}")).is_err(), "over 254 total");
        // A 255-octet domain cannot fit in a 256-octet path: the path limit speaks first.
        assert!(path(&format!("<a@{d255}>"), &STRICT).unwrap_err().0.contains("256"));
        assert!(path(&format!("<a@{d255}.x>"), &STRICT).unwrap_err().0.contains("255"));
        // Path over 256 octets including brackets.
        let d250 = format!("{label}.{label}.{label}.{}", "b".repeat(58));
        assert!(path(&format!("<abc@{d250}>"), &STRICT).is_ok());
        assert!(path(&format!("<abcd@{d250}>"), &STRICT).is_err());
    }

    #[test]
    fn dot_strings() {
        for ok in [
            "<a.b.c@d>",
            "<a+tag@d>",
            "<!#$%&'*+-/=?^_`{|}~@d>",
            "<1@2>",
            "<a@d-e.f>",
            "<a@under_score.example>",
        ] {
            assert!(path(ok, &STRICT).is_ok(), "{ok}");
        }
        for bad in [
            "<.a@d>",
            "<a.@d>",
            "<a..b@d>",
            "<a b@d>",
            "<a(b)@d>",
            "<a,b@d>",
            "<a@d.>",
            "<a@.d>",
            "<a@d-.e>",
            "<a@>",
            "<@d>",
            "<a@b@c>",
            "<\"a\"b@c>",
            "<a@b c>",
            "<a@b>>",
            "<a@b\r\n>",
            "<a\x00@b>",
            "<\"a\x00\"@b>",
            "<\"a\r\"@b>",
            "<a@b\t>",
            "<@a.example:>",
            "<@a.example,b.example:a@b>",
            "<@:a@b>",
            "<@a.example a@b>",
        ] {
            assert!(path(bad, &LENIENT).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn quoted_and_display() {
        let p = path(r#"<"a\"b\\c d"@x.example>"#, &STRICT).unwrap();
        let m = p.mailbox.unwrap();
        assert_eq!(m.local_part, "a\"b\\c d");
        assert_eq!(m.to_string(), r#""a\"b\\c d"@x.example"#);
        let m = path(r#"<"plain"@x>"#, &STRICT).unwrap().mailbox.unwrap();
        assert_eq!(m.to_string(), "plain@x");
        let m = path(r#"<""@x>"#, &STRICT).unwrap().mailbox.unwrap();
        assert_eq!(m.to_string(), r#"""@x"#);
        let m = path(r#"<"user@remote"@local>"#, &STRICT).unwrap().mailbox.unwrap();
        assert!(m.has_routing_chars());
        assert_eq!(m.to_string(), r#""user@remote"@local"#);
    }

    #[test]
    fn literals_display() {
        for (s, shown) in [
            ("<a@[192.0.2.1]>", "a@[192.0.2.1]"),
            ("<a@[IPv6:2001:DB8::1]>", "a@[IPv6:2001:db8::1]"),
            ("<a@[x:y]>", "a@[x:y]"),
        ] {
            assert_eq!(path(s, &STRICT).unwrap().to_string(), shown);
        }
        let d = path("<a@[192.0.2.1]>", &STRICT).unwrap().mailbox.unwrap().domain;
        assert!(d.is_literal());
        assert_eq!(d.to_lowercase_string(), "[192.0.2.1]");
        assert!(path("<a@[01.2.3.4]>", &STRICT).is_err());
    }

    #[test]
    fn domain_equality() {
        let a = Domain::Name("Example.COM".into());
        assert!(a.eq_ignore_case(&Domain::Name("example.com".into())));
        assert!(!a.eq_ignore_case(&Domain::Name("example.org".into())));
        assert_eq!(a.to_lowercase_string(), "example.com");
        assert!(Domain::Name("BÜCHER.de".into()).eq_ignore_case(&Domain::Name("bücher.DE".into())));
        let v4 = Domain::Ipv4("192.0.2.1".parse().unwrap());
        assert!(v4.eq_ignore_case(&Domain::Ipv4("192.0.2.1".parse().unwrap())));
        assert!(!v4.eq_ignore_case(&Domain::Name("192.0.2.1".into())));
    }

    #[test]
    fn utf8() {
        assert!(path("<δοκιμή@παράδειγμα.δοκιμή>", &STRICT).is_err());
        let m = path("<δοκιμή@παράδειγμα.δοκιμή>", &UTF8).unwrap().mailbox.unwrap();
        assert!(m.is_utf8());
        assert_eq!(m.to_string(), "δοκιμή@παράδειγμα.δοκιμή");
        assert!(path("<\"δ x\"@a>", &STRICT).is_err());
        assert!(path("<\"δ x\"@a>", &UTF8).is_ok());
        assert!(!path("<a@b>", &UTF8).unwrap().mailbox.unwrap().is_utf8());
    }

    #[test]
    fn parse_mailbox_bare() {
        let m = parse_mailbox("bob@example.org").unwrap();
        assert_eq!((m.local_part.as_str(), m.domain.to_string().as_str()), ("bob", "example.org"));
        assert!(parse_mailbox("jöran@bücher.example").is_ok());
        for bad in [
            "<bob@example.org>",
            "bob",
            "bob@",
            "bob@example.org ",
            "bob@example.org\r\nRCPT TO:<x@y>",
            "a@b@c",
            "",
            "bob@exa mple.org",
        ] {
            assert!(parse_mailbox(bad).is_err(), "{bad:?}");
        }
    }

    fn local_part() -> impl Strategy<Value = String> {
        prop_oneof![
            "[a-zA-Z0-9!#$%&'*+/=?^_`{|}~-]{1,10}(\\.[a-z0-9]{1,5}){0,2}",
            "[ -~]{0,20}",
            "[a-zé ü\"\\\\]{0,12}",
        ]
        .prop_filter("fits", |s| s.len() <= 40)
    }

    fn domain() -> impl Strategy<Value = Domain> {
        prop_oneof![
            "[a-z0-9]([a-z0-9-]{0,8}[a-z0-9])?(\\.[a-z0-9]{1,8}){0,3}".prop_map(Domain::Name),
            any::<[u8; 4]>().prop_map(|o| Domain::Ipv4(o.into())),
            any::<[u16; 8]>().prop_map(|s| Domain::Ipv6(s.into())),
            "[a-z][a-z0-9]{0,4}"
                .prop_filter("not ipv6", |t| !t.eq_ignore_ascii_case("ipv6"))
                .prop_map(|tag| Domain::General { tag, content: "c0ntent".into() }),
        ]
    }

    proptest! {
        #[test]
        fn display_round_trips(local in local_part(), domain in domain()) {
            let m = Mailbox { local_part: local, domain };
            let shown = format!("<{m}>");
            let back = path(&shown, &UTF8).map_err(|e| TestCaseError::fail(format!("{shown}: {e}")))?;
            prop_assert_eq!(back.mailbox, Some(m.clone()));
            prop_assert_eq!(parse_mailbox(&m.to_string()).ok(), Some(m));
        }

        #[test]
        fn never_panics(s in "\\PC{0,40}", strict in any::<bool>(), utf8 in any::<bool>()) {
            let o = ParseOptions { strict, smtputf8: utf8 };
            let _ = parse_path(&s, &o);
            let _ = parse_path(&format!("<{s}>"), &o);
            let _ = parse_mailbox(&s);
        }
    }
}
