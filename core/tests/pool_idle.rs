//! Idle handling — the "pool hangs after an idle period" bugs of other pools: sessions idle past
//! `idle_timeout` are closed by the pool (QUIT seen by the server) and the next send opens a new
//! one; a session the *server* closed while it sat idle is found out by the NOOP health check,
//! or, without one, by the failed MAIL, and the send still goes through on a fresh connection.

mod pool_support;

use std::sync::atomic::Ordering;
use std::time::Duration;

use pool_support::{message, opts, wait_until, Behavior, Recorder};
use postwire::client::{Destination, Pool, PoolOptions};

fn rcpt() -> Vec<String> {
    vec!["b@example.net".to_string()]
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_session_goes_back_idle_after_a_send() {
    // Idle timeout far beyond the test: nothing but a bug can close the session here.
    let rec = Recorder::start(Behavior::default()).await;
    let p = Pool::new(PoolOptions { idle_timeout: Duration::from_secs(600), ..Default::default() });
    let d = Destination::new(opts(rec.port));
    p.send(&d, "a@example.org", &rcpt(), &message(0)).await.expect("first send");
    let st = p.stats();
    assert_eq!((st.open, st.idle, st.created), (1, 1, 1), "{st:?}");
    p.send(&d, "a@example.org", &rcpt(), &message(1)).await.expect("second send");
    assert_eq!((p.stats().created, p.stats().reused), (1, 1), "{:?}", p.stats());
    assert_eq!(rec.counters.quits.load(Ordering::SeqCst), 0);
    p.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn idle_sessions_expire_and_the_next_send_reconnects() {
    // 200 ms idle timeout: the session may already be gone when the send returns, so nothing is
    // asserted about the idle count in between (that it goes idle at all is the test above).
    let rec = Recorder::start(Behavior::default()).await;
    let p = Pool::new(PoolOptions {
        idle_timeout: Duration::from_millis(200),
        health_check_after: Duration::from_secs(60),
        ..Default::default()
    });
    let d = Destination::new(opts(rec.port));
    p.send(&d, "a@example.org", &rcpt(), &message(0)).await.expect("first send");
    // The reaper closes it with QUIT, no send needed.
    assert!(wait_until(10, || p.stats().open == 0).await, "idle session not closed: {:?}", p.stats());
    assert!(wait_until(10, || rec.counters.quits.load(Ordering::SeqCst) == 1).await);
    assert_eq!(rec.counters.current.load(Ordering::SeqCst), 0);
    // Sending after the idle period works at once (no hang) on a new session.
    p.send(&d, "a@example.org", &rcpt(), &message(1)).await.expect("send after idle");
    assert_eq!(p.stats().created, 2, "{:?}", p.stats());
    assert_eq!(rec.message_count(), 2);
    p.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn server_closed_idle_session_is_caught_by_the_health_check() {
    // The server drops sessions idle for 150 ms; the pool would keep them for a minute.
    let rec = Recorder::start(Behavior {
        close_idle_after: Some(Duration::from_millis(150)),
        ..Default::default()
    })
    .await;
    let p = Pool::new(PoolOptions {
        idle_timeout: Duration::from_secs(60),
        health_check_after: Duration::ZERO,
        max_retries: 0,
        ..Default::default()
    });
    let d = Destination::new(opts(rec.port));
    p.send(&d, "a@example.org", &rcpt(), &message(0)).await.expect("first send");
    assert!(
        wait_until(10, || rec.counters.ended.load(Ordering::SeqCst) == 1).await,
        "server did not drop the session"
    );
    // No retries allowed: only the health check can save this send.
    p.send(&d, "a@example.org", &rcpt(), &message(1)).await.expect("send after server-side close");
    assert_eq!(p.stats().created, 2, "{:?}", p.stats());
    assert_eq!(p.stats().retried, 0, "{:?}", p.stats());
    assert_eq!(rec.message_count(), 2);
    p.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn server_closed_idle_session_without_health_check_is_retried_once() {
    let rec = Recorder::start(Behavior {
        close_idle_after: Some(Duration::from_millis(150)),
        ..Default::default()
    })
    .await;
    let p = Pool::new(PoolOptions {
        idle_timeout: Duration::from_secs(60),
        health_check_after: Duration::from_secs(60),
        max_retries: 1,
        ..Default::default()
    });
    let d = Destination::new(opts(rec.port));
    p.send(&d, "a@example.org", &rcpt(), &message(0)).await.expect("first send");
    assert!(
        wait_until(10, || rec.counters.ended.load(Ordering::SeqCst) == 1).await,
        "server did not drop the session"
    );
    p.send(&d, "a@example.org", &rcpt(), &message(1)).await.expect("send after server-side close");
    assert_eq!(p.stats().created, 2, "{:?}", p.stats());
    assert_eq!(p.stats().retried, 1, "{:?}", p.stats());
    assert_eq!(rec.message_count(), 2);
    p.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn lifetime_and_message_limits_rotate_sessions() {
    let rec = Recorder::start(Behavior::default()).await;
    let p = Pool::new(PoolOptions { max_messages_per_connection: 3, ..Default::default() });
    let d = Destination::new(opts(rec.port));
    for i in 0..7 {
        p.send(&d, "a@example.org", &rcpt(), &message(i)).await.expect("send");
    }
    assert_eq!(p.stats().created, 3, "{:?}", p.stats());
    assert!(wait_until(10, || rec.counters.quits.load(Ordering::SeqCst) == 2).await);

    let rec2 = Recorder::start(Behavior::default()).await;
    let p2 = Pool::new(PoolOptions { max_lifetime: Duration::from_millis(100), ..Default::default() });
    let d2 = Destination::new(opts(rec2.port));
    p2.send(&d2, "a@example.org", &rcpt(), &message(0)).await.expect("send");
    assert!(wait_until(10, || p2.stats().open == 0).await, "{:?}", p2.stats());
    p2.send(&d2, "a@example.org", &rcpt(), &message(1)).await.expect("send");
    assert_eq!(p2.stats().created, 2);
    p.close().await;
    p2.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn server_421_on_idle_session_is_retried_on_a_fresh_connection() {
    // The server says `421 4.4.2 idle timeout` to a session idle for 150 ms, then closes it
    // (RFC 5321 §3.8). With no health check, the next send reads that stale 421 as the reply to
    // MAIL: the session is gone, nothing was sent, so the pool must retry on a new connection.
    for pipelining in [false, true] {
        let rec = Recorder::start(Behavior {
            close_idle_after: Some(Duration::from_millis(150)),
            idle_421: true,
            pipelining,
            ..Default::default()
        })
        .await;
        let p = Pool::new(PoolOptions {
            idle_timeout: Duration::from_secs(60),
            health_check_after: Duration::from_secs(60),
            max_retries: 1,
            ..Default::default()
        });
        let d = Destination::new(opts(rec.port));
        p.send(&d, "a@example.org", &rcpt(), &message(0)).await.expect("first send");
        assert!(
            wait_until(10, || rec.counters.idle_421s.load(Ordering::SeqCst) == 1).await,
            "server did not say 421"
        );
        let r = p.send(&d, "a@example.org", &rcpt(), &message(1)).await;
        r.unwrap_or_else(|e| panic!("send after the server's 421 (pipelining={pipelining}): {e}"));
        assert_eq!(p.stats().created, 2, "pipelining={pipelining}: {:?}", p.stats());
        assert_eq!(p.stats().retried, 1, "pipelining={pipelining}: {:?}", p.stats());
        assert_eq!(rec.message_count(), 2);
        p.close().await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn server_421_without_retries_is_reported_and_the_session_dropped() {
    let rec = Recorder::start(Behavior {
        close_idle_after: Some(Duration::from_millis(150)),
        idle_421: true,
        ..Default::default()
    })
    .await;
    let p = Pool::new(PoolOptions {
        idle_timeout: Duration::from_secs(60),
        health_check_after: Duration::from_secs(60),
        max_retries: 0,
        ..Default::default()
    });
    let d = Destination::new(opts(rec.port));
    p.send(&d, "a@example.org", &rcpt(), &message(0)).await.expect("first send");
    assert!(wait_until(10, || rec.counters.idle_421s.load(Ordering::SeqCst) == 1).await);
    let e = p.send(&d, "a@example.org", &rcpt(), &message(1)).await.expect_err("no retry allowed");
    assert_eq!(e.kind(), postwire::ErrorKind::Transient, "{e}");
    assert_eq!(e.reply().map(|r| r.code), Some(421), "{e}");
    assert_eq!(p.stats().idle, 0, "a session that got 421 must not go back idle: {:?}", p.stats());
    assert!(wait_until(10, || p.stats().open == 0).await, "{:?}", p.stats());
    p.close().await;
}
