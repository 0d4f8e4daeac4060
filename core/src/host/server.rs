//! [`Server::start`]: serve in the background on the shared runtime, with a [`ServerHandle`] a
//! binding keeps — stop, force_stop, stats, addresses, running, wait — callable from any host
//! thread without a runtime of its own.

use std::net::SocketAddr;
use std::sync::Arc;

use tokio::sync::watch;

use super::runtime;
use crate::error::{Error, Result};

/// Why a host refuses to wait for a server from one of that server's own hooks.
const WAIT_FROM_HOOK: &str = "stopping the server and waiting for it from one of its own hooks would \
     wait for that hook forever: stop it from another thread";

/// `invalid_input` on a thread where a blocking stop would wait for itself: a thread of the
/// server's hook `dispatch` (its hook thread, a worker) or a runtime thread (an inline hook).
/// A host checks this before it stops anything.
pub fn check_may_wait(dispatch: &super::HookDispatch) -> Result<()> {
    if dispatch.is_host_thread() || tokio::runtime::Handle::try_current().is_ok() {
        return Err(Error::invalid_input(WAIT_FROM_HOOK));
    }
    Ok(())
}
use crate::server::{Server, ServerStats};

/// What a started server keeps of its serving task: its outcome, `None` while serving.
pub(crate) type Serving = watch::Receiver<Option<Result<()>>>;

/// A started server. Cheap to clone; every method may be called from any thread.
#[derive(Clone)]
pub struct ServerHandle {
    server: Arc<Server>,
    done: Serving,
}

impl Server {
    /// Serve every bound address in the background on the shared runtime
    /// ([`runtime::shared`]) until [`ServerHandle::stop`]. Needs `listen()` first. A server is
    /// started once: a later call while it serves starts nothing and returns the handle of that
    /// first start; a call after `stop()` (begun or ended, started or not) is `invalid_input` —
    /// a stopped server never serves again, a new one must be built. The server keeps the handle
    /// ([`handle`](Self::handle)), so a host need not.
    pub fn start(self: &Arc<Self>) -> Result<ServerHandle> {
        self.start_on(runtime::shared()?.handle())
    }

    /// [`start`](Self::start) on the runtime of `rt` instead of the shared one (a
    /// [`TickedRuntime`](super::ticked::TickedRuntime) the host steps).
    pub fn start_on(self: &Arc<Self>, rt: &tokio::runtime::Handle) -> Result<ServerHandle> {
        let mut started = crate::server::lock(&self.started);
        self.startable_with(&started)?;
        if let Some(done) = &*started {
            return Ok(ServerHandle { server: Arc::clone(self), done: done.clone() });
        }
        let (tx, done) = watch::channel(None);
        let server = Arc::clone(self);
        rt.spawn(async move {
            let r = server.serve().await;
            tx.send_replace(Some(r));
        });
        *started = Some(done.clone());
        Ok(ServerHandle { server: Arc::clone(self), done })
    }

    /// What [`start`](Self::start) would do now, without doing it: `Ok(true)` — begin serving;
    /// `Ok(false)` — nothing, it serves already; or its error (stopped, or no `listen()` yet).
    /// For a host that must set something up before the first start only.
    pub fn startable(&self) -> Result<bool> {
        self.startable_with(&crate::server::lock(&self.started))
    }

    /// [`startable`](Self::startable) with the `started` lock held by the caller.
    fn startable_with(&self, started: &Option<Serving>) -> Result<bool> {
        if self.is_stopping() {
            return Err(Error::invalid_input(crate::server::STOPPED));
        }
        if started.is_some() {
            return Ok(false);
        }
        if self.local_addrs().is_empty() {
            return Err(Error::invalid_input("call listen(host, port) before start()"));
        }
        Ok(true)
    }

    /// The handle of [`start`](Self::start); `None` before the first start.
    pub fn handle(self: &Arc<Self>) -> Option<ServerHandle> {
        let done = crate::server::lock(&self.started).clone()?;
        Some(ServerHandle { server: Arc::clone(self), done })
    }

