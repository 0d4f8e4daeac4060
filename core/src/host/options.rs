//! Host values into the core's option types. A binding turns the host's keyword arguments or
//! options object into a JSON-shaped value (a generic walk: dict → object, None → null …,
//! knowing nothing of the options) and calls [`server_options`]; the names, the defaults (every
//! field left out), the units (float seconds) and the checks are the core's, written once in the
//! option types' `Deserialize` (`option_values::de`).
//!
//! Also the pool's options and destination, and `send_mail`'s options, from the same kind of
//! value: the Node binding builds them from its option objects, Python and C can do the same.

use std::time::Duration;

use serde::de::DeserializeOwned;
use serde_json::{Map, Value};

use crate::client::{
    ClientOptions, ClientTimeouts, Destination, DsnOptions, PoolOptions, SendMailOptions, SendOptions,
};
use crate::error::{Error, Result};
use crate::proto::params::{Notify, Ret};
use crate::server::ServerOptions;

/// The API's default `timeout` of a client (`Client.connect(..., timeout=30.0)`): each wait for
/// a reply, except the one after the message (`data_timeout`). The client's own default.
pub const CLIENT_TIMEOUT: Duration = crate::client::DEFAULT_TIMEOUT;

/// Deserialize `T` from `value`; a mistake is `invalid_input` naming the option
/// (`"option max_recipients: invalid type: string \"x\", expected usize"`).
pub fn from_value<T: DeserializeOwned>(value: Value) -> Result<T> {
    // serde_path_to_error: serde's own messages do not say which field was wrong.
    serde_path_to_error::deserialize(value).map_err(|e| {
        let path = e.path().to_string();
        if path == "." {
            Error::invalid_input(format!("options: {}", e.inner()))
        } else {
            Error::invalid_input(format!("option {path}: {}", e.inner()))
        }
    })
}

/// `ServerOptions` from the host's options (an object; missing fields take the defaults),
/// validated ([`ServerOptions::validate`]).
pub fn server_options(value: Value) -> Result<ServerOptions> {
    let opts: ServerOptions = from_value(value)?;
    opts.validate()?;
    Ok(opts)
}

/// `ClientOptions` for `host:port` from the host's options (an object of `ClientOptions`
/// fields, plus the API's `timeout`, `data_timeout` and `timeouts`). `port` `None` is 25, or 465
/// with `tls="implicit"`; a null option is one left out. Timeouts:
/// [`ClientTimeouts::from_seconds`] — `timeout` (default [`CLIENT_TIMEOUT`]) bounds every phase
/// but the reply after the message, which waits `data_timeout` (default 10 minutes, RFC 5321
/// §4.5.3.2.6 — cutting it short makes duplicates); `timeouts` (a map of phase → seconds) then
/// sets single phases, or one number sets every phase.
pub fn client_options(host: &str, port: Option<u16>, value: Value) -> Result<ClientOptions> {
    let mut map = match value {
        Value::Object(m) => m,
        Value::Null => Map::new(),
        other => return Err(Error::invalid_input(format!("client options must be an object, got {other}"))),
    };
    // For a client, `None` always means "the default": drop nulls rather than teach each field.
    map.retain(|_, v| !v.is_null());
    let mut take = |k: &str| map.remove(k);
    let (timeout, data_timeout, phases) = (take("timeout"), take("data_timeout"), take("timeouts"));
    let mut o: ClientOptions = from_value(Value::Object(map))?;
    o.host = host.to_string();
    o.port = port;
    let timeout = timeout.map(|v| number("timeout", v)).transpose()?;
    let data_timeout = data_timeout.map(|v| number("data_timeout", v)).transpose()?;
    let phases: Vec<(String, f64)> = match phases {
        None => Vec::new(),
        Some(Value::Object(given)) => given
            .into_iter()
            .map(|(phase, v)| {
                let secs = number(&format!("timeouts[{phase:?}]"), v)?;
                Ok((phase, secs))
            })
            .collect::<Result<_>>()?,
        Some(v) => {
            let secs = number("timeouts", v)?;
            ClientTimeouts::PHASES.iter().map(|p| (p.to_string(), secs)).collect()
        }
    };
    o.timeouts = ClientTimeouts::from_seconds(timeout, data_timeout, phases)
        .map_err(|e| Error::invalid_input(format!("timeouts: {}", e.message())))?;
    Ok(o)
}

