//! The server in relay mode through the durable queue (`delivery="queue:PATH"`): real clients
//! (swaks, smtplib, a raw session) → our server → its queue runner → a receiving server on
//! 127.0.0.x, reached through a smarthost or by MX from the test DNS server. The 250 comes only
//! once the message is on disk; a failing disk answers 451 and keeps nothing; too little free
//! space answers 452 4.3.1 at MAIL; 4xx is retried, 5xx bounces with one DSN to the sender's
//! server (none to `<>`), NOTIFY=SUCCESS gets its notice.

// Both support modules load `peer_support`: the receivers and DNS of the routing tests, the raw
// client and test server of the server tests.
#![allow(clippy::duplicate_mod)]

mod route_support;
mod server_support;

use std::path::Path;
use std::process::Command;
use std::time::Duration;

use postwire::queue::RcptStatus;
use postwire::server::{Delivery, ServerOptions, ServerTimeouts};
use route_support::*;
use server_support::{peer, python, Raw, TestServer};

const HOST: &str = "mx.relay.test";

/// Queue-mode options: relay for loopback clients, MX routing through the test DNS to `port`.
fn queue_opts(spool: &Path, dns: &postwire_testdns::TestDns, port: u16) -> ServerOptions {
    ServerOptions {
        hostname: HOST.into(),
        relay_networks: vec!["127.0.0.0/8".parse().unwrap()],
        delivery: Delivery::Queue(spool.to_path_buf()),
        nameservers: Some(vec![dns.nameserver()]),
        queue_port: port,
        allow_loopback: true,
        queue_retry: Some(vec![0.2]),
        timeouts: ServerTimeouts::uniform(Duration::from_secs(20)),
        ..Default::default()
    }
}

/// Entries left in the server's queue.
fn queued(srv: &TestServer) -> usize {
    srv.server.queue().expect("queue mode").list().expect("list").len()
}

/// Messages in the spool as a restart would find them (read without its lock).
fn spooled(spool: &Path) -> usize {
    postwire::queue::Spool::snapshot(spool).map(|v| v.len()).unwrap_or(0)
}

/// One message over a raw session; returns the reply to the end of data.
fn send_raw(srv: &TestServer, from: &str, rcpt: &str, body: &str) -> (u16, String) {
    let mut c = Raw::greeted(srv.addr);
    let r = c.cmd(&format!("MAIL FROM:<{from}>"));
    if r.0 != 250 {
        return r;
    }
    let r = c.cmd(&format!("RCPT TO:<{rcpt}>"));
    assert_eq!(r.0, 250, "{r:?}");
    assert_eq!(c.cmd("DATA").0, 354);
    c.send(format!("From: <{from}>\r\nSubject: queued\r\n\r\n{body}\r\n.\r\n").as_bytes());
    let r = c.reply();
    let _ = c.cmd("QUIT");
    r
}

#[test]
fn swaks_through_the_queue_to_smtp_sink_via_the_smarthost() {
    let dns = dns();
    let port = port_free_on(&["127.0.0.2"]);
    let sink = Sink::start("127.0.0.2", port, &[]);
    let spool = tempfile::tempdir().unwrap();
    let opts = ServerOptions {
        queue_smarthost: Some(format!("127.0.0.2:{port}")),
        nameservers: None,
        queue_port: 25,
        ..queue_opts(spool.path(), &dns, port)
    };
    let srv = TestServer::start(opts);
    let out = Command::new(peer("swaks"))
        .args(["--server", &srv.addr.to_string(), "--from", "alice@sender.test", "--to", "bob@far.test"])
        .args(["--helo", "client.test", "--header", "Subject: through the queue"])
        .output()
        .unwrap();
    let transcript = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{transcript}\n{}", String::from_utf8_lossy(&out.stderr));
    assert!(transcript.contains("250-DSN"), "queue mode offers DSN: {transcript}");
    assert!(transcript.contains("queued as"), "{transcript}");
    assert!(wait_until(20, || sink.dumped() == 1), "smtp-sink got {} messages", sink.dumped());
    assert!(wait_until(10, || queued(&srv) == 0), "the delivered entry leaves the queue");
    assert_eq!(spooled(spool.path()), 0);
}

