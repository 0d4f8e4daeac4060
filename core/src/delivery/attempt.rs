//! One delivery attempt to one destination: connect to its addresses in order with the core
//! [`Client`] until a session is up, then run one transaction with all of the destination's
//! recipients. The decisions (next address or stop, recipient outcomes) are `outcome.rs`'s.

use crate::client::{Client, ClientOptions, DsnOptions, SendOptions, TlsMode};
use crate::error::{Error, ErrorKind};
use crate::proto::params::Ret;

use super::options::DeliveryOptions;
use super::outcome::{from_error, from_result, refused, Recipient, RecipientOutcome};

/// Where to connect: the address (or the smarthost's name), the name for TLS, a label.
#[derive(Debug, Clone)]
pub(super) struct Dest {
    pub connect: String,
    pub sni: Option<String>,
    pub label: String,
}

/// The envelope fields an attempt sends besides the recipients.
#[derive(Debug, Clone, Default)]
pub(super) struct EnvelopeParams<'a> {
    pub mail_from: &'a str,
    pub envid: Option<&'a str>,
    pub ret: Option<Ret>,
}

fn client_options(dest: &Dest, opts: &DeliveryOptions, tls: TlsMode) -> ClientOptions {
    let mut co = ClientOptions::new(dest.connect.clone(), opts.port);
    co.tls = tls;
    co.tls_server_name = dest.sni.clone();
    co.accept_invalid_certs = !opts.verify_certificates;
    co.hello_name = opts.hello_name.clone();
    co.timeouts = opts.timeouts;
    co.allow_plaintext_auth = opts.allow_plaintext_auth;
    co.record_transcript = false;
    co
}

/// Open a session to `dest`; a TLS failure in opportunistic mode is retried once in plain text
/// (RFC 7435: opportunistic security must not make mail undeliverable).
async fn open(dest: &Dest, opts: &DeliveryOptions) -> Result<Client, Error> {
    match Client::connect(client_options(dest, opts, opts.tls)).await {
        Err(e) if e.kind() == ErrorKind::Tls && opts.tls == TlsMode::Opportunistic => {
            tracing::info!(host = %dest.label, error = %e, "STARTTLS failed; retrying without TLS");
            Client::connect(client_options(dest, opts, TlsMode::None)).await
        }
        r => r,
    }
}

/// The one NOTIFY every recipient shares, if they share one: the client sends one NOTIFY for
/// the whole transaction, and splitting the destination's transaction by NOTIFY would cost a
/// second delivery of the same message.
fn shared_notify(rcpts: &[Recipient]) -> Option<crate::proto::params::Notify> {
    let first = rcpts.first()?.notify?;
    rcpts.iter().all(|r| r.notify == Some(first)).then_some(first)
}

/// Deliver to the first of `dests` that takes a session; every recipient gets an outcome.
pub(super) async fn attempt(
    dests: &[Dest],
    rcpts: &[Recipient],
    env: &EnvelopeParams<'_>,
    message: &[u8],
    opts: &DeliveryOptions,
) -> Vec<RecipientOutcome> {
    let mut last: Option<(Error, String)> = None;
    // A destination that failed only for now (connect refused, 4xx greeting) keeps the message
    // deferred even when a later one answered 5xx at its greeting.
    let mut any_transient = false;
    let notify = shared_notify(rcpts);
    for dest in dests {
        let mut client = match open(dest, opts).await {
            Ok(c) => c,
            Err(e) if e.kind() == ErrorKind::InvalidInput => return from_error(rcpts, &e, Some(&dest.label)),
            Err(e) => {
                tracing::info!(host = %dest.label, error = %e, "no session; trying the next address");
                any_transient |= super::outcome::status_of(&e) == super::outcome::Status::Deferred;
                last = Some((e, dest.label.clone()));
                continue;
            }
        };
        if let Some((user, secret)) = &opts.credentials {
            if opts.smarthost.is_some() {
                if let Err(e) = client.login(user, secret, None).await {
                    let _ = client.quit().await;
                    return from_error(rcpts, &e, Some(&dest.label));
                }
            }
        }
        let send = SendOptions {
            mail_from: env.mail_from.to_string(),
            rcpt_to: rcpts.iter().map(|r| r.address.clone()).collect(),
            dsn: Some(DsnOptions {
                ret: env.ret,
                envid: env.envid.map(str::to_string),
                notify,
                orcpt: false,
            }),
            ..Default::default()
        };
        let result = client.send_with(&send, message).await;
        let remote_dsn = notify.is_some() && client.capabilities().has("DSN");
        let out = match result {
            Ok(res) => from_result(rcpts, &res, &dest.label, remote_dsn),
            Err(e) if !client.last_refused().is_empty() && client.last_refused().len() == rcpts.len() => {
                // Every recipient refused: each keeps its own reply.
                let refused_list = client.last_refused().to_vec();
                rcpts
                    .iter()
                    .map(|r| match refused_list.iter().find(|x| x.rcpt == r.address) {
                        Some(x) => refused(r, &x.reply, &dest.label),
                        None => from_error(std::slice::from_ref(r), &e, Some(&dest.label)).remove(0),
                    })
                    .collect()
            }
            Err(e)
                if e.reply().is_none()
                    && !client.content_sent()
                    && !matches!(e.kind(), ErrorKind::Rejected | ErrorKind::InvalidInput) =>
            {
                // The session died before any content went out: nothing can have been
                // delivered, the next address may do better.
                any_transient = true;
                last = Some((e, dest.label.clone()));
                continue;
            }
            Err(e) => from_error(rcpts, &e, Some(&dest.label)),
        };
        if !client.is_closed() {
            let _ = client.quit().await;
        }
        return out;
    }
    let (e, label) =
        last.unwrap_or_else(|| (Error::new(ErrorKind::Connect, "no address to deliver to"), String::new()));
    let text = format!("no exchanger took the message; last, {label}: {}", e.message());
    let e = match e.reply() {
        Some(r) if r.is_permanent() && any_transient => {
            Error::new(e.kind(), text).with_reply(crate::proto::Reply::new(451, &r.one_line(), Some("4.4.1")))
        }
        r => Error::new(e.kind(), text).with_reply_opt(r.cloned()),
    };
    from_error(rcpts, &e, (!label.is_empty()).then_some(label.as_str()))
}

/// `with_reply` when there is one.
trait WithReplyOpt {
    fn with_reply_opt(self, r: Option<crate::proto::Reply>) -> Self;
}

impl WithReplyOpt for Error {
    fn with_reply_opt(self, r: Option<crate::proto::Reply>) -> Self {
        match r {
            Some(r) => self.with_reply(r),
            None => self,
        }
    }
}
