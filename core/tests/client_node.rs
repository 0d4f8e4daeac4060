//! The client against Node's smtp-server: plain with and without PIPELINING, STARTTLS and
//! implicit TLS with a test CA, AUTH PLAIN/LOGIN/XOAUTH2, a server-side 552, one refused
//! recipient among three; byte-exact comparison of what the peer stored.

mod client_support;

use client_support::{node_peer, normalized, opts, pki, wait_for_files};
use postwire::client::{Client, TlsMode};
use postwire::ErrorKind;

fn rcpts(v: &[&str]) -> Vec<String> {
    v.iter().map(|s| s.to_string()).collect()
}

const MSG: &[u8] =
    b"From: a@example.test\r\nTo: b@example.test\r\nSubject: node\r\n\r\n.hidden dot\r\nline\nbare lf\r\n";

#[tokio::test]
async fn plain_with_pipelining() {
    let peer = node_peer(&["--refuse", "nobody@example.test"]);
    let mut c = Client::connect(opts(peer.port)).await.expect("connect");
    assert!(c.capabilities().has("PIPELINING"));
    let r = c
        .send("a@example.test", &rcpts(&["b@example.test", "nobody@example.test", "c@example.test"]), MSG)
        .await
        .expect("send");
    assert_eq!(r.accepted, rcpts(&["b@example.test", "c@example.test"]));
    assert_eq!(r.rejected.len(), 1);
    assert_eq!(r.rejected[0].reply.code, 550);
    assert_eq!(r.queue_id.as_deref(), Some("NODE0001"));
    // Pipelined: MAIL, every RCPT and DATA were written before the first reply was read.
    let t = c.transcript();
    let mail = t.iter().position(|l| l.starts_with("C: MAIL")).expect("MAIL");
    assert!(t[mail + 1].starts_with("C: RCPT") && t[mail + 4] == "C: DATA", "{t:?}");
    let files = wait_for_files(peer.dir.path(), ".eml", 1);
    assert_eq!(std::fs::read(&files[0]).expect("read"), normalized(MSG));
    c.quit().await.expect("quit");
}

#[tokio::test]
async fn plain_without_pipelining() {
    let peer = node_peer(&["--no-pipelining"]);
    let mut c = Client::connect(opts(peer.port)).await.expect("connect");
    assert!(!c.capabilities().has("PIPELINING"));
    for i in 0..3 {
        c.send("a@example.test", &rcpts(&["b@example.test"]), MSG)
            .await
            .unwrap_or_else(|e| panic!("send {i}: {e}"));
    }
    let files = wait_for_files(peer.dir.path(), ".eml", 3);
    for f in files {
        assert_eq!(std::fs::read(&f).expect("read"), normalized(MSG));
    }
    let t = c.transcript();
    let mail = t.iter().position(|l| l.starts_with("C: MAIL")).expect("MAIL");
    assert!(t[mail + 1].starts_with("S: 250"), "{t:?}");
    c.quit().await.expect("quit");

    // The caller can switch PIPELINING off even when offered.
    let peer = node_peer(&[]);
    let mut o = opts(peer.port);
    o.pipelining = false;
    let mut c = Client::connect(o).await.expect("connect");
    c.send("a@example.test", &rcpts(&["b@example.test"]), MSG).await.expect("send");
    let t = c.transcript();
    let mail = t.iter().position(|l| l.starts_with("C: MAIL")).expect("MAIL");
    assert!(t[mail + 1].starts_with("S: 250"), "{t:?}");
    c.quit().await.expect("quit");
}

