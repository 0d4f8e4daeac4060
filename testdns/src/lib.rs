//! A small authoritative DNS server for postwire's tests, on hickory-server: it answers from one
//! data file, `tests/dns/zone.json`, so the Rust, Python, Node and C suites all resolve the same
//! names. Rust tests start it in-process ([`TestDns::start`]); the other suites run the
//! `postwire-testdns` binary (`src/main.rs`), which prints `READY <port>` like the other peers.
//!
//! Why a hand-written request handler rather than hickory's in-memory zone handler: the tests
//! need a name that answers SERVFAIL on purpose and CNAME loops served as they are, which an
//! authority refuses to hold; the handler is a table lookup and nothing more.
//!
//! Answers: a name listed under `servfail` gets SERVFAIL; a name with no record NXDOMAIN; a
//! query for a type the name lacks NOERROR with no answer (NODATA) — unless the name is a CNAME,
//! which is answered with the CNAME and, for other types, the chain followed inside the zone
//! (at most 8 steps, so a loop ends) the way an authoritative server adds in-zone targets.

use std::collections::{HashMap, HashSet};
use std::net::{IpAddr, SocketAddr};
use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::time::Duration;

use hickory_proto::op::{Metadata, ResponseCode};
use hickory_proto::rr::rdata::{A, AAAA, CNAME, MX, PTR, TXT};
use hickory_proto::rr::{Name, RData, Record, RecordType};
use hickory_server::net::runtime::Time;
use hickory_server::server::{Request, RequestHandler, ResponseHandler, ResponseInfo};
use hickory_server::zone_handler::MessageResponseBuilder;
use hickory_server::Server;

/// How many CNAME steps the server follows inside the zone for one answer.
const MAX_IN_ZONE_CHAIN: usize = 8;

/// The zone file as written: `[name, type, data]` triples.
#[derive(Debug, serde::Deserialize)]
struct ZoneFile {
    #[serde(default = "default_ttl")]
    ttl: u32,
    #[serde(default)]
    servfail: Vec<String>,
    records: Vec<(String, String, String)>,
}

fn default_ttl() -> u32 {
    60
}

/// Every record of the zone, by lower-case name without the trailing dot.
#[derive(Debug, Default)]
pub struct Zone {
    records: HashMap<String, Vec<Record>>,
    servfail: HashSet<String>,
}

/// The repository's zone file, `tests/dns/zone.json`.
pub fn default_zone_path() -> PathBuf {
    PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/../tests/dns/zone.json"))
}

fn key(name: &str) -> String {
    name.trim_end_matches('.').to_ascii_lowercase()
}

fn fqdn(name: &str) -> Result<Name, String> {
    let n = if name.ends_with('.') { name.to_string() } else { format!("{name}.") };
    Name::from_str(&n).map_err(|e| format!("bad name {name:?}: {e}"))
}

impl Zone {
    /// Read a zone file; an unknown type or bad data is an error naming the record.
    pub fn load(path: &Path) -> Result<Zone, String> {
        let text = std::fs::read_to_string(path).map_err(|e| format!("{}: {e}", path.display()))?;
        Zone::parse(&text)
    }

    /// Parse the JSON text of a zone file.
    pub fn parse(text: &str) -> Result<Zone, String> {
        let file: ZoneFile = serde_json::from_str(text).map_err(|e| format!("zone file: {e}"))?;
        let mut zone = Zone { servfail: file.servfail.iter().map(|n| key(n)).collect(), ..Zone::default() };
        for (name, rtype, data) in &file.records {
            let rdata = rdata(rtype, data).map_err(|e| format!("{name} {rtype} {data:?}: {e}"))?;
            let record = Record::from_rdata(fqdn(name)?, file.ttl, rdata);
            zone.records.entry(key(name)).or_default().push(record);
        }
        Ok(zone)
    }