/// A number of seconds as given (the check that it is a usable duration is `from_seconds`').
fn number(what: &str, v: Value) -> Result<f64> {
    from_value(v).map_err(|_| Error::invalid_input(format!("{what} must be a number of seconds")))
}

/// `PoolOptions` from the host's options (`max_connections`, `max_per_destination`,
/// `idle_timeout`, `max_lifetime`, `max_retries`, `health_check_after`,
/// `max_messages_per_connection`; left out or null: the pool's defaults).
pub fn pool_options(value: Value) -> Result<PoolOptions> {
    from_value(Value::Object(object("pool options", value)?))
}

/// A pool [`Destination`] from the host's options: `host` (required), `port`, `credentials`
/// (see [`credentials`]) and every option of [`client_options`].
pub fn destination(value: Value) -> Result<Destination> {
    let mut map = object("destination", value)?;
    let host = match map.remove("host") {
        Some(Value::String(h)) if !h.is_empty() => h,
        _ => return Err(Error::invalid_input("destination: host (a non-empty string) is required")),
    };
    let port = port(map.remove("port"))?;
    let creds = credentials(map.remove("credentials"))?;
    let options = client_options(&host, port, Value::Object(map))?;
    Ok(Destination { options, credentials: creds })
}

/// `SendMailOptions` from the host's options: `smarthost`, `port` (25 by default),
/// `credentials`, `nameservers`, `allow_loopback`, and the session options `send_mail` uses —
/// `tls`, `hello_name`, `timeout`/`data_timeout`/`timeouts`, `ca_file`, `accept_invalid_certs`,
/// `allow_plaintext_auth` — read as [`client_options`] reads them (same defaults and checks).
pub fn send_mail_options(value: Value) -> Result<SendMailOptions> {
    let mut map = object("send_mail options", value)?;
    let smarthost = match map.remove("smarthost") {
        None => None,
        Some(Value::String(h)) => Some(h),
        Some(other) => {
            return Err(Error::invalid_input(format!("option smarthost must be a host name, got {other}")))
        }
    };
    let port = port(map.remove("port"))?;
    let creds = credentials(map.remove("credentials"))?;
    let nameservers: Option<Vec<String>> = match map.remove("nameservers") {
        None => None,
        Some(v) => Some(
            from_value(v).map_err(|_| Error::invalid_input("nameservers must be a list of \"ip:port\""))?,
        ),
    };
    let allow_loopback = match map.remove("allow_loopback") {
        None => false,
        Some(v) => from_value(v).map_err(|_| Error::invalid_input("allow_loopback must be a boolean"))?,
    };
    let co = client_options(smarthost.as_deref().unwrap_or(""), port, Value::Object(map))?;
    Ok(SendMailOptions {
        smarthost,
        port: co.effective_port(),
        tls: co.tls,
        credentials: creds,
        timeouts: co.timeouts,
        hello_name: co.hello_name,
        nameservers,
        allow_loopback,
        ca_file: co.ca_file,
        accept_invalid_certs: co.accept_invalid_certs,
        allow_plaintext_auth: co.allow_plaintext_auth,
    })
}

/// A transaction's [`SendOptions`] from the host's `send` options (an object; null: none):
///
/// - `dsn`: `{ret: "FULL"|"HDRS", envid: str, notify: "SUCCESS,FAILURE" | ["SUCCESS", …] |
///   "NEVER", orcpt: bool}` (each optional);
/// - `mail_options` / `rcpt_options`: ESMTP parameters as smtplib takes them — a list of
///   `"KEYWORD"` / `"KEYWORD=value"` strings — or an object `{KEYWORD: value-or-null}`.
pub fn send_options(mail_from: &str, rcpt_to: Vec<String>, value: Value) -> Result<SendOptions> {
    let mut map = object("send options", value)?;
    let dsn = map.remove("dsn").map(dsn_options).transpose()?;
    let mail_params = map.remove("mail_options").map(|v| esmtp_params("mail_options", v)).transpose()?;
    let rcpt_params = map.remove("rcpt_options").map(|v| esmtp_params("rcpt_options", v)).transpose()?;
    if let Some(k) = map.keys().next() {
        return Err(Error::invalid_input(format!("unknown send option {k:?}")));
    }
    Ok(SendOptions {
        dsn,
        mail_params: mail_params.unwrap_or_default(),
        rcpt_params: rcpt_params.unwrap_or_default(),
        ..SendOptions::new(mail_from, rcpt_to)
    })
}

