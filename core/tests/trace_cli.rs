//! `postwire analyze`: the hop table and findings for a person, the same `TraceAnalysis` as JSON,
//! a file or standard input, and the exit codes (0 clean, 3 suspicious, 2 unreadable).

use std::io::Write;
use std::process::{Command, Stdio};

use serde_json::Value;

fn case(name: &str) -> String {
    let p = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../tests/vectors/received.json");
    let cases: Vec<Value> =
        serde_json::from_str(&std::fs::read_to_string(p).expect("vectors")).expect("json");
    let c = cases.iter().find(|c| c["name"] == name).unwrap_or_else(|| panic!("no case {name}"));
    c["message"].as_str().expect("message").to_string()
}

fn postwire(args: &[&str], stdin: Option<&str>) -> (i32, String) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_postwire"))
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("run postwire");
    let mut input = child.stdin.take().expect("stdin");
    input.write_all(stdin.unwrap_or("").as_bytes()).expect("write stdin");
    drop(input);
    let out = child.wait_with_output().expect("wait");
    (out.status.code().unwrap_or(-1), String::from_utf8_lossy(&out.stdout).into_owned())
}

#[test]
fn table_from_a_file() {
    let dir = tempfile::tempdir().expect("tempdir");
    let file = dir.path().join("m.eml");
    std::fs::write(&file, case("postfix_to_gmail")).expect("write");
    let (code, out) = postwire(&["analyze", file.to_str().expect("path")], None);
    assert_eq!(code, 0, "{out}");
    for want in [
        "4 hop(s)",
        "hop  from",
        "client.example.org [10.0.0.15]",
        "mx.google.com",
        "ESMTPSA",
        "suspicious: no",
    ] {
        assert!(out.contains(want), "{want:?} missing from\n{out}");
    }
}

#[test]
fn json_from_stdin_and_the_suspicious_exit_code() {
    let (code, out) = postwire(
        &["analyze", "-", "--json", "--trusted", "mx.victim.example"],
        Some(&case("forged_line_below")),
    );
    assert_eq!(code, 3, "{out}");
    let v: Value = serde_json::from_str(&out).expect("json");
    assert_eq!(v["suspicious"], true);
    assert_eq!(v["hops"].as_array().map(Vec::len), Some(2));
    let kinds: Vec<&str> =
        v["findings"].as_array().expect("findings").iter().filter_map(|f| f["kind"].as_str()).collect();
    assert!(kinds.contains(&"chain_break") && kinds.contains(&"after_trusted"), "{kinds:?}");
    assert_eq!(v["hops"][1]["by_host"], "mx.victim.example");
}

#[test]
fn unreadable_file_is_exit_2() {
    let (code, _) = postwire(&["analyze", "/nonexistent/postwire-analyze-input"], None);
    assert_eq!(code, 2);
    let (code, _) =
        postwire(&["analyze", "-", "--resolve", "--nameserver", "bogus"], Some("Subject: x\r\n\r\n"));
    assert_eq!(code, 2);
}