    /// The records answering `name`/`rtype`, or the response code when there are none.
    pub fn answer(&self, name: &str, rtype: RecordType) -> Result<Vec<Record>, ResponseCode> {
        let mut name = key(name);
        if self.servfail.contains(&name) {
            return Err(ResponseCode::ServFail);
        }
        let mut out = Vec::new();
        for _ in 0..MAX_IN_ZONE_CHAIN {
            let Some(records) = self.records.get(&name) else {
                // The first name unknown: NXDOMAIN; a CNAME target outside the data: what we
                // have (the resolver asks again for the target).
                return if out.is_empty() { Err(ResponseCode::NXDomain) } else { Ok(out) };
            };
            let cname = records.iter().find(|r| r.record_type() == RecordType::CNAME);
            match cname {
                Some(c) if rtype != RecordType::CNAME => {
                    out.push(c.clone());
                    let RData::CNAME(target) = &c.data else { break };
                    name = key(&target.0.to_ascii());
                    if self.servfail.contains(&name) {
                        break;
                    }
                }
                _ => {
                    out.extend(records.iter().filter(|r| r.record_type() == rtype).cloned());
                    break;
                }
            }
        }
        Ok(out)
    }
}

fn rdata(rtype: &str, data: &str) -> Result<RData, String> {
    Ok(match rtype.to_ascii_uppercase().as_str() {
        "A" => RData::A(A(data.parse().map_err(|e| format!("{e}"))?)),
        "AAAA" => RData::AAAA(AAAA(data.parse().map_err(|e| format!("{e}"))?)),
        "CNAME" => RData::CNAME(CNAME(fqdn(data)?)),
        "TXT" => RData::TXT(TXT::new(vec![data.to_string()])),
        "PTR" => RData::PTR(PTR(fqdn(data)?)),
        "MX" => {
            let (pref, exchange) = data.split_once(' ').ok_or("MX data is 'PREFERENCE EXCHANGE'")?;
            let pref: u16 = pref.parse().map_err(|e| format!("preference: {e}"))?;
            let exchange = if exchange.trim() == "." { Name::root() } else { fqdn(exchange.trim())? };
            RData::MX(MX::new(pref, exchange))
        }
        other => return Err(format!("record type {other} is not supported by the test server")),
    })
}

/// The hickory request handler over a [`Zone`].
struct ZoneHandler {
    zone: Zone,
}

#[async_trait::async_trait]
impl RequestHandler for ZoneHandler {
    async fn handle_request<R: ResponseHandler, T: Time>(
        &self,
        request: &Request,
        mut response_handle: R,
    ) -> ResponseInfo {
        let builder = MessageResponseBuilder::from_message_request(request);
        let failed = |code| {
            let mut metadata = Metadata::response_from_request(&request.metadata);
            metadata.response_code = code;
            ResponseInfo::from(hickory_proto::op::Header { metadata, counts: Default::default() })
        };
        let Ok(info) = request.request_info() else {
            let msg = builder.error_msg(&request.metadata, ResponseCode::FormErr);
            return response_handle
                .send_response(msg)
                .await
                .unwrap_or_else(|_| failed(ResponseCode::FormErr));
        };
        let name = info.query.name().to_string();
        match self.zone.answer(&name, info.query.query_type()) {
            Ok(records) => {
                let mut metadata = Metadata::response_from_request(&request.metadata);
                metadata.authoritative = true;
                metadata.response_code = ResponseCode::NoError;
                let msg = builder.build(metadata, records.iter(), [], [], []);
                response_handle.send_response(msg).await.unwrap_or_else(|_| failed(ResponseCode::ServFail))
            }
            Err(code) => {
                let mut msg = builder.error_msg(&request.metadata, code);
                msg.metadata_mut().authoritative = code == ResponseCode::NXDomain;
                response_handle.send_response(msg).await.unwrap_or_else(|_| failed(code))
            }
        }
    }
}

