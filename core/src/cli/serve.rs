//! `postwire serve`: run the SMTP server from the shell.
//!
//! Prints `postwire: listening on ADDR` on stdout once bound (scripts wait for that line) and
//! stops gracefully on SIGINT/SIGTERM. Nothing written to stdout or stderr may fail the server:
//! a closed pipe is ignored (see `cli::logging`).

use std::collections::HashMap;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;

use std::io::Write;

use crate::server::{Delivery, MaildirLayout, Server, ServerOptions, ServerTimeouts, StaticCredentials};

/// Arguments of `postwire serve`.
#[derive(Debug, clap::Args)]
pub struct ServeArgs {
    /// Address to listen on (repeatable).
    #[arg(long, default_value = "127.0.0.1:2525")]
    listen: Vec<SocketAddr>,
    /// Our host name (banner, EHLO, Received "by").
    #[arg(long)]
    hostname: Option<String>,
    /// A domain we accept mail for (repeatable).
    #[arg(long = "local-domain")]
    local_domains: Vec<String>,
    /// Store accepted mail in this Maildir (or say --queue or --discard: a server that answers
    /// 250 must keep what it accepted, so one of the three is required).
    #[arg(long, conflicts_with_all = ["discard", "queue"], required_unless_present_any = ["discard", "queue"])]
    maildir: Option<PathBuf>,
    /// Accept and drop every message (benchmarks).
    #[arg(long, conflicts_with = "queue")]
    discard: bool,
    /// Store and forward: accept into the durable queue with this spool directory (250 once
    /// fsynced) and relay by MX, or through --queue-smarthost.
    #[arg(long, value_name = "DIR")]
    queue: Option<PathBuf>,
    /// Queue mode: relay everything through HOST[:PORT] instead of routing by MX.
    #[arg(long, value_name = "HOST[:PORT]", requires = "queue")]
    queue_smarthost: Option<String>,
    /// Queue mode: SMTP port of the exchangers (and of a smarthost given without one).
    #[arg(long, requires = "queue")]
    queue_port: Option<u16>,
    /// Queue mode: DNS server as IP:PORT (repeatable); default the system's.
    #[arg(long = "nameserver", value_name = "IP:PORT", requires = "queue")]
    nameservers: Vec<String>,
    /// Queue mode: deliver to exchangers on loopback addresses (tests).
    #[arg(long, requires = "queue")]
    allow_loopback: bool,
    /// Queue mode: deliver recipients of --local-domain and --hostname into this Maildir.
    #[arg(long, value_name = "DIR", requires = "queue")]
    local_maildir: Option<PathBuf>,
    /// Queue mode: seconds between retries, comma-separated, the last repeating (default
    /// 300,600,1200,2400,4200).
    #[arg(long, value_name = "SECS,...", requires = "queue")]
    retry: Option<String>,
    /// Queue mode: seconds after which a deferred message is bounced (default 5 days).
    #[arg(long, value_name = "SECS", requires = "queue")]
    max_age: Option<f64>,
    /// Maildir layout: `shared` (one file per message, listing every recipient), `per-recipient`
    /// (one copy per recipient in DIR/{domain}/{user}), or a template such as
    /// `{domain}/{user}/Maildir`.
    #[arg(long, default_value = "shared", value_parser = parse_layout, requires = "maildir")]
    maildir_layout: MaildirLayout,
    /// A network allowed to relay, as CIDR (repeatable).
    #[arg(long = "relay-network", value_parser = parse_network)]
    relay_networks: Vec<ipnet::IpNet>,
    /// PEM certificate chain for STARTTLS.
    #[arg(long, requires = "tls_key")]
    tls_cert: Option<PathBuf>,
    /// PEM private key for STARTTLS.
    #[arg(long, requires = "tls_cert")]
    tls_key: Option<PathBuf>,
    /// Largest message in bytes (SIZE).
    #[arg(long)]
    max_message_size: Option<u64>,
    /// Most recipients per message.
    #[arg(long)]
    max_recipients: Option<usize>,
    /// Most simultaneous sessions.
    #[arg(long)]
    max_connections: Option<usize>,
    /// Most simultaneous sessions from one client address (default 20; 0 = no limit; loopback
    /// and relay networks are not counted).
    #[arg(long)]
    max_connections_per_ip: Option<usize>,
    /// Least average rate of message content, bytes per second, beyond the data timeout
    /// (default 500, as Postfix's smtpd_min_data_rate; 0 = none).
    #[arg(long)]
    min_data_rate: Option<u64>,
    /// NOOP/RSET/VRFY/EXPN/HELP allowed between two messages (default 100; 0 = unlimited).
    #[arg(long)]
    max_junk_commands: Option<usize>,
    /// Advertise DSN and accept its parameters (only with something that sends the notices).
    #[arg(long)]
    dsn: bool,
    /// Seconds to wait for a command or data (RFC 5321: 300).
    #[arg(long)]
    timeout: Option<f64>,
    /// A user allowed to AUTH, as user:password (repeatable).
    #[arg(long = "auth-user")]
    auth_users: Vec<String>,
    /// Offer AUTH without TLS.
    #[arg(long)]
    allow_insecure_auth: bool,
    /// Answer VRFY.
    #[arg(long)]
    allow_vrfy: bool,
    /// Answer EXPN.
    #[arg(long)]
    allow_expn: bool,
    /// Conformance mode: no leniency for real-world client quirks.
    #[arg(long)]
    strict: bool,
    /// Look up clients' reverse-DNS names for the Received line.
    #[arg(long)]
    reverse_dns: bool,
    /// Log as JSON lines.
    #[arg(long)]
    json_log: bool,
    /// Log only warnings and errors.
    #[arg(long)]
    quiet: bool,
    /// Worker threads: 1 runs every session on one thread (least overhead, like smtp-sink's
    /// single process); 0 means one per CPU core.
    #[arg(long, default_value_t = 0)]
    threads: usize,
}

