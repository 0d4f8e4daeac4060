//! Rough client throughput: N × 1 KiB messages over one session to HOST:PORT (e.g. Postfix's
//! smtp-sink), transcript off. `cargo run --release --example client_throughput -- 127.0.0.1:2525 20000`
//! The real benchmark lives in `bench/`; this is the quick check used while writing the client.

use std::time::Instant;

use postwire::client::{Client, ClientOptions, TlsMode};

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let server = args.get(1).map(String::as_str).unwrap_or("127.0.0.1:2525");
    let n: usize = args.get(2).and_then(|s| s.parse().ok()).unwrap_or(20_000);
    let (host, port) = server.rsplit_once(':').expect("HOST:PORT");
    let mut o = ClientOptions::new(host, port.parse().expect("port"));
    o.tls = TlsMode::None;
    o.record_transcript = false;
    let mut msg = b"From: a@example.test\r\nTo: b@example.test\r\nSubject: bench\r\n\r\n".to_vec();
    while msg.len() < 1024 {
        msg.extend_from_slice(b"0123456789012345678901234567890123456789012345678901234567890123456789\r\n");
    }
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().expect("runtime");
    rt.block_on(async {
        let mut c = Client::connect(o).await.expect("connect");
        let to = vec!["b@example.test".to_string()];
        let t = Instant::now();
        for _ in 0..n {
            c.send("a@example.test", &to, &msg).await.expect("send");
        }
        let s = t.elapsed().as_secs_f64();
        println!("{n} messages in {s:.3}s: {:.0} msg/s", n as f64 / s);
        let _ = c.quit().await;
    });
}
