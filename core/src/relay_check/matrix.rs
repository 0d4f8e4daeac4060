//! The probe matrix: every (MAIL FROM, RCPT TO) pair the checker tries, each a named test, and
//! the address tricks each one uses.
//!
//! - the 16 tests of nmap's `smtp-open-relay` script, in its order and with its strings
//!   (`nmap_*`), so the two can be compared probe by probe;
//! - DSBL relaytest's sender forms (unqualified `<nobody>`, a bang path) × its recipient forms
//!   (quoted, without angle brackets, a bang path) (`dsbl_*`);
//! - the routing tricks (`%`, `user@dom@relay`, `"user@dom"@relay`, `@relay:user@dom`,
//!   `dom!user@relay`) behind each name the server may think is its own: its banner name, its
//!   EHLO name, `[ip]`, `[IPv6:…]` for an IPv6 server, `localhost`, `[127.0.0.1]`;
//! - a spoofed internal sender to a foreign recipient, and the control "external → internal".
//!
//! Identical pairs (a banner name equal to the EHLO name, a server on 127.0.0.1) are tried once,
//! under the first name. Pure: the context comes from the connection, the runner does the I/O.

use std::net::IpAddr;

/// Everything the probe strings are made of.
#[derive(Debug, Clone)]
pub struct ProbeContext {
    /// The server's name from its banner (nmap's `srvname`), if it gave one.
    pub banner_name: Option<String>,
    /// The name in the first line of the server's EHLO reply.
    pub ehlo_name: Option<String>,
    /// The server's address, for `[ip]` literals.
    pub ip: IpAddr,
    /// The foreign domain the probes try to reach (`relay-probe.invalid`).
    pub domain: String,
    /// Local part of the senders (nmap: `antispam`).
    pub from_user: String,
    /// Local part of the recipients (nmap: `relaytest`).
    pub to_user: String,
    /// The domain the server receives mail for (spoofed sender, control recipient).
    pub internal_domain: Option<String>,
}

impl ProbeContext {
    /// The context the checker probes a server at `ip` with, which named itself `banner_name`
    /// and `ehlo_name`: `opts`' probe domain and users, and its internal domain — given, else
    /// the registrable domain of the banner name. One place, so that the matrix a binding lists
    /// (`relay_probes`) is the one a check runs.
    pub fn new(
        opts: &super::RelayCheckOptions,
        ip: IpAddr,
        banner_name: Option<String>,
        ehlo_name: Option<String>,
    ) -> ProbeContext {
        let internal_domain = opts.internal_domain.clone().or_else(|| {
            banner_name
                .as_deref()
                .map(|b| crate::trace::names::registrable_domain(b).unwrap_or_else(|| b.to_ascii_lowercase()))
        });
        ProbeContext {
            banner_name,
            ehlo_name,
            ip,
            domain: opts.probe_domain.clone(),
            from_user: opts.from_user.clone(),
            to_user: opts.to_user.clone(),
            internal_domain,
        }
    }
}

/// One probe: a name, the two arguments as sent, its tricks.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Probe {
    /// Unique name.
    pub name: String,
    /// `MAIL FROM:` argument as sent.
    pub mail_from: String,
    /// `RCPT TO:` argument as sent.
    pub rcpt_to: String,
    /// The tricks (see [`tricks`]).
    pub tricks: Vec<String>,
    /// External → internal: acceptance is not relaying.
    pub control: bool,
}

/// The server name nmap uses: the first word of the banner after the code, made of letters,
/// digits, `.` and `-`, starting with a letter or digit (its Lua pattern
/// `%d+%s([%w]+[%w%.-]*)`).
pub fn server_name_of(line: &str) -> Option<String> {
    let word: String = line
        .trim_start()
        .chars()
        .take_while(|c| c.is_ascii_alphanumeric() || *c == '.' || *c == '-')
        .collect();
    word.chars().next().filter(char::is_ascii_alphanumeric).map(|_| word)
}

/// The literal of an address as a domain: `[192.0.2.1]` or `[IPv6:2001:db8::1]`.
pub fn literal(ip: IpAddr) -> String {
    match ip {
        IpAddr::V4(v4) => format!("[{v4}]"),
        IpAddr::V6(v6) => format!("[IPv6:{v6}]"),
    }
}

