//! A current-thread tokio runtime driven by the host's own event loop (Node's libuv loop): the
//! host watches one file descriptor and calls [`TickedRuntime::tick`] when it is readable, on a
//! timer, and again at once while `tick` says work is left. Sessions served on it run on the
//! host's thread, so a hook written in the host's language is called without a hand-off to
//! another thread and back.
//!
//! Why: on the shared runtime every hook call wakes the host's thread and every answer wakes a
//! runtime worker — about one context switch per message, and on a small machine the load
//! generator, the worker and the JS thread then fight over two cores. Measured on the project's
//! 2-core VM (`smtp-source -c -s 10 -d -m 20000 -l 1024`, Node server with a counting
//! `onMessage`): docs/server.md, "Hooks".
//!
//! How, with what tokio offers (it has no API to step its scheduler from another loop):
//! - the descriptor is the runtime's epoll instance: the `[eventpoll]` descriptor whose
//!   `/proc/self/fdinfo` lists a socket just registered with the runtime (Linux only; elsewhere
//!   [`TickedRuntime::new`] fails and the host keeps the shared runtime). It is readable when the
//!   runtime has I/O events or was woken from another thread (its waker is registered in it);
//! - a tick is one `block_on` of a future that ends when the scheduler is about to park with no
//!   task ready (tokio's `on_thread_park` hook) and the epoll instance has nothing pending, plus
//!   one more round for what that last park's driver poll readied (a timer that fell due); or
//!   after [`PARKS_PER_TICK`] park points or [`TICK_BUDGET`], so that the host's loop (and the
//!   continuations of its hooks) get their turn under load — `tick` then says work is left.
//!   Waking that future from the hook turns the park into a zero-timeout poll (tokio ≥ 1.52.4
//!   `park`, tokio-rs/tokio#8222), so a tick never blocks;
//! - timers have no descriptor: the host ticks every [`TIMER_TICK`] as well while it has tasks,
//!   so a timeout fires at most that late. The drain round polls the driver too: when it ran
//!   tasks, `tick` asks for another tick at once ([`TickOutcome::Again`]); when it was a bare
//!   round, only an event that came in the microseconds of its own poll waits for the next
//!   event or the timer.

use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, AtomicI32, AtomicU32, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll, Waker};
use std::time::Duration;

use tokio::runtime::{Handle, Runtime};
use tokio::time::{Instant, Sleep};

use crate::error::{Error, Result};

/// How often the host ticks with nothing readable, for the runtime's timers.
pub const TIMER_TICK: Duration = Duration::from_millis(10);

/// Park points (the run queue drained) one tick goes through at most before it hands the thread
/// back to the host's loop.
pub const PARKS_PER_TICK: u32 = 4;

/// How long one tick may run before it hands the thread back (the host's own callbacks — a
/// hook's Promise continuations among them — wait meanwhile).
pub const TICK_BUDGET: Duration = Duration::from_millis(2);

/// A drain round longer than this ran tasks (a bare round is a zero-timeout poll and a few
/// checks); what they let in is looked at by one more tick at once rather than left to the timer.
const QUICK_ROUND: Duration = Duration::from_micros(50);

/// What a tick leaves for the host to do.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TickOutcome {
    /// Work may be left (the tick stopped at a bound): tick again on the next turn of the loop.
    Again,
    /// Wait for the descriptor or the timer.
    Wait,
    /// No task is left on the runtime (nothing served here): no timer ticks are needed.
    Idle,
}

/// What the park hook and the tick future share.
#[derive(Default)]
struct TickState {
    /// The waker of the running tick's future; taken by the park hook.
    waker: Mutex<Option<Waker>>,
    /// Set by the park hook: the tick may end.
    done: AtomicBool,
    /// The tick ends at a bound (parks, time), not because nothing was left: tick again soon.
    more: AtomicBool,
    /// Park points seen in the running tick.
    parks: AtomicU32,
    /// The runtime's epoll descriptor.
    fd: AtomicI32,
}

/// A current-thread runtime stepped by the host (see the module doc).
pub struct TickedRuntime {
    rt: Option<Runtime>,
    state: Arc<TickState>,
    /// The tick's time bound, one timer reset per tick: moved later each time, so registering
    /// it does not wake the driver (a new earliest timer would write its eventfd).
    budget: Mutex<Pin<Box<Sleep>>>,
}

impl TickedRuntime {
    /// Build the runtime and find its epoll descriptor.
    pub fn new() -> Result<Self> {
        let state = Arc::new(TickState::default());
        let hook_state = Arc::clone(&state);
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .on_thread_park(move || hook_state.parking())
            .build()
            .map_err(|e| Error::io(format!("cannot start a tokio runtime: {e}")))?;
        let fd = rt.block_on(async { epoll_of_runtime() })?;
        state.fd.store(fd, Ordering::Relaxed);
        let budget = {
            let _in = rt.enter();
            Mutex::new(Box::pin(tokio::time::sleep(TICK_BUDGET)))
        };
        Ok(TickedRuntime { rt: Some(rt), state, budget })
    }

