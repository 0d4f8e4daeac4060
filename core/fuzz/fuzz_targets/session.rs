//! Fuzz the server session state machine (`postwire::server::session`) with no socket: random
//! configurations, random command/byte sequences in random chunks, random hook, authenticator,
//! TLS and delivery answers, timeouts and stops. Invariants checked on every run:
//!
//! - no panic;
//! - no reply before the greeting (the first reply is the banner, or `on_connect`'s answer);
//! - nothing is handed to `on_message` or delivered without a complete transaction: a HELO/EHLO
//!   name, a sender, at least one recipient, content that starts with our Received line — and a
//!   DATA message whose end is `CRLF.CRLF` (its content ends with CRLF);
//! - a smuggling sequence inside DATA never ends a message: the commands sent after one (a MAIL
//!   from `smuggled@evil.example`) never reach a hook or a delivery;
//! - every reply line is `DDD[ -]…CRLF`.
#![no_main]

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use libfuzzer_sys::fuzz_target;
use postwire::proto::{BareLinePolicy, Reply};
use postwire::server::session::{Config, Event, HookCall, Session, Step, StopLevel, TlsInfo};
use postwire::server::{Delivery, HookSet, ServerOptions, SessionInfo, StaticCredentials};

const EVIL: &str = "smuggled@evil.example";

/// Bytes of the input, read as a script.
struct Src<'a>(&'a [u8]);
impl Src<'_> {
    fn byte(&mut self) -> Option<u8> {
        let (&b, rest) = self.0.split_first()?;
        self.0 = rest;
        Some(b)
    }
    fn take(&mut self, n: usize) -> &[u8] {
        let n = n.min(self.0.len());
        let (a, b) = self.0.split_at(n);
        self.0 = b;
        a
    }
}

const TOKENS: &[&[u8]] = &[
    b"EHLO client.example\r\n",
    b"HELO client.example\r\n",
    b"MAIL FROM:<a@b.example>\r\n",
    b"MAIL FROM:<> SIZE=100\r\n",
    b"MAIL FROM:<a@b.example> RET=HDRS ENVID=x\r\n",
    b"RCPT TO:<bob@test.example>\r\n",
    b"RCPT TO:<x@elsewhere.example>\r\n",
    b"RCPT TO:<carol@test.example> NOTIFY=SUCCESS\r\n",
    b"DATA\r\n",
    b"Subject: hi\r\n\r\nbody\r\n",
    b"..stuffed\r\n",
    b".\r\n",
    b"\r\n.\r\n",
    b"BDAT 5\r\n",
    b"BDAT 7 LAST\r\n",
    b"BDAT 0 LAST\r\n",
    b"BDAT x\r\n",
    b"hello\r\n",
    b"RSET\r\n",
    b"NOOP\r\n",
    b"HELP\r\n",
    b"VRFY bob\r\n",
    b"EXPN list\r\n",
    b"QUIT\r\n",
    b"STARTTLS\r\n",
    b"AUTH PLAIN AGFsaWNlAHMzY3JldA==\r\n",
    b"AUTH LOGIN\r\n",
    b"YWxpY2U=\r\n",
    b"*\r\n",
    b"\r\n",
    b"\n",
    b"\r",
    b"\x00",
    b"TURN\r\n",
];

const SMUGGLING: [&[u8]; 9] = postwire::proto::data::SMUGGLING_SEQUENCES;

