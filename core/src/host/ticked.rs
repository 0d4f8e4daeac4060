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
//! `onMessage`): see docs/node.md.
//!
//! How, with what tokio offers (it has no API to step its scheduler from another loop):
//! - the descriptor is the runtime's epoll instance, found as the one `[eventpoll]` descriptor
//!   that building the runtime opened (Linux only; elsewhere, and if that is ambiguous,
//!   [`TickedRuntime::new`] fails and the host keeps the shared runtime). It is readable when the
//!   runtime has I/O events or was woken from another thread (its waker is registered in it);
//! - a tick is one `block_on` of a future that ends when the scheduler is about to park with no
//!   task ready (tokio's `on_thread_park` hook) and the epoll instance has nothing pending — or
//!   after [`PARKS_PER_TICK`] park points, so that the host's loop (and its hooks) get their
//!   turn under load. Waking that future from the hook turns the park into a zero-timeout poll
//!   (tokio 1.54 `park`, tokio-rs/tokio#8212), so a tick never blocks;
//! - timers have no descriptor: the host ticks every [`TIMER_TICK`] as well, so a timeout fires
//!   at most that late.

use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll, Waker};
use std::time::Duration;

use tokio::runtime::{Handle, Runtime};

use crate::error::{Error, Result};

/// How often the host ticks with nothing readable, for the runtime's timers.
pub const TIMER_TICK: Duration = Duration::from_millis(10);

/// Park points (the run queue drained) one tick goes through at most before it hands the thread
/// back to the host's loop.
pub const PARKS_PER_TICK: u32 = 4;

/// What the park hook and the tick future share.
#[derive(Default)]
struct TickState {
    /// The waker of the running tick's future; taken by the park hook.
    waker: Mutex<Option<Waker>>,
    /// Set by the park hook: the tick may end.
    done: AtomicBool,
    /// Set by the park hook: the epoll instance had events when the tick ended.
    more: AtomicBool,
    /// Park points seen in the running tick.
    parks: AtomicU32,
    /// The runtime's epoll descriptor.
    fd: std::sync::atomic::AtomicI32,
}

/// A current-thread runtime stepped by the host (see the module doc).
pub struct TickedRuntime {
    rt: Option<Runtime>,
    state: Arc<TickState>,
    fd: i32,
}

impl TickedRuntime {
    /// Build the runtime and find its epoll descriptor.
    pub fn new() -> Result<Self> {
        let state = Arc::new(TickState::default());
        let hook_state = Arc::clone(&state);
        let before = epoll_fds()?;
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .on_thread_park(move || hook_state.parking())
            .build()
            .map_err(|e| Error::io(format!("cannot start a tokio runtime: {e}")))?;
        let mut new: Vec<(String, i32)> = epoll_fds()?
            .into_iter()
            .filter(|fd| !before.contains(fd))
            .map(|fd| (registrations(fd), fd))
            .collect();
        // tokio keeps a duplicate of its epoll descriptor (mio's registry): the same instance,
        // with the same registrations.
        new.sort();
        new.dedup_by(|a, b| a.0 == b.0);
        let [(_, fd)] = new[..] else {
            return Err(Error::io(format!(
                "cannot tell the runtime's epoll descriptor ({} new ones appeared)",
                new.len()
            )));
        };
        state.fd.store(fd, Ordering::Relaxed);
        Ok(TickedRuntime { rt: Some(rt), state, fd })
    }

    /// The descriptor to watch for readability.
    pub fn fd(&self) -> i32 {
        self.fd
    }

    /// Spawn tasks here with this handle.
    pub fn handle(&self) -> &Handle {
        self.rt().handle()
    }

    fn rt(&self) -> &Runtime {
        self.rt.as_ref().expect("the runtime lives until drop")
    }

    /// Run what is ready, poll I/O and timers without blocking; `true` when work is left
    /// (tick again soon, without waiting for the descriptor).
    pub fn tick(&self) -> bool {
        self.state.done.store(false, Ordering::Relaxed);
        self.state.more.store(false, Ordering::Relaxed);
        self.state.parks.store(0, Ordering::Relaxed);
        self.rt().block_on(Tick { state: &self.state });
        self.state.more.load(Ordering::Relaxed)
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
}

impl Future for Tick<'_> {
    type Output = ();

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        if self.state.done.load(Ordering::Relaxed) {
            return Poll::Ready(());
        }
        *self.state.waker.lock().unwrap_or_else(|p| p.into_inner()) = Some(cx.waker().clone());
        Poll::Pending
    }
}

/// True when `fd` is readable now.
fn readable(fd: i32) -> bool {
    let mut p = libc::pollfd { fd, events: libc::POLLIN, revents: 0 };
    // SAFETY: one valid pollfd, zero timeout.
    let n = unsafe { libc::poll(&mut p, 1, 0) };
    n > 0 && p.revents & libc::POLLIN != 0
}

/// The open epoll descriptors of this process.
#[cfg(target_os = "linux")]
fn epoll_fds() -> Result<Vec<i32>> {
    let dir = std::fs::read_dir("/proc/self/fd").map_err(|e| Error::io(format!("/proc/self/fd: {e}")))?;
    Ok(dir
        .filter_map(|e| e.ok())
        .filter(|e| std::fs::read_link(e.path()).is_ok_and(|t| t.as_os_str() == "anon_inode:[eventpoll]"))
        .filter_map(|e| e.file_name().to_str()?.parse().ok())
        .collect())
}

/// What an epoll descriptor watches (its `tfd:` lines), to tell duplicates of one instance.
#[cfg(target_os = "linux")]
fn registrations(fd: i32) -> String {
    let info = std::fs::read_to_string(format!("/proc/self/fdinfo/{fd}")).unwrap_or_default();
    info.lines().filter(|l| l.starts_with("tfd:")).collect::<Vec<_>>().join("\n")
}

#[cfg(not(target_os = "linux"))]
fn registrations(_fd: i32) -> String {
    String::new()
}

#[cfg(not(target_os = "linux"))]
fn epoll_fds() -> Result<Vec<i32>> {
    Err(Error::io("a host-driven runtime needs Linux's epoll"))
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
            while rt.tick() {}
        }
        panic!("the host loop did not finish");
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
    }
}
