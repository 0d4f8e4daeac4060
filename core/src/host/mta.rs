//! Host values into the options of the MTA capabilities — `resolve_mx`, `Queue`, `check_relay`,
//! `analyze_received` — and their results back into host values, written once for Python, Node
//! and C. The names are the API contract's (`../shared/API.md`): `nameservers`, `smarthost`,
//! `retry` (a list of seconds, the last repeating), `max_age` (seconds), `tests` (`"all"`, a
//! name, or a list of names), `trusted_hosts` … A left-out or null option takes the core's
//! default; an unknown option is `invalid_input` naming it (a typo must not pass silently).
//!
//! Results go out with [`to_value`]: every result type of these modules is `Serialize`, and its
//! JSON shape (the one `--json` of the CLI prints) is what each binding turns into its objects.

use std::net::IpAddr;
use std::time::Duration;

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use super::options::from_value;
use crate::client::{ClientTimeouts, TlsMode};
use crate::delivery::DeliveryOptions;
use crate::error::{Error, Result};
use crate::queue::{NewEntry, NewRecipient, QueueOptions, RetryPolicy};
use crate::relay_check::{ProbeContext, RelayCheckOptions};
use crate::route::ResolveOptions;
use crate::trace::TraceOptions;

/// A result as a host value (the JSON shape of the CLI's `--json`).
pub fn to_value<T: Serialize>(result: &T) -> Value {
    // Serializing plain data into a `Value` cannot fail (no maps with non-string keys here).
    serde_json::to_value(result).unwrap_or(Value::Null)
}

fn seconds(what: &str, v: f64) -> Result<Duration> {
    crate::option_values::seconds(what, v)
}

/// An object's fields with nulls dropped; null itself is `{}`.
fn object(what: &str, value: Value) -> Result<Value> {
    match value {
        Value::Object(mut m) => {
            m.retain(|_, v| !v.is_null());
            Ok(Value::Object(m))
        }
        Value::Null => Ok(Value::Object(Map::new())),
        other => Err(Error::invalid_input(format!("{what} must be an object, got {other}"))),
    }
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields, default)]
struct ResolveArgs {
    nameservers: Option<Vec<String>>,
    seed: Option<u64>,
    own_hostnames: Vec<String>,
    max_cname_chain: Option<usize>,
    max_hosts: Option<usize>,
    query_timeout: Option<f64>,
}

/// `resolve_mx`'s options: `nameservers` (`["ip:port"]`), `seed` (equal preferences shuffled
/// the same way each time), `own_hostnames`, `max_cname_chain`, `max_hosts`, `query_timeout`
/// (seconds).
pub fn resolve_options(value: Value) -> Result<ResolveOptions> {
    let a: ResolveArgs = from_value(object("resolve_mx options", value)?)?;
    let mut o = ResolveOptions { nameservers: a.nameservers, seed: a.seed, ..Default::default() };
    o.own_hostnames = a.own_hostnames;
    if let Some(n) = a.max_cname_chain {
        o.max_cname_chain = n;
    }
    if let Some(n) = a.max_hosts {
        o.max_hosts = n;
    }
    if let Some(t) = a.query_timeout {
        o.query_timeout = seconds("query_timeout", t)?;
    }
    Ok(o)
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields, default)]
struct QueueArgs {
    nameservers: Option<Vec<String>>,
    smarthost: Option<String>,
    port: Option<u16>,
    allow_loopback: bool,
    retry: Option<Vec<f64>>,
    max_age: Option<f64>,
    hostname: Option<String>,
    concurrency: Option<usize>,
    per_destination: Option<usize>,
    tls: Option<String>,
    timeout: Option<f64>,
    hello_name: Option<String>,
    credentials: Option<Value>,
    allow_plaintext_auth: bool,
    poll_interval: Option<f64>,
}