#[tokio::test]
async fn starttls_and_implicit_tls() {
    let p = pki();
    let cert = p.cert.to_str().expect("path");
    let key = p.key.to_str().expect("path");

    let peer = node_peer(&["--cert", cert, "--key", key]);
    let mut o = opts(peer.port);
    o.tls = TlsMode::Opportunistic;
    o.ca_file = Some(p.ca.clone());
    let mut c = Client::connect(o).await.expect("opportunistic STARTTLS");
    assert!(c.is_tls());
    c.send("a@example.test", &rcpts(&["b@example.test"]), MSG).await.expect("send");
    let files = wait_for_files(peer.dir.path(), ".eml", 1);
    assert_eq!(std::fs::read(&files[0]).expect("read"), normalized(MSG));
    c.quit().await.expect("quit");

    let peer = node_peer(&["--cert", cert, "--key", key, "--implicit"]);
    let mut o = opts(peer.port);
    o.tls = TlsMode::Implicit;
    o.ca_file = Some(p.ca.clone());
    let mut c = Client::connect(o).await.expect("implicit TLS");
    assert!(c.is_tls());
    assert_eq!(c.banner().code, 220);
    c.send("a@example.test", &rcpts(&["b@example.test"]), MSG).await.expect("send");
    let files = wait_for_files(peer.dir.path(), ".eml", 1);
    assert_eq!(std::fs::read(&files[0]).expect("read"), normalized(MSG));
    c.quit().await.expect("quit");

    // accept_invalid_certs skips verification (no CA given).
    let mut o = opts(peer.port);
    o.tls = TlsMode::Implicit;
    o.accept_invalid_certs = true;
    let mut c = Client::connect(o).await.expect("implicit TLS, unverified");
    c.quit().await.expect("quit");
}

#[tokio::test]
async fn auth_mechanisms() {
    let p = pki();
    let peer = node_peer(&[
        "--auth",
        "bob:pa:ss",
        "--cert",
        p.cert.to_str().expect("p"),
        "--key",
        p.key.to_str().expect("p"),
    ]);
    for mech in ["PLAIN", "LOGIN", "XOAUTH2"] {
        let mut o = opts(peer.port);
        o.tls = TlsMode::StartTls;
        o.ca_file = Some(p.ca.clone());
        let mut c = Client::connect(o).await.expect("connect");
        let r = c.login("bob", "pa:ss", Some(mech)).await.unwrap_or_else(|e| panic!("{mech}: {e}"));
        assert_eq!(r.code, 235);
        let masked = c.transcript().iter().any(|l| l.contains("****"));
        assert!(masked && !c.transcript().join("\n").contains("pa:ss"), "{:?}", c.transcript());
        c.send("a@example.test", &rcpts(&["b@example.test"]), MSG).await.expect("send");
        c.quit().await.expect("quit");

        let mut o = opts(peer.port);
        o.tls = TlsMode::StartTls;
        o.ca_file = Some(p.ca.clone());
        let mut c = Client::connect(o).await.expect("connect");
        let e = c.login("bob", "wrong", Some(mech)).await.expect_err("wrong secret");
        assert_eq!(e.kind(), ErrorKind::Auth, "{mech}: {e}");
        assert!(!c.is_closed(), "{mech}");
        c.noop().await.unwrap_or_else(|e| panic!("{mech}: session unusable after refused AUTH: {e}"));
        c.quit().await.expect("quit");
    }
    let files = wait_for_files(peer.dir.path(), ".json", 3);
    let user: serde_json::Value =
        serde_json::from_slice(&std::fs::read(&files[0]).expect("read")).expect("json");
    assert_eq!(user["user"], "bob");
}

#[tokio::test]
async fn server_side_552() {
    // SIZE enforced but not advertised: the client cannot know, the server refuses with 552.
    let peer = node_peer(&["--size", "500", "--hide-size"]);
    let mut c = Client::connect(opts(peer.port)).await.expect("connect");
    assert_eq!(c.capabilities().size(), None);
    let big = "Subject: big\r\n\r\n".to_string() + &"0123456789\r\n".repeat(100);
    let e = c.send("a@example.test", &rcpts(&["b@example.test"]), big.as_bytes()).await.expect_err("552");
    assert_eq!(e.kind(), ErrorKind::Rejected);
    assert_eq!(e.reply().map(|r| r.code), Some(552));
    assert!(!c.is_closed());
    c.send("a@example.test", &rcpts(&["b@example.test"]), b"Subject: small\r\n\r\nok\r\n")
        .await
        .expect("small after 552");
    c.quit().await.expect("quit");

    // Advertised: refused before sending.
    let peer = node_peer(&["--size", "500"]);
    let mut c = Client::connect(opts(peer.port)).await.expect("connect");
    assert_eq!(c.capabilities().size(), Some(500));
    let e = c.send("a@example.test", &rcpts(&["b@example.test"]), big.as_bytes()).await.expect_err("too big");
    assert_eq!(e.kind(), ErrorKind::Rejected);
    assert!(e.reply().is_none());
    c.quit().await.expect("quit");
}
