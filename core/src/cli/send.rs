//! `postwire send`: one message through one SMTP session, printing the transcript swaks-style
//! (`--json` prints the `SendResult` and the transcript as JSON instead).
//!
//! Exit codes: 0 sent; 1 the server or the network failed the send; 2 bad arguments or input
//! (`invalid_input`, unreadable `--data` file).

use std::io::{Read, Write};
use std::path::PathBuf;
use std::time::Duration;

use crate::client::{Client, ClientOptions, ClientTimeouts, SendResult, TlsMode};
use crate::error::{Error, ErrorKind, Result};

/// Arguments of `postwire send`. `Debug` shows the password of `--auth` as `****`.
#[derive(clap::Args)]
pub struct SendArgs {
    /// Server as HOST:PORT (`[::1]:2525`); the port defaults to 25 (465 with --tls implicit).
    #[arg(long, short = 's')]
    pub server: String,
    /// Envelope sender (`""` for the null sender).
    #[arg(long, short = 'f')]
    pub from: String,
    /// Envelope recipient; repeat for more.
    #[arg(long, short = 't', required = true)]
    pub to: Vec<String>,
    /// TLS mode: none, opportunistic, starttls, implicit.
    #[arg(long, default_value = "opportunistic")]
    pub tls: String,
    /// Authenticate as USER:PASSWORD (split at the first colon).
    #[arg(long)]
    pub auth: Option<String>,
    /// AUTH mechanism (PLAIN, LOGIN, XOAUTH2); default: the first of PLAIN, LOGIN offered.
    #[arg(long)]
    pub auth_mechanism: Option<String>,
    /// Allow AUTH over an unencrypted connection.
    #[arg(long)]
    pub allow_plaintext_auth: bool,
    /// The message: a file, or `-` for standard input. Without it a small message is built
    /// from --subject and --body.
    #[arg(long)]
    pub data: Option<String>,
    /// Subject of the built message.
    #[arg(long, default_value = "postwire test")]
    pub subject: String,
    /// Body of the built message.
    #[arg(long, default_value = "This is a test message sent by postwire.")]
    pub body: String,
    /// Name for EHLO/HELO.
    #[arg(long)]
    pub hello: Option<String>,
    /// Extra CA certificates (PEM) to trust.
    #[arg(long)]
    pub ca_file: Option<PathBuf>,
    /// Name to verify the server certificate against.
    #[arg(long)]
    pub tls_server_name: Option<String>,
    /// Accept any server certificate (testing only).
    #[arg(long)]
    pub insecure: bool,
    /// One timeout in seconds for every phase (default: the RFC 5321 values).
    #[arg(long)]
    pub timeout: Option<f64>,
    /// Do not use PIPELINING even when offered.
    #[arg(long)]
    pub no_pipelining: bool,
    /// Do not use CHUNKING/BDAT even when offered.
    #[arg(long)]
    pub no_chunking: bool,
    /// Print the result and the transcript as JSON.
    #[arg(long)]
    pub json: bool,
}

impl std::fmt::Debug for SendArgs {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Destructured so that a new field cannot be forgotten here.
        let SendArgs {
            server,
            from,
            to,
            tls,
            auth,
            auth_mechanism,
            allow_plaintext_auth,
            data,
            subject,
            body,
            hello,
            ca_file,
            tls_server_name,
            insecure,
            timeout,
            no_pipelining,
            no_chunking,
            json,
        } = self;
        // USER:PASSWORD, split at the first colon as `session` does.
        let auth =
            auth.as_ref().map(|a| format!("{}:****", a.split_once(':').map_or(a.as_str(), |(u, _)| u)));
        f.debug_struct("SendArgs")
            .field("server", server)
            .field("from", from)
            .field("to", to)
            .field("tls", tls)
            .field("auth", &auth)
            .field("auth_mechanism", auth_mechanism)
            .field("allow_plaintext_auth", allow_plaintext_auth)
            .field("data", data)
            .field("subject", subject)
            .field("body", body)
            .field("hello", hello)
            .field("ca_file", ca_file)
            .field("tls_server_name", tls_server_name)
            .field("insecure", insecure)
            .field("timeout", timeout)
            .field("no_pipelining", no_pipelining)
            .field("no_chunking", no_chunking)
            .field("json", json)
            .finish()
    }
}

