//! The probe runner: the only part of the relay check that talks to the network. It opens a
//! session with the core client, learns the server's names, then runs each probe as
//! MAIL → RCPT (→ DATA when asked) → RSET on the client's single-step primitives, opening a fresh
//! connection when the server hangs up, answers 421, or the per-connection error budget is spent,
//! and QUITs at the end.

use std::net::IpAddr;

use crate::client::{Client, ClientOptions, ClientTimeouts};
use crate::error::{Error, ErrorKind, Result};
use crate::proto::Reply;
use crate::trace::names;

use super::matrix::{self, Probe, ProbeContext};
use super::options::RelayCheckOptions;
use super::report::{RelayReport, RelayTest};
use super::verdict::{self, Verdict};

/// Consecutive failed reconnections after which the remaining probes are not tried.
const MAX_RECONNECT_FAILURES: usize = 3;

/// The cookie body of the optional DATA step.
fn cookie_body(probe: &Probe) -> Vec<u8> {
    format!(
        "Subject: postwire relay check {}\r\nX-Postwire-Relay-Probe: {}\r\n\r\nThis message tests whether this server relays mail for strangers.\r\n",
        probe.name, probe.name
    )
    .into_bytes()
}

/// swaks' notation: ` -> ` what we sent, `<-  ` what the server said (`<** ` for 4xx/5xx),
/// `=== ` notes.
fn swaks_line(line: &str) -> String {
    if let Some(c) = line.strip_prefix("C: ") {
        format!(" -> {c}")
    } else if let Some(s) = line.strip_prefix("S: ") {
        if s.starts_with('4') || s.starts_with('5') {
            format!("<** {s}")
        } else {
            format!("<-  {s}")
        }
    } else if let Some(n) = line.strip_prefix("*: ") {
        format!("=== {n}")
    } else {
        line.to_string()
    }
}

/// The name in the first line of the EHLO reply, read back from the session's transcript (the
/// client keeps only the capabilities).
fn ehlo_name(transcript: &[String]) -> Option<String> {
    let ehlo = transcript.iter().rposition(|l| l.starts_with("C: EHLO "))?;
    let first = transcript[ehlo + 1..].iter().find(|l| l.starts_with("S: "))?;
    let text = first.strip_prefix("S: 250")?;
    matrix::server_name_of(text.trim_start_matches(['-', ' ']))
}

/// The server's address for `[ip]` tricks.
async fn server_ip(opts: &RelayCheckOptions) -> Result<IpAddr> {
    if let Some(ip) = opts.server_ip {
        return Ok(ip);
    }
    if let Some(ip) = names::as_ip(&opts.host) {
        return Ok(ip);
    }
    let mut addrs = tokio::net::lookup_host((opts.host.as_str(), opts.port))
        .await
        .map_err(|e| Error::new(ErrorKind::Dns, format!("{}: {e}", opts.host)))?;
    addrs
        .next()
        .map(|a| a.ip())
        .ok_or_else(|| Error::new(ErrorKind::Dns, format!("{}: no address", opts.host)))
}

struct Session {
    client: Option<Client>,
    opts: ClientOptions,
    /// Refused commands on the current connection.
    errors: usize,
    connections: usize,
    failed_connects: usize,
    /// Lines of a fresh connection not yet shown in any probe's transcript.
    pending: Vec<String>,
}

impl Session {
    async fn open(&mut self) -> Result<()> {
        if let Some(mut old) = self.client.take() {
            if !old.is_closed() {
                let _ = old.quit().await;
            }
        }
        self.errors = 0;
        match Client::connect(self.opts.clone()).await {
            Ok(c) => {
                self.connections += 1;
                self.failed_connects = 0;
                self.pending.push(format!(
                    "=== Connected to {}:{}",
                    self.opts.host,
                    self.opts.effective_port()
                ));
                self.pending.extend(c.transcript().iter().map(|l| swaks_line(l)));
                self.client = Some(c);
                Ok(())
            }
            Err(e) => {
                self.failed_connects += 1;
                Err(e)
            }
        }
    }

    fn usable(&self, budget: usize) -> bool {
        self.client.as_ref().is_some_and(|c| !c.is_closed()) && self.errors < budget
    }
}

/// What one attempt at a probe gave.
enum Outcome {
    Done(Verdict, Option<Reply>),
    /// The connection failed under us: worth one retry on a fresh one.
    Broken(Error),
}

async fn attempt(client: &mut Client, probe: &Probe, send_data: bool, errors: &mut usize) -> Outcome {
    let mut note = |r: &Reply| {
        if r.code >= 400 {
            *errors += 1;
        }
    };
    let mail = match client.mail_from_raw(&probe.mail_from).await {
        Ok(r) => r,
        Err(e) => return Outcome::Broken(e),
    };
    note(&mail);
    if !(200..300).contains(&mail.code) {
        let v = verdict::classify(&mail);
        return Outcome::Done(if v == Verdict::Relayed { Verdict::Error } else { v }, Some(mail));
    }
    let rcpt = match client.rcpt_to_raw(&probe.rcpt_to).await {
        Ok(r) => r,
        Err(e) => return Outcome::Broken(e),
    };
    note(&rcpt);
    let v = verdict::classify(&rcpt);
    if v != Verdict::Relayed || !send_data {
        return Outcome::Done(v, Some(rcpt));
    }
    match client.data_raw(&cookie_body(probe)).await {
        Ok(r) => {
            note(&r);
            Outcome::Done(verdict::classify(&r), Some(r))
        }
        Err(e) => Outcome::Broken(e),
    }
}

