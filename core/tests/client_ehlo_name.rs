//! Issue 8 item 11: without `hello_name`, the client says EHLO with this machine's fully
//! qualified name, else the address literal of its end of the connection (RFC 5321 §4.1.4) —
//! never the bare short host name that Postfix's `reject_non_fqdn_helo_hostname` refuses. Checked
//! on what our server received, over IPv4 and IPv6.

mod client_support;

use client_support::our_server::{start_at, Script};
use postwire::client::{Client, ClientOptions, TlsMode};
use postwire::server::ServerOptions;

/// Connect to `host` (our server listening on `bind`) without a hello name, send one message,
/// and return what the server recorded as the EHLO name and what the client says it sent.
async fn ehlo_seen(bind: &str, host: &str) -> (String, String) {
    let srv = start_at(bind, ServerOptions::default(), Script::default());
    let mut o = ClientOptions::new(host, srv.port);
    o.tls = TlsMode::None;
    let mut c = Client::connect(o).await.expect("connect");
    c.send("a@example.org", &["b@test.example".to_string()], b"Subject: ehlo\r\n\r\nx\r\n")
        .await
        .expect("send");
    c.quit().await.expect("quit");
    let stored = srv.stored();
    assert_eq!(stored.len(), 1);
    (stored[0].helo.clone().expect("the server recorded a HELO name"), c.hello_name().to_string())
}

/// What RFC 5321 §4.1.4 allows: a name with at least two labels, or the literal `literal`.
fn assert_fqdn_or_literal(seen: &str, literal: &str) {
    let short = postwire::hostname::system_hostname().unwrap_or_default();
    match postwire::hostname::fqdn() {
        Some(fqdn) => assert_eq!(seen, fqdn, "this machine has a qualified name"),
        None => assert_eq!(seen, literal, "no qualified name: the address literal"),
    }
    assert!(seen.contains('.') || seen.starts_with('['), "{seen:?} is neither qualified nor a literal");
    if !short.contains('.') {
        assert_ne!(seen, short, "the bare short host name");
    }
}

#[tokio::test]
async fn default_ehlo_name_over_ipv4() {
    let (seen, said) = ehlo_seen("127.0.0.1:0", "127.0.0.1").await;
    assert_eq!(seen, said);
    assert_fqdn_or_literal(&seen, "[127.0.0.1]");
}

#[tokio::test]
async fn default_ehlo_name_over_ipv6() {
    let (seen, said) = ehlo_seen("[::1]:0", "::1").await;
    assert_eq!(seen, said);
    assert_fqdn_or_literal(&seen, "[IPv6:::1]");
}

#[tokio::test]
async fn a_given_hello_name_is_sent_as_is() {
    let srv = start_at("127.0.0.1:0", ServerOptions::default(), Script::default());
    let mut c = Client::connect(client_support::opts(srv.port)).await.expect("connect");
    c.send("a@example.org", &["b@test.example".to_string()], b"x\r\n").await.expect("send");
    assert_eq!(srv.stored()[0].helo.as_deref(), Some("client.test"));
    c.quit().await.expect("quit");
}
