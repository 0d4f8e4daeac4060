//! [`resolve_mx`]: domain → [`Route`], as RFC 5321 §5.1 describes — follow the domain's CNAME
//! chain (reported, loops detected, length capped), ask MX at the canonical name, order the
//! exchangers (`order.rs`), resolve each to A and AAAA (an exchange that is a CNAME is followed
//! and flagged), fall back to the domain's own address when there is no MX (implicit MX), and
//! recognise the null MX. Every query, answer and skipped candidate goes into the explanation.

use std::collections::HashSet;
use std::net::IpAddr;

use hickory_resolver::proto::rr::{RData, RecordType};
use rand::rngs::StdRng;
use rand::SeedableRng;

use super::dns::{Answer, Dns};
use super::order::{order_hosts, permanent, transient, ResolveOptions};
use super::types::{MxHost, Route, Step, StepKind};
use crate::error::{Error, Result};

/// A resolver for routes, reusable across domains (its DNS cache is shared).
#[derive(Clone)]
pub struct MxResolver {
    dns: Dns,
    opts: ResolveOptions,
}

impl std::fmt::Debug for MxResolver {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MxResolver").field("opts", &self.opts).finish_non_exhaustive()
    }
}

/// Resolve the route for `domain` asking `nameservers` (`"ip:port"`; `None`: the system's).
///
/// Errors are kind `dns` with a reply saying whether a retry may help (see the module docs of
/// `route`), or `invalid_input` for a malformed domain or nameserver.
pub async fn resolve_mx(domain: &str, nameservers: Option<&[String]>) -> Result<Route> {
    let opts = ResolveOptions { nameservers: nameservers.map(<[String]>::to_vec), ..Default::default() };
    MxResolver::new(opts)?.resolve(domain).await
}

/// Lower-case, no trailing dot; refuse what cannot be a domain.
fn normalise(domain: &str) -> Result<String> {
    let d = domain.trim().trim_end_matches('.').to_ascii_lowercase();
    let ok = !d.is_empty()
        && d.len() <= 253
        && d.split('.').all(|l| {
            !l.is_empty()
                && l.len() <= 63
                && l.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
        });
    if ok {
        Ok(d)
    } else {
        Err(Error::invalid_input(format!("{domain:?} is not a domain name")))
    }
}

fn name_of(n: &hickory_resolver::proto::rr::Name) -> String {
    n.to_ascii().trim_end_matches('.').to_ascii_lowercase()
}

impl MxResolver {
    /// A resolver with `opts` (nameservers, own host, seed, limits).
    pub fn new(opts: ResolveOptions) -> Result<MxResolver> {
        Ok(MxResolver { dns: Dns::new(&opts)?, opts })
    }

    /// The options this resolver was made with.
    pub fn options(&self) -> &ResolveOptions {
        &self.opts
    }

    /// The route for `domain`, its explanation inside.
    pub async fn resolve(&self, domain: &str) -> Result<Route> {
        self.resolve_explained(domain).await.0
    }

    /// The route for `domain` and, also when it failed, the steps taken (`postwire mx` shows
    /// them either way).
    pub async fn resolve_explained(&self, domain: &str) -> (Result<Route>, Vec<Step>) {
        let mut steps = Vec::new();
        let r = self.run(domain, &mut steps).await;
        match r {
            Ok(mut route) => {
                route.explanation = steps.clone();
                (Ok(route), steps)
            }
            Err(e) => {
                steps.push(Step::new(StepKind::Note, format!("failed: {}", e.message())));
                (Err(e), steps)
            }
        }
    }

