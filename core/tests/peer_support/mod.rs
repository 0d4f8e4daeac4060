//! The real peers the integration tests talk to, started on loopback: aiosmtpd (the project's
//! `tests/peers/python/aiosmtpd_peer.py`), Node's smtp-server (`tests/peers/node`) and Postfix's
//! smtp-sink (dumping every message and counting sessions). It owns the one `Peer` handle (a
//! child process killed on drop), locating the repository and the project's Python, waiting for
//! stored messages, free ports, loopback client options, and what a conforming peer stores for
//! a message. `client_support`, `pool_support` and `server_support` include it and re-export
//! what their tests use, so there is one copy of each launcher. A missing peer fails the test
//! with "run `make deps`"; every wait is bounded.
#![allow(dead_code)]

use std::io::{BufRead, BufReader, Read};
use std::net::TcpListener as StdListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{mpsc, Arc, Mutex};
use std::time::{Duration, Instant};

use postwire::client::{ClientOptions, ClientTimeouts, TlsMode};
use tempfile::TempDir;

/// The repository root.
pub fn repo_root() -> PathBuf {
    PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/.."))
}

/// Client options for a loopback test peer: no TLS, 10 s timeouts, `hello` as the EHLO name.
pub fn opts_as(port: u16, hello: &str) -> ClientOptions {
    let mut o = ClientOptions::new("127.0.0.1", port);
    o.tls = TlsMode::None;
    o.hello_name = Some(hello.into());
    o.timeouts = ClientTimeouts::uniform(Duration::from_secs(10));
    o
}

/// What a conforming server stores for `message`: bare CR / bare LF as CRLF, NUL bytes dropped
/// (the client's encoder drops them), a final CRLF (an empty message is one empty line).
pub fn normalized(message: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(message.len() + 2);
    let mut i = 0;
    while i < message.len() {
        match message[i] {
            b'\r' => {
                out.extend_from_slice(b"\r\n");
                if message.get(i + 1) == Some(&b'\n') {
                    i += 1;
                }
            }
            b'\n' => out.extend_from_slice(b"\r\n"),
            0 => {}
            b => out.push(b),
        }
        i += 1;
    }
    if !out.ends_with(b"\r\n") {
        out.extend_from_slice(b"\r\n");
    }
    out
}

/// smtp-sink's latest `sess=N quit=N mesg=N` counters, updated by a reader thread.
type SinkCounters = Arc<Mutex<(u64, u64, u64)>>;

/// A peer process, killed (by its own pid) when dropped.
pub struct Peer {
    child: Child,
    /// The port it listens on.
    pub port: u16,
    /// Where it writes what it received (stored messages, smtp-sink dumps).
    pub dir: TempDir,
    /// smtp-sink only: its counters, and the sessions counted before the test (our probe).
    counters: Option<(SinkCounters, u64)>,
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
        let (counters, baseline_sessions) = self.counters.as_ref().expect("only smtp-sink counts sessions");
        let (s, q, m) = *counters.lock().unwrap_or_else(|p| p.into_inner());
        (s.saturating_sub(*baseline_sessions), q, m)
    }
}

/// Start `cmd` (stdin and stdout piped) and wait up to 30 s for its `READY <port>` line.
fn spawn_ready(mut cmd: Command, dir: TempDir, what: &str) -> Peer {
    cmd.stdin(Stdio::piped()).stdout(Stdio::piped()).stderr(Stdio::inherit());
    let mut child = cmd.spawn().unwrap_or_else(|e| panic!("cannot start {what}: {e} — run `make deps`"));
    let stdout = child.stdout.take().expect("piped stdout");
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        let mut line = String::new();
        let _ = BufReader::new(stdout).read_line(&mut line);
        let _ = tx.send(line);
    });
    let line = match rx.recv_timeout(Duration::from_secs(30)) {
        Ok(l) => l,
        Err(_) => {
            let _ = child.kill();
            panic!("{what} did not print READY within 30 s");
        }
    };
    let port = line.trim().strip_prefix("READY ").and_then(|p| p.parse().ok()).unwrap_or_else(|| {
        let _ = child.kill();
        panic!("{what} did not start (said {line:?}) — run `make deps`")
    });
    Peer { child, port, dir, counters: None }
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

/// aiosmtpd (`tests/peers/python/aiosmtpd_peer.py`) with `args`, storing messages as
/// `NNNN.eml` + `NNNN.json` in `peer.dir`.
pub fn aiosmtpd(args: &[&str]) -> Peer {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut cmd = Command::new(python());
    cmd.arg(repo_root().join("tests/peers/python/aiosmtpd_peer.py")).arg("--dir").arg(dir.path()).args(args);
    spawn_ready(cmd, dir, "aiosmtpd")
}

