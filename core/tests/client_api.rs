//! The API decisions of issue 7 §3, on the wire: a host name that does not resolve is a `dns`
//! error; when every recipient is refused the error carries every refusal (`transient` when any
//! was 4xx); `timeout` bounds each reply but not the one after the final dot (`data_timeout`);
//! implicit TLS defaults to port 465. The peer is our own server, whose RCPT hook refuses chosen
//! recipients and whose message hook can hold its reply.

mod client_support;

use std::time::Duration;

use client_support::our_server::{start, Script};
use client_support::{free_port, opts};
use postwire::client::{send_mail, Client, ClientOptions, ClientTimeouts, SendMailOptions, TlsMode};
use postwire::server::ServerOptions;
use postwire::{ErrorKind, Reply};

fn rcpts(v: &[&str]) -> Vec<String> {
    v.iter().map(|s| s.to_string()).collect()
}

fn refusing() -> Script {
    let mut s = Script::default();
    s.refuse.insert("gone@test.example".into(), Reply::new(550, "5.1.1 No such user here", None));
    s.refuse.insert("moved@test.example".into(), Reply::new(553, "5.1.2 Moved away", None));
    s.refuse.insert("busy@test.example".into(), Reply::new(451, "4.2.1 Mailbox busy, try later", None));
    s
}

#[tokio::test]
async fn unresolvable_host_is_dns_and_refused_port_is_connect() {
    let e = Client::connect(ClientOptions::new("no-such-host.invalid", 25)).await.expect_err("NXDOMAIN");
    assert_eq!(e.kind(), ErrorKind::Dns, "{e}");
    assert!(e.message().contains("no-such-host.invalid"), "{e}");
    let mut o = ClientOptions::new("127.0.0.1", free_port());
    o.tls = TlsMode::None;
    let e = Client::connect(o).await.expect_err("nobody listens");
    assert_eq!(e.kind(), ErrorKind::Connect, "{e}");
}

#[tokio::test]
async fn implicit_tls_without_a_port_goes_to_465() {
    let mut o = ClientOptions::for_host("127.0.0.1");
    o.tls = TlsMode::Implicit;
    o.timeouts = ClientTimeouts::uniform(Duration::from_secs(5));
    assert_eq!(o.effective_port(), 465);
    // Whatever happens there (nothing listens in the test sandbox), it happens on port 465.
    if let Err(e) = Client::connect(o).await {
        assert!(e.message().contains("127.0.0.1:465"), "{e}");
    }
}

#[tokio::test]
async fn every_refusal_travels_with_the_error() {
    let srv = start(ServerOptions::default(), refusing());
    let mut c = Client::connect(opts(srv.port)).await.expect("connect");

    // All permanent: `rejected`, every refusal in order, the last reply attached.
    let e = c
        .send("a@example.org", &rcpts(&["gone@test.example", "moved@test.example"]), b"x\r\n")
        .await
        .expect_err("all refused");
    assert_eq!(e.kind(), ErrorKind::Rejected, "{e}");
    let got: Vec<_> = e.rejected().iter().map(|r| (r.rcpt.as_str(), r.reply.code)).collect();
    assert_eq!(got, [("gone@test.example", 550), ("moved@test.example", 553)]);
    assert_eq!(e.rejected()[0].reply.enhanced.as_deref(), Some("5.1.1"));
    assert_eq!(e.reply().map(|r| r.code), Some(553));
    assert_eq!(c.last_refused(), e.rejected(), "the convenience copy on the session agrees");

    // One of them 4xx: `transient` (a later try may get through), its reply attached.
    let e = c
        .send("a@example.org", &rcpts(&["busy@test.example", "gone@test.example"]), b"x\r\n")
        .await
        .expect_err("all refused");
    assert_eq!(e.kind(), ErrorKind::Transient, "{e}");
    let got: Vec<_> = e.rejected().iter().map(|r| (r.rcpt.as_str(), r.reply.code)).collect();
    assert_eq!(got, [("busy@test.example", 451), ("gone@test.example", 550)]);
    assert_eq!(e.reply().map(|r| r.code), Some(451));

    // The session is still usable, and a partly refused send succeeds with the refusal listed.
    let r = c.send("a@example.org", &rcpts(&["ok@test.example", "gone@test.example"]), b"x\r\n").await;
    let r = r.expect("one accepted");
    assert_eq!(r.accepted, rcpts(&["ok@test.example"]));
    assert_eq!((r.rejected.len(), r.rejected[0].reply.code), (1, 550));
    c.quit().await.expect("quit");
    assert_eq!(srv.stored().len(), 1);
}

#[tokio::test]
async fn send_mail_gives_each_refused_recipient_its_own_reply() {
    let srv = start(ServerOptions::default(), refusing());
    let mut o = SendMailOptions::smarthost("127.0.0.1", srv.port);
    o.tls = TlsMode::None;
    o.hello_name = Some("client.test".into());
    let all = rcpts(&["gone@test.example", "busy@test.example", "moved@test.example"]);
    let results = send_mail("a@example.org", &all, b"x\r\n", &o).await.expect("attempted");
    let got: Vec<_> = results
        .iter()
        .map(|r| (r.rcpt.as_str(), r.ok, r.reply.as_ref().map(|x| x.code), r.error.as_ref().map(|e| e.0)))
        .collect();
    assert_eq!(
        got,
        [
            ("gone@test.example", false, Some(550), Some(ErrorKind::Rejected)),
            ("busy@test.example", false, Some(451), Some(ErrorKind::Transient)),
            ("moved@test.example", false, Some(553), Some(ErrorKind::Rejected)),
        ]
    );
}

#[tokio::test]
async fn timeout_does_not_cut_the_wait_for_the_final_reply() {
    let script = Script { hold: true, ..Script::default() };
    let srv = start(ServerOptions::default(), script);
    // Every reply within 1 s — but the one after the final dot waits `data_end` (600 s).
    let mut o = opts(srv.port);
    o.timeouts = ClientTimeouts::from_timeout(Duration::from_secs(1));
    let c = Client::connect(o).await.expect("connect").into_handle();
    let sender = c.clone();
    let send = tokio::spawn(async move {
        sender.send("a@example.org", &rcpts(&["b@test.example"]), b"Subject: slow\r\n\r\nx\r\n").await
    });
    assert!(srv.arrived().await, "the message never reached the server");
    // The server holds its reply three times as long as `timeout`, then accepts.
    tokio::time::sleep(Duration::from_secs(3)).await;
    srv.release();
    let r = send.await.expect("task").expect("accepted after the slow final reply");
    assert_eq!(r.reply.code, 250);
    c.quit().await.expect("quit");

    // With `data_end` short, the same wait is a `timeout` error.
    let mut o = opts(srv.port);
    o.timeouts = ClientTimeouts::from_seconds(Some(10.0), Some(0.5), [("banner", 10.0)]).expect("valid");
    let mut c = Client::connect(o).await.expect("connect");
    let e = c.send("a@example.org", &rcpts(&["b@test.example"]), b"x\r\n").await.expect_err("held");
    assert_eq!(e.kind(), ErrorKind::Timeout, "{e}");
    assert!(c.is_closed());
    srv.release();
}
