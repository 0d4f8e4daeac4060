//! The spool's state log under a large queue: what the runtime worker waits for when an
//! attempt's state is recorded while the log is due for its rewrite (one record per live entry).

use std::time::{Duration, Instant};

use postwire::queue::{NewEntry, Spool, Store};

const MSG: &[u8] = b"From: s@sender.test\r\nTo: r@dest.test\r\nSubject: s\r\n\r\nbody\r\n";

/// Not a test: a measurement (`cargo test -p postwire --test queue_states -- --ignored
/// --nocapture`). 100,000 live entries, states recorded until the log is rewritten; prints the
/// longest `record_attempt` and how long the whole rewrite took.
#[test]
#[ignore]
fn measure_the_record_attempt_that_rewrites_the_log() {
    const LIVE: usize = 100_000;
    let dir = tempfile::tempdir().unwrap();
    let spool = Spool::open(dir.path()).unwrap();
    std::thread::scope(|s| {
        for t in 0..50 {
            let spool = &spool;
            s.spawn(move || {
                for i in 0..LIVE / 50 {
                    let env = NewEntry::new("s@sender.test", &[format!("r{i}@dest{t}.test")]);
                    spool.submit(&format!("m{t}x{i}"), &env, MSG).unwrap();
                }
            });
        }
    });
    let mut entries = spool.list().unwrap();
    assert_eq!(entries.len(), LIVE);
    let states = dir.path().join("states");
    let (mut longest, mut calls) = (Duration::ZERO, 0u64);
    let mut rewritten = None;
    'outer: for round in 1.. {
        for e in &mut entries {
            e.attempts = round;
            let before = std::fs::metadata(&states).unwrap().len();
            let t = Instant::now();
            spool.record_attempt(e).unwrap();
            let took = t.elapsed();
            calls += 1;
            longest = longest.max(took);
            if std::fs::metadata(&states).unwrap().len() < before {
                rewritten = Some(took);
                break 'outer;
            }
        }
        assert!(round < 10, "no rewrite after {calls} calls");
    }
    // With the rewrite off the caller's thread, the log shrinks a moment after the call.
    let t = Instant::now();
    let mut shrunk = rewritten.is_some();
    while !shrunk && t.elapsed() < Duration::from_secs(60) {
        std::thread::sleep(Duration::from_millis(1));
        shrunk = std::fs::metadata(&states).unwrap().len() < (LIVE as u64) * 200;
    }
    println!(
        "{LIVE} live entries, {calls} record_attempt calls: longest call {longest:?}; the call that \
         rewrote inline: {rewritten:?}; rewrite seen {:?} after the last call",
        t.elapsed()
    );
}

/// Not a test: a measurement (`-- --ignored --nocapture`): 100,000 `message()` reads of 1,000
/// entries in one segment.
#[test]
#[ignore]
fn measure_message_reads() {
    let dir = tempfile::tempdir().unwrap();
    let spool = Spool::open(dir.path()).unwrap();
    let env = NewEntry::new("s@sender.test", &["r@dest.test".to_string()]);
    let ids: Vec<String> = (0..1000).map(|i| format!("m{i}")).collect();
    std::thread::scope(|s| {
        for chunk in ids.chunks(100) {
            let (spool, env) = (&spool, &env);
            s.spawn(move || chunk.iter().for_each(|id| drop(spool.submit(id, env, MSG).unwrap())));
        }
    });
    let t = Instant::now();
    for round in 0..100 {
        for id in &ids {
            assert_eq!(spool.message(id).unwrap().len(), MSG.len(), "round {round}");
        }
    }
    println!("100,000 message() reads: {:?}, {:?} each", t.elapsed(), t.elapsed() / 100_000);
}