fn parse_layout(s: &str) -> Result<MaildirLayout, String> {
    MaildirLayout::parse(s).map_err(|e| e.message().to_string())
}

/// Say something on stderr; a closed stderr is no reason to fail (or panic, as `eprintln!`
/// would).
fn complain(msg: std::fmt::Arguments<'_>) {
    let _ = writeln!(std::io::stderr(), "postwire serve: {msg}");
}

fn parse_network(s: &str) -> Result<ipnet::IpNet, String> {
    crate::option_values::network(s).map_err(|e| e.message().to_string())
}

/// Run `postwire serve`.
pub fn run(a: ServeArgs) -> i32 {
    let log = super::logging::init(a.json_log, a.quiet);
    let mut opts = ServerOptions::default();
    if let Some(h) = a.hostname {
        opts.hostname = h;
    }
    opts.local_domains = a.local_domains;
    opts.relay_networks = a.relay_networks;
    opts.tls_cert = a.tls_cert;
    opts.tls_key = a.tls_key;
    if let Some(n) = a.max_message_size {
        opts.max_message_size = n;
    }
    if let Some(n) = a.max_recipients {
        opts.max_recipients = n;
    }
    if let Some(n) = a.max_connections {
        opts.max_connections = n;
    }
    if let Some(n) = a.max_connections_per_ip {
        opts.max_connections_per_ip = n;
    }
    if let Some(n) = a.min_data_rate {
        opts.min_data_rate = n;
    }
    if let Some(n) = a.max_junk_commands {
        opts.max_junk_commands = n;
    }
    opts.advertise_dsn = a.dsn;
    opts.maildir_layout = a.maildir_layout;
    if let Some(t) = a.timeout {
        match crate::option_values::seconds("--timeout", t) {
            Ok(d) => opts.timeouts = ServerTimeouts::uniform(d),
            Err(e) => {
                complain(format_args!("{}", e.message()));
                return 2;
            }
        }
    }
    if !a.auth_users.is_empty() {
        let mut users = HashMap::new();
        for u in &a.auth_users {
            let Some((user, pass)) = u.split_once(':') else {
                complain(format_args!("--auth-user wants user:password, got {u:?}"));
                return 2;
            };
            users.insert(user.to_string(), pass.to_string());
        }
        opts.auth = Some(Arc::new(StaticCredentials(users)));
    }
    opts.allow_insecure_auth = a.allow_insecure_auth;
    opts.allow_vrfy = a.allow_vrfy;
    opts.allow_expn = a.allow_expn;
    opts.strict = a.strict;
    opts.reverse_dns = a.reverse_dns;
    opts.delivery = match (a.maildir, a.queue) {
        (Some(p), _) => Delivery::Maildir(p),
        (None, Some(q)) => Delivery::Queue(q),
        (None, None) => Delivery::Discard,
    };
    opts.queue_smarthost = a.queue_smarthost;
    if let Some(p) = a.queue_port {
        opts.queue_port = p;
    }
    opts.nameservers = (!a.nameservers.is_empty()).then_some(a.nameservers);
    opts.allow_loopback = a.allow_loopback;
    opts.local_maildir = a.local_maildir;
    opts.queue_max_age = a.max_age;
    if let Some(r) = &a.retry {
        match r.split(',').map(|v| v.trim().parse::<f64>()).collect::<Result<Vec<_>, _>>() {
            Ok(v) => opts.queue_retry = Some(v),
            Err(_) => {
                complain(format_args!("--retry wants seconds separated by commas, got {r:?}"));
                return 2;
            }
        }
    }
    let server = match Server::new(opts) {
        Ok(s) => Arc::new(s),
        Err(e) => {
            complain(format_args!("{e}"));
            return 1;
        }
    };
    for addr in &a.listen {
        match server.listen(*addr) {
            Ok(bound) => {
                let _ = writeln!(std::io::stdout(), "postwire: listening on {bound}");
            }
            Err(e) => {
                complain(format_args!("{e}"));
                return 1;
            }
        }
    }
    let _ = std::io::stdout().flush();
    let built = match a.threads {
        1 => tokio::runtime::Builder::new_current_thread().enable_all().build(),
        0 => tokio::runtime::Builder::new_multi_thread().enable_all().build(),
        n => tokio::runtime::Builder::new_multi_thread().worker_threads(n).enable_all().build(),
    };
    let rt = match built {
        Ok(rt) => rt,
        Err(e) => {
            complain(format_args!("cannot start runtime: {e}"));
            return 1;
        }
    };
    let result = rt.block_on(async {
        let stopper = Arc::clone(&server);
        tokio::spawn(async move {
            wait_for_signal().await;
            tracing::info!("stopping: finishing transactions in flight");
            stopper.stop();
        });
        server.serve().await
    });
    let stats = server.stats();
    let dropped = log.as_ref().map_or(0, |l| l.dropped_lines());
    tracing::info!(?stats, dropped_log_lines = dropped, "stopped");
    drop(log);
    match result {
        Ok(()) => 0,
        Err(e) => {
            complain(format_args!("{e}"));
            1
        }
    }
}

async fn wait_for_signal() {
    use tokio::signal::unix::{signal, SignalKind};
    match (signal(SignalKind::terminate()), signal(SignalKind::interrupt())) {
        (Ok(mut t), Ok(mut i)) => {
            tokio::select! {
                _ = t.recv() => {},
                _ = i.recv() => {},
            }
        }
        _ => {
            let _ = tokio::signal::ctrl_c().await;
        }
    }
}
