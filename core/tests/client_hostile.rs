//! The client against scripted and hostile servers on loopback: command injection refused before
//! a byte is written, STARTTLS response injection, refused banners, a server that closes
//! mid-DATA, endless/huge/dripping/non-SMTP replies, and the DATA wire invariant as a property.

mod client_support;

use std::sync::{Arc, Mutex};
use std::time::Duration;

use client_support::{normalized, opts, pki, polite, scripted, tls_acceptor, Step};
use postwire::client::{Client, ClientTimeouts, DsnOptions, SendOptions, TlsMode};
use postwire::ErrorKind;
use tokio::io::AsyncWriteExt;

const CAPS: &[&str] =
    &["PIPELINING", "8BITMIME", "SIZE 1000000", "DSN", "AUTH PLAIN LOGIN", "ENHANCEDSTATUSCODES"];

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

#[tokio::test]
async fn injection_in_envelope_writes_nothing_of_the_transaction() {
    let (port, seen) = scripted(b"220 scripted ESMTP\r\n", None, polite(CAPS)).await;
    let mut c = Client::connect(opts(port)).await.expect("connect");
    let one = |s: &str| vec![s.to_string()];
    let cases: Vec<(String, Vec<String>)> = vec![
        ("a@example.test\r\nRCPT TO:<x@evil.test>".into(), one("b@example.test")),
        ("a@example.test".into(), one("b@example.test\nDATA")),
        ("a@example.test".into(), one("b@exa\0mple.test")),
        ("a@exa\rmple.test".into(), one("b@example.test")),
        ("a@example.test".into(), vec!["ok@example.test".into(), "x@y\r\n.\r\nMAIL FROM:<z@z>".into()]),
        ("not an address".into(), one("b@example.test")),
    ];
    for (from, to) in &cases {
        let e = c.send(from, to, b"Subject: x\r\n\r\nbody\r\n").await.expect_err("must refuse");
        assert_eq!(e.kind(), ErrorKind::InvalidInput, "{from:?} {to:?}: {e}");
    }
    // ESMTP parameter (ENVID) with CR/LF.
    let env = SendOptions {
        mail_from: "a@example.test".into(),
        rcpt_to: vec!["b@example.test".into()],
        dsn: Some(DsnOptions { envid: Some("id\r\nRSET".into()), ..Default::default() }),
        ..Default::default()
    };
    let e = c.send_with(&env, b"x\r\n").await.expect_err("ENVID with CRLF");
    assert_eq!(e.kind(), ErrorKind::InvalidInput);
    // VRFY argument.
    assert_eq!(c.verify("a@b\r\nQUIT").await.expect_err("vrfy").kind(), ErrorKind::InvalidInput);
    assert!(!c.is_closed());
    c.quit().await.expect("quit");
    let seen = text(&seen.await.expect("server"));
    assert_eq!(seen, "EHLO client.test\r\nQUIT\r\n", "only EHLO and QUIT reached the server");
}

#[tokio::test]
async fn injection_in_auth_data_writes_nothing() {
    let (port, seen) = scripted(b"220 scripted ESMTP\r\n", None, polite(CAPS)).await;
    let mut o = opts(port);
    o.allow_plaintext_auth = true;
    let mut c = Client::connect(o).await.expect("connect");
    for (user, secret, mech) in [
        ("user\r\nMAIL FROM:<a@b>", "pw", None),
        ("user", "pw\nQUIT", None),
        ("user", "p\0w", Some("PLAIN")),
        ("user", "pw", Some("PLAIN\r\nQUIT")),
    ] {
        let e = c.login(user, secret, mech).await.expect_err("must refuse");
        assert_eq!(e.kind(), ErrorKind::InvalidInput, "{user:?} {secret:?} {mech:?}");
    }
    c.quit().await.expect("quit");
    assert_eq!(text(&seen.await.expect("server")), "EHLO client.test\r\nQUIT\r\n");
}

#[tokio::test]
async fn injection_in_ehlo_name_never_connects() {
    let (port, seen) = scripted(b"220 scripted ESMTP\r\n", None, polite(&[])).await;
    for bad in ["client.test\r\nMAIL FROM:<a@b>", "client\n", "cli\0ent", "two words", ""] {
        let mut o = opts(port);
        o.hello_name = Some(bad.into());
        let e = Client::connect(o).await.expect_err("must refuse");
        assert_eq!(e.kind(), ErrorKind::InvalidInput, "{bad:?}");
    }
    // The scripted server accepts one connection: this one must be the first it saw.
    let mut c = Client::connect(opts(port)).await.expect("connect");
    c.quit().await.expect("quit");
    assert_eq!(text(&seen.await.expect("server")), "EHLO client.test\r\nQUIT\r\n");
}

