//! SMTP command lines: the server-side parser and the client-side formatter.
//!
//! Why not stalwartlabs' `smtp-proto` (evaluated for issue 2): (NOTE FOR IMPLEMENTER: write the
//! honest evaluation here — e.g. its request parser is lenient in ways we need to switch off with
//! `strict`, its DATA receiver's treatment of bare LF, its error granularity vs our 500/501/555
//! replies, and that our `Reply`/`Error` types are the API contract.)

use super::address::Path;
use super::params::Params;
use super::reply::Reply;

/// Parser switches.
#[derive(Debug, Clone, Copy, Default)]
pub struct ParseOptions {
    /// Conformance mode: no space after `FROM:`, no bare addresses without `<>`, unknown ESMTP
    /// parameters refused (555), no bare-LF command lines.
    pub strict: bool,
    /// UTF-8 allowed in addresses (the client said SMTPUTF8 on MAIL).
    pub smtputf8: bool,
}

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

/// Why a command line was refused; [`CommandError::reply`] is what the server answers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CommandError {
    /// Not a command we know: `500 5.5.2`.
    Unknown { verb: String },
    /// Known verb, bad arguments: `code` is 501 (syntax), 553 (mailbox syntax) or 555 (bad
    /// MAIL/RCPT parameter), with an enhanced code and a message.
    Syntax { code: u16, enhanced: &'static str, message: String },
}

impl CommandError {
    /// The reply the server sends for this error.
    pub fn reply(&self) -> Reply {
        match self {
            CommandError::Unknown { .. } => Reply::new(500, Some("5.5.2"), "Command unrecognized"),
            CommandError::Syntax { code, enhanced, message } => Reply::new(*code, Some(enhanced), message),
        }
    }
}

/// Parse one command line (without its CRLF). Verbs are case-insensitive. Non-UTF-8 bytes are a
/// syntax error (501) unless inside an SMTPUTF8 address, which must be valid UTF-8.
pub fn parse_command(line: &[u8], opts: &ParseOptions) -> Result<Command, CommandError> {
    todo!()
}

impl Command {
    /// Append the wire form of this command, CRLF included (client side):
    /// `MAIL FROM:<a@b> SIZE=10\r\n`, `RCPT TO:<Postmaster>\r\n`, `BDAT 100 LAST\r\n` …
    /// The caller has validated its inputs (no CR/LF/NUL): see `crate::client`.
    pub fn write_to(&self, out: &mut Vec<u8>) {
        todo!()
    }
}
