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
    // The log is rewritten once it holds more than 4 × live + 4,096 records.
    let due = 4 * LIVE + 4096 + 1;
    let (mut longest, mut last, mut at) = (Duration::ZERO, Duration::ZERO, 0);
    for call in 0..due {
        let e = &mut entries[call % LIVE];
        e.attempts += 1;
        let t = Instant::now();
        spool.record_attempt(e).unwrap();
        last = t.elapsed();
        if last > longest {
            (longest, at) = (last, call);
        }
    }
    let full = std::fs::metadata(&states).unwrap().len();
    let t = Instant::now();
    while std::fs::metadata(&states).unwrap().len() > full / 2 {
        assert!(t.elapsed() < Duration::from_secs(120), "the log was not rewritten");
        std::thread::sleep(Duration::from_millis(1));
    }
    println!(
        "{LIVE} live entries, {due} record_attempt calls: the last one (the rewrite was due) took \
         {last:?}, the longest {longest:?} (call {at}); the log ({full} bytes) was rewritten {:?} after it returned",
        t.elapsed()
    );
}

/// Not a test: a measurement (`-- --ignored --nocapture`): 100,000 `message()` reads of 1,000
/// entries in one segment, beside what opening the segment for each read cost.
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
    let reads = t.elapsed();
    // What each read cost more when it opened the segment: an open and a close around the pread.
    let seg = std::fs::read_dir(dir.path().join("seg")).unwrap().next().unwrap().unwrap().path();
    let t = Instant::now();
    for _ in 0..100_000 {
        let f = std::fs::File::open(&seg).unwrap();
        let mut b = [0u8; 64];
        std::os::unix::fs::FileExt::read_exact_at(&f, &mut b, 0).unwrap();
    }
    println!(
        "100,000 message() reads: {reads:?}, {:?} each; an open + pread + close of the segment: {:?}",
        reads / 100_000,
        t.elapsed() / 100_000
    );
}