fuzz_target!(|data: &[u8]| {
    let mut src = Src(data);
    let flags = u16::from_le_bytes([src.byte().unwrap_or(0), src.byte().unwrap_or(0)]);
    let bit = |i: u16| flags & (1 << i) != 0;
    let mut opts = ServerOptions {
        hostname: "mx.test.example".into(),
        local_domains: vec!["test.example".into()],
        strict: bit(0),
        bare_line_policy: if bit(1) { BareLinePolicy::Normalize } else { BareLinePolicy::Reject },
        allow_insecure_auth: bit(2),
        allow_vrfy: bit(3),
        allow_expn: bit(3),
        advertise_dsn: bit(4),
        max_recipients: if bit(5) { 2 } else { 100 },
        max_message_size: if bit(6) { 64 } else { 10_000 },
        max_errors: if bit(7) { 3 } else { 20 },
        max_junk_commands: if bit(8) { 4 } else { 100 },
        max_buffered_bytes: if bit(9) { 2048 } else { 1 << 20 },
        delivery: if bit(10) { Delivery::Maildir("/nonexistent".into()) } else { Delivery::None },
        ..Default::default()
    };
    if bit(11) {
        let users = [("alice".to_string(), "s3cret".to_string())].into_iter().collect();
        opts.auth = Some(Arc::new(StaticCredentials(users)));
    }
    let hooks = HookSet { connect: bit(12), mail_from: bit(13), rcpt_to: bit(13), message: bit(14) };
    let Ok(config) = Config::new(opts, hooks, bit(15)) else { return };
    let addr: SocketAddr = "192.0.2.7:4000".parse().unwrap();
    let info = SessionInfo {
        id: "F".into(),
        peer: addr,
        local: "192.0.2.1:25".parse().unwrap(),
        helo: None,
        tls: false,
        authenticated_user: None,
    };
    let t0 = Instant::now();
    let mut now = t0;
    let mut s = Session::new(Arc::new(config), info, None, now);
    let mut output: Vec<u8> = Vec::new();
    let mut greeted = false;
    let mut connect_answer: Option<u16> = None;

    for _ in 0..2000 {
        // Answer every step until the session wants input.
        let mut steps = 0;
        loop {
            steps += 1;
            assert!(steps < 10_000, "the session never asks for input");
            let step = s.poll(now);
            let out = s.take_output();
            check_replies(&out);
            if !out.is_empty() && !greeted {
                greeted = true;
                let first = &out[..3];
                // 220, what on_connect answered instead, or 421 (stopped or timed out first).
                let ok = first == b"220"
                    || first == b"421"
                    || connect_answer.is_some_and(|c| first == c.to_string().as_bytes());
                assert!(ok, "first reply is not the greeting: {:?}", String::from_utf8_lossy(&out));
            }
            output.extend_from_slice(&out);
            if output.len() > 1 << 16 {
                output.drain(..output.len() - 4096);
            }
            let mut pick = || src.byte().unwrap_or(0);
            let event = match step {
                Step::Read => break,
                Step::Flush => continue,
                Step::Close => return,
                Step::CallHook(call) => {
                    assert!(
                        !greeted || !matches!(call, HookCall::Connect(_)),
                        "on_connect after the greeting"
                    );
                    if let HookCall::Connect(_) = &call {
                        assert!(output.is_empty(), "a reply before on_connect answered");
                    }
                    if let HookCall::Message(session, env, data) = &call {
                        complete(session, &env.mail_from, &env.rcpt_to, data, &output);
                    }
                    let answer = match pick() % 6 {
                        0 | 1 => Ok(None),
                        2 => Ok(Some(Reply::new(550, "no", Some("5.7.1")))),
                        3 => Ok(Some(Reply::new(250, "fine", None))),
                        4 => Ok(Some(Reply::new(999, "bad code", None))),
                        _ => Err("hook failed".to_string()),
                    };
                    if let HookCall::Connect(_) = &call {
                        connect_answer = match &answer {
                            Ok(None) => None,
                            Ok(Some(r)) if (200..600).contains(&r.code) => Some(r.code),
                            _ => Some(451),
                        };
                    }
                    Event::HookAnswered(answer)
                }
                Step::Authenticate { .. } => Event::Authenticated(match pick() % 3 {
                    0 => Ok(true),
                    1 => Ok(false),
                    _ => Err("checker down".into()),
                }),
                Step::StartTls => {
                    if pick() % 4 == 0 {
                        Event::TlsFailed("handshake".into())
                    } else {
                        let tls =
                            TlsInfo { protocol: "TLSv1.3".into(), cipher: "TLS13_AES_128_GCM_SHA256".into() };
                        Event::TlsEstablished(tls)
                    }
                }
                Step::Deliver(req) => {
                    complete(s.info(), &req.envelope.mail_from, &req.envelope.rcpt_to, &req.data, &output);
                    Event::Delivered(if pick() % 5 == 0 { Err("disk full".into()) } else { Ok(()) })
                }
                Step::CheckStorage(_) => Event::Storage(pick() % 5 != 0),
            };
            s.handle(event, now);
        }
        let in_data = last_reply_is(&output, b"354");
        // Feed input.
        let Some(op) = src.byte() else { return };
        match op % 16 {
            0..=7 => {
                let t = TOKENS[usize::from(src.byte().unwrap_or(0)) % TOKENS.len()];
                feed(&mut s, t, src.byte().unwrap_or(0), now);
            }
            8..=10 => {
                let n = usize::from(src.byte().unwrap_or(0));
                let raw = src.take(n).to_vec();
                feed(&mut s, &raw, src.byte().unwrap_or(0), now);
            }
            11 if in_data => {
                // A smuggling attempt inside DATA: content, a bare sequence, then commands.
                let seq = SMUGGLING[usize::from(src.byte().unwrap_or(0)) % SMUGGLING.len()];
                let mut m = b"From: a@b.example\r\n\r\nhello".to_vec();
                m.extend_from_slice(seq);
                m.extend_from_slice(
                    format!("MAIL FROM:<{EVIL}>\r\nRCPT TO:<bob@test.example>\r\nDATA\r\nforged\r\n.\r\n")
                        .as_bytes(),
                );
                feed(&mut s, &m, src.byte().unwrap_or(0), now);
            }
            12 => {
                now += Duration::from_secs(u64::from(src.byte().unwrap_or(0)) * 10);
                s.handle(Event::Timeout, now);
            }
            13 => s.handle(
                Event::Stop(if op & 0x10 != 0 { StopLevel::Forced } else { StopLevel::Stopping }),
                now,
            ),
            14 => s.handle(Event::Eof, now),
            _ => now += Duration::from_millis(u64::from(src.byte().unwrap_or(0)) * 100),
        }
        if s.deadline().is_some_and(|d| d < t0) {
            panic!("deadline before the session began");
        }
    }
});

