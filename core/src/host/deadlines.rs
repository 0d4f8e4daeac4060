//! `hook_timeout` for every hook call in flight, kept by one task per dispatch with one timer.
//!
//! Why not `tokio::time::timeout` around each wait (what the dispatch did before): a timer that
//! ends before every other one the runtime holds makes tokio wake its I/O driver — an eventfd
//! write, then one more turn of the runtime's poll loop. A hook's deadline (`hook_timeout`,
//! seconds) always ends before the sessions' command deadlines (minutes), so nearly every hook
//! call paid that. Measured with `strace -f` on `bench/python_sink.py postwire-aio` under
//! `smtp-source -s 10`: 1,746 driver wake-ups on the runtime worker for about 1,400 messages, and
//! `perf record -e syscalls:sys_enter_write --call-graph dwarf` put every one of them under
//! `TimerEntry::init` ← `HookDispatch::submit`.
//!
//! Every call of one dispatch has the same timeout, so deadlines come in the order the calls are
//! made: one queue in that order, and one task asleep until its oldest deadline. A call pushes
//! its deadline and wakes the task only when it is not asleep already (an armed timer ends no
//! later than the new deadline); answered calls are dropped from the front as new ones come and
//! when the timer fires, so the queue stays about as long as the calls in flight. The timer is
//! set again only when it fires: under load about once per `hook_timeout`, not once per call.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use tokio::sync::{oneshot, Notify};
// tokio's clock, so the deadlines follow a paused test clock as the timer does.
use tokio::time::Instant;

/// The deadlines of one dispatch's calls in flight.
#[derive(Debug)]
pub(super) struct Deadlines {
    timeout: Duration,
    state: Mutex<State>,
    wake: Notify,
}

#[derive(Debug, Default)]
struct State {
    /// Deadline and "time is up" sender of each call, oldest first.
    queue: VecDeque<(Instant, oneshot::Sender<()>)>,
    /// A watcher task is alive (on some runtime).
    watching: bool,
    /// The watcher sleeps until the front's deadline (a later deadline needs no wake-up).
    armed: bool,
    /// The dispatch is gone: the watcher ends once no call is left.
    stopped: bool,
}

impl Deadlines {
    pub(super) fn new(timeout: Duration) -> Arc<Self> {
        Arc::new(Deadlines { timeout, state: Mutex::default(), wake: Notify::new() })
    }

    pub(super) fn timeout(&self) -> Duration {
        self.timeout
    }

    fn state(&self) -> MutexGuard<'_, State> {
        // The state stays consistent at every unlock; a panic elsewhere does not spoil it.
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Start the clock of one call (from a task on a runtime): the receiver completes when
    /// `timeout` has passed. Drop it once the call is answered.
    pub(super) fn start(self: &Arc<Self>) -> oneshot::Receiver<()> {
        let (tx, rx) = oneshot::channel();
        let mut st = self.state();
        while st.queue.front().is_some_and(|(_, tx)| tx.is_closed()) {
            st.queue.pop_front();
        }
        // Taken under the lock: the queue stays in deadline order.
        st.queue.push_back((Instant::now() + self.timeout, tx));
        let spawn = !st.watching;
        st.watching = true;
        let wake = !spawn && !st.armed;
        drop(st);
        if spawn {
            tokio::spawn(watch(Arc::clone(self)));
        } else if wake {
            // Stored as a permit if the watcher is between its check and its wait.
            self.wake.notify_one();
        }
        rx
    }

    /// The dispatch is gone: the watcher ends when the calls still in flight are done.
    pub(super) fn stop(&self) {
        self.state().stopped = true;
        self.wake.notify_one();
    }

    /// Drop answered calls, tell expired ones; the next deadline to sleep until, or `None` to
    /// end (`Some(None)`: nothing to wait for, sleep until woken).
    fn sweep(&self) -> Option<Option<Instant>> {
        let mut st = self.state();
        let now = Instant::now();
        while let Some((when, tx)) = st.queue.front() {
            if !tx.is_closed() && *when > now {
                break;
            }
            if let Some((_, tx)) = st.queue.pop_front() {
                // Err: answered meanwhile; nothing to tell.
                let _ = tx.send(());
            }
        }
        let next = st.queue.front().map(|(when, _)| *when);
        if next.is_none() && st.stopped {
            st.watching = false;
            return None;
        }
        st.armed = next.is_some();
        Some(next)
    }
}

/// Marks the watcher gone when its task ends or is dropped (its runtime shut down): the next
/// call starts a new one.
struct Watching(Arc<Deadlines>);

impl Drop for Watching {
    fn drop(&mut self) {
        let mut st = self.0.state();
        st.watching = false;
        st.armed = false;
    }
}

async fn watch(deadlines: Arc<Deadlines>) {
    let guard = Watching(deadlines);
    let d = &guard.0;
    while let Some(next) = d.sweep() {
        match next {
            Some(when) => {
                tokio::select! {
                    _ = tokio::time::sleep_until(when) => {}
                    _ = d.wake.notified() => {}
                }
            }
            None => d.wake.notified().await,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A paused clock: sleeps end at once, in deadline order, and a missing watcher shows as
    /// the [`told`] bound running out instead of a hang.
    fn rt() -> tokio::runtime::Runtime {
        tokio::runtime::Builder::new_current_thread().enable_all().start_paused(true).build().unwrap()
    }

    /// Wait for the call's time-is-up, at most an hour of the paused clock.
    async fn told(rx: oneshot::Receiver<()>) {
        let r = tokio::time::timeout(Duration::from_secs(3600), rx).await;
        r.expect("no watcher told the call its time was up").expect("told, not dropped");
    }

    #[test]
    fn a_call_not_answered_in_time_is_told_and_answered_ones_are_dropped() {
        rt().block_on(async {
            let d = Deadlines::new(Duration::from_secs(30));
            let answered = d.start();
            let slow = d.start();
            drop(answered);
            let t0 = Instant::now();
            told(slow).await;
            assert!(t0.elapsed() >= Duration::from_secs(30), "told after {:?}", t0.elapsed());
            assert!(d.state().queue.is_empty(), "answered and expired calls are gone");
            // Idle, then a new call: the watcher wakes for it.
            tokio::time::sleep(Duration::from_secs(100)).await;
            let t1 = Instant::now();
            told(d.start()).await;
            assert!(t1.elapsed() >= Duration::from_secs(30));
        });
    }

    #[test]
    fn a_new_runtime_gets_a_new_watcher() {
        let d = Deadlines::new(Duration::from_secs(5));
        for _ in 0..2 {
            // The first runtime is dropped with its watcher; the second must start its own.
            rt().block_on(async { told(d.start()).await });
        }
    }

    #[test]
    fn the_watcher_ends_after_stop_once_no_call_is_left() {
        rt().block_on(async {
            let d = Deadlines::new(Duration::from_secs(5));
            let pending = d.start();
            d.stop();
            told(pending).await;
            tokio::task::yield_now().await;
            assert!(!d.state().watching, "the watcher ended");
        });
    }
}