/// Run one probe, reconnecting once if the connection broke; RSET after it.
async fn run_probe(s: &mut Session, probe: &Probe, opts: &RelayCheckOptions) -> RelayTest {
    let mut transcript = Vec::new();
    let mut result: Option<(Verdict, Option<Reply>, Option<String>)> = None;
    for _try in 0..2 {
        if !s.usable(opts.errors_per_connection.max(1)) {
            if s.failed_connects >= MAX_RECONNECT_FAILURES {
                result = Some((
                    Verdict::Error,
                    None,
                    Some("not tried: the server could not be reached again".into()),
                ));
                break;
            }
            if let Err(e) = s.open().await {
                transcript.push(format!("=== connection failed: {e}"));
                result = Some((Verdict::Error, e.reply().cloned(), Some(e.to_string())));
                continue;
            }
        }
        transcript.append(&mut s.pending);
        let Some(client) = s.client.as_mut() else { break };
        let start = client.transcript().len();
        let outcome = attempt(client, probe, opts.send_data, &mut s.errors).await;
        if !client.is_closed() {
            let _ = client.reset().await;
        }
        transcript.extend(client.transcript()[start..].iter().map(|l| swaks_line(l)));
        match outcome {
            Outcome::Done(v, r) => {
                result = Some((v, r, None));
                break;
            }
            Outcome::Broken(e) => {
                transcript.push(format!("=== {e}"));
                result = Some((Verdict::Error, e.reply().cloned(), Some(e.to_string())));
                // A dropped connection gets one fresh try; anything else (a bad argument) not.
                if !client.is_closed() {
                    break;
                }
            }
        }
    }
    let (verdict, reply, error) = result.unwrap_or((Verdict::Error, None, Some("not tried".into())));
    RelayTest {
        name: probe.name.clone(),
        mail_from: probe.mail_from.clone(),
        rcpt_to: probe.rcpt_to.clone(),
        verdict,
        reply,
        tricks: probe.tricks.clone(),
        control: probe.control,
        error,
        transcript,
    }
}

/// Check whether `opts.host` relays mail for strangers. See the module documentation of
/// [`crate::relay_check`]. Errors (before any probe ran): `invalid_input` for bad options or an
/// unknown test name, `dns`, `connect`, `timeout`, `tls`, `rejected`/`transient` for a refused
/// banner or EHLO. Once probing started, failures are per-probe `error` verdicts.
pub async fn check_relay(opts: &RelayCheckOptions) -> Result<RelayReport> {
    for (what, v) in
        [("probe domain", &opts.probe_domain), ("from user", &opts.from_user), ("to user", &opts.to_user)]
    {
        if v.is_empty() || v.contains(|c: char| c.is_whitespace() || c.is_control() || "<>\"@".contains(c)) {
            return Err(Error::invalid_input(format!("{what} {v:?} is empty or not a plain word")));
        }
    }
    let ip = server_ip(opts).await?;
    let mut copts = ClientOptions::new(opts.host.clone(), opts.port);
    copts.hello_name = opts.helo.clone();
    copts.timeouts = ClientTimeouts::uniform(opts.timeout);
    copts.tls = opts.tls;
    copts.accept_invalid_certs = true;
    copts.pipelining = false;
    let mut s = Session {
        client: None,
        opts: copts,
        errors: 0,
        connections: 0,
        failed_connects: 0,
        pending: Vec::new(),
    };
    s.open().await?;

    let (banner_name, ehlo) = match s.client.as_ref() {
        Some(c) => {
            (c.banner().lines.first().and_then(|l| matrix::server_name_of(l)), ehlo_name(&c.transcript()))
        }
        None => (None, None),
    };
    let ctx = ProbeContext::new(opts, ip, banner_name.clone(), ehlo.clone());
    let probes = matrix::select(matrix::probes(&ctx), &opts.tests)?;

    let mut results = Vec::with_capacity(probes.len());
    for p in &probes {
        results.push(run_probe(&mut s, p, opts).await);
    }
    if let Some(mut c) = s.client.take() {
        if !c.is_closed() {
            let _ = c.quit().await;
        }
    }

    let relay: Vec<Verdict> = results.iter().filter(|r| !r.control).map(|r| r.verdict).collect();
    let (open, inconclusive) = verdict::summarise(&relay);
    let evidence = results
        .iter()
        .filter(|r| !r.control && r.verdict == Verdict::Relayed)
        .map(|r| r.name.clone())
        .collect();
    Ok(RelayReport {
        open,
        inconclusive,
        evidence,
        results,
        server_name: banner_name.or(ehlo),
        connections: s.connections,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn swaks_notation() {
        assert_eq!(swaks_line("C: MAIL FROM:<>"), " -> MAIL FROM:<>");
        assert_eq!(swaks_line("S: 250 2.1.0 Ok"), "<-  250 2.1.0 Ok");
        assert_eq!(swaks_line("S: 554 5.7.1 Relay access denied"), "<** 554 5.7.1 Relay access denied");
        assert_eq!(swaks_line("*: note"), "=== note");
    }

    #[test]
    fn ehlo_name_from_transcript() {
        let t: Vec<String> =
            ["S: 220 a.example ESMTP", "C: EHLO me", "S: 250-mx.example.net Hello", "S: 250 SIZE 10"]
                .iter()
                .map(|s| s.to_string())
                .collect();
        assert_eq!(ehlo_name(&t), Some("mx.example.net".into()));
        assert_eq!(ehlo_name(&t[..1]), None);
    }
}
