//! This machine's host name, read once through the `gethostname` crate (no `unsafe` of our own):
//! the server's default `hostname` and the client's default EHLO name both start from it.
//!
//! RFC 5321 §4.1.4 wants the client's EHLO to carry its fully qualified domain name, or an
//! address literal when it has none; a bare short name (`EHLO vm`) is refused by servers that
//! check (Postfix's `reject_non_fqdn_helo_hostname`: `504 5.5.2`). [`fqdn`] finds the name the
//! way `hostname -f` does for the files source of the system resolver: the kernel's name when it
//! is already qualified, else the first qualified name `/etc/hosts` gives for it. It does not ask
//! DNS: that query would sit in front of every connection (and hang for the resolver's timeout on
//! a machine without one), and the address literal the client falls back to is what the RFC asks
//! for a host without a name.

use std::net::{IpAddr, SocketAddr};
use std::sync::OnceLock;

/// The host name the kernel reports, when it is a non-empty printable ASCII name.
pub fn system_hostname() -> Option<String> {
    let name = gethostname::gethostname().into_string().ok()?;
    let usable = !name.is_empty() && name.bytes().all(|b| b.is_ascii_graphic());
    usable.then_some(name)
}

/// This machine's fully qualified domain name (see the module doc), looked up once per process;
/// `None` when it has none.
pub fn fqdn() -> Option<String> {
    static FQDN: OnceLock<Option<String>> = OnceLock::new();
    FQDN.get_or_init(|| {
        let name = system_hostname()?;
        let hosts = std::fs::read_to_string("/etc/hosts").unwrap_or_default();
        fqdn_from(&name, &hosts)
    })
    .clone()
}

/// The fully qualified name for host `name` given the text of an `/etc/hosts` file: `name`
/// itself when qualified, else the first qualified name on a line that lists `name`.
pub fn fqdn_from(name: &str, hosts: &str) -> Option<String> {
    let name = name.trim_end_matches('.');
    if is_fqdn(name) {
        return Some(name.to_string());
    }
    for line in hosts.lines() {
        let line = line.split('#').next().unwrap_or("");
        let mut fields = line.split_whitespace();
        if fields.next().and_then(|a| a.parse::<IpAddr>().ok()).is_none() {
            continue;
        }
        let names: Vec<&str> = fields.collect();
        if names.iter().any(|n| n.eq_ignore_ascii_case(name)) {
            if let Some(full) = names.iter().map(|n| n.trim_end_matches('.')).find(|n| is_fqdn(n)) {
                return Some(full.to_string());
            }
        }
    }
    None
}

/// A domain name with at least two labels of letters, digits and hyphens that is not a
/// `localhost` name (`localhost.localdomain` says nothing about who we are).
fn is_fqdn(name: &str) -> bool {
    let labels: Vec<&str> = name.split('.').collect();
    labels.len() >= 2
        && !labels[0].eq_ignore_ascii_case("localhost")
        && labels.iter().all(|l| {
            (1..=63).contains(&l.len())
                && l.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
                && !l.starts_with('-')
                && !l.ends_with('-')
        })
        // The top label of a domain is never all digits: `10.0.0.1` is an address.
        && labels.last().is_some_and(|l| !l.bytes().all(|b| b.is_ascii_digit()))
}

/// The RFC 5321 §4.1.3 address literal of `addr`: `[192.0.2.1]`, `[IPv6:2001:db8::1]` (an
/// IPv4-mapped IPv6 address is written as the IPv4 address it is).
pub fn address_literal(addr: SocketAddr) -> String {
    match addr.ip().to_canonical() {
        IpAddr::V4(v4) => format!("[{v4}]"),
        IpAddr::V6(v6) => format!("[IPv6:{v6}]"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn host_name_is_printable_when_present() {
        if let Some(n) = super::system_hostname() {
            assert!(n.bytes().all(|b| b.is_ascii_graphic()), "{n:?}");
        }
    }

    #[test]
    fn fqdn_from_the_name_or_the_hosts_file() {
        let debian = "127.0.0.1\tlocalhost\n127.0.1.1\tvm.example.org vm\n::1 localhost ip6-localhost\n";
        assert_eq!(fqdn_from("vm", debian).as_deref(), Some("vm.example.org"));
        assert_eq!(fqdn_from("VM", debian).as_deref(), Some("vm.example.org"));
        assert_eq!(fqdn_from("mail.example.net", "").as_deref(), Some("mail.example.net"));
        assert_eq!(fqdn_from("mail.example.net.", "").as_deref(), Some("mail.example.net"));
        // A hosts file that names the host only by its short name (this very machine's).
        assert_eq!(fqdn_from("vm", "127.0.0.1 localhost\n127.0.0.1 runsc\n127.0.0.1 vm\n"), None);
        // Alias first, qualified name later on the line; comments ignored.
        let hosts = "# 10.0.0.9 vm.wrong.example vm\n10.0.0.8 vm mx.example.com # vm.comment.example\n";
        assert_eq!(fqdn_from("vm", hosts).as_deref(), Some("mx.example.com"));
        assert_eq!(fqdn_from("vm", "127.0.0.1 localhost.localdomain vm\n"), None);
        assert_eq!(fqdn_from("other", debian), None);
        assert_eq!(fqdn_from("10.0.0.1", ""), None);
        assert_eq!(fqdn_from("bad_name.example", ""), None);
    }

    #[test]
    fn address_literals() {
        let lit = |s: &str| address_literal(s.parse().expect("socket address"));
        assert_eq!(lit("127.0.0.1:4000"), "[127.0.0.1]");
        assert_eq!(lit("[::1]:25"), "[IPv6:::1]");
        assert_eq!(lit("[2001:db8::5]:25"), "[IPv6:2001:db8::5]");
        assert_eq!(lit("[::ffff:192.0.2.7]:25"), "[192.0.2.7]");
    }
}
