//! Hooks (the extension point of the bindings), relay policy on the wire, graceful stop and stats.

mod server_support;

use std::sync::{Arc, Mutex};

use postwire::proto::Reply;
use postwire::proto::{MailParams, RcptParams};
use postwire::server::{Envelope, HookFuture, HookParams, Hooks, ServerOptions, SessionInfo};
use server_support::*;

#[derive(Default)]
struct Recorder {
    messages: Mutex<Vec<(Envelope, Vec<u8>)>>,
    mail_params: Mutex<Vec<HookParams>>,
}

impl Hooks for Recorder {
    fn on_mail_from(&self, _s: SessionInfo, address: String, params: MailParams) -> Option<HookFuture> {
        self.mail_params.lock().unwrap().push(params.to_pairs());
        Some(Box::pin(async move {
            if address == "spammer@bad.example" {
                return Ok(Some(Reply::new(550, "Sender blocked", Some("5.7.1"))));
            }
            if address == "crash@bad.example" {
                panic!("hook bug");
            }
            if address == "error@bad.example" {
                return Err("the hook raised".to_string());
            }
            Ok(None)
        }))
    }
    fn on_rcpt_to(&self, _s: SessionInfo, address: String, _p: RcptParams) -> Option<HookFuture> {
        Some(Box::pin(async move {
            Ok(address.starts_with("nobody@").then(|| Reply::new(550, "No such user here", Some("5.1.1"))))
        }))
    }
    fn on_message(&self, _s: SessionInfo, envelope: Envelope, data: Arc<Vec<u8>>) -> Option<HookFuture> {
        let refuse = data.windows(5).any(|w| w == b"VIRUS");
        if !refuse {
            self.messages.lock().unwrap().push((envelope, data.to_vec()));
        }
        Some(Box::pin(async move {
            // An async hook that yields before deciding.
            tokio::task::yield_now().await;
            Ok(refuse.then(|| Reply::new(554, "Message refused: malware", Some("5.7.1"))))
        }))
    }
}

#[test]
fn hooks_accept_refuse_and_fail_safely() {
    let rec = Arc::new(Recorder::default());
    // DSN offered, so NOTIFY below is accepted and carried to the hook.
    let srv = TestServer::with_hooks(ServerOptions { advertise_dsn: true, ..options() }, rec.clone());
    let mut r = Raw::greeted(srv.addr);
    assert_eq!(r.cmd("MAIL FROM:<spammer@bad.example>").0, 550);
    assert_eq!(r.cmd("MAIL FROM:<crash@bad.example>").0, 451, "a panicking hook answers 451");
    assert_eq!(r.cmd("MAIL FROM:<error@bad.example>").0, 451, "a failing hook answers 451");
    assert_eq!(r.cmd("MAIL FROM:<ok@good.example> SIZE=100 BODY=8BITMIME X-CUSTOM=yes").0, 250);
    assert_eq!(r.cmd("RCPT TO:<nobody@test.example>").0, 550);
    assert_eq!(r.cmd("RCPT TO:<bob@test.example> NOTIFY=SUCCESS,FAILURE").0, 250);
    assert_eq!(r.cmd("DATA").0, 354);
    r.send(b"Subject: clean\r\n\r\nhello\r\n.\r\n");
    assert_eq!(r.reply().0, 250);
    r.cmd("MAIL FROM:<ok@good.example>");
    r.cmd("RCPT TO:<bob@test.example>");
    r.cmd("DATA");
    r.send(b"Subject: bad\r\n\r\nVIRUS\r\n.\r\n");
    assert_eq!(r.reply().0, 554, "on_message's refusal is what the client sees after its dot");
    assert_eq!(r.cmd("NOOP").0, 250, "the server keeps serving");

    let msgs = rec.messages.lock().unwrap();
    assert_eq!(msgs.len(), 1);
    let (env, data) = &msgs[0];
    assert_eq!(env.mail_from, "ok@good.example");
    assert_eq!(env.rcpt_to, vec!["bob@test.example".to_string()]);
    assert_eq!(env.mail_params.size, Some(100));
    assert_eq!(env.rcpt_params[0].notify.map(|n| (n.success, n.failure, n.delay)), Some((true, true, false)));
    assert!(data.starts_with(b"Received: from client.test.example (unknown [127.0.0.1])"));
    assert!(data.ends_with(b"Subject: clean\r\n\r\nhello\r\n"));
    let params = rec.mail_params.lock().unwrap();
    assert!(
        params.iter().flatten().any(|(k, v)| k == "X-CUSTOM" && v.as_deref() == Some("yes")),
        "unknown params reach the hook: {params:?}"
    );
}