fn dsn_options(value: Value) -> Result<DsnOptions> {
    let mut map = object("dsn", value)?;
    let text = |k: &str, v: Value| match v {
        Value::String(s) => Ok(s),
        other => Err(Error::invalid_input(format!("dsn {k} must be a string, got {other}"))),
    };
    let ret = map.remove("ret").map(|v| text("ret", v)).transpose()?;
    let ret =
        ret.map(|r| Ret::parse(&r)).transpose().map_err(|e| Error::invalid_input(format!("dsn ret {e}")))?;
    let envid = map.remove("envid").map(|v| text("envid", v)).transpose()?;
    let notify = match map.remove("notify") {
        None => None,
        Some(Value::String(s)) => Some(notify(&s)?),
        Some(Value::Array(items)) => {
            let items = items.into_iter().map(|v| text("notify", v)).collect::<Result<Vec<_>>>()?;
            Some(notify(&items.join(","))?)
        }
        Some(other) => {
            return Err(Error::invalid_input(format!("dsn notify must be a string or a list, got {other}")))
        }
    };
    let orcpt = match map.remove("orcpt") {
        None => false,
        Some(Value::Bool(b)) => b,
        Some(other) => return Err(Error::invalid_input(format!("dsn orcpt must be a boolean, got {other}"))),
    };
    if let Some(k) = map.keys().next() {
        return Err(Error::invalid_input(format!("unknown dsn option {k:?}")));
    }
    Ok(DsnOptions { ret, envid, notify, orcpt })
}

/// `dsn.notify` as [`Notify::parse`] reads it on the wire; a list is its items joined by commas.
fn notify(value: &str) -> Result<Notify> {
    Notify::parse(value).map_err(|e| Error::invalid_input(format!("dsn notify: {e}")))
}

fn esmtp_params(what: &str, value: Value) -> Result<Vec<(String, Option<String>)>> {
    let bad =
        || Error::invalid_input(format!("{what} must be a list of \"KEYWORD[=value]\" strings or a map"));
    match value {
        Value::Null => Ok(Vec::new()),
        Value::Array(items) => items
            .into_iter()
            .map(|v| match v {
                Value::String(s) => Ok(match s.split_once('=') {
                    Some((k, v)) => (k.to_string(), Some(v.to_string())),
                    None => (s, None),
                }),
                _ => Err(bad()),
            })
            .collect(),
        Value::Object(m) => m
            .into_iter()
            .map(|(k, v)| match v {
                Value::Null => Ok((k, None)),
                Value::String(s) => Ok((k, Some(s))),
                Value::Number(n) => Ok((k, Some(n.to_string()))),
                _ => Err(bad()),
            })
            .collect(),
        _ => Err(bad()),
    }
}

/// AUTH credentials as a host gives them: `[user, password]` (a Python tuple) or
/// `{user, password}` (a JS object); null or left out: none.
pub fn credentials(value: Option<Value>) -> Result<Option<(String, String)>> {
    let bad = || Error::invalid_input("credentials must be [user, password] or {user, password}");
    match value {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Array(a)) => match <[Value; 2]>::try_from(a) {
            Ok([Value::String(u), Value::String(p)]) => Ok(Some((u, p))),
            _ => Err(bad()),
        },
        Some(Value::Object(mut m)) => match (m.remove("user"), m.remove("password")) {
            (Some(Value::String(u)), Some(Value::String(p))) if m.is_empty() => Ok(Some((u, p))),
            _ => Err(bad()),
        },
        Some(_) => Err(bad()),
    }
}

/// An object's fields, nulls dropped (a null option is one left out); null itself is `{}`.
fn object(what: &str, value: Value) -> Result<Map<String, Value>> {
    match value {
        Value::Object(mut m) => {
            m.retain(|_, v| !v.is_null());
            Ok(m)
        }
        Value::Null => Ok(Map::new()),
        other => Err(Error::invalid_input(format!("{what} must be an object, got {other}"))),
    }
}

