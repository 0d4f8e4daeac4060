//! compose() and send_mail() end to end against aiosmtpd: the stored message parses back with
//! mail-parser, Bcc is in the envelope only, and every recipient gets its own result.

mod pool_support;

use pool_support::{aiosmtpd, opts, wait_for_files};
use postwire::client::{compose, send_mail, Attachment, ComposeOptions, SendMailOptions, TlsMode};
use postwire::ErrorKind;

fn smarthost(port: u16) -> SendMailOptions {
    let mut o = SendMailOptions::smarthost("127.0.0.1", port);
    o.tls = TlsMode::None;
    o.hello_name = Some("compose.test".into());
    o.timeouts = opts(port).timeouts;
    o
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn composed_message_with_bcc_html_and_attachment_round_trips_through_aiosmtpd() {
    let peer = aiosmtpd(&[]);
    let mut c = ComposeOptions::new(
        "Zoë Sender <sender@example.org>",
        vec!["Bob <bob@example.net>".into()],
        "Grüße — report",
        "See the attachment.\n",
    );
    c.cc = vec!["carol@example.net".into()];
    c.bcc = vec!["Hidden Dave <dave@example.com>".into()];
    c.html = Some("<p>See the <b>attachment</b>.</p>".into());
    c.attachments = vec![Attachment::new("données.bin", "application/octet-stream", (0..=255u8).collect())];
    let raw = compose(&c).expect("compose");
    let rcpts = c.recipients().expect("recipients");
    assert_eq!(rcpts, vec!["bob@example.net", "carol@example.net", "dave@example.com"]);

    let res = send_mail(&c.sender().expect("sender"), &rcpts, &raw, &smarthost(peer.port))
        .await
        .expect("send_mail");
    assert_eq!(res.len(), 3);
    assert!(res.iter().all(|r| r.ok && r.error.is_none()), "{res:?}");

    let files = wait_for_files(peer.dir.path(), "eml", 1);
    let stored = std::fs::read(&files[0]).expect("stored message");
    let meta: serde_json::Value =
        serde_json::from_slice(&std::fs::read(files[0].with_extension("json")).expect("meta")).expect("json");
    assert_eq!(
        meta["rcpt_tos"],
        serde_json::json!(["bob@example.net", "carol@example.net", "dave@example.com"])
    );
    assert_eq!(meta["mail_from"], "sender@example.org");

    // No Bcc header, and neither the Bcc address nor its display name anywhere. (Searching for
    // "bcc" alone would trip over random hex in the Message-ID or MIME boundaries.)
    let text = String::from_utf8_lossy(&stored).to_lowercase();
    assert!(!text.starts_with("bcc:") && !text.contains("\nbcc:"), "a Bcc header leaked into the message");
    assert!(
        !text.contains("dave@example.com") && !text.contains("hidden dave"),
        "Bcc leaked into the message"
    );
    let m = mail_parser::MessageParser::default().parse(&stored).expect("parse stored message");
    assert_eq!(m.subject(), Some("Grüße — report"));
    assert_eq!(m.from().and_then(|a| a.first()).and_then(|a| a.name()), Some("Zoë Sender"));
    assert_eq!(m.attachment_count(), 1);
    assert_eq!(m.attachment(0).map(|a| a.contents().len()), Some(256));
    assert!(m.message_id().is_some_and(|id| id.ends_with("@example.org")));
    assert!(m.date().is_some());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn send_mail_reports_each_recipient() {
    let peer = aiosmtpd(&["--refuse", "nobody@example.net"]);
    let rcpts: Vec<String> =
        vec!["a@example.net".into(), "nobody@example.net".into(), "c@example.net".into()];
    let msg = b"Subject: three\r\n\r\nRFC 821's example\r\n";
    let res = send_mail("s@example.org", &rcpts, msg, &smarthost(peer.port)).await.expect("send_mail");
    let oks: Vec<bool> = res.iter().map(|r| r.ok).collect();
    assert_eq!(oks, vec![true, false, true]);
    assert_eq!(res[1].reply.as_ref().map(|r| r.code), Some(550));
    assert_eq!(res[1].error.as_ref().map(|e| e.0), Some(ErrorKind::Rejected));
    assert_eq!(res[0].reply.as_ref().map(|r| r.code), Some(250));

    // Every recipient refused: each carries the failure.
    let all_bad: Vec<String> = vec!["nobody@example.net".into()];
    let res = send_mail("s@example.org", &all_bad, msg, &smarthost(peer.port)).await.expect("send_mail");
    assert!(!res[0].ok);
    assert_eq!(res[0].error.as_ref().map(|e| e.0), Some(ErrorKind::Rejected));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn send_mail_connection_failure_is_per_recipient_and_bad_input_is_an_error() {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("port");
    let rcpts: Vec<String> = vec!["a@example.net".into(), "b@example.net".into()];
    let res = send_mail("s@example.org", &rcpts, b"x\r\n", &smarthost(port)).await.expect("attempted");
    assert_eq!(res.len(), 2);
    assert!(
        res.iter().all(|r| !r.ok && r.error.as_ref().map(|e| e.0) == Some(ErrorKind::Connect)),
        "{res:?}"
    );

    // Without a smarthost send_mail routes by MX: tests/delivery_mx.rs covers that path.
    for bad in ["a@example.net\r\nRCPT TO:<x@y.z>", "not an address", ""] {
        let e = send_mail("s@example.org", &[bad.to_string()], b"x\r\n", &smarthost(port)).await.unwrap_err();
        assert_eq!(e.kind(), ErrorKind::InvalidInput, "{bad:?}");
    }
    let e = send_mail("s@example.org\r\n", &rcpts, b"x\r\n", &smarthost(port)).await.unwrap_err();
    assert_eq!(e.kind(), ErrorKind::InvalidInput);
}

/// Our own server refusing every recipient, each with its own reply: send_mail reports each
/// recipient's own RCPT reply, not the last one for all.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn send_mail_all_refused_keeps_each_recipients_reply() {
    use postwire::proto::Reply;
    use postwire::server::{HookFuture, Hooks, Server, ServerOptions, SessionInfo};
    use std::sync::Arc;

    struct RefuseEach;
    impl Hooks for RefuseEach {
        fn on_rcpt_to(
            &self,
            _s: SessionInfo,
            address: String,
            _p: postwire::proto::RcptParams,
        ) -> Option<HookFuture> {
            let reply = if address.starts_with("gone@") {
                Reply::new(550, "No such user here", Some("5.1.1"))
            } else {
                Reply::new(450, "Mailbox busy, try later", Some("4.2.1"))
            };
            Some(Box::pin(async move { Ok(Some(reply)) }))
        }
    }
    let server = Arc::new(
        Server::with_hooks(
            ServerOptions {
                hostname: "mx.test".into(),
                local_domains: vec!["example.net".into()],
                ..Default::default()
            },
            Arc::new(RefuseEach),
        )
        .unwrap(),
    );
    let addr = server.listen("127.0.0.1:0".parse().unwrap()).unwrap();
    let s = Arc::clone(&server);
    let serving = tokio::spawn(async move { s.serve().await });

    let rcpts = vec!["gone@example.net".to_string(), "busy@example.net".to_string()];
    let res = send_mail("a@example.org", &rcpts, b"Subject: x\r\n\r\ny\r\n", &smarthost(addr.port()))
        .await
        .expect("send_mail reports per recipient");
    assert_eq!(res.len(), 2);
    assert_eq!(res[0].reply.as_ref().map(|r| r.code), Some(550), "{res:?}");
    assert_eq!(res[0].error.as_ref().map(|e| e.0), Some(ErrorKind::Rejected));
    assert_eq!(res[1].reply.as_ref().map(|r| r.code), Some(450), "{res:?}");
    assert_eq!(res[1].error.as_ref().map(|e| e.0), Some(ErrorKind::Transient));
    server.stop();
    serving.await.unwrap().unwrap();
}
