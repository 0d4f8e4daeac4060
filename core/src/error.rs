//! The one error type of postwire.
//!
//! Every fallible call in the core returns [`Error`]. It carries a [`ErrorKind`] (the contract of
//! `shared/API.md`: bindings map the kind to their own error classes and never parse the message),
//! where a server answered, the [`Reply`] it answered with, and for a mail transaction that failed
//! after its RCPTs, every recipient the server refused ([`RejectedRecipient`], what smtplib's
//! `SMTPRecipientsRefused.recipients` gives). The refusal type lives here rather than in the client
//! because the error carries it; the client re-exports it as part of `SendResult`.

use std::fmt;

use crate::proto::Reply;

/// A recipient the server refused at RCPT, with its reply: in [`Error::rejected`] and in the
/// client's `SendResult.rejected`. Serialises as `{"rcpt": …, "reply": …}`.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct RejectedRecipient {
    /// The recipient as the caller gave it.
    pub rcpt: String,
    /// The server's reply to its RCPT.
    pub reply: Reply,
}

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
    /// Name resolution failed: a host name that does not resolve (NXDOMAIN, SERVFAIL, no
    /// answer) — never reported as `connect`.
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

/// The error of every postwire operation: a kind, a human message, when a server answered its
/// reply, and the recipients refused in a failed transaction.
#[derive(Debug, Clone)]
pub struct Error {
    kind: ErrorKind,
    message: String,
    /// Reply and refusals, boxed: most errors have neither, and an `Error` small enough to move
    /// cheaply keeps every `Result<T>` of the crate (and of the bindings around it) small.
    details: Option<Box<Details>>,
}

#[derive(Debug, Clone, Default)]
struct Details {
    reply: Option<Reply>,
    rejected: Vec<RejectedRecipient>,
}

impl Error {
    /// A new error of `kind` with a human-readable `message`.
    pub fn new(kind: ErrorKind, message: impl Into<String>) -> Self {
        Error { kind, message: message.into(), details: None }
    }

    fn details_mut(&mut self) -> &mut Details {
        self.details.get_or_insert_with(Box::default)
    }

    /// An error caused by a server reply; the kind follows the reply class (4xx transient, else
    /// rejected).
    pub fn from_reply(reply: Reply) -> Self {
        let kind = if reply.is_transient() { ErrorKind::Transient } else { ErrorKind::Rejected };
        Error::new(kind, format!("server answered {}", reply.one_line())).with_reply(reply)
    }

    /// Attach the server reply that caused this error.
    pub fn with_reply(mut self, reply: Reply) -> Self {
        self.details_mut().reply = Some(reply);
        self
    }

    /// Attach the recipients the server refused at RCPT in the failed transaction.
    pub fn with_rejected(mut self, rejected: Vec<RejectedRecipient>) -> Self {
        self.details_mut().rejected = rejected;
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
        self.details.as_ref()?.reply.as_ref()
    }

    /// The recipients refused at RCPT, each with its reply, when a mail transaction failed after
    /// its RCPT commands were answered: **every** refusal when every recipient was refused (the
    /// kind is then `transient` if any refusal was 4xx, else `rejected`), and the ones refused
    /// before a later step failed (DATA, the final reply). Empty for every other error.
    pub fn rejected(&self) -> &[RejectedRecipient] {
        self.details.as_ref().map_or(&[], |d| &d.rejected)
    }

    /// True when retrying later may succeed (timeouts, 4xx, connection trouble, a DNS failure
    /// whose reply says it is temporary — SERVFAIL, a timeout).
    pub fn is_transient(&self) -> bool {
        match self.kind {
            ErrorKind::Transient | ErrorKind::Timeout | ErrorKind::Connect | ErrorKind::Io => true,
            ErrorKind::Dns => self.reply().is_none_or(Reply::is_transient),
            _ => false,
        }
    }

    /// True when retrying will not help (5xx, bad input, auth refused, a DNS answer that is final
    /// — NXDOMAIN, null MX — as its reply says).
    pub fn is_permanent(&self) -> bool {
        match self.kind {
            ErrorKind::Rejected | ErrorKind::InvalidInput | ErrorKind::Auth => true,
            ErrorKind::Dns => self.reply().is_some_and(Reply::is_permanent),
            _ => false,
        }
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

    #[test]
    fn dns_errors_are_transient_or_permanent_by_their_reply() {
        let nx =
            Error::new(ErrorKind::Dns, "nxdomain").with_reply(Reply::new(550, "5.1.2 no such domain", None));
        assert!(nx.is_permanent() && !nx.is_transient());
        let servfail =
            Error::new(ErrorKind::Dns, "servfail").with_reply(Reply::new(451, "4.4.3 try later", None));
        assert!(servfail.is_transient() && !servfail.is_permanent());
        let bare = Error::new(ErrorKind::Dns, "no reply");
        assert!(bare.is_transient() && !bare.is_permanent());
        assert!(std::mem::size_of::<Error>() <= 48, "{}", std::mem::size_of::<Error>());
    }

    #[test]
    fn refusals_travel_with_the_error() {
        let r = |code, rcpt: &str| RejectedRecipient {
            rcpt: rcpt.into(),
            reply: Reply::new(code, "5.1.1 no such user", None),
        };
        let e = Error::new(ErrorKind::Rejected, "all refused")
            .with_reply(Reply::new(550, "x", None))
            .with_rejected(vec![r(550, "a@x.test"), r(551, "b@x.test")]);
        let rcpts: Vec<_> = e.rejected().iter().map(|x| (x.rcpt.as_str(), x.reply.code)).collect();
        assert_eq!(rcpts, [("a@x.test", 550), ("b@x.test", 551)]);
        assert!(Error::from_reply(Reply::new(451, "later", None)).rejected().is_empty());
        let json = serde_json::to_value(&e.rejected()[0]).expect("serialise");
        assert_eq!(json["rcpt"], "a@x.test");
        assert_eq!(json["reply"]["code"], 550);
    }
}
