//! The process's one multi-thread tokio runtime for every binding (servers, async clients,
//! `send_mail`), rebuilt in a child process after `fork()`, and the builder of the private
//! current-thread runtimes that blocking clients use.
//!
//! Why a pid check: after `fork()` the child has the parent's runtime object but none of its
//! worker threads, so a task spawned there would never run (Python's `multiprocessing` forks by
//! default on Linux; a C program may fork too). The first use in a new process builds a fresh
//! runtime and leaks the inherited one: dropping it would wait for threads that do not exist in
//! this process.
//!
//! Why a blocking client gets its own current-thread runtime ([`local`]): its socket is then
//! driven on the calling thread inside `block_on`, with no hand-off to a worker thread and back
//! for every reply — the round trips of one SMTP session are the whole cost of a send.
//!
//! Why one worker fewer than there are cores ([`worker_threads`]): in a host process the host's
//! own thread — the JS thread, Python's event loop or the thread holding the GIL — runs every
//! hook, so it needs a core of its own. With as many workers as cores, the workers and the host
//! thread take turns on the cores: each hook call then costs extra wake-ups and context switches
//! (tokio also unparks an idle worker to steal work that one worker would have done). Measured
//! on 2 cores, `aio.Server` with an `async def` hook under `smtp-source -s 10`, 10,000 messages,
//! three runs each: 1 worker 3,661 / 3,694 / 4,477 msg/s at 210–245 µs CPU and 2.0–2.1 context
//! switches per message; 2 workers 2,642 / 3,026 / 3,254 msg/s at 265–306 µs and 3.9–4.4.
//! The C server with its hooks inline (`hooks_inline`, no host thread involved) gains too on 2
//! cores: `-s 10 -d` 15,029–16,341 msg/s with 1 worker against 12,448–12,795 with 2.
//! `TOKIO_WORKER_THREADS` still sets the number.

use std::future::Future;
use std::sync::{Arc, Mutex};

use tokio::runtime::Runtime;

use crate::error::{Error, Result};

static SHARED: Mutex<Option<(u32, Arc<Runtime>)>> = Mutex::new(None);

/// The shared multi-thread runtime of this process (built on first use, again after `fork()`).
pub fn shared() -> Result<Arc<Runtime>> {
    let pid = std::process::id();
    let mut g = SHARED.lock().unwrap_or_else(|p| p.into_inner());
    if let Some((p, rt)) = g.as_ref() {
        if *p == pid {
            return Ok(Arc::clone(rt));
        }
    }
    if let Some((_, inherited)) = g.take() {
        // Forked child: the inherited runtime's threads are gone; never drop it.
        std::mem::forget(inherited);
    }
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(worker_threads())
        .thread_name("postwire-rt")
        .enable_all()
        .build()
        .map_err(|e| Error::io(format!("cannot start the tokio runtime: {e}")))?;
    let rt = Arc::new(rt);
    *g = Some((pid, Arc::clone(&rt)));
    Ok(rt)
}

/// Start `queue`'s background runner on the shared runtime (a host thread calls this; the
/// runner's task needs a runtime to live on, and the host's is this one).
pub fn start_queue(queue: &crate::queue::Queue) -> Result<()> {
    let rt = shared()?;
    let _entered = rt.enter();
    queue.start();
    Ok(())
}

/// Workers of the shared runtime: `TOKIO_WORKER_THREADS` when set to a number above 0, else one
/// fewer than the cores this process may use, at least one (see the module doc).
pub fn worker_threads() -> usize {
    let from_env = std::env::var("TOKIO_WORKER_THREADS").ok().and_then(|v| v.trim().parse::<usize>().ok());
    match from_env {
        Some(n) if n > 0 => n,
        _ => std::thread::available_parallelism().map_or(1, |n| n.get().saturating_sub(1).max(1)),
    }
}

/// A private current-thread runtime (one per blocking client).
pub fn local() -> Result<Runtime> {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| Error::io(format!("cannot start a tokio runtime: {e}")))
}

/// Run `fut` to completion on the shared runtime, blocking the calling thread (a host thread,
/// never a runtime worker). A binding releases its host lock around this call.
pub fn block_on<F: Future>(fut: F) -> Result<F::Output> {
    Ok(shared()?.block_on(fut))
}

#[cfg(test)]
mod tests {
    #[test]
    fn shared_runtime_is_reused_within_a_process() {
        let a = super::shared().unwrap();
        let b = super::shared().unwrap();
        assert!(std::sync::Arc::ptr_eq(&a, &b));
        assert_eq!(super::block_on(async { 6 * 7 }).unwrap(), 42);
    }

    #[test]
    fn one_core_is_left_to_the_host_thread() {
        if std::env::var_os("TOKIO_WORKER_THREADS").is_some() {
            return;
        }
        let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
        let workers = super::shared().unwrap().metrics().num_workers();
        assert!(workers >= 1);
        if cores >= 2 {
            assert!(workers < cores, "{workers} workers on {cores} cores leave none to the host thread");
        }
    }
}