/// A Python peer script of `tests/peers/python/` (on the project's venv, aiosmtpd importable)
/// with `args`; it prints `READY <port>` like the others.
pub fn python_peer(script: &str, args: &[&str]) -> Peer {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut cmd = Command::new(python());
    cmd.arg(repo_root().join("tests/peers/python").join(script)).args(args);
    spawn_ready(cmd, dir, script)
}

/// Node's smtp-server with `tests/peers/node/smtp_server_peer.js` and `args`.
pub fn node_peer(args: &[&str]) -> Peer {
    let node_dir = repo_root().join("tests/peers/node");
    assert!(
        node_dir.join("node_modules/smtp-server").is_dir(),
        "smtp-server is not installed in {} — run `make deps`",
        node_dir.display()
    );
    let dir = tempfile::tempdir().expect("tempdir");
    let mut cmd = Command::new("node");
    cmd.current_dir(&node_dir)
        .arg(node_dir.join("smtp_server_peer.js"))
        .arg("--dir")
        .arg(dir.path())
        .args(args);
    spawn_ready(cmd, dir, "node smtp-server")
}

/// A free loopback port (bound, then released).
pub fn free_port() -> u16 {
    StdListener::bind("127.0.0.1:0").and_then(|l| l.local_addr()).map(|a| a.port()).expect("free port")
}

/// Read smtp-sink's `-c` output (lines separated by CR) and keep the last complete counters.
fn read_sink_counters(mut out: impl Read, counters: SinkCounters) {
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
                *counters.lock().unwrap_or_else(|p| p.into_inner()) = (s, q, m);
            }
        }
    }
}

/// Postfix's smtp-sink with `extra` flags: it dumps every message into `peer.dir` (one file per
/// message, `-d`) and counts sessions, QUITs and messages (`-c`, read by `Peer::sink_counts`).
pub fn smtp_sink(extra: &[&str]) -> Peer {
    let sink = Path::new("/usr/sbin/smtp-sink");
    assert!(sink.exists(), "Postfix smtp-sink is missing (/usr/sbin/smtp-sink) — run `make deps`");
    let dir = tempfile::tempdir().expect("tempdir");
    // smtp-sink drops privileges (-u) when run as root; the dump directory must be writable then.
    let _ = std::fs::set_permissions(dir.path(), std::os::unix::fs::PermissionsExt::from_mode(0o777));
    // SAFETY: geteuid has no preconditions.
    let is_root = unsafe { libc::geteuid() } == 0;
    for _attempt in 0..5 {
        let port = free_port();
        let mut cmd = Command::new(sink);
        if is_root {
            cmd.args(["-u", "nobody"]);
        }
        cmd.arg("-c")
            .arg("-d")
            .arg(format!("{}/%H%M%S.", dir.path().display()))
            .args(extra)
            .arg(format!("127.0.0.1:{port}"))
            .arg("100")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit());
        let mut child = cmd.spawn().expect("start smtp-sink");
        let counters: SinkCounters = Arc::new(Mutex::new((0, 0, 0)));
        let out = child.stdout.take().expect("piped stdout");
        let cc = counters.clone();
        std::thread::spawn(move || read_sink_counters(out, cc));
        let deadline = Instant::now() + Duration::from_secs(10);
        while Instant::now() < deadline {
            if let Ok(Some(_)) = child.try_wait() {
                break; // port taken or bad flags: try again with another port
            }
            if std::net::TcpStream::connect(("127.0.0.1", port)).is_ok() {
                // Our probe is one session: wait until it is counted, and subtract it.
                let probe_deadline = Instant::now() + Duration::from_secs(5);
                while counters.lock().map(|c| c.0).unwrap_or(0) < 1 && Instant::now() < probe_deadline {
                    std::thread::sleep(Duration::from_millis(10));
                }
                let baseline_sessions = counters.lock().map(|c| c.0).unwrap_or(0);
                return Peer { child, port, dir, counters: Some((counters, baseline_sessions)) };
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        let _ = child.kill();
        let _ = child.wait();
    }
    panic!("smtp-sink did not start");
}

/// Wait (up to 20 s) until `dir` holds `n` files whose names end in `ext` (`".eml"`, `"eml"`,
/// or `""` for every file); return them sorted. Fails the test when there are not exactly `n`.
pub fn wait_for_files(dir: &Path, ext: &str, n: usize) -> Vec<PathBuf> {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
            .map(|rd| rd.filter_map(|e| e.ok().map(|e| e.path())).collect())
            .unwrap_or_default();
        files.retain(|p| p.to_string_lossy().ends_with(ext));
        files.sort();
        if files.len() >= n || Instant::now() > deadline {
            assert_eq!(files.len(), n, "expected {n} {ext} files in {}", dir.display());
            return files;
        }
        std::thread::sleep(Duration::from_millis(25));
    }
}
