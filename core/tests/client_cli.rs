//! `postwire send` end to end against aiosmtpd: transcript on stdout, `--json`, exit codes.

mod client_support;

use std::process::Command;

use client_support::{aiosmtpd, wait_for_files};

fn postwire() -> Command {
    Command::new(env!("CARGO_BIN_EXE_postwire"))
}

#[test]
fn send_prints_the_transcript() {
    let peer = aiosmtpd(&[]);
    let server = format!("127.0.0.1:{}", peer.port);
    let out = postwire()
        .args(["send", "--server", &server, "--tls", "none", "--from", "a@example.test"])
        .args([
            "--to",
            "b@example.test",
            "--to",
            "c@example.test",
            "--subject",
            "cli",
            "--body",
            "hello from the cli",
        ])
        .args(["--hello", "cli.test", "--timeout", "10"])
        .output()
        .expect("run postwire");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "stdout: {stdout}\nstderr: {}", String::from_utf8_lossy(&out.stderr));
    assert!(stdout.contains(" -> EHLO cli.test"), "{stdout}");
    assert!(stdout.contains("<-  250"), "{stdout}");
    let files = wait_for_files(peer.dir.path(), ".eml", 1);
    let stored = String::from_utf8_lossy(&std::fs::read(&files[0]).expect("read")).into_owned();
    assert!(
        stored.contains("Subject: cli\r\n") && stored.contains("\r\n\r\nhello from the cli\r\n"),
        "{stored}"
    );
    assert!(stored.contains("Message-ID: <") && stored.contains("Date: "), "{stored}");
}

#[test]
fn send_json_and_data_file() {
    let peer = aiosmtpd(&["--refuse", "nobody@example.test"]);
    let dir = tempfile::tempdir().expect("tempdir");
    let file = dir.path().join("msg.eml");
    std::fs::write(&file, b"Subject: file\r\n\r\n.body\r\n").expect("write");
    let out = postwire()
        .args(["send", "--server", &format!("127.0.0.1:{}", peer.port), "--tls", "none", "--json"])
        .args(["--from", "a@example.test", "--to", "b@example.test", "--to", "nobody@example.test"])
        .arg("--data")
        .arg(&file)
        .output()
        .expect("run postwire");
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).expect("JSON on stdout");
    assert_eq!(v["accepted"], serde_json::json!(["b@example.test"]));
    assert_eq!(v["rejected"][0]["rcpt"], "nobody@example.test");
    assert_eq!(v["rejected"][0]["reply"]["code"], 550);
    assert_eq!(v["reply"]["code"], 250);
    assert_eq!(v["queue_id"], "AIO000001");
    assert!(v["transcript"].as_array().is_some_and(|t| !t.is_empty()));
    let files = wait_for_files(peer.dir.path(), ".eml", 1);
    assert_eq!(std::fs::read(&files[0]).expect("read"), b"Subject: file\r\n\r\n.body\r\n");
}

#[test]
fn send_exit_codes() {
    let peer = aiosmtpd(&["--refuse", "nobody@example.test"]);
    let server = format!("127.0.0.1:{}", peer.port);
    // Bad address: invalid input, exit 2, nothing sent.
    let out = postwire()
        .args([
            "send",
            "--server",
            &server,
            "--tls",
            "none",
            "--from",
            "a@example.test",
            "--to",
            "b@x\r\nRSET",
        ])
        .output()
        .expect("run");
    assert_eq!(out.status.code(), Some(2), "{}", String::from_utf8_lossy(&out.stderr));
    assert!(String::from_utf8_lossy(&out.stderr).contains("invalid_input"));
    // All recipients refused: exit 1, the error (with its reply) on stderr.
    let out = postwire()
        .args([
            "send",
            "--server",
            &server,
            "--tls",
            "none",
            "--from",
            "a@example.test",
            "--to",
            "nobody@example.test",
        ])
        .output()
        .expect("run");
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("rejected"));
    // Nothing listening: exit 1, kind connect.
    let port = client_support::free_port();
    let out = postwire()
        .args([
            "send",
            "--server",
            &format!("127.0.0.1:{port}"),
            "--from",
            "a@example.test",
            "--to",
            "b@example.test",
        ])
        .output()
        .expect("run");
    assert_eq!(out.status.code(), Some(1));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("connect"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn send_rejects_unusable_timeouts() {
    // Too large for a Duration (used to panic in Duration::from_secs_f64), not a number,
    // negative, zero, or rounding to zero: exit 2 with a message naming the option, before any
    // connection is tried — for the one timeout, the end-of-data one and a phase's.
    let port = client_support::free_port();
    let server = format!("127.0.0.1:{port}");
    for t in ["1e30", "NaN", "inf", "-1", "0", "1e-12"] {
        for (arg, names) in [
            (format!("--timeout={t}"), "timeout must be"),
            (format!("--data-timeout={t}"), "data_timeout must be"),
            (format!("--timeouts=rcpt={t}"), "timeouts[\"rcpt\"] must be"),
        ] {
            let out = postwire()
                .args(["send", "--server", &server, "--tls", "none", "--from", "a@example.test"])
                .args(["--to", "b@example.test", &arg])
                .output()
                .expect("run postwire");
            let stderr = String::from_utf8_lossy(&out.stderr);
            assert_eq!(out.status.code(), Some(2), "{arg}: {stderr}");
            assert!(stderr.contains("--timeout") && stderr.contains(names), "{arg}: {stderr}");
            assert!(!stderr.contains("panicked"), "{arg}: {stderr}");
        }
    }
}
