//! The SMTP client: one session ([`Client`]) over the sans-IO protocol core, and
//! [`ClientHandle`], the same session shared by clones.
//!
//! - `options.rs`: [`ClientOptions`], [`TlsMode`], [`ClientTimeouts`] — with every default.
//! - `session.rs`: connect, banner, EHLO/HELO, STARTTLS, VRFY/EXPN/HELP/NOOP/RSET/QUIT.
//! - `auth.rs`: AUTH PLAIN, LOGIN, XOAUTH2; plaintext refusal; masking.
//! - `transaction.rs`: `send` — MAIL/RCPT/DATA or BDAT, PIPELINING, per-recipient results.
//! - `result.rs`: [`SendOptions`], [`DsnOptions`], [`SendResult`], [`Timings`], queue ids.
//! - `handle.rs`, `shared.rs`: [`ClientHandle`] and the [`SessionState`] snapshot its getters read.
//! - `conn.rs`: name resolution, the socket (plain or TLS) and the bounded reply reader.
//! - `tls.rs`: rustls configuration (with a CA file: a self-signed server certificate pinned);
//!   `tls_error.rs`: every TLS failure in words.
//! - `steps.rs`: single MAIL / RCPT / DATA steps as written (relay probes, tests).
//! - `transcript.rs`, `validate.rs`: the wire log and the input checks.
//!
//! **Handles.** A [`Client`] is driven through `&mut self`: one owner, no locks. Bindings (and
//! Rust code with several tasks) keep a [`ClientHandle`] instead (`Client::into_handle`,
//! `ClientHandle::connect`): clones share one session; calls serialize on the connection (a FIFO
//! async mutex held for the whole exchange); getters — banner, capabilities, TLS, EHLO name,
//! authenticated user, closed, queue id of the last send, timings, transcript — never wait behind
//! a call in flight: they copy a small snapshot the session publishes at the end of each call
//! (one uncontended lock per call, none per reply, none at all for a bare `Client`). A call
//! abandoned half-way (its future dropped) closes the session.
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
mod handle;
mod options;
mod result;
mod session;
mod shared;
mod steps;
mod tls;
pub(crate) mod tls_error;
mod transaction;
mod transcript;
mod turns;
mod validate;

pub use handle::ClientHandle;
pub use options::{
    ClientOptions, ClientTimeouts, TlsMode, DEFAULT_DATA_TIMEOUT, DEFAULT_TIMEOUT, IMPLICIT_TLS_PORT,
    SMTP_PORT,
};
pub use result::{parse_queue_id, DsnOptions, RejectedRecipient, SendOptions, SendResult, Timings};
pub use session::Client;
pub use shared::SessionState;
pub use transaction::{BDAT_CHUNK, BDAT_WINDOW, CHUNKING_THRESHOLD};

pub use crate::proto::params::{Notify, Ret};
pub use crate::proto::{Capabilities, Reply, ReplyLimits};

pub mod compose;
pub use compose::{compose, Attachment, ComposeOptions};
pub mod pool;
pub use pool::{Destination, Pool, PoolOptions, PoolStats};
pub mod send_mail;
pub use send_mail::{send_mail, RecipientResult, SendMailOptions};
