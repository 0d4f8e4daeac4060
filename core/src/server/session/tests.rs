//! Whole sessions through the state machine with no socket and a fake clock: every exchange is
//! run in one piece and byte by byte (as h11's suite does), and every refusal path is walked.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use super::*;
use crate::proto::BareLinePolicy;
use crate::server::hooks::StaticCredentials;
use crate::server::options::ServerTimeouts;

type HookFn = Box<dyn FnMut(&HookCall) -> HookResult>;

/// A client-side harness: feeds flights of bytes, answers every step, collects replies.
struct H {
    s: Session,
    now: Instant,
    out: Vec<u8>,
    delivered: Vec<DeliveryRequest>,
    messages: Vec<(Envelope, Vec<u8>)>,
    hook: HookFn,
    deliver_ok: bool,
    /// The answer to `CheckStorage`, and the sizes asked about.
    room: bool,
    storage_checks: Vec<u64>,
    bytewise: bool,
}

fn opts() -> ServerOptions {
    ServerOptions {
        hostname: "mx.test.example".into(),
        local_domains: vec!["test.example".into()],
        ..Default::default()
    }
}

fn with_auth(o: ServerOptions) -> ServerOptions {
    let users = HashMap::from([("alice".to_string(), "s3cret".to_string())]);
    ServerOptions { auth: Some(Arc::new(StaticCredentials(users))), ..o }
}

impl H {
    fn new(o: ServerOptions) -> H {
        H::with(o, HookSet::ALL, true)
    }

    fn with(o: ServerOptions, hooks: HookSet, tls: bool) -> H {
        let config = Arc::new(Config::new(o, hooks, tls).expect("options"));
        let peer: SocketAddr = "192.0.2.7:40000".parse().unwrap();
        let info = SessionInfo {
            id: "T".into(),
            peer,
            local: "192.0.2.1:25".parse().unwrap(),
            helo: None,
            tls: false,
            authenticated_user: None,
        };
        let now = Instant::now();
        H {
            s: Session::new(config, info, None, now),
            now,
            out: Vec::new(),
            delivered: Vec::new(),
            messages: Vec::new(),
            hook: Box::new(|_| Ok(None)),
            deliver_ok: true,
            room: true,
            storage_checks: Vec::new(),
            bytewise: false,
        }
    }

    /// Answer steps until the session wants input (or closed).
    fn run(&mut self) {
        for _ in 0..10_000 {
            let step = self.s.poll(self.now);
            self.out.extend_from_slice(&self.s.take_output());
            let event = match step {
                Step::Read | Step::Close => return,
                Step::Flush => continue,
                Step::CallHook(call) => {
                    if let HookCall::Message(_, env, data) = &call {
                        self.messages.push((env.clone(), data.to_vec()));
                    }
                    Event::HookAnswered((self.hook)(&call))
                }
                Step::Authenticate { user, password } => {
                    let Some(a) = self.s.config.opts.auth.clone() else { panic!("no authenticator") };
                    let fut = a.authenticate(user, password);
                    Event::Authenticated(futures::executor::block_on(fut))
                }
                Step::StartTls => Event::TlsEstablished(TlsInfo {
                    protocol: "TLSv1.3".into(),
                    cipher: "TLS13_AES_256_GCM_SHA384".into(),
                }),
                Step::Deliver(req) => {
                    self.delivered.push(req);
                    Event::Delivered(if self.deliver_ok { Ok(()) } else { Err("disk full".into()) })
                }
                Step::CheckStorage(size) => {
                    self.storage_checks.push(size);
                    Event::Storage(self.room)
                }
            };
            self.s.handle(event, self.now);
        }
        panic!("the session never asked for input");
    }

    /// Send one flight (what a client writes before it waits), whole or byte by byte; returns
    /// the reply codes it produced.
    fn send(&mut self, bytes: &[u8]) -> Vec<u16> {
        let before = self.out.len();
        if self.bytewise {
            for b in bytes {
                self.s.receive(std::slice::from_ref(b), self.now);
                self.run();
            }
        } else {
            self.s.receive(bytes, self.now);
            self.run();
        }
        codes(&self.out[before..])
    }

    fn cmd(&mut self, line: &str) -> u16 {
        let c = self.send(format!("{line}\r\n").as_bytes());
        assert_eq!(c.len(), 1, "{line}: {c:?} {}", self.text());
        c[0]
    }

