//! The client against our own server (`postwire::server`) in-process on loopback: PIPELINING,
//! BDAT for a large message, STARTTLS with a test CA, AUTH, 452 past max recipients, SIZE, and
//! byte-exact comparison of what the server handed its `on_message` hook (minus its Received
//! line).

mod client_support;

use std::collections::HashMap;
use std::sync::Arc;

use client_support::our_server::{start as start_with, strip_received, Running, Script};
use client_support::{normalized, opts, pki};
use postwire::client::{Client, TlsMode};
use postwire::server::{ServerOptions, StaticCredentials};
use postwire::ErrorKind;

fn start(o: ServerOptions) -> Running {
    start_with(o, Script::default())
}

fn rcpts(v: &[&str]) -> Vec<String> {
    v.iter().map(|s| s.to_string()).collect()
}

#[tokio::test]
async fn pipelined_and_chunked_byte_exact() {
    let srv = start(ServerOptions::default());
    let mut c = Client::connect(opts(srv.port)).await.expect("connect");
    assert!(c.capabilities().has("PIPELINING") && c.capabilities().has("CHUNKING"));
    let small = b"Subject: small\r\n\r\n.dot\nbare lf\r\n".to_vec();
    let r =
        c.send("a@example.org", &rcpts(&["b@test.example", "c@test.example"]), &small).await.expect("small");
    assert_eq!(r.accepted.len(), 2);
    assert!(c.transcript().iter().any(|l| l == "C: DATA"));
    let mut big = b"Subject: big\r\n\r\n".to_vec();
    for i in 0..4000 {
        big.extend_from_slice(format!(".line {i} of a message large enough for BDAT\n").as_bytes());
    }
    let r = c.send("a@example.org", &rcpts(&["b@test.example"]), &big).await.expect("big");
    assert_eq!(r.reply.code, 250);
    assert!(
        c.transcript().iter().any(|l| l.starts_with("C: BDAT") && l.ends_with("LAST")),
        "{:?}",
        c.transcript()
    );
    c.quit().await.expect("quit");
    let stored = srv.stored();
    assert_eq!(stored.len(), 2);
    assert_eq!(stored[0].envelope.rcpt_to, rcpts(&["b@test.example", "c@test.example"]));
    assert_eq!(strip_received(&stored[0].data), normalized(&small));
    assert_eq!(strip_received(&stored[1].data), normalized(&big));
}

#[tokio::test]
async fn recipients_past_max_get_452() {
    let srv = start(ServerOptions { max_recipients: 2, ..Default::default() });
    let mut c = Client::connect(opts(srv.port)).await.expect("connect");
    let r = c
        .send("a@example.org", &rcpts(&["r1@test.example", "r2@test.example", "r3@test.example"]), b"x\r\n")
        .await
        .expect("send");
    assert_eq!(r.accepted.len(), 2);
    assert_eq!(r.rejected.len(), 1);
    assert_eq!(r.rejected[0].reply.code, 452);
    // Relaying is refused (no relay networks): one refused among valid ones.
    let r = c
        .send("a@example.org", &rcpts(&["r1@test.example", "someone@elsewhere.example"]), b"x\r\n")
        .await
        .expect("send");
    assert_eq!(r.rejected.len(), 1);
    assert!(r.rejected[0].reply.is_permanent());
    c.quit().await.expect("quit");
}

#[tokio::test]
async fn size_starttls_and_auth() {
    let p = pki();
    let mut creds = HashMap::new();
    creds.insert("carol".to_string(), "hunter2".to_string());
    let srv = start(ServerOptions {
        max_message_size: 2000,
        tls_cert: Some(p.cert.clone()),
        tls_key: Some(p.key.clone()),
        auth: Some(Arc::new(StaticCredentials(creds))),
        ..Default::default()
    });
    let mut o = opts(srv.port);
    o.tls = TlsMode::StartTls;
    o.ca_file = Some(p.ca.clone());
    let mut c = Client::connect(o).await.expect("STARTTLS");
    assert!(c.is_tls());
    assert_eq!(c.capabilities().size(), Some(2000));
    c.login("carol", "hunter2", None).await.expect("login");
    let big = vec![b'x'; 3000];
    let e = c.send("a@example.org", &rcpts(&["b@test.example"]), &big).await.expect_err("SIZE");
    assert_eq!(e.kind(), ErrorKind::Rejected);
    let msg = b"Subject: tls\r\n\r\nhello\r\n";
    c.send("carol@example.org", &rcpts(&["b@test.example"]), msg).await.expect("send");
    c.quit().await.expect("quit");
    let stored = srv.stored();
    assert_eq!(stored.len(), 1);
    assert_eq!(strip_received(&stored[0].data), normalized(msg));
    let received = String::from_utf8_lossy(&stored[0].data[..200.min(stored[0].data.len())]).into_owned();
    assert!(received.contains("ESMTPSA"), "{received}");
}