    async fn run(&self, domain: &str, steps: &mut Vec<Step>) -> Result<Route> {
        if let Some(literal) = domain.strip_prefix('[').and_then(|d| d.strip_suffix(']')) {
            return address_literal(domain, literal, steps);
        }
        let domain = normalise(domain)?;
        let (canonical, cname_chain) = self.follow_chain(&domain, steps).await?;

        steps.push(Step::new(StepKind::Query, format!("MX {canonical}")));
        let mx: Vec<(u16, String)> = match self.dns.query(&canonical, RecordType::MX).await {
            Err(e) => return Err(self.noted(e, steps)),
            Ok(Answer::NxDomain) => {
                steps.push(Step::new(StepKind::Answer, "NXDOMAIN"));
                return Err(permanent(format!("{canonical}: no such domain (NXDOMAIN)")));
            }
            Ok(Answer::NoData) => Vec::new(),
            Ok(Answer::Records(records)) => records
                .iter()
                .filter_map(|r| match &r.data {
                    RData::MX(mx) => Some((mx.preference, name_of(&mx.exchange))),
                    _ => None,
                })
                .collect(),
        };
        let mut route = Route {
            domain: domain.clone(),
            canonical: canonical.clone(),
            cname_chain,
            hosts: Vec::new(),
            implicit: false,
            null_mx: false,
            explanation: Vec::new(),
        };
        if mx.is_empty() {
            steps.push(Step::new(StepKind::Answer, "no MX records"));
            steps.push(Step::new(
                StepKind::Note,
                format!("implicit MX: {canonical} itself, preference 0 (RFC 5321 §5.1)"),
            ));
            route.implicit = true;
            let (addresses, cname, failure) = self.addresses(&canonical, steps).await;
            if addresses.is_empty() {
                return Err(failure
                    .unwrap_or_else(|| permanent(format!("{domain} has neither MX nor address records"))));
            }
            route.hosts.push(MxHost { preference: 0, exchange: canonical, addresses, cname });
            return Ok(route);
        }
        for (p, n) in &mx {
            steps.push(Step::new(StepKind::Answer, format!("MX {p} {}", if n.is_empty() { "." } else { n })));
        }
        if mx.len() == 1 && mx[0].1.is_empty() {
            steps.push(Step::new(StepKind::Note, "null MX (RFC 7505): the domain accepts no mail"));
            route.null_mx = true;
            return Ok(route);
        }

        let own_names: HashSet<String> =
            self.opts.own_hostnames.iter().map(|n| n.trim_end_matches('.').to_ascii_lowercase()).collect();
        let mut rng = match self.opts.seed {
            Some(s) => StdRng::seed_from_u64(s),
            None => StdRng::from_entropy(),
        };
        let mx = mx.into_iter().map(|(p, n)| (p, if n.is_empty() { ".".to_string() } else { n })).collect();
        let ordered = order_hosts(&domain, mx, &|n| own_names.contains(n), &mut rng, steps)?;

        let mut transient_failure = None;
        let mut own_pref: Option<u16> = None;
        for (i, (pref, exchange)) in ordered.into_iter().enumerate() {
            if own_pref.is_some_and(|p| pref >= p) {
                steps.push(Step::new(
                    StepKind::Skip,
                    format!("MX {pref} {exchange}: no better than this host"),
                ));
                continue;
            }
            if i >= self.opts.max_hosts {
                steps.push(Step::new(
                    StepKind::Skip,
                    format!("MX {pref} {exchange}: past the limit of {} hosts", self.opts.max_hosts),
                ));
                continue;
            }
            let (addresses, cname, failure) = self.addresses(&exchange, steps).await;
            if addresses.iter().any(|a| self.opts.own_addresses.contains(a)) {
                steps.push(Step::new(
                    StepKind::Skip,
                    format!("MX {pref} {exchange}: an address of this host"),
                ));
                own_pref = Some(pref);
                route.hosts.retain(|h| h.preference < pref);
                continue;
            }
            if addresses.is_empty() {
                steps.push(Step::new(StepKind::Skip, format!("MX {pref} {exchange}: no address")));
                if failure.as_ref().is_some_and(|e| e.reply().is_some_and(|r| r.is_transient())) {
                    transient_failure = failure;
                }
                continue;
            }
            route.hosts.push(MxHost { preference: pref, exchange, addresses, cname });
        }
        if route.hosts.is_empty() {
            if own_pref.is_some() {
                return Err(super::order::loops_back(&domain));
            }
            return Err(transient_failure
                .unwrap_or_else(|| permanent(format!("no MX host of {domain} has an address"))));
        }
        Ok(route)
    }

