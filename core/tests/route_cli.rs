//! `postwire mx` and `postwire queue` as a user runs them: the binary against the test DNS
//! server and a receiving server on 127.0.0.33.

mod route_support;

use std::process::Command;

use route_support::*;

fn postwire(args: &[&str]) -> (i32, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_postwire")).args(args).output().expect("run postwire");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn mx_prints_the_route_and_its_explanation() {
    let dns = dns();
    let ns = dns.nameserver();
    let (code, out, _) = postwire(&["mx", "sh.abc.test", "--nameserver", &ns]);
    assert_eq!(code, 0, "{out}");
    assert!(out.contains("CNAME chain: sh.abc.test → shmail.abc.test"), "{out}");
    assert!(
        out.contains("5 shmail.abc.test [127.0.0.2, ::1]") && out.contains("10 shmail2.abc.test [127.0.0.3]"),
        "{out}"
    );
    assert!(out.contains("query  MX shmail.abc.test"), "{out}");

    let (code, out, _) = postwire(&["mx", "equal.test", "--nameserver", &ns, "--seed", "4", "--json"]);
    assert_eq!(code, 0);
    let v: serde_json::Value = serde_json::from_str(&out).expect("json");
    assert_eq!(v["hosts"].as_array().map(Vec::len), Some(4));
    assert_eq!(v["hosts"][3]["exchange"], "d.equal.test");

    let (code, out, err) = postwire(&["mx", "nope.test", "--nameserver", &ns]);
    assert_eq!(code, 1, "{out}{err}");
    assert!(err.contains("NXDOMAIN") && out.contains("query  CNAME nope.test"), "{out}{err}");
    let (code, out, _) = postwire(&["mx", "servfail.test", "--nameserver", &ns, "--json"]);
    assert_eq!(code, 1);
    let v: serde_json::Value = serde_json::from_str(&out).expect("json");
    assert_eq!(v["error"]["kind"], "dns");
    assert_eq!(v["error"]["reply"]["code"], 451);
    assert_eq!(postwire(&["mx", "bad domain", "--nameserver", &ns]).0, 2);
}

#[test]
fn queue_list_run_and_flush_over_a_spool() {
    let dns = dns();
    let ns = dns.nameserver();
    let port = port_free_on(&["127.0.0.33"]);
    let spool = tempfile::tempdir().unwrap();
    let sp = spool.path().to_str().unwrap();
    {
        let q = postwire::queue::Queue::open(spool.path(), Default::default()).unwrap();
        for i in 0..3 {
            q.submit_blocking(
                &postwire::queue::NewEntry::new("s@sender.test", &[format!("u{i}@dest.test")]),
                b"Subject: cli\r\n\r\nhi\r\n",
            )
            .unwrap();
        }
    }
    let (code, out, _) = postwire(&["queue", "list", "--spool", sp]);
    assert_eq!(code, 0);
    assert_eq!(out.matches("pending").count(), 3, "{out}");
    let (_, out, _) = postwire(&["queue", "list", "--spool", sp, "--json"]);
    let v: serde_json::Value = serde_json::from_str(&out).expect("json");
    assert_eq!(v.as_array().map(Vec::len), Some(3));
    assert_eq!(v[0]["recipients"][0]["status"], "pending");

    let dest = Receiver::start(
        "127.0.0.33",
        port,
        &["dest.test"],
        Behaviour { defer_later: true, ..Default::default() },
    );
    let p = port.to_string();
    let deliver = [
        "--nameserver",
        ns.as_str(),
        "--port",
        p.as_str(),
        "--allow-loopback",
        "--tls",
        "none",
        "--timeout",
        "10",
    ];
    let mut args = vec!["queue", "run", "--spool", sp, "--json"];
    args.extend(deliver);
    let (code, out, err) = postwire(&args);
    assert_eq!(code, 0, "{out}{err}");
    let v: serde_json::Value = serde_json::from_str(&out).expect("json");
    assert_eq!((v["delivered"].as_u64(), v["remaining"].as_u64()), (Some(3), Some(0)), "{v}");
    assert_eq!(dest.seen().len(), 3);

    // A deferred entry stays until flush, and flush tries it at once.
    {
        let q = postwire::queue::Queue::open(spool.path(), Default::default()).unwrap();
        q.submit_blocking(
            &postwire::queue::NewEntry::new("s@sender.test", &["later@dest.test".into()]),
            b"x\r\n",
        )
        .unwrap();
    }
    let mut args = vec!["queue", "run", "--spool", sp];
    args.extend(deliver);
    let (code, out, _) = postwire(&args);
    assert_eq!(code, 0);
    assert!(out.contains("1 deferred") && out.contains("1 entries left"), "{out}");
    let mut args = vec!["queue", "run", "--spool", sp];
    args.extend(deliver);
    let (_, out, _) = postwire(&args);
    assert!(out.contains("run: 0 entries"), "not due yet: {out}");
    let mut args = vec!["queue", "flush", "--spool", sp];
    args.extend(deliver);
    let (_, out, _) = postwire(&args);
    assert!(out.contains("flush: 1 entries") && out.contains("1 deferred"), "{out}");
    assert_eq!(postwire(&["queue", "run", "--spool", sp, "--retry", "x"]).0, 2);
}
