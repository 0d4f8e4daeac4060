//! Shared pieces of the routing, delivery and queue tests: the test DNS server (one zone for
//! every suite, `tests/dns/zone.json`), receiving servers bound on the 127.0.0.x addresses the
//! zone names — our own server (Maildir, hooks that refuse or defer), aiosmtpd and Postfix's
//! smtp-sink — and a port free on all of them (the delivery port is one per test).
#![allow(dead_code)]

#[path = "../peer_support/mod.rs"]
mod peer_support;

use std::net::{IpAddr, SocketAddr, TcpListener};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use postwire::client::ClientTimeouts;
use postwire::delivery::DeliveryOptions;
use postwire::proto::params::RcptParams;
use postwire::route::ResolveOptions;
use postwire::server::{Delivery, Envelope, HookFuture, HookSet, Hooks, Server, ServerOptions, SessionInfo};
use postwire::Reply;
use postwire_testdns::TestDns;
use tempfile::TempDir;

pub use peer_support::{aiosmtpd, Peer};

/// The test DNS server.
pub fn dns() -> TestDns {
    TestDns::start().expect("test DNS server")
}

/// A port free on every address of `ips` (bounded tries).
pub fn port_free_on(ips: &[&str]) -> u16 {
    for _ in 0..50 {
        let Ok(first) = TcpListener::bind((ips[0], 0)) else { continue };
        let port = first.local_addr().expect("addr").port();
        if ips[1..].iter().all(|ip| TcpListener::bind((*ip, port)).is_ok()) {
            return port;
        }
    }
    panic!("no port free on all of {ips:?}");
}

/// Delivery options for tests: the test DNS, `port`, loopback allowed, 10 s timeouts, no TLS.
pub fn delivery_options(dns: &TestDns, port: u16) -> DeliveryOptions {
    DeliveryOptions {
        port,
        resolve: ResolveOptions::with_nameservers(vec![dns.nameserver()]),
        allow_loopback: true,
        tls: postwire::client::TlsMode::None,
        hello_name: Some("relay.test".into()),
        timeouts: ClientTimeouts::uniform(Duration::from_secs(10)),
        ..Default::default()
    }
}

/// How a [`Receiver`] treats recipients.
#[derive(Default)]
pub struct Behaviour {
    /// Refuse a recipient whose local part starts with `bad` with 550 5.1.1.
    pub refuse_bad: bool,
    /// Answer the first N RCPTs with 451 4.3.0.
    pub defer_first: AtomicU32,
    /// Answer every RCPT of a local part starting with `later` with 451.
    pub defer_later: bool,
    /// Hold each message this long before answering (to see overlapping deliveries).
    pub hold: Option<Duration>,
    /// Messages being answered right now, and the most there ever were at once.
    pub in_flight: AtomicU32,
    pub max_in_flight: AtomicU32,
    /// Envelope senders and recipients of the accepted messages.
    pub seen: Mutex<Vec<(String, Vec<String>)>>,
}

struct ReceiverHooks(Arc<Behaviour>);

impl Hooks for ReceiverHooks {
    fn enabled(&self) -> HookSet {
        HookSet { connect: false, mail_from: false, rcpt_to: true, message: true }
    }
    fn on_rcpt_to(&self, _s: SessionInfo, address: String, _p: RcptParams) -> Option<HookFuture> {
        let b = &self.0;
        let local = address.split('@').next().unwrap_or("").to_ascii_lowercase();
        let reply = if b.refuse_bad && local.starts_with("bad") {
            Some(Reply::new(550, "No such user here", Some("5.1.1")))
        } else if b.defer_later && local.starts_with("later") {
            Some(Reply::new(451, "Try again later", Some("4.3.0")))
        } else if b.defer_first.fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1)).is_ok()
        {
            Some(Reply::new(451, "Greylisted, try again later", Some("4.7.1")))
        } else {
            None
        };
        Some(Box::pin(std::future::ready(Ok(reply))))
    }
    fn on_message(&self, _s: SessionInfo, env: Envelope, _d: Arc<Vec<u8>>) -> Option<HookFuture> {
        let b = Arc::clone(&self.0);
        Some(Box::pin(async move {
            let now = b.in_flight.fetch_add(1, Ordering::SeqCst) + 1;
            b.max_in_flight.fetch_max(now, Ordering::SeqCst);
            if let Some(d) = b.hold {
                tokio::time::sleep(d).await;
            }
            b.seen.lock().unwrap().push((env.mail_from, env.rcpt_to));
            b.in_flight.fetch_sub(1, Ordering::SeqCst);
            Ok(None)
        }))
    }
}