/// `host:port` / `[v6]:port` / `host`.
pub(crate) fn split_server(s: &str, default_port: u16) -> Result<(String, u16)> {
    let bad = || Error::invalid_input(format!("--server {s:?}: expected HOST:PORT"));
    if let Some(rest) = s.strip_prefix('[') {
        let (host, after) = rest.split_once(']').ok_or_else(bad)?;
        let port = match after.strip_prefix(':') {
            Some(p) => p.parse().map_err(|_| bad())?,
            None if after.is_empty() => default_port,
            None => return Err(bad()),
        };
        return Ok((host.to_string(), port));
    }
    match s.rsplit_once(':') {
        Some((h, p)) if !h.contains(':') => Ok((h.to_string(), p.parse().map_err(|_| bad())?)),
        Some(_) => Ok((s.to_string(), default_port)),
        None => Ok((s.to_string(), default_port)),
    }
}

/// The message of `--subject`/`--body`, built by [`crate::client::compose`] (Date, Message-ID,
/// encoded words, MIME) so the CLI and the API write the same messages.
fn build_message(a: &SendArgs, hello: &str) -> Result<Vec<u8>> {
    // A null envelope sender still needs a From: header.
    let from = if a.from.is_empty() { format!("MAILER-DAEMON@{hello}") } else { a.from.clone() };
    let opts = crate::client::ComposeOptions::new(from, a.to.clone(), a.subject.clone(), a.body.clone());
    crate::client::compose(&opts)
}

fn read_data(path: &str) -> Result<Vec<u8>> {
    let mut v = Vec::new();
    if path == "-" {
        std::io::stdin()
            .read_to_end(&mut v)
            .map_err(|e| Error::io(format!("reading standard input: {e}")))?;
    } else {
        v = std::fs::read(path).map_err(|e| Error::io(format!("--data {path}: {e}")))?;
    }
    Ok(v)
}

fn options(a: &SendArgs) -> Result<ClientOptions> {
    let tls: TlsMode = a.tls.parse()?;
    let (host, port) = split_server(&a.server, if tls == TlsMode::Implicit { 465 } else { 25 })?;
    let mut o = ClientOptions::new(host, port);
    o.tls = tls;
    o.hello_name = a.hello.clone();
    o.ca_file = a.ca_file.clone();
    o.accept_invalid_certs = a.insecure;
    o.allow_plaintext_auth = a.allow_plaintext_auth;
    o.tls_server_name = a.tls_server_name.clone();
    o.pipelining = !a.no_pipelining;
    o.chunking = !a.no_chunking;
    if let Some(t) = a.timeout {
        o.timeouts = ClientTimeouts::uniform(timeout_arg(t)?);
    }
    Ok(o)
}

/// `--timeout` seconds as a `Duration`: a positive, finite number that fits a `Duration` and is
/// at least a nanosecond; anything else (NaN, infinity, negative, zero, 1e30) is `invalid_input`.
fn timeout_arg(t: f64) -> Result<Duration> {
    crate::option_values::seconds("--timeout", t)
}

/// Connect, authenticate, send, quit. The client comes back whenever it exists, for its
/// transcript.
async fn session(
    a: &SendArgs,
    opts: ClientOptions,
    message: Option<Vec<u8>>,
) -> (Option<Client>, Result<SendResult>) {
    let mut client = match Client::connect(opts).await {
        Ok(c) => c,
        Err(e) => return (None, Err(e)),
    };
    if let Some(auth) = &a.auth {
        let (user, pass) = auth.split_once(':').unwrap_or((auth.as_str(), ""));
        if let Err(e) = client.login(user, pass, a.auth_mechanism.as_deref()).await {
            let _ = client.quit().await;
            return (Some(client), Err(e));
        }
    }
    let message = match message {
        Some(m) => m,
        None => match build_message(a, client.hello_name()) {
            Ok(m) => m,
            Err(e) => {
                let _ = client.quit().await;
                return (Some(client), Err(e));
            }
        },
    };
    let r = client.send(&a.from, &a.to, &message).await;
    if !client.is_closed() {
        let _ = client.quit().await;
    }
    (Some(client), r)
}