    fn greet(&mut self) {
        self.run();
        assert_eq!(codes(&self.out), vec![220]);
        assert_eq!(self.cmd("EHLO client.example"), 250);
    }

    fn text(&self) -> String {
        String::from_utf8_lossy(&self.out).into_owned()
    }

    fn closed(&self) -> bool {
        self.s.is_closed()
    }
}

/// The code of each final reply line.
fn codes(out: &[u8]) -> Vec<u16> {
    String::from_utf8_lossy(out)
        .split("\r\n")
        .filter(|l| l.len() >= 3 && l.as_bytes().get(3) != Some(&b'-'))
        .filter_map(|l| l[..3].parse().ok())
        .collect()
}

/// The message without our Received line (three folded lines).
fn body(data: &[u8]) -> &[u8] {
    let mut rest = data;
    loop {
        let i = rest.windows(2).position(|w| w == b"\r\n").expect("header end");
        rest = &rest[i + 2..];
        if !rest.starts_with(b"\t") {
            return rest;
        }
    }
}

/// EHLO → STARTTLS → EHLO → AUTH → pipelined MAIL/RCPT → BDAT chunks → RSET → DATA → QUIT.
fn full_session(bytewise: bool) -> H {
    let mut h = H::new(with_auth(opts()));
    h.bytewise = bytewise;
    h.greet();
    assert!(h.text().contains("250-STARTTLS"));
    assert!(!h.text().contains("AUTH"), "no AUTH before TLS");
    assert_eq!(h.send(b"STARTTLS\r\n"), vec![220]);
    assert_eq!(h.cmd("EHLO client.example"), 250);
    assert!(h.text().ends_with("250-AUTH PLAIN LOGIN\r\n250 HELP\r\n"), "{}", h.text());
    assert_eq!(h.send(b"AUTH PLAIN AGFsaWNlAHMzY3JldA==\r\n"), vec![235]);
    let pipelined = b"MAIL FROM:<a@b.example>\r\nRCPT TO:<bob@test.example>\r\nRCPT TO:<x@relay.example>\r\nBDAT 9\r\nSubj: x\r\nBDAT 12 LAST\r\nhi\r\n.\r\nend\r\n";
    assert_eq!(h.send(pipelined), vec![250, 250, 250, 250, 250], "{}", h.text());
    assert_eq!(h.send(b"RSET\r\n"), vec![250]);
    assert_eq!(h.send(b"MAIL FROM:<>\r\nRCPT TO:<carol@test.example>\r\nDATA\r\n"), vec![250, 250, 354]);
    assert_eq!(h.send(b"Subject: d\r\n\r\n..dot\r\n.\r\nQUIT\r\n"), vec![250, 221]);
    assert!(h.closed());
    h
}

#[test]
fn whole_session_in_one_piece_and_byte_by_byte() {
    let whole = full_session(false);
    let bytes = full_session(true);
    for h in [&whole, &bytes] {
        assert_eq!(h.messages.len(), 2);
        let (env, data) = &h.messages[0];
        assert_eq!(env.mail_from, "a@b.example");
        assert_eq!(env.rcpt_to, vec!["bob@test.example", "x@relay.example"], "authenticated: may relay");
        assert!(data.starts_with(
            b"Received: from client.example (unknown [192.0.2.7])\r\n\tby mx.test.example with ESMTPSA id "
        ));
        assert_eq!(body(data), b"Subj: x\r\nhi\r\n.\r\nend\r\n");
        let (env, data) = &h.messages[1];
        assert_eq!(
            (env.mail_from.as_str(), env.rcpt_to.as_slice()),
            ("", &["carol@test.example".to_string()][..])
        );
        assert_eq!(body(data), b"Subject: d\r\n\r\n.dot\r\n");
    }
    assert_eq!(codes(&whole.out), codes(&bytes.out));
    let stats = whole.s.config.stats();
    assert_eq!((stats.messages_accepted, stats.recipients_accepted), (2, 3));
}

/// What the socket test used to try with 50 ms sleeps: the end of data split at every byte.
#[test]
fn data_terminator_split_at_every_boundary() {
    let content = b"Subject: t\r\n\r\nline\r\n.\r\nNOOP\r\n";
    for split in 0..=content.len() {
        let mut h = H::new(opts());
        h.greet();
        assert_eq!(
            h.send(b"MAIL FROM:<a@b.example>\r\nRCPT TO:<bob@test.example>\r\nDATA\r\n"),
            vec![250, 250, 354]
        );
        let mut got = h.send(&content[..split]);
        got.extend(h.send(&content[split..]));
        assert_eq!(got, vec![250, 250], "split at {split}");
        assert_eq!(body(&h.messages[0].1), b"Subject: t\r\n\r\nline\r\n", "split at {split}");
    }
}