#[test]
fn smtplib_through_the_queue_by_mx_with_dsn_parameters() {
    let dns = dns();
    let port = port_free_on(&["127.0.0.33"]);
    let dest = Receiver::start("127.0.0.33", port, &["dest.test"], Behaviour::default());
    let spool = tempfile::tempdir().unwrap();
    let srv = TestServer::start(queue_opts(spool.path(), &dns, port));
    let script = r#"
import smtplib, sys
s = smtplib.SMTP(sys.argv[1], int(sys.argv[2]), local_hostname="client.test", timeout=20)
s.ehlo()
assert s.has_extn("dsn"), s.esmtp_features
msg = b"From: s@sender.test\r\nTo: x@dest.test\r\nSubject: by mx\r\n\r\nRouted by MX.\r\n"
s.sendmail("s@sender.test", ["x@dest.test"], msg, mail_options=["RET=HDRS", "ENVID=E42"],
           rcpt_options=["NOTIFY=FAILURE", "ORCPT=rfc822;alias@dest.test"])
s.quit()
print("sent")
"#;
    let out = python(script, &[&srv.addr.ip().to_string(), &srv.addr.port().to_string()]);
    assert!(out.contains("sent"), "{out}");
    assert!(wait_until(20, || dest.messages().len() == 1), "delivered by MX to 127.0.0.33");
    let text = String::from_utf8_lossy(&dest.messages()[0]).into_owned();
    assert!(text.contains("Routed by MX.") && text.contains(&format!("by {HOST}")), "{text}");
    assert_eq!(dest.seen(), [("s@sender.test".to_string(), vec!["x@dest.test".to_string()])]);
    assert!(wait_until(10, || queued(&srv) == 0));
}

#[test]
fn a_4xx_at_the_receiver_stays_queued_and_is_retried_until_delivered() {
    let dns = dns();
    let port = port_free_on(&["127.0.0.33"]);
    let b = Behaviour { defer_first: 2.into(), ..Default::default() };
    let dest = Receiver::start("127.0.0.33", port, &["dest.test"], b);
    let spool = tempfile::tempdir().unwrap();
    let srv = TestServer::start(queue_opts(spool.path(), &dns, port));
    let (code, text) = send_raw(&srv, "s@sender.test", "x@dest.test", "retried");
    assert_eq!(code, 250, "{text}");
    let q = srv.server.queue().unwrap();
    // Seen deferred at least once: pending with a 451 from the receiver.
    assert!(
        wait_until(20, || q.list().unwrap().iter().any(|e| e.recipients[0].status == RcptStatus::Pending
            && e.recipients[0].last_reply.as_ref().is_some_and(|r| r.code == 451))
            || !dest.messages().is_empty()),
        "never deferred"
    );
    assert!(wait_until(20, || dest.messages().len() == 1), "delivered on a retry");
    assert_eq!(dest.behaviour.defer_first.load(std::sync::atomic::Ordering::SeqCst), 0, "both 4xx seen");
    assert!(wait_until(10, || queued(&srv) == 0));
    assert_eq!(dest.messages().len(), 1, "delivered once");
}

#[test]
fn a_5xx_bounces_with_one_dsn_to_the_sender_and_none_to_the_null_sender() {
    let dns = dns();
    let port = port_free_on(&["127.0.0.33", "127.0.0.35"]);
    let dest = Receiver::start(
        "127.0.0.33",
        port,
        &["dest.test"],
        Behaviour { refuse_bad: true, ..Default::default() },
    );
    let sender = Receiver::start("127.0.0.35", port, &["sender.test"], Behaviour::default());
    let spool = tempfile::tempdir().unwrap();
    let srv = TestServer::start(queue_opts(spool.path(), &dns, port));
    assert_eq!(send_raw(&srv, "", "bad1@dest.test", "from the null sender").0, 250);
    assert!(wait_until(20, || queued(&srv) == 0), "the bounce to <> is dropped");
    assert_eq!(send_raw(&srv, "s@sender.test", "bad2@dest.test", "bounced").0, 250);
    assert!(wait_until(20, || sender.messages().len() == 1), "a DSN reaches the sender's server");
    assert!(wait_until(10, || queued(&srv) == 0));
    // Let the runner go round again: still exactly one notice, and nothing for <>.
    std::thread::sleep(Duration::from_millis(500));
    let dsns = sender.messages();
    assert_eq!(dsns.len(), 1, "exactly one DSN");
    assert_eq!(sender.seen()[0].0, "", "a DSN comes from <>");
    let text = String::from_utf8_lossy(&dsns[0]);
    assert!(
        text.contains("Final-Recipient: rfc822; bad2@dest.test") && text.contains("Status: 5.1.1"),
        "{text}"
    );
    assert!(!text.contains("bad1@dest.test"), "{text}");
    assert!(dest.messages().is_empty());
}

