//! The one error type of postwire.
//!
//! Every fallible call in the core returns [`Error`]. It carries a [`ErrorKind`] (the contract of
//! `shared/API.md`: bindings map the kind to their own error classes and never parse the message)
//! and, where a server answered, the [`Reply`] it answered with.

use std::fmt;

use crate::proto::Reply;

/// What went wrong, in the terms of the public API contract.
///
/// The numbers are part of the contract (`shared/API.md`): `connect` = 1 … `io` = 10, 0 being
/// success. C's `pw_status`, Node's `.code` and Python's classes are all derived from them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[repr(u32)]
pub enum ErrorKind {
    /// TCP connect failed or was refused.
    Connect = 1,
    /// An RFC 5321 §4.5.3.2 timeout or a user timeout expired.
    Timeout,
    /// TLS handshake or certificate failure, or STARTTLS refused when required.
    Tls,
    /// Authentication rejected (535 and friends).
    Auth,
    /// The peer broke the protocol (bad reply syntax, unexpected close, oversized reply).
    Protocol,
    /// Permanent 5xx refusal of the whole transaction.
    Rejected,
    /// 4xx refusal: the caller may retry later.
    Transient,
    /// Name resolution failed.
    Dns,
    /// A bad argument: malformed address, CR/LF in an address, bad option.
    InvalidInput,
    /// Local I/O (spool, maildir, certificate files) failed.
    Io,
}

impl ErrorKind {
    /// Every kind, in number order.
    pub const ALL: [ErrorKind; 10] = [
        ErrorKind::Connect,
        ErrorKind::Timeout,
        ErrorKind::Tls,
        ErrorKind::Auth,
        ErrorKind::Protocol,
        ErrorKind::Rejected,
        ErrorKind::Transient,
        ErrorKind::Dns,
        ErrorKind::InvalidInput,
        ErrorKind::Io,
    ];

    /// The fixed number of the contract (`connect` = 1 … `io` = 10).
    pub fn number(self) -> u32 {
        self as u32
    }

    /// The kind with that number, if any.
    pub fn from_number(n: u32) -> Option<ErrorKind> {
        ErrorKind::ALL.get(usize::try_from(n).ok()?.checked_sub(1)?).copied()
    }

    /// The snake_case name used by every runtime (`"invalid_input"`).
    pub fn as_str(self) -> &'static str {
        match self {
            ErrorKind::Connect => "connect",
            ErrorKind::Timeout => "timeout",
            ErrorKind::Tls => "tls",
            ErrorKind::Auth => "auth",
            ErrorKind::Protocol => "protocol",
            ErrorKind::Rejected => "rejected",
            ErrorKind::Transient => "transient",
            ErrorKind::Dns => "dns",
            ErrorKind::InvalidInput => "invalid_input",
            ErrorKind::Io => "io",
        }
    }
}

impl std::str::FromStr for ErrorKind {
    type Err = Error;

    /// The kind named by its snake_case name (`"invalid_input"`).
    fn from_str(s: &str) -> Result<ErrorKind> {
        ErrorKind::ALL
            .into_iter()
            .find(|k| k.as_str() == s)
            .ok_or_else(|| Error::invalid_input(format!("{s:?} is not an error kind")))
    }
}

impl fmt::Display for ErrorKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The error of every postwire operation: a kind, a human message and, when a server answered,
/// its reply.
#[derive(Debug, Clone)]
pub struct Error {
    kind: ErrorKind,
    message: String,
    reply: Option<Reply>,
}

impl Error {
    /// A new error of `kind` with a human-readable `message`.
    pub fn new(kind: ErrorKind, message: impl Into<String>) -> Self {
        Error { kind, message: message.into(), reply: None }
    }

    /// An error caused by a server reply; the kind follows the reply class (4xx transient, else
    /// rejected) unless given.
    pub fn from_reply(reply: Reply) -> Self {
        let kind = if reply.is_transient() { ErrorKind::Transient } else { ErrorKind::Rejected };
        Error { kind, message: format!("server answered {}", reply.one_line()), reply: Some(reply) }
    }

    /// Attach the server reply that caused this error.
    pub fn with_reply(mut self, reply: Reply) -> Self {
        self.reply = Some(reply);
        self
    }

    /// Shorthand for an [`ErrorKind::InvalidInput`] error.
    pub fn invalid_input(message: impl Into<String>) -> Self {
        Error::new(ErrorKind::InvalidInput, message)
    }

    /// Shorthand for an [`ErrorKind::Protocol`] error.
    pub fn protocol(message: impl Into<String>) -> Self {
        Error::new(ErrorKind::Protocol, message)
    }

    /// Shorthand for an [`ErrorKind::Timeout`] error.
    pub fn timeout(message: impl Into<String>) -> Self {
        Error::new(ErrorKind::Timeout, message)
    }

    /// Shorthand for an [`ErrorKind::Io`] error.
    pub fn io(message: impl Into<String>) -> Self {
        Error::new(ErrorKind::Io, message)
    }

    /// Shorthand for an [`ErrorKind::Tls`] error.
    pub fn tls(message: impl Into<String>) -> Self {
        Error::new(ErrorKind::Tls, message)
    }

    /// What went wrong.
    pub fn kind(&self) -> ErrorKind {
        self.kind
    }

    /// The human-readable message.
    pub fn message(&self) -> &str {
        &self.message
    }

    /// The server reply behind this error, if a server answered.
    pub fn reply(&self) -> Option<&Reply> {
        self.reply.as_ref()
    }

    /// True when retrying later may succeed (timeouts, 4xx, connection trouble).
    pub fn is_transient(&self) -> bool {
        matches!(self.kind, ErrorKind::Transient | ErrorKind::Timeout | ErrorKind::Connect | ErrorKind::Io)
    }

    /// True when retrying will not help (5xx, bad input, auth refused).
    pub fn is_permanent(&self) -> bool {
        matches!(self.kind, ErrorKind::Rejected | ErrorKind::InvalidInput | ErrorKind::Auth)
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.kind, self.message)
    }
}

impl std::error::Error for Error {}

impl From<std::io::Error> for Error {
    fn from(e: std::io::Error) -> Self {
        use std::io::ErrorKind as K;
        let kind = match e.kind() {
            K::TimedOut => ErrorKind::Timeout,
            K::ConnectionRefused => ErrorKind::Connect,
            K::ConnectionReset | K::ConnectionAborted | K::UnexpectedEof | K::BrokenPipe => {
                ErrorKind::Protocol
            }
            _ => ErrorKind::Io,
        };
        Error::new(kind, e.to_string())
    }
}

/// The result type of postwire.
pub type Result<T, E = Error> = std::result::Result<T, E>;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kinds_have_the_contract_numbers_and_names() {
        let names: Vec<_> = ErrorKind::ALL.iter().map(|k| (k.number(), k.as_str())).collect();
        assert_eq!(
            names,
            [
                (1, "connect"),
                (2, "timeout"),
                (3, "tls"),
                (4, "auth"),
                (5, "protocol"),
                (6, "rejected"),
                (7, "transient"),
                (8, "dns"),
                (9, "invalid_input"),
                (10, "io")
            ]
        );
        for k in ErrorKind::ALL {
            assert_eq!(ErrorKind::from_number(k.number()), Some(k));
            assert_eq!(k.as_str().parse::<ErrorKind>().unwrap(), k);
        }
        assert_eq!(ErrorKind::from_number(0), None);
        assert_eq!(ErrorKind::from_number(11), None);
        assert!("nope".parse::<ErrorKind>().is_err());
    }
}
