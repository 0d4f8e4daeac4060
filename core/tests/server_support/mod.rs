//! Shared helpers for the server integration tests: an in-process server on its own runtime
//! thread, a raw line-based SMTP client for hostile inputs, test certificates made by rcgen, and
//! locating the peers installed by `make deps` (the repository root comes from `peer_support`,
//! shared with the client and pool tests).
#![allow(dead_code)]

#[path = "../peer_support/mod.rs"]
pub mod peer_support;

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use postwire::server::{Hooks, NoHooks, Server, ServerOptions};

// Kept for the server tests that locate repository files; none does yet.
#[allow(unused_imports)]
pub use peer_support::repo_root;

/// A peer program, or a failure that says how to install it.
pub fn peer(name: &str) -> PathBuf {
    for dir in ["/usr/sbin", "/usr/bin", "/usr/local/bin", "/usr/local/sbin"] {
        let p = Path::new(dir).join(name);
        if p.exists() {
            return p;
        }
    }
    panic!("peer `{name}` is missing: run `make deps`");
}

/// A server running on its own runtime thread; stopped gracefully on drop.
pub struct TestServer {
    pub server: Arc<Server>,
    pub addr: SocketAddr,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl TestServer {
    pub fn start(opts: ServerOptions) -> TestServer {
        TestServer::with_hooks(opts, Arc::new(NoHooks))
    }

    pub fn with_hooks(opts: ServerOptions, hooks: Arc<dyn Hooks>) -> TestServer {
        let server = Arc::new(Server::with_hooks(opts, hooks).expect("server options"));
        let addr = server.listen("127.0.0.1:0".parse().unwrap()).expect("listen");
        let s = Arc::clone(&server);
        let thread = std::thread::spawn(move || {
            let rt =
                tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
            rt.block_on(s.serve()).expect("serve");
        });
        TestServer { server, addr, thread: Some(thread) }
    }

    /// Stop and wait for the serve loop to return.
    pub fn stop(&mut self) {
        self.server.stop();
        if let Some(t) = self.thread.take() {
            t.join().expect("server thread");
        }
    }
}

impl Drop for TestServer {
    fn drop(&mut self) {
        self.server.stop();
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// Options most tests start from.
pub fn options() -> ServerOptions {
    ServerOptions {
        hostname: "mx.test.example".into(),
        local_domains: vec!["test.example".into()],
        timeouts: postwire::server::ServerTimeouts::uniform(Duration::from_secs(20)),
        ..Default::default()
    }
}

/// A raw SMTP client: write exactly what the test says, read replies as the server sent them.
pub struct Raw {
    pub reader: BufReader<TcpStream>,
    pub stream: TcpStream,
}

impl Raw {
    pub fn connect(addr: SocketAddr) -> Raw {
        let stream = TcpStream::connect(addr).expect("connect");
        stream.set_read_timeout(Some(Duration::from_secs(20))).unwrap();
        let reader = BufReader::new(stream.try_clone().unwrap());
        Raw { reader, stream }
    }

    /// Connect and read the banner, then EHLO.
    pub fn greeted(addr: SocketAddr) -> Raw {
        let mut r = Raw::connect(addr);
        assert_eq!(r.reply().0, 220);
        r.send(b"EHLO client.test.example\r\n");
        assert_eq!(r.reply().0, 250);
        r
    }

    pub fn send(&mut self, bytes: &[u8]) {
        self.stream.write_all(bytes).expect("write");
    }

    /// One reply: (code, all lines joined by '\n' without codes).
    pub fn reply(&mut self) -> (u16, String) {
        let mut text = Vec::new();
        loop {
            let mut line = String::new();
            let n = self.reader.read_line(&mut line).expect("read reply");
            assert!(n > 0, "server closed the connection while a reply was expected");
            assert!(line.len() >= 4, "short reply line {line:?}");
            let code: u16 = line[..3].parse().expect("reply code");
            text.push(line[4..].trim_end().to_string());
            if line.as_bytes()[3] == b' ' {
                return (code, text.join("\n"));
            }
        }
    }

    /// Send a command and return its reply.
    pub fn cmd(&mut self, line: &str) -> (u16, String) {
        self.send(format!("{line}\r\n").as_bytes());
        self.reply()
    }

    /// True when the server has closed the connection (reads EOF), within the read timeout.
    pub fn closed(&mut self) -> bool {
        let mut buf = [0u8; 256];
        loop {
            match self.reader.read(&mut buf) {
                Ok(0) => return true,
                Ok(_) => continue,
                Err(e) if e.kind() == std::io::ErrorKind::ConnectionReset => return true,
                Err(_) => return false,
            }
        }
    }
}

/// Files delivered into a Maildir's `new/`.
pub fn maildir_messages(root: &Path) -> Vec<Vec<u8>> {
    let mut files: Vec<_> = std::fs::read_dir(root.join("new"))
        .map(|d| d.filter_map(|e| e.ok()).map(|e| e.path()).collect())
        .unwrap_or_default();
    files.sort();
    files.iter().map(|p| std::fs::read(p).unwrap()).collect()
}

/// A self-signed certificate for `localhost`/127.0.0.1, written as PEM into `dir`.
pub fn test_cert(dir: &Path) -> (PathBuf, PathBuf) {
    let ck = rcgen::generate_simple_self_signed(vec![
        "localhost".into(),
        "127.0.0.1".into(),
        "mx.test.example".into(),
    ])
    .expect("rcgen");
    let cert = dir.join("cert.pem");
    let key = dir.join("key.pem");
    std::fs::write(&cert, ck.cert.pem()).unwrap();
    std::fs::write(&key, ck.key_pair.serialize_pem()).unwrap();
    (cert, key)
}

/// Run a Python snippet with the system python3 (smtplib is in the standard library); returns
/// stdout, failing the test with stderr on a non-zero exit.
pub fn python(script: &str, args: &[&str]) -> String {
    let out = std::process::Command::new("python3")
        .arg("-c")
        .arg(script)
        .args(args)
        .output()
        .expect("python3 is missing: run `make deps`");
    assert!(
        out.status.success(),
        "python failed:\n{}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}
