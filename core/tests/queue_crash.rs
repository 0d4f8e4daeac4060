//! The crash test of relay mode over SMTP: `postwire serve --queue` runs as a child process;
//! N connections send numbered messages into it while it is killed with SIGKILL at random
//! moments and restarted on the same spool. In the end every message that got a 250 has reached
//! the receiving server, every message that arrived is whole, and none arrived whose end of data
//! was never sent. A message whose final dot was sent but whose reply was lost to a kill may or
//! may not arrive (SMTP's known duplicate window, RFC 1047) and is counted; duplicates
//! (delivered, then killed before the queue recorded it) are allowed and counted.
//!
//! Quick by default (300 messages, 8 connections, 3 kills); `POSTWIRE_CRASH_LONG=1` (or
//! `scripts/crash_test.sh --long`) sends 2,000 messages over 20 connections through 20 kills.

mod route_support;

use std::collections::{HashMap, HashSet};
use std::io::{BufRead, BufReader, Write};
use std::net::{SocketAddr, TcpStream};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use route_support::*;

/// The message for sequence number `n`: its lines depend on `n` alone, so a receiver can tell
/// a whole message from a cut one. Sizes vary from about 0.5 KiB to 25 KiB.
fn message(n: u64) -> Vec<u8> {
    let mut m =
        format!("From: crash@sender.test\r\nTo: sink@dest.test\r\nSubject: crash {n}\r\nX-Seq: {n}\r\n\r\n")
            .into_bytes();
    for k in 0..lines_of(n) {
        m.extend_from_slice(format!("{n:010}-{k:06}-abcdefghijklmnopqrstuvwxyz\r\n").as_bytes());
    }
    m
}

fn lines_of(n: u64) -> u64 {
    10 + (n.wrapping_mul(7919) % 500)
}

/// The sequence number of a received message, if it is whole.
fn check(received: &[u8]) -> Result<u64, String> {
    let text = String::from_utf8_lossy(received);
    let n: u64 = text
        .lines()
        .find_map(|l| l.strip_prefix("X-Seq: "))
        .and_then(|v| v.trim().parse().ok())
        .ok_or("no X-Seq header")?;
    let body = text.split_once("\r\n\r\n").map(|(_, b)| b).ok_or("no body")?;
    let want: String =
        (0..lines_of(n)).map(|k| format!("{n:010}-{k:06}-abcdefghijklmnopqrstuvwxyz\r\n")).collect();
    if body != want {
        return Err(format!("message {n} is not whole ({} of {} bytes)", body.len(), want.len()));
    }
    Ok(n)
}

/// What the senders saw, per sequence number.
#[derive(Default)]
struct Ledger {
    /// MAIL was sent.
    started: HashSet<u64>,
    /// The final dot was written (the server may have it).
    dot_sent: HashSet<u64>,
    /// 250 after the dot.
    acked: HashSet<u64>,
}

/// `postwire serve --queue` on `listen`, relaying by MX (the test DNS) to `port`.
fn start_server(spool: &std::path::Path, listen: SocketAddr, ns: &str, port: u16) -> Child {
    let mut child = Command::new(env!("CARGO_BIN_EXE_postwire"))
        .args(["serve", "--listen", &listen.to_string(), "--hostname", "crash.relay.test"])
        .args(["--relay-network", "127.0.0.0/8", "--queue"])
        .arg(spool)
        .args(["--nameserver", ns, "--queue-port", &port.to_string(), "--allow-loopback"])
        .args(["--retry", "0.2", "--quiet", "--timeout", "20"])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("start postwire serve --queue");
    // Wait for "postwire: listening on" (bounded: the test's deadline kills a stuck one).
    let out = child.stdout.take().expect("stdout");
    let mut line = String::new();
    let _ = BufReader::new(out).read_line(&mut line);
    assert!(line.contains("listening on"), "serve did not start: {line:?}");
    child
}

/// One SMTP exchange step; `Err` when the connection broke (a kill).
fn reply(r: &mut BufReader<TcpStream>) -> std::io::Result<u16> {
    loop {
        let mut line = String::new();
        if r.read_line(&mut line)? == 0 {
            return Err(std::io::ErrorKind::UnexpectedEof.into());
        }
        let code = line.get(..3).and_then(|c| c.parse().ok()).ok_or(std::io::ErrorKind::InvalidData)?;
        if line.as_bytes().get(3) != Some(&b'-') {
            return Ok(code);
        }
    }
}

fn expect(r: &mut BufReader<TcpStream>, want: u16) -> std::io::Result<()> {
    match reply(r)? {
        c if c == want => Ok(()),
        c => Err(std::io::Error::other(format!("got {c}, wanted {want}"))),
    }
}