struct Blocklist;
impl Hooks for Blocklist {
    fn on_connect(&self, session: SessionInfo) -> Option<HookFuture> {
        let blocked = session.peer.ip().is_loopback();
        Some(Box::pin(async move { Ok(blocked.then(|| Reply::new(554, "Go away", Some("5.7.1")))) }))
    }
}

#[test]
fn on_connect_refusal_replaces_the_banner() {
    let srv = TestServer::with_hooks(options(), Arc::new(Blocklist));
    let mut r = Raw::connect(srv.addr);
    let (code, text) = r.reply();
    assert_eq!((code, text.as_str()), (554, "5.7.1 Go away"));
    assert!(r.closed());
}

#[test]
fn relay_tricks_refused_on_the_wire_and_trusted_network_relays() {
    let srv = TestServer::start(options());
    let mut r = Raw::greeted(srv.addr);
    r.cmd("MAIL FROM:<probe@outside.example>");
    for rcpt in [
        "<victim@elsewhere.example>",
        "<victim%elsewhere.example@test.example>",
        "<elsewhere.example!victim@test.example>",
        "<\"victim@elsewhere.example\"@test.example>",
        "<@test.example:victim@elsewhere.example>",
        "<victim@[127.0.0.1]>",
    ] {
        let (code, text) = r.cmd(&format!("RCPT TO:{rcpt}"));
        assert_eq!(code, 550, "{rcpt}: {text}");
        assert!(text.contains("5.7.1"), "{rcpt}: {text}");
    }
    assert_eq!(r.cmd("RCPT TO:<victim@elsewhere.example@test.example>").0, 501);
    assert_eq!(r.cmd("DATA").0, 554, "no valid recipients");

    let trusted = TestServer::start(ServerOptions {
        relay_networks: vec!["127.0.0.0/8".parse().unwrap()],
        ..options()
    });
    let mut r = Raw::greeted(trusted.addr);
    r.cmd("MAIL FROM:<me@test.example>");
    assert_eq!(r.cmd("RCPT TO:<friend@elsewhere.example>").0, 250);
}

#[test]
fn graceful_stop_finishes_the_transaction_in_flight() {
    let rec = Arc::new(Recorder::default());
    let mut srv = TestServer::with_hooks(options(), rec.clone());
    let mut idle = Raw::greeted(srv.addr);
    let mut busy = Raw::greeted(srv.addr);
    busy.cmd("MAIL FROM:<a@b.example>");
    busy.cmd("RCPT TO:<bob@test.example>");
    assert_eq!(busy.cmd("DATA").0, 354);
    busy.send(b"Subject: in flight\r\n\r\n");
    srv.server.stop();
    // The idle session is told at once.
    assert_eq!(idle.reply().0, 421);
    // The busy one finishes its message, then is told.
    busy.send(b"body\r\n.\r\n");
    assert_eq!(busy.reply().0, 250);
    assert_eq!(busy.reply().0, 421);
    srv.stop();
    assert_eq!(rec.messages.lock().unwrap().len(), 1);
    assert!(std::net::TcpStream::connect(srv.addr).is_err(), "no longer accepting");
}

#[test]
fn stats_count_what_happened() {
    let srv = TestServer::start(options());
    let mut r = Raw::greeted(srv.addr);
    r.cmd("MAIL FROM:<a@b.example>");
    r.cmd("RCPT TO:<bob@test.example>");
    r.cmd("RCPT TO:<x@elsewhere.example>");
    r.cmd("DATA");
    r.send(b"Subject: s\r\n\r\n12345\r\n.\r\n");
    assert_eq!(r.reply().0, 250);
    r.cmd("QUIT");
    let s = srv.server.stats();
    assert_eq!(s.connections, 1);
    assert_eq!(s.messages_accepted, 1);
    assert_eq!(s.recipients_accepted, 1);
    assert_eq!(s.recipients_rejected, 1);
    assert_eq!(s.bytes_received, b"Subject: s\r\n\r\n12345\r\n".len() as u64);
}

