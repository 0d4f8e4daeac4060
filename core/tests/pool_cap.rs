//! Pool caps under concurrent sends, counted on the server side: the global `max_connections`
//! across destinations and `max_per_destination`, with more senders than connections (waiters
//! must queue, and all of them must get through). Both bounds are checked: never more than the
//! cap, and the cap actually reached — the server holds each final reply until that many
//! connections were open at once, so a pool that serialised its sends would show a lower peak.

mod pool_support;

use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;

use pool_support::{message, opts, Behavior, Counters, Recorder};
use postwire::client::{Destination, Pool, PoolOptions};

fn pool(max: usize, per_dest: usize) -> Pool {
    Pool::new(PoolOptions {
        max_connections: max,
        max_per_destination: per_dest,
        idle_timeout: Duration::from_secs(30),
        max_lifetime: Duration::from_secs(60),
        max_retries: 0,
        health_check_after: Duration::from_secs(30),
        max_messages_per_connection: 0,
    })
}

async fn blast(pool: &Pool, dests: &[Destination], n: usize) -> usize {
    let mut tasks = Vec::new();
    for i in 0..n {
        let (pool, dest) = (pool.clone(), dests[i % dests.len()].clone());
        tasks.push(tokio::spawn(async move {
            pool.send(&dest, "a@example.org", &["b@example.net".to_string()], &message(i)).await
        }));
    }
    let mut ok = 0;
    for t in tasks {
        match t.await.expect("task panicked") {
            Ok(r) => {
                assert_eq!(r.reply.code, 250);
                ok += 1;
            }
            Err(e) => panic!("send failed: {e}"),
        }
    }
    ok
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn per_destination_cap_holds_under_40_concurrent_sends() {
    let rec =
        Recorder::start(Behavior { hold_final_until_peak: 3, pipelining: true, ..Default::default() }).await;
    let p = pool(10, 3);
    let d = Destination::new(opts(rec.port));
    assert_eq!(blast(&p, &[d], 40).await, 40);
    assert_eq!(rec.message_count(), 40);
    let peak = rec.counters.peak.load(Ordering::SeqCst);
    assert_eq!(peak, 3, "server saw {peak} concurrent connections; the cap is 3 and 40 senders wait");
    let st = p.stats();
    assert_eq!(st.created, 3, "{st:?}");
    assert_eq!(rec.counters.total.load(Ordering::SeqCst) as u64, st.created);
    assert!(st.reused >= 37, "{st:?}");
    p.close().await;
    assert!(pool_support::wait_until(10, || p.stats().open == 0).await, "{:?}", p.stats());
    assert_eq!(rec.counters.quits.load(Ordering::SeqCst) as u64, st.created, "every session QUIT");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_global_cap_below_the_per_destination_one_reuses_sessions() {
    // One destination, 2 connections in all but 5 send slots: three senders wait for a
    // connection while two send. A session that comes back must go to one of them, not be
    // closed so that the waiter opens a new one (40 sends would then open ~40 connections).
    let rec =
        Recorder::start(Behavior { hold_final_until_peak: 2, pipelining: true, ..Default::default() }).await;
    let p = pool(2, 5);
    let d = Destination::new(opts(rec.port));
    assert_eq!(blast(&p, &[d], 40).await, 40);
    assert_eq!(rec.message_count(), 40);
    let st = p.stats();
    assert_eq!(st.created, 2, "{st:?}");
    assert_eq!(rec.counters.total.load(Ordering::SeqCst), 2, "connections the server saw");
    assert_eq!(rec.counters.peak.load(Ordering::SeqCst), 2);
    p.close().await;
    assert!(pool_support::wait_until(10, || p.stats().open == 0).await, "{:?}", p.stats());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn global_cap_holds_across_destinations() {
    // Three servers share one counter: the pool may have at most 4 connections in all, though
    // each destination alone would be allowed 3.
    let shared = Arc::new(Counters::default());
    let b = Behavior { hold_final_until_peak: 4, ..Default::default() };
    let r1 = Recorder::start_with(b.clone(), shared.clone()).await;
    let r2 = Recorder::start_with(b.clone(), shared.clone()).await;
    let r3 = Recorder::start_with(b, shared.clone()).await;
    let p = pool(4, 3);
    let dests: Vec<Destination> = [&r1, &r2, &r3].iter().map(|r| Destination::new(opts(r.port))).collect();
    assert_eq!(blast(&p, &dests, 60).await, 60);
    assert_eq!(r1.message_count() + r2.message_count() + r3.message_count(), 60);
    let peak = shared.peak.load(Ordering::SeqCst);
    assert_eq!(peak, 4, "servers saw {peak} concurrent connections; the global cap is 4 and 60 senders wait");
    assert!(p.stats().open <= 4, "{:?}", p.stats());
    p.close().await;
    assert!(pool_support::wait_until(10, || p.stats().open == 0).await, "{:?}", p.stats());
    assert!(pool_support::wait_until(10, || shared.current.load(Ordering::SeqCst) == 0).await);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn closed_pool_refuses_sends() {
    let rec = Recorder::start(Behavior::default()).await;
    let p = pool(2, 2);
    let d = Destination::new(opts(rec.port));
    p.send(&d, "a@example.org", &["b@example.net".to_string()], &message(0)).await.expect("send");
    p.close().await;
    let e = p.send(&d, "a@example.org", &["b@example.net".to_string()], &message(1)).await.unwrap_err();
    assert_eq!(e.kind(), postwire::ErrorKind::InvalidInput);
    assert_eq!(rec.message_count(), 1);
}
