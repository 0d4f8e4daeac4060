//! The server-wide budget for message bytes held in memory.
//!
//! Messages are assembled in memory (hooks and Maildir delivery need the whole message), so
//! without a bound, `max_connections` clients each streaming `max_message_size` bytes could
//! exhaust the machine. Every message in flight reserves its buffer's capacity from one counting
//! semaphore (KiB units) sized by `max_buffered_bytes`; when none is left, the message is drained
//! instead of stored and answered `452 4.3.1`, and the session goes on.

use std::sync::Arc;

use tokio::sync::{OwnedSemaphorePermit, Semaphore};

/// The budget: one permit per KiB.
pub(super) fn new_budget(max_bytes: u64) -> Arc<Semaphore> {
    let kib = (max_bytes / 1024).clamp(1, Semaphore::MAX_PERMITS as u64) as usize;
    Arc::new(Semaphore::new(kib))
}

/// What one message holds of the budget; released when dropped.
#[derive(Debug)]
pub(super) struct Reservation {
    budget: Arc<Semaphore>,
    held: Option<OwnedSemaphorePermit>,
    kib: u32,
}

impl Reservation {
    pub fn new(budget: &Arc<Semaphore>) -> Self {
        Reservation { budget: Arc::clone(budget), held: None, kib: 0 }
    }

    /// Make sure `bytes` are covered. False when the budget cannot cover them (nothing is
    /// waited for: a client must not be able to park sessions on it).
    pub fn cover(&mut self, bytes: usize) -> bool {
        let need = u32::try_from(bytes.div_ceil(1024)).unwrap_or(u32::MAX);
        if need <= self.kib {
            return true;
        }
        match Arc::clone(&self.budget).try_acquire_many_owned(need - self.kib) {
            Ok(p) => {
                match &mut self.held {
                    Some(h) => h.merge(p),
                    None => self.held = Some(p),
                }
                self.kib = need;
                true
            }
            Err(_) => false,
        }
    }

    /// Give everything back now.
    pub fn release(&mut self) {
        self.held = None;
        self.kib = 0;
    }
}

/// The reply for a message refused because the budget is exhausted.
pub(super) fn insufficient_storage() -> crate::proto::Reply {
    crate::proto::Reply::new(452, "Insufficient system storage, try again later", Some("4.3.1"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reservations_share_one_budget_and_give_it_back() {
        let b = new_budget(100 * 1024);
        let mut a = Reservation::new(&b);
        assert!(a.cover(60 * 1024));
        let mut c = Reservation::new(&b);
        assert!(!c.cover(60 * 1024), "only 40 KiB left");
        assert!(c.cover(40 * 1024));
        drop(a);
        assert!(c.cover(100 * 1024), "a's share came back");
        c.release();
        assert_eq!(b.available_permits(), 100);
    }
}
