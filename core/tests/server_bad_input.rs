//! Bad input gets the right SMTP reply, loses nothing, and never takes the server down:
//! wrong order, bad syntax, over-long lines, size and recipient limits, server full, SMTP
//! smuggling, STARTTLS injection, slow clients, obsolete commands.

mod server_support;

use std::io::Write;
use std::sync::Arc;
use std::time::Duration;

use postwire::server::{Delivery, ServerOptions, ServerTimeouts};
use server_support::*;

#[test]
fn unknown_command_500_bad_arguments_501_wrong_order_503() {
    let srv = TestServer::start(options());
    let mut r = Raw::connect(srv.addr);
    assert_eq!(r.reply().0, 220);
    assert_eq!(r.cmd("MAIL FROM:<a@b.example>").0, 503, "MAIL before EHLO");
    assert_eq!(r.cmd("XYZZY").0, 500);
    assert_eq!(r.cmd("EHLO").0, 501, "EHLO needs a domain");
    assert_eq!(r.cmd("EHLO c.example").0, 250);
    assert_eq!(r.cmd("RCPT TO:<bob@test.example>").0, 503, "RCPT before MAIL");
    assert_eq!(r.cmd("DATA").0, 503, "DATA before MAIL");
    assert_eq!(r.cmd("MAIL FROM:<not an address>").0, 501);
    assert_eq!(r.cmd("MAIL FROM:<a@b.example>").0, 250);
    assert_eq!(r.cmd("MAIL FROM:<a@b.example>").0, 503, "nested MAIL");
    assert_eq!(r.cmd("DATA").0, 503, "DATA before RCPT");
    assert_eq!(r.cmd("RCPT TO:<a@b@c.example>").0, 501);
    assert_eq!(r.cmd("RCPT TO:<>").0, 501);
    assert_eq!(r.cmd("RCPT TO:<bob@test.example>").0, 250);
    assert_eq!(r.cmd("RSET").0, 250);
    assert_eq!(r.cmd("NOOP").0, 250);
    assert_eq!(r.cmd("QUIT").0, 221);
}

#[test]
fn obsolete_and_off_by_default_commands() {
    let srv = TestServer::start(options());
    let mut r = Raw::greeted(srv.addr);
    for verb in ["SEND FROM:<a@b.example>", "SOML FROM:<a@b.example>", "SAML FROM:<a@b.example>", "TURN"] {
        assert_eq!(r.cmd(verb).0, 502, "{verb}");
    }
    assert_eq!(r.cmd("VRFY bob").0, 252);
    assert_eq!(r.cmd("EXPN staff").0, 502);
    assert_eq!(r.cmd("HELP").0, 214);
    assert_eq!(r.cmd("STARTTLS").0, 502, "no certificate configured");
    assert_eq!(r.cmd("AUTH PLAIN").0, 502, "no authenticator configured");
}

#[test]
fn vrfy_when_allowed_answers_like_rcpt() {
    let srv = TestServer::start(ServerOptions { allow_vrfy: true, allow_expn: true, ..options() });
    let mut r = Raw::greeted(srv.addr);
    assert_eq!(r.cmd("VRFY bob@test.example").0, 250);
    assert_eq!(r.cmd("VRFY <bob@elsewhere.example>").0, 550);
    assert_eq!(r.cmd("EXPN bob@test.example").0, 250);
}

#[test]
fn overlong_command_line_is_500_and_session_survives() {
    let srv = TestServer::start(options());
    let mut r = Raw::greeted(srv.addr);
    let long = format!("NOOP {}\r\n", "x".repeat(600));
    r.send(long.as_bytes());
    let (code, _) = r.reply();
    assert_eq!(code, 500);
    assert_eq!(r.cmd("NOOP").0, 250, "the session survives");
}

#[test]
fn client_that_never_sends_newline_cannot_grow_memory() {
    let srv = TestServer::start(options());
    let mut r = Raw::greeted(srv.addr);
    // 4 MiB without a newline: answered 500 once, then discarded up to the next LF.
    let chunk = vec![b'A'; 64 * 1024];
    for _ in 0..64 {
        r.send(&chunk);
    }
    r.send(b"\r\n");
    assert_eq!(r.reply().0, 500);
    assert_eq!(r.cmd("NOOP").0, 250);
}