    /// The descriptor to watch for readability.
    pub fn fd(&self) -> i32 {
        self.state.fd.load(Ordering::Relaxed)
    }

    /// Spawn tasks here with this handle.
    pub fn handle(&self) -> &Handle {
        self.rt().handle()
    }

    fn rt(&self) -> &Runtime {
        self.rt.as_ref().expect("the runtime lives until drop")
    }

    /// Run what is ready, poll I/O and timers without blocking; say what is left to do.
    pub fn tick(&self) -> TickOutcome {
        self.state.done.store(false, Ordering::Relaxed);
        self.state.more.store(false, Ordering::Relaxed);
        self.state.parks.store(0, Ordering::Relaxed);
        let mut budget = self.budget.lock().unwrap_or_else(|p| p.into_inner());
        budget.as_mut().reset(Instant::now() + TICK_BUDGET);
        self.rt().block_on(Tick { state: &self.state, budget: budget.as_mut(), drained: None });
        if self.state.more.load(Ordering::Relaxed) {
            TickOutcome::Again
        } else if self.handle().metrics().num_alive_tasks() == 0 {
            TickOutcome::Idle
        } else {
            TickOutcome::Wait
        }
    }
}

impl Drop for TickedRuntime {
    fn drop(&mut self) {
        // Sessions end with it; a blocking task (a Maildir write) is not waited for.
        if let Some(rt) = self.rt.take() {
            rt.shutdown_background();
        }
    }
}

impl TickState {
    /// tokio's `on_thread_park`: the run queue is empty. End the tick unless the epoll instance
    /// has events and the tick may go on; either way wake the tick's future, which makes this
    /// park a zero-timeout poll instead of a wait.
    fn parking(&self) {
        let Some(waker) = self.waker.lock().unwrap_or_else(|p| p.into_inner()).take() else {
            return;
        };
        let pending = readable(self.fd.load(Ordering::Relaxed));
        let parks = self.parks.fetch_add(1, Ordering::Relaxed) + 1;
        if !pending || parks >= PARKS_PER_TICK {
            self.more.store(pending, Ordering::Relaxed);
            self.done.store(true, Ordering::Relaxed);
        }
        waker.wake();
    }
}

/// The future one tick blocks on.
struct Tick<'a> {
    state: &'a TickState,
    budget: Pin<&'a mut Sleep>,
    /// When the round after the last park began (see `poll`).
    drained: Option<std::time::Instant>,
}

impl Future for Tick<'_> {
    type Output = ();

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        if self.state.done.load(Ordering::Relaxed) {
            // The deciding park polled the driver once more: a timer that fell due there (or an
            // event that came in the microseconds since `readable`) readied tasks the host
            // cannot see. One more round runs them — unless the tick stopped at a bound, when
            // `more` asks the host for another tick anyway. That round polls the driver again:
            // when it ran tasks (it took a while), what came in meanwhile may be waiting unseen,
            // so the next turn of the loop ticks again.
            if let Some(began) = self.drained {
                if began.elapsed() > QUICK_ROUND {
                    self.state.more.store(true, Ordering::Relaxed);
                }
                return Poll::Ready(());
            }
            if self.state.more.load(Ordering::Relaxed) {
                return Poll::Ready(());
            }
            self.drained = Some(std::time::Instant::now());
            cx.waker().wake_by_ref();
            return Poll::Pending;
        }
        if self.budget.as_mut().poll(cx).is_ready() {
            self.state.more.store(true, Ordering::Relaxed);
            return Poll::Ready(());
        }
        *self.state.waker.lock().unwrap_or_else(|p| p.into_inner()) = Some(cx.waker().clone());
        Poll::Pending
    }
}