#[test]
fn sequencing_refusals() {
    let mut h = H::new(opts());
    h.run();
    assert_eq!(h.cmd("MAIL FROM:<a@b.example>"), 503, "MAIL before EHLO");
    assert_eq!(h.cmd("XYZZY"), 500);
    assert_eq!(h.cmd("EHLO"), 501);
    assert_eq!(h.cmd("HELO c.example"), 250);
    assert_eq!(h.cmd("RCPT TO:<bob@test.example>"), 503, "RCPT before MAIL");
    assert_eq!(h.cmd("DATA"), 503, "DATA before MAIL");
    assert_eq!(
        h.send(b"BDAT 6\r\nQUIT\r\n"),
        vec![503],
        "BDAT before MAIL: its octets drained, not executed"
    );
    assert_eq!(h.cmd("MAIL FROM:<a@b.example>"), 250);
    assert_eq!(h.cmd("MAIL FROM:<a@b.example>"), 503, "nested MAIL");
    assert_eq!(h.cmd("DATA"), 503, "DATA before RCPT");
    assert_eq!(h.cmd("RCPT TO:<x@elsewhere.example>"), 550, "relay");
    assert_eq!(h.cmd("DATA"), 554, "every recipient refused");
    assert_eq!(h.send(b"BDAT 2 LAST\r\nxx"), vec![554]);
    assert_eq!(h.cmd("RCPT TO:<bob@test.example>"), 250);
    assert_eq!(h.send(b"BDAT 2\r\nab"), vec![250]);
    assert_eq!(h.cmd("RCPT TO:<carol@test.example>"), 503, "RCPT after BDAT");
    assert_eq!(h.cmd("DATA"), 503, "DATA after BDAT");
    assert_eq!(h.cmd("SEND FROM:<a@b.example>"), 502);
    assert_eq!(h.cmd("STARTTLS"), 503, "not within a transaction");
    assert_eq!(h.cmd("RSET"), 250);
    assert_eq!(h.cmd("AUTH PLAIN"), 502, "no authenticator");
    assert_eq!(h.cmd("VRFY bob"), 252);
    assert_eq!(h.cmd("EXPN staff"), 502);
    assert_eq!(h.cmd("QUIT"), 221);
    assert!(h.closed());
}

#[test]
fn help_lists_only_what_is_offered() {
    let mut plain = H::with(opts(), HookSet::NONE, false);
    plain.greet();
    plain.cmd("HELP");
    let help = plain.text();
    assert!(!help.contains("STARTTLS") && !help.contains(" AUTH"), "{help}");
    let mut tls = H::with(with_auth(opts()), HookSet::NONE, true);
    tls.greet();
    tls.cmd("HELP");
    let help = tls.text();
    assert!(
        help.contains("214 2.0.0 Commands:") && help.contains("STARTTLS") && !help.contains(" AUTH"),
        "{help}"
    );
    let mut insecure =
        H::with(with_auth(ServerOptions { allow_insecure_auth: true, ..opts() }), HookSet::NONE, false);
    insecure.greet();
    insecure.cmd("HELP");
    assert!(insecure.text().lines().last().is_some_and(|l| l.ends_with(" AUTH")), "{}", insecure.text());
}

