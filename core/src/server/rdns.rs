//! Reverse-DNS names of clients for the Received line (optional: `reverse_dns`).

use std::net::IpAddr;
use std::time::Duration;

use hickory_resolver::TokioAsyncResolver;

/// A shared resolver from the system configuration, or none when that cannot be read.
pub fn system_resolver() -> Option<TokioAsyncResolver> {
    TokioAsyncResolver::tokio_from_system_conf().ok()
}

/// The PTR name of `ip` (without the trailing dot), or `None` on any failure within `limit`.
pub async fn lookup(resolver: &TokioAsyncResolver, ip: IpAddr, limit: Duration) -> Option<String> {
    let answer = tokio::time::timeout(limit, resolver.reverse_lookup(ip)).await.ok()?.ok()?;
    let name = answer.iter().next()?.to_utf8();
    Some(name.trim_end_matches('.').to_string())
}
