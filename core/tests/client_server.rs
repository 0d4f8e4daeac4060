//! The client against our own server (`postwire::server`) in-process on loopback: PIPELINING,
//! BDAT for a large message, STARTTLS with a test CA, AUTH, 452 past max recipients, SIZE, and
//! byte-exact comparison of what the server handed its `on_message` hook (minus its Received
//! line).

mod client_support;

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use client_support::{normalized, opts, pki};
use postwire::client::{Client, TlsMode};
use postwire::server::{
    Envelope, HookFuture, Hooks, Server, ServerOptions, ServerTimeouts, SessionInfo, StaticCredentials,
};
use postwire::ErrorKind;

type Stored = Arc<Mutex<Vec<(Envelope, Vec<u8>)>>>;

struct Capture(Stored);

impl Hooks for Capture {
    fn on_message(&self, _s: SessionInfo, envelope: Envelope, data: Arc<Vec<u8>>) -> Option<HookFuture> {
        self.0.lock().expect("lock").push((envelope, data.to_vec()));
        None
    }
}

/// A server on its own runtime thread, stopped when dropped.
struct Running {
    server: Arc<Server>,
    port: u16,
    stored: Stored,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Drop for Running {
    fn drop(&mut self) {
        self.server.stop();
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

fn start(mut o: ServerOptions) -> Running {
    o.hostname = "mx.test.example".into();
    o.local_domains = vec!["test.example".into()];
    o.timeouts = ServerTimeouts::uniform(Duration::from_secs(20));
    let stored: Stored = Arc::default();
    let server = Arc::new(Server::with_hooks(o, Arc::new(Capture(stored.clone()))).expect("server"));
    let addr = server.listen("127.0.0.1:0".parse().expect("addr")).expect("listen");
    let s = Arc::clone(&server);
    let thread = std::thread::spawn(move || {
        let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().expect("runtime");
        let _ = rt.block_on(s.serve());
    });
    Running { server, port: addr.port(), stored, thread: Some(thread) }
}

/// The message without the server's Received header (first line and its folded continuations).
fn strip_received(data: &[u8]) -> Vec<u8> {
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

fn rcpts(v: &[&str]) -> Vec<String> {
    v.iter().map(|s| s.to_string()).collect()
}

#[tokio::test]
async fn pipelined_and_chunked_byte_exact() {
    let srv = start(ServerOptions::default());
    let mut c = Client::connect(opts(srv.port)).await.expect("connect");
    assert!(c.capabilities().has("PIPELINING") && c.capabilities().has("CHUNKING"));
    let small = b"Subject: small\r\n\r\n.dot\nbare lf\r\n".to_vec();
    let r =
        c.send("a@example.org", &rcpts(&["b@test.example", "c@test.example"]), &small).await.expect("small");
    assert_eq!(r.accepted.len(), 2);
    assert!(c.transcript().iter().any(|l| l == "C: DATA"));
    let mut big = b"Subject: big\r\n\r\n".to_vec();
    for i in 0..4000 {
        big.extend_from_slice(format!(".line {i} of a message large enough for BDAT\n").as_bytes());
    }
    let r = c.send("a@example.org", &rcpts(&["b@test.example"]), &big).await.expect("big");
    assert_eq!(r.reply.code, 250);
    assert!(
        c.transcript().iter().any(|l| l.starts_with("C: BDAT") && l.ends_with("LAST")),
        "{:?}",
        c.transcript()
    );
    c.quit().await.expect("quit");
    let stored = srv.stored.lock().expect("lock").clone();
    assert_eq!(stored.len(), 2);
    assert_eq!(stored[0].0.rcpt_to, rcpts(&["b@test.example", "c@test.example"]));
    assert_eq!(strip_received(&stored[0].1), normalized(&small));
    assert_eq!(strip_received(&stored[1].1), normalized(&big));
}

#[tokio::test]
async fn recipients_past_max_get_452() {
    let srv = start(ServerOptions { max_recipients: 2, ..Default::default() });
    let mut c = Client::connect(opts(srv.port)).await.expect("connect");
    let r = c
        .send("a@example.org", &rcpts(&["r1@test.example", "r2@test.example", "r3@test.example"]), b"x\r\n")
        .await
        .expect("send");
    assert_eq!(r.accepted.len(), 2);
    assert_eq!(r.rejected.len(), 1);
    assert_eq!(r.rejected[0].reply.code, 452);
    // Relaying is refused (no relay networks): one refused among valid ones.
    let r = c
        .send("a@example.org", &rcpts(&["r1@test.example", "someone@elsewhere.example"]), b"x\r\n")
        .await
        .expect("send");
    assert_eq!(r.rejected.len(), 1);
    assert!(r.rejected[0].reply.is_permanent());
    c.quit().await.expect("quit");
}

#[tokio::test]
async fn size_starttls_and_auth() {
    let p = pki();
    let mut creds = HashMap::new();
    creds.insert("carol".to_string(), "hunter2".to_string());
    let srv = start(ServerOptions {
        max_message_size: 2000,
        tls_cert: Some(p.cert.clone()),
        tls_key: Some(p.key.clone()),
        auth: Some(Arc::new(StaticCredentials(creds))),
        ..Default::default()
    });
    let mut o = opts(srv.port);
    o.tls = TlsMode::StartTls;
    o.ca_file = Some(p.ca.clone());
    let mut c = Client::connect(o).await.expect("STARTTLS");
    assert!(c.is_tls());
    assert_eq!(c.capabilities().size(), Some(2000));
    c.login("carol", "hunter2", None).await.expect("login");
    let big = vec![b'x'; 3000];
    let e = c.send("a@example.org", &rcpts(&["b@test.example"]), &big).await.expect_err("SIZE");
    assert_eq!(e.kind(), ErrorKind::Rejected);
    let msg = b"Subject: tls\r\n\r\nhello\r\n";
    c.send("carol@example.org", &rcpts(&["b@test.example"]), msg).await.expect("send");
    c.quit().await.expect("quit");
    let stored = srv.stored.lock().expect("lock").clone();
    assert_eq!(stored.len(), 1);
    assert_eq!(strip_received(&stored[0].1), normalized(msg));
    let received = String::from_utf8_lossy(&stored[0].1[..200.min(stored[0].1.len())]).into_owned();
    assert!(received.contains("ESMTPSA"), "{received}");
}
