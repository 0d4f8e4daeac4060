//! Retry rules: a connection that drops before any message content was written is retried on
//! a fresh connection, at most `max_retries` times; a message whose content reached the server
//! is never sent again, even when the server's reply never came.

mod pool_support;

use std::sync::atomic::Ordering;
use std::time::Duration;

use pool_support::{message, opts, smtp_sink, Behavior, Recorder};
use postwire::client::{Destination, Pool, PoolOptions};
use postwire::ErrorKind;

fn rcpt() -> Vec<String> {
    vec!["b@example.net".to_string()]
}

fn pool(retries: u32) -> Pool {
    Pool::new(PoolOptions { max_retries: retries, ..Default::default() })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dropped_after_mail_is_retried_on_a_fresh_connection() {
    for pipelining in [false, true] {
        let rec = Recorder::start(Behavior { drop_after_mail: 1, pipelining, ..Default::default() }).await;
        let p = pool(2);
        let d = Destination::new(opts(rec.port));
        let r = p.send(&d, "a@example.org", &rcpt(), &message(0)).await.expect("retried send");
        assert_eq!(r.reply.code, 250);
        assert_eq!(rec.counters.total.load(Ordering::SeqCst), 2, "pipelining={pipelining}");
        assert_eq!(rec.message_count(), 1);
        assert_eq!(p.stats().retried, 1);
        p.close().await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn retries_are_bounded() {
    // Every connection drops after MAIL: 1 try + 2 retries, then the error.
    let rec = Recorder::start(Behavior { drop_after_mail: usize::MAX, ..Default::default() }).await;
    let p = pool(2);
    let d = Destination::new(opts(rec.port));
    let e = p.send(&d, "a@example.org", &rcpt(), &message(0)).await.unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Protocol, "{e}");
    assert_eq!(rec.counters.total.load(Ordering::SeqCst), 3);
    assert_eq!(rec.message_count(), 0);
    assert_eq!(p.stats().open, 0);

    // Postfix's smtp-sink disconnecting after every MAIL (-q MAIL): same bound.
    let sink = smtp_sink(&["-q", "MAIL"]);
    let p = pool(3);
    let d = Destination::new(opts(sink.port));
    let e = p.send(&d, "a@example.org", &rcpt(), &message(0)).await.unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Protocol, "{e}");
    assert_eq!(p.stats().created, 4, "{:?}", p.stats());
    assert_eq!(p.stats().retried, 3);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn connection_refused_is_retried_then_reported() {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("port");
    let p = pool(2);
    let mut o = opts(port);
    o.timeouts.connect = Duration::from_secs(5);
    let e = p.send(&Destination::new(o), "a@example.org", &rcpt(), &message(0)).await.unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Connect, "{e}");
    assert_eq!(p.stats().retried, 2);
    assert_eq!(p.stats().open, 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_retry_once_the_message_was_sent() {
    // The server reads the whole message, then closes without a reply: it may have accepted
    // it, so the pool must not send it again.
    for pipelining in [false, true] {
        let rec = Recorder::start(Behavior { close_after_dot: 1, pipelining, ..Default::default() }).await;
        let p = pool(3);
        let d = Destination::new(opts(rec.port));
        let e = p.send(&d, "a@example.org", &rcpt(), &message(0)).await.unwrap_err();
        assert_eq!(e.kind(), ErrorKind::Protocol, "{e}");
        assert_eq!(rec.counters.total.load(Ordering::SeqCst), 1, "pipelining={pipelining}: resent!");
        assert_eq!(rec.message_count(), 1);
        assert_eq!(p.stats().retried, 0);
        // The pool is still usable.
        p.send(&d, "a@example.org", &rcpt(), &message(1)).await.expect("next send");
        assert_eq!(rec.message_count(), 2);
        p.close().await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn server_refusals_are_not_retried() {
    // 5xx to MAIL from smtp-sink: a reply, not a dropped connection.
    let sink = smtp_sink(&["-f", "MAIL"]);
    let p = pool(3);
    let d = Destination::new(opts(sink.port));
    let e = p.send(&d, "a@example.org", &rcpt(), &message(0)).await.unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Rejected, "{e}");
    assert_eq!(p.stats().retried, 0);
    assert_eq!(p.stats().created, 1);
    // The session survived the refusal (RSET) and is reused.
    let _ = p.send(&d, "a@example.org", &rcpt(), &message(1)).await.unwrap_err();
    assert_eq!(p.stats().created, 1, "{:?}", p.stats());
    assert_eq!(p.stats().reused, 1, "{:?}", p.stats());
}
