//! The client against aiosmtpd (Python): byte-exact storage, no PIPELINING (aiosmtpd does not
//! offer it), one recipient refused among three (RFC 821's `550 No such user here`), 452 past
//! the recipient limit, SIZE, STARTTLS with a test CA, AUTH, SMTPUTF8, session reuse after a
//! failed transaction, VRFY/HELP/NOOP.

mod client_support;

use client_support::{aiosmtpd, normalized, opts, pki, wait_for_files};
use postwire::client::{Client, TlsMode};
use postwire::ErrorKind;

fn rcpts(v: &[&str]) -> Vec<String> {
    v.iter().map(|s| s.to_string()).collect()
}

fn meta(path: &std::path::Path) -> serde_json::Value {
    serde_json::from_slice(&std::fs::read(path.with_extension("json")).expect("json")).expect("parse json")
}

#[tokio::test]
async fn plain_send_is_stored_byte_exact() {
    let peer = aiosmtpd(&[]);
    let mut c = Client::connect(opts(peer.port)).await.expect("connect");
    assert!(!c.capabilities().has("PIPELINING"), "aiosmtpd does not offer PIPELINING");
    // Dot-stuffing, bare LF, bare CR, a lone dot line, no final line break.
    let msg = b"Subject: dots\r\nFrom: a@example.test\n\n.\r\n..two\n.leading\rlast line";
    let r = c.send("a@example.test", &rcpts(&["b@example.test"]), msg).await.expect("send");
    assert_eq!(r.accepted, rcpts(&["b@example.test"]));
    assert!(r.rejected.is_empty());
    assert_eq!(r.reply.code, 250);
    assert_eq!(r.queue_id.as_deref(), Some("AIO000001"));
    let files = wait_for_files(peer.dir.path(), ".eml", 1);
    assert_eq!(std::fs::read(&files[0]).expect("read"), normalized(msg));
    let m = meta(&files[0]);
    assert_eq!(m["mail_from"], "a@example.test");
    assert_eq!(m["rcpt_tos"], serde_json::json!(["b@example.test"]));
    let size = m["mail_options"]
        .as_array()
        .expect("options")
        .iter()
        .any(|o| o.as_str() == Some(&format!("SIZE={}", normalized(msg).len())));
    assert!(size, "SIZE= announced with the normalised length: {m}");
    // Without PIPELINING each command waits for its reply: MAIL's reply precedes RCPT.
    let t = c.transcript();
    let mail = t.iter().position(|l| l.starts_with("C: MAIL FROM:")).expect("MAIL");
    assert!(t[mail + 1].starts_with("S: 250"), "{t:?}");
    c.quit().await.expect("quit");
}

#[tokio::test]
async fn one_recipient_refused_among_three() {
    let peer = aiosmtpd(&["--refuse", "nobody@example.test"]);
    let mut c = Client::connect(opts(peer.port)).await.expect("connect");
    let r = c
        .send(
            "a@example.test",
            &rcpts(&["one@example.test", "nobody@example.test", "two@example.test"]),
            b"Subject: x\r\n\r\nhi\r\n",
        )
        .await
        .expect("send");
    assert_eq!(r.accepted, rcpts(&["one@example.test", "two@example.test"]));
    assert_eq!(r.rejected.len(), 1);
    assert_eq!(r.rejected[0].rcpt, "nobody@example.test");
    assert_eq!(r.rejected[0].reply.code, 550);
    assert_eq!(r.rejected[0].reply.text(), "No such user here");
    let files = wait_for_files(peer.dir.path(), ".eml", 1);
    assert_eq!(meta(&files[0])["rcpt_tos"], serde_json::json!(["one@example.test", "two@example.test"]));

    // All refused: `rejected`, the session stays usable (RSET), the next send works.
    let e =
        c.send("a@example.test", &rcpts(&["nobody@example.test"]), b"x\r\n").await.expect_err("all refused");
    assert_eq!(e.kind(), ErrorKind::Rejected);
    assert_eq!(e.reply().map(|r| r.code), Some(550));
    assert!(!c.is_closed());
    assert!(c.transcript().iter().any(|l| l == "C: RSET"));
    let r = c
        .send("a@example.test", &rcpts(&["one@example.test"]), b"again\r\n")
        .await
        .expect("send after failure");
    assert_eq!(r.accepted.len(), 1);
    wait_for_files(peer.dir.path(), ".eml", 2);
    c.quit().await.expect("quit");
}

