//! The shared `tests/vectors/relay_probes.json`: the probe matrix for one fixed server context
//! (names, exact MAIL/RCPT arguments, tricks, control flag, order), reply → verdict cases and
//! verdicts → open/inconclusive summaries. Every runtime checks the same file.

use postwire::relay_check::{classify, probes, summarise, ProbeContext, Verdict};
use postwire::Reply;
use serde_json::Value;

fn vectors() -> Value {
    let p = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../tests/vectors/relay_probes.json");
    serde_json::from_str(&std::fs::read_to_string(&p).unwrap_or_else(|e| panic!("{}: {e}", p.display())))
        .expect("json")
}

fn s(v: &Value) -> String {
    v.as_str().expect("string").to_string()
}

fn verdict(name: &str) -> Verdict {
    match name {
        "relayed" => Verdict::Relayed,
        "refused" => Verdict::Refused,
        "deferred" => Verdict::Deferred,
        "auth_required" => Verdict::AuthRequired,
        "error" => Verdict::Error,
        other => panic!("unknown verdict {other}"),
    }
}

#[test]
fn the_matrix_is_the_shared_one() {
    let v = vectors();
    let c = &v["context"];
    let ctx = ProbeContext {
        banner_name: Some(s(&c["banner_name"])),
        ehlo_name: Some(s(&c["ehlo_name"])),
        ip: s(&c["ip"]).parse().expect("ip"),
        domain: s(&c["domain"]),
        from_user: s(&c["from_user"]),
        to_user: s(&c["to_user"]),
        internal_domain: Some(s(&c["internal_domain"])),
    };
    let ours = probes(&ctx);
    let want = v["probes"].as_array().expect("probes");
    assert!(want.len() >= 40);
    assert_eq!(ours.len(), want.len(), "number of probes");
    for (p, w) in ours.iter().zip(want) {
        assert_eq!(p.name, s(&w["name"]));
        assert_eq!(p.mail_from, s(&w["mail_from"]), "{}", p.name);
        assert_eq!(p.rcpt_to, s(&w["rcpt_to"]), "{}", p.name);
        let tricks: Vec<String> = w["tricks"].as_array().expect("tricks").iter().map(s).collect();
        assert_eq!(p.tricks, tricks, "{}", p.name);
        assert_eq!(p.control, w["control"].as_bool().expect("control"), "{}", p.name);
    }
}

#[test]
fn replies_give_the_shared_verdicts() {
    let v = vectors();
    for c in v["verdicts"].as_array().expect("verdicts") {
        let reply =
            Reply::new(c["code"].as_u64().expect("code") as u16, c["text"].as_str().expect("text"), None);
        assert_eq!(classify(&reply), verdict(c["verdict"].as_str().expect("verdict")), "{c}");
    }
    for c in v["summaries"].as_array().expect("summaries") {
        let vs: Vec<Verdict> = c["verdicts"]
            .as_array()
            .expect("verdicts")
            .iter()
            .map(|x| verdict(x.as_str().unwrap()))
            .collect();
        assert_eq!(
            summarise(&vs),
            (c["open"].as_bool().unwrap(), c["inconclusive"].as_bool().unwrap()),
            "{c}"
        );
    }
}