#[test]
fn auth_refusals() {
    let mut h = H::new(with_auth(opts()));
    h.run();
    assert_eq!(h.cmd("HELO c.example"), 250);
    assert_eq!(h.cmd("AUTH PLAIN AGFsaWNlAHMzY3JldA=="), 503, "EHLO first");
    assert_eq!(h.cmd("EHLO c.example"), 250);
    assert_eq!(h.cmd("AUTH PLAIN AGFsaWNlAHMzY3JldA=="), 538, "not over plaintext");
    assert_eq!(h.send(b"STARTTLS\r\nEHLO injected\r\n"), vec![220], "pipelined after STARTTLS: dropped");
    assert_eq!(h.cmd("MAIL FROM:<a@b.example>"), 503, "RFC 3207: EHLO again after TLS");
    assert_eq!(h.cmd("EHLO c.example"), 250);
    assert_eq!(h.cmd("STARTTLS"), 503, "already TLS");
    assert_eq!(h.cmd("AUTH CRAM-MD5"), 504);
    assert_eq!(h.cmd("AUTH PLAIN !!!"), 501);
    assert_eq!(h.cmd("AUTH PLAIN AGFsaWNlAHdyb25n"), 535, "wrong password");
    assert_eq!(h.cmd("AUTH PLAIN Ym9iAGFsaWNlAHMzY3JldA=="), 535, "authzid must be the user");
    assert_eq!(h.cmd("AUTH LOGIN"), 334);
    assert_eq!(h.cmd("*"), 501, "cancelled");
    let long = format!("AUTH LOGIN\r\n{}\r\n", "A".repeat(13_000));
    assert_eq!(h.send(long.as_bytes()), vec![334, 500], "continuation line too long");
    assert_eq!(h.cmd("AUTH LOGIN YWxpY2U="), 334);
    assert_eq!(h.cmd("czNjcmV0"), 235);
    assert_eq!(h.cmd("AUTH PLAIN AGFsaWNlAHMzY3JldA=="), 503, "already authenticated");
}

#[test]
fn hook_failures_answer_451_and_the_session_goes_on() {
    let mut h = H::new(opts());
    let mut n = 0;
    h.hook = Box::new(move |call| {
        if let HookCall::MailFrom(..) = call {
            n += 1;
        }
        match (call, n) {
            (HookCall::MailFrom(..), 1) => Err("raised".into()),
            (HookCall::MailFrom(..), 2) => Ok(Some(Reply::new(600, "out of range", None))),
            (HookCall::MailFrom(..), 3) => Ok(Some(Reply::new(550, "Sender blocked", Some("5.7.1")))),
            (HookCall::RcptTo(..), _) => Ok(Some(Reply::new(251, "Forwarded", Some("2.1.5")))),
            (HookCall::Message(..), _) => Ok(Some(Reply::new(554, "No", Some("5.7.1")))),
            _ => Ok(None),
        }
    });
    h.greet();
    assert_eq!(h.cmd("MAIL FROM:<a@b.example>"), 451);
    assert_eq!(h.cmd("MAIL FROM:<a@b.example>"), 451);
    assert_eq!(h.cmd("MAIL FROM:<a@b.example>"), 550);
    assert_eq!(h.cmd("MAIL FROM:<a@b.example>"), 250);
    assert_eq!(h.cmd("RCPT TO:<bob@test.example>"), 251, "a positive hook reply replaces ours");
    assert_eq!(h.send(b"DATA\r\nx\r\n.\r\n"), vec![354, 554]);
    assert!(h.delivered.is_empty());
    assert_eq!(h.cmd("NOOP"), 250);
}

#[test]
fn on_connect_refusal_replaces_the_banner() {
    let mut h = H::new(opts());
    h.hook = Box::new(|_| Ok(Some(Reply::new(554, "Go away", Some("5.7.1")))));
    h.run();
    assert_eq!(h.text(), "554 5.7.1 Go away\r\n");
    assert!(h.closed());
}

