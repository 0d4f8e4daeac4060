//! The relay policy: is this recipient ours, and if not, may this client relay?
//!
//! A recipient is *local* when its domain is in `local_domains` (case-insensitive, a trailing dot
//! ignored; an address literal such as `[192.0.2.1]` only when listed as such) and its local part
//! carries no sender-specified routing. Everything else is relaying, allowed only for clients in
//! `relay_networks` or authenticated ones (with `relay_authenticated`). This is what holds against
//! the address tricks of nmap's smtp-open-relay script:
//!
//! | trick | example | why it is refused |
//! |---|---|---|
//! | percent hack | `victim%remote.example@local` | routing character in the local part |
//! | bang path | `remote.example!victim@local` | routing character in the local part |
//! | quoted @ | `"victim@remote.example"@local` | routing character in the local part |
//! | source route | `<@local:victim@remote.example>` | the route is ignored; the mailbox is remote |
//! | double @ | `victim@remote.example@local` | a syntax error before policy (501) |
//! | IP literal of the server | `victim@[127.0.0.1]` | literals are not local unless listed |

use std::net::IpAddr;

use ipnet::IpNet;

use crate::proto::{Domain, Path, Reply};

/// The inputs of a relay decision that do not change during a session.
#[derive(Debug, Clone)]
pub struct RelayPolicy {
    local_domains: Vec<String>,
    relay_networks: Vec<IpNet>,
    relay_authenticated: bool,
}

/// Why a recipient was accepted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RcptClass {
    /// For one of our local domains (or `<Postmaster>`).
    Local,
    /// For elsewhere, and this client may relay.
    Relay,
}

impl RelayPolicy {
    /// Build from the server options (domains lower-cased once here).
    pub fn new(local_domains: &[String], relay_networks: &[IpNet], relay_authenticated: bool) -> Self {
        RelayPolicy {
            local_domains: local_domains.iter().map(|d| normalise(d)).collect(),
            relay_networks: relay_networks.to_vec(),
            relay_authenticated,
        }
    }

    /// True when `domain` is one of ours.
    pub fn is_local_domain(&self, domain: &Domain) -> bool {
        let d = normalise(&domain.to_lowercase_string());
        self.local_domains.contains(&d)
    }

    /// May a client at `ip` (authenticated or not) relay?
    pub fn may_relay(&self, ip: IpAddr, authenticated: bool) -> bool {
        let ip = canonical_ip(ip);
        (authenticated && self.relay_authenticated) || self.relay_networks.iter().any(|n| n.contains(&ip))
    }

    /// Decide on one RCPT path: `Ok(class)` to accept, `Err(reply)` to refuse.
    pub fn check(&self, path: &Path, ip: IpAddr, authenticated: bool) -> Result<RcptClass, Reply> {
        if path.postmaster {
            return Ok(RcptClass::Local);
        }
        let Some(mailbox) = &path.mailbox else {
            return Err(Reply::new(501, "Null recipient not allowed", Some("5.1.3")));
        };
        if self.is_local_domain(&mailbox.domain) && !mailbox.has_routing_chars() {
            return Ok(RcptClass::Local);
        }
        if self.may_relay(ip, authenticated) {
            return Ok(RcptClass::Relay);
        }
        Err(relay_denied())
    }
}

/// The reply every refused relay attempt gets.
pub fn relay_denied() -> Reply {
    Reply::new(550, "Relaying denied", Some("5.7.1"))
}

fn normalise(d: &str) -> String {
    d.trim_end_matches('.').to_ascii_lowercase()
}

/// An IPv4-mapped IPv6 peer (`::ffff:127.0.0.1`, from a dual-stack listener) is matched as IPv4.
fn canonical_ip(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map(IpAddr::V4).unwrap_or(ip),
        v4 => v4,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::proto::{address::parse_path, ParseOptions};

    fn policy(nets: &[&str]) -> RelayPolicy {
        RelayPolicy::new(
            &["example.test".to_string(), "[192.0.2.10]".to_string()],
            &nets.iter().map(|n| n.parse().unwrap()).collect::<Vec<_>>(),
            true,
        )
    }

    fn check(p: &RelayPolicy, addr: &str, ip: &str, auth: bool) -> Result<RcptClass, u16> {
        let (path, _) = parse_path(addr, &ParseOptions::default()).map_err(|_| 501u16)?;
        p.check(&path, ip.parse().unwrap(), auth).map_err(|r| r.code)
    }

    #[test]
    fn local_domain_accepted_case_insensitively() {
        let p = policy(&[]);
        assert_eq!(check(&p, "<bob@example.test>", "203.0.113.5", false), Ok(RcptClass::Local));
        assert_eq!(check(&p, "<bob@EXAMPLE.Test>", "203.0.113.5", false), Ok(RcptClass::Local));
        assert_eq!(check(&p, "<Postmaster>", "203.0.113.5", false), Ok(RcptClass::Local));
    }

    #[test]
    fn nmap_relay_tricks_are_refused_for_strangers() {
        let p = policy(&[]);
        let stranger = "203.0.113.5";
        for addr in [
            "<victim@remote.example>",
            "<victim%remote.example@example.test>",
            "<remote.example!victim@example.test>",
            "<\"victim@remote.example\"@example.test>",
            "<@example.test:victim@remote.example>",
            "<victim@[127.0.0.1]>",
            "<victim@[IPv6:::1]>",
            "<victim@example.test.remote.example>",
            "<victim@sub.example.test>",
        ] {
            assert_eq!(check(&p, addr, stranger, false), Err(550), "{addr} must be refused");
        }
        // Double @ does not even parse.
        assert_eq!(check(&p, "<victim@remote.example@example.test>", stranger, false), Err(501));
    }

    #[test]
    fn listed_literal_is_local() {
        let p = policy(&[]);
        assert_eq!(check(&p, "<bob@[192.0.2.10]>", "203.0.113.5", false), Ok(RcptClass::Local));
    }

    #[test]
    fn trusted_networks_and_authenticated_clients_may_relay() {
        let p = policy(&["10.0.0.0/8", "::1/128"]);
        assert_eq!(check(&p, "<x@remote.example>", "10.1.2.3", false), Ok(RcptClass::Relay));
        assert_eq!(check(&p, "<x@remote.example>", "::1", false), Ok(RcptClass::Relay));
        assert_eq!(check(&p, "<x@remote.example>", "::ffff:10.1.2.3", false), Ok(RcptClass::Relay));
        assert_eq!(check(&p, "<x@remote.example>", "11.1.2.3", false), Err(550));
        assert_eq!(check(&p, "<x@remote.example>", "11.1.2.3", true), Ok(RcptClass::Relay));
        let no_auth_relay = RelayPolicy::new(&[], &[], false);
        assert_eq!(check(&no_auth_relay, "<x@remote.example>", "11.1.2.3", true), Err(550));
    }
}
