//! Which idle sessions a pooled send may reuse: only one opened with the same security settings
//! and the same AUTH identity. A caller with a wrong password must not inherit a session someone
//! else authenticated, and a caller verifying certificates must not inherit one opened without.

mod pool_support;

use pool_support::{aiosmtpd, message, opts, Behavior, Recorder};
use postwire::client::{Destination, Pool, PoolOptions};
use postwire::ErrorKind;

fn rcpt() -> Vec<String> {
    vec!["b@example.net".to_string()]
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn wrong_password_does_not_get_an_authenticated_idle_session() {
    let peer = aiosmtpd(&["--auth", "alice:right-secret"]);
    let p = Pool::new(PoolOptions::default());
    let mut o = opts(peer.port);
    o.allow_plaintext_auth = true;
    let good = Destination::new(o.clone()).with_credentials("alice", "right-secret");
    let bad = Destination::new(o).with_credentials("alice", "wrong-secret");

    p.send(&good, "a@example.org", &rcpt(), &message(0)).await.expect("send with the right password");
    assert_eq!(p.stats().idle, 1, "the authenticated session waits idle: {:?}", p.stats());

    let e = p.send(&bad, "a@example.org", &rcpt(), &message(1)).await.expect_err("wrong password must fail");
    assert_eq!(e.kind(), ErrorKind::Auth, "{e}");
    assert_eq!(p.stats().reused, 0, "{:?}", p.stats());

    // The right password still reuses its own session.
    p.send(&good, "a@example.org", &rcpt(), &message(2)).await.expect("send again with the right password");
    assert_eq!(p.stats().reused, 1, "{:?}", p.stats());
    p.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn different_security_settings_do_not_share_sessions() {
    let rec = Recorder::start(Behavior::default()).await;
    let p = Pool::new(PoolOptions::default());
    let base = opts(rec.port);
    let mut lax = base.clone();
    lax.accept_invalid_certs = true;
    let mut other_ca = base.clone();
    other_ca.ca_file = Some("/nonexistent/ca.pem".into());
    let mut other_name = base.clone();
    other_name.tls_server_name = Some("mail.example.org".into());
    let mut plaintext = base.clone();
    plaintext.allow_plaintext_auth = true;
    let mut hello = base.clone();
    hello.hello_name = Some("other.test".into());

    p.send(&Destination::new(lax), "a@example.org", &rcpt(), &message(0)).await.expect("lax send");
    let variants = [base.clone(), other_ca, other_name, plaintext, hello];
    for (i, o) in variants.iter().enumerate() {
        p.send(&Destination::new(o.clone()), "a@example.org", &rcpt(), &message(i + 1)).await.expect("send");
    }
    let s = p.stats();
    assert_eq!(s.created, 6, "one session per distinct setting: {s:?}");
    assert_eq!(s.reused, 0, "{s:?}");

    // The same settings again: reused.
    p.send(&Destination::new(base), "a@example.org", &rcpt(), &message(9)).await.expect("send");
    assert_eq!(p.stats().reused, 1, "{:?}", p.stats());
    p.close().await;
}