/// A port option (left out: `None`, the default of the caller).
fn port(value: Option<Value>) -> Result<Option<u16>> {
    match value {
        None | Some(Value::Null) => Ok(None),
        Some(v) => {
            from_value(v).map(Some).map_err(|_| Error::invalid_input("port must be a number 0..65535"))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::client::TlsMode;
    use serde_json::json;
    use std::time::Duration;

    #[test]
    fn defaults_come_from_the_core() {
        let o = server_options(json!({ "hostname": "mx.example.test" })).unwrap();
        let d = ServerOptions::default();
        assert_eq!(
            (o.max_recipients, o.max_message_size, o.timeouts),
            (d.max_recipients, d.max_message_size, d.timeouts)
        );
        assert_eq!(o.hook_timeout, Duration::from_secs(60));
    }

    #[test]
    fn host_values_convert() {
        let o = server_options(json!({
            "hostname": "mx.example.test",
            "relay_networks": ["192.0.2.0/24", "::1"],
            "max_message_size": null,
            "timeouts": { "command": 2.5, "data": 10 },
            "auth": { "alice": "s3cret" },
            "delivery": "discard",
            "shutdown_grace": 0.5,
            "tls_cert": null,
        }))
        .unwrap();
        assert_eq!(o.relay_networks.len(), 2);
        assert_eq!(o.max_message_size, 0);
        assert_eq!(o.timeouts.command, Duration::from_millis(2500));
        assert_eq!(o.timeouts.tls_handshake, ServerOptions::default().timeouts.tls_handshake);
        assert!(o.auth.is_some());
        assert_eq!(o.delivery, crate::server::Delivery::Discard);
        let uniform = server_options(json!({ "hostname": "h", "timeouts": 7 })).unwrap();
        assert_eq!(uniform.timeouts.write, Duration::from_secs(7));
    }

    #[test]
    fn queue_mode_options_from_host_values() {
        let o = server_options(json!({
            "hostname": "mx.example.test",
            "delivery": "queue:/var/spool/postwire",
            "queue_smarthost": "[::1]:2526",
            "nameservers": ["127.0.0.1:5353"],
            "allow_loopback": true,
            "local_maildir": "/var/mail/local",
            "local_domains": ["example.test"],
            "queue_retry": [1, 2.5],
            "queue_max_age": 60,
        }))
        .unwrap();
        assert_eq!(o.delivery, crate::server::Delivery::Queue("/var/spool/postwire".into()));
        let q = o.queue_options().unwrap();
        assert_eq!((q.delivery.smarthost.as_deref(), q.delivery.port), (Some("::1"), 2526));
        assert!(q.delivery.allow_loopback);
        assert_eq!(q.delivery.resolve.nameservers, Some(vec!["127.0.0.1:5353".to_string()]));
        assert_eq!(q.retry.delays, [Duration::from_secs(1), Duration::from_millis(2500)]);
        assert_eq!(q.retry.max_age, Duration::from_secs(60));
        let local = q.local.unwrap();
        assert!(local.is_local("a@EXAMPLE.test") && local.is_local("b@mx.example.test"));
        assert!(!local.is_local("c@elsewhere.test"));
        // Old option objects still work: every queue option has a default.
        let plain = server_options(json!({ "hostname": "h", "delivery": "queue:/q" })).unwrap();
        let q = plain.queue_options().unwrap();
        assert_eq!((q.delivery.smarthost, q.delivery.port, q.local), (None, 25, None));
        for bad in [
            json!({ "hostname": "h", "delivery": "queue:" }),
            json!({ "hostname": "h", "queue_smarthost": "relay.test" }),
            json!({ "hostname": "h", "delivery": "discard", "queue_retry": [5] }),
            json!({ "hostname": "h", "local_maildir": "/m" }),
            json!({ "hostname": "h", "delivery": "queue:/q", "queue_retry": [] }),
            json!({ "hostname": "h", "delivery": "queue:/q", "queue_max_age": -1 }),
            json!({ "hostname": "h", "delivery": "queue:/q", "queue_smarthost": "relay.test:0" }),
        ] {
            let e = server_options(bad.clone()).err().unwrap_or_else(|| panic!("{bad} accepted"));
            assert_eq!(e.kind(), crate::error::ErrorKind::InvalidInput, "{bad}");
        }
    }

    #[test]
    fn client_options_from_host_values() {
        let o = client_options("mx.example.test", None, json!({ "tls": "implicit", "pipelining": false }))
            .unwrap();
        assert_eq!(
            (o.effective_port(), o.tls, o.pipelining, o.chunking),
            (465, TlsMode::Implicit, false, true)
        );
        assert_eq!(o.timeouts.rcpt, CLIENT_TIMEOUT);
        assert_eq!(
            o.timeouts.data_end,
            ClientTimeouts::default().data_end,
            "timeout leaves the data wait alone"
        );
        let o = client_options(
            "h",
            Some(2525),
            json!({ "timeout": 5, "data_timeout": 60.5, "timeouts": { "connect": 1.5 }, "tls": null }),
        )
        .unwrap();
        assert_eq!(o.port, Some(2525));
        assert_eq!(o.tls, TlsMode::Opportunistic);
        assert_eq!(o.timeouts.connect, Duration::from_millis(1500));
        assert_eq!(o.timeouts.mail, Duration::from_secs(5));
        assert_eq!(o.timeouts.data_end, Duration::from_millis(60500));
        for bad in [
            json!({ "tls": "bogus" }),
            json!({ "timeout": 0 }),
            json!({ "timeouts": { "nope": 1 } }),
            json!({ "data_timeout": "long" }),
            json!({ "no_such_option": true }),
        ] {
            let e = client_options("h", None, bad.clone()).unwrap_err();
            assert_eq!(e.kind(), crate::ErrorKind::InvalidInput, "{bad}");
        }
    }

    #[test]
    fn pool_destination_and_send_mail_options() {
        let p =
            pool_options(json!({ "max_connections": 3, "idle_timeout": 1.5, "max_retries": null })).unwrap();
        let d = PoolOptions::default();
        assert_eq!((p.max_connections, p.idle_timeout), (3, Duration::from_millis(1500)));
        assert_eq!((p.max_per_destination, p.max_retries), (d.max_per_destination, d.max_retries));
        assert_eq!(pool_options(Value::Null).unwrap(), d);
        for bad in [json!({ "idle_timeout": 0 }), json!({ "nope": 1 }), json!(3)] {
            assert_eq!(
                pool_options(bad.clone()).unwrap_err().kind(),
                crate::ErrorKind::InvalidInput,
                "{bad}"
            );
        }

        let dest = destination(json!({
            "host": "mx.example.test", "port": 2525, "tls": "none",
            "credentials": { "user": "alice", "password": "s3cret" }, "timeout": 2,
        }))
        .unwrap();
        assert_eq!((dest.options.host.as_str(), dest.options.effective_port()), ("mx.example.test", 2525));
        assert_eq!(dest.options.tls, TlsMode::None);
        assert_eq!(dest.options.timeouts.mail, Duration::from_secs(2));
        assert_eq!(dest.credentials, Some(("alice".into(), "s3cret".into())));
        let implicit =
            destination(json!({ "host": "h", "tls": "implicit", "credentials": ["u", "p"] })).unwrap();
        assert_eq!(implicit.options.effective_port(), 465);
        assert_eq!(implicit.credentials, Some(("u".into(), "p".into())));
        for bad in [
            json!({ "port": 25 }),
            json!({ "host": "h", "credentials": ["u"] }),
            json!({ "host": "h", "credentials": { "user": "u" } }),
            json!({ "host": "h", "bogus": true }),
        ] {
            assert_eq!(destination(bad.clone()).unwrap_err().kind(), crate::ErrorKind::InvalidInput, "{bad}");
        }

        let sm = send_mail_options(json!({
            "smarthost": "127.0.0.1", "port": 2525, "tls": "none", "timeout": 3,
            "nameservers": ["127.0.0.1:5353"], "allow_loopback": true, "credentials": null,
        }))
        .unwrap();
        assert_eq!((sm.smarthost.as_deref(), sm.port, sm.tls), (Some("127.0.0.1"), 2525, TlsMode::None));
        assert_eq!(sm.timeouts.rcpt, Duration::from_secs(3));
        assert_eq!(sm.timeouts.data_end, ClientTimeouts::default().data_end);
        assert_eq!(sm.nameservers, Some(vec!["127.0.0.1:5353".to_string()]));
        assert!(sm.allow_loopback && sm.credentials.is_none());
        let defaults = send_mail_options(Value::Null).unwrap();
        assert_eq!((defaults.smarthost, defaults.port, defaults.tls), (None, 25, TlsMode::Opportunistic));
        for bad in [json!({ "smarthost": 7 }), json!({ "allow_loopback": "yes" }), json!({ "timeout": -1 })] {
            assert_eq!(
                send_mail_options(bad.clone()).unwrap_err().kind(),
                crate::ErrorKind::InvalidInput,
                "{bad}"
            );
        }
    }

    #[test]
    fn send_options_from_host_values() {
        let o = send_options(
            "a@x",
            vec!["b@x".into()],
            json!({
                "dsn": { "ret": "hdrs", "envid": "id1", "notify": ["SUCCESS", "failure"], "orcpt": true },
                "mail_options": ["SMTPUTF8", "BODY=8BITMIME"],
                "rcpt_options": { "XFOO": "1", "XBAR": null },
            }),
        )
        .unwrap();
        let d = o.dsn.unwrap();
        assert_eq!((d.ret, d.envid.as_deref(), d.orcpt), (Some(Ret::Hdrs), Some("id1"), true));
        assert_eq!(d.notify.and_then(|n| n.to_param_value()).as_deref(), Some("SUCCESS,FAILURE"));
        assert_eq!(o.mail_params, vec![("SMTPUTF8".into(), None), ("BODY".into(), Some("8BITMIME".into()))]);
        assert_eq!(o.rcpt_params.len(), 2);
        let plain = send_options("a@x", vec!["b@x".into()], Value::Null).unwrap();
        assert_eq!(plain, SendOptions::new("a@x", vec!["b@x".into()]));
        for bad in [
            json!({ "dsn": { "ret": "ALL" } }),
            json!({ "dsn": { "notify": "NEVER,SUCCESS" } }),
            json!({ "dsn": { "bogus": 1 } }),
            json!({ "mail_options": "SMTPUTF8" }),
            json!({ "nope": 1 }),
            json!({ "dsn": { "notify": "SOMETIMES" } }),
            json!({ "dns": {} }),
        ] {
            let e = send_options("a@x", vec![], bad.clone()).unwrap_err();
            assert_eq!(e.kind(), crate::ErrorKind::InvalidInput, "{bad}");
        }
    }

    #[test]
    fn dsn_values_read_as_on_the_wire() {
        let dsn = |d: Value| send_options("a@x", vec![], json!({ "dsn": d })).map(|o| o.dsn.unwrap());
        let wire = |d: Value| dsn(d).unwrap().notify.and_then(|n| n.to_param_value());
        assert_eq!(wire(json!({ "notify": "never" })).as_deref(), Some("NEVER"));
        assert_eq!(wire(json!({ "notify": "delay,Success" })).as_deref(), Some("SUCCESS,DELAY"));
        assert_eq!(wire(json!({ "notify": ["FAILURE", "delay"] })).as_deref(), Some("FAILURE,DELAY"));
        assert_eq!(dsn(json!({ "ret": "Full" })).unwrap().ret, Some(Ret::Full));
        // Where this copy was more lenient than RFC 3461, it is not any more: spaces around a
        // flag, an empty list (it sent no NOTIFY at all), an empty item.
        for (bad, needle) in [
            (json!({ "notify": "SUCCESS, FAILURE" }), "dsn notify: unknown flag \" FAILURE\""),
            (json!({ "notify": [" SUCCESS"] }), "dsn notify: unknown flag \" SUCCESS\""),
            (json!({ "notify": [] }), "dsn notify: empty flag"),
            (json!({ "notify": "" }), "dsn notify: empty flag"),
            (json!({ "notify": ["SUCCESS", ""] }), "dsn notify: empty flag"),
            (json!({ "notify": ["NEVER", "delay"] }), "dsn notify: NEVER excludes the other flags"),
            (json!({ "notify": "bogus" }), "dsn notify: unknown flag \"bogus\""),
            (json!({ "ret": "most" }), "dsn ret must be \"FULL\" or \"HDRS\", got \"most\""),
            (json!({ "ret": " hdrs" }), "dsn ret must be"),
            (json!({ "ret": "" }), "dsn ret must be"),
        ] {
            let e = dsn(bad.clone()).unwrap_err();
            assert_eq!(e.kind(), crate::ErrorKind::InvalidInput, "{bad}");
            assert!(e.message().contains(needle), "{bad}: {}", e.message());
        }
    }

    #[test]
    fn mistakes_are_invalid_input_naming_the_option() {
        for (v, needle) in [
            (json!({ "relay_networks": ["not-a-net"] }), "relay_networks"),
            (json!({ "timeouts": { "bogus": 1 } }), "bogus"),
            (json!({ "timeouts": 0 }), "timeouts"),
            (json!({ "shutdown_grace": -1 }), "shutdown_grace"),
            (json!({ "max_recipients": "many" }), "max_recipients"),
            (json!({ "no_such_option": 1 }), "no_such_option"),
            (json!({ "delivery": "queue:" }), "delivery"),
            (json!({ "queue_retry": [5] }), "queue_retry"),
            (json!({ "max_connections": 0 }), "max_connections"),
        ] {
            let e = server_options(v.clone()).unwrap_err();
            assert_eq!(e.kind(), crate::ErrorKind::InvalidInput, "{v}");
            assert!(e.message().contains(needle), "{v}: {}", e.message());
        }
    }
}
