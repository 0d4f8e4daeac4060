//! `postwire relay-check`: the probe table and verdict for a person, the `RelayReport` as JSON,
//! the exit codes (0 closed, 3 open, 1 unreachable, 2 bad arguments).

mod relay_support;

use std::process::{Command, Stdio};

use relay_support::our_server;
use serde_json::Value;

fn postwire(args: &[&str]) -> (i32, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_postwire"))
        .args(args)
        .stdin(Stdio::null())
        .stderr(Stdio::inherit())
        .output()
        .expect("run postwire");
    (out.status.code().unwrap_or(-1), String::from_utf8_lossy(&out.stdout).into_owned())
}

#[test]
fn closed_server_table() {
    let s = our_server(false);
    let server = format!("127.0.0.1:{}", s.addr.port());
    let (code, out) = postwire(&["relay-check", &server, "--tls", "none", "--timeout", "20"]);
    assert_eq!(code, 0, "{out}");
    for want in [
        "server mx.test.example",
        "nmap_null_sender",
        "refused",
        "external_to_internal",
        "(control)",
        "not an open relay",
    ] {
        assert!(out.contains(want), "{want:?} missing from\n{out}");
    }
}

#[test]
fn open_server_json_and_exit_code() {
    let s = our_server(true);
    let server = format!("127.0.0.1:{}", s.addr.port());
    let (code, out) = postwire(&[
        "relay-check",
        &server,
        "--tls",
        "none",
        "--json",
        "--test",
        "nmap_bang_at_ip",
        "--test",
        "nmap_double_at_ip",
    ]);
    assert_eq!(code, 3, "{out}");
    let v: Value = serde_json::from_str(&out).expect("json");
    assert_eq!(v["open"], true);
    assert_eq!(v["evidence"], serde_json::json!(["nmap_bang_at_ip"]));
    // Results come in matrix order, whatever the order of --test.
    assert_eq!(v["results"][0]["name"], "nmap_double_at_ip");
    assert_eq!(v["results"][0]["verdict"], "refused");
    assert_eq!(v["results"][0]["reply"]["code"], 501);
    assert_eq!(v["results"][1]["verdict"], "relayed");
    assert!(v["results"][1]["transcript"]
        .as_array()
        .expect("transcript")
        .iter()
        .any(|l| l == " -> RCPT TO:<relay-probe.invalid!relaytest@[127.0.0.1]>"));
}

#[test]
fn unreachable_and_bad_arguments() {
    let port = relay_support::peer_support::free_port();
    let (code, _) = postwire(&["relay-check", &format!("127.0.0.1:{port}"), "--tls", "none"]);
    assert_eq!(code, 1);
    let (code, _) = postwire(&["relay-check", "127.0.0.1:notaport"]);
    assert_eq!(code, 2);
    let (code, out) = postwire(&["relay-check", "127.0.0.1", "--test", "list"]);
    assert_eq!(code, 0);
    assert!(out.lines().count() >= 40 && out.contains("dsbl_unqualified_bare"), "{out}");
}