/// `Queue(spool_dir, ...)`'s options: `nameservers`, `smarthost`, `port` (25), `allow_loopback`,
/// `retry` (seconds between tries, the last repeating; default 5 min doubling to 70 min),
/// `max_age` (seconds; 5 days), `hostname` (of the notices), `concurrency`, `per_destination`,
/// `tls` (`"opportunistic"`), `timeout` (one number for every SMTP phase; default RFC 5321's),
/// `hello_name`, `credentials` (for the smarthost), `allow_plaintext_auth`, `poll_interval`.
pub fn queue_options(value: Value) -> Result<QueueOptions> {
    let a: QueueArgs = from_value(object("queue options", value)?)?;
    let mut o = QueueOptions::default();
    if let Some(h) = a.hostname {
        o.hostname = h;
    }
    let mut d = DeliveryOptions {
        smarthost: a.smarthost,
        port: a.port.unwrap_or(25),
        resolve: ResolveOptions { nameservers: a.nameservers, ..Default::default() },
        allow_loopback: a.allow_loopback,
        tls: a.tls.as_deref().map(str::parse).transpose()?.unwrap_or(TlsMode::Opportunistic),
        hello_name: Some(a.hello_name.unwrap_or_else(|| o.hostname.clone())),
        credentials: super::options::credentials(a.credentials)?,
        allow_plaintext_auth: a.allow_plaintext_auth,
        ..Default::default()
    };
    if let Some(t) = a.timeout {
        d.timeouts = ClientTimeouts::uniform(seconds("timeout", t)?);
    }
    o.delivery = d;
    if let Some(r) = a.retry {
        if r.is_empty() {
            return Err(Error::invalid_input("retry must list at least one delay"));
        }
        let delays = r.into_iter().map(|s| seconds("retry", s)).collect::<Result<Vec<_>>>()?;
        o.retry = RetryPolicy { delays, ..o.retry };
    }
    if let Some(m) = a.max_age {
        o.retry.max_age = seconds("max_age", m)?;
    }
    if let Some(n) = a.concurrency {
        o.concurrency = n.max(1);
    }
    if let Some(n) = a.per_destination {
        o.per_destination = n.max(1);
    }
    if let Some(p) = a.poll_interval {
        o.poll_interval = seconds("poll_interval", p)?;
    }
    Ok(o)
}

/// One recipient of an envelope: an address, or `{address, notify, orcpt}`.
#[derive(Deserialize)]
#[serde(untagged)]
enum RcptArg {
    Address(String),
    Full {
        address: String,
        #[serde(default)]
        notify: Option<String>,
        #[serde(default)]
        orcpt: Option<String>,
    },
}

/// `rcpt_to`: one recipient, or a list (as every `send` takes).
#[derive(Deserialize)]
#[serde(untagged)]
enum RcptList {
    One(RcptArg),
    Many(Vec<RcptArg>),
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct EnvelopeArgs {
    mail_from: String,
    rcpt_to: RcptList,
    #[serde(default)]
    envid: Option<String>,
    #[serde(default)]
    ret: Option<String>,
}

/// `queue.submit`'s envelope: `{mail_from, rcpt_to, envid?, ret?}`; `mail_from` `""` is `<>`;
/// `rcpt_to` one recipient or a list, each an address or `{address, notify?, orcpt?}` (RFC 3461
/// parameters as on the wire: `notify="SUCCESS,FAILURE"`, `orcpt="rfc822;a@b.test"`).
pub fn queue_envelope(value: Value) -> Result<NewEntry> {
    let a: EnvelopeArgs = from_value(object("envelope", value)?)?;
    let rcpt_to = match a.rcpt_to {
        RcptList::One(r) => vec![r],
        RcptList::Many(v) => v,
    };
    if rcpt_to.is_empty() {
        return Err(Error::invalid_input("envelope: rcpt_to must name at least one recipient"));
    }
    let recipients = rcpt_to
        .into_iter()
        .map(|r| match r {
            RcptArg::Address(address) => NewRecipient { address, notify: None, orcpt: None },
            RcptArg::Full { address, notify, orcpt } => NewRecipient { address, notify, orcpt },
        })
        .collect();
    Ok(NewEntry { mail_from: a.mail_from, recipients, envid: a.envid, ret: a.ret })
}

/// `tests=`: `"all"`, one name, or a list of names.
#[derive(Deserialize)]
#[serde(untagged)]
enum TestsArg {
    One(String),
    Many(Vec<String>),
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields, default)]
struct RelayArgs {
    helo: Option<String>,
    probe_domain: Option<String>,
    timeout: Option<f64>,
    tests: Option<TestsArg>,
    from_user: Option<String>,
    to_user: Option<String>,
    server_ip: Option<IpAddr>,
    internal_domain: Option<String>,
    send_data: bool,
    errors_per_connection: Option<usize>,
    tls: Option<String>,
}