    /// Follow the CNAME chain from `domain`: (canonical name, names after `domain`).
    async fn follow_chain(&self, domain: &str, steps: &mut Vec<Step>) -> Result<(String, Vec<String>)> {
        let mut name = domain.to_string();
        let mut chain = Vec::new();
        let mut seen = HashSet::from([name.clone()]);
        loop {
            steps.push(Step::new(StepKind::Query, format!("CNAME {name}")));
            let target = match self.dns.query(&name, RecordType::CNAME).await {
                Err(e) => return Err(self.noted(e, steps)),
                Ok(Answer::NxDomain) => {
                    steps.push(Step::new(StepKind::Answer, "NXDOMAIN"));
                    return Err(permanent(format!("{name}: no such domain (NXDOMAIN)")));
                }
                Ok(Answer::NoData) => None,
                Ok(Answer::Records(records)) => records.iter().find_map(|r| match &r.data {
                    RData::CNAME(c) if name_of(&r.name) == name => Some(name_of(&c.0)),
                    _ => None,
                }),
            };
            let Some(target) = target else {
                steps.push(Step::new(StepKind::Answer, format!("{name} is canonical (no CNAME)")));
                return Ok((name, chain));
            };
            steps.push(Step::new(StepKind::Answer, format!("{name} CNAME {target}")));
            if !seen.insert(target.clone()) {
                return Err(transient(format!(
                    "CNAME loop: {domain} → {} → {target}",
                    chain_text(&chain, domain)
                )));
            }
            chain.push(target.clone());
            if chain.len() > self.opts.max_cname_chain {
                return Err(transient(format!(
                    "CNAME chain from {domain} longer than {} names",
                    self.opts.max_cname_chain
                )));
            }
            name = target;
        }
    }

    /// A and AAAA of `host`: (addresses, the CNAME it pointed to if any, why there are none).
    async fn addresses(
        &self,
        host: &str,
        steps: &mut Vec<Step>,
    ) -> (Vec<IpAddr>, Option<String>, Option<Error>) {
        let mut out = Vec::new();
        let mut cname = None;
        let mut failure = None;
        for rtype in [RecordType::A, RecordType::AAAA] {
            steps.push(Step::new(StepKind::Query, format!("{rtype} {host}")));
            match self.dns.query(host, rtype).await {
                Err(e) => {
                    steps.push(Step::new(StepKind::Answer, e.message().to_string()));
                    failure = Some(e);
                }
                Ok(Answer::NxDomain) => {
                    steps.push(Step::new(StepKind::Answer, "NXDOMAIN"));
                    failure.get_or_insert_with(|| permanent(format!("{host}: no such host")));
                }
                Ok(Answer::NoData) => steps.push(Step::new(StepKind::Answer, format!("no {rtype} records"))),
                Ok(Answer::Records(records)) => {
                    let before = out.len();
                    for r in &records {
                        match &r.data {
                            RData::A(a) => out.push(IpAddr::V4(a.0)),
                            RData::AAAA(a) => out.push(IpAddr::V6(a.0)),
                            RData::CNAME(c) if cname.is_none() => {
                                let target = name_of(&c.0);
                                steps.push(Step::new(
                                    StepKind::Note,
                                    format!("{host} is a CNAME for {target}: tolerated, though RFC 5321 §5.1 forbids it"),
                                ));
                                cname = Some(target);
                            }
                            _ => {}
                        }
                    }
                    let shown: Vec<String> = out[before..].iter().map(|a| a.to_string()).collect();
                    steps.push(Step::new(StepKind::Answer, format!("{rtype} {host}: {}", shown.join(", "))));
                }
            }
        }
        out.dedup();
        (out, cname, failure)
    }

    fn noted(&self, e: Error, steps: &mut Vec<Step>) -> Error {
        steps.push(Step::new(StepKind::Answer, e.message().to_string()));
        e
    }
}

fn chain_text(chain: &[String], domain: &str) -> String {
    if chain.is_empty() {
        domain.to_string()
    } else {
        chain.join(" → ")
    }
}

/// `[192.0.2.1]` / `[IPv6:2001:db8::1]`: the address itself, no DNS (RFC 5321 §4.1.3).
fn address_literal(domain: &str, literal: &str, steps: &mut Vec<Step>) -> Result<Route> {
    let text = literal.strip_prefix("IPv6:").or_else(|| literal.strip_prefix("ipv6:")).unwrap_or(literal);
    let ip: IpAddr =
        text.parse().map_err(|_| Error::invalid_input(format!("{domain:?} is not an address literal")))?;
    steps.push(Step::new(StepKind::Note, format!("address literal: deliver to {ip} without DNS")));
    Ok(Route {
        domain: domain.to_string(),
        canonical: domain.to_string(),
        cname_chain: Vec::new(),
        hosts: vec![MxHost { preference: 0, exchange: ip.to_string(), addresses: vec![ip], cname: None }],
        implicit: true,
        null_mx: false,
        explanation: steps.clone(),
    })
}
