//! `send_mail(...)` of `shared/API.md`: deliver one message without holding a session object,
//! with one result per recipient.
//!
//! With `smarthost`: one session to `smarthost:port`, AUTH when credentials are given, one
//! transaction. Without: MX routing per recipient domain through [`crate::delivery`]
//! (`nameservers`, `allow_loopback` and `port` apply there).
//!
//! Loopback guard: the API skips an *MX* that resolves to a loopback address unless
//! `allow_loopback` is set (loop and SSRF guard). A smarthost is different — the caller named it
//! explicitly — so a loopback smarthost is always allowed.
//!
//! Result shape: every recipient gets one [`RecipientResult`]. Recipients refused at RCPT carry
//! that reply; when the whole transaction fails (connect error, MAIL or DATA refused, all
//! recipients refused) every recipient not already refused carries the error and, when the
//! server answered, its reply. Invalid arguments (bad address, CR/LF) are an `Err` instead:
//! nothing was attempted.

use std::path::PathBuf;

use crate::error::{Error, ErrorKind, Result};
use crate::proto::address::parse_mailbox;
use crate::proto::Reply;

use super::options::{ClientOptions, ClientTimeouts, TlsMode};
use super::session::Client;

/// How [`send_mail`] delivers. `Debug` shows the AUTH secret as `****`.
#[derive(Clone)]
pub struct SendMailOptions {
    /// Relay everything through this host; `None` routes each recipient domain by MX.
    pub smarthost: Option<String>,
    /// Port of the smarthost, or of every exchanger when routing by MX (default 25).
    pub port: u16,
    /// TLS mode (default opportunistic).
    pub tls: TlsMode,
    /// `(user, secret)` for AUTH at the smarthost.
    pub credentials: Option<(String, String)>,
    /// Session timeouts.
    pub timeouts: ClientTimeouts,
    /// EHLO name (default: this host's name).
    pub hello_name: Option<String>,
    /// DNS servers (`"ip:port"`) for MX routing (unused with a smarthost; `None`: the system's).
    pub nameservers: Option<Vec<String>>,
    /// Allow MX hosts that resolve to loopback (unused with a smarthost, which may always be
    /// loopback).
    pub allow_loopback: bool,
    /// Extra CA certificates (PEM) to trust.
    pub ca_file: Option<PathBuf>,
    /// Skip certificate verification (tests only).
    pub accept_invalid_certs: bool,
    /// Allow AUTH without TLS.
    pub allow_plaintext_auth: bool,
}

impl Default for SendMailOptions {
    fn default() -> Self {
        SendMailOptions {
            smarthost: None,
            port: 25,
            tls: TlsMode::Opportunistic,
            credentials: None,
            timeouts: ClientTimeouts::default(),
            hello_name: None,
            nameservers: None,
            allow_loopback: false,
            ca_file: None,
            accept_invalid_certs: false,
            allow_plaintext_auth: false,
        }
    }
}

impl std::fmt::Debug for SendMailOptions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Destructured so that a new field cannot be forgotten here.
        let SendMailOptions {
            smarthost,
            port,
            tls,
            credentials,
            timeouts,
            hello_name,
            nameservers,
            allow_loopback,
            ca_file,
            accept_invalid_certs,
            allow_plaintext_auth,
        } = self;
        f.debug_struct("SendMailOptions")
            .field("smarthost", smarthost)
            .field("port", port)
            .field("tls", tls)
            .field("credentials", &super::transcript::masked_credentials(credentials))
            .field("timeouts", timeouts)
            .field("hello_name", hello_name)
            .field("nameservers", nameservers)
            .field("allow_loopback", allow_loopback)
            .field("ca_file", ca_file)
            .field("accept_invalid_certs", accept_invalid_certs)
            .field("allow_plaintext_auth", allow_plaintext_auth)
            .finish()
    }
}

impl SendMailOptions {
    /// Options relaying through `host:port`.
    pub fn smarthost(host: impl Into<String>, port: u16) -> Self {
        SendMailOptions { smarthost: Some(host.into()), port, ..Default::default() }
    }
}

/// What happened to one recipient.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct RecipientResult {
    /// The recipient as given.
    pub rcpt: String,
    /// True when the server accepted the message for this recipient.
    pub ok: bool,
    /// The reply that decided it: the final reply when accepted, the RCPT refusal, or the reply
    /// attached to a transaction error.
    pub reply: Option<Reply>,
    /// Why it failed: error kind and message (`None` when `ok`).
    #[serde(serialize_with = "ser_err")]
    pub error: Option<(ErrorKind, String)>,
}

fn ser_err<S: serde::Serializer>(
    e: &Option<(ErrorKind, String)>,
    s: S,
) -> std::result::Result<S::Ok, S::Error> {
    use serde::ser::SerializeStruct;
    match e {
        None => s.serialize_none(),
        Some((k, m)) => {
            let mut st = s.serialize_struct("Error", 2)?;
            st.serialize_field("kind", k.as_str())?;
            st.serialize_field("message", m)?;
            st.end()
        }
    }
}

