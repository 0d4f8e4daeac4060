//! SMTP command lines: the server-side parser and the client-side formatter.
//!
//! Why not stalwartlabs' `smtp-proto` (evaluated for issue 2, reading `src/request/parser.rs`
//! and `src/request/receiver.rs` at commit d767ccc). It is a good sans-IO crate — bytes in,
//! `Request` or `NeedsMoreData` out, fuzzed, Apache-2.0/MIT — and its shape is the one we copy.
//! We do not adopt it because the places where it differs are exactly our requirements:
//!
//! - **No strict mode.** It has one, lenient behaviour: CR bytes are skipped wherever they
//!   appear in a verb or address (`b'\r' => ()`), any LF ends a command line, and bytes
//!   `0x7f..=0xff` are accepted in addresses whether or not SMTPUTF8 was given. We need a switch
//!   that refuses bare LF, a space after `FROM:`, bare addresses and unknown parameters.
//! - **DATA receiver.** Its `DataReceiver` ends data only on CRLF.CRLF (so the known smuggling
//!   sequences do not end the message; its tests cover several) but stores bare CR, bare LF and
//!   NUL unchanged: there is no reject/normalise policy, so lone CR/LF reach the stored message.
//!   `DataReceiver::new()` starts with no previous line, so a `.` on the very first line is
//!   neither unstuffed nor recognised as `.CRLF` (empty message); it strips the final CRLF (our
//!   contract keeps it); it has no size or line limit and works byte by byte with one `push` per
//!   byte, where ours copies plain runs.
//! - **Addresses are strings.** The path comes back as a `String` with the source route silently
//!   removed; we need the structured `Path`/`Mailbox`/`Domain` (literals, quoted local parts,
//!   routing characters) for the relay policy and for the API's envelope.
//! - **Errors and limits.** Its errors (`UnknownCommand`, `SyntaxError { syntax }`,
//!   `InvalidSenderAddress`, ...) would still need our exact mapping to 500/501/553/555 and
//!   enhanced codes; its command-line limit is a fixed `MAX_LINE_LENGTH = 2048` where we need a
//!   configurable 512. Our `Reply` and `Error` types are the cross-language API contract, so a
//!   parser that speaks them directly saves a translation layer in every binding.
//!
//! Net: wrapping it would mean re-checking every line and every DATA byte it had already looked
//! at, so the protocol core is our own, in the same sans-IO style.
//!
//! Replies of [`parse_command`] errors: unknown verb `500 5.5.2`; missing, extra or malformed
//! arguments `501 5.5.4`; control characters or invalid UTF-8 `501 5.5.2`; a bad address
//! `501 5.1.3` (as Postfix does; 553 is kept for policy refusals); a non-ASCII address without
//! SMTPUTF8 `553 5.6.7` (RFC 6531); ESMTP parameters as documented in [`super::params`]
//! (`501 5.5.4` malformed, `555 5.5.4` unsupported).

use super::address::{parse_path, Path};
pub use super::error::CommandError;
pub use super::options::ParseOptions;
use super::params::{MailParams, Params, RcptParams};

/// One parsed command.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Command {
    /// `HELO domain`
    Helo { domain: String },
    /// `EHLO domain-or-literal`
    Ehlo { domain: String },
    /// `MAIL FROM:<path> params`
    Mail { from: Path, params: Params },
    /// `RCPT TO:<path> params`
    Rcpt { to: Path, params: Params },
    /// `DATA`
    Data,
    /// `BDAT size [LAST]`
    Bdat { size: u64, last: bool },
    /// `RSET`
    Rset,
    /// `VRFY string`
    Vrfy { arg: String },
    /// `EXPN string`
    Expn { arg: String },
    /// `HELP [topic]`
    Help { topic: Option<String> },
    /// `NOOP [string]`
    Noop,
    /// `QUIT`
    Quit,
    /// `STARTTLS`
    StartTls,
    /// `AUTH mechanism [initial-response]`
    Auth { mechanism: String, initial: Option<String> },
    /// `SEND`, `SOML`, `SAML`, `TURN` (obsolete; answered 502). `verb` is upper-cased.
    Obsolete { verb: String },
}

/// The MAIL/RCPT parameters of a parsed command, typed (the server's view). The parser has to
/// type them anyway to validate them; handing the result on means nobody parses them twice.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum TypedParams {
    /// Not MAIL or RCPT.
    #[default]
    None,
    /// MAIL's parameters.
    Mail(MailParams),
    /// RCPT's parameters.
    Rcpt(RcptParams),
}