/// Every probe for `ctx`, in order, duplicates removed.
pub fn probes(ctx: &ProbeContext) -> Vec<Probe> {
    let (f, t, d) = (&ctx.from_user, &ctx.to_user, &ctx.domain);
    // nmap writes the IP bare inside brackets whatever its family.
    let ip = format!("[{}]", ctx.ip);
    let srv = ctx.banner_name.clone().or_else(|| ctx.ehlo_name.clone()).unwrap_or_else(|| ip.clone());
    let mut out: Vec<(String, String, String)> = Vec::new();
    let mut add = |name: &str, from: String, to: String| out.push((name.to_string(), from, to));

    // nmap smtp-open-relay, in its order.
    add("nmap_null_sender", "<>".into(), format!("<{t}@{d}>"));
    add("nmap_foreign_to_foreign", format!("<{f}@{d}>"), format!("<{t}@{d}>"));
    add("nmap_sender_at_server_name", format!("<{f}@{srv}>"), format!("<{t}@{d}>"));
    add("nmap_sender_at_ip", format!("<{f}@{ip}>"), format!("<{t}@{d}>"));
    let fip = format!("<{f}@{ip}>");
    add("nmap_percent_at_ip", fip.clone(), format!("<{t}%{d}@{ip}>"));
    add("nmap_percent_at_server_name", fip.clone(), format!("<{t}%{d}@{srv}>"));
    add("nmap_quoted_at", fip.clone(), format!("<\"{t}@{d}\">"));
    add("nmap_quoted_percent", fip.clone(), format!("<\"{t}%{d}\">"));
    add("nmap_double_at_ip", fip.clone(), format!("<{t}@{d}@{ip}>"));
    add("nmap_quoted_at_ip", fip.clone(), format!("<\"{t}@{d}\"@{ip}>"));
    add("nmap_double_at_server_name", fip.clone(), format!("<{t}@{d}@{srv}>"));
    add("nmap_source_route_ip", fip.clone(), format!("<@{ip}:{t}@{d}>"));
    add("nmap_source_route_server_name", fip.clone(), format!("<@{srv}:{t}@{d}>"));
    add("nmap_bang", fip.clone(), format!("<{d}!{t}>"));
    add("nmap_bang_at_ip", fip.clone(), format!("<{d}!{t}@{ip}>"));
    add("nmap_bang_at_server_name", fip, format!("<{d}!{t}@{srv}>"));

    // DSBL relaytest: sender forms × recipient forms.
    for (sname, sender) in
        [("unqualified", "<nobody>".to_string()), ("bang_sender", format!("<{srv}!nobody>"))]
    {
        add(&format!("dsbl_{sname}_quoted"), sender.clone(), format!("<\"{t}@{d}\">"));
        add(&format!("dsbl_{sname}_bare"), sender.clone(), format!("{t}@{d}"));
        add(&format!("dsbl_{sname}_bang"), sender, format!("<{d}!{t}>"));
    }

    // The routing tricks behind every name the server may take for its own.
    let mut relays: Vec<(&str, String)> = Vec::new();
    if let Some(b) = &ctx.banner_name {
        relays.push(("banner", b.clone()));
    }
    if let Some(e) = &ctx.ehlo_name {
        relays.push(("ehlo", e.clone()));
    }
    relays.push(("ip", format!("[{}]", ctx.ip)));
    if ctx.ip.is_ipv6() {
        relays.push(("ipv6", literal(ctx.ip)));
    }
    relays.push(("localhost", "localhost".into()));
    relays.push(("loopback", "[127.0.0.1]".into()));
    let foreign = format!("<{f}@{d}>");
    for (rname, r) in &relays {
        add(&format!("{rname}_percent"), foreign.clone(), format!("<{t}%{d}@{r}>"));
        add(&format!("{rname}_double_at"), foreign.clone(), format!("<{t}@{d}@{r}>"));
        add(&format!("{rname}_quoted"), foreign.clone(), format!("<\"{t}@{d}\"@{r}>"));
        add(&format!("{rname}_source_route"), foreign.clone(), format!("<@{r}:{t}@{d}>"));
        add(&format!("{rname}_bang"), foreign.clone(), format!("<{d}!{t}@{r}>"));
    }
    add("multi_source_route", foreign.clone(), format!("<@{srv},@{ip}:{t}@{d}>"));

    // Spoofed internal sender → external, and the control.
    let internal = ctx.internal_domain.clone().unwrap_or_else(|| srv.clone());
    add("spoofed_internal_sender", format!("<{f}@{internal}>"), format!("<{t}@{d}>"));
    add("spoofed_postmaster_sender", format!("<postmaster@{internal}>"), format!("<{t}@{d}>"));
    add("external_to_internal", foreign, format!("<postmaster@{internal}>"));

    let own: Vec<String> = [ctx.banner_name.clone(), ctx.ehlo_name.clone(), Some(internal.clone())]
        .into_iter()
        .flatten()
        .map(|n| n.to_ascii_lowercase())
        .collect();
    let mut seen = std::collections::HashSet::new();
    out.into_iter()
        .filter(|(_, from, to)| seen.insert((from.clone(), to.clone())))
        .map(|(name, mail_from, rcpt_to)| {
            let tricks = tricks(&mail_from, &rcpt_to, &own);
            let control = tricks.is_empty() && domain_of(&rcpt_to).is_some_and(|dom| own.contains(&dom));
            Probe { name, mail_from, rcpt_to, tricks, control }
        })
        .collect()
}

