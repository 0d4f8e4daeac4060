//! The relay check's result values, as the API contract names them (`RelayReport`,
//! `RelayTest`): plain owned data that serialises to the `--json` output and that the bindings
//! copy field for field.

use serde::Serialize;

use crate::proto::Reply;

use super::verdict::Verdict;

/// One probe's outcome.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RelayTest {
    /// The probe's name (`nmap_percent_hack_ip`, `dsbl_unqualified_bare`, `localhost_bang` …).
    pub name: String,
    /// The `MAIL FROM:` argument exactly as sent (`<antispam@[192.0.2.1]>`).
    pub mail_from: String,
    /// The `RCPT TO:` argument exactly as sent (`<"relaytest@relay-probe.invalid">`).
    pub rcpt_to: String,
    /// What happened.
    pub verdict: Verdict,
    /// The reply that decided the verdict (RCPT's, MAIL's when MAIL was refused, DATA's with
    /// `send_data`); `None` when no reply came (verdict `error`).
    pub reply: Option<Reply>,
    /// The address tricks the probe uses (`percent`, `bang`, `quoted`, `null_sender` …).
    pub tricks: Vec<String>,
    /// True for a control probe (external sender → the server's own domain): its acceptance is
    /// not relaying and never makes the report `open`.
    pub control: bool,
    /// What went wrong when the verdict is `error`.
    pub error: Option<String>,
    /// The swaks-style wire log of this probe: `-> ` lines we sent, `<- ` lines the server sent,
    /// `=== ` notes (a new connection, its banner and EHLO included).
    pub transcript: Vec<String>,
}

/// The whole check.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RelayReport {
    /// True when any relay probe was relayed.
    pub open: bool,
    /// True when not open and no probe was refused outright (only 4xx answers and errors).
    pub inconclusive: bool,
    /// The names of the probes that relayed (the evidence for `open`).
    pub evidence: Vec<String>,
    /// Every probe, in matrix order.
    pub results: Vec<RelayTest>,
    /// The server's banner name and EHLO name, as the probes used them.
    pub server_name: Option<String>,
    /// How many connections the check opened.
    pub connections: usize,
}
