//! The 181 real `Received:` values of stalwartlabs/mail-parser's corpus
//! (`tests/vectors/received-stalwart.json`, Apache-2.0 OR MIT, see `tests/vectors/README.md`)
//! and what we expect from each: `tests/vectors/received-stalwart-expected.json`, the one
//! expected vector the Python, Node and C suites read too.
//!
//! This file is the only place that turns mail-parser's shapes into ours (host `Name`/`IpAddr`,
//! `TLSv1_3` → `TLSv1.3`, the date object → RFC 3339) and that lists the dates where the corpus
//! records mail-parser's own misreading ([`DATE_CORRECTIONS`]). The test builds the expected list
//! from those, checks the committed file equals it, and checks our parser field for field against
//! the file. `POSTWIRE_REGEN_VECTORS=1 cargo test -p postwire --test trace_corpus` rewrites it.

use std::path::PathBuf;

use postwire::trace::parse_received_value;
use serde_json::{json, Map, Value};

const REGEN: &str = "regenerate with POSTWIRE_REGEN_VECTORS=1 cargo test -p postwire --test trace_corpus";

fn vector(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../tests/vectors").join(name)
}

fn read_json(name: &str) -> Value {
    let p = vector(name);
    let text = std::fs::read_to_string(&p).unwrap_or_else(|e| panic!("{}: {e}", p.display()));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", p.display()))
}

fn host(v: &Value) -> Value {
    let o = v.as_object();
    o.and_then(|o| o.get("Name").or_else(|| o.get("IpAddr"))).cloned().unwrap_or(Value::Null)
}

fn s(v: &Value) -> Value {
    if v.is_string() {
        v.clone()
    } else {
        Value::Null
    }
}

/// `TLSv1_3` (the crate's enum name) → `TLSv1.3` (ours).
fn tls(v: &Value) -> Value {
    v.as_str().map_or(Value::Null, |t| t.replacen('_', ".", 1).into())
}

/// `Helo` / `Ehlo` / `Lhlo` → the command as sent.
fn helo_cmd(v: &Value) -> Value {
    v.as_str().map_or(Value::Null, |c| c.to_ascii_uppercase().into())
}

/// mail-parser's date object → RFC 3339, `Z` for a zero offset.
fn date(v: &Value) -> Value {
    if v.is_null() {
        return Value::Null;
    }
    let n = |k: &str| v.get(k).and_then(Value::as_i64).unwrap_or(0);
    let (th, tm) = (n("tz_hour"), n("tz_minute"));
    let zone = if th == 0 && tm == 0 {
        "Z".to_string()
    } else {
        let sign = if v["tz_before_gmt"].as_bool().unwrap_or(false) { '-' } else { '+' };
        format!("{sign}{th:02}:{tm:02}")
    };
    let (y, mo, d, h, mi, se) = (n("year"), n("month"), n("day"), n("hour"), n("minute"), n("second"));
    format!("{y:04}-{mo:02}-{d:02}T{h:02}:{mi:02}:{se:02}{zone}").into()
}

/// Dates where the corpus records mail-parser's own misreading and we read what the line says:
/// asctime dates (the grammar takes their numbers in RFC 5322 order and gets month 13, hour 50),
/// obsolete zone names (RFC 5322 §4.3: PST is -08:00, PDT -07:00, EDT -04:00; the grammar takes
/// UTC) and a date after a missing `;`. Each was checked by hand against the header text; the
/// reason goes into the vector as the case's `note`.
const DATE_CORRECTIONS: [(usize, &str, &str); 7] = [
    (13, "2003-02-07T10:18:12-08:00", "asctime date with a numeric zone"),
    (67, "2003-02-12T14:22:21-08:00", "obsolete zone PST = -08:00"),
    (69, "2003-02-20T16:13:20-07:00", "date after a missing ';'"),
    (117, "2005-11-13T14:50:12Z", "asctime date without a zone"),
    (118, "2005-11-13T15:38:52Z", "asctime date without a zone"),
    (151, "2018-09-14T14:36:56-04:00", "asctime date with the obsolete zone EDT = -04:00"),
    (163, "2006-06-02T08:15:21-07:00", "obsolete zone PDT = -07:00"),
];

/// The fields we compare, in our names (the JSON form every binding's `to_json`/`to_dict`
/// gives), each with the conversion from mail-parser's field of the same meaning.
type Convert = fn(&Value) -> Value;

