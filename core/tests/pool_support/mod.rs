//! Helpers of the pool, compose and send_mail tests: a recording tokio SMTP server that counts
//! connections (total, concurrent, peak) and can misbehave on cue (drop after MAIL, close after
//! the final dot without replying, close idle sessions), plus launchers for Postfix's smtp-sink
//! (with its session counter) and aiosmtpd (the project's peer script). Loopback only; every wait
//! is bounded.
#![allow(dead_code)]

use std::io::{BufRead, BufReader, Read};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{mpsc, Arc, Mutex};
use std::time::{Duration, Instant};

use postwire::client::{ClientOptions, ClientTimeouts, TlsMode};
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader as TokioBufReader};
use tokio::net::TcpListener;

/// The repository root.
pub fn repo_root() -> PathBuf {
    PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/.."))
}

/// Client options for a loopback peer: no TLS, 10 s timeouts, a fixed EHLO name.
pub fn opts(port: u16) -> ClientOptions {
    let mut o = ClientOptions::new("127.0.0.1", port);
    o.tls = TlsMode::None;
    o.hello_name = Some("pool.test".into());
    o.timeouts = ClientTimeouts::uniform(Duration::from_secs(10));
    o
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
}

/// How the recorder misbehaves.
#[derive(Debug, Clone, Default)]
pub struct Behavior {
    /// Wait this long before the reply to the final dot (lets concurrency build up).
    pub delay_final: Duration,
    /// The first N connections are closed right after MAIL is read, without a reply.
    pub drop_after_mail: usize,
    /// The first N connections read the whole message, then close without a reply.
    pub close_after_dot: usize,
    /// Close a session idle (no command) for this long, like a server's own idle timeout.
    pub close_idle_after: Option<Duration>,
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

// ---- external peers -----------------------------------------------------------------------

/// A peer process, killed (by its own pid) when dropped.
pub struct Peer {
    child: Child,
    /// Its port.
    pub port: u16,
    /// Scratch directory (dumps, stored messages).
    pub dir: tempfile::TempDir,
    /// smtp-sink only: its latest `sess=N quit=N mesg=N` counters.
    counters: Arc<Mutex<(u64, u64, u64)>>,
    baseline_sessions: u64,
}

impl Drop for Peer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Peer {
    /// smtp-sink: (sessions ended, QUITs, messages) since the start, not counting our probe.
    pub fn sink_counts(&self) -> (u64, u64, u64) {
        let (s, q, m) = *self.counters.lock().unwrap_or_else(|p| p.into_inner());
        (s.saturating_sub(self.baseline_sessions), q, m)
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("free port")
}

/// Postfix's smtp-sink with `-c` (session/QUIT/message counters on stdout) and `extra` flags.
pub fn smtp_sink(extra: &[&str]) -> Peer {
    let sink = Path::new("/usr/sbin/smtp-sink");
    assert!(sink.exists(), "Postfix smtp-sink is missing (/usr/sbin/smtp-sink) — run `make deps`");
    let dir = tempfile::tempdir().expect("tempdir");
    // SAFETY: geteuid has no preconditions.
    let is_root = unsafe { libc::geteuid() } == 0;
    for _attempt in 0..5 {
        let port = free_port();
        let mut cmd = Command::new(sink);
        if is_root {
            cmd.args(["-u", "nobody"]);
        }
        cmd.arg("-c").args(extra).arg(format!("127.0.0.1:{port}")).arg("100");
        cmd.stdin(Stdio::null()).stdout(Stdio::piped()).stderr(Stdio::inherit());
        let mut child = cmd.spawn().expect("start smtp-sink");
        let counters = Arc::new(Mutex::new((0u64, 0u64, 0u64)));
        let mut out = child.stdout.take().expect("piped stdout");
        let cc = counters.clone();
        std::thread::spawn(move || {
            // Lines are separated by CR; keep the last complete one.
            let mut buf = [0u8; 4096];
            let mut acc = Vec::new();
            loop {
                let k = match out.read(&mut buf) {
                    Ok(0) | Err(_) => break,
                    Ok(k) => k,
                };
                acc.extend_from_slice(&buf[..k]);
                while let Some(i) = acc.iter().position(|b| *b == b'\r' || *b == b'\n') {
                    let line: Vec<u8> = acc.drain(..=i).collect();
                    let line = String::from_utf8_lossy(&line);
                    let get = |key: &str| {
                        line.split_whitespace()
                            .find_map(|t| t.strip_prefix(key))
                            .and_then(|v| v.trim().parse::<u64>().ok())
                    };
                    if let (Some(s), Some(q), Some(m)) = (get("sess="), get("quit="), get("mesg=")) {
                        *cc.lock().unwrap_or_else(|p| p.into_inner()) = (s, q, m);
                    }
                }
            }
        });
        let deadline = Instant::now() + Duration::from_secs(10);
        while Instant::now() < deadline {
            if let Ok(Some(_)) = child.try_wait() {
                break;
            }
            if std::net::TcpStream::connect(("127.0.0.1", port)).is_ok() {
                // Our probe is one session: wait until it is counted, and subtract it.
                let probe_deadline = Instant::now() + Duration::from_secs(5);
                while counters.lock().map(|c| c.0).unwrap_or(0) < 1 && Instant::now() < probe_deadline {
                    std::thread::sleep(Duration::from_millis(10));
                }
                let baseline_sessions = counters.lock().map(|c| c.0).unwrap_or(0);
                return Peer { child, port, dir, counters, baseline_sessions };
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        let _ = child.kill();
        let _ = child.wait();
    }
    panic!("smtp-sink did not start");
}

/// The project's Python (`.venv/bin/python`) with aiosmtpd importable.
pub fn python() -> PathBuf {
    let py = repo_root().join(".venv/bin/python");
    let ok = Command::new(&py)
        .args(["-c", "import aiosmtpd"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .map(|s| s.success())
        .unwrap_or(false);
    assert!(ok, "aiosmtpd is not installed in {} — run `make deps`", py.display());
    py
}

/// aiosmtpd (`tests/peers/python/aiosmtpd_peer.py`) storing messages as `NNNN.eml` + `NNNN.json`
/// in `peer.dir`.
pub fn aiosmtpd(args: &[&str]) -> Peer {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut cmd = Command::new(python());
    cmd.arg(repo_root().join("tests/peers/python/aiosmtpd_peer.py"))
        .arg("--dir")
        .arg(dir.path())
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit());
    let mut child = cmd.spawn().unwrap_or_else(|e| panic!("cannot start aiosmtpd: {e} — run `make deps`"));
    let stdout = child.stdout.take().expect("piped stdout");
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        let mut line = String::new();
        let _ = BufReader::new(stdout).read_line(&mut line);
        let _ = tx.send(line);
    });
    let line = rx.recv_timeout(Duration::from_secs(30)).unwrap_or_default();
    let port = line
        .trim()
        .strip_prefix("READY ")
        .and_then(|p| p.parse().ok())
        .unwrap_or_else(|| panic!("aiosmtpd did not start (got {line:?}) — run `make deps`"));
    Peer { child, port, dir, counters: Arc::new(Mutex::new((0, 0, 0))), baseline_sessions: 0 }
}

/// Wait (up to 20 s) until `dir` holds `n` files ending in `ext`; return them sorted.
pub fn wait_for_files(dir: &Path, ext: &str, n: usize) -> Vec<PathBuf> {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let mut v: Vec<PathBuf> = std::fs::read_dir(dir)
            .map(|rd| rd.filter_map(|e| e.ok().map(|e| e.path())).collect())
            .unwrap_or_default();
        v.retain(|p| p.extension().is_some_and(|e| e == ext));
        v.sort();
        if v.len() >= n || Instant::now() > deadline {
            return v;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}
