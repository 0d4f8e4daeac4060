//! The 181 real `Received:` values of stalwartlabs/mail-parser's corpus
//! (`tests/vectors/received-stalwart.json`, Apache-2.0 OR MIT, see `tests/vectors/README.md`):
//! every one must parse field for field into [`ReceivedLine`], so a change of the grammar
//! underneath shows here first.

use postwire::trace::{parse_received_value, ReceivedLine};
use serde_json::Value;

fn host(v: &Value) -> Option<String> {
    let o = v.as_object()?;
    o.get("Name").or_else(|| o.get("IpAddr")).and_then(Value::as_str).map(String::from)
}

fn s(v: &Value) -> Option<String> {
    v.as_str().map(String::from)
}

/// `TLSv1_3` (the crate's enum name) → `TLSv1.3` (ours).
fn tls(v: &Value) -> Option<String> {
    v.as_str().map(|t| t.replacen('_', ".", 1))
}

fn date(v: &Value) -> Option<String> {
    let n = |k: &str| v.get(k).and_then(Value::as_i64).unwrap_or(0);
    if v.is_null() {
        return None;
    }
    let (th, tm) = (n("tz_hour"), n("tz_minute"));
    let zone = if th == 0 && tm == 0 {
        "Z".to_string()
    } else {
        let sign = if v["tz_before_gmt"].as_bool().unwrap_or(false) { '-' } else { '+' };
        format!("{sign}{th:02}:{tm:02}")
    };
    Some(format!(
        "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}{zone}",
        n("year"),
        n("month"),
        n("day"),
        n("hour"),
        n("minute"),
        n("second")
    ))
}

/// Dates where the corpus records mail-parser's own misreading and we read what the line says:
/// asctime dates (the grammar takes their numbers in RFC 5322 order and gets month 13, hour 50),
/// obsolete zone names (RFC 5322 §4.3: PST is -08:00, PDT -07:00; the grammar takes UTC) and a
/// date after a missing `;`. Each was checked by hand against the header text.
const DATE_CORRECTIONS: [(usize, &str); 7] = [
    (13, "2003-02-07T10:18:12-08:00"),
    (67, "2003-02-12T14:22:21-08:00"),
    (69, "2003-02-20T16:13:20-07:00"),
    (117, "2005-11-13T14:50:12Z"),
    (118, "2005-11-13T15:38:52Z"),
    (151, "2018-09-14T14:36:56-04:00"),
    (163, "2006-06-02T08:15:21-07:00"),
];

fn corrected_date(i: usize, corpus: &Value) -> Option<String> {
    match DATE_CORRECTIONS.iter().find(|(k, _)| *k == i) {
        Some((_, ours)) => {
            assert_ne!(date(corpus).as_deref(), Some(*ours), "#{i} is no longer a correction");
            Some(ours.to_string())
        }
        None => date(corpus),
    }
}

#[test]
fn stalwart_corpus_parses_field_for_field() {
    let p = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../tests/vectors/received-stalwart.json");
    let text = std::fs::read_to_string(&p).unwrap_or_else(|e| panic!("{}: {e}", p.display()));
    let cases: Vec<Value> = serde_json::from_str(&text).expect("json");
    assert_eq!(cases.len(), 181);
    let mut failures = Vec::new();
    for (i, c) in cases.iter().enumerate() {
        let header = c["header"].as_str().expect("header");
        let e = &c["expected"];
        let got: ReceivedLine = parse_received_value(header.as_bytes());
        let want = [
            ("from", host(&e["from"]), got.from.clone()),
            ("from_ip", s(&e["from_ip"]), got.from_ip.map(|ip| ip.to_string())),
            ("from_iprev", s(&e["from_iprev"]), got.from_iprev.clone()),
            ("by", host(&e["by"]), got.by.clone()),
            ("for_", s(&e["for_"]), got.for_.clone()),
            ("with", s(&e["with"]), got.with.clone()),
            ("tls_version", tls(&e["tls_version"]), got.tls_version.clone()),
            ("tls_cipher", s(&e["tls_cipher"]), got.tls_cipher.clone()),
            ("id", s(&e["id"]), got.id.clone()),
            ("ident", s(&e["ident"]), got.ident.clone()),
            ("helo", host(&e["helo"]), got.helo.clone()),
            ("helo_cmd", s(&e["helo_cmd"]).map(|h| h.to_ascii_uppercase()), got.helo_cmd.clone()),
            ("via", s(&e["via"]), got.via.clone()),
            ("date", corrected_date(i, &e["date"]), got.date.clone()),
        ];
        for (name, want, got) in want {
            if want != got {
                failures.push(format!("#{i} {name}: got {got:?}, expected {want:?} in {header:?}"));
            }
        }
    }
    assert!(failures.is_empty(), "{} mismatches:\n{}", failures.len(), failures.join("\n"));
}
