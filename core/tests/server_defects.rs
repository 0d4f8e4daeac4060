//! The server defects found from outside (issue 8), each against a running server over loopback:
//! raw sockets, smtplib, and `postwire serve` itself with its log on a pipe.

mod server_support;

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use postwire::server::{Delivery, MaildirLayout, ServerOptions, ServerTimeouts};
use server_support::*;

/// Item 1: BDAT goes through DATA's content policy: the issue's reproduction gets a refusal, and
/// nothing is stored; a line refused in DATA is refused in BDAT.
#[test]
fn bdat_content_policy_is_the_same_as_data() {
    let dir = tempfile::tempdir().unwrap();
    let md = dir.path().join("Maildir");
    for strict in [false, true] {
        let srv =
            TestServer::start(ServerOptions { strict, delivery: Delivery::Maildir(md.clone()), ..options() });
        let mut r = Raw::connect(srv.addr);
        r.send(b"EHLO x\r\nMAIL FROM:<a@b.example>\r\nRCPT TO:<u@test.example>\r\nBDAT 39 LAST\r\nSubject: b\r\n\r\nline1\n.\nMAIL FROM:<e@x>\r\nQUIT\r\n");
        let codes: Vec<u16> = (0..5).map(|_| r.reply().0).collect();
        assert_eq!(codes, vec![220, 250, 250, 250, 554], "strict={strict}");
        assert!(r.closed());
        assert!(maildir_messages(&md).is_empty(), "nothing stored (strict={strict})");

        let mut r = Raw::greeted(srv.addr);
        r.cmd("MAIL FROM:<a@b.example>");
        r.cmd("RCPT TO:<u@test.example>");
        let mut long = b"BDAT 5002 LAST\r\n".to_vec();
        long.extend(std::iter::repeat_n(b'x', 5000));
        long.extend_from_slice(b"\r\n");
        r.send(&long);
        assert_eq!(r.reply().0, 500, "a 5,000-octet line is refused in BDAT as in DATA");
        assert_eq!(r.cmd("NOOP").0, 250);
        assert!(maildir_messages(&md).is_empty());
        assert_eq!(srv.server.stats().messages_accepted, 0);
    }
}

/// `postwire serve` as a child process, its stdout (the "listening on" line) read.
struct Serve {
    child: Child,
    addr: String,
}

fn serve(args: &[&str], stderr: Stdio) -> Serve {
    let mut child = Command::new(env!("CARGO_BIN_EXE_postwire"))
        .args([
            "serve",
            "--listen",
            "127.0.0.1:0",
            "--hostname",
            "mx.test.example",
            "--local-domain",
            "test.example",
        ])
        .args(args)
        .stdout(Stdio::piped())
        .stderr(stderr)
        .spawn()
        .expect("postwire serve");
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap()).read_line(&mut line).unwrap();
    let addr = line.trim().strip_prefix("postwire: listening on ").expect("listening line").to_string();
    Serve { child, addr }
}

