//! Issue 8 item 13: with PIPELINING and CHUNKING, BDAT chunks go out without waiting for each
//! chunk's `250` (up to `BDAT_WINDOW` in flight), the replies are read in order, and a refused
//! chunk still ends the transaction with the right error and leaves the session in step. The
//! peer is our own server (aiosmtpd and Node's smtp-server do not offer CHUNKING, smtp-sink
//! turns PIPELINING off whenever it refuses anything); the order of the transcript — what the
//! client wrote before it read — is the evidence, not timing.

mod client_support;

use client_support::normalized;
use client_support::opts;
use client_support::our_server::{start, strip_received, Script};
use postwire::client::{Client, BDAT_CHUNK, BDAT_WINDOW};
use postwire::server::ServerOptions;
use postwire::ErrorKind;

fn rcpt() -> Vec<String> {
    vec!["b@test.example".to_string()]
}

/// A message of about `mib` MiB of short text lines.
fn message(mib: usize) -> Vec<u8> {
    let mut m = b"Subject: chunks\r\n\r\n".to_vec();
    let mut i = 0;
    while m.len() < mib * 1024 * 1024 {
        m.extend_from_slice(
            format!("line {i} of a message sent in BDAT chunks, padded a bit\r\n").as_bytes(),
        );
        i += 1;
    }
    m
}

/// For each BDAT command in the transcript, how many server replies came before it.
fn replies_before_each_bdat(transcript: &[String]) -> Vec<usize> {
    let start = transcript.iter().position(|l| l.starts_with("C: BDAT")).expect("BDAT used");
    let mut replies = 0;
    let mut out = Vec::new();
    for l in &transcript[start..] {
        if l.starts_with("C: BDAT") {
            out.push(replies);
        } else if l.starts_with("S: ") {
            replies += 1;
        }
    }
    out
}

#[tokio::test]
async fn chunks_are_pipelined_and_stored_byte_exact() {
    let srv = start(ServerOptions::default(), Script::default());
    let mut c = Client::connect(opts(srv.port)).await.expect("connect");
    assert!(c.capabilities().has("PIPELINING") && c.capabilities().has("CHUNKING"));
    let m = message(3);
    let r = c.send("a@example.org", &rcpt(), &m).await.expect("send");
    assert_eq!(r.reply.code, 250);
    let chunks = normalized(&m).len().div_ceil(BDAT_CHUNK);
    assert!(chunks > 1);
    // Chunk k is written after at most k - BDAT_WINDOW replies: the first window goes out at once.
    let seen = replies_before_each_bdat(&c.transcript());
    let expected: Vec<usize> = (0..chunks).map(|k| (k + 1).saturating_sub(BDAT_WINDOW)).collect();
    assert_eq!(seen, expected, "{:?}", c.transcript());
    c.quit().await.expect("quit");
    let stored = srv.stored();
    assert_eq!(stored.len(), 1);
    assert_eq!(strip_received(&stored[0].data), normalized(&m));
}

#[tokio::test]
async fn without_pipelining_each_chunk_waits_for_its_reply() {
    let srv = start(ServerOptions::default(), Script::default());
    let mut o = opts(srv.port);
    o.pipelining = false;
    let mut c = Client::connect(o).await.expect("connect");
    let m = message(3);
    c.send("a@example.org", &rcpt(), &m).await.expect("send");
    let seen = replies_before_each_bdat(&c.transcript());
    let expected: Vec<usize> = (0..seen.len()).collect();
    assert_eq!(seen, expected, "{:?}", c.transcript());
    assert_eq!(strip_received(&srv.stored()[0].data), normalized(&m));
}

#[tokio::test]
async fn a_refused_chunk_ends_the_transaction_with_its_reply() {
    // 1.5 MiB of memory for messages: the server takes chunk 1 and answers chunk 2 with
    // `452 4.3.1`, and every later chunk with 503.
    let srv =
        start(ServerOptions { max_buffered_bytes: 1536 * 1024, ..Default::default() }, Script::default());
    let mut c = Client::connect(opts(srv.port)).await.expect("connect");
    let m = message(7);
    let e = c.send("a@example.org", &rcpt(), &m).await.expect_err("refused chunk");
    assert_eq!(e.kind(), ErrorKind::Transient, "{e}");
    let reply = e.reply().expect("the server's reply");
    assert_eq!((reply.code, reply.enhanced.as_deref()), (452, Some("4.3.1")), "{e}");
    // Nothing is sent after the refusal was read: chunk 1's 250 and chunk 2's 452 came back
    // while the window was full, so BDAT_WINDOW + 1 chunks went out, not all of them.
    let chunks = normalized(&m).len().div_ceil(BDAT_CHUNK);
    let sent = replies_before_each_bdat(&c.transcript()).len();
    assert_eq!(sent, (BDAT_WINDOW + 1).min(chunks), "{:?}", c.transcript());
    assert!(sent < chunks);
    // Every chunk sent got its reply read: the session is in step (RSET, then a new send).
    assert!(!c.is_closed());
    let small = b"Subject: after\r\n\r\nsmall\r\n";
    let r = c.send("a@example.org", &rcpt(), small).await.expect("send after the refusal");
    assert_eq!(r.reply.code, 250);
    c.quit().await.expect("quit");
    let stored = srv.stored();
    assert_eq!(stored.len(), 1, "only the small message was delivered");
    assert_eq!(strip_received(&stored[0].data), normalized(small));
}
