//! The crash test of the durable queue: writers submit numbered messages while the process that
//! owns the queue is killed with SIGKILL at random moments and restarted on the same spool; in
//! the end every message whose submit returned (its "250") has reached the receiving server,
//! every message that arrived is whole, and nothing arrived that was never submitted.
//! Duplicates (delivered, then killed before the state was recorded) are allowed and counted.
//!
//! The queue owner is this test binary run again as a child (`POSTWIRE_CRASH_CHILD` set), which
//! prints `START n` before and `ACK n` after each submit. Until `serve --queue` exists this
//! drives the queue API directly; the same check then runs through SMTP (scripts/crash_test.sh).
//!
//! Quick by default (300 messages, 3 kills); `POSTWIRE_CRASH_LONG=1` (or
//! `scripts/crash_test.sh --long`) runs 2,000 messages from 20 writers through 20 kills.

mod route_support;

use std::collections::{HashMap, HashSet};
use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{mpsc, Arc};
use std::time::{Duration, Instant};

use postwire::queue::{NewEntry, Queue, QueueOptions, RetryPolicy};
use route_support::*;

/// Seq numbers of child `k` start at `k * RANGE`.
const RANGE: u64 = 1_000_000;

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

/// The child: own the queue, run it, submit `count` messages from `writers` tasks.
fn child_main() {
    let get = |k: &str| std::env::var(k).unwrap_or_default();
    let spool = get("CRASH_SPOOL");
    let start: u64 = get("CRASH_START").parse().unwrap_or(0);
    let count: u64 = get("CRASH_COUNT").parse().unwrap_or(0);
    let writers: usize = get("CRASH_WRITERS").parse().unwrap_or(1);
    let port: u16 = get("CRASH_PORT").parse().unwrap_or(25);
    let ns = get("CRASH_DNS");
    // libtest printed "test crash_child_entry ... " without a newline: end that line first.
    println!();
    let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
    rt.block_on(async move {
        let mut delivery = postwire::delivery::DeliveryOptions {
            port,
            allow_loopback: true,
            tls: postwire::client::TlsMode::None,
            ..Default::default()
        };
        delivery.resolve.nameservers = Some(vec![ns]);
        delivery.timeouts = postwire::client::ClientTimeouts::uniform(Duration::from_secs(10));
        let opts = QueueOptions {
            delivery,
            retry: RetryPolicy::every(Duration::from_millis(200), Duration::from_secs(3600)),
            hostname: "crash.relay.test".into(),
            poll_interval: Duration::from_millis(100),
            ..Default::default()
        };
        // The killed predecessor's lock goes with it, but give the kernel a moment.
        let mut queue = None;
        for _ in 0..100 {
            match Queue::open(&spool, opts.clone()) {
                Ok(q) => {
                    queue = Some(q);
                    break;
                }
                Err(_) => tokio::time::sleep(Duration::from_millis(20)).await,
            }
        }
        let q = queue.expect("open the spool");
        q.start();
        let next = Arc::new(AtomicU64::new(start));
        let mut tasks = Vec::new();
        for _ in 0..writers {
            let (q, next) = (q.clone(), Arc::clone(&next));
            tasks.push(tokio::spawn(async move {
                loop {
                    let n = next.fetch_add(1, Ordering::SeqCst);
                    if n >= start + count {
                        break;
                    }
                    println!("START {n}");
                    let env = NewEntry::new("crash@sender.test", &["sink@dest.test".into()]);
                    if q.submit(&env, &message(n)).await.is_ok() {
                        println!("ACK {n}");
                    }
                }
            }));
        }
        for t in tasks {
            let _ = t.await;
        }
        println!("SUBMITTED");
        loop {
            if q.list().map(|l| l.is_empty()).unwrap_or(false) {
                println!("IDLE");
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    });
}

/// A running child and the lines it printed.
struct Owner {
    child: Child,
    lines: mpsc::Receiver<String>,
}

fn spawn_owner(env: &[(&str, String)]) -> Owner {
    let mut cmd = Command::new(std::env::current_exe().expect("test binary"));
    cmd.args(["--exact", "crash_child_entry", "--nocapture", "--test-threads=1"])
        .env("POSTWIRE_CRASH_CHILD", "1")
        .stdout(Stdio::piped())
        .stderr(Stdio::null());
    for (k, v) in env {
        cmd.env(k, v);
    }
    let mut child = cmd.spawn().expect("spawn the queue owner");
    let out = child.stdout.take().expect("stdout");
    let (tx, lines) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(out).lines().map_while(Result::ok) {
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    Owner { child, lines }
}

/// The entry point the child runs (an ordinary, instant test in the parent).
#[test]
fn crash_child_entry() {
    if std::env::var_os("POSTWIRE_CRASH_CHILD").is_some() {
        child_main();
    }
}

#[test]
fn every_acknowledged_message_survives_sigkill_and_restarts() {
    if std::env::var_os("POSTWIRE_CRASH_CHILD").is_some() {
        return;
    }
    let long = std::env::var_os("POSTWIRE_CRASH_LONG").is_some();
    let (total, writers, kills) = if long { (2000u64, 20usize, 20usize) } else { (300, 8, 3) };
    let dns = dns();
    let port = port_free_on(&["127.0.0.33"]);
    let receiver = Receiver::start("127.0.0.33", port, &["dest.test"], Behaviour::default());
    let spool = tempfile::tempdir().unwrap();
    let base_env = |k: u64, count: u64| {
        vec![
            ("CRASH_SPOOL", spool.path().display().to_string()),
            ("CRASH_START", (k * RANGE).to_string()),
            ("CRASH_COUNT", count.to_string()),
            ("CRASH_WRITERS", writers.to_string()),
            ("CRASH_PORT", port.to_string()),
            ("CRASH_DNS", dns.nameserver()),
        ]
    };
    let mut started = HashSet::new();
    let mut acked = HashSet::new();
    let mut seed = 0x9E37_79B9_7F4A_7C15u64 ^ u64::from(std::process::id());
    let mut rand = move |lo: u64, hi: u64| {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        lo + seed % (hi - lo)
    };
    let deadline = Instant::now() + Duration::from_secs(if long { 900 } else { 240 });
    let collect = |o: &Owner, started: &mut HashSet<u64>, acked: &mut HashSet<u64>| -> Vec<String> {
        let mut other = Vec::new();
        while let Ok(l) = o.lines.try_recv() {
            if let Some(n) = l.strip_prefix("START ").and_then(|n| n.parse().ok()) {
                started.insert(n);
            } else if let Some(n) = l.strip_prefix("ACK ").and_then(|n| n.parse().ok()) {
                acked.insert(n);
            } else {
                other.push(l);
            }
        }
        other
    };
    // Killed owners: each gets a fresh range and is killed at a random moment.
    for k in 0..kills as u64 {
        let mut o = spawn_owner(&base_env(k + 1, total));
        std::thread::sleep(Duration::from_millis(rand(100, if long { 600 } else { 400 })));
        o.child.kill().expect("SIGKILL");
        let _ = o.child.wait();
        std::thread::sleep(Duration::from_millis(20));
        collect(&o, &mut started, &mut acked);
        assert!(Instant::now() < deadline, "crash test ran out of time");
    }
    // The last owner submits what is missing and runs the queue empty.
    let missing = total.saturating_sub(acked.len() as u64).max(1);
    let mut last = spawn_owner(&base_env(kills as u64 + 1, missing));
    let mut idle = false;
    while !idle && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(50));
        idle = collect(&last, &mut started, &mut acked).iter().any(|l| l == "IDLE");
    }
    let _ = last.child.kill();
    let _ = last.child.wait();
    assert!(idle, "the queue did not drain in time");

    let mut seen: HashMap<u64, usize> = HashMap::new();
    for m in receiver.messages() {
        let n = check(&m).unwrap_or_else(|e| panic!("a delivered message is damaged: {e}"));
        *seen.entry(n).or_default() += 1;
    }
    let lost: Vec<&u64> = acked.iter().filter(|n| !seen.contains_key(n)).collect();
    let never_submitted: Vec<&u64> = seen.keys().filter(|n| !started.contains(n)).collect();
    let in_limbo = seen.keys().filter(|n| started.contains(n) && !acked.contains(n)).count();
    let duplicates: usize = seen.values().map(|c| c - 1).sum();
    println!(
        "crash test: {} acknowledged, {} delivered ({} duplicates), {} in flight at a kill and delivered, {} kills",
        acked.len(),
        seen.len(),
        duplicates,
        in_limbo,
        kills
    );
    assert!(acked.len() as u64 >= total, "only {} acknowledged", acked.len());
    assert!(lost.is_empty(), "{} acknowledged messages lost: {:?}", lost.len(), &lost[..lost.len().min(10)]);
    assert!(never_submitted.is_empty(), "delivered but never submitted: {never_submitted:?}");
}