#[tokio::test]
async fn plaintext_auth_is_refused_without_permission() {
    let (port, seen) = scripted(b"220 scripted ESMTP\r\n", None, polite(CAPS)).await;
    let mut c = Client::connect(opts(port)).await.expect("connect");
    let e = c.login("user", "secret", None).await.expect_err("no TLS");
    assert_eq!(e.kind(), ErrorKind::Auth);
    c.quit().await.expect("quit");
    assert_eq!(text(&seen.await.expect("server")), "EHLO client.test\r\nQUIT\r\n");
}

#[tokio::test]
async fn auth_secrets_are_masked_in_the_transcript() {
    let (port, _seen) = scripted(b"220 scripted ESMTP\r\n", None, {
        let mut inner = polite(CAPS);
        move |line: &[u8]| {
            if line.starts_with(b"AUTH") {
                Step::Reply(b"235 2.7.0 ok\r\n".to_vec())
            } else {
                inner(line)
            }
        }
    })
    .await;
    let mut o = opts(port);
    o.allow_plaintext_auth = true;
    let mut c = Client::connect(o).await.expect("connect");
    c.login("user", "s3cret-pw", Some("plain")).await.expect("login");
    assert!(c.transcript().iter().any(|l| l == "C: AUTH PLAIN ****"), "{:?}", c.transcript());
    let joined = c.transcript().join("\n");
    assert!(!joined.contains("s3cret") && !joined.contains("AHVzZXIAczNjcmV0LXB3"), "{joined}");
    c.quit().await.expect("quit");
}

#[tokio::test]
async fn starttls_response_injection_is_discarded() {
    let p = pki();
    let mut tls_done = false;
    let (port, _seen) = scripted(b"220 scripted ESMTP\r\n", Some(tls_acceptor(&p)), move |line: &[u8]| {
        let l = text(line).to_ascii_uppercase();
        if l.starts_with("EHLO") {
            if tls_done {
                Step::Reply(b"250-scripted.test\r\n250-X-REAL\r\n250 PIPELINING\r\n".to_vec())
            } else {
                Step::Reply(b"250-scripted.test\r\n250-X-PLAIN-ONLY\r\n250 STARTTLS\r\n".to_vec())
            }
        } else if l.starts_with("STARTTLS") {
            tls_done = true;
            // The injected reply arrives in the same segment as the 220.
            Step::StartTls(b"220 go\r\n250 injected\r\n".to_vec())
        } else if l.starts_with("NOOP") {
            Step::Reply(b"250 real noop\r\n".to_vec())
        } else if l.starts_with("QUIT") {
            Step::Close(b"221 bye\r\n".to_vec())
        } else {
            Step::Reply(b"500 what\r\n".to_vec())
        }
    })
    .await;
    let mut o = opts(port);
    o.tls = TlsMode::StartTls;
    o.ca_file = Some(p.ca.clone());
    let mut c = Client::connect(o).await.expect("connect with STARTTLS");
    assert!(c.is_tls());
    assert!(c.capabilities().has("X-REAL"), "{:?}", c.capabilities());
    assert!(!c.capabilities().has("X-PLAIN-ONLY"), "pre-TLS capabilities must be forgotten");
    assert!(!c.capabilities().has("STARTTLS"));
    let noop = c.noop().await.expect("noop");
    assert_eq!(noop.lines, vec!["real noop".to_string()]);
    assert!(
        !c.transcript().iter().any(|l| l.contains("injected") && l.starts_with("S:")),
        "{:?}",
        c.transcript()
    );
    c.quit().await.expect("quit");
}

#[tokio::test]
async fn starttls_required_but_not_offered_is_a_tls_error() {
    let (port, _seen) = scripted(b"220 scripted ESMTP\r\n", None, polite(CAPS)).await;
    let mut o = opts(port);
    o.tls = TlsMode::StartTls;
    o.accept_invalid_certs = true;
    let e = Client::connect(o).await.expect_err("no STARTTLS offered");
    assert_eq!(e.kind(), ErrorKind::Tls);
}

#[tokio::test]
async fn opportunistic_without_starttls_stays_plain() {
    let (port, _seen) = scripted(b"220 scripted ESMTP\r\n", None, polite(CAPS)).await;
    let mut o = opts(port);
    o.tls = TlsMode::Opportunistic;
    let mut c = Client::connect(o).await.expect("connect");
    assert!(!c.is_tls());
    c.quit().await.expect("quit");
}

#[tokio::test]
async fn refused_banners() {
    for (banner, kind, code) in [
        (&b"421 4.3.2 busy, try later\r\n"[..], ErrorKind::Transient, 421),
        (&b"554 5.7.1 go away\r\n"[..], ErrorKind::Rejected, 554),
    ] {
        let (port, _seen) = scripted(banner, None, polite(&[])).await;
        let e = Client::connect(opts(port)).await.expect_err("refused banner");
        assert_eq!(e.kind(), kind);
        assert_eq!(e.reply().map(|r| r.code), Some(code));
    }
}

