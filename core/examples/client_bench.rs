//! Client benchmark driver (used by `bench/client_bench.sh`, not a test): send N messages of
//! SIZE bytes to HOST:PORT, either over one session (`--sessions 1`, sequential sends on one
//! `Client`; with `--handle`, through a `ClientHandle` as the bindings do) or through a `Pool`
//! with `--sessions K` concurrent senders and K connections.
//! Prints one line: `sent=N secs=S msgs_per_sec=R cpu_us_per_msg=C` (CPU from getrusage of this
//! process, user + system).
//!
//! `cargo build --release --example client_bench` then
//! `target/release/examples/client_bench --port 2525 --messages 20000 --size 1024 --sessions 10`.

use std::time::{Duration, Instant};

use postwire::client::{
    Client, ClientHandle, ClientOptions, ClientTimeouts, Destination, Pool, PoolOptions, TlsMode,
};

fn cpu_secs() -> f64 {
    // SAFETY: getrusage only writes into the struct we pass.
    let mut ru: libc::rusage = unsafe { std::mem::zeroed() };
    unsafe { libc::getrusage(libc::RUSAGE_SELF, &mut ru) };
    let tv = |t: libc::timeval| t.tv_sec as f64 + t.tv_usec as f64 / 1e6;
    tv(ru.ru_utime) + tv(ru.ru_stime)
}

fn arg(args: &[String], name: &str, default: &str) -> String {
    args.iter()
        .position(|a| a == name)
        .and_then(|i| args.get(i + 1))
        .cloned()
        .unwrap_or_else(|| default.to_string())
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().collect();
    let host = arg(&args, "--host", "127.0.0.1");
    let port: u16 = arg(&args, "--port", "2525").parse()?;
    let n: usize = arg(&args, "--messages", "20000").parse()?;
    let size: usize = arg(&args, "--size", "1024").parse()?;
    let sessions: usize = arg(&args, "--sessions", "1").parse::<usize>()?.max(1);
    let threads: usize = arg(&args, "--threads", "1").parse::<usize>()?.max(1);
    let handle = args.iter().any(|a| a == "--handle");

    // A 1 KiB message: headers, then 64-byte lines up to `size` (CRLF included).
    let mut msg = b"From: bench@example.org\r\nTo: sink@example.net\r\nSubject: bench\r\n\r\n".to_vec();
    while msg.len() + 64 <= size {
        msg.extend_from_slice(&[b'x'; 62]);
        msg.extend_from_slice(b"\r\n");
    }
    while msg.len() + 2 < size {
        msg.push(b'y');
    }
    msg.extend_from_slice(b"\r\n");

    let mut o = ClientOptions::new(host, port);
    o.tls = TlsMode::None;
    o.hello_name = Some("bench.test".into());
    o.timeouts = ClientTimeouts::uniform(Duration::from_secs(30));
    o.record_transcript = false;
    let rcpt = vec!["sink@example.net".to_string()];

    let rt = if threads == 1 {
        tokio::runtime::Builder::new_current_thread().enable_all().build()?
    } else {
        tokio::runtime::Builder::new_multi_thread().worker_threads(threads).enable_all().build()?
    };
    let cpu0 = cpu_secs();
    let t0 = Instant::now();
    let sent = rt.block_on(async {
        if sessions == 1 && handle {
            let h = ClientHandle::connect(o).await?;
            for _ in 0..n {
                h.send("bench@example.org", &rcpt, &msg).await?;
            }
            h.quit().await?;
            Ok::<usize, postwire::Error>(n)
        } else if sessions == 1 {
            let mut c = Client::connect(o).await?;
            for _ in 0..n {
                c.send("bench@example.org", &rcpt, &msg).await?;
            }
            c.quit().await?;
            Ok::<usize, postwire::Error>(n)
        } else {
            let pool = Pool::new(PoolOptions {
                max_connections: sessions,
                max_per_destination: sessions,
                max_messages_per_connection: 0,
                ..Default::default()
            });
            let dest = Destination::new(o);
            let mut tasks = Vec::new();
            for k in 0..sessions {
                let share = n / sessions + usize::from(k < n % sessions);
                let (pool, dest, rcpt, msg) = (pool.clone(), dest.clone(), rcpt.clone(), msg.clone());
                tasks.push(tokio::spawn(async move {
                    for _ in 0..share {
                        pool.send(&dest, "bench@example.org", &rcpt, &msg).await?;
                    }
                    Ok::<usize, postwire::Error>(share)
                }));
            }
            let mut total = 0;
            for t in tasks {
                total += t.await.map_err(|e| postwire::Error::io(e.to_string()))??;
            }
            pool.close().await;
            Ok(total)
        }
    })?;
    let secs = t0.elapsed().as_secs_f64();
    let cpu = cpu_secs() - cpu0;
    println!(
        "sent={sent} secs={secs:.3} msgs_per_sec={:.0} cpu_us_per_msg={:.1}",
        sent as f64 / secs,
        cpu * 1e6 / sent as f64
    );
    Ok(())
}
