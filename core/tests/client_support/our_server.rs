//! Our own server (`postwire::server`) as a client-test peer, in-process on loopback on its own
//! runtime thread: its hooks record every message with the EHLO name the session gave, refuse
//! chosen recipients with chosen replies, and can hold the reply to the end of a message until
//! the test lets it go (to have a call in flight for as long as a test needs, without timing).

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use postwire::proto::RcptParams;
use postwire::server::{Envelope, HookFuture, Hooks, Server, ServerOptions, ServerTimeouts, SessionInfo};
use postwire::Reply;
use tokio::sync::{mpsc, Semaphore};

/// One message as the server's `on_message` hook saw it.
#[derive(Debug, Clone)]
pub struct Recorded {
    /// The EHLO/HELO name of the session.
    pub helo: Option<String>,
    /// The envelope.
    pub envelope: Envelope,
    /// The message with our Received line on top.
    pub data: Vec<u8>,
}

/// What the hooks do besides recording.
#[derive(Default)]
pub struct Script {
    /// Recipient (as the server prints it, `<a@b>` brackets stripped) → the refusal it gets.
    pub refuse: HashMap<String, Reply>,
    /// Hold every end of message until [`Running::release`].
    pub hold: bool,
}

struct Recorder {
    script: Script,
    stored: Arc<Mutex<Vec<Recorded>>>,
    arrived: mpsc::UnboundedSender<()>,
    release: Arc<Semaphore>,
}

impl Hooks for Recorder {
    fn on_rcpt_to(&self, _s: SessionInfo, address: String, _p: RcptParams) -> Option<HookFuture> {
        let bare = address.trim_start_matches('<').trim_end_matches('>').to_string();
        let reply = self.script.refuse.get(&bare).cloned()?;
        Some(Box::pin(async move { Ok(Some(reply)) }))
    }

    fn on_message(&self, s: SessionInfo, envelope: Envelope, data: Arc<Vec<u8>>) -> Option<HookFuture> {
        let rec = Recorded { helo: s.helo, envelope, data: data.to_vec() };
        self.stored.lock().unwrap_or_else(|p| p.into_inner()).push(rec);
        let _ = self.arrived.send(());
        if !self.script.hold {
            return None;
        }
        let release = Arc::clone(&self.release);
        Some(Box::pin(async move {
            // Bounded: a test that forgets to release fails its own wait, not this one.
            match tokio::time::timeout(Duration::from_secs(30), release.acquire()).await {
                Ok(Ok(permit)) => permit.forget(),
                _ => return Err("held too long".to_string()),
            }
            Ok(None)
        }))
    }
}

/// A running server; stopped when dropped.
pub struct Running {
    server: Arc<Server>,
    /// Its port.
    pub port: u16,
    stored: Arc<Mutex<Vec<Recorded>>>,
    arrived: tokio::sync::Mutex<mpsc::UnboundedReceiver<()>>,
    release: Arc<Semaphore>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Drop for Running {
    fn drop(&mut self) {
        self.release.add_permits(1000);
        self.server.stop();
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

impl Running {
    /// The messages stored so far.
    pub fn stored(&self) -> Vec<Recorded> {
        self.stored.lock().unwrap_or_else(|p| p.into_inner()).clone()
    }

    /// Wait (at most 10 s) until the next message reached `on_message`; false if none did.
    pub async fn arrived(&self) -> bool {
        let mut rx = self.arrived.lock().await;
        matches!(tokio::time::timeout(Duration::from_secs(10), rx.recv()).await, Ok(Some(())))
    }

    /// Let one held message be answered.
    pub fn release(&self) {
        self.release.add_permits(1);
    }
}

/// Start our server on 127.0.0.1 for `test.example` with `o`'s other settings and `script`.
pub fn start(o: ServerOptions, script: Script) -> Running {
    start_at("127.0.0.1:0", o, script)
}

/// [`start`] on `bind` (`"[::1]:0"` for IPv6).
pub fn start_at(bind: &str, mut o: ServerOptions, script: Script) -> Running {
    o.hostname = "mx.test.example".into();
    o.local_domains = vec!["test.example".into()];
    o.timeouts = ServerTimeouts::uniform(Duration::from_secs(20));
    let stored = Arc::new(Mutex::new(Vec::new()));
    let (tx, rx) = mpsc::unbounded_channel();
    let release = Arc::new(Semaphore::new(0));
    let hooks = Recorder { script, stored: Arc::clone(&stored), arrived: tx, release: Arc::clone(&release) };
    let server = Arc::new(Server::with_hooks(o, Arc::new(hooks)).expect("server"));
    let addr = server.listen(bind.parse().expect("addr")).expect("listen");
    let s = Arc::clone(&server);
    let thread = std::thread::spawn(move || {
        let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().expect("runtime");
        let _ = rt.block_on(s.serve());
    });
    Running {
        server,
        port: addr.port(),
        stored,
        arrived: tokio::sync::Mutex::new(rx),
        release,
        thread: Some(thread),
    }
}

/// The message without the server's Received header (first line and its folded continuations).
pub fn strip_received(data: &[u8]) -> Vec<u8> {
    let mut rest = data;
    assert!(rest.starts_with(b"Received:"), "{}", String::from_utf8_lossy(&data[..data.len().min(200)]));
    loop {
        let i = rest.windows(2).position(|w| w == b"\r\n").expect("CRLF") + 2;
        rest = &rest[i..];
        if !(rest.starts_with(b" ") || rest.starts_with(b"\t")) {
            return rest.to_vec();
        }
    }
}