/// Our own server on `ip:port`, delivering into a Maildir; stopped when dropped.
pub struct Receiver {
    pub server: Arc<Server>,
    pub behaviour: Arc<Behaviour>,
    pub maildir: TempDir,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Receiver {
    pub fn start(ip: &str, port: u16, domains: &[&str], behaviour: Behaviour) -> Receiver {
        let maildir = tempfile::tempdir().expect("tempdir");
        let opts = ServerOptions {
            hostname: format!("receiver-{ip}.test"),
            local_domains: domains.iter().map(|d| d.to_string()).collect(),
            delivery: Delivery::Maildir(maildir.path().to_path_buf()),
            timeouts: postwire::server::ServerTimeouts::uniform(Duration::from_secs(20)),
            // A receiving MTA that takes on DSN duties, as Postfix does by default: the queue
            // must then leave the success notices to it.
            advertise_dsn: true,
            ..Default::default()
        };
        let behaviour = Arc::new(behaviour);
        let server = Arc::new(
            Server::with_hooks(opts, Arc::new(ReceiverHooks(Arc::clone(&behaviour)))).expect("options"),
        );
        let addr = SocketAddr::new(ip.parse::<IpAddr>().expect("ip"), port);
        server.listen(addr).expect("listen");
        let s = Arc::clone(&server);
        let thread = std::thread::spawn(move || {
            let rt =
                tokio::runtime::Builder::new_multi_thread().worker_threads(1).enable_all().build().unwrap();
            rt.block_on(s.serve()).expect("serve");
        });
        Receiver { server, behaviour, maildir, thread: Some(thread) }
    }

    /// The messages in the Maildir (`new/`), oldest first.
    pub fn messages(&self) -> Vec<Vec<u8>> {
        maildir_messages(self.maildir.path())
    }

    pub fn seen(&self) -> Vec<(String, Vec<String>)> {
        self.behaviour.seen.lock().unwrap().clone()
    }

    /// Messages being held (see [`Behaviour::hold`]) right now.
    pub fn in_flight(&self) -> u32 {
        self.behaviour.in_flight.load(std::sync::atomic::Ordering::SeqCst)
    }
}

impl Drop for Receiver {
    fn drop(&mut self) {
        self.server.stop();
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// The files of `root/new`, read, sorted by name.
pub fn maildir_messages(root: &Path) -> Vec<Vec<u8>> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(root.join("new"))
        .map(|rd| rd.filter_map(|e| e.ok().map(|e| e.path())).collect())
        .unwrap_or_default();
    files.sort();
    files.iter().filter_map(|p| std::fs::read(p).ok()).collect()
}

/// aiosmtpd on `ip:port`.
pub fn aiosmtpd_on(ip: &str, port: u16) -> Peer {
    aiosmtpd(&["--host", ip, "--port", &port.to_string()])
}

/// Postfix's smtp-sink on `ip:port` with `flags` (`-r CONNECT` answers the greeting 4xx,
/// `-f RCPT` refuses recipients 5xx), dumping messages into its directory; killed on drop.
pub struct Sink {
    child: Child,
    pub dir: TempDir,
}

impl Drop for Sink {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Sink {
    pub fn start(ip: &str, port: u16, flags: &[&str]) -> Sink {
        let bin = Path::new("/usr/sbin/smtp-sink");
        assert!(bin.exists(), "Postfix smtp-sink is missing — run `make deps`");
        let dir = tempfile::tempdir().expect("tempdir");
        let _ = std::fs::set_permissions(dir.path(), std::os::unix::fs::PermissionsExt::from_mode(0o777));
        let mut cmd = Command::new(bin);
        // SAFETY: geteuid has no preconditions.
        if unsafe { libc::geteuid() } == 0 {
            cmd.args(["-u", "nobody"]);
        }
        cmd.arg("-d").arg(format!("{}/%H%M%S.", dir.path().display())).args(flags);
        cmd.arg(format!("{ip}:{port}")).arg("10").stdin(Stdio::null()).stdout(Stdio::null());
        let child = cmd.spawn().expect("start smtp-sink");
        let deadline = Instant::now() + Duration::from_secs(10);
        while std::net::TcpStream::connect((ip, port)).is_err() {
            assert!(Instant::now() < deadline, "smtp-sink did not listen on {ip}:{port}");
            std::thread::sleep(Duration::from_millis(20));
        }
        Sink { child, dir }
    }

    /// How many messages it dumped.
    pub fn dumped(&self) -> usize {
        std::fs::read_dir(self.dir.path()).map(|rd| rd.count()).unwrap_or(0)
    }
}

/// Wait (at most `secs`) until `f` holds.
pub fn wait_until(secs: u64, mut f: impl FnMut() -> bool) -> bool {
    let deadline = Instant::now() + Duration::from_secs(secs);
    while Instant::now() < deadline {
        if f() {
            return true;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    f()
}