/// Keep `probes` whose name is in `names` (all when `names` is empty); unknown names are an
/// `invalid_input` error that lists the known ones.
pub fn select(probes: Vec<Probe>, names: &[String]) -> crate::Result<Vec<Probe>> {
    if names.is_empty() || names.iter().any(|n| n == "all") {
        return Ok(probes);
    }
    if let Some(bad) = names.iter().find(|n| !probes.iter().any(|p| &p.name == *n)) {
        let known: Vec<&str> = probes.iter().map(|p| p.name.as_str()).collect();
        return Err(crate::Error::invalid_input(format!(
            "unknown relay test {bad:?}; known: {}",
            known.join(", ")
        )));
    }
    Ok(probes.into_iter().filter(|p| names.contains(&p.name)).collect())
}

fn strip_brackets(arg: &str) -> &str {
    let a = arg.trim();
    a.strip_prefix('<').and_then(|a| a.strip_suffix('>')).unwrap_or(a)
}

/// The domain after the last `@` outside quotes, lower-cased.
fn domain_of(arg: &str) -> Option<String> {
    let inner = strip_brackets(arg);
    let mut quoted = false;
    let mut at = None;
    for (i, c) in inner.char_indices() {
        match c {
            '"' => quoted = !quoted,
            '@' if !quoted => at = Some(i),
            _ => {}
        }
    }
    at.map(|i| inner[i + 1..].to_ascii_lowercase())
}

