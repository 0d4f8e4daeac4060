//! RFC 5321 paths and mailboxes: dot-string and quoted local parts, domain names, IPv4/IPv6 and
//! general address literals, source routes (parsed, kept for the record, ignored for routing),
//! the null path `<>` and the special `<Postmaster>`.

use std::fmt;
use std::net::{Ipv4Addr, Ipv6Addr};

use super::command::ParseOptions;

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
        todo!()
    }
    /// The name lower-cased, or the literal in brackets (`"[192.0.2.1]"`).
    pub fn to_lowercase_string(&self) -> String {
        todo!()
    }
    /// True for `[..]` literals.
    pub fn is_literal(&self) -> bool {
        !matches!(self, Domain::Name(_))
    }
}

impl fmt::Display for Domain {
    /// `example.com`, `[192.0.2.1]`, `[IPv6:2001:db8::1]`, `[tag:content]`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        todo!()
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
        todo!()
    }
}

impl fmt::Display for Mailbox {
    /// The address in RFC 5321 form: the local part quoted when it is not a dot-string.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        todo!()
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
        todo!()
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
    todo!()
}

/// Parse a bare mailbox `local@domain` (no brackets, nothing after it), as a client validates a
/// caller's address before a byte is written. UTF-8 allowed (the client decides on SMTPUTF8).
pub fn parse_mailbox(s: &str) -> Result<Mailbox, AddressError> {
    todo!()
}
