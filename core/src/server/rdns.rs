//! Reverse-DNS names of clients for the Received line (optional: `reverse_dns`).

use std::net::IpAddr;
use std::time::Duration;

use hickory_resolver::proto::rr::RData;
use hickory_resolver::TokioResolver;

/// A shared resolver from the system configuration, or none when that cannot be read.
pub fn system_resolver() -> Option<TokioResolver> {
    TokioResolver::builder_tokio().ok()?.build().ok()
}

/// The PTR name of `ip` (without the trailing dot), or `None` on any failure within `limit`.
pub async fn lookup(resolver: &TokioResolver, ip: IpAddr, limit: Duration) -> Option<String> {
    let answer = tokio::time::timeout(limit, resolver.reverse_lookup(ip)).await.ok()?.ok()?;
    let name = answer.answers().iter().find_map(|r| match &r.data {
        RData::PTR(ptr) => Some(ptr.0.to_utf8()),
        _ => None,
    })?;
    Some(name.trim_end_matches('.').to_string())
}