/// The address tricks of one (MAIL, RCPT) pair. `own` are the server's own names (lower case).
///
/// Sender: `null_sender` (`<>`), `unqualified_sender` (no `@`), `bang_sender`, `literal_sender`
/// (`@[…]`), `local_sender` (at one of `own`). Recipient: `bare_recipient` (no angle brackets),
/// `source_route`, `quoted`, `percent`, `bang`, `double_at` (two `@` outside quotes, not a source
/// route), `literal_domain`, `localhost_domain`, `server_domain` (at one of `own`, with routing).
/// The half-closed test server classifies the wire arguments by the same rules.
pub fn tricks(mail_from: &str, rcpt_to: &str, own: &[String]) -> Vec<String> {
    let mut t: Vec<&str> = Vec::new();
    let s = strip_brackets(mail_from);
    if s.is_empty() {
        t.push("null_sender");
    } else if s.contains('!') {
        t.push("bang_sender");
    } else if !s.contains('@') {
        t.push("unqualified_sender");
    } else if let Some(dom) = domain_of(mail_from) {
        if dom.starts_with('[') {
            t.push("literal_sender");
        } else if own.contains(&dom) {
            t.push("local_sender");
        }
    }
    let r = strip_brackets(rcpt_to);
    if !rcpt_to.trim_start().starts_with('<') {
        t.push("bare_recipient");
    }
    let source_route = r.starts_with('@');
    if source_route {
        t.push("source_route");
    }
    if r.contains('"') {
        t.push("quoted");
    }
    if r.contains('%') {
        t.push("percent");
    }
    if r.contains('!') {
        t.push("bang");
    }
    let outside_quotes_at = r.split('"').step_by(2).map(|part| part.matches('@').count()).sum::<usize>();
    if !source_route && outside_quotes_at >= 2 {
        t.push("double_at");
    }
    let routed = source_route || r.contains(['"', '%', '!']) || outside_quotes_at >= 2;
    if let Some(dom) = domain_of(rcpt_to) {
        if dom.starts_with('[') {
            t.push("literal_domain");
        } else if dom == "localhost" {
            t.push("localhost_domain");
        } else if routed && own.contains(&dom) {
            t.push("server_domain");
        }
    }
    t.into_iter().map(String::from).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ctx(ip: &str, banner: Option<&str>, ehlo: Option<&str>) -> ProbeContext {
        ProbeContext {
            banner_name: banner.map(String::from),
            ehlo_name: ehlo.map(String::from),
            ip: ip.parse().unwrap(),
            domain: "relay-probe.invalid".into(),
            from_user: "antispam".into(),
            to_user: "relaytest".into(),
            internal_domain: Some("test.example".into()),
        }
    }

    #[test]
    fn at_least_forty_unique_named_probes_even_on_loopback() {
        let p = probes(&ctx("127.0.0.1", Some("mx.test.example"), Some("mx.test.example")));
        assert!(p.len() >= 40, "{}", p.len());
        let mut names: Vec<_> = p.iter().map(|p| &p.name).collect();
        names.sort();
        names.dedup();
        assert_eq!(names.len(), p.len());
        assert_eq!(p.iter().filter(|p| p.name.starts_with("nmap_")).count(), 16);
        assert_eq!(
            p.iter().filter(|p| p.control).map(|p| p.name.as_str()).collect::<Vec<_>>(),
            ["external_to_internal"]
        );
        assert!(p
            .iter()
            .filter(|p| !p.control)
            .all(|p| !p.tricks.is_empty() || p.name == "nmap_foreign_to_foreign"));
        let more = probes(&ctx("2001:db8::25", Some("mx.test.example"), Some("mx2.test.example")));
        assert!(more.iter().any(|p| p.rcpt_to == "<relaytest%relay-probe.invalid@[IPv6:2001:db8::25]>"));
        assert!(more.len() > p.len());
    }

    #[test]
    fn nmap_strings_are_nmaps() {
        let p = probes(&ctx("192.0.2.1", Some("srv.example"), None));
        let find =
            |n: &str| p.iter().find(|p| p.name == n).map(|p| (p.mail_from.as_str(), p.rcpt_to.as_str()));
        assert_eq!(find("nmap_null_sender"), Some(("<>", "<relaytest@relay-probe.invalid>")));
        assert_eq!(
            find("nmap_quoted_at_ip"),
            Some(("<antispam@[192.0.2.1]>", "<\"relaytest@relay-probe.invalid\"@[192.0.2.1]>"))
        );
        assert_eq!(
            find("nmap_source_route_server_name"),
            Some(("<antispam@[192.0.2.1]>", "<@srv.example:relaytest@relay-probe.invalid>"))
        );
        assert_eq!(
            find("nmap_bang_at_server_name"),
            Some(("<antispam@[192.0.2.1]>", "<relay-probe.invalid!relaytest@srv.example>"))
        );
    }

    #[test]
    fn trick_labels() {
        let own = vec!["srv.example".to_string()];
        assert_eq!(tricks("<>", "<a@b.example>", &own), ["null_sender"]);
        assert_eq!(tricks("<x@b.example>", "a@b.example", &own), ["bare_recipient"]);
        assert_eq!(
            tricks("<x@[1.2.3.4]>", "<\"a@b\"@[1.2.3.4]>", &own),
            ["literal_sender", "quoted", "literal_domain"]
        );
        assert_eq!(tricks("<x@b>", "<a%b@srv.example>", &own), ["percent", "server_domain"]);
        assert_eq!(tricks("<x@b>", "<@srv.example:a@b>", &own), ["source_route"]);
        assert_eq!(tricks("<x@b>", "<a@b@localhost>", &own), ["double_at", "localhost_domain"]);
        assert_eq!(tricks("<nobody>", "<b!a>", &own), ["unqualified_sender", "bang"]);
        assert_eq!(tricks("<x@srv.example>", "<a@b>", &own), ["local_sender"]);
        assert_eq!(server_name_of(" mx.test.example ESMTP postwire"), Some("mx.test.example".into()));
        assert_eq!(server_name_of("-weird"), None);
    }
}