impl Serve {
    /// SIGTERM, then wait (bounded) for the exit status.
    fn stop(&mut self) -> Option<std::process::ExitStatus> {
        let _ = Command::new("kill").args(["-TERM", &self.child.id().to_string()]).status();
        for _ in 0..200 {
            if let Some(s) = self.child.try_wait().unwrap() {
                return Some(s);
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        None
    }
}

impl Drop for Serve {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

const SEND: &str = r#"
import smtplib, sys
host, port = sys.argv[1].rsplit(":", 1)
for i in range(int(sys.argv[2])):
    with smtplib.SMTP(host, int(port), timeout=20) as s:
        s.sendmail("a@b.example", ["bob@test.example"], b"Subject: %d\r\n\r\nbody\r\n" % i)
print("sent")
"#;

/// Item 2: A broken log pipe never touches mail: with stderr into a pipe whose reader is gone, every
/// message is still answered 250 (not a dropped connection after storing it) and SIGTERM stops
/// the server.
#[test]
fn broken_log_pipe_does_not_break_mail_or_sigterm() {
    let dir = tempfile::tempdir().unwrap();
    let md = dir.path().join("Maildir");
    let mut srv = serve(&["--maildir", md.to_str().unwrap()], Stdio::piped());
    // The log reader goes away, as `| head -c 10` does after its ten bytes.
    drop(srv.child.stderr.take());
    let out = python(SEND, &[&srv.addr, "5"]);
    assert_eq!(out.trim(), "sent", "every message answered 250");
    assert_eq!(maildir_messages(&md).len(), 5);
    let status = srv.stop().expect("SIGTERM stops the server");
    assert!(status.success(), "{status:?}");
}

/// Item 3a: One address cannot take every connection slot: past `max_connections_per_ip` it is told
/// 421, others still get in, and a slot comes back when a session ends.
#[test]
fn per_address_connection_cap() {
    let srv = TestServer::start(ServerOptions {
        max_connections_per_ip: 3,
        connection_limit_exceptions: vec![],
        ..options()
    });
    let held: Vec<Raw> = (0..3).map(|_| Raw::greeted(srv.addr)).collect();
    let mut fourth = Raw::connect(srv.addr);
    let (code, text) = fourth.reply();
    assert_eq!(code, 421, "{text}");
    assert!(text.starts_with("4.7.0"), "{text}");
    assert!(fourth.closed());
    drop(held);
    // The slots come back as the server notices the closed sessions (bounded retries).
    let mut got = 0;
    for _ in 0..100 {
        let mut r = Raw::connect(srv.addr);
        if r.reply().0 == 220 {
            got = 220;
            break;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    assert_eq!(got, 220);
    // Exempt networks (loopback by default) are not counted.
    let open = TestServer::start(ServerOptions { max_connections_per_ip: 1, ..options() });
    let _a = Raw::greeted(open.addr);
    let _b = Raw::greeted(open.addr);
}

/// Item 3b: Dripping message content keeps a slot no longer than `timeouts.data` plus one second per
/// `min_data_rate` bytes: 421, although every single read came within the data timeout.
#[test]
fn dripping_data_is_cut_by_the_minimum_rate() {
    let srv = TestServer::start(ServerOptions {
        timeouts: ServerTimeouts {
            data: Duration::from_millis(600),
            ..ServerTimeouts::uniform(Duration::from_secs(20))
        },
        min_data_rate: 1000,
        ..options()
    });
    let mut r = Raw::greeted(srv.addr);
    r.cmd("MAIL FROM:<a@b.example>");
    r.cmd("RCPT TO:<bob@test.example>");
    assert_eq!(r.cmd("DATA").0, 354);
    r.stream.set_read_timeout(Some(Duration::from_millis(200))).unwrap();
    let mut reply = Vec::new();
    // Up to 100 bytes, one every 200 ms (each read well within the 600 ms data timeout).
    for _ in 0..100 {
        if r.stream.write_all(b"x").is_err() {
            break;
        }
        let mut buf = [0u8; 256];
        match r.reader.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => {
                reply.extend_from_slice(&buf[..n]);
                if reply.ends_with(b"\r\n") {
                    break;
                }
            }
            Err(_) => {}
        }
    }
    let reply = String::from_utf8_lossy(&reply);
    assert!(reply.starts_with("421 4.4.2 Data rate too low"), "{reply:?}");
    assert_eq!(srv.server.stats().messages_accepted, 0);
}

/// Peak resident memory of a process, KiB.
fn peak_rss_kib(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    let line = status.lines().find(|l| l.starts_with("VmHWM:")).unwrap();
    line.split_whitespace().nth(1).unwrap().parse().unwrap()
}

/// Item 4: A message doomed by an over-long line is drained, not kept: 24 MiB on one line (under the
/// 25 MiB size limit) raise the server's peak memory by far less than the line.
#[test]
fn doomed_message_is_drained_not_buffered() {
    let srv = serve(&["--discard", "--quiet"], Stdio::null());
    let mut s = TcpStream::connect(&srv.addr).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
    let mut r = BufReader::new(s.try_clone().unwrap());
    let mut line = String::new();
    let mut reply = |r: &mut BufReader<TcpStream>| loop {
        line.clear();
        r.read_line(&mut line).unwrap();
        if line.as_bytes().get(3) != Some(&b'-') {
            return line[..3].to_string();
        }
    };
    assert_eq!(reply(&mut r), "220");
    s.write_all(b"EHLO c.example\r\nMAIL FROM:<a@b.example>\r\nRCPT TO:<bob@test.example>\r\nDATA\r\n")
        .unwrap();
    for want in ["250", "250", "250", "354"] {
        assert_eq!(reply(&mut r), want);
    }
    let before = peak_rss_kib(srv.child.id());
    let chunk = vec![b'x'; 1 << 20];
    for _ in 0..24 {
        s.write_all(&chunk).unwrap();
    }
    s.write_all(b"\r\n.\r\n").unwrap();
    assert_eq!(reply(&mut r), "500", "over-long line");
    let grown = peak_rss_kib(srv.child.id()).saturating_sub(before);
    assert!(grown < 8 * 1024, "peak memory grew by {grown} KiB for a 24 MiB doomed message");
}

/// Item 5: Junk commands without progress end the session (Postfix's smtpd_junk_command_limit), and
/// 452s far past the recipient limit count as errors.
#[test]
fn junk_commands_and_recipient_overshoot_end_the_session() {
    let srv = TestServer::start(options());
    let mut r = Raw::greeted(srv.addr);
    let noops = "NOOP\r\n".repeat(101);
    r.send(noops.as_bytes());
    for i in 0..100 {
        assert_eq!(r.reply().0, 250, "NOOP {i}");
    }
    assert_eq!(r.reply().0, 421, "the 101st");
    assert!(r.closed());

    let srv = TestServer::start(ServerOptions { max_recipients: 2, max_errors: 5, ..options() });
    let mut r = Raw::greeted(srv.addr);
    r.cmd("MAIL FROM:<a@b.example>");
    let mut rcpts = String::new();
    for i in 0..100 {
        rcpts.push_str(&format!("RCPT TO:<u{i}@test.example>\r\n"));
    }
    r.send(rcpts.as_bytes());
    let mut codes = Vec::new();
    for _ in 0..100 {
        let c = r.reply().0;
        codes.push(c);
        if c == 421 {
            break;
        }
    }
    assert_eq!(&codes[..4], &[250, 250, 452, 452]);
    assert_eq!(codes.last(), Some(&421), "{codes:?}");
    assert!(codes.len() < 20, "closed after max_errors overshooting 452s: {codes:?}");
}

/// Item 6: HELP offers STARTTLS and AUTH only when they are available.
#[test]
fn help_lists_starttls_and_auth_only_when_available() {
    let srv = TestServer::start(options());
    let mut r = Raw::greeted(srv.addr);
    let (code, text) = r.cmd("HELP");
    assert_eq!(code, 214);
    assert!(!text.contains("STARTTLS") && !text.contains("AUTH"), "{text}");
    let dir = tempfile::tempdir().unwrap();
    let (cert, key) = test_cert(dir.path());
    let srv = TestServer::start(ServerOptions { tls_cert: Some(cert), tls_key: Some(key), ..options() });
    let mut r = Raw::greeted(srv.addr);
    let (_, text) = r.cmd("HELP");
    assert!(text.contains("STARTTLS") && !text.contains("AUTH"), "{text}");
}

/// Item 8: DSN is not advertised unless asked for; its parameters are then refused (a conforming
/// client does not send them), and accepted once DSN is offered.
#[test]
fn dsn_is_not_advertised_by_default() {
    let srv = TestServer::start(options());
    let mut r = Raw::connect(srv.addr);
    r.reply();
    let (_, ehlo) = r.cmd("EHLO c.example");
    assert!(!ehlo.lines().any(|l| l == "DSN"), "{ehlo}");
    assert_eq!(r.cmd("MAIL FROM:<a@b.example> RET=HDRS").0, 555);
    assert_eq!(r.cmd("MAIL FROM:<a@b.example>").0, 250);
    assert_eq!(r.cmd("RCPT TO:<bob@test.example> NOTIFY=SUCCESS").0, 555);
    let srv = TestServer::start(ServerOptions { advertise_dsn: true, ..options() });
    let mut r = Raw::connect(srv.addr);
    r.reply();
    let (_, ehlo) = r.cmd("EHLO c.example");
    assert!(ehlo.lines().any(|l| l == "DSN"), "{ehlo}");
    assert_eq!(r.cmd("MAIL FROM:<a@b.example> RET=HDRS").0, 250);
    assert_eq!(r.cmd("RCPT TO:<bob@test.example> NOTIFY=SUCCESS").0, 250);
}

const BCC: &str = r#"
import smtplib, sys
host, port = sys.argv[1].rsplit(":", 1)
with smtplib.SMTP(host, int(port), timeout=20) as s:
    s.sendmail("a@b.example", ["to@test.example", "secret@test.example"], b"To: to@test.example\r\nSubject: bcc\r\n\r\nhi\r\n")
"#;

/// Item 9: The per-recipient layout: one copy per recipient, each naming only its own recipient, so
/// a Bcc recipient is invisible to the others.
#[test]
fn per_recipient_maildir_hides_bcc_recipients() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("mail");
    let srv = TestServer::start(ServerOptions {
        delivery: Delivery::Maildir(root.clone()),
        maildir_layout: MaildirLayout::parse("per-recipient").unwrap(),
        ..options()
    });
    python(BCC, &[&srv.addr.to_string()]);
    let to = maildir_messages(&root.join("test.example/to"));
    let secret = maildir_messages(&root.join("test.example/secret"));
    assert_eq!((to.len(), secret.len()), (1, 1));
    let to = String::from_utf8_lossy(&to[0]);
    let secret = String::from_utf8_lossy(&secret[0]);
    assert!(
        to.starts_with("Return-Path: <a@b.example>\r\nDelivered-To: to@test.example\r\nReceived: "),
        "{to}"
    );
    assert!(!to.contains("secret@"), "the Bcc recipient is not named in another's copy: {to}");
    assert!(secret.contains("Delivered-To: secret@test.example\r\n"), "{secret}");
    // The shared layout lists everyone (documented).
    let shared = dir.path().join("shared");
    let srv = TestServer::start(ServerOptions { delivery: Delivery::Maildir(shared.clone()), ..options() });
    python(BCC, &[&srv.addr.to_string()]);
    let all = maildir_messages(&shared);
    assert_eq!(all.len(), 1);
    assert!(String::from_utf8_lossy(&all[0]).contains("Delivered-To: secret@test.example"));
}

const STARTTLS_SEND: &str = r#"
import smtplib, ssl, sys
host, port = sys.argv[1].rsplit(":", 1)
ctx = ssl.create_default_context()
ctx.check_hostname = False
ctx.verify_mode = ssl.CERT_NONE
with smtplib.SMTP(host, int(port), timeout=20) as s:
    s.starttls(context=ctx)
    s.sendmail("a@b.example", ["bob@test.example", "carol@test.example"], b"Subject: log\r\n\r\n12345\r\n")
"#;

/// Item 12: The per-message log line names the client, TLS protocol and cipher, sender, recipients,
/// size and status.
#[test]
fn message_log_line_names_client_tls_envelope_and_size() {
    let dir = tempfile::tempdir().unwrap();
    let (cert, key) = test_cert(dir.path());
    let log = dir.path().join("log");
    let mut srv = serve(
        &["--discard", "--tls-cert", cert.to_str().unwrap(), "--tls-key", key.to_str().unwrap()],
        Stdio::from(std::fs::File::create(&log).unwrap()),
    );
    python(STARTTLS_SEND, &[&srv.addr]);
    srv.stop().expect("stops");
    let text = std::fs::read_to_string(&log).unwrap();
    let line = text.lines().find(|l| l.contains("message accepted")).unwrap_or_else(|| panic!("{text}"));
    for field in [
        "client=127.0.0.1:",
        "tls=TLSv1.3/TLS13_",
        "from=<a@b.example>",
        "to=<bob@test.example>,<carol@test.example>",
        "nrcpt=2",
        "status=\"accepted\"",
        "helo=",
    ] {
        assert!(line.contains(field), "{field} missing in {line}");
    }
    assert!(line.contains(" size="), "{line}");
}