#[test]
fn message_over_size_is_552_and_nothing_is_stored() {
    let dir = tempfile::tempdir().unwrap();
    let md = dir.path().join("Maildir");
    let srv = TestServer::start(ServerOptions {
        max_message_size: 10_000,
        delivery: Delivery::Maildir(md.clone()),
        ..options()
    });
    let mut r = Raw::greeted(srv.addr);
    assert_eq!(r.cmd("MAIL FROM:<a@b.example> SIZE=20000").0, 552, "announced SIZE too large");
    assert_eq!(r.cmd("MAIL FROM:<a@b.example>").0, 250);
    assert_eq!(r.cmd("RCPT TO:<bob@test.example>").0, 250);
    assert_eq!(r.cmd("DATA").0, 354);
    let line = format!("{}\r\n", "z".repeat(98));
    for _ in 0..300 {
        r.send(line.as_bytes());
    }
    r.send(b".\r\n");
    assert_eq!(r.reply().0, 552);
    assert_eq!(r.cmd("NOOP").0, 250, "the session goes on after 552");
    assert!(maildir_messages(&md).is_empty());
}

#[test]
fn recipients_past_the_maximum_get_452() {
    let srv = TestServer::start(ServerOptions { max_recipients: 3, ..options() });
    let mut r = Raw::greeted(srv.addr);
    assert_eq!(r.cmd("MAIL FROM:<a@b.example>").0, 250);
    for i in 0..3 {
        assert_eq!(r.cmd(&format!("RCPT TO:<u{i}@test.example>")).0, 250);
    }
    assert_eq!(r.cmd("RCPT TO:<u9@test.example>").0, 452);
    assert_eq!(r.cmd("DATA").0, 354);
    r.send(b"Subject: x\r\n\r\nbody\r\n.\r\n");
    assert_eq!(r.reply().0, 250, "the first three still get the message");
}

#[test]
fn server_full_answers_421() {
    let srv = TestServer::start(ServerOptions { max_connections: 2, ..options() });
    let _a = Raw::greeted(srv.addr);
    let _b = Raw::greeted(srv.addr);
    let mut c = Raw::connect(srv.addr);
    assert_eq!(c.reply().0, 421);
    assert!(c.closed());
    assert_eq!(srv.server.stats().refused_connections, 1);
}

/// Each of the smuggling sequences inside DATA: the server must not end the message there, must
/// refuse it (5xx) and close, and must store nothing — and the "smuggled" second message must
/// never be accepted.
#[test]
fn smtp_smuggling_sequences_are_refused_and_nothing_is_stored() {
    let seqs = postwire::proto::data::SMUGGLING_SEQUENCES;
    let dir = tempfile::tempdir().unwrap();
    let md = dir.path().join("Maildir");
    let srv = TestServer::start(ServerOptions { delivery: Delivery::Maildir(md.clone()), ..options() });
    for seq in seqs {
        let mut r = Raw::greeted(srv.addr);
        assert_eq!(r.cmd("MAIL FROM:<a@b.example>").0, 250);
        assert_eq!(r.cmd("RCPT TO:<bob@test.example>").0, 250);
        assert_eq!(r.cmd("DATA").0, 354);
        let mut payload = b"Subject: first\r\n\r\nhello".to_vec();
        payload.extend_from_slice(seq);
        payload.extend_from_slice(b"MAIL FROM:<admin@test.example>\r\nRCPT TO:<bob@test.example>\r\nDATA\r\nSubject: smuggled\r\n\r\nx\r\n.\r\n");
        r.send(&payload);
        let (code, text) = r.reply();
        assert!((500..600).contains(&code), "{seq:?}: got {code} {text}");
        assert!(r.closed(), "{seq:?}: the session must be closed");
    }
    assert!(maildir_messages(&md).is_empty(), "nothing may be stored");
    assert_eq!(srv.server.stats().messages_accepted, 0);
}

/// The end of data split over several writes. Whether TCP delivers them as separate segments is
/// up to the kernel (sleeping between writes proves nothing), so this only checks the outcome
/// on a real socket; `server::session` tests feed the same bytes split at every position.
#[test]
fn data_terminator_only_crlf_dot_crlf() {
    let dir = tempfile::tempdir().unwrap();
    let md = dir.path().join("Maildir");
    let srv = TestServer::start(ServerOptions { delivery: Delivery::Maildir(md.clone()), ..options() });
    let mut r = Raw::greeted(srv.addr);
    // The whole transaction pipelined in one write, data terminator split over writes.
    r.send(b"MAIL FROM:<a@b.example>\r\nRCPT TO:<bob@test.example>\r\nDATA\r\n");
    assert_eq!(r.reply().0, 250);
    assert_eq!(r.reply().0, 250);
    assert_eq!(r.reply().0, 354);
    r.send(b"Subject: t\r\n\r\nline\r");
    r.send(b"\n.");
    r.send(b"\r\nNOOP\r\n");
    assert_eq!(r.reply().0, 250);
    assert_eq!(r.reply().0, 250, "the NOOP pipelined after the dot is a command");
    let stored = maildir_messages(&md);
    assert_eq!(stored.len(), 1);
    assert!(stored[0].ends_with(b"\r\n\r\nline\r\n"));
}

