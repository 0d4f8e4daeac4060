//! [`deliver`]: one message to all its recipients — everything to the smarthost when there is
//! one, else per recipient domain: resolve the route, pick the addresses (`targets.rs`), attempt
//! (`attempt.rs`). Domains are delivered concurrently, up to `parallel_domains` at a time.

use futures::stream::{self, StreamExt};

use super::attempt::{attempt, Dest, EnvelopeParams};
use super::options::DeliveryOptions;
use super::outcome::{from_error, Recipient, RecipientOutcome, Status};
use super::targets::targets;
use crate::error::{Error, ErrorKind};
use crate::proto::params::Ret;
use crate::proto::Reply;
use crate::route::{null_mx_reply, MxResolver};

/// A message to deliver: envelope and RFC 3461 parameters.
#[derive(Debug, Clone, Default)]
pub struct Outgoing {
    /// Reverse-path (`""` = `<>`).
    pub mail_from: String,
    /// `ENVID=`.
    pub envid: Option<String>,
    /// `RET=`.
    pub ret: Option<Ret>,
    /// The recipients still to deliver.
    pub recipients: Vec<Recipient>,
}

/// Deliver `message` from `mail_from` to `rcpts` by MX (or the smarthost), one outcome per
/// recipient in order. Never fails as a whole: every problem is some recipient's outcome.
pub async fn deliver(
    mail_from: &str,
    rcpts: &[Recipient],
    message: &[u8],
    opts: &DeliveryOptions,
) -> Vec<RecipientOutcome> {
    let out = Outgoing { mail_from: mail_from.to_string(), recipients: rcpts.to_vec(), ..Default::default() };
    match MxResolver::new(opts.resolve.clone()) {
        Ok(resolver) => deliver_with(&resolver, &out, message, opts).await,
        Err(e) => from_error(rcpts, &e, None),
    }
}

/// The domain of an address, lower-cased (`None` without `@`).
fn domain_of(addr: &str) -> Option<String> {
    let (_, d) = addr.rsplit_once('@')?;
    (!d.is_empty()).then(|| d.to_ascii_lowercase())
}

/// [`deliver`] with a resolver kept across messages (the queue runner's).
pub async fn deliver_with(
    resolver: &MxResolver,
    msg: &Outgoing,
    message: &[u8],
    opts: &DeliveryOptions,
) -> Vec<RecipientOutcome> {
    let env = EnvelopeParams { mail_from: &msg.mail_from, envid: msg.envid.as_deref(), ret: msg.ret };
    if let Some(host) = &opts.smarthost {
        let dest = Dest { connect: host.clone(), sni: Some(host.clone()), label: host.clone() };
        return attempt(&[dest], &msg.recipients, &env, message, opts).await;
    }
    // Group by domain, keeping the first-seen order of domains.
    let mut groups: Vec<(String, Vec<Recipient>)> = Vec::new();
    let mut out = Vec::new();
    for r in &msg.recipients {
        let Some(d) = domain_of(&r.address) else {
            let e = Error::invalid_input(format!("{:?} has no domain to route by", r.address));
            out.extend(from_error(std::slice::from_ref(r), &e, None));
            continue;
        };
        match groups.iter_mut().find(|(g, _)| *g == d) {
            Some((_, v)) => v.push(r.clone()),
            None => groups.push((d, vec![r.clone()])),
        }
    }
    let per_domain = stream::iter(groups)
        .map(|(domain, rcpts)| {
            let env = env.clone();
            async move { deliver_domain(resolver, &domain, &rcpts, &env, message, opts).await }
        })
        .buffer_unordered(opts.parallel_domains.max(1))
        .collect::<Vec<_>>()
        .await;
    out.extend(per_domain.into_iter().flatten());
    // Back in the caller's order.
    let order = |rcpt: &str| msg.recipients.iter().position(|r| r.address == rcpt).unwrap_or(usize::MAX);
    out.sort_by_key(|o| order(&o.rcpt));
    out
}

async fn deliver_domain(
    resolver: &MxResolver,
    domain: &str,
    rcpts: &[Recipient],
    env: &EnvelopeParams<'_>,
    message: &[u8],
    opts: &DeliveryOptions,
) -> Vec<RecipientOutcome> {
    let route = match resolver.resolve(domain).await {
        Ok(r) => r,
        Err(e) => return from_error(rcpts, &e, None),
    };
    if route.null_mx {
        let e = Error::new(ErrorKind::Dns, format!("{domain} publishes a null MX: it accepts no mail"))
            .with_reply(null_mx_reply(domain));
        return from_error(rcpts, &e, None);
    }
    let (tgts, skipped) = targets(&route, opts);
    for s in &skipped {
        tracing::info!(domain, "skipped {s}");
    }
    if tgts.is_empty() {
        // Every address was refused by the guard or the limits: a routing decision no retry
        // changes (the MX points at this machine or at nothing usable).
        let text = format!("no usable address for {domain}: {}", skipped.join("; "));
        let e = Error::new(ErrorKind::Dns, text.clone()).with_reply(Reply::new(554, &text, Some("5.4.4")));
        return from_error(rcpts, &e, None);
    }
    let dests: Vec<Dest> = tgts
        .iter()
        .map(|t| Dest {
            connect: t.address.to_string(),
            sni: t.host.parse::<std::net::IpAddr>().is_err().then(|| t.host.clone()),
            label: format!("{} [{}]", t.host, t.address),
        })
        .collect();
    let out = attempt(&dests, rcpts, env, message, opts).await;
    for o in &out {
        if o.status != Status::Delivered {
            tracing::info!(domain, rcpt = %o.rcpt, status = ?o.status, detail = %o.detail, "not delivered");
        }
    }
    out
}
