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
}
