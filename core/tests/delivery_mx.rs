//! Delivery by MX against real receiving servers on 127.0.0.x, routed by the test DNS server:
//! our own server, aiosmtpd and Postfix's smtp-sink. `send_mail` without a smarthost and
//! `delivery::deliver` take the same path.

mod route_support;

use postwire::client::{send_mail, SendMailOptions, TlsMode};
use postwire::delivery::{deliver, Recipient, Status};
use postwire::ErrorKind;
use route_support::*;

fn send_opts(dns: &postwire_testdns::TestDns, port: u16) -> SendMailOptions {
    SendMailOptions {
        port,
        nameservers: Some(vec![dns.nameserver()]),
        allow_loopback: true,
        tls: TlsMode::None,
        hello_name: Some("client.test".into()),
        timeouts: postwire::client::ClientTimeouts::uniform(std::time::Duration::from_secs(10)),
        ..Default::default()
    }
}

const MSG: &[u8] = b"From: s@sender.test\r\nTo: u@backup.test\r\nSubject: routed\r\n\r\nHello by MX.\r\n";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn primary_down_the_backup_takes_it() {
    let dns = dns();
    let port = port_free_on(&["127.0.0.31", "127.0.0.32"]);
    // Nothing listens on mx1 (127.0.0.31): connection refused.
    let backup = Receiver::start("127.0.0.32", port, &["backup.test"], Behaviour::default());
    let res = send_mail("s@sender.test", &["u@backup.test".into()], MSG, &send_opts(&dns, port))
        .await
        .expect("attempted");
    assert!(res[0].ok, "{res:?}");
    let got = backup.messages();
    assert_eq!(got.len(), 1);
    assert!(String::from_utf8_lossy(&got[0]).contains("Hello by MX."));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_loopback_guard_refuses_loopback_exchangers_unless_allowed() {
    let dns = dns();
    let port = port_free_on(&["127.0.0.32"]);
    let backup = Receiver::start("127.0.0.32", port, &["backup.test"], Behaviour::default());
    let mut o = send_opts(&dns, port);
    o.allow_loopback = false;
    let res = send_mail("s@sender.test", &["u@backup.test".into()], MSG, &o).await.expect("attempted");
    assert!(!res[0].ok);
    assert_eq!(res[0].error.as_ref().map(|e| e.0), Some(ErrorKind::Dns), "{res:?}");
    assert!(res[0].error.as_ref().unwrap().1.contains("allow_loopback"), "{res:?}");
    assert_eq!(res[0].reply.as_ref().map(|r| r.code), Some(554));
    assert!(backup.messages().is_empty(), "nothing was sent");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_transaction_per_destination_with_all_its_recipients() {
    let dns = dns();
    let port = port_free_on(&["127.0.0.33", "127.0.0.34"]);
    let dest = aiosmtpd_on("127.0.0.33", port);
    let other = Sink::start("127.0.0.34", port, &[]);
    let rcpts: Vec<String> = ["a@dest.test", "b@dest.test", "c@other.test"].map(String::from).to_vec();
    let res = send_mail("s@sender.test", &rcpts, MSG, &send_opts(&dns, port)).await.expect("attempted");
    assert!(res.iter().all(|r| r.ok), "{res:?}");
    assert_eq!(
        res.iter().map(|r| r.rcpt.as_str()).collect::<Vec<_>>(),
        ["a@dest.test", "b@dest.test", "c@other.test"]
    );
    let files = peer_support_files(dest.dir.path(), ".json", 1);
    let meta: serde_json::Value = serde_json::from_slice(&std::fs::read(&files[0]).unwrap()).unwrap();
    assert_eq!(meta["rcpt_tos"], serde_json::json!(["a@dest.test", "b@dest.test"]));
    assert!(wait_until(10, || other.dumped() == 1), "smtp-sink got {}", other.dumped());
}

fn peer_support_files(dir: &std::path::Path, ext: &str, n: usize) -> Vec<std::path::PathBuf> {
    let mut files = Vec::new();
    assert!(wait_until(20, || {
        files = std::fs::read_dir(dir)
            .map(|rd| rd.filter_map(|e| e.ok().map(|e| e.path())).collect())
            .unwrap_or_default();
        files.retain(|p: &std::path::PathBuf| p.to_string_lossy().ends_with(ext));
        files.len() >= n
    }));
    assert_eq!(files.len(), n);
    files
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_4xx_greeting_moves_on_but_a_5xx_after_the_banner_stops() {
    let dns = dns();
    let port = port_free_on(&["127.0.0.31", "127.0.0.32"]);
    let backup = Receiver::start("127.0.0.32", port, &["backup.test"], Behaviour::default());
    let opts = delivery_options(&dns, port);
    {
        let _greylist = Sink::start("127.0.0.31", port, &["-r", "CONNECT"]);
        let out = deliver("s@sender.test", &[Recipient::new("u@backup.test")], MSG, &opts).await;
        assert_eq!(out[0].status, Status::Delivered, "{out:?}");
        assert!(out[0].host.as_deref().unwrap_or("").contains("mx2.backup.test"), "{out:?}");
    }
    let refusing = Sink::start("127.0.0.31", port, &["-f", "RCPT"]);
    let out = deliver("s@sender.test", &[Recipient::new("v@backup.test")], MSG, &opts).await;
    assert_eq!(out[0].status, Status::Failed, "{out:?}");
    assert!(out[0].reply.as_ref().is_some_and(|r| r.is_permanent()), "{out:?}");
    assert_eq!(backup.messages().len(), 1, "the backup got only the first message");
    assert_eq!(refusing.dumped(), 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn null_mx_nxdomain_and_servfail_decide_without_connecting() {
    let dns = dns();
    let opts = delivery_options(&dns, 9);
    let rcpts =
        [Recipient::new("x@nullmx.test"), Recipient::new("y@nope.test"), Recipient::new("z@servfail.test")];
    let out = deliver("s@sender.test", &rcpts, MSG, &opts).await;
    assert_eq!(
        out.iter().map(|o| o.rcpt.as_str()).collect::<Vec<_>>(),
        ["x@nullmx.test", "y@nope.test", "z@servfail.test"]
    );
    assert_eq!(out[0].status, Status::Failed);
    let r = out[0].reply.as_ref().unwrap();
    assert_eq!((r.code, r.enhanced.as_deref()), (556, Some("5.1.10")));
    assert_eq!(out[1].status, Status::Failed, "NXDOMAIN is permanent: {:?}", out[1]);
    assert_eq!(out[1].kind, Some(ErrorKind::Dns));
    assert_eq!(out[2].status, Status::Deferred, "SERVFAIL is transient: {:?}", out[2]);
    assert_eq!(out[2].kind, Some(ErrorKind::Dns));
}