#[test]
fn starttls_injection_is_discarded() {
    let dir = tempfile::tempdir().unwrap();
    let (cert, key) = test_cert(dir.path());
    let srv =
        TestServer::start(ServerOptions { tls_cert: Some(cert.clone()), tls_key: Some(key), ..options() });
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    rt.block_on(async {
        use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
        let mut tcp = tokio::net::TcpStream::connect(srv.addr).await.unwrap();
        let mut buf = vec![0u8; 4096];
        let read_reply = |buf: &[u8], n: usize| String::from_utf8_lossy(&buf[..n]).to_string();
        use tokio::io::AsyncReadExt;
        let n = tcp.read(&mut buf).await.unwrap();
        assert!(read_reply(&buf, n).starts_with("220"));
        tcp.write_all(b"EHLO c.example\r\n").await.unwrap();
        let mut ehlo = String::new();
        while !ehlo.contains("250 ") {
            let n = tcp.read(&mut buf).await.unwrap();
            assert!(n > 0);
            ehlo.push_str(&read_reply(&buf, n));
        }
        assert!(ehlo.contains("STARTTLS"));
        // STARTTLS and an injected command in one segment.
        tcp.write_all(b"STARTTLS\r\nMAIL FROM:<injected@evil.example>\r\n").await.unwrap();
        let n = tcp.read(&mut buf).await.unwrap();
        let reply = read_reply(&buf, n);
        assert!(reply.starts_with("220"), "{reply}");
        assert_eq!(reply.matches("\r\n").count(), 1, "only the 220 may come before the handshake: {reply}");
        let mut roots = rustls::RootCertStore::empty();
        let pem = std::fs::read(&cert).unwrap();
        for c in
            <rustls::pki_types::CertificateDer as rustls::pki_types::pem::PemObject>::pem_slice_iter(&pem)
        {
            roots.add(c.unwrap()).unwrap();
        }
        let config =
            rustls::ClientConfig::builder_with_provider(Arc::new(rustls::crypto::ring::default_provider()))
                .with_safe_default_protocol_versions()
                .unwrap()
                .with_root_certificates(roots)
                .with_no_client_auth();
        let connector = tokio_rustls::TlsConnector::from(Arc::new(config));
        let name = rustls::pki_types::ServerName::try_from("localhost").unwrap();
        let tls = connector.connect(name, tcp).await.expect("TLS handshake");
        let mut tls = BufReader::new(tls);
        // If the injected MAIL had been executed, a "MAIL FROM: nested" 503 or a 250 would
        // arrive before the EHLO reply; RSET would also say nothing of it. Ask for MAIL now:
        // if the injected one had run, this would be a nested MAIL (503).
        tls.get_mut().write_all(b"EHLO c.example\r\n").await.unwrap();
        let mut line = String::new();
        tls.read_line(&mut line).await.unwrap();
        assert!(line.starts_with("250-mx.test.example"), "first reply after TLS must be EHLO's: {line}");
        loop {
            line.clear();
            tls.read_line(&mut line).await.unwrap();
            if line.starts_with("250 ") {
                break;
            }
            assert!(!line.contains("STARTTLS"), "STARTTLS is not offered twice");
        }
        tls.get_mut().write_all(b"MAIL FROM:<real@sender.example>\r\n").await.unwrap();
        line.clear();
        tls.read_line(&mut line).await.unwrap();
        assert!(line.starts_with("250"), "the injected MAIL must not have opened a transaction: {line}");
    });
}

