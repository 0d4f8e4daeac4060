//! [`Line`]: calls on one [`ClientHandle`](super::ClientHandle) in the order they were made.
//!
//! An async host (asyncio, Node) spawns one task per call, and the runtime may poll a task
//! spawned later first; the session's FIFO mutex then orders calls by who got there first, not by
//! who was called first. A ticket taken synchronously when the call is made fixes the order. A
//! ticket dropped before or during its call leaves the line (its place is skipped), so a
//! cancelled call never blocks the ones behind it.

use std::collections::BTreeSet;
use std::sync::{Arc, Mutex};

use tokio::sync::Notify;

/// The line of one session.
#[derive(Default)]
pub(crate) struct Line {
    state: Mutex<State>,
    moved: Notify,
}

#[derive(Default)]
struct State {
    /// The next ticket to hand out.
    next: u64,
    /// The ticket whose call may run now.
    serving: u64,
    /// Tickets dropped before their turn came: skipped when it does.
    left: BTreeSet<u64>,
}

/// A place in the line; dropping it (the call finished or was abandoned) lets the next one on.
pub(crate) struct Ticket {
    line: Arc<Line>,
    n: u64,
}

impl Line {
    fn state(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Take the next place in line (synchronously: the order of calls is the order of this).
    pub(crate) fn ticket(self: &Arc<Self>) -> Ticket {
        let mut s = self.state();
        let n = s.next;
        s.next += 1;
        Ticket { line: Arc::clone(self), n }
    }
}

impl Ticket {
    /// Wait until every ticket taken before this one is done or dropped.
    pub(crate) async fn wait(&self) {
        loop {
            let moved = self.line.moved.notified();
            tokio::pin!(moved);
            // Registered before the check, so a move between the check and the await is seen.
            moved.as_mut().enable();
            if self.line.state().serving == self.n {
                return;
            }
            moved.await;
        }
    }
}

impl Drop for Ticket {
    fn drop(&mut self) {
        let mut s = self.line.state();
        if s.serving == self.n {
            s.serving += 1;
            loop {
                let serving = s.serving;
                if !s.left.remove(&serving) {
                    break;
                }
                s.serving += 1;
            }
        } else {
            s.left.insert(self.n);
        }
        drop(s);
        self.line.moved.notify_waiters();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn tickets_run_in_order_and_dropped_ones_are_skipped() {
        let line = Arc::new(Line::default());
        let (a, b, c) = (line.ticket(), line.ticket(), line.ticket());
        drop(b);
        let waiting_c = tokio::spawn(async move {
            c.wait().await;
            c.n
        });
        tokio::task::yield_now().await;
        assert!(!waiting_c.is_finished(), "c waits for a");
        a.wait().await;
        drop(a);
        assert_eq!(waiting_c.await.unwrap(), 2);
        // Everything before is done: a new ticket runs at once.
        let d = line.ticket();
        d.wait().await;
    }
}