/// After stop(), a client cannot hold the server open with commands that do not end its
/// transaction, and a transaction that does not finish within `shutdown_grace` is cut with 421.
#[test]
fn stop_cannot_be_held_off_by_a_client() {
    use std::time::Duration;
    let opts = ServerOptions { shutdown_grace: Duration::from_millis(500), ..options() };
    let mut srv = TestServer::start(opts);
    // NOOPs inside a transaction after stop(): 421 and closed.
    let mut noop = Raw::greeted(srv.addr);
    assert_eq!(noop.cmd("MAIL FROM:<a@b.example>").0, 250);
    // A message that never ends (the client stalls mid-DATA).
    let mut stall = Raw::greeted(srv.addr);
    stall.cmd("MAIL FROM:<a@b.example>");
    stall.cmd("RCPT TO:<bob@test.example>");
    assert_eq!(stall.cmd("DATA").0, 354);
    stall.send(b"Subject: never ends\r\n");
    srv.server.stop();
    assert_eq!(noop.cmd("NOOP").0, 421);
    assert!(noop.closed());
    // The stalled one is cut when the grace period is over; serve() returns.
    assert_eq!(stall.reply().0, 421);
    assert!(stall.closed());
    srv.stop();
    assert_eq!(srv.server.stats().messages_accepted, 0);
}

/// Stops the server from inside `on_message`, while the server awaits the hook.
#[derive(Default)]
struct StopsFromHook(std::sync::OnceLock<Arc<postwire::server::Server>>);
impl Hooks for StopsFromHook {
    fn on_message(&self, _s: SessionInfo, _e: Envelope, _d: Arc<Vec<u8>>) -> Option<HookFuture> {
        let server = self.0.get().cloned();
        Some(Box::pin(async move {
            // Let the session's driver start waiting on the hook first, then stop: the stop
            // arrives while the hook is awaited (as a Node/Python hook calling stop() does).
            tokio::task::yield_now().await;
            if let Some(s) = server {
                s.stop();
            }
            tokio::task::yield_now().await;
            Ok(None)
        }))
    }
}

/// A stop that happens while a hook runs must still reach the session: once its transaction is
/// over it is idle, and an idle session is told 421 at once — not after `shutdown_grace` (set
/// far beyond the read timeout here, so a session that never hears of the stop fails the test).
#[test]
fn stop_during_a_hook_reaches_the_session_once_idle() {
    let hooks = Arc::new(StopsFromHook::default());
    let opts = ServerOptions { shutdown_grace: std::time::Duration::from_secs(3600), ..options() };
    let srv = TestServer::with_hooks(opts, hooks.clone());
    let _ = hooks.0.set(Arc::clone(&srv.server));
    let mut r = Raw::greeted(srv.addr);
    r.cmd("MAIL FROM:<a@b.example>");
    r.cmd("RCPT TO:<bob@test.example>");
    assert_eq!(r.cmd("DATA").0, 354);
    r.send(b"Subject: stop\r\n\r\nstop\r\n.\r\n");
    assert_eq!(r.reply().0, 250, "the transaction in flight finishes");
    // 4.3.2 is the stop; a session that missed it would only be cut by its command timeout
    // (421 4.4.2) or by the end of the grace period.
    let (code, text) = r.reply();
    assert_eq!((code, text.as_str()), (421, "4.3.2 Server shutting down, try again later"));
    assert!(r.closed());
}

/// `Server::start` (what every binding's start calls): a second start while serving is the same
/// server, not a second serve loop; the server keeps the handle, so a host holds none; one stop
/// ends it for every handle; a start or a listen after the stop is `invalid_input` saying to
/// build a new server, and so is a listen after the start (its socket would never be served).
#[test]
fn start_twice_is_one_server_and_stop_ends_it() {
    use postwire::server::Server;
    use postwire::ErrorKind;
    let server = Arc::new(Server::new(options()).unwrap());
    let addr = server.listen("127.0.0.1:0".parse().unwrap()).unwrap();
    assert!(server.handle().is_none() && !server.running(), "not started yet");
    assert!(server.startable().unwrap(), "a start now would serve");
    let first = server.start().unwrap();
    assert!(!server.startable().unwrap(), "serving: a start now does nothing");
    let second = server.start().unwrap();
    assert!(Arc::ptr_eq(first.server(), second.server()));
    assert!(first.running() && second.running() && server.running());
    let late = server.listen("127.0.0.1:0".parse().unwrap()).unwrap_err();
    assert_eq!(late.kind(), ErrorKind::InvalidInput);
    assert!(late.to_string().contains("before start()"), "{late}");
    assert_eq!(server.local_addrs(), vec![addr], "the refused listen bound nothing");
    let mut r = Raw::greeted(addr);
    assert_eq!(r.cmd("QUIT").0, 221);
    assert!(r.closed());
    server.handle().expect("kept by the server").stop();
    first.wait().expect("the one serve loop ended well");
    second.wait().expect("the second start is that serve loop");
    assert!(!first.running() && !second.running() && !server.running());
    assert_eq!(server.stats().connections, 1);
    assert!(std::net::TcpStream::connect(addr).is_err(), "no longer accepting");
    for e in [
        server.start().err().expect("a start after the stop is an error"),
        server.startable().unwrap_err(),
        server.listen("127.0.0.1:0".parse().unwrap()).unwrap_err(),
    ] {
        assert_eq!(e.kind(), ErrorKind::InvalidInput);
        assert!(e.to_string().contains("stopped; build a new Server"), "{e}");
    }
    assert!(!server.running() && !first.running(), "and nothing serves");
    first.wait().expect("the first start's outcome is unchanged");
}