/// Parse one command line (without its CRLF). Verbs are case-insensitive. Non-UTF-8 bytes are a
/// syntax error (501) unless inside an SMTPUTF8 address, which must be valid UTF-8.
pub fn parse_command(line: &[u8], opts: &ParseOptions) -> Result<Command, CommandError> {
    parse_command_typed(line, opts).map(|(c, _)| c)
}

/// [`parse_command`], also returning the MAIL/RCPT parameters typed (`MailParams::from_params`
/// / `RcptParams::from_params` with `opts.strict`).
pub fn parse_command_typed(line: &[u8], opts: &ParseOptions) -> Result<(Command, TypedParams), CommandError> {
    let verb_end = line.iter().position(|&b| b == b' ').unwrap_or(line.len());
    let verb_bytes = &line[..verb_end];
    let mut verb = [0u8; 8];
    let known = verb_bytes.len() <= verb.len() && verb_bytes.iter().all(u8::is_ascii_alphabetic);
    if known {
        verb[..verb_bytes.len()].copy_from_slice(verb_bytes);
        verb.make_ascii_uppercase();
    }
    let verb = &verb[..if known { verb_bytes.len() } else { 0 }];
    let kind = match verb {
        b"HELO" => Verb::Helo,
        b"EHLO" => Verb::Ehlo,
        b"MAIL" => Verb::Mail,
        b"RCPT" => Verb::Rcpt,
        b"DATA" => Verb::Data,
        b"BDAT" => Verb::Bdat,
        b"RSET" => Verb::Rset,
        b"VRFY" => Verb::Vrfy,
        b"EXPN" => Verb::Expn,
        b"HELP" => Verb::Help,
        b"NOOP" => Verb::Noop,
        b"QUIT" => Verb::Quit,
        b"STARTTLS" => Verb::StartTls,
        b"AUTH" => Verb::Auth,
        b"SEND" | b"SOML" | b"SAML" | b"TURN" => {
            return Ok((
                Command::Obsolete { verb: String::from_utf8_lossy(verb).into_owned() },
                TypedParams::None,
            ))
        }
        _ => {
            let shown: Vec<u8> = verb_bytes.iter().take(32).copied().collect();
            return Err(CommandError::Unknown { verb: String::from_utf8_lossy(&shown).into_owned() });
        }
    };
    // The argument text: after the verb and its one space.
    let raw = line.get(verb_end + 1..).unwrap_or(&[]);
    if verb_end < line.len() && raw.is_empty() && opts.strict {
        // `VERB ` with a trailing space and nothing else.
        return Err(syntax(format!("Syntax: {}", kind.usage())));
    }
    let Ok(raw) = std::str::from_utf8(raw) else {
        return Err(CommandError::Syntax {
            code: 501,
            enhanced: "5.5.2",
            message: "Invalid UTF-8 in command".into(),
        });
    };
    if raw.bytes().any(|b| b < 0x20 || b == 0x7f) {
        return Err(CommandError::Syntax {
            code: 501,
            enhanced: "5.5.2",
            message: "Control characters are not allowed in commands".into(),
        });
    }
    // Lenient: trailing spaces are ignored. Strict: they count as (empty) arguments.
    let args = if opts.strict { raw } else { raw.trim_end_matches(' ') };
    let usage = || syntax(format!("Syntax: {}", kind.usage()));
    let no_args = |cmd: Command| {
        if args.is_empty() {
            Ok(cmd)
        } else {
            Err(usage())
        }
    };
    let command = match kind {
        Verb::Helo | Verb::Ehlo => {
            if args.is_empty() || args.contains(' ') || (opts.strict && !is_helo_domain(args)) {
                return Err(usage());
            }
            let domain = args.to_string();
            Ok(if kind == Verb::Helo { Command::Helo { domain } } else { Command::Ehlo { domain } })
        }
        Verb::Mail => {
            let rest = strip_prefix_ci(args, "FROM:").ok_or_else(usage)?;
            let (from, params) = parse_path_and_params(rest, opts, true)?;
            if from.postmaster {
                return Err(bad_address(true, "<Postmaster> is not a sender"));
            }
            let typed = MailParams::from_params(&params, opts.strict)?;
            return Ok((Command::Mail { from, params }, TypedParams::Mail(typed)));
        }
        Verb::Rcpt => {
            let rest = strip_prefix_ci(args, "TO:").ok_or_else(usage)?;
            let (to, params) = parse_path_and_params(rest, opts, false)?;
            if to.is_null() {
                return Err(bad_address(false, "the null path <> is not a recipient"));
            }
            let typed = RcptParams::from_params(&params, opts.strict)?;
            return Ok((Command::Rcpt { to, params }, TypedParams::Rcpt(typed)));
        }
        Verb::Data => no_args(Command::Data),
        Verb::Rset => no_args(Command::Rset),
        Verb::Quit => no_args(Command::Quit),
        Verb::StartTls => no_args(Command::StartTls),
        Verb::Bdat => {
            let mut it = args.split(' ');
            let size = it.next().unwrap_or("");
            let last = it.next();
            if it.next().is_some() || size.is_empty() || !size.bytes().all(|b| b.is_ascii_digit()) {
                return Err(usage());
            }
            let size: u64 = size.parse().map_err(|_| usage())?;
            let last = match last {
                None => false,
                Some(l) if l.eq_ignore_ascii_case("LAST") => true,
                Some(_) => return Err(usage()),
            };
            Ok(Command::Bdat { size, last })
        }
        Verb::Vrfy | Verb::Expn => {
            let arg = args.trim();
            if arg.is_empty() {
                return Err(usage());
            }
            let arg = arg.to_string();
            Ok(if kind == Verb::Vrfy { Command::Vrfy { arg } } else { Command::Expn { arg } })
        }
        Verb::Help => {
            let t = args.trim();
            Ok(Command::Help { topic: (!t.is_empty()).then(|| t.to_string()) })
        }
        Verb::Noop => Ok(Command::Noop),
        Verb::Auth => {
            let mut it = args.split(' ');
            let mech = it.next().unwrap_or("");
            let initial = it.next();
            let mech_ok = !mech.is_empty()
                && mech.len() <= 20
                && mech.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
            if !mech_ok || it.next().is_some() || initial == Some("") {
                return Err(usage());
            }
            Ok(Command::Auth { mechanism: mech.to_ascii_uppercase(), initial: initial.map(str::to_string) })
        }
    }?;
    Ok((command, TypedParams::None))
}