fn error_json(e: &Error) -> serde_json::Value {
    serde_json::json!({ "kind": e.kind().as_str(), "message": e.message(), "reply": e.reply() })
}

/// Run `postwire send`.
pub fn run(args: SendArgs) -> i32 {
    let prepared = options(&args).and_then(|o| Ok((o, args.data.as_deref().map(read_data).transpose()?)));
    let (opts, message) = match prepared {
        Ok(p) => p,
        Err(e) => {
            eprintln!("postwire send: {e}");
            return 2;
        }
    };
    let rt = match tokio::runtime::Builder::new_current_thread().enable_all().build() {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("postwire send: cannot start the runtime: {e}");
            return 1;
        }
    };
    let (client, result) = rt.block_on(session(&args, opts, message));
    let transcript: &[String] = client.as_ref().map(|c| c.transcript()).unwrap_or(&[]);
    let mut out = std::io::stdout().lock();
    if args.json {
        let v = match &result {
            Ok(r) => {
                let mut v = serde_json::to_value(r).unwrap_or(serde_json::Value::Null);
                if let Some(obj) = v.as_object_mut() {
                    obj.insert("transcript".into(), serde_json::json!(transcript));
                }
                v
            }
            Err(e) => serde_json::json!({ "error": error_json(e), "transcript": transcript }),
        };
        let _ = writeln!(out, "{}", serde_json::to_string_pretty(&v).unwrap_or_default());
    } else {
        for line in transcript {
            let (side, text) = line.split_at(line.len().min(3));
            let arrow = match side {
                "C: " => " -> ",
                "S: " => "<-  ",
                _ => " ** ",
            };
            let _ = writeln!(out, "{arrow}{text}");
        }
    }
    let _ = out.flush();
    match result {
        Ok(r) => {
            if !args.json {
                for rej in &r.rejected {
                    eprintln!("postwire send: recipient {} refused: {}", rej.rcpt, rej.reply.one_line());
                }
            }
            0
        }
        Err(e) => {
            eprintln!("postwire send: {e}");
            if e.kind() == ErrorKind::InvalidInput || e.kind() == ErrorKind::Io {
                2
            } else {
                1
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::{split_server, timeout_arg, SendArgs};
    use clap::Parser;
    use std::time::Duration;

    #[derive(clap::Parser)]
    struct Cli {
        #[command(flatten)]
        args: SendArgs,
    }

    #[test]
    fn debug_hides_the_auth_password() {
        let cli = Cli::parse_from([
            "send",
            "--server",
            "mx.example:25",
            "--from",
            "a@example.org",
            "--to",
            "b@example.org",
            "--auth",
            "alice:s3cr3t:pw",
        ]);
        let shown = format!("{:?}", cli.args);
        assert!(!shown.contains("s3cr3t"), "{shown}");
        assert!(shown.contains("\"alice:****\"") && shown.contains("mx.example:25"), "{shown}");
    }

    #[test]
    fn timeout_argument() {
        assert_eq!(timeout_arg(1.5).unwrap(), Duration::from_millis(1500));
        for t in [1e30, f64::MAX, f64::NAN, f64::INFINITY, -1.0, 0.0, -0.0, 1e-12] {
            let e = timeout_arg(t).expect_err("unusable timeout");
            assert_eq!(e.kind(), crate::ErrorKind::InvalidInput, "{t}: {e}");
        }
    }

    #[test]
    fn server_argument() {
        assert_eq!(split_server("mx.example:2525", 25).unwrap(), ("mx.example".into(), 2525));
        assert_eq!(split_server("mx.example", 25).unwrap(), ("mx.example".into(), 25));
        assert_eq!(split_server("[::1]:26", 25).unwrap(), ("::1".into(), 26));
        assert_eq!(split_server("::1", 25).unwrap(), ("::1".into(), 25));
        assert!(split_server("mx:port", 25).is_err());
    }
}