#[test]
fn silent_client_is_dropped_at_the_timeout() {
    let srv = TestServer::start(ServerOptions {
        timeouts: ServerTimeouts::uniform(Duration::from_millis(300)),
        ..options()
    });
    let mut r = Raw::connect(srv.addr);
    assert_eq!(r.reply().0, 220);
    assert_eq!(r.reply().0, 421, "the client is told why");
    assert!(r.closed(), "the server must hang up on a silent client");
    // A slow drip in DATA is dropped as well.
    let mut r = Raw::greeted(srv.addr);
    r.cmd("MAIL FROM:<a@b.example>");
    r.cmd("RCPT TO:<bob@test.example>");
    assert_eq!(r.cmd("DATA").0, 354);
    r.send(b"Subject: slow\r\n");
    assert!(r.closed());
    assert_eq!(srv.server.stats().messages_accepted, 0);
}

#[test]
fn strict_mode_refuses_real_world_leniency() {
    let lenient = TestServer::start(options());
    let mut r = Raw::greeted(lenient.addr);
    assert_eq!(r.cmd("MAIL FROM: <a@b.example> AUTH=<> X-UNKNOWN=1").0, 250);
    r.cmd("RSET");
    assert_eq!(r.cmd("MAIL FROM:a@b.example").0, 250);
    let strict = TestServer::start(ServerOptions { strict: true, ..options() });
    let mut r = Raw::greeted(strict.addr);
    assert_eq!(r.cmd("MAIL FROM: <a@b.example>").0 / 100, 5);
    assert_eq!(r.cmd("MAIL FROM:<a@b.example> X-UNKNOWN=1").0, 555);
    assert_eq!(r.cmd("MAIL FROM:<a@b.example> AUTH=<>").0, 250);
}

#[test]
fn garbage_never_takes_the_server_down() {
    let srv = TestServer::start(ServerOptions { max_errors: 1000, ..options() });
    let mut seed: u64 = 0x9E37_79B9_7F4A_7C15;
    for _ in 0..20 {
        let mut r = Raw::connect(srv.addr);
        r.reply();
        let mut junk = Vec::with_capacity(4096);
        for _ in 0..4096 {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            junk.push((seed & 0xFF) as u8);
        }
        let _ = r.stream.write_all(&junk);
        let _ = r.stream.write_all(b"\r\nQUIT\r\n");
        drop(r);
    }
    let mut r = Raw::greeted(srv.addr);
    assert_eq!(r.cmd("NOOP").0, 250, "still serving after garbage");
}

#[test]
fn too_many_errors_closes_the_session() {
    let srv = TestServer::start(ServerOptions { max_errors: 3, ..options() });
    let mut r = Raw::greeted(srv.addr);
    assert_eq!(r.cmd("BOGUS1").0, 500);
    assert_eq!(r.cmd("BOGUS2").0, 500);
    let (code, _) = r.cmd("BOGUS3");
    assert_eq!(code, 500);
    assert_eq!(r.reply().0, 421);
    assert!(r.closed());
}

#[test]
fn bdat_chunks_are_stored_and_oversize_is_552() {
    let dir = tempfile::tempdir().unwrap();
    let md = dir.path().join("Maildir");
    let srv = TestServer::start(ServerOptions {
        max_message_size: 100,
        delivery: Delivery::Maildir(md.clone()),
        ..options()
    });
    let mut r = Raw::greeted(srv.addr);
    r.cmd("MAIL FROM:<a@b.example>");
    r.cmd("RCPT TO:<bob@test.example>");
    // A chunk that contains what looks like commands and a lone dot: BDAT is length-counted.
    r.send(b"BDAT 23\r\nSubject: c\r\n\r\n.\r\nQUIT\r\n");
    assert_eq!(r.reply().0, 250);
    // (This test used to end the message with a bare LF: BDAT now applies DATA's content
    // policy, which refuses it — see bdat_content_policy_is_the_same_as_data.)
    r.send(b"BDAT 5 LAST\r\nend\r\n");
    let (code, text) = r.reply();
    assert_eq!(code, 250, "{text}");
    let stored = maildir_messages(&md);
    assert_eq!(stored.len(), 1);
    assert!(stored[0].ends_with(b"Subject: c\r\n\r\n.\r\nQUIT\r\nend\r\n"));
    // Over the limit: 552, drained, session usable.
    r.cmd("MAIL FROM:<a@b.example>");
    r.cmd("RCPT TO:<bob@test.example>");
    let mut big = b"BDAT 200 LAST\r\n".to_vec();
    big.extend(std::iter::repeat_n(b'q', 200));
    r.send(&big);
    assert_eq!(r.reply().0, 552);
    assert_eq!(r.cmd("NOOP").0, 250);
    // BDAT without a transaction: the octets are drained, never executed.
    r.send(b"BDAT 6\r\nQUIT\r\n");
    assert_eq!(r.reply().0, 503);
    assert_eq!(r.cmd("NOOP").0, 250);
    assert_eq!(maildir_messages(&md).len(), 1);
}

