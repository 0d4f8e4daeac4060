//! Issue 8 item 10: a `ca_file` holding the server's own self-signed certificate, made by OpenSSL
//! 3's `req -x509` (which marks it `CA:TRUE`), is trusted for that server — as Python's `ssl`
//! trusts it — while the name and the dates are still checked, and every refusal reads as a
//! sentence. The server is our own, offering STARTTLS with that certificate.

mod client_support;

use std::process::Command;

use client_support::our_server::{start, Script};
use client_support::{openssl_self_signed, opts, python};
use postwire::client::{Client, ClientOptions, TlsMode};
use postwire::server::ServerOptions;
use postwire::ErrorKind;

fn tls_server(cert: &std::path::Path, key: &std::path::Path) -> client_support::our_server::Running {
    let o = ServerOptions { tls_cert: Some(cert.into()), tls_key: Some(key.into()), ..Default::default() };
    start(o, Script::default())
}

fn starttls(port: u16, ca_file: &std::path::Path) -> ClientOptions {
    let mut o = opts(port);
    o.tls = TlsMode::StartTls;
    o.ca_file = Some(ca_file.into());
    o
}

#[tokio::test]
async fn openssl_self_signed_certificate_in_ca_file_is_trusted_like_python_does() {
    let (_dir, cert, key) = openssl_self_signed("postwire pinned test");
    let srv = tls_server(&cert, &key);

    // Python's ssl accepts this very file for this very server (the behaviour we match).
    let script = "import smtplib, ssl, sys\n\
                  ctx = ssl.create_default_context(cafile=sys.argv[2])\n\
                  s = smtplib.SMTP('127.0.0.1', int(sys.argv[1]), timeout=10)\n\
                  s.starttls(context=ctx)\n\
                  print('python ok', s.sock.version())\n\
                  s.quit()\n";
    let out = Command::new(python())
        .args(["-c", script, &srv.port.to_string()])
        .arg(&cert)
        .output()
        .expect("run python");
    assert!(out.status.success(), "python refused it: {}", String::from_utf8_lossy(&out.stderr));

    // By address (the certificate has IP:127.0.0.1) and by name (DNS:localhost).
    for server_name in [None, Some("localhost")] {
        let mut o = starttls(srv.port, &cert);
        o.tls_server_name = server_name.map(str::to_string);
        let mut c = Client::connect(o).await.unwrap_or_else(|e| panic!("{server_name:?}: {e}"));
        assert!(c.is_tls());
        let r =
            c.send("a@example.org", &["b@test.example".to_string()], b"Subject: pinned\r\n\r\nx\r\n").await;
        assert_eq!(r.expect("send over the pinned session").reply.code, 250);
        c.quit().await.expect("quit");
    }
    assert_eq!(srv.stored().len(), 2);
}

#[tokio::test]
async fn pinned_certificate_must_still_carry_the_name() {
    let (_dir, cert, key) = openssl_self_signed("postwire pinned test");
    let srv = tls_server(&cert, &key);
    let mut o = starttls(srv.port, &cert);
    o.tls_server_name = Some("mx.other.example".into());
    let e = Client::connect(o).await.expect_err("wrong name");
    assert_eq!(e.kind(), ErrorKind::Tls, "{e}");
    assert!(e.message().contains("not for mx.other.example"), "{e}");
    assert!(e.message().contains("localhost"), "{e}");
    assert!(!e.message().contains("OtherError"), "{e}");
}

#[tokio::test]
async fn another_self_signed_certificate_is_refused_in_words() {
    let (_dir, cert, key) = openssl_self_signed("the server's");
    let (_dir2, other, _) = openssl_self_signed("someone else's");
    let srv = tls_server(&cert, &key);
    let e = Client::connect(starttls(srv.port, &other)).await.expect_err("not the pinned certificate");
    assert_eq!(e.kind(), ErrorKind::Tls, "{e}");
    assert!(e.message().contains("is a CA certificate"), "{e}");
    assert!(e.message().contains("ca_file"), "{e}");
    assert!(!e.message().contains("CaUsedAsEndEntity"), "{e}");
}

#[tokio::test]
async fn expired_pinned_certificate_is_refused() {
    // webpki checks the dates before it finds a CA certificate in the server's place; this test
    // holds that order to account: a pinned certificate must never skip the date check.
    use rcgen::{BasicConstraints, CertificateParams, DnType, IsCa, KeyPair};
    let mut params =
        CertificateParams::new(vec!["localhost".to_string(), "127.0.0.1".to_string()]).expect("params");
    params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    params.distinguished_name.push(DnType::CommonName, "expired pinned");
    params.not_before = rcgen::date_time_ymd(2020, 1, 1);
    params.not_after = rcgen::date_time_ymd(2021, 1, 1);
    let key = KeyPair::generate().expect("key");
    let cert = params.self_signed(&key).expect("certificate");
    let dir = tempfile::tempdir().expect("tempdir");
    let (cert_path, key_path) = (dir.path().join("cert.pem"), dir.path().join("key.pem"));
    std::fs::write(&cert_path, cert.pem()).expect("write");
    std::fs::write(&key_path, key.serialize_pem()).expect("write");
    let srv = tls_server(&cert_path, &key_path);
    let e = Client::connect(starttls(srv.port, &cert_path)).await.expect_err("expired");
    assert_eq!(e.kind(), ErrorKind::Tls, "{e}");
    assert!(e.message().contains("expired on 2021-01-01"), "{e}");
}
