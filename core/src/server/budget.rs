//! The server-wide budget for message bytes held in memory.
//!
//! Messages are assembled in memory (hooks and Maildir delivery need the whole message), so
//! without a bound, `max_connections` clients each streaming `max_message_size` bytes could
//! exhaust the machine. Every message in flight reserves its buffer's capacity from one counter
//! (KiB units) sized by `max_buffered_bytes`; when none is left, the message is drained instead
//! of stored and answered `452 4.3.1`, and the session goes on. A plain atomic (no async
//! semaphore): the session state machine asks without waiting, and never waits.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

/// KiB of message buffers still available, server-wide.
#[derive(Debug)]
pub struct Budget {
    available_kib: AtomicU64,
}

impl Budget {
    /// A budget of `max_bytes` (at least 1 KiB).
    pub fn new(max_bytes: u64) -> Arc<Budget> {
        Arc::new(Budget { available_kib: AtomicU64::new((max_bytes / 1024).max(1)) })
    }

    /// Take `kib` if that many are left.
    fn take(&self, kib: u64) -> bool {
        self.available_kib.fetch_update(Ordering::AcqRel, Ordering::Acquire, |a| a.checked_sub(kib)).is_ok()
    }

    fn give(&self, kib: u64) {
        self.available_kib.fetch_add(kib, Ordering::AcqRel);
    }

    /// KiB left now.
    #[cfg(test)]
    pub fn available_kib(&self) -> u64 {
        self.available_kib.load(Ordering::Acquire)
    }
}

/// What one message holds of the budget; given back when dropped.
#[derive(Debug)]
pub struct Reservation {
    budget: Arc<Budget>,
    kib: u64,
}

impl Reservation {
    /// Holding nothing yet.
    pub fn new(budget: &Arc<Budget>) -> Self {
        Reservation { budget: Arc::clone(budget), kib: 0 }
    }

    /// Make sure `bytes` are covered. False when the budget cannot cover them (nothing is
    /// waited for: a client must not be able to park sessions on it).
    pub fn cover(&mut self, bytes: usize) -> bool {
        let need = (bytes as u64).div_ceil(1024);
        if need <= self.kib {
            return true;
        }
        if self.budget.take(need - self.kib) {
            self.kib = need;
            true
        } else {
            false
        }
    }

    /// Give everything back now.
    pub fn release(&mut self) {
        self.budget.give(std::mem::take(&mut self.kib));
    }
}

impl Drop for Reservation {
    fn drop(&mut self) {
        self.release();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reservations_share_one_budget_and_give_it_back() {
        let b = Budget::new(100 * 1024);
        let mut a = Reservation::new(&b);
        assert!(a.cover(60 * 1024));
        let mut c = Reservation::new(&b);
        assert!(!c.cover(60 * 1024), "only 40 KiB left");
        assert!(c.cover(40 * 1024));
        drop(a);
        assert!(c.cover(100 * 1024), "a's share came back");
        c.release();
        assert_eq!(b.available_kib(), 100);
    }
}
