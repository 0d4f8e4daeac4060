//! The client against Postfix's smtp-sink: pipelined and unpipelined sessions of many messages
//! checked byte for byte in smtp-sink's dump files, DSN parameters, 4xx/5xx refusals of RCPT
//! (`-r`/`-f`), and a server that hangs up after DATA (`-q`).

mod client_support;

use client_support::{opts, sink_message, smtp_sink, wait_for_files};
use postwire::client::{Client, DsnOptions, Notify, Ret, SendOptions};
use postwire::ErrorKind;

fn rcpts(v: &[&str]) -> Vec<String> {
    v.iter().map(|s| s.to_string()).collect()
}

/// smtp-sink dumps with LF line ends.
fn lf(m: &[u8]) -> Vec<u8> {
    let n = client_support::normalized(m);
    String::from_utf8_lossy(&n).replace("\r\n", "\n").into_bytes()
}

fn message(i: usize) -> Vec<u8> {
    format!("From: a@example.test\r\nSubject: message {i}\r\n\r\n.line {i}\r\n..\r\nend\n").into_bytes()
}

async fn many(extra: &[&str], pipelined: bool) {
    let peer = smtp_sink(extra);
    let mut c = Client::connect(opts(peer.port)).await.expect("connect");
    assert_eq!(c.capabilities().has("PIPELINING"), pipelined);
    for i in 0..20 {
        let r = c
            .send("a@example.test", &rcpts(&["b@example.test", "c@example.test"]), &message(i))
            .await
            .expect("send");
        assert_eq!(r.accepted.len(), 2);
    }
    c.quit().await.expect("quit");
    let files = wait_for_files(peer.dir.path(), "", 20);
    let mut got: Vec<Vec<u8>> =
        files.iter().map(|f| sink_message(&std::fs::read(f).expect("read"))).collect();
    let mut want: Vec<Vec<u8>> = (0..20).map(|i| lf(&message(i))).collect();
    got.sort();
    want.sort();
    assert_eq!(got, want);
}

#[tokio::test]
async fn pipelined_session_of_twenty() {
    many(&[], true).await;
}

#[tokio::test]
async fn unpipelined_session_of_twenty() {
    many(&["-p"], false).await;
}

#[tokio::test]
async fn dsn_parameters_when_offered() {
    let peer = smtp_sink(&[]);
    let mut c = Client::connect(opts(peer.port)).await.expect("connect");
    assert!(c.capabilities().has("DSN"));
    let env = SendOptions {
        mail_from: "a@example.test".into(),
        rcpt_to: rcpts(&["b@example.test"]),
        dsn: Some(DsnOptions {
            ret: Some(Ret::Hdrs),
            envid: Some("id+1 x".into()),
            notify: Some(Notify { success: true, failure: true, ..Default::default() }),
            orcpt: true,
        }),
        ..Default::default()
    };
    c.send_with(&env, b"Subject: dsn\r\n\r\nx\r\n").await.expect("send");
    c.quit().await.expect("quit");
    let files = wait_for_files(peer.dir.path(), "", 1);
    let dump = String::from_utf8_lossy(&std::fs::read(&files[0]).expect("read")).into_owned();
    assert!(dump.contains("X-Mail-Args: <a@example.test> RET=HDRS ENVID=id+2B1+20x"), "{dump}");
    assert!(
        dump.contains("X-Rcpt-Args: <b@example.test> NOTIFY=SUCCESS,FAILURE ORCPT=rfc822;b@example.test"),
        "{dump}"
    );

    // Without DSN on offer (-N) the parameters are left out.
    let peer = smtp_sink(&["-N"]);
    let mut c = Client::connect(opts(peer.port)).await.expect("connect");
    c.send_with(&env, b"Subject: dsn\r\n\r\nx\r\n").await.expect("send");
    c.quit().await.expect("quit");
    let files = wait_for_files(peer.dir.path(), "", 1);
    let dump = String::from_utf8_lossy(&std::fs::read(&files[0]).expect("read")).into_owned();
    assert!(dump.contains("X-Mail-Args: <a@example.test>\n"), "{dump}");
}

#[tokio::test]
async fn refused_recipients_soft_and_hard() {
    let peer = smtp_sink(&["-r", "RCPT"]);
    let mut c = Client::connect(opts(peer.port)).await.expect("connect");
    let e = c
        .send("a@example.test", &rcpts(&["b@example.test", "c@example.test"]), b"x\r\n")
        .await
        .expect_err("4xx");
    assert_eq!(e.kind(), ErrorKind::Transient);
    assert_eq!(e.reply().map(|r| r.code), Some(450));
    assert!(!c.is_closed());
    c.quit().await.expect("quit");

    let peer = smtp_sink(&["-f", "RCPT"]);
    let mut c = Client::connect(opts(peer.port)).await.expect("connect");
    let e = c.send("a@example.test", &rcpts(&["b@example.test"]), b"x\r\n").await.expect_err("5xx");
    assert_eq!(e.kind(), ErrorKind::Rejected);
    assert_eq!(e.reply().map(|r| r.code), Some(500));
    c.quit().await.expect("quit");

    let peer = smtp_sink(&["-r", "MAIL"]);
    let mut c = Client::connect(opts(peer.port)).await.expect("connect");
    let e = c.send("a@example.test", &rcpts(&["b@example.test"]), b"x\r\n").await.expect_err("MAIL 4xx");
    assert_eq!(e.kind(), ErrorKind::Transient);
    c.quit().await.expect("quit");
}

#[tokio::test]
async fn server_hangs_up_after_data() {
    let peer = smtp_sink(&["-q", "DATA"]);
    let mut c = Client::connect(opts(peer.port)).await.expect("connect");
    let e = c.send("a@example.test", &rcpts(&["b@example.test"]), b"x\r\n").await.expect_err("hang up");
    assert_eq!(e.kind(), ErrorKind::Protocol, "{e}");
    assert!(c.is_closed());
}
