//! Shared helpers of the client tests: the real peers (aiosmtpd, Node's smtp-server, Postfix's
//! smtp-sink) come from `peer_support` and are re-exported here; our own server with recording
//! hooks is `our_server`; this module owns the client tests' own options, reading smtp-sink
//! dumps, a test PKI made with rcgen, self-signed certificates made by the `openssl` command line,
//! and a scripted tokio SMTP server for the hostile and injection cases.
#![allow(dead_code)]

pub mod our_server;
#[path = "../peer_support/mod.rs"]
mod peer_support;

use std::path::PathBuf;
use std::time::Duration;

use postwire::client::ClientOptions;
use tempfile::TempDir;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

// Each test file uses some of these, none uses all.
#[allow(unused_imports)]
pub use peer_support::{
    aiosmtpd, free_port, node_peer, normalized, python, repo_root, smtp_sink, wait_for_files, Peer,
};

/// Client options for a loopback test peer: no TLS, 10 s timeouts, EHLO `client.test`.
pub fn opts(port: u16) -> ClientOptions {
    peer_support::opts_as(port, "client.test")
}

/// The message part of an smtp-sink dump file: after its X- headers and its own Received
/// header, without the trailing empty line, LF line ends (smtp-sink writes lines with LF).
pub fn sink_message(dump: &[u8]) -> Vec<u8> {
    let text = dump;
    let mut lines: Vec<&[u8]> = text.split(|b| *b == b'\n').collect();
    // split leaves one empty element after the final LF, and the dump adds an empty line.
    if lines.last() == Some(&&b""[..]) {
        lines.pop();
    }
    if lines.last() == Some(&&b""[..]) {
        lines.pop();
    }
    let mut i = 0;
    while i < lines.len() && lines[i].starts_with(b"X-") {
        i += 1;
    }
    if i < lines.len() && lines[i].starts_with(b"Received:") {
        i += 1;
        while i < lines.len() && lines[i].starts_with(b"\t") {
            i += 1;
        }
    }
    let mut out = Vec::new();
    for l in &lines[i..] {
        out.extend_from_slice(l);
        out.push(b'\n');
    }
    out
}

/// Test certificates: a CA made with rcgen and a leaf for `localhost` / `127.0.0.1` signed by it.
pub struct Pki {
    /// Keeps the files alive.
    pub dir: TempDir,
    /// CA certificate (PEM file).
    pub ca: PathBuf,
    /// Leaf certificate (PEM file).
    pub cert: PathBuf,
    /// Leaf private key (PEM file).
    pub key: PathBuf,
    /// Leaf certificate PEM.
    pub cert_pem: String,
    /// Leaf key PEM.
    pub key_pem: String,
}

/// Make a fresh test PKI.
pub fn pki() -> Pki {
    use rcgen::{
        BasicConstraints, CertificateParams, DnType, ExtendedKeyUsagePurpose, IsCa, KeyPair, KeyUsagePurpose,
    };
    let mut ca_params = CertificateParams::new(Vec::<String>::new()).expect("ca params");
    ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    ca_params.distinguished_name.push(DnType::CommonName, "postwire test CA");
    ca_params.key_usages =
        vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign, KeyUsagePurpose::DigitalSignature];
    let ca_key = KeyPair::generate().expect("ca key");
    let ca_cert = ca_params.self_signed(&ca_key).expect("ca cert");
    let mut leaf_params =
        CertificateParams::new(vec!["localhost".to_string(), "127.0.0.1".to_string()]).expect("leaf params");
    leaf_params.distinguished_name.push(DnType::CommonName, "localhost");
    leaf_params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
    let leaf_key = KeyPair::generate().expect("leaf key");
    let leaf = leaf_params.signed_by(&leaf_key, &ca_cert, &ca_key).expect("leaf cert");
    let dir = tempfile::tempdir().expect("tempdir");
    let ca = dir.path().join("ca.pem");
    let cert = dir.path().join("cert.pem");
    let key = dir.path().join("key.pem");
    let cert_pem = leaf.pem();
    let key_pem = leaf_key.serialize_pem();
    std::fs::write(&ca, ca_cert.pem()).expect("write ca");
    std::fs::write(&cert, &cert_pem).expect("write cert");
    std::fs::write(&key, &key_pem).expect("write key");
    Pki { dir, ca, cert, key, cert_pem, key_pem }
}

/// A self-signed certificate and key made by the `openssl` command line exactly as an admin
/// following a how-to does (OpenSSL 3's `req -x509` marks it `CA:TRUE`), for `localhost` and
/// `127.0.0.1`; `cn` names it. Returns (directory, certificate, key).
pub fn openssl_self_signed(cn: &str) -> (TempDir, PathBuf, PathBuf) {
    let dir = tempfile::tempdir().expect("tempdir");
    let cert = dir.path().join("cert.pem");
    let key = dir.path().join("key.pem");
    let out = std::process::Command::new("openssl")
        .args(["req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2"])
        .arg("-keyout")
        .arg(&key)
        .arg("-out")
        .arg(&cert)
        .args(["-subj", &format!("/CN={cn}"), "-addext", "subjectAltName=DNS:localhost,IP:127.0.0.1"])
        .output()
        .unwrap_or_else(|e| panic!("cannot run openssl: {e} — run `make deps`"));
    assert!(out.status.success(), "openssl req -x509 failed: {}", String::from_utf8_lossy(&out.stderr));
    (dir, cert, key)
}