#[test]
fn notify_success_for_a_local_recipient_gets_a_delivered_notice() {
    let dns = dns();
    let port = port_free_on(&["127.0.0.35"]);
    let sender = Receiver::start("127.0.0.35", port, &["sender.test"], Behaviour::default());
    let spool = tempfile::tempdir().unwrap();
    let local = tempfile::tempdir().unwrap();
    let opts = ServerOptions {
        local_domains: vec!["relay.test".into()],
        local_maildir: Some(local.path().join("Maildir")),
        ..queue_opts(spool.path(), &dns, port)
    };
    let srv = TestServer::start(opts);
    let mut c = Raw::greeted(srv.addr);
    assert_eq!(c.cmd("MAIL FROM:<s@sender.test> ENVID=OK-1").0, 250);
    assert_eq!(c.cmd("RCPT TO:<postmaster@relay.test> NOTIFY=SUCCESS").0, 250);
    assert_eq!(c.cmd(&format!("RCPT TO:<root@{HOST}>")).0, 250);
    assert_eq!(c.cmd("DATA").0, 354);
    c.send(b"Subject: local\r\n\r\nKept here.\r\n.\r\n");
    assert_eq!(c.reply().0, 250);
    let _ = c.cmd("QUIT");
    let md = local.path().join("Maildir");
    assert!(wait_until(20, || maildir_messages(&md).len() == 1), "delivered into the local Maildir");
    assert!(String::from_utf8_lossy(&maildir_messages(&md)[0]).contains("Kept here."));
    assert!(wait_until(20, || sender.messages().len() == 1), "the success notice arrives");
    let text = String::from_utf8_lossy(&sender.messages()[0]).into_owned();
    assert!(text.contains("Action: delivered") && text.contains("postmaster@relay.test"), "{text}");
    assert!(text.contains("Original-Envelope-Id: OK-1"), "{text}");
    assert!(!text.contains(&format!("root@{HOST}")), "no NOTIFY=SUCCESS for root: {text}");
    assert!(wait_until(10, || queued(&srv) == 0));
}

#[test]
fn too_little_free_space_answers_452_at_mail() {
    let dns = dns();
    let spool = tempfile::tempdir().unwrap();
    // Room for 1.5 × 2^60 bytes: no disk has that.
    let opts = ServerOptions { max_message_size: 1 << 60, ..queue_opts(spool.path(), &dns, 2525) };
    let srv = TestServer::start(opts);
    let mut c = Raw::greeted(srv.addr);
    let (code, text) = c.cmd("MAIL FROM:<s@sender.test>");
    assert_eq!((code, text.as_str()), (452, "4.3.1 Insufficient system storage, try again later"));
    assert_eq!(c.cmd("RCPT TO:<x@dest.test>").0, 503, "no transaction was opened");
    assert_eq!(spooled(spool.path()), 0);
}

#[test]
fn a_failed_fsync_answers_451_and_keeps_nothing() {
    let dns = dns();
    let port = port_free_on(&["127.0.0.33"]);
    let dest = Receiver::start("127.0.0.33", port, &["dest.test"], Behaviour::default());
    let spool = tempfile::tempdir().unwrap();
    let srv = TestServer::start(queue_opts(spool.path(), &dns, port));
    srv.server.queue().unwrap().fail_next_syncs(1);
    let (code, text) = send_raw(&srv, "s@sender.test", "x@dest.test", "lost disk");
    assert_eq!(code, 451, "{text}");
    assert!(text.starts_with("4.3.0"), "{text}");
    assert_eq!(queued(&srv), 0);
    assert_eq!(spooled(spool.path()), 0, "nothing a restart would find");
    let tmp = std::fs::read_dir(spool.path().join("tmp")).unwrap().count();
    assert_eq!(tmp, 0, "nothing in tmp/");
    // The client tries again: now it is kept and delivered, once.
    assert_eq!(send_raw(&srv, "s@sender.test", "x@dest.test", "second try").0, 250);
    assert!(wait_until(20, || dest.messages().len() == 1));
    std::thread::sleep(Duration::from_millis(300));
    assert_eq!(dest.messages().len(), 1);
    assert!(String::from_utf8_lossy(&dest.messages()[0]).contains("second try"));
}

#[test]
fn a_restarted_server_delivers_what_it_accepted_before() {
    let dns = dns();
    let port = port_free_on(&["127.0.0.33"]);
    let spool = tempfile::tempdir().unwrap();
    // Nobody listens at first: the message is accepted and stays queued.
    let mut srv = TestServer::start(queue_opts(spool.path(), &dns, port));
    assert_eq!(send_raw(&srv, "s@sender.test", "x@dest.test", "survives a restart").0, 250);
    assert!(wait_until(20, || srv.server.queue().unwrap().list().unwrap().iter().any(|e| e.attempts > 0)));
    srv.stop();
    drop(srv);
    assert_eq!(spooled(spool.path()), 1);
    let dest = Receiver::start("127.0.0.33", port, &["dest.test"], Behaviour::default());
    let srv = TestServer::start(queue_opts(spool.path(), &dns, port));
    assert!(wait_until(20, || dest.messages().len() == 1), "picked up again after the restart");
    assert!(wait_until(10, || queued(&srv) == 0));
}