#[tokio::test]
async fn helo_fallback_when_ehlo_is_unknown() {
    let (port, seen) = scripted(b"220 old server\r\n", None, |line: &[u8]| {
        if line.starts_with(b"EHLO") {
            Step::Reply(b"500 command unrecognized\r\n".to_vec())
        } else if line.starts_with(b"QUIT") {
            Step::Close(b"221 bye\r\n".to_vec())
        } else {
            Step::Reply(b"250 ok\r\n".to_vec())
        }
    })
    .await;
    let mut c = Client::connect(opts(port)).await.expect("connect");
    assert!(!c.is_esmtp());
    assert!(c.capabilities().0.is_empty());
    c.quit().await.expect("quit");
    assert_eq!(text(&seen.await.expect("server")), "EHLO client.test\r\nHELO client.test\r\nQUIT\r\n");
}

#[tokio::test]
async fn server_closing_mid_data() {
    let mut in_data = false;
    let (port, _seen) = scripted(b"220 scripted ESMTP\r\n", None, move |line: &[u8]| {
        if in_data {
            return Step::Close(Vec::new());
        }
        let l = text(line).to_ascii_uppercase();
        if l.starts_with("EHLO") {
            Step::Reply(b"250-scripted.test\r\n250 PIPELINING\r\n".to_vec())
        } else if l.starts_with("DATA") {
            in_data = true;
            Step::Reply(b"354 go\r\n".to_vec())
        } else {
            Step::Reply(b"250 ok\r\n".to_vec())
        }
    })
    .await;
    let mut c = Client::connect(opts(port)).await.expect("connect");
    let msg = "Subject: x\r\n\r\n".to_string() + &"line of text\r\n".repeat(1000);
    let e = c.send("a@example.test", &["b@example.test".into()], msg.as_bytes()).await.expect_err("closed");
    assert_eq!(e.kind(), ErrorKind::Protocol, "{e}");
    assert!(c.is_closed());
    assert_eq!(c.noop().await.expect_err("closed").kind(), ErrorKind::Protocol);
}

/// A raw server that writes `payload` after accepting, drip-feeding if `drip`.
async fn raw_server(payload: Vec<u8>, drip: Option<Duration>, repeat: usize) -> u16 {
    let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let port = l.local_addr().expect("addr").port();
    tokio::spawn(async move {
        let Ok((mut s, _)) = l.accept().await else {
            return;
        };
        let work = async {
            for _ in 0..repeat {
                match drip {
                    Some(d) => {
                        for b in &payload {
                            if s.write_all(&[*b]).await.is_err() {
                                return;
                            }
                            tokio::time::sleep(d).await;
                        }
                    }
                    None => {
                        if s.write_all(&payload).await.is_err() {
                            return;
                        }
                    }
                }
            }
        };
        let _ = tokio::time::timeout(Duration::from_secs(20), work).await;
    });
    port
}

#[tokio::test]
async fn hostile_endless_continuation_lines() {
    let port = raw_server(b"220-hello hello hello hello hello hello\r\n".to_vec(), None, 200_000).await;
    let e = Client::connect(opts(port)).await.expect_err("endless reply");
    assert_eq!(e.kind(), ErrorKind::Protocol, "{e}");
}

#[tokio::test]
async fn hostile_one_mebibyte_line() {
    let mut payload = b"220 ".to_vec();
    payload.extend(std::iter::repeat_n(b'a', 1 << 20));
    payload.extend_from_slice(b"\r\n");
    let port = raw_server(payload, None, 1).await;
    let e = Client::connect(opts(port)).await.expect_err("huge line");
    assert_eq!(e.kind(), ErrorKind::Protocol, "{e}");
}

#[tokio::test]
async fn hostile_slow_drip_times_out() {
    let port = raw_server(
        b"220 a banner that takes its time to arrive\r\n".to_vec(),
        Some(Duration::from_millis(100)),
        1,
    )
    .await;
    let mut o = opts(port);
    o.timeouts = ClientTimeouts::uniform(Duration::from_millis(800));
    let e = Client::connect(o).await.expect_err("drip");
    assert_eq!(e.kind(), ErrorKind::Timeout, "{e}");
}

#[tokio::test]
async fn hostile_not_smtp() {
    let port = raw_server(b"HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n\r\n".to_vec(), None, 1).await;
    let e = Client::connect(opts(port)).await.expect_err("not SMTP");
    assert_eq!(e.kind(), ErrorKind::Protocol, "{e}");
}

