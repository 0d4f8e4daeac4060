//! The server against real peers: Python's smtplib, swaks and Postfix's smtp-source.

mod server_support;

use postwire::server::{Delivery, ServerOptions, StaticCredentials};
use server_support::*;

fn maildir_server(dir: &std::path::Path) -> (TestServer, std::path::PathBuf) {
    let md = dir.join("Maildir");
    let opts = ServerOptions { delivery: Delivery::Maildir(md.clone()), ..options() };
    (TestServer::start(opts), md)
}

/// Strip the Return-Path/Delivered-To lines and our Received header (3 or 4 folded lines).
fn body_after_received(stored: &[u8]) -> &[u8] {
    let s = stored;
    let pos = s.windows(10).position(|w| w == b"Received: ").expect("Received line");
    // The Received header ends at the first CRLF not followed by a tab.
    let mut i = pos;
    loop {
        let nl = i + s[i..].windows(2).position(|w| w == b"\r\n").expect("CRLF");
        if s.get(nl + 2) != Some(&b'\t') {
            return &s[nl + 2..];
        }
        i = nl + 2;
    }
}

#[test]
fn smtplib_multi_recipient_with_one_refused() {
    let dir = tempfile::tempdir().unwrap();
    let (srv, md) = maildir_server(dir.path());
    let out = python(
        r#"
import smtplib, sys
port = int(sys.argv[1])
msg = b"From: a@sender.example\r\nTo: bob@test.example\r\nSubject: hi\r\n\r\nHello\r\n"
with smtplib.SMTP("127.0.0.1", port) as s:
    refused = s.sendmail("a@sender.example", ["bob@test.example", "carol@elsewhere.example", "dave@test.example"], msg)
    print(sorted(refused.items()))
"#,
        &[&srv.addr.port().to_string()],
    );
    assert!(out.contains("carol@elsewhere.example"), "{out}");
    assert!(out.contains("550"), "{out}");
    assert!(out.contains("Relaying denied"), "{out}");
    let stored = maildir_messages(&md);
    assert_eq!(stored.len(), 1);
    let text = String::from_utf8_lossy(&stored[0]);
    assert!(text.starts_with("Return-Path: <a@sender.example>\r\nDelivered-To: bob@test.example\r\nDelivered-To: dave@test.example\r\nReceived: from "), "{text}");
    assert!(text.contains("by mx.test.example with ESMTP id "), "{text}");
    assert!(!text.contains("for <"), "two recipients: no `for` clause: {text}");
    assert_eq!(
        body_after_received(&stored[0]),
        b"From: a@sender.example\r\nTo: bob@test.example\r\nSubject: hi\r\n\r\nHello\r\n"
    );
    assert_eq!(srv.server.stats().messages_accepted, 1);
    assert_eq!(srv.server.stats().recipients_rejected, 1);
}

#[test]
fn smtplib_dot_stuffed_lines_arrive_intact() {
    let dir = tempfile::tempdir().unwrap();
    let (srv, md) = maildir_server(dir.path());
    python(
        r#"
import smtplib, sys
port = int(sys.argv[1])
msg = b"Subject: dots\r\n\r\n.leading dot\r\n..two dots\r\n.\r\nnot the end\r\n. \r\nend\r\n"
with smtplib.SMTP("127.0.0.1", port) as s:
    s.sendmail("a@sender.example", ["bob@test.example"], msg)
"#,
        &[&srv.addr.port().to_string()],
    );
    let stored = maildir_messages(&md);
    assert_eq!(stored.len(), 1);
    assert_eq!(
        body_after_received(&stored[0]),
        b"Subject: dots\r\n\r\n.leading dot\r\n..two dots\r\n.\r\nnot the end\r\n. \r\nend\r\n"
    );
    assert!(String::from_utf8_lossy(&stored[0]).contains("for <bob@test.example>"));
}

