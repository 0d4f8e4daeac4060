//! Sans-IO SMTP protocol core: bytes in, parsed values or bytes out; no sockets, no async.
//!
//! Why our own parser and not stalwartlabs' `smtp-proto`: see the note at the top of
//! [`command`]. The server (`crate::server`) and the client (`crate::client`) are thin I/O layers
//! over these pieces, and the shared vectors in `tests/vectors/` exercise them directly.
//!
//! - [`reply`]: `Reply` values, their wire form, and the client-side reply parser.
//! - [`command`]: server-side command-line parsing and client-side command formatting.
//! - [`address`]: RFC 5321 paths and mailboxes.
//! - [`params`]: ESMTP MAIL/RCPT parameters (SIZE, BODY, SMTPUTF8, DSN).
//! - [`data`]: the DATA receiver (dot-unstuffing, smuggling defence, size limits) and the
//!   client-side DATA encoder (dot-stuffing, CRLF normalisation).
//! - [`line`](mod@line): the server's input buffer and finding command lines in it under a length limit.
//! - [`options`], [`error`]: the parser's switches and its error, shared by the grammars.
//! - [`ehlo`]: EHLO capability parsing for the client.
//! - [`describe`]: parsed values as the JSON fields of the shared vectors (for the bindings).

pub mod address;
pub mod command;
pub mod data;
pub mod describe;
pub mod ehlo;
pub mod error;
pub mod line;
pub mod options;
pub mod params;
pub mod reply;

pub use address::{Domain, Mailbox, Path};
pub use command::{Command, TypedParams};
pub use data::{BareLinePolicy, DataLimits, DataReceiver, DataStatus, DataViolation};
pub use ehlo::Capabilities;
pub use error::CommandError;
pub use options::ParseOptions;
pub use params::{MailParams, Params, RcptParams};
pub use reply::{Reply, ReplyLimits};