#[test]
fn limits_size_recipients_errors_and_junk() {
    let o = ServerOptions { max_message_size: 100, max_recipients: 2, max_errors: 5, ..opts() };
    let mut h = H::new(o);
    h.greet();
    assert_eq!(h.cmd("MAIL FROM:<a@b.example> SIZE=101"), 552);
    assert_eq!(h.cmd("MAIL FROM:<a@b.example>"), 250);
    assert_eq!(h.cmd("RCPT TO:<u1@test.example>"), 250);
    assert_eq!(h.cmd("RCPT TO:<u2@test.example>"), 250);
    assert_eq!(h.cmd("RCPT TO:<u3@test.example>"), 452);
    assert_eq!(h.cmd("RCPT TO:<u4@test.example>"), 452);
    assert_eq!(h.s.errors, 1, "the 552 only: 452s within the overshoot allowance are not errors");
    // Past as many again, each 452 is an error: the session ends at max_errors.
    assert_eq!(h.send(b"RCPT TO:<u5@test.example>\r\nRCPT TO:<u6@test.example>\r\nRCPT TO:<u7@test.example>\r\nRCPT TO:<u8@test.example>\r\nNOOP\r\n"), vec![452, 452, 452, 452, 421]);
    assert!(h.closed());

    let mut h = H::new(ServerOptions { max_message_size: 100, ..opts() });
    h.greet();
    h.send(b"MAIL FROM:<a@b.example>\r\nRCPT TO:<bob@test.example>\r\nDATA\r\n");
    let big = format!("{}\r\n.\r\n", "z\r\n".repeat(60));
    assert_eq!(h.send(big.as_bytes()), vec![552]);
    let mut long_line = H::new(opts());
    long_line.greet();
    long_line.send(b"MAIL FROM:<a@b.example>\r\nRCPT TO:<bob@test.example>\r\nDATA\r\n");
    let long = format!("{}\r\n.\r\n", "l".repeat(1000));
    assert_eq!(long_line.send(long.as_bytes()), vec![500], "line over 1000 octets");
    h.send(b"MAIL FROM:<a@b.example>\r\nRCPT TO:<bob@test.example>\r\n");
    assert_eq!(h.send(b"BDAT 60\r\n"), Vec::<u16>::new());
    assert_eq!(h.send(&[b'q'; 60]), vec![250]);
    assert_eq!(h.send(b"BDAT 60\r\n"), Vec::<u16>::new());
    assert_eq!(h.send(&[b'q'; 60]), vec![552], "over SIZE: drained, 552 on the chunk");
    assert_eq!(h.send(b"BDAT 3 LAST\r\nabc"), vec![503], "later chunks: 503");
    assert_eq!(h.cmd("NOOP"), 250, "drained, never executed; the session goes on");
    assert!(h.messages.is_empty());

    let mut h = H::new(ServerOptions { max_junk_commands: 3, ..opts() });
    h.greet();
    assert_eq!(h.send(b"NOOP\r\nRSET\r\nHELP\r\n"), vec![250, 250, 214]);
    assert_eq!(
        h.send(b"MAIL FROM:<a@b.example>\r\nRCPT TO:<bob@test.example>\r\nDATA\r\nx\r\n.\r\n"),
        vec![250, 250, 354, 250]
    );
    assert_eq!(h.send(b"NOOP\r\nNOOP\r\nVRFY x\r\n"), vec![250, 250, 252], "a message resets the count");
    assert_eq!(h.cmd("NOOP"), 421);
    assert!(h.closed());
}

#[test]
fn bare_line_endings_in_data_and_bdat_are_refused_and_close() {
    for (input, verb) in [
        (&b"DATA\r\nline1\n.\nMAIL FROM:<e@x>\r\n"[..], "DATA"),
        (
            b"BDAT 39 LAST\r\nSubject: b\r\n\r\nline1\n.\nMAIL FROM:<e@x>\r\nQUIT\r\n",
            "BDAT (the issue's reproduction)",
        ),
        (b"BDAT 4 LAST\r\nab\x00c", "BDAT NUL"),
        (b"BDAT 3 LAST\r\nab\r", "BDAT ending in a bare CR"),
    ] {
        let mut h = H::new(opts());
        h.greet();
        h.send(b"MAIL FROM:<a@b.example>\r\nRCPT TO:<bob@test.example>\r\n");
        let got = h.send(input);
        assert_eq!(got.last(), Some(&554), "{verb}: {}", h.text());
        assert!(h.closed(), "{verb}");
        assert!(h.messages.is_empty() && h.delivered.is_empty(), "{verb}: nothing kept");
    }
    // Normalize stores CRLF for both.
    let o = ServerOptions { bare_line_policy: BareLinePolicy::Normalize, ..opts() };
    let mut h = H::new(o);
    h.greet();
    h.send(b"MAIL FROM:<a@b.example>\r\nRCPT TO:<bob@test.example>\r\n");
    assert_eq!(h.send(b"BDAT 8 LAST\r\na\nb\r.\nc\r"), vec![250]);
    assert_eq!(body(&h.messages[0].1), b"a\r\nb\r\n.\r\nc\r\n");
}

