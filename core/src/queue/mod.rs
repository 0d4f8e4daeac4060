//! The durable store-and-forward queue: `submit` returns a queue id only once the message is on
//! disk for good; a runner delivers what is due, retries on a schedule, and notifies the sender
//! (RFC 3464 DSN on failure or expiry, RFC 3461 success notices) exactly once per recipient.
//!
//! - `record.rs`: self-validating records (length + SHA-256), so a torn write is never delivered.
//! - `entry.rs`: the envelope submitted and the per-recipient state ([`QueueEntry`]).
//! - `schedule.rs`: [`RetryPolicy`] (Postfix-like defaults).
//! - `store.rs`: the [`Store`] trait (submit, lease due entries, record an attempt, remove).
//! - `spool.rs` + `segment.rs` + `commit.rs` + `states.rs`: [`Spool`], the spool-directory
//!   store: messages in append-only segments, one `fdatasync` per batch of submits (group
//!   commit); the states after attempts in an append-only log.
//! - `dsn.rs`: building the notices (mail-builder).
//! - `runner.rs`: [`Queue`]: submit, list, run/flush/start/stop, concurrency with a cap per
//!   destination, applying outcomes and queuing the notices.

mod commit;
mod dsn;
mod entry;
mod record;
mod runner;
mod schedule;
mod segment;
mod spool;
mod states;
mod store;

pub use dsn::{build_notice, NoticeKind};
pub use entry::{
    parse_notify, wants_failure, wants_success, NewEntry, NewRecipient, QueueEntry, RcptStatus,
    RecipientState, StoredReply,
};
pub use runner::{LocalDelivery, Queue, QueueOptions, RunStats};
pub use schedule::RetryPolicy;
pub use spool::Spool;
pub use store::Store;
