//! The routing rules that need no network: MX ordering (RFC 5321 §5.1: by preference, equal
//! preferences in random order, seedable so tests can see every order), the null MX (RFC 7505),
//! dropping our own host and every worse preference (§5.1: "the SMTP client MUST ... discard"
//! them, so mail never loops back to us), and the replies routing failures carry.

use std::net::IpAddr;
use std::time::Duration;

use rand::rngs::StdRng;
use rand::seq::SliceRandom;

use super::types::{Step, StepKind};
use crate::error::{Error, ErrorKind, Result};
use crate::proto::Reply;

/// How [`super::resolve_mx`] resolves.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ResolveOptions {
    /// DNS servers as `"ip:port"` (`"ip"` means port 53); `None` uses the system's
    /// configuration (`/etc/resolv.conf`).
    pub nameservers: Option<Vec<String>>,
    /// Names of this host: an MX naming one of them, and every worse preference, is dropped.
    pub own_hostnames: Vec<String>,
    /// Addresses of this host, used the same way as `own_hostnames`.
    pub own_addresses: Vec<IpAddr>,
    /// Seed for shuffling equal preferences (`None`: a fresh random order each time).
    pub seed: Option<u64>,
    /// Longest CNAME chain followed before giving up (default 8).
    pub max_cname_chain: usize,
    /// Most MX hosts whose addresses are looked up (default 16); the rest are skipped.
    pub max_hosts: usize,
    /// Time allowed for one DNS query (default 5 s; two attempts are made).
    pub query_timeout: Duration,
}

impl Default for ResolveOptions {
    fn default() -> Self {
        ResolveOptions {
            nameservers: None,
            own_hostnames: Vec::new(),
            own_addresses: Vec::new(),
            seed: None,
            max_cname_chain: 8,
            max_hosts: 16,
            query_timeout: Duration::from_secs(5),
        }
    }
}

impl ResolveOptions {
    /// Options asking the given `"ip:port"` servers.
    pub fn with_nameservers(nameservers: Vec<String>) -> Self {
        ResolveOptions { nameservers: Some(nameservers), ..Default::default() }
    }
}

/// The reply a null MX means for every recipient of the domain (RFC 7505 §3: 556 5.1.10).
pub fn null_mx_reply(domain: &str) -> Reply {
    Reply::new(
        556,
        &format!("Recipient address rejected: {domain} does not accept mail (null MX)"),
        Some("5.1.10"),
    )
}

/// A `dns` error whose synthesised reply says whether retrying may help.
pub(super) fn dns_error(code: u16, enhanced: &str, text: String) -> Error {
    Error::new(ErrorKind::Dns, text.clone()).with_reply(Reply::new(code, &text, Some(enhanced)))
}

/// Permanent: the name does not exist (RFC 3463 X.1.2 bad destination system address).
pub(super) fn permanent(text: String) -> Error {
    dns_error(550, "5.1.2", text)
}

/// Transient: the DNS could not answer now (RFC 3463 X.4.3 directory server failure).
pub(super) fn transient(text: String) -> Error {
    dns_error(451, "4.4.3", text)
}

/// Mail for `domain` would come back here (RFC 3463 X.4.6 routing loop): permanent, as
/// Postfix bounces it.
pub(super) fn loops_back(domain: &str) -> Error {
    let text = format!("mail for {domain} loops back to myself");
    Error::new(ErrorKind::Dns, text.clone()).with_reply(Reply::new(554, &text, Some("5.4.6")))
}