/// A stop begun while sessions are still open already refuses a start: "after stop()" does
/// not wait for the end of the stop.
#[test]
fn a_start_during_the_stop_is_refused() {
    use postwire::server::Server;
    let server = Arc::new(Server::new(options()).unwrap());
    let addr = server.listen("127.0.0.1:0".parse().unwrap()).unwrap();
    let h = server.start().unwrap();
    let mut r = Raw::greeted(addr);
    assert_eq!(r.cmd("EHLO client.example.org").0, 250);
    assert_eq!(r.cmd("MAIL FROM:<a@example.org>").0, 250);
    server.stop();
    let e = server.start().err().expect("a start during the stop is an error");
    assert_eq!(e.kind(), postwire::ErrorKind::InvalidInput);
    drop(r);
    h.wait().expect("the stop ends");
}

/// Records the local address each session saw.
#[derive(Default)]
struct Locals(Mutex<Vec<std::net::SocketAddr>>);

impl Hooks for Locals {
    fn on_connect(&self, s: SessionInfo) -> Option<HookFuture> {
        self.0.lock().unwrap().push(s.local);
        None
    }
}

#[test]
fn a_session_knows_the_address_it_was_accepted_on_also_behind_a_wildcard_listener() {
    let locals = Arc::new(Locals::default());
    let server = Arc::new(postwire::server::Server::with_hooks(options(), locals.clone()).unwrap());
    let one = server.listen("127.0.0.1:0".parse().unwrap()).unwrap();
    let any = server.listen("0.0.0.0:0".parse().unwrap()).unwrap();
    let s = Arc::clone(&server);
    let thread = std::thread::spawn(move || {
        let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(1).enable_all().build().unwrap();
        rt.block_on(s.serve()).expect("serve");
    });
    // 127.0.0.2 reaches only the wildcard listener's socket: its session must say .2, not 0.0.0.0.
    let via_any: std::net::SocketAddr = format!("127.0.0.2:{}", any.port()).parse().unwrap();
    for addr in [one, via_any] {
        let mut r = Raw::greeted(addr);
        assert_eq!(r.cmd("QUIT").0, 221);
    }
    server.stop();
    thread.join().unwrap();
    assert_eq!(*locals.0.lock().unwrap(), vec![one, via_any]);
}

#[test]
fn listen_after_serve_is_refused_instead_of_binding_a_socket_nobody_serves() {
    let server = Arc::new(postwire::server::Server::new(options()).unwrap());
    let addr = server.listen("127.0.0.1:0".parse().unwrap()).unwrap();
    let s = Arc::clone(&server);
    let rt =
        Arc::new(tokio::runtime::Builder::new_multi_thread().worker_threads(1).enable_all().build().unwrap());
    let serving = rt.spawn(async move { s.serve().await });
    // Serving once a client is greeted (the listeners were taken before the accept loops ran).
    let mut r = Raw::greeted(addr);
    assert_eq!(r.cmd("QUIT").0, 221);
    let e = server.listen("127.0.0.1:0".parse().unwrap()).unwrap_err();
    assert_eq!(e.kind(), postwire::ErrorKind::InvalidInput, "{e}");
    let again = rt.block_on(server.serve()).unwrap_err();
    assert_eq!(again.kind(), postwire::ErrorKind::InvalidInput, "{again}");
    server.stop();
    rt.block_on(serving).unwrap().unwrap();
}