#[test]
fn maildir_failure_answers_451_and_keeps_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let md = dir.path().join("Maildir");
    let srv = TestServer::start(ServerOptions { delivery: Delivery::Maildir(md.clone()), ..options() });
    std::fs::remove_dir(md.join("new")).unwrap();
    std::fs::write(md.join("new"), b"not a directory").unwrap();
    let mut r = Raw::greeted(srv.addr);
    r.cmd("MAIL FROM:<a@b.example>");
    r.cmd("RCPT TO:<bob@test.example>");
    assert_eq!(r.cmd("DATA").0, 354);
    r.send(b"Subject: x\r\n\r\ny\r\n.\r\n");
    assert_eq!(r.reply().0, 451);
    assert_eq!(std::fs::read_dir(md.join("tmp")).unwrap().count(), 0, "no half-written file");
    assert_eq!(srv.server.stats().messages_accepted, 0);
}

/// A BDAT whose size cannot be parsed leaves the chunk boundary unknown: the server must close
/// rather than execute the chunk's octets as commands.
#[test]
fn malformed_bdat_closes_instead_of_executing_the_chunk() {
    let srv = TestServer::start(options());
    let mut r = Raw::greeted(srv.addr);
    assert_eq!(r.cmd("MAIL FROM:<a@b.example>").0, 250);
    assert_eq!(r.cmd("RCPT TO:<bob@test.example>").0, 250);
    r.send(b"BDAT 99999999999999999999 LAST\r\nRSET\r\nQUIT\r\n");
    assert_eq!(r.reply().0, 501);
    assert_eq!(r.reply().0, 421);
    assert!(r.closed(), "the payload after an unparsable BDAT must not be executed");
}

#[test]
fn dsn_parameters_cannot_carry_line_breaks() {
    // DSN parameters are accepted only where DSN is offered (`advertise_dsn`).
    let srv = TestServer::start(ServerOptions { advertise_dsn: true, ..options() });
    let mut r = Raw::greeted(srv.addr);
    assert_eq!(r.cmd("MAIL FROM:<a@b.example> ENVID=abc+0D+0ABcc:+20evil@x.example").0, 501);
    assert_eq!(r.cmd("MAIL FROM:<a@b.example> ENVID=abc+2Bok").0, 250);
    assert_eq!(r.cmd("RCPT TO:<bob@test.example> ORCPT=rfc822;a@b+0D+0AX-Injected:+201").0, 501);
}

/// Messages in memory are bounded server-wide: past `max_buffered_bytes` a message is drained
/// and answered 452 (try later), the session goes on, and the budget comes back afterwards.
#[test]
fn memory_budget_refuses_with_452_and_recovers() {
    let dir = tempfile::tempdir().unwrap();
    let md = dir.path().join("Maildir");
    let opts =
        ServerOptions { max_buffered_bytes: 64 * 1024, delivery: Delivery::Maildir(md.clone()), ..options() };
    let srv = TestServer::start(opts);
    let mut r = Raw::greeted(srv.addr);
    let line = format!("{}\r\n", "m".repeat(98));
    // DATA of 200 KiB: over the budget.
    r.cmd("MAIL FROM:<a@b.example>");
    r.cmd("RCPT TO:<bob@test.example>");
    assert_eq!(r.cmd("DATA").0, 354);
    for _ in 0..2000 {
        r.send(line.as_bytes());
    }
    r.send(b".\r\n");
    assert_eq!(r.reply().0, 452);
    // BDAT of 200 KiB: over the budget too, drained (the payload is not executed).
    r.cmd("MAIL FROM:<a@b.example>");
    r.cmd("RCPT TO:<bob@test.example>");
    let mut bdat = b"BDAT 204800 LAST\r\n".to_vec();
    bdat.extend(std::iter::repeat_n(b'x', 204_800));
    r.send(&bdat);
    assert_eq!(r.reply().0, 452);
    // A small message fits again.
    r.cmd("MAIL FROM:<a@b.example>");
    r.cmd("RCPT TO:<bob@test.example>");
    assert_eq!(r.cmd("DATA").0, 354);
    r.send(b"Subject: small\r\n\r\nok\r\n.\r\n");
    assert_eq!(r.reply().0, 250);
    assert_eq!(maildir_messages(&md).len(), 1);
}