#[tokio::test]
async fn recipients_past_the_limit_get_452() {
    let peer = aiosmtpd(&["--max-rcpt", "2"]);
    let mut c = Client::connect(opts(peer.port)).await.expect("connect");
    let to = rcpts(&["r1@example.test", "r2@example.test", "r3@example.test"]);
    let r = c.send("a@example.test", &to, b"Subject: many\r\n\r\nx\r\n").await.expect("send");
    assert_eq!(r.accepted, rcpts(&["r1@example.test", "r2@example.test"]));
    assert_eq!(r.rejected.len(), 1);
    assert_eq!(r.rejected[0].reply.code, 452);
    assert!(r.rejected[0].reply.is_transient());
    c.quit().await.expect("quit");
}

#[tokio::test]
async fn size_limit_is_checked_before_sending() {
    let peer = aiosmtpd(&["--size", "1000"]);
    let mut c = Client::connect(opts(peer.port)).await.expect("connect");
    assert_eq!(c.capabilities().size(), Some(1000));
    let big = "Subject: big\r\n\r\n".to_string() + &"0123456789".repeat(200);
    let e = c.send("a@example.test", &rcpts(&["b@example.test"]), big.as_bytes()).await.expect_err("too big");
    assert_eq!(e.kind(), ErrorKind::Rejected);
    assert!(e.reply().is_none(), "refused by the client, not the server");
    assert!(!c.transcript().iter().any(|l| l.starts_with("C: MAIL")), "nothing of the transaction was sent");
    let ok = c
        .send("a@example.test", &rcpts(&["b@example.test"]), b"Subject: small\r\n\r\nok\r\n")
        .await
        .expect("small");
    assert_eq!(ok.reply.code, 250);
    c.quit().await.expect("quit");
}

#[tokio::test]
async fn starttls_with_the_test_ca() {
    let p = pki();
    let peer =
        aiosmtpd(&["--tls-cert", p.cert.to_str().expect("path"), "--tls-key", p.key.to_str().expect("path")]);
    let mut o = opts(peer.port);
    o.tls = TlsMode::StartTls;
    o.ca_file = Some(p.ca.clone());
    let mut c = Client::connect(o).await.expect("STARTTLS");
    assert!(c.is_tls());
    assert!(!c.capabilities().has("STARTTLS"), "capabilities are the post-TLS ones");
    assert!(c.timings().tls.is_some());
    let msg = b"Subject: over TLS\r\n\r\nsecret stuff\r\n";
    c.send("a@example.test", &rcpts(&["b@example.test"]), msg).await.expect("send");
    let files = wait_for_files(peer.dir.path(), ".eml", 1);
    assert_eq!(std::fs::read(&files[0]).expect("read"), normalized(msg));
    assert_eq!(meta(&files[0])["tls"], true);
    c.quit().await.expect("quit");

    // Without the CA the certificate does not verify.
    let mut o = opts(peer.port);
    o.tls = TlsMode::StartTls;
    let e = Client::connect(o).await.expect_err("unknown CA");
    assert_eq!(e.kind(), ErrorKind::Tls, "{e}");
}

