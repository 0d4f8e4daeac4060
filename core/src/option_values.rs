//! Validation of option values given by users, which every front end needs the same way: the CLI,
//! the Python binding, and the Node and C bindings to come. Kept here so that "what is a valid
//! timeout" or "what is a relay network" has one answer.
//!
//! [`de`] holds the same rules as `serde` field deserializers: the option types
//! (`ServerOptions`, `ClientOptions`) derive `Deserialize` with them, so a binding turns a host
//! dict or object into options (see `host::options`) with the core's defaults and checks.

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

/// A `Duration` as float seconds both ways (`#[serde(with = "crate::option_values::secs")]`):
/// positive and finite when read (see [`seconds`]).
pub mod secs {
    use std::time::Duration;

    use serde::{Deserializer, Serializer};

    /// As float seconds.
    pub fn serialize<S: Serializer>(d: &Duration, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_f64(d.as_secs_f64())
    }

    /// From float seconds, validated.
    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Duration, D::Error> {
        super::de::seconds(d)
    }
}

/// `serde` deserializers for option fields, in the host's terms: durations as float seconds,
/// networks as CIDR strings, `None`/`null` where the API gives it a meaning.
pub mod de {
    use std::collections::HashMap;
    use std::fmt;
    use std::sync::Arc;
    use std::time::Duration;

    use ipnet::IpNet;
    use serde::de::{Deserialize, Deserializer, Error as _, MapAccess, Visitor};

    use crate::proto::BareLinePolicy;
    use crate::server::{Authenticator, Delivery, StaticCredentials};

    /// A positive number of seconds (see [`super::seconds`]).
    pub fn seconds<'de, D: Deserializer<'de>>(d: D) -> Result<Duration, D::Error> {
        let secs = f64::deserialize(d)?;
        super::seconds("a timeout", secs).map_err(|e| D::Error::custom(e.message()))
    }

    /// A list of CIDRs or single addresses (see [`super::network`]).
    pub fn networks<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<IpNet>, D::Error> {
        let v = Option::<Vec<String>>::deserialize(d)?.unwrap_or_default();
        v.iter().map(|n| super::network(n).map_err(|e| D::Error::custom(e.message()))).collect()
    }

    /// A size limit in bytes; `null` (the API's `None`) is no limit, stored as 0.
    pub fn size_limit<'de, D: Deserializer<'de>>(d: D) -> Result<u64, D::Error> {
        Ok(Option::<u64>::deserialize(d)?.unwrap_or(0))
    }

    /// The server's host name; `null` is the machine's name (the default).
    pub fn hostname<'de, D: Deserializer<'de>>(d: D) -> Result<String, D::Error> {
        Ok(Option::<String>::deserialize(d)?
            .unwrap_or_else(|| crate::hostname::system_hostname().unwrap_or_else(|| "localhost".into())))
    }

    /// `"maildir:PATH"`, `"discard"`, `"none"` or `null` (see [`Delivery::parse`]).
    pub fn delivery<'de, D: Deserializer<'de>>(d: D) -> Result<Delivery, D::Error> {
        match Option::<String>::deserialize(d)? {
            None => Ok(Delivery::None),
            Some(s) => Delivery::parse(&s).map_err(|e| D::Error::custom(e.message())),
        }
    }

    /// `auth` given as a `{user: password}` map: a [`StaticCredentials`] checker. A host
    /// callable is not a value: the binding sets it itself (see `host::dispatch`).
    pub fn credentials<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Arc<dyn Authenticator>>, D::Error> {
        Ok(Option::<HashMap<String, String>>::deserialize(d)?
            .map(|users| Arc::new(StaticCredentials(users)) as Arc<dyn Authenticator>))
    }

    /// A value given by its text (`"starttls"` for a `TlsMode`), parsed with its `FromStr`.
    pub fn from_str<'de, D, T>(d: D) -> Result<T, D::Error>
    where
        D: Deserializer<'de>,
        T: std::str::FromStr<Err = crate::Error>,
    {
        String::deserialize(d)?.parse().map_err(|e: crate::Error| D::Error::custom(e.message()))
    }

    /// `"reject"` or `"normalize"` (see [`BareLinePolicy`]).
    pub fn bare_line_policy<'de, D: Deserializer<'de>>(d: D) -> Result<BareLinePolicy, D::Error> {
        match String::deserialize(d)?.to_ascii_lowercase().as_str() {
            "reject" => Ok(BareLinePolicy::Reject),
            "normalize" | "normalise" => Ok(BareLinePolicy::Normalize),
            other => {
                Err(D::Error::custom(format!("bare_line_policy {other:?}: expected reject or normalize")))
            }
        }
    }

    /// Timeouts that one number sets all at once (`ServerTimeouts::uniform`).
    pub trait Uniform: Sized {
        /// Every phase set to `d`.
        fn uniform(d: Duration) -> Self;
    }

    impl Uniform for crate::client::ClientTimeouts {
        fn uniform(d: Duration) -> Self {
            crate::client::ClientTimeouts::uniform(d)
        }
    }

    impl Uniform for crate::server::ServerTimeouts {
        fn uniform(d: Duration) -> Self {
            crate::server::ServerTimeouts::uniform(d)
        }
    }

    /// A `timeouts` option: one number of seconds for every phase, or a map of phase → seconds
    /// (phases left out keep their defaults, unknown phases are refused); `null` is the defaults.
    pub fn timeouts<'de, D, T>(d: D) -> Result<T, D::Error>
    where
        D: Deserializer<'de>,
        T: Uniform + Default + Deserialize<'de>,
    {
        struct V<T>(std::marker::PhantomData<T>);
        impl<'de, T: Uniform + Default + Deserialize<'de>> Visitor<'de> for V<T> {
            type Value = T;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a number of seconds or a map of phase to seconds")
            }
            fn visit_f64<E: serde::de::Error>(self, v: f64) -> Result<T, E> {
                super::seconds("timeouts", v).map(T::uniform).map_err(|e| E::custom(e.message()))
            }
            fn visit_u64<E: serde::de::Error>(self, v: u64) -> Result<T, E> {
                self.visit_f64(v as f64)
            }
            fn visit_i64<E: serde::de::Error>(self, v: i64) -> Result<T, E> {
                self.visit_f64(v as f64)
            }
            fn visit_unit<E: serde::de::Error>(self) -> Result<T, E> {
                Ok(T::default())
            }
            fn visit_none<E: serde::de::Error>(self) -> Result<T, E> {
                Ok(T::default())
            }
            fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<T, A::Error> {
                T::deserialize(serde::de::value::MapAccessDeserializer::new(map))
            }
        }
        d.deserialize_any(V(std::marker::PhantomData))
    }
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
