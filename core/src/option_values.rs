//! Validation of option values given by users, which every front end needs the same way: the CLI,
//! the Python binding, and the Node and C bindings to come. Kept here so that "what is a valid
//! timeout" or "what is a relay network" has one answer.

use std::time::Duration;

use ipnet::IpNet;

use crate::error::{Error, Result};

/// A positive number of seconds as a `Duration`: NaN, infinities, zero, negatives and values a
/// `Duration` cannot hold are `invalid_input` (naming `what`), never a panic.
pub fn seconds(what: &str, secs: f64) -> Result<Duration> {
    match Duration::try_from_secs_f64(secs) {
        Ok(d) if secs.is_finite() && !d.is_zero() => Ok(d),
        _ => Err(Error::invalid_input(format!("{what} must be a positive number of seconds, got {secs}"))),
    }
}

/// A relay network: a CIDR (`192.0.2.0/24`, `2001:db8::/32`) or a single address (a /32 or /128).
pub fn network(s: &str) -> Result<IpNet> {
    s.parse::<IpNet>().or_else(|_| s.parse::<std::net::IpAddr>().map(IpNet::from)).map_err(|_| {
        Error::invalid_input(format!("relay network {s:?} is not a CIDR (e.g. \"192.0.2.0/24\")"))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seconds_accepts_positive_finite_values_only() {
        assert_eq!(seconds("t", 1.5).unwrap(), Duration::from_millis(1500));
        for bad in [0.0, -0.0, -1.0, 1e-12, 1e30, f64::MAX, f64::NAN, f64::INFINITY] {
            let e = seconds("timeout", bad).unwrap_err();
            assert_eq!(e.kind(), crate::ErrorKind::InvalidInput, "{bad}");
            assert!(e.message().starts_with("timeout must be"), "{}", e.message());
        }
    }

    #[test]
    fn network_takes_cidrs_and_single_addresses() {
        assert_eq!(network("10.0.0.0/8").unwrap().to_string(), "10.0.0.0/8");
        assert_eq!(network("192.0.2.7").unwrap().to_string(), "192.0.2.7/32");
        assert_eq!(network("::1").unwrap().to_string(), "::1/128");
        assert!(network("example.com").is_err());
        assert!(network("10.0.0.0/33").is_err());
    }
}
