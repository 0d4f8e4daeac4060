//! The SMTP client: one session ([`Client`]) over the sans-IO protocol core.
//!
//! - `options.rs`: [`ClientOptions`], [`TlsMode`], [`ClientTimeouts`].
//! - `session.rs`: connect, banner, EHLO/HELO, STARTTLS, VRFY/EXPN/HELP/NOOP/RSET/QUIT.
//! - `auth.rs`: AUTH PLAIN, LOGIN, XOAUTH2; plaintext refusal; masking.
//! - `transaction.rs`: `send` — MAIL/RCPT/DATA or BDAT, PIPELINING, per-recipient results.
//! - `result.rs`: [`SendOptions`], [`DsnOptions`], [`SendResult`], [`Timings`], queue ids.
//! - `conn.rs`: the socket (plain or TLS) and the bounded reply reader.
//! - `tls.rs`: rustls configuration.
//! - `steps.rs`: single MAIL / RCPT / DATA steps as written (relay probes, tests).
//! - `transcript.rs`, `validate.rs`: the wire log and the input checks.
//!
//! Error kinds chosen where the contract leaves a choice:
//! - AUTH without TLS and without `allow_plaintext_auth`: `auth` (nothing written).
//! - message over the advertised SIZE, 8-bit message without 8BITMIME, non-ASCII address
//!   without SMTPUTF8: `rejected` with no reply (nothing of the transaction written).
//! - any call on a closed session: `protocol`.
//! - a `421` reply to anything closes the session (RFC 5321 §3.8: the server closes after it);
//!   the call that got it fails `transient` with the reply attached.

mod auth;
mod conn;
mod options;
mod result;
mod session;
mod steps;
mod tls;
mod transaction;
mod transcript;
mod validate;

pub use options::{ClientOptions, ClientTimeouts, TlsMode};
pub use result::{parse_queue_id, DsnOptions, RejectedRecipient, SendOptions, SendResult, Timings};
pub use session::Client;
pub use transaction::{BDAT_CHUNK, CHUNKING_THRESHOLD};

pub use crate::proto::params::{Notify, Ret};
pub use crate::proto::{Capabilities, Reply, ReplyLimits};

pub mod compose;
pub use compose::{compose, Attachment, ComposeOptions};
pub mod pool;
pub use pool::{Destination, Pool, PoolOptions, PoolStats};
pub mod send_mail;
pub use send_mail::{send_mail, RecipientResult, SendMailOptions};