/// One sender: connect (again after each kill), send numbered messages until `target` are
/// acknowledged in all and the kills are over (so every kill hits a server being sent to).
fn sender(
    addr: SocketAddr,
    next: &AtomicU64,
    ledger: &Mutex<Ledger>,
    target: usize,
    kills_done: &AtomicBool,
    deadline: Instant,
) {
    let more = || {
        Instant::now() < deadline
            && (ledger.lock().unwrap().acked.len() < target || !kills_done.load(Ordering::SeqCst))
    };
    while more() {
        let Ok(stream) = TcpStream::connect_timeout(&addr, Duration::from_secs(2)) else {
            std::thread::sleep(Duration::from_millis(10));
            continue;
        };
        let _ = stream.set_read_timeout(Some(Duration::from_secs(30)));
        let mut w = stream.try_clone().expect("clone");
        let mut r = BufReader::new(stream);
        let session = (|| -> std::io::Result<()> {
            expect(&mut r, 220)?;
            w.write_all(b"EHLO sender.crash.test\r\n")?;
            expect(&mut r, 250)?;
            while more() {
                let n = next.fetch_add(1, Ordering::SeqCst);
                ledger.lock().unwrap().started.insert(n);
                w.write_all(b"MAIL FROM:<crash@sender.test>\r\nRCPT TO:<sink@dest.test>\r\nDATA\r\n")?;
                expect(&mut r, 250)?;
                expect(&mut r, 250)?;
                expect(&mut r, 354)?;
                let mut m = message(n);
                m.extend_from_slice(b".\r\n");
                w.write_all(&m)?;
                ledger.lock().unwrap().dot_sent.insert(n);
                expect(&mut r, 250)?;
                ledger.lock().unwrap().acked.insert(n);
            }
            let _ = w.write_all(b"QUIT\r\n");
            Ok(())
        })();
        if session.is_err() {
            std::thread::sleep(Duration::from_millis(10));
        }
    }
}

#[test]
fn every_acknowledged_message_survives_sigkill_and_restarts() {
    let long = std::env::var_os("POSTWIRE_CRASH_LONG").is_some();
    let (total, connections, kills) = if long { (2000usize, 20usize, 20usize) } else { (300, 8, 3) };
    let dns = dns();
    let ns = dns.nameserver();
    let port = port_free_on(&["127.0.0.33"]);
    let receiver = Receiver::start("127.0.0.33", port, &["dest.test"], Behaviour::default());
    let spool = tempfile::tempdir().unwrap();
    let listen: SocketAddr = format!("127.0.0.1:{}", port_free_on(&["127.0.0.1"])).parse().unwrap();
    let deadline = Instant::now() + Duration::from_secs(if long { 600 } else { 120 });

    let mut server = start_server(spool.path(), listen, &ns, port);
    let ledger = Arc::new(Mutex::new(Ledger::default()));
    let next = Arc::new(AtomicU64::new(1));
    let kills_done = Arc::new(AtomicBool::new(false));
    let senders: Vec<_> = (0..connections)
        .map(|_| {
            let (ledger, next, kd) = (Arc::clone(&ledger), Arc::clone(&next), Arc::clone(&kills_done));
            std::thread::spawn(move || sender(listen, &next, &ledger, total, &kd, deadline))
        })
        .collect();

    let mut seed = 0x9E37_79B9_7F4A_7C15u64 ^ u64::from(std::process::id());
    let mut rand = move |lo: u64, hi: u64| {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        lo + seed % (hi - lo)
    };
    // Kill at random moments while the senders are busy (they keep going until the kills are
    // over, even past `total`).
    let mut killed = 0;
    while killed < kills && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(rand(50, 300)));
        server.kill().expect("SIGKILL");
        let _ = server.wait();
        killed += 1;
        server = start_server(spool.path(), listen, &ns, port);
    }
    kills_done.store(true, Ordering::SeqCst);
    for s in senders {
        s.join().expect("sender");
    }
    let ledger = std::mem::take(&mut *ledger.lock().unwrap());
    assert!(ledger.acked.len() >= total, "only {} acknowledged before the deadline", ledger.acked.len());

    // The last server drains the queue.
    let drained = loop {
        let empty = postwire::queue::Spool::snapshot(spool.path()).map(|v| v.is_empty()).unwrap_or(false);
        if empty || Instant::now() >= deadline {
            break empty;
        }
        std::thread::sleep(Duration::from_millis(100));
    };
    let _ = server.kill();
    let _ = server.wait();
    assert!(drained, "the queue did not drain in time");

    let mut seen: HashMap<u64, usize> = HashMap::new();
    for m in receiver.messages() {
        let n = check(&m).unwrap_or_else(|e| panic!("a delivered message is damaged: {e}"));
        *seen.entry(n).or_default() += 1;
    }
    let lost: Vec<&u64> = ledger.acked.iter().filter(|n| !seen.contains_key(n)).collect();
    let never_sent: Vec<&u64> = seen.keys().filter(|n| !ledger.dot_sent.contains(n)).collect();
    let in_limbo = seen.keys().filter(|n| !ledger.acked.contains(n)).count();
    let duplicates: usize = seen.values().map(|c| c - 1).sum();
    println!(
        "crash test over SMTP: {} messages started, {} acknowledged (250), {} delivered ({} duplicates), \
         {} unacknowledged at a kill but delivered, {} SIGKILLs, {} connections",
        ledger.started.len(),
        ledger.acked.len(),
        seen.len(),
        duplicates,
        in_limbo,
        killed,
        connections
    );
    assert!(killed >= kills, "only {killed} kills");
    assert!(lost.is_empty(), "{} acknowledged messages lost: {:?}", lost.len(), &lost[..lost.len().min(10)]);
    assert!(never_sent.is_empty(), "delivered but never sent whole: {never_sent:?}");
}
