//! `postwire relay-check HOST[:PORT]`: run the open-relay checker and print a table of probes and
//! verdicts, the conclusion, and the transcripts of the probes that relayed (all of them with
//! `--transcripts`); `--json` prints the `RelayReport` instead.
//!
//! Exit codes: 0 not an open relay; 3 open relay; 4 inconclusive (only 4xx and errors);
//! 1 the check could not run (connect, DNS, refused banner); 2 bad arguments.

use std::io::Write;

use crate::client::TlsMode;
use crate::error::{Error, ErrorKind};
use crate::relay_check::{check_relay, RelayCheckOptions, RelayReport, Verdict, DEFAULT_PROBE_DOMAIN};

/// Arguments of `postwire relay-check`.
#[derive(Debug, clap::Args)]
pub struct RelayCheckArgs {
    /// The server: HOST, HOST:PORT or [IPv6]:PORT (port 25 by default).
    pub server: String,
    /// Print the report as JSON (the API's `RelayReport`).
    #[arg(long)]
    pub json: bool,
    /// Our EHLO name (default: this machine's host name).
    #[arg(long)]
    pub helo: Option<String>,
    /// The foreign domain the probes try to reach.
    #[arg(long, default_value = DEFAULT_PROBE_DOMAIN)]
    pub probe_domain: String,
    /// Seconds to wait for the connection and for each reply.
    #[arg(long, default_value_t = 30.0)]
    pub timeout: f64,
    /// Run only this probe (repeat for more); `--test list` prints the names.
    #[arg(long = "test")]
    pub tests: Vec<String>,
    /// After a relayed RCPT also send DATA with a short cookie body (off: no content is sent).
    #[arg(long)]
    pub data: bool,
    /// TLS: none, opportunistic (default), starttls.
    #[arg(long, default_value = "opportunistic")]
    pub tls: String,
    /// The address used in `[ip]` tricks (default: what HOST resolves to).
    #[arg(long)]
    pub server_ip: Option<std::net::IpAddr>,
    /// The domain the server receives mail for (default: from its banner name).
    #[arg(long)]
    pub internal_domain: Option<String>,
    /// Print every probe's transcript, not only those that relayed.
    #[arg(long)]
    pub transcripts: bool,
}

fn options(a: &RelayCheckArgs) -> crate::Result<RelayCheckOptions> {
    let (host, port) = super::send::split_server(&a.server).map_err(|_| {
        Error::invalid_input(format!("{:?}: expected HOST, HOST:PORT or [IPv6]:PORT", a.server))
    })?;
    let port = port.unwrap_or(crate::client::SMTP_PORT);
    let mut o = RelayCheckOptions::new(host, port);
    o.helo = a.helo.clone();
    o.probe_domain = a.probe_domain.clone();
    o.timeout = crate::option_values::seconds("--timeout", a.timeout)?;
    o.tests = a.tests.clone();
    o.send_data = a.data;
    o.tls = a.tls.parse()?;
    if o.tls == TlsMode::Implicit {
        return Err(Error::invalid_input("--tls implicit: relay checks speak plain SMTP or STARTTLS"));
    }
    o.server_ip = a.server_ip;
    o.internal_domain = a.internal_domain.clone();
    Ok(o)
}

/// The table, the conclusion and the transcripts, as a person reads them.
pub fn render(r: &RelayReport, all_transcripts: bool) -> String {
    let mut s = String::new();
    let width = r.results.iter().map(|t| t.name.len()).max().unwrap_or(5).max(5);
    s.push_str(&format!(
        "server {} — {} probes over {} connection(s)\n\n",
        r.server_name.as_deref().unwrap_or("(no name)"),
        r.results.len(),
        r.connections
    ));
    s.push_str(&format!("{:<width$}  {:<13}  {}\n", "probe", "verdict", "reply"));
    for t in &r.results {
        let reply = match (&t.reply, &t.error) {
            (Some(rep), _) => rep.one_line(),
            (None, Some(e)) => e.clone(),
            (None, None) => String::new(),
        };
        let verdict = if t.control { format!("{} (control)", t.verdict) } else { t.verdict.to_string() };
        s.push_str(&format!("{:<width$}  {:<13}  {}\n", t.name, verdict, reply));
    }
    let relay = r.results.iter().filter(|t| !t.control).count();
    s.push('\n');
    if r.open {
        s.push_str(&format!(
            "OPEN RELAY: {} of {relay} relay probes were accepted: {}\n",
            r.evidence.len(),
            r.evidence.join(", ")
        ));
    } else if r.inconclusive {
        s.push_str("inconclusive: only temporary refusals and errors\n");
    } else {
        s.push_str(&format!("not an open relay: 0 of {relay} relay probes accepted\n"));
    }
    for t in &r.results {
        if all_transcripts || (!t.control && t.verdict == Verdict::Relayed) {
            s.push_str(&format!("\n=== {}: MAIL FROM:{} RCPT TO:{}\n", t.name, t.mail_from, t.rcpt_to));
            for line in &t.transcript {
                s.push_str(line);
                s.push('\n');
            }
        }
    }
    s
}

/// Run `postwire relay-check`.
pub fn run(args: RelayCheckArgs) -> i32 {
    if args.tests.iter().any(|t| t == "list") {
        println!("{}", probe_names().join("\n"));
        return 0;
    }
    let opts = match options(&args) {
        Ok(o) => o,
        Err(e) => {
            eprintln!("postwire relay-check: {e}");
            return 2;
        }
    };
    let rt = match tokio::runtime::Builder::new_current_thread().enable_all().build() {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("postwire relay-check: cannot start the runtime: {e}");
            return 1;
        }
    };
    let mut out = std::io::stdout().lock();
    match rt.block_on(check_relay(&opts)) {
        Ok(r) => {
            let text = if args.json {
                serde_json::to_string_pretty(&r).unwrap_or_default() + "\n"
            } else {
                render(&r, args.transcripts)
            };
            let _ = out.write_all(text.as_bytes());
            if r.open {
                3
            } else if r.inconclusive {
                4
            } else {
                0
            }
        }
        Err(e) => {
            if args.json {
                let v = serde_json::json!({ "error": super::error_json(&e) });
                let _ = writeln!(out, "{}", serde_json::to_string_pretty(&v).unwrap_or_default());
            }
            eprintln!("postwire relay-check: {e}");
            if e.kind() == ErrorKind::InvalidInput {
                2
            } else {
                1
            }
        }
    }
}

/// Every probe name, for `--test list` (built for a placeholder server: the names do not depend
/// on it, only which duplicates collapse).
fn probe_names() -> Vec<String> {
    let ctx = crate::relay_check::ProbeContext {
        banner_name: Some("banner.invalid".into()),
        ehlo_name: Some("ehlo.invalid".into()),
        ip: std::net::IpAddr::V6(std::net::Ipv6Addr::new(0x2001, 0xdb8, 0, 0, 0, 0, 0, 1)),
        domain: DEFAULT_PROBE_DOMAIN.into(),
        from_user: "antispam".into(),
        to_user: "relaytest".into(),
        internal_domain: Some("internal.invalid".into()),
    };
    crate::relay_check::probes(&ctx).into_iter().map(|p| p.name).collect()
}