/// The verbs that take arguments we check.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Verb {
    Helo,
    Ehlo,
    Mail,
    Rcpt,
    Data,
    Bdat,
    Rset,
    Vrfy,
    Expn,
    Help,
    Noop,
    Quit,
    StartTls,
    Auth,
}

impl Verb {
    fn usage(self) -> &'static str {
        match self {
            Verb::Helo => "HELO hostname",
            Verb::Ehlo => "EHLO hostname",
            Verb::Mail => "MAIL FROM:<address>",
            Verb::Rcpt => "RCPT TO:<address>",
            Verb::Data => "DATA",
            Verb::Bdat => "BDAT size [LAST]",
            Verb::Rset => "RSET",
            Verb::Vrfy => "VRFY address",
            Verb::Expn => "EXPN list",
            Verb::Help => "HELP [topic]",
            Verb::Noop => "NOOP",
            Verb::Quit => "QUIT",
            Verb::StartTls => "STARTTLS",
            Verb::Auth => "AUTH mechanism [initial-response]",
        }
    }
}

fn syntax(message: String) -> CommandError {
    CommandError::Syntax { code: 501, enhanced: "5.5.4", message }
}

fn bad_address(sender: bool, why: &str) -> CommandError {
    let who = if sender { "sender" } else { "recipient" };
    CommandError::Syntax { code: 501, enhanced: "5.1.3", message: format!("Bad {who} address syntax: {why}") }
}

fn strip_prefix_ci<'a>(s: &'a str, prefix: &str) -> Option<&'a str> {
    let head = s.get(..prefix.len())?;
    head.eq_ignore_ascii_case(prefix).then(|| &s[prefix.len()..])
}

/// HELO/EHLO argument in strict mode: a domain name or an address literal.
fn is_helo_domain(s: &str) -> bool {
    let probe = format!("<x@{s}>");
    let opts = ParseOptions { strict: true, smtputf8: true };
    matches!(parse_path(&probe, &opts), Ok((_, rest)) if rest.is_empty())
}

/// The path after `FROM:`/`TO:` and the ESMTP parameters after it.
///
/// UTF-8 in the path is accepted when the session already allows it (`opts.smtputf8`) or, for
/// MAIL, when this very line carries `SMTPUTF8`; otherwise a non-ASCII address is refused
/// `553 5.6.7` (RFC 6531's "non-ASCII address not permitted" code) rather than 501.
fn parse_path_and_params(
    rest: &str,
    opts: &ParseOptions,
    sender: bool,
) -> Result<(Path, Params), CommandError> {
    let rest = match rest.strip_prefix(' ') {
        Some(_) if opts.strict => return Err(bad_address(sender, "no space allowed after the colon")),
        Some(r) => r.trim_start_matches(' '),
        None => rest,
    };
    let wide = ParseOptions { strict: opts.strict, smtputf8: true };
    let (path, after) = parse_path(rest, &wide).map_err(|e| bad_address(sender, &e.0))?;
    if !after.is_empty() && !after.starts_with(' ') {
        return Err(bad_address(sender, "unexpected text after the address"));
    }
    let params = Params::parse(after, true)?;
    let utf8_ok = opts.smtputf8 || (sender && params.get("SMTPUTF8").is_some());
    if !utf8_ok {
        let path_utf8 = path.mailbox.as_ref().is_some_and(|m| m.is_utf8())
            || path.source_route.iter().any(|h| !h.is_ascii());
        if path_utf8 {
            return Err(CommandError::Syntax {
                code: 553,
                enhanced: "5.6.7",
                message: "Non-ASCII address requires SMTPUTF8".into(),
            });
        }
        if params.0.iter().any(|(_, v)| v.as_deref().is_some_and(|v| !v.is_ascii())) {
            return Err(syntax("Non-ASCII parameter value requires SMTPUTF8".into()));
        }
    }
    Ok((path, params))
}

