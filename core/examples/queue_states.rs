//! Spool measurements (not a test; nothing here asserts a time):
//!
//! - `queue_states rewrite [LIVE]`: LIVE (default 100,000) live entries, then attempt states
//!   recorded until the state log has been rewritten (it shrinks to one record per live entry).
//!   Prints how many `record_attempt` calls that took, the longest one, and how many took over
//!   10 ms — what the runtime worker that records states waits for while the log is due.
//! - `queue_states reads`: 100,000 `message()` reads of 1,000 entries in one segment, beside what
//!   an open + pread + close of that segment costs (what each read paid when segments were
//!   opened per read).
//!
//! `cargo run --release --example queue_states -- rewrite` (or a debug build, slower).

use std::path::Path;
use std::time::{Duration, Instant};

use postwire::queue::{NewEntry, Spool, Store};

const MSG: &[u8] = b"From: s@sender.test\r\nTo: r@dest.test\r\nSubject: s\r\n\r\nbody\r\n";

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let result = match args.first().map(String::as_str) {
        Some("rewrite") => {
            let live = args.get(1).map_or(Ok(100_000), |n| n.parse()).unwrap_or(100_000);
            rewrite(live)
        }
        Some("reads") => reads(),
        _ => Err("usage: queue_states rewrite [LIVE] | reads".into()),
    };
    if let Err(e) = result {
        eprintln!("queue_states: {e}");
        std::process::exit(1);
    }
}

type Res = Result<(), Box<dyn std::error::Error>>;

/// A spool in a temporary directory with `n` entries, submitted from 50 threads.
fn filled(dir: &Path, n: usize) -> Result<Spool, Box<dyn std::error::Error>> {
    let spool = Spool::open(dir)?;
    std::thread::scope(|s| {
        for t in 0..50 {
            let spool = &spool;
            s.spawn(move || {
                for i in (t..n).step_by(50) {
                    let env = NewEntry::new("s@sender.test", &[format!("r{i}@dest.test")]);
                    spool.submit(&format!("m{i}"), &env, MSG).expect("submit");
                }
            });
        }
    });
    Ok(spool)
}

fn rewrite(live: usize) -> Res {
    let dir = tempfile::tempdir()?;
    let spool = filled(dir.path(), live)?;
    let mut entries = spool.list()?;
    let states = dir.path().join("states");
    let len = || std::fs::metadata(&states).map(|m| m.len()).unwrap_or(0);
    let (mut longest, mut at, mut slow, mut calls, mut previous) = (Duration::ZERO, 0, 0, 0usize, len());
    // The rewrite is due after a few records per live entry; ten per entry bounds the run.
    while calls < 10 * live {
        let e = &mut entries[calls % live];
        e.attempts += 1;
        let t = Instant::now();
        spool.record_attempt(e)?;
        let took = t.elapsed();
        if took > longest {
            (longest, at) = (took, calls + 1);
        }
        slow += usize::from(took > Duration::from_millis(10));
        calls += 1;
        let now = len();
        if now < previous {
            println!(
                "{live} live entries: the state log was rewritten ({previous} -> {now} bytes) after \
                 {calls} record_attempt calls; the longest call took {longest:?} (call {at}), {slow} took over 10 ms"
            );
            return Ok(());
        }
        previous = now;
    }
    Err(format!("the state log was not rewritten within {calls} record_attempt calls").into())
}

fn reads() -> Res {
    let dir = tempfile::tempdir()?;
    let spool = filled(dir.path(), 1000)?;
    let ids: Vec<String> = (0..1000).map(|i| format!("m{i}")).collect();
    let t = Instant::now();
    for _ in 0..100 {
        for id in &ids {
            if spool.message(id)?.len() != MSG.len() {
                return Err(format!("{id}: wrong message length").into());
            }
        }
    }
    let reads = t.elapsed();
    let seg = std::fs::read_dir(dir.path().join("seg"))?.next().ok_or("no segment")??.path();
    let t = Instant::now();
    for _ in 0..100_000 {
        let f = std::fs::File::open(&seg)?;
        let mut b = [0u8; 64];
        std::os::unix::fs::FileExt::read_exact_at(&f, &mut b, 0)?;
    }
    println!(
        "100,000 message() reads: {reads:?}, {:?} each; an open + pread + close of the segment: {:?}",
        reads / 100_000,
        t.elapsed() / 100_000
    );
    Ok(())
}
