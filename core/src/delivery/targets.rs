//! Which addresses a delivery attempt tries, in order (sans-IO): the route's hosts best first,
//! at most `max_hosts` of them and `max_addresses_per_host` addresses each, with the loopback
//! guard of `shared/API.md` (`allow_loopback`) — every address left out is reported with why.

use std::net::IpAddr;

use serde::Serialize;

use super::options::DeliveryOptions;
use crate::route::Route;

/// One address to connect to.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Target {
    /// The exchanger's name (for TLS SNI and the logs).
    pub host: String,
    /// Its address.
    pub address: IpAddr,
}

/// True when `ip` is refused without `allow_loopback`: loopback or unspecified (0.0.0.0, ::),
/// also as an IPv4-mapped IPv6 address.
pub fn is_guarded(ip: &IpAddr) -> bool {
    let ip = match ip {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map(IpAddr::V4).unwrap_or(*ip),
        v4 => *v4,
    };
    ip.is_loopback() || ip.is_unspecified()
}

/// The addresses to try for `route`, and a line for every one left out.
pub fn targets(route: &Route, opts: &DeliveryOptions) -> (Vec<Target>, Vec<String>) {
    let mut out = Vec::new();
    let mut skipped = Vec::new();
    for (i, host) in route.hosts.iter().enumerate() {
        if i >= opts.max_hosts {
            skipped.push(format!("{}: past the limit of {} hosts", host.exchange, opts.max_hosts));
            continue;
        }
        let mut taken = 0;
        for address in &host.addresses {
            if !opts.allow_loopback && is_guarded(address) {
                skipped.push(format!(
                    "{} [{address}]: loopback or unspecified address refused (allow_loopback is off)",
                    host.exchange
                ));
                continue;
            }
            if taken >= opts.max_addresses_per_host {
                skipped.push(format!(
                    "{} [{address}]: past the limit of {} addresses per host",
                    host.exchange, opts.max_addresses_per_host
                ));
                continue;
            }
            taken += 1;
            out.push(Target { host: host.exchange.clone(), address: *address });
        }
    }
    (out, skipped)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::route::MxHost;

    fn route(hosts: &[(&str, &[&str])]) -> Route {
        Route {
            domain: "d.test".into(),
            canonical: "d.test".into(),
            cname_chain: vec![],
            hosts: hosts
                .iter()
                .enumerate()
                .map(|(i, (n, a))| MxHost {
                    preference: i as u16 * 10,
                    exchange: n.to_string(),
                    addresses: a.iter().map(|s| s.parse().unwrap()).collect(),
                    cname: None,
                })
                .collect(),
            implicit: false,
            null_mx: false,
            explanation: vec![],
        }
    }

    #[test]
    fn limits_and_the_loopback_guard_apply_in_order() {
        let r = route(&[
            ("a", &["192.0.2.1", "192.0.2.2", "192.0.2.3"]),
            ("b", &["127.0.0.2", "::ffff:127.0.0.1", "2001:db8::1"]),
            ("c", &["192.0.2.9"]),
        ]);
        let opts = DeliveryOptions { max_hosts: 2, ..Default::default() };
        let (t, skipped) = targets(&r, &opts);
        let got: Vec<String> = t.iter().map(|t| format!("{}:{}", t.host, t.address)).collect();
        assert_eq!(got, ["a:192.0.2.1", "a:192.0.2.2", "b:2001:db8::1"]);
        assert_eq!(skipped.len(), 4, "{skipped:?}");
        let open = DeliveryOptions { allow_loopback: true, max_addresses_per_host: 5, ..Default::default() };
        assert_eq!(targets(&r, &open).0.len(), 7);
        assert!(is_guarded(&"0.0.0.0".parse().unwrap()));
        assert!(!is_guarded(&"192.0.2.1".parse().unwrap()));
    }
}