impl Command {
    /// Append the wire form of this command, CRLF included (client side):
    /// `MAIL FROM:<a@b> SIZE=10\r\n`, `RCPT TO:<Postmaster>\r\n`, `BDAT 100 LAST\r\n` …
    /// The caller has validated its inputs (no CR/LF/NUL): see `crate::client`.
    pub fn write_to(&self, out: &mut Vec<u8>) {
        let mut word = |w: &str| out.extend_from_slice(w.as_bytes());
        match self {
            Command::Helo { domain } => {
                word("HELO ");
                word(domain);
            }
            Command::Ehlo { domain } => {
                word("EHLO ");
                word(domain);
            }
            Command::Mail { from, params } => {
                word("MAIL FROM:<");
                word(&from.to_string());
                word(">");
                params.write_to(out);
            }
            Command::Rcpt { to, params } => {
                word("RCPT TO:<");
                word(&to.to_string());
                word(">");
                params.write_to(out);
            }
            Command::Data => word("DATA"),
            Command::Bdat { size, last } => {
                word("BDAT ");
                word(&size.to_string());
                if *last {
                    word(" LAST");
                }
            }
            Command::Rset => word("RSET"),
            Command::Vrfy { arg } => {
                word("VRFY ");
                word(arg);
            }
            Command::Expn { arg } => {
                word("EXPN ");
                word(arg);
            }
            Command::Help { topic } => {
                word("HELP");
                if let Some(t) = topic {
                    word(" ");
                    word(t);
                }
            }
            Command::Noop => word("NOOP"),
            Command::Quit => word("QUIT"),
            Command::StartTls => word("STARTTLS"),
            Command::Auth { mechanism, initial } => {
                word("AUTH ");
                word(mechanism);
                if let Some(i) = initial {
                    word(" ");
                    word(i);
                }
            }
            Command::Obsolete { verb } => word(verb),
        }
        out.extend_from_slice(b"\r\n");
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::proto::address::{Domain, Mailbox};

    const LENIENT: ParseOptions = ParseOptions { strict: false, smtputf8: false };
    const STRICT: ParseOptions = ParseOptions { strict: true, smtputf8: false };

    fn ok(line: &str) -> Command {
        parse_command(line.as_bytes(), &LENIENT).unwrap_or_else(|e| panic!("{line:?}: {e:?}"))
    }
    fn ok_strict(line: &str) -> Command {
        parse_command(line.as_bytes(), &STRICT).unwrap_or_else(|e| panic!("{line:?}: {e:?}"))
    }
    fn code(line: &[u8], opts: &ParseOptions) -> u16 {
        match parse_command(line, opts) {
            Ok(c) => panic!("{:?} parsed as {c:?}", String::from_utf8_lossy(line)),
            Err(e) => e.reply().code,
        }
    }
    fn mailbox(local: &str, domain: &str) -> Option<Mailbox> {
        Some(Mailbox { local_part: local.into(), domain: Domain::Name(domain.into()) })
    }

    #[test]
    fn every_verb_case_insensitive() {
        assert_eq!(ok("HELO a.example"), Command::Helo { domain: "a.example".into() });
        assert_eq!(ok("helo a.example"), Command::Helo { domain: "a.example".into() });
        assert_eq!(ok("EhLo [192.0.2.1]"), Command::Ehlo { domain: "[192.0.2.1]".into() });
        assert_eq!(ok("data"), Command::Data);
        assert_eq!(ok("Rset"), Command::Rset);
        assert_eq!(ok("quit"), Command::Quit);
        assert_eq!(ok("starttls"), Command::StartTls);
        assert_eq!(ok("noop"), Command::Noop);
        assert_eq!(ok("NOOP anything at all"), Command::Noop);
        assert_eq!(ok("help"), Command::Help { topic: None });
        assert_eq!(ok("HELP mail"), Command::Help { topic: Some("mail".into()) });
        assert_eq!(ok("vrfy postmaster"), Command::Vrfy { arg: "postmaster".into() });
        assert_eq!(ok("EXPN staff list"), Command::Expn { arg: "staff list".into() });
        assert_eq!(ok("bdat 100 last"), Command::Bdat { size: 100, last: true });
        assert_eq!(ok("BDAT 0"), Command::Bdat { size: 0, last: false });
        assert_eq!(ok("auth plain"), Command::Auth { mechanism: "PLAIN".into(), initial: None });
        assert_eq!(
            ok("AUTH PLAIN AHVzZXIAcGFzcw=="),
            Command::Auth { mechanism: "PLAIN".into(), initial: Some("AHVzZXIAcGFzcw==".into()) }
        );
        assert_eq!(
            ok("AUTH PLAIN ="),
            Command::Auth { mechanism: "PLAIN".into(), initial: Some("=".into()) }
        );
        for v in ["SEND", "soml", "Saml", "TURN"] {
            assert_eq!(ok(&format!("{v} FROM:<a@b>")), Command::Obsolete { verb: v.to_ascii_uppercase() });
        }
        match ok("mail from:<a@b.example>") {
            Command::Mail { from, params } => {
                assert_eq!(from.mailbox, mailbox("a", "b.example"));
                assert!(params.is_empty());
            }
            c => panic!("{c:?}"),
        }
        match ok("rcpt To:<Postmaster>") {
            Command::Rcpt { to, .. } => {
                assert!(to.postmaster && to.mailbox.is_none() && !to.is_null())
            }
            c => panic!("{c:?}"),
        }
    }

    #[test]
    fn unknown_verbs() {
        for l in [&b"FOO"[..], b"", b"MAILFROM:<a@b>", b"X-VERB arg", b"\xff\xfe", b"HELOO x", b" HELO x"] {
            let e = parse_command(l, &LENIENT).unwrap_err();
            assert!(matches!(e, CommandError::Unknown { .. }), "{l:?}");
            assert_eq!(e.reply().code, 500);
            assert_eq!(e.reply().enhanced.as_deref(), Some("5.5.2"));
        }
    }

    #[test]
    fn argument_errors_are_501() {
        for l in [
            "HELO",
            "EHLO",
            "HELO a b",
            "HELO ",
            "EHLO  ",
            "VRFY",
            "EXPN ",
            "BDAT",
            "BDAT x",
            "BDAT 10 NOW",
            "BDAT -1",
            "BDAT 1 LAST x",
            "BDAT 99999999999999999999999",
            "AUTH",
            "AUTH PL@IN",
            "AUTH PLAIN a b",
            "MAIL",
            "MAIL TO:<a@b>",
            "RCPT FROM:<a@b>",
            "DATA now",
            "QUIT please",
            "RSET x",
            "STARTTLS x",
        ] {
            assert_eq!(code(l.as_bytes(), &LENIENT), 501, "{l:?}");
        }
        let e = parse_command(b"HELO", &LENIENT).unwrap_err();
        assert_eq!(e.reply().enhanced.as_deref(), Some("5.5.4"));
    }

    #[test]
    fn trailing_spaces() {
        assert_eq!(ok("DATA  "), Command::Data);
        assert_eq!(ok("QUIT "), Command::Quit);
        assert_eq!(ok("HELO a.example "), Command::Helo { domain: "a.example".into() });
        for l in ["DATA ", "QUIT  ", "RSET ", "STARTTLS ", "HELO a.example "] {
            assert_eq!(code(l.as_bytes(), &STRICT), 501, "{l:?}");
        }
        assert_eq!(ok_strict("DATA"), Command::Data);
    }

    #[test]
    fn strict_helo_wants_a_domain() {
        assert_eq!(ok("HELO my_host!"), Command::Helo { domain: "my_host!".into() });
        assert_eq!(code(b"HELO my host", &STRICT), 501);
        assert_eq!(code(b"HELO bad!name", &STRICT), 501);
        assert_eq!(code(b"EHLO [1.2.3]", &STRICT), 501);
        assert_eq!(ok_strict("EHLO [IPv6:::1]"), Command::Ehlo { domain: "[IPv6:::1]".into() });
        assert_eq!(ok_strict("EHLO mx-1.example.org"), Command::Ehlo { domain: "mx-1.example.org".into() });
    }

    #[test]
    fn mail_from_space_and_bare_address() {
        for l in ["MAIL FROM: <a@b.example>", "MAIL FROM:a@b.example", "MAIL FROM:  a@b.example"] {
            match ok(l) {
                Command::Mail { from, .. } => {
                    assert_eq!(from.mailbox, mailbox("a", "b.example"), "{l}")
                }
                c => panic!("{c:?}"),
            }
            assert_eq!(code(l.as_bytes(), &STRICT), 501, "{l}");
        }
        let e = parse_command(b"MAIL FROM: <a@b.example>", &STRICT).unwrap_err();
        assert_eq!(e.reply().enhanced.as_deref(), Some("5.1.3"));
        match ok("RCPT TO: <x@y.example>") {
            Command::Rcpt { to, .. } => assert_eq!(to.mailbox, mailbox("x", "y.example")),
            c => panic!("{c:?}"),
        }
        assert_eq!(code(b"RCPT TO: <x@y.example>", &STRICT), 501);
        assert_eq!(code(b"RCPT TO:x@y.example", &STRICT), 501);
    }

    #[test]
    fn null_path() {
        match ok_strict("MAIL FROM:<>") {
            Command::Mail { from, .. } => assert!(from.is_null()),
            c => panic!("{c:?}"),
        }
        match ok_strict("MAIL FROM:<> SIZE=100") {
            Command::Mail { from, params } => {
                assert!(from.is_null());
                assert_eq!(params.get("size"), Some(Some("100")));
            }
            c => panic!("{c:?}"),
        }
        let e = parse_command(b"RCPT TO:<>", &LENIENT).unwrap_err();
        assert_eq!((e.reply().code, e.reply().enhanced.as_deref()), (501, Some("5.1.3")));
        assert_eq!(code(b"MAIL FROM:<Postmaster>", &LENIENT), 501);
    }

    #[test]
    fn address_errors() {
        for l in [
            "MAIL FROM:<a@b@c>",
            "MAIL FROM:<a@>",
            "MAIL FROM:<@b>",
            "MAIL FROM:<a>",
            "MAIL FROM:<a@b",
            "MAIL FROM:<a@b>x",
            "MAIL FROM:<a@[1.2.3.999]>",
            "MAIL FROM:<a@[IPv6:zz]>",
            "RCPT TO:<a..b@c>",
            "RCPT TO:<a@b..c>",
            "RCPT TO:<a@-b.c>",
            "RCPT TO:<\"a@b>",
            "RCPT TO:a@b@c",
        ] {
            let e = parse_command(l.as_bytes(), &LENIENT).unwrap_err();
            assert_eq!((e.reply().code, e.reply().enhanced.as_deref()), (501, Some("5.1.3")), "{l}");
        }
        let long_local = format!("RCPT TO:<{}@b.example>", "a".repeat(65));
        assert_eq!(code(long_local.as_bytes(), &LENIENT), 501);
        let ok64 = format!("RCPT TO:<{}@b.example>", "a".repeat(64));
        assert!(parse_command(ok64.as_bytes(), &STRICT).is_ok());
        let label = "a".repeat(60);
        let long_domain = format!("RCPT TO:<a@{label}.{label}.{label}.{label}.{label}>");
        assert_eq!(code(long_domain.as_bytes(), &LENIENT), 501);
    }

    #[test]
    fn control_bytes_refused() {
        for l in [
            &b"MAIL FROM:<a\r@b>"[..],
            b"MAIL FROM:<a@b>\r",
            b"RCPT TO:<a\n@b>",
            b"RCPT TO:<a@b\x00>",
            b"HELO a\x00b",
            b"VRFY a\x7fb",
            b"NOOP \x01",
        ] {
            assert_eq!(code(l, &LENIENT), 501, "{l:?}");
            assert_eq!(code(l, &STRICT), 501, "{l:?}");
        }
        assert_eq!(code(b"VRFY \xff", &LENIENT), 501);
    }

    #[test]
    fn source_routes_and_tricky_local_parts() {
        match ok_strict("RCPT TO:<@a.example,@b.example:user@c.example>") {
            Command::Rcpt { to, .. } => {
                assert_eq!(to.source_route, vec!["a.example", "b.example"]);
                assert_eq!(to.mailbox, mailbox("user", "c.example"));
                assert_eq!(to.to_string(), "user@c.example");
            }
            c => panic!("{c:?}"),
        }
        let cases = [
            ("RCPT TO:<\"user@remote\"@local>", "user@remote", true),
            ("RCPT TO:<user%remote@local>", "user%remote", true),
            ("RCPT TO:<remote!user@local>", "remote!user", true),
            ("RCPT TO:<\"a\\\"b\"@local>", "a\"b", false),
            ("RCPT TO:<\"a b\"@local>", "a b", false),
        ];
        for (l, local, routing) in cases {
            match ok_strict(l) {
                Command::Rcpt { to, .. } => {
                    let m = to.mailbox.unwrap();
                    assert_eq!(m.local_part, local, "{l}");
                    assert_eq!(m.has_routing_chars(), routing, "{l}");
                }
                c => panic!("{c:?}"),
            }
        }
    }

    #[test]
    fn address_literals() {
        let rcpt = |l: &str| match ok_strict(l) {
            Command::Rcpt { to, .. } => to.mailbox.unwrap().domain,
            c => panic!("{c:?}"),
        };
        assert_eq!(rcpt("RCPT TO:<a@[192.0.2.1]>"), Domain::Ipv4("192.0.2.1".parse().unwrap()));
        assert_eq!(rcpt("RCPT TO:<a@[IPv6:::1]>"), Domain::Ipv6("::1".parse().unwrap()));
        assert_eq!(rcpt("RCPT TO:<a@[ipv6:2001:db8::1]>"), Domain::Ipv6("2001:db8::1".parse().unwrap()));
        assert_eq!(
            rcpt("RCPT TO:<a@[x-tag:stuff]>"),
            Domain::General { tag: "x-tag".into(), content: "stuff".into() }
        );
        for bad in [
            "RCPT TO:<a@[1.2.3]>",
            "RCPT TO:<a@[256.1.1.1]>",
            "RCPT TO:<a@[IPv6:1.2.3.4]>",
            "RCPT TO:<a@[IPv6:::1::2]>",
            "RCPT TO:<a@[]>",
            "RCPT TO:<a@[tag:]>",
            "RCPT TO:<a@[-x:y]>",
            "RCPT TO:<a@[1.2.3.4>",
        ] {
            assert_eq!(code(bad.as_bytes(), &LENIENT), 501, "{bad}");
        }
    }

    #[test]
    fn utf8_addresses_need_smtputf8() {
        let utf8 = ParseOptions { strict: true, smtputf8: true };
        let line = "RCPT TO:<jöran@bücher.example>".as_bytes();
        let e = parse_command(line, &STRICT).unwrap_err();
        assert_eq!((e.reply().code, e.reply().enhanced.as_deref()), (553, Some("5.6.7")));
        match parse_command(line, &utf8).unwrap() {
            Command::Rcpt { to, .. } => {
                let m = to.mailbox.unwrap();
                assert!(m.is_utf8());
                assert_eq!(m.to_string(), "jöran@bücher.example");
            }
            c => panic!("{c:?}"),
        }
        // MAIL: the SMTPUTF8 parameter on the same line allows it.
        assert!(parse_command("MAIL FROM:<jöran@bücher.example> SMTPUTF8".as_bytes(), &STRICT).is_ok());
        assert_eq!(code("MAIL FROM:<jöran@bücher.example>".as_bytes(), &STRICT), 553);
        assert_eq!(code("MAIL FROM:<a@b> ENVID=ö".as_bytes(), &LENIENT), 501);
        // Non-UTF-8 bytes are refused even with SMTPUTF8.
        assert_eq!(code(b"RCPT TO:<j\xf6ran@b.example>", &utf8), 501);
    }

    #[test]
    fn params() {
        match ok_strict("MAIL FROM:<a@b> SIZE=1000 BODY=8BITMIME SMTPUTF8 RET=HDRS ENVID=QQ+2B1 AUTH=<>") {
            Command::Mail { params, .. } => {
                let m = MailParams::from_params(&params, true).unwrap();
                assert_eq!(m.size, Some(1000));
                assert_eq!(m.body, Some(crate::proto::params::Body::EightBitMime));
                assert!(m.smtputf8);
                assert_eq!(m.ret, Some(crate::proto::params::Ret::Hdrs));
                assert_eq!(m.envid.as_deref(), Some("QQ+1"));
                assert_eq!(m.auth.as_deref(), Some("<>"));
            }
            c => panic!("{c:?}"),
        }
        match ok_strict("RCPT TO:<a@b> NOTIFY=SUCCESS,FAILURE ORCPT=rfc822;a+40b") {
            Command::Rcpt { params, .. } => {
                let r = RcptParams::from_params(&params, true).unwrap();
                let n = r.notify.unwrap();
                assert!(n.success && n.failure && !n.delay && !n.never);
                assert_eq!(r.orcpt, Some(("rfc822".into(), "a@b".into())));
            }
            c => panic!("{c:?}"),
        }
        // Unknown parameters: kept when lenient, 555 when strict.
        match ok("MAIL FROM:<a@b> X-FOO=bar XBAZ") {
            Command::Mail { params, .. } => {
                let m = MailParams::from_params(&params, false).unwrap();
                assert_eq!(m.other, vec![("X-FOO".into(), Some("bar".into())), ("XBAZ".into(), None)]);
            }
            c => panic!("{c:?}"),
        }
        assert_eq!(code(b"MAIL FROM:<a@b> X-FOO=bar", &STRICT), 555);
        assert_eq!(code(b"RCPT TO:<a@b> X-FOO=bar", &STRICT), 555);
        assert_eq!(code(b"MAIL FROM:<a@b> BODY=BINARYMIME", &LENIENT), 555);
        for bad in [
            "MAIL FROM:<a@b> SIZE=abc",
            "MAIL FROM:<a@b> SIZE=",
            "MAIL FROM:<a@b> SIZE",
            "MAIL FROM:<a@b> SIZE=1 size=2",
            "MAIL FROM:<a@b> BODY=9BIT",
            "MAIL FROM:<a@b> SMTPUTF8=yes",
            "MAIL FROM:<a@b> RET=ALL",
            "MAIL FROM:<a@b> ENVID=a+zz",
            "MAIL FROM:<a@b> =x",
            "MAIL FROM:<a@b> K_Y=1",
            "MAIL FROM:<a@b> AUTH=",
            "RCPT TO:<a@b> NOTIFY=NEVER,DELAY",
            "RCPT TO:<a@b> NOTIFY=SOMETIMES",
            "RCPT TO:<a@b> NOTIFY=",
            "RCPT TO:<a@b> ORCPT=rfc822",
            "RCPT TO:<a@b> ORCPT=;a@b",
        ] {
            assert_eq!(code(bad.as_bytes(), &LENIENT), 501, "{bad}");
        }
        let long_envid = format!("MAIL FROM:<a@b> ENVID={}", "x".repeat(101));
        assert_eq!(code(long_envid.as_bytes(), &LENIENT), 501);
        match ok("MAIL FROM:<a@b> SIZE=99999999999999999999999") {
            Command::Mail { params, .. } => {
                assert_eq!(MailParams::from_params(&params, false).unwrap().size, Some(u64::MAX))
            }
            c => panic!("{c:?}"),
        }
    }

    #[test]
    fn write_to_forms() {
        let w = |c: Command| {
            let mut v = Vec::new();
            c.write_to(&mut v);
            String::from_utf8(v).unwrap()
        };
        let mail = ok("MAIL FROM:<a@b.example> SIZE=10 BODY=8BITMIME");
        assert_eq!(w(mail.clone()), "MAIL FROM:<a@b.example> SIZE=10 BODY=8BITMIME\r\n");
        assert_eq!(w(ok("RCPT TO:<Postmaster>")), "RCPT TO:<postmaster>\r\n");
        assert_eq!(w(ok("MAIL FROM:<>")), "MAIL FROM:<>\r\n");
        assert_eq!(w(Command::Bdat { size: 100, last: true }), "BDAT 100 LAST\r\n");
        assert_eq!(w(Command::Bdat { size: 7, last: false }), "BDAT 7\r\n");
        assert_eq!(w(Command::Help { topic: None }), "HELP\r\n");
        assert_eq!(
            w(Command::Auth { mechanism: "PLAIN".into(), initial: Some("=".into()) }),
            "AUTH PLAIN =\r\n"
        );
        assert_eq!(w(Command::StartTls), "STARTTLS\r\n");
        // What we write, we parse back to the same command (source routes are not written).
        for line in [
            "EHLO mx.example",
            "HELO [192.0.2.1]",
            "MAIL FROM:<\"a b\"@c.example> SIZE=5",
            "RCPT TO:<x@[IPv6:2001:db8::1]> NOTIFY=NEVER",
            "DATA",
            "RSET",
            "QUIT",
            "NOOP",
            "VRFY bob",
            "EXPN list",
            "HELP mail",
            "AUTH LOGIN",
            "BDAT 5 LAST",
            "TURN",
        ] {
            let c = ok_strict(line);
            let wire = w(c.clone());
            assert_eq!(wire, format!("{line}\r\n"));
            assert_eq!(ok_strict(wire.trim_end()), c);
        }
    }

    proptest::proptest! {
        /// Whatever the peer sends, the parser answers and never panics; errors map to replies
        /// of the documented codes.
        #[test]
        fn never_panics(
            line in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..80),
            verb in proptest::sample::select(vec!["MAIL FROM:", "RCPT TO:", "HELO ", "EHLO ", "BDAT ", "AUTH ", "VRFY ", ""]),
            strict: bool,
            smtputf8: bool,
        ) {
            let mut l = verb.as_bytes().to_vec();
            l.extend_from_slice(&line);
            if let Err(e) = parse_command(&l, &ParseOptions { strict, smtputf8 }) {
                proptest::prop_assert!([500, 501, 553, 555].contains(&e.reply().code));
            }
        }
    }
}
