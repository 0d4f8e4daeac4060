//! `ClientHandle`: getters answer while a call is in flight (the binding bug: Python's
//! `aio.Client` raised `RuntimeError` when a property was read during a send), calls from clones
//! serialize on the one connection, and a call abandoned half-way closes the session. The server
//! (our own) holds its reply to the end of each message until the test releases it, so "in
//! flight" lasts exactly as long as the test needs — no timing involved. A bare `Client` whose
//! call was dropped half-way is closed at its next call too.

mod client_support;

use client_support::opts;
use client_support::our_server::{start, Script};
use postwire::client::ClientHandle;
use postwire::server::ServerOptions;

fn rcpt() -> Vec<String> {
    vec!["b@test.example".to_string()]
}

fn holding() -> Script {
    Script { hold: true, ..Script::default() }
}

#[tokio::test]
async fn getters_answer_while_a_send_is_in_flight() {
    let srv = start(ServerOptions::default(), holding());
    let h = ClientHandle::connect(opts(srv.port)).await.expect("connect");
    let before = h.transcript();
    assert!(before.iter().any(|l| l.starts_with("C: EHLO client.test")), "{before:?}");

    let sender = h.clone();
    let send =
        tokio::spawn(
            async move { sender.send("a@example.org", &rcpt(), b"Subject: held\r\n\r\nx\r\n").await },
        );
    assert!(srv.arrived().await, "the message never reached the server");

    // The send holds the session now; none of these may wait for it.
    assert!(h.in_flight());
    assert_eq!(h.banner().code, 220);
    assert!(h.capabilities().has("PIPELINING"));
    assert!(!h.is_tls() && h.is_esmtp() && !h.is_closed());
    assert_eq!(h.hello_name(), "client.test");
    assert_eq!(h.last_queue_id(), None);
    assert_eq!(h.transcript(), before, "the snapshot is the state as of the last finished call");
    let state = h.state();
    assert_eq!((state.banner.code, state.closed), (220, false));
    assert!(h.timings().connect.is_some());

    srv.release();
    let r = send.await.expect("task").expect("send");
    assert!(!h.in_flight());
    assert!(r.queue_id.is_some(), "{:?}", r.reply);
    assert_eq!(h.last_queue_id(), r.queue_id);
    let after = h.transcript();
    assert!(
        after.len() > before.len() && after.iter().any(|l| l.starts_with("C: MAIL FROM:<a@example.org>"))
    );
    h.quit().await.expect("quit");
    assert!(h.is_closed());
}

#[tokio::test]
async fn calls_from_clones_serialize_on_the_connection() {
    let srv = start(ServerOptions::default(), holding());
    let h = ClientHandle::connect(opts(srv.port)).await.expect("connect");
    let tasks: Vec<_> = (0..3)
        .map(|i| {
            let h = h.clone();
            tokio::spawn(async move {
                let msg = format!("Subject: clone {i}\r\n\r\nx\r\n");
                h.send("a@example.org", &rcpt(), msg.as_bytes()).await
            })
        })
        .collect();
    // One at a time: each message reaches the server only after the previous one was answered.
    for n in 1..=3 {
        assert!(srv.arrived().await, "message {n} never arrived");
        assert_eq!(srv.stored().len(), n, "a second transaction ran while one was in flight");
        srv.release();
    }
    for t in tasks {
        assert_eq!(t.await.expect("task").expect("send").reply.code, 250);
    }
    let noop = h.noop().await.expect("noop");
    assert_eq!(noop.code, 250, "replies are still in step");
    h.quit().await.expect("quit");
}

#[tokio::test]
async fn an_abandoned_call_closes_the_session() {
    let srv = start(ServerOptions::default(), holding());
    let h = ClientHandle::connect(opts(srv.port)).await.expect("connect");
    let sender = h.clone();
    let send = tokio::spawn(async move { sender.send("a@example.org", &rcpt(), b"x\r\n").await });
    assert!(srv.arrived().await, "the message never reached the server");
    send.abort();
    let _ = send.await;
    // Where the server is in that exchange is unknown: the session must not be reused.
    assert!(h.is_closed());
    assert!(h.transcript().iter().any(|l| l.contains("abandoned")), "{:?}", h.transcript());
    let e = h.noop().await.expect_err("closed");
    assert_eq!(e.kind(), postwire::ErrorKind::Protocol);
    srv.release();
}

#[tokio::test]
async fn a_bare_client_abandoned_mid_call_is_closed_at_its_next_call() {
    let srv = start(ServerOptions::default(), holding());
    let mut c = postwire::client::Client::connect(opts(srv.port)).await.expect("connect");
    let to = rcpt();
    {
        let send = c.send("a@example.org", &to, b"x\r\n");
        tokio::pin!(send);
        tokio::select! {
            r = &mut send => panic!("the server holds its reply, yet the send ended: {r:?}"),
            arrived = srv.arrived() => assert!(arrived, "the message never reached the server"),
        }
    } // the send is dropped here, half-way
    let e = c.noop().await.expect_err("closed");
    assert_eq!(e.kind(), postwire::ErrorKind::Protocol, "{e}");
    assert!(c.is_closed());
    srv.release();
}

/// Calls put in line with `in_turn` run in the order they were put in line, even when the tasks
/// carrying them are started in the opposite order (an async host spawns one task per call and
/// the runtime may poll a later one first) — and a dropped call does not block the line.
#[tokio::test]
async fn calls_run_in_the_order_they_were_made_not_the_order_their_tasks_start() {
    let srv = start(ServerOptions::default(), Script::default());
    let h = ClientHandle::connect(opts(srv.port)).await.expect("connect");
    let order = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
    let call = |name: &'static str| {
        let order = order.clone();
        h.in_turn(move |c| async move {
            let r = c.send(&format!("{name}@example.org"), &rcpt(), b"Subject: t\r\n\r\nx\r\n").await;
            order.lock().unwrap().push(name);
            r
        })
    };
    let first = call("first");
    let dropped = call("dropped");
    let second = call("second");
    drop(dropped);
    // Started in reverse: `second` must still wait for `first`.
    let second = tokio::spawn(second);
    tokio::task::yield_now().await;
    let first = tokio::spawn(first);
    second.await.expect("task").expect("second send");
    first.await.expect("task").expect("first send");
    assert_eq!(*order.lock().unwrap(), vec!["first", "second"]);
    h.quit().await.expect("quit");
}
