//! The queue's storage behind a small trait, so that a store shared by a fleet (a database, an
//! object store with leases) can replace the local spool without touching delivery: submit
//! durably, lease the entries that are due, record an attempt, remove.
//!
//! Calls are blocking (file or network I/O); the queue calls them from blocking threads.

use crate::error::Result;

use super::entry::{NewEntry, QueueEntry};

/// Where queued messages live.
pub trait Store: Send + Sync + 'static {
    /// Store `message` with its envelope under `id`; durable (written and synced) when this
    /// returns `Ok`. An id that exists already is left as it is (idempotent resubmission).
    fn submit(&self, id: &str, envelope: &NewEntry, message: &[u8]) -> Result<QueueEntry>;
    /// Up to `max` entries due at `now_ms` that nobody holds, now held by the caller until
    /// [`Store::record_attempt`], [`Store::release`] or [`Store::remove`].
    fn lease_due(&self, now_ms: u64, max: usize) -> Result<Vec<QueueEntry>>;
    /// Return a leased entry untouched.
    fn release(&self, id: &str);
    /// The message bytes of `id`.
    fn message(&self, id: &str) -> Result<Vec<u8>>;
    /// Store the entry's new state and release it. A store may lose the latest state in a
    /// crash (an attempt is then made again: a duplicate, never a loss); it must never lose
    /// a submitted message.
    fn record_attempt(&self, entry: &QueueEntry) -> Result<()>;
    /// Delete the entry (delivered or bounced, notices queued).
    fn remove(&self, id: &str) -> Result<()>;
    /// Every entry, leased or not.
    fn list(&self) -> Result<Vec<QueueEntry>>;
    /// True when `id` is stored.
    fn contains(&self, id: &str) -> bool;
    /// True when every call but `submit` returns at once — memory and a short local system call,
    /// no sync, no network; work that is sometimes due and takes longer (the spool's rewrite of
    /// its state log) is done on a thread of the store's own. The queue then makes those calls on its own task: handing each to a
    /// blocking thread and back costs more than the call (two thread switches, several times per
    /// delivery attempt). `false` (the default) for a store behind a network.
    fn quick(&self) -> bool {
        false
    }
}