/// The epoll descriptor of the runtime this runs on (inside its `block_on`): the `[eventpoll]`
/// descriptor of this process that watches a socket registered just now with the runtime. No
/// other epoll instance watches that fresh descriptor, whatever other threads open meanwhile;
/// tokio keeps a duplicate of its own (mio's registry), and either serves.
#[cfg(target_os = "linux")]
fn epoll_of_runtime() -> Result<i32> {
    use std::os::fd::AsRawFd;
    let (a, _b) = std::os::unix::net::UnixStream::pair().map_err(|e| Error::io(e.to_string()))?;
    a.set_nonblocking(true).map_err(|e| Error::io(e.to_string()))?;
    let a = tokio::net::UnixStream::from_std(a).map_err(|e| Error::io(e.to_string()))?;
    let watched = format!("tfd: {:>8} ", a.as_raw_fd());
    let dir = std::fs::read_dir("/proc/self/fd").map_err(|e| Error::io(format!("/proc/self/fd: {e}")))?;
    dir.filter_map(|e| e.ok())
        .filter(|e| std::fs::read_link(e.path()).is_ok_and(|t| t.as_os_str() == "anon_inode:[eventpoll]"))
        .filter_map(|e| e.file_name().to_str()?.parse::<i32>().ok())
        .find(|fd| {
            let info = std::fs::read_to_string(format!("/proc/self/fdinfo/{fd}")).unwrap_or_default();
            info.lines().any(|l| l.starts_with(&watched))
        })
        .ok_or_else(|| Error::io("cannot find the runtime's epoll descriptor"))
}

#[cfg(not(target_os = "linux"))]
fn epoll_of_runtime() -> Result<i32> {
    Err(Error::io("a host-driven runtime needs Linux's epoll"))
}

/// True when `fd` is readable now.
fn readable(fd: i32) -> bool {
    let mut p = libc::pollfd { fd, events: libc::POLLIN, revents: 0 };
    // SAFETY: one valid pollfd, zero timeout.
    let n = unsafe { libc::poll(&mut p, 1, 0) };
    n > 0 && p.revents & libc::POLLIN != 0
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A host loop in miniature: poll the descriptor with the timer period, tick.
    fn run_until(rt: &TickedRuntime, mut done: impl FnMut() -> bool) {
        for _ in 0..2_000 {
            if done() {
                return;
            }
            let mut p = libc::pollfd { fd: rt.fd(), events: libc::POLLIN, revents: 0 };
            // SAFETY: one valid pollfd.
            unsafe { libc::poll(&mut p, 1, TIMER_TICK.as_millis() as i32) };
            while rt.tick() == TickOutcome::Again {}
        }
        panic!("the host loop did not finish");
    }

    #[test]
    fn a_tick_never_waits_for_what_is_not_ready() {
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            let rt = TickedRuntime::new().unwrap();
            rt.handle().spawn(async { tokio::time::sleep(Duration::from_secs(3600)).await });
            let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
            listener.set_nonblocking(true).unwrap();
            rt.handle().spawn(async move {
                let l = tokio::net::TcpListener::from_std(listener).unwrap();
                let _ = l.accept().await;
            });
            // Both tasks wait (an hour's timer, a connection nobody makes): each tick returns.
            let outcomes: Vec<TickOutcome> = (0..3).map(|_| rt.tick()).collect();
            tx.send(outcomes).unwrap();
        });
        // A bound on a hang, not a measurement: a blocking tick would wait for an hour.
        let outcomes = rx.recv_timeout(Duration::from_secs(60)).expect("a tick blocked");
        assert_eq!(outcomes[2], TickOutcome::Wait, "two tasks wait, nothing is left to run: {outcomes:?}");
    }

    #[test]
    fn ticks_drive_io_timers_and_wakes_from_other_threads() {
        let rt = TickedRuntime::new().unwrap();
        let (tx, rx) = std::sync::mpsc::channel();
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        let tx2 = tx.clone();
        rt.handle().spawn(async move {
            use tokio::io::AsyncReadExt;
            let mut s = tokio::net::TcpStream::connect(addr).await.unwrap();
            let mut buf = String::new();
            s.read_to_string(&mut buf).await.unwrap();
            tx2.send(format!("read {buf}")).unwrap();
        });
        rt.handle().spawn(async move {
            tokio::time::sleep(Duration::from_millis(30)).await;
            tx.send("slept".to_string()).unwrap();
        });
        let writer = std::thread::spawn(move || {
            use std::io::Write;
            let (mut c, _) = listener.accept().unwrap();
            c.write_all(b"hello").unwrap();
        });
        let mut got = Vec::new();
        run_until(&rt, || {
            got.extend(rx.try_iter());
            got.len() == 2
        });
        writer.join().unwrap();
        got.sort();
        assert_eq!(got, ["read hello", "slept"]);
        // A task woken from another thread (a oneshot answered there) runs on the next ticks.
        let (otx, orx) = tokio::sync::oneshot::channel::<u32>();
        let (dtx, drx) = std::sync::mpsc::channel();
        rt.handle().spawn(async move { dtx.send(orx.await.unwrap() + 1).unwrap() });
        std::thread::spawn(move || otx.send(41).unwrap()).join().unwrap();
        let mut answer = None;
        run_until(&rt, || {
            answer = answer.or(drx.try_recv().ok());
            answer.is_some()
        });
        assert_eq!(answer, Some(42));
        // Every task has ended: the host may stop its timer.
        assert_eq!(rt.tick(), TickOutcome::Idle);
    }
}