/// `check_relay(host, port=25, ...)`'s options: `helo`, `probe_domain`, `timeout` (seconds,
/// 30), `tests` (`"all"`, a name or a list), `from_user`, `to_user`, `server_ip`,
/// `internal_domain`, `send_data`, `errors_per_connection`, `tls`.
pub fn relay_check_options(host: &str, port: Option<u16>, value: Value) -> Result<RelayCheckOptions> {
    if host.is_empty() {
        return Err(Error::invalid_input("check_relay: host must not be empty"));
    }
    let a: RelayArgs = from_value(object("check_relay options", value)?)?;
    let mut o = RelayCheckOptions::new(host, port.unwrap_or(25));
    o.helo = a.helo;
    if let Some(d) = a.probe_domain {
        o.probe_domain = d;
    }
    if let Some(t) = a.timeout {
        o.timeout = seconds("timeout", t)?;
    }
    o.tests = match a.tests {
        None => Vec::new(),
        Some(TestsArg::One(t)) => vec![t],
        Some(TestsArg::Many(t)) => t,
    };
    if let Some(u) = a.from_user {
        o.from_user = u;
    }
    if let Some(u) = a.to_user {
        o.to_user = u;
    }
    o.server_ip = a.server_ip;
    o.internal_domain = a.internal_domain;
    o.send_data = a.send_data;
    if let Some(n) = a.errors_per_connection {
        o.errors_per_connection = n.max(1);
    }
    if let Some(t) = a.tls {
        o.tls = t.parse()?;
    }
    Ok(o)
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ProbeArgs {
    ip: String,
    #[serde(default)]
    banner_name: Option<String>,
    #[serde(default)]
    ehlo_name: Option<String>,
    #[serde(default)]
    domain: Option<String>,
    #[serde(default)]
    from_user: Option<String>,
    #[serde(default)]
    to_user: Option<String>,
    #[serde(default)]
    internal_domain: Option<String>,
}

/// `relay_probes(context)`'s context: `ip` (required), `banner_name`, `ehlo_name`, `domain`,
/// `from_user`, `to_user`, `internal_domain`; what is left out is what `check_relay` would use
/// (`ProbeContext::new`: the checker's defaults, the internal domain from the banner name), so
/// every runtime lists the matrix a check runs.
pub fn probe_context(value: Value) -> Result<ProbeContext> {
    let a: ProbeArgs = from_value(object("relay_probes context", value)?)?;
    let ip =
        a.ip.parse()
            .map_err(|_| Error::invalid_input(format!("relay_probes: ip {:?} is not an IP address", a.ip)))?;
    let mut o = RelayCheckOptions::new("", 25);
    if let Some(d) = a.domain {
        o.probe_domain = d;
    }
    if let Some(u) = a.from_user {
        o.from_user = u;
    }
    if let Some(u) = a.to_user {
        o.to_user = u;
    }
    o.internal_domain = a.internal_domain;
    Ok(ProbeContext::new(&o, ip, a.banner_name, a.ehlo_name))
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields, default)]
struct TraceArgs {
    trusted_hosts: Vec<String>,
    resolve: bool,
    nameservers: Option<Vec<String>>,
    now: Option<i64>,
}

