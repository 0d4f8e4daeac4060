//! `postwire queue list|run|flush --spool DIR [--json]`: look at and deliver the durable queue
//! from the shell. `run` delivers what is due, `flush` everything now; both print a progress
//! line on a terminal and a summary at the end.
//!
//! Exit codes: 0 done; 1 the spool could not be read or written; 2 bad arguments.

use std::io::{IsTerminal, Write};
use std::path::PathBuf;
use std::time::Duration;

use crate::client::{ClientTimeouts, TlsMode};
use crate::delivery::DeliveryOptions;
use crate::error::{Error, ErrorKind, Result};
use crate::queue::{Queue, QueueEntry, QueueOptions, RetryPolicy};
use crate::route::ResolveOptions;

/// Arguments of `postwire queue`.
#[derive(Debug, clap::Args)]
pub struct QueueArgs {
    #[command(subcommand)]
    action: Action,
}

#[derive(Debug, clap::Subcommand)]
enum Action {
    /// Show every entry with its per-recipient state.
    List(Common),
    /// Deliver the entries that are due now, once.
    Run(Common),
    /// Deliver every entry now, due or not.
    Flush(Common),
}

/// Options every `queue` action takes (delivery ones only matter for run and flush).
#[derive(Debug, clap::Args)]
pub struct Common {
    /// The spool directory.
    #[arg(long)]
    pub spool: PathBuf,
    /// Print JSON.
    #[arg(long)]
    pub json: bool,
    /// DNS server as IP:PORT (repeatable); default: the system's.
    #[arg(long = "nameserver")]
    pub nameservers: Vec<String>,
    /// Relay everything through this host instead of routing by MX.
    #[arg(long)]
    pub smarthost: Option<String>,
    /// SMTP port of the exchangers (or of the smarthost).
    #[arg(long, default_value_t = 25)]
    pub port: u16,
    /// Deliver to loopback exchangers (tests).
    #[arg(long)]
    pub allow_loopback: bool,
    /// This host's name (EHLO, notices, own-MX detection).
    #[arg(long)]
    pub hostname: Option<String>,
    /// TLS: none, opportunistic (default), starttls.
    #[arg(long, default_value = "opportunistic")]
    pub tls: String,
    /// One timeout in seconds for every SMTP phase (default: RFC 5321's).
    #[arg(long)]
    pub timeout: Option<f64>,
    /// Seconds between retries, comma-separated, the last repeating (default 300,600,1200,2400,4200).
    #[arg(long)]
    pub retry: Option<String>,
    /// Seconds after which a deferred message is bounced (default 5 days).
    #[arg(long)]
    pub max_age: Option<f64>,
}

impl Common {
    /// The queue options these arguments describe.
    pub fn queue_options(&self) -> Result<QueueOptions> {
        let mut o = QueueOptions::default();
        if let Some(h) = &self.hostname {
            o.hostname = h.clone();
        }
        let tls: TlsMode = self.tls.parse()?;
        let mut d = DeliveryOptions {
            smarthost: self.smarthost.clone(),
            port: self.port,
            resolve: ResolveOptions {
                nameservers: (!self.nameservers.is_empty()).then(|| self.nameservers.clone()),
                ..Default::default()
            },
            allow_loopback: self.allow_loopback,
            tls,
            hello_name: Some(o.hostname.clone()),
            ..Default::default()
        };
        if let Some(t) = self.timeout {
            d.timeouts = ClientTimeouts::uniform(crate::option_values::seconds("--timeout", t)?);
        }
        o.delivery = d;
        if let Some(r) = &self.retry {
            let delays = r
                .split(',')
                .map(|s| {
                    let v: f64 = s
                        .trim()
                        .parse()
                        .map_err(|_| Error::invalid_input(format!("--retry: {s:?} is not a number")))?;
                    crate::option_values::seconds("--retry", v)
                })
                .collect::<Result<Vec<Duration>>>()?;
            o.retry = RetryPolicy { delays, ..o.retry };
        }
        if let Some(m) = self.max_age {
            o.retry.max_age = crate::option_values::seconds("--max-age", m)?;
        }
        Ok(o)
    }
}

fn ms_to_text(ms: u64) -> String {
    chrono::DateTime::from_timestamp_millis(ms as i64).map(|d| d.to_rfc3339()).unwrap_or_default()
}

fn print_list(out: &mut impl Write, entries: &[QueueEntry]) -> std::io::Result<()> {
    if entries.is_empty() {
        return writeln!(out, "queue is empty");
    }
    for e in entries {
        let from = if e.mail_from.is_empty() { "<>" } else { &e.mail_from };
        writeln!(
            out,
            "{}  {} bytes  from {from}  attempts {}  next try {}",
            e.id,
            e.size,
            e.attempts,
            ms_to_text(e.next_try_ms)
        )?;
        for r in &e.recipients {
            let reply = r
                .last_reply
                .as_ref()
                .map(|x| format!("  last: {} {}", x.code, x.text.replace('\n', " ")))
                .unwrap_or_default();
            writeln!(
                out,
                "    {:<9} {}  ({} attempts){reply}",
                format!("{:?}", r.status).to_lowercase(),
                r.rcpt,
                r.attempts
            )?;
        }
    }
    Ok(())
}

fn run_inner(a: QueueArgs) -> Result<i32> {
    let (common, action) = match &a.action {
        Action::List(c) => (c, "list"),
        Action::Run(c) => (c, "run"),
        Action::Flush(c) => (c, "flush"),
    };
    let opts = common.queue_options()?;
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .map_err(|e| Error::io(format!("cannot start the runtime: {e}")))?;
    let mut out = std::io::stdout().lock();
    if action == "list" {
        // Read-only: works beside a running `serve --queue` that holds the spool.
        let entries = crate::queue::Spool::snapshot(&common.spool)?;
        let w = if common.json {
            writeln!(out, "{}", serde_json::to_string_pretty(&entries).unwrap_or_default())
        } else {
            print_list(&mut out, &entries)
        };
        w.map_err(|e| Error::io(e.to_string()))?;
        return Ok(0);
    }
    let queue = Queue::open(&common.spool, opts)?;
    let tty = std::io::stderr().is_terminal() && !common.json;
    let progress = move |done: usize, total: usize| {
        if tty {
            eprint!("\r{action}: {done}/{total} entries attempted");
            let _ = std::io::stderr().flush();
        }
    };
    let stats = rt.block_on(queue.run(action == "flush", &progress))?;
    if tty {
        eprintln!();
    }
    let left = queue.list()?.len();
    let w = if common.json {
        let mut v = serde_json::to_value(stats).unwrap_or_default();
        if let Some(o) = v.as_object_mut() {
            o.insert("remaining".into(), left.into());
        }
        writeln!(out, "{}", serde_json::to_string_pretty(&v).unwrap_or_default())
    } else {
        writeln!(
            out,
            "{action}: {} entries, {} recipients delivered, {} deferred, {} bounced, {} notices queued; {left} entries left",
            stats.entries, stats.delivered, stats.deferred, stats.failed, stats.notices
        )
    };
    w.map_err(|e| Error::io(e.to_string()))?;
    Ok(0)
}

/// Run `postwire queue …`; returns the exit code.
pub fn run(a: QueueArgs) -> i32 {
    match run_inner(a) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("postwire queue: {e}");
            if e.kind() == ErrorKind::InvalidInput {
                2
            } else {
                1
            }
        }
    }
}