/// Sort MX candidates by preference, shuffle equal preferences with `rng`, drop null-MX
/// entries found among real ones, and drop our own host with every worse preference.
///
/// Errors: mail for the domain loops back to us (our own host was the best MX): permanent, as
/// Postfix bounces it (RFC 3463 X.4.6 routing loop).
pub fn order_hosts(
    domain: &str,
    mut mx: Vec<(u16, String)>,
    own: &dyn Fn(&str) -> bool,
    rng: &mut StdRng,
    steps: &mut Vec<Step>,
) -> Result<Vec<(u16, String)>> {
    mx.retain(|(pref, name)| {
        let null = name.is_empty() || name == ".";
        if null {
            steps.push(Step::new(
                StepKind::Skip,
                format!("MX {pref} . among other MX records: a null MX must stand alone (RFC 7505), ignored"),
            ));
        }
        !null
    });
    mx.sort_by_key(|(pref, _)| *pref);
    // Shuffle each run of equal preferences (RFC 5321 §5.1: spread the load).
    let mut i = 0;
    while i < mx.len() {
        let j = mx[i..].iter().position(|(p, _)| *p != mx[i].0).map_or(mx.len(), |k| i + k);
        if j - i > 1 {
            mx[i..j].shuffle(rng);
            steps.push(Step::new(
                StepKind::Note,
                format!("{} hosts share preference {}: tried in random order", j - i, mx[i].0),
            ));
        }
        i = j;
    }
    if let Some(own_pref) = mx.iter().find(|(_, name)| own(name)).map(|(p, _)| *p) {
        let (kept, dropped): (Vec<_>, Vec<_>) = mx.into_iter().partition(|(p, _)| *p < own_pref);
        for (p, name) in &dropped {
            let why = if own(name) { "is this host" } else { "is no better than this host" };
            steps.push(Step::new(StepKind::Skip, format!("MX {p} {name}: {why} (RFC 5321 §5.1)")));
        }
        if kept.is_empty() {
            return Err(loops_back(domain));
        }
        mx = kept;
    }
    Ok(mx)
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;

    fn names(v: &[(u16, String)]) -> Vec<&str> {
        v.iter().map(|(_, n)| n.as_str()).collect()
    }

    fn mx(list: &[(u16, &str)]) -> Vec<(u16, String)> {
        list.iter().map(|(p, n)| (*p, n.to_string())).collect()
    }

    #[test]
    fn sorted_by_preference_and_equal_ones_in_every_order_over_seeds() {
        let input = mx(&[(20, "d"), (10, "a"), (10, "b"), (10, "c"), (5, "z")]);
        let mut seen = std::collections::HashSet::new();
        for seed in 0..200 {
            let mut rng = StdRng::seed_from_u64(seed);
            let out = order_hosts("x", input.clone(), &|_| false, &mut rng, &mut Vec::new()).unwrap();
            let n = names(&out);
            assert_eq!(n[0], "z");
            assert_eq!(n[4], "d");
            seen.insert(n[1..4].join(""));
        }
        assert_eq!(seen.len(), 6, "every order of a, b, c: {seen:?}");
        // The same seed gives the same order.
        let run = |s| {
            order_hosts("x", input.clone(), &|_| false, &mut StdRng::seed_from_u64(s), &mut Vec::new())
                .unwrap()
        };
        assert_eq!(run(7), run(7));
    }

    #[test]
    fn own_host_and_every_worse_preference_are_dropped() {
        let input = mx(&[(10, "a"), (20, "me"), (20, "b"), (30, "c")]);
        let mut steps = Vec::new();
        let out = order_hosts("x", input, &|n| n == "me", &mut StdRng::seed_from_u64(1), &mut steps).unwrap();
        assert_eq!(names(&out), ["a"]);
        assert_eq!(steps.iter().filter(|s| s.kind == StepKind::Skip).count(), 3, "{steps:?}");
        let e = order_hosts(
            "x",
            mx(&[(10, "me"), (20, "b")]),
            &|n| n == "me",
            &mut StdRng::seed_from_u64(1),
            &mut steps,
        )
        .unwrap_err();
        assert_eq!(e.kind(), ErrorKind::Dns);
        assert!(e.message().contains("loops back to myself"), "{e}");
        assert_eq!(e.reply().map(|r| r.code), Some(554));
    }

    #[test]
    fn a_null_mx_among_real_ones_is_ignored() {
        let out = order_hosts(
            "x",
            mx(&[(0, "."), (10, "a")]),
            &|_| false,
            &mut StdRng::seed_from_u64(1),
            &mut Vec::new(),
        )
        .unwrap();
        assert_eq!(names(&out), ["a"]);
        let r = null_mx_reply("nullmx.test");
        assert_eq!((r.code, r.enhanced.as_deref()), (556, Some("5.1.10")));
    }
}
