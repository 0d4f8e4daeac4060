//! Session reuse against real peers: Postfix's smtp-sink counts the sessions it saw (its `-c`
//! counters), aiosmtpd stores every message for a byte-exact comparison.

mod pool_support;

use pool_support::{aiosmtpd, message, normalized, opts, smtp_sink, wait_for_files, wait_until};
use postwire::client::{Destination, Pool, PoolOptions};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn smtp_sink_sees_one_session_per_pooled_connection() {
    let sink = smtp_sink(&[]);
    let p = Pool::new(PoolOptions { max_connections: 2, max_per_destination: 2, ..Default::default() });
    let d = Destination::new(opts(sink.port));
    let mut tasks = Vec::new();
    for t in 0..2 {
        let (p, d) = (p.clone(), d.clone());
        tasks.push(tokio::spawn(async move {
            for i in 0..15 {
                let r =
                    p.send(&d, "a@example.org", &["b@example.net".to_string()], &message(t * 100 + i)).await;
                r.expect("send through smtp-sink");
            }
        }));
    }
    for t in tasks {
        t.await.expect("task");
    }
    let created = p.stats().created;
    assert!((1..=2).contains(&created), "{:?}", p.stats());
    assert_eq!(p.stats().reused, 30 - created);
    p.close().await;
    // smtp-sink counts a session when it ends: wait for the QUITs to be counted.
    wait_until(10, || sink.sink_counts().0 >= created).await;
    let (sessions, quits, messages) = sink.sink_counts();
    assert_eq!(messages, 30);
    assert_eq!(sessions, created, "smtp-sink saw {sessions} sessions for {created} pooled connections");
    assert_eq!(quits, created);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn aiosmtpd_gets_every_message_byte_exact_over_reused_sessions() {
    let peer = aiosmtpd(&[]);
    let p = Pool::new(PoolOptions { max_connections: 1, max_per_destination: 1, ..Default::default() });
    let d = Destination::new(opts(peer.port));
    let mut sent = Vec::new();
    for i in 0..8 {
        // Bare LF and a leading dot: the client normalises and dot-stuffs on every reuse.
        let mut m = format!("Subject: pooled {i}\n\n.hidden dot line\nbody {i}\n").into_bytes();
        m.extend_from_slice(&message(i));
        let r = p
            .send(&d, "sender@example.org", &[format!("rcpt{i}@example.net")], &m)
            .await
            .expect("send to aiosmtpd");
        assert_eq!(r.accepted, vec![format!("rcpt{i}@example.net")]);
        assert_eq!(r.queue_id.as_deref(), Some(format!("AIO{:06}", i + 1).as_str()));
        sent.push(m);
    }
    assert_eq!(p.stats().created, 1, "{:?}", p.stats());
    assert_eq!(p.stats().reused, 7, "{:?}", p.stats());
    let files = wait_for_files(peer.dir.path(), "eml", 8);
    assert_eq!(files.len(), 8);
    for (f, m) in files.iter().zip(&sent) {
        let got = std::fs::read(f).expect("read stored message");
        let want = normalized(m);
        assert_eq!(String::from_utf8_lossy(&got), String::from_utf8_lossy(&want), "{}", f.display());
    }
    p.close().await;
    assert!(wait_until(10, || p.stats().open == 0).await);
}
