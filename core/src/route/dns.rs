//! The DNS I/O of routing: a hickory-resolver 0.26 resolver built from `"ip:port"` strings (or
//! the system configuration) and one query at a time, its outcome reduced to what routing
//! decides on — records, no data, no such name, or a transient failure.
//!
//! Names are always asked fully qualified (trailing dot), so no search domain is ever appended.

use std::net::{IpAddr, SocketAddr};

use hickory_resolver::config::{ConnectionConfig, NameServerConfig, ResolverConfig};
use hickory_resolver::net::runtime::TokioRuntimeProvider;
use hickory_resolver::net::{DnsError, NetError};
use hickory_resolver::proto::op::ResponseCode;
use hickory_resolver::proto::rr::{Record, RecordType};
use hickory_resolver::{ResolverBuilder, TokioResolver};

use super::order::{transient, ResolveOptions};
use crate::error::{Error, Result};

/// What one query came to.
pub(super) enum Answer {
    /// Records of the asked type (and any CNAME the server put before them).
    Records(Vec<Record>),
    /// The name exists but has no record of that type (NODATA).
    NoData,
    /// The name does not exist (NXDOMAIN).
    NxDomain,
}

/// A resolver for routing.
#[derive(Clone)]
pub(super) struct Dns {
    resolver: TokioResolver,
}

/// `"ip:port"`, `"[v6]:port"` or a bare `"ip"` (port 53).
pub(crate) fn parse_nameserver(s: &str) -> Result<SocketAddr> {
    let s = s.trim();
    s.parse::<SocketAddr>()
        .or_else(|_| s.parse::<IpAddr>().map(|ip| SocketAddr::new(ip, 53)))
        .map_err(|_| Error::invalid_input(format!("nameserver {s:?} is not ip:port")))
}

/// A resolver builder for `nameservers` (`"ip:port"`, each over UDP and TCP), or for the
/// system's configuration when there are none — the one place the crate turns nameserver
/// strings into hickory configuration (routing and the trace analysis both use it).
pub(crate) fn builder(nameservers: Option<&[String]>) -> Result<ResolverBuilder<TokioRuntimeProvider>> {
    match nameservers {
        Some(list) if !list.is_empty() => {
            let mut servers = Vec::new();
            for s in list {
                let addr = parse_nameserver(s)?;
                let mut udp = ConnectionConfig::udp();
                udp.port = addr.port();
                let mut tcp = ConnectionConfig::tcp();
                tcp.port = addr.port();
                servers.push(NameServerConfig::new(addr.ip(), true, vec![udp, tcp]));
            }
            let config = ResolverConfig::from_parts(None, Vec::new(), servers);
            Ok(TokioResolver::builder_with_config(config, TokioRuntimeProvider::default()))
        }
        _ => TokioResolver::builder_tokio()
            .map_err(|e| transient(format!("cannot read the system DNS configuration: {e}"))),
    }
}

impl Dns {
    /// A resolver asking `opts.nameservers` (UDP, then TCP on truncation), or the system's.
    pub(super) fn new(opts: &ResolveOptions) -> Result<Dns> {
        let mut builder = builder(opts.nameservers.as_deref())?;
        let o = builder.options_mut();
        o.timeout = opts.query_timeout;
        o.attempts = 2;
        o.ndots = 0;
        // Routing reads each CNAME itself to report the chain; keep them in answers.
        o.preserve_intermediates = true;
        let resolver =
            builder.build().map_err(|e| transient(format!("cannot build the DNS resolver: {e}")))?;
        Ok(Dns { resolver })
    }

    /// Ask `rtype` for `name`. `Err` is a transient `dns` error (SERVFAIL, REFUSED, timeout,
    /// no server reachable).
    pub(super) async fn query(&self, name: &str, rtype: RecordType) -> Result<Answer> {
        let fqdn = format!("{}.", name.trim_end_matches('.'));
        match self.resolver.lookup(fqdn.as_str(), rtype).await {
            Ok(lookup) => Ok(Answer::Records(lookup.answers().to_vec())),
            Err(e) if e.is_nx_domain() => Ok(Answer::NxDomain),
            Err(e) if e.is_no_records_found() => Ok(Answer::NoData),
            Err(e) => Err(transient(format!("{rtype} {name}: {}", describe(&e)))),
        }
    }
}

/// A short reason for a failed query.
fn describe(e: &NetError) -> String {
    match e {
        NetError::Dns(DnsError::ResponseCode(ResponseCode::ServFail)) => "SERVFAIL".to_string(),
        NetError::Dns(DnsError::ResponseCode(code)) => format!("server answered {code}"),
        NetError::Timeout => "timed out".to_string(),
        other => other.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nameservers_take_ip_port_or_ip() {
        assert_eq!(parse_nameserver("127.0.0.1:5353").unwrap().port(), 5353);
        assert_eq!(parse_nameserver("[::1]:53").unwrap().ip(), "::1".parse::<IpAddr>().unwrap());
        assert_eq!(parse_nameserver("10.0.0.1").unwrap().port(), 53);
        assert!(parse_nameserver("dns.example:53").is_err());
    }
}
