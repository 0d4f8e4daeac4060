//! `postwire mx DOMAIN [--nameserver IP:PORT] [--json]`: the route mail for DOMAIN takes, and the
//! explanation of how it was found (also when resolution failed).
//!
//! Exit codes: 0 a route (a null MX is a route: "accepts no mail"); 1 resolution failed (`dns`);
//! 2 bad arguments.

use std::io::Write;

use super::error_json;
use crate::error::ErrorKind;
use crate::route::{MxResolver, ResolveOptions, Route, Step};

/// Arguments of `postwire mx`.
#[derive(Debug, clap::Args)]
pub struct MxArgs {
    /// The domain to route (the part after `@`).
    pub domain: String,
    /// DNS server as IP:PORT (repeatable); default: the system's resolv.conf.
    #[arg(long = "nameserver")]
    pub nameservers: Vec<String>,
    /// This host's name: an MX naming it, and every worse preference, is dropped.
    #[arg(long = "own-hostname")]
    pub own_hostnames: Vec<String>,
    /// Seed for the order of equal preferences (reproducible output).
    #[arg(long)]
    pub seed: Option<u64>,
    /// Print the route (or the error) and the explanation as JSON.
    #[arg(long)]
    pub json: bool,
}

fn print_route(out: &mut impl Write, r: &Route) -> std::io::Result<()> {
    writeln!(out, "route for {}", r.domain)?;
    if !r.cname_chain.is_empty() {
        writeln!(out, "  CNAME chain: {} → {}", r.domain, r.cname_chain.join(" → "))?;
    }
    if r.null_mx {
        writeln!(out, "  null MX: {} accepts no mail (556 5.1.10)", r.domain)?;
    }
    if r.implicit {
        writeln!(out, "  no MX: implicit MX, the domain's own address")?;
    }
    for h in &r.hosts {
        let addrs: Vec<String> = h.addresses.iter().map(|a| a.to_string()).collect();
        let cname = h.cname.as_deref().map(|c| format!("  (a CNAME for {c})")).unwrap_or_default();
        writeln!(out, "  {:>5} {} [{}]{cname}", h.preference, h.exchange, addrs.join(", "))?;
    }
    Ok(())
}

fn print_steps(out: &mut impl Write, steps: &[Step]) -> std::io::Result<()> {
    writeln!(out, "explanation:")?;
    for s in steps {
        writeln!(out, "  {s}")?;
    }
    Ok(())
}

/// Run `postwire mx`; returns the exit code.
pub fn run(a: MxArgs) -> i32 {
    let opts = ResolveOptions {
        nameservers: (!a.nameservers.is_empty()).then(|| a.nameservers.clone()),
        own_hostnames: a.own_hostnames.clone(),
        seed: a.seed,
        ..Default::default()
    };
    let rt = match tokio::runtime::Builder::new_current_thread().enable_all().build() {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("postwire mx: cannot start the runtime: {e}");
            return 1;
        }
    };
    let (result, steps) = rt.block_on(async {
        match MxResolver::new(opts) {
            Ok(r) => r.resolve_explained(&a.domain).await,
            Err(e) => (Err(e), Vec::new()),
        }
    });
    let code = match &result {
        Ok(_) => 0,
        Err(e) if e.kind() == ErrorKind::InvalidInput => 2,
        Err(_) => 1,
    };
    let mut out = std::io::stdout().lock();
    let written = if a.json {
        let v = match &result {
            Ok(route) => serde_json::to_value(route).unwrap_or_default(),
            Err(e) => serde_json::json!({ "error": error_json(e), "explanation": steps }),
        };
        writeln!(out, "{}", serde_json::to_string_pretty(&v).unwrap_or_default())
    } else {
        match &result {
            Ok(route) => print_route(&mut out, route).and_then(|()| print_steps(&mut out, &steps)),
            Err(e) => {
                eprintln!("postwire mx: {e}");
                print_steps(&mut out, &steps)
            }
        }
    };
    if written.is_err() {
        return 1;
    }
    code
}
