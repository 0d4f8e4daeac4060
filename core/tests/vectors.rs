//! Runs the shared, language-neutral vectors in `tests/vectors/*.json` (commands, replies,
//! addresses) against the sans-IO protocol core. The Python, Node and C suites read the same
//! files; the format is described in `tests/vectors/README.md`.

use postwire::proto::address::{parse_mailbox, parse_path};
use postwire::proto::command::parse_command;
// The JSON view of parsed values lives in the core, so every binding compares the same fields.
use postwire::proto::describe::{command_value, mailbox_fields, path_fields};
use postwire::proto::{ParseOptions, Reply, ReplyLimits};
use postwire::ErrorKind;
use serde_json::{json, Map, Value};

fn load(name: &str) -> Vec<Value> {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../tests/vectors/").to_string() + name;
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"));
    let v: Value = serde_json::from_str(&text).unwrap_or_else(|e| panic!("{path}: {e}"));
    let arr = v.as_array().unwrap_or_else(|| panic!("{path}: not an array")).clone();
    assert!(!arr.is_empty(), "{path}: no vectors");
    arr
}

fn opts(v: &Value) -> ParseOptions {
    ParseOptions {
        strict: v["strict"].as_bool().unwrap_or(false),
        smtputf8: v["smtputf8"].as_bool().unwrap_or(false),
    }
}

/// Each key of `expect` must be present in `actual` with the same value.
fn check_subset(what: &str, expect: &Value, actual: &Value) -> Result<(), String> {
    let exp = expect.as_object().ok_or_else(|| format!("{what}: expect is not an object"))?;
    for (k, v) in exp {
        match actual.get(k) {
            Some(a) if a == v => {}
            Some(a) => return Err(format!("{what}: {k}: expected {v}, got {a}")),
            None => return Err(format!("{what}: {k}: missing in {actual}")),
        }
    }
    Ok(())
}

fn hex(s: &str) -> Vec<u8> {
    (0..s.len()).step_by(2).map(|i| u8::from_str_radix(&s[i..i + 2], 16).expect("hex")).collect()
}

fn report(kind: &str, total: usize, failures: Vec<String>) {
    assert!(failures.is_empty(), "{kind}: {} of {total} failed:\n{}", failures.len(), failures.join("\n"));
}

#[test]
fn command_vectors() {
    let vectors = load("commands.json");
    let mut failures = Vec::new();
    for (i, v) in vectors.iter().enumerate() {
        let line = match (v["line"].as_str(), v["line_hex"].as_str()) {
            (Some(l), _) => l.as_bytes().to_vec(),
            (None, Some(h)) => hex(h),
            _ => panic!("vector {i}: no line"),
        };
        let what = format!("#{i} {:?} strict={}", String::from_utf8_lossy(&line), opts(v).strict);
        let got = parse_command(&line, &opts(v));
        let res = match (&got, v.get("expect"), v.get("error")) {
            (Ok(c), Some(exp), None) => check_subset(&what, exp, &command_value(c)),
            (Err(e), None, Some(err)) => {
                let r = e.reply();
                check_subset(&what, err, &json!({ "code": r.code, "enhanced": r.enhanced }))
            }
            (Ok(c), _, Some(err)) => Err(format!("{what}: expected error {err}, parsed {c:?}")),
            (Err(e), Some(exp), _) => Err(format!("{what}: expected {exp}, got error {e:?}")),
            _ => Err(format!("{what}: vector needs exactly one of expect/error")),
        };
        if let Err(m) = res {
            failures.push(m);
        }
    }
    report("commands.json", vectors.len(), failures);
}

#[test]
fn reply_vectors() {
    let vectors = load("replies.json");
    let mut failures = Vec::new();
    for (i, v) in vectors.iter().enumerate() {
        let name = format!("#{i} {}", v["name"].as_str().unwrap_or("?"));
        let wire = v["wire"].as_str().expect("wire").as_bytes();
        if let Some(b) = v.get("build") {
            let code = b["code"].as_u64().expect("code") as u16;
            let r = Reply::new(code, b["text"].as_str().expect("text"), b["enhanced"].as_str());
            if r.to_wire() != wire {
                failures.push(format!("{name}: built {:?}", String::from_utf8_lossy(&r.to_wire())));
            }
            match Reply::parse(wire, &ReplyLimits::default()) {
                Ok(Some((p, n))) if p == r && n == wire.len() => {}
                other => failures.push(format!("{name}: re-parse gave {other:?}")),
            }
            continue;
        }
        let limits = match v.get("limits") {
            Some(l) => ReplyLimits {
                max_line: l["max_line"].as_u64().expect("max_line") as usize,
                max_lines: l["max_lines"].as_u64().expect("max_lines") as usize,
            },
            None => ReplyLimits::default(),
        };
        let res = match Reply::parse(wire, &limits) {
            Ok(Some((r, n))) => match v.get("expect") {
                Some(exp) => {
                    let actual =
                        json!({ "code": r.code, "enhanced": r.enhanced, "lines": r.lines, "consumed": n });
                    check_subset(&name, exp, &actual)
                }
                None => Err(format!("{name}: parsed {r:?} but expected no reply")),
            },
            Ok(None) if v["incomplete"] == json!(true) => Ok(()),
            Ok(None) => Err(format!("{name}: incomplete")),
            Err(e) if v.get("error").is_some() && e.kind() == ErrorKind::Protocol => Ok(()),
            Err(e) => Err(format!("{name}: error {e}")),
        };
        if let Err(m) = res {
            failures.push(m);
        }
    }
    report("replies.json", vectors.len(), failures);
}

#[test]
fn address_vectors() {
    let vectors = load("addresses.json");
    let mut failures = Vec::new();
    for (i, v) in vectors.iter().enumerate() {
        let input = v["input"].as_str().expect("input");
        let o = opts(v);
        let what = format!("#{i} {input:?} kind={} strict={} smtputf8={}", v["kind"], o.strict, o.smtputf8);
        let actual: Result<Value, String> = match v["kind"].as_str() {
            Some("mailbox") => parse_mailbox(input).map_err(|e| e.0).map(|m| {
                let mut o = Map::new();
                mailbox_fields(&m, &mut o);
                o.insert("null".into(), json!(false));
                o.insert("postmaster".into(), json!(false));
                o.insert("source_route".into(), json!([]));
                o.insert("display".into(), json!(m.to_string()));
                o.insert("rest".into(), json!(""));
                Value::Object(o)
            }),
            Some("path") => parse_path(input, &o).map_err(|e| e.0).map(|(p, rest)| {
                let mut o = Map::new();
                path_fields(&p, &mut o);
                o.insert("display".into(), json!(p.to_string()));
                o.insert("rest".into(), json!(rest));
                Value::Object(o)
            }),
            k => panic!("{what}: unknown kind {k:?}"),
        };
        let res = match (actual, v.get("expect")) {
            (Ok(a), Some(exp)) => check_subset(&what, exp, &a),
            (Ok(a), None) => Err(format!("{what}: expected an error, got {a}")),
            (Err(_), None) => Ok(()),
            (Err(e), Some(_)) => Err(format!("{what}: error {e}")),
        };
        if let Err(m) = res {
            failures.push(m);
        }
    }
    report("addresses.json", vectors.len(), failures);
}
