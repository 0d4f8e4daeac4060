//! Who may open a session: the per-client-address connection cap (`max_connections_per_ip`,
//! Postfix's anvil `smtpd_client_connection_count_limit`), and the rate limit on logging accept
//! failures. Plain data structures, no I/O: the accept loop asks, and the answer is a slot that
//! gives itself back when the session ends.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use ipnet::IpNet;

/// Sessions open per client address.
#[derive(Debug)]
pub(crate) struct PerIp {
    limit: usize,
    exempt: Vec<IpNet>,
    open: Mutex<HashMap<IpAddr, usize>>,
}

/// One counted session; the count goes down when it is dropped.
#[derive(Debug)]
pub(crate) struct Slot {
    table: Arc<PerIp>,
    key: IpAddr,
}

impl PerIp {
    /// `limit` sessions per address (0 = no limit); clients in `exempt` are not counted.
    pub fn new(limit: usize, exempt: Vec<IpNet>) -> Arc<PerIp> {
        Arc::new(PerIp { limit, exempt, open: Mutex::new(HashMap::new()) })
    }

    /// A slot for a session from `ip`, `Ok(None)` when the address is not counted, `Err(())`
    /// when it already holds `limit` sessions.
    pub fn admit(self: &Arc<Self>, ip: IpAddr) -> Result<Option<Slot>, ()> {
        let ip = canonical(ip);
        if self.limit == 0 || self.exempt.iter().any(|n| n.contains(&ip)) {
            return Ok(None);
        }
        let key = key(ip);
        let mut open = self.open.lock().unwrap_or_else(|p| p.into_inner());
        let n = open.entry(key).or_insert(0);
        if *n >= self.limit {
            return Err(());
        }
        *n += 1;
        Ok(Some(Slot { table: Arc::clone(self), key }))
    }

    #[cfg(test)]
    fn count(&self, ip: IpAddr) -> usize {
        self.open.lock().unwrap().get(&key(canonical(ip))).copied().unwrap_or(0)
    }
}

impl Drop for Slot {
    fn drop(&mut self) {
        let mut open = self.table.open.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(n) = open.get_mut(&self.key) {
            *n -= 1;
            if *n == 0 {
                open.remove(&self.key);
            }
        }
    }
}

/// An IPv4-mapped IPv6 peer counts as its IPv4 address.
fn canonical(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map(IpAddr::V4).unwrap_or(ip),
        v4 => v4,
    }
}

/// What is counted: an IPv4 address, or an IPv6 client's /64 (one subscriber usually holds a
/// whole /64, so counting single IPv6 addresses would count nothing).
fn key(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V6(v6) => IpAddr::V6((u128::from(v6) & !((1u128 << 64) - 1)).into()),
        v4 => v4,
    }
}

/// Accept failures (EMFILE, ENFILE …) come back as fast as the loop retries: log the first, then
/// at most one line a second that says how many were not logged.
#[derive(Debug, Default)]
pub(crate) struct AcceptErrors {
    last: Option<Instant>,
    unlogged: u64,
}

impl AcceptErrors {
    /// Count one failure at `now`; `Some(n)` when it is to be logged, with `n` failures not
    /// logged since the last line.
    pub fn note(&mut self, now: Instant) -> Option<u64> {
        if self.last.is_some_and(|l| now.duration_since(l) < Duration::from_secs(1)) {
            self.unlogged += 1;
            return None;
        }
        self.last = Some(now);
        Some(std::mem::take(&mut self.unlogged))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn per_address_cap_counts_and_gives_back() {
        let t = PerIp::new(2, vec!["10.0.0.0/8".parse().unwrap()]);
        let a: IpAddr = "192.0.2.1".parse().unwrap();
        let s1 = t.admit(a).unwrap();
        let s2 = t.admit(a).unwrap();
        assert!(t.admit(a).is_err(), "third session from one address");
        assert!(t.admit("::ffff:192.0.2.1".parse().unwrap()).is_err(), "mapped IPv4 is the same client");
        assert!(t.admit("192.0.2.2".parse().unwrap()).unwrap().is_some(), "another address");
        drop(s1);
        assert_eq!(t.count(a), 1);
        assert!(t.admit(a).unwrap().is_some());
        drop(s2);
        // Exempt networks are not counted at all.
        for _ in 0..5 {
            assert!(t.admit("10.1.2.3".parse().unwrap()).unwrap().is_none());
        }
        // IPv6 counts by /64.
        let _x = t.admit("2001:db8::1".parse().unwrap()).unwrap();
        let _y = t.admit("2001:db8::ffff:2".parse().unwrap()).unwrap();
        assert!(t.admit("2001:db8::3".parse().unwrap()).is_err());
        assert!(t.admit("2001:db8:0:1::1".parse().unwrap()).is_ok());
        assert!(PerIp::new(0, vec![]).admit(a).unwrap().is_none(), "0 = no limit");
    }

    #[test]
    fn accept_errors_are_logged_at_most_once_a_second_with_a_count() {
        let mut e = AcceptErrors::default();
        let t0 = Instant::now();
        assert_eq!(e.note(t0), Some(0));
        let mut logged = 0;
        for i in 1..=50 {
            if e.note(t0 + Duration::from_millis(i * 19)).is_some() {
                logged += 1;
            }
        }
        assert_eq!(logged, 0, "50 failures within 0.95 s: none logged");
        assert_eq!(e.note(t0 + Duration::from_millis(1000)), Some(50));
        assert_eq!(e.note(t0 + Duration::from_millis(1001)), None);
    }
}