#[test]
fn smtplib_ten_megabyte_message() {
    let dir = tempfile::tempdir().unwrap();
    let (srv, md) = maildir_server(dir.path());
    let out = python(
        r#"
import smtplib, sys, hashlib
port = int(sys.argv[1])
line = b"0123456789abcdefghijklmnopqrstuvwxyz" * 2 + b"\r\n"
body = line * (10 * 1024 * 1024 // len(line) + 1)
msg = b"Subject: big\r\n\r\n" + body
with smtplib.SMTP("127.0.0.1", port) as s:
    s.sendmail("a@sender.example", ["bob@test.example"], msg)
print(len(msg), hashlib.sha256(msg).hexdigest())
"#,
        &[&srv.addr.port().to_string()],
    );
    let mut it = out.split_whitespace();
    let len: usize = it.next().unwrap().parse().unwrap();
    assert!(len > 10 * 1024 * 1024);
    let stored = maildir_messages(&md);
    assert_eq!(stored.len(), 1);
    let body = body_after_received(&stored[0]);
    assert_eq!(body.len(), len);
    assert!(body.starts_with(b"Subject: big\r\n\r\n0123456789"));
}

#[test]
fn smtplib_size_over_limit_is_552() {
    let dir = tempfile::tempdir().unwrap();
    let md = dir.path().join("Maildir");
    let srv = TestServer::start(ServerOptions {
        delivery: Delivery::Maildir(md.clone()),
        max_message_size: 1000,
        ..options()
    });
    let out = python(
        r#"
import smtplib, sys
port = int(sys.argv[1])
with smtplib.SMTP("127.0.0.1", port) as s:
    s.ehlo()
    print("SIZE", s.esmtp_features.get("size"))
    try:
        s.sendmail("a@sender.example", ["bob@test.example"], b"Subject: x\r\n\r\n" + b"y" * 5000)
    except smtplib.SMTPSenderRefused as e:
        print("refused", e.smtp_code)
"#,
        &[&srv.addr.port().to_string()],
    );
    // smtplib announces SIZE= and we refuse at MAIL.
    assert!(out.contains("SIZE 1000"), "{out}");
    assert!(out.contains("refused 552"), "{out}");
    assert!(maildir_messages(&md).is_empty());
}

#[test]
fn swaks_pipelined_delivery() {
    let dir = tempfile::tempdir().unwrap();
    let (srv, md) = maildir_server(dir.path());
    let out = std::process::Command::new(peer("swaks"))
        .args([
            "--server",
            &srv.addr.to_string(),
            "--from",
            "alice@sender.example",
            "--to",
            "bob@test.example,carol@test.example",
        ])
        .args(["--pipeline", "--helo", "client.example", "--header", "Subject: swaks pipelined"])
        .output()
        .unwrap();
    let transcript = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{transcript}\n{}", String::from_utf8_lossy(&out.stderr));
    assert!(transcript.contains("PIPELINING"), "{transcript}");
    let stored = maildir_messages(&md);
    assert_eq!(stored.len(), 1);
    let text = String::from_utf8_lossy(&stored[0]);
    assert!(text.contains("Received: from client.example (unknown [127.0.0.1])"), "{text}");
    assert!(text.contains("Subject: swaks pipelined"), "{text}");
}

#[test]
fn swaks_auth_over_starttls() {
    let dir = tempfile::tempdir().unwrap();
    let (cert, key) = test_cert(dir.path());
    let md = dir.path().join("Maildir");
    let users = StaticCredentials([("alice".to_string(), "s3cret".to_string())].into_iter().collect());
    let opts = ServerOptions {
        delivery: Delivery::Maildir(md.clone()),
        tls_cert: Some(cert),
        tls_key: Some(key),
        auth: Some(std::sync::Arc::new(users)),
        ..options()
    };
    let srv = TestServer::start(opts);
    let swaks = |pass: &str, to: &str| {
        std::process::Command::new(peer("swaks"))
            .args(["--server", &srv.addr.to_string(), "--from", "alice@sender.example", "--to", to])
            .args(["--tls", "--auth", "PLAIN", "--auth-user", "alice", "--auth-password", pass])
            .output()
            .unwrap()
    };
    // Authenticated clients may relay.
    let ok = swaks("s3cret", "friend@elsewhere.example");
    let t = String::from_utf8_lossy(&ok.stdout);
    assert!(ok.status.success(), "{t}\n{}", String::from_utf8_lossy(&ok.stderr));
    assert!(t.contains("235 2.7.0"), "{t}");
    let stored = maildir_messages(&md);
    assert_eq!(stored.len(), 1);
    assert!(String::from_utf8_lossy(&stored[0]).contains("with ESMTPSA id"));
    // A wrong password is 535.
    let bad = swaks("wrong", "bob@test.example");
    assert!(!bad.status.success());
    assert!(String::from_utf8_lossy(&bad.stdout).contains("535 5.7.8"));
    assert_eq!(maildir_messages(&md).len(), 1);
}

#[test]
fn swaks_auth_refused_without_tls() {
    let users = StaticCredentials([("alice".to_string(), "s3cret".to_string())].into_iter().collect());
    let srv = TestServer::start(ServerOptions { auth: Some(std::sync::Arc::new(users)), ..options() });
    let mut raw = Raw::connect(srv.addr);
    raw.reply();
    let (code, ehlo) = raw.cmd("EHLO c.example");
    assert_eq!(code, 250);
    assert!(!ehlo.contains("AUTH"), "AUTH must not be offered in plaintext: {ehlo}");
    assert_eq!(raw.cmd("AUTH PLAIN AGFsaWNlAHMzY3JldA==").0, 538);
}

#[test]
fn smtp_source_twenty_sessions_two_thousand_messages_all_stored() {
    let dir = tempfile::tempdir().unwrap();
    let (srv, md) = maildir_server(dir.path());
    let out = std::process::Command::new(peer("smtp-source"))
        .args(["-s", "20", "-m", "2000", "-f", "src@sender.example", "-t", "sink@test.example"])
        .arg(srv.addr.to_string())
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert_eq!(maildir_messages(&md).len(), 2000);
    assert_eq!(srv.server.stats().messages_accepted, 2000);
}