const FIELDS: [(&str, Convert); 14] = [
    ("from", host),
    ("from_ip", s),
    ("from_iprev", s),
    ("by", host),
    ("for_", s),
    ("with", s),
    ("tls_version", tls),
    ("tls_cipher", s),
    ("id", s),
    ("ident", s),
    ("helo", host),
    ("helo_cmd", helo_cmd),
    ("via", s),
    ("date", date),
];

/// The expected vector: per corpus case (same order) its header, our expected fields (absent
/// ones as `null`) and, for a corrected date, a `note` saying why.
fn expected_vector(corpus: &[Value]) -> Vec<Value> {
    for (i, _, _) in DATE_CORRECTIONS {
        assert!(i < corpus.len(), "correction #{i} is past the corpus");
    }
    corpus
        .iter()
        .enumerate()
        .map(|(i, c)| {
            let e = &c["expected"];
            let mut fields: Map<String, Value> =
                FIELDS.iter().map(|(name, conv)| (name.to_string(), conv(&e[*name]))).collect();
            let mut case = json!({ "header": c["header"] });
            if let Some((_, ours, why)) = DATE_CORRECTIONS.iter().find(|(k, _, _)| *k == i) {
                assert_ne!(fields["date"], json!(ours), "#{i} is no longer a correction");
                fields.insert("date".into(), json!(ours));
                case["note"] =
                    json!(format!("date corrected: {why}; mail-parser reads {}", date(&e["date"])));
            }
            case["expected"] = Value::Object(fields);
            case
        })
        .collect()
}

/// The vector as committed: `header`, `note`, then the fields in [`FIELDS`] order, one a line
/// (serde_json's own pretty printer would sort the keys).
fn render(cases: &[Value]) -> String {
    let j = |v: &Value| serde_json::to_string(v).expect("json");
    let mut out = String::from("[\n");
    for (i, c) in cases.iter().enumerate() {
        out += &format!("  {{\n    \"header\": {},\n", j(&c["header"]));
        if let Some(note) = c.get("note") {
            out += &format!("    \"note\": {},\n", j(note));
        }
        let fields: Vec<String> = FIELDS
            .iter()
            .map(|(name, _)| format!("      \"{name}\": {}", j(&c["expected"][*name])))
            .collect();
        out += &format!("    \"expected\": {{\n{}\n    }}\n  }}", fields.join(",\n"));
        out += if i + 1 < cases.len() { ",\n" } else { "\n" };
    }
    out + "]\n"
}

#[test]
fn expected_vector_is_the_corpus_with_our_corrections() {
    let corpus = read_json("received-stalwart.json");
    let corpus = corpus.as_array().expect("array");
    assert_eq!(corpus.len(), 181);
    let built = expected_vector(corpus);
    let path = vector("received-stalwart-expected.json");
    if std::env::var_os("POSTWIRE_REGEN_VECTORS").is_some() {
        // Written aside and renamed, so the other test never reads half a file.
        let text = render(&built);
        let tmp = path.with_extension("json.tmp");
        std::fs::write(&tmp, text)
            .and_then(|()| std::fs::rename(&tmp, &path))
            .unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    }
    let committed = read_json("received-stalwart-expected.json");
    let committed = committed.as_array().expect("array");
    let differ: Vec<String> = (0..built.len().max(committed.len()))
        .filter(|&i| built.get(i) != committed.get(i))
        .map(|i| format!("#{i}"))
        .collect();
    assert!(
        differ.is_empty(),
        "{} differs from the corpus + conversions + DATE_CORRECTIONS in case {}; {REGEN}",
        path.display(),
        differ.join(", ")
    );
}

#[test]
fn stalwart_corpus_parses_field_for_field() {
    let cases = read_json("received-stalwart-expected.json");
    let cases = cases.as_array().expect("array");
    assert_eq!(cases.len(), 181);
    let mut failures = Vec::new();
    for (i, c) in cases.iter().enumerate() {
        let header = c["header"].as_str().expect("header");
        let got = serde_json::to_value(parse_received_value(header.as_bytes())).expect("serialize");
        let want = c["expected"].as_object().expect("expected");
        assert_eq!(want.len(), FIELDS.len(), "#{i}: {REGEN}");
        for (name, want) in want {
            let have = got.get(name).unwrap_or_else(|| panic!("#{i}: ReceivedLine has no field {name}"));
            if have != want {
                failures.push(format!("#{i} {name}: got {have}, expected {want} in {header:?}"));
            }
        }
    }
    assert!(failures.is_empty(), "{} mismatches:\n{}", failures.len(), failures.join("\n"));
}