/// A server-side rustls acceptor for the test PKI (for the scripted server).
pub fn tls_acceptor(p: &Pki) -> tokio_rustls::TlsAcceptor {
    use rustls::pki_types::pem::PemObject;
    use rustls::pki_types::{CertificateDer, PrivateKeyDer};
    let certs: Vec<CertificateDer<'static>> =
        CertificateDer::pem_slice_iter(p.cert_pem.as_bytes()).collect::<Result<_, _>>().expect("certs");
    let key = PrivateKeyDer::from_pem_slice(p.key_pem.as_bytes()).expect("a key");
    let config = rustls::ServerConfig::builder_with_provider(std::sync::Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .expect("versions")
    .with_no_client_auth()
    .with_single_cert(certs, key)
    .expect("server config");
    tokio_rustls::TlsAcceptor::from(std::sync::Arc::new(config))
}

/// What the scripted server does after a line.
pub enum Step {
    /// Write these bytes and keep reading.
    Reply(Vec<u8>),
    /// Write these bytes, then run a TLS handshake and continue over TLS.
    StartTls(Vec<u8>),
    /// Write these bytes (maybe none) and close.
    Close(Vec<u8>),
    /// Say nothing and keep reading.
    Silent,
}

/// A one-connection scripted SMTP server: it sends `banner`, then hands every CRLF-terminated
/// line it receives to `respond`. The join handle yields every byte it received (including
/// those after STARTTLS, decrypted). Bounded: it gives up after 20 s.
pub async fn scripted<F>(
    banner: &[u8],
    tls: Option<tokio_rustls::TlsAcceptor>,
    mut respond: F,
) -> (u16, tokio::task::JoinHandle<Vec<u8>>)
where
    F: FnMut(&[u8]) -> Step + Send + 'static,
{
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let port = listener.local_addr().expect("addr").port();
    let banner = banner.to_vec();
    let handle = tokio::spawn(async move {
        let mut seen = Vec::new();
        let work = async {
            let (mut tcp, _) = listener.accept().await.expect("accept");
            tcp.write_all(&banner).await.ok()?;
            let mut pending = Vec::new();
            let mut buf = [0u8; 4096];
            loop {
                while let Some(i) = pending.iter().position(|b| *b == b'\n') {
                    let line: Vec<u8> = pending.drain(..=i).collect();
                    let step = respond(&line);
                    let (bytes, then) = match step {
                        Step::Reply(b) => (b, 0),
                        Step::StartTls(b) => (b, 1),
                        Step::Close(b) => (b, 2),
                        Step::Silent => (Vec::new(), 0),
                    };
                    if !bytes.is_empty() {
                        tcp.write_all(&bytes).await.ok()?;
                    }
                    if then == 2 {
                        return Some(());
                    }
                    if then == 1 {
                        let acceptor = tls.clone().expect("StartTls step needs an acceptor");
                        pending.clear();
                        let s = acceptor.accept(tcp).await.ok()?;
                        return serve_tls(s, &mut respond, &mut seen).await;
                    }
                }
                let n = tcp.read(&mut buf).await.ok()?;
                if n == 0 {
                    return Some(());
                }
                seen.extend_from_slice(&buf[..n]);
                pending.extend_from_slice(&buf[..n]);
            }
        };
        let _ = tokio::time::timeout(Duration::from_secs(20), work).await;
        seen
    });
    (port, handle)
}

async fn serve_tls<F>(
    mut s: tokio_rustls::server::TlsStream<tokio::net::TcpStream>,
    respond: &mut F,
    seen: &mut Vec<u8>,
) -> Option<()>
where
    F: FnMut(&[u8]) -> Step,
{
    let mut pending = Vec::new();
    let mut buf = [0u8; 4096];
    loop {
        while let Some(i) = pending.iter().position(|b| *b == b'\n') {
            let line: Vec<u8> = pending.drain(..=i).collect();
            match respond(&line) {
                Step::Reply(b) | Step::StartTls(b) => s.write_all(&b).await.ok()?,
                Step::Close(b) => {
                    let _ = s.write_all(&b).await;
                    return Some(());
                }
                Step::Silent => {}
            }
        }
        let n = s.read(&mut buf).await.ok()?;
        if n == 0 {
            return Some(());
        }
        seen.extend_from_slice(&buf[..n]);
        pending.extend_from_slice(&buf[..n]);
    }
}

/// A simple well-behaved responder for the scripted server: EHLO with `caps`, 250 to
/// MAIL/RCPT/RSET/NOOP, 354 to DATA then 250 after the dot, 221 and close on QUIT.
pub fn polite(caps: &'static [&'static str]) -> impl FnMut(&[u8]) -> Step + Send + 'static {
    let mut in_data = false;
    move |line: &[u8]| {
        if in_data {
            if line == b".\r\n" {
                in_data = false;
                return Step::Reply(b"250 2.0.0 Ok: queued as SCRIPT1\r\n".to_vec());
            }
            return Step::Silent;
        }
        let upper = String::from_utf8_lossy(line).to_ascii_uppercase();
        if upper.starts_with("EHLO") {
            let mut r = String::from("250-scripted.test\r\n");
            for (i, c) in caps.iter().enumerate() {
                let sep = if i + 1 == caps.len() { ' ' } else { '-' };
                r.push_str(&format!("250{sep}{c}\r\n"));
            }
            if caps.is_empty() {
                r = "250 scripted.test\r\n".into();
            }
            Step::Reply(r.into_bytes())
        } else if upper.starts_with("DATA") {
            in_data = true;
            Step::Reply(b"354 go ahead\r\n".to_vec())
        } else if upper.starts_with("QUIT") {
            Step::Close(b"221 bye\r\n".to_vec())
        } else {
            Step::Reply(b"250 ok\r\n".to_vec())
        }
    }
}