/// `postwire serve` with `args`; the address it listens on once it says so.
fn serve_cli(args: &[&str]) -> (std::process::Child, std::net::SocketAddr) {
    use std::io::BufRead;
    let mut child = Command::new(env!("CARGO_BIN_EXE_postwire"))
        .args(["serve", "--listen", "127.0.0.1:0", "--quiet"])
        .args(args)
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .spawn()
        .expect("postwire serve");
    let mut line = String::new();
    let _ = std::io::BufReader::new(child.stdout.take().unwrap()).read_line(&mut line);
    let addr = line.trim().rsplit(' ').next().and_then(|a| a.parse().ok());
    let Some(addr) = addr else {
        let _ = child.kill();
        panic!("serve did not start: {line:?}");
    };
    (child, addr)
}

#[test]
fn cli_serve_queue_relays_through_the_smarthost_and_keeps_local_mail() {
    let port = port_free_on(&["127.0.0.2"]);
    let sink = Sink::start("127.0.0.2", port, &[]);
    let spool = tempfile::tempdir().unwrap();
    let local = tempfile::tempdir().unwrap();
    let smarthost = format!("127.0.0.2:{port}");
    let (mut child, addr) = serve_cli(&[
        "--hostname",
        HOST,
        "--local-domain",
        "relay.test",
        "--relay-network",
        "127.0.0.0/8",
        "--queue",
        &spool.path().display().to_string(),
        "--queue-smarthost",
        &smarthost,
        "--local-maildir",
        &local.path().display().to_string(),
        "--retry",
        "0.2,1",
        "--max-age",
        "3600",
    ]);
    let srv_send = |rcpt: &str, body: &str| {
        let mut c = Raw::greeted(addr);
        assert_eq!(c.cmd("MAIL FROM:<s@sender.test>").0, 250);
        assert_eq!(c.cmd(&format!("RCPT TO:<{rcpt}>")).0, 250);
        assert_eq!(c.cmd("DATA").0, 354);
        c.send(format!("Subject: cli\r\n\r\n{body}\r\n.\r\n").as_bytes());
        let r = c.reply();
        let _ = c.cmd("QUIT");
        r
    };
    assert_eq!(srv_send("far@remote.test", "relayed").0, 250);
    assert_eq!(srv_send("me@relay.test", "kept here").0, 250);
    let relayed = wait_until(20, || sink.dumped() == 1);
    let kept = wait_until(20, || maildir_messages(local.path()).len() == 1);
    let drained =
        wait_until(10, || postwire::queue::Spool::snapshot(spool.path()).is_ok_and(|v| v.is_empty()));
    let _ = child.kill();
    let _ = child.wait();
    assert!(relayed, "smtp-sink got {}", sink.dumped());
    assert!(kept, "the local recipient's copy is in --local-maildir");
    assert!(String::from_utf8_lossy(&maildir_messages(local.path())[0]).contains("kept here"));
    assert!(drained, "the spool is empty once both are delivered");
}

#[test]
fn cli_queue_options_need_a_queue_and_valid_values() {
    let dir = tempfile::tempdir().unwrap();
    let spool = dir.path().join("spool").display().to_string();
    // Each refusal names what is wrong (any failure — a busy port, a typo in the test — would
    // otherwise pass).
    for (args, why, says) in [
        (
            vec!["--discard", "--queue-smarthost", "relay.test"],
            "queue option without --queue",
            "queue_smarthost only applies",
        ),
        (vec!["--queue", &spool, "--maildir", "/tmp/m"], "--queue with --maildir", "cannot be used with"),
        (vec!["--queue", &spool, "--retry", "soon"], "a retry that is not a number", "--retry wants seconds"),
        (vec!["--queue", &spool, "--max-age", "0"], "a zero max age", "queue_max_age must be a positive"),
        (
            vec!["--queue", &spool, "--queue-smarthost", "relay.test:http"],
            "a smarthost port that is not one",
            "is not HOST or HOST:PORT",
        ),
    ] {
        let out = Command::new(env!("CARGO_BIN_EXE_postwire"))
            .args(["serve", "--listen", "127.0.0.1:0", "--quiet"])
            .args(&args)
            .stdin(std::process::Stdio::null())
            .output()
            .unwrap();
        assert!(!out.status.success(), "{why}: accepted");
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(err.contains(says), "{why}: stderr says {err:?}");
    }
}