#[tokio::test]
async fn auth_plain_and_login() {
    let peer = aiosmtpd(&["--auth", "alice:open sesame"]);
    for mech in [Some("PLAIN"), Some("LOGIN"), None] {
        let mut o = opts(peer.port);
        o.allow_plaintext_auth = true;
        let mut c = Client::connect(o).await.expect("connect");
        let r = c.login("alice", "open sesame", mech).await.expect("login");
        assert_eq!(r.code, 235);
        assert_eq!(c.authenticated_user(), Some("alice"));
        assert!(!c.transcript().join("\n").contains("sesame"));
        c.quit().await.expect("quit");
    }
    let mut o = opts(peer.port);
    o.allow_plaintext_auth = true;
    let mut c = Client::connect(o).await.expect("connect");
    let e = c.login("alice", "wrong", Some("PLAIN")).await.expect_err("bad password");
    assert_eq!(e.kind(), ErrorKind::Auth);
    assert_eq!(e.reply().map(|r| r.code), Some(535));
    assert!(!c.is_closed(), "a refused login leaves the session usable");
    c.noop().await.expect("noop");
    c.quit().await.expect("quit");
}

#[tokio::test]
async fn smtputf8_and_8bit() {
    let peer = aiosmtpd(&["--smtputf8"]);
    let mut c = Client::connect(opts(peer.port)).await.expect("connect");
    let msg = "Subject: =?UTF-8?B?w6k=?=\r\n\r\nCafé ünïcode\r\n".as_bytes();
    let r = c.send("jörg@exämple.test", &rcpts(&["zoë@example.test"]), msg).await.expect("send");
    assert_eq!(r.accepted.len(), 1);
    let files = wait_for_files(peer.dir.path(), ".eml", 1);
    assert_eq!(std::fs::read(&files[0]).expect("read"), normalized(msg));
    let m = meta(&files[0]);
    let opts_sent: Vec<String> = m["mail_options"]
        .as_array()
        .expect("options")
        .iter()
        .map(|v| v.as_str().unwrap_or("").to_string())
        .collect();
    assert!(opts_sent.contains(&"SMTPUTF8".to_string()), "{opts_sent:?}");
    assert!(opts_sent.contains(&"BODY=8BITMIME".to_string()), "{opts_sent:?}");
    c.quit().await.expect("quit");

    // The same address to a server without SMTPUTF8: refused by the client.
    let plain = aiosmtpd(&[]);
    let mut c = Client::connect(opts(plain.port)).await.expect("connect");
    let e =
        c.send("jörg@exämple.test", &rcpts(&["b@example.test"]), b"x\r\n").await.expect_err("no SMTPUTF8");
    assert_eq!(e.kind(), ErrorKind::Rejected);
    c.quit().await.expect("quit");
}

#[tokio::test]
async fn null_sender_and_simple_commands() {
    let peer = aiosmtpd(&[]);
    let mut c = Client::connect(opts(peer.port)).await.expect("connect");
    assert_eq!(c.banner().code, 220);
    c.send("", &rcpts(&["b@example.test"]), b"Subject: bounce\r\n\r\nx\r\n").await.expect("null sender");
    let files = wait_for_files(peer.dir.path(), ".eml", 1);
    assert_eq!(meta(&files[0])["mail_from"], "<>");
    assert!(c.transcript().iter().any(|l| l.starts_with("C: MAIL FROM:<>")));
    assert_eq!(c.noop().await.expect("noop").code, 250);
    assert_eq!(c.reset().await.expect("rset").code, 250);
    // aiosmtpd without a VRFY handler: 252 "Cannot VRFY user, but will accept message …"; the
    // client hands back whatever well-formed reply came, not an error.
    let v = c.verify("b@example.test").await.expect("vrfy: any well-formed reply is Ok");
    assert_eq!(v.code, 252, "{v:?}");
    assert!(v.text().contains("Cannot VRFY"), "{v:?}");
    // aiosmtpd answers HELP with 250 and its command list.
    let h = c.help(None).await.expect("help");
    assert_eq!(h.code, 250, "{h:?}");
    assert!(h.text().contains("EHLO"), "{h:?}");
    let q = c.quit().await.expect("quit");
    assert_eq!(q.code, 221);
    assert!(c.is_closed());
}
