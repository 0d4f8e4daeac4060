//! Comparing the names and addresses that `Received:` lines give: are two host names the same
//! host or the same organisation (registrable domain through the Public Suffix List, the `psl`
//! crate, whose list is regenerated and released continuously), is an address private, is a host
//! one of the caller's trusted ones. Pure functions; the findings decide what a difference means.

use std::net::IpAddr;

use ipnet::IpNet;

/// A host name in comparable form: lower case, no trailing dot, no surrounding brackets.
pub fn normalise(name: &str) -> String {
    name.trim().trim_end_matches('.').trim_start_matches('[').trim_end_matches(']').to_ascii_lowercase()
}

/// The address in a name when the name is an address (`192.0.2.1`, `[192.0.2.1]`,
/// `[IPv6:2001:db8::1]`, `2001:db8::1`, `fe80::1%eth0` — a zone id is dropped).
pub fn as_ip(name: &str) -> Option<IpAddr> {
    let n = name.trim().trim_start_matches('[').trim_end_matches(']');
    let n = n.strip_prefix("IPv6:").or_else(|| n.strip_prefix("ipv6:")).unwrap_or(n);
    let n = n.split('%').next().unwrap_or(n);
    n.parse().ok()
}

/// The registrable domain (`mail.example.co.uk` → `example.co.uk`), or `None` for addresses,
/// single labels and bare public suffixes.
pub fn registrable_domain(name: &str) -> Option<String> {
    let n = normalise(name);
    if as_ip(&n).is_some() || !n.contains('.') {
        return None;
    }
    let d = psl::domain_str(&n)?;
    Some(d.to_string())
}

/// How two host names relate, strongest first.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum NameMatch {
    /// Nothing in common.
    None,
    /// Same first label where one side is unqualified (`EXCH01` vs `exch01.corp.example`).
    Label,
    /// Same registrable domain (`mx1.example.com` vs `out.example.com`).
    Organisation,
    /// The same name, or the same address.
    Same,
}

/// Compare two host names (or address literals).
pub fn compare(a: &str, b: &str) -> NameMatch {
    let (na, nb) = (normalise(a), normalise(b));
    if na.is_empty() || nb.is_empty() {
        return NameMatch::None;
    }
    if na == nb {
        return NameMatch::Same;
    }
    if let (Some(x), Some(y)) = (as_ip(&na), as_ip(&nb)) {
        return if x == y { NameMatch::Same } else { NameMatch::None };
    }
    if let (Some(x), Some(y)) = (registrable_domain(&na), registrable_domain(&nb)) {
        if x == y {
            return NameMatch::Organisation;
        }
    }
    let unqualified = !na.contains('.') || !nb.contains('.');
    if unqualified && as_ip(&na).is_none() && as_ip(&nb).is_none() {
        let first = |s: &str| s.split('.').next().unwrap_or("").to_string();
        if first(&na) == first(&nb) {
            return NameMatch::Label;
        }
    }
    NameMatch::None
}

/// True for addresses that never travel on the public Internet: RFC 1918, CGNAT (RFC 6598),
/// loopback, link-local, unique-local (fc00::/7), unspecified, documentation ranges excluded.
pub fn is_private(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => {
            let o = v4.octets();
            v4.is_private()
                || v4.is_loopback()
                || v4.is_link_local()
                || v4.is_unspecified()
                || (o[0] == 100 && (64..128).contains(&o[1]))
        }
        IpAddr::V6(v6) => {
            if let Some(v4) = v6.to_ipv4_mapped() {
                return is_private(IpAddr::V4(v4));
            }
            let s = v6.segments();
            v6.is_loopback() || v6.is_unspecified() || (s[0] & 0xfe00) == 0xfc00 || (s[0] & 0xffc0) == 0xfe80
        }
    }
}

/// True when `host` (a `by` name or address) is one of `trusted`: the same name, a name under a
/// trusted domain (`mx1.example.com` under `example.com`), or an address in a trusted CIDR.
pub fn is_trusted(host: &str, trusted: &[String]) -> bool {
    let h = normalise(host);
    if h.is_empty() {
        return false;
    }
    let ip = as_ip(&h);
    trusted.iter().any(|t| {
        let t = normalise(t);
        if t.is_empty() {
            return false;
        }
        if let (Some(ip), Ok(net)) = (ip, t.parse::<IpNet>()) {
            return net.contains(&ip);
        }
        if let (Some(ip), Some(tip)) = (ip, as_ip(&t)) {
            return ip == tip;
        }
        h == t || h.ends_with(&format!(".{t}"))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn comparisons() {
        assert_eq!(compare("MX.Example.com.", "mx.example.com"), NameMatch::Same);
        assert_eq!(compare("mx1.example.co.uk", "out.example.co.uk"), NameMatch::Organisation);
        assert_eq!(compare("a.example.co.uk", "b.other.co.uk"), NameMatch::None);
        assert_eq!(compare("[192.0.2.1]", "192.0.2.1"), NameMatch::Same);
        assert_eq!(compare("[IPv6:2001:db8::1]", "2001:db8::1"), NameMatch::Same);
        assert_eq!(compare("EXCH01", "exch01.corp.example"), NameMatch::Label);
        assert_eq!(compare("", "x"), NameMatch::None);
        assert_eq!(registrable_domain("co.uk"), None);
        assert_eq!(registrable_domain("mail-sor-f41.google.com").as_deref(), Some("google.com"));
    }

    #[test]
    fn private_and_trusted() {
        for p in ["10.1.2.3", "192.168.0.1", "172.16.5.5", "100.64.0.1", "127.0.0.1", "fd00::1", "fe80::1"] {
            assert!(is_private(p.parse().unwrap()), "{p}");
        }
        for p in ["192.0.2.1", "8.8.8.8", "2001:db8::1", "2a00:1450::1"] {
            assert!(!is_private(p.parse().unwrap()), "{p}");
        }
        let t = vec!["example.com".to_string(), "10.0.0.0/8".to_string()];
        assert!(is_trusted("mx1.example.com", &t));
        assert!(is_trusted("example.com.", &t));
        assert!(!is_trusted("badexample.com", &t));
        assert!(is_trusted("[10.2.3.4]", &t));
        assert!(!is_trusted("11.0.0.1", &t));
    }
}
