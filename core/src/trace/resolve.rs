//! `resolve=True`: forward-confirmed reverse DNS of each hop's client address — the PTR name of
//! the address, then that name's A/AAAA records, which must contain the address again.
//!
//! The only file of the trace analysis that does I/O or knows the resolver crate: the lookups are
//! here, the decision ([`confirm`]) is a pure function, and the findings read the result from the
//! hops. A lookup that fails leaves the hop unresolved (no finding), it never fails the analysis.

use std::net::IpAddr;
use std::time::Duration;

use hickory_resolver::proto::rr::RData;
use hickory_resolver::TokioResolver;

use crate::error::Result;

use super::hop::Hop;

/// How long one lookup may take.
const LOOKUP_LIMIT: Duration = Duration::from_secs(5);

/// A resolver through `nameservers` (`"ip:port"`, UDP and TCP), or the system's configuration.
pub fn resolver(nameservers: Option<&[String]>) -> Result<TokioResolver> {
    let mut builder = crate::route::dns::builder(nameservers)?;
    builder.options_mut().timeout = LOOKUP_LIMIT;
    builder.options_mut().attempts = 1;
    builder
        .build()
        .map_err(|e| crate::Error::new(crate::ErrorKind::Dns, format!("cannot build the resolver: {e}")))
}

/// The verdict of one address: its first PTR name, and whether any PTR name resolves back to
/// it. `forward` holds each PTR name with the addresses it resolved to.
pub fn confirm(ip: IpAddr, forward: &[(String, Vec<IpAddr>)]) -> (Option<String>, bool) {
    let first = forward.first().map(|(n, _)| n.clone());
    let confirmed = forward.iter().any(|(_, addrs)| addrs.contains(&ip));
    (first, confirmed)
}

/// One address's outcome: `None` when the lookup failed, else (first PTR name, confirmed).
type Lookup = Option<(Option<String>, bool)>;

/// Look up every hop's client address (each address once) and fill `resolved_rdns`/`fcrdns`.
pub async fn resolve_hops(hops: &mut [Hop], resolver: &TokioResolver) {
    let mut seen: Vec<(IpAddr, Lookup)> = Vec::new();
    for hop in hops.iter_mut() {
        let Some(ip) = hop.from_ip else { continue };
        let verdict = match seen.iter().find(|(a, _)| *a == ip) {
            Some((_, v)) => v.clone(),
            None => {
                let v = lookup(ip, resolver).await;
                seen.push((ip, v.clone()));
                v
            }
        };
        if let Some((name, ok)) = verdict {
            hop.resolved_rdns = name;
            hop.fcrdns = Some(ok);
        }
    }
}

/// PTR then A/AAAA; `None` when the PTR lookup itself failed (no answer is not a verdict).
async fn lookup(ip: IpAddr, resolver: &TokioResolver) -> Lookup {
    let ptr = tokio::time::timeout(LOOKUP_LIMIT, resolver.reverse_lookup(ip)).await.ok()?;
    let names: Vec<String> = match ptr {
        Ok(answer) => answer
            .answers()
            .iter()
            .filter_map(|r| match &r.data {
                RData::PTR(p) => Some(p.0.to_utf8().trim_end_matches('.').to_string()),
                _ => None,
            })
            .collect(),
        // NXDOMAIN / no PTR: the address has no name, which fails confirmation.
        Err(_) => return Some((None, false)),
    };
    let mut forward = Vec::new();
    for name in names.iter().take(4) {
        let addrs = match tokio::time::timeout(LOOKUP_LIMIT, resolver.lookup_ip(format!("{name}."))).await {
            Ok(Ok(found)) => found.iter().collect(),
            _ => Vec::new(),
        };
        forward.push((name.clone(), addrs));
    }
    Some(confirm(ip, &forward))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn confirmation_needs_the_address_back() {
        let ip: IpAddr = "192.0.2.7".parse().unwrap();
        let other: IpAddr = "192.0.2.8".parse().unwrap();
        assert_eq!(confirm(ip, &[("a.example".into(), vec![other, ip])]), (Some("a.example".into()), true));
        assert_eq!(confirm(ip, &[("a.example".into(), vec![other])]), (Some("a.example".into()), false));
        assert_eq!(confirm(ip, &[]), (None, false));
    }

    #[test]
    fn bad_nameserver_is_invalid_input() {
        let e = resolver(Some(&["not an address".to_string()])).unwrap_err();
        assert_eq!(e.kind(), crate::ErrorKind::InvalidInput);
    }
}
