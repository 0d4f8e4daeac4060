//! Helpers of the pool, compose and send_mail tests: a recording tokio SMTP server that counts
//! connections (total, concurrent, peak) and can misbehave on cue (drop after MAIL, close after
//! the final dot without replying, close idle sessions). The real peers (Postfix's smtp-sink with
//! its session counter, aiosmtpd) come from `peer_support` and are re-exported here. Loopback
//! only; every wait is bounded.
#![allow(dead_code)]

#[path = "../peer_support/mod.rs"]
mod peer_support;

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use postwire::client::ClientOptions;
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader as TokioBufReader};
use tokio::net::TcpListener;

// Each test file uses some of these, none uses all.
#[allow(unused_imports)]
pub use peer_support::{aiosmtpd, normalized, python, repo_root, smtp_sink, wait_for_files, Peer};

/// Client options for a loopback peer: no TLS, 10 s timeouts, EHLO `pool.test`.
pub fn opts(port: u16) -> ClientOptions {
    peer_support::opts_as(port, "pool.test")
}

/// Poll `f` every 10 ms until it holds or `secs` pass; returns its last value.
pub async fn wait_until(secs: u64, mut f: impl FnMut() -> bool) -> bool {
    let deadline = Instant::now() + Duration::from_secs(secs);
    while Instant::now() < deadline {
        if f() {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    f()
}

/// A 1 KiB-ish test message numbered `n`.
pub fn message(n: usize) -> Vec<u8> {
    let mut m = format!("From: a@example.org\r\nTo: b@example.net\r\nSubject: test {n}\r\n\r\n").into_bytes();
    for i in 0..12 {
        m.extend_from_slice(
            format!("line {i} of message {n}: the quick brown fox jumps over\r\n").as_bytes(),
        );
    }
    m
}

// ---- recording server ---------------------------------------------------------------------

/// Connection counters, shareable between several recorders (to check a global cap).
#[derive(Debug, Default)]
pub struct Counters {
    /// Connections accepted.
    pub total: AtomicUsize,
    /// Connections open now (decremented before the 221 to QUIT is written).
    pub current: AtomicUsize,
    /// The most connections open at once.
    pub peak: AtomicUsize,
    /// QUIT commands received.
    pub quits: AtomicUsize,
    /// Connections ended (QUIT, EOF, or dropped by us).
    pub ended: AtomicUsize,
    /// `421` idle-timeout replies sent (`Behavior::idle_421`).
    pub idle_421s: AtomicUsize,
    /// A `hold_final_until_peak` wait ran out: later ones do not wait (a failing test fails in
    /// 10 s, not 10 s per message).
    pub hold_gave_up: AtomicBool,
}

/// How the recorder misbehaves.
#[derive(Debug, Clone, Default)]
pub struct Behavior {
    /// Wait this long before the reply to the final dot (lets concurrency build up).
    pub delay_final: Duration,
    /// Hold the reply to the final dot until this many connections have been open at once
    /// (`Counters::peak`), at most 10 s: a client that can reach that concurrency always does,
    /// one that cannot (a pool serialising its sends) shows a lower peak — no timing involved.
    pub hold_final_until_peak: usize,
    /// The first N connections are closed right after MAIL is read, without a reply.
    pub drop_after_mail: usize,
    /// The first N connections read the whole message, then close without a reply.
    pub close_after_dot: usize,
    /// Close a session idle (no command) for this long, like a server's own idle timeout.
    pub close_idle_after: Option<Duration>,
    /// With `close_idle_after`: say `421 4.4.2 … idle timeout` first, half-close, and read (and
    /// ignore) whatever the client still sends until it closes, as RFC 5321 §3.8 servers do.
    pub idle_421: bool,
    /// Advertise PIPELINING (default false here; set true for the pipelined path).
    pub pipelining: bool,
}

/// A recording SMTP server on 127.0.0.1.
pub struct Recorder {
    /// Its port.
    pub port: u16,
    /// Connection counters.
    pub counters: Arc<Counters>,
    /// Messages received completely (whatever was replied), in arrival order.
    pub messages: Arc<Mutex<Vec<Vec<u8>>>>,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for Recorder {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl Recorder {
    /// Start with fresh counters.
    pub async fn start(b: Behavior) -> Recorder {
        Recorder::start_with(b, Arc::new(Counters::default())).await
    }

    /// Start with `counters` shared with other recorders.
    pub async fn start_with(b: Behavior, counters: Arc<Counters>) -> Recorder {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let port = listener.local_addr().expect("addr").port();
        let messages = Arc::new(Mutex::new(Vec::new()));
        let (c, m) = (counters.clone(), messages.clone());
        let task = tokio::spawn(async move {
            let conn_no = Arc::new(AtomicUsize::new(0));
            // Bounded: tests make at most a few hundred connections; the task is aborted on drop.
            for _ in 0..10_000 {
                let Ok((sock, _)) = listener.accept().await else { break };
                let n = conn_no.fetch_add(1, Ordering::SeqCst);
                c.total.fetch_add(1, Ordering::SeqCst);
                let cur = c.current.fetch_add(1, Ordering::SeqCst) + 1;
                c.peak.fetch_max(cur, Ordering::SeqCst);
                let (c, m, b) = (c.clone(), m.clone(), b.clone());
                tokio::spawn(async move {
                    let mut counted_down = false;
                    let _ = session(sock, n, &b, &c, &m, &mut counted_down).await;
                    if !counted_down {
                        c.current.fetch_sub(1, Ordering::SeqCst);
                    }
                    c.ended.fetch_add(1, Ordering::SeqCst);
                });
            }
        });
        Recorder { port, counters, messages, task }
    }

    /// Messages received so far.
    pub fn message_count(&self) -> usize {
        self.messages.lock().map(|m| m.len()).unwrap_or(0)
    }
}

async fn session(
    sock: tokio::net::TcpStream,
    n: usize,
    b: &Behavior,
    c: &Counters,
    m: &Mutex<Vec<Vec<u8>>>,
    counted_down: &mut bool,
) -> std::io::Result<()> {
    let (r, mut w) = sock.into_split();
    let mut r = TokioBufReader::new(r);
    w.write_all(b"220 rec.test ESMTP recorder\r\n").await?;
    let idle = b.close_idle_after.unwrap_or(Duration::from_secs(30));
    let mut queued = 0usize;
    // Bounded: at most 100k commands per connection.
    for _ in 0..100_000 {
        let mut line = Vec::new();
        match tokio::time::timeout(idle, r.read_until(b'\n', &mut line)).await {
            Err(_) if b.idle_421 => {
                w.write_all(b"421 4.4.2 rec.test idle timeout\r\n").await?;
                c.idle_421s.fetch_add(1, Ordering::SeqCst);
                w.shutdown().await?;
                let mut sink = Vec::new();
                let _ = tokio::time::timeout(Duration::from_secs(10), r.read_to_end(&mut sink)).await;
                return Ok(());
            }
            Err(_) | Ok(Ok(0)) | Ok(Err(_)) => return Ok(()),
            Ok(Ok(_)) => {}
        }
        let upper = String::from_utf8_lossy(&line).to_ascii_uppercase();
        let verb = upper.split_whitespace().next().unwrap_or("").to_string();
        match verb.as_str() {
            "EHLO" => {
                let caps = if b.pipelining {
                    "250-rec.test\r\n250-PIPELINING\r\n250 8BITMIME\r\n"
                } else {
                    "250-rec.test\r\n250 8BITMIME\r\n"
                };
                w.write_all(caps.as_bytes()).await?;
            }
            "HELO" | "RSET" | "NOOP" | "RCPT" => w.write_all(b"250 2.0.0 Ok\r\n").await?,
            "MAIL" => {
                if n < b.drop_after_mail {
                    c.current.fetch_sub(1, Ordering::SeqCst);
                    *counted_down = true;
                    return Ok(());
                }
                w.write_all(b"250 2.1.0 Ok\r\n").await?;
            }
            "DATA" => {
                w.write_all(b"354 End data with <CR><LF>.<CR><LF>\r\n").await?;
                let mut msg = Vec::new();
                loop {
                    let mut l = Vec::new();
                    let k = tokio::time::timeout(Duration::from_secs(30), r.read_until(b'\n', &mut l)).await;
                    match k {
                        Ok(Ok(k)) if k > 0 => {}
                        _ => return Ok(()),
                    }
                    if l == b".\r\n" {
                        break;
                    }
                    let l = if l.starts_with(b"..") { l[1..].to_vec() } else { l };
                    msg.extend_from_slice(&l);
                    if msg.len() > 16 * 1024 * 1024 {
                        return Ok(());
                    }
                }
                if let Ok(mut v) = m.lock() {
                    v.push(msg);
                }
                if n < b.close_after_dot {
                    c.current.fetch_sub(1, Ordering::SeqCst);
                    *counted_down = true;
                    return Ok(());
                }
                if !b.delay_final.is_zero() {
                    tokio::time::sleep(b.delay_final).await;
                }
                // Bounded: 1000 × 10 ms, once for the whole server.
                let mut waited = 0;
                while c.peak.load(Ordering::SeqCst) < b.hold_final_until_peak
                    && !c.hold_gave_up.load(Ordering::SeqCst)
                {
                    if waited == 1000 {
                        c.hold_gave_up.store(true, Ordering::SeqCst);
                        break;
                    }
                    tokio::time::sleep(Duration::from_millis(10)).await;
                    waited += 1;
                }
                queued += 1;
                w.write_all(format!("250 2.0.0 Ok: queued as R{n}x{queued}\r\n").as_bytes()).await?;
            }
            "QUIT" => {
                c.quits.fetch_add(1, Ordering::SeqCst);
                c.current.fetch_sub(1, Ordering::SeqCst);
                *counted_down = true;
                w.write_all(b"221 2.0.0 Bye\r\n").await?;
                return Ok(());
            }
            _ => w.write_all(b"502 5.5.2 Error: command not recognized\r\n").await?,
        }
    }
    Ok(())
}
