//! The queue end to end: submit, run, retry on a short schedule, bounce with exactly one DSN to
//! the sender's server, success notices for NOTIFY=SUCCESS, nothing for `<>` — against real
//! receiving servers on 127.0.0.x routed by the test DNS server.

mod route_support;

use std::time::Duration;

use postwire::queue::{NewEntry, NewRecipient, Queue, QueueOptions, RcptStatus, RetryPolicy};
use route_support::*;

const MSG: &[u8] = b"From: s@sender.test\r\nTo: x@dest.test\r\nSubject: queued\r\nMessage-ID: <q1@sender.test>\r\n\r\nQueued body.\r\n";

fn queue(dns: &postwire_testdns::TestDns, port: u16, spool: &std::path::Path, retry: RetryPolicy) -> Queue {
    let opts = QueueOptions {
        delivery: delivery_options(dns, port),
        retry,
        hostname: "mx.relay.test".into(),
        ..Default::default()
    };
    Queue::open(spool, opts).expect("queue")
}

fn rcpt(address: &str, notify: Option<&str>) -> NewRecipient {
    NewRecipient { address: address.into(), notify: notify.map(str::to_string), orcpt: None }
}

/// Run the queue until it is empty (at most `rounds` runs, 50 ms apart).
async fn drain(q: &Queue, rounds: usize) {
    for _ in 0..rounds {
        q.run_once().await.expect("run");
        if q.list().expect("list").is_empty() {
            return;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("queue not empty after {rounds} runs: {:#?}", q.list().unwrap());
}

/// The usual cast: the test DNS, `dest.test`'s server on 127.0.0.33 behaving as `dest`, the
/// sender's server on 127.0.0.35 (where notices arrive), and a queue on a fresh spool. Bind
/// every field: the DNS server and the spool live as long as their bindings.
struct Setup {
    _dns: postwire_testdns::TestDns,
    dest: Receiver,
    sender: Receiver,
    _spool: tempfile::TempDir,
    q: Queue,
}

fn setup(dest: Behaviour, retry: RetryPolicy) -> Setup {
    let dns = dns();
    let port = port_free_on(&["127.0.0.33", "127.0.0.35"]);
    let dest = Receiver::start("127.0.0.33", port, &["dest.test"], dest);
    let sender = Receiver::start("127.0.0.35", port, &["sender.test"], Behaviour::default());
    let spool = tempfile::tempdir().unwrap();
    let q = queue(&dns, port, spool.path(), retry);
    Setup { _dns: dns, dest, sender, _spool: spool, q }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_5xx_bounces_with_exactly_one_dsn_to_the_senders_server() {
    let Setup { dest, sender, q, _spool, _dns } = setup(
        Behaviour { refuse_bad: true, ..Default::default() },
        RetryPolicy::every(Duration::from_millis(50), Duration::from_secs(3600)),
    );
    let env = NewEntry {
        mail_from: "s@sender.test".into(),
        recipients: vec![
            rcpt("good@dest.test", None),
            NewRecipient {
                address: "bad@dest.test".into(),
                notify: None,
                orcpt: Some("rfc822;alias@dest.test".into()),
            },
        ],
        envid: Some("ENV-5XX".into()),
        ret: Some("hdrs".into()),
    };
    let id = q.submit(&env, MSG).await.expect("submit");
    let stats = q.run_once().await.unwrap();
    assert_eq!((stats.delivered, stats.failed, stats.notices), (1, 1, 1), "{stats:?}");
    assert!(!q.list().unwrap().iter().any(|e| e.id == id), "the bounced entry is gone");
    drain(&q, 20).await;
    q.run_once().await.unwrap();
    assert_eq!(dest.seen(), [("s@sender.test".to_string(), vec!["good@dest.test".to_string()])]);
    let dsns = sender.messages();
    assert_eq!(dsns.len(), 1, "exactly one DSN");
    assert_eq!(sender.seen()[0].0, "", "a DSN comes from <>");
    let text = String::from_utf8_lossy(&dsns[0]);
    for needle in [
        "Final-Recipient: rfc822; bad@dest.test",
        "Original-Recipient: rfc822; alias@dest.test",
        "Original-Envelope-Id: ENV-5XX",
        "Action: failed",
        "Status: 5.1.1",
        "Subject: queued",
    ] {
        assert!(text.contains(needle), "{needle} missing in\n{text}");
    }
    assert!(!text.contains("Queued body."), "RET=HDRS: headers only");
    assert!(!text.contains("good@dest.test\r\nAction"), "only the failed recipient is reported");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_null_sender_never_gets_a_dsn_and_notify_never_is_honoured() {
    let Setup { dest: _dest, sender, q, _spool, _dns } =
        setup(Behaviour { refuse_bad: true, ..Default::default() }, RetryPolicy::default());
    q.submit(&NewEntry::new("", &["bad@dest.test".into()]), MSG).await.unwrap();
    let never = NewEntry {
        mail_from: "s@sender.test".into(),
        recipients: vec![rcpt("bad2@dest.test", Some("NEVER"))],
        ..Default::default()
    };
    q.submit(&never, MSG).await.unwrap();
    let stats = q.run_once().await.unwrap();
    assert_eq!((stats.failed, stats.notices), (2, 0), "{stats:?}");
    assert!(q.list().unwrap().is_empty());
    q.run_once().await.unwrap();
    assert!(sender.messages().is_empty(), "no notice went anywhere");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_4xx_is_queued_and_retried_on_the_schedule_until_delivered() {
    let dns = dns();
    let port = port_free_on(&["127.0.0.33"]);
    let b = Behaviour { defer_first: 2.into(), ..Default::default() };
    let dest = Receiver::start("127.0.0.33", port, &["dest.test"], b);
    let spool = tempfile::tempdir().unwrap();
    let q = queue(
        &dns,
        port,
        spool.path(),
        RetryPolicy::every(Duration::from_millis(100), Duration::from_secs(3600)),
    );
    let id = q.submit(&NewEntry::new("s@sender.test", &["x@dest.test".into()]), MSG).await.unwrap();
    let stats = q.run_once().await.unwrap();
    assert_eq!(stats.deferred, 1);
    let e = q.list().unwrap().into_iter().find(|e| e.id == id).expect("still queued");
    assert_eq!(e.attempts, 1);
    assert_eq!(e.recipients[0].status, RcptStatus::Pending);
    assert_eq!(e.recipients[0].last_reply.as_ref().map(|r| r.code), Some(451));
    assert!(e.next_try_ms > e.created_ms, "a next try is scheduled");
    // Not due yet right away (the schedule says 100 ms), then due.
    let stats = q.run_once().await.unwrap();
    assert!(stats.entries <= 1);
    drain(&q, 100).await;
    assert_eq!(dest.messages().len(), 1, "delivered once");
    assert_eq!(dest.behaviour.defer_first.load(std::sync::atomic::Ordering::SeqCst), 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_message_deferred_past_its_maximum_age_expires_with_one_dsn() {
    let Setup { dest: _dest, sender, q, _spool, _dns } = setup(
        Behaviour { defer_later: true, ..Default::default() },
        RetryPolicy::every(Duration::from_millis(50), Duration::from_millis(300)),
    );
    q.submit(&NewEntry::new("s@sender.test", &["later@dest.test".into()]), MSG).await.unwrap();
    drain(&q, 100).await;
    assert!(wait_until(10, || sender.messages().len() == 1));
    let text = String::from_utf8_lossy(&sender.messages()[0]).into_owned();
    assert!(
        text.contains("Action: failed") && text.contains("Final-Recipient: rfc822; later@dest.test"),
        "{text}"
    );
    assert!(text.contains("Status: 4.3.0") && text.contains("too long in the queue"), "{text}");
    assert!(text.contains("Queued body."), "RET defaults to the full message for failures");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn notify_success_gets_a_relayed_notice_only_from_a_server_without_dsn() {
    let dns = dns();
    let port = port_free_on(&["127.0.0.33", "127.0.0.34", "127.0.0.35"]);
    // aiosmtpd does not offer DSN: we must send the notice ("relayed").
    let _no_dsn = aiosmtpd_on("127.0.0.33", port);
    // Our own server offers DSN: it got NOTIFY=SUCCESS and answers for it; we send nothing.
    let with_dsn = Receiver::start("127.0.0.34", port, &["other.test"], Behaviour::default());
    let sender = Receiver::start("127.0.0.35", port, &["sender.test"], Behaviour::default());
    let spool = tempfile::tempdir().unwrap();
    let q = queue(&dns, port, spool.path(), RetryPolicy::default());
    let env = NewEntry {
        mail_from: "s@sender.test".into(),
        recipients: vec![
            rcpt("a@dest.test", Some("SUCCESS,FAILURE")),
            rcpt("b@other.test", Some("SUCCESS,FAILURE")),
        ],
        envid: Some("ENV-OK".into()),
        ret: None,
    };
    q.submit(&env, MSG).await.unwrap();
    let stats = q.run_once().await.unwrap();
    assert_eq!((stats.delivered, stats.notices), (2, 1), "{stats:?}");
    drain(&q, 20).await;
    assert_eq!(with_dsn.messages().len(), 1);
    let notices = sender.messages();
    assert_eq!(notices.len(), 1, "one notice, for the recipient behind a server without DSN");
    let text = String::from_utf8_lossy(&notices[0]);
    assert!(
        text.contains("Action: relayed") && text.contains("Final-Recipient: rfc822; a@dest.test"),
        "{text}"
    );
    assert!(!text.contains("b@other.test"), "{text}");
    assert!(text.contains("Original-Envelope-Id: ENV-OK") && text.contains("text/rfc822-headers"), "{text}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_restart_picks_up_every_entry_and_a_damaged_record_is_never_delivered() {
    let dns = dns();
    let port = port_free_on(&["127.0.0.33"]);
    let spool = tempfile::tempdir().unwrap();
    let ids: Vec<String> = {
        let q = queue(&dns, port, spool.path(), RetryPolicy::default());
        let mut ids = Vec::new();
        for i in 0..3 {
            ids.push(
                q.submit(&NewEntry::new("s@sender.test", &[format!("r{i}@dest.test")]), MSG).await.unwrap(),
            );
        }
        ids
    };
    // A bad disk flips a byte inside the first message's record, in the middle of its segment.
    let segs: Vec<_> =
        std::fs::read_dir(spool.path().join("seg")).unwrap().map(|e| e.unwrap().path()).collect();
    assert_eq!(segs.len(), 1, "three messages, one segment");
    let mut bytes = std::fs::read(&segs[0]).unwrap();
    let at =
        find(&bytes, ids[0].as_bytes()) + find(&bytes[find(&bytes, ids[0].as_bytes())..], b"Queued body.");
    bytes[at] ^= 0x20;
    std::fs::write(&segs[0], &bytes).unwrap();
    let q = queue(&dns, port, spool.path(), RetryPolicy::default());
    assert_eq!(q.spool().unwrap().quarantined(), [ids[0].clone()]);
    let mut listed: Vec<String> = q.list().unwrap().into_iter().map(|e| e.id).collect();
    listed.sort();
    let mut want = ids[1..].to_vec();
    want.sort();
    assert_eq!(listed, want);
    let dest = Receiver::start("127.0.0.33", port, &["dest.test"], Behaviour::default());
    drain(&q, 20).await;
    let mut seen: Vec<String> = dest.seen().into_iter().flat_map(|(_, r)| r).collect();
    seen.sort();
    assert_eq!(seen, ["r1@dest.test", "r2@dest.test"], "the damaged one is never delivered");
    let seg_name = segs[0].file_name().unwrap().to_string_lossy().into_owned();
    assert!(spool.path().join("corrupt").join(format!("{seg_name}.0")).exists(), "its bytes are kept aside");
}

fn find(hay: &[u8], needle: &[u8]) -> usize {
    hay.windows(needle.len()).position(|w| w == needle).expect("needle in the segment")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failed_sync_fails_the_submit_and_keeps_nothing() {
    let dns = dns();
    let spool = tempfile::tempdir().unwrap();
    let q = queue(&dns, 9, spool.path(), RetryPolicy::default());
    q.fail_next_syncs(1);
    let e = q.submit(&NewEntry::new("s@sender.test", &["x@dest.test".into()]), MSG).await.unwrap_err();
    assert_eq!(e.kind(), postwire::ErrorKind::Io);
    assert!(q.list().unwrap().is_empty());
    assert!(postwire::queue::Spool::snapshot(spool.path()).unwrap().is_empty(), "a reopen finds nothing");
    assert_eq!(std::fs::read_dir(spool.path().join("tmp")).unwrap().count(), 0);
    // The next one goes through.
    q.submit(&NewEntry::new("s@sender.test", &["x@dest.test".into()]), MSG).await.unwrap();
    assert_eq!(q.list().unwrap().len(), 1);
    assert!(q.has_room_for(1024).unwrap(), "a test machine has a KiB free");
    assert!(!q.has_room_for(u64::MAX / 2).unwrap(), "nobody has 2^63 bytes free");
    // One runner per spool: a second open is refused while the first holds it.
    let second = Queue::open(spool.path(), QueueOptions::default()).unwrap_err();
    assert_eq!(second.kind(), postwire::ErrorKind::Io);
    assert!(second.message().contains("in use"), "{second}");
    assert_eq!(
        postwire::queue::Spool::snapshot(spool.path()).unwrap().len(),
        1,
        "read-only listing works beside it"
    );
    let bad = q.submit(&NewEntry::new("s@sender.test", &[]), MSG).await.unwrap_err();
    assert_eq!(bad.kind(), postwire::ErrorKind::InvalidInput);
    let bad = q.submit(&NewEntry::new("s@sender.test", &["no at sign".into()]), MSG).await.unwrap_err();
    assert_eq!(bad.kind(), postwire::ErrorKind::InvalidInput);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dsn_values_are_checked_at_submit_as_on_the_wire() {
    let dns = dns();
    let spool = tempfile::tempdir().unwrap();
    let q = queue(&dns, 9, spool.path(), RetryPolicy::default());
    let env = |notify: &str, ret: Option<&str>| NewEntry {
        mail_from: "s@sender.test".into(),
        recipients: vec![rcpt("a@dest.test", None), rcpt("b@dest.test", Some(notify))],
        envid: None,
        ret: ret.map(str::to_string),
    };
    // Until now these were stored and read as the default (or NEVER winning); a server answers
    // them 501, and so does submit now, keeping nothing.
    for (notify, ret) in [
        ("NEVER,SUCCESS", None),
        ("SUCCESS, FAILURE", None),
        ("", None),
        ("bogus", None),
        ("DELAY", Some("ALL")),
    ] {
        let e = q.submit(&env(notify, ret), MSG).await.unwrap_err();
        assert_eq!(e.kind(), postwire::ErrorKind::InvalidInput, "{notify:?} {ret:?}");
        assert!(e.message().contains(if ret.is_some() { "ret" } else { "b@dest.test" }), "{e}");
    }
    assert!(q.list().unwrap().is_empty());
    // Case does not matter, and the values are kept as given.
    q.submit(&env("never", Some("Hdrs")), MSG).await.unwrap();
    let listed = q.list().unwrap();
    assert_eq!(
        (listed[0].ret.as_deref(), listed[0].recipients[1].notify.as_deref()),
        (Some("Hdrs"), Some("never"))
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_submits_are_all_durable_and_the_runner_delivers_them() {
    let dns = dns();
    let port = port_free_on(&["127.0.0.33"]);
    let dest = Receiver::start("127.0.0.33", port, &["dest.test"], Behaviour::default());
    let spool = tempfile::tempdir().unwrap();
    let q = queue(&dns, port, spool.path(), RetryPolicy::default());
    assert!(!q.running(), "not started yet");
    q.start();
    assert!(q.running(), "started");
    let mut tasks = Vec::new();
    for i in 0..40 {
        let q = q.clone();
        tasks.push(tokio::spawn(async move {
            q.submit(&NewEntry::new("s@sender.test", &[format!("n{i}@dest.test")]), MSG).await
        }));
    }
    for t in tasks {
        t.await.unwrap().expect("submit");
    }
    assert!(wait_until(30, || dest.seen().len() == 40), "delivered {} of 40", dest.seen().len());
    q.stop().await;
    assert!(!q.running(), "stopped");
    assert!(wait_until(5, || q.list().unwrap().is_empty()));
}

/// `start()` while a `stop()` waits for the current run: the stop still ends (the old runner
/// does not go back to work), one runner goes on, and `stopped()` waits for every runner task.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_start_during_a_stop_neither_revives_the_old_runner_nor_hangs_the_stop() {
    let dns = dns();
    let port = port_free_on(&["127.0.0.33"]);
    // Long enough that the stop and the start below come while the first message is held.
    let hold = Some(Duration::from_secs(3));
    let dest = Receiver::start("127.0.0.33", port, &["dest.test"], Behaviour { hold, ..Default::default() });
    let spool = tempfile::tempdir().unwrap();
    let q = queue(&dns, port, spool.path(), RetryPolicy::default());
    q.stopped().await; // none started: at once
    q.submit(&NewEntry::new("s@sender.test", &["a@dest.test".to_string()]), MSG).await.unwrap();
    q.start();
    // The runner is inside its run (the receiver holds the message) when the stop comes.
    assert!(wait_until(10, || dest.in_flight() == 1), "delivery under way");
    let stopping = tokio::spawn({
        let q = q.clone();
        async move { q.stop().await }
    });
    assert!(wait_until(5, || !q.running()), "stop takes effect at once");
    assert!(q.runner_alive(), "the old runner finishes its run first");
    q.start();
    assert!(q.running(), "a new runner");
    tokio::time::timeout(Duration::from_secs(20), stopping)
        .await
        .expect("the first stop ends although a start came during it")
        .unwrap();
    assert!(q.running(), "the second runner still runs");
    q.submit(&NewEntry::new("s@sender.test", &["b@dest.test".to_string()]), MSG).await.unwrap();
    assert!(wait_until(30, || dest.seen().len() == 2), "the second runner delivers: {:?}", dest.seen());
    q.stop().await;
    tokio::time::timeout(Duration::from_secs(5), q.stopped()).await.expect("no runner task left");
    assert!(!q.running() && !q.runner_alive());
}

/// The cap per destination holds however many entries are due: with a receiver that holds each
/// message a while, uncapped deliveries would overlap.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn deliveries_to_one_destination_respect_the_cap() {
    let dns = dns();
    let port = port_free_on(&["127.0.0.33", "127.0.0.34"]);
    let hold = Some(Duration::from_millis(150));
    let dest = Receiver::start("127.0.0.33", port, &["dest.test"], Behaviour { hold, ..Default::default() });
    let other =
        Receiver::start("127.0.0.34", port, &["other.test"], Behaviour { hold, ..Default::default() });
    let spool = tempfile::tempdir().unwrap();
    let opts = QueueOptions {
        delivery: delivery_options(&dns, port),
        hostname: "mx.relay.test".into(),
        concurrency: 10,
        per_destination: 2,
        ..Default::default()
    };
    let q = Queue::open(spool.path(), opts).unwrap();
    for i in 0..6 {
        q.submit(&NewEntry::new("s@sender.test", &[format!("d{i}@dest.test")]), MSG).await.unwrap();
        q.submit(&NewEntry::new("s@sender.test", &[format!("o{i}@other.test")]), MSG).await.unwrap();
    }
    let stats = q.run_once().await.unwrap();
    assert_eq!(stats.delivered, 12);
    let max = |r: &Receiver| r.behaviour.max_in_flight.load(std::sync::atomic::Ordering::SeqCst);
    assert!((1..=2).contains(&max(&dest)), "at most two at a time to dest.test: {}", max(&dest));
    assert!((1..=2).contains(&max(&other)), "and to other.test: {}", max(&other));
    assert_eq!(dest.seen().len() + other.seen().len(), 12);
}