#[test]
fn dsn_parameters_need_dsn_offered() {
    let mut h = H::new(opts());
    h.greet();
    assert!(!h.text().contains("DSN"), "not advertised by default");
    assert_eq!(h.cmd("MAIL FROM:<a@b.example> RET=HDRS"), 555);
    assert_eq!(h.cmd("MAIL FROM:<a@b.example> ENVID=x"), 555);
    assert_eq!(h.cmd("MAIL FROM:<a@b.example>"), 250);
    assert_eq!(h.cmd("RCPT TO:<bob@test.example> NOTIFY=SUCCESS"), 555);
    assert_eq!(h.cmd("RCPT TO:<bob@test.example> ORCPT=rfc822;bob@test.example"), 555);
    let mut h = H::new(ServerOptions { advertise_dsn: true, ..opts() });
    h.greet();
    assert!(h.text().contains("250-DSN\r\n"));
    assert_eq!(h.cmd("MAIL FROM:<a@b.example> RET=HDRS"), 250);
    assert_eq!(h.cmd("RCPT TO:<bob@test.example> NOTIFY=SUCCESS"), 250);
}

#[test]
fn stop_timeouts_and_data_rate() {
    // Graceful stop: an idle session is told 421; one in a transaction may finish.
    let mut h = H::new(opts());
    h.greet();
    h.s.handle(Event::Stop(StopLevel::Stopping), h.now);
    h.run();
    assert_eq!(codes(&h.out).last(), Some(&421));
    let mut h = H::new(opts());
    h.greet();
    h.send(b"MAIL FROM:<a@b.example>\r\n");
    h.s.handle(Event::Stop(StopLevel::Stopping), h.now);
    assert_eq!(h.cmd("NOOP"), 421, "only what ends the transaction is served");
    let mut h = H::new(opts());
    h.greet();
    h.send(b"MAIL FROM:<a@b.example>\r\nRCPT TO:<bob@test.example>\r\nDATA\r\nx");
    h.s.handle(Event::Stop(StopLevel::Stopping), h.now);
    assert_eq!(h.send(b"\r\n.\r\n"), vec![250, 421], "finished, then told");
    let mut h = H::new(opts());
    h.greet();
    h.s.handle(Event::Stop(StopLevel::Forced), h.now);
    h.run();
    assert!(h.closed() && h.text().ends_with("421 4.3.2 Server shutting down, try again later\r\n"));

    // The command deadline covers the whole line, however it trickles in.
    let t = ServerTimeouts::uniform(Duration::from_secs(300));
    let mut h = H::new(ServerOptions { timeouts: t, ..opts() });
    h.greet();
    let start = h.now;
    for _ in 0..10 {
        h.now += Duration::from_secs(100);
        h.send(b"N");
    }
    assert_eq!(h.s.deadline(), Some(start + Duration::from_secs(300)));

    // DATA dripping one byte every 200 s: each read is within the 300 s timeout, but the
    // message must go at 500 bytes/s on average beyond its first 300 s.
    let mut h = H::new(ServerOptions { timeouts: t, ..opts() });
    h.greet();
    h.send(b"MAIL FROM:<a@b.example>\r\nRCPT TO:<bob@test.example>\r\nDATA\r\n");
    let began = h.now;
    for _ in 0..2 {
        h.now += Duration::from_secs(200);
        h.send(b"x");
        assert!(h.s.deadline().is_some_and(|d| d <= h.now + Duration::from_secs(300)));
    }
    let deadline = h.s.deadline().expect("reading");
    assert!(deadline < h.now, "the message deadline ({:?} after DATA) has passed", deadline - began);
    h.s.handle(Event::Timeout, h.now);
    h.run();
    assert!(h.text().ends_with("421 4.4.2 Data rate too low, closing connection\r\n"), "{}", h.text());
    assert!(h.closed());
    // Without a minimum rate only the per-read timeout is left.
    let mut h = H::new(ServerOptions { timeouts: t, min_data_rate: 0, ..opts() });
    h.greet();
    h.send(b"MAIL FROM:<a@b.example>\r\nRCPT TO:<bob@test.example>\r\nDATA\r\n");
    h.now += Duration::from_secs(200);
    h.send(b"x");
    assert_eq!(h.s.deadline(), Some(h.now + Duration::from_secs(300)));
}