    /// True from [`start`](Self::start) until the server stopped serving (the end of a stop).
    pub fn running(&self) -> bool {
        crate::server::lock(&self.started).as_ref().is_some_and(|done| done.borrow().is_none())
    }
}

impl ServerHandle {
    /// Begin a graceful stop (see [`Server::stop`]); returns at once. [`wait`](Self::wait) for
    /// the end.
    pub fn stop(&self) {
        self.server.stop();
    }

    /// Close every session now, even mid-message (`421`).
    pub fn force_stop(&self) {
        self.server.force_stop();
    }

    /// The counters now.
    pub fn stats(&self) -> ServerStats {
        self.server.stats()
    }

    /// The bound addresses.
    pub fn addresses(&self) -> Vec<SocketAddr> {
        self.server.local_addrs()
    }

    /// True until the server has stopped serving.
    pub fn running(&self) -> bool {
        self.done.borrow().is_none()
    }

    /// The server behind the handle.
    pub fn server(&self) -> &Arc<Server> {
        &self.server
    }

    /// Wait until the server stopped serving (after `stop()`); the outcome of serving. Blocks the
    /// calling thread: call it from a host thread (with the host's lock released). On a runtime
    /// thread — a hook run inline, as C's `hooks_inline` does — it is `invalid_input`: the
    /// sessions it waits for need that thread, and with one worker nothing else would run them.
    pub fn wait(&self) -> Result<()> {
        if tokio::runtime::Handle::try_current().is_ok() {
            return Err(Error::invalid_input(WAIT_FROM_HOOK));
        }
        futures::executor::block_on(self.stopped())
    }

    /// [`wait`](Self::wait) as a future, for hosts that await (Node).
    pub async fn stopped(&self) -> Result<()> {
        let mut rx = self.done.clone();
        let r = match rx.wait_for(Option::is_some).await {
            Ok(v) => v.clone().unwrap_or(Ok(())),
            // The serving task was dropped without an outcome (its runtime went away).
            Err(_) => Err(Error::io("the server task ended without an outcome")),
        };
        r
    }

    /// `stop()` then `wait()`.
    pub fn stop_and_wait(&self) -> Result<()> {
        self.stop();
        self.wait()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::server::ServerOptions;

    #[test]
    fn start_stop_wait() {
        let opts = ServerOptions { hostname: "mx.example.test".into(), ..Default::default() };
        let server = Arc::new(Server::new(opts).unwrap());
        assert!(server.start().is_err(), "listen() first");
        assert!(server.handle().is_none() && !server.running(), "a failed start keeps nothing");
        server.listen("127.0.0.1:0".parse().unwrap()).unwrap();
        let h = server.start().unwrap();
        assert!(h.running() && server.running());
        assert_eq!(h.addresses().len(), 1);
        let c = std::net::TcpStream::connect(h.addresses()[0]).unwrap();
        let mut line = String::new();
        std::io::BufRead::read_line(&mut std::io::BufReader::new(&c), &mut line).unwrap();
        assert!(line.starts_with("220 "), "{line}");
        drop(c);
        h.stop_and_wait().unwrap();
        assert!(!h.running() && !server.running());
        assert_eq!(h.stats().connections, 1);
        let e = server.start().err().expect("a start after the stop is an error");
        assert_eq!(e.kind(), crate::ErrorKind::InvalidInput);
        assert!(!server.running(), "stopped servers do not restart");
        assert!(std::net::TcpStream::connect(h.addresses()[0]).is_err(), "nobody listens any more");
    }

    #[test]
    fn stopped_before_start() {
        let server = Arc::new(Server::new(ServerOptions::default()).unwrap());
        server.listen("127.0.0.1:0".parse().unwrap()).unwrap();
        server.stop();
        assert!(server.start().is_err(), "a server stopped before its start never serves");
        assert!(server.handle().is_none() && !server.running());
    }
}