/// `analyze_received(message, ...)`'s options: `trusted_hosts`, `resolve`, `nameservers`, `now`
/// (seconds since the epoch, for the future-date check; default the clock).
pub fn trace_options(value: Value) -> Result<TraceOptions> {
    let a: TraceArgs = from_value(object("analyze_received options", value)?)?;
    Ok(TraceOptions {
        trusted_hosts: a.trusted_hosts,
        resolve: a.resolve,
        nameservers: a.nameservers,
        now: a.now,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn left_out_options_take_the_core_defaults() {
        let r = resolve_options(Value::Null).unwrap();
        let d = ResolveOptions::default();
        assert_eq!(
            (r.max_cname_chain, r.max_hosts, r.query_timeout),
            (d.max_cname_chain, d.max_hosts, d.query_timeout)
        );
        let q = queue_options(json!({"nameservers": null})).unwrap();
        assert_eq!(q.retry, RetryPolicy::default());
        assert_eq!(q.delivery.port, 25);
        let c = relay_check_options("mx.test", None, json!({})).unwrap();
        assert_eq!(c.port, 25);
        assert!(c.tests.is_empty());
        assert!(!trace_options(json!({})).unwrap().resolve);
    }

    #[test]
    fn host_values_set_the_options() {
        let q = queue_options(json!({
            "smarthost": "127.0.0.2", "port": 2525, "allow_loopback": true,
            "retry": [0.5, 2], "max_age": 60, "timeout": 5, "nameservers": ["127.0.0.1:5353"],
        }))
        .unwrap();
        assert_eq!(q.delivery.smarthost.as_deref(), Some("127.0.0.2"));
        assert_eq!(q.delivery.port, 2525);
        assert!(q.delivery.allow_loopback);
        assert_eq!(q.retry.delays, vec![Duration::from_millis(500), Duration::from_secs(2)]);
        assert_eq!(q.retry.max_age, Duration::from_secs(60));
        assert_eq!(q.delivery.resolve.nameservers, Some(vec!["127.0.0.1:5353".to_string()]));
        let e = queue_envelope(json!({
            "mail_from": "", "rcpt_to": ["a@x.test", {"address": "b@x.test", "notify": "NEVER"}],
        }))
        .unwrap();
        assert_eq!(e.mail_from, "");
        assert_eq!(e.recipients[1].notify.as_deref(), Some("NEVER"));
        let one = queue_envelope(json!({"mail_from": "a@x.test", "rcpt_to": "b@x.test"})).unwrap();
        assert_eq!(one.recipients.len(), 1);
        assert_eq!(one.recipients[0].address, "b@x.test");
        let c = relay_check_options("h", Some(2526), json!({"tests": "null_sender", "timeout": 2})).unwrap();
        assert_eq!(
            (c.port, c.tests.clone(), c.timeout),
            (2526, vec!["null_sender".to_string()], Duration::from_secs(2))
        );
        let t = trace_options(json!({"trusted_hosts": ["mx.example.com"], "now": 5})).unwrap();
        assert_eq!((t.trusted_hosts.len(), t.now), (1, Some(5)));
    }

    #[test]
    fn mistakes_are_invalid_input_naming_the_option() {
        let e = queue_options(json!({"smarthots": "x"})).unwrap_err();
        assert!(e.message().contains("smarthots"), "{}", e.message());
        let e = queue_options(json!({"retry": []})).unwrap_err();
        assert!(e.message().contains("retry"));
        let e = relay_check_options("h", None, json!({"timeout": -1})).unwrap_err();
        assert!(e.message().contains("timeout"), "{}", e.message());
        assert!(queue_envelope(json!({"mail_from": "a@b.test", "rcpt_to": []})).is_err());
        assert!(resolve_options(json!(["x"])).is_err());
        assert!(relay_check_options("", None, Value::Null).is_err());
        assert!(probe_context(json!({"ip": "not an ip"})).unwrap_err().message().contains("ip"));
        assert!(probe_context(json!({"domain": "x.test"})).is_err(), "ip is required");
        assert!(probe_context(json!({"ip": "192.0.2.1", "fromuser": "x"})).is_err());
    }

    #[test]
    fn a_partial_probe_context_takes_the_checkers_defaults() {
        let c = probe_context(json!({"ip": "192.0.2.1", "ehlo_name": "mx.test"})).unwrap();
        assert_eq!(
            (c.domain.as_str(), c.from_user.as_str(), c.to_user.as_str()),
            ("relay-probe.invalid", "antispam", "relaytest")
        );
        assert_eq!(c.ehlo_name.as_deref(), Some("mx.test"));
        // As check_relay does: the internal domain from the banner name when none is given.
        let c = probe_context(json!({"ip": "192.0.2.1", "banner_name": "mx1.mail.example.com"})).unwrap();
        assert_eq!(c.internal_domain.as_deref(), Some("example.com"));
        let c = probe_context(json!({"ip": "::1", "domain": "far.test", "to_user": "t"})).unwrap();
        assert_eq!((c.domain.as_str(), c.to_user.as_str()), ("far.test", "t"));
    }
}