/// A running test DNS server (UDP and TCP on the same port); stopped when dropped.
pub struct TestDns {
    addr: SocketAddr,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl TestDns {
    /// Serve the repository's zone on 127.0.0.1, any free port.
    pub fn start() -> Result<TestDns, String> {
        TestDns::start_with(&default_zone_path(), "127.0.0.1:0".parse().map_err(|_| "addr")?)
    }

    /// Serve the zone at `path` on `addr` (port 0: any free port, the same for UDP and TCP).
    pub fn start_with(path: &Path, addr: SocketAddr) -> Result<TestDns, String> {
        let zone = Zone::load(path)?;
        let (ready_tx, ready_rx) = std::sync::mpsc::channel();
        let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
        let thread = std::thread::spawn(move || {
            let rt = match tokio::runtime::Builder::new_current_thread().enable_all().build() {
                Ok(rt) => rt,
                Err(e) => {
                    let _ = ready_tx.send(Err(e.to_string()));
                    return;
                }
            };
            rt.block_on(async move {
                let bound = match bind(addr).await {
                    Ok(b) => b,
                    Err(e) => {
                        let _ = ready_tx.send(Err(e));
                        return;
                    }
                };
                let (udp, tcp, local) = bound;
                let mut server = Server::new(ZoneHandler { zone });
                server.register_socket(udp);
                server.register_listener(tcp, Duration::from_secs(10), 64 * 1024);
                let _ = ready_tx.send(Ok(local));
                let _ = stop_rx.await;
                let _ = server.shutdown_gracefully().await;
            });
        });
        let addr = ready_rx
            .recv_timeout(Duration::from_secs(10))
            .map_err(|_| "the test DNS server did not start within 10 s".to_string())??;
        Ok(TestDns { addr, stop: Some(stop_tx), thread: Some(thread) })
    }

    /// Where it listens.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// The `"ip:port"` string resolvers take as a nameserver.
    pub fn nameserver(&self) -> String {
        self.addr.to_string()
    }
}

/// Bind UDP and TCP on the same port: with port 0, the UDP port is taken first and TCP tries it
/// (a few times with fresh ports when TCP's is busy).
async fn bind(
    addr: SocketAddr,
) -> Result<(tokio::net::UdpSocket, tokio::net::TcpListener, SocketAddr), String> {
    let mut last = String::new();
    for _ in 0..20 {
        let udp = tokio::net::UdpSocket::bind(addr).await.map_err(|e| format!("bind UDP {addr}: {e}"))?;
        let local = udp.local_addr().map_err(|e| e.to_string())?;
        match tokio::net::TcpListener::bind(local).await {
            Ok(tcp) => return Ok((udp, tcp, local)),
            Err(e) if addr.port() == 0 => last = e.to_string(),
            Err(e) => return Err(format!("bind TCP {local}: {e}")),
        }
    }
    Err(format!("no port free for both UDP and TCP: {last}"))
}

impl Drop for TestDns {
    fn drop(&mut self) {
        if let Some(s) = self.stop.take() {
            let _ = s.send(());
        }
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// Parse `ip:port` for the binary's `--listen`.
pub fn parse_listen(s: &str) -> Result<SocketAddr, String> {
    s.parse::<SocketAddr>()
        .or_else(|_| s.parse::<IpAddr>().map(|ip| SocketAddr::new(ip, 0)))
        .map_err(|_| format!("--listen takes ip:port, not {s:?}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_repository_zone_loads_and_answers_each_kind() {
        let zone = Zone::load(&default_zone_path()).expect("zone");
        assert_eq!(zone.answer("nope.test", RecordType::MX).unwrap_err(), ResponseCode::NXDomain);
        assert_eq!(zone.answer("servfail.test", RecordType::MX).unwrap_err(), ResponseCode::ServFail);
        assert!(zone.answer("implicit.test", RecordType::MX).expect("nodata").is_empty());
        let chain = zone.answer("sh.abc.test", RecordType::MX).expect("chain");
        assert_eq!(chain[0].record_type(), RecordType::CNAME);
        assert_eq!(chain.iter().filter(|r| r.record_type() == RecordType::MX).count(), 2);
        let only = zone.answer("sh.abc.test", RecordType::CNAME).expect("cname");
        assert_eq!(only.len(), 1);
        // A loop ends after the in-zone step limit instead of spinning.
        assert_eq!(zone.answer("loop1.test", RecordType::MX).expect("loop").len(), MAX_IN_ZONE_CHAIN);
    }

    #[test]
    fn bad_zone_data_is_refused_with_the_record_named() {
        let e = Zone::parse(r#"{"records": [["x.test", "MX", "ten x.test"]]}"#).unwrap_err();
        assert!(e.contains("x.test MX"), "{e}");
        assert!(Zone::parse(r#"{"records": [["x.test", "SRV", "1"]]}"#).is_err());
    }
}
