//! Parsed protocol values as JSON objects, with the field names of `tests/vectors/README.md`.
//!
//! The shared vectors are checked by every runtime; the bindings expose these functions (e.g.
//! Python's `postwire._postwire.parse_command`) so that each suite compares the very fields the
//! Rust suite compares, computed by the core rather than re-derived per language.

use serde_json::{json, Map, Value};

use super::address::{parse_mailbox, parse_path, Domain, Mailbox, Path};
use super::command::parse_command;
use super::{Command, ParseOptions, Reply};
use crate::error::{Error, Result};

/// `name`, `ipv4`, `ipv6` or `general`.
pub fn domain_kind(d: &Domain) -> &'static str {
    match d {
        Domain::Name(_) => "name",
        Domain::Ipv4(_) => "ipv4",
        Domain::Ipv6(_) => "ipv6",
        Domain::General { .. } => "general",
    }
}

/// Add a mailbox's fields (`local_part`, `domain`, `domain_kind`, `routing_chars`, `utf8`).
pub fn mailbox_fields(m: &Mailbox, o: &mut Map<String, Value>) {
    o.insert("local_part".into(), json!(m.local_part));
    o.insert("domain".into(), json!(m.domain.to_string()));
    o.insert("domain_kind".into(), json!(domain_kind(&m.domain)));
    o.insert("routing_chars".into(), json!(m.has_routing_chars()));
    o.insert("utf8".into(), json!(m.is_utf8()));
}

/// Add a path's fields (`null`, `postmaster`, `source_route` and its mailbox's).
pub fn path_fields(p: &Path, o: &mut Map<String, Value>) {
    o.insert("null".into(), json!(p.is_null()));
    o.insert("postmaster".into(), json!(p.postmaster));
    o.insert("source_route".into(), json!(p.source_route));
    if let Some(m) = &p.mailbox {
        mailbox_fields(m, o);
    }
}

/// Every field a command vector may check.
pub fn command_value(c: &Command) -> Value {
    let mut o = Map::new();
    let (verb, fields): (&str, Vec<(&str, Value)>) = match c {
        Command::Helo { domain } => ("HELO", vec![("domain", json!(domain))]),
        Command::Ehlo { domain } => ("EHLO", vec![("domain", json!(domain))]),
        Command::Mail { from: p, params } | Command::Rcpt { to: p, params } => {
            path_fields(p, &mut o);
            let verb = if matches!(c, Command::Mail { .. }) { "MAIL" } else { "RCPT" };
            (verb, vec![("path", json!(p.to_string())), ("params", json!(params.0))])
        }
        Command::Data => ("DATA", vec![]),
        Command::Bdat { size, last } => ("BDAT", vec![("size", json!(size)), ("last", json!(last))]),
        Command::Rset => ("RSET", vec![]),
        Command::Vrfy { arg } => ("VRFY", vec![("arg", json!(arg))]),
        Command::Expn { arg } => ("EXPN", vec![("arg", json!(arg))]),
        Command::Help { topic } => ("HELP", vec![("topic", json!(topic))]),
        Command::Noop => ("NOOP", vec![]),
        Command::Quit => ("QUIT", vec![]),
        Command::StartTls => ("STARTTLS", vec![]),
        Command::Auth { mechanism, initial } => {
            ("AUTH", vec![("mechanism", json!(mechanism)), ("initial", json!(initial))])
        }
        Command::Obsolete { verb } => (verb.as_str(), vec![("obsolete", json!(true))]),
    };
    o.insert("verb".into(), json!(verb));
    for (k, v) in fields {
        o.insert(k.into(), v);
    }
    Value::Object(o)
}

/// Parse one command line (without CRLF): `Ok` with the command's fields, or `Err` with the
/// reply the server answers instead.
pub fn describe_command(line: &[u8], opts: &ParseOptions) -> std::result::Result<Value, Reply> {
    parse_command(line, opts).map(|c| command_value(&c)).map_err(|e| e.reply())
}

/// Parse an address as the vectors' `kind` says (`"path"` or `"mailbox"`) and return its
/// fields, `display` and `rest` included; `invalid_input` when it is refused.
pub fn describe_address(input: &str, kind: &str, opts: &ParseOptions) -> Result<Value> {
    let mut o = Map::new();
    match kind {
        "mailbox" => {
            let m = parse_mailbox(input).map_err(|e| Error::invalid_input(e.0))?;
            mailbox_fields(&m, &mut o);
            o.insert("null".into(), json!(false));
            o.insert("postmaster".into(), json!(false));
            o.insert("source_route".into(), json!([]));
            o.insert("display".into(), json!(m.to_string()));
            o.insert("rest".into(), json!(""));
        }
        "path" => {
            let (p, rest) = parse_path(input, opts).map_err(|e| Error::invalid_input(e.0))?;
            path_fields(&p, &mut o);
            o.insert("display".into(), json!(p.to_string()));
            o.insert("rest".into(), json!(rest));
        }
        k => return Err(Error::invalid_input(format!("unknown address kind {k:?} (path or mailbox)"))),
    }
    Ok(Value::Object(o))
}