#[test]
fn memory_budget_and_delivery_failure() {
    let mut h = H::new(ServerOptions { max_buffered_bytes: 16 * 1024, ..opts() });
    h.greet();
    h.send(b"MAIL FROM:<a@b.example>\r\nRCPT TO:<bob@test.example>\r\nDATA\r\n");
    let content = format!("{}\r\n", "m".repeat(98)).repeat(300) + ".\r\n";
    assert_eq!(h.send(content.as_bytes()), vec![452]);
    assert_eq!(h.s.config.budget.available_kib(), 16, "given back");
    h.send(b"MAIL FROM:<a@b.example>\r\nRCPT TO:<bob@test.example>\r\n");
    assert_eq!(h.send(b"BDAT 40000 LAST\r\n"), Vec::<u16>::new());
    assert_eq!(h.send(&vec![b'b'; 40_000]), vec![452]);
    // With the budget gone before the first chunk, that chunk is answered 452 too.
    let mut hog = h.s.reservation();
    assert!(hog.cover(16 * 1024));
    h.send(b"MAIL FROM:<a@b.example>\r\nRCPT TO:<bob@test.example>\r\n");
    assert_eq!(h.send(b"BDAT 3 LAST\r\nabc"), vec![452]);
    drop(hog);

    let o = ServerOptions { delivery: Delivery::Maildir("/unused".into()), ..opts() };
    let mut h = H::with(o, HookSet::NONE, false);
    h.deliver_ok = false;
    h.greet();
    assert_eq!(
        h.send(b"MAIL FROM:<a@b.example>\r\nRCPT TO:<bob@test.example>\r\nDATA\r\nx\r\n.\r\n"),
        vec![250, 250, 354, 451]
    );
    h.deliver_ok = true;
    assert_eq!(
        h.send(b"MAIL FROM:<a@b.example>\r\nRCPT TO:<bob@test.example>\r\nDATA\r\nx\r\n.\r\n"),
        vec![250, 250, 354, 250]
    );
    assert_eq!(h.delivered.len(), 2);
    assert_eq!(h.delivered[1].envelope.rcpt_to, vec!["bob@test.example".to_string()]);
    assert_eq!(h.s.config.stats().messages_accepted, 1);
}

#[test]
fn malformed_bdat_and_overlong_lines() {
    let mut h = H::new(opts());
    h.greet();
    assert_eq!(h.send(format!("NOOP {}\r\nNOOP\r\n", "x".repeat(600)).as_bytes()), vec![500, 250]);
    h.send(b"MAIL FROM:<a@b.example>\r\nRCPT TO:<bob@test.example>\r\n");
    assert_eq!(h.send(b"BDAT 99999999999999999999 LAST\r\nRSET\r\n"), vec![501, 421]);
    assert!(h.closed());
}

#[test]
fn pipelined_replies_are_batched_into_one_output() {
    let mut h = H::new(opts());
    h.greet();
    let mut batch = Vec::new();
    for _ in 0..50 {
        batch.extend_from_slice(b"NOOP\r\n");
    }
    h.s.receive(&batch, h.now);
    assert!(matches!(h.s.poll(h.now), Step::Read), "all 50 answered before the session waits");
    assert_eq!(codes(h.s.output()).len(), 50);
}

#[test]
fn queue_mode_asks_for_storage_at_mail_advertises_dsn_and_delivers_before_250() {
    let o = ServerOptions {
        delivery: crate::server::Delivery::Queue("/nonexistent/spool".into()),
        max_message_size: 1000,
        ..opts()
    };
    let mut h = H::with(o, HookSet::NONE, false);
    h.greet();
    assert!(h.text().contains("250-DSN"), "a queue sends notices, so DSN is offered: {}", h.text());
    h.room = false;
    assert_eq!(h.cmd("MAIL FROM:<a@b.example>"), 452);
    assert!(h.text().ends_with("452 4.3.1 Insufficient system storage, try again later\r\n"), "{}", h.text());
    assert_eq!(h.storage_checks, [1000], "room for the size limit is asked for");
    h.room = true;
    assert_eq!(h.cmd("MAIL FROM:<a@b.example> RET=HDRS ENVID=E1"), 250);
    assert_eq!(h.cmd("RCPT TO:<x@test.example> NOTIFY=SUCCESS ORCPT=rfc822;y@test.example"), 250);
    h.deliver_ok = false;
    assert_eq!(h.send(b"DATA\r\nSubject: q\r\n\r\nbody\r\n.\r\n"), [354, 451]);
    assert_eq!(h.delivered.len(), 1, "a failed store answers 451");
    h.deliver_ok = true;
    assert_eq!(h.cmd("MAIL FROM:<a@b.example>"), 250);
    assert_eq!(h.cmd("RCPT TO:<x@test.example>"), 250);
    assert_eq!(h.send(b"DATA\r\nSubject: q\r\n\r\nbody\r\n.\r\n"), [354, 250]);
    assert_eq!(h.delivered.len(), 2);
}
