//! The client's TLS configuration: rustls with the ring provider, the webpki roots plus an
//! optional PEM CA file, or (tests only) a verifier that accepts any certificate.
//!
//! The two configurations without a CA file are built once per process and shared: building the
//! root store costs more than a pooled session's whole transaction.

use std::io::BufReader;
use std::path::Path;
use std::sync::{Arc, OnceLock};

use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::CryptoProvider;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::{ClientConfig, DigitallySignedStruct, RootCertStore, SignatureScheme};

use crate::error::{Error, Result};

fn provider() -> Arc<CryptoProvider> {
    static P: OnceLock<Arc<CryptoProvider>> = OnceLock::new();
    P.get_or_init(|| Arc::new(rustls::crypto::ring::default_provider())).clone()
}

fn builder() -> Result<rustls::ConfigBuilder<ClientConfig, rustls::WantsVerifier>> {
    ClientConfig::builder_with_provider(provider())
        .with_safe_default_protocol_versions()
        .map_err(|e| Error::tls(format!("TLS configuration: {e}")))
}

fn webpki_store() -> RootCertStore {
    RootCertStore { roots: webpki_roots::TLS_SERVER_ROOTS.to_vec() }
}

/// The rustls configuration for a session: shared unless a CA file is given.
pub(crate) fn client_config(ca_file: Option<&Path>, accept_invalid: bool) -> Result<Arc<ClientConfig>> {
    static VERIFIED: OnceLock<Arc<ClientConfig>> = OnceLock::new();
    static INSECURE: OnceLock<Arc<ClientConfig>> = OnceLock::new();
    if accept_invalid {
        if let Some(c) = INSECURE.get() {
            return Ok(c.clone());
        }
        let cfg = builder()?
            .dangerous()
            .with_custom_certificate_verifier(Arc::new(AcceptAnyCert(provider())))
            .with_no_client_auth();
        return Ok(INSECURE.get_or_init(|| Arc::new(cfg)).clone());
    }
    match ca_file {
        None => {
            if let Some(c) = VERIFIED.get() {
                return Ok(c.clone());
            }
            let cfg = builder()?.with_root_certificates(webpki_store()).with_no_client_auth();
            Ok(VERIFIED.get_or_init(|| Arc::new(cfg)).clone())
        }
        Some(path) => {
            let mut roots = webpki_store();
            let file = std::fs::File::open(path)
                .map_err(|e| Error::io(format!("CA file {}: {e}", path.display())))?;
            let mut n = 0;
            for cert in CertificateDer::pem_reader_iter(BufReader::new(file)) {
                let cert = cert.map_err(|e| Error::io(format!("CA file {}: {e}", path.display())))?;
                roots.add(cert).map_err(|e| Error::tls(format!("CA file {}: {e}", path.display())))?;
                n += 1;
            }
            if n == 0 {
                return Err(Error::invalid_input(format!(
                    "CA file {} holds no PEM certificate",
                    path.display()
                )));
            }
            Ok(Arc::new(builder()?.with_root_certificates(roots).with_no_client_auth()))
        }
    }
}

/// The name the certificate must match: an IP address or a DNS name.
pub(crate) fn server_name(name: &str) -> Result<ServerName<'static>> {
    let name = name.trim_start_matches('[').trim_end_matches(']');
    ServerName::try_from(name.to_string())
        .map_err(|_| Error::invalid_input(format!("{name:?} is not a valid TLS server name")))
}

/// Accepts any certificate (signatures are still checked so the handshake is sound); for
/// `accept_invalid_certs`, i.e. tests against self-signed peers.
#[derive(Debug)]
struct AcceptAnyCert(Arc<CryptoProvider>);

impl ServerCertVerifier for AcceptAnyCert {
    fn verify_server_cert(
        &self,
        _end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
        _now: UnixTime,
    ) -> std::result::Result<ServerCertVerified, rustls::Error> {
        Ok(ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> std::result::Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(message, cert, dss, &self.0.signature_verification_algorithms)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> std::result::Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(message, cert, dss, &self.0.signature_verification_algorithms)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.0.signature_verification_algorithms.supported_schemes()
    }
}
