//! `postwire-testdns [--zone FILE] [--listen IP:PORT]`: the test DNS server as a process, for the
//! Python, Node and C suites. Prints `READY <port>` once UDP and TCP listen (the same line the
//! other test peers print), then serves until its standard input closes or it is killed.

use std::io::Read;

fn main() {
    let mut zone = postwire_testdns::default_zone_path();
    let mut listen = "127.0.0.1:0".to_string();
    let mut args = std::env::args().skip(1);
    while let Some(a) = args.next() {
        match (a.as_str(), args.next()) {
            ("--zone", Some(v)) => zone = v.into(),
            ("--listen", Some(v)) => listen = v,
            _ => {
                eprintln!("usage: postwire-testdns [--zone FILE] [--listen IP:PORT]");
                std::process::exit(2);
            }
        }
    }
    let addr = match postwire_testdns::parse_listen(&listen) {
        Ok(a) => a,
        Err(e) => {
            eprintln!("postwire-testdns: {e}");
            std::process::exit(2);
        }
    };
    let server = match postwire_testdns::TestDns::start_with(&zone, addr) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("postwire-testdns: {e}");
            std::process::exit(1);
        }
    };
    println!("READY {}", server.addr().port());
    // Serve until the parent closes our stdin (or kills us), like the other peers.
    let mut sink = Vec::new();
    let _ = std::io::stdin().read_to_end(&mut sink);
    drop(server);
}
