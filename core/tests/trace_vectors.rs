//! The shared `tests/vectors/received.json` cases: real header shapes (Postfix → Gmail, Exchange
//! Online's internal hops, qmail, Exim, Sendmail, webmail) and forged or broken ones, each with
//! its expected hop count, findings (`kind@hop`) and hop fields. Every runtime runs this file.

use postwire::trace::{analyze_offline, Hop, TraceOptions};
use serde_json::Value;

fn repo_file(rel: &str) -> String {
    let p = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("..").join(rel);
    std::fs::read_to_string(&p).unwrap_or_else(|e| panic!("{}: {e}", p.display()))
}

fn field(hop: &Hop, name: &str) -> Value {
    let v = serde_json::to_value(hop).expect("hop serialises");
    match name {
        "from_ip" => hop.from_ip.map(|ip| Value::String(ip.to_string())).unwrap_or(Value::Null),
        _ => v.get(name).cloned().unwrap_or_else(|| panic!("hop has no field {name}")),
    }
}

#[test]
fn received_vectors() {
    let cases: Vec<Value> = serde_json::from_str(&repo_file("tests/vectors/received.json")).expect("json");
    assert!(cases.len() >= 10);
    let mut failures = Vec::new();
    for c in &cases {
        let name = c["name"].as_str().expect("name");
        let opts = TraceOptions {
            trusted_hosts: c["trusted_hosts"]
                .as_array()
                .map(|a| a.iter().filter_map(|s| s.as_str().map(String::from)).collect())
                .unwrap_or_default(),
            now: c["now"].as_i64(),
            ..TraceOptions::default()
        };
        let a = analyze_offline(c["message"].as_str().expect("message").as_bytes(), &opts);
        let e = &c["expect"];
        if a.hops.len() as u64 != e["hops"].as_u64().expect("hops") {
            failures.push(format!("{name}: {} hops, expected {}", a.hops.len(), e["hops"]));
            continue;
        }
        if a.suspicious != e["suspicious"].as_bool().expect("suspicious") {
            failures.push(format!("{name}: suspicious = {}; findings {:?}", a.suspicious, a.findings));
        }
        let mut got: Vec<String> = a
            .findings
            .iter()
            .map(|f| format!("{}@{}", f.kind, f.hop.map(|h| h.to_string()).unwrap_or_else(|| "-".into())))
            .collect();
        let mut want: Vec<String> = e["findings"]
            .as_array()
            .expect("findings")
            .iter()
            .map(|v| v.as_str().unwrap().to_string())
            .collect();
        got.sort();
        want.sort();
        if got != want {
            failures.push(format!("{name}: findings {got:?}, expected {want:?} ({:#?})", a.findings));
        }
        for hf in e["hop_fields"].as_array().into_iter().flatten() {
            let i = hf["index"].as_u64().expect("index") as usize;
            for (k, want) in hf.as_object().expect("object") {
                if k == "index" {
                    continue;
                }
                let got = field(&a.hops[i], k);
                if &got != want {
                    failures.push(format!("{name}: hop {i} {k} = {got}, expected {want}"));
                }
            }
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}