/// Feed `bytes` in chunks of `chunk` (0 = whole), as a socket might deliver them. The session
/// asks for input only when it has consumed what it can, so feeding in between polls is fine.
fn feed(s: &mut Session, bytes: &[u8], chunk: u8, now: Instant) {
    let n = if chunk == 0 { bytes.len().max(1) } else { usize::from(chunk % 17).max(1) };
    for c in bytes.chunks(n) {
        s.receive(c, now);
    }
}

/// Invariants of a message handed to `on_message` or delivery.
fn complete(session: &SessionInfo, mail_from: &str, rcpt_to: &[String], data: &[u8], output: &[u8]) {
    assert!(session.helo.is_some(), "message without HELO/EHLO");
    assert!(!rcpt_to.is_empty(), "message without a recipient");
    assert_ne!(mail_from, EVIL, "a smuggled transaction was executed");
    assert!(data.starts_with(b"Received: from "), "message without our Received line");
    // Content after the Received line (it ends at the first CRLF not followed by a tab).
    let body_at = data.windows(3).position(|w| w[0] == b'\r' && w[1] == b'\n' && w[2] != b'\t');
    if let Some(i) = body_at {
        let body = &data[i + 2..];
        let data_framed = last_reply_is(output, b"354");
        if data_framed {
            assert!(body.is_empty() || body.ends_with(b"\r\n"), "DATA message not ended by CRLF.CRLF");
        }
        for (j, &b) in body.iter().enumerate() {
            if b == b'\n' {
                assert!(j > 0 && body[j - 1] == b'\r', "bare LF stored");
            }
            if b == b'\r' {
                assert_eq!(body.get(j + 1), Some(&b'\n'), "bare CR stored");
            }
        }
    }
}

/// The last complete reply line in `out` has this code.
fn last_reply_is(out: &[u8], code: &[u8]) -> bool {
    let trimmed = out.strip_suffix(b"\r\n").unwrap_or(out);
    let start = trimmed.windows(2).rposition(|w| w == b"\r\n").map(|i| i + 2).unwrap_or(0);
    out.len() > start && trimmed[start..].starts_with(code)
}

fn check_replies(out: &[u8]) {
    if out.is_empty() {
        return;
    }
    assert!(out.ends_with(b"\r\n"), "reply not ended by CRLF: {:?}", String::from_utf8_lossy(out));
    for line in out.split(|&b| b == b'\n').filter(|l| !l.is_empty()) {
        assert!(line.len() >= 4 || line.len() == 4, "short reply line {line:?}");
        assert!(line[..3].iter().all(u8::is_ascii_digit), "reply line without a code: {line:?}");
        assert!(matches!(line[3], b' ' | b'-' | b'\r'), "bad reply line {line:?}");
    }
}