#[tokio::test]
async fn silent_server_times_out() {
    let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let port = l.local_addr().expect("addr").port();
    let keep = tokio::spawn(async move {
        let accepted = l.accept().await;
        tokio::time::sleep(Duration::from_secs(5)).await;
        drop(accepted);
    });
    let mut o = opts(port);
    o.timeouts = ClientTimeouts::uniform(Duration::from_millis(300));
    let e = Client::connect(o).await.expect_err("silent");
    assert_eq!(e.kind(), ErrorKind::Timeout);
    keep.abort();
}

/// Per message, the raw bytes the scripted server received between 354 and the final dot.
fn capturing(store: Arc<Mutex<Vec<Vec<u8>>>>) -> impl FnMut(&[u8]) -> Step + Send + 'static {
    let mut inner = polite(&["PIPELINING", "8BITMIME"]);
    let mut in_data = false;
    let mut cur = Vec::new();
    move |line: &[u8]| {
        if in_data {
            if line == b".\r\n" {
                in_data = false;
                store.lock().expect("lock").push(std::mem::take(&mut cur));
                return inner(line);
            }
            cur.extend_from_slice(line);
            return Step::Silent;
        }
        if line.to_ascii_uppercase().starts_with(b"DATA") {
            in_data = true;
        }
        inner(line)
    }
}

fn unstuff(wire: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    for line in wire.split_inclusive(|b| *b == b'\n') {
        out.extend_from_slice(line.strip_prefix(b".").unwrap_or(line));
    }
    out
}

#[test]
fn wire_invariant_between_354_and_the_final_dot() {
    use proptest::prelude::*;
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().expect("runtime");
    let store = Arc::new(Mutex::new(Vec::new()));
    let (port, _seen) = rt.block_on(scripted(b"220 scripted\r\n", None, capturing(store.clone())));
    let client = std::cell::RefCell::new(rt.block_on(Client::connect(opts(port))).expect("connect"));
    let mut runner = proptest::test_runner::TestRunner::new(ProptestConfig {
        cases: 128,
        failure_persistence: None,
        ..ProptestConfig::default()
    });
    let strategy = proptest::collection::vec(
        prop_oneof![Just(b'\r'), Just(b'\n'), Just(b'.'), Just(0u8), Just(0xc3u8), any::<u8>()],
        0..200,
    );
    runner
        .run(&strategy, |message| {
            let before = store.lock().expect("lock").len();
            let r =
                rt.block_on(client.borrow_mut().send("a@example.test", &["b@example.test".into()], &message));
            prop_assert!(r.is_ok(), "send failed: {:?}", r.err());
            let wire = store.lock().expect("lock").get(before).cloned().expect("captured message");
            // No lone CR or LF.
            for (i, b) in wire.iter().enumerate() {
                if *b == b'\r' {
                    prop_assert_eq!(wire.get(i + 1), Some(&b'\n'), "lone CR at {}", i);
                }
                if *b == b'\n' {
                    prop_assert!(i > 0 && wire[i - 1] == b'\r', "lone LF at {}", i);
                }
            }
            // No early end of data: no line consisting of a single dot.
            prop_assert!(!wire.split_inclusive(|b| *b == b'\n').any(|l| l == b".\r\n"));
            // What the server unstuffs is the message, normalised.
            prop_assert_eq!(unstuff(&wire), normalized(&message));
            Ok(())
        })
        .expect("property");
    rt.block_on(client.borrow_mut().quit()).expect("quit");
}

#[tokio::test]
async fn a_421_reply_closes_the_session() {
    // RFC 5321 §3.8: a server that says 421 closes the connection. This one says 421 to every
    // command after EHLO but leaves the socket open: the client must still treat the session as
    // closed (no RSET, no reuse), with the 421 in a `transient` error.
    for caps in [CAPS, &[][..]] {
        let (port, seen) = scripted(b"220 scripted ESMTP\r\n", None, {
            let mut inner = polite(caps);
            move |line: &[u8]| {
                if line.starts_with(b"EHLO") {
                    inner(line)
                } else {
                    Step::Reply(b"421 4.3.2 shutting down\r\n".to_vec())
                }
            }
        })
        .await;
        let mut c = Client::connect(opts(port)).await.expect("connect");
        let e = c.send("a@example.org", &["b@example.net".to_string()], b"Subject: x\r\n\r\nhi\r\n").await;
        let e = e.expect_err("421 to MAIL");
        assert_eq!(e.kind(), ErrorKind::Transient, "{e}");
        assert_eq!(e.reply().map(|r| r.code), Some(421), "{e}");
        assert!(c.is_closed(), "a session that got 421 must be closed (caps {caps:?})");
        assert!(!c.content_sent());
        let again = c.noop().await.expect_err("closed session");
        assert_eq!(again.kind(), ErrorKind::Protocol, "{again}");
        drop(c);
        let seen = text(&seen.await.expect("server"));
        assert!(!seen.contains("RSET") && !seen.contains("NOOP"), "wrote after the 421: {seen:?}");
    }
}
