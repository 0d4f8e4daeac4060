//! `postwire analyze FILE|-`: the `Received:` trace of a message as a hop table (hop, from, by,
//! protocol, TLS, delay — the columns of Google's Messageheader), then the findings; `--json`
//! prints the `TraceAnalysis` instead.
//!
//! Exit codes: 0 nothing suspicious; 3 suspicious; 2 bad arguments or an unreadable file;
//! 1 the DNS step could not start.

use std::io::{Read, Write};

use crate::error::ErrorKind;
use crate::trace::{analyze_received, TraceAnalysis, TraceOptions};

/// Arguments of `postwire analyze`.
#[derive(Debug, clap::Args)]
pub struct AnalyzeArgs {
    /// The message (or only its header): a file, or `-` for standard input.
    pub file: String,
    /// A host whose Received lines you trust (your MX, your domain, a CIDR); repeat for more.
    #[arg(long = "trusted")]
    pub trusted: Vec<String>,
    /// Check forward-confirmed reverse DNS of every client address.
    #[arg(long)]
    pub resolve: bool,
    /// DNS server for --resolve as IP:PORT; repeat for more (default: the system's).
    #[arg(long = "nameserver")]
    pub nameservers: Vec<String>,
    /// Print the analysis as JSON (the API's `TraceAnalysis`).
    #[arg(long)]
    pub json: bool,
}

fn read_input(file: &str) -> std::io::Result<Vec<u8>> {
    let mut buf = Vec::new();
    if file == "-" {
        std::io::stdin().lock().read_to_end(&mut buf)?;
    } else {
        buf = std::fs::read(file)?;
    }
    Ok(buf)
}

fn cell(s: Option<&str>) -> String {
    s.filter(|s| !s.is_empty()).unwrap_or("-").to_string()
}

fn delay(d: Option<f64>) -> String {
    match d {
        None => "-".into(),
        Some(d) if d.abs() < 120.0 => format!("{d:.0}s"),
        Some(d) if d.abs() < 7200.0 => format!("{:.1}m", d / 60.0),
        Some(d) => format!("{:.1}h", d / 3600.0),
    }
}

/// The hop table and the findings, as a person reads them.
pub fn render(a: &TraceAnalysis) -> String {
    let rows: Vec<[String; 7]> = a
        .hops
        .iter()
        .enumerate()
        .map(|(i, h)| {
            let mut from = cell(h.from_helo.as_deref());
            if let Some(r) = h.from_rdns.as_deref().filter(|r| Some(*r) != h.from_helo.as_deref()) {
                from.push_str(&format!(" ({r})"));
            }
            if let Some(ip) = h.from_ip {
                from.push_str(&format!(" [{ip}]"));
            }
            [
                i.to_string(),
                from,
                cell(h.by_host.as_deref()),
                cell(h.with_protocol.as_deref()),
                if h.tls { "yes".into() } else { "no".into() },
                delay(h.delay),
                cell(h.date.as_deref()),
            ]
        })
        .collect();
    let head = ["hop", "from", "by", "with", "TLS", "delay", "date"];
    let mut widths: Vec<usize> = head.iter().map(|h| h.len()).collect();
    for r in &rows {
        for (w, c) in widths.iter_mut().zip(r.iter()) {
            *w = (*w).max(c.chars().count());
        }
    }
    let line = |cells: Vec<&str>| {
        let mut s = String::new();
        for (i, (c, w)) in cells.iter().zip(&widths).enumerate() {
            if i + 1 == cells.len() {
                s.push_str(c);
            } else {
                s.push_str(&format!("{c:<w$}  "));
            }
        }
        s.trim_end().to_string() + "\n"
    };
    let mut s = format!("{} hop(s), oldest first\n\n", a.hops.len());
    s.push_str(&line(head.to_vec()));
    for r in &rows {
        s.push_str(&line(r.iter().map(String::as_str).collect()));
    }
    s.push('\n');
    if a.findings.is_empty() {
        s.push_str("no findings\n");
    } else {
        s.push_str("findings:\n");
        for f in &a.findings {
            let hop = f.hop.map(|h| format!("hop {h}")).unwrap_or_else(|| "trace".into());
            s.push_str(&format!("  [{}] {hop}: {}: {}\n", f.severity.as_str(), f.kind, f.detail));
            if !f.evidence.is_empty() {
                s.push_str(&format!("      {}\n", f.evidence.join("; ")));
            }
        }
    }
    for (i, h) in a.hops.iter().enumerate() {
        if !h.defects.is_empty() {
            s.push_str(&format!("  hop {i} line defects: {}\n", h.defects.join(", ")));
        }
    }
    s.push_str(if a.suspicious { "\nsuspicious: yes\n" } else { "\nsuspicious: no\n" });
    s
}

/// Run `postwire analyze`.
pub fn run(args: AnalyzeArgs) -> i32 {
    let message = match read_input(&args.file) {
        Ok(m) => m,
        Err(e) => {
            eprintln!("postwire analyze: {}: {e}", args.file);
            return 2;
        }
    };
    let opts = TraceOptions {
        trusted_hosts: args.trusted.clone(),
        resolve: args.resolve,
        nameservers: (!args.nameservers.is_empty()).then(|| args.nameservers.clone()),
        now: None,
    };
    let rt = match tokio::runtime::Builder::new_current_thread().enable_all().build() {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("postwire analyze: cannot start the runtime: {e}");
            return 1;
        }
    };
    match rt.block_on(analyze_received(&message, &opts)) {
        Ok(a) => {
            let text = if args.json {
                serde_json::to_string_pretty(&a).unwrap_or_default() + "\n"
            } else {
                render(&a)
            };
            let mut out = std::io::stdout().lock();
            let _ = out.write_all(text.as_bytes());
            if a.suspicious {
                3
            } else {
                0
            }
        }
        Err(e) => {
            eprintln!("postwire analyze: {e}");
            if e.kind() == ErrorKind::InvalidInput {
                2
            } else {
                1
            }
        }
    }
}