/// Deliver `message` from `mail_from` to every recipient in `rcpt_to` through the smarthost of
/// `opts`, returning one [`RecipientResult`] per recipient, in order.
///
/// `Err` only when nothing was attempted: `invalid_input` for no recipients or a malformed
/// address. Without `smarthost` each recipient is routed by MX.
pub async fn send_mail(
    mail_from: &str,
    rcpt_to: &[String],
    message: &[u8],
    opts: &SendMailOptions,
) -> Result<Vec<RecipientResult>> {
    if rcpt_to.is_empty() {
        return Err(Error::invalid_input("send_mail needs at least one recipient"));
    }
    if !mail_from.is_empty() {
        parse_mailbox(mail_from)
            .map_err(|e| Error::invalid_input(format!("bad sender {mail_from:?}: {e}")))?;
    }
    for r in rcpt_to {
        parse_mailbox(r).map_err(|e| Error::invalid_input(format!("bad recipient {r:?}: {e}")))?;
    }
    let Some(host) = opts.smarthost.as_deref() else {
        return Ok(by_mx(mail_from, rcpt_to, message, opts).await);
    };

    let mut co = ClientOptions::new(host, opts.port);
    co.tls = opts.tls;
    co.hello_name = opts.hello_name.clone();
    co.timeouts = opts.timeouts;
    co.ca_file = opts.ca_file.clone();
    co.accept_invalid_certs = opts.accept_invalid_certs;
    co.allow_plaintext_auth = opts.allow_plaintext_auth;

    let (outcome, refused) = deliver(co, opts.credentials.as_ref(), mail_from, rcpt_to, message).await;
    Ok(match outcome {
        Ok(res) => rcpt_to
            .iter()
            .map(|r| match res.rejected.iter().find(|x| &x.rcpt == r) {
                Some(x) => refused_at_rcpt(x),
                None => {
                    RecipientResult { rcpt: r.clone(), ok: true, reply: Some(res.reply.clone()), error: None }
                }
            })
            .collect(),
        Err(e) => rcpt_to
            .iter()
            .map(|r| match refused.iter().find(|x| &x.rcpt == r) {
                // Every recipient refused: each gets its own RCPT reply, not only the last one.
                Some(x) => refused_at_rcpt(x),
                None => RecipientResult {
                    rcpt: r.clone(),
                    ok: false,
                    reply: e.reply().cloned(),
                    error: Some((e.kind(), e.message().to_string())),
                },
            })
            .collect(),
    })
}

/// Without a smarthost: [`crate::delivery::deliver`] by MX, each outcome as a result.
async fn by_mx(
    mail_from: &str,
    rcpt_to: &[String],
    message: &[u8],
    opts: &SendMailOptions,
) -> Vec<RecipientResult> {
    let d = crate::delivery::DeliveryOptions {
        port: opts.port,
        resolve: crate::route::ResolveOptions { nameservers: opts.nameservers.clone(), ..Default::default() },
        allow_loopback: opts.allow_loopback,
        tls: opts.tls,
        hello_name: opts.hello_name.clone(),
        timeouts: opts.timeouts,
        verify_certificates: !opts.accept_invalid_certs && opts.ca_file.is_some(),
        ..Default::default()
    };
    let rcpts: Vec<_> = rcpt_to.iter().map(crate::delivery::Recipient::new).collect();
    crate::delivery::deliver(mail_from, &rcpts, message, &d)
        .await
        .into_iter()
        .map(|o| RecipientResult {
            ok: o.status == crate::delivery::Status::Delivered,
            error: o.kind.map(|k| (k, o.detail.clone())),
            rcpt: o.rcpt,
            reply: o.reply,
        })
        .collect()
}

/// The result of a recipient the server refused at RCPT.
fn refused_at_rcpt(x: &super::result::RejectedRecipient) -> RecipientResult {
    RecipientResult {
        rcpt: x.rcpt.clone(),
        ok: false,
        reply: Some(x.reply.clone()),
        error: Some((
            if x.reply.is_transient() { ErrorKind::Transient } else { ErrorKind::Rejected },
            format!("recipient refused: {}", x.reply.one_line()),
        )),
    }
}

async fn deliver(
    co: ClientOptions,
    credentials: Option<&(String, String)>,
    mail_from: &str,
    rcpt_to: &[String],
    message: &[u8],
) -> (Result<super::result::SendResult>, Vec<super::result::RejectedRecipient>) {
    let mut client = match Client::connect(co).await {
        Ok(c) => c,
        Err(e) => return (Err(e), Vec::new()),
    };
    if let Some((user, secret)) = credentials {
        if let Err(e) = client.login(user, secret, None).await {
            let _ = client.quit().await;
            return (Err(e), Vec::new());
        }
    }
    let res = client.send(mail_from, rcpt_to, message).await;
    let refused = client.last_refused().to_vec();
    if !client.is_closed() {
        let _ = client.quit().await;
    }
    (res, refused)
}

#[cfg(test)]
mod tests {
    use super::SendMailOptions;

    #[test]
    fn debug_hides_the_secret() {
        let mut o = SendMailOptions::smarthost("relay.example", 587);
        o.credentials = Some(("alice".into(), "s3cr3t-pw".into()));
        let shown = format!("{o:?}");
        assert!(!shown.contains("s3cr3t-pw"), "{shown}");
        assert!(shown.contains("\"alice\"") && shown.contains("****"), "{shown}");
        assert!(shown.contains("relay.example") && shown.contains("587"), "{shown}");
    }
}
