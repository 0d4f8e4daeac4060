//! The `postwire` command line: one subcommand per capability, the same operations as the API.
//!
//! Lives in the library (not only in `src/bin`) so that `python -m postwire` and the Node
//! binding can run the very same CLI through [`main_with_args`].

use clap::{Parser, Subcommand};

pub mod analyze;
pub mod mx;
pub mod queue;
pub mod relay_check;
pub mod send;
pub mod serve;

/// postwire: SMTP server, client, routing and analysis from one core.
#[derive(Debug, Parser)]
#[command(name = "postwire", version, about)]
pub struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Run an SMTP server (Maildir delivery, relay policy, STARTTLS, AUTH).
    Serve(serve::ServeArgs),
    /// Send one message, printing the SMTP transcript (swaks-style).
    Send(send::SendArgs),
    /// Show the MX route of a domain and how it was found.
    Mx(mx::MxArgs),
    /// List or deliver the durable queue.
    Queue(queue::QueueArgs),
    /// Check whether a server is an open relay (nmap's and DSBL's address tricks, with evidence).
    RelayCheck(relay_check::RelayCheckArgs),
    /// Analyse a message's Received trace: hops, delays, forged or broken lines.
    Analyze(analyze::AnalyzeArgs),
}

/// Parse `args` (program name first) and run; returns the process exit code.
pub fn main_with_args<I, T>(args: I) -> i32
where
    I: IntoIterator<Item = T>,
    T: Into<std::ffi::OsString> + Clone,
{
    let cli = match Cli::try_parse_from(args) {
        Ok(cli) => cli,
        Err(e) => {
            let _ = e.print();
            return if e.use_stderr() { 2 } else { 0 };
        }
    };
    match cli.command {
        Command::Serve(a) => serve::run(a),
        Command::Send(a) => send::run(a),
        Command::Mx(a) => mx::run(a),
        Command::Queue(a) => queue::run(a),
        Command::RelayCheck(a) => relay_check::run(a),
        Command::Analyze(a) => analyze::run(a),
    }
}

/// An error as every `--json` output shows it: `{kind, message, reply}` (`send` and
/// `relay-check` still spell it out themselves).
pub(crate) fn error_json(e: &crate::Error) -> serde_json::Value {
    serde_json::json!({ "kind": e.kind().as_str(), "message": e.message(), "reply": e.reply() })
}
